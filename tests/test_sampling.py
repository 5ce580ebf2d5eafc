"""The binomial sum of finite families: read from the declaration, the same law as the multinomial."""

import numpy as np
import pytest
from scipy import stats

import theory.engine.sampling as sampling
from theory.engine.loop import from_params
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
        loop = from_params(name, 12, init, family_args=args, fixed=fixed, truth=truth, M0=3 if truth else 0)
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
