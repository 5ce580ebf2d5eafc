"""R8: exact finite-M moment recursions for families whose covariance is quadratic in the mean.

With MLE and M0 anchors, one generation gives exactly

    E[μ'_a]      = (1 − ρ) μ_a + ρ μ*_a
    E[μ'_a μ'_b] = E[μ'_a] E[μ'_b] + [(M − M0) χ_ab(μ) + M0 χ_ab(μ*)] / M².

When χ_ab(μ) is a polynomial of degree ≤ 2 in μ, the monomials {μ_a, μ_a μ_b}
(or the largest subset whose updates stay inside it) obey a closed affine
recursion x_{t+1} = A x_t + c: its powers give the exact transient, and with
anchors (I − A)⁻¹ c the exact stationary moments, at every finite M.
"""

from __future__ import annotations

import itertools

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from .common import factor, result


def _update(family: ExponentialFamily, chi_mu: sp.Matrix, monomial: sp.Expr) -> sp.Expr:
    """E[monomial(μ_{t+1}) | μ_t] for a monomial of degree 1 or 2."""
    mu = family.mu_symbols
    rho = S.M0 / S.M
    mean = {m: (1 - rho) * m + rho * S.starred(m) for m in mu}
    factors = sp.Mul.make_args(monomial)
    powers = [f.as_base_exp() for f in factors]
    names = [b for b, e in powers for _ in range(int(e))]
    if len(names) == 1:
        return sp.expand(mean[names[0]])
    a, b = (mu.index(n) for n in names)
    star = {m: S.starred(m) for m in mu}
    cov = ((S.M - S.M0) * chi_mu[a, b] + S.M0 * chi_mu[a, b].subs(star, simultaneous=True)) / S.M**2
    return sp.expand(mean[names[0]] * mean[names[1]] + cov)


def closed_recursion(family: ExponentialFamily):
    """The largest closed set of monomials of degree ≤ 2, with A and c; None if none closes."""
    if family.mu_inverse is None:
        return None
    mu = family.mu_symbols
    chi_mu = family.in_mu(family.chi)
    if any(not e.is_polynomial(*mu) for e in chi_mu):
        return None
    monomials = list(mu) + [a * b for a, b in itertools.combinations_with_replacement(mu, 2)]
    updates = {m: _update(family, chi_mu, m) for m in monomials}
    while True:  # drop monomials whose update leaves the set
        keep = [m for m in monomials
                if all(sp.Mul(*[g**e for g, e in zip(mu, mon, strict=True)]) in monomials
                       for mon in sp.Poly(updates[m], *mu).monoms() if sum(mon) > 0)]
        if keep == monomials:
            break
        monomials = keep
    if not any(sp.Poly(m, *mu).total_degree() == 2 for m in monomials):
        return None
    A = sp.Matrix([[sp.Poly(updates[m], *mu).coeff_monomial(n) for n in monomials] for m in monomials])
    c = sp.Matrix([updates[m].subs({x: 0 for x in mu}) for m in monomials])
    return sp.Matrix(monomials), factor(A), factor(c)


@result("R8.moments")
def moments(family: ExponentialFamily) -> Derivation | None:
    """R8 for ``family``, or None when the covariance is not quadratic in the mean."""
    closed = closed_recursion(family)
    if closed is None:
        return None
    x, A, c = closed
    x0 = x.subs({m: S.zeroed(m) for m in family.mu_symbols})  # a deterministic start μ_0
    # pure loop: x_t = A^t x_0 + Σ_{k<t} A^k c, the power of the augmented matrix [[A, c], [0, 1]]
    n = A.shape[0]
    augmented = sp.Matrix(sp.BlockMatrix([[A, c], [sp.zeros(1, n), sp.ones(1, 1)]])).subs(S.M0, 0)
    transient = ((augmented ** S.t) * x0.col_join(sp.ones(1, 1)))[:n, :].applyfunc(sp.simplify)
    fixed = factor((sp.eye(A.shape[0]) - A).LUsolve(c))
    steps = [
        Step("The covariance of one point, written in the expectation parameters, is polynomial of "
             "degree at most 2:", r"\chi(\mu)", family.in_mu(family.chi)),
        Step("so the monomials below obey an exact affine recursion $x_{t+1} = A x_t + c$ at every "
             "finite M (MLE with M_0 anchors):", "x", x),
        Step("", "A", A), Step("", "c", c),
        Step("Without anchors the exact transient is $x_t = A^t x_0 + \\sum_{k<t} A^k c$:",
             r"\mathbb{E}[x_t]", transient),
        Step("With $M_0 \\ge 1$ anchors $I - A$ is invertible and the exact stationary moments are",
             r"\mathbb{E}[x_\infty]", fixed),
    ]
    result = {"monomials": x, "A": A, "c": c, "transient": transient, "stationary": fixed}
    for a, m in enumerate(family.mu_symbols):
        if m**2 in list(x):
            var = factor(fixed[list(x).index(m**2)] - fixed[list(x).index(m)] ** 2)
            steps.append(Step("Stationary variance:", rf"\operatorname{{Var}}[\mu_{{{a + 1}}}]"
                              if family.d > 1 else r"\operatorname{Var}[\mu]", var))
            result[f"stationary_var_{m.name}"] = var
    return Derivation("R8.moments", family.slug, "Exact finite-M moments", tuple(steps), result)
