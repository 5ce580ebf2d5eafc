"""linear_regression: the acceptance commands, the fast path against the naive per-chain refit, the
derived laws (SymPy and Monte Carlo at a small budget), refusals, and its claims."""

import dataclasses
import json
import time

import numpy as np
import pytest
import sympy as sp

from theory.claims import QUICK, run_claims, select
from theory import notation
from theory.cli import main
from theory.models import model_loop
from theory.models import regression_laws as L
from theory.models.regression import NaiveLinearRegression
from theory.stats import threshold


def _loop(**kw):
    options = {"M": 8, "family_args": "d=3,sigma=0.7", "init": {"w": 1.0}} | kw
    return model_loop("linear_regression", **options)


@pytest.mark.parametrize("regime", ["replace", "accumulate"])
def test_acceptance_commands_run(regime, capsys):
    """The issue's commands, as written (their wall time is printed for the report)."""
    words = ["simulate", "linear_regression", "--family-args", "d=10,sigma=1", "--M", "50", "--init", "w=0",
             "--generations", "5", "--chains", "20000", "--json"]
    if regime == "accumulate":
        words[words.index("--generations"):0] = ["--regime", "accumulate"]
    t0 = time.perf_counter()
    assert main(words) == 0
    seconds = time.perf_counter() - t0
    out = json.loads(capsys.readouterr().out)
    assert {"final", "time_average", "absorbed", "initial"} <= set(out) and out["regime"] == regime
    assert set(out["final"]["mean"]) == {"sq_error", "w1"} and out["absorbed"]["fraction"] == 0.0
    assert out["initial"]["mean"]["sq_error"] == 0.0
    law = (L.replace_sq_error if regime == "replace" else L.accumulate_sq_error)(5, 50, 10, 1.0)
    sem = np.sqrt(out["final"]["var"]["sq_error"] / 20000)
    assert abs(out["final"]["mean"]["sq_error"] - law) < threshold(2) * sem
    print(f"acceptance {regime}: {seconds:.2f} s")


@pytest.mark.parametrize("options", [
    {}, {"regime": "accumulate"}, {"design": "fixed"}, {"design": "fixed", "regime": "accumulate"},
    {"external": 2}, {"external": 2, "regime": "accumulate"}, {"M_schedule": "8,10,12"},
    {"prior_law": "normal:var=0.5,mean=0.2"}, {"prior_law": "normal:var=2,var2=0.1", "regime": "accumulate"},
    {"M": 2, "prior_law": "normal:var=1"},  # ridge is determined with fewer points than d
], ids=str)
def test_fast_path_equals_the_naive_refit(options):
    """Running sums and batched solves = every chain's whole pool refitted by lstsq, draw for draw."""
    fast = _loop(**options)
    naive = NaiveLinearRegression(**{f.name: getattr(fast, f.name) for f in dataclasses.fields(fast)})
    a, b = fast.run(3, 5, seed=11), naive.run(3, 5, seed=11)
    assert np.allclose(a.state.w, b.state.w, rtol=1e-9, atol=1e-11)


def test_sympy_derivations():
    n, d, M, k, sigma = (sp.Symbol(s, positive=True) for s in ("n", "d", "M", "k", "sigma"))
    assert sp.simplify(L.inverse_wishart_trace() - d / (n - d - 1)) == 0
    assert sp.simplify(L.accumulate_term() - sigma**2 * d / (k * (k * M - d - 1))) == 0
    g, lam = sp.Symbol("g", positive=True), sp.Symbol("lambda", positive=True)
    assert sp.simplify(L.ridge_stationary_eigen() - sigma**2 * g / (lam * (2 * g + lam))) == 0
    # the accumulate limit: the digamma form against a long partial sum, and below pi^2/6 d/(M - d - 1)
    for M_, d_ in ((50, 10), (15, 5), (1000, 3)):
        partial = L.accumulate_sq_error(200_000, M_, d_, 1.0)
        assert L.accumulate_limit_value(M_, d_, 1.0) == pytest.approx(partial, abs=2 * d_ / (M_ * 200_000))
        assert L.accumulate_limit_value(M_, d_, 1.0) < L.gerstgrasser_bound(M_, d_, 1.0)
    # the derivation document's section, from these expressions, in textbook order (n - d - 1)
    text = "\n".join(notation.render(d, define=False) for d in L.derivations())
    assert r"\frac{d \sigma^{2} t}{M - d - 1}" in text and r"\frac{d}{n - d - 1}" in text and r"\psi" in text
    assert L.w_is_a_martingale() and "True" not in text
    # and the bound is its M -> oo limit (relative)
    assert L.accumulate_limit_value(10**7, 3, 1.0) / L.gerstgrasser_bound(10**7, 3, 1.0) == pytest.approx(1, abs=1e-5)


def test_fixed_design_laws_are_consistent():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 3))
    tr = np.trace(np.linalg.inv(X.T @ X))
    assert L.replace_sq_error(4, 9, 3, 2.0, design=X) == pytest.approx(4 * 4 * tr)
    assert L.accumulate_sq_error(3, 9, 3, 2.0, design=X) == pytest.approx(4 * tr * (1 + 1 / 4 + 1 / 9))
    pen, mean, w0 = np.full(3, 0.5), np.full(3, 0.1), np.ones(3)
    m_inf, c_inf = L.fixed_design_moments(None, X, 9, 1.0, pen, mean, w0)
    m_t, c_t = L.fixed_design_moments(400, X, 9, 1.0, pen, mean, w0)
    assert np.allclose(c_t, c_inf) and np.allclose(m_t, m_inf)
    g = np.linalg.eigvalsh(X.T @ X)  # uniform lambda: the eigen-solution sigma^2 g/(lambda (2g + lambda))
    assert np.allclose(np.sort(np.linalg.eigvalsh(c_inf)), np.sort(g / (0.5 * (2 * g + 0.5))))
    # external rows labelled by w_0: stationary at w_0 when they span R^d, a martingale along what they miss
    from theory.errors import InputError

    zero = np.zeros(3)
    m_ext, c_ext = L.fixed_design_moments(None, X, 6, 1.0, zero, zero, w0)
    assert np.allclose(m_ext, w0) and np.all(np.linalg.eigvalsh(c_ext) > 0)
    with pytest.raises(InputError, match="span"):
        L.fixed_design_moments(None, X, 7, 1.0, zero, zero, w0)
    # Eq. 18 with m points and no prior: N(w_0, sigma^2/(2m)); the exact law tends to it as M grows
    assert L.eq18_normal(2, 1.5, None, 0.0, 0.3) == pytest.approx((0.3, 1.5**2 / 4))
    big = np.vstack([np.sqrt(4000) * np.eye(3), np.eye(3)])  # G_m = 4000 I, G_e = I (m = 1 per direction)
    assert L.fixed_design_moments(None, big, 3, 1.0, zero, zero, w0)[1][0, 0] == pytest.approx(0.5, rel=1e-3)


def test_schedule_law_at_a_small_budget():
    """Replace and accumulate with M_t = 8, 10, 12 (fresh design): the exchangeable-rows law."""
    sizes = {1: 8, 2: 10, 3: 12}
    for regime, law in (("replace", L.replace_sq_error), ("accumulate", L.accumulate_sq_error)):
        loop = _loop(family_args="d=3,sigma=1", init={"w": 0.0}, M_schedule="8,10,12", regime=regime)
        x = loop.run(3, 20_000, seed=5).per_chain("sq_error")
        pred = law(3, 8, 3, 1.0, schedule=sizes.get)
        assert abs(x.mean() - pred) < threshold(4) * x.std() / np.sqrt(len(x)), (regime, x.mean(), pred)


@pytest.mark.parametrize("options, message", [
    ({"M": 2}, r"least squares needs M \+ external >= d"),
    ({"regime": "subsample"}, "subsample does not apply"),
    ({"design": "fixed", "M_schedule": "8,9"}, "does not take --M-schedule"),
    ({"init": {"w4": 1.0}}, "w1..w3"),
    ({"init": {"w": 1.0}, "init_seed": 3}, "not both"),
    ({"family_args": "d=3,n=2"}, "unknown: n"),
    ({"family_args": "sigma=1"}, "d=D"),
    ({"family_args": "d=3,sigma=0"}, "sigma"),
    ({"prior_law": "exponential:rate=1,on=w"}, "a normal law on w"),
    ({"prior_law": "normal:var=1,var7=2"}, "w1..w3"),
    ({"init_sample": "normal:mean=0,var=1"}, "--init-sample does not apply"),
    ({"temperature": 2.0}, "--temperature does not apply"),
])
def test_refusals_name_the_problem(options, message):
    from theory.errors import InputError

    with pytest.raises(InputError, match=message):
        _loop(**options)


def test_cli_refusal_is_one_line(capsys):
    assert main(["simulate", "linear_regression", "--family-args", "d=10", "--M", "5", "--init", "w=0",
                 "--generations", "2", "--chains", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "M + external >= d" in err


def test_init_seed_and_describe():
    loop = _loop(init=None, init_seed=4, prior_law="normal:var=2")
    assert np.allclose(loop.w0, np.random.default_rng(4).standard_normal(3))
    info = loop.describe()
    assert info["estimator"] == "ridge" and info["prior"]["lambda"] == pytest.approx([0.49 / 2] * 3)


def test_regression_claims_hold_at_the_quick_budget():
    results = run_claims(select(["gerstgrasser2024.linear", "dohmatob2024.linear"]), QUICK, seed=0)
    assert {r.claim.id: r.verdict for r in results} == {"gerstgrasser2024.linear-accumulate-bound": "holds",
                                                        "dohmatob2024.linear-replace-growth": "holds"}


# -- logistic_regression -----------------------------------------------------------------------------
def test_logistic_newton_fit_against_scipy():
    """The batched Newton fit (ML and MAP) = scipy's BFGS on each chain's objective."""
    from scipy.optimize import minimize

    from theory.models.logistic import fit, objective

    rng = np.random.default_rng(2)
    X = np.concatenate([np.ones((6, 30, 1)), rng.standard_normal((6, 30, 2))], axis=2)
    y = (rng.random((6, 30)) < 0.5).astype(float)  # labels independent of x: overlapping, an ML fit exists
    for penalty in (np.zeros(3), np.full(3, 0.7)):
        mean = np.full(3, 0.2)
        theta, diverged = fit(X, y, np.zeros((6, 3)), penalty, mean)
        assert not diverged.any()
        for c in range(6):
            ref = minimize(lambda th: -objective(X[c], y[c], th, penalty, mean), np.zeros(3), method="BFGS",
                           options={"gtol": 1e-10})
            assert np.allclose(theta[c], ref.x, atol=1e-5), (c, theta[c], ref.x)


def test_logistic_separable_samples_are_the_deterministic_boundary():
    from theory.models.logistic import fit

    X = np.concatenate([np.ones((2, 6, 1)), np.linspace(-1, 1, 6)[None, :, None] * np.ones((2, 1, 1))], axis=2)
    y = np.array([[0, 0, 0, 1, 1, 1], [1, 1, 0, 1, 0, 0]], float)  # separable, overlapping
    _, diverged = fit(X, y, np.zeros((2, 2)), np.zeros(2), np.zeros(2))
    assert diverged.tolist() == [True, False]
    loop = model_loop("logistic_regression", M=5, family_args="d=2", init={"b": 3.0, "w": 0.1})
    run = loop.run(40, 400, seed=1)
    assert run.absorbed()["fraction"] > 0.5  # the pure loop ends on deterministic classifiers
    constant = run.state.hard & np.all(run.state.theta[:, 1:] == 0, axis=1)  # one label: (±1, 0, 0)
    assert constant.any() and np.all(np.abs(run.state.theta[constant, 0]) == 1)
    assert np.allclose(run.per_chain("rate")[constant], run.state.theta[constant, 0] > 0)
    anchored = model_loop("logistic_regression", M=5, family_args="d=2", init={"b": 3.0, "w": 0.1}, external=1)
    assert anchored.run(40, 400, seed=1).absorbed()["fraction"] == 0.0  # never absorbing with external points


def test_logistic_cli_and_refusals(capsys):
    from theory.errors import InputError

    assert main(["simulate", "logistic_regression", "--family-args", "d=2", "--M", "30", "--init", "b=0.5,w=1",
                 "--design", "fixed", "--generations", "5", "--chains", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["final"]["mean"]) == {"rate", "b", "w1", "design_rate"} and out["estimator"] == "mle"
    for options, message in (({"family_args": "d=2,sigma=1"}, "d=D"), ({"init": {"w3": 1.0}}, "w1..w2"),
                             ({"regime": "subsample"}, "subsample"), ({"init": {"b": 60.0}}, "deterministic")):
        with pytest.raises(InputError, match=message):
            model_loop("logistic_regression", **({"M": 10, "family_args": "d=2"} | options))
