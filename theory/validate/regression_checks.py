"""Checks of the linear-regression loop's laws (theory.models.regression_laws) against its chains.

All exact at finite M (z against the chains' own standard error): E|w_t − w_0|² under replace and
accumulate with a fresh and a fixed design (the fixed design's law read at the design the run drew),
the exact Gaussian law at generation t of the ridge loop and of the loop with external rows in a fixed
design, and the martingale of w under least squares.
Controls, from issue 23's list: d and M confused in the inverse-Wishart mean (d/(M − 1)), XᵀX replaced
by its mean M I, the replace law applied to accumulate data, Eq. 18's leading order N(A, V/2) at
M = 10, the pure loop's law with the external rows ignored, and |w_t − w_0|² taken for a martingale.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from ..models import logistic, regression
from ..models import regression_laws as L
from ..models.regression import LinearRegression, RegressionState
from .registry import Budget, Check, Outcome
from .stats import mean_sem, z_score

FAMILY = "linear_regression"


def _linear(**options) -> LinearRegression:
    return regression.from_options(FAMILY, **options)


def _state(run) -> RegressionState:
    return cast(RegressionState, run.state)


def _design(run) -> np.ndarray:
    design = _state(run).design
    assert design is not None, "a fixed-design run"
    return design


def _chains(budget: Budget) -> int:
    """The regression checks' chains: a twentieth of the exact checks' (5000 at --quick), enough
    for every control at z > 10 and a second or so each."""
    return max(budget.chains // 20, 200)


def _outcome(est, sem, pred, control_label, control, what) -> Outcome:
    return Outcome(pred, est, sem, z_score(est, pred, sem), control_label, z_score(est, control, sem),
                   f"{what}: {est:.5g} ± {sem:.2g}, derived {pred:.5g}, control {control:.5g}")


def sq_error_check(regime: str, design: str, M: int, d: int, t: int) -> Check:
    """E|w_t − w_0|² (σ = 1, w_0 = 0) against its derived law."""
    loop = _linear(M=M, family_args=f"d={d},sigma=1", init={"w": 0.0}, design=design, regime=regime)

    def compute(budget: Budget, rng) -> Outcome:
        run = loop.run(t, _chains(budget), seed=rng)
        est, sem = mean_sem(run.per_chain("sq_error"))
        X = _state(run).design
        law = L.replace_sq_error if regime == "replace" else L.accumulate_sq_error
        pred = law(t, M, d, 1.0, design=X)
        if regime == "accumulate":
            label, wrong = "the replace law applied to accumulate data", L.replace_sq_error(t, M, d, 1.0, design=X)
        elif design == "fresh":
            label, wrong = "d and M confused in the inverse-Wishart mean: t d/(M - 1)", t * d / (M - 1)
        else:
            label, wrong = "X^T X replaced by its mean M I: t d/M", t * d / M
        return _outcome(est, sem, pred, label, wrong, f"E|w_t - w_0|^2 at t={t}")

    return Check(f"R12.regression.{regime}", FAMILY,
                 f"E|w_t - w_0|^2 at t={t}, d={d}, M={M}, {design} design, least squares", "exact", compute)


def ridge_check(M: int = 10, d: int = 3, V: float = 0.25, t: int = 30) -> Check:
    """E|w_t − A|² under ridge (prior N(0, V), fixed design, w_0 = 0.5): w_t is exactly Gaussian
    (regression_laws.fixed_design_moments); control: Eq. 18's leading order, N(A, V/2) per component."""
    loop = _linear(M=M, family_args=f"d={d},sigma=1", init={"w": 0.5}, design="fixed",
                   prior_law=f"normal:var={V}")

    def compute(budget: Budget, rng) -> Outcome:
        run = loop.run(t, _chains(budget), seed=rng)
        A = loop.prior_mean
        est, sem = mean_sem(np.sum((_state(run).w - A) ** 2, axis=1))
        mean, cov = L.fixed_design_moments(t, _design(run), M, 1.0, loop.penalty, A, loop.w0)
        pred = float(np.trace(cov) + np.sum((mean - A) ** 2))
        eq18_mean, eq18_var = L.eq18_normal(0, 1.0, V, 0.0, 0.5)
        return _outcome(est, sem, pred, "Eq. 18's leading order p0^2 = N(A, V/2)", d * eq18_var,
                        f"E|w_t - A|^2 at t={t}")

    return Check("R12.regression.ridge", FAMILY, f"E|w_t - A|^2 at t={t}, d={d}, M={M}, fixed design, "
                 f"ridge lambda = sigma^2/V = {1 / V:g}: the exact Gaussian law (-> stationary)", "exact", compute)


def external_check(M: int = 10, d: int = 3, m: int = 3, t: int = 40) -> Check:
    """E|w_t − w_0|² with m external rows labelled by w_0 in a fixed design (least squares): the exact
    Gaussian AR(1) toward w_0, stationary since the m = d external rows span R^d; control: the pure
    loop's law t σ² tr(X_mᵀX_m)⁻¹ (the external points ignored), which grows."""
    loop = _linear(M=M, family_args=f"d={d},sigma=1", init={"w": 0.5}, design="fixed", external=m)

    def compute(budget: Budget, rng) -> Outcome:
        run = loop.run(t, _chains(budget), seed=rng)
        est, sem = mean_sem(run.per_chain("sq_error"))
        X = _design(run)
        mean, cov = L.fixed_design_moments(t, X, M, 1.0, loop.penalty, loop.prior_mean, loop.w0)
        pred = float(np.trace(cov) + np.sum((mean - loop.w0) ** 2))
        wrong = L.replace_sq_error(t, M, d, 1.0, design=X[:M])
        return _outcome(est, sem, pred, "the pure loop's law (external points ignored)", wrong,
                        f"E|w_t - w_0|^2 at t={t}")

    return Check("R12.regression.external", FAMILY, f"E|w_t - w_0|^2 at t={t}, d={d}, M={M}, {m} external "
                 "rows of a fixed design labelled by w_0: the exact Gaussian law (-> stationary)", "exact", compute)


def martingale_check(M: int = 10, d: int = 3, t: int = 3) -> Check:
    """w1 is a martingale under least squares: E[(w1_t − w1_{t−1})(w1_{t−1} − w1_0)] = 0 (fresh
    design, replace, w_0 = 1); control: |w_t − w_0|², whose step has mean σ² d/(M − d − 1) > 0."""
    loop = _linear(M=M, family_args=f"d={d},sigma=1", init={"w": 1.0})

    def compute(budget: Budget, rng) -> Outcome:
        assert L.w_is_a_martingale()
        state = loop.initial_state(_chains(budget), rng)
        for s in range(1, t):
            loop.step(state, s, rng)
        before = loop.observables(state)
        loop.step(state, t, rng)
        after = loop.observables(state)
        g = before["w1"] - loop.w0[0]
        est, sem = mean_sem((after["w1"] - before["w1"]) * g)
        c_est, c_sem = mean_sem(after["sq_error"] - before["sq_error"])
        return Outcome(0.0, est, sem, z_score(est, 0.0, sem), "|w_t - w_0|^2 taken for a martingale",
                       z_score(c_est, 0.0, c_sem), f"E[dw1 g] = {est:.3g} ± {sem:.2g}; control E[d|w - w_0|^2] = "
                       f"{c_est:.3g} ± {c_sem:.2g}")

    return Check("R12.regression.martingale", FAMILY, f"w1 is a martingale at t={t}, d={d}, M={M}, least "
                 "squares, fresh design", "exact", compute)


def logistic_martingale_check(M: int = 20, t: int = 20) -> Check:
    """logistic_regression with a fixed design (one weight, b = 0.5, w = 1): the design rate
    (1/M) Σ_i σ(b + x_i w) is a martingale, E design_rate_t = design_rate_0 exactly, absorbed chains
    (deterministic classifiers) included; control: the initial bias forgotten (1/2)."""
    loop = logistic.from_options("logistic_regression", M=M, family_args="d=1", init={"b": 0.5, "w": 1.0},
                                 design="fixed")

    def compute(budget: Budget, rng) -> Outcome:
        assert logistic.score_matches_design_moments()
        run = loop.run(t, _chains(budget), seed=rng)
        est, sem = mean_sem(run.per_chain("design_rate"))
        pred = run.initial["design_rate"][0]
        out = _outcome(est, sem, pred, "the initial bias forgotten: 1/2", 0.5, f"E design_rate at t={t}")
        out.detail += f"; absorbed {run.absorbed()['fraction']:.3g}"
        return out

    return Check("R12.logistic.martingale", "logistic_regression", f"E design_rate_t = design_rate_0 at t={t}, "
                 f"d=1, M={M}, fixed design, maximum likelihood", "exact", compute)


def regression_checks(families: list[str] | None = None) -> list[Check]:
    """Every linear- and logistic-regression check (those of the classes in ``families``)."""
    out = []
    if families is None or FAMILY in families:
        out += [sq_error_check("replace", "fresh", 50, 10, 5), sq_error_check("replace", "fixed", 12, 5, 10),
                sq_error_check("accumulate", "fresh", 50, 10, 10), sq_error_check("accumulate", "fixed", 12, 5, 10),
                ridge_check(), external_check(), martingale_check()]
    if families is None or "logistic_regression" in families:
        out.append(logistic_martingale_check())
    return out
