"""R9.stationary_correction: Eq. 18 at finite M, to O(1/M), against independent references."""

import numpy as np
import pytest
import sympy as sp

from theory.engine.markov import ExactChain
from theory.errors import InputError
from theory.params import from_params
from theory.results import finite_m as F
from theory.results.general import generic_identities
from theory.setting import m_ext
from theory.store import all_general, derivation
from theory.validate.finite_m_checks import CASES, _check
from theory.validate.registry import QUICK


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_leading_jump_moments_are_those_of_R9_sde():
    """a1 = −χ⁻¹U' and b1 = χ⁻¹ (R9.sde, derived separately); the third cumulant of a step is
    −2κ/χ³ (that of θ = μ⁻¹(φ̄)) and the fourth moment 3 b1² (Gaussian at leading order)."""
    J = F.jump_moments()
    gen = generic_identities(1)
    drift = gen["drift_theta"][0].xreplace({gen["mu"][0]: F.mu, gen["mu_q"][0]: F.mu_q, gen["g"][0]: F.g})
    assert sp.simplify(J[1, 1] - drift) == 0
    assert sp.simplify(J[2, 1] - 1 / F.chi) == 0
    assert sp.simplify(J[3, 2] - 3 * J[1, 1] * J[2, 1] + 2 * F.kappa / F.chi**3) == 0
    assert sp.simplify(J[4, 2] - 3 * J[2, 1] ** 2) == 0


@pytest.mark.parametrize("m, p_star", [(10, 0.3), (20, 0.5)])
def test_bernoulli_fresh_points_match_the_exact_linear_chain(m, p_star):
    """ML with m fresh points only: p' = [Bin(M, p) + Bin(m, p*)]/(M + m) is linear, so its
    stationary variance is exact, p*q*(M + m)/(2Mm + m² + M) = V0 (1 + c/M + O(M⁻²)) with
    V0 = p*q*/(2m + 1) and c V0 = V0 (m − m²/(2m + 1)): the correction must give this c."""
    loop = from_params("bernoulli", 50, {"p": 0.5}, truth={"p": p_star}, external=m)
    values = {"theta_star": float(loop.theta_star[0, 0])}
    (m1, c1), (m2, c2) = F.finite_m_moments(loop.setting, [_sig, lambda x: _sig(x) ** 2], values)
    v0 = p_star * (1 - p_star) / (2 * m + 1)
    assert m2 - m1**2 == pytest.approx(v0, rel=1e-9)
    assert c2 - 2 * m1 * c1 == pytest.approx(v0 * (m - m * m / (2 * m + 1)), rel=1e-6)
    assert c1 == pytest.approx(0.0, abs=1e-6)  # E[p] = p* at every M


def test_correction_refused_where_the_law_is_not_a_series_in_one_over_M():
    """Two fresh points and no prior: Eq. 18 decays only as χ² at the ends (the exact chain's
    M(var − var_st) does not converge to the formal coefficient there)."""
    loop = from_params("bernoulli", 50, {"p": 0.5}, truth={"p": 0.5}, external=2)
    with pytest.raises(InputError, match="not a series in 1/M"):
        F.finite_m_moments(loop.setting, [_sig], {"theta_star": 0.0})


def test_the_exact_chain_check_passes_and_rejects_both_controls():
    """Bernoulli with the paper's Gaussian prior (variance 2): M(var_M − 1) → c = −1.4325 with a
    residual O(M⁻²), against exact chains up to M = 400; c = 0 and −c are rejected."""
    out = _check(CASES[0]).compute(QUICK, np.random.default_rng(0))
    assert out.passed and out.control_rejected
    assert out.prediction == pytest.approx(1 - 1.4325 / 400, abs=1e-5)
    chain = ExactChain(from_params("bernoulli", 400, {"p": 0.5}, prior_law="normal:var=2"))
    pi = chain.stationary()
    assert pi @ chain.theta**2 - (pi @ chain.theta) ** 2 == pytest.approx(out.prediction, abs=2e-5)


def test_registered_for_one_parameter_and_as_a_method_for_two():
    from theory.families import get_family
    from theory.setting import Setting

    bern = Setting(get_family("bernoulli"), fresh=m_ext)
    assert "R9.stationary_correction" in [d.id for d in all_general(bern)]
    d = derivation("R9.stationary_correction", bern)
    assert d.order == 2 and d.result["score_correction"].has(*get_family("bernoulli").theta)
    gauss = Setting(get_family("gaussian"), fresh=m_ext)   # two parameters: the numeric method's record
    assert derivation("R9.stationary_correction", gauss).result == {"free_parameters": 2}
    assert "R9.stationary_correction" in [d.id for d in all_general(gauss)]


def test_fig2_i_variance_at_M_50():
    """The paper's Fig. 2 (i) (N = 10, θ2 = 0, ML, one fixed point Σσ = −6) at M = 50: Eq. 18
    misses the exact chain's var θ1 = 0.085983 by 1.1e-3, the corrected law by 1e-5 (docs/paper.md)."""
    loop = from_params("curie_weiss", 50, {"theta1": -0.5}, family_args={"N": 10}, fixed={"theta2": 0.0},
                       data=[{"phi1": -6.0}])
    (m1, c1), (m2, c2) = F.finite_m_moments(loop.setting, [lambda x: x, lambda x: x**2])
    chain = ExactChain(loop)
    pi = chain.stationary()
    exact = pi @ chain.theta**2 - (pi @ chain.theta) ** 2
    var_st, corrected = m2 - m1**2, m2 - m1**2 + (c2 - 2 * m1 * c1) / 50
    assert exact == pytest.approx(0.085983, abs=1e-6)
    assert abs(var_st - exact) > 1e-3 and abs(corrected - exact) < 2e-5


def test_sum_chain_is_the_exact_chain_for_one_parameter():
    """SumChain (states: sums of (j, j², …)) against ExactChain (states: Σj) where both apply."""
    from theory.engine.markov import SumChain

    loop = from_params("bernoulli", 25, {"p": 0.5}, prior_law="normal:var=2")
    exact, sums = ExactChain(loop), SumChain(loop)
    pe, ps = exact.stationary(), sums.stationary()
    assert ps @ sums.theta[:, 0] ** 2 == pytest.approx(pe @ exact.theta**2, abs=1e-12)


def test_fig2_ii_at_small_N_has_no_1_over_M_regime_yet():
    """Fig. 2 (ii)'s setting (both Curie–Weiss parameters, Gaussian priors of variance 2, Eq. 18 =
    N(0, I)) at N = 3, exactly: M·(1 − var θ2) grows (3.18, 4.64, 6.67 at M = 10, 20, 40), the local
    exponent of the gap is ≈ 0.47, below 1 (docs/paper.md); the MAP never returns |θ1| > 1.94 at M = 40,
    where Eq. 18 puts 5 % of its mass (the vertices' MAP sits at a distance ∝ log M)."""
    from theory.engine.markov import SumChain

    gaps, reach = [], []
    for M in (10, 20, 40):
        chain = SumChain(from_params("curie_weiss", M, {"theta1": 0.0, "theta2": 0.0}, family_args={"N": 3},
                                     prior_law="normal:var=2"))
        pi, th = chain.stationary(), chain.theta
        gaps.append(1 - (pi @ th**2 - (pi @ th) ** 2))
        reach.append(np.abs(th[:, 0]).max())
    gaps = np.array(gaps)
    assert gaps[1] == pytest.approx([1 - 0.8590836, 1 - 0.7680358], abs=1e-6)
    local = np.log2(gaps[:-1] / gaps[1:])
    assert np.all((local > 0.44) & (local < 0.5))
    assert reach[-1] == pytest.approx(1.933, abs=1e-3)


def test_the_one_over_M_regime_starts_late_when_eq18_reaches_toward_a_vertex():
    """Bernoulli, prior variance 12 (Eq. 18 = N(0, 6) in the log-odds): the derived coefficient is
    c = 8.08, but the exact M·(1 − var/var_st) is 3.13 at M = 100 and 3.97 at M = 400, still rising
    (docs/paper.md: the one-parameter control for Fig. 2 (ii)); with variance 2 it is 1.43 against 1.41."""
    def scaled_gap(var, M):
        chain = ExactChain(from_params("bernoulli", M, {"p": 0.5}, prior_law=f"normal:var={var}"))
        pi = chain.stationary()
        return M * (1 - (pi @ chain.theta**2 - (pi @ chain.theta) ** 2) / (var / 2))

    loop = from_params("bernoulli", 100, {"p": 0.5}, prior_law="normal:var=12")
    (m1, c1), (m2, c2) = F.finite_m_moments(loop.setting, [lambda x: x, lambda x: x**2])
    assert -(c2 - 2 * m1 * c1) / (m2 - m1**2) == pytest.approx(8.081, abs=2e-3)
    assert scaled_gap(12, 100) == pytest.approx(3.127, abs=1e-3)
    assert scaled_gap(12, 400) == pytest.approx(3.971, abs=1e-3)
    assert scaled_gap(2, 200) == pytest.approx(1.420, abs=1e-3)


def test_sum_chain_against_compositions_enumerated():
    """Curie–Weiss N = 3, both parameters, M = 6: every composition (n0..n3) of the M points,
    its multinomial probability under each fitted model, summed onto (Σj, Σj²) by hand; the dense
    stationary law gives the same var θ as SumChain's convolution and Perron vector."""
    import itertools
    from math import factorial

    from theory.engine.markov import SumChain

    M = 6
    loop = from_params("curie_weiss", M, {"theta1": 0.0, "theta2": 0.0}, family_args={"N": 3},
                       prior_law="normal:var=2")
    chain = SumChain(loop)
    nf = loop.numeric
    index = {tuple(np.round(v, 6)): i for i, v in enumerate(chain.phibar * M)}
    comps = [c for c in itertools.product(range(M + 1), repeat=4) if sum(c) == M]
    P = np.zeros((chain.size, chain.size))
    logq = nf.log_h[None] + chain.theta @ nf.phi_levels.T
    q = np.exp(logq - logq.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    for c in comps:
        weight = factorial(M) / np.prod([factorial(k) for k in c]) * np.prod(q ** np.array(c), axis=1)
        P[:, index[tuple(np.round(np.array(c) @ nf.phi_levels, 6))]] += weight
    A = P.T - np.eye(chain.size)
    A[-1] = 1.0
    pi = np.linalg.solve(A, np.eye(chain.size)[-1])
    ps = chain.stationary()
    assert len(index) == chain.size
    assert ps @ chain.theta**2 - (ps @ chain.theta) ** 2 == pytest.approx(
        pi @ chain.theta**2 - (pi @ chain.theta) ** 2, abs=1e-10)


def test_fig2_ii_with_theta1_held_is_one_over_M_at_N_3():
    """The one-parameter analogue of Fig. 2 (ii) at N = 3 (θ1 = 0 held, θ2 fitted, prior variance 2):
    the exact chain on sums follows the derived correction, var θ2 = 1 − 1.9305/M + O(M⁻²)
    (M² × residual 8.3, 8.7 at M = 40, 160), where the two-parameter loop is not yet 1/M."""
    from theory.engine.markov import SumChain

    residual = []
    for M in (40, 160):
        loop = from_params("curie_weiss", M, {"theta2": 0.0}, family_args={"N": 3}, fixed={"theta1": 0.0},
                           prior_law="normal:var=2")
        chain = SumChain(loop)
        pi, th = chain.stationary(), chain.theta[:, 0]
        (m1, c1), (m2, c2) = F.finite_m_moments(loop.setting, [lambda x: x, lambda x: x**2])
        assert m2 - m1**2 == pytest.approx(1.0, abs=1e-9) and c2 - 2 * m1 * c1 == pytest.approx(-1.9305, abs=1e-4)
        residual.append(pi @ th**2 - (pi @ th) ** 2 - 1 - (c2 - 2 * m1 * c1) / M)
    assert np.log2(residual[0] / residual[1]) / 2 >= 1.75
