"""The Monte Carlo engine: exact sampler against the naive one, absorption, refits, reproducibility."""

import json
import warnings

import numpy as np
import pytest
from scipy import stats

from theory.cli import main
from theory.engine import ClosedLoop, numeric_family
from theory.setting import L2, MAP, Setting
from theory.engine.estimators import solve_theta
from theory.params import from_params
from theory.engine.markov import ExactChain
from theory.engine.model import minimal_face
from theory.families import get_family

# (family, family args, fixed, init, truth for anchors)
CASES = {
    "bernoulli": ("bernoulli", {}, {}, {"p": 0.3}, None),
    "binomial": ("binomial", {"n": 4}, {}, {"p": 0.6}, None),
    "poisson": ("poisson", {}, {}, {"rate": 1.5}, None),
    "exponential": ("exponential", {}, {}, {"rate": 2.0}, None),
    "gaussian": ("gaussian", {}, {}, {"mean": 1.0, "var": 2.0}, None),
    "categorical": ("categorical", {"K": 3}, {}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, None),
    "curie_weiss": ("curie_weiss", {"N": 6}, {}, {"theta1": 0.1, "theta2": 0.3}, None),
    "curie_weiss-fixed": ("curie_weiss", {"N": 6}, {"theta2": 0.3}, {"theta1": 0.1}, None),
    "bernoulli-anchored": ("bernoulli", {}, {}, {"p": 0.8}, {"p": 0.3}),
    "gaussian-anchored": ("gaussian", {}, {}, {"mean": 1.0, "var": 2.0}, {"mean": 0, "var": 1}),
}

# Exact vs naive: two-sample Kolmogorov–Smirnov on every statistic after T generations.
# Family-wise false-fail rate ALPHA (Bonferroni over all comparisons in this module);
# KS is conservative for discrete laws, so the rate is at most ALPHA.
ALPHA, CHAINS, M, T = 1e-3, 3000, 8, 3
N_COMPARISONS = sum(2 if CASES[c][0] in ("gaussian", "categorical", "curie_weiss") and not CASES[c][2]
                    else 1 for c in CASES)


def _loop(case, sampler="exact", M=M, **kw):
    name, args, fixed, init, truth = CASES[case]
    return from_params(name, M, init, family_args=args, fixed=fixed, truth=truth,
                       anchors=2 if truth else 0, sampler=sampler, **kw)


@pytest.mark.parametrize("case", list(CASES))
def test_exact_and_naive_samplers_agree_in_distribution(case):
    exact = _loop(case).run(T, CHAINS, seed=1).state.mu
    naive = _loop(case, "naive").run(T, CHAINS, seed=2).state.mu
    for a in range(exact.shape[1]):
        p = stats.ks_2samp(exact[:, a], naive[:, a]).pvalue
        assert p > ALPHA / N_COMPARISONS, f"{case} phi{a + 1}: KS p = {p:.2g}"


def test_the_same_comparison_rejects_a_plausible_wrong_sampler():
    """Negative control: Σ(s − s̄)² drawn as var·χ²_M (mean treated as known) instead of χ²_{M−1}."""
    import dataclasses

    def wrong(rng, mu, m):
        mean, var = mu[..., 0], mu[..., 1] - mu[..., 0] ** 2
        total = rng.normal(m * mean, np.sqrt(m * var))
        return np.stack([total, var * rng.chisquare(m, size=mean.shape) + total**2 / m], axis=-1)

    family = dataclasses.replace(get_family("gaussian"), sum_sampler=wrong)
    init = family.natural_point(CASES["gaussian"][3])
    bad = ClosedLoop(family, M=M, init=init).run(T, CHAINS, seed=2).state.mu
    exact = _loop("gaussian").run(T, CHAINS, seed=1).state.mu
    var = lambda mu: mu[:, 1] - mu[:, 0] ** 2  # noqa: E731
    assert stats.ks_2samp(var(exact), var(bad)).pvalue < ALPHA / N_COMPARISONS


@pytest.mark.parametrize("case, labels", [
    ("bernoulli", {"phi1=0", "phi1=1"}),
    ("poisson", {"phi1=0"}),
    ("gaussian", {"phi1=s,phi2=s**2"}),
    ("categorical", {"phi1=1,phi2=0", "phi1=0,phi2=1", "phi1=0,phi2=0"}),
    ("curie_weiss", {"phi1=6,phi2=2.5", "phi1=-6,phi2=2.5"}),
    ("curie_weiss-fixed", {"phi1=6", "phi1=-6"}),
])
def test_absorbing_states_are_reached_and_labelled(case, labels):
    run = _loop(case, M=5).run(3000, 400, seed=3)
    absorbed = run.absorbed()
    assert absorbed["fraction"] > 0.95
    assert labels <= set(absorbed["by_state"]) or case == "curie_weiss"
    assert set(absorbed["by_state"]) <= set(run.labels)
    assert abs(sum(absorbed["by_state"].values()) - np.mean(run.state.vertex >= 0)) < 1e-12
    assert np.all(np.isfinite(run.state.mu))
    if case == "curie_weiss":  # every magnetisation level is a vertex of the polytope
        assert {"phi1=6,phi2=2.5", "phi1=-6,phi2=2.5"} & set(absorbed["by_state"])


@pytest.mark.parametrize("case", ["bernoulli", "poisson", "gaussian"])
def test_long_run_has_no_nan_and_no_warning(case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = _loop(case, M=100).run(10_000, 10_000, seed=4)
    # the raw summaries, before JSON turns an undefined value into null; θ is infinite at a
    # vertex, so once every chain is absorbed (finite families at M = 100 over 10^4
    # generations) θ's mean over interior chains is undefined and reported as such, and so is
    # the entropy's of a continuous family (−∞ on a point mass)
    everywhere = run.absorbed()["fraction"] == 1.0
    for summary in (run.final, run.time_average):
        for name, pair in summary.items():
            if everywhere and (name in run.loop.family.names or name == "entropy"):
                continue
            assert all(np.isfinite(x) for x in pair), (name, pair)
    _assert_no_nan(run.summary())  # JSON: null, never NaN


@pytest.mark.slow
@pytest.mark.parametrize("case", ["exponential", "categorical", "curie_weiss", "curie_weiss-fixed"])
def test_long_run_has_no_nan_and_no_warning_slow(case):
    test_long_run_has_no_nan_and_no_warning(case)


def _assert_no_nan(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            _assert_no_nan(v)
    elif isinstance(obj, list):
        for v in obj:
            _assert_no_nan(v)
    elif isinstance(obj, float):
        assert np.isfinite(obj)


def test_pure_loop_conserves_the_mean_exactly_in_expectation():
    """R1 seen by the engine: E[φ̄_t] = μ(θ_0) at every t (z-test, 4σ)."""
    loop = _loop("curie_weiss")
    run = loop.run(20, 20_000, seed=5)
    mu = run.state.mu
    z = (mu.mean(0) - loop.init_mu) / (mu.std(0, ddof=1) / np.sqrt(len(mu)))
    assert np.all(np.abs(z) < 4), z


# -- refits -------------------------------------------------------------------------------------
def test_newton_refit_matches_moments_on_every_face(rng):
    """CW N = 20 (2 statistics): random samples, many near or on faces; μ_F(θ) = φ̄ for all."""
    family = get_family("curie_weiss", N=20)
    nf = numeric_family(family)
    C, L = 4000, len(nf.levels)
    # samples concentrated on few adjacent levels put φ̄ on or next to edges
    centre = rng.integers(0, L, C)
    levels = np.clip(centre[:, None] + rng.integers(-1, 2, (C, 7)) * rng.integers(0, 2, (C, 1)), 0, L - 1)
    counts = np.stack([(levels == j).sum(1) for j in range(L)], axis=1)
    tau = counts @ nf.phi_levels / counts.sum(1, keepdims=True)
    face = minimal_face(nf, counts > 0)
    theta = solve_theta(nf, tau, np.zeros((C, 2)), face)
    mu = nf.mu(theta, face)
    assert np.all(np.abs(mu - tau) <= 1e-9 * nf.scale)
    assert (face.sum(1) == 1).any() and (face.sum(1) == 2).any() and face.all(1).any()


def test_map_and_l2_refits_solve_their_equations(rng):
    fam = get_family("poisson")
    nf = numeric_family(fam)
    phibar = np.array([[0.0], [0.5], [3.0]])
    theta = solve_theta(nf, phibar, np.zeros((3, 1)), lam=0.2)
    assert np.allclose(nf.mu(theta) + 0.2 * theta, phibar, atol=1e-9)  # finite even at φ̄ = 0
    est = MAP(nu=2.0, mu0=(1.0,))
    assert np.allclose(est.target(phibar, 10), (10 * phibar + 2.0) / 12)
    loop = ClosedLoop(Setting(fam, estimator=L2(0.2)), M=10, init={"theta": 0.0})
    run = loop.run(200, 500, seed=6)
    assert run.absorbed()["fraction"] == 0  # L2 keeps the Poisson rate away from 0


# -- exact Markov chains ------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["bernoulli", "binomial", "curie_weiss-fixed"])
def test_markov_chain_absorption_matches_simulation(case):
    loop = _loop(case, M=6)
    chain = ExactChain(loop)
    run = loop.run(4000, 20_000, seed=7)
    absorbed = run.absorbed()
    assert absorbed["fraction"] == 1.0
    z_time = (absorbed["time_mean"] - chain.mean_absorption_time()) / absorbed["time_sem"]
    zs = [z_time]
    for label, p in chain.absorption_probabilities().items():
        est = absorbed["by_state"].get(label, 0.0)
        zs.append((est - p) / np.sqrt(p * (1 - p) / run.chains))
    # 3 cases × 3 statistics, family-wise 1e-3 (Bonferroni): |z| < 3.9
    assert np.all(np.abs(zs) < 3.9), zs


def test_markov_chain_agrees_with_martingale_and_its_own_cdf():
    chain = ExactChain(_loop("bernoulli", M=20))
    # optional stopping: P(all ones) = p0
    assert chain.absorption_probabilities()["phi1=1"] == pytest.approx(0.3, abs=1e-12)
    cdf = chain.absorption_time_cdf(5000)
    assert np.all(np.diff(cdf) >= -1e-15) and cdf[-1] == pytest.approx(1, abs=1e-9)
    assert (1 - cdf).sum() + 1 == pytest.approx(chain.mean_absorption_time(), rel=1e-6)


def test_markov_chain_stationary_law_with_anchors():
    loop = _loop("bernoulli-anchored", M=10)
    chain = ExactChain(loop)
    pi = chain.stationary()
    assert pi @ chain.P == pytest.approx(pi, abs=1e-12)
    assert pi @ chain.phibar == pytest.approx(0.3, abs=1e-12)  # R5: the fixed point is μ*


# -- CLI ----------------------------------------------------------------------------------------
SIM = ["simulate", "gaussian", "--M", "20", "--init", "mean=1,var=2", "--truth", "mean=0,var=1",
       "--anchors", "1", "--generations", "50", "--chains", "200", "--burn-in", "10", "--json"]


def test_simulate_json_has_the_spec_fields_and_is_reproducible(capsys):
    assert main(SIM + ["--seed", "11"]) == 0
    first = capsys.readouterr().out
    assert main(SIM + ["--seed", "11"]) == 0
    assert capsys.readouterr().out == first
    out = json.loads(first)
    for key in ("family", "M", "anchors", "generations", "chains", "seed"):
        assert key in out
    observables = {"mean", "var", "theta1", "theta2", "entropy", "phi1", "phi2"}
    for key in ("final", "time_average"):
        assert set(out[key]["mean"]) == observables
        assert set(out[key]["var"]) == observables
    assert set(out["absorbed"]) == {"fraction", "by_state", "time_mean", "time_sem"}
    assert main(SIM + ["--seed", "12"]) == 0
    assert capsys.readouterr().out != first


def test_simulate_partial_mle_and_labels(capsys):
    assert main(["simulate", "curie_weiss", "--family-args", "N=10", "--M", "5", "--init",
                 "theta1=0.1,theta2=0.3", "--fixed", "theta2", "--generations", "3000",
                 "--chains", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fixed"] == {"theta2": 0.3}
    assert set(out["absorbed"]["by_state"]) <= {"phi1=10", "phi1=-10"}
    assert out["absorbed"]["fraction"] == 1.0


def test_infinite_space_without_sum_sampler_is_a_clear_error():
    import sympy as sp

    from theory import InputError
    from theory.engine.model import NumericFamily
    from theory.family import ExponentialFamily, Naturals
    from theory.symbols import s, thetas

    (theta,) = thetas(1)
    geo = ExponentialFamily(name="geometric", space=Naturals(), phi=(s,), h=sp.Integer(1),
                            conventional={"q": sp.exp(theta)}, negative=("theta",))
    with pytest.raises(InputError, match="sum_sampler"):
        NumericFamily(geo)


def test_advancing_chains_in_blocks_changes_nothing(monkeypatch):
    """Without anchors a block consumes the same random stream as the whole: identical runs."""
    import theory.engine.loop as loop_module

    def final(block):
        monkeypatch.setattr(loop_module, "CHAIN_BLOCK", block)
        loop = from_params("curie_weiss", 20, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 6})
        state = loop.run(30, 3000, seed=2).state
        return state.mu, state.hit_time, state.vertex

    for whole, blocked in zip(final(2**18), final(777), strict=True):
        assert np.array_equal(whole, blocked)


@pytest.mark.parametrize("name, args", [("curie_weiss", {"N": 6}), ("categorical", {"K": 4}),
                                        ("curie_weiss", {"N": 40}), ("curie_weiss", {"N": 60}),
                                        ("bernoulli", {}), ("binomial", {"n": 10})])
def test_bit_mask_faces_equal_the_facet_intersection(name, args, rng):
    """minimal_face, face sizes and point masses on bit masks against the (C, F, L) formula."""
    nf = numeric_family(get_family(name, **args))
    L = len(nf.levels)
    support = rng.random((3000, L)) < rng.choice([0.03, 0.2, 0.9], (3000, 1))
    support[np.arange(3000), rng.integers(0, L, 3000)] = True  # a sample holds at least one level
    contains = ~(support[:, None, :] & ~nf.facets[None]).any(axis=-1)
    general = np.all(~contains[:, :, None] | nf.facets[None], axis=1)
    face = minimal_face(nf, support)
    assert np.array_equal(face, general)
    size, full = nf.face_size_full(face)
    assert np.array_equal(size, general.sum(-1)) and np.array_equal(full, general.all(-1))
    single = general.sum(-1) == 1
    at = nf.phi_levels[general.argmax(-1)]
    want = np.full(len(face), -1)
    for i, v in enumerate(nf._vertices):
        want[single & np.all(at == v, axis=-1)] = i
    assert np.array_equal(nf.vertex_index(np.zeros((len(face), nf.d)), face), want)
    assert single.any() and general.all(-1).any()
    assert nf.d == 1 or (general.sum(-1) == 2).any()


def test_saturated_family_is_solved_on_every_face_in_closed_form(rng):
    """Categorical K = 4: θ from the level weights matches the moments on every face of the simplex."""
    nf = numeric_family(get_family("categorical", K=4))
    assert nf.saturated and not numeric_family(get_family("curie_weiss", N=6)).saturated
    counts = rng.multinomial(5, np.full(4, 0.25), size=3000)
    tau = counts @ nf.phi_levels / 5
    face = minimal_face(nf, counts > 0)
    ok = face.sum(-1) > 1
    theta = nf.theta_on_face(tau[ok], face[ok])
    assert np.all(np.isfinite(theta))
    assert np.max(np.abs(nf.mu(theta, face[ok]) - tau[ok])) < 1e-12
    assert (~face[ok].all(-1)).any()


def test_a_run_gives_the_callers_blas_threads_back():
    """The engine holds BLAS to one thread while it runs (its products are small) and restores
    the caller's setting: the library changes nothing in the user's process."""
    from threadpoolctl import threadpool_info

    from theory.params import from_params

    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    from_params("curie_weiss", 50, {"theta1": 0.1, "theta2": 0.2}, family_args={"N": 4}).run(3, 20)
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before


def test_the_blas_limit_holds_inside_every_run_and_follows_the_callers_later_settings(monkeypatch):
    """The libraries are looked up once (not on every run), yet each run holds BLAS to one thread
    and gives back what the caller set just before it, also when the caller changed it since."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from theory.engine import loop as engine_loop
    from theory.params import from_params

    loop = from_params("bernoulli", 20, {"p": 0.3})
    inside, run = [], engine_loop.ClosedLoop._run

    def spy(self, *args):
        inside.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return run(self, *args)

    monkeypatch.setattr(engine_loop.ClosedLoop, "_run", spy)
    loop.run(2, 5)  # (any module the first run imports, imported)
    engine_loop.blas_controller.cache_clear()
    for threads in (2, 3):
        with threadpool_limits(threads, user_api="blas"):
            before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
            loop.run(2, 5)
            assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before
    assert all(seen <= {1} for seen in inside) and len(inside) == 3
    assert engine_loop.blas_controller.cache_info().misses == 1  # looked up once for both runs
