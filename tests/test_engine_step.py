"""The general path's step, leaner: its shortcuts give the numbers of the long way, bit for bit.

Each shortcut of ``ClosedLoop._advance`` and what it calls (the binomial-sum step, the truth's law
worked out once, the samplers' cheaper forms of numpy's own draws, the MLE's Newton without
penalty terms, the infinite families' step) is run against the long way in the same process on
the same seed, and must give the same numbers; a deliberately wrong shortcut is caught by the same
comparison (the control).
"""

import numpy as np
import pytest
from conftest import SmoothedDraws

from theory.engine import estimators
from theory.engine import loop as loop_module
from theory.engine.estimators import solve_theta
from theory.engine.model import numeric_family
from theory.engine.sampling import draw_exact
from theory.engine.state import gather_pays
from theory.families import get_family
from theory.families.exponential import sum_sampler as exponential_sums
from theory.families.gaussian import sum_sampler as gaussian_sums
from theory.params import from_params

SEGMENT_CASES = {  # (family, args, fixed, init, options)
    "bernoulli-accumulate": ("bernoulli", {}, {}, {"p": 0.3}, {"regime": "accumulate"}),
    "binomial-accumulate": ("binomial", {"n": 2}, {}, {"p": 0.1}, {"regime": "accumulate"}),
    "curie_weiss-accumulate": ("curie_weiss", {"N": 4}, {"theta2": 0}, {"theta1": -1.0, "theta2": 0},
                               {"regime": "accumulate"}),
    "bernoulli-schedule": ("bernoulli", {}, {}, {"p": 0.3}, {"M_schedule": "linear:6"}),
    "bernoulli-anchored": ("bernoulli", {}, {}, {"p": 0.8}, {"anchors": 2, "truth": {"p": 0.3}}),
    "binomial-fresh-accumulate": ("binomial", {"n": 3}, {}, {"p": 0.4},
                                  {"regime": "accumulate", "external": 1, "truth": {"p": 0.5}}),
    # replace: most chains absorbed (the step gathers the others), the ends of several draws
    "binomial-replace": ("binomial", {"n": 5}, {}, {"p": 0.5}, {}),
    "curie_weiss-replace": ("curie_weiss", {"N": 3}, {"theta2": 0}, {"theta1": 0.4, "theta2": 0}, {}),
    "binomial-fresh-replace": ("binomial", {"n": 2}, {}, {"p": 0.05}, {"external": 1, "truth": {"p": 0.02}}),
}


def _states(case, general=False, wrong=False):
    """The run's states and summaries through ClosedLoop._step (the segment path, which runs take
    for these settings, is switched off: it draws with p = K/(n n_t), engine.segment)."""
    name, args, fixed, init, options = SEGMENT_CASES[case]
    loop = from_params(name, 6, init, family_args=args, fixed=fixed, **options)
    assert loop._segment is not None
    if general:
        loop.__dict__["_segment"] = None  # the general path (draw_exact, _refit_finite)
    if wrong:  # control: each trial's log-odds off by 1e-3
        n, r, phi0, step = loop._segment
        loop.__dict__["_segment"] = (n, r + 1e-3, phi0, step)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop_module, "segment_law", lambda loop, generations: None)
        run = loop.run(40, 500, seed=3, record_every=3, keep=2)
    out = {k: v for k, v in vars(run.state).items() if isinstance(v, np.ndarray)}
    # what the run made of them: means and variances over chains (time averages, last generation, trace)
    for what, stats in (("time_average", run.time_average), ("final", run.final)):
        out[what] = np.array([[s.mean, s.var, s.n] for s in stats.values()])
    out["trace"] = np.array([run.trace[k][n] for k in ("mean", "var") for n in sorted(run.trace[k])])
    return out


@pytest.mark.parametrize("case", list(SEGMENT_CASES))
def test_the_binomial_sum_step_gives_the_general_paths_numbers(case):
    fast, slow = _states(case), _states(case, general=True)
    assert fast.keys() == slow.keys()
    for k in fast:
        assert np.array_equal(fast[k], slow[k], equal_nan=True), f"{case}: {k} differs"
    # both kinds of chain were stepped: on an end of the segment, and inside (no end without a truth)
    assert (fast["vertex"] < 0).any() and ((fast["vertex"] >= 0).any() or "truth" in SEGMENT_CASES[case][4])


def test_the_same_comparison_catches_a_wrong_binomial_sum_step():
    fast, slow = _states("bernoulli-accumulate", wrong=True), _states("bernoulli-accumulate", general=True)
    assert not np.array_equal(fast["mu"], slow["mu"])


SUM_CASES = {  # (family, M, init, options, generations): infinite families, absorbed chains below and above half
    "poisson-replace": ("poisson", 2, {"rate": 1.0}, {}, 120),
    "poisson-accumulate": ("poisson", 2, {"rate": 0.5}, {"regime": "accumulate"}, 60),
    "poisson-anchored": ("poisson", 5, {"rate": 1.0}, {"truth": {"rate": 0.5}, "anchors": 1}, 60),
    "poisson-fresh": ("poisson", 5, {"rate": 1.0}, {"truth": {"rate": 0.01}, "external": 1}, 60),
    "poisson-data": ("poisson", 3, {"rate": 1.0}, {"data": [{"s": 0}]}, 60),
    "exponential-replace": ("exponential", 3, {"rate": 0.5}, {}, 60),
    "exponential-accumulate": ("exponential", 3, {"rate": 0.5}, {"regime": "accumulate"}, 60),
    "gaussian-replace": ("gaussian", 3, {"mean": 1.0, "var": 2.0}, {}, 200),
    "gaussian-accumulate": ("gaussian", 3, {"mean": 1.0, "var": 2.0}, {"regime": "accumulate"}, 60),
    "gaussian-fresh": ("gaussian", 3, {"mean": 1.0, "var": 2.0},
                       {"truth": {"mean": 0.0, "var": 1.0}, "external": 1}, 60),
}


def _sum_states(case, general=False):
    name, M, init, options, generations = SUM_CASES[case]
    loop = from_params(name, M, init, **options)
    assert loop._sum_step_applies
    if general:
        loop.__dict__["_sum_step_applies"] = False  # the general path (_step, _advance, _refit_infinite)
    run = loop.run(generations, 40, seed=3, record_every=7, keep=2)
    out = {k: v for k, v in vars(run.state).items() if isinstance(v, np.ndarray)}
    for what, stats in (("time_average", run.time_average), ("final", run.final)):
        out[what] = np.array([[s.mean, s.var, s.n] for s in stats.values()])
    out["trace"] = np.array([run.trace[k][n] for k in ("mean", "var") for n in sorted(run.trace[k])])
    out["pool_size"] = np.array([run.state.pool_size])
    return out


@pytest.mark.parametrize("case", list(SUM_CASES))
def test_the_infinite_familys_step_gives_the_general_paths_numbers(case, monkeypatch):
    # the Gaussian's replace step draws the MLE itself (another rounding: the test below and
    # test_regimes_engine); without it, its sums take _sum_step's refit, compared here
    monkeypatch.delattr(gaussian_sums, "mle")
    fast, slow = _sum_states(case), _sum_states(case, general=True)
    assert fast.keys() == slow.keys()
    for k in fast:
        assert np.array_equal(fast[k], slow[k], equal_nan=True), f"{case}: {k} differs"
    if case in ("poisson-replace", "gaussian-replace"):  # absorbed chains stepped, below and above half
        hit = np.sort(fast["hit_time"][fast["hit_time"] >= 0])
        assert len(hit) > 20 and hit[0] < hit[20]


def test_the_live_chains_alone_are_stepped_while_fewer_than_half():
    """The one rule for stepping some chains (state.gather_pays): gathered while fewer than half,
    else every chain worked in place. Which chains draw is part of a run's numbers: pinned."""
    assert gather_pays(0, 1) and gather_pays(49, 100)
    assert not gather_pays(50, 100) and not gather_pays(100, 100)


def test_the_gaussians_mle_step_draws_what_the_sums_step_draws():
    """The replace step's (mean, var) drawn directly (``sum_sampler.mle``) reads the same normal
    and χ² draws as Σs, Σs² (χ² = 2·Gamma): away from the point-mass curve the two paths differ by
    rounding alone. Control: the MLE of m + 1 draws gives another state."""
    loop = from_params("gaussian", 50, {"mean": 1.0, "var": 2.0})
    assert loop._sum_step(loop.initial_state(40)) is not None

    def states(mle):
        state = loop.initial_state(40)
        step = loop._mle_step(state, mle, 50) if mle else loop._sum_step(state)
        rng = np.random.default_rng(5)
        for t in range(1, 21):
            step(state, t, rng)
        return state.mu

    sums = {}
    try:  # (the sums' step where the family declares no MLE sampler)
        mle, gaussian_sums.mle = gaussian_sums.mle, None
        sums = states(None)
    finally:
        gaussian_sums.mle = mle
    assert np.allclose(states(mle), sums, rtol=1e-9, atol=0)

    def wrong(rng, mean, var, m):
        mle(rng, mean, var, m + 1)
    assert not np.allclose(states(wrong), sums, rtol=1e-9, atol=0)


def test_the_same_comparison_catches_a_step_that_misses_point_masses(monkeypatch):
    """Control: the fast step looks point masses up only where ``on_point_mass`` (each generation)
    or ``vertex_index`` (from a block's μ, where absorbed chains are fixed points: Poisson) finds one."""
    slow = _sum_states("poisson-replace", general=True)
    nf = from_params("poisson", 2, {"rate": 1.0}).numeric
    monkeypatch.setattr(nf, "on_point_mass", lambda mu, on_curve=None: np.zeros(len(mu), bool))
    monkeypatch.setattr(nf, "vertex_index", lambda mu, *args, **kw: np.full(len(mu), -1))
    fast = _sum_states("poisson-replace")
    assert not np.array_equal(fast["hit_time"], slow["hit_time"])


def _curve_run(M, chains, general=False):
    """Gaussian accumulate from starts of which some have var 2·10⁻¹² (μ2 − μ1² then falls below
    POINT_MASS_RTOL·μ2 in some chains' first generations): the state after 40 generations."""
    loop = from_params("gaussian", M, {"mean": 1.0, "var": 2.0}, regime="accumulate")
    if general:
        loop.__dict__["_sum_step_applies"] = False
    kernels, handed = [], []  # the kernels built, the general steps built with kernels=False
    pool_step, sum_step = loop._pool_step, loop._sum_step
    loop._pool_step = lambda *a: kernels.append(a) or pool_step(*a)
    loop._sum_step = lambda state, defer_marks=False, kernels=True: (
        handed.append(1) if not kernels else None) or sum_step(state, defer_marks, kernels)
    var = np.where(np.random.default_rng(chains).random(chains) < 0.5, 2e-12, 2.0)
    run = loop.run(40, chains, seed=6, start=np.column_stack((1.0 / var, -0.5 / var)), record_every=6)
    out = {k: v for k, v in vars(run.state).items() if isinstance(v, np.ndarray)}
    out["time_average"] = np.array([[s.mean, s.var] for s in run.time_average.values()])
    out["kernel, handed over"] = np.array([len(kernels), len(handed)])
    return out


@pytest.mark.parametrize("M, chains", [(2, 30), (3, 200)])
def test_the_gaussians_pool_step_hands_chains_on_the_curve_to_the_general_step(M, chains):
    """Accumulate's column kernel (ClosedLoop._pool_step) screens the point-mass curve and hands
    the run to the general step once a chain is on it: the general path's numbers, bit for bit,
    with some chains on the curve and others not (held below half at M = 2, above at M = 3)."""
    fast, slow = _curve_run(M, chains), _curve_run(M, chains, general=True)
    hit = slow["hit_time"] >= 0
    assert 0 < np.count_nonzero(hit) < chains
    assert fast.pop("kernel, handed over").tolist() == [1, 1]  # the kernel ran, then handed over
    assert slow.pop("kernel, handed over").tolist() == [0, 0]
    for k in fast:
        assert np.array_equal(fast[k], slow[k], equal_nan=True), k


def test_the_same_comparison_catches_a_pool_step_that_misses_the_curve(monkeypatch):
    """Control: a kernel whose curve test never finds a chain gives other states."""
    slow = _curve_run(2, 30, general=True)
    from theory.engine.model import NumericFamily
    monkeypatch.setattr(NumericFamily, "on_continuum", lambda self, mu: np.zeros(len(mu), bool))
    fast = _curve_run(2, 30)
    assert not np.array_equal(fast["hit_time"], slow["hit_time"])


@pytest.mark.parametrize("name, init, truth", [
    ("bernoulli", {"p": 0.3}, {"p": 0.6}), ("categorical", {"p1": 0.2, "p2": 0.3, "p3": 0.5},
                                           {"p1": 0.5, "p2": 0.3, "p3": 0.2}),
    ("poisson", {"rate": 2.0}, {"rate": 1.0}), ("gaussian", {"mean": 1.0, "var": 2.0}, {"mean": 0.0, "var": 1.0})])
def test_the_truths_law_drawn_once_gives_the_repeated_laws_numbers(name, init, truth):
    args = {"K": 3} if name == "categorical" else {}
    loop = from_params(name, 10, init, family_args=args, truth=truth, anchors=3)
    nf, C = loop.numeric, 200
    face = np.ones((C, len(nf.levels)), bool) if nf.finite else None
    once = loop._draw_truth(C, 7, np.random.default_rng(5))
    repeated = draw_exact(nf, np.repeat(loop.theta_star, C, 0), np.repeat(nf.mu(loop.theta_star), C, 0),
                          face, 7, np.random.default_rng(5))
    for a, b in zip(once, repeated, strict=True):
        assert (a is None and b is None) or np.array_equal(a, b)


def test_the_samplers_draw_numpys_gamma_and_normal_numbers():
    """μ·Gamma(m) and m·mean + √(m var)·z are numpy's gamma(m, μ) and normal(m·mean, √(m var));
    control: χ² with m degrees of freedom (the mean taken as known) gives other numbers."""
    mu = np.random.default_rng(0).random((300, 1)) + 0.1
    rng = np.random.default_rng(1)
    assert np.array_equal(exponential_sums(np.random.default_rng(1), mu, 50)[:, 0], rng.gamma(50, mu[:, 0]))
    mu = np.column_stack([mu[:, 0], mu[:, 0] ** 2 + 0.5])
    mean, var = mu[:, 0], mu[:, 1] - mu[:, 0] ** 2

    def numpys(df):
        rng = np.random.default_rng(2)
        total = rng.normal(50 * mean, np.sqrt(50 * var))
        return np.column_stack([total, var * rng.chisquare(df, size=300) + total**2 / 50])

    ours = gaussian_sums(np.random.default_rng(2), mu, 50)
    assert np.array_equal(ours, numpys(49)) and not np.array_equal(ours, numpys(50))
    with pytest.raises(ValueError):
        gaussian_sums(np.random.default_rng(2), np.array([[1.0, 0.5]]), 50)  # a negative variance


def test_the_mles_newton_without_penalty_terms_gives_the_penalised_numbers():
    """The MLE's dual adds no penalty terms: the numbers of a zero penalty added term by term."""
    loop = from_params("curie_weiss", 40, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 8})
    state = loop.run(5, 400, seed=4).state
    counts = np.random.default_rng(6).multinomial(40, np.full(9, 1 / 9), size=400)
    tau = counts @ loop.numeric.phi_levels / 40

    def zero(th):
        return np.zeros(len(th)), np.zeros_like(th), np.zeros(th.shape + th.shape[-1:])

    plain = solve_theta(loop.numeric, tau, state.theta)
    penalised = solve_theta(loop.numeric, tau, state.theta, penalty=zero)
    assert np.array_equal(plain, penalised)
    assert not np.array_equal(plain, solve_theta(loop.numeric, tau, state.theta, lam=1e-3))


NEWTON_CASES = {  # (M, init, N, fixed, options): the refit by Newton, every chain inside its polytope
    "fitted-replace": (10_000, {"theta1": 0.05, "theta2": 0.3}, 20, {}, {}),
    "fitted-accumulate": (10_000, {"theta1": 0.05, "theta2": 0.3}, 20, {}, {"regime": "accumulate"}),
    "held-accumulate": (10_000, {"theta1": 0.05, "theta2": 0.3}, 20, {"theta2": 0.3}, {"regime": "accumulate"}),
    "fitted-subsample": (30, {"theta1": 0.1, "theta2": 0.3}, 8, {}, {"regime": "subsample"}),
    # chains far from the truth's anchors: full steps rejected, the general loop backtracks
    "fitted-anchored": (20, {"theta1": 0.4, "theta2": -0.5}, 10, {},
                        {"truth": {"theta1": 0.0, "theta2": 0.0}, "anchors": 2}),
}


def _newton_states(case, monkeypatch, full_steps):
    M, init, N, fixed, options = NEWTON_CASES[case]
    monkeypatch.setattr(estimators, "_full_steps", full_steps)
    loop = from_params("curie_weiss", M, init, family_args={"N": N}, fixed=fixed, **options)
    run = loop.run(60, 300, seed=5)
    out = {k: v for k, v in vars(run.state).items() if isinstance(v, np.ndarray)}
    out["time_average"] = np.array([[s.mean, s.var] for s in run.time_average.values()])
    return out


def _general_loop_only(numeric, tau, theta, tolerance, max_iter, kept=None):
    return np.ones(len(theta), bool), None, 0  # every chain left to solve_theta's general loop


@pytest.mark.parametrize("case", list(NEWTON_CASES))
def test_the_newtons_full_steps_give_the_general_loops_numbers(case, monkeypatch):
    """The MLE's Newton inside the polytope (estimators._full_steps, levels-major) takes the general
    loop's steps with the same products on the same chains: the same θ bit for bit."""
    fast = _newton_states(case, monkeypatch, estimators._full_steps)
    slow = _newton_states(case, monkeypatch, _general_loop_only)
    for k in fast:
        assert np.array_equal(fast[k], slow[k], equal_nan=True), f"{case}: {k} differs"


def test_the_same_comparison_catches_newton_steps_that_stop_early(monkeypatch):
    lean = estimators._full_steps

    def early(numeric, tau, theta, tolerance, max_iter, kept=None):  # control: a tolerance 10⁴ times wider
        return lean(numeric, tau, theta, 1e4 * tolerance, max_iter, kept)

    fast = _newton_states("fitted-replace", monkeypatch, early)
    slow = _newton_states("fitted-replace", monkeypatch, _general_loop_only)
    assert not np.array_equal(fast["theta"], slow["theta"])


def test_the_newtons_full_steps_hand_backtracking_chains_to_the_general_loop():
    """Chains started at their solution converge at once; those started far away (a full step
    overshoots: Armijo rejects it) go on in the general loop from before that step, with its
    cumulants: the general loop's θ, bit for bit."""
    loop = from_params("curie_weiss", 40, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 8})
    nf = loop.numeric
    rng = np.random.default_rng(8)
    counts = rng.multinomial(40, rng.dirichlet(np.full(9, 2.0), size=100))
    counts[:, [0, -1]] += 1  # the polytope's extreme levels in every sample: inside it
    tau = counts @ nf.phi_levels / counts.sum(axis=1, keepdims=True)
    start = solve_theta(nf, tau, np.zeros((100, 2)))
    start[:10] += rng.normal(0.0, 3.0, size=(10, 2))
    left, carry, _ = estimators._full_steps(nf, tau, start.copy(), estimators.REFIT_TOL * nf.scale, 200)
    assert left[:10].any() and not left[10:].any() and len(carry[0]) == np.count_nonzero(left)
    fast = solve_theta(nf, tau, start)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(estimators, "_full_steps", _general_loop_only)
        slow = solve_theta(nf, tau, start)
    assert np.all(np.abs(nf.mu(fast) - tau) <= estimators.REFIT_TOL * nf.scale)
    assert np.array_equal(fast, slow)


@pytest.mark.parametrize("max_iter", [1, 2, 3, 5])
def test_the_newtons_full_steps_count_against_its_step_budget(max_iter):
    """With a small budget the full steps spend it as the general loop's steps do: the same θ,
    the restart from the centre after max_iter steps, and NotConverged for the same chains."""
    loop = from_params("curie_weiss", 40, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 8})
    nf = loop.numeric
    rng = np.random.default_rng(3)
    counts = rng.multinomial(40, rng.dirichlet(np.full(9, 2.0), size=100))
    counts[:, [0, -1]] += 1
    tau = counts @ nf.phi_levels / counts.sum(axis=1, keepdims=True)
    start = solve_theta(nf, tau, np.zeros((100, 2))) + rng.normal(0.0, 0.01, size=(100, 2))

    def outcome():
        try:
            return solve_theta(nf, tau, start, max_iter=max_iter)
        except estimators.NotConverged as e:
            return str(e)

    fast = outcome()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(estimators, "_full_steps", _general_loop_only)
        slow = outcome()
    assert type(fast) is type(slow)
    assert fast == slow if isinstance(fast, str) else np.array_equal(fast, slow)


KEPT_CASES = {  # (M, init, N, fixed, options, chains): the Newton's refit, one θ held (d = 1) or both fitted
    # large samples: every chain converges at the same step (the cumulants kept) in most generations
    "held-accumulate": (10**6, {"theta1": 0.05, "theta2": 0.3}, 20, {"theta2": 0.3}, {"regime": "accumulate"}, 100),
    "fitted-accumulate": (10**6, {"theta1": 0.05, "theta2": 0.3}, 20, {}, {"regime": "accumulate"}, 100),
    # chains converging at different steps: the level probabilities kept chain by chain
    "held-accumulate-steps": (10_000, {"theta1": 0.05, "theta2": 0.3}, 20, {"theta2": 0.3},
                              {"regime": "accumulate"}, 300),
    "held-subsample": (10_000, {"theta1": 0.05, "theta2": 0.3}, 20, {"theta2": 0.3}, {"regime": "subsample"}, 300),
    "held-naive": (50, {"theta1": 0.05, "theta2": -0.4}, 8, {"theta2": -0.4},
                   {"regime": "accumulate", "sampler": "naive"}, 50),
    "theta1-held-accumulate": (200, {"theta1": 0.1, "theta2": 0.2}, 6, {"theta1": 0.1}, {"regime": "accumulate"}, 300),
    # small samples: chains on faces and off them again (what was kept is then another θ's)
    "held-subsample-faces": (5, {"theta1": 0.3, "theta2": -0.4}, 5, {"theta2": -0.4}, {"regime": "subsample"}, 300),
    "fitted-replace": (30, {"theta1": 0.1, "theta2": 0.3}, 8, {}, {}, 300),
}


def _kept_states(case, kept=True, unchecked=False):
    """A run's states and summaries, each generation reading what the last refit's Newton kept
    (state.Kept) or making it again; ``unchecked``: handed out whatever θ they were kept at (the
    control: a stale value read)."""
    from theory.engine.state import Kept

    M, init, N, fixed, options, chains = KEPT_CASES[case]
    loop = from_params("curie_weiss", M, init, family_args={"N": N}, fixed=fixed, **options)
    with pytest.MonkeyPatch.context() as mp:
        if not kept:
            mp.setattr(Kept, "keep", lambda self, theta, levels, cumulants=None: None)
        if unchecked:
            mp.setattr(Kept, "_at", lambda self, theta: self.theta is not None and self.theta.shape == theta.shape)
        run = loop.run(150, chains, seed=5, record_every=7, keep=3)
    out = {k: v for k, v in vars(run.state).items() if isinstance(v, np.ndarray)}
    out["time_average"] = np.array([[s.mean, s.var] for s in run.time_average.values()])
    out["trace"] = np.array([run.trace[k][n] for k in ("mean", "var") for n in sorted(run.trace[k])])
    return out


@pytest.mark.parametrize("case", list(KEPT_CASES))
def test_what_the_newton_kept_gives_the_numbers_made_again(case):
    """The next generation's draw (d = 1) and refit read the level probabilities and cumulants the
    last refit's Newton made at the θ it converged to: the numbers of making them again, bit for bit."""
    fast, slow = _kept_states(case), _kept_states(case, kept=False)
    for k in fast:
        assert np.array_equal(fast[k], slow[k], equal_nan=True), f"{case}: {k} differs"


def test_the_same_comparison_catches_kept_values_read_at_another_theta():
    fast, slow = _kept_states("held-subsample-faces", unchecked=True), _kept_states("held-subsample-faces", kept=False)
    assert not np.array_equal(fast["theta"], slow["theta"])


def test_the_newton_keeps_its_last_values_where_every_chain_converged():
    """Where every chain converged in full steps, the Newton keeps the level probabilities at the new
    θ (per chain: those of each chain's last step, the numbers a batch of every chain makes too), and
    its cumulants where every chain converged at the same step; a chain left to the general loop
    keeps nothing."""
    from theory.engine.state import Kept

    loop = from_params("curie_weiss", 40, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 8}, fixed={"theta2": 0.3})
    nf = loop.numeric
    rng = np.random.default_rng(8)
    counts = rng.multinomial(40, rng.dirichlet(np.full(9, 2.0), size=100))
    counts[:, [0, -1]] += 1
    tau = counts @ nf.phi_levels / counts.sum(axis=1, keepdims=True)
    start = solve_theta(nf, tau, np.zeros((100, 1)))
    start[:10] += 1e-3  # a step more than the others
    kept = Kept()
    theta = solve_theta(nf, tau, start, kept=kept)
    assert kept.cumulants is None and np.array_equal(kept.theta, theta)
    assert np.array_equal(kept.levels, nf.level_probabilities_T(theta))
    assert np.array_equal(kept.levels_at(theta, None), kept.levels) and kept.levels_at(theta + 1e-12, None) is None
    again = solve_theta(nf, tau, theta, kept=kept)  # every chain converged at once (at θ itself)
    a, mu, _, q = nf.cumulants_levels_major(theta.T.copy())
    assert np.array_equal(again, theta) and np.array_equal(kept.cumulants[1], mu)
    assert np.array_equal(kept.cumulants_at(theta)[0], a) and np.array_equal(kept.levels, q)
    far = start.copy()
    far[:5] += 50.0  # full steps rejected: the general loop
    kept.clear()
    solve_theta(nf, tau, far, kept=kept)
    assert kept.theta is None


def test_the_simplex_steps_first_generation_is_the_general_paths():
    """Generation 1 of the categorical's simplex step draws from θ as the general path does (the
    same draws: μ, faces and point masses equal); control: generation 2 reads μ's barycentric
    coordinates, another random stream."""
    def states(simplex, generations):
        loop = from_params("categorical", 5, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, family_args={"K": 3})
        assert loop._simplex
        loop.__dict__["_simplex"] = simplex
        state = loop.run(generations, 400, seed=7).state
        return state.mu, state.face, state.vertex

    for fast, slow in zip(states(True, 1), states(False, 1), strict=True):
        assert np.array_equal(fast, slow)
    assert not np.array_equal(states(True, 2)[0], states(False, 2)[0])


def test_the_simplex_step_starts_where_one_minus_the_mean_rounds_below_zero():
    """A start deep in a corner: 1 − μ1 − μ2 rounds below 0 (numpy's multinomial refuses a negative
    probability); generation 1 draws from θ, later ones from exact quotients."""
    loop = from_params("categorical", 100, {"theta1": 38.15437487198135, "theta2": 44.02608635681652},
                       family_args={"K": 3})
    B, c = loop.numeric.barycentric
    assert (loop.numeric.mu(loop.theta0) @ B + c).min() < 0
    state = loop.run(3, 5, seed=1).state
    assert np.all(np.isfinite(state.mu)) and np.all(state.mu >= 0)
    # a state no refit made (its μ from exp), stepped at a later generation: drawn from θ as well
    fresh = loop.initial_state(5)
    loop.step(fresh, 4, np.random.default_rng(1))
    assert np.all(np.isfinite(fresh.mu)) and np.all(fresh.mu >= 0)


@pytest.mark.parametrize("name", ["poisson", "exponential", "gaussian"])
def test_a_sum_sampler_takes_one_model_as_a_row(name):
    """The declared ``sum_sampler(rng, mu, m)`` takes one model, μ of shape (d,), as the row of a
    (1, d) call: the same draws (the Gaussian's in-place passes once refused a 0-d mean)."""
    family = get_family(name)
    mu = {"poisson": [2.0], "exponential": [0.5], "gaussian": [1.0, 3.0]}[name]
    one = family.sum_sampler(np.random.default_rng(3), np.array(mu), 10)
    row = family.sum_sampler(np.random.default_rng(3), np.array([mu]), 10)
    assert np.shape(one) == (len(mu),) and np.array_equal(one, row[0])


SIMPLEX_CASES = {  # (M, K, options): the categorical's simplex step; M = 4 puts chains on faces and vertices
    "replace": (4, 3, {}),
    "accumulate": (4, 3, {"regime": "accumulate"}),
    "subsample": (4, 3, {"regime": "subsample"}),
    "K4-replace": (3, 4, {}),
    "anchored-accumulate": (4, 3, {"regime": "accumulate", "anchors": 1, "truth": {"p1": 0.6, "p2": 0.1, "p3": 0.3}}),
    "data-subsample": (4, 3, {"regime": "subsample", "data": [{"phi1": 0, "phi2": 1}]}),
}


def _simplex_states(M, K, options, kernel, wrong=False, chains=300, generations=12):
    """The state after ``generations`` of ClosedLoop.step (the general simplex step,
    _advance_simplex) or of the per-run kernel (_simplex_step), on one seed."""
    init = {f"p{a + 1}": a + 1 for a in range(K)}
    init = {k: v / sum(init.values()) for k, v in init.items()}
    loop = from_params("categorical", M, init, family_args={"K": K}, **options)
    state = loop.initial_state(chains)
    rng = np.random.default_rng(5)
    step = loop._simplex_step(state) if kernel else None
    assert (step is not None) == kernel
    law = np.empty((K, chains))  # the kernel's refit's empirical law, levels-major
    for t in range(1, generations + 1):
        if kernel:
            step(state, t, SmoothedDraws(rng, 0.001) if wrong and t == 3 else rng, law)  # a thousandth off
            loop._simplex_state(state, law)
            loop._complete_simplex(state, t)
        else:
            loop.step(state, t, rng)
    return state


@pytest.mark.parametrize("K", [3, 4, 5, 9])  # K = 9: the entropy's long rows (no run takes it)
def test_the_levels_major_simplex_models_are_the_chains_major_ones(K):
    """NumericFamily.simplex_models (a run's block of unit-simplex models, levels-major, from the
    refits' laws q = counts/n) gives the θ, faces, point masses and entropy of theta_on_face,
    vertex_index and entropy_of at μ = q_1..q_d on the face q > 0, bit for bit (signs of 0 too);
    control: the entropy with the last weight read as q_L = counts_L/n (another rounding than
    1 − Σμ) differs."""
    def same(a, b):
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()

    nf = numeric_family(get_family("categorical", K=K))
    rng = np.random.default_rng(K)
    n = 7  # small samples from laws near the faces: many chains on faces and vertices
    counts = rng.multinomial(n, rng.dirichlet(np.full(K, 0.3), size=4000))
    q = counts / n
    theta, face, interior, vertex, S = nf.simplex_models(np.ascontiguousarray(q.T))
    mu, on = q[:, :-1], counts > 0
    assert 0 < np.count_nonzero(~on.all(axis=1)) and 0 < np.count_nonzero(on.sum(axis=1) == 1)
    assert np.array_equal(face.T, on) and np.array_equal(interior, on.all(axis=1))
    assert same(theta.T, nf.theta_on_face(mu, on))
    assert np.array_equal(vertex, nf.vertex_index(mu, on))
    assert same(S, nf.entropy_of(nf.level_weights(mu)))
    assert not same(S, nf.entropy_of(q))


@pytest.mark.parametrize("case", list(SIMPLEX_CASES))
def test_the_simplex_kernel_is_the_general_simplex_step(case):
    """ClosedLoop._simplex_step (q' = counts/n kept from one generation to the next) gives the
    states of ClosedLoop._advance_simplex (level weights of μ masked by the face) bit for bit;
    control: one generation drawn from probabilities a thousandth off changes them."""
    M, K, options = SIMPLEX_CASES[case]
    slow, fast = _simplex_states(M, K, options, False), _simplex_states(M, K, options, True)
    assert not slow.face.all()  # (faces were reached)
    for name in ("mu", "theta", "face", "vertex", "hit_time", "pool_sums", "pool_counts"):
        a, b = getattr(slow, name), getattr(fast, name)
        assert (a is None) == (b is None) and (a is None or np.array_equal(a, b, equal_nan=True)), name
    assert slow.pool_size == fast.pool_size
    if case == "replace":
        wrong = _simplex_states(M, K, options, True, wrong=True)
        assert not np.array_equal(slow.mu, wrong.mu)


@pytest.mark.parametrize("options", [{"regime": "subsample"},
                                     {"regime": "subsample", "data": [{"phi1": 0, "phi2": 1}]}])
def test_a_simplex_subsample_run_classifies_generation_1_only(options):
    """Under subsample on a simplex the pool's face is settled at generation 1
    (collapse.pool_face_settled): a run classifies that generation only and gets the collapse
    times of the step's classification every generation (ClosedLoop.step)."""
    loop = from_params("categorical", 4, {"p1": 0.2, "p2": 0.3, "p3": 0.5}, family_args={"K": 3}, **options)
    assert loop_module.collapse.pool_face_settled(loop)
    run = loop.run(15, 300, seed=2)
    state, rng = loop.initial_state(300), np.random.default_rng(2)
    for t in range(1, 16):
        loop.step(state, t, rng)
    assert np.array_equal(run.state.collapse_time, state.collapse_time)
    assert np.array_equal(run.state.mu, state.mu)
    assert 0 < np.count_nonzero(state.collapse_time == 1) == np.count_nonzero(state.collapse_time > 0) < 300
