"""Poisson: s ∈ ℕ, φ(s) = s, h(s) = 1/s!, θ = log rate."""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import symbols as S
from ..family import ExponentialFamily, Naturals


def sum_sampler(rng, mu, m):
    """The sum of m Poisson(μ) draws is Poisson(m μ) (module level: loops pickle)."""
    return np.asarray(rng.poisson(m * mu[..., 0]))[..., None]  # (asarray: one model gives a scalar)


# at rate 0 the draw is 0 and numpy's Poisson draws no random number: the point mass redraws
# itself, so the engine steps absorbed chains in place (engine.loop._sum_step)
sum_sampler.redraws_point_mass = True  # type: ignore[attr-defined]


def poisson() -> ExponentialFamily:
    s, (theta,) = S.s, S.thetas(1)
    return ExponentialFamily(
        name="poisson", space=Naturals(), phi=(s,), h=1 / sp.factorial(s),
        conventional={"rate": sp.exp(theta)},
        sum_sampler=sum_sampler)


def reference(theta: dict):
    """The law of s at natural parameters θ, from scipy.stats: the tests' independent oracle."""
    import scipy.stats  # here: the oracle alone needs it, and it costs half a second to import

    return scipy.stats.poisson(np.exp(theta["theta"]))


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"rate": 3.0}, "truth": {"rate": 1.5}},)
