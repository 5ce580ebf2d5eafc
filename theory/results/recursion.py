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
from ..family import _latex_name as latex_name
from .common import conventional_form, inverse, phibar_moments, placeholders, show, specialise

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
    mu, mu_star, chi, chi_star, kappa = S.placeholders(d)
    e_d, c_d, jac = increment(estimator, mu, mu_star, chi, chi_star, sp.Matrix(theta))
    e1, c1 = e_d.applyfunc(_leading), c_d.applyfunc(_leading)
    jinv = inverse(jac.subs(S.lam, 0))
    hess = [[[-sum(jinv[a, i] * kappa[i, j, l] * jinv[j, b] * jinv[l, c]
                   for i in range(d) for j in range(d) for l in range(d))
              for c in range(d)] for b in range(d)] for a in range(d)]
    drift = sp.Matrix([sum(jinv[a, b] * e1[b] for b in range(d))
                       + sum(hess[a][b][c] * c1[b, c] for b in range(d) for c in range(d)) / 2
                       for a in range(d)])
    cov = jinv * c1 * jinv.T
    return drift.applyfunc(sp.simplify), cov.applyfunc(sp.simplify)


def per_generation(e: sp.Expr) -> sp.Expr:
    """A leading coefficient (times M, in λ̃ = λM) back to a per-generation quantity."""
    return sp.expand(e.subs(S.lam, S.lam * S.M) / S.M)


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
        Step("Both with an error $O(M^{-2})$. For this family, the drift is",
             r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]", show(drift_f)),
        Step("and the covariance", r"\operatorname{Cov}[\theta_{t+1}-\theta_t\mid\theta_t]",
             show(cov_f)),
    )
    conv = [conventional_form(family, e) for e in (drift_f, cov_f)]
    if all(c is not None for c in conv):
        name = ", ".join(f"${latex_name(n)}$" for n in tuple(family.conventional)[:1])
        steps += (Step(f"In the conventional parameter {name} (and its true value, starred) these read",
                       r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]", conv[0]),
                  Step("", r"\operatorname{Cov}[\theta_{t+1}-\theta_t\mid\theta_t]", conv[1]))
    return Derivation(f"R3.drift.{estimator}", family.slug,
                      f"Recursion of the natural parameters ({estimator.upper()})", steps,
                      {"drift": drift_f, "cov": cov_f, "drift_generic": drift_p,
                       "cov_generic": cov_p}, order=2)
