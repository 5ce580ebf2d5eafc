"""Tests that bite: each catches a plausible bug that the Monte Carlo checks alone let through.

A light mutation study found that these mutants passed the suite: the time average divided by T
instead of T − burn-in; a 33 % error in the Itô (κ) term of R3; a loose Newton tolerance;
absorption labels swapped; the R6 formula never compared with the exact chain. A second one
found a prior entering M times per generation instead of once, and the R9 drift divided by M + 1
instead of M (equal to O(M⁻²), so no M ladder of simulations can see it), caught only by the
byte-for-byte comparison of the committed derivations. Each test below fails on its mutant,
by numbers against an oracle written here (a hand MAP, U from its definition, an enumerated
law); tests/mutants.py lists the mutants with the tests that kill them (`python tests/mutants.py`).
"""

import functools

import numpy as np
import pytest
import sympy as sp

from theory import get_family
from theory import symbols as S
from theory.engine import numeric_family
from theory.engine.estimators import solve_theta
from theory.params import from_params
from theory.engine.markov import ExactChain
from theory.numeric import evaluate
from theory.results import absorption, recursion


def test_time_average_is_over_the_generations_after_the_burn_in():
    run = from_params("bernoulli", 20, {"p": 0.4}).run(50, 200, seed=2, burn_in=20, record_every=1)
    t = np.array(run.trace["t"])
    means = np.array(run.trace["mean"]["phi1"])
    assert run.time_average["phi1"].mean == pytest.approx(means[t > 20].mean(), abs=1e-12)


def test_r3_ito_term_against_textbook_drifts():
    """Pure loop, MLE: Gaussian E[Δθ] = 3θ/M + O(M⁻²) from E[1/χ²_k] = 1/(k−2); Poisson
    E[Δ log μ] = −1/(2Mμ) by the delta method. A 10 % error in the κ term changes both."""
    th1, th2 = get_family("gaussian").theta
    drift = recursion.drift(get_family("gaussian"), "mle").result["drift"].subs(S.M0, 0)
    assert sp.simplify(drift - sp.Matrix([3 * th1, 3 * th2]) / S.M) == sp.zeros(2, 1)
    (th,) = get_family("poisson").theta
    drift = recursion.drift(get_family("poisson"), "mle").result["drift"][0].subs(S.M0, 0)
    assert sp.simplify(drift + sp.exp(-th) / (2 * S.M)) == 0


def test_newton_refit_solves_to_rounding(rng):
    nf = numeric_family(get_family("curie_weiss", N=6))
    theta = rng.normal(0, 0.5, (500, 2))
    tau = nf.mu(theta)
    fitted = solve_theta(nf, tau, np.zeros_like(theta))
    assert np.max(np.abs(nf.mu(fitted) - tau) / nf.scale) < 1e-9
    assert np.max(np.abs(fitted - theta)) < 1e-6


def test_absorption_labels_against_a_hand_computed_case():
    """Bernoulli from p0 = 0.95: P(all ones) = 0.95 (optional stopping); a label swap gives 0.05."""
    run = from_params("bernoulli", 3, {"p": 0.95}).run(2000, 4000, seed=1)
    by = run.absorbed()["by_state"]
    sem = np.sqrt(0.95 * 0.05 / 4000)
    assert abs(by["phi1=1"] - 0.95) < 5 * sem and abs(by["phi1=0"] - 0.05) < 5 * sem
    # Curie–Weiss (N = 4) pushed up: nearly every chain ends with all spins up
    run = from_params("curie_weiss", 3, {"theta1": 2.0, "theta2": 0.0}, family_args={"N": 4}).run(
        500, 500, seed=1)
    top = max(run.absorbed()["by_state"].items(), key=lambda kv: kv[1])
    assert top[0] == "phi1=4,phi2=1.5" and top[1] > 0.8


@pytest.mark.parametrize("name,args,init", [("bernoulli", {}, {"p": 0.3}),
                                            ("binomial", {"n": 3}, {"p": 0.7}),
                                            ("curie_weiss", {"N": 4}, {"theta1": 0.4})])
def test_r6_formula_equals_the_exact_chain(name, args, init):
    """The optional-stopping probabilities of R6 against the exact Markov chain (independent code)."""
    fixed = {"theta2": 0.0} if name == "curie_weiss" else {}
    loop = from_params(name, 7, init, family_args=args, fixed=fixed)
    chain = ExactChain(loop).absorption_probabilities()
    res = absorption.absorption(loop.family).result
    mu0 = float(loop.init_mu[0])
    for label, p in chain.items():
        assert float(res[f"P[{label}]"].subs(loop.family.mu_symbols[0], mu0)) == pytest.approx(p, abs=1e-9)


def test_segment_faces_fast_path_equals_the_facet_intersection(rng):
    from theory.engine.model import minimal_face

    for fam in (get_family("bernoulli"), get_family("binomial", n=5)):
        nf = numeric_family(fam)
        support = rng.random((3000, len(nf.levels))) < 0.2
        support = support[support.any(axis=1)]  # a sample holds at least one level
        contains = ~(support[:, None, :] & ~nf.facets[None]).any(axis=-1)
        general = np.all(~contains[:, :, None] | nf.facets[None], axis=1)
        assert np.array_equal(minimal_face(nf, support), general)


# -- the MAP refit: the prior enters once per generation ------------------------------------------
# Each case: a loop, and by hand (not from the toolkit's declarations) the family's log-partition
# A(θ), the prior's log-density log p0(θ) and the number n of points a generation fits. The
# refit must maximise n[θ·φ̄ − A(θ)] + log p0(θ) with the prior once: a prior entering M (or n)
# times, a refit over M points instead of n, or anchors and fresh points confused all move θ'.
def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def _cw_A(N):
    """A(θ1, θ2) of Curie–Weiss (Eq. 7) by enumeration of the magnetisation levels m = 2k − N."""
    from scipy.special import comb, logsumexp

    m = 2.0 * np.arange(N + 1) - N
    logw = np.log(comb(N, np.arange(N + 1)))
    return lambda th: logsumexp(logw + th[0] * m + th[1] * (m**2 - N) / (2 * N))


MAP_CASES = {
    # Fig. 3: exponential prior (λ = 1) on the rate, one fresh point: a closed-form refit
    "poisson-fig3": (dict(family="poisson", M=30, init={"rate": 0.7}, truth={"rate": 1.0}, external=1,
                          prior_law="exponential:rate=1,on=rate"),
                     31, lambda th: np.exp(th[0]), lambda th: -np.exp(th[0])),
    # Gamma(3, rate 2) prior, 3 anchors among the M, one fresh point and one fixed point s = 2
    "poisson-anchors": (dict(family="poisson", M=30, init={"rate": 0.7}, truth={"rate": 1.5}, anchors=3,
                             external=1, data=[{"s": 2}], prior_law="gamma:shape=3,rate=2,on=rate"),
                        32, lambda th: np.exp(th[0]), lambda th: 2 * th[0] - 2 * np.exp(th[0])),
    # exponential family, Gamma prior on the rate = −θ
    "exponential": (dict(family="exponential", M=25, init={"rate": 2.0},
                         prior_law="gamma:shape=3,rate=2,on=rate"),
                    25, lambda th: -np.log(-th[0]), lambda th: 2 * np.log(-th[0]) + 2 * th[0]),
    # Beta(2, 3) prior on p: a finite space, the Newton refit with a penalty
    "bernoulli": (dict(family="bernoulli", M=20, init={"p": 0.3}, truth={"p": 0.6}, external=1,
                       data=[{"phi1": 1}], prior_law="beta:a=2,b=3,on=p"),
                  22, lambda th: np.log1p(np.exp(th[0])),
                  lambda th: np.log(_sigmoid(th[0])) + 2 * np.log(_sigmoid(-th[0]))),
    # Fig. 2 (iii) at N = 4: both parameters, Gaussian prior of variance 1/2, a fixed point Σσ = 0
    "curie_weiss": (dict(family="curie_weiss", family_args={"N": 4}, M=20,
                         init={"theta1": 0.1, "theta2": 0.2}, data=[{"phi1": 0}], prior_law="normal:var=0.5"),
                    21, _cw_A(4), lambda th: -(th[0] ** 2 + th[1] ** 2)),
    # Gaussian, both natural parameters, Gaussian prior of variance 2: the infinite-space Newton refit
    "gaussian": (dict(family="gaussian", M=20, init={"mean": 1.0, "var": 2.0}, prior_law="normal:var=2"),
                 20, lambda th: -th[0] ** 2 / (4 * th[1]) - 0.5 * np.log(-2 * th[1]),
                 lambda th: -(th[0] ** 2 + th[1] ** 2) / 4),
}


def _hand_map(A, log_p0, n, phibar, start):
    """argmax_θ n[θ·φ̄ − A(θ)] + log p0(θ), by SciPy's Nelder–Mead polished with BFGS (no toolkit code)."""
    from scipy.optimize import minimize

    def f(th):
        with np.errstate(all="ignore"):
            v = -(n * (th @ phibar - A(th)) + log_p0(th))
        return v if np.isfinite(v) else np.inf

    x = minimize(f, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000}).x
    return minimize(f, x, method="BFGS", options={"gtol": 1e-11}).x


@pytest.mark.parametrize("case", list(MAP_CASES))
def test_one_generation_refits_with_the_prior_once(case, monkeypatch, rng):
    """One generation of the engine on 6 chains: the draws it makes (M − M0 model points, then
    M0 + m fresh points from the truth) plus the fixed data, refitted, must give the hand MAP
    on n = M + m + |data| points. Catches the prior entering M times, n = M, anchors drawn on
    top of the M, fresh points or data left out of the sum."""
    options, n, A, log_p0 = MAP_CASES[case]
    options = dict(options)
    name, M, init = options.pop("family"), options.pop("M"), options.pop("init")
    loop = from_params(name, M, init, **options)
    assert loop.n_total == n
    draws = []
    real_draw = loop._draw

    def recorded(nf, theta, mu, face, m, rng, levels=None):
        sums, counts = real_draw(nf, theta, mu, face, m, rng, levels)
        draws.append((m, sums.copy()))
        return sums, counts

    monkeypatch.setattr(loop, "_draw", recorded)
    real_truth = loop._draw_truth  # the exact sampler draws the truth's points from its law worked out once

    def recorded_truth(C, m, rng):
        sums, counts = real_truth(C, m, rng)
        draws.append((m, sums.copy()))
        return sums, counts

    monkeypatch.setattr(loop, "_draw_truth", recorded_truth)
    state = loop.initial_state(6)
    loop.step(state, 1, rng)
    M0, fresh = options.get("anchors", 0), options.get("external", 0)
    assert [m for m, _ in draws] == [M - M0] + ([M0 + fresh] if M0 + fresh else [])
    data = np.array(loop.setting.data, float).reshape(-1, loop.family.d).sum(axis=0)
    total = sum(s for _, s in draws) + data
    for c in range(6):
        want = _hand_map(A, log_p0, n, total[c] / n, loop.theta0[0])
        got = loop.numeric.theta_closed_form(state.mu[c:c + 1])[0] if not loop.numeric.finite \
            else state.theta[c]
        assert got == pytest.approx(want, rel=1e-6, abs=1e-7), (c, total[c])


# -- R9: the drift and noise of θ per generation, against U built here from its definition --------
def _hand_A_cw(N, t1, t2):
    return sp.log(sum(sp.binomial(N, k) * sp.exp(t1 * (2 * k - N) + t2 * ((2 * k - N) ** 2 - N) / (2 * N))
                      for k in range(N + 1)))


@functools.cache
def _r9_cases():
    """(setting, θ symbols, A by hand, log p0 by hand, m, μ_q by hand): U = ½ log det ∇∇A − log p0
    + m[A − θ·μ_q] up to a constant, the paper's Eq. 12 written out (not read from the toolkit)."""
    from theory.params import derivation_setting

    t, t1, t2 = (sp.Symbol(n, real=True) for n in ("theta", "theta1", "theta2"))
    ts = sp.Symbol("theta_star", real=True)
    out = {}
    pois = get_family("poisson")  # Fig. 3: one fresh point, exponential prior on the rate
    out["poisson-fig3"] = (derivation_setting(pois, 1, (), "exponential:rate=1,on=rate"), [t],
                           sp.exp(t), -sp.exp(t), 1, [sp.exp(ts)])
    cw = get_family("curie_weiss", fixed={"theta2": 0}, N=10)  # Fig. 2 (i): Σσ = −6, ML
    out["curie_weiss-fig2i"] = (derivation_setting(cw, 0, [{"phi1": -6}]), [t1],
                                _hand_A_cw(10, t1, 0), sp.Integer(0), 1, [-6])
    bern = get_family("bernoulli")  # two fresh points, two fixed ones, Beta(2, 3) prior on p
    p = 1 / (1 + sp.exp(-t))
    out["bernoulli"] = (derivation_setting(bern, 2, [{"phi1": 1}, {"phi1": 0}], "beta:a=2,b=3,on=p"), [t],
                        sp.log(1 + sp.exp(t)), sp.log(p) + 2 * sp.log(1 - p), 4,
                        [(2 / (1 + sp.exp(-ts)) + 1) / 4])
    cw4 = get_family("curie_weiss", N=4)  # Fig. 2 (iii) at N = 4: Gaussian prior of variance 1/2
    out["curie_weiss-fig2iii"] = (derivation_setting(cw4, 0, [{"phi1": 0}], "normal:var=0.5"), [t1, t2],
                                  _hand_A_cw(4, t1, t2), -(t1**2 + t2**2), 1, [0, sp.Rational(-1, 2)])
    return out


@pytest.mark.parametrize("case", ["poisson-fig3", "curie_weiss-fig2i", "bernoulli", "curie_weiss-fig2iii"])
def test_r9_drift_is_minus_chi_inverse_grad_U_over_M(case, rng):
    """E[Δθ] = −χ⁻¹∇U/M and Cov[Δθ] = χ⁻¹/M (Eqs. 12–15), at random points and M = 7: a drift
    over M + 1, a noise over M², the prior with the wrong sign or weight, m miscounted are
    O(1) here (an M ladder of simulations cannot see M + 1: it changes only the O(M⁻²) term)."""
    from theory.results import general

    setting, theta, A, log_p0, m, mu_q = _r9_cases()[case]
    chi = sp.hessian(A, theta)
    # det by hand: SymPy's det simplifies the 2×2 of sums for minutes
    det = chi[0, 0] if len(theta) == 1 else chi[0, 0] * chi[1, 1] - chi[0, 1] * chi[1, 0]
    U = sp.log(det) / 2 - log_p0 + m * (A - sum(a * b for a, b in zip(theta, mu_q, strict=True)))
    star_sym = [sp.Symbol("theta_star", real=True)]
    grad_U = sp.lambdify(theta + star_sym, [sp.diff(U, x) for x in theta])
    chi_f = sp.lambdify(theta, chi)
    hand_U = sp.lambdify(theta + star_sym, U)
    res = general.sde(setting).result
    names = [x.name for x in theta]
    star = [n + "_star" for n in names]
    base = None
    for _ in range(3):
        point = dict(zip(names, rng.uniform(-0.8, 0.8, len(names)), strict=True))
        point |= {s: 0.3 for s in star} | {"M": 7}
        args = [point[n] for n in names] + [0.3]
        chi_inv = np.linalg.inv(np.asarray(chi_f(*args[:-1]), float))
        drift = np.asarray(evaluate(res["drift"], point), float).ravel()
        assert drift == pytest.approx(-chi_inv @ np.asarray(grad_U(*args), float) / 7, rel=1e-9, abs=1e-12)
        cov = np.asarray(evaluate(res["cov"], point), float).reshape(chi_inv.shape)
        assert cov == pytest.approx(chi_inv / 7, rel=1e-9)
        gap = float(evaluate(res["U"], point)) - hand_U(*args)  # U up to a constant
        base = gap if base is None else base
        assert gap == pytest.approx(base, abs=1e-9)


@pytest.mark.parametrize("name,args,theta,theta_star", [("bernoulli", {}, 0.4, -0.7),
                                                        ("binomial", {"n": 3}, -0.2, 0.9)])
def test_r1_r2_with_anchors_equal_the_exact_one_step_law(name, args, theta, theta_star):
    """M = 7 points, M0 = 3 of them anchors: Σφ = K1 + K2 with K1 ~ Bin(n(M − M0), p),
    K2 ~ Bin(n M0, p*) independent; E and Var of φ̄ = Σφ/M by enumeration against R1 and R2
    (the existing tests see only M0 = 0)."""
    from scipy import stats

    from theory.results import martingale

    fam = get_family(name, **args)
    n = args.get("n", 1)
    M, M0 = 7, 3
    p, p_star = 1 / (1 + np.exp(-theta)), 1 / (1 + np.exp(-theta_star))
    law = np.convolve(stats.binom.pmf(np.arange(n * (M - M0) + 1), n * (M - M0), p),
                      stats.binom.pmf(np.arange(n * M0 + 1), n * M0, p_star))
    phibar = np.arange(len(law)) / M
    mean = law @ phibar
    var = law @ (phibar - mean) ** 2
    point = {"theta": theta, "theta_star": theta_star, "M": M, "M0": M0}
    r1, r2 = martingale.martingale(fam).result["mean"][0], martingale.covariance(fam).result["cov"][0, 0]
    assert float(evaluate(r1, point)) == pytest.approx(mean, rel=1e-12)
    assert float(evaluate(r2, point)) == pytest.approx(var, rel=1e-12)


def test_every_mutant_still_applies():
    """tests/mutants.py (run by hand: `python tests/mutants.py`) lists mutants of the source and
    the tests that kill them; each mutant's text must still be in its file once, and its killing
    tests must exist, or the list has rotted."""
    import ast

    from mutants import MUTANTS, ROOT

    for m in MUTANTS:
        assert (ROOT / m.file).read_text().count(m.old) == 1, m.name
        for node in m.kill:
            path, _, func = node.partition("::")
            tree = ast.parse((ROOT / path).read_text())
            names = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
            assert not func or func in names, (m.name, node)


def _cw_map_theta(total, n, N, var):
    """θ' solving n(φ̄ − N tanh θ) − θ/var = 0 (Curie–Weiss with θ2 = 0, Gaussian prior once),
    for every Σφ = total at once, by bisection: the left side decreases in θ."""
    lo, hi = np.full(total.shape, -30.0), np.full(total.shape, 30.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        up = total - n * N * np.tanh(mid) - mid / var > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize("case", ["curie_weiss", "bernoulli"])
def test_r9_drift_is_the_exact_one_step_mean_at_large_M(case):
    """The physics behind R9 (not only its algebra): the exact E[θ' − θ] of one generation, by
    enumerating the law of the sum (a binomial: the M model points, convolved with the fresh
    points) and refitting by hand, is D/M + c/M² + O(M⁻³); Richardson's 2f(2M) − f(M) on
    f(M) = M E[θ' − θ] leaves D with an O(M⁻²) error (~10⁻⁷ here), D = −χ⁻¹∇U from R9.
    A wrong weight of the prior, of the external points or of the ½ log det χ term is O(1)."""
    from scipy import stats

    from theory.params import derivation_setting
    from theory.results import general

    if case == "curie_weiss":  # N = 4, θ2 = 0, fixed point Σσ = −2, N(0, 1) prior on θ1
        N, theta0, data, fresh = 4, 0.3, -2.0, 0
        setting = derivation_setting(get_family("curie_weiss", fixed={"theta2": 0}, N=N), 0,
                                     [{"phi1": -2}], "normal:var=1")
        point = {"theta1": theta0}
    else:  # one fresh point from p* = σ(−0.4), Beta(2, 3) prior on p, no fixed data
        N, theta0, data, fresh = 1, 0.3, 0.0, 1
        setting = derivation_setting(get_family("bernoulli"), 1, (), "beta:a=2,b=3,on=p")
        point = {"theta": theta0, "theta_star": -0.4}

    def mean_step(M):
        n = M + fresh + (case == "curie_weiss")
        law = stats.binom.pmf(np.arange(N * M + 1), N * M, (1 + np.tanh(theta0)) / 2 if N > 1
                              else 1 / (1 + np.exp(-theta0)))
        if fresh:
            law = np.convolve(law, stats.binom.pmf(np.arange(fresh + 1), fresh, 1 / (1 + np.exp(0.4))))
        K = np.arange(len(law))
        if case == "curie_weiss":
            theta = _cw_map_theta(2.0 * K - N * M + data, n, N, 1.0)
        else:  # p' = (Σφ + a − 1)/(n + a + b − 2)
            p = (K + 1) / (n + 3)
            theta = np.log(p / (1 - p))
        return M * (law @ theta - theta0)

    D = 2 * mean_step(4000) - mean_step(2000)
    derived = float(evaluate(general.sde(setting).result["drift"][0], point | {"M": 1}))
    assert D == pytest.approx(derived, rel=1e-5)
    assert abs(mean_step(2000) - derived) > 1e-4 * abs(derived)  # the O(1/M) term is really there
