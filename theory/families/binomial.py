"""Binomial (n trials): s ∈ {0..n}, φ(s) = s, h(s) = C(n, s), θ = logit p."""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import symbols as S
from ..family import ExponentialFamily, Finite, Levels, size_argument

# simulate refits p through the symbolic inverse mean map on up to 1001 levels (engine.model);
# above, setting the family up took minutes (n = 10**4: 53 s) before that was refused
MAX_N = 1000


def binomial(n: int = 10) -> ExponentialFamily:
    s, (theta,) = S.s, S.thetas(1)
    symbolic = isinstance(n, sp.Symbol)  # general n, for derivations only
    if not symbolic:
        n = size_argument("binomial", "n", n, 1, MAX_N, f"simulate supports n <= {MAX_N}, derive n <= 60")
    return ExponentialFamily(
        name="binomial", space=Levels(n) if symbolic else Finite(tuple(range(n + 1))), phi=(s,), h=sp.binomial(n, s),
        conventional={"p": 1 / (1 + sp.exp(-theta))}, args={"n": n})


def reference(theta: dict, n: int = 10):
    """The law of s at natural parameters θ, from scipy.stats: the tests' independent oracle."""
    import scipy.stats  # here: the oracle alone needs it, and it costs half a second to import

    return scipy.stats.binom(n, 1 / (1 + np.exp(-theta["theta"])))


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"p": 0.6}, "truth": {"p": 0.3}, "args": {"n": 4}},)
