"""Bernoulli: s ∈ {0, 1}, φ(s) = s, h = 1, θ = logit p."""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import symbols as S
from ..family import ExponentialFamily, Finite


def bernoulli() -> ExponentialFamily:
    s, (theta,) = S.s, S.thetas(1)
    return ExponentialFamily(
        name="bernoulli", space=Finite((0, 1)), phi=(s,), h=sp.Integer(1),
        conventional={"p": 1 / (1 + sp.exp(-theta))})


def reference(theta: dict):
    """The law of s at natural parameters θ, from scipy.stats: the tests' independent oracle."""
    import scipy.stats  # here: the oracle alone needs it, and it costs half a second to import

    return scipy.stats.bernoulli(1 / (1 + np.exp(-theta["theta"])))


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"p": 0.6}, "truth": {"p": 0.2}},)
