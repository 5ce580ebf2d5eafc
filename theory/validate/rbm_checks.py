"""Checks of the RBM closed loop (theory.models.rbm, laws in theory.models.rbm_laws).

* ``R12.rbm.martingale`` (one per visible unit): E_θ_t[v_i] after t generations against E_θ_0[v_i]
  (a z-score over chains); control: the same estimate from the early-stopped fit (three gradient
  steps a generation, no stationary point), which must reject the same prediction.
* ``R12.rbm.polarisation`` (one per unit): the fraction of chains whose unit i ends clamped at 1
  against E_θ_0[v_i] (chains not yet absorbed counted by their E_θ_T[v_i], the exact conditional
  probability of ending at 1); control: 1/2, a unit that forgets its start.
* ``R12.rbm.absorption_law``: with H = 0 (independent units) the configuration the chain is absorbed
  on, against the product of the initial means (χ²); control: the uniform law. With hidden units
  the law of the final configuration is not derived (the configuration probabilities are no
  martingales): theory.plots.rbm measures it against p_0(v) and the product law.
* ``R12.rbm.rescue``: with a Gaussian prior on the weights no chain ever reaches a point mass, where
  the same pure loop has absorbed (deterministic: the control is the pure loop, which must fail
  the same criterion).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from ..models import model_loop
from ..models import rbm_laws as L
from .registry import Budget, Check, Outcome, run_seed
from .stats import mean_sem, seeded, z_from_p, z_score

# the checks' RBM: N = 3 visible, H = 2 hidden units, weights N(0, 1) from seed 14 (initial means
# 0.84, 0.16, 0.66: far enough from 1/2 for the polarisation control)
N, H, INIT_SEED = 3, 2, 14
ARGS = f"N={N},H={H}"
M, T_MARTINGALE, T_ABSORB = 10, 5, 200
EARLY_STEPS = 3


def _loop(family_args: str = ARGS, init_seed: int = INIT_SEED, **options):
    return model_loop("rbm", M=M, family_args=family_args, init_seed=init_seed, **options)


def _chains(budget: Budget, per: int) -> int:
    """Chains of an RBM check: the budget's one-step chains divided by ``per`` (fits cost ~10^3
    times an exponential family's draw), at least 200."""
    return max(budget.chains // per, 200)


@functools.lru_cache(maxsize=8)
def _run(seed: int, family_args: str, T: int, chains: int, prior_law: str | None = None):
    loop = _loop(family_args, prior_law=prior_law)
    key = int(seeded(seed, "rbm", family_args, T, chains, prior_law).integers(2**63))  # run() takes an int
    return loop, loop.run(T, chains, seed=key)


def _initial_means(loop) -> np.ndarray:
    return loop.p0 @ loop.space.V


def martingale_check(i: int) -> Check:
    def compute(budget: Budget, rng) -> Outcome:
        loop, run = _run(run_seed(), ARGS, T_MARTINGALE, _chains(budget, 25))
        if f"v{i + 1}" not in L.martingale_statistics(N, H):
            raise ValueError(f"v{i + 1} is not a martingale of the RBM loop")
        pred = _initial_means(loop)[i]
        est, sem = mean_sem(run.per_chain(f"v{i + 1}"))
        _, early = _run(run_seed(), f"{ARGS},fit_steps={EARLY_STEPS}", T_MARTINGALE, 4 * _chains(budget, 25))
        e_est, e_sem = mean_sem(early.per_chain(f"v{i + 1}"))
        fit = loop.describe()["fit"]
        return Outcome(pred, est, sem, z_score(est, pred, sem),
                       f"early-stopped fit ({EARLY_STEPS} gradient steps)", z_score(e_est, pred, e_sem),
                       f"exact fits: max |grad| {fit['max_gradient']:.2g}, {fit['unconverged']} unconverged; "
                       f"early-stopped E[v{i + 1}] = {e_est:.5g} ± {e_sem:.2g}")
    return Check("R12.rbm.martingale", "rbm", f"E[v{i + 1}_t] at t={T_MARTINGALE}, M={M}, N={N}, H={H}, "
                 f"init-seed {INIT_SEED}", "exact", compute)


def polarisation_check(i: int) -> Check:
    def compute(budget: Budget, rng) -> Outcome:
        loop, run = _run(run_seed(), ARGS, T_ABSORB, _chains(budget, 25))
        pred = L.polarisation(_initial_means(loop))[i]
        clamp = run.state.clamp[:, i]
        ends_at_1 = np.where(clamp >= 0, clamp, run.per_chain(f"v{i + 1}"))
        est, sem = mean_sem(ends_at_1)
        return Outcome(pred, est, sem, z_score(est, pred, sem), "1/2 (the start forgotten)",
                       z_score(est, 0.5, sem), f"{np.mean(clamp >= 0):.4f} of chains have unit {i + 1} "
                       f"clamped at t={T_ABSORB}, {run.absorbed()['fraction']:.4f} absorbed")
    return Check("R12.rbm.polarisation", "rbm", f"P(v{i + 1} ends at 1), M={M}, N={N}, H={H}, "
                 f"init-seed {INIT_SEED}", "exact", compute)


INDEPENDENT_ARGS = f"N={N},H=0"


def absorption_law_check() -> Check:
    """H = 0: independent units, each a Bernoulli loop on the same points; the configuration
    probabilities are then martingales too, and the chain ends on v with probability
    Π_i m_i^(v_i) (1 − m_i)^(1 − v_i) (rbm_laws.product_law)."""
    def compute(budget: Budget, rng) -> Outcome:
        loop, run = _run(run_seed(), INDEPENDENT_ARGS, T_ABSORB, _chains(budget, 25))
        on = run.on_absorbing
        counts = np.bincount(np.argmax(run.state.logp[on], axis=1), minlength=loop.space.K)
        law = L.product_law(_initial_means(loop))
        p_fit = stats.chisquare(counts, law * on.sum()).pvalue
        p_wrong = stats.chisquare(counts, np.full(loop.space.K, on.sum() / loop.space.K)).pvalue
        return Outcome(float("nan"), float(on.mean()), 0.0, z_from_p(p_fit), "uniform (the start forgotten)",
                       z_from_p(p_wrong), f"absorbed {on.mean():.4f} by t={T_ABSORB}; chi2 p={p_fit:.3g} "
                       f"(product of the initial means), control p={p_wrong:.3g}")
    return Check("R12.rbm.absorption_law", "rbm", f"configuration absorbed on vs the product law, M={M}, "
                 f"{INDEPENDENT_ARGS}, init-seed {INIT_SEED}", "distribution", compute)


PRIOR = "normal:var=1"


def rescue_check() -> Check:
    def compute(budget: Budget, rng) -> Outcome:
        chains = _chains(budget, 100)
        _, rescued = _run(run_seed(), ARGS, T_ABSORB // 3, chains, PRIOR)
        _, pure = _run(run_seed(), ARGS, T_ABSORB // 3, chains)
        if L.absorbing_states(N, prior=True):
            raise ValueError("the prior's loop has absorbing states")
        ever = float(np.mean(rescued.hit_time >= 0))
        pure_ever = float(np.mean(pure.hit_time >= 0))
        return Outcome(0.0, ever, 0.0, None, "the pure loop (no prior)", None,
                       f"ever absorbed by t={T_ABSORB // 3}: {ever:.4g} with the prior {PRIOR}, "
                       f"{pure_ever:.4g} without", passed=ever == 0.0, control_rejected=pure_ever > 0.5)
    return Check("R12.rbm.rescue", "rbm", f"no chain absorbed with the prior {PRIOR}, M={M}, N={N}, H={H}",
                 "deterministic", compute)


def rbm_checks(families: list[str] | None = None) -> list[Check]:
    """The RBM checks (all of them when ``families`` is None or names ``rbm``)."""
    if families is not None and "rbm" not in families:
        return []
    return ([martingale_check(i) for i in range(N)] + [polarisation_check(i) for i in range(N)]
            + [absorption_law_check(), rescue_check()])
