"""gaussian_mixture and kde: the commands, EM against its naive reference, the derived laws
(R12.moments) and the theorem (R12.theorem) at a small budget, and the refusals."""

import json
import time

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from theory.cli import main
from theory.errors import InputError
from theory.models import model_loop, theorem
from theory.models import moment_laws as ml
from theory.models.kde import KDELoop, draw, draw_naive
from theory.models.mixture import EMFit, MixtureLoop, em, em_naive
from theory.regime import Regime
from theory.stats import threshold

MIX_ACCEPTANCE = ["simulate", "gaussian_mixture", "--family-args", "K=2", "--M", "50", "--init",
                  "w1=0.5,m1=-1,m2=1,v1=0.5,v2=0.5", "--generations", "20", "--chains", "4000", "--json"]
KDE_ACCEPTANCE = ["simulate", "kde", "--family-args", "h=0.5", "--M", "20", "--init-sample",
                  "normal:mean=0,var=1", "--generations", "40", "--chains", "4000", "--json"]
Z = threshold(40)  # the file's Monte Carlo comparisons, Šidák at 1e-3


def _run(argv, capsys) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _with_chains(argv, chains):
    out = list(argv)
    out[out.index("--chains") + 1] = str(chains)
    return out


def _assert_summary(d, names):
    for key in ("final", "time_average"):
        for stat in ("mean", "var"):
            assert set(names) <= set(d[key][stat]), (key, stat)
    assert {"fraction", "time_mean", "time_sem"} <= set(d["absorbed"])


def test_acceptance_commands_run_with_fewer_chains(capsys):
    d = _run(_with_chains(MIX_ACCEPTANCE, 200), capsys)
    _assert_summary(d, ("mean", "total_var", "components", "w1", "m2", "v2"))
    assert d["family"] == "gaussian_mixture" and d["init"]["w2"] == 0.5 and d["em"]["max_iter"] == 500
    d = _run(_with_chains(KDE_ACCEPTANCE, 200), capsys)
    _assert_summary(d, ("mean", "total_var"))
    assert d["absorbed"]["fraction"] == 0 and d["family_args"] == {"h": 0.5}


@pytest.mark.slow
@pytest.mark.parametrize("argv", [MIX_ACCEPTANCE, KDE_ACCEPTANCE], ids=["gaussian_mixture", "kde"])
def test_acceptance_commands_as_written(argv, capsys):
    t0 = time.perf_counter()
    d = _run(argv, capsys)
    print(f"{argv[1]}: {time.perf_counter() - t0:.1f} s")
    _assert_summary(d, ("mean", "total_var"))


# -- EM ---------------------------------------------------------------------------------------------
def test_vectorised_em_matches_the_naive_reference():
    """Same data, same start: the same fit chain by chain (dropped components included)."""
    rng = np.random.default_rng(3)
    C, N = 12, 15
    start = MixtureLoop(M=N, w=(0.2, 0.3, 0.5), m=(-2.0, 0.0, 2.0), v=(0.5, 0.5, 0.5)).truth(C)
    x = rng.normal(size=(C, N)) * 1.5
    x[0, :] = np.r_[rng.normal(-3, 0.3, N - 1), 5.0]  # a lonely point: a component collapses
    fit, report = em(x, start, max_iter=300, tol=1e-10)
    for c in range(C):
        w, m, v, alive, its = em_naive(x[c], start.w[c], start.m[c], start.v[c], max_iter=300, tol=1e-10)
        assert np.array_equal(alive, fit.alive[c]), c
        assert its == report.iterations[c], c
        np.testing.assert_allclose(fit.w[c], w, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fit.m[c][alive], m[alive], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fit.v[c][alive], v[alive], rtol=1e-9, atol=1e-12)
    assert report.dropped >= 1


def test_every_m_step_matches_the_data_mean_and_second_moment():
    """The theorem at work: one iteration or many, the mixture's mean and E[x²] are the data's."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 30)) ** 3
    x[:5, 0] = 40.0  # a lonely point: a component latches on it and is dropped, cap or not
    start = MixtureLoop(M=30, m=(0.0, 40.0), v=(1.0, 1e-3)).truth(50)
    for max_iter in (1, 3, 500):
        fit, report = em(x, start, max_iter=max_iter)
        assert report.dropped >= 5
        w = np.where(fit.alive, fit.w, 0.0)
        np.testing.assert_allclose((w * fit.m).sum(1), x.mean(1), atol=1e-10)
        np.testing.assert_allclose((w * (fit.v + fit.m**2)).sum(1), (x**2).mean(1), rtol=1e-10)


def test_kde_draw_matches_the_naive_reference_in_law():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(2, 7))
    h = np.array([0.3, 0.0])
    fast, slow = draw(points, h, 20000, rng), draw_naive(points, h, 20000, rng)
    assert stats.ks_2samp(fast[0], slow[0]).pvalue > 1e-4
    assert set(np.unique(fast[1])) == set(np.unique(slow[1])) == set(points[1])  # h = 0: resampling


# -- derived laws -----------------------------------------------------------------------------------
def test_the_theorem_derivations_simplify_to_zero():
    assert all(theorem.verified().values())
    assert "mean = E[x]" in theorem.martingales("gaussian_mixture")
    assert theorem.martingales("kde") == ["mean"]
    assert theorem.derivation().id == "R12.theorem"


def test_moment_laws_reduce_to_the_known_forms():
    M, P, h2, k, N = ml.M_t, ml.P, ml.h2, ml.kappa, ml.N_prev
    assert sp.simplify(ml.variance_step("replace") - (1 - 1 / M) * ((1 + k) * P + h2)) == 0
    # accumulate, no kernel: the Gaussian family's pooled law E P_t = P (1 − M/N_t²) when N_{t−1}
    # points already hold the variance P
    acc = ml.variance_step("accumulate").subs({k: 0, h2: 0})
    assert sp.simplify(acc - P * (1 - M / (N + M) ** 2)) == 0
    c = sp.Symbol("c", positive=True)
    assert sp.simplify(ml.silverman_factor() - (1 - 1 / M + c**2 * M ** sp.Rational(-2, 5))) == 0
    traj = ml.moment_trajectory("accumulate", [10] * 4, [0.0, 0.0, 1.0])[:, 2]
    np.testing.assert_allclose(traj, np.cumprod([1, *(1 - 10 / (10 * t) ** 2 for t in range(1, 5))]))
    assert any("Silverman" in step.text for step in ml.derivation().steps)


def _z(values, prediction):
    values = np.asarray(values)
    return (values.mean() - prediction) / (values.std(ddof=1) / np.sqrt(len(values)))


@pytest.mark.parametrize("regime", ["replace", "accumulate"])
def test_kde_variance_law_with_external_points_and_a_schedule(regime):
    """The full linear law (external truth points, growing M_t), against the loop."""
    loop = KDELoop(M=10, h=0.4, external=3, regime=Regime(regime, "linear:10"), var0=2.0, mean0=1.0)
    T, C = 4, 6000
    run = loop.run(T, C, seed=5)
    # the initial data set: 10 points of N(1, 2): E (a - mu*)^2 = 2/10, E P = (1 - 1/10) 2
    P = ml.moment_trajectory(regime, [10 * t for t in range(1, T + 1)], [0.0, 0.2, 1.8], external=3,
                             h=0.4, truth_var=2.0)[-1, 2]
    assert abs(_z(run.per_chain("total_var"), P + 0.16)) < Z
    assert abs(_z(run.per_chain("total_var"), P)) > Z  # control: h² left out


def test_mixture_variance_law_with_external_points():
    loop = MixtureLoop(M=15, external=5, w=(0.5, 0.5), m=(-2.0, 2.0), v=(1.0, 1.0))
    T, C = 3, 3000
    run = loop.run(T, C, seed=2)
    law = ml.moment_trajectory("replace", [15] * T, [0.0, 0.0, 5.0], external=5, truth_var=5.0)[-1]
    assert abs(_z(run.per_chain("total_var"), law[2])) < Z
    assert abs(_z(run.per_chain("total_var"), 5.0 * (1 - 1 / 15) ** T)) > Z  # control: no external points


def test_silverman_variance_grows():
    run = KDELoop(M=20, h=None).run(3, 4000, seed=1)
    V0 = (1 - 1 / 20) * (1 + ml.silverman_kappa(20))
    rho = 1 - 1 / 20 + ml.SILVERMAN_C**2 * 20**-0.4
    assert rho > 1
    assert abs(_z(run.per_chain("total_var"), V0 * rho**3)) < Z


# -- options and refusals ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5"], "v2 is missing"),
    (["--init", "w1=1.5,m1=-1,m2=1,v1=0.5,v2=0.5"], "weights must be > 0"),
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5,v2=-1"], "variances must be > 0"),
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5,v2=0.5,m3=0"], "unknown parameter 'm3'"),
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5,v2=0.5", "--regime", "subsample"], "replace or accumulate"),
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5,v2=0.5", "--init-seed", "3"], "--init-seed does not apply"),
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5,v2=0.5", "--prior-law", "normal:var=1"], "--prior-law does not apply"),
    (["--init", "w1=0.5,m1=-1,m2=1,v1=0.5,v2=0.5", "--family-args", "K=2,L=3"], "unknown family argument"),
    ([], "needs --init"),
])
def test_mixture_refusals(argv, message, capsys):
    base = ["simulate", "gaussian_mixture", "--M", "10", "--generations", "1", "--chains", "2"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["--family-args", "h=-1"], "finite number >= 0"),
    (["--family-args", "bw=1"], "unknown family argument"),
    (["--init-sample", "uniform:low=0"], "expected normal:mean=A,var=B"),
    (["--init-sample", "normal:mean=0,var=0"], "var must be > 0"),
    (["--init", "mean=0"], "--init does not apply"),
    (["--regime", "subsample"], "replace or accumulate"),
])
def test_kde_refusals(argv, message, capsys):
    base = ["simulate", "kde", "--M", "10", "--generations", "1", "--chains", "2"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_kde_shared_initial_data_and_silverman_option():
    loop = model_loop("kde", M=8, family_args="h=silverman", init_seed=4, init_sample="normal:mean=2,var=3")
    assert loop.h is None and (loop.mean0, loop.var0) == (2.0, 3.0)
    state = loop.initial_state(5, np.random.default_rng(0))
    assert np.all(state.points == state.points[0])  # one data set for every chain
    np.testing.assert_allclose(state.h, 1.06 * state.points[0].std(ddof=1) * 8**-0.2)
    with pytest.raises(InputError):
        KDELoop(M=1, h=None)


def test_one_component_left_is_absorbing():
    loop = MixtureLoop(M=3, w=(0.5, 0.5), m=(-1.0, 1.0), v=(1.0, 1.0))
    run = loop.run(10, 300, seed=0)
    obs = loop.observables(run.state)
    one = obs["components"] == 1
    assert one.any() and np.array_equal(run.on_absorbing, one)
    assert np.all(obs["w2"][one] + obs["w1"][one] == 1.0) and np.all(np.isnan(obs["m1"][one] + obs["m2"][one]))
    assert EMFit  # the fit's public type
