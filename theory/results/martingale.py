"""R1 (martingale of the sufficient statistics) and R2 (exact conditional covariance)."""

from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from .common import phibar_moments, placeholders, result, show, specialise


@result("R1.martingale")
def martingale(family: ExponentialFamily) -> Derivation:
    """R1: E[φ̄_{t+1} | θ_t] = ((M − M0) μ(θ_t) + M0 μ(θ*)) / M; with M0 = 0 it equals μ(θ_t)."""
    mu, mu_star, chi, chi_star, _ = placeholders(family)
    mean, _ = phibar_moments(mu, mu_star, chi, chi_star)
    drift = sp.simplify(mean - mu)
    if any(sp.simplify(e.subs(S.M0, 0)) != 0 for e in drift):
        raise AssertionError("martingale property failed")  # cannot happen: linearity of E
    mean_f = specialise(family, mean)
    steps = (
        Step("Generation $t+1$ draws $M - M_0$ points from the model and $M_0$ anchors from the truth, "
             "and the MLE matches moments:", r"\mu(\theta_{t+1})", r"\bar\phi_{t+1} = "
             r"\frac{1}{M}\sum_{i=1}^{M}\phi(s_i)"),
        Step("Each point contributes its mean, so for every M:",
             r"\mathbb{E}[\bar\phi_{t+1}\mid\theta_t]", show(mean)),
        Step("The expected increment of the expectation parameters is",
             r"\mathbb{E}[\bar\phi_{t+1}-\mu(\theta_t)\mid\theta_t]", show(drift)),
        Step("With $M_0 = 0$ it vanishes: the sufficient-statistic averages are a martingale, "
             "exactly, for every M. For this family:", r"\mathbb{E}[\bar\phi_{t+1}\mid\theta_t]",
             show(mean_f)),
    )
    return Derivation("R1.martingale", family.slug, "Martingale of the sufficient statistics",
                      steps, {"mean": mean_f, "drift_mu": specialise(family, drift)})


@result("R2.covariance")
def covariance(family: ExponentialFamily) -> Derivation:
    """R2: Cov[φ̄_{t+1} | θ_t] = [(M − M0) χ(θ_t) + M0 χ(θ*)] / M², exact."""
    mu, mu_star, chi, chi_star, _ = placeholders(family)
    _, cov = phibar_moments(mu, mu_star, chi, chi_star)
    cov_f = specialise(family, cov)
    steps = (
        Step("Independent points add their covariances; each has covariance $\\chi$ at its own "
             "parameter, so exactly:", r"\operatorname{Cov}[\bar\phi_{t+1}\mid\theta_t]", show(cov)),
        Step("For this family:", r"\operatorname{Cov}[\bar\phi_{t+1}\mid\theta_t]", show(cov_f)),
    )
    return Derivation("R2.covariance", family.slug, "Exact conditional covariance", steps,
                      {"cov": cov_f})
