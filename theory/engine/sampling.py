"""Draw the sufficient statistics of one generation: exactly (O(levels) per chain) or point by point.

Exact: the sum Σφ of m iid draws has a known law. On a finite space it is the
level counts, multinomial(m, f(·|θ)), times the φ table; on an infinite space the
family declares ``sum_sampler`` (Poisson total, Gamma sum, normal mean plus χ²).
Naive: draw the m points one by one and add them up; the reference the exact
sampler is tested against.
"""

from __future__ import annotations

import numpy as np

from .model import NumericFamily


def draw_exact(numeric: NumericFamily, theta, mu, face, m: int, rng: np.random.Generator):
    """(Σφ over m draws, level counts or None) for every chain; shapes (C, d), (C, L)."""
    if numeric.finite:
        counts = rng.multinomial(m, _pvals(numeric, theta, face))
        return counts @ numeric.phi_levels, counts
    if m == 0:
        return np.zeros_like(mu), None
    return np.asarray(numeric.family.sum_sampler(rng, mu, m), dtype=float), None


def draw_naive(numeric: NumericFamily, theta, mu, face, m: int, rng: np.random.Generator):
    """Same as :func:`draw_exact`, drawing the m points one at a time (inverse CDF / single draws)."""
    if numeric.finite:
        cdf = np.cumsum(_pvals(numeric, theta, face), axis=-1)
        u = rng.random((len(cdf), m))
        level = np.minimum((u[:, :, None] >= cdf[:, None, :]).sum(-1), cdf.shape[1] - 1)
        counts = np.stack([(level == lv).sum(-1) for lv in range(cdf.shape[1])], axis=-1)
        return counts @ numeric.phi_levels, counts
    total = np.zeros_like(mu)
    for _ in range(m):
        total += numeric.family.sum_sampler(rng, mu, 1)
    return total, None


PVALS_BITS = 44  # significant bits kept of each level probability before a draw


def _pvals(numeric, theta, face):
    """Level probabilities rounded to 44 significant bits: a canonical input for the draw.

    Their last bits come from exp/log (libm) and differ across machines, and numpy's
    binomial draws the mirror image when p is one ulp above 1/2, a value refits land on
    exactly and often (p = k/M). Rounding to 2^-44 relative maps such a p to 1/2 itself
    on every machine, and changes each probability by at most 2^-45 of itself.
    """
    q = numeric.level_probabilities(theta, face)
    q = q / q.sum(axis=-1, keepdims=True)
    mantissa, exponent = np.frexp(q)
    return np.ldexp(np.round(np.ldexp(mantissa, PVALS_BITS)), exponent - PVALS_BITS)
