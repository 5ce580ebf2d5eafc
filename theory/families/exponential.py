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
    """The sum of m exponentials of mean μ is Gamma(shape m, scale μ) (module level: loops pickle).

    Drawn as μ·Gamma(m, 1): numpy's gamma(m, μ) is that product, the same numbers, but
    broadcasting an array of scales cost 10× the draw at 10² chains."""
    if mu[..., 0].min(initial=0.0) < 0:
        raise ValueError("scale < 0")
    return gamma_sums(rng, mu, m)


def gamma_sums(rng, mu, m):
    """:func:`sum_sampler` for means μ ≥ 0, unchecked (the engine's: a refit's μ lies in the mean
    domain), the same numbers: the check is a pass over the chains, a seventh of a generation at
    10² chains."""
    scale = mu[..., 0]
    sums = rng.standard_gamma(m, scale.shape)
    sums *= scale
    return sums[..., None]


sum_sampler.in_domain = gamma_sums  # type: ignore[attr-defined]  # (engine.loop._sum_step)


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
