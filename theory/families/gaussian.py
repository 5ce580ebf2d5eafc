"""Gaussian: s ∈ ℝ, φ(s) = (s, s²), h = 1, θ = (mean/var, −1/(2 var))."""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import family as F
from .. import symbols as S
from ..family import ExponentialFamily


def sum_sampler(rng, mu, m):
    """Σs and Σs² of m normal draws: Σs ~ N(m·mean, m·var), Σ(s − s̄)² ~ var·χ²_{m−1},
    independent.

    Σs = m·mean + √(m var)·z is numpy's normal(m·mean, √(m var)), the same numbers at half its
    cost; Σs² = var·χ² + (Σs)²/m. Each pass writes into the result, the draws or var (a generation
    of the loop is a few such passes: fewer new arrays is less time at 10² chains, the same numbers)."""
    return normal_sums(rng, mu, m, checked=True)


def normal_sums(rng, mu, m, checked=False):
    """:func:`sum_sampler`, the variance's sign checked only if ``checked`` (the engine's μ lies in
    the mean domain, var ≥ 0: the check is a pass over the chains)."""
    if np.ndim(mu) == 1:  # one model, (2,): as a row (the passes below write into arrays)
        return normal_sums(rng, np.asarray(mu, dtype=float)[None], m, checked)[0]
    mean = mu[..., 0]
    var = np.square(mean)  # mean**2
    np.subtract(mu[..., 1], var, out=var)
    if checked and var.min(initial=0.0) < 0:
        raise ValueError("scale < 0")
    out = np.empty(np.shape(mean) + (2,))
    normal_sum_columns(rng, mean, var, m, out[..., 0], out[..., 1])
    return out


def normal_sum_columns(rng, mean, var, m, total, squares):
    """Σs and Σs² of m normal draws at each (mean, var), written into ``total`` and ``squares``
    (:func:`sum_sampler`'s passes, on columns: the engine's accumulate step keeps them apart)."""
    shape = np.shape(mean)
    z = rng.standard_normal(shape)
    spread = np.multiply(m, var)
    np.multiply(np.sqrt(spread, out=spread), z, out=z)
    np.add(np.multiply(m, mean, out=total), z, out=total)
    if m > 1:
        chi = rng.chisquare(m - 1, size=shape)
        np.multiply(var, chi, out=chi)
    else:
        chi = 0.0 * mean
    np.divide(np.square(total, out=squares), m, out=squares)
    np.add(chi, squares, out=squares)


def mle_sampler(rng, mean, var, m, out=None):
    """The MLE (mean', var') of m normal draws at (mean, var), drawn directly and written into
    ``out`` (two arrays, e.g. the rows of a block's buffer), else into ``mean`` and ``var``
    (contiguous, shape (C,)): mean' = mean + √(var/m)·z and var' = var·χ²_{m−1}/m =
    var·2·Gamma((m − 1)/2)/m, independent.

    The same law as Σs, Σs² of :func:`sum_sampler` divided by m (another random stream): half the
    passes of the loop's generation through μ = (mean, mean² + var) and back. A point mass
    (var = 0) redraws itself."""
    new_mean, new_var = (mean, var) if out is None else out
    z = rng.standard_normal(len(mean))
    sd = np.multiply(var, 1.0 / m)
    np.multiply(np.sqrt(sd, out=sd), z, out=z)
    np.add(mean, z, out=new_mean)
    if m > 1:
        gamma = rng.standard_gamma((m - 1) / 2, len(var))
        np.multiply(var, gamma, out=new_var)
        np.multiply(new_var, 2.0 / m, out=new_var)
    else:
        new_var.fill(0.0)


sum_sampler.mle = mle_sampler  # type: ignore[attr-defined]  # what the engine's replace step draws (engine.loop._sum_step)
# (mle and columns declare φ = (s, s²): the engine's kernels read the model as (mean, var))
sum_sampler.columns = normal_sum_columns  # type: ignore[attr-defined]  # (engine.loop._pool_step)
sum_sampler.in_domain = normal_sums  # type: ignore[attr-defined]  # (engine.loop._sum_step)


def gaussian() -> ExponentialFamily:
    s, (theta1, theta2) = S.s, S.thetas(2)
    return ExponentialFamily(
        name="gaussian", space=F.Reals, phi=(s, s**2), h=sp.Integer(1),
        conventional={"mean": -theta1 / (2 * theta2), "var": -1 / (2 * theta2)},
        negative=("theta2",), sum_sampler=sum_sampler,
        extra_coordinates={"log_sd": sp.log(-1 / (2 * theta2)) / 2})


def reference(theta: dict):
    """The law of s at natural parameters θ, from scipy.stats: the tests' independent oracle."""
    import scipy.stats  # here: the oracle alone needs it, and it costs half a second to import

    var = -1 / (2 * theta["theta2"])
    return scipy.stats.norm(theta["theta1"] * var, np.sqrt(var))


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"mean": 1.0, "var": 2.0}, "truth": {"mean": 0.0, "var": 1.0}},)
