"""Categorical (K categories): s ∈ {1..K}, φ_a(s) = [s = a] for a < K, θ_a = log(p_a / p_K)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import symbols as S
from ..family import ExponentialFamily, Finite, size_argument

# K − 1 natural parameters, each a SymPy symbol in every sum: K = 10**6 never finished building;
# simulate refits p through the symbolic inverse mean map up to K = 5, derive finishes K <= 3
MAX_K = 32


def categorical(K: int = 3) -> ExponentialFamily:
    s = S.s
    K = size_argument("categorical", "K", K, 2, MAX_K, "simulate supports K <= 5, derive K <= 3")
    theta = S.thetas(K - 1)
    norm = 1 + sum(sp.exp(t) for t in theta)
    conventional = {f"p{a + 1}": sp.exp(t) / norm for a, t in enumerate(theta)} | {f"p{K}": 1 / norm}
    return ExponentialFamily(
        name="categorical", space=Finite(tuple(range(1, K + 1))),
        phi=tuple(sp.KroneckerDelta(s, a) for a in range(1, K)), h=sp.Integer(1),
        conventional=conventional, args={"K": K})


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = ({"init": {"p1": 0.5, "p2": 0.3, "p3": 0.2}, "truth": {"p1": 0.2, "p2": 0.1, "p3": 0.7},
               "args": {"K": 3}},)
