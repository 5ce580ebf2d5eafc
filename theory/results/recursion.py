"""R3: the stochastic recursion of the natural parameters, expanded in 1/M.

Every estimator solves Ψ(θ_{t+1}) = y_{t+1} with y affine in φ̄_{t+1}:

    MLE:  μ(θ') = φ̄             MAP:  μ(θ') = (M φ̄ + ν μ0)/(M + ν)
    L2:   μ(θ') + λ θ' = φ̄

Writing y = Ψ(θ_t) + δ and Taylor-expanding the inverse map,

    Δθ = J⁻¹ δ + ½ ∂²Ψ⁻¹[δ, δ] + O(δ³),  J = ∂Ψ/∂θ,
    ∂²Ψ⁻¹_a/∂y_b∂y_c = −Σ J⁻¹_ad κ_def J⁻¹_eb J⁻¹_fc,

and the exact moments of δ (from R1, R2) give the drift and covariance. With
M0, ν and λM held fixed, E[δ] and Cov[δ] are O(1/M) while E[δ³] and E[δ]E[δ]ᵀ
are O(1/M²): the leading terms below carry an error O(M⁻²).
"""

from __future__ import annotations

import functools

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from .common import (
    conventional_form,
    conventional_names,
    inverse,
    phibar_moments,
    placeholders,
    result,
    show,
    specialise,
)

ESTIMATORS = ("mle", "map", "l2")

_EQUATION = {
    "mle": r"\mu(\theta_{t+1}) = \bar\phi_{t+1}",
    "map": r"\mu(\theta_{t+1}) = \frac{M\bar\phi_{t+1} + \nu\,\mu^{(0)}}{M+\nu}",
    "l2": r"\mu(\theta_{t+1}) + \lambda\,\theta_{t+1} = \bar\phi_{t+1}",
}
_NAME = {"mle": "maximum likelihood", "map": "conjugate MAP ($\\nu$ pseudo-observations of mean $\\mu^{(0)}$)",
         "l2": "L2-regularised maximum likelihood"}


def increment(estimator: str, mu, mu_star, chi, chi_star, theta):
    """Exact E[δ], Cov[δ] and J = ∂Ψ/∂θ for δ = y_{t+1} − Ψ(θ_t) (any objects: placeholders or θ-expressions)."""
    mean, cov = phibar_moments(mu, mu_star, chi, chi_star)
    d = mu.shape[0]
    if estimator == "mle":
        return mean - mu, cov, chi
    if estimator == "map":
        w = S.M / (S.M + S.nu)
        mu0 = mu.applyfunc(S.zeroed)
        return w * mean + (1 - w) * mu0 - mu, w**2 * cov, chi
    if estimator == "l2":
        return mean - mu - S.lam * theta, cov, chi + S.lam * sp.eye(d)
    raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")


def _leading(e: sp.Expr) -> sp.Expr:
    """Coefficient of 1/M in e, with M = 1/ε and λ = ε λ̃ (λ is O(1/M)); checks the O(1) term is 0."""
    e = e.subs({S.M: 1 / S.eps, S.lam: S.eps * S.lam}, simultaneous=True)
    ser = sp.series(e, S.eps, 0, 2).removeO()
    if sp.simplify(ser.coeff(S.eps, 0)) != 0:
        raise AssertionError("increment moments are not O(1/M)")
    return sp.expand(ser.coeff(S.eps, 1))


def leading_order(estimator: str, d: int, theta):
    """Leading drift and covariance of Δθ in placeholders: (drift·M, cov·M) with λ̃ = λM."""
    drift, cov = _leading_order(estimator, d, tuple(theta))
    return drift.copy(), cov.copy()


@functools.cache
def _leading_order(estimator: str, d: int, theta: tuple):
    """:func:`leading_order`, derived once per estimator, dimension and θ symbols (all families share it)."""
    kappa = S.placeholders(d)[4]
    e1, c1, jac = _leading_increment(estimator, d, theta)
    jinv = inverse(jac.subs(S.lam, 0))
    hess = [[[-sum(jinv[a, i] * kappa[i, j, l] * jinv[j, b] * jinv[l, c]
                   for i in range(d) for j in range(d) for l in range(d))
              for c in range(d)] for b in range(d)] for a in range(d)]
    drift = sp.Matrix([sum(jinv[a, b] * e1[b] for b in range(d))
                       + sum(hess[a][b][c] * c1[b, c] for b in range(d) for c in range(d)) / 2
                       for a in range(d)])
    cov = jinv * c1 * jinv.T
    return drift.applyfunc(sp.simplify), cov.applyfunc(sp.simplify)


@functools.cache
def _leading_increment(estimator: str, d: int, theta: tuple):
    """Leading mean and covariance of the fluctuation δ (placeholders), and the Jacobian."""
    mu, mu_star, chi, chi_star, _ = S.placeholders(d)
    e_d, c_d, jac = increment(estimator, mu, mu_star, chi, chi_star, sp.Matrix(theta))
    return tuple(sp.ImmutableMatrix(m) for m in (e_d.applyfunc(_leading), c_d.applyfunc(_leading), jac))


def named_drift(estimator: str, d: int, theta) -> sp.Matrix:
    """The leading drift per generation through χ^{ab} = (χ⁻¹)_ab, not expanded (for d ≥ 2):

        E[Δθ_a] = (1/M) Σ_i χ^{ai} (ε_i − ½ Σ_jl κ_ijl χ^{jl}),

    ε = M·E[δ] to leading order. The second-order term of :func:`leading_order`,
    −½ Σ χ^{ai} κ_ijl χ^{jb} c_bc χ^{lc}, reduces to this because the leading covariance of δ,
    c, is χ for every estimator here (checked: an error otherwise).
    """
    _, _, chi, _, kappa = S.placeholders(d)
    eps_lead, c1, _ = _leading_increment(estimator, d, tuple(theta))
    if (c1 - chi).applyfunc(sp.simplify) != sp.zeros(d, d):
        raise AssertionError(f"{estimator}: the leading covariance of delta is not chi")
    g = S.inverse_fisher(d)
    rows = []
    for a in range(d):
        terms = [g[a, i] * (sp.collect(sp.expand(per_generation(eps_lead[i]) * S.M), [S.M0, S.nu])
                            - sum(kappa[i, j, l] * g[j, l] for j in range(d) for l in range(d)) / 2)
                 for i in range(d)]
        rows.append(sp.Add(*terms) / S.M)
    return sp.Matrix(rows)


LONG = 1500  # characters of LaTeX beyond which a d ≥ 2 drift is shown through χ^{ab}, κ (not expanded)


def _family_steps(family: ExponentialFamily, estimator: str, drift_f, cov_f) -> tuple[Step, ...]:
    """The family's drift and covariance in θ; for d ≥ 2 where expanded they would be too long
    (sums over levels, or many terms), through χ^{ab} and the family's cumulants instead."""
    from ..notation import expr as latex_expr

    lhs_d = r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]"
    lhs_c = r"\operatorname{Cov}[\theta_{t+1}-\theta_t\mid\theta_t]"
    long = family.d > 1 and (drift_f.has(sp.Sum) or max(len(latex_expr(e)) for e in drift_f) > LONG)
    if not long:
        return (Step("Both with an error $O(M^{-2})$. For this family, the drift is", lhs_d, show(drift_f)),
                Step("and the covariance", lhs_c, show(cov_f)))
    where = (r"the mean, covariance and third central moment of $\phi$ over the levels, "
             r"$\mu_a=\langle\phi_a\rangle$, $\chi_{ab}=\langle(\phi_a-\mu_a)(\phi_b-\mu_b)\rangle$, "
             r"$\kappa_{abc}=\langle(\phi_a-\mu_a)(\phi_b-\mu_b)(\phi_c-\mu_c)\rangle$ "
             "(the level averages of the family section)" if family.A.has(sp.Sum) else
             "this family's cumulants (the family section)")
    g = S.inverse_fisher(family.d)
    det = (r", for two parameters $\chi^{11}=\chi_{22}/\det\chi$, $\chi^{12}=-\chi_{12}/\det\chi$, "
           r"$\chi^{22}=\chi_{11}/\det\chi$" if family.d == 2 else "")
    return (Step(r"Both with an error $O(M^{-2})$. Written through the elements $\chi^{ab}$ of "
                 rf"$\chi^{{-1}}${det}, and with $\mu_a$, $\chi_{{ab}}$, $\kappa_{{abc}}$ {where}, "
                 "the drift is", lhs_d, show(named_drift(estimator, family.d, family.theta))),
            Step("and the covariance", lhs_c, show(g / S.M)))


def per_generation(e: sp.Expr) -> sp.Expr:
    """A leading coefficient (times M, in λ̃ = λM) back to a per-generation quantity."""
    return sp.expand(e.subs(S.lam, S.lam * S.M) / S.M)


@result("R3.drift.{estimator}")
def drift(family: ExponentialFamily, estimator: str = "mle") -> Derivation:
    """R3: E[θ_{t+1} − θ_t | θ_t] and Cov[θ_{t+1} − θ_t | θ_t] to leading order in 1/M."""
    mu, mu_star, chi, chi_star, _ = placeholders(family)
    theta = sp.Matrix(family.theta)
    e_d, c_d, _ = increment(estimator, mu, mu_star, chi, chi_star, theta)
    drift_m, cov_m = leading_order(estimator, family.d, family.theta)
    drift_p, cov_p = drift_m.applyfunc(per_generation), cov_m.applyfunc(per_generation)
    drift_f, cov_f = specialise(family, drift_p), specialise(family, cov_p)
    gen = family.d == 1
    steps = (
        Step(f"The {_NAME[estimator]} estimate solves", None, _EQUATION[estimator]),
        Step("Write the right-hand side as its value at $\\theta_t$ plus a fluctuation $\\delta$; from R1 "
             "and R2 its exact moments are", r"\mathbb{E}[\delta\mid\theta_t]", show(e_d)),
        Step("", r"\operatorname{Cov}[\delta\mid\theta_t]", show(c_d)),
        Step("Taylor-expanding the inverse map to second order ($\\kappa$ enters through the "
             "derivative of $\\chi^{-1}$), and keeping $M_0$, $\\nu$ and $\\lambda M$ fixed as M grows:",
             r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]",
             show(drift_p) if gen else
             r"\chi^{-1}\,\mathbb{E}[\delta] - \tfrac{1}{2M}\,\chi^{-1}\kappa\!:\!\chi^{-1}"),
        Step("", r"\operatorname{Cov}[\theta_{t+1}-\theta_t\mid\theta_t]",
             show(cov_p) if gen else r"\chi^{-1}/M"),
    ) + _family_steps(family, estimator, drift_f, cov_f)
    conv = [conventional_form(family, e, g if family.d > 1 else None)
            for e, g in ((drift_f, drift_p), (cov_f, cov_p))]
    if all(c is not None for c in conv):
        steps += (Step(f"In the conventional {conventional_names(family)} (the truth's starred) these read",
                       r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]", conv[0]),
                  Step("", r"\operatorname{Cov}[\theta_{t+1}-\theta_t\mid\theta_t]", conv[1]))
    return Derivation(f"R3.drift.{estimator}", family.slug,
                      f"Recursion of the natural parameters ({estimator.upper()})", steps,
                      {"drift": drift_f, "cov": cov_f, "drift_generic": drift_p,
                       "cov_generic": cov_p}, order=2)
