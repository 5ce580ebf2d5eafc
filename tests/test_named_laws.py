"""Eq. 18's named laws (Dirichlet, normal-gamma), per-parameter priors, and θ and the entropy
as observables of every family.

Monte Carlo checks here compare means over chains with their standard errors against one
Šidák threshold z* at a family-wise false-fail rate of 10⁻³ over the moments of a test; each
has a negative control (Eq. 18 with the exponent 2m halved) that the same data must reject.
Eq. 18 is the M → ∞ limit: at M = 1000 its O(1/M) gap (about 10⁻³ here) is far below the
standard errors (2000 chains: 10⁻² and more), so a single M suffices at this budget; the
M ladder with an O(1/M) residual is `closedloop validate` (R9.stationary).
"""

import numpy as np
import pytest
import scipy.stats as st
import sympy as sp
from scipy import optimize

import theory
from theory.laws import NormalGamma, frozen_law
from theory.params import from_params
from theory.results.general import named_law
from theory.setting import NormalPrior, Setting, parse_prior
from theory.stats import threshold
from theory.validate.general_checks import chain_moments, law_moments

GAUSS_DATA = [{"s": 0.0}, {"s": 1.0}, {"s": 3.0}]       # m = 3, mean 4/3, variance 14/9
CAT_DATA = [{"s": 1}, {"s": 2}, {"s": 3}, {"s": 3}]     # Dirichlet(2, 2, 4)


def test_the_dirichlet_and_normal_gamma_are_derived_with_their_parameters():
    gauss = theory.make_setting("gaussian", data=GAUSS_DATA)
    res = theory.result("R9.stationary", gauss.family, gauss).result
    assert res["law"] == "NormalGamma"
    # (mean, precision) ~ NormalGamma(loc = data mean, κ = 2m, α = m + 3/2, β = m · data variance)
    assert (res["loc"], res["kappa"], res["alpha"], res["beta"]) == (
        sp.Rational(4, 3), 6, sp.Rational(9, 2), sp.Rational(14, 3))
    cat = theory.make_setting("categorical", K=3, data=CAT_DATA)
    res = theory.result("R9.stationary", cat.family, cat).result
    assert res["law"] == "Dirichlet" and list(res["alpha"]) == [2, 2, 4]
    # fresh points: α_k = 2m p*_k, symbolic in m and the truth
    sym = theory.result("R9.stationary", theory.get_family("categorical", K=3)).result
    fresh = theory.make_setting("categorical", K=3, external=2)
    law = theory.stationary_law("categorical", K=3, setting_=fresh, truth={"p1": 0.2, "p2": 0.3, "p3": 0.5})
    assert sym["law"] == "Dirichlet" and np.allclose(law.alpha, [0.8, 1.2, 2.0])


def test_the_laws_read_in_textbook_form():
    d = theory.result("R9.stationary", theory.get_family("categorical", K=3))
    text = d.steps[-1].rhs
    assert text.startswith(r"(p_{1},p_{2},p_{3})\sim\mathrm{Dirichlet}") and "2 m p_{1}^{*}" in text
    text = theory.result("R9.stationary", theory.get_family("gaussian")).steps[-1].rhs
    assert r"\mathrm{NormalGamma}" in text and r"m {\sigma^2}^{*}" in text


def test_normal_gamma_object_agrees_with_its_marginals():
    law = NormalGamma(loc=1.0, kappa=4.0, alpha=3.0, beta=2.0)
    x = law.rvs(200_000, random_state=1)
    z = threshold(4)
    for values, marginal in ((x[:, 0], law.location), (x[:, 1], law.precision), (1 / x[:, 1], law.variance)):
        assert abs(values.mean() - marginal.mean()) < z * values.std() / np.sqrt(len(values))
    assert np.allclose(law.mean(), [1.0, 1.5])
    # the density integrates to 1 (a quadrature over a wide box)
    nu, lam = np.meshgrid(np.linspace(-4, 6, 801), np.linspace(1e-6, 12, 1201), indexing="ij")
    total = np.exp(law.logpdf(np.stack([nu, lam], -1))).sum() * (10 / 800) * (12 / 1200)
    assert abs(total - 1) < 1e-3


@pytest.mark.parametrize("family, args, data", [("gaussian", {}, GAUSS_DATA),
                                                ("categorical", {"K": 3}, CAT_DATA)])
def test_named_law_against_simulation_with_a_negative_control(family, args, data):
    """Chains started far from the law relax for 8 relaxation times M/m and must then have the
    law's moments; the law with the exponent 2m halved must be rejected by the same data."""
    M, chains = 1000, 2000
    init = {"mean": 3.0, "var": 0.3} if family == "gaussian" else {"p1": 0.7, "p2": 0.2, "p3": 0.1}
    loop = from_params(family, M, init, family_args=args, data=data)
    res = theory.result("R9.stationary", loop.family, loop.setting).result
    law = frozen_law(res, loop.family, {})
    name, params, _, _ = named_law(loop.setting, res["log_density"] / 2)
    wrong = frozen_law({"law": name, **params}, loop.family, {})
    run = loop.run(8 * M // loop.setting.m, chains, seed=11)
    x = chain_moments(law, run.state.mu)
    est, sem = x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(chains)
    z_star = threshold(len(est))
    z = (est - law_moments(law)[1]) / sem
    z_wrong = (est - law_moments(wrong)[1]) / sem
    assert np.all(np.abs(z) < z_star), (law_moments(law), est, sem)
    assert np.any(np.abs(z_wrong) > z_star)


# --- per-parameter priors -----------------------------------------------------------------------
def test_per_parameter_prior_grammar_and_errors():
    p = parse_prior("normal:var=2,var2=0.5,mean1=1")
    assert p == NormalPrior(2.0, 0.0, (("mean1", 1.0), ("var2", 0.5)))
    assert p.label == "normal:var=2,mean1=1,var2=0.5" and parse_prior(p.label) == p
    cw = theory.get_family("curie_weiss", N=6)
    assert p.moments(cw) == ((1.0, 0.0), (2.0, 0.5))
    assert parse_prior("normal:var1=1,var2=3").moments(cw) == ((0.0, 0.0), (1.0, 3.0))
    for bad in ("normal:var=2,var3=1", "normal:var=2,foo=1", "normal:var=2,var0=1", "normal:mean=1",
                "normal:var=2,var2=-1", "normal:var1=1"):
        with pytest.raises(theory.InputError):
            parse_prior(bad).moments(cw)
    with pytest.raises(theory.InputError, match="not a free natural parameter"):  # θ2 held fixed
        parse_prior("normal:var=2,var2=1").moments(cw.restrict(theta2=0))


def test_per_parameter_prior_in_eq18_and_in_the_engine():
    cw = theory.get_family("curie_weiss", N=6)
    setting = Setting(cw, prior=parse_prior("normal:var=2,var2=0.5,mean1=1"))
    res = theory.result("R9.stationary", cw, setting).result
    # p0² alone: θ ~ N(mean, var/2) per parameter
    assert res["law"] == "Normal"
    assert res["cov"] == sp.diag(1, sp.Rational(1, 4)) and list(res["mean"]) == [1, 0]
    # the engine's refit maximises n[θ·φ̄ − A(θ)] + log p0(θ) with the per-parameter variances
    loop = theory.ClosedLoop(setting, 10, {"theta1": 0.2, "theta2": 0.1})
    nf, n = loop.numeric, loop.n_total
    phibar = np.array([[2.0, 1.5]]) / n
    theta = loop.refit_theta(phibar, np.zeros((1, 2)), np.ones((1, len(nf.levels)), bool), 0.0,
                             loop.estimator.penalty(n))

    def objective(th):
        th = th[None, :]
        return -(n * (th @ phibar[0] - nf.A(th))[0] - (th[0, 0] - 1) ** 2 / 4 - th[0, 1] ** 2)

    best = optimize.minimize(objective, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x
    assert np.allclose(theta[0], best, atol=1e-6)
    # the prior with one variance for both is a different refit (the test can tell them apart)
    plain = theory.ClosedLoop(Setting(cw, prior=parse_prior("normal:var=2")), 10,
                              {"theta1": 0.2, "theta2": 0.1})
    other = plain.refit_theta(phibar, np.zeros((1, 2)), np.ones((1, len(nf.levels)), bool), 0.0,
                              plain.estimator.penalty(n))
    assert not np.allclose(other[0], best, atol=1e-3)


# --- observables -------------------------------------------------------------------------------
@pytest.mark.parametrize("family, args, init", [
    ("bernoulli", {}, {"p": 0.3}), ("binomial", {"n": 5}, {"p": 0.4}), ("poisson", {}, {"rate": 2.0}),
    ("exponential", {}, {"rate": 1.5}), ("gaussian", {}, {"mean": 0.5, "var": 2.0}),
    ("categorical", {"K": 3}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}),
    ("curie_weiss", {"N": 6}, {"theta1": 0.2, "theta2": 0.3})])
def test_theta_and_entropy_are_observables_of_every_family(family, args, init):
    loop = from_params(family, 50, init, family_args=args)
    state = loop.initial_state(4)
    obs = loop.observables(state)
    for a, name in enumerate(loop.family.names):
        assert np.allclose(obs[name], loop.theta0[0, a])
    S_expr = theory.result("R9.entropy", loop.family).result["S"]
    S = float(theory.evaluate(S_expr, dict(zip(loop.family.names, loop.theta0[0], strict=True))))
    assert np.allclose(obs["entropy"], S)
    summary = loop.run(3, 20, seed=1).summary()
    assert {"entropy", *loop.family.names} <= set(summary["final"]["mean"])


def test_entropy_on_a_point_mass():
    """Discrete: S = log h(s) of the point's data value, 0 for these families; continuous: −∞."""
    run = theory.simulate("bernoulli", M=5, init={"p": 0.5}, generations=200, chains=200, seed=2)
    on = run.state.vertex >= 0
    obs = run.loop.observables(run.state)
    assert on.all() and np.all(obs["entropy"] == 0) and np.all(np.isnan(obs["theta"]))
    run = theory.simulate("poisson", M=3, init={"rate": 0.3}, generations=200, chains=200, seed=2)
    obs = run.loop.observables(run.state)
    on = run.state.vertex >= 0
    assert on.any() and np.all(obs["entropy"][on] == 0) and np.all(np.isnan(obs["theta"][on]))
    loop = from_params("gaussian", 5, {"mean": 0.0, "var": 1.0})
    state = loop.initial_state(2)
    state.mu[0] = [1.0, 1.0]  # variance 0: a point mass at s = 1
    state.vertex[0] = 0
    obs = loop.observables(state)
    assert obs["entropy"][0] == -np.inf and np.isfinite(obs["entropy"][1])
    assert np.isnan(obs["theta1"][0]) and np.isfinite(obs["theta1"][1])


def test_entropy_on_a_face_is_that_of_the_face():
    """A categorical chain on an edge (p3 = 0) has the entropy of its two remaining levels."""
    loop = from_params("categorical", 10, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, family_args={"K": 3})
    state = loop.initial_state(1)
    state.face[0] = [True, True, False]
    state.theta[0] = [0.0, np.log(3.0)]  # on the face: p1 : p2 = 1 : 3
    state.mu[0] = [0.25, 0.75]
    obs = loop.observables(state)
    assert np.isclose(obs["entropy"][0], st.entropy([0.25, 0.75]))


def test_a_law_that_does_not_match_is_not_named():
    """Exponential, a normal prior on θ and a fresh point: p_st ∝ e^{−θ²/2}(−θ)² e^{−2θ/θ*}
    is no inverse gamma (SymPy's solve drops the coefficient θ* = 0; it was once named InvGamma)."""
    s = theory.make_setting("exponential", external=1, prior_law="normal:var=2")
    res = theory.result("R9.stationary", s.family, s).result
    assert res["normalisable"] is True and "law" not in res
    res = theory.result("R9.stationary", s.family, theory.make_setting("exponential", external=1)).result
    assert res["law"] == "InverseGamma" and res["alpha"] == 3
