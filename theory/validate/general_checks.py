"""Checks of R9, the paper's general loop (external data, priors), against the engine.

* ``R9.sde``: the drift −χ⁻¹∇U/M of θ over a ladder of M, residual O(M⁻²); controls:
  the prior ignored (u → 0) or the external data ignored (m → 0).
* ``R9.entropy``: the drift of S = A − θ·μ per generation, residual O(M⁻²); control:
  the paper's printed pure-loop rate −D instead of the derived −D/2.
* ``R9.stationary``: Eq. 18 is a diffusion limit, so, as for R7, its moments must
  approach exact finite-M stationary moments at least as 1/M (exact Markov chain with
  a fixed data point), and the simulated law must fit the exact chain's; for the
  Poisson loop of App. C the simulated stationary moments over an M ladder must leave
  a residual O(1/M); normalisability: a setting that is not normalisable must collapse
  in simulation and a normalisable one must not (the table of :mod:`.collapse_checks`);
  Eq. 18's named laws (the Gaussian's normal-gamma, the categorical's Dirichlet, with
  fixed data) over an M ladder from a start drawn from the law, residual O(1/M).
  Controls: the exponent 2m halved, the prior not squared, the opposite verdict.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import sympy as sp
from scipy import integrate

from .. import symbols as S
from ..engine.loop import ClosedLoop
from ..params import from_params
from ..engine.markov import ExactChain
from ..numeric import evaluate
from ..store import derivation
from .collapse_checks import collapse_checks
from .registry import Budget, Check, Outcome, run_seed
from .stats import gap_order, mean_sem, order_fit, pmf_gof, seeded, z_from_p


@functools.lru_cache(maxsize=None)
def _loop(name, args, fixed, init, M, truth=None, external=0, data=(), prior_law=None) -> ClosedLoop:
    return from_params(name, M, dict(init), truth=None if truth is None else dict(truth),
                       fixed=dict(fixed), family_args=dict(args), external=external,
                       data=[dict(p) for p in data], prior_law=prior_law)


# (name, family args, fixed, init, truth, external, data, prior, what the control removes)
SDE_CASES = (
    ("poisson", (), (), (("rate", 3.0),), (("rate", 1.5),), 1, (), "exponential:rate=1,on=rate", "prior"),
    ("curie_weiss", (("N", 6),), (("theta2", 0.0),), (("theta1", 0.2),), None, 0,
     ((("phi1", -2.0),),), None, "data"),
    ("curie_weiss", (("N", 6),), (), (("theta1", 0.2), ("theta2", 0.6)), None, 0,
     ((("phi1", 0.0),),), "normal:var=0.2", "prior"),
)
SDE_LADDER = (100, 200, 400, 800, 1600)


def _values(loop: ClosedLoop, M: int) -> dict:
    fam = loop.family
    out = {n: float(loop.theta0[0, a]) for a, n in enumerate(fam.names)} | {"M": M}
    if loop.truth is not None:
        out |= {S.starred(t).name: float(loop.theta_star[0, a]) for a, t in enumerate(fam.theta)}
    return out


def _ladder(case, observable, prediction, control, order, chains):
    """Residual of a one-step mean over the ladder; returns (p, control p, detail, last values)."""
    est, sem, pred, wrong = [], [], [], []
    for M in SDE_LADDER:
        loop, state = _one_step(run_seed(), case[:8], M, chains)
        e, s = mean_sem(observable(loop, state))
        vals = _values(loop, M)
        est.append(e), sem.append(s), pred.append(prediction(loop, vals)), wrong.append(control(loop, vals))
    Ms, est, sem, pred, wrong = map(np.array, (SDE_LADDER, est, sem, pred, wrong))
    p, detail = order_fit(Ms, est - pred, sem, order)
    p_c, detail_c = order_fit(Ms, est - wrong, sem, order)
    return p, p_c, f"M={Ms[0]}..{Ms[-1]}: {detail}; control {detail_c}", pred[-1], est[-1], sem[-1]


@functools.lru_cache(maxsize=6)
def _one_step(seed, case, M, chains):
    """One generation from θ0 (shared by the components and the entropy check of a case)."""
    loop = _loop(*case[:4], M, *case[4:8])
    return loop, loop.run(1, chains, seed=seeded(seed, "R9", case, M, chains)).state


def _theta(loop, state):
    nf = loop.numeric
    if nf.finite or nf.family.mu_inverse is None:
        return state.theta
    return nf.theta_closed_form(state.mu)


def _sde_check(case, a: int):
    name, args, fixed, init, truth, external, data, prior_law, removes = case

    def drift_expr(loop, strip=False):
        st = loop.setting
        if strip and removes == "prior":
            st = dataclasses.replace(st, prior=None)
        elif strip:
            st = dataclasses.replace(st, data=())
        return derivation("R9.sde", st).result["drift"][a]

    def compute(budget: Budget, rng) -> Outcome:
        obs = lambda loop, state: _theta(loop, state)[:, a] - loop.theta0[0, a]  # noqa: E731
        pred = lambda loop, v: float(evaluate(drift_expr(loop), v))  # noqa: E731
        wrong = lambda loop, v: float(evaluate(drift_expr(loop, strip=True), v))  # noqa: E731
        p, p_c, detail, pr, est, sem = _ladder(case, obs, pred, wrong, 2, budget.ladder_chains)
        return Outcome(pr, est, sem, z_from_p(p), f"{removes} ignored", z_from_p(p_c), detail)

    loop = _loop(*case[:4], SDE_LADDER[0], *case[4:8])
    return Check("R9.sde", loop.family.slug, f"E[d {loop.family.names[a]}] per generation, "
                 f"{loop.setting.label}, residual O(M^-2)", "O(M^-2)", compute)


ENTROPY_CASES = (
    ("gaussian", (), (), (("mean", 1.0), ("var", 2.0)), None, 0, (), None),
    ("bernoulli", (), (), (("p", 0.6),), None, 0, (), None),
    ("curie_weiss", (("N", 6),), (), (("theta1", 0.2), ("theta2", 0.6)), None, 0,
     ((("phi1", 0.0),),), "normal:var=0.2"),
)


def _entropy_check(case):
    def compute(budget: Budget, rng) -> Outcome:
        def entropy(loop, theta):
            fam = loop.family
            S_expr = derivation("R9.entropy", loop.setting).result["S"]
            return np.broadcast_to(evaluate(S_expr, {n: theta[:, i] for i, n in enumerate(fam.names)}),
                                   theta.shape[:1])

        def obs(loop, state):
            th = _theta(loop, state)
            return entropy(loop, th) - entropy(loop, loop.theta0)[0]

        def pred(loop, v):
            return float(evaluate(derivation("R9.entropy", loop.setting).result["drift_tau"], v)) / v["M"]

        def wrong(loop, v):  # the paper's Eq. 17: −D instead of −D/2 in the pure part
            return pred(loop, v) - loop.family.d / 2 / v["M"]

        p, p_c, detail, pr, est, sem = _ladder(case, obs, pred, wrong, 2, budget.ladder_chains)
        return Outcome(pr, est, sem, z_from_p(p), "the printed rate -D (Eq. 17)", z_from_p(p_c), detail)

    loop = _loop(*case[:4], SDE_LADDER[0], *case[4:8])
    return Check("R9.entropy", loop.family.slug, f"E[dS] per generation, {loop.setting.label}, "
                 "residual O(M^-2)", "O(M^-2)", compute)


# -- stationary law ------------------------------------------------------------------------------
CW_DATA = ("curie_weiss", (("N", 6),), (("theta2", 0.0),), (("theta1", -0.5),), None, 0,
           ((("phi1", -2.0),),), None)
STATIONARY_LADDER = (25, 50, 100, 200, 400)


def _law_moments_theta(log_p, fam, values, ks, mean_of) -> np.ndarray:
    """E[g(θ)^k] under p ∝ e^{log_p} on the natural domain (one parameter), by quadrature."""
    (t,) = fam.theta
    f = sp.lambdify(t, sp.sympify(log_p).subs(values), "numpy")
    upper = -1e-9 if t.name in fam.negative else 40.0
    with np.errstate(all="ignore"):
        xs = np.linspace(-40.0, upper, 40001)
        ell = f(xs)
    shift = np.nanmax(ell)
    mass = np.flatnonzero(ell - shift > -80)  # beyond, the density is below e^-80 of its peak
    lo, hi = xs[max(mass[0] - 1, 0)], xs[min(mass[-1] + 1, len(xs) - 1)]

    def moment(k):
        return integrate.quad(lambda x: mean_of(x) ** k * np.exp(f(x) - shift), lo, hi, limit=400)[0]

    total = moment(0)
    return np.array([moment(k) / total for k in ks])


def _stationary_chain_order():
    """Eq. 18's law (fixed data point) against the exact chain's stationary moments over M."""
    def compute(budget: Budget, rng) -> Outcome:
        loop = _loop(*CW_DATA[:4], STATIONARY_LADDER[0], *CW_DATA[4:8])
        fam = loop.family
        log_p = derivation("R9.stationary", loop.setting).result["log_density"]
        N = fam.args["N"]
        mean_of = lambda x: N * np.tanh(x)  # noqa: E731  (μ = N tanh θ1 with θ2 = 0)
        ks = (1, 2, 3, 4)
        law = _law_moments_theta(log_p, fam, {}, ks, mean_of)
        control = _law_moments_theta(log_p / 2, fam, {}, ks, mean_of)  # e^{−m D}: exponent halved
        exact = []
        for M in STATIONARY_LADDER:
            chain = ExactChain(_loop(*CW_DATA[:4], M, *CW_DATA[4:8]))
            pi = chain.stationary()
            exact.append([pi @ chain.phibar**k for k in ks])
        exact = np.array(exact)
        fit, fit_c = gap_order(exact, law), gap_order(exact, control)
        return Outcome(float(law[1]), float(exact[-1, 1]), 0.0, None, "exponent 2m halved", None,
                       f"E[mu^k], k=1..4: gap order {fit[1]}; control {fit_c[1]}",
                       passed=fit[0], control_rejected=not fit_c[0])
    loop = _loop(*CW_DATA[:4], STATIONARY_LADDER[0], *CW_DATA[4:8])
    return Check("R9.stationary", loop.family.slug, f"Eq. 18 moments vs exact chain, "
                 f"{loop.setting.label}, M={STATIONARY_LADDER[0]}..{STATIONARY_LADDER[-1]}, gap O(1/M)",
                 "deterministic", compute)


def _stationary_chain_law():
    """The simulated stationary law with a fixed data point against the exact chain's (M = 50)."""
    def compute(budget: Budget, rng) -> Outcome:
        M = 50
        loop = _loop(*CW_DATA[:4], M, *CW_DATA[4:8])
        x = loop.run(12 * M, budget.stationary_chains, seed=rng).state.mu[:, 0]
        chain = ExactChain(loop)
        step = chain.phibar[1] - chain.phibar[0]
        u = np.rint((x - chain.phibar[0]) / step).astype(int)
        p_fit = pmf_gof(chain.stationary(), u)
        other = ExactChain(_loop(*CW_DATA[:4], M, *CW_DATA[4:6], ((("phi1", 0.0),),), None))
        p_wrong = pmf_gof(other.stationary(), u)
        return Outcome(float("nan"), float(x.mean()), float(x.std() / np.sqrt(len(x))),
                       z_from_p(p_fit), "exact law with the data point at phi1=0", z_from_p(p_wrong),
                       f"chi2 p={p_fit:.3g}; control p={p_wrong:.3g}")
    loop = _loop(*CW_DATA[:4], 50, *CW_DATA[4:8])
    return Check("R9.stationary", loop.family.slug, f"law of mu at stationarity vs exact chain, "
                 f"{loop.setting.label}, M=50", "distribution", compute)


POISSON_C = ("poisson", (), (), (("rate", 0.5),), (("rate", 1.0),), 1, (), "exponential:rate=1,on=rate")
POISSON_LADDER = (25, 50, 100, 200)


def _stationary_poisson():
    """App. C: stationary E[rate], E[rate²] over an M ladder against Eq. 18, residual O(1/M)."""
    def compute(budget: Budget, rng) -> Outcome:
        fam = _loop(*POISSON_C[:4], POISSON_LADDER[0], *POISSON_C[4:8]).family
        ks = (1, 2)
        rows = []
        for M in POISSON_LADDER:
            loop = _loop(*POISSON_C[:4], M, *POISSON_C[4:8])
            st = loop.setting
            res = derivation("R9.stationary", st).result
            star = {S.starred(fam.theta[0]): float(loop.theta_star[0, 0])}
            law = _law_moments_theta(res["log_density"], fam, star, ks, np.exp)
            wrong = _law_moments_theta(res["log_density"] - st.log_prior, fam, star, ks, np.exp)
            # relaxation rate (m + λ)/M per generation: 15 relaxation times to stationarity
            run = loop.run(15 * M // 2, budget.stationary_chains, seed=seeded(run_seed(), "C", M))
            x = run.state.mu[:, 0]
            rows.append([(mean_sem(x**k), law[i], wrong[i]) for i, k in enumerate(ks)])
        ps, ps_c, details = [], [], []
        for i, k in enumerate(ks):
            est = np.array([r[i][0][0] for r in rows])
            sem = np.array([r[i][0][1] for r in rows])
            pred = np.array([r[i][1] for r in rows])
            wrong = np.array([r[i][2] for r in rows])
            p, d = order_fit(np.array(POISSON_LADDER), est - pred, sem, 1)
            p_c, _ = order_fit(np.array(POISSON_LADDER), est - wrong, sem, 1)
            ps.append(p), ps_c.append(p_c), details.append(f"k={k}: {d}")
        p, p_c = min(ps) * len(ps), max(ps_c)  # Bonferroni over the two moments; control must fail both
        return Outcome(float(rows[-1][0][1]), float(rows[-1][0][0][0]), float(rows[-1][0][0][1]),
                       z_from_p(min(p, 1.0)), "prior not squared (p0 instead of p0^2)", z_from_p(p_c),
                       "; ".join(details))
    loop = _loop(*POISSON_C[:4], POISSON_LADDER[0], *POISSON_C[4:8])
    return Check("R9.stationary", loop.family.slug, f"E[rate^k], k=1,2, {loop.setting.label}, "
                 f"M={POISSON_LADDER[0]}..{POISSON_LADDER[-1]}, residual O(1/M)", "O(M^-1)", compute)


NAMED_CASES = (
    ("gaussian", (), (), (("mean", 0.0), ("var", 1.0)), None, 0,
     ((("s", 0.0),), (("s", 1.0),), (("s", 3.0),)), None),
    ("categorical", (("K", 3),), (), (("p1", 0.6), ("p2", 0.2), ("p3", 0.2)), None, 0,
     ((("s", 1.0),), (("s", 2.0),), (("s", 3.0),), (("s", 3.0),)), None),
)
NAMED_LADDER = (25, 50, 100, 200, 400)


def law_moments(law) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, values) of the moments a named law is checked by: for the normal-gamma of (mean ν,
    precision λ) E[ν], E[ν²], E[λ]; for a Dirichlet of (p1, p2, ...) E[p1], E[p2], E[p1²], E[p1 p2]."""
    from ..laws import NormalGamma

    if isinstance(law, NormalGamma):
        return ("nu", "nu^2", "lambda"), np.array([law.loc, law.loc**2 + law.location.var(),
                                                    law.alpha / law.beta])
    a = np.asarray(law.alpha, float)
    a0 = a.sum()
    second = lambda i, j: a[i] * (a[j] + (i == j)) / (a0 * (a0 + 1))  # noqa: E731
    return ("p1", "p2", "p1^2", "p1*p2"), np.array([a[0] / a0, a[1] / a0, second(0, 0), second(0, 1)])


def chain_moments(law, mu: np.ndarray) -> np.ndarray:
    """Per chain, the quantities whose means :func:`law_moments` predicts, shape (C, k)."""
    from ..laws import NormalGamma

    if isinstance(law, NormalGamma):
        nu, var = mu[:, 0], mu[:, 1] - mu[:, 0] ** 2
        return np.stack([nu, nu**2, 1 / var], axis=-1)
    return np.stack([mu[:, 0], mu[:, 1], mu[:, 0] ** 2, mu[:, 0] * mu[:, 1]], axis=-1)


def _named_law_check(case):
    """Eq. 18's named law (normal-gamma, Dirichlet) against simulation over an M ladder: the
    chains start from the law itself (--init-law stationary) and run 5 relaxation times M/m;
    every moment's residual must be O(1/M) (the diffusion limit's gap). Control: the law of
    the exponent 2m halved, identified the same way."""
    def compute(budget: Budget, rng) -> Outcome:
        from ..laws import frozen_law
        from ..results.general import named_law

        rows = []
        for M in NAMED_LADDER:
            loop = _loop(*case[:4], M, *case[4:8])
            res = derivation("R9.stationary", loop.setting).result
            law = frozen_law(res, loop.family, {})
            name, params, _, _ = named_law(loop.setting, res["log_density"] / 2)
            wrong = frozen_law({"law": name, **params}, loop.family, {})
            start = from_params(case[0], M, None, init_law="stationary", family_args=dict(case[1]),
                                data=[dict(p) for p in case[6]])
            run = start.run(5 * M // loop.setting.m, budget.stationary_chains,
                            seed=seeded(run_seed(), "named", case[0], M))
            x = chain_moments(law, run.state.mu)
            rows.append((x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(len(x)),
                         law_moments(law)[1], law_moments(wrong)[1]))
        names = law_moments(law)[0]
        est, sem, pred, bad = (np.array([r[i] for r in rows]) for i in range(4))
        ps, ps_c, details = [], [], []
        for k, n in enumerate(names):
            p, d = order_fit(np.array(NAMED_LADDER), est[:, k] - pred[:, k], sem[:, k], 1)
            p_c, _ = order_fit(np.array(NAMED_LADDER), est[:, k] - bad[:, k], sem[:, k], 1)
            ps.append(p), ps_c.append(p_c), details.append(f"E[{n}]: {d}")
        # Bonferroni over the moments; the control must fail at least one
        return Outcome(float(pred[-1, -1]), float(est[-1, -1]), float(sem[-1, -1]),
                       z_from_p(min(min(ps) * len(ps), 1.0)), "exponent 2m halved",
                       z_from_p(min(ps_c)), "; ".join(details))
    loop = _loop(*case[:4], NAMED_LADDER[0], *case[4:8])
    name = derivation("R9.stationary", loop.setting).result["law"]
    return Check("R9.stationary", loop.family.slug, f"Eq. 18 as {name}, {loop.setting.label}, moments "
                 f"over M={NAMED_LADDER[0]}..{NAMED_LADDER[-1]}, residual O(1/M)", "O(M^-1)", compute)


def general_checks(families: list[str] | None = None) -> list[Check]:
    """Every R9 check, restricted to family slugs or names in ``families``."""
    out = [_sde_check(c, a) for c in SDE_CASES
           for a in range(len(c[3]) if not c[2] else len(c[3]))]
    out += [_entropy_check(c) for c in ENTROPY_CASES]
    out += [_stationary_chain_order(), _stationary_chain_law(), _stationary_poisson()]
    out += collapse_checks()
    out += [_named_law_check(c) for c in NAMED_CASES]
    if families is None:
        return out
    return [c for c in out if c.family in families or c.family.split("-")[0] in families]
