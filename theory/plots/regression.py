"""Figures of the linear-regression loop (theory.models.regression): the error's growth under replace
and its bound under accumulate, and the ridge loop's stationary law against Eq. 18's reading."""

from __future__ import annotations

from typing import cast

import numpy as np

from ..models import regression
from ..models import regression_laws as L
from ..models.regression import RegressionState
from .registry import Figure, FigureBudget, register
from .style import color, marker

STYLE = {"replace": (color(0), marker(0)), "accumulate": (color(1), marker(1))}


def _design(state: RegressionState) -> np.ndarray:
    """The fixed design of a run that has one."""
    assert state.design is not None
    return state.design


def _trace(run) -> dict:
    """The run's record of every generation (it was run with record_every=1)."""
    assert run.trace is not None
    return run.trace


# (a) E|w_t − w_0|² against t, replace and accumulate ------------------------------------------
def regression_error(budget: FigureBudget, rng) -> dict:
    M, d, T, chains = 20, 5, 20, int(4000 * budget.scale)
    runs: list[dict] = []
    checks: list[dict] = []
    out = {"M": M, "d": d, "chains": chains, "runs": runs, "checks": checks,
           "limit": L.accumulate_limit_value(M, d, 1.0), "bound": L.gerstgrasser_bound(M, d, 1.0)}
    for regime in ("replace", "accumulate"):
        loop = regression.from_options("linear_regression", M=M, family_args=f"d={d},sigma=1", init={"w": 0.0},
                                       regime=regime)
        trace = _trace(loop.run(T, chains, seed=rng, record_every=1))
        ts = np.array(trace["t"])
        est = np.array(trace["mean"]["sq_error"])
        sem = np.sqrt(np.array(trace["var"]["sq_error"]) / chains)
        law = L.replace_sq_error if regime == "replace" else L.accumulate_sq_error
        theory = np.array([law(int(t), M, d, 1.0) for t in ts])
        runs.append({"regime": regime, "t": ts, "sq_error": est, "sq_error_sem": sem,
                            "theory_t": ts, "theory_sq_error": theory})
        checks.append({"what": f"E|w_t - w_0|^2, {regime} (R12.regression.{regime}, exact)",
                       "estimate": est, "sem": sem, "theory": theory})
    return out


def draw_regression_error(fig, ax, data):
    for r in data["runs"]:
        col, mk = STYLE[r["regime"]]
        ax.plot(r["theory_t"], r["theory_sq_error"], "-", color=col, lw=0.8)
        ax.errorbar(r["t"], r["sq_error"], yerr=r["sq_error_sem"], fmt=mk, ms=2.5, color=col, capsize=1,
                    label=r["regime"])
    ax.axhline(data["limit"], color=STYLE["accumulate"][0], ls=":", lw=0.8, label=r"accumulate, $t\to\infty$")
    ax.axhline(data["bound"], color="0.5", ls="--", lw=0.8, label=r"$\frac{\pi^2}{6}\frac{\sigma^2 d}{M-d-1}$")
    ax.set_yscale("log")
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(r"$\mathbb{E}\,|w_t - w_0|^2$")
    ax.legend(fontsize=6, title=f"$d = {data['d']}$, $M = {data['M']}$, fresh design", title_fontsize=6)


register(Figure(
    "regression_error", "Linear regression refitted by least squares on labels of its predecessor "
    "(d = 5, M = 20, σ = 1, a fresh N(0, I) design each generation). Replace: the error grows linearly, "
    "t σ² d/(M − d − 1) (w is a martingale; Dohmatob et al.); accumulate: σ² Σ_k d/(k(kM − d − 1)), "
    "bounded by its limit σ² d/(d + 1)[ψ(1) − ψ(1 − (d + 1)/M)] (dotted), below Gerstgrasser et al.'s "
    "π²/6 σ² d/(M − d − 1) (dashed), the limit when one design is reused. Lines: exact laws "
    "(theory.models.regression_laws); points: simulation.", ("R12.regression.accumulate", "R12.regression.replace"),
    1, regression_error, draw_regression_error))


# (b) the ridge loop's law against Eq. 18 ---------------------------------------------------------
def ridge_stationary(budget: FigureBudget, rng) -> dict:
    M, d, V, T, chains = 10, 3, 0.25, 40, int(20000 * budget.scale)
    loop = regression.from_options("linear_regression", M=M, family_args=f"d={d},sigma=1", init={"w": 0.5},
                                   design="fixed", prior_law=f"normal:var={V}")
    run = loop.run(T, chains, seed=rng, record_every=1)
    state, trace = cast(RegressionState, run.state), _trace(run)
    X, A = _design(state), loop.prior_mean
    moments = [L.fixed_design_moments(int(t), X, M, 1.0, loop.penalty, A, loop.w0) for t in range(T + 1)]
    theory = np.array([np.trace(c) + np.sum((m - A) ** 2) for m, c in moments])
    # E|w_t - A|^2 from the chains' own spread of each component: the trace keeps w1 only, so the
    # whole vector is read at the end and w1's second moment along the way
    w1_2 = np.array(trace["var"]["w1"]) + (np.array(trace["mean"]["w1"]) - A[0]) ** 2
    w1_theory = np.array([c[0, 0] + (m[0] - A[0]) ** 2 for m, c in moments])[1:]
    w1 = state.w[:, 0]
    dev = (w1 - A[0]) ** 2
    # the sem of E(w1 - A)^2 along the trace: w1_t is Gaussian, Var (w1 - A)^2 = 2 s^4 + 4 s^2 m^2
    s2 = np.array(trace["var"]["w1"])
    m1 = np.array(trace["mean"]["w1"]) - A[0]
    sem_trace = np.sqrt((2 * s2**2 + 4 * s2 * m1**2) / chains)
    edges = np.linspace(-2.0, 2.0, 61)
    hist, _ = np.histogram(w1, edges, density=True)
    stat_mean, stat_cov = L.fixed_design_moments(None, X, M, 1.0, loop.penalty, A, loop.w0)
    grid = np.linspace(edges[0], edges[-1], 300)
    eq18_mean, eq18_var = L.eq18_normal(0, 1.0, V, float(A[0]), float(loop.w0[0]))
    normal = lambda x, m, v: np.exp(-((x - m) ** 2) / (2 * v)) / np.sqrt(2 * np.pi * v)  # noqa: E731
    return {"M": M, "d": d, "V": V, "T": T, "chains": chains, "t": np.arange(1, T + 1),
            "w1_sq": w1_2, "w1_sq_sem": sem_trace, "theory_w1_sq": w1_theory,
            "theory_eq18_w1_sq": eq18_var, "theory_sq_dev": theory,
            "edges": edges, "hist": hist, "grid": grid,
            "theory_exact_density": normal(grid, stat_mean[0], stat_cov[0, 0]),
            "theory_eq18_density": normal(grid, eq18_mean, eq18_var),
            "checks": [{"what": "E(w1_t - A)^2, ridge, fixed design (R12.regression.ridge, exact)",
                        "estimate": w1_2, "sem": sem_trace, "theory": w1_theory},
                       {"what": f"E(w1_T - A)^2 at T = {T} from the chains (exact)",
                        "estimate": [float(dev.mean())], "sem": [float(dev.std(ddof=1) / np.sqrt(chains))],
                        "theory": [float(w1_theory[-1])]}]}


def draw_ridge_stationary(fig, axes, data):
    a, b = axes
    col, mk = color(2), marker(2)
    a.plot(data["t"], data["theory_w1_sq"], "-", color=col, lw=0.8, label="exact")
    a.errorbar(data["t"][::2], data["w1_sq"][::2], yerr=data["w1_sq_sem"][::2], fmt=mk, ms=2.5, color=col,
               capsize=1, label="simulation")
    a.axhline(data["theory_eq18_w1_sq"], color="0.5", ls="--", lw=0.8, label=r"Eq. 18, $V/2$")
    a.set_xlabel("generation $t$")
    a.set_ylabel(r"$\mathbb{E}\,(w_{1,t} - A)^2$")
    a.legend(fontsize=6, loc="upper right")
    centres = (np.array(data["edges"][:-1]) + np.array(data["edges"][1:])) / 2
    b.bar(centres, data["hist"], width=np.diff(data["edges"]), color=col, alpha=0.35, label=f"$t = {data['T']}$")
    b.plot(data["grid"], data["theory_exact_density"], "-", color=col, lw=0.8, label="exact")
    b.plot(data["grid"], data["theory_eq18_density"], "--", color="0.3", lw=0.8, label="Eq. 18")
    b.set_xlabel("$w_1$")
    b.set_ylabel("density")
    b.legend(fontsize=6, loc="upper right")
    b.set_xlim(-1.1, 2.0)


register(Figure(
    "ridge_stationary", "Ridge regression in the loop (prior N(0, V) once per generation, λ = σ²/V, "
    "d = 3, M = 10, V = 1/4, one fixed design, w_0 = 0.5): w_t is an AR(1) toward the prior mean, exactly "
    "Gaussian; its stationary variance along an eigenvalue g of XᵀX is (V/2)/(1 + λ/(2g)). The paper's "
    "Eq. 18 (u = 1, m = 0) gives p_st ∝ p0² = N(A, V/2) (dashed): the exact law's large-M limit, wider "
    "than the exact law at M = 10. Left: the transient of (w1 − A)²; right: w1 at t = 40.",
    ("R12.regression.ridge",), 2,
    ridge_stationary, draw_ridge_stationary))
