"""Fig. 1 (a-d) of the reference paper: the Curie-Weiss (fully connected Ising) closed loop.

Panels (a)-(c) fit the field θ1 with the coupling θ2 = 0 held fixed (partial MLE);
panel (d) fits both. Parameters as in the paper's caption (``paper-notes.md``).
"""

from __future__ import annotations

import numpy as np

from ..params import from_params
from ..engine.markov import ExactChain
from ..families import get_family
from ..numeric import evaluate
from ..store import derivation
from .registry import Figure, FigureBudget, register
from .style import color, marker

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
    for i in range(m.shape[1]):
        ax.plot(t, m[:, i], color=color(i), lw=0.7)
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(r"magnetisation $\bar\phi_{1,t}/N$")
    ax.set_ylim(-1.05, 1.75)  # headroom above the trajectories for the inset
    ax.set_yticks([-1, -0.5, 0, 0.5, 1])
    # the axis ends soon after the last chain is absorbed: after that nothing moves
    hit = np.array(data["hit_time"], dtype=float)
    end = 1.15 * hit.max() if len(hit) and np.all(hit >= 0) else t[-1]
    ax.set_xlim(0, min(end, t[-1]))
    ax.set_title(f"$N = {data['N']}$, $M = {data['M']}$, $\\theta_2 = 0$", fontsize=7)
    inset = ax.inset_axes([0.12, 0.74, 0.45, 0.22])
    for i in range(th.shape[1]):
        inset.plot(t, th[:, i], color=color(i), lw=0.5)
    inset.set_xlim(ax.get_xlim())
    inset.set_title(r"fitted field $\theta_{1,t}$", fontsize=5, pad=1.5)
    inset.tick_params(labelsize=4.5, pad=1, length=2, labelbottom=False)  # same t axis as below


register(Figure("fig1a_trajectories", "Four closed-loop trajectories of the magnetisation from "
                "phi1 = 0 (N = 20, M = 50, theta2 = 0 fixed), until shortly after the last one is "
                "absorbed; inset: the fitted field theta1 (it diverges when the sample becomes "
                "fully polarised).", (), 1, trajectories,
                draw_trajectories))


# (b) collapse of absorption times --------------------------------------------------------------
NS, MS = (5, 10, 20), (50, 100, 200)


def absorption_times(budget: FigureBudget, rng) -> dict:
    chains = int(600 * budget.scale)
    out = {"curves": [], "exact": []}
    for N in NS:
        for M in MS:
            cap = 8 * N * M
            run = _cw(N, M).run(cap, chains, seed=rng)
            t = run.state.hit_time
            out["curves"].append({"N": N, "M": M, "cap": cap, "chains": chains,
                                  "scaled_times": np.sort(t[t >= 0] / (N * M))})
    # with θ2 = 0 the loop is Wright–Fisher in the N·M spins: the law of t/(NM) depends on N·M
    # only. The exact chain has N·M + 1 states.
    limit = 1000 if budget.scale >= 10 else 500  # the N·M = 1000 CDF alone takes 6 s
    for NM in sorted({N * M for N in NS for M in MS if N * M <= limit}):
        N = next(n for n in NS if NM % n == 0 and NM // n in MS)
        cap = 8 * NM
        cdf = ExactChain(_cw(N, NM // N)).absorption_time_cdf(cap)
        every = max(1, cap // 400)
        out["exact"].append({"NM": NM, "scaled_t": (np.arange(1, cap + 1) / NM)[::every],
                             "cdf": cdf[::every]})
    return out


def draw_absorption_times(fig, ax, data):
    for c in data["curves"]:
        x = np.array(c["scaled_times"])
        y = np.arange(1, len(x) + 1) / c["chains"]
        ax.step(x, y, where="post", color=color(NS.index(c["N"])),
                lw=0.5 + 0.6 * MS.index(c["M"]), label=f"$N={c['N']}$, $M={c['M']}$")
    for i, ex in enumerate(data["exact"]):
        ax.plot(ex["scaled_t"], ex["cdf"], "k--", lw=0.6,
                label="exact chain, $NM = " + ", ".join(str(e["NM"]) for e in data["exact"]) + "$"
                if i == 0 else None)
    ax.set_xlabel(r"$t/(NM)$")
    ax.set_ylabel("P(fully polarised by $t$)")
    ax.set_xlim(0, 8)
    ax.legend(ncol=2, fontsize=5, loc="lower right")


register(Figure("fig1b_absorption_times", "Cumulative distribution of the time to a fully "
                "polarised state divided by N M, N = 5, 10, 20 (colours), M = 50, 100, 200 "
                "(widths), theta2 = 0: the curves collapse; dashed: the exact Markov chain "
                "(Wright-Fisher in N M spins) for N M up to 500 (1000 with --full).",
                (), 1, absorption_times, draw_absorption_times))


# (c) probability of all spins up ---------------------------------------------------------------
M0S = np.linspace(0.0, 0.9, 10)  # the paper's (1 + m0)/2 = 0.50, 0.55, ..., 0.95


def all_up(budget: FigureBudget, rng) -> dict:
    N, per_point = 10, int(200 * budget.scale)
    family = get_family("curie_weiss", N=N).restrict(**FIXED)
    line_m = np.linspace(-1, 1, 101)
    p_up = derivation("R6.absorption", family).result[f"P[phi1={N}]"]
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
    x = (1 + np.array(data["m0"])) / 2
    line_x = np.array(data["line_x"])
    inside = (line_x >= x.min() - 0.02) & (line_x <= x.max() + 0.02)
    ax.plot(line_x[inside], np.array(data["line_p"])[inside], "k-", lw=0.8,
            label="martingale, Eq. (8)")
    for i, r in enumerate(data["runs"]):
        ax.errorbar(x + (i - 0.5) * 0.006, r["p"], yerr=r["sem"], fmt=marker(i), ms=2.5, capsize=1,
                    color=color(i), label=f"closed loop, $M = {r['M']}$")
    ax.set_xlabel(r"$(1 + \bar\phi_{1,0}/N)/2$")
    ax.set_ylabel("P(all spins up)")
    ax.set_title(f"$N = {data['N']}$, $\\theta_2 = 0$", fontsize=7)
    ax.legend(loc="upper left")


register(Figure("fig1c_all_up", "Probability of ending with all spins up against the initial "
                "magnetisation (1 + phi1/N)/2 = 0.50, ..., 0.95 as in the paper, N = 10, M = 50 and "
                "100, 200 runs per point (theta2 = 0); line: the optional-stopping prediction "
                "(Eq. 8).", ("R6.absorption",), 1, all_up, draw_all_up))


# (d) final vs initial magnetisation with the coupling fitted ------------------------------------
D_INITIAL = np.arange(-18, 19, 2)  # initial φ̄1 (not normalised), N = 20


def final_vs_initial(budget: FigureBudget, rng) -> dict:
    """The paper's setting: N = 20, M = 100, θ2 fitted from θ2,0 = 0, 100 runs per initial value."""
    N, M, per_point = 20, 100, int(100 * budget.scale)
    start = np.stack([np.repeat(np.arctanh(D_INITIAL / N), per_point),
                      np.zeros(len(D_INITIAL) * per_point)], 1)
    run = _cw(N, M, {"theta1": 0.0, "theta2": 0.0}, fixed={}).run(
        10 * N * M, len(start), seed=rng, start=start)
    initial = np.repeat(D_INITIAL, per_point).astype(float)
    # R1 with M0 = 0: E[φ̄1,t+1 | θ] = μ1(θ), so E[φ̄1,T] = μ1(θ0) at every T (the diagonal)
    mean = derivation("R1.martingale", run.loop.family).result["mean"][0]
    theory = evaluate(mean, {"M0": 0, "M": M, "theta1": np.arctanh(D_INITIAL / N), "theta2": 0.0,
                             "theta1_star": 0.0, "theta2_star": 0.0})  # no anchors: θ* drops out
    final = run.state.mu[:, 0]
    ends = np.unique(np.round(final, 9))
    by_final = [(e, initial[np.isclose(final, e)]) for e in ends]
    final_pp = final.reshape(len(D_INITIAL), per_point)
    sd = final_pp.std(1, ddof=1)
    return {"N": N, "M": M, "per_point": per_point, "initial": D_INITIAL, "final": final_pp,
            "mean_final": final_pp.mean(1), "sem_final": sd / np.sqrt(per_point),
            "ends": [e for e, _ in by_final], "mean_initial": [x.mean() for _, x in by_final],
            "count": [len(x) for _, x in by_final],
            "absorbed": float((run.state.vertex >= 0).mean()),
            # E[φ̄1,T] = φ̄1,0 at every T (R1, exact): the mean final value per initial value
            "checks": [{"what": "E[final phi1] = initial phi1 (R1, exact)",
                        "estimate": final_pp.mean(1), "sem": np.maximum(sd, 1e-12) / np.sqrt(per_point),
                        "theory": theory}]}


def draw_final_vs_initial(fig, ax, data):
    init = np.array(data["initial"], dtype=float)
    final = np.array(data["final"], dtype=float)
    jitter = np.linspace(-0.5, 0.5, final.shape[1])
    for i, m in enumerate(init):
        ax.plot(m + jitter, final[i], ".", ms=1, color=color(5), alpha=0.3, rasterized=True)
    big = np.array(data["count"]) >= 5
    ax.plot(np.array(data["mean_initial"])[big], np.array(data["ends"])[big], marker(0), ms=3,
            color=color(0), label="mean initial value per final value (paper)")
    ax.errorbar(init, data["mean_final"], yerr=data["sem_final"], fmt=marker(1), ms=2, color=color(1),
                capsize=1, label="mean final value per initial value")
    N = data["N"]
    ax.plot([-N, N], [-N, N], "k-", lw=0.7, label="diagonal: the mean is a martingale, Eq. (5)")
    ax.set_xlim(-N, N)
    ax.set_ylim(-N, N)
    ax.set_xlabel(r"initial $\bar\phi_{1,0}$")
    ax.set_ylabel(r"final $\bar\phi_{1,\infty}$")
    ax.legend(loc="upper left", fontsize=5)


register(Figure("fig1d_final_vs_initial", "Paper Fig. 1d: final against initial magnetisation "
                "with the coupling theta2 fitted too (N = 20, M = 100, theta2 from 0, 100 runs per "
                "initial value): every level is absorbing, finals spread over many values; circles: "
                "mean initial value of the runs ending at each final value (the paper's), squares: "
                "mean final value per initial value, on the diagonal by R1.", ("R1.martingale",), 1,
                final_vs_initial, draw_final_vs_initial))
