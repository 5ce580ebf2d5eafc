"""Exponential: s > 0, φ(s) = s, h = 1, θ = −rate < 0."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import family as F
from .. import symbols as S
from ..family import ExponentialFamily


def sum_sampler(rng, mu, m):
    """The sum of m exponentials of mean μ is Gamma(shape m, scale μ) (module level: loops pickle)."""
    return rng.gamma(m, mu[..., 0])[..., None]


def exponential() -> ExponentialFamily:
    s, (theta,) = S.s, S.thetas(1)
    return ExponentialFamily(
        name="exponential", space=F.PositiveReals, phi=(s,), h=sp.Integer(1),
        conventional={"rate": -theta}, negative=("theta",),
        sum_sampler=sum_sampler)


def reference(theta: dict):
    """The law of s at natural parameters θ, from scipy.stats: the tests' independent oracle."""
    import scipy.stats  # here: the oracle alone needs it, and it costs half a second to import

    return scipy.stats.expon(scale=-1 / theta["theta"])


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"rate": 2.0}, "truth": {"rate": 1.5}},)
