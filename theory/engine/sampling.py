"""Draw the sufficient statistics of one generation: exactly (O(levels) per chain) or point by point.

Exact: the sum Σφ of m iid draws has a known law. On a finite space it is the
level counts, multinomial(m, f(·|θ)), times the φ table; on an infinite space the
family declares ``sum_sampler`` (Poisson total, Gamma sum, normal mean plus χ²).
A finite family whose levels are s0..s0+n with h(s0 + k) ∝ C(n, k) c^k and φ affine
in s (Bernoulli, binomial, Curie–Weiss with θ2 held at 0, categorical with K = 2) is
read from its declaration as binomial in k, so the sum of m draws is one
Binomial(n·m, p) draw: the same law as the multinomial over the n + 1 levels, in
one draw instead of n (a different random stream, the same distribution).
Naive: draw the m points one by one and add them up; the reference the exact
sampler is tested against.

Single points, for the pools of accumulate and subsample (engine.loop): levels by inverse
CDF, φ of one draw by the family's sampler of a one-point sum; a subsample of a pool drawn
without replacement, from its level counts (the multivariate hypergeometric law) or, where
the pool keeps its points, by random keys.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .model import NumericFamily


def draw_exact(numeric: NumericFamily, theta, mu, face, m: int, rng: np.random.Generator, levels=None):
    """(Σφ over m draws, level counts or None) for every chain; shapes (C, d), (C, L). ``levels``:
    the level probabilities (L, C) of the models θ on ``face`` where known (:func:`pvals`)."""
    if numeric.finite:
        law = binomial_sum(numeric)
        if law is not None:
            drawn = _draw_binomial_sum(law, theta, face, m, rng)
            if drawn is not None:
                return drawn
        counts = rng.multinomial(m, pvals(numeric, theta, face, levels))
        return counts @ numeric.phi_levels, counts
    if m == 0:
        return np.zeros_like(mu), None
    return np.asarray(numeric.family.sum_sampler(rng, mu, m), dtype=float), None


def draw_naive(numeric: NumericFamily, theta, mu, face, m: int, rng: np.random.Generator, levels=None):
    """Same as :func:`draw_exact`, drawing the m points one at a time (inverse CDF / single draws)."""
    if numeric.finite:
        counts = level_counts(draw_levels(numeric, theta, face, m, rng, levels), len(numeric.levels))
        return counts @ numeric.phi_levels, counts
    total = np.zeros_like(mu)
    for _ in range(m):
        total += numeric.family.sum_sampler(rng, mu, 1)
    return total, None


# -- single points: the pools of accumulate and subsample (engine.loop) ------------------------------
def draw_levels(numeric: NumericFamily, theta, face, m: int, rng: np.random.Generator,
                levels=None) -> np.ndarray:
    """The level of each of m draws per chain, by inverse CDF, shape (C, m)."""
    cdf = np.cumsum(pvals(numeric, theta, face, levels), axis=-1)
    u = rng.random((len(cdf), m))
    return np.minimum((u[:, :, None] >= cdf[:, None, :]).sum(-1), cdf.shape[1] - 1)


def level_counts(levels: np.ndarray, L: int) -> np.ndarray:
    """Counts (C, L) of the levels (C, n) of each chain's points."""
    C = len(levels)
    flat = (levels + L * np.arange(C)[:, None]).ravel()
    return np.bincount(flat, minlength=C * L).reshape(C, L)


def draw_points(numeric: NumericFamily, mu, m: int, rng: np.random.Generator) -> np.ndarray:
    """φ of each of m draws per chain (infinite space), shape (C, m, d): the family's sampler of
    the sum of one point, for the C·m points at once."""
    C, d = mu.shape
    return np.asarray(numeric.family.sum_sampler(rng, np.repeat(mu, m, axis=0), 1),
                      dtype=float).reshape(C, m, d)


def draw_points_naive(numeric: NumericFamily, mu, m: int, rng: np.random.Generator) -> np.ndarray:
    """Same as :func:`draw_points`, one point of every chain at a time."""
    points = [np.asarray(numeric.family.sum_sampler(rng, mu, 1), dtype=float) for _ in range(m)]
    return np.stack(points, axis=1) if points else np.zeros((len(mu), 0, mu.shape[1]))


def draw_counts(numeric: NumericFamily, theta, face, m: int, rng: np.random.Generator,
                levels=None) -> np.ndarray:
    """Level counts (C, L) of m draws per chain: Multinomial(m, f(·|θ)) over the levels."""
    return rng.multinomial(m, pvals(numeric, theta, face, levels))


HYPERGEOMETRIC_MAX = 10**9  # numpy draws hypergeometric laws of fewer points of each kind


def subsample_counts(counts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Level counts (C, L) of n points drawn without replacement from pools of level counts
    ``counts`` (C, L): the multivariate hypergeometric law, drawn level by level as
    x_l ~ Hypergeometric(c_l, R_l − c_l, r_l), where R_l and r_l are the pool and the sample
    left after the levels before l (R_0 = N, r_0 = n); the last level takes the rest.
    Pools of fewer than :data:`HYPERGEOMETRIC_MAX` points."""
    out = np.zeros_like(counts)
    left = counts.sum(axis=-1)
    todo = np.full(len(counts), n, dtype=counts.dtype)
    for level in range(counts.shape[1] - 1):
        c = counts[:, level]
        left = left - c
        out[:, level] = rng.hypergeometric(c, left, todo)
        todo = todo - out[:, level]
    out[:, -1] = todo
    return out


def subsample_sums(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Σφ of n points drawn without replacement from each chain's points (C, N, d): the n
    smallest of N independent uniform keys mark a uniformly random n-subset."""
    C, N, _ = points.shape
    if n >= N:
        return points.sum(axis=1)
    pick = np.argpartition(rng.random((C, N)), n - 1, axis=1)[:, :n]
    return np.take_along_axis(points, pick[:, :, None], axis=1).sum(axis=1)


def subsample_naive(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """The first n of a uniformly random permutation of each chain's points (C, N, ...)."""
    C, N = points.shape[:2]
    order = rng.permuted(np.tile(np.arange(N), (C, 1)), axis=1)[:, :n]
    index = order.reshape(order.shape + (1,) * (points.ndim - 2))
    return np.take_along_axis(points, index, axis=1)


@functools.lru_cache(maxsize=None)
def binomial_sum(numeric: NumericFamily) -> tuple | None:
    """(n, r, φ(s0), Δφ) when a draw's level index k = s − s0 is Binomial(n, p) for every θ, else None.

    Read from the declaration: consecutive levels s0..s0+n, log h(s0 + k) − log C(n, k)
    affine in k (slope r), and φ affine in s (step Δφ). Then f(k) ∝ C(n, k) e^{k(r + θ·Δφ)},
    the binomial law with log-odds r + θ·Δφ per trial.
    """
    if not numeric.finite:
        return None
    levels, phi = numeric.levels, numeric.phi_levels
    n = len(levels) - 1
    if n < 1 or not np.array_equal(np.diff(levels), np.ones(n, dtype=levels.dtype)):
        return None
    step = phi[1] - phi[0]
    k = np.arange(n + 1)
    scale = 1.0 + np.abs(phi).max()
    if not np.allclose(phi, phi[0] + k[:, None] * step, rtol=0, atol=1e-12 * scale):
        return None
    log_c = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in k])
    rest = numeric.log_h - log_c
    if not np.all(np.isfinite(rest)):
        return None
    r, tol = rest[1] - rest[0], 1e-9 * (1.0 + np.abs(rest).max())
    if not np.allclose(rest, rest[0] + k * r, rtol=0, atol=tol):
        return None
    r = 0.0 if abs(r) <= tol else r  # h = C(n, s) exactly, up to the rounding of log h
    return n, float(r), phi[0].copy(), step.copy()


def _draw_binomial_sum(law, theta, face, m: int, rng: np.random.Generator):
    """Σφ of m draws as m φ(s0) + K Δφ with K ~ Binomial(n m, p), and the support of the sample.

    The second value marks the sample's support as the face logic reads it (a face of
    the segment conv φ(S): the lower end iff K = 0, the upper end iff K = n m, else the
    whole segment): level 0 "counted" iff some draw is below the top, level n iff K > 0.
    None (use the multinomial) if a chain sits on a face that is neither the whole
    segment nor one of its ends, which the loop never produces.
    """
    p = binomial_p(law, theta, face)
    if p is None:
        return None
    n, _, phi0, step = law
    trials = n * m
    K = rng.binomial(trials, p)
    sums = m * phi0[None, :] + K[:, None] * step[None, :]
    return sums, binomial_support(n, K, trials)


def binomial_p(law, theta, face) -> np.ndarray | None:
    """The canonical (44-bit) success probability of one trial of each chain's binomial sum,
    0 or 1 on the ends of the segment; None if a face is neither an end nor the whole."""
    n, r, _, step = law
    C = len(theta)
    if face is None:
        full, low, high = np.ones(C, bool), np.zeros(C, bool), np.zeros(C, bool)
    else:
        size = face.sum(axis=-1)
        full, low, high = size == n + 1, (size == 1) & face[:, 0], (size == 1) & face[:, -1]
        if not np.all(full | low | high):
            return None
    with np.errstate(over="ignore", invalid="ignore"):
        logit = r + theta @ step
        p = 1.0 / (1.0 + np.exp(-logit))
    p = np.where(full, p, np.where(high, 1.0, 0.0))
    if not np.all(np.isfinite(p)):
        return None
    return canonical(p)


def binomial_support(n: int, K: np.ndarray, trials: int) -> np.ndarray:
    """The levels a face reads off a binomial sum K of ``trials`` trials: 0 iff K < trials, n iff K > 0."""
    support = np.zeros((len(K), n + 1), np.int64)
    support[:, 0] = K < trials
    support[:, -1] = K > 0
    return support


PVALS_BITS = 44  # significant bits kept of each level probability before a draw


def pvals(numeric, theta, face, levels=None):
    """Level probabilities rounded to 44 significant bits: a canonical input for the draw.

    Their last bits come from exp/log (libm) and differ across machines, and numpy's
    binomial draws the mirror image when p is one ulp above 1/2, a value refits land on
    exactly and often (p = k/M). Rounding to 2^-44 relative maps such a p to 1/2 itself
    on every machine, and changes each probability by at most 2^-45 of itself.

    ``levels``: :meth:`~.model.NumericFamily.level_probabilities_T` of θ on ``face`` where the
    caller has them (the refit's Newton made them: :meth:`.state.Kept.levels_at`; not modified);
    else they are made.
    """
    if levels is None:  # levels-major (L, C): sums over levels are fast
        q = numeric.level_probabilities_T(theta, face)
        q /= q.sum(axis=0)
    else:
        q = levels / levels.sum(axis=0)
    return canonical(q).T


_SUBNORMAL = np.uint64(0x000FFFFFFFFFFFFF)  # bit patterns 1..this are the positive subnormals
SMALLEST_NORMAL = float(np.finfo(float).tiny)  # positive floats below it are subnormal


def canonical(q):
    """Probabilities rounded to PVALS_BITS significant bits (see :func:`pvals`), half to even.

    On the bit pattern: 53 − 44 = 9 low bits of the significand are dropped, rounding to
    nearest with ties to the even neighbour (a carry into the exponent is the next power of
    two) — the value frexp/round/ldexp gives, in three integer passes. Subnormals (fewer
    significant bits than their pattern) take the frexp route.
    """
    q = np.asarray(q, dtype=float)
    if not q.min(initial=np.inf) >= SMALLEST_NORMAL:  # some q is 0, subnormal or NaN: look closer
        return _canonical_small(q)
    return canonical_normal(q)


def _canonical_small(q):
    """:func:`canonical` of probabilities of which some may be subnormal."""
    bits = q.view(np.int64)
    if np.count_nonzero((bits - 1).view(np.uint64) < _SUBNORMAL):  # (count_nonzero: np.any costs 10×)
        mantissa, exponent = np.frexp(q)
        return np.ldexp(np.round(np.ldexp(mantissa, PVALS_BITS)), exponent - PVALS_BITS)
    return canonical_normal(q)


def canonical_normal(q):
    """:func:`canonical` of probabilities known to hold no subnormal (zeros are fine): the
    three integer passes alone (the binomial-sum step checks the smallest p instead)."""
    bits = q.view(np.int64)
    rounded = bits >> 9  # one temporary, updated in place
    rounded &= 1
    rounded += 0xFF
    rounded += bits
    rounded &= ~np.int64(0x1FF)
    return rounded.view(np.float64)
