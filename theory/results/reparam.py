"""R4: drift and diffusion in other coordinates η = g(θ), by Itô's formula.

    E[Δη_i] = Σ_b ∂_b g_i E[Δθ_b] + ½ Σ_bc ∂_b∂_c g_i Cov[Δθ_b, Δθ_c] + O(M⁻²)
    Cov[Δη] = J Cov[Δθ] Jᵀ,  J_ib = ∂_b g_i

The drift vanishes identically in expectation parameters (R1) but not in θ or
in the usual parameters: where the expected motion stops depends on the
coordinates, so the asymptotic behaviour is not reparametrisation invariant.
"""

from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from ..tidy import tidy
from . import recursion
from .common import is_zero, result, show


def ito_terms(jac: sp.Matrix, hessians, drift: sp.Matrix, cov: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """Itô's formula from J_ib = ∂_b g_i and the Hessians ∂_b∂_c g_i: J E[Δθ] + ½ tr(∇²g_i Cov), J Cov Jᵀ."""
    d = drift.shape[0]
    drift_eta = sp.Matrix([sum(jac[i, b] * drift[b] for b in range(d))
                           + sum(hess[b, c] * cov[b, c] for b in range(d) for c in range(d)) / 2
                           for i, hess in enumerate(hessians)])
    return drift_eta, jac * cov * jac.T


def ito(family: ExponentialFamily, g: sp.Matrix, drift: sp.Matrix, cov: sp.Matrix):
    """Leading drift and covariance of η = g(θ) from those of θ (Itô's formula)."""
    th = family.theta
    d_eta, c_eta = ito_terms(g.jacobian(th), [sp.hessian(g[i], th) for i in range(g.shape[0])], drift, cov)
    return tidy(d_eta), tidy(c_eta)


def _expectation_drift(d: int) -> sp.Matrix:
    """Itô's formula for η = μ(θ) in the placeholders: J = χ, ∂_b∂_c μ_a = κ_abc, with R3's
    generic drift and covariance of θ (a d-parameter family, to leading order)."""
    _, _, chi, _, kappa = S.placeholders(d)
    drift, cov = (m.applyfunc(recursion.per_generation)
                  for m in recursion.leading_order("mle", d, S.thetas(d)))
    hessians = [sp.Matrix(d, d, lambda b, c, a=a: kappa[a, b, c]) for a in range(d)]
    return ito_terms(chi, hessians, drift, cov)[0].applyfunc(lambda e: sp.factor(sp.simplify(e)))


def coordinates(family: ExponentialFamily) -> dict[str, tuple[sp.Matrix, object]]:
    """Named coordinate systems: name -> (g(θ), rewrite-in-own-variables or None)."""
    coords = {"expectation": (family.mu, family.in_mu)}
    if set(family.conventional) != set(family.names):
        conv = sp.Matrix(list(family.conventional.values()))
        coords["conventional (" + ", ".join(family.conventional) + ")"] = (conv, family.in_conventional)
    for name, expr in family.extra_coordinates.items():
        coords[name] = (sp.Matrix([expr]), family.in_conventional)
    return coords


@result("R4.reparametrisation")
def reparametrisation(family: ExponentialFamily) -> Derivation:
    """R4 for the MLE closed loop: drift in θ, in μ and in the conventional parameters."""
    r3 = recursion.drift(family, "mle").result  # derived once (R3 is in the same document)
    drift, cov = r3["drift"], r3["cov"]
    pure = drift.subs(S.M0, 0)
    steps = [Step("Ito's formula carries the leading drift and covariance of $\\theta$ (R3) to any "
                  "coordinates $\\eta = g(\\theta)$: $\\mathbb{E}[\\Delta\\eta] = J\\,\\mathbb{E}[\\Delta\\theta] + \\frac12\\operatorname{tr}(\\nabla^2 g\\,\\operatorname{Cov}[\\Delta\\theta])$.")]
    result = {}
    for name, (g, rewrite) in coordinates(family).items():
        d_eta, c_eta = ito(family, g, drift, cov)
        own = rewrite(d_eta) if rewrite is not None else None
        zero = is_zero(family, d_eta.xreplace({S.M0: 0}))  # xreplace: subs walks every sum over levels slowly
        key = name.split(" ")[0]
        result[f"drift_{key}"], result[f"cov_{key}"] = d_eta, c_eta
        verdict = "vanishes identically without anchors" if zero else "does not vanish without anchors"
        shown, where = d_eta, ""
        if key == "expectation" and d_eta.has(sp.Sum):  # sums over levels: the generic form is short
            shown, where = _expectation_drift(family.d), " (through this family's cumulants)"
        steps.append(Step(f"In {name} coordinates the drift{where} {verdict}:",
                          r"\mathbb{E}[\Delta\eta\mid\theta_t]", show(shown)))
        if own is not None and own != d_eta:
            steps.append(Step("or, in these coordinates themselves,",
                              r"\mathbb{E}[\Delta\eta]", show(own)))
    if family.d == 1 and not pure.has(sp.Sum):
        zeros = sp.solve(sp.simplify(pure[0]), family.theta[0])
        where = ", ".join(sp.latex(z, symbol_names=S.LATEX) for z in zeros) or "nowhere"
        steps.append(Step(f"In $\\theta$ the pure-loop drift vanishes only at $\\theta = {where}$, while in "
                          "expectation parameters it vanishes everywhere: the asymptotic behaviour is "
                          "not reparametrisation invariant.", None, None))
        result["theta_zero_drift"] = sp.Matrix(zeros) if zeros else sp.Matrix([])
    return Derivation("R4.reparametrisation", family.slug, "Reparametrisation (Ito)",
                      tuple(steps), result, order=2)
