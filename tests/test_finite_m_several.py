"""Eq. 18 at finite M with several free parameters (theory.results.finite_m_several), against
the one-parameter derivation, the family's symbolic cumulants, exact one-step laws and chains."""

import numpy as np
import pytest

from theory.errors import InputError
from theory.families import get_family
from theory.numeric import evaluate
from theory.params import from_params
from theory.results import finite_m as F
from theory.results import finite_m_several as G
from theory.setting import Setting
from theory.validate import finite_m_checks as checks
from theory.validate.registry import QUICK


@pytest.mark.parametrize("name, init, options", [
    ("bernoulli", {"p": 0.5}, {"prior_law": "normal:var=2", "truth": {"p": 0.4}, "external": 3}),
    ("binomial", {"p": 0.5}, {"family_args": {"n": 4}, "prior_law": "normal:var=2,mean=0.5"}),
    ("poisson", {"rate": 1.0}, {"truth": {"rate": 2.0}, "external": 2}),
])
def test_tensor_jump_moments_are_the_symbolic_ones_at_one_parameter(name, init, options):
    """The numeric tensor series (any d) equals R9.stationary_correction's SymPy jump moments at d = 1,
    with a prior, fresh points, finite and infinite spaces."""
    loop = from_params(name, 50, init, **options)
    values = {} if loop.theta_star is None else {f"{loop.family.names[0]}_star": float(loop.theta_star[0, 0])}
    theta = np.array([[-0.7], [0.3], [1.1]])
    numeric = G.jump_moments(loop.setting, theta, values)
    sub = F._substitution(loop.setting.for_derivations())
    (t,) = loop.family.theta
    for key, expr in F.jump_moments().items():
        symbolic = np.broadcast_to(evaluate(expr.xreplace(sub), values | {t.name: theta[:, 0]}), (3,))
        assert numeric[key].reshape(3) == pytest.approx(symbolic, rel=1e-11, abs=1e-12)


def test_finite_cumulants_are_the_derivatives_of_A():
    """κ4, κ5 from the levels' centred moments equal SymPy's derivatives of A (categorical K = 3)."""
    fam = get_family("categorical", K=3)
    theta = np.array([[0.3, -0.8], [1.2, 0.4]])
    enumerated = G.cumulants(Setting(fam), theta)
    tensors = G._derivative_tensors(fam.A, fam.theta, (1, 2, 3, 4, 5))
    vals = {t.name: theta[:, a] for a, t in enumerate(fam.theta)}
    for k in range(1, 6):
        assert enumerated[k - 1] == pytest.approx(G._tensor(tensors[k], 2, k, vals, 2), abs=1e-12)


def _exact_step(loop, theta, M):
    """E[(θ' − θ)^{⊗j}], j = 1, 2, 3, of one generation of the categorical K = 3 from θ: every count
    (n1, n2, n3), its multinomial probability, the engine's Newton MAP refit."""
    from scipy.special import gammaln

    n1, n2 = (x.ravel() for x in np.meshgrid(np.arange(M + 1), np.arange(M + 1), indexing="ij"))
    keep = n1 + n2 <= M
    n1, n2 = n1[keep], n2[keep]
    n3 = M - n1 - n2
    logit = np.concatenate([theta, [0.0]])
    logq = logit - np.log(np.exp(logit).sum())
    logp = gammaln(M + 1) - gammaln(n1 + 1) - gammaln(n2 + 1) - gammaln(n3 + 1) + n1 * logq[0] + n2 * logq[1] + n3 * logq[2]
    p = np.exp(logp)
    phibar = np.stack([n1, n2], 1) / M
    refit = loop.refit_theta(phibar, np.zeros_like(phibar), np.ones((len(p), 3), bool), 0.0,
                             loop.estimator.penalty(M))
    step = refit - theta
    return [p @ step, np.einsum("n,na,nb->ab", p, step, step), np.einsum("n,na,nb,nc->abc", p, step, step, step)]


def test_two_parameter_jump_moments_against_the_exact_step():
    """Categorical K = 3, Gaussian prior: the exact one-step moments minus εA_j + ε²B_j fall as M⁻³
    (observed order ≥ 2.5 over M = 200 → 400 for the mean, covariance and third moment; an error in
    the M⁻² coefficients would leave order 2)."""
    theta = np.array([0.3, -0.2])
    setting = from_params("categorical", 50, {"p1": 1 / 3, "p2": 1 / 3}, family_args={"K": 3},
                          prior_law="normal:var=0.5").setting
    J = G.jump_moments(setting, theta[None])
    residuals, leading = [], []
    for M in (200, 400):
        loop = from_params("categorical", M, {"p1": 1 / 3, "p2": 1 / 3}, family_args={"K": 3},
                           prior_law="normal:var=0.5")
        exact = _exact_step(loop, theta, M)
        residuals.append([np.abs(exact[j - 1] - J[j, 1][0] / M - J[j, 2][0] / M**2).max() for j in (1, 2, 3)])
        leading.append([np.abs(exact[j - 1] - J[j, 1][0] / M).max() for j in (1, 2, 3)])
    order = np.log2(np.array(residuals[0]) / np.array(residuals[1]))
    control = np.log2(np.array(leading[0]) / np.array(leading[1]))     # the M⁻² terms dropped
    assert np.all(order >= 2.5) and np.all(control < 2.2), (order, control)


def test_one_parameter_galerkin_gives_the_derived_coefficient():
    """At d = 1 the Galerkin solution reproduces R9.stationary_correction (Bernoulli, prior variance 2:
    M(var_M − 1) → −1.43248)."""
    loop = from_params("bernoulli", 50, {"p": 0.5}, prior_law="normal:var=2")
    law = G.covariance_correction(loop.setting, degree=14, points=2001)
    assert law["cov"][0, 0] == pytest.approx(1.0, abs=1e-9)
    assert law["V1"][0, 0] == pytest.approx(-1.4324809, abs=5e-6)
    assert law["stationarity"] < 1e-12


def test_two_parameter_coefficient_converges_and_matches_the_exact_chain(smoke_results):
    """Categorical K = 3, prior variance 0.5 (Eq. 18 = N(0, I/4)): V1 = [[−1.70317, −0.80962], ...]
    (degree 6 and 8 agree to 5e-4); the exact chain's M² × residual stays bounded (13.0, 14.1 at
    M = 50, 100) and the M⁻² order is seen on each entry, the controls are 1/M. The check is
    deterministic, its ladder the same below the full budget: read from the session's smoke run."""
    key = checks._check_several().key
    (out,) = [r.outcome for r in smoke_results if r.check.key == key]
    assert out.passed and out.control_rejected, out.detail
    assert out.prediction == pytest.approx(0.25 - 1.70317 / 100, abs=2e-5)
    assert out.estimate == pytest.approx(0.2343841, abs=1e-6)


def test_gaussian_with_fresh_points_against_simulation():
    """The Gaussian with ten fresh points from N(0, 1): var θ1 = 0.0575 + 0.6016/M + O(M⁻²) matches
    the simulated ladder (1000 chains) and Eq. 18 alone and twice the correction are rejected."""
    from dataclasses import replace

    from theory.stats import threshold

    out = checks._check_gaussian(0).compute(replace(QUICK, stationary_chains=1000), np.random.default_rng(3))
    z_star = threshold(1)
    assert abs(out.z) < z_star and out.control_z > z_star, out.detail
    assert out.prediction == pytest.approx(0.0575 + 0.601583 / 320, abs=1e-5)
    # the cached law is shared by both checks: neither can change the other's numbers
    law = checks._gaussian_law()
    with pytest.raises(ValueError, match="read-only"):
        law["V1"][0, 0] = 0.0
    with pytest.raises(TypeError):
        law["V1"] = law["V1"].copy()


def test_fig2_ii_correction_is_refused():
    """Fig. 2 (ii) (Curie–Weiss, both parameters, prior variance 2): the 1/M² jump moments outgrow
    Eq. 18 toward the polytope's vertices (χ exponentially small), so no O(1/M) coefficient is given."""
    loop = from_params("curie_weiss", 50, {"theta1": 0.0, "theta2": 0.0}, family_args={"N": 3},
                       prior_law="normal:var=2")
    with pytest.raises(InputError, match="not a series in 1/M"):
        G.covariance_correction(loop.setting, degree=4, points=81)


def test_unconverged_galerkin_is_refused():
    """Bernoulli with prior variance 12 (Eq. 18 reaches far toward the vertices): the polynomial
    solution does not converge and the coefficient is refused rather than returned."""
    loop = from_params("bernoulli", 50, {"p": 0.5}, prior_law="normal:var=12")
    with pytest.raises(InputError, match="not converged"):
        G.covariance_correction(loop.setting, degree=10, points=1001)


def test_three_parameters_are_refused_in_one_line():
    loop = from_params("categorical", 50, {"p1": 0.25, "p2": 0.25, "p3": 0.25}, family_args={"K": 4},
                       prior_law="normal:var=0.5")
    with pytest.raises(InputError, match="at most 2 free parameters"):
        G.covariance_correction(loop.setting)
