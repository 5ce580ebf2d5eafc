"""A run's summaries made a block of generations at a time (theory.engine.book) are those made
generation by generation: the general path bit for bit (same seed, same numbers), the lattice and
segment paths with the same chains, hitting and collapse times and histograms, and means and
variances equal to rounding (a histogram of table rows sums in another order; the segment path
reads its models' interior off their point masses)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import theory.engine.book as book_module
import theory.engine.model as model_module
from theory.engine import collapse
from theory.engine.book import Book, mean_var, mean_var_rows
from theory.engine.lattice import LatticeChains, lattice_law
from theory.engine.segment import SegmentChains, segment_law
from theory.engine import loop as loop_module
from theory.engine.loop import Histogram
from theory.engine.state import State
from theory.params import from_params

# (family, M, init, options, run keywords): general-path settings with absorption, faces, a
# duplicated observable (Gaussian mean = φ1), a pool (accumulate: the naive sampler keeps Bernoulli
# off the segment path), a pool classified each generation (subsample),
# a prior (no absorption), and one where every chain is absorbed long before the end
GENERAL = {
    "poisson-absorbed": ("poisson", 1, {"rate": 1.0}, {},
                         dict(generations=70, chains=25, seed=5, burn_in=4, record_every=9, keep=3,
                              histograms={"rate": (0, 3, 6), "theta": (-2, 2, 4)})),
    "categorical": ("categorical", 6, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, {"family_args": {"K": 3}},
                    dict(generations=50, chains=40, seed=2, burn_in=3, record_every=7, keep=4,
                         histograms={"p1": (0, 1, 5)})),
    "gaussian": ("gaussian", 4, {"mean": 1.0, "var": 2.0}, {},
                 dict(generations=60, chains=30, seed=3, record_every=10, keep=2)),
    "gaussian-accumulate": ("gaussian", 3, {"mean": 1.0, "var": 2.0}, {"regime": "accumulate"},
                            dict(generations=50, chains=30, seed=4, burn_in=3, record_every=8, keep=2,
                                 histograms={"var": (0, 4, 8)})),
    "bernoulli-accumulate": ("bernoulli", 3, {"p": 0.3}, {"regime": "accumulate", "sampler": "naive"},
                             dict(generations=40, chains=30, seed=4, burn_in=2, record_every=5, keep=2)),
    # anchors: chains reach vertices and leave them again (first hitting times made a block at a time)
    "categorical-anchored": ("categorical", 3, {"p1": 0.2, "p2": 0.3, "p3": 0.5},
                             {"family_args": {"K": 3}, "anchors": 1,
                              "truth": {"p1": 0.6, "p2": 0.1, "p3": 0.3}},
                             dict(generations=40, chains=50, seed=6, burn_in=2, record_every=5, keep=3)),
    "categorical-subsample": ("categorical", 5, {"p1": 0.2, "p2": 0.3, "p3": 0.5},
                              {"family_args": {"K": 3}, "regime": "subsample"},
                              dict(generations=30, chains=30, seed=5, record_every=6, keep=2)),
    "exponential-map": ("exponential", 5, {"rate": 0.5}, {"estimator": "map", "nu": 0.5},
                        dict(generations=40, chains=20, seed=6, record_every=8, keep=2)),
}
LATTICE = {  # one statistic on a lattice, not the segment path: multinomial draws, fixed data
    "curie-weiss-theta2": ("curie_weiss", 30, {"theta1": 0.1, "theta2": 0.3},
                           {"family_args": {"N": 8}, "fixed": {"theta2": 0.3}},
                           dict(generations=50, chains=300, seed=8, record_every=10, keep=4,
                                histograms={"phi1": (-8, 8, 16)})),
    "bernoulli-data-absorbed": ("bernoulli", 3, {"p": 0.75}, {"data": [{"s": 1}]},
                                dict(generations=60, chains=30, seed=7, burn_in=5, record_every=7, keep=3,
                                     histograms={"p": (0, 1, 4), "theta": (-3, 3, 6)})),
}
SEGMENT = {  # binomial sums fitted by the MLE (engine.segment): absorption, few chains, pools, anchors
    "bernoulli-absorbed": ("bernoulli", 3, {"p": 0.4}, {},
                           dict(generations=60, chains=30, seed=7, burn_in=5, record_every=7, keep=3,
                                histograms={"p": (0, 1, 4), "theta": (-3, 3, 6)})),
    "curie-weiss": ("curie_weiss", 30, {"theta1": 0.1, "theta2": 0}, {"family_args": {"N": 8}, "fixed": {"theta2": 0}},
                    dict(generations=50, chains=300, seed=8, record_every=10, keep=4,
                         histograms={"phi1": (-8, 8, 16)})),
    "binomial-few": ("binomial", 500, {"p": 0.3}, {"family_args": {"n": 10}},
                     dict(generations=40, chains=7, seed=9, burn_in=10, record_every=4, keep=7)),
    "bernoulli-accumulate": ("bernoulli", 2, {"p": 0.2}, {"regime": "accumulate"},
                             dict(generations=40, chains=50, seed=10, burn_in=3, record_every=6, keep=3,
                                  histograms={"entropy": (0, 1, 5)})),
    "bernoulli-subsample": ("bernoulli", 3, {"p": 0.3}, {"regime": "subsample"},
                            dict(generations=40, chains=60, seed=13, burn_in=2, record_every=5, keep=3,
                                 histograms={"theta": (-3, 3, 6)})),
    # p' = K/(n M) within the refit's resolution of an end: collapse.classify's float boundary
    "bernoulli-unresolved": ("bernoulli", 3 * 10**10, {"p": 1e-10}, {},
                             dict(generations=12, chains=40, seed=12, record_every=3, keep=2)),
    "binomial-anchored-schedule": ("binomial", 2, {"p": 0.6}, {"family_args": {"n": 3}, "truth": {"p": 0.3},
                                                               "anchors": 1, "M_schedule": "linear:2"},
                                   dict(generations=30, chains=40, seed=11, record_every=5, keep=2)),
}


def _loop(case):
    family, M, init, options, _ = case
    return from_params(family, M, init, **options)


def _reference_run(loop, step, observables, generations, chains, seed, burn_in=0, record_every=0, keep=0,
                   histograms=None):
    """The summaries as a run made them before blocks: every generation, every observable's
    mean_var over the chains, added to the time averages after the burn-in, a trace row every
    ``record_every`` generations and at the last, histograms of the chains' values."""
    names = None
    total_mean, total_var = {}, {}
    hist = {n: Histogram(lo, hi, bins, n) for n, (lo, hi, bins) in (histograms or {}).items()}
    trace = {"t": [], "mean": {}, "var": {}, "chains": {}}
    for t in range(1, generations + 1):
        step(t)
        obs = observables()
        if names is None:
            names = list(obs)
            total_mean, total_var = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
            for key in ("mean", "var", "chains"):
                trace[key] = {n: [] for n in names}
        stats = {n: mean_var(v) for n, v in obs.items()}
        if t > burn_in:
            for n, (m, v) in stats.items():
                total_mean[n] += m
                total_var[n] += v
            for n, h in hist.items():
                h.add(obs[n])
        if record_every and (t % record_every == 0 or t == generations):
            trace["t"].append(t)
            for n, (m, v) in stats.items():
                trace["mean"][n].append(m)
                trace["var"][n].append(v)
                trace["chains"][n].append(np.array(obs[n][:keep]))
    n_avg = generations - burn_in
    return {"final": stats, "time_average": {n: (total_mean[n] / n_avg, total_var[n] / n_avg) for n in names},
            "trace": trace, "histograms": {n: h.as_json() for n, h in hist.items()}}


def _general_reference(loop, kw):
    rng = np.random.default_rng(kw["seed"])
    state = loop.initial_state(kw["chains"])
    loop.reserve_pool(state, loop.pool_size(kw["generations"]) if loop.regime.pooled else 0)
    # the Gaussian's replace step draws the MLE's (mean, var) directly (ClosedLoop._mle_step:
    # another rounding than the general path's): the reference takes it, the collapses recorded
    gaussian = loop.family.name == "gaussian" and loop.regime.kind == "replace"
    mle_step = loop._sum_step(state) if gaussian else None

    def step(t):
        if mle_step is None:
            loop.step(state, t, rng)
        else:
            mle_step(state, t, rng)
            loop._record_collapses(state, t)
    out = _reference_run(loop, step, lambda: loop.observables(state), **kw)
    return out, state


def _same(a, b, rel=0.0):
    """Equal numbers (NaN equal to NaN), exactly or to ``rel``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if rel == 0.0:
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a.shape == b.shape and np.allclose(a, b, rtol=rel, atol=1e-300, equal_nan=True)


def _check_summaries(run, want, rel):
    for n, (m, v) in want["final"].items():
        assert _same([run.final[n].mean, run.final[n].var], [m, v], rel), n
    for n, (m, v) in want["time_average"].items():
        assert _same([run.time_average[n].mean, run.time_average[n].var], [m, v], rel), n
    trace = want["trace"]
    if run.trace is not None:
        assert run.trace["t"] == trace["t"]
        for n in trace["mean"]:
            assert _same(run.trace["mean"][n], trace["mean"][n], rel), n
            assert _same(run.trace["var"][n], trace["var"][n], rel), n
            assert _same(np.array(run.trace["chains"][n]), np.array(trace["chains"][n])), n
    assert {n: h.as_json() for n, h in run.histograms.items()} == want["histograms"]


@pytest.mark.parametrize("block_max", [1, 5, book_module.BLOCK_MAX])
@pytest.mark.parametrize("case", list(GENERAL))
def test_general_path_summaries_are_those_made_each_generation_bit_for_bit(case, block_max, monkeypatch):
    monkeypatch.setattr(book_module, "BLOCK_MAX", block_max)
    loop = _loop(GENERAL[case])
    kw = GENERAL[case][4]
    assert lattice_law(loop) is None and segment_law(loop, kw["generations"]) is None
    made, init = [], loop_module._Chains.__init__
    monkeypatch.setattr(loop_module._Chains, "__init__", lambda self, *a: made.append(self) or init(self, *a))
    run = loop.run(**kw)
    if case == "categorical":  # the unit simplex's closure, its block kept levels-major
        assert made and all(chains.by_levels for chains in made)
    want, state = _general_reference(_loop(GENERAL[case]), kw)
    _check_summaries(run, want, rel=0.0)
    for key in ("mu", "vertex", "hit_time", "collapse_time"):
        assert _same(getattr(run.state, key), getattr(state, key)), key
    if case == "poisson-absorbed":  # every chain absorbed long before the end: the rest repeats
        assert np.all(state.hit_time >= 0) and state.hit_time.max() < kw["generations"] // 2
    if case == "categorical":
        assert np.any(state.collapse_time > 0)


def _stepping(chains, ref_loop, hit, collapsed):
    """A step of the reference: ``chains`` one generation on, each chain's first hitting and
    collapse times recorded in ``hit`` and ``collapsed`` from the models it now holds."""
    def step(t):
        chains.step(t)
        chains.flush()  # its own bookkeeping, unread here: keeps its block from filling up
        now = chains.state
        hit[(hit < 0) & (now.vertex >= 0)] = t
        collapsed[(collapsed < 0) & (collapse.classify(ref_loop, now) > 0)] = t
    return step


@pytest.mark.parametrize("block_max", [1, 4, book_module.BLOCK_MAX])
@pytest.mark.parametrize("case", list(LATTICE))
def test_lattice_path_summaries_are_those_of_its_chains_each_generation(case, block_max, monkeypatch):
    """The reference reads each generation's chains off the lattice path's tables (its rows), and
    classifies them as the general path would (collapse.classify of the chains' State)."""
    monkeypatch.setattr(book_module, "BLOCK_MAX", block_max)
    loop = _loop(LATTICE[case])
    kw = LATTICE[case][4]
    assert segment_law(loop, kw["generations"]) is None and lattice_law(loop) is not None
    run = loop.run(**kw)
    ref_loop = _loop(LATTICE[case])
    state = ref_loop.initial_state(kw["chains"])
    names = list(ref_loop.observables(state))
    chains = LatticeChains(ref_loop, lattice_law(ref_loop), state, np.random.default_rng(kw["seed"]),
                           Book(names, kw["generations"], 0, 0, 0, {}, None))
    hit, collapsed = np.full(kw["chains"], -1), np.full(kw["chains"], -1)
    step = _stepping(chains, ref_loop, hit, collapsed)

    want = _reference_run(ref_loop, step, lambda: {n: table.take(chains.rows) for n, table in chains.obs.items()},
                          **kw)
    _check_summaries(run, want, rel=1e-12)
    assert np.array_equal(run.state.hit_time, hit) and np.array_equal(run.state.collapse_time, collapsed)
    assert np.array_equal(run.state.mu, chains.state.mu)
    if case == "bernoulli-data-absorbed":
        assert np.all(hit >= 0) and hit.max() < kw["generations"] // 2


@pytest.mark.parametrize("block_max", [1, 4, book_module.BLOCK_MAX])
@pytest.mark.parametrize("case", list(SEGMENT))
def test_segment_path_summaries_are_those_of_its_chains_each_generation(case, block_max, monkeypatch):
    """The reference steps the segment path's chains and reads each generation's models off them
    (their State, with faces: the general path's observables and collapse.classify); the run
    summarises its blocks from the models' counts alone (replace at constant M: the lattice path,
    whose tables are the segment's models, the same draws)."""
    monkeypatch.setattr(book_module, "BLOCK_MAX", block_max)
    loop = _loop(SEGMENT[case])
    kw = SEGMENT[case][4]
    assert segment_law(loop, kw["generations"]) is not None
    run = loop.run(**kw)
    ref_loop = _loop(SEGMENT[case])
    state = ref_loop.initial_state(kw["chains"])
    names = list(ref_loop.observables(state))
    book = Book(names, kw["generations"], 0, 0, 0, {}, None)
    chains = SegmentChains(ref_loop, segment_law(ref_loop, kw["generations"]), state,
                           np.random.default_rng(kw["seed"]), book)
    hit, collapsed = np.full(kw["chains"], -1), np.full(kw["chains"], -1)
    step = _stepping(chains, ref_loop, hit, collapsed)

    want = _reference_run(ref_loop, step, lambda: ref_loop.observables(chains.state), **kw)
    _check_summaries(run, want, rel=1e-12)
    assert np.array_equal(run.state.hit_time, hit) and np.array_equal(run.state.collapse_time, collapsed)
    for key in ("mu", "face", "vertex"):
        assert np.array_equal(getattr(run.state, key), getattr(chains.state, key)), key
    # θ on an end is not read (θ is infinite there): the lattice path's tables keep θ0, this path
    # the last interior model's θ
    inside = run.state.vertex < 0
    assert np.array_equal(run.state.theta[inside], chains.state.theta[inside])
    if case == "bernoulli-absorbed":
        assert np.all(hit >= 0) and hit.max() < kw["generations"] // 2
    if case in ("bernoulli-absorbed", "bernoulli-accumulate"):  # (accumulate: a pool on an end stays)
        assert np.any(hit > 0) and np.array_equal(collapsed, hit)
    if case == "bernoulli-unresolved":  # collapsed within the resolution, not on the end
        assert np.any((collapsed > 0) & ((hit < 0) | (collapsed < hit)))


def test_rows_are_summarised_as_one_row_is_bit_for_bit():
    """mean_var_rows against mean_var: non-finite values (left out), an overflowing mean, one
    and two chains, rows longer than einsum's buffer, strided and Fortran-ordered rows, every row
    with absorbed chains (runs of rows with as many finite values, and a count seen again later)."""
    rng = np.random.default_rng(0)
    for C in (1, 2, 3, 8, 9, 100, 129, 1000, book_module.EINSUM_BUFFER + 1):
        V = rng.standard_normal((6, C)) * 10.0 ** rng.uniform(-4, 4, (6, 1)) + rng.uniform(-3, 3, (6, 1))
        V[1, ::3] = np.nan
        V[2, : C // 2] = np.inf
        V[3] = np.nan
        if C > 2:
            V[4, :2] = 1e308  # the mean overflows: summarised over the finite values as one row is
        W = np.concatenate([V, V[:1], V[:1]])
        W[:, ::4] = -np.inf
        for rows in (V, np.asfortranarray(V), np.repeat(V, 2, axis=1)[:, ::2], W, W[:, ::-1]):
            mean, var = mean_var_rows(rows)
            for r in range(len(rows)):
                assert _same([mean[r], var[r]], mean_var(rows[r])), (C, r)


def _exact_var(row) -> float:
    """The (ddof = 1) variance of a row's floats in exact arithmetic (the floats scaled to
    integers by a common power of two), rounded once."""
    from fractions import Fraction

    ratios = [float(v).as_integer_ratio() for v in row]
    scale = max(d for _, d in ratios)  # (denominators are powers of two: each divides the largest)
    x = [n * (scale // d) for n, d in ratios]
    n, total = len(x), sum(x)
    return float(Fraction(n * sum(v * v for v in x) - total * total, n * (n - 1) * scale * scale))


def test_row_variance_is_accurate_to_1e_8_whatever_the_mean():
    """mean_var_rows' variance (one pass, summed again in two where the mean dwarfs the spread)
    against exact sums: relative error below 1e-8 (book.mean_var_rows' bound) for var/x̄² from
    10⁻¹⁶ to 1, across magnitudes and row lengths up to 2·10⁴, on normal rows and on two-valued
    rows (roundings that add up alike), and (an ulp of x̄)² for a constant row; integer and
    boolean rows as floats. Negative control: the one-pass formula alone,
    (Σx² − x̄Σx)/(n − 1), misses by far more on the same rows."""
    rng = np.random.default_rng(5)
    worst, worst_one_pass = 0.0, 0.0
    for C in (2, 7, 100, 1000, 20000):
        for scale in (1e-100, 1e-3, 1.0, 1e5, 1e150):
            ratio = 10.0 ** rng.uniform(-8, 0, 8)  # spread / |mean|
            ratio[[3, 7]] = (1.05 * book_module.CANCELLATION) ** 0.5  # just one pass: the worst
            mean = scale * rng.choice([-1.0, 1.0], 8) * rng.uniform(0.5, 2, 8)
            noise = rng.standard_normal((8, C))
            noise[4:] = np.where(rng.random((4, C)) < 0.5, -1.0, 1.0)  # two-valued rows
            rows = mean[:, None] * (1 + ratio[:, None] * noise)
            rows[0] = rows[0, 0]  # a constant row
            got = mean_var_rows(rows)[1]
            assert 0.0 <= got[0] <= 1e-30 * mean[0] ** 2  # (x̄ off by an ulp at most)
            for r in range(1, 8):
                want = _exact_var(rows[r])
                if not want:  # (a short two-valued row drew one value)
                    assert 0.0 <= got[r] <= 1e-30 * mean[r] ** 2
                    continue
                worst = max(worst, abs(got[r] - want) / want)
                total = np.add.reduce(rows[r])
                one_pass = (np.einsum("i,i->", rows[r], rows[r]) - total / C * total) / (C - 1)
                worst_one_pass = max(worst_one_pass, abs(one_pass - want) / want)
    assert worst < 1e-8, worst
    assert worst_one_pass > 1e-6, worst_one_pass  # the control: cancellation the check would see
    assert mean_var(np.arange(10)) == mean_var(np.arange(10.0))
    assert mean_var(np.array([True, False, True])) == mean_var(np.array([1.0, 0.0, 1.0]))


def test_short_rows_are_summed_as_numpy_sums_them_bit_for_bit():
    """rows_sum (column by column below SEQUENTIAL_ROW levels) is np.sum(axis=-1) to the bit:
    signed zeros, infinities, NaN and values far apart in magnitude; and longer rows."""
    rng = np.random.default_rng(3)
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, 1e-16])
    for L in (1, 2, 3, 4, 7, model_module.SEQUENTIAL_ROW, 21):
        x = np.concatenate([rng.choice(special, (20000, L)),
                            rng.standard_normal((20000, L)) * np.exp(rng.uniform(-30, 30, (20000, L)))])
        with np.errstate(invalid="ignore", over="ignore"):
            want, got = x.sum(axis=-1), model_module.rows_sum(x)
        assert np.array_equal(want.view(np.int64), got.view(np.int64)), L


def test_observables_of_column_major_means_are_those_of_row_major_ones_bit_for_bit():
    """A run buffers an infinite family's μ column by column: the same observables, to the bit
    (Gaussian with chains on the point-mass curve, exponential, Poisson at rate 0)."""
    for family, init in (("gaussian", {"mean": 1.0, "var": 2.0}), ("exponential", {"rate": 0.5}),
                         ("poisson", {"rate": 1.0})):
        loop = from_params(family, 3, init)
        state = loop.run(40, 200, seed=1).state
        assert family == "exponential" or np.any(state.vertex >= 0)
        by_columns = State(mu=np.asfortranarray(state.mu), theta=state.theta, face=None,
                                       vertex=state.vertex, hit_time=state.hit_time)
        want, got = loop.observables(state), loop.observables(by_columns)
        assert list(want) == list(got)
        for name in want:
            assert _same(got[name], want[name]), (family, name)
        assert np.array_equal(collapse.classify(loop, state), collapse.classify(loop, by_columns))


def test_histogram_adds_repeated_values_as_often():
    once, repeated = Histogram(0, 1, 4), Histogram(0, 1, 4)
    values = np.array([0.1, 0.6, np.nan, -1.0, 2.0, 0.99])
    for _ in range(5):
        once.add(values)
    repeated.add(values, times=5)
    assert once.as_json() == repeated.as_json()


def test_a_repeated_generation_is_added_as_often_one_after_the_other():
    """Every chain absorbed: the rest of a run adds its last generation's means once per
    generation, in order (more generations than one chunk of REPEAT_CHUNK)."""
    row = np.array([0.1, 1e-17, 3.0, np.nan])
    times = book_module.REPEAT_CHUNK + 5
    want = [0.3, 1.0, -2.0, 0.0]
    for _ in range(times):
        want = [w + float(r) for w, r in zip(want, row, strict=True)]
    got = book_module.add_repeated(np.array([0.3, 1.0, -2.0, 0.0]), row, times)
    assert _same(got, want)


def test_segment_path_refits_where_the_closed_form_is_not_finite(monkeypatch):
    """A closed form that is not finite inside (beyond float64) leaves θ' to the general refit
    (Newton from θ0): the same θ' to the refit's tolerance; on the ends θ' is not read."""
    loop = _loop(SEGMENT["curie-weiss"])
    chains = SegmentChains(loop, segment_law(loop, 5), loop.initial_state(50), np.random.default_rng(0),
                           Book(["phi1"], 5, 0, 0, 0, {}, None))
    for t in range(1, 6):
        chains.step(t)
    K, trials = chains.K_block[:5], chains.trials_block[:5, None]
    want, _ = chains._states(K, trials, K.min(axis=1), K.max(axis=1), theta=True)
    closed = loop.numeric.theta_closed_form
    monkeypatch.setattr(loop.numeric, "theta_closed_form", lambda mu: np.full_like(closed(mu), np.nan))
    got, _ = chains._states(K, trials, K.min(axis=1), K.max(axis=1), theta=True)
    inside = want.vertex < 0
    assert inside.any()
    # (the Newton's tolerance is 1e-10 in μ)
    np.testing.assert_allclose(got.theta[inside], want.theta[inside], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("case", ["bernoulli-absorbed", "curie-weiss", "binomial-few"])
def test_a_binomial_sum_under_replace_has_the_same_draws_on_either_path(case, monkeypatch):
    """Tables (engine.lattice) or per-chain models (engine.segment): the same p = K/(n n_t), the
    same chains and times; the summaries equal to rounding (summed in another order)."""
    kw = SEGMENT[case][4]
    runs = []
    for cost in (0, 10**18):  # every lattice cheap enough to tabulate, none
        monkeypatch.setattr(loop_module, "TABLE_POINT_COST", cost)
        monkeypatch.setattr(loop_module, "TABLE_SPREAD", 10**18)
        runs.append(_loop(SEGMENT[case]).run(**kw))
    tables, segment = runs
    for key in ("mu", "vertex", "hit_time", "collapse_time"):
        assert np.array_equal(getattr(tables.state, key), getattr(segment.state, key)), key
    want = {"final": {n: tuple(s)[:2] for n, s in segment.final.items()},
            "time_average": {n: tuple(s)[:2] for n, s in segment.time_average.items()},
            "trace": segment.trace or {"t": [], "mean": {}, "var": {}, "chains": {}},
            "histograms": {n: h.as_json() for n, h in segment.histograms.items()}}
    _check_summaries(tables, want, rel=1e-12)


@pytest.mark.parametrize("regime, M, generations", [("replace", 1, 1600), ("accumulate", 2, 200)])
def test_exponential_theta_and_entropy_read_off_rate_are_their_own_forms_bit_for_bit(regime, M, generations):
    """θ = −rate (forms.negated) and S = 1 − log(1/μ) reading rate's 1/μ (shared.Shared) are the numbers of
    θ's and S's own forms, −1/μ and 1 − log(1/μ): the run's block summaries (θ's taken from
    rate's), trace and histograms equal a per-generation reference evaluating those forms, also
    where μ underflows to 0 (replace, M = 1: rate ∞, θ and S excluded from the summaries)."""
    from theory.engine.shared import bound

    kw = {"generations": generations, "chains": 12, "seed": 3, "burn_in": 2, "record_every": 1, "keep": 12,
          "histograms": {"theta": (-40, 0, 8), "entropy": (-30, 3, 6)}}
    loop = from_params("exponential", M, {"rate": 0.5}, regime=regime)
    assert loop.negations == {"theta": "rate"} and loop.numeric.shared_forms.reads("entropy", "rate")
    built, draw_refit_step = [], loop._draw_refit_step
    loop._draw_refit_step = lambda *a: built.append(a) or draw_refit_step(*a)
    with np.errstate(over="ignore"):  # (rate ∞: its time average overflows)
        run = loop.run(**kw)
    assert len(built) == 1  # the run took the exponential's draw-and-refit kernel
    ref = from_params("exponential", M, {"rate": 0.5}, regime=regime)
    nf = ref.numeric
    theta_form = bound(nf.forms.get("mu_inverse")[0], nf.mu_names)
    entropy_form = bound(nf.forms.get("entropy_mu")[0], nf.mu_names)
    rng, state = np.random.default_rng(kw["seed"]), ref.initial_state(kw["chains"])
    ref.reserve_pool(state, ref.pool_size(generations) if ref.regime.pooled else 0)

    def observables():
        with np.errstate(divide="ignore", over="ignore"):
            theta = theta_form(*state.mu.T)
            return {"rate": 1 / state.mu[:, 0], "theta": np.where(np.isfinite(theta), theta, np.nan),
                    "entropy": entropy_form(*state.mu.T), "phi1": state.mu[:, 0]}
    with np.errstate(over="ignore", invalid="ignore"):
        want = _reference_run(ref, lambda t: ref.step(state, t, rng), observables, **kw)
    _check_summaries(run, want, rel=0.0)
    assert _same(run.state.mu, state.mu)
    if regime == "replace":  # generations with chains at μ = 0 beside chains above it
        theta = np.array(want["trace"]["chains"]["theta"])
        assert np.any(np.isnan(theta).any(axis=1) & np.isfinite(theta).any(axis=1))
    # negative control: the check tells one rounding from another (S = 1 + log μ, mathematically the same)
    mu = np.random.default_rng(0).gamma(2.0, size=1000)
    assert not _same(1 + np.log(mu), entropy_form(mu))


def test_the_spread_bound_proves_only_what_holds():
    """The collapse test skips the spread's form where shared.SharedValues.at_least proves every
    |spread| ≥ the threshold: on Gaussian blocks spanning variances 10⁻¹⁶–10² (chains on the
    point-mass curve, below it by a rounding, μ2 < 0, NaN, ±∞), whatever it proves holds of the
    form's own values, the usual block (no chain near the curve) is proven, and a threshold above
    the least |spread| is not (the negative control: a bound that claimed it would be wrong)."""
    from theory.engine.shared import bound

    nf = from_params("gaussian", 3, {"mean": 1.0, "var": 2.0}).numeric
    spread_form = bound(nf.forms.get("spread_mu")[0], nf.mu_names)
    rng = np.random.default_rng(11)
    proven = refused = 0
    for trial in range(400):
        C = int(rng.integers(1, 300))
        mean = rng.normal(0.0, 10.0 ** rng.uniform(-3, 3), C)
        mu2 = mean**2 + 10.0 ** rng.uniform(-16, 2, C) * (rng.random(C) < 0.9 if trial % 2 else 1.0)
        if trial % 5 == 0:  # special values in a few chains
            k = rng.integers(0, C, 3)
            mu2[k[0]] = np.nextafter(mean[k[0]] ** 2, -np.inf)
            (mean if trial % 10 else mu2)[k[1]] = rng.choice([np.nan, np.inf, -np.inf, -1.0])
        mu = np.column_stack((mean, mu2))
        with np.errstate(all="ignore"):
            spread = np.abs(spread_form(*mu.T))
        least = float(np.min(spread)) if not np.isnan(spread).any() else np.nan
        for threshold in (1.8e-9, 1e-12, least, np.nextafter(least, np.inf), 2.0 * least):
            values = nf.forms_at(mu)
            if trial % 3:
                values["var"]  # (as after a block's summaries: the variance's range is read)
            if values.at_least("spread", threshold):
                assert np.all(spread >= threshold), (trial, threshold)
                proven += 1
            elif np.all(spread >= threshold):
                refused += 1
            if threshold > least or np.isnan(least):
                assert not values.at_least("spread", threshold)
    assert proven > 300 and refused > 0
    usual = np.column_stack((np.full(50, 1.0), np.full(50, 3.0)))
    assert nf.forms_at(usual).at_least("spread", 1.8e-9)


@pytest.mark.parametrize("regime, settings", [
    ("replace", [(20, 1e-5, 300)]), ("accumulate", [(2, 1e-9, 100), (50, 2.0, 100)])])
def test_the_collapse_test_with_the_spread_bound_is_the_exact_tests(regime, settings, monkeypatch):
    """Gaussian runs of 3 000 chains (blocks of 29 generations), 30 % of them started at a small
    variance: the collapse times, codes (some chains near the point-mass curve, float_boundary, some
    on it) and every summary are the same with the bound (which proves the blocks with no chain
    near: the first under replace, every one of the run started far under accumulate) as with the
    spread evaluated for every block. The block's forms are read from shared.SharedValues."""
    from theory.engine.shared import SharedValues

    def run(M, var0, generations):
        var = np.where(np.random.default_rng(4).random(3000) < 0.3, var0, 2.0)
        loop = from_params("gaussian", M, {"mean": 1.0, "var": 2.0}, regime=regime)
        start = np.column_stack((1.0 / var, -0.5 / var))
        r = loop.run(generations, 3000, seed=2, start=start, record_every=9)
        return r.state.collapse_time, r.collapse_codes, json.dumps(r.summary(), sort_keys=True, default=str)
    calls, at_least, read, getitem = [], SharedValues.at_least, [], SharedValues.__getitem__
    monkeypatch.setattr(SharedValues, "__getitem__", lambda self, key: read.append(key) or getitem(self, key))
    for M, var0, generations in settings:
        monkeypatch.setattr(SharedValues, "at_least",
                            lambda self, *a: calls.append(at_least(self, *a)) or calls[-1])
        bounded = run(M, var0, generations)
        assert {"var", ("theta", 0), ("theta", 1), "entropy"} <= set(read)  # (the block's forms, together)
        monkeypatch.setattr(SharedValues, "at_least", lambda self, *a: False)
        exact = run(M, var0, generations)
        assert np.array_equal(bounded[0], exact[0]) and np.array_equal(bounded[1], exact[1])
        assert bounded[2] == exact[2]
        if var0 < 1:  # chains collapse near the curve and on it, not all of them
            assert 0 < np.count_nonzero(exact[0] >= 0) < 3000 and set(np.unique(exact[1])) == {0, 1, 2}
    assert True in calls and False in calls  # proven in some blocks, not in others
