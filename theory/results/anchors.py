"""R5: fixed points and relaxation rates with anchors, MAP and L2.

With MLE and anchors the expected recursion of the sufficient statistics is
affine and exact: E[μ_{t+1}] = (1 − ρ) E[μ_t] + ρ μ*, ρ = M0/M. MAP is affine as
well. L2 is not: its fixed point and rate are those of the noiseless skeleton
μ(θ') + λθ' = (1 − ρ) μ(θ) + ρ μ* (the M → ∞ limit of the expected map).
"""

from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from .common import inverse, result, show

_m = S.symbol("m", r"\mathbb{E}[\mu_t]", real=True)  # one component of E[μ_t]
_m0 = S.symbol("m_0", r"\mathbb{E}[\mu_0]", real=True)
_target = S.symbol("m_target", r"\mu^{*}", real=True)
_prior = S.symbol("m_prior", r"\mu^{(0)}", real=True)


def _tidy(e):
    if not e.has(sp.Sum):
        return sp.simplify(e)
    # sums over a symbolic number of levels (general N) are left as sums: SymPy's closed
    # forms for them take minutes
    symbolic = any(not lim.is_number for s in e.atoms(sp.Sum) for (_, *lims) in s.limits for lim in lims)
    return e if symbolic else e.doit()


def _jacobian_display(family: ExponentialFamily, jac, theta_fixed):
    """The L2 skeleton's Jacobian at its fixed point; (χ + λ)⁻¹χ there when χ is a sum over a
    symbolic number of levels (its elements would fill a page)."""
    if theta_fixed is None:
        return show(jac)
    at = jac.subs(S.M0, 0).subs(dict(zip(family.theta, theta_fixed, strict=True))).applyfunc(_tidy)
    if family.d > 1 and at.has(sp.Sum):
        point = ", ".join(sp.latex(v) for v in theta_fixed)
        return rf"\left(\chi + \lambda I\right)^{{-1}}\chi\ \text{{at}}\ \theta = ({point})"
    return show(at)


def affine_recursion(estimator: str) -> sp.Expr:
    """The exact expected map m -> E[μ_{t+1}] for one component, MLE or MAP, with anchors."""
    rho = S.M0 / S.M
    mean = (1 - rho) * _m + rho * _target
    if estimator == "mle":
        return mean
    return (S.M * mean + S.nu * _prior) / (S.M + S.nu)


def solve_affine(estimator: str):
    """Fixed point, contraction factor per generation and transient of the affine map."""
    f = affine_recursion(estimator)
    (fixed,) = sp.solve(sp.Eq(_m, f), _m)
    factor = sp.simplify(sp.diff(f, _m))
    y = sp.Function("y")
    transient = sp.rsolve(y(S.t + 1) - f.subs(_m, y(S.t)), y(S.t), {y(0): _m0})
    return sp.simplify(fixed), factor, sp.simplify(transient)


@result("R5.fixed_points")
def fixed_points(family: ExponentialFamily) -> Derivation:
    """R5: the point each estimator pulls to, and how fast."""
    steps, result = [], {}
    mu_star = family.starred(family.mu)
    for est, label in (("mle", "MLE with anchors"), ("map", "conjugate MAP")):
        fixed, factor, transient = solve_affine(est)
        steps += [
            Step(f"{label}: the expected recursion of each expectation parameter is affine and exact "
                 "at every M:", r"\mathbb{E}[\mu_{t+1}]", affine_recursion(est)),
            Step("Its unique fixed point and its contraction factor per generation are",
                 r"\mu_\infty", fixed),
            Step("", r"\mathbb{E}[\mu_{t+1}-\mu_\infty]/\mathbb{E}[\mu_t-\mu_\infty]", factor),
            Step("so that, from $\\mathbb{E}[\\mu_0]$,", r"\mathbb{E}[\mu_t]", transient),
        ]
        result[f"{est}_fixed"], result[f"{est}_factor"] = fixed, factor
        result[f"{est}_transient"] = transient
    steps.append(Step("One anchor per generation ($M_0 = 1$) already makes the fixed point unique: "
                      "for this family $\\mu^*$ is", r"\mu(\theta^{*})", show(mu_star)))
    result["mu_star"] = mu_star
    # L2: noiseless skeleton μ(θ') + λθ' = (1 − ρ)μ(θ) + ρμ*
    rho = S.M0 / S.M
    theta = sp.Matrix(family.theta)
    fp_eq = (rho * (family.mu - mu_star) + S.lam * theta)
    pure = fp_eq.subs(S.M0, 0)
    sol = sp.solve(list(pure), list(family.theta), dict=True)
    theta_fixed = sp.Matrix([sol[0][t] for t in family.theta]) if sol else None
    jac = inverse(family.chi + S.lam * sp.eye(family.d)) * (1 - rho) * family.chi
    steps += [
        Step("L2: the expected map is not affine; its noiseless skeleton ($M\\to\\infty$) "
             "$\\mu(\\theta') + \\lambda\\theta' = (1-\\rho)\\mu(\\theta) + \\rho\\mu^*$ has its fixed point where",
             show(fp_eq), 0),
        Step("Without anchors the fixed point is", r"\theta_\infty",
             show(theta_fixed) if theta_fixed is not None else r"\text{(implicit)}"),
        Step("and the skeleton contracts there with the Jacobian", r"\partial\theta_{t+1}/\partial\theta_t",
             _jacobian_display(family, jac, theta_fixed)),
    ]
    if theta_fixed is not None:
        inside = all(theta_fixed[a] < 0 for a, n in enumerate(family.names) if n in family.negative)
        steps.append(Step("$\\theta = 0$ is the base measure $h$; L2 pulls every chain there"
                          + ("." if inside else ", which lies on the boundary of this family's "
                             "domain: the L2 loop drifts to a degenerate member (infinite variance)."),
                          None, None))
        result["l2_fixed"] = theta_fixed
    result["l2_equation"], result["l2_jacobian"] = fp_eq, jac
    return Derivation("R5.fixed_points", family.slug, "Fixed points and relaxation rates",
                      tuple(steps), result)
