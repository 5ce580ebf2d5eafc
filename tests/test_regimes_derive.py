"""R10 (the data regimes): derived expressions against textbook values and independent exact sums
(and the error of the mean, :func:`mean_error_factor`, against a quick simulation)."""

import json
import math

import numpy as np
import pytest
import sympy as sp
from scipy.stats import binom, hypergeom

from theory import get_family
from theory import symbols as S
from theory.cli import main
from theory.errors import InputError
from theory.regime import Regime
from theory.results import regimes as R
from theory.setting import Setting
from theory.store import all_regimes, derivation

M, t = S.M, S.t


def _setting(name, kind="replace", schedule=None, **args):
    return Setting(get_family(name, **args), regime=Regime(kind, schedule))


@pytest.mark.parametrize("name, args, lam", [("bernoulli", {}, -1), ("binomial", {"n": 10}, sp.Rational(-1, 10)),
                                             ("poisson", {}, 0), ("exponential", {}, 1),
                                             ("categorical", {"K": 3}, -1), ("gaussian", {}, -1)])
def test_lambda_of_the_quadratic_variance_families(name, args, lam):
    """½ Σ ∂²χ_ij/∂μ_k∂μ_l χ_kl = λ χ_ij: every entry for the quadratic-variance families, only
    χ_11 (the variance) for the Gaussian."""
    fam = get_family(name, **args)
    found = R.chi_eigenvalues(fam)
    assert set(found.values()) == {lam}
    assert set(found) == ({(0, 0)} if name == "gaussian" else
                          {(i, j) for i in range(fam.d) for j in range(i, fam.d)})


def test_no_law_without_a_quadratic_entry():
    assert R.chi_eigenvalues(get_family("curie_weiss", N=4)) == {}
    assert derivation("R10.moments", _setting("curie_weiss", N=4)) is None


def test_second_moment_products_are_the_textbook_ones():
    d = derivation("R10.moments", _setting("bernoulli")).result
    assert d["c_replace"] == 1 / M and sp.simplify(d["c_accumulate"] - 1 / (M * R.k**2)) == 0
    assert sp.simplify(d["factor_replace"] - (1 - 1 / M) ** t) == 0
    exact = math.prod(1 - 1 / (10 * j**2) for j in range(1, 8))
    assert float(d["factor_accumulate"].subs({M: 10, t: 7})) == pytest.approx(exact, rel=1e-12)
    for kind, c in (("replace", lambda j: 1 / 10), ("accumulate", lambda j: 1 / (10 * j**2))):
        assert R.second_moment_factor(_setting("exponential", kind), 10, 7) == pytest.approx(
            math.prod(1 + c(j) for j in range(1, 8)), rel=1e-12)
    # a growing schedule: c_k = 1/M_k and M_k/N_k^2 with N_k = 10 k(k + 1)/2
    sizes = [10 * j for j in range(1, 6)]
    pools = np.cumsum(sizes)
    acc = _setting("bernoulli", "accumulate", "linear:10")
    assert R.second_moment_factor(acc, 10, 5) == pytest.approx(np.prod(1 - np.array(sizes) / pools**2))


def test_subsample_law_matches_the_exact_pool_chain():
    """Bernoulli subsample: an exact sum over the pool count K and the subsample's count j
    (binomial draws, hypergeometric subsample) gives E χ(μ_t), independently of the recursion."""
    Mv, p0, T = 3, 0.3, 4
    law = {(0, None): 1.0}  # (pool count K, model count j) -> probability; the start is p0
    N = 0
    for _ in range(T):
        new = {}
        for (K, j), w in law.items():
            p = p0 if j is None else j / Mv
            for x in range(Mv + 1):
                K1 = K + x
                for j1 in range(Mv + 1):
                    q = w * binom.pmf(x, Mv, p) * hypergeom.pmf(j1, N + Mv, K1, Mv)
                    if q > 0:
                        new[K1, j1] = new.get((K1, j1), 0.0) + q
        law, N = new, N + Mv
    chi = sum(w * (j / Mv) * (1 - j / Mv) for (_, j), w in law.items())
    derived = R.second_moment_factor(_setting("bernoulli", "subsample"), Mv, T, mu0=[p0])
    assert derived == pytest.approx(chi / (p0 * (1 - p0)), rel=1e-10)
    error = sum(w * (j / Mv - p0) ** 2 for (_, j), w in law.items())
    derived = R.mean_error_factor(_setting("bernoulli", "subsample"), Mv, T, mu0=[p0])
    assert derived == pytest.approx(error / (p0 * (1 - p0)), rel=1e-10)
    # the first generation refits on the whole pool: the replace factor
    assert R.second_moment_factor(_setting("poisson", "subsample"), 10, 1) == pytest.approx(1.0)
    assert R.second_moment_factor(_setting("gaussian", "subsample"), 10, 1) == pytest.approx(0.9)


ONE_STATISTIC = [("bernoulli", {}, [0.3]), ("binomial", {"n": 10}, [4.0]), ("poisson", {}, [2.0]),
                 ("exponential", {}, [1.5]), ("gaussian", {}, [0.3, 1.2])]


@pytest.mark.parametrize("name, args, mu0", ONE_STATISTIC, ids=[c[0] for c in ONE_STATISTIC])
def test_mean_error_is_the_variance_route_of_the_second_moment(name, args, mu0):
    """Another route to the telescoped error: the Hessian of χ_11(μ) is 2λ in μ_1 alone (SymPy),
    so for an unbiased μ_t, E χ_11(μ_t) = χ_11(μ_0) + λ Var μ_1,t and the error is (F − 1)/λ with
    F of second_moment_factor, in every regime (subsample: E μ_t = μ_0 too); λ = 0 is Σ_k c_k."""
    fam = get_family(name, **args)
    mu = fam.mu_symbols
    lam = R.chi_eigenvalues(fam)[(0, 0)]
    hessian = sp.hessian(fam.in_mu(fam.chi)[0, 0], mu)
    assert sp.simplify(hessian - 2 * lam * sp.diag(1, *[0] * (len(mu) - 1))) == sp.zeros(len(mu))
    for kind, schedule in (("replace", None), ("accumulate", None), ("subsample", None),
                           ("replace", "linear:10"), ("accumulate", "geometric:10,1.5")):
        setting = Setting(fam, regime=Regime(kind, schedule))
        error = R.mean_error_factor(setting, 10, 6, mu0=mu0)
        if lam != 0:
            F = R.second_moment_factor(setting, 10, 6, mu0=mu0)
            assert error == pytest.approx((F - 1) / float(lam), rel=1e-9), (kind, schedule)
        elif kind != "subsample":
            sizes = np.array([setting.regime.model_points(j, 10) for j in range(1, 7)], float)
            c = 1 / sizes if kind == "replace" else sizes / np.cumsum(sizes) ** 2
            assert error == pytest.approx(c.sum(), rel=1e-12)


def test_mean_error_textbook_values_and_the_accumulate_limit():
    """Poisson accumulate Σ_k 1/(M k²); Gaussian replace 1 − ((M−1)/M)^t; the accumulate limits
    π²/(6M) (Poisson) and 1 − sin(π/√M)√M/π (Gaussian mean, Dey and Donoho), reached as O(1/(Mt))."""
    poisson, gaussian = _setting("poisson", "accumulate"), _setting("gaussian")
    assert R.mean_error_factor(poisson, 10, 50) == pytest.approx(sum(1 / (10 * k**2) for k in range(1, 51)),
                                                               rel=1e-12)
    assert R.mean_error_factor(gaussian, 20, 30) == pytest.approx(1 - (19 / 20) ** 30, rel=1e-12)
    assert R.accumulate_mean_error_limit(poisson, 10) == pytest.approx(math.pi**2 / 60, rel=1e-12)
    y = math.pi / math.sqrt(10)
    assert R.accumulate_mean_error_limit(gaussian, 10) == pytest.approx(1 - math.sin(y) / y, rel=1e-12)
    # large M: the Dey–Donoho constant, no cancellation in 1 − sin(y)/y
    assert 1e6 * R.accumulate_mean_error_limit(gaussian, 1e6) == pytest.approx(
        math.pi**2 / 6 - math.pi**4 / 120e6, rel=1e-12)
    for name in ("poisson", "gaussian", "exponential"):
        setting = _setting(name, "accumulate")
        gap = R.accumulate_mean_error_limit(setting, 10) - R.mean_error_factor(setting, 10, 10_000)
        assert 0 < gap < 2 / (10 * 10_000)


def test_mean_error_against_a_quick_simulation():
    """The Gaussian mean's squared error in each regime and the Poisson mean's under accumulate,
    against the chains, z with Šidák at α = 10⁻³ over the four; the replace law applied to
    accumulate data and the accumulate law applied to subsample data are rejected."""
    from theory.params import from_params
    from theory.stats import threshold

    chains, T, M = 20_000, 10, 5
    cases = [("gaussian", {"mean": 0.0, "var": 1.0}, kind) for kind in R.REGIMES]
    cases.append(("poisson", {"rate": 2.0}, "accumulate"))
    z, control = [], []
    for n, (name, init, kind) in enumerate(cases):
        loop = from_params(name, M, init, regime=kind)
        mu0 = [float(v) for v in np.ravel(loop.init_mu)]
        chi0 = float(loop.family.in_mu(loop.family.chi)[0, 0].subs(dict(zip(loop.family.mu_symbols, mu0))))
        err = (loop.observables(loop.run(T, chains, seed=n).state)["phi1"] - mu0[0]) ** 2 / chi0
        se = err.std(ddof=1) / np.sqrt(chains)
        z.append((err.mean() - R.mean_error_factor(loop.setting, M, T, mu0=mu0)) / se)
        wrong = {"accumulate": "replace", "subsample": "accumulate"}.get(kind)
        if name == "gaussian" and wrong:
            law = R.mean_error_factor(Setting(loop.family, regime=Regime(wrong)), M, T, mu0=mu0)
            control.append((err.mean() - law) / se)
    z_star = threshold(len(z))
    assert np.abs(z).max() < z_star, np.round(z, 2)
    assert np.abs(control).min() > z_star, np.round(control, 2)


def test_martingale_of_each_regime():
    d = derivation("R10.martingale", _setting("bernoulli")).result
    P, mu = R.P_now, R.mu_now
    assert sp.simplify(d["subsample_schedule"] - (t * P + mu) / (t + 1)) == 0
    assert sp.simplify(d["accumulate_schedule"] - S.get("m") * (R.mu_q - R.mu_prev) / ((M + S.get("m")) * t)) == 0
    assert sp.simplify(d["martingale_subsample"]
                       - (R.N_t * P + R.M_next * mu) / (R.N_t + R.M_next)) == 0
    assert d["drift_replace"].subs(S.get("m"), 0) == 0 and d["drift_accumulate"].subs(S.get("m"), 0) == 0


def test_accumulate_diffusion_time_and_limit():
    d = derivation("R10.diffusion", _setting("bernoulli", "accumulate")).result
    assert sp.simplify(d["total_time"] - sp.pi**2 / (6 * M)) == 0
    y = 1 / sp.sqrt(M)
    assert sp.simplify(d["limit_factor"] - sp.sin(sp.pi * y) / (sp.pi * y)) == 0
    assert float(d["limit_factor"].subs(M, 10)) == pytest.approx(
        math.prod(1 - 1 / (10 * j**2) for j in range(1, 200_000)), rel=1e-5)
    # Dey & Donoho: E(m_∞ − m_0)²/v_0 = 1 − sin(π/√M)√M/π = π²/(6M) − π⁴/(120M²) + ...
    g = derivation("R10.diffusion", _setting("gaussian", "accumulate")).result
    assert sp.simplify(g["variance_limit_factor"] - (1 - sp.sqrt(M) * sp.sin(sp.pi / sp.sqrt(M)) / sp.pi)) == 0
    assert sp.simplify(g["variance_limit_series"] - (sp.pi**2 / (6 * M) - sp.pi**4 / (120 * M**2))) == 0
    e = derivation("R10.diffusion", _setting("exponential", "accumulate")).result  # λ = +1: sinh
    assert sp.simplify(e["limit_factor"] - sp.sinh(sp.pi * y) / (sp.pi * y)) == 0
    assert R.accumulate_limit_factor(_setting("gaussian"), 10) == pytest.approx(
        math.sin(math.pi / math.sqrt(10)) * math.sqrt(10) / math.pi)
    lin = derivation("R10.diffusion", _setting("bernoulli", "accumulate", "linear:10")).result
    assert sp.simplify(lin["total_time"] - sp.Rational(4, 10) * (2 - sp.pi**2 / 6)) == 0


def test_accumulate_absorbs_at_the_first_generation_or_never():
    d = derivation("R10.absorption", _setting("bernoulli", "accumulate")).result
    p = next(x for x in d["first_generation"].free_symbols if x.name == "p")
    assert sp.simplify(d["first_generation"] - (p**M + (1 - p) ** M)) == 0
    for Mv, p0 in ((2, 0.3), (10, 0.3), (5, 0.5)):
        first = p0**Mv + (1 - p0) ** Mv
        curve = R.accumulate_absorption_curve(Mv, p0, 12)
        assert np.allclose(curve[1:].sum(axis=1), first, rtol=1e-12)
        assert R.accumulate_absorption(Mv, p0, 12, schedule=Regime("accumulate", f"linear:{Mv}").schedule) \
            == pytest.approx(first, rel=1e-12)
    with pytest.raises(InputError):
        R.accumulate_absorption(10, 1.5, 3)


def test_growing_samples_collapse_iff_the_reciprocal_sizes_diverge():
    d = derivation("R10.growth", _setting("bernoulli")).result
    a, r = R.a_sched, R.r_sched
    assert d["sum_linear"] == sp.oo and sp.simplify(d["linear_rate"] + 1 / a) == 0
    assert sp.simplify(d["sum_geometric"] - r / (a * (r - 1))) == 0
    lin = derivation("R10.growth", _setting("bernoulli", schedule="linear:10")).result
    exact = math.prod(1 - 1 / (10 * j) for j in range(1, 31))
    assert float(lin["factor_linear"].subs(t, 30)) == pytest.approx(exact, rel=1e-12)
    assert derivation("R10.growth", _setting("poisson")).result["lambda"] == 0


def test_every_family_document_gets_its_regime_results(family):
    ids = [d.id for d in all_regimes(family)]
    assert ids[0] == "R10.martingale"


def test_derive_regime_json(capsys):
    assert main(["derive", "bernoulli", "--regime", "accumulate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["bernoulli"]
    assert out["regime"] == "accumulate"
    assert {"R10.martingale", "R10.moments", "R10.diffusion", "R10.absorption", "R10.growth"} <= set(out["R10"])
    assert out["R10"]["R10.diffusion"]["total_time"] == "pi**2/(6*M)"


def test_second_moment_factor_refuses_what_it_cannot_give():
    for law in (R.second_moment_factor, R.mean_error_factor):
        with pytest.raises(InputError):
            law(_setting("curie_weiss", N=4), 10, 3)
        with pytest.raises(InputError):
            law(_setting("bernoulli"), 10, -1)
    with pytest.raises(InputError):
        R.accumulate_mean_error_limit(_setting("curie_weiss", N=4), 10)


@pytest.mark.parametrize("name, args, lam", [("bernoulli", {}, -1), ("gaussian", {}, -1), ("poisson", {}, 0),
                                             ("exponential", {}, 1), ("binomial", {"n": 10}, sp.Rational(-1, 10))])
def test_subsample_diffusion_clock(name, args, lam):
    """The subsample clock derived from one generation of the pool's moments: c_1 = 1/M,
    c_t = (2t − 3)/((t − 1)t² M), τ_∞ M = π²/2 − 3 (accumulate π²/6), the model one 1/M later."""
    d = derivation("R10.diffusion", _setting(name, "subsample", **args)).result
    assert sp.simplify(d["total_time_subsample"] * M - (sp.pi**2 / 2 - 3)) == 0
    assert sp.simplify(d["model_time_subsample"] * M - (sp.pi**2 / 2 - 2)) == 0
    first, later = (piece.expr for piece in d["clock_subsample"].args)
    assert first == 1 / M and sp.simplify(later - (2 * R.k - 3) / ((R.k - 1) * R.k**2 * M)) == 0
    assert sp.simplify(d["limit_factor_subsample"] - sp.exp(lam * (sp.pi**2 / 2 - 2) / M)) == 0
    assert float(M * d["total_time_subsample"]) == pytest.approx(1.9348022, abs=1e-7)


def test_no_subsample_diffusion_without_a_law():
    d = derivation("R10.diffusion", _setting("curie_weiss", "subsample", N=4))
    assert d is None or "clock_subsample" not in d.result


@pytest.mark.parametrize("name, mu0", [("bernoulli", [0.3]), ("gaussian", [0.3, 1.2])])
def test_subsample_generation_map_is_the_exact_recursion(name, mu0):
    """Where the pool's variance of φ_1 is χ_11(P) (Bernoulli, Gaussian) the one-statistic map
    E χ(μ_t)/χ(μ_0) = (1 + λ f_t/M) Π_k g_k is exact: it reproduces the full recursion."""
    setting = _setting(name, "subsample")
    assert R.subsample_reduction(setting.family) is True
    g = sp.lambdify((R.N_prev, M, R.f_pool), derivation("R10.diffusion", setting)["generation_factor_subsample"])
    Mv, T = 5, 8
    F, f = 1.0, 0.0  # generation 1: no previous subsample
    for j in range(1, T + 1):
        N = (j - 1) * Mv
        F *= g(N, Mv, f)
        f = (j * Mv - Mv) / (j * Mv - 1)  # this generation's subsample
    F *= 1 - f / Mv
    assert F == pytest.approx(R.second_moment_factor(setting, Mv, T, mu0=mu0), rel=1e-12)
    assert R.subsample_reduction(get_family("poisson")) is False


def test_subsample_diffusion_limit_against_the_exact_recursion():
    """A ladder in M: the exact recursion's M(1 − E χ_t/χ_0) at t = 4000 approaches π²/2 − 2 with an
    O(1/M) residual (the Poisson, λ = 0: M E(μ_t − μ_0)²/χ_0); at t = 60 the diffusion factor
    exp(λ T_t) on the finite-t clock is off by O(M⁻²)."""
    limit = math.pi**2 / 2 - 2
    gaussian, poisson = _setting("gaussian", "subsample"), _setting("poisson", "subsample")
    for Mv in (10, 40, 160):
        assert abs(Mv * (1 - R.second_moment_factor(gaussian, Mv, 4000)) - limit) < 5 / Mv
        assert abs(Mv * R.mean_error_factor(poisson, Mv, 4000) - limit) < 2 / Mv
    for Mv in (10, 100, 1000):
        gap = R.second_moment_factor(gaussian, Mv, 60) - R.subsample_limit_factor(gaussian, Mv, 60)
        assert abs(gap) * Mv**2 < 1.5
    assert R.subsample_limit_factor(gaussian, 10) == pytest.approx(math.exp(-limit / 10), rel=1e-12)
    with pytest.raises(InputError):
        R.subsample_limit_factor(_setting("curie_weiss", N=4), 10)
