"""Categorical (K categories): s ∈ {1..K}, φ_a(s) = [s = a] for a < K, θ_a = log(p_a / p_K)."""

import sympy as sp

from ..errors import InputError
from ..family import ExponentialFamily, Finite
from ..symbols import s, thetas


def categorical(K: int = 3) -> ExponentialFamily:
    if int(K) != K or K < 2:
        raise InputError(f"categorical needs an integer K >= 2, got K={K}")
    K = int(K)
    theta = thetas(K - 1)
    norm = 1 + sum(sp.exp(t) for t in theta)
    conventional = {f"p{a + 1}": sp.exp(t) / norm for a, t in enumerate(theta)} | {f"p{K}": 1 / norm}
    return ExponentialFamily(
        name="categorical", space=Finite(tuple(range(1, K + 1))),
        phi=tuple(sp.KroneckerDelta(s, a) for a in range(1, K)), h=sp.Integer(1),
        conventional=conventional, args={"K": K})


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"p1": 0.5, "p2": 0.3, "p3": 0.2}, "truth": {"p1": 0.2, "p2": 0.1, "p3": 0.7},
               "args": {"K": 3}},)
