"""Figs. 2 and 3 of the reference paper and the entropy law: the general loop (R9).

Points are closed-loop laws streamed from the engine over chains × generations (the
chains start from a draw of the Eq. 18 law, so the burn-in only has to remove the
finite-M part); lines are the derived Eq. 18 density (R9.stationary), evaluated from the
derivation on a grid (marginals of two-parameter laws by summing over that grid). Eq. 18
is the M → ∞ limit at fixed m and u: its gap to the finite-M law is O(1/M), visible at
M = 50 (as in the paper). Where an exact finite-M chain exists (Fig. 2 (i)) its law is
drawn too, and the final states of the independent chains are tested against it.
"""

from __future__ import annotations

import numpy as np

from ..params import from_params
from ..engine.markov import ExactChain
from ..numeric import evaluate
from ..results import general
from ..store import derivation
from .registry import Figure, FigureBudget, register
from .style import color, marker

N_FIG2 = 10
FIG2_CASES = (  # (label, M, fixed, data, prior) as in the paper's Fig. 2
    ("(i) $\\theta_2=0$, ML, one point $\\sum\\sigma=-6$, $M=50$", 50, {"theta2": 0.0}, [{"phi1": -6}], None),
    ("(ii) Gaussian priors, variance 2, $M=50$", 50, {}, [], "normal:var=2"),
    ("(ii) Gaussian priors, variance 2, $M=400$", 400, {}, [], "normal:var=2"),
    ("(iii) priors and one point $\\sum\\sigma=0$, $M=50$", 50, {}, [{"phi1": 0}], "normal:var=2"),
)
GRID = np.linspace(-4.0, 4.0, 161)  # θ grid of the Eq. 18 lines and histograms


def _eq18_on_grid(loop) -> tuple[np.ndarray, dict]:
    """Normalised Eq. 18 density on GRID (one or two parameters) and its marginals."""
    derivation("R9.stationary", loop.setting)  # recorded: the figure draws this result
    return general.stationary_marginals(loop.setting, GRID)


def _draw_from_grid(p: np.ndarray, chains: int, rng) -> np.ndarray:
    """Chains started from the Eq. 18 law: grid cells by probability, jittered within a cell."""
    step = GRID[1] - GRID[0]
    cells = rng.choice(p.size, size=chains, p=p.ravel())
    idx = np.unravel_index(cells, p.shape)
    return np.stack([GRID[i] + rng.uniform(-step / 2, step / 2, chains) for i in idx], axis=-1)


def fig2(budget: FigureBudget, rng) -> dict:
    chains = int(500 * budget.scale)
    bins = (GRID[0] - (GRID[1] - GRID[0]) / 2, GRID[-1] + (GRID[1] - GRID[0]) / 2, len(GRID))
    out = {"N": N_FIG2, "chains": chains, "grid": GRID, "cases": [], "checks": []}
    for label, M, fixed, data, prior in FIG2_CASES:
        init = {"theta1": 0.0} if fixed else {"theta1": 0.0, "theta2": 0.0}
        loop = from_params("curie_weiss", M, init, fixed=fixed, family_args={"N": N_FIG2},
                           data=data, prior_law=prior)
        p, marginals = _eq18_on_grid(loop)
        # four units of τ = t/M after a start from the Eq. 18 law; --full reaches the paper's
        # 10⁷ chain-generations per curve
        generations = 4 * M if budget.scale < 10 else max(4 * M, 10**7 // chains)
        start = _draw_from_grid(p, chains, rng)
        run = loop.run(generations, chains, seed=rng, burn_in=generations // 2, start=start,
                       histograms={n: bins for n in loop.family.names})
        case = {"label": label, "M": M, "generations": generations, "names": list(loop.family.names),
                "eq18": marginals, "hist": {n: h.as_json() for n, h in run.histograms.items()}}
        # the size of the finite-M gap: variance of the streamed law against Eq. 18's
        mid = (run.histograms[loop.family.names[0]].edges[1:] + run.histograms[loop.family.names[0]].edges[:-1]) / 2
        case["variance"] = {}
        for n, h in run.histograms.items():
            w = h.counts / h.counts.sum()
            sim = float(w @ mid**2 - (w @ mid) ** 2)
            eq = float(marginals[n] @ GRID**2 - (marginals[n] @ GRID) ** 2)
            case["variance"][n] = {"simulation": sim, "eq18": eq}
        if loop.family.d == 1:  # the exact finite-M chain, as a law of θ1 on the grid bins
            chain = ExactChain(loop)
            theta = np.arctanh(np.clip(chain.phibar / N_FIG2, -1 + 1e-15, 1 - 1e-15))
            pi = chain.stationary()
            edges = run.histograms["theta1"].edges
            exact = np.histogram(theta, bins=edges, weights=pi)[0]
            case["exact"] = exact
            # independent chains at the last generation against the exact law, on coarse bins
            final = loop.observables(run.state)["theta1"]
            coarse = np.quantile(theta, [0.1, 0.3, 0.5, 0.7, 0.9], method="inverted_cdf",
                                 weights=pi)
            cut = np.concatenate([[-np.inf], np.unique(coarse) + 1e-9, [np.inf]])
            prob = np.histogram(theta, bins=cut, weights=pi)[0]
            frac = np.histogram(final, bins=cut)[0] / chains
            out["checks"].append({"what": "law of theta1 at stationarity, Fig. 2 (i) (exact chain)",
                                  "estimate": frac, "sem": np.sqrt(prob * (1 - prob) / chains),
                                  "theory": prob})
        out["cases"].append(case)
    return out


def draw_fig2(fig, axes, data):
    grid = np.array(data["grid"])
    for ax, name in zip(axes, ("theta1", "theta2"), strict=True):
        for i, case in enumerate(data["cases"]):
            if name not in case["names"]:
                continue
            h = case["hist"][name]
            edges = np.array(h["edges"])
            width = edges[1] - edges[0]
            dens = np.array(h["counts"]) / (sum(h["counts"]) + h["below"] + h["above"]) / width
            mid = (edges[1:] + edges[:-1]) / 2
            ax.plot(mid[::3], dens[::3], marker(i), ms=1.8, color=color(i), label=case["label"])
            ax.plot(grid, np.array(case["eq18"][name]) / (grid[1] - grid[0]), "-", lw=0.7,
                    color=color(i), alpha=0.8)
            if "exact" in case:
                ax.step(mid, np.array(case["exact"]) / width, where="mid", lw=0.5, color=color(i), ls=":")
        ax.set_xlabel(rf"$\theta_{name[-1]}$")
        ax.set_ylabel("density")
        ax.set_xlim(-4, 4 if name == "theta2" else 2)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=5,
               title="points: closed loop; lines: Eq. (18); dotted: exact chain at finite $M$",
               title_fontsize=5)
    axes[0].set_title(f"(a) law of $\\theta_1$, $N = {data['N']}$", fontsize=7)
    axes[1].set_title("(b) law of $\\theta_2$", fontsize=7)


register(Figure("fig2_stationary", "Paper Fig. 2 (Curie-Weiss, N = 10): stationary laws of theta1 "
                "(a) and theta2 (b). Points: closed loop; lines: Eq. 18 (R9.stationary), the "
                "M -> oo law, whose O(1/M) gap shows at M = 50 (compare M = 400); at M = 50 the "
                "refits live on the lattice of the sample statistics, hence the isolated spikes; "
                "dotted: the exact finite-M chain for case (i).", ("R9.stationary",), 2, fig2, draw_fig2))


# Fig. 3: Poisson with a fresh point and an exponential prior on the rate (App. C) ---------------
FIG3 = ((0.25, 0.0), (0.25, 1.0), (1.0, 0.0), (1.0, 1.0))  # (ϑ0, λ)


def fig3(budget: FigureBudget, rng) -> dict:
    M, m, chains = 200, 1, int(2000 * budget.scale)
    x = np.linspace(1e-3, 2.5, 400)
    out = {"M": M, "m": m, "chains": chains, "x": x, "curves": []}
    for theta0, lam in FIG3:
        prior = f"exponential:rate={lam:g},on=rate" if lam else None
        loop = from_params("poisson", M, {"rate": theta0}, truth={"rate": theta0}, external=m,
                           prior_law=prior)
        res = derivation("R9.stationary", loop.setting).result
        vals = {"theta_star": np.log(theta0)}
        shape, rate = float(evaluate(res["alpha"], vals)), float(evaluate(res["beta"], vals))
        from scipy import stats

        law = stats.gamma(shape, scale=1 / rate)
        start = np.log(np.maximum(law.rvs(chains, random_state=rng), 1e-12))[:, None]
        generations = int(6 * M / (m + lam))  # six relaxation times M/(m + λ)
        run = loop.run(generations, chains, seed=rng, burn_in=generations // 3, start=start,
                       histograms={"rate": (0.0, 2.5, 50)})
        out["curves"].append({"theta0": theta0, "lam": lam, "shape": shape, "rate": rate,
                              "density": law.pdf(x), "hist": run.histograms["rate"].as_json(),
                              "generations": generations})
    return out


def draw_fig3(fig, ax, data):
    x = np.array(data["x"])
    for i, c in enumerate(data["curves"]):
        h = c["hist"]
        edges = np.array(h["edges"])
        width = edges[1] - edges[0]
        dens = np.array(h["counts"]) / (sum(h["counts"]) + h["below"] + h["above"]) / width
        mid = (edges[1:] + edges[:-1]) / 2
        ax.plot(mid, dens, marker(i), ms=2, color=color(i),
                label=f"$\\vartheta_0={c['theta0']:g}$, $\\lambda={c['lam']:g}$")
        ax.plot(x, c["density"], "-", lw=0.8, color=color(i))
    ax.set_ylim(0, 6)
    ax.set_xlabel(r"rate $\vartheta$")
    ax.set_ylabel("stationary density")
    ax.set_title(f"Poisson, $M = {data['M']}$, $m = {data['m']}$", fontsize=7)
    ax.legend(fontsize=5.5, title="points: closed loop; lines: Eq. (18)", title_fontsize=5)


register(Figure("fig3_poisson", "Paper Fig. 3 (App. C): Poisson closed loop, M = 200, one fresh "
                "point per generation from Poisson(theta0), prior lambda exp(-lambda rate) with the "
                "MAP in the rate. Points: closed loop; lines: Eq. 18, Gamma(2 m theta0, rate "
                "2(m + lambda)) (R9.stationary).", ("R9.stationary",), 1, fig3, draw_fig3))


# Entropy: ⟨S⟩ falls at d/2 per unit τ = t/M in the pure loop, not d (Eq. 17) -------------------
ENTROPY_NAMES = {"gaussian": "Gaussian", "bernoulli": "Bernoulli", "curie_weiss": "Curie–Weiss, $N = 10$"}
ENTROPY_CASES = (("gaussian", {}, {"mean": 0.0, "var": 1.0}), ("bernoulli", {}, {"p": 0.5}),
                 ("curie_weiss", {"N": 10}, {"theta1": 0.0, "theta2": 0.0}))


def _entropy(loop, state) -> np.ndarray:
    """S = A − θ·μ per chain (finite spaces: −Σ q log(q/h) over the levels, also on faces)."""
    nf = loop.numeric
    if nf.finite:
        q = nf.level_probabilities(state.theta, state.face)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(q > 0, q * (np.log(q) - nf.log_h), 0.0)
        return -terms.sum(axis=1)
    theta = nf.theta_closed_form(state.mu)
    S = derivation("R9.entropy", loop.setting).result["S"]
    return np.broadcast_to(evaluate(S, {n: theta[:, a] for a, n in enumerate(nf.names)}), len(theta))


def entropy_figure(budget: FigureBudget, rng) -> dict:
    M, chains, taus = 100, int(2000 * budget.scale), np.linspace(0, 1.0, 11)
    out = {"M": M, "chains": chains, "curves": []}
    for name, args, init in ENTROPY_CASES:
        loop = from_params(name, M, init, family_args=args)
        state = loop.initial_state(chains)
        S, sem = [], []
        t = 0
        for tau in taus:
            while t < round(tau * M):
                t += 1
                loop.step(state, t, rng)
            s = _entropy(loop, state)
            S.append(s.mean()), sem.append(s.std(ddof=1) / np.sqrt(chains))
        res = derivation("R9.entropy", loop.setting).result
        out["curves"].append({"family": name, "d": loop.family.d, "tau": taus, "S": S, "sem": sem,
                              "rate": float(res["pure_rate"]), "paper_rate": float(res["paper_rate"])})
    return out


def draw_entropy(fig, ax, data):
    for i, c in enumerate(data["curves"]):
        tau, S = np.array(c["tau"]), np.array(c["S"]) - c["S"][0]
        ax.errorbar(tau, S, yerr=c["sem"], fmt=marker(i), ms=2.5, color=color(i),
                    label=f"{ENTROPY_NAMES.get(c['family'], c['family'])} ($d={c['d']}$)")
        ax.plot(tau, c["rate"] * tau, "-", lw=0.8, color=color(i))
        ax.plot(tau, c["paper_rate"] * tau, ":", lw=0.8, color=color(i))
    ax.set_xlabel(r"$\tau = t/M$")
    ax.set_ylabel(r"$\langle S\rangle_\tau-\langle S\rangle_0$")
    ax.set_title(f"pure loop, $M = {data['M']}$", fontsize=7)
    ax.legend(fontsize=5.5, loc="lower left",
              title="lines: $-d\\tau/2$ (derived); dotted: $-d\\tau$ (Eq. (17))", title_fontsize=5)


register(Figure("entropy", "Mean entropy of the fitted model in the pure loop (M = 100) against "
                "tau = t/M: every family loses d/2 per unit tau to leading order (R9.entropy, "
                "lines); the paper's Eq. 17 prints d (dotted). The two discrete families leave the "
                "line as tau nears 1: by then a fraction of the chains has reached the boundary, a "
                "point mass (Bernoulli: mean absorption time 2 M ln 2, tau = 1.4), where the "
                "entropy stays 0, or a face of the Curie-Weiss polytope. The entropy of a law on "
                "a finite space is bounded below, and the diffusion behind the line holds in the "
                "interior only. The Gaussian's entropy has no lower bound and follows the line.", ("R9.entropy",), 1, entropy_figure, draw_entropy))
