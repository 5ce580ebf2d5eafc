"""Fig. 1 (a-d) of the reference paper: the Curie-Weiss (fully connected Ising) closed loop.

Panels (a)-(c) fit the field θ1 with the coupling θ2 = 0 held fixed (partial MLE);
panel (d) fits both. Parameters as in the paper's caption (``paper-notes.md``).
"""

from __future__ import annotations

import numpy as np

from ..engine.loop import from_params
from ..engine.markov import ExactChain
from ..families import get_family
from ..numeric import evaluate
from ..results import absorption
from . import Figure, FigureBudget, register

FIXED = {"theta2": 0.0}


def _cw(N, M, init=None, fixed=FIXED):
    return from_params("curie_weiss", M, init or {"theta1": 0.0}, family_args={"N": N}, fixed=fixed)


# (a) trajectories ------------------------------------------------------------------------------
def trajectories(budget: FigureBudget, rng) -> dict:
    N, M, chains = 20, 50, 4
    run = _cw(N, M).run(8 * N * M, chains, seed=rng, record_every=4, keep=chains)
    tr = run.trace
    return {"N": N, "M": M, "t": tr["t"], "m": np.array(tr["chains"]["phi1"]) / N,
            "theta1": np.array(tr["chains"]["theta1"]), "hit_time": run.state.hit_time}


def draw_trajectories(fig, ax, data):
    t = np.array(data["t"])
    m = np.array(data["m"], dtype=float)
    th = np.array(data["theta1"], dtype=float)
    colors = ["C0", "C1", "C2", "C3"]
    for i in range(m.shape[1]):
        ax.plot(t, m[:, i], color=colors[i], lw=0.7)
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(r"magnetisation $\bar\phi_{1,t}/N$")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"N = {data['N']}, M = {data['M']}, $\\theta_2 = 0$", fontsize=7)
    inset = ax.inset_axes([0.62, 0.08, 0.35, 0.32])
    for i in range(th.shape[1]):
        inset.plot(t, th[:, i], color=colors[i], lw=0.5)
    inset.set_ylabel(r"$\theta_{1,t}$", fontsize=6, labelpad=1)
    inset.tick_params(labelsize=5)


register(Figure("fig1a_trajectories", "Four closed-loop trajectories of the magnetisation from "
                "phi1 = 0 (N = 20, M = 50, theta2 = 0 fixed); inset: the fitted field theta1 "
                "(it diverges when the sample becomes fully polarised).", (), 1, trajectories,
                draw_trajectories))


# (b) collapse of absorption times --------------------------------------------------------------
NS, MS = (5, 10, 20), (50, 100, 200)


def absorption_times(budget: FigureBudget, rng) -> dict:
    chains = int(200 * budget.scale)
    out = {"curves": []}
    for N in NS:
        for M in MS:
            cap = 6 * N * M
            run = _cw(N, M).run(cap, chains, seed=rng)
            t = run.state.hit_time
            out["curves"].append({"N": N, "M": M, "cap": cap, "chains": chains,
                                  "scaled_times": np.sort(t[t >= 0] / (N * M))})
    chain = ExactChain(_cw(NS[0], MS[0]))
    cap = 6 * NS[0] * MS[0]
    out["exact"] = {"N": NS[0], "M": MS[0], "scaled_t": np.arange(1, cap + 1) / (NS[0] * MS[0]),
                    "cdf": chain.absorption_time_cdf(cap)}
    return out


def draw_absorption_times(fig, ax, data):
    for c in data["curves"]:
        x = np.array(c["scaled_times"])
        y = np.arange(1, len(x) + 1) / c["chains"]
        ax.step(x, y, where="post", color=f"C{NS.index(c['N'])}",
                lw=0.5 + 0.6 * MS.index(c["M"]), label=f"N={c['N']}, M={c['M']}")
    ex = data["exact"]
    ax.plot(ex["scaled_t"], ex["cdf"], "k--", lw=0.7,
            label=f"exact chain, N={ex['N']}, M={ex['M']}")
    ax.set_xlabel(r"$t/(NM)$")
    ax.set_ylabel("P(fully polarised by $t$)")
    ax.set_xlim(0, 5)
    ax.legend(ncol=2, fontsize=5, loc="lower right")


register(Figure("fig1b_absorption_times", "Cumulative distribution of the time to a fully "
                "polarised state divided by N M, N = 5, 10, 20 (colours), M = 50, 100, 200 "
                "(widths), theta2 = 0: the curves collapse; dashed: the exact Markov chain.",
                ("R6.absorption",), 1, absorption_times, draw_absorption_times))


# (c) probability of all spins up ---------------------------------------------------------------
M0S = np.linspace(-0.8, 0.8, 9)


def all_up(budget: FigureBudget, rng) -> dict:
    N, per_point = 10, int(200 * budget.scale)
    family = get_family("curie_weiss", N=N).restrict(**FIXED)
    line_m = np.linspace(-1, 1, 101)
    p_up = absorption.absorption(family).result[f"P[phi1={N}]"]
    out = {"N": N, "per_point": per_point, "m0": M0S,
           "line_x": (1 + line_m) / 2, "line_p": evaluate(p_up, {"mu": N * line_m}), "runs": []}
    for M in (50, 100):
        start = np.repeat(np.arctanh(M0S), per_point)[:, None]  # θ2 = 0: μ1 = N tanh θ1
        run = _cw(N, M).run(8 * N * M, len(start), seed=rng, start=start)
        up = (run.state.vertex == run.labels.index(f"phi1={N}")).reshape(len(M0S), per_point)
        p = up.mean(1)
        exact = evaluate(p_up, {"mu": N * M0S})
        out["runs"].append({"M": M, "p": p, "sem": np.sqrt(p * (1 - p) / per_point),
                            "absorbed": float((run.state.vertex >= 0).mean())})
        out.setdefault("checks", []).append({
            "what": f"P(all up), M={M} (R6, exact)", "estimate": p,
            "sem": np.sqrt(exact * (1 - exact) / per_point), "theory": exact})
    return out


def draw_all_up(fig, ax, data):
    ax.plot(data["line_x"], data["line_p"], "k-", lw=0.8, label="martingale (R6)")
    x = (1 + np.array(data["m0"])) / 2
    for i, r in enumerate(data["runs"]):
        ax.errorbar(x + (i - 0.5) * 0.01, r["p"], yerr=r["sem"], fmt="o", ms=2.5, capsize=1,
                    label=f"M = {r['M']}")
    ax.set_xlabel(r"$(1 + \bar\phi_{1,0}/N)/2$")
    ax.set_ylabel("P(all spins up)")
    ax.legend()


register(Figure("fig1c_all_up", "Probability of ending with all spins up against the initial "
                "magnetisation, N = 10, M = 50 and 100, 200 runs per point (theta2 = 0); line: "
                "the optional-stopping prediction.", ("R6.absorption",), 1, all_up, draw_all_up))


# (d) final vs initial magnetisation with the coupling fitted ------------------------------------
def final_vs_initial(budget: FigureBudget, rng) -> dict:
    N, M, per_point = 10, 50, int(200 * budget.scale)
    start = np.stack([np.repeat(np.arctanh(M0S), per_point), np.zeros(len(M0S) * per_point)], 1)
    run = _cw(N, M, {"theta1": 0.0, "theta2": 0.0}, fixed={}).run(
        20 * N * M, len(start), seed=rng, start=start)
    final = run.state.mu[:, 0].reshape(len(M0S), per_point) / N
    return {"N": N, "M": M, "m0": M0S, "final": final, "mean": final.mean(1),
            "sem": final.std(1, ddof=1) / np.sqrt(per_point),
            "absorbed": float((run.state.vertex >= 0).mean())}


def draw_final_vs_initial(fig, ax, data):
    m0 = np.array(data["m0"])
    final = np.array(data["final"], dtype=float)
    jitter = np.linspace(-0.025, 0.025, final.shape[1])
    for i, m in enumerate(m0):
        ax.plot(m + jitter, final[i], ".", ms=1, color="C0", alpha=0.3, rasterized=True)
    ax.errorbar(m0, data["mean"], yerr=data["sem"], fmt="o", ms=2.5, color="C3", capsize=1,
                label="mean over runs")
    ax.plot([-1, 1], [-1, 1], "k-", lw=0.7, label="martingale: E[final] = initial (R1)")
    ax.set_xlabel(r"initial $\bar\phi_{1,0}/N$")
    ax.set_ylabel(r"final $\bar\phi_{1,\infty}/N$")
    ax.legend(loc="upper left")


register(Figure("fig1d_final_vs_initial", "Final against initial magnetisation when the coupling "
                "theta2 is fitted too (N = 10, M = 50): every level is absorbing, finals spread "
                "over many values while their mean stays on the diagonal.", ("R1.martingale",), 1,
                final_vs_initial, draw_final_vs_initial))
