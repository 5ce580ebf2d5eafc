"""Checks of the data-regime results (R10) against the engine's accumulate, subsample and
growing-sample loops.

Exact at finite M (z against the chains' own standard error): the second-moment products of
R10.moments under accumulate, subsample and a linear M_t (R10.growth); the Bernoulli accumulate
loop's absorption probability (R10.absorption, an exact dynamic programme over the pool count);
the martingales of R10.martingale, tested through E[(X_t − X_{t−1}) g(F_{t−1})] = 0. Asymptotic:
R10.diffusion's time changes (accumulate is the pure loop's diffusion run for the total time
Σ_k M_k/N_k², subsample on the clock (3 H_t^(2) − 2)/M), whose error is O(M⁻²). Each has a negative control from the issue's list: the
replace law applied to accumulate data, the pool off by one generation, with- and
without-replacement swapped, the constant-M law for a schedule, μ_t alone under subsample.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..cases import CASES
from ..numeric import evaluate
from ..params import from_params
from ..regime import Regime
from ..results import regimes as R
from ..store import applying_result, derivation
from .registry import Budget, Check, Outcome
from .stats import z_score


NOT_CHECKED = {
    ("R10.absorption", "*"): "an accumulate loop is absorbed at generation 1 or never (no point "
    "leaves the pool): checked exactly on the Bernoulli, where the derived law is a number; the other "
    "families' first-generation probabilities are the same generic statement",
    ("R10.diffusion", "*"): "the time changes (accumulate tau = sum_k M_k/N_k^2, the subsample clock) "
    "are generic derivations, checked on the Bernoulli at M = 400 (their error is O(M^-2), below any "
    "Monte Carlo resolution); the exact finite-M laws they approximate are checked per family "
    "(R10.moments), and the subsample clock against the exact recursion in the tests",
    ("R10.growth", "*"): "the growth law is R10.moments' product with M_t: checked on the Bernoulli "
    "and the Gaussian with M_t = 10 t; the product itself is checked per family (R10.moments)",
}


@functools.cache
def _loop(family: str, M: int, init: tuple, regime: str = "replace", schedule: str | None = None,
          family_args: tuple = ()):
    return from_params(family, M, dict(init), regime=regime, M_schedule=schedule,
                       family_args=dict(family_args))


def _final(loop, t: int, chains: int, rng) -> dict[str, np.ndarray]:
    return loop.observables(loop.run(t, chains, seed=rng).state)


# --- R10.moments / R10.growth: E q(μ_t) = q(μ_0) Π_k (1 + λ c_k) -----------------------------------
def _q(loop, obs: dict) -> np.ndarray:
    """The quantity whose mean R10.moments gives: χ_11(μ) per chain (the variance for the Gaussian)."""
    fam = loop.family
    chi11 = fam.in_mu(fam.chi)[0, 0]
    values = {m.name: obs[f"phi{a + 1}"] for a, m in enumerate(fam.mu_symbols)}
    return np.broadcast_to(evaluate(chi11, values), obs["phi1"].shape)


def _q0(loop) -> float:
    """χ_11 of the loop's start."""
    return float(_q(loop, {f"phi{a + 1}": np.array([v]) for a, v in enumerate(loop.init_mu)})[0])


def _q_ratio(loop, t: int, chains: int, rng) -> tuple[float, float]:
    """E q(μ_t)/q(μ_0) over ``chains`` chains run for t generations, and its standard error."""
    q = _q(loop, _final(loop, t, chains, rng)) / _q0(loop)
    return float(q.mean()), float(q.std(ddof=1) / np.sqrt(len(q)))


def _moment_check(rid, family, M, init, regime, schedule, t, control_name, control, family_args=()):
    return _moment_check_of(_loop(family, M, init, regime, schedule, family_args), rid, M, t,
                            control_name, control)


def _moment_check_of(loop, rid, M, t, control_name, control):
    def compute(budget: Budget, rng) -> Outcome:
        derivation(rid, loop.setting)
        est, sem = _q_ratio(loop, t, budget.chains, rng)
        pred = R.second_moment_factor(loop.setting, M, t, mu0=list(loop.init_mu))
        wrong = control(loop, M, t)
        return Outcome(pred, est, sem, z_score(est, pred, sem), control_name, z_score(est, wrong, sem),
                       f"E q_t/q_0 at t={t}: {est:.5g} ± {sem:.2g}, R10 {pred:.5g}, control {wrong:.5g}")

    what = "var" if loop.family.name == "gaussian" else "chi_11(mu)"
    label = loop.setting.regime.label or "replace"
    return Check(rid, loop.family.slug, f"E[{what}_t]/{what}_0 at t={t}, M={M}, {label}", "exact", compute)


# families whose moments are checked beyond the hand-picked cases above (λ = 0: the error of the mean)
MOMENT_CASES = {"binomial": "chi", "exponential": "chi", "curie_weiss-fixed-theta2": "chi", "poisson": "error"}


def _replace_law(loop, M, t):
    """The law of the paper's loop at constant M, applied to a regime's or a schedule's data."""
    return R.second_moment_factor(dataclasses.replace(loop.setting, regime=Regime()), M, t)


def _off_by_one(loop, M, t):
    """A deliberately wrong law: the accumulate product with each pool one generation larger,
    c_k = M/N_{k+1}² (λ = −1, the Gaussian's variance)."""
    k = np.arange(1, t + 1)
    return float(np.prod(1 - M / (M * (k + 1)) ** 2))


def _with_replacement(loop, M, t):
    return R.second_moment_factor(loop.setting, M, t, mu0=list(loop.init_mu), with_replacement=True)


def _mean_error_check(case, M: int, t: int) -> Check:
    """E(μ_t − μ_0)²/χ(μ_0) under accumulate (R10.moments' error of the mean), for a family whose
    χ is conserved in mean (λ = 0: Poisson); control: the replace loop's law."""
    loop = case.loop(M, regime="accumulate")
    replace = dataclasses.replace(loop.setting, regime=Regime())

    def compute(budget: Budget, rng) -> Outcome:
        derivation("R10.moments", loop.setting)
        mu0 = loop.init_mu
        err = (_final(loop, t, budget.chains, rng)["phi1"] - mu0[0]) ** 2 / _q0(loop)
        est, sem = float(err.mean()), float(err.std(ddof=1) / np.sqrt(len(err)))
        pred = R.mean_error_factor(loop.setting, M, t, mu0=list(mu0))
        wrong = R.mean_error_factor(replace, M, t, mu0=list(mu0))
        return Outcome(pred, est, sem, z_score(est, pred, sem), "the replace law", z_score(est, wrong, sem),
                       f"E(mu_t - mu_0)^2/chi_0 at t={t}: {est:.5g} ± {sem:.2g}, R10 {pred:.5g}, "
                       f"replace {wrong:.5g}")

    return Check("R10.moments", case.slug, f"E(mu_t - mu_0)^2/chi(mu_0) at t={t}, M={M}, accumulate",
                 "exact", compute)


def _case_moment_check(case, M: int, t: int) -> Check:
    """χ_11 under accumulate for one validation case; control: the replace law."""
    return _moment_check_of(case.loop(M, regime="accumulate"), "R10.moments", M, t, "the replace law",
                            _replace_law)


def moment_checks() -> list[Check]:
    p03, g01 = (("p", 0.3),), (("mean", 0.0), ("var", 1.0))
    return [
        _moment_check("R10.moments", "bernoulli", 10, p03, "accumulate", None, 20,
                      "the replace law (1 - 1/M)^t", _replace_law),
        _moment_check("R10.moments", "gaussian", 10, g01, "accumulate", None, 20,
                      "the pool off by one generation", _off_by_one),
        _moment_check("R10.moments", "categorical", 10, (("p1", 0.5), ("p2", 0.3)), "accumulate", None, 10,
                      "the replace law", _replace_law, (("K", 3),)),
        _moment_check("R10.moments", "bernoulli", 10, p03, "subsample", None, 10,
                      "subsample with replacement", _with_replacement),
        _moment_check("R10.moments", "gaussian", 10, g01, "subsample", None, 10,
                      "subsample with replacement", _with_replacement),
        _moment_check("R10.growth", "bernoulli", 10, p03, "replace", "linear:10", 30,
                      "the constant-M law", _replace_law),
        _moment_check("R10.growth", "gaussian", 10, g01, "replace", "linear:10", 20,
                      "the constant-M law", _replace_law),
    ] + [(_case_moment_check if MOMENT_CASES[c.slug] == "chi" else _mean_error_check)(c, 10, 10)
         for c in CASES if c.slug in MOMENT_CASES]


# --- R10.absorption: the Bernoulli accumulate loop, exact ------------------------------------------
def absorption_check(M: int = 5, p0: float = 0.3, t: int = 15, regime: str = "accumulate") -> Check:
    """P(collapsed by t) of the Bernoulli accumulate or subsample loop against R10.absorption's
    exact p0^M + (1 − p0)^M (collapse only at generation 1); control: the replace loop's exact
    absorption by t. Under subsample the model may visit a vertex and leave it: the engine's
    collapse (the pool on the vertex) is what is counted."""
    loop = _loop("bernoulli", M, (("p", p0),), regime)
    replace = _loop("bernoulli", M, (("p", p0),), "replace")

    def compute(budget: Budget, rng) -> Outcome:
        derivation("R10.absorption", loop.setting)
        run = loop.run(t, budget.absorb_chains, seed=rng)
        est = float(run.collapsed()["fraction"])
        sem = float(np.sqrt(est * (1 - est) / budget.absorb_chains))
        pred = R.accumulate_absorption(M, p0, t)
        from ..engine.markov import ExactChain
        wrong = float(ExactChain(replace).absorption_time_cdf(t)[-1])
        return Outcome(pred, est, sem, z_score(est, pred, sem), "the replace loop's exact absorption",
                       z_score(est, wrong, sem), f"P(collapsed by t={t}): {est:.5g} ± {sem:.2g}, R10 "
                       f"{pred:.5g}, replace {wrong:.5g}")

    return Check("R10.absorption", "bernoulli", f"P(collapsed by t={t}), M={M}, {regime}", "exact", compute)


# --- R10.martingale: E[(X_t − X_{t−1}) g] = 0 -------------------------------------------------------
def _pool_mean(state) -> np.ndarray:
    return state.pool_sums[:, 0] / state.pool_size


def martingale_check(regime: str, M: int = 10, p0: float = 0.3, t: int = 3, case=None) -> Check:
    """X_t: the pool mean (accumulate: the model's μ_t) or (t P_t + μ_t)/(t + 1) (subsample), of
    the first statistic; g = μ_{t−1} − P_{t−1} (subsample) or μ_{t−1} − μ_0 (accumulate). Control:
    μ_t alone (subsample) or χ(μ_t) (accumulate, Bernoulli), which drift. ``case``: a validation
    case (subsample) instead of the Bernoulli at p0."""
    loop = _loop("bernoulli", M, (("p", p0),), regime) if case is None else case.loop(M, regime=regime)

    def compute(budget: Budget, rng) -> Outcome:
        combination = applying_result("R10.martingale", loop.setting)["subsample_schedule"]

        def X(state, s):  # copies: the step updates the state in place
            mu = state.mu[:, 0].copy()
            if regime == "accumulate":
                return mu, mu * (1 - mu)
            return evaluate(combination, {"P_now": _pool_mean(state), "mu_now": mu, "t": s}), mu

        state = loop.initial_state(budget.chains)
        for s in range(1, t):
            loop.step(state, s, rng)
        x0, c0 = X(state, t - 1)
        mu = state.mu[:, 0].copy()
        g = mu - (_pool_mean(state) if regime == "subsample" else loop.init_mu[0])
        loop.step(state, t, rng)
        x1, c1 = X(state, t)
        right, wrong = (x1 - x0) * g, (c1 - c0) * (g if regime == "subsample" else 1.0)
        est, sem = float(right.mean()), float(right.std(ddof=1) / np.sqrt(len(right)))
        c_est, c_sem = float(wrong.mean()), float(wrong.std(ddof=1) / np.sqrt(len(wrong)))
        control = "mu_t alone" if regime == "subsample" else "chi(mu_t) = mu(1 - mu)"
        return Outcome(0.0, est, sem, z_score(est, 0.0, sem), control, z_score(c_est, 0.0, c_sem),
                       f"E[dX g] = {est:.3g} ± {sem:.2g}; control {c_est:.3g} ± {c_sem:.2g}")

    what = "pool mean" if regime == "accumulate" else "(t P_t + mu_t)/(t + 1)"
    return Check("R10.martingale", loop.family.slug, f"{what} of phi1 is a martingale at t={t}, M={M}, "
                 f"{regime}", "exact", compute)


# --- R10.diffusion: accumulate = the pure loop's diffusion run for Σ_k c_k ------------------------
def diffusion_check(M: int = 400, t: int = 100, p0: float = 0.3) -> Check:
    loop = _loop("bernoulli", M, (("p", p0),), "accumulate")

    def compute(budget: Budget, rng) -> Outcome:
        res = applying_result("R10.diffusion", loop.setting)
        est, sem = _q_ratio(loop, t, budget.chains, rng)
        lam = float(res["lambda"])
        # the whole run's clock τ_∞ (at t = 100 short of it by 1/(M t) = 2.5e-5, below the resolution)
        tau = float(evaluate(res["total_time"], {"M": M}))
        pred = float(np.exp(lam * tau))
        wrong = float(np.exp(lam * t / M))  # the replace loop's time t/M
        return Outcome(pred, est, sem, z_score(est, pred, sem), "the replace loop's time t/M",
                       z_score(est, wrong, sem), f"E q_t/q_0 = {est:.6g} ± {sem:.2g}; diffusion "
                       f"exp(lambda tau) = {pred:.6g} (tau = {tau:.4g}, error O(M^-2) = "
                       f"{tau**2 / 2:.1g}); replace {wrong:.4g}")

    return Check("R10.diffusion", "bernoulli", f"E chi_t at t={t}, M={M}, accumulate, the pure "
                 "loop's diffusion at time pi^2/(6M) (error O(M^-2))", "O(M^-2)", compute)


def subsample_diffusion_check(M: int = 400, t: int = 40, p0: float = 0.3) -> Check:
    """The Bernoulli subsample loop against its diffusion limit exp(λ T_t), T_t the model's clock
    (pool clock Σ_k c_k plus the last subsample's f_t/M); control: accumulate's clock π²/(6M)."""
    loop = _loop("bernoulli", M, (("p", p0),), "subsample")

    def compute(budget: Budget, rng) -> Outcome:
        res = applying_result("R10.diffusion", loop.setting)
        est, sem = _q_ratio(loop, t, budget.chains, rng)
        lam = float(res["lambda"])
        pred = R.subsample_limit_factor(loop.setting, M, t)
        tau = float(np.log(pred) / lam)
        wrong = float(np.exp(lam * evaluate(res["total_time"], {"M": M})))  # accumulate's whole clock
        return Outcome(pred, est, sem, z_score(est, pred, sem), "accumulate's clock pi^2/(6M)",
                       z_score(est, wrong, sem), f"E q_t/q_0 = {est:.6g} ± {sem:.2g}; diffusion "
                       f"exp(lambda T_t) = {pred:.6g} (T_t = {tau:.4g}, error O(M^-2) = "
                       f"{tau**2 / 2:.1g}); accumulate {wrong:.6g}")

    return Check("R10.diffusion", "bernoulli", f"E chi_t at t={t}, M={M}, subsample, the pure loop's "
                 "diffusion at time (3 H_t^(2) - 2)/M -> (pi^2/2 - 2)/M (error O(M^-2))", "O(M^-2)", compute)


def regime_checks(families: list[str] | None = None) -> list[Check]:
    """Every R10 check, restricted to family slugs or names in ``families``."""
    out = moment_checks() + [absorption_check(), absorption_check(regime="subsample"), martingale_check("accumulate"),
                             martingale_check("subsample"), diffusion_check(),
                             subsample_diffusion_check()]
    out += [martingale_check("subsample", case=c) for c in CASES if c.name != "bernoulli"]
    if families is None:
        return out
    return [c for c in out if c.family in families or c.family.split("-")[0] in families]
