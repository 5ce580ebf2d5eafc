"""The sampling operator in the engine (issue 22): temperature, top-k/top-p and selection.

Exact against naive: the exact draws (a multinomial of the operated level probabilities, the
selection kept from level counts, the tempered model's sum sampler, the lattice path's tables)
and the naive reference (each point by inverse CDF of the operated law, or drawn one by one;
under selection all drawn, sorted and the first M kept) are compared in law after one
generation: a two-sample z on the mean and on the second moment over chains of each component
of Σφ/n, at family-wise false-fail rate ALPHA (Šidák over every comparison of a case). The
operated law itself is checked against independent oracles: θ/T for the Bernoulli and the
Gaussian, an enumeration of the 2^N spin configurations for Curie–Weiss (and the histogram
tempered instead, which it must not equal).
"""

import itertools
import math

import numpy as np
import pytest

from theory.api import exact_chain, simulate
from theory.cli import SELECT_BY_NAMES, main
from theory.engine.lattice import lattice_law
from theory.errors import InputError
from theory.families import get_family
from theory.operator import SELECT_BY, Operator, tempered_shift
from theory.params import from_params
from theory.stats import threshold as sidak_threshold
from theory.sweep import sweep

ALPHA = 1e-3
CHAINS = 4000

# name -> (family, family args, init, M, keywords of from_params)
CASES = {
    "bernoulli-T": ("bernoulli", {}, {"p": 0.7}, 10, {"temperature": 2.0}),
    "binomial-T-topk": ("binomial", {"n": 4}, {"p": 0.3}, 6, {"temperature": 0.7, "top_k": 3}),
    "categorical-topp": ("categorical", {"K": 4}, {"p1": 0.4, "p2": 0.3, "p3": 0.2}, 8, {"top_p": 0.75}),
    "curie_weiss-T-select": ("curie_weiss", {"N": 5}, {"theta1": 0.1, "theta2": 0.4}, 6,
                             {"temperature": 1.5, "select": 0.5, "by": "abs_deviation"}),
    "bernoulli-select-smallest": ("bernoulli", {}, {"p": 0.5}, 7, {"select": 0.7, "by": "smallest"}),
    "gaussian-select": ("gaussian", {}, {"mean": 0.5, "var": 2.0}, 6, {"select": 0.5, "by": "abs_deviation"}),
    "gaussian-T": ("gaussian", {}, {"mean": 0.5, "var": 2.0}, 6, {"temperature": 3.0}),
    "exponential-T-select": ("exponential", {}, {"rate": 2.0}, 5,
                             {"temperature": 0.5, "select": 0.6, "by": "largest"}),
    "poisson-select-fresh": ("poisson", {}, {"rate": 2.5}, 5,
                             {"select": 0.5, "by": "abs_deviation", "external": 1, "truth": {"rate": 1.0}}),
    "categorical-topk-subsample": ("categorical", {"K": 3}, {"p1": 0.5, "p2": 0.3}, 5,
                                   {"top_k": 2, "regime": "subsample"}),
    "gaussian-select-accumulate": ("gaussian", {}, {"mean": 0.0, "var": 1.0}, 5,
                                   {"select": 0.5, "by": "largest", "regime": "accumulate"}),
}


def _moments(loop, seed):
    """Each chain's φ̄ = μ after one generation (the MLE's refit is Σφ/n), shape (C, d)."""
    run = loop.run(1, CHAINS, seed=seed)
    return np.stack([run.per_chain(f"phi{a + 1}") for a in range(loop.family.d)], axis=1)


def _z_scores(x, y):
    """Two-sample z of the means and of the second moments of each column."""
    out = []
    for f in (lambda v: v, lambda v: v * v):
        a, b = f(x), f(y)
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        out += list(np.where(se > 0, (a.mean(0) - b.mean(0)) / np.where(se > 0, se, 1), 0.0))
    return np.array(out)


def _loop(case, sampler="exact"):
    name, args, init, M, kw = CASES[case]
    return from_params(name, M, init, family_args=args, sampler=sampler, **kw)


@pytest.mark.parametrize("case", CASES)
def test_exact_and_naive_agree_in_law(case):
    z = _z_scores(_moments(_loop(case), 1), _moments(_loop(case, "naive"), 2))
    assert np.all(np.abs(z) < sidak_threshold(len(z) * len(CASES), ALPHA)), (case, z)


def test_the_lattice_path_keeps_operated_probabilities_and_selection_leaves_it():
    law = lattice_law(_loop("bernoulli-T"))
    assert law is not None and law.binomial is None  # the operated law: a multinomial of the tables
    assert lattice_law(_loop("bernoulli-select-smallest")) is None


def test_negative_control_the_operator_omitted_is_rejected():
    """The same test tells the operated loop from the loop without its operator."""
    name, args, init, M, kw = CASES["gaussian-select"]
    plain = from_params(name, M, init, family_args=args)
    z = _z_scores(_moments(_loop("gaussian-select"), 1), _moments(plain, 2))
    assert np.max(np.abs(z)) > sidak_threshold(len(z), ALPHA)


# -- the operated law against oracles -------------------------------------------------------------
def _operated(name, init, args=None, **op):
    loop = from_params(name, 10, init, family_args=args or {}, **op)
    return loop, loop.operated


def test_temperature_is_theta_over_T_where_the_model_stays_in_the_family():
    for name in ("bernoulli", "categorical", "gaussian", "exponential", "curie_weiss"):
        assert all(b == 0 for b in tempered_shift(get_family(name))), name
    assert tempered_shift(get_family("poisson")) is None
    assert tempered_shift(get_family("binomial", n=4)) is None  # C(n, s) is no multiplicity
    loop, op = _operated("bernoulli", {"p": 0.8}, temperature=2.0)
    q = op.probabilities(loop.theta0, None)[0]
    assert q[1] == pytest.approx(1 / (1 + math.exp(-math.log(4) / 2)), rel=1e-12)
    loop, op = _operated("gaussian", {"mean": 1.5, "var": 2.0}, temperature=3.0)
    mu = op.tempered_mu(loop.numeric.mu(loop.theta0))[0]
    assert mu[0] == pytest.approx(1.5) and mu[1] - mu[0] ** 2 == pytest.approx(6.0)
    loop, op = _operated("exponential", {"rate": 2.0}, temperature=0.5)
    assert op.tempered_mu(loop.numeric.mu(loop.theta0))[0, 0] == pytest.approx(1 / 4.0)  # rate / T


def test_curie_weiss_is_tempered_on_configurations_not_on_the_histogram():
    N, T, (t1, t2) = 5, 2.5, (0.3, 0.8)
    loop, op = _operated("curie_weiss", {"theta1": t1, "theta2": t2}, {"N": N}, temperature=T)
    q = op.probabilities(loop.theta0, None)[0]
    by_level = np.zeros(N + 1)  # every configuration σ ∈ {±1}^N, f(σ)^(1/T), summed per level
    for sigma in itertools.product((-1, 1), repeat=N):
        m = sum(sigma)
        pairs = sum(a * b for a, b in itertools.combinations(sigma, 2))
        by_level[sigma.count(1)] += math.exp((t1 * m + t2 / N * pairs) / T)
    assert q == pytest.approx(by_level / by_level.sum(), rel=1e-9)
    p = loop.numeric.level_probabilities(loop.theta0)[0]
    histogram = p ** (1 / T) / (p ** (1 / T)).sum()  # the negative control: T on the histogram
    assert np.max(np.abs(histogram - q)) > 0.01


def test_top_k_and_top_p_support_ties_to_the_lower_level():
    init = {"p1": 0.4, "p2": 0.3, "p3": 0.15, "p4": 0.1}
    support = {}
    for op in ({"top_p": 0.9}, {"top_p": 0.7}, {"top_p": 0.71}, {"top_k": 2}, {"top_k": 3, "top_p": 0.8}):
        loop, operated = _operated("categorical", init, {"K": 5}, **op)
        q = operated.probabilities(loop.theta0, None)[0]
        assert q.sum() == pytest.approx(1)
        support[tuple(op.items())] = tuple(np.flatnonzero(q) + 1)
    assert support == {(("top_p", 0.9),): (1, 2, 3, 4), (("top_p", 0.7),): (1, 2),
                       (("top_p", 0.71),): (1, 2, 3), (("top_k", 2),): (1, 2),
                       (("top_k", 3), ("top_p", 0.8)): (1, 2)}  # 0.7/0.85 < 0.8 <= 0.85/0.85
    loop, operated = _operated("categorical", {"p1": 0.3, "p2": 0.3}, {"K": 3}, top_k=2)
    assert tuple(np.flatnonzero(operated.probabilities(loop.theta0, None)[0]) + 1) == (1, 3)


def test_selection_keeps_the_top_levels_of_the_drawn_counts():
    loop, op = _operated("binomial", {"p": 0.5}, {"n": 4}, select=0.5, by="abs_deviation")
    counts = np.array([[1, 2, 3, 2, 1]])  # 9 drawn, μ1 = 2: |s − 2| = 2, 1, 0, 1, 2
    assert op.select_counts(counts, np.array([[2.0]]), 4).tolist() == [[1, 2, 0, 0, 1]]
    loop, op = _operated("binomial", {"p": 0.5}, {"n": 4}, select=0.5, by="smallest")
    assert op.select_counts(counts, np.array([[2.0]]), 4).tolist() == [[1, 2, 1, 0, 0]]


# -- collapse and external points ------------------------------------------------------------------
def _run(name, init, generations=2, chains=200, **kw):
    return simulate(name, M=20, init=init, generations=generations, chains=chains, **kw).summary()


def test_top_1_collapses_in_one_generation():
    s = _run("categorical", {"p1": 0.5, "p2": 0.3}, family_args={"K": 3}, top_k=1)
    assert s["collapsed"]["fraction"] == 1 and s["collapsed"]["time_mean"] == 1
    assert s["absorbed"]["by_state"] == {"phi1=1,phi2=0": 1.0}
    # the operated model a point mass before the model is: collapsed and absorbed already
    s = _run("bernoulli", {"p": 0.95}, generations=1, top_p=0.9)
    assert s["collapsed"]["fraction"] == 1 and s["absorbed"]["fraction"] == 1


def test_truncated_levels_never_come_back():
    run = simulate("categorical", M=50, init={"p1": 0.4, "p2": 0.3, "p3": 0.2}, family_args={"K": 4},
                   generations=30, chains=300, top_p=0.8)
    assert np.all(run.per_chain("p4") == 0)  # p4 = 0.1 is cut at generation 1 and never drawn again
    assert run.summary()["collapsed"]["fraction"] == 1


def test_external_points_are_never_operated():
    fresh = _run("bernoulli", {"p": 0.8}, generations=20, top_k=1, external=1, truth={"p": 0.5})
    assert fresh["collapsed"]["fraction"] == 0 and fresh["absorbed"]["fraction"] == 0
    assert 20 / 21 < fresh["final"]["mean"]["p"] < 1  # 20 model points at 1, the fresh one 0 or 1
    data = _run("bernoulli", {"p": 0.8}, generations=5, top_k=1, data=[{"phi1": 0}])
    assert data["collapsed"]["fraction"] == 0 and data["final"]["mean"]["p"] == pytest.approx(20 / 21)
    anchors = _run("bernoulli", {"p": 0.8}, generations=5, top_k=1, anchors=20, truth={"p": 0.5})
    assert anchors["collapsed"]["fraction"] == 0 and 0.4 < anchors["final"]["mean"]["p"] < 0.6


# -- front ends -------------------------------------------------------------------------------------
def test_json_and_text_carry_the_operator(capsys):
    assert main(["simulate", "bernoulli", "--M", "10", "--init", "p=0.3", "--generations", "2",
                 "--chains", "5", "--temperature", "2"]) == 0
    assert "operator: temperature=2.0" in capsys.readouterr().out
    s = _run("gaussian", {"mean": 0, "var": 1}, select=0.5, by="largest")
    assert s["operator"] == Operator(select=0.5, by="largest").as_json()
    assert s["operator"]["select"] == 0.5 and s["operator"]["temperature"] is None
    assert _run("bernoulli", {"p": 0.3})["operator"] == Operator().as_json()
    assert tuple(SELECT_BY) == SELECT_BY_NAMES


@pytest.mark.parametrize("flags, says", [
    (["poisson", "--init", "rate=1", "--temperature", "2"], "Conway–Maxwell–Poisson"),
    (["gaussian", "--init", "mean=0,var=1", "--top-p", "0.9"], "finite sample space"),
    (["exponential", "--init", "rate=1", "--top-k", "2"], "finite sample space"),
    (["categorical", "--init", "p1=0.5,p2=0.3", "--select", "0.5", "--by", "largest"],
     "not a score"),
    (["bernoulli", "--init", "p=0.5", "--select", "0.5"], "needs both"),
    (["bernoulli", "--init", "p=0.5", "--top-k", "0"], "K >= 1"),
    (["bernoulli", "--init", "p=0.5", "--temperature", "-1"], "outside"),
    (["bernoulli", "--init", "p=0.5", "--top-k", "1", "--select", "0.5", "--by", "largest"],
     "does not combine"),
])
def test_refusals_are_one_line_and_exit_2(capsys, flags, says):
    assert main(["simulate", *flags, "--M", "10", "--generations", "1", "--chains", "1"]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_sweep_and_the_exact_chain():
    doc = sweep({"family": "bernoulli", "M": 10, "init": {"p": 0.3}, "generations": 2, "chains": 10},
                grid={"temperature": [0.5, 2.0]})
    assert [r["summary"]["operator"]["temperature"] for r in doc["results"]] == [0.5, 2.0]
    with pytest.raises(InputError, match="sampling operator"):
        exact_chain("bernoulli", M=10, init={"p": 0.3}, temperature=2.0)
