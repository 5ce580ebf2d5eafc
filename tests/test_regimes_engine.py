"""The engine under the data regimes (issue 21): accumulate, subsample and M_t schedules.

Exact against naive: the exact engine (the pool's Σφ and level counts, the multivariate
hypergeometric subsample, random keys) and the naive reference (every point kept, the refit
summed from the raw points, the subsample a random permutation's head) are compared in law at
a few generations t: a two-sample z on the mean and on the variance over chains of each
component of μ_t. Each case is one family of comparisons at family-wise false-fail rate
ALPHA (Šidák over its comparisons); the negative controls (a pool lagging one generation, a
subsample drawn with replacement) must be rejected by the same test.
"""

import pickle

import numpy as np
import pytest
from conftest import SmoothedDraws

from theory.cli import main
from theory.engine import ClosedLoop
from theory.engine import loop as loop_module
from theory.engine.collapse import classify
from theory.engine.lattice import lattice_law
from theory.engine.markov import ExactChain
from theory.engine.sampling import subsample_counts
from theory.engine.segment import SegmentChains, segment_law
from theory.errors import InputError
from theory.params import from_params
from theory.stats import threshold as sidak_threshold

ALPHA = 1e-3          # family-wise false-fail rate of each comparison below
CHAINS = 4000
TIMES = (1, 2, 6)     # generations compared (the run's last is the largest)

# name -> (family, family args, init, M, keywords of from_params)
CASES = {
    "bernoulli-accumulate": ("bernoulli", {}, {"p": 0.3}, 10, {"regime": "accumulate"}),
    "bernoulli-subsample": ("bernoulli", {}, {"p": 0.3}, 10, {"regime": "subsample"}),
    "poisson-accumulate": ("poisson", {}, {"rate": 2.0}, 5, {"regime": "accumulate"}),
    "poisson-subsample": ("poisson", {}, {"rate": 2.0}, 5, {"regime": "subsample"}),
    # the Gaussian's replace step draws the MLE's (mean, var) directly (ClosedLoop._mle_step)
    "gaussian-replace": ("gaussian", {}, {"mean": 0.0, "var": 1.0}, 5, {}),
    "gaussian-accumulate": ("gaussian", {}, {"mean": 0.0, "var": 1.0}, 5, {"regime": "accumulate"}),
    "gaussian-subsample": ("gaussian", {}, {"mean": 0.0, "var": 1.0}, 5, {"regime": "subsample"}),
    "categorical-accumulate": ("categorical", {"K": 3}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, 5,
                               {"regime": "accumulate"}),
    "categorical-subsample": ("categorical", {"K": 3}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, 5,
                              {"regime": "subsample"}),
    "bernoulli-linear": ("bernoulli", {}, {"p": 0.3}, 5, {"M_schedule": "linear:5"}),
    "bernoulli-accumulate-linear": ("bernoulli", {}, {"p": 0.3}, 5,
                                    {"regime": "accumulate", "M_schedule": "linear:5"}),
    "poisson-subsample-fresh": ("poisson", {}, {"rate": 3.0}, 5,
                                {"regime": "subsample", "external": 1, "truth": {"rate": 1.5}}),
    "bernoulli-subsample-data": ("bernoulli", {}, {"p": 0.3}, 5, {"regime": "subsample", "data": [{"phi1": 1}]}),
    # binomial sums under accumulate: the exact engine's segment path (engine.segment)
    "curie_weiss-accumulate": ("curie_weiss", {"N": 6}, {"theta1": 0.2, "theta2": 0}, 5,
                               {"regime": "accumulate", "fixed": {"theta2": 0}}),
    "binomial-accumulate-anchored": ("binomial", {"n": 3}, {"p": 0.7}, 5,
                                     {"regime": "accumulate", "truth": {"p": 0.4}, "anchors": 2}),
    # the simplex step (ClosedLoop._advance_simplex: draws from μ's barycentric coordinates) against
    # the naive sampler's draws from θ: M = 4 puts most chains on edges and vertices by t = 6
    "categorical-replace": ("categorical", {"K": 3}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, 4, {}),
    "categorical4-replace": ("categorical", {"K": 4}, {"p1": 0.1, "p2": 0.2, "p3": 0.3, "p4": 0.4}, 4, {}),
    "categorical-anchored": ("categorical", {"K": 3}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, 4,
                             {"anchors": 1, "truth": {"p1": 0.6, "p2": 0.1, "p3": 0.3}}),
    "categorical-data": ("categorical", {"K": 3}, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, 4,
                         {"data": [{"phi1": 0, "phi2": 1}]}),
}


def _loop(case, sampler="exact", cls=None):
    name, args, init, M, kw = CASES[case]
    loop = from_params(name, M, init, family_args=args, sampler=sampler, **kw)
    if cls is not None:
        loop = cls(loop.setting, loop.M, dict(loop.init), sampler)
    return loop


def _per_chain(loop, seed):
    """μ_t of every chain at each generation of TIMES, {t: (C, d)}."""
    tr = loop.run(max(TIMES), CHAINS, seed=seed, record_every=1, keep=CHAINS).trace_arrays()
    d = loop.family.d
    return {t: np.stack([tr["chains"][f"phi{a + 1}"][t] for a in range(d)], axis=-1) for t in TIMES}


def _z_scores(a, b):
    """Two-sample z of the means and of the variances of each column (asymptotic standard errors:
    Var(x̄) = s²/n, Var(s²) = (m4 − s⁴)/n)."""
    out = []
    for x, y in zip(a.T, b.T, strict=True):
        se = [np.var(v, ddof=1) for v in (x, y)]
        m4 = [np.mean((v - v.mean()) ** 4) for v in (x, y)]
        scale = np.sqrt(se[0] / len(x) + se[1] / len(y))
        out.append(0.0 if scale == 0 else (x.mean() - y.mean()) / scale)
        scale = np.sqrt((m4[0] - se[0] ** 2) / len(x) + (m4[1] - se[1] ** 2) / len(y))
        out.append(0.0 if scale == 0 else (se[0] - se[1]) / scale)
    return np.array(out)


def _largest_z(exact, naive):
    """(largest |z| over TIMES × components × (mean, variance), the Šidák threshold at ALPHA)."""
    z = np.concatenate([_z_scores(exact[t], naive[t]) for t in TIMES])
    return float(np.abs(z).max()), sidak_threshold(len(z), ALPHA)


@pytest.mark.parametrize("case", list(CASES))
def test_exact_and_naive_agree_in_law(case):
    z, threshold = _largest_z(_per_chain(_loop(case), 1), _per_chain(_loop(case, "naive"), 2))
    assert z < threshold, f"{case}: |z| = {z:.2f} >= {threshold:.2f}"


class StalePool(ClosedLoop):
    """Negative control: the refit of generation t ≥ 2 reads a pool one generation behind (its
    generation t − 1 draw in place of generation t's: generation 1 counted twice). It takes the
    general path, whose draws it intercepts (a binomial-sum family's own step and an infinite
    family's draw inline)."""

    _segment = binomial_sum_law = None
    _sum_step_applies = False

    def _draw_generation(self, state, idx, face, t, rng):
        drawn = super()._draw_generation(state, idx, face, t, rng)
        if t == 1:  # every chain's last draw, by chain (absorbed chains drop out of idx)
            self.previous = [None if a is None else np.zeros((len(state.mu),) + a.shape[1:], a.dtype)
                             for a in drawn]
        stale = [None if p is None else p[idx].copy() for p in self.previous] if t > 1 else drawn
        for p, a in zip(self.previous, drawn, strict=True):
            if p is not None:
                p[idx] = a
        return tuple(stale)


@pytest.mark.parametrize("case", ["bernoulli-accumulate", "gaussian-accumulate"])
def test_the_comparison_rejects_a_pool_off_by_one_generation(case):
    z, threshold = _largest_z(_per_chain(_loop(case, cls=StalePool), 1), _per_chain(_loop(case, "naive"), 2))
    assert z > threshold, f"{case}: the stale pool passed, |z| = {z:.2f}"


def test_the_gaussian_mle_step_is_taken_and_the_comparison_rejects_an_unbiased_variance(monkeypatch):
    """Control: the replace step's variance drawn as var·χ²_{m−1}/(m − 1) (the unbiased estimate,
    not the MLE) is rejected by the same comparison."""
    from theory.families import gaussian

    mle = gaussian.sum_sampler.mle

    def unbiased(rng, mean, var, m, out=None):
        mle(rng, mean, var, m, out)
        new_var = var if out is None else out[1]
        new_var *= m / (m - 1)
    monkeypatch.setattr(gaussian.sum_sampler, "mle", unbiased)
    loop = _loop("gaussian-replace")
    assert loop._sum_step(loop.initial_state(2)) is not None  # (the MLE step, not the sums')
    z, threshold = _largest_z(_per_chain(loop, 1), _per_chain(_loop("gaussian-replace", "naive"), 2))
    assert z > threshold, f"the unbiased variance passed, |z| = {z:.2f}"


class SampleFrequency(SegmentChains):
    """Negative control of the segment path: under accumulate each draw reads the frequency of the
    generation's own sample, K_t/(n n_t) (the replace loop's model), not the pool's."""

    def step(self, t):
        before = self.pool.copy()
        super().step(t)
        np.divide(self.pool - before, self.n * self.loop.sample_size(t), out=self.p)


@pytest.mark.parametrize("case", ["bernoulli-accumulate", "curie_weiss-accumulate"])
def test_the_segment_path_is_taken_and_the_comparison_rejects_its_pool_ignored(case, monkeypatch):
    loop = _loop(case)
    assert segment_law(loop, max(TIMES)) is not None and segment_law(_loop(case, "naive"), max(TIMES)) is None
    monkeypatch.setattr(loop_module, "SegmentChains", SampleFrequency)
    z, threshold = _largest_z(_per_chain(loop, 1), _per_chain(_loop(case, "naive"), 2))
    assert z > threshold, f"{case}: the sample's frequency passed, |z| = {z:.2f}"


def test_the_comparison_rejects_a_subsample_with_replacement(monkeypatch):
    def with_replacement(counts, n, rng):
        return rng.multinomial(n, counts / counts.sum(axis=-1, keepdims=True))

    monkeypatch.setattr(loop_module, "subsample_counts", with_replacement)
    case = "categorical-subsample"
    z, threshold = _largest_z(_per_chain(_loop(case), 1), _per_chain(_loop(case, "naive"), 2))
    assert z > threshold, f"with replacement passed, |z| = {z:.2f}"


class _WithReplacement:
    """A generator whose hypergeometric draw is a binomial one: the subsample drawn with replacement."""

    def __init__(self, rng):
        self.rng = rng

    def __getattr__(self, name):
        return getattr(self.rng, name)

    def hypergeometric(self, good, bad, n):
        return self.rng.binomial(n, good / (good + bad))


class SubsampleWithReplacement(SegmentChains):
    """Negative control of the segment path's subsample (Bernoulli: one hypergeometric draw)."""

    def __init__(self, loop, law, state, rng, book):
        super().__init__(loop, law, state, _WithReplacement(rng), book)


def test_the_segment_paths_subsample_is_taken_and_the_comparison_rejects_it_with_replacement(monkeypatch):
    case = "bernoulli-subsample"
    assert segment_law(_loop(case), max(TIMES)) is not None
    monkeypatch.setattr(loop_module, "SegmentChains", SubsampleWithReplacement)
    z, threshold = _largest_z(_per_chain(_loop(case), 1), _per_chain(_loop(case, "naive"), 2))
    assert z > threshold, f"with replacement passed, |z| = {z:.2f}"


class SmoothedSimplex(loop_module._Chains):
    """Negative control: the simplex step (its per-run kernel, ClosedLoop._simplex_step) draws
    from its model's level probabilities smoothed."""

    def __init__(self, loop, state, rng, book):
        super().__init__(loop, state, SmoothedDraws(rng, 0.1), book)  # a tenth of the way to uniform


def test_the_comparison_rejects_a_simplex_step_drawing_off_the_face(monkeypatch):
    case = "categorical-replace"
    loop = _loop(case)
    assert loop._simplex and loop._simplex_step(loop.initial_state(CHAINS)) is not None
    monkeypatch.setattr(loop_module, "_Chains", SmoothedSimplex)
    smoothed = _per_chain(_loop(case), 1)
    monkeypatch.undo()
    z, threshold = _largest_z(smoothed, _per_chain(_loop(case, "naive"), 2))
    assert z > threshold, f"the smoothed draw passed, |z| = {z:.2f}"


# -- exact laws derived by hand (the store's R10 derivations give them from the declaration) ------
def _products(M, t, k0, factor):
    return np.prod([factor(M, k) for k in range(k0, t + 1)])


LAWS = {  # case -> (observable of a chain, its exact mean at generation t, p0(1 − p0) or v0 folded in)
    "bernoulli-accumulate": (lambda o: o["p"] * (1 - o["p"]),
                             lambda t: 0.21 * (1 - 1 / 10) * _products(10, t, 2, lambda M, k: 1 - 1 / (M * k * k))),
    "bernoulli-linear": (lambda o: o["p"] * (1 - o["p"]),
                         lambda t: 0.21 * _products(5, t, 1, lambda M, k: 1 - 1 / (M * k))),
    "gaussian-accumulate": (lambda o: o["var"],
                            lambda t: _products(5, t, 1, lambda M, k: 1 - 1 / (M * k * k))),
}


def test_exact_engine_against_the_closed_products():
    """E[p_t(1 − p_t)] and E[v_t] against their finite-M products (accumulate: Π(1 − 1/(M k²)),
    replace with M_t: Π(1 − 1/M_k)), z with Šidák over every law and t at ALPHA; the replace
    loop's law (1 − 1/M)^t applied to accumulate data is rejected (negative control)."""
    chains, T = 40000, 6
    z, wrong = [], []
    for case, (observable, law) in LAWS.items():
        run = _loop(case).run(T, chains, seed=3, record_every=1, keep=chains)
        tr = run.trace_arrays()["chains"]
        for t in (1, 3, T):
            x = observable({n: v[t] for n, v in tr.items()})
            se = x.std(ddof=1) / np.sqrt(len(x))
            z.append((x.mean() - law(t)) / se)
            if case == "bernoulli-accumulate" and t == T:
                wrong.append((x.mean() - 0.21 * (1 - 1 / 10) ** t) / se)
    z_star = sidak_threshold(len(z), ALPHA)
    assert np.abs(z).max() < z_star, np.round(z, 2)
    assert np.abs(wrong).min() > z_star, wrong


# -- pieces ----------------------------------------------------------------------------------------
def test_subsample_counts_are_a_subsample_of_the_pool():
    rng = np.random.default_rng(0)
    pool = rng.integers(2, 6, size=(500, 4))  # at least 8 points
    n = 7
    drawn = subsample_counts(pool, n, rng)
    assert np.all(drawn.sum(axis=1) == n) and np.all((0 <= drawn) & (drawn <= pool))
    assert np.array_equal(subsample_counts(pool, 0, rng), np.zeros_like(pool))
    whole = pool[:1]  # a subsample of the whole pool is the pool (generation 1)
    assert np.array_equal(subsample_counts(whole, int(whole.sum()), rng), whole)


def test_generation_one_of_every_regime_is_the_replace_loop():
    """The pool of generation 1 is its own n_1 points: accumulate draws what replace draws (same
    seed, same sampler), and subsample's first refit is the MLE of the whole pool."""
    mu = {r: from_params("poisson", 5, {"rate": 2.0}, regime=r).run(1, 2000, seed=4).state.mu
          for r in ("replace", "accumulate")}
    assert np.array_equal(mu["replace"], mu["accumulate"])
    for case in ("categorical-subsample", "poisson-subsample"):
        loop = _loop(case)
        state = loop.run(1, 500, seed=4).state
        np.testing.assert_allclose(state.mu, state.pool_sums / loop.sample_size(1), rtol=1e-12)


def test_the_state_carries_and_slices_the_pool():
    loop = _loop("poisson-subsample")
    run = loop.run(3, 50, seed=0)
    state = run.state
    assert state.pool_size == loop.pool_size(3) == 3 * 5
    assert state.pool_points.shape == (50, 15, 1)
    np.testing.assert_allclose(state.pool_points.sum(axis=1), state.pool_sums)
    part = state.subset(slice(10, 20))
    assert part.pool_size == state.pool_size and part.pool_points.shape[0] == 10
    np.testing.assert_array_equal(part.pool_sums, state.pool_sums[10:20])
    picked = state.subset(np.array([3, 7]))
    np.testing.assert_array_equal(picked.pool_points, state.pool_points[[3, 7]])
    counts = _loop("categorical-subsample").run(2, 40, seed=0).state.pool_counts
    assert counts.shape == (40, 3) and np.all(counts.sum(axis=1) == 10)


def test_boundaries_absorb_under_accumulate_and_not_under_subsample():
    assert _loop("bernoulli-accumulate").absorbing
    assert not _loop("bernoulli-subsample").absorbing
    # subsample: a chain whose model sits on p = 0 while its pool holds ones has not collapsed
    loop = _loop("bernoulli-subsample")
    state = loop.run(2, 400, seed=5).state
    on_vertex = state.vertex >= 0
    pool_on_face = (state.pool_counts == 0).any(axis=1)
    codes = classify(loop, state)
    assert np.array_equal(codes > 0, pool_on_face)
    assert (on_vertex & ~pool_on_face).any()  # model at an end, pool not: the case at stake
    # a chain collapses under subsample only when its pool does: generation 1 all zeros or ones
    run = from_params("bernoulli", 3, {"p": 0.3}, regime="subsample").run(30, 3000, seed=6)
    first = run.state.collapse_time[run.collapse_codes > 0]
    assert len(first) and np.all(first == 1)
    assert run.absorbed()["fraction"] == run.collapsed()["fraction"]


def test_poisson_subsample_collapse_reads_the_pool():
    loop = from_params("poisson", 2, {"rate": 0.3}, regime="subsample")
    run = loop.run(20, 3000, seed=7)
    state = run.state
    pool_zero = state.pool_sums[:, 0] == 0
    assert np.array_equal(run.collapse_codes == 1, pool_zero)
    assert ((state.vertex >= 0) & ~pool_zero).any()  # at rate 0 with a pool that can leave it


def test_accumulate_refits_on_the_pool_with_the_prior_once():
    """Poisson, prior λe^{−λ·rate} (λ = 1), MAP in the rate, entering once per refit on the N_t
    pool points: max n(φ̄ log r − r) − λr gives r_t = Σ_pool s/(N_t + λ), by hand."""
    loop = from_params("poisson", 5, {"rate": 2.0}, regime="accumulate", external=1, truth={"rate": 1.0},
                       prior_law="exponential:rate=1,on=rate")
    state = loop.run(4, 200, seed=8).state
    assert state.pool_size == 4 * 6
    np.testing.assert_allclose(state.mu[:, 0], state.pool_sums[:, 0] / (state.pool_size + 1), rtol=1e-9)


def test_the_lattice_and_the_markov_chain_are_the_replace_loop_at_constant_M():
    assert lattice_law(from_params("bernoulli", 10, {"p": 0.3})) is not None
    for kw in ({"regime": "accumulate"}, {"regime": "subsample"}, {"M_schedule": "linear:10"}):
        loop = from_params("bernoulli", 10, {"p": 0.3}, **kw)
        assert lattice_law(loop) is None
        with pytest.raises(InputError, match="replace loop at constant M"):
            ExactChain(loop)


def test_summary_records_the_regime_and_the_loop_pickles():
    loop = from_params("bernoulli", 5, {"p": 0.3}, regime="accumulate", M_schedule="geometric:5,2")
    s = loop.run(3, 10, seed=0).summary()
    assert (s["regime"], s["M_schedule"], s["M"]) == ("accumulate", "geometric:5,2", 5)
    plain = from_params("bernoulli", 5, {"p": 0.3}).run(1, 10, seed=0).summary()
    assert (plain["regime"], plain["M_schedule"]) == ("replace", None)
    again = pickle.loads(pickle.dumps(loop))
    assert again.regime == loop.regime and again.pool_size(3) == 5 + 10 + 20


def test_memory_of_a_kept_pool_is_stated_and_refused_up_front():
    loop = _loop("poisson-subsample")
    small, _ = loop.memory_bytes(1000, 10)
    large, _ = loop.memory_bytes(1000, 1000)
    assert large - small >= 1000 * 8 * (1000 - 10) * 5  # N_T float64 φ per chain
    exact = _loop("poisson-accumulate")
    assert exact.memory_bytes(1000, 1000)[0] == exact.memory_bytes(1000, 10)[0]  # O(1) in t
    with pytest.raises(InputError, match="pool keeps its"):
        loop.run(10**6, 10**5)


def test_sizes_beyond_what_the_engine_carries_are_refused_up_front():
    with pytest.raises(InputError, match="gives 2 sizes"):
        from_params("bernoulli", 5, {"p": 0.3}, M_schedule="5,10").run(3, 10)
    with pytest.raises(InputError, match="hypergeometric"):
        from_params("bernoulli", 10**8, {"p": 0.3}, regime="subsample").run(20, 10)
    with pytest.raises(InputError, match="fewer than the 4 anchors"):
        from_params("bernoulli", 5, {"p": 0.3}, anchors=4, truth={"p": 0.5},
                    M_schedule="5,3").run(2, 10)


ACCEPTANCE = [
    "bernoulli --M 10 --regime accumulate --init p=0.3 --generations 50 --chains 2000",
    "gaussian --M 10 --regime accumulate --init mean=0,var=1 --generations 50 --chains 2000",
    "poisson --M 10 --regime subsample --init rate=2 --generations 30 --chains 500",
    "bernoulli --M 10 --M-schedule linear:10 --init p=0.3 --generations 200 --chains 500",
    "poisson --M 5 --regime subsample --external 1 --truth rate=1.5 --init rate=3 --generations 10 --chains 200",
    "bernoulli --M 5 --regime accumulate --external-data phi1=1 --init p=0.3 --generations 10 --chains 200",
    "poisson --M 5 --regime accumulate --prior-law exponential:rate=1,on=rate --init rate=2 --generations 10 --chains 200",
    "categorical --family-args K=3 --M 5 --regime subsample --init p1=0.2,p2=0.3,p3=0.5 --generations 10 --chains 200",
    ("curie_weiss --family-args N=3 --M 5 --regime accumulate --M-schedule linear:5 --init theta1=0.1,theta2=0.3 "
     "--generations 10 --chains 200"),
    "gaussian --M 5 --regime subsample --sampler naive --init mean=0,var=1 --generations 5 --chains 100",
]


@pytest.mark.parametrize("command", ACCEPTANCE)
def test_simulate_runs_the_regimes_from_the_cli(command, capsys):
    import json

    assert main(["simulate", *command.split(), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["final"]["mean"] and out["time_average"]["mean"]
    assert all(v is not None for v in out["final"]["mean"].values() if v is not None)
    assert out["regime"] == (command.split("--regime ")[1].split()[0] if "--regime" in command else "replace")
