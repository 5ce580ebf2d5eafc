"""The binomial sum of finite families: read from the declaration, the same law as the multinomial."""

import numpy as np
import pytest
from scipy import stats

import theory.engine.sampling as sampling
from theory.params import from_params
from theory.engine.model import minimal_face, numeric_family
from theory.families import get_family

# two-sample tests below: family-wise false-fail rate ALPHA, Bonferroni over the comparisons
ALPHA = 1e-3
CASES = {
    "bernoulli": ("bernoulli", {}, {}, {"p": 0.3}, None),
    "binomial": ("binomial", {"n": 4}, {}, {"p": 0.6}, None),
    "categorical-2": ("categorical", {"K": 2}, {}, {"p1": 0.35, "p2": 0.65}, None),
    "curie_weiss-theta2=0": ("curie_weiss", {"N": 6}, {"theta2": 0}, {"theta1": 0.1, "theta2": 0}, None),
    "binomial-anchored": ("binomial", {"n": 3}, {}, {"p": 0.8}, {"p": 0.4}),
}
N_COMPARISONS = len(CASES) * 2


@pytest.mark.parametrize("name, args, fixed, law", [
    ("bernoulli", {}, {}, True), ("binomial", {"n": 7}, {}, True), ("categorical", {"K": 2}, {}, True),
    ("categorical", {"K": 3}, {}, False), ("curie_weiss", {"N": 6}, {}, False),
    ("curie_weiss", {"N": 6}, {"theta2": 0}, True), ("curie_weiss", {"N": 6}, {"theta2": 0.3}, False),
    ("poisson", {}, {}, False),
])
def test_binomial_sum_is_read_from_the_declaration(name, args, fixed, law):
    found = sampling.binomial_sum(numeric_family(get_family(name, fixed=fixed, **args)))
    assert (found is not None) == law


def _final(case, seed, multinomial, monkeypatch):
    name, args, fixed, init, truth = CASES[case]
    with monkeypatch.context() as mp:
        if multinomial:
            mp.setattr(sampling, "binomial_sum", lambda numeric: None)
        loop = from_params(name, 12, init, family_args=args, fixed=fixed, truth=truth, anchors=3 if truth else 0)
        return loop.run(4, 4000, seed=seed).state


@pytest.mark.parametrize("case", list(CASES))
def test_binomial_sum_has_the_law_of_the_multinomial(case, monkeypatch):
    """After 4 generations (some chains absorbed): χ² two-sample test on the values of φ̄1, and on
    which point mass the chains sit (the face logic reads only the support's ends)."""
    fast = _final(case, 1, False, monkeypatch)
    slow = _final(case, 2, True, monkeypatch)
    values = np.union1d(fast.mu[:, 0], slow.mu[:, 0])
    table = np.array([[np.sum(s.mu[:, 0] == v) for v in values] for s in (fast, slow)])
    table = table[:, table.sum(0) > 0]
    p = stats.chi2_contingency(table)[1] if table.shape[1] > 1 else 1.0
    assert p > ALPHA / N_COMPARISONS, f"{case}: chi2 p = {p:.2g}"
    hits = np.array([[np.sum(s.vertex == i) for i in (-1, 0, 1)] for s in (fast, slow)])
    hits = hits[:, hits.sum(0) > 0]
    p = stats.chi2_contingency(hits)[1] if hits.shape[1] > 1 else 1.0
    assert p > ALPHA / N_COMPARISONS, f"{case}: absorption chi2 p = {p:.2g}"


def test_binomial_sum_gives_the_multinomial_faces():
    """The face of a sample depends only on its total: the lower end iff K = 0, the upper iff K = n m."""
    nf = numeric_family(get_family("binomial", n=3))
    rng = np.random.default_rng(0)
    theta = np.full((5000, 1), -2.5)
    for face in (np.ones((5000, 4), bool), np.eye(4, dtype=bool)[np.zeros(5000, int)],
                 np.eye(4, dtype=bool)[np.full(5000, 3)]):
        sums, support = sampling.draw_exact(nf, theta, None, face, 2, rng)
        k = sums[:, 0]
        want = np.where(k == 0, 0, np.where(k == 6, 2, 1))
        got = minimal_face(nf, support > 0)
        kind = np.where(got.sum(-1) == 4, 1, np.where(got[:, 0], 0, 2))
        assert np.array_equal(kind, want)
        assert got.sum(-1).min() >= 1


# -- the lattice path: a generation of a binomial-sum family as table lookups -------------------
LATTICE_CASES = {
    "bernoulli": ("bernoulli", {}, {}, {"p": 0.3}, {}),
    "curie_weiss-theta2=0": ("curie_weiss", {"N": 6}, {"theta2": 0}, {"theta1": 0.1, "theta2": 0}, {}),
    "binomial-anchored": ("binomial", {"n": 3}, {}, {"p": 0.8}, {"truth": {"p": 0.4}, "anchors": 3}),
    "bernoulli-external-data": ("bernoulli", {}, {}, {"p": 0.7},
                                {"truth": {"p": 0.4}, "external": 2, "data": [{"s": 1}, {"s": 0}]}),
    "bernoulli-data-at-one-point": ("bernoulli", {}, {}, {"p": 0.3}, {"data": [{"s": 1}]}),
    "binomial-map": ("binomial", {"n": 2}, {}, {"p": 0.2}, {"estimator": "map", "nu": 3.0}),
    "bernoulli-l2": ("bernoulli", {}, {}, {"p": 0.2}, {"estimator": "l2", "lam": 0.5}),
    "bernoulli-prior": ("bernoulli", {}, {}, {"p": 0.2}, {"prior_law": "normal:var=2"}),
    # not a binomial sum: multinomial draws, Newton refits tabulated
    "curie_weiss-theta2=0.3": ("curie_weiss", {"N": 6}, {"theta2": 0.3}, {"theta1": 0.1, "theta2": 0.3}, {}),
    "curie_weiss-theta2=0.3-anchored": ("curie_weiss", {"N": 4}, {"theta2": 0.3},
                                        {"theta1": 0.6, "theta2": 0.3},
                                        {"truth": {"theta1": -0.2, "theta2": 0.3}, "anchors": 2}),
}
N_LATTICE = len(LATTICE_CASES) * 3


def _lattice_run(case, seed, general, monkeypatch, window=None):
    import theory.engine.lattice as lattice_module
    import theory.engine.loop as loop_module

    name, args, fixed, init, kw = LATTICE_CASES[case]
    with monkeypatch.context() as mp:
        if general:
            mp.setattr(loop_module, "lattice_law", lambda loop: None)
            mp.setattr(loop_module, "segment_law", lambda loop, generations: None)
        if window:
            mp.setattr(lattice_module, "WINDOW_MAX", window)
        loop = from_params(name, 9, init, family_args=args, fixed=fixed, **kw)
        return loop.run(6, 4000, seed=seed)


@pytest.mark.parametrize("case", list(LATTICE_CASES))
def test_lattice_path_has_the_law_of_the_general_path(case, monkeypatch):
    """After 6 generations: χ² two-sample tests on μ1 (to 8 digits: a Newton refit from another start
    differs in the last ones), on the point mass each chain is on, and on its first hitting time
    (−1: never), the run's own path (the segment path for a binomial sum fitted by the MLE without
    data, else the lattice tables) against the general path's per-chain refits."""
    fast = _lattice_run(case, 1, False, monkeypatch)
    slow = _lattice_run(case, 2, True, monkeypatch)
    _same_law(case, fast, slow)


@pytest.mark.parametrize("case", ["bernoulli-data-at-one-point", "curie_weiss-theta2=0.3"])
def test_lattice_path_beyond_a_window_has_the_law_of_the_general_path(case, monkeypatch):
    """Chains spread over more lattice points than a window holds (here 4): the tables of each
    generation's distinct sums, the same law (χ² as above)."""
    _same_law(case, _lattice_run(case, 3, False, monkeypatch, window=4),
              _lattice_run(case, 4, True, monkeypatch))


def _same_law(case, fast, slow):
    for what in (lambda r: np.round(r.state.mu[:, 0], 8), lambda r: r.state.vertex,
                 lambda r: r.state.hit_time):
        a, b = what(fast), what(slow)
        values = np.union1d(a, b)
        table = np.array([[np.sum(x == v) for v in values] for x in (a, b)])
        p = stats.chi2_contingency(table)[1] if table.shape[1] > 1 else 1.0
        assert p > ALPHA / N_LATTICE, f"{case}: chi2 p = {p:.2g}"
    assert set(fast.summary()) == set(slow.summary())
    for key in ("final", "time_average"):
        assert set(fast.summary()[key]["mean"]) == set(slow.summary()[key]["mean"])


@pytest.mark.parametrize("chains, window", [(3000, None), (20, None), (300, 4)],
                         ids=["histogram", "per-chain", "distinct-sums"])
def test_lattice_path_is_reproducible_and_summarises_like_the_chains(chains, window, monkeypatch):
    """The same seed gives the same run; the summaries equal those of the chains' values, whether
    read off a histogram of the sums (chains on fewer lattice points than there are chains), per
    chain (more: 20 chains), or off the tables of the distinct sums (a window of 4 points)."""
    import theory.engine.lattice as lattice_module
    from theory.engine.lattice import lattice_law
    from theory.engine.loop import _mean_var

    if window:
        monkeypatch.setattr(lattice_module, "WINDOW_MAX", window)

    def run():
        loop = from_params("curie_weiss", 30, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 8},
                           fixed={"theta2": 0.3})
        assert lattice_law(loop) is not None
        return loop.run(40, chains, seed=5, record_every=10, keep=7, histograms={"phi1": (-8, 8, 16)})

    first, second = run(), run()
    assert np.array_equal(first.state.mu, second.state.mu)
    assert np.array_equal(first.state.hit_time, second.state.hit_time)
    assert first.summary() == second.summary()
    obs = first.loop.observables(first.state)
    for name, (mean, var) in first.final.items():
        want = _mean_var(obs[name])
        assert mean == pytest.approx(want[0], rel=1e-12, abs=1e-12)
        assert var == pytest.approx(want[1], rel=1e-9, abs=1e-12)
    h = first.histograms["phi1"]
    assert h.counts.sum() + h.below + h.above == 40 * chains and h.undefined == 0
    assert np.array_equal(first.trace["chains"]["phi1"][-1], obs["phi1"][:7])


def test_lattice_path_is_used_for_one_statistic_on_a_lattice():
    from theory.engine.lattice import lattice_law

    law = lattice_law(from_params("bernoulli", 10, {"p": 0.3}))
    assert law is not None and law.binomial is not None
    assert lattice_law(from_params("bernoulli", 10, {"p": 0.3}, sampler="naive")) is None
    law = lattice_law(from_params("curie_weiss", 10, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 6},
                                  fixed={"theta2": 0.3}))
    assert law is not None and law.binomial is None and list(law.k) == list(range(7)) and law.step[0] == 2
    assert lattice_law(from_params("curie_weiss", 10, {"theta1": 0.1, "theta2": 0.3},
                                   family_args={"N": 6})) is None  # two statistics
    assert lattice_law(from_params("categorical", 10, {"p1": 0.2, "p2": 0.3, "p3": 0.5},
                                   family_args={"K": 3})) is None
    # any lattice whose sums fit in int64: only a window of it is tabulated
    assert lattice_law(from_params("bernoulli", 2**40, {"p": 0.3})) is not None
    assert lattice_law(from_params("curie_weiss", 10**6, {"theta1": 0.1, "theta2": 0}, family_args={"N": 10},
                                   fixed={"theta2": 0})) is not None  # N·M > 2**22


def test_canonical_rounding_on_the_bit_pattern_equals_frexp_round_ldexp():
    """44 significant bits, ties to even, subnormals included: the values every machine draws with."""
    def reference(q):
        mantissa, exponent = np.frexp(q)
        return np.ldexp(np.round(np.ldexp(mantissa, sampling.PVALS_BITS)), exponent - sampling.PVALS_BITS)

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.random(200_000), rng.random(1000) * 1e-300, [0.0, 0.5, 1.0, 1 - 2**-53]])
    bits = x.view(np.int64)
    ties = ((bits & ~np.int64(0x1FF)) | 0x100).view(np.float64)  # exactly half-way, both parities
    normal = x[x > 1e-290]  # the short route (no subnormal check): smallest q in the normal range
    for q in (x, ties, np.nextafter(ties, 2), np.nextafter(ties, -1), np.array([[0.3, 1e-320], [5e-324, 1.0]]),
              normal, np.nextafter(normal, 2), np.array([0.0, 0.25, 1.0]), np.array([np.nan, 0.5])):
        assert np.array_equal(sampling.canonical(q), reference(q), equal_nan=True)


@pytest.mark.parametrize("name, args, fixed, init", [
    ("bernoulli", {}, {}, {"p": 0.3}), ("binomial", {"n": 10}, {}, {"p": 0.3}),
    ("curie_weiss", {"N": 20}, {"theta2": 0}, {"theta1": 0.1, "theta2": 0}),
    ("categorical", {"K": 2}, {}, {"p1": 0.3, "p2": 0.7})])
def test_the_binomial_sums_entropy_is_the_sum_over_the_levels(name, args, fixed, init):
    """S(μ) in closed form (ClosedLoop._binomial_entropy) against Σ_s q (log h − log q), inside
    and on both ends (log h there); a control without the binomial coefficients' share is rejected."""
    loop = from_params(name, 10, init, family_args=args, fixed=fixed)
    nf = loop.numeric
    theta = np.linspace(-8, 8, 401)[:, None]
    q = nf.level_probabilities(theta)
    with np.errstate(divide="ignore"):
        want = np.sum(np.where(q > 0, q * (nf.log_h - np.log(q)), 0.0), axis=1)
    mu = np.concatenate([nf.mu(theta)[:, 0], nf.phi_levels[[0, -1], 0]])
    want = np.concatenate([want, nf.log_h[[0, -1]]])
    got = loop._binomial_entropy(mu)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * (1 + np.abs(want).max()))
    if name in ("binomial", "curie_weiss"):  # control: the level sum without log h (the model's own entropy)
        with np.errstate(divide="ignore"):
            own = -np.sum(np.where(q > 0, q * np.log(q), 0.0), axis=1)
        assert not np.allclose(got[:-2], own, rtol=0, atol=1e-3)
