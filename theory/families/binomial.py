"""Binomial (n trials): s ∈ {0..n}, φ(s) = s, h(s) = C(n, s), θ = logit p."""

import numpy as np
import scipy.stats
import sympy as sp

from ..errors import InputError
from ..family import ExponentialFamily, Finite, Levels
from ..symbols import s, thetas

(theta,) = thetas(1)


def binomial(n: int = 10) -> ExponentialFamily:
    symbolic = isinstance(n, sp.Symbol)  # general n, for derivations only
    if not symbolic and (int(n) != n or n < 1):
        raise InputError(f"binomial needs an integer n >= 1, got n={n}")
    n = n if symbolic else int(n)
    return ExponentialFamily(
        name="binomial", space=Levels(n) if symbolic else Finite(tuple(range(n + 1))), phi=(s,), h=sp.binomial(n, s),
        conventional={"p": 1 / (1 + sp.exp(-theta))}, args={"n": n})


def reference(theta: dict, n: int = 10):
    """The law of s at natural parameters θ, from scipy.stats: the tests' independent oracle."""
    return scipy.stats.binom(n, 1 / (1 + np.exp(-theta["theta"])))


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"p": 0.6}, "truth": {"p": 0.3}, "args": {"n": 4}},)
