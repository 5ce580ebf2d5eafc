"""Figures of the sampling operators (issue 22): the temperature's phase diagram and stationary law,
top-p's shrinking support, the Gaussian's variance under selection; derived R11 lines over
simulation points with error bars."""

from __future__ import annotations

import numpy as np

from .. import symbols as S
from ..engine.model import numeric_family
from ..numeric import evaluate
from ..params import from_params
from ..results import operators as R
from ..store import applying_result
from .registry import Figure, FigureBudget, register
from .style import color, marker

PHASE_COLORS = {"collapse": color(1), "stationary": color(2), "heat death": color(0)}


def _trace(run) -> dict:
    """The run's recorded trace (the runs here ask for one)."""
    if run.trace is None:
        raise ValueError("the run recorded no trace")
    return run.trace


# (a) the temperature × external-fraction plane -------------------------------------------------
PHASE_FAMILIES = (("bernoulli", {"p": 0.5}), ("gaussian", {"mean": 0.0, "var": 1.0}))


def _simulated_phase(family: str, obs: dict, truth: dict, lam: float) -> tuple[str, float]:
    """A finite-M run's phase by a stated rule, and the observable it reads: Bernoulli (started at
    p* = 1/2), collapse when the chains' median |2p − 1| passes 1/4, else heat death without external
    points and stationary with them (the truth is the maximum-entropy member); Gaussian, by
    log10(E var_t/var*): collapse below −2, heat death above 2, stationary between."""
    if family == "bernoulli":
        x = float(np.median(np.abs(2 * obs["p"] - 1)))
        return ("collapse" if x > 0.25 else "heat death" if lam == 0 else "stationary"), x
    with np.errstate(divide="ignore"):
        x = float(np.log10(np.mean(obs["var"]) / truth["var"]))
    return ("collapse" if x < -2 else "heat death" if x > 2 else "stationary"), x


def temperature_phase(budget: FigureBudget, rng) -> dict:
    M, generations, chains = 100, 200, int(100 * budget.scale)
    temps, lams = np.linspace(0.3, 1.7, 57), np.linspace(0.0, 0.6, 25)
    sim_T, sim_m = (0.5, 0.75, 1.1, 1.4), (0, 11, 25, 43)  # λ = m/(M + m): 0, 0.1, 0.2, 0.3
    panels: list[dict] = []
    for family, truth in PHASE_FAMILIES:
        fam = from_params(family, M, truth).family
        applying_result("R11.temperature.fixed_points", fam)
        theta_star = fam.natural_point(truth)
        grid = [[R.PHASES.index(R.phase(T, lam, fam, theta_star)) for T in temps] for lam in lams]
        points: list[dict] = []
        for m in sim_m:
            lam = m / (M + m)
            for T in sim_T:
                loop = from_params(family, M, truth, truth=truth if m else None, external=m, temperature=T)
                obs = loop.observables(loop.run(generations, chains, seed=rng).state)
                sim, x = _simulated_phase(family, obs, truth, lam)
                points.append({"T": T, "lambda": lam, "m": m, "simulated": sim, "observable": x,
                               "derived": R.phase(T, lam, fam, theta_star)})
        panels.append({"family": family, "title": fam.title, "truth": truth, "T": temps, "lambda": lams,
                       "phase": grid, "boundary": R.phase_boundary(fam, theta_star, temps), "points": points})
    return {"M": M, "generations": generations, "chains": chains, "panels": panels}


def draw_temperature_phase(fig, axes, data):
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap([PHASE_COLORS[p] for p in R.PHASES])
    for ax, panel in zip(axes, data["panels"], strict=True):
        ax.pcolormesh(panel["T"], panel["lambda"], np.array(panel["phase"]), cmap=cmap, vmin=-0.5,
                      vmax=len(R.PHASES) - 0.5, alpha=0.25, shading="nearest", rasterized=True)
        b = panel["boundary"]
        for key, style in (("collapse", "-"), ("heat_death", "--")):
            y = np.array(b[key], float)
            if np.isfinite(y).any():
                ax.plot(b["T"], y, style, color="k", lw=0.8)
        ax.plot([1, max(panel["T"])], [0, 0], "-", color=PHASE_COLORS["heat death"], lw=2)
        ax.plot([min(panel["T"]), 1], [0, 0], "-", color=PHASE_COLORS["collapse"], lw=2)
        for p in panel["points"]:
            face = PHASE_COLORS[p["simulated"]]
            edge = "k" if p["simulated"] == p["derived"] else "r"
            ax.plot(p["T"], p["lambda"], "o", ms=3.5, mfc=face, mec=edge, mew=0.6)
        ax.set_xlabel("temperature $T$")
        ax.set_xlim(min(panel["T"]), max(panel["T"]))
        ax.set_ylim(0, max(panel["lambda"]))
        ax.set_title(f"{panel['title']}, $M = {data['M']}$", fontsize=7)
    axes[0].set_ylabel(r"external fraction $\lambda$")
    from matplotlib.patches import Patch

    axes[-1].legend(handles=[Patch(color=PHASE_COLORS[p], alpha=0.5, label=p) for p in R.PHASES],
                    fontsize=5.5, loc="upper right")


register(Figure(
    "temperature_phase", "The temperature × external-fraction plane of the M → ∞ loop "
    "(R11.temperature.fixed_points): background, the derived phase (collapse, stationary, heat "
    "death); solid line, the collapse boundary (Bernoulli with p* = 1/2: the pitchfork λ = 1 − T); "
    "dashed, the heat-death boundary (Gaussian: (1 − λ)T = 1); the λ = 0 axis is collapse for T < 1 "
    "and heat death for T > 1. Points: simulations at M = 100 after 200 generations from the truth "
    "(p* = 1/2; N(0, 1)), filled by the phase read off the chains (Bernoulli: collapse when the median "
    "|2p − 1| passes 1/4; Gaussian: log10 E var/var* below −2 collapse, above 2 heat death), rimmed "
    "black where it matches the "
    "derived phase, red where not (finite-M noise near a boundary).", ("R11.temperature.fixed_points",), 2,
    temperature_phase, draw_temperature_phase))


# (b) the stationary law with a temperature -----------------------------------------------------
def _in_p(log_density, fam, values: dict, p: np.ndarray) -> np.ndarray:
    """A density of θ as a normalised density of p = μ(θ) on the grid p (the Jacobian 1/χ)."""
    nf = numeric_family(fam)
    closed = nf.theta_closed_form(p[:, None])
    if closed is None:
        raise ValueError(f"{fam.title} has no closed-form inverse mean map")
    theta = closed[:, 0]
    ell = np.broadcast_to(evaluate(log_density, values | {fam.names[0]: theta}), p.shape)
    dens = np.exp(ell - ell.max()) / nf.chi(theta[:, None])[:, 0, 0]
    return dens / np.trapezoid(dens, p)


def temperature_stationary(budget: FigureBudget, rng) -> dict:
    M, burn, every, samples, chains = 400, 1200, 100, 20, int(1000 * budget.scale)
    truth = {"p": 0.5}
    p = np.linspace(0.0005, 0.9995, 1999)
    edges = np.linspace(0, 1, 26)
    runs: list[dict] = []
    for kappa in (2.0, -2.0):
        loop = from_params("bernoulli", M, truth, truth=truth, external=1, temperature=1 + kappa / M)
        fam, setting = loop.family, loop.setting
        law = applying_result("R11.temperature.drift", setting)["log_density"]
        eq18 = applying_result("R9.stationary", setting)["log_density"]
        values = {S.starred(fam.theta[0]).name: 0.0, "kappa_T": kappa}
        run = loop.run(burn + every * samples, chains, seed=rng, record_every=every, keep=chains)
        traces = np.asarray(_trace(run)["chains"]["p"], dtype=np.float64)[-samples:]  # (samples, chains) after the burn-in
        counts, _ = np.histogram(traces.ravel(), bins=edges)
        width = np.diff(edges)
        density = counts / (counts.sum() * width)
        # chains are independent, samples within one are not: the error bar from the chains' spread
        per_chain = np.stack([np.histogram(traces[:, c], bins=edges)[0] for c in range(chains)]) / (samples * width)
        runs.append({"kappa": kappa, "T": 1 + kappa / M, "density": density,
                     "sem": per_chain.std(axis=0, ddof=1) / np.sqrt(chains),
                     "with_factor": _in_p(law, fam, values, p), "eq18": _in_p(eq18, fam, values, p)})
    return {"M": M, "burn_in": burn, "every": every, "chains": chains, "p": p, "edges": edges, "runs": runs}


def draw_temperature_stationary(fig, ax, data):
    mid = (np.array(data["edges"][1:]) + np.array(data["edges"][:-1])) / 2
    ax.plot(data["p"], data["runs"][0]["eq18"], ":", color="0.4", lw=1, label="Eq. 18 ($T = 1$)")
    for i, r in enumerate(data["runs"]):
        col = color(i)
        ax.plot(data["p"], r["with_factor"], "-", color=col, lw=0.9,
                label=rf"Eq. 18 $\times\, e^{{2\kappa S}}$, $\kappa = {r['kappa']:g}$")
        ax.errorbar(mid, r["density"], yerr=r["sem"], fmt=marker(i), ms=2.5, color=col, capsize=1,
                    label=f"simulation, $T = {r['T']:g}$")
    ax.set_xlabel("$p$")
    ax.set_ylabel("stationary density")
    ax.legend(fontsize=5.5, title=f"Bernoulli, $M = {data['M']}$, one fresh point, $p^* = 1/2$",
              title_fontsize=5.5)


register(Figure(
    "temperature_stationary", "The stationary law of the Bernoulli loop with one fresh point per "
    "generation (p* = 1/2, M = 400) at T = 1 + κ/M: Eq. 18 (uniform in p here) gains the derived "
    "factor e^{2κS(p)} (R11.temperature.drift; S the entropy), which concentrates the law at the "
    "maximum-entropy member for κ > 0 and pushes it to the edges for κ < 0, without changing its "
    "normalisability. Points: simulation (every 100 generations after 1200; error bars from the "
    "chains' spread).", ("R11.temperature.drift", "R9.stationary"), 1,
    temperature_stationary, draw_temperature_stationary))


# (c) top-p support against generations ----------------------------------------------------------
def top_p_support(budget: FigureBudget, rng) -> dict:
    K, P, T, chains = 5, 0.8, 40, int(1000 * budget.scale)  # K = 5: the engine's categorical has d <= 4
    zipf = 1 / np.arange(1, K + 1)
    zipf /= zipf.sum()
    init = {f"p{k + 1}": float(zipf[k]) for k in range(K - 1)}
    loop0 = from_params("categorical", 20, init, family_args={"K": K}, top_p=P)
    applying_result("R11.truncation", loop0.family)
    limit = [K] + [len(s) for s in R.truncation_supports(zipf, top_p=P, generations=T)]
    runs: list[dict] = []
    for M in (20, 100, 1000):
        loop = from_params("categorical", M, init, family_args={"K": K}, top_p=P)
        run = loop.run(T, chains, seed=rng, record_every=1, keep=chains)
        trace = _trace(run)
        mu = np.stack([np.asarray(trace["chains"][f"phi{a + 1}"], dtype=np.float64) for a in range(K - 1)], -1)
        p = np.concatenate([mu, 1 - mu.sum(-1, keepdims=True)], -1)  # (t, chains, K)
        size = (p > 1e-12).sum(-1)
        runs.append({"M": M, "t": np.array(trace["t"]), "mean": size.mean(1),
                     "sem": size.std(1, ddof=1) / np.sqrt(chains)})
    return {"K": K, "P": P, "chains": chains, "t": np.arange(T + 1), "limit": limit, "runs": runs}


def draw_top_p_support(fig, ax, data):
    ax.step(data["t"], data["limit"], where="post", color="k", lw=0.9, label=r"$M = \infty$ (R11)")
    for i, r in enumerate(data["runs"]):
        ax.errorbar(r["t"], r["mean"], yerr=r["sem"], fmt=marker(i) + "-", ms=2, lw=0.6, color=color(i),
                    capsize=0, label=f"$M = {r['M']}$")
    ax.set_xlabel("generation $t$")
    ax.set_ylabel("support size (levels with $p_k > 0$)")
    ax.legend(fontsize=6, title=f"categorical $K = {data['K']}$, $p_k \\propto 1/k$, top-$p$ {data['P']:g}",
              title_fontsize=6)


register(Figure(
    "top_p_support", "Top-p (P = 0.8) on a Zipf-like categorical (K = 5, p_k ∝ 1/k): the support at "
    "M = ∞ is the nucleus of the renormalised nucleus, 5 → 3 → 2 levels, then fixed "
    "(R11.truncation); at finite M the chains drop levels that never return and go on shrinking to "
    "one level. Points: the chains' mean support size ± its standard error.", ("R11.truncation",), 1,
    top_p_support, draw_top_p_support))


# (d) the Gaussian's variance under selection -----------------------------------------------------
def selection_variance(budget: FigureBudget, rng) -> dict:
    M, f, T, chains = 50, 0.5, 20, int(1000 * budget.scale)
    panels: list[dict] = []
    for by in ("abs_deviation", "largest"):
        runs: list[dict] = []
        for regime in ("replace", "accumulate"):
            loop = from_params("gaussian", M, {"mean": 0.0, "var": 1.0}, regime=regime, select=f, by=by)
            applying_result("R11.selection", loop.family)
            run = loop.run(T, chains, seed=rng, record_every=1)
            tr = _trace(run)
            ts = np.array(tr["t"])
            mean, var = np.array(tr["mean"]["var"]), np.array(tr["var"]["var"])
            theory = None
            if regime == "replace" or by == "abs_deviation":
                theory = R.selection_variance(f, by, np.arange(T + 1), regime)
            runs.append({"regime": regime, "t": ts, "E_var": mean, "sem": np.sqrt(var / chains),
                         "theory_t": np.arange(T + 1), "theory": theory})
        panels.append({"by": by, "runs": runs})
    return {"M": M, "f": f, "chains": chains, "panels": panels}


def draw_selection_variance(fig, axes, data):
    for ax, panel in zip(axes, data["panels"], strict=True):
        for i, r in enumerate(panel["runs"]):
            col = color(i)
            if r["theory"] is not None:
                ax.plot(r["theory_t"], r["theory"], "-", color=col, lw=0.8)
            ax.errorbar(r["t"], r["E_var"], yerr=r["sem"], fmt=marker(i), ms=2.5, color=col, capsize=1,
                        label=r["regime"])
        ax.set_yscale("log")
        ax.set_xlabel("generation $t$")
        ax.set_title(f"select {data['f']:g} by {panel['by'].replace('_', ' ')}", fontsize=7)
    axes[0].set_ylabel(r"$\mathbb{E}[\sigma^2_t]/\sigma^2_0$")
    # below the falling replace line of the right panel: no point hidden
    axes[1].legend(*axes[0].get_legend_handles_labels(), loc="lower left", fontsize=6,
                   title=f"Gaussian, $M = {data['M']}$", title_fontsize=6)


register(Figure(
    "selection_variance", "The Gaussian (M = 50) keeping half of 100 draws each generation. By "
    "|x − mean| (left) the tails are kept and the variance grows by c(f) = 1 + 2zφ(z)/f per "
    "generation under replace, as the power law Γ(t + c)/(Γ(c) Γ(t + 1)) under accumulate; by the "
    "largest values (right) it shrinks by Var[Z | Z > z] per generation under replace (collapse, "
    "while the mean drifts); under accumulate the batch means spread and no law is derived. Lines: "
    "R11.selection (M → ∞; corrections O(1/M) per generation); points: simulation.", ("R11.selection",), 2,
    selection_variance, draw_selection_variance))
