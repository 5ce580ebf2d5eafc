"""Exponential: s > 0, φ(s) = s, h = 1, θ = −rate < 0."""

import sympy as sp

from ..family import ExponentialFamily, PositiveReals
from ..symbols import s, thetas

(theta,) = thetas(1)


def exponential() -> ExponentialFamily:
    return ExponentialFamily(
        name="exponential", space=PositiveReals, phi=(s,), h=sp.Integer(1),
        conventional={"rate": -theta}, negative=("theta",),
        # the sum of m exponentials of mean μ is Gamma(shape m, scale μ)
        sum_sampler=lambda rng, mu, m: rng.gamma(m, mu[..., 0])[..., None])


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"rate": 2.0}, "truth": {"rate": 1.5}},)
