"""Curie–Weiss (fully connected Ising) model of N spins ±1, in the paper's coordinates (Eq. 7).

f(σ) ∝ exp[θ1 Σ_i σ_i + (θ2/N) Σ_{i<j} σ_i σ_j], sampled through its magnetisation: the
data symbol s is the number of up spins (0..N), the magnetisation is m = 2s − N,
φ1 = m = Σ_i σ_i, φ2 = (1/N) Σ_{i<j} σ_i σ_j = (m² − N)/(2N), and h(s) = C(N, s) counts
the spin configurations at that level (declared as the level's ``multiplicity``: a sampling
operator acts on the configurations, each of base measure 1). θ1 is the field, θ2 the coupling.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import symbols as S
from ..family import ExponentialFamily, Finite, Levels, size_argument

# the engine tabulates the N + 1 levels once with SymPy, about 40 ms a level (N = 1000: 40 s;
# N = 10**6 ran for hours before the first generation). N = 2 is three levels and two
# parameters, a categorical with K = 3 in disguise, whose inverse mean map SymPy's solve did
# not finish in 10 minutes (found by tests/test_cli_fuzz.py): the categorical is that model.
MIN_N, MAX_N = 3, 1000


def curie_weiss(N: int = 10) -> ExponentialFamily:
    s, (theta1, theta2) = S.s, S.thetas(2)
    symbolic = isinstance(N, sp.Symbol)  # general N, for derivations only
    if not symbolic:
        N = size_argument("curie_weiss", "N", N, MIN_N, MAX_N,
                          f"simulate sets up N = {MAX_N} spins in about 40 s; derive N <= 60; "
                          "two spins are the categorical with K = 3")
    m = 2 * s - N
    return ExponentialFamily(
        name="curie_weiss", space=Levels(N) if symbolic else Finite(tuple(range(N + 1))),
        phi=(m, (m**2 - N) / (2 * N)), h=sp.binomial(N, s),
        conventional={"theta1": theta1, "theta2": theta2}, args={"N": N},
        multiplicity=sp.binomial(N, s))


# where checks, figures and tests run this family (theory.cases); init far from truth
VALIDATION = (
    {"init": {"theta1": 0.2, "theta2": 0.6}, "truth": {"theta1": -0.1, "theta2": 0.3}, "args": {"N": 6}},
    {"init": {"theta1": 0.2}, "truth": {"theta1": -0.8}, "args": {"N": 6}, "fixed": {"theta2": 0.0}},
)
