"""The statistics of a check: z-scores, order fits, goodness of fit.

Every check reduces to a statistic in z units, compared with one threshold z*
chosen so that a correct toolkit passes the whole run with probability 1 − α
(Šidák over the K statistical checks: :func:`theory.stats.threshold`). Its negative
control is the same statistic against a deliberately wrong formula and must exceed z*.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import stats

from ..stats import mean_sem, z_score  # noqa: F401  (the checks' own import place)


def z_from_p(p: float) -> float:
    """The two-sided z with the same p-value, so every test is read against the same z*."""
    return float(stats.norm.isf(max(p, 1e-300) / 2))






def order_fit(M: np.ndarray, residual: np.ndarray, sem: np.ndarray, order: int) -> tuple[float, str]:
    """Is the residual O(M^-order)? Weighted fit r_M = b M^-order + c M^-(order+1), χ² p-value.

    A formula right to the stated order leaves a residual that this two-term
    form absorbs at every rung; a formula wrong at a lower order leaves a
    M^-(order−1) piece it cannot, and χ² grows with the precision.
    """
    M, r, s = (np.asarray(a, float) for a in (M, residual, sem))
    X = np.stack([M ** -order, M ** -(order + 1)], axis=1) / s[:, None]
    coef, *_ = np.linalg.lstsq(X, r / s, rcond=None)
    chi2 = float(np.sum((r / s - X @ coef) ** 2))
    dof = len(M) - 2
    p = float(stats.chi2.sf(chi2, dof))
    return p, f"chi2={chi2:.3g}/{dof} dof, b={coef[0]:.3g}"


def chisquare_gof(observed: np.ndarray, expected_prob: np.ndarray) -> float:
    """Pearson χ² goodness-of-fit p-value of binned counts against bin probabilities."""
    observed = np.asarray(observed, float)
    expected = np.asarray(expected_prob, float) * observed.sum()
    keep = expected > 0
    if np.any(observed[~keep] > 0):
        return 0.0
    chi2 = float(np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep]))
    return float(stats.chi2.sf(chi2, keep.sum() - 1))


def seeded(seed: int, *key) -> np.random.Generator:
    """A stream for a simulation shared by several checks (its components): run seed and key."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(repr(key).encode())]))


def pmf_gof(pmf: np.ndarray, k: np.ndarray, bins: int = 20) -> float:
    """χ² of integer samples k against a law on 0, 1, ... (bins at its quantiles)."""
    cdf = np.cumsum(pmf) / pmf.sum()
    ends = np.unique(np.searchsorted(cdf, np.linspace(0, 1, bins + 1)[1:-1]))  # bin j: k ≤ ends[j]
    ends = ends[ends < len(cdf) - 1]
    probs = np.diff(np.concatenate([[0.0], cdf[ends], [1.0]]))
    observed = np.bincount(np.searchsorted(ends, k, side="left"), minlength=len(probs))
    return chisquare_gof(observed, probs)


def gap_order(exact: np.ndarray, law: np.ndarray) -> tuple[bool, str]:
    """Does the relative gap of every moment fall at least as 1/M over the ladder?

    Observed order log2(gap(M/2)/gap(M)) from the last two rungs must be ≥ 0.75; a
    gap that vanishes (< 1e-9 at every rung, e.g. the exponential's E[μ²] with one
    anchor, where the diffusion law happens to be exact) passes too.
    """
    rel = np.abs(exact / law - 1)
    vanishes = np.all(rel < 1e-9, axis=0)
    # zeros explicitly: a gap that closes at the last rung has order +inf, one that opens
    # from zero −inf (log2 of 0 would warn)
    before, last = rel[-2], rel[-1]
    orders = np.where(last == 0, np.inf, -np.inf)
    both = (before > 0) & (last > 0)
    orders[both] = np.log2(before[both] / last[both])
    text = ", ".join("exact" if v else f"{o:.2f}" for v, o in zip(vanishes, orders, strict=True))
    return bool(np.all(vanishes | (orders >= 0.75))), text
