"""Checks of the Gaussian mixture's and the KDE's laws (R12.moments) and of the martingale theorem
for latent-variable maximum likelihood (R12.theorem), against their vectorised loops.

R12.moments, exact at finite M (z against the chains' own standard error): the mixture's total
variance E V_t = V_0 Π(1 − 1/M) under replace and the pooled law under accumulate; the KDE's
variance with a fixed bandwidth (replace, accumulate; per-chain prediction from the chain's
initial data) and with Silverman's rule. R12.theorem: the mixture's mean is a martingale; the
total-variance law holds after a single EM iteration too (an M-step is all it needs); the weights
are martingales of the one-iteration loop; the SymPy identities of theory.models.theorem.
Controls: the wrong power ((M−1)/M)^(t+1), h² omitted, the ML law for Silverman's, the replace
law for accumulate, and the theorem where it does not apply: a component's mean m_1, the weights
of the converged fit, the variances held fixed.
"""

from __future__ import annotations

import functools

import numpy as np

from ..models import theorem
from ..models.kde import KDELoop
from ..models.mixture import MixtureLoop
from ..models.moment_laws import model_variance, moment_trajectory, silverman_kappa
from .registry import Budget, Check, Outcome, run_seed
from .stats import mean_sem, seeded, z_score

# a mixture whose EM converges in a few iterations (components 4 standard deviations apart)
MIX = {"w": (0.4, 0.6), "m": (-2.0, 2.0), "v": (0.5, 1.0)}
MIX_M, MIX_T, MIX_ACC_M, MIX_ACC_T = 20, 3, 10, 3
# overlapping components, where a converged fit's weights drift visibly in one generation
OVERLAP = {"w": (0.3, 0.7), "m": (-2.0, 2.0), "v": (1.0, 1.0)}
KDE_M, KDE_T, KDE_H = 20, 5, 0.5


def _chains(budget: Budget) -> int:
    return max(budget.chains // 10, 200)


@functools.lru_cache(maxsize=8)
def _mixture_run(seed, regime, M, T, chains, max_iter=500, fit_variances=True, init="MIX"):
    start = MIX if init == "MIX" else OVERLAP
    loop = MixtureLoop(M=M, regime=regime, max_iter=max_iter, fit_variances=fit_variances, **start)
    stream = seeded(seed, "mixture", regime, M, T, chains, max_iter, fit_variances, init)
    run = loop.run(T, chains, seed=int(stream.integers(2**63)))
    return loop, run.loop.observables(run.state)


def _mixture(budget, regime="replace", M=MIX_M, T=MIX_T, chains=None, **kw):
    return _mixture_run(run_seed(), regime, M, T, chains or _chains(budget), **kw)


def _v0(loop: MixtureLoop) -> float:
    w, m, v = (np.array(p) for p in (loop.w, loop.m, loop.v))
    return float(w @ (v + m**2) - (w @ m) ** 2)


def _law(regime, M, T) -> float:
    """E V_T/V_0 of a moment-matching refit with no kernel (R12.moments)."""
    return float(moment_trajectory(regime, [M] * T, [0.0, 0.0, 1.0])[-1, 2])


def _ratio_outcome(values, v0, pred, control_name, wrong, what) -> Outcome:
    est, sem = mean_sem(np.asarray(values) / v0)
    return Outcome(pred, est, sem, z_score(est, pred, sem), control_name, z_score(est, wrong, sem),
                   f"{what}: {est:.5g} ± {sem:.2g}, law {pred:.5g}, control {wrong:.5g}")


# -- R12.moments: the mixture ----------------------------------------------------------------------
def mixture_variance_check(regime: str = "replace") -> Check:
    M, T = (MIX_M, MIX_T) if regime == "replace" else (MIX_ACC_M, MIX_ACC_T)

    def compute(budget, rng):
        loop, obs = _mixture(budget, regime, M, T)
        pred = _law(regime, M, T)
        if regime == "replace":
            name, wrong = "the wrong power ((M-1)/M)^(t+1)", (1 - 1 / M) ** (T + 1)
        else:
            name, wrong = "the replace law (1-1/M)^t", _law("replace", M, T)
        return _ratio_outcome(obs["total_var"], _v0(loop), pred, name, wrong, f"E V_{T}/V_0")

    return Check("R12.moments", "gaussian_mixture", f"E[total_var_t]/total_var_0 at t={T}, M={M}, {regime}",
                 "exact", compute)


# -- R12.theorem: what is and what is not a martingale --------------------------------------------
def mixture_mean_check() -> Check:
    """E mean_t = mean_0 (the theorem: x is z-free); control: the first component's mean m_1,
    a ratio of covered statistics, treated as a martingale."""
    def compute(budget, rng):
        assert "mean = E[x]" in theorem.martingales("gaussian_mixture")
        loop, obs = _mixture(budget)
        mean0 = float(np.dot(loop.w, loop.m))
        est, sem = mean_sem(obs["mean"] - mean0)
        m1 = obs["m1"][np.isfinite(obs["m1"])]
        c_est, c_sem = mean_sem(m1 - loop.m[0])
        return Outcome(0.0, est, sem, z_score(est, 0.0, sem), "m_1 a martingale", z_score(c_est, 0.0, c_sem),
                       f"E mean_{MIX_T} - mean_0 = {est:.3g} ± {sem:.2g}; E m1_t - m1_0 = {c_est:.3g} ± {c_sem:.2g}")

    return Check("R12.theorem", "gaussian_mixture", f"E[mean_t] = mean_0 at t={MIX_T}, M={MIX_M}", "exact",
                 compute)


def one_iteration_checks() -> list[Check]:
    """With one EM iteration per generation (a fit far from converged): the total-variance law
    still holds (an exact M-step is all the theorem needs), and the weights are martingales;
    controls: the wrong power, and the converged fit's weights."""
    def variance(budget, rng):
        theorem.martingales("gaussian_mixture")
        loop, obs = _mixture(budget, max_iter=1)
        pred, wrong = _law("replace", MIX_M, MIX_T), (1 - 1 / MIX_M) ** (MIX_T + 1)
        return _ratio_outcome(obs["total_var"], _v0(loop), pred, "the wrong power ((M-1)/M)^(t+1)", wrong,
                              f"E V_{MIX_T}/V_0 after one EM iteration per generation")

    def weights(budget, rng):
        theorem.martingales("gaussian_mixture")
        chains = 16 * _chains(budget) // 10
        loop, obs = _mixture(budget, T=1, chains=chains, max_iter=1, init="OVERLAP")
        _, converged = _mixture(budget, T=1, chains=chains, init="OVERLAP")
        w = [o["w1"] - loop.w[0] for o in (obs, converged)]
        (est, sem), (c_est, c_sem) = mean_sem(w[0]), mean_sem(w[1])
        return Outcome(0.0, est, sem, z_score(est, 0.0, sem), "the converged fit's w1 a martingale",
                       z_score(c_est, 0.0, c_sem),
                       f"E w1_t - w1_0: one iteration {est:.3g} ± {sem:.2g}, converged {c_est:.3g} ± {c_sem:.2g}")

    return [Check("R12.theorem", "gaussian_mixture",
                  f"E[total_var_t]/total_var_0 at t={MIX_T}, M={MIX_M}, one EM iteration per generation",
                  "exact", variance),
            Check("R12.theorem", "gaussian_mixture",
                  f"E[w1_1] = w1_0 at M={MIX_M}, overlapping components, one EM iteration", "exact", weights)]


def fixed_variance_check() -> Check:
    """The law where the theorem applies (variances fitted) and, as the control, where its
    condition fails (variances held fixed: the x² direction is not free)."""
    def compute(budget, rng):
        theorem.martingales("gaussian_mixture")
        loop, obs = _mixture(budget)
        _, fixed = _mixture(budget, fit_variances=False)
        pred = _law("replace", MIX_M, MIX_T)
        est, sem = mean_sem(obs["total_var"] / _v0(loop))
        c_est, c_sem = mean_sem(fixed["total_var"] / _v0(loop))
        return Outcome(pred, est, sem, z_score(est, pred, sem), "the law with the variances held fixed",
                       z_score(c_est, pred, c_sem),
                       f"E V_t/V_0 fitted {est:.4g} ± {sem:.2g}, fixed variances {c_est:.4g} ± {c_sem:.2g}, "
                       f"law {pred:.4g}")

    return Check("R12.theorem", "gaussian_mixture",
                 f"E[total_var_t]/total_var_0 at t={MIX_T}, M={MIX_M}: variances fitted vs held fixed", "exact",
                 compute)


def sympy_check() -> Check:
    """The theorem's SymPy identities simplify to 0; control: the M-step's variance with an
    unbiased denominator n_k − 1, whose second-moment identity does not."""
    def compute(budget, rng):
        ok = theorem.verified()
        m = theorem.mixture_m_step()
        x1, x2, x3 = sorted((s for s in m["m1"].free_symbols if s.name.startswith("x")), key=str)
        nk = 3 * m["w1"]
        wrong_v1 = m["v1"] * nk / (nk - 1)
        wrong_gap = (m["w1"] * (wrong_v1 + m["m1"] ** 2) + (1 - m["w1"]) * (m["v2"] + m["m2"] ** 2)
                     - (x1**2 + x2**2 + x3**2) / 3).simplify()
        return Outcome(1.0, float(all(ok.values())), 0.0, None, "v_k with n_k - 1", None,
                       ", ".join(f"{k}: {'0' if v else 'not 0'}" for k, v in ok.items()),
                       passed=all(ok.values()), control_rejected=wrong_gap != 0)

    return Check("R12.theorem", "gaussian_mixture", "SymPy: stationarity, M-step sums, one-iteration weight, "
                 "RBM visible bias", "deterministic", compute)


# -- R12.moments: the KDE ---------------------------------------------------------------------------
def kde_variance_check(h: float | None = KDE_H, regime: str = "replace") -> Check:
    """E V_t from each chain's own V_0 (the law is linear: the mean of per-chain residuals)."""
    T = 3 if h is None else KDE_T

    def compute(budget, rng):
        loop = KDELoop(M=KDE_M, h=h, regime=regime)
        state = loop.initial_state(_chains(budget), rng)
        v0 = loop.observables(state)["total_var"]
        # the data's variance under the initial KDE: V_0 = P_0 + h², or (1 + κ_M) P_0 for Silverman's
        P0 = v0 / (1 + silverman_kappa(KDE_M)) if h is None else v0 - h**2
        for t in range(1, T + 1):
            loop.step(state, t, rng)
        vT = loop.observables(state)["total_var"]
        # without external points the variance law does not read the mean: (0, 0, P_0) per chain
        y0 = np.stack([np.zeros_like(P0), np.zeros_like(P0), P0], axis=1)
        traj = moment_trajectory(regime, [KDE_M] * T, y0, h=h or 0.0, silverman=h is None)
        pred_i = model_variance(traj[-1][:, 2], KDE_M * (T if regime == "accumulate" else 1), h or 0.0,
                                h is None)
        if h is None:
            name, wrong_i = "the ML law (1-1/M)^t V_0 (no kernel)", v0 * (1 - 1 / KDE_M) ** T
        elif regime == "replace":
            name, wrong_i = "h^2 omitted: (1-1/M)^t V_0", v0 * (1 - 1 / KDE_M) ** T
        else:
            rep = moment_trajectory("replace", [KDE_M] * T, y0, h=h)
            name, wrong_i = "the replace law", model_variance(rep[-1][:, 2], KDE_M, h)
        est, sem = mean_sem(vT - pred_i)
        c_est, c_sem = mean_sem(vT - wrong_i)
        return Outcome(float(pred_i.mean()), float(vT.mean()), sem, z_score(est, 0.0, sem), name,
                       z_score(c_est, 0.0, c_sem),
                       f"E[V_{T} - law(V_0)] = {est:.3g} ± {sem:.2g}; control residual {c_est:.3g} ± {c_sem:.2g}")

    label = "Silverman h" if h is None else f"h={h:g}"
    return Check("R12.moments", "kde", f"E[total_var_t] at t={T}, M={KDE_M}, {label}, {regime}", "exact", compute)


def mixkde_checks(families: list[str] | None = None) -> list[Check]:
    """Every R12 check of the mixture and the KDE, restricted to ``families`` (class names)."""
    out = [mixture_variance_check("replace"), mixture_variance_check("accumulate"), mixture_mean_check(),
           *one_iteration_checks(), fixed_variance_check(), sympy_check(),
           kde_variance_check(), kde_variance_check(regime="accumulate"), kde_variance_check(h=None)]
    return out if families is None else [c for c in out if c.family in families]


__all__ = ["mixkde_checks"]
