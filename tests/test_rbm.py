"""rbm: the acceptance command, the vectorised likelihood against a per-configuration loop and finite
differences, the fit's first-order conditions and faces, the SymPy laws, the absorbing states of each
setting, refusals."""

import json
import time

import numpy as np
import pytest
from scipy import optimize

from theory.cli import main
from theory.models import model_loop
from theory.models import rbm as R
from theory.models import rbm_laws as L


def _loop(**kw):
    options = {"M": 10, "family_args": "N=3,H=2", "init_seed": 14} | kw
    return model_loop("rbm", **options)


RBM_ACCEPTANCE = ["simulate", "rbm", "--family-args", "N=3,H=2", "--init-seed", "5", "--M", "20",
                  "--generations", "300", "--chains", "2000", "--json"]


def _acceptance(argv, capsys) -> dict:
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"final", "time_average", "absorbed", "initial"} <= set(out)
    assert {"v1", "v2", "v3"} <= set(out["final"]["mean"]) and {"v1", "v2", "v3"} <= set(out["initial"]["mean"])
    assert out["fit"]["unconverged"] == 0 and out["fit"]["max_gradient"] <= 1e-8
    # every chain polarised: each unit ends at 0 or 1 (300 generations at M = 20 is far beyond absorption)
    assert out["absorbed"]["fraction"] == 1.0 and out["final"]["mean"]["point_mass"] == 1.0
    assert abs(sum(out["initial_probabilities"]) - 1) < 1e-12
    return out


def test_acceptance_command_runs_with_fewer_chains(capsys):
    """The issue's command with 200 chains (as written: -m slow)."""
    argv = list(RBM_ACCEPTANCE)
    argv[argv.index("--chains") + 1] = "200"
    _acceptance(argv, capsys)


@pytest.mark.slow
def test_acceptance_command_runs(capsys):
    """The issue's command, as written (its wall time is printed for the report)."""
    t0 = time.perf_counter()
    _acceptance(RBM_ACCEPTANCE, capsys)
    print(f"acceptance: {time.perf_counter() - t0:.1f} s")


def _naive(space, theta, q):
    """ℓ, ∇ℓ and ∇²ℓ of one chain by a loop over configurations (the formulas of the docstring)."""
    N, H = space.N, space.H
    b, A = theta[:N], theta[N:].reshape(H, N + 1)
    E, F, D2 = [], [], []
    for v in space.V:
        u = np.concatenate([[1.0], v])
        x = A @ u
        s = 1 / (1 + np.exp(-x))
        E.append(b @ v + np.sum(np.log1p(np.exp(x))))
        F.append(np.concatenate([v] + [s[j] * u for j in range(H)]))
        d2 = np.zeros((space.P, space.P))
        for j in range(H):
            lo = N + j * (N + 1)
            d2[lo:lo + N + 1, lo:lo + N + 1] = s[j] * (1 - s[j]) * np.outer(u, u)
        D2.append(d2)
    E, F, D2 = np.array(E), np.array(F), np.array(D2)
    p = np.exp(E - E.max())
    p /= p.sum()
    ell = q @ E - (E.max() + np.log(np.sum(np.exp(E - E.max()))))
    g = (q - p) @ F
    mean = p @ F
    cov = sum(pk * np.outer(f - mean, f - mean) for pk, f in zip(p, F, strict=True))
    hess = np.einsum("k,kab->ab", q - p, D2) - cov
    return ell, g, hess


def test_likelihood_derivatives_match_a_loop_over_configurations_and_finite_differences():
    space = R.RBMSpace(3, 2)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(4, space.P)) * 2
    q = rng.dirichlet(np.ones(space.K), size=4)
    clamp = -np.ones((4, 3), np.int8)
    f = space.objective(theta, q, clamp, None)
    g, hess = space.derivatives(theta, q, clamp, None)
    for c in range(4):
        ell, g1, h1 = _naive(space, theta[c], q[c])
        assert f[c] == pytest.approx(ell, abs=1e-12)
        np.testing.assert_allclose(g[c], g1, atol=1e-12)
        np.testing.assert_allclose(hess[c], h1, atol=1e-12)
        fd = optimize.approx_fprime(theta[c], lambda t, c=c: space.objective(t[None], q[c:c + 1], clamp[:1], None)[0],
                                    1e-7)
        np.testing.assert_allclose(g[c], fd, atol=1e-6)


def test_the_fit_meets_its_first_order_conditions_and_a_naive_optimiser():
    """Exact ML from a warm start: max |∇ℓ| <= 1e-8, so E_θ[v] = the data's means; a per-chain
    BFGS from the same start finds a likelihood no higher."""
    loop = _loop()
    space, rng, C = loop.space, np.random.default_rng(1), 40
    counts = rng.multinomial(200, np.tile(loop.p0, (C, 1))).astype(float)
    q = counts / counts.sum(axis=1, keepdims=True)
    clamp = -np.ones((C, 3), np.int8)
    report = R.FitReport()
    theta = R.fit(space, np.tile(loop.theta0, (C, 1)), q, clamp, report=report)
    assert report.unconverged == 0 and report.max_gradient <= 1e-8
    p = np.exp(space.log_probabilities(theta, clamp))
    np.testing.assert_allclose(p @ space.V, q @ space.V, atol=1e-8)
    ours = space.objective(theta, q, clamp, None)
    for c in range(0, C, 8):
        res = optimize.minimize(lambda t, c=c: -space.objective(t[None], q[c:c + 1], clamp[:1], None)[0],
                                loop.theta0, method="BFGS", options={"gtol": 1e-9, "maxiter": 10_000})
        assert -res.fun <= ours[c] + 1e-9


def test_a_constant_unit_is_clamped_and_a_single_configuration_absorbs():
    loop = _loop(M=5)
    state = loop.initial_state(3, np.random.default_rng(0))
    counts = np.zeros((3, 8))
    counts[0, [1, 3]] = [2, 3]   # v1 = 1 in every point, v2 varies, v3 = 0
    counts[1, 5] = 5             # one configuration: 101
    counts[2, [0, 7]] = [2, 3]   # 000 and 111: every unit varies (weights diverge)
    q = counts / 5
    loop._faces(state, q)
    assert state.clamp.tolist() == [[1, -1, 0], [1, 0, 1], [-1, -1, -1]]
    assert loop.absorbed(state).tolist() == [False, True, False]
    live = [0, 2]
    state.theta[live] = R.fit(loop.space, state.theta[live], q[live], state.clamp[live])
    p = np.exp(loop.space.log_probabilities(state.theta, state.clamp))
    assert p[0, [1, 3]].sum() == pytest.approx(1.0) and p[0, 3] == pytest.approx(0.6, abs=1e-8)
    assert p[2, [0, 7]].sum() > 1 - 1e-6  # the limit at infinite weights, reached to the tolerance


def test_h0_is_the_product_of_bernoullis():
    """H = 0: the ML is the product of the data's means (the naive closed form)."""
    loop = model_loop("rbm", M=10, family_args="N=3,H=0", init_seed=2)
    rng = np.random.default_rng(3)
    counts = rng.multinomial(30, np.tile(loop.p0, (20, 1))).astype(float)
    q = counts / 30
    state = loop.initial_state(20, rng)
    loop._faces(state, q)
    live = np.flatnonzero(~loop.absorbed(state))
    state.theta[live] = R.fit(loop.space, state.theta[live], q[live], state.clamp[live])
    p = np.exp(loop.space.log_probabilities(state.theta, state.clamp))
    np.testing.assert_allclose(p[live], np.array([L.product_law(m) for m in q[live] @ loop.space.V]), atol=1e-8)


def test_sympy_first_order_conditions():
    facts = L.first_order_conditions(2, 1)
    assert facts["identity_b"] == [0, 0] and facts["identity_bb"] == [[0, 0], [0, 0]]
    assert facts["theta_dependent"] == [True]  # the hidden unit's statistic moves with θ
    assert L.martingale_statistics(3, 2) == ["v1", "v2", "v3"]
    assert L.universal(2, 1) and L.universal(3, 3) and not L.universal(3, 2)
    np.testing.assert_allclose(L.product_law([0.2, 0.7]), [0.24, 0.06, 0.56, 0.14])


def test_absorbing_states_of_each_setting():
    """The pure loop absorbs on any configuration, an anchor only on itself; fresh points and a
    prior have none (the run's ``absorbed`` follows)."""
    assert L.absorbing_states(2) == ["00", "10", "01", "11"]
    assert L.absorbing_states(2, anchor="01") == ["01"] and L.absorbing_states(2, external=1) == []
    assert L.absorbing_states(2, prior=True) == []
    anchored = _loop(family_args="N=3,H=2,anchor=101").run(40, 150, seed=1)
    on = anchored.on_absorbing
    assert on.mean() > 0.5 and np.all(np.argmax(anchored.state.logp[on], axis=1) == R.labels(3).index("101"))
    fresh = _loop(external=1).run(30, 100, seed=1)
    assert fresh.absorbed()["fraction"] == 0.0
    prior = _loop(prior_law="normal:var=1").run(10, 100, seed=1)
    assert prior.absorbed()["fraction"] == 0.0 and prior.final["point_mass"].mean == 0.0


@pytest.mark.parametrize("regime", ["accumulate", "subsample"])
def test_pooled_regimes_keep_the_visible_means(regime):
    """E[v_i] stays at its start under accumulate and subsample too (the pool's mean is the fit's)."""
    loop = _loop(regime=regime)
    run = loop.run(3, 800, seed=2)
    m0 = loop.p0 @ loop.space.V
    for i in range(3):
        s = run.final[f"v{i + 1}"]
        assert abs(s.mean - m0[i]) <= 4.5 * s.sem


def test_subsample_draws_without_replacement():
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 5, size=(500, 8)).astype(float)
    pool[:, 0] += 1
    out = R.subsample(pool, 6, rng)
    assert np.all(out <= pool) and np.all(out.sum(axis=1) == 6) and np.all(out >= 0)
    # the mean draw is n × the pool's frequencies (the hypergeometric mean)
    expect = 6 * pool / pool.sum(axis=1, keepdims=True)
    assert abs((out - expect).mean()) < 0.05


@pytest.mark.parametrize("args, message", [
    (["--family-args", "N=3"], "needs --family-args N=..,H=.."),
    (["--family-args", "N=13,H=1"], "N from 1 to 12"),
    (["--family-args", "N=3,H=5"], "H from 0 to 4"),
    (["--family-args", "N=3,H=1,K=2"], "unknown family argument 'K'"),
    (["--family-args", "N=3,H=1,anchor=12"], "anchor=12 must be 3 digits"),
    (["--family-args", "N=3,H=1", "--init-seed", "1", "--init", "b1=1"], "one of the two"),
    (["--family-args", "N=3,H=1"], "--init-seed S"),
    (["--family-args", "N=3,H=1", "--init", "z9=1"], "unknown parameter 'z9'"),
    (["--family-args", "N=3,H=1", "--init-seed", "1", "--prior-law", "normal:var1=2"], "only normal:var=V"),
    (["--family-args", "N=3,H=1", "--init-seed", "1", "--design", "fixed"], "--design does not apply to rbm"),
])
def test_refusals_are_one_line(args, message, capsys):
    words = ["simulate", "rbm", "--M", "5", "--generations", "1", "--chains", "2"] + args
    if "--init-seed" not in args and "--init" not in args and message != "--init-seed S":
        words += ["--init-seed", "1"]
    assert main(words) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_given_weights():
    loop = model_loop("rbm", M=5, family_args="N=2,H=1", init={"b1": 1.0, "W11": -2.0})
    assert loop.theta0.tolist() == [1.0, 0.0, 0.0, -2.0, 0.0]
    assert loop.describe()["init"]["weights"]["W11"] == -2.0
