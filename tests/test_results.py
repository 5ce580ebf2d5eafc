"""Exact symbolic identities of R1–R8, and comparisons with independent textbook facts."""

import numpy as np
import pytest
import scipy.stats as st
import sympy as sp
import sympy.stats as ss

from theory import get_family
from theory import symbols as S
from theory.numeric import evaluate
from theory.results import absorption, anchors, martingale, moments, recursion, reparam, stationary
from theory.results.common import is_zero


def test_r1_martingale_and_r2_covariance(family):
    r1 = martingale.martingale(family).result
    assert is_zero(family, r1["drift_mu"].subs(S.M0, 0))
    cov = martingale.covariance(family).result["cov"]
    assert is_zero(family, cov.subs(S.M0, 0) - family.chi / S.M)


def test_r3_gaussian_drift_matches_exact_chi_square_expectation():
    """θ' = (x̄ M/S, −M/(2S)) with S ~ var·χ²_{M−1} independent of x̄: exact E, then 1/M series."""
    g = get_family("gaussian")
    t1, t2 = g.theta
    var, mean = -1 / (2 * t2), -t1 / (2 * t2)
    x = sp.Symbol("x", positive=True)
    k = sp.Symbol("k", positive=True)
    e_inv_chi2 = sp.simplify(sp.integrate(ss.density(ss.ChiSquared("X", k))(x) / x, (x, 0, sp.oo),
                                          conds="none")).subs(k, S.M - 1)
    exact = sp.Matrix([mean * S.M * e_inv_chi2 / var - t1, -S.M * e_inv_chi2 / (2 * var) - t2])
    derived = recursion.drift(g, "mle").result["drift"].subs(S.M0, 0)
    for e, d in zip(exact, derived, strict=True):
        lead = sp.series(e.subs(S.M, 1 / S.eps), S.eps, 0, 2).removeO().subs(S.eps, 1 / S.M)
        assert sp.simplify(lead - d) == 0
        # the stated order: what is left is O(M^-2)
        rest = sp.limit(sp.simplify((e - d) * S.M**2), S.M, sp.oo)
        assert rest.is_finite and rest != 0


def test_r3_estimators_reduce_to_mle():
    b = get_family("bernoulli")
    mle = recursion.drift(b, "mle").result["drift"]
    map_ = recursion.drift(b, "map").result["drift"]
    l2 = recursion.drift(b, "l2").result["drift"]
    assert sp.simplify(map_.subs(S.nu, 0) - mle) == sp.zeros(1, 1)
    assert sp.simplify(l2.subs(S.lam, 0) - mle) == sp.zeros(1, 1)
    # MAP with ν pseudo-observations acts like ν anchors at the prior mean
    mu0 = S.zeroed(b.mu_symbols[0])
    as_anchor = mle.subs(S.M0, S.M0 + S.nu)
    diff = map_ - as_anchor.subs(b.starred(b.mu)[0], mu0)
    th_star = S.starred(b.theta[0])
    diff = diff.subs(mu0, b.mu[0].subs(b.theta[0], th_star)).subs(S.M0, 0)
    assert sp.simplify(diff) == sp.zeros(1, 1)


def test_r3_bernoulli_drift_is_ito_of_logit():
    """θ = logit p with p a martingale of variance p(1−p)/M: drift = ½ θ''(p) p(1−p)/M."""
    b = get_family("bernoulli")
    p = sp.Symbol("p", positive=True)
    ito = sp.diff(sp.log(p / (1 - p)), p, 2) * p * (1 - p) / (2 * S.M)
    derived = recursion.drift(b, "mle").result["drift"][0].subs(S.M0, 0)
    assert sp.simplify(derived.subs(b.theta[0], sp.log(p / (1 - p))) - ito) == 0


def test_r4_ito_back_to_expectation_parameters_has_zero_drift(family):
    r3 = recursion.drift(family, "mle").result
    d_mu, _ = reparam.ito(family, family.mu, r3["drift"].subs(S.M0, 0), r3["cov"])
    assert is_zero(family, d_mu)
    # with anchors it is the exact R1 drift ρ(μ* − μ) to leading order
    d_mu, _ = reparam.ito(family, family.mu, r3["drift"], r3["cov"])
    expected = S.M0 * (family.starred(family.mu) - family.mu) / S.M
    assert is_zero(family, d_mu - expected)


def test_r4_not_reparametrisation_invariant():
    r4 = reparam.reparametrisation(get_family("bernoulli")).result
    assert list(r4["theta_zero_drift"]) == [0]  # θ drifts except at p = 1/2
    g = reparam.reparametrisation(get_family("gaussian")).result
    var = sp.Symbol("var", real=True)
    own = get_family("gaussian").in_conventional(g["drift_conventional"]).subs(S.M0, 0)
    assert sp.simplify(own[1] + var / S.M) == 0  # E[σ²_{t+1}] = (1 − 1/M) σ²_t


def test_r5_fixed_points():
    fixed, factor, transient = anchors.solve_affine("mle")
    assert fixed == sp.Symbol("m_target", real=True)
    assert sp.simplify(factor - (1 - S.M0 / S.M)) == 0
    fixed, factor, _ = anchors.solve_affine("map")
    assert sp.simplify(factor - (S.M - S.M0) / (S.M + S.nu)) == 0
    r5 = anchors.fixed_points(get_family("poisson")).result
    assert list(r5["l2_fixed"]) == [0]


def test_r6_wright_fisher_textbook():
    b = get_family("bernoulli")
    p = b.mu_symbols[0]
    textbook = -2 * S.M * (p * sp.log(p) + (1 - p) * sp.log(1 - p))
    assert sp.simplify(absorption.mean_time(b) - textbook) == 0
    assert absorption.probabilities(b) == {"phi1=0": 1 - p, "phi1=1": p}
    assert absorption.mean_time(get_family("poisson")) == sp.oo  # critical branching
    assert absorption.mean_time(get_family("exponential")) is None  # 0 is not reached


def test_r6_curie_weiss_time_scales_with_N_M():
    for N in (4, 8):
        T = absorption.mean_time(get_family("curie_weiss", N=N, fixed={"theta2": 0}))
        mu = sp.Symbol("mu", real=True)
        assert sp.simplify(T.subs(mu, 0) - 2 * N * S.M * sp.log(2)) == 0


def test_r6_binary_entropy_form_for_general_sizes():
    """T(μ) = c·M·H(x) holds with the size symbolic: 2M·n·H(μ/n), 2M·N·H((N + μ)/2N)."""
    n, N = (sp.Symbol(x, integer=True, positive=True) for x in "nN")
    cases = ((get_family("binomial", n=n), 2 * n, lambda mu: mu / n),
             (get_family("curie_weiss", N=N, fixed={"theta2": 0}), 2 * N, lambda mu: (mu + N) / (2 * N)))
    for fam, c, x_of in cases:
        T = absorption.mean_time(fam)
        shown = absorption._binary_entropy_form(fam, T)
        mu = fam.mu_symbols[0]
        x = x_of(mu)
        assert shown == c * S.M * absorption._H(sp.factor(x))
        H = -x * sp.log(x) - (1 - x) * sp.log(1 - x)
        for size in (3, 7):  # the displayed form is the derived T
            sub = {n: size, N: size}
            for frac in (sp.Rational(1, 5), sp.Rational(2, 3)):
                lo = -size if fam.name == "curie_weiss" else 0
                point = {mu: lo + frac * (size - lo)} | sub
                assert abs(float((T - c * S.M * H).subs(point).subs(S.M, 1))) < 1e-12


def test_r3_named_drift_is_the_generic_drift():
    """Through χ^{ab} (d ≥ 2), the drift equals the generic one with χ⁻¹ substituted."""
    from theory.results.common import inverse

    for d in (2,):  # d = 3 takes 40 s of SymPy
        chi = S.placeholders(d)[2]
        g, G = S.inverse_fisher(d), inverse(chi)
        sub = {g[a, b]: G[a, b] for a in range(d) for b in range(d)}
        for est in recursion.ESTIMATORS:
            named = recursion.named_drift(est, d, S.thetas(d)).xreplace(sub)
            generic = recursion.leading_order(est, d, S.thetas(d))[0].applyfunc(recursion.per_generation)
            point = {x: sp.Rational(3 + 2 * i, 7 + i) for i, x in enumerate(sorted(
                (named - generic).free_symbols, key=str))}
            point |= {chi[a, b]: (d + 1 if a == b else 1) for a in range(d) for b in range(d)}  # χ > 0
            assert all(abs(float(e.subs(point))) < 1e-12 for e in named - generic), (d, est)


def test_r7_named_laws():
    b = stationary.stationary(get_family("bernoulli")).result
    mu_star = sp.Symbol("mu_star", real=True)
    assert str(b["law"]) == "Beta"
    assert sp.simplify(b["alpha"] - 2 * S.M0 * mu_star) == 0
    assert sp.simplify(b["beta"] - 2 * S.M0 * (1 - mu_star)) == 0
    p = stationary.stationary(get_family("poisson")).result
    assert str(p["law"]) == "Gamma" and sp.simplify(p["beta"] - 2 * S.M0) == 0
    e = stationary.stationary(get_family("exponential")).result
    assert str(e["law"]) == "InverseGamma"
    # the identified density is normalised
    val = evaluate(b["density"], {"mu_star": 0.3, "M0": 1.0, "mu": np.linspace(1e-6, 1 - 1e-6, 200001)})
    assert np.trapezoid(val, dx=(1 - 2e-6) / 200000) == pytest.approx(1, abs=2e-3)


def _bernoulli_chain(M, M0, p_star):
    """Exact transition matrix of the anchored Bernoulli loop on k = Mμ ∈ {0..M}."""
    P = np.zeros((M + 1, M + 1))
    for k in range(M + 1):
        model = st.binom(M - M0, k / M).pmf(np.arange(M - M0 + 1))
        anchor = st.binom(M0, p_star).pmf(np.arange(M0 + 1))
        P[k] = np.convolve(model, anchor)
    return P


def test_r8_matches_exact_markov_chain():
    b = get_family("bernoulli")
    r8 = moments.moments(b).result
    M, t, k0 = 6, 5, 2
    P = _bernoulli_chain(M, 0, 0.0)
    dist = np.linalg.matrix_power(P, t)[k0]
    mu_grid = np.arange(M + 1) / M
    chain = [dist @ mu_grid, dist @ mu_grid**2]
    pred = evaluate(r8["transient"], {"M": M, "t": t, "mu_0": k0 / M}).ravel()
    np.testing.assert_allclose(pred, chain, rtol=1e-12)
    # with one anchor: the stationary law of the chain
    P = _bernoulli_chain(M, 1, 0.3)
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    pi /= pi.sum()
    pred = evaluate(r8["stationary"], {"M": M, "M0": 1, "mu_star": 0.3}).ravel()
    np.testing.assert_allclose(pred, [pi @ mu_grid, pi @ mu_grid**2], rtol=1e-10)


def test_r8_stationary_variance_tends_to_r7_law():
    var8 = moments.moments(get_family("bernoulli")).result["stationary_var_mu"]
    r7 = stationary.stationary(get_family("bernoulli")).result
    a, b = r7["alpha"], r7["beta"]
    beta_var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert sp.simplify(sp.limit(var8, S.M, sp.oo) - beta_var) == 0


def test_r8_closure_and_gaussian_variance_decay():
    assert moments.moments(get_family("curie_weiss", N=6)) is None  # χ not quadratic in μ
    g = moments.moments(get_family("gaussian")).result
    assert [str(m) for m in g["monomials"]] == ["mu1", "mu2", "mu1**2"]
    tr = g["transient"]
    m1, m2 = sp.symbols("mu1_0 mu2_0", real=True)
    var_t = sp.simplify(tr[1] - tr[2])  # E[μ2 − μ1²] = E[σ²_t]
    assert sp.simplify(var_t - (m2 - m1**2) * (1 - 1 / S.M) ** S.t) == 0


def test_a_new_family_is_one_declaration(tmp_path, monkeypatch):
    """The documented geometric example (docs/howto/declare-family.md), saved as one file beside the others, is found and derived:
    A, μ, χ, the recursion, its absorbing state and mean absorption time, its stationary law.

    Derived through the store, as `validate` and the figures read results: the results whose
    form depends on the family (R1, R2, R3 for the MLE, R5-R8). The MAP and L2 variants of R3
    and R4 specialise the same generic derivation as R3's MLE one; they are derived for every
    registered family by test_latex (for geometric they would take 25 s more here).
    """
    import re
    from pathlib import Path

    import theory.families as registry
    from theory.store import derivation

    page = (Path(__file__).resolve().parents[1] / "docs" / "howto" / "declare-family.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", page, re.DOTALL) if "def geometric" in b)
    (tmp_path / "geometric.py").write_text(code)
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "FAMILIES", registry.discover())
    geo = registry.get_family("geometric")
    from theory.cases import declared_cases
    assert "geometric" in {c.name for c in declared_cases()}  # validated with no other edit
    (theta,) = geo.theta
    assert sp.simplify(geo.A + sp.log(1 - sp.exp(theta))) == 0
    assert [st.phi for st in geo.absorbing_states] == [(0,)]  # the point mass at 0
    ids = ("R1.martingale", "R2.covariance", "R3.drift.mle", "R5.fixed_points", "R6.absorption",
           "R7.stationary", "R8.moments")
    assert not [rid for rid in ids if derivation(rid, geo) is None]
    T = derivation("R6.absorption", geo).result["mean_time"]
    assert T is not None and T.is_finite is not False and T != sp.oo
    assert str(derivation("R7.stationary", geo).result["law"]) == "BetaPrime"
    # and simulated: one generation keeps the mean of φ (R1), its s.e. from R2 (χ = μ(1+μ), M = 20)
    from theory.params import from_params
    state = from_params("geometric", 20, {"q": 0.5}).run(1, 40_000, seed=1).state
    assert abs(state.mu[:, 0].mean() - 1.0) < 4.4 * np.sqrt(2.0 / 20 / 40_000)  # false-fail rate 1e-5


@pytest.mark.parametrize(("name", "own", "true"), [
    ("bernoulli", {"p": 0.3}, {"p": 0.6}),
    ("gaussian", {"mean": 0.4, "var": 1.7}, {"mean": -1.0, "var": 0.5}),
    ("categorical", {"p1": 0.2, "p2": 0.5, "p3": 0.3}, {"p1": 0.1, "p2": 0.3, "p3": 0.6})])
def test_r3_conventional_forms_are_the_natural_ones(name, own, true):
    """The displayed forms in p, p* (m, σ²; p1, p2) are the θ-forms at the same point."""
    from theory.store import compute

    fam = get_family(name)
    r = compute("R3.drift.l2", fam)
    first = next(i for i, s in enumerate(r.steps) if s.text.startswith("In the conventional"))
    drift_shown, cov_shown = (r.steps[i].rhs for i in (first, first + 1))
    theta, theta_star = fam.natural_point(own), fam.natural_point(true)
    point = {"M": 50, "M0": 2, "lam": 0.01}
    at = point | theta | {t + "_star": v for t, v in theta_star.items()}
    shown_at = point | own | {n + "_star": v for n, v in true.items()}
    for natural_form, shown_form in ((r.result["drift"], drift_shown), (r.result["cov"], cov_shown)):
        shown_form = shown_form if isinstance(shown_form, sp.MatrixBase) else sp.Matrix([shown_form])
        used = {x.name for x in shown_form.free_symbols}
        assert np.allclose(evaluate(natural_form, at), evaluate(shown_form, {k: v for k, v in shown_at.items()
                                                                             if k in used}), rtol=1e-10)
