"""Restricted Boltzmann machines in the closed loop, exact over the enumerated visible space.

Visible units v ∈ {0,1}^N (N ≤ 12), hidden units h ∈ {0,1}^H (H ≤ 4), parameters θ = (b, c, W):

    p_θ(v) ∝ exp E_θ(v),   E_θ(v) = b·v + Σ_j softplus(c_j + W_j·v)

(the hidden units summed out). The K = 2^N configurations are enumerated: configuration k has
v_i = bit i−1 of k, written as the string v1 v2 ... vN (``"101"``). Each generation every chain
draws M_t points (a multinomial over the K configurations, exact), adds the external points
(fresh draws from the initial model, the ground truth) and the anchor configuration, and refits by
exact maximum likelihood on the counts (or MAP under ``--prior-law normal:var=V``: a Gaussian
penalty on every parameter b, c, W), warm-started from the previous fit.

The fit is a damped Newton (Levenberg–Marquardt) ascent, vectorised over chains, run until the
largest first-order condition max |∂ℓ/∂θ| (ℓ the log-likelihood per point) is ≤ ``tol`` = 1e-8;
the visible means are martingales only at a true stationary point (models.rbm_laws).

Boundaries are real states. A visible unit constant in the data has its bias diverging: the unit
is clamped at that value (a face, v_i fixed; its bias and weights W_·i are frozen, since they no
longer change the model), and in the pure loop it stays clamped for ever. A chain with every unit
clamped sits on one configuration (a point mass): absorbed. Data on a set of configurations the
RBM reaches only in a limit (e.g. {000, 111} with every unit varying) make the likelihood's
supremum lie at infinite weights: the fit then stops at the tolerance with large finite weights
(the missing configurations keep a mass ~ tol); a chain whose largest |θ| passes ``WEIGHT_BOUND``
is counted as ``diverging`` in the run's ``fit`` record, and a fit that misses the tolerance
within ``max_iter`` iterations is counted ``unconverged`` (never an endless loop).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from ..errors import InputError, integer
from ..regime import Regime
from ..setting import NormalPrior, parse_prior
from . import refuse_unused
from .base import ModelLoop

N_MAX, H_MAX = 12, 4
TOLERANCE = 1e-8          # max |∂ℓ/∂θ| per point at the fit's end
MAX_ITER = 1000           # Newton iterations per fit before a chain is counted unconverged
WEIGHT_BOUND = 30.0       # |θ| beyond this: the chain's fit is on its way to infinite weights
STRETCH = np.array([1.0, 4.0, 16.0])  # multiples of the Newton step tried at once
FEATURES_PER_BLOCK = 4_000_000  # chains × K × P per block of fits (32 MB of float64)
STEP_SIZE = 1.0           # gradient step of the early-stopped fit (the negative control)
INIT_LAW = ("b_i, c_j, W_ji i.i.d. N(0, 1), drawn by numpy.random.default_rng(S) in the order b, c, W "
            "(row j of W for hidden unit j)")


def configurations(N: int) -> np.ndarray:
    """(2^N, N) array of 0/1: row k holds v_i = bit i−1 of k."""
    k = np.arange(2**N)
    return ((k[:, None] >> np.arange(N)) & 1).astype(float)


def logsumexp(E: np.ndarray, axis: int = 1, keepdims: bool = False) -> np.ndarray:
    """log Σ exp E along ``axis`` (the rows hold at least one finite entry)."""
    top = E.max(axis=axis, keepdims=True)
    out = top + np.log(np.exp(E - top).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def labels(N: int) -> list[str]:
    """Configuration k as the string v1 v2 ... vN."""
    return ["".join(str(int(x)) for x in row) for row in configurations(N)]


def parameter_names(N: int, H: int) -> list[str]:
    """b1..bN, then per hidden unit j: cj, Wj1..WjN (the order of θ)."""
    names = [f"b{i + 1}" for i in range(N)]
    for j in range(H):
        names += [f"c{j + 1}"] + [f"W{j + 1}{i + 1}" if N < 10 and H < 10 else f"W{j + 1}_{i + 1}"
                                  for i in range(N)]
    return names


@dataclass(frozen=True)
class RBMSpace:
    """The enumerated visible space of an RBM with N visible and H hidden units and its algebra
    on θ arrays of shape (C, P), P = N + H (N + 1)."""

    N: int
    H: int

    @property
    def K(self) -> int:
        return 2**self.N

    @property
    def P(self) -> int:
        return self.N + self.H * (self.N + 1)

    @functools.cached_property
    def V(self) -> np.ndarray:
        return configurations(self.N)

    @functools.cached_property
    def U(self) -> np.ndarray:
        """(K, N+1): u(v) = (1, v), the inputs of a hidden unit (bias first)."""
        return np.hstack([np.ones((self.K, 1)), self.V])

    @functools.cached_property
    def UU(self) -> np.ndarray:
        """(K, (N+1)²): u(v) u(v)ᵀ flattened."""
        return (self.U[:, :, None] * self.U[:, None, :]).reshape(self.K, -1)

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """b (C, N) and the hidden units' (c_j, W_j) as A (C, H, N+1)."""
        return theta[:, :self.N], theta[:, self.N:].reshape(len(theta), self.H, self.N + 1)

    def allowed(self, clamp: np.ndarray) -> np.ndarray:
        """(C, K) bool: configuration k agrees with every clamped unit (clamp −1: free)."""
        V = self.V[None]
        c = clamp[:, None, :]
        return np.all((c < 0) | (V == c), axis=2)

    def energies(self, theta: np.ndarray, clamp: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """E_θ(v) (C, K), −inf off the clamped face, and the hidden pre-activations x (C, K, H);
        ``clamp`` is the clamped units (C, N) or already the (C, K) mask of :meth:`allowed`."""
        b, A = self.split(theta)
        x = np.swapaxes(A @ self.U.T, 1, 2)
        E = b @ self.V.T + np.logaddexp(0.0, x).sum(axis=2)
        if clamp is not None:
            E = np.where(clamp if clamp.dtype == bool else self.allowed(clamp), E, -np.inf)
        return E, x

    def log_probabilities(self, theta: np.ndarray, clamp: np.ndarray | None = None) -> np.ndarray:
        """log p_θ(v), (C, K)."""
        E, _ = self.energies(theta, clamp)
        return E - logsumexp(E, axis=1, keepdims=True)

    def free(self, clamp: np.ndarray) -> np.ndarray:
        """(C, P) bool: the parameters that still change the model (a clamped unit's b_i and
        W_·i are frozen: at v_i = 0 they act on nothing, at v_i = 1 W_ji merges with c_j)."""
        unit_free = clamp < 0
        hidden = np.concatenate([np.ones((len(clamp), 1), bool), unit_free], axis=1)
        return np.concatenate([unit_free, np.tile(hidden, (1, self.H))], axis=1)

    def objective(self, theta, q, clamp, prior) -> np.ndarray:
        """ℓ(θ) = Σ_v q(v) E_θ(v) − log Z_θ per point (q the data's frequencies), minus the prior's
        |θ − m|²/(2 V n) for a Gaussian prior (V, m, n the points of the fit)."""
        E, _ = self.energies(theta, clamp)
        logZ = logsumexp(E, axis=1)
        out = np.sum(np.where(q > 0, q * np.where(np.isfinite(E), E, 0.0), 0.0), axis=1) - logZ
        if prior is not None:
            var, mean, n = prior
            out = out - np.sum((theta - mean) ** 2, axis=1) / (2 * var * n)
        return out

    def derivatives(self, theta, q, clamp, prior, hessian: bool = True):
        """Gradient (C, P) and Hessian (C, P, P) of :meth:`objective`.

        With F(v) = ∇_θ E_θ(v) = (v, σ_j(v) u(v) for each j) and w = q − p_θ:
        ∇ℓ = Σ_v w(v) F(v);  ∇²ℓ = Σ_v w(v) ∇²E_θ(v) − Cov_p[F], where ∇²E_θ(v) is block
        diagonal over hidden units, σ_j(1 − σ_j) u uᵀ on (c_j, W_j)."""
        C, N, H = len(theta), self.N, self.H
        E, x = self.energies(theta, clamp)
        p = np.exp(E - logsumexp(E, axis=1, keepdims=True))
        s = expit(x)                                        # (C, K, H)
        F = np.concatenate([np.broadcast_to(self.V, (C, self.K, N)),
                            (s[..., None] * self.U[None, :, None, :]).reshape(C, self.K, H * (N + 1))],
                           axis=2)                          # (C, K, P)
        w = q - p
        g = (w[:, None, :] @ F)[:, 0]
        if prior is not None:
            var, mean, n = prior
            g = g - (theta - mean) / (var * n[:, None])
        if not hessian:
            return g, None
        Fc = F - p[:, None, :] @ F
        Hs = -np.swapaxes(Fc * p[..., None], 1, 2) @ Fc
        curv = (np.swapaxes(w[..., None] * s * (1 - s), 1, 2) @ self.UU).reshape(C, H, N + 1, N + 1)
        for j in range(H):
            lo = N + j * (N + 1)
            Hs[:, lo:lo + N + 1, lo:lo + N + 1] += curv[:, j]
        if prior is not None:
            Hs = Hs - np.eye(self.P)[None] / (var * n)[:, None, None]
        return g, Hs


@dataclass
class FitReport:
    """What the fits of a run did: ``fits`` chain-generations refitted, ``unconverged`` of them
    stopped at the iteration cap, the largest |∂ℓ/∂θ| left by a converged fit, and the chains
    whose weights passed WEIGHT_BOUND (on their way to a limit at infinity)."""

    fits: int = 0
    unconverged: int = 0
    iterations: int = 0
    max_gradient: float = 0.0
    diverging: np.ndarray | None = None

    def as_json(self) -> dict:
        return {"fits": self.fits, "unconverged": self.unconverged,
                "mean_iterations": self.iterations / self.fits if self.fits else 0.0,
                "max_gradient": self.max_gradient,
                "diverging_chains": int(self.diverging.sum()) if self.diverging is not None else 0}


def fit(space: RBMSpace, theta, q, clamp, prior=None, tol: float = TOLERANCE, max_iter: int = MAX_ITER,
        report: FitReport | None = None) -> np.ndarray:
    """Maximise ℓ (or the MAP objective) from the warm start ``theta`` for every chain, in place:
    Levenberg–Marquardt with a per-chain damping λ (a step is kept when the objective does not
    fall; λ shrinks after a kept step and grows after a refused one) until max |∇ℓ| ≤ ``tol`` over
    the free parameters, or ``max_iter`` iterations (those chains are counted unconverged)."""
    C, P = theta.shape
    free = space.free(clamp)
    mask = space.allowed(clamp)  # the face as a (C, K) mask, computed once
    lam = np.full(C, 1e-3)
    active = np.arange(C)
    f = space.objective(theta, q, mask, prior)
    eye = np.eye(P)[None]
    for _ in range(max_iter):
        if not len(active):
            break
        th, qa, cl, fr = theta[active], q[active], mask[active], free[active]
        pa = _prior_rows(prior, active)
        g, Hs = space.derivatives(th, qa, cl, pa)
        g = np.where(fr, g, 0.0)
        gmax = np.abs(g).max(axis=1)
        done = gmax <= tol
        if report is not None:
            report.iterations += int((~done).sum())
            if done.any():
                report.max_gradient = max(report.max_gradient, float(gmax[done].max()))
        keep = ~done
        active, th, qa, cl, fr, g, Hs = active[keep], th[keep], qa[keep], cl[keep], fr[keep], g[keep], Hs[keep]
        if not len(active):
            break
        pa = _prior_rows(prior, active)
        # −Hessian on the free block, damped by λ; identity on the frozen rows
        Hneg = np.where(fr[:, :, None] & fr[:, None, :], -Hs, 0.0)
        damping = lam[active][:, None] + ~fr
        A = Hneg + damping[:, :, None] * eye
        step = np.linalg.solve(A, g[..., None])[..., 0]
        step = np.where(fr, step, 0.0)
        # the Newton step and its multiples: a direction in which the supremum lies at infinity
        # (data missing configurations) is then walked geometrically, not one unit a step
        trials = th[None] + STRETCH[:, None, None] * step[None]
        n = len(active)  # the stretches of every chain in one evaluation, rows stretch-major
        f_trials = space.objective(trials.reshape(-1, P), np.tile(qa, (len(STRETCH), 1)),
                                   np.tile(cl, (len(STRETCH), 1)), _tiled(pa, len(STRETCH))).reshape(-1, n)
        f_trials = np.where(np.isfinite(f_trials), f_trials, -np.inf)
        best = np.argmax(f_trials, axis=0)
        trial, f_trial = trials[best, np.arange(len(active))], f_trials[best, np.arange(len(active))]
        f_now = f[active]
        ok = f_trial >= f_now - 1e-13 * (1 + np.abs(f_now))
        theta[active[ok]] = trial[ok]
        f[active[ok]] = f_trial[ok]
        lam[active] = np.where(ok, np.maximum(lam[active] / 3, 1e-12), np.minimum(lam[active] * 10, 1e12))
    if report is not None:
        report.fits += C
        report.unconverged += len(active)
    return theta


def _tiled(prior, times: int):
    """The prior rows of :func:`_prior_rows` repeated ``times`` times (one block per stretch)."""
    if prior is None:
        return None
    var, mean, n = prior
    return var, mean, np.tile(n, times)


def _prior_rows(prior, rows):
    if prior is None:
        return None
    var, mean, n = prior
    return var, mean, n[rows]


def gradient_steps(space: RBMSpace, theta, q, steps: int, step_size: float = STEP_SIZE) -> np.ndarray:
    """The early-stopped fit (the negative control): ``steps`` plain gradient-ascent steps
    θ ← θ + η ∇ℓ from the warm start, no face, no convergence."""
    clamp = -np.ones((len(theta), space.N), np.int8)
    for _ in range(steps):
        g, _ = space.derivatives(theta, q, clamp, None, hessian=False)
        theta = theta + step_size * g
    return theta


@dataclass
class RBMState:
    """C chains: θ (C, P), the clamped units (C, N; −1 free, else the fixed value), log p_θ
    (C, K), and the pooled counts of accumulate/subsample (C, K)."""

    theta: np.ndarray
    clamp: np.ndarray
    logp: np.ndarray
    pool: np.ndarray | None = None


@dataclass
class RBMLoop(ModelLoop):
    """The closed loop of an RBM (module docstring). ``theta0``: the initial model's θ (P,);
    ``anchor``: a configuration label (``"101"``) added once per generation; ``prior``: (var,
    mean) of a Gaussian on every parameter; ``fit_steps`` > 0: the early-stopped fit (that many
    gradient steps) instead of exact maximum likelihood."""

    N: int = 3
    H: int = 2
    theta0: np.ndarray | None = None
    anchor: str | None = None
    prior: tuple[float, float] | None = None
    fit_steps: int = 0
    tol: float = TOLERANCE
    max_iter: int = MAX_ITER
    init_text: dict = field(default_factory=dict)
    report: FitReport = field(default_factory=FitReport)

    name = "rbm"

    def __post_init__(self):
        super().__post_init__()
        self.N = integer(self.N, "N", 1)
        self.H = integer(self.H, "H", 0)
        if self.N > N_MAX or self.H > H_MAX:
            raise InputError(f"rbm: N <= {N_MAX} visible and H <= {H_MAX} hidden units (the visible "
                             f"space is enumerated), got N={self.N}, H={self.H}")
        self.space = RBMSpace(self.N, self.H)
        self.theta0 = np.zeros(self.space.P) if self.theta0 is None else np.asarray(self.theta0, float)
        if self.theta0.shape != (self.space.P,) or not np.all(np.isfinite(self.theta0)):
            raise InputError(f"rbm: the initial model needs {self.space.P} finite parameters")
        self.fit_steps = integer(self.fit_steps, "fit_steps", 0)
        if self.anchor is not None:
            if len(self.anchor) != self.N or set(self.anchor) - {"0", "1"}:
                raise InputError(f"rbm: anchor={self.anchor} must be {self.N} digits 0/1 (v1..v{self.N})")
            self.anchor_index = labels(self.N).index(self.anchor)
        self.p0 = np.exp(self.space.log_probabilities(self.theta0[None]))[0]

    @property
    def extra_points(self) -> int:
        """Points added to the model's M_t each generation: external draws and the anchor."""
        return self.external + (self.anchor is not None)

    def initial_state(self, chains, rng):
        self.report = FitReport(diverging=np.zeros(chains, bool))
        theta = np.tile(self.theta0, (chains, 1))
        clamp = -np.ones((chains, self.N), np.int8)
        pool = np.zeros((chains, self.space.K)) if self.regime.pooled else None
        return RBMState(theta, clamp, self.space.log_probabilities(theta, clamp), pool)

    def data_counts(self, state: RBMState, t: int, rng) -> np.ndarray:
        """The counts the generation-t refit sees (C, K): M_t model draws, the external points
        and the anchor, then the regime (the pool, or a subsample of it)."""
        p = np.exp(state.logp)
        p /= p.sum(axis=1, keepdims=True)
        counts = rng.multinomial(self.model_draws(t), p).astype(float)
        if self.external:
            counts += rng.multinomial(self.external, np.broadcast_to(self.p0, p.shape))
        if self.anchor is not None:
            counts[:, self.anchor_index] += 1
        if not self.regime.pooled:
            return counts
        state.pool += counts
        if self.regime.kind == "accumulate" or t == 1:
            return state.pool.copy()
        return subsample(state.pool, int(counts[0].sum()), rng)

    def step(self, state: RBMState, t, rng):
        counts = self.data_counts(state, t, rng)
        q = counts / counts.sum(axis=1, keepdims=True)
        sp_ = self.space
        if self.fit_steps:
            state.theta = gradient_steps(sp_, state.theta, q, self.fit_steps)
            state.logp = sp_.log_probabilities(state.theta)
            return
        if self.prior is None:
            self._faces(state, q)
        live = np.flatnonzero(~self.absorbed(state))  # a chain on its absorbing state has nothing to fit
        # chains in blocks: a Newton iteration holds (chains, K, P) features (N = 12, H = 4: 2 MB a chain)
        block = max(1, FEATURES_PER_BLOCK // (sp_.K * sp_.P))
        for rows in np.array_split(live, -(-len(live) // block)) if len(live) else ():
            prior = None if self.prior is None else (self.prior[0], self.prior[1], counts[rows].sum(axis=1))
            state.theta[rows] = fit(sp_, state.theta[rows], q[rows], state.clamp[rows], prior, self.tol,
                                    self.max_iter, self.report)
        self.report.diverging |= np.abs(state.theta).max(axis=1) > WEIGHT_BOUND
        state.logp = sp_.log_probabilities(state.theta, state.clamp)

    def _faces(self, state: RBMState, q: np.ndarray) -> None:
        """Clamp the units constant in the data; free (with a finite bias, the data's logit) a
        clamped unit the data vary again (only external points or an anchor can)."""
        means = q @ self.space.V
        constant = np.where(means <= 0, 0, np.where(means >= 1, 1, -1)).astype(np.int8)
        freed = (state.clamp >= 0) & (constant < 0)
        if freed.any():
            m = np.clip(means, 1e-3, 1 - 1e-3)
            state.theta[:, :self.N] = np.where(freed, np.log(m / (1 - m)), state.theta[:, :self.N])
        state.clamp = constant

    def observables(self, state):
        p = np.exp(state.logp)
        means = p @ self.space.V
        out = {f"v{i + 1}": means[:, i] for i in range(self.N)}
        out["entropy"] = -np.sum(np.where(p > 0, p * np.where(p > 0, state.logp, 0.0), 0.0), axis=1)
        out["point_mass"] = self.on_point_mass(state).astype(float)  # its mean: the fraction on one configuration
        return out

    def on_point_mass(self, state) -> np.ndarray:
        """(C,) bool: the chain's model is one configuration (every unit clamped)."""
        return np.all(state.clamp >= 0, axis=1)

    def absorbed(self, state):
        """On a point mass the loop never leaves: never with fresh external points (they reach
        every configuration) or a prior (no face); under subsample only once the whole pool is on
        that configuration; with an anchor only on the anchor's configuration (no other is reachable)."""
        on = self.on_point_mass(state)
        if self.external or self.prior is not None:
            return np.zeros(len(on), bool)
        if self.regime.kind == "subsample":
            on &= np.count_nonzero(state.pool, axis=1) == 1
        return on

    def describe(self):
        args = {"N": self.N, "H": self.H}
        if self.anchor is not None:
            args["anchor"] = self.anchor
        if self.fit_steps:
            args["fit_steps"] = self.fit_steps
        fit_record = ({"method": f"early-stopped: {self.fit_steps} gradient steps of size {STEP_SIZE} "
                                 "(not a maximum: the negative control)"} if self.fit_steps else
                      {"method": "exact " + ("MAP" if self.prior else "maximum likelihood")
                       + " over the enumerated visible space, damped Newton warm-started from the "
                       "previous fit", "tolerance": self.tol, "max_iterations": self.max_iter,
                       **self.report.as_json()})
        return {"family_args": args, "init": self.init_text,
                "prior": None if self.prior is None else {"law": "normal on every parameter b, c, W",
                                                          "var": self.prior[0], "mean": self.prior[1]},
                "configurations": labels(self.N),
                "initial_probabilities": [float(x) for x in self.p0], "fit": fit_record}


def subsample(pool: np.ndarray, n: int, rng) -> np.ndarray:
    """n of each chain's pooled points drawn without replacement (C, K): a multivariate
    hypergeometric draw, configuration by configuration."""
    out = np.zeros_like(pool)
    left = pool.sum(axis=1).astype(np.int64)
    want = np.full(len(pool), n, np.int64)
    for k in range(pool.shape[1] - 1):
        good = pool[:, k].astype(np.int64)
        out[:, k] = rng.hypergeometric(good, left - good, want)
        want -= out[:, k].astype(np.int64)
        left -= good
    out[:, -1] = want
    return out


# --- from the command line ---------------------------------------------------------------------
def parse_family_args(text: str | None) -> dict:
    """``N=3,H=2[,anchor=101][,fit_steps=3]``: integers, the anchor a string of N digits 0/1."""
    out: dict = {}
    for item in filter(None, (text or "").split(",")):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not key:
            raise InputError(f"malformed family argument {item!r}: expected name=value")
        if key not in ("N", "H", "anchor", "fit_steps"):
            raise InputError(f"rbm: unknown family argument {key!r}; known: N, H, anchor, fit_steps")
        if key in out:
            raise InputError(f"family argument {key} is given twice")
        if key == "anchor":
            out[key] = value
            continue
        try:
            out[key] = int(value)
        except ValueError:
            raise InputError(f"family argument {key} must be an integer, got {value!r}") from None
    return out


def initial_theta(N: int, H: int, init: dict | None, init_seed: int | None) -> tuple[np.ndarray, dict]:
    """θ0 from ``--init-seed S`` (INIT_LAW) or ``--init b1=..,c1=..,W11=..`` (parameters not named
    are 0), and its JSON record."""
    names = parameter_names(N, H)
    if (init is None) == (init_seed is None):
        raise InputError("rbm: give the initial model by --init-seed S (weights drawn N(0, 1)) or by "
                         f"--init {names[0]}=..,{names[N]}=..,{names[N + 1] if H else names[0]}=.. "
                         "(one of the two)")
    if init_seed is not None:
        seed = integer(init_seed, "init-seed", 0)
        rng = np.random.default_rng(seed)
        theta = np.concatenate([rng.normal(size=N), rng.normal(size=H),
                                rng.normal(size=(H, N)).ravel()])
        b, c, W = theta[:N], theta[N:N + H], theta[N + H:].reshape(H, N)
        theta = np.concatenate([b] + [np.concatenate([[c[j]], W[j]]) for j in range(H)])
        return theta, {"seed": seed, "law": INIT_LAW}
    init = init or {}
    unknown = sorted(set(init) - set(names))
    if unknown:
        raise InputError(f"rbm --init: unknown parameter {unknown[0]!r}; N={N}, H={H} has "
                         f"{', '.join(names)}")
    theta = np.array([float(init.get(n, 0.0)) for n in names])
    return theta, {"weights": {n: float(init.get(n, 0.0)) for n in names}}


def prior_numbers(text) -> tuple[float, float] | None:
    """(var, mean) of ``--prior-law normal:var=V[,mean=A]`` (one Gaussian on every parameter)."""
    if text is None:
        return None
    prior = parse_prior(text) if isinstance(text, str) else text
    if not isinstance(prior, NormalPrior) or prior.each or prior.var is None:
        raise InputError("rbm --prior-law: only normal:var=V[,mean=A], one Gaussian on every "
                         "parameter b, c, W")
    if not prior.var > 0:
        raise InputError(f"rbm --prior-law: var must be > 0, got {prior.var:g}")
    return float(prior.var), float(prior.mean)


def from_options(name, M, family_args=None, init=None, init_seed=None, external=0, regime="replace",
                 M_schedule=None, prior_law=None, **rest) -> RBMLoop:
    """The RBM loop of ``closedloop simulate rbm`` (see models.__init__ for the options)."""
    refuse_unused(name, rest)
    args = parse_family_args(family_args)
    if "N" not in args or "H" not in args:
        raise InputError("rbm needs --family-args N=..,H=.. (visible and hidden units)")
    N, H = args["N"], args["H"]
    if not (1 <= N <= N_MAX and 0 <= H <= H_MAX):
        raise InputError(f"rbm: N from 1 to {N_MAX} and H from 0 to {H_MAX}, got N={N}, H={H}")
    theta0, init_text = initial_theta(N, H, init, init_seed)
    prior = prior_numbers(prior_law)
    if prior is not None and args.get("fit_steps"):
        raise InputError("rbm: fit_steps (the early-stopped fit) takes no --prior-law")
    return RBMLoop(M=M, external=external or 0, regime=Regime(regime or "replace", M_schedule),
                   N=N, H=H, theta0=theta0, anchor=args.get("anchor"), prior=prior,
                   fit_steps=args.get("fit_steps", 0), init_text=init_text)
