"""``gaussian_mixture``: a K-component Gaussian mixture in one dimension, refitted by EM.

Model: f(x) = Σ_k w_k N(x; m_k, v_k). Generation t draws M_t points from the current fit
(plus ``external`` points from the initial mixture, the ground truth) and refits by EM on them
(``replace``) or on the pool of every point drawn so far (``accumulate``), warm-started at the
previous generation's fit, all chains at once (arrays (C, N, K)).

EM, stated: an iteration is an E-step (responsibilities r_ik at the current fit) and an exact
M-step (w_k = n_k/N, m_k = Σ_i r_ik x_i/n_k, v_k = Σ_i r_ik (x_i − m_k)²/n_k, n_k = Σ_i r_ik).
A chain stops when its mean log-likelihood per point changes by less than ``tol`` (1e-8) or
after ``max_iter`` (500) iterations, and never right after dropping a component (one more M-step
first): the fit is always an exact M-step of the components it keeps.

Singular components are real states, not errors: the likelihood is unbounded where a component
sits on one point (v_k → 0) and a component can lose its weight (n_k → 0). A component with
fewer than one point's worth of responsibility (n_k < 1) or a variance below 1e-8 of the data's
is *dropped*: the chain continues with K − 1 components (the iteration goes on, so the fit is an
M-step of the remaining ones). A chain left with one component is a Gaussian for ever (EM never
splits it again): ``absorbed``. Dropping, unlike a variance floor, keeps every M-step exact, so
the mean and the second moment stay the data's (:mod:`theory.models.theorem`).

Observables: ``mean`` = Σ w_k m_k, ``total_var`` = Σ w_k (v_k + m_k²) − mean², ``components``
(alive), and per component ``w1..wK`` (0 once dropped), ``m1..mK``, ``v1..vK`` (NaN once dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..params import integer_args
from ..regime import Regime
from . import refuse_unused
from .base import ModelLoop

MAX_ITER, TOL = 500, 1e-8
MIN_POINTS = 1.0       # a component with n_k < 1 point's worth of responsibility is dropped
VAR_FLOOR_REL = 1e-8   # ... and one with v_k below this fraction of the data's variance
K_MAX = 10


@dataclass
class EMFit:
    """Mixture parameters of C chains: ``w``, ``m``, ``v`` (C, K) and ``alive`` (C, K)."""

    w: np.ndarray
    m: np.ndarray
    v: np.ndarray
    alive: np.ndarray

    def copy(self) -> EMFit:
        return EMFit(self.w.copy(), self.m.copy(), self.v.copy(), self.alive.copy())


@dataclass
class EMReport:
    """What the fits of one generation did: iterations per chain, chains stopped by the cap before
    converging, components dropped."""

    iterations: np.ndarray
    capped: int
    dropped: int


def e_step(x: np.ndarray, fit: EMFit) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities r (C, N, K) and the mean log-likelihood per point (C,)."""
    v = np.where(fit.alive, fit.v, 1.0)
    # log w_k − ½ log(2π v_k) per chain and component, −∞ for a dropped one
    const = np.where(fit.alive, np.log(np.where(fit.alive, fit.w, 1.0)) - 0.5 * np.log(2 * np.pi * v), -np.inf)
    d = x[..., None] - fit.m[:, None, :]
    logp = const[:, None, :] - d * d * (0.5 / v)[:, None, :]
    top = logp.max(axis=2)
    lse = top + np.log(np.exp(logp - top[..., None]).sum(axis=2))
    return np.exp(logp - lse[..., None]), lse.mean(axis=1)


def m_step(x: np.ndarray, r: np.ndarray, fit: EMFit, fit_variances: bool = True) -> EMFit:
    """The exact M-step: w_k = n_k/N, m_k = Σ r x/n_k, v_k = Σ r (x − m_k)²/n_k (v kept when
    ``fit_variances`` is False: the constrained model of the theorem's counter-example)."""
    nk = r.sum(axis=1)
    safe = np.where(nk > 0, nk, 1.0)
    m = np.einsum("cnk,cn->ck", r, x) / safe
    v = np.einsum("cnk,cnk->ck", r, (x[..., None] - m[:, None, :]) ** 2) / safe if fit_variances else fit.v
    return EMFit(nk / x.shape[1], m, v, fit.alive.copy())


def em(x: np.ndarray, start: EMFit, max_iter: int = MAX_ITER, tol: float = TOL,
       fit_variances: bool = True) -> tuple[EMFit, EMReport]:
    """EM on the data x (C, N) of every chain from ``start`` (see the module docstring).

    Only the chains still iterating are computed. A chain stops when it has converged or made
    ``max_iter`` iterations, but never right after dropping a component: it first makes one more
    M-step of the remaining ones, so that every fit returned is an exact M-step."""
    fit = start.copy()
    C = x.shape[0]
    data_var = x.var(axis=1)
    iterations = np.zeros(C, int)
    last_ll = np.full(C, -np.inf)
    running = np.arange(C)
    dropped = capped = 0
    it = 0
    while len(running):
        it += 1
        sub = EMFit(fit.w[running], fit.m[running], fit.v[running], fit.alive[running])
        r, ll = e_step(x[running], sub)
        new = m_step(x[running], r, sub, fit_variances)
        nk = new.w * x.shape[1]
        dead = new.alive & ((nk < MIN_POINTS) | (new.v < VAR_FLOOR_REL * data_var[running, None]))
        # one Gaussian is the fit of any data set: when every component would go, the heaviest stays
        everyone = (dead == new.alive).all(axis=1)
        heaviest = np.argmax(np.where(new.alive, nk, -1.0), axis=1)
        dead[everyone, heaviest[everyone]] = False
        new.alive &= ~dead
        new.w = np.where(new.alive, new.w, 0.0)
        new.w /= new.w.sum(axis=1, keepdims=True)
        dropped += int(dead.sum())
        fit.w[running], fit.m[running], fit.v[running], fit.alive[running] = new.w, new.m, new.v, new.alive
        iterations[running] = it
        converged = np.abs(ll - last_ll[running]) < tol
        stop = (converged | (it >= max_iter)) & ~dead.any(axis=1)
        capped += int((stop & ~converged).sum())
        last_ll[running] = ll
        running = running[~stop]
    return fit, EMReport(iterations, capped, dropped)


def em_naive(x, w, m, v, max_iter: int = MAX_ITER, tol: float = TOL,
             fit_variances: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The same EM for one chain, point by point and component by component (the reference the
    vectorised :func:`em` is tested against): (w, m, v, alive, iterations)."""
    x = [float(t) for t in x]
    w, m, v = list(map(float, w)), list(map(float, m)), list(map(float, v))
    K, N = len(w), len(x)
    alive = [True] * K
    data_mean = sum(x) / N
    data_var = sum((t - data_mean) ** 2 for t in x) / N
    last, it = -np.inf, 0
    while True:
        it += 1
        r, ll = [], 0.0
        for xi in x:
            logs = [np.log(w[k]) - 0.5 * (np.log(2 * np.pi * v[k]) + (xi - m[k]) ** 2 / v[k]) if alive[k]
                    else -np.inf for k in range(K)]
            top = max(logs)
            total = top + np.log(sum(np.exp(s - top) for s in logs))
            ll += total / N
            r.append([np.exp(s - total) for s in logs])
        for k in range(K):
            if not alive[k]:
                continue
            nk = sum(r[i][k] for i in range(N))
            m[k] = sum(r[i][k] * x[i] for i in range(N)) / nk
            if fit_variances:
                v[k] = sum(r[i][k] * (x[i] - m[k]) ** 2 for i in range(N)) / nk
            w[k] = nk / N
        dead = [k for k in range(K) if alive[k] and (w[k] * N < MIN_POINTS or v[k] < VAR_FLOOR_REL * data_var)]
        if len(dead) == sum(alive):
            dead.remove(max(dead, key=lambda k: w[k]))
        for k in dead:
            alive[k], w[k] = False, 0.0
        total_w = sum(w)
        w = [wk / total_w for wk in w]
        if (abs(ll - last) < tol or it >= max_iter) and not dead:
            break
        last = ll
    return np.array(w), np.array(m), np.array(v), np.array(alive), it


def mixture_moments(fit: EMFit) -> tuple[np.ndarray, np.ndarray]:
    """(mean, total variance) of every chain's mixture: Σ w m and Σ w (v + m²) − mean²."""
    w = np.where(fit.alive, fit.w, 0.0)
    mean = (w * fit.m).sum(axis=1)
    return mean, (w * (fit.v + fit.m**2)).sum(axis=1) - mean**2


def draw(fit: EMFit, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points from every chain's mixture, (C, n): a component by its weight, then its normal."""
    if n == 0:
        return np.zeros((fit.w.shape[0], 0))
    cum = np.cumsum(np.where(fit.alive, fit.w, 0.0), axis=1)
    cum /= cum[:, -1:]
    z = (rng.random((fit.w.shape[0], n))[..., None] >= cum[:, None, :]).sum(axis=2)
    m = np.take_along_axis(fit.m, z, axis=1)
    s = np.sqrt(np.take_along_axis(np.where(fit.alive, fit.v, 0.0), z, axis=1))
    return m + s * rng.standard_normal(z.shape)


@dataclass
class MixtureState:
    fit: EMFit
    pool: np.ndarray  # (C, N): the points of the last refit (accumulate: every point so far)


@dataclass
class MixtureLoop(ModelLoop):
    """The closed loop of a K-component Gaussian mixture (see the module docstring). ``w``, ``m``,
    ``v``: the initial mixture (the ground truth of external points)."""

    w: tuple = (0.5, 0.5)
    m: tuple = (-1.0, 1.0)
    v: tuple = (0.5, 0.5)
    max_iter: int = MAX_ITER
    tol: float = TOL
    fit_variances: bool = True
    reports: list = field(default_factory=list, repr=False)

    name = "gaussian_mixture"

    def __post_init__(self):
        super().__post_init__()
        if self.regime.kind == "subsample":
            raise InputError("gaussian_mixture takes --regime replace or accumulate (no derived law for "
                             "subsample yet)")
        self.w, self.m, self.v = (tuple(float(a) for a in p) for p in (self.w, self.m, self.v))
        K = len(self.w)
        if not (len(self.m) == len(self.v) == K and 1 <= K <= K_MAX):
            raise InputError(f"gaussian_mixture needs K from 1 to {K_MAX} weights, means and variances")
        if not all(np.isfinite(self.w + self.m + self.v)):
            raise InputError("gaussian_mixture: every weight, mean and variance must be finite")
        if min(self.w) <= 0 or abs(sum(self.w) - 1) > 1e-12:
            raise InputError(f"gaussian_mixture: weights must be > 0 and sum to 1, got {list(self.w)}")
        if min(self.v) <= 0:
            raise InputError(f"gaussian_mixture: variances must be > 0, got {list(self.v)}")
        if not 1 <= int(self.max_iter) == self.max_iter:
            raise InputError(f"gaussian_mixture: max_iter must be an integer >= 1, got {self.max_iter}")

    @property
    def K(self) -> int:
        return len(self.w)

    def truth(self, chains: int) -> EMFit:
        """The initial mixture in every chain."""
        w, m, v = (np.tile(np.array(p, float), (chains, 1)) for p in (self.w, self.m, self.v))
        return EMFit(w, m, v, np.ones((chains, self.K), bool))

    def initial_state(self, chains, rng):
        self.reports = []
        return MixtureState(self.truth(chains), np.zeros((chains, 0)))

    def step(self, state, t, rng):
        C = state.fit.w.shape[0]
        batch = draw(state.fit, self.model_draws(t), rng)
        if self.external:
            batch = np.concatenate([batch, draw(self.truth(C), self.external, rng)], axis=1)
        data = np.concatenate([state.pool, batch], axis=1) if self.regime.kind == "accumulate" else batch
        state.fit, report = em(data, state.fit, int(self.max_iter), self.tol, self.fit_variances)
        state.pool = data
        self.reports.append(report)

    def observables(self, state):
        mean, total_var = mixture_moments(state.fit)
        out = {"mean": mean, "total_var": total_var, "components": state.fit.alive.sum(axis=1).astype(float)}
        for k in range(self.K):  # a dropped component's weight is a real 0; its m and v are gone
            out[f"w{k + 1}"] = np.where(state.fit.alive[:, k], state.fit.w[:, k], 0.0)
            for name, p in (("m", state.fit.m), ("v", state.fit.v)):
                out[f"{name}{k + 1}"] = np.where(state.fit.alive[:, k], p[:, k], np.nan)
        return out

    def absorbed(self, state):
        return state.fit.alive.sum(axis=1) == 1 if self.K > 1 else np.zeros(state.fit.w.shape[0], bool)

    def describe(self):
        its = np.concatenate([r.iterations for r in self.reports]) if self.reports else np.zeros(0)
        return {"family_args": {"K": self.K},
                "init": {**{f"w{k + 1}": self.w[k] for k in range(self.K)},
                         **{f"m{k + 1}": self.m[k] for k in range(self.K)},
                         **{f"v{k + 1}": self.v[k] for k in range(self.K)}},
                "em": {"max_iter": int(self.max_iter), "tol": self.tol, "warm_start": "previous fit",
                       "fit_variances": self.fit_variances,
                       "iterations_mean": float(its.mean()) if len(its) else None,
                       "iterations_max": int(its.max()) if len(its) else None,
                       "fits_at_cap": int(sum(r.capped for r in self.reports)),
                       "components_dropped": int(sum(r.dropped for r in self.reports)),
                       "drop_rule": f"n_k < {MIN_POINTS:g} or v_k < {VAR_FLOOR_REL:g} x data variance"}}


def parse_init(init: dict | None, K: int) -> tuple[tuple, tuple, tuple]:
    """``w1..w(K−1)`` (wK = 1 − Σ others), ``m1..mK``, ``v1..vK`` -> (w, m, v)."""
    if not init:
        raise InputError("gaussian_mixture needs --init w1=..,m1=..,m2=..,v1=..,v2=.. (K=2; wK = 1 - the others)")
    names = [f"w{k}" for k in range(1, K)] + [f"{p}{k}" for p in "mv" for k in range(1, K + 1)]
    missing = [n for n in names if n not in init]
    unknown = [n for n in init if n not in names and n != f"w{K}"]
    if unknown:
        raise InputError(f"gaussian_mixture --init: unknown parameter {unknown[0]!r} for K={K}; "
                         f"known: {', '.join(names)}")
    if missing:
        raise InputError(f"gaussian_mixture --init: {missing[0]} is missing (K={K} needs {', '.join(names)})")
    w = [init[f"w{k}"] for k in range(1, K)]
    w.append(1.0 - sum(w))
    if f"w{K}" in init and abs(init[f"w{K}"] - w[-1]) > 1e-12:
        raise InputError(f"gaussian_mixture --init: w{K}={init[f'w{K}']:g} but 1 - the others = {w[-1]:g}")
    return tuple(w), tuple(init[f"m{k}"] for k in range(1, K + 1)), tuple(init[f"v{k}"] for k in range(1, K + 1))


def from_options(name, M, family_args=None, init=None, external=0, regime="replace", M_schedule=None,
                 **unused) -> MixtureLoop:
    """``--family-args K=2[,max_iter=500]``, ``--init w1=..,m1=..,m2=..,v1=..,v2=..``."""
    refuse_unused(name, unused, {"temperature": 1.0})
    args = integer_args(family_args)
    bad = [k for k in args if k not in ("K", "max_iter")]
    if bad:
        raise InputError(f"gaussian_mixture: unknown family argument {bad[0]!r}; known: K, max_iter")
    K = args.get("K", 2)
    if not 1 <= K <= K_MAX:
        raise InputError(f"gaussian_mixture: K must be from 1 to {K_MAX}, got {K}")
    w, m, v = parse_init(init, K)
    return MixtureLoop(M=M, external=external, regime=Regime(regime or "replace", M_schedule),
                       w=w, m=m, v=v, max_iter=args.get("max_iter", MAX_ITER))


__all__ = ["EMFit", "MixtureLoop", "draw", "e_step", "em", "em_naive", "from_options", "m_step",
           "mixture_moments", "parse_init"]
