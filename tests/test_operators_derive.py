"""R11 (the sampling operators): derived expressions against textbook values and independent
computations (scipy.stats.truncnorm, an enumeration of Curie–Weiss configurations, a brute-force
truncation loop)."""

import itertools
import math

import numpy as np
import pytest
import sympy as sp
from scipy.stats import binom, truncnorm

from theory import get_family
from theory import symbols as S
from theory.derive import _operator_json
from theory.errors import InputError
from theory.operator import Operator
from theory.results import operators as O
from theory.setting import Setting, m_ext
from theory.store import all_operators, derivation

T, kappa = O.T_sym, O.kappa_T


def _fam(name, **args):
    return get_family(name, **args)


@pytest.mark.parametrize("name, args", [("bernoulli", {}), ("exponential", {}), ("gaussian", {}),
                                        ("categorical", {"K": 3}), ("curie_weiss", {"N": 4})])
def test_tempered_member_is_theta_over_T(name, args):
    fam = _fam(name, **args)
    d = derivation("R11.temperature.map", fam).result
    assert d["stays"] == sp.true
    assert sp.simplify(d["theta_T"] - sp.Matrix(fam.theta) / T) == sp.zeros(fam.d, 1)


@pytest.mark.parametrize("name, args", [("poisson", {}), ("binomial", {"n": 5})])
def test_tempering_leaves_poisson_and_binomial(name, args):
    fam = _fam(name, **args)
    assert derivation("R11.temperature.map", fam).result["stays"] == sp.false
    for rid in ("R11.temperature.drift", "R11.temperature.fixed_points"):
        assert derivation(rid, Setting(fam)).result["applies"] == sp.false


def test_gaussian_tempered_variance_and_bernoulli_textbook_form():
    steps = {str(st.lhs): st.rhs for st in derivation("R11.temperature.map", _fam("gaussian")).steps}
    assert str(steps["var_T"]) == "T*var"
    assert str(steps["mean_T"]) == "mean"
    p_T = {str(st.lhs): st.rhs for st in derivation("R11.temperature.map", _fam("bernoulli")).steps}["p_T"]
    p = next(iter(p_T.free_symbols - {T}))
    assert float(p_T.subs({p: 0.3, T: 2.0})) == pytest.approx(0.3**0.5 / (0.3**0.5 + 0.7**0.5), rel=1e-12)


def test_curie_weiss_tempers_configurations_not_the_histogram():
    """Each of the C(N, k) configurations at level k has probability f_k/C(N, k); raising those to 1/T
    gives the member at θ/T, while raising the level probabilities f_k (the negative control) does not."""
    N, theta, Tv = 6, {"theta1": 0.4, "theta2": 0.7}, 1.7
    fam = _fam("curie_weiss", N=N)
    ks = np.arange(N + 1)
    mult = np.array([math.comb(N, k) for k in ks], float)

    def levels(th):
        m = 2 * ks - N
        w = mult * np.exp(th["theta1"] * m + th["theta2"] * (m**2 - N) / (2 * N))
        return w / w.sum()

    f = levels(theta)
    tempered = mult * (f / mult) ** (1 / Tv)
    tempered /= tempered.sum()
    d = derivation("R11.temperature.map", fam).result
    at = {k: v / Tv for k, v in theta.items()}
    assert np.allclose(tempered, levels(at), rtol=1e-12)
    histogram = f ** (1 / Tv) / (f ** (1 / Tv)).sum()
    assert not np.allclose(histogram, levels(at), rtol=1e-3)
    assert sp.simplify(d["theta_T"] - sp.Matrix(fam.theta) / T) == sp.zeros(2, 1)
    assert O.multiplicity(fam) == fam.h


def test_temperature_drift_and_the_entropy_factor():
    """Diffusion scaling: the extra drift is −κθ per unit τ, −χ⁻¹∇V with V = −κS, and Eq. 18 gains
    e^{2κS}, S the Bernoulli entropy −p ln p − (1 − p) ln(1 − p)."""
    fam = _fam("bernoulli")
    (theta,) = fam.theta
    d = derivation("R11.temperature.drift", Setting(fam, fresh=1)).result
    assert sp.simplify(d["drift_tau"][0] + kappa * theta) == 0
    assert sp.simplify(d["next_order"][0] - kappa**2 * theta) == 0
    p = 1 / (1 + math.exp(-0.8))
    entropy = -p * math.log(p) - (1 - p) * math.log(1 - p)
    assert float(d["log_factor"].subs({theta: 0.8, kappa: 1.5})) == pytest.approx(2 * 1.5 * entropy, rel=1e-12)
    assert d["normalisable"] == sp.true
    # the per-generation drift: M(μ(θ/T) − μ(θ))/(M + m) exactly
    value = d["drift_mu_generation"][0].subs({theta: 0.8, T: 1.3, S.M: 50, m_ext: 1})
    mu = lambda t: 1 / (1 + math.exp(-t))
    assert float(value) == pytest.approx(50 * (mu(0.8 / 1.3) - mu(0.8)) / 51, rel=1e-12)


def test_normalisability_under_temperature():
    """Finite space: as without temperature; exponential pure: never; Gaussian: α of the normal–gamma
    law is 5/2 − κ with one fresh point, so κ < 5/2; a Gaussian prior alone: κ < 1."""
    assert derivation("R11.temperature.drift", Setting(_fam("bernoulli"))).result["normalisable"] == sp.false
    assert derivation("R11.temperature.drift", Setting(_fam("exponential"))).result["normalisable"] == sp.false
    assert derivation("R11.temperature.drift", Setting(_fam("gaussian"))).result["normalisable"] == sp.false
    cond = derivation("R11.temperature.drift", Setting(_fam("gaussian"), fresh=1)).result["normalisable"]
    assert cond == (kappa < sp.Rational(5, 2))
    cond = derivation("R11.temperature.drift", Setting(_fam("gaussian"), prior="normal:var=2")).result["normalisable"]
    assert cond == (kappa < 1)
    cond = derivation("R11.temperature.drift", Setting(_fam("exponential"), fresh=1)).result["normalisable"]
    assert cond == (kappa < sp.Rational(3, 2))


def test_pitchfork_of_several_parameters_at_the_maximum_entropy_member():
    """Categorical and Curie–Weiss: at θ* = 0 the derivative of the map is (1 − λ)/T times the identity."""
    for fam in (_fam("categorical", K=3), _fam("curie_weiss", N=4)):
        d = derivation("R11.temperature.fixed_points", fam).result
        assert sp.simplify(d["derivative_at_centre"] - (1 - O.lam_ext) / T) == 0
        assert sp.simplify(d["pitchfork_lambda"] - (1 - T)) == 0


def test_bernoulli_pitchfork_at_one_minus_lambda():
    fam = _fam("bernoulli")
    d = derivation("R11.temperature.fixed_points", fam).result
    lam = O.lam_ext
    assert sp.simplify(d["derivative_at_centre"] - (1 - lam) / T) == 0
    assert sp.simplify(d["pitchfork_lambda"] - (1 - T)) == 0
    for Tv, lv in ((0.5, 0.3), (0.8, 0.15)):
        assert O.phase(Tv, lv, fam, {"p": 0.5}) == ("collapse" if Tv < 1 - lv else "stationary")
    assert O.phase(0.69, 0.3, fam, {"p": 0.5}) == "collapse"
    assert O.phase(0.71, 0.3, fam, {"p": 0.5}) == "stationary"
    assert O.phase(1.2, 0.0, fam, {"p": 0.5}) == "heat death"
    assert O.phase(0.9, 0.0, fam, {"p": 0.5}) == "collapse"
    boundary = O.phase_boundary(fam, {"p": 0.5}, [0.5, 0.9, 1.2])
    assert np.allclose(boundary["collapse"][:2], [0.5, 0.1]) and np.isnan(boundary["collapse"][2])


def test_saddle_node_curve_separates_the_phases():
    """For p* = 0.7 the curve λ_c(T) from F(θ) = θ, F'(θ) = 1 lies below the symmetric 1 − T and the
    phase changes across it."""
    fam = _fam("bernoulli")
    Ts = np.array([0.5, 0.8])
    lam_c = O.phase_boundary(fam, {"p": 0.7}, Ts)["collapse"]
    assert np.all(lam_c > 0) and np.all(lam_c < 1 - Ts)
    for Tv, lc in zip(Ts, lam_c, strict=True):
        assert O.phase(Tv, lc * 0.97, fam, {"p": 0.7}) == "collapse"
        assert O.phase(Tv, lc * 1.03, fam, {"p": 0.7}) == "stationary"
        # at λ_c the map has a double root: μ' − μ and its slope vanish together
        roots = O.fixed_points(fam, Tv, lc * 0.999, math.log(0.7 / 0.3))
        assert len(roots) == 3


def test_gaussian_heat_death_line():
    fam = _fam("gaussian")
    d = derivation("R11.temperature.fixed_points", fam).result
    assert sp.simplify(d["heat_death_lambda"] - (1 - 1 / T)) == 0
    assert O.phase(1.2, 0.1, fam, {"mean": 0, "var": 1}) == "heat death"
    assert O.phase(1.2, 0.2, fam, {"mean": 0, "var": 1}) == "stationary"
    assert O.phase(0.8, 0.0, fam, {"mean": 0, "var": 1}) == "collapse"
    assert np.allclose(O.phase_boundary(fam, {"mean": 0, "var": 1}, [1.25])["heat_death"], [0.2])
    with pytest.raises(InputError):
        O.phase(1.1, 0.1, _fam("poisson"), {"rate": 1.0})


def test_gaussian_on_the_heat_death_line_whatever_the_rounding():
    """(1 − λ)T = 1 is heat death (the variance's fixed point at infinity is marginal), also where the
    floats of a grid put T(1 − λ) one unit in the last place below 1 (temperature_phase's grid); λ = 0 is
    the pure loop, whose T = 1 is collapse."""
    fam = _fam("gaussian")
    for T_grid, lam_grid in ((np.linspace(0.3, 1.7, 57), np.linspace(0.0, 0.6, 25)),
                             (1 / (1 - np.linspace(0.01, 0.99, 99)), np.linspace(0.01, 0.99, 99))):
        on_line = [(t, l) for t in T_grid for l in lam_grid if l > 0 and abs(t * (1 - l) - 1) < 1e-14]
        assert on_line and all(O.phase(t, l, fam, {"mean": 0, "var": 1}) == "heat death" for t, l in on_line)
    assert O.phase(1.6 * (1 - 1e-9), 0.375, fam, {"mean": 0, "var": 1}) == "stationary"


@pytest.mark.parametrize("f", [0.2, 0.5, 0.9])
def test_selection_factors_against_truncnorm(f):
    z2 = O.selection_threshold(f, "abs_deviation")
    assert O.selection_factor(f, "abs_deviation")["variance_factor"] == pytest.approx(
        truncnorm(z2, np.inf).moment(2), rel=1e-10)
    z1 = O.selection_threshold(f, "largest")
    law = truncnorm(z1, np.inf)
    got = O.selection_factor(f, "largest")
    assert got["mean_shift"] == pytest.approx(law.mean(), rel=1e-10)
    assert got["variance_factor"] == pytest.approx(law.var(), rel=1e-10)
    assert O.selection_factor(f, "smallest")["mean_shift"] == pytest.approx(-law.mean(), rel=1e-10)


def test_selection_accumulate_product():
    c = O.selection_factor(0.5, "abs_deviation")["variance_factor"]
    v, expected = 1.0, []
    for k in range(1, 8):
        v = c * v if k == 1 else v * (k - 1 + c) / k
        expected.append(v)
    assert np.allclose(O.selection_variance(0.5, "abs_deviation", np.arange(1, 8), "accumulate"), expected)
    assert derivation("R11.selection", _fam("bernoulli")).result["applies"] == sp.false


def test_top_p_support_law():
    """The nucleus of the renormalised nucleus: the issue's categorical keeps 4 levels; a Zipf law
    stops at the first n with p_(n) > (1 − P) C_n, reached from the top-p set of the first step."""
    assert O.fixed_support([0.4, 0.3, 0.15, 0.1, 0.05], top_p=0.9) == ((0, 1, 2, 3), 1)
    z = 1 / np.arange(1, 21)
    z /= z.sum()
    support, generations = O.fixed_support(z, top_p=0.9)
    C = np.cumsum(z)
    n = len(support)
    assert z[n - 1] > 0.1 * C[n - 1]
    sizes = [len(s) for s in O.truncation_supports(z, top_p=0.9, generations=generations)]
    assert all(a >= b for a, b in itertools.pairwise(sizes)) and sizes[-1] == n
    assert all(z[k - 1] <= 0.1 * C[k - 1] for k in sizes[:-1])  # every earlier size was not fixed
    assert O.fixed_support(z, top_k=3) == ((0, 1, 2), 1)
    d = derivation("R11.truncation", _fam("categorical", K=5))
    assert d.result["applies"] == sp.true
    assert derivation("R11.truncation", _fam("poisson")).result["applies"] == sp.false


def test_finite_m_truncation_never_returns_a_level():
    """A quick exact check of the absorption statement: from a support of 2 levels under top-k = 2 on
    K = 3, the refit's support never grows (binomial draws on the survivors only)."""
    p = np.array([0.5, 0.3, 0.2])
    kept = O.truncation_supports(p, top_k=2, generations=1)[0]
    q = p[list(kept)] / p[list(kept)].sum()
    assert binom.pmf(0, 10, 1 - q.sum()) == 1.0  # the dropped level has probability 0 of a draw


def test_operator_results_and_json_block():
    fam = _fam("bernoulli")
    assert all_operators(Setting(fam)) == []
    st = Setting(fam, fresh=1, operator=Operator(temperature=1.005))
    assert [d.id for d in all_operators(st)] == list(O.TEMPERATURE_IDS)
    block = _operator_json(st)
    assert block["operator"]["temperature"] == 1.005
    assert block["R11.temperature.map"]["theta_T"] == [["theta/T"]]
    assert block["R11.temperature.drift"]["drift_tau"] == [["-kappa_T*theta"]]
    st = Setting(_fam("categorical", K=3), operator=Operator(top_p=0.9))
    assert [d.id for d in all_operators(st)] == ["R11.truncation"]


def test_tempered_stationary_law_on_a_grid():
    """Bernoulli, one fresh point from p* = 1/2: the law on a θ grid is Eq. 18's times e^{2κS},
    renormalised (Eq. 18 here: e^{2θ p* − 2 ln(1 + e^θ)})."""
    st = Setting(_fam("bernoulli"), fresh=1, truth={"p": 0.5})
    grid = np.linspace(-3, 3, 13)
    p = 1 / (1 + np.exp(-grid))
    entropy = -p * np.log(p) - (1 - p) * np.log(1 - p)
    eq18 = np.exp(grid - 2 * np.log1p(np.exp(grid)))
    for kappa in (0.0, 2.0):
        expected = eq18 * np.exp(2 * kappa * entropy)
        got, _ = O.tempered_stationary_marginals(st, kappa, grid)
        assert np.allclose(got, expected / expected.sum(), rtol=1e-12)
