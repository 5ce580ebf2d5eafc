"""``logistic_regression``: the closed loop of a logistic model with an intercept,
P(y = 1 | x) = σ(b + x·w), x ~ N(0, I_d), refitted by maximum likelihood (or MAP with a normal prior
N(A, V) on b and every weight, entering once per generation).

Generation t draws M_t inputs (fresh, or one design drawn once: ``design="fixed"``), labels them with
the current model, adds ``external`` points labelled by the initial model, and refits by Newton's
method from the previous fit (warm start; converged when every component of the step is below
1e-10 (1 + |θ|)), on the generation's points (replace) or on every point so far (accumulate; the
pool is kept). Observables: ``rate`` = P_θ(y = 1) for x ~ N(0, I_d) (64-node Gauss–Hermite in the
one direction w: exact to rounding), ``design_rate`` = the mean of σ(b + x_i·w) over a fixed
design's M model rows (the statistic that stays a martingale, see below), ``b`` and ``w1`` (of the
unit direction, on a deterministic classifier).

**The boundary.** When a generation's points are separable by a hyperplane the likelihood has no
maximum: the fit diverges toward the deterministic classifier y = 1[u·(1, x) > 0] along the
separating direction u. We take that classifier as the fitted model (a real state, ``hard``): its
own points are separable by u again, so without external points or a prior the chain never leaves
it (``absorbed``); with external points the next refit may converge and the chain leaves it; with a
prior the MAP always exists. Detected as Newton's iterate passing |θ| > 50 (σ(50) = 1 − 2·10⁻²²):
separable data drive the iterates' norm up by O(1) per step; overlapping data converge well before.

**What carries over.** With a fixed design the labels' law is an exponential family in θ = (b, w)
with statistic X̃ᵀy (X̃ = [1, X]), and the MLE matches X̃ᵀp̂ = X̃ᵀy: every design moment of the
fitted probabilities, among them ``design_rate``, is a martingale (the paper's R1), exactly, and the
absorbing states are the hyperplane-realisable labelings of the design. With a fresh design the
population ``rate`` is not one: the refit matches the sample's moments at the sample's inputs only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy.special import expit, log_expit, ndtr

from ..derivation import Derivation, Step
from ..diskcache import cached_law
from ..errors import InputError, integer
from ..params import parse_params
from ..regime import Regime
from ..setting import NormalPrior, parse_prior
from ..store import record
from . import refuse_unused
from .base import ModelLoop

THETA_MAX = 50.0   # |θ| beyond which a fit is taken to diverge (separable data)
NEWTON_STEPS = 200
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(64)
WEIGHTS = WEIGHTS / WEIGHTS.sum()   # E f(z), z ~ N(0, 1) = Σ_k WEIGHTS_k f(NODES_k)


@dataclass
class LogisticState:
    """C chains: ``theta`` (C, d + 1) = (b, w); ``hard`` (C,) on the deterministic classifier of
    direction theta; the pool's inputs (C, N, d + 1) with a leading 1 and labels (C, N) (accumulate:
    every point so far; replace: the last generation's); ``design`` (n, d) or None."""

    theta: np.ndarray
    hard: np.ndarray
    X: np.ndarray
    y: np.ndarray
    design: np.ndarray | None = None


@dataclass
class LogisticRegression(ModelLoop):
    """See the module docstring. ``theta0`` (d + 1,) = (b, w) the initial model (the truth);
    ``penalty`` (d + 1,) the prior's precisions 1/V (zeros: maximum likelihood) and ``prior_mean`` its
    centre."""

    d: int = 1
    theta0: np.ndarray = field(default_factory=lambda: np.zeros(2))
    design: str = "fresh"
    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0))     # empty: no prior
    prior_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))

    name = "logistic_regression"

    def __post_init__(self):
        super().__post_init__()
        self.d = integer(self.d, "d (logistic_regression)", 1, 100)
        self.theta0 = np.asarray(self.theta0, float)
        if self.theta0.shape != (self.d + 1,):
            raise InputError(f"the initial model has {self.theta0.size} components, b and d = {self.d} weights")
        if np.linalg.norm(self.theta0) >= THETA_MAX:
            raise InputError(f"|(b, w)| must be below {THETA_MAX:g} (beyond, the model is deterministic)")
        if self.design not in ("fresh", "fixed"):
            raise InputError(f"--design {self.design!r}: expected fresh or fixed")
        self.penalty = np.asarray(self.penalty if np.size(self.penalty) else np.zeros(self.d + 1), float)
        self.prior_mean = np.asarray(self.prior_mean if np.size(self.prior_mean) else np.zeros(self.d + 1), float)
        if self.design == "fixed" and self.regime.schedule is not None:
            raise InputError("--design fixed holds one design of M + external rows: it does not take --M-schedule")
        if self.regime.kind == "subsample":
            raise InputError("--regime subsample does not apply to logistic_regression (replace or accumulate)")

    @property
    def prior(self) -> bool:
        return bool(np.any(self.penalty > 0))

    # -- the loop -------------------------------------------------------------------------------
    def initial_state(self, chains: int, rng: np.random.Generator) -> LogisticState:
        n = self.model_draws(1) + self.external
        design = rng.standard_normal((n, self.d)) if self.design == "fixed" else None
        return LogisticState(np.tile(self.theta0, (chains, 1)), np.zeros(chains, bool),
                             np.zeros((chains, 0, self.d + 1)), np.zeros((chains, 0)), design)

    def draw(self, state: LogisticState, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Generation t's inputs (C, n, d + 1), a leading 1, and labels (C, n): the first M_t from
        the current model (deterministic for a hard chain), the rest from θ_0."""
        C, Mt = len(state.theta), self.model_draws(t)
        n = Mt + self.external
        x = np.broadcast_to(state.design, (C, n, self.d)) if state.design is not None \
            else rng.standard_normal((C, n, self.d))
        X = np.concatenate([np.ones((C, n, 1)), x], axis=2)
        eta = np.empty((C, n))
        eta[:, :Mt] = np.matmul(X[:, :Mt], state.theta[:, :, None])[..., 0]
        eta[:, Mt:] = X[:, Mt:] @ self.theta0
        u = rng.random((C, n))
        y = (u < expit(eta)).astype(float)
        y[state.hard, :Mt] = (eta[state.hard, :Mt] > 0).astype(float)
        return X, y

    def step(self, state: LogisticState, t: int, rng: np.random.Generator) -> None:
        X, y = self.draw(state, t, rng)
        if self.regime.pooled:
            state.X, state.y = np.concatenate([state.X, X], 1), np.concatenate([state.y, y], 1)
        else:
            state.X, state.y = X, y
        # an absorbed chain's points are separable by its own direction again: nothing to refit
        idx = np.flatnonzero(~self.absorbed(state))
        start = np.where(state.hard[idx, None], 0.0, state.theta[idx])  # a direction is no start
        theta, diverged = fit(state.X[idx], state.y[idx], start, self.penalty, self.prior_mean)
        # one label only: the limit is the constant classifier, direction (±1, 0, ..., 0)
        ys = state.y[idx]
        constant = ys.min(axis=1) == ys.max(axis=1)
        theta[constant & diverged] = 0.0
        theta[constant & diverged, 0] = 2 * ys[constant & diverged, 0] - 1
        state.hard[idx] = diverged
        state.theta[idx] = np.where(diverged[:, None], theta / np.linalg.norm(theta, axis=1, keepdims=True), theta)

    def observables(self, state: LogisticState) -> dict[str, np.ndarray]:
        b, w = state.theta[:, 0], state.theta[:, 1:]
        norm = np.linalg.norm(w, axis=1)
        soft = expit(b[:, None] + norm[:, None] * NODES) @ WEIGHTS
        with np.errstate(divide="ignore", invalid="ignore"):  # a hard chain: P(b + |w| z > 0) = Φ(b/|w|)
            hard = np.where(norm > 0, ndtr(b / np.where(norm > 0, norm, 1)), (b > 0).astype(float))
        out = {"rate": np.where(state.hard, hard, soft), "b": b.copy(), "w1": w[:, 0].copy()}
        if state.design is not None:
            eta = b[:, None] + w @ state.design[: self.M].T
            out["design_rate"] = np.where(state.hard[:, None], (eta > 0).astype(float), expit(eta)).mean(axis=1)
        return out

    def absorbed(self, state: LogisticState) -> np.ndarray:
        """Hard chains, when nothing can pull them back (no external points, no prior)."""
        return state.hard.copy() if not (self.external or self.prior) else np.zeros(len(state.hard), bool)

    def describe(self) -> dict:
        out = {"family_args": {"d": self.d}, "design": self.design,
               "init": {"b": float(self.theta0[0]), **{f"w{k}": float(v) for k, v in enumerate(self.theta0[1:], 1)}},
               "estimator": "map" if self.prior else "mle",
               "fit": {"method": "Newton from the previous fit", "steps_max": NEWTON_STEPS,
                       "tolerance": "every |step| <= 1e-10 (1 + |theta|)", "diverged_above": THETA_MAX}}
        if self.prior:
            out["prior"] = {"precision": [float(x) for x in self.penalty], "mean": [float(x) for x in self.prior_mean]}
        return out


def fit(X: np.ndarray, y: np.ndarray, theta: np.ndarray, penalty: np.ndarray,
        prior_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood (MAP with ``penalty``) of Σ_i [y_i η_i − log(1 + e^{η_i})] − ½ Σ_a λ_a (θ_a − A_a)²,
    η = Xθ, by Newton's method batched over chains from ``theta``. Returns (θ, diverged): diverged
    chains (|θ| past THETA_MAX: separable data) hold the last iterate (its direction)."""
    theta = theta.copy()
    active = np.ones(len(theta), bool)
    diverged = np.zeros(len(theta), bool)
    lam = np.diag(penalty)
    for _ in range(NEWTON_STEPS):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        Xa, th = X[idx], theta[idx]
        eta = np.matmul(Xa, th[:, :, None])[..., 0]
        p, q = expit(eta), expit(-eta)  # q = 1 − p without the cancellation near p = 1
        residual = y[idx] * q - (1 - y[idx]) * p
        grad = np.matmul(residual[:, None, :], Xa)[:, 0] - penalty * (th - prior_mean)
        H = np.matmul(Xa.transpose(0, 2, 1) * (p * q)[:, None, :], Xa) + lam
        # separable data: H -> 0 along the diverging direction; a jitter relative to each diagonal
        # entry keeps H invertible without shortening the steps
        H += np.eye(H.shape[-1]) * (1e-12 * np.diagonal(H, axis1=1, axis2=2))[:, None, :]
        step = np.linalg.solve(H, grad[..., None])[..., 0]
        # backtracking: halve the step where it lowers the objective (Newton alone can overshoot)
        before = objective(Xa, y[idx], th, penalty, prior_mean)
        for _ in range(40):
            worse = objective(Xa, y[idx], th + step, penalty, prior_mean) < before - 1e-12 * np.abs(before)
            if not worse.any():
                break
            step[worse] /= 2
        theta[idx] = th + step
        big = np.linalg.norm(theta[idx], axis=1) > THETA_MAX
        done = np.all(np.abs(step) <= 1e-10 * (1 + np.abs(theta[idx])), axis=1)
        diverged[idx[big]] = True
        active[idx[big | done]] = False
    if active.any():
        raise InputError(f"logistic_regression: Newton's method did not settle in {NEWTON_STEPS} steps for "
                         f"{int(active.sum())} chains")
    return theta, diverged


def objective(X: np.ndarray, y: np.ndarray, theta: np.ndarray, penalty: np.ndarray,
              prior_mean: np.ndarray) -> np.ndarray:
    """Σ_i [y_i log σ(η_i) + (1 − y_i) log σ(−η_i)] − ½ Σ_a λ_a (θ_a − A_a)² per chain."""
    eta = np.matmul(X, theta[..., None])[..., 0]
    return (np.sum(y * log_expit(eta) + (1 - y) * log_expit(-eta), axis=-1)
            - 0.5 * np.sum(penalty * (theta - prior_mean) ** 2, axis=-1))


def score_matches_design_moments() -> bool:
    """The first-order conditions of the log-likelihood Σ_i [y_i η_i − log(1 + e^{η_i})], η_i = b + x_i w,
    are X̃ᵀ(y − σ(η)) = 0 (SymPy, three points, one weight): the fit matches the design moments
    Σ_i σ(η_i) and Σ_i x_i σ(η_i) to the labels', so with a fixed design E_θ[X̃ᵀy] — the design rate
    among them — is a martingale of the loop."""
    record("R12.logistic.martingale")  # at every call: the SymPy below is derived once (cached_law)
    return score_gaps_vanish()


@cached_law
def score_gaps_vanish() -> bool:
    """:func:`score_matches_design_moments`'s SymPy: both score gaps simplify to 0."""
    b, w = sp.symbols("b w")
    xs, ys = sp.symbols("x1:4"), sp.symbols("y1:4")
    eta = [b + x * w for x in xs]
    loglik = sum(yv * e - sp.log(1 + sp.exp(e)) for yv, e in zip(ys, eta))
    sigma = [1 / (1 + sp.exp(-e)) for e in eta]
    gaps = (sp.diff(loglik, b) - sum(yv - s_ for yv, s_ in zip(ys, sigma)),
            sp.diff(loglik, w) - sum(x * (yv - s_) for x, yv, s_ in zip(xs, ys, sigma)))
    return all(sp.simplify(g) == 0 for g in gaps)


def derivation() -> Derivation:
    """R12.logistic.martingale for the derivation document: the score's design moments."""
    matched = score_matches_design_moments()
    return Derivation("R12.logistic.martingale", "model-classes", "the design moments are martingales", (Step(
        r"For $P(y=1\mid x)=\sigma(b+x\cdot w)$ the log-likelihood is $\sum_i[y_i\eta_i-\ln(1+e^{\eta_i})]$, "
        r"$\eta_i=b+x_i\cdot w$; SymPy differentiates it (three points, one weight) and finds the score "
        r"$\tilde X^{\mathsf T}(y-\sigma(\eta))$, $\tilde X=[1,X]$"
        + (r": the fit matches the design moments $\sum_i\sigma(\eta_i)$ and $\sum_i x_i\sigma(\eta_i)$ to the "
           r"labels'. With a fixed design the labels' law is an exponential family in $(b, w)$ of statistic "
           r"$\tilde X^{\mathsf T}y$, and every design moment of the fitted probabilities (the design rate "
           r"among them) is a martingale of the loop; with a fresh design the population rate is not one."
           if matched else r" not: the design moments are not matched.")),))


# -- the command line -----------------------------------------------------------------------------
def from_options(name, M, family_args=None, init=None, init_seed=None, init_sample=None, design=None,
                 external=0, regime=None, M_schedule=None, prior_law=None, **operator) -> LogisticRegression:
    """The loop of ``closedloop simulate logistic_regression --family-args d=.. --init b=..,w=..``."""
    refuse_unused(name, {"init_sample": init_sample, **operator})
    args = parse_params(family_args, "family argument") if isinstance(family_args, str | None) \
        else dict(family_args)
    if set(args) != {"d"}:
        raise InputError("logistic_regression takes --family-args d=D")
    d = integer(args["d"], "d (logistic_regression)", 1, 100)
    if init and init_seed is not None:
        raise InputError("give --init or --init-seed for logistic_regression, not both")
    if init_seed is not None:
        theta0 = np.random.default_rng(integer(init_seed, "--init-seed", 0)).standard_normal(d + 1)
    else:
        init = dict(init or {})
        theta0 = np.concatenate([[init.pop("b", 0.0)], np.full(d, float(init.pop("w", 0.0)))])
        for key, value in init.items():
            if not (re.fullmatch(r"w\d+", key) and 1 <= int(key[1:]) <= d):
                raise InputError(f"--init {key}: logistic_regression takes b, w (every weight) or w1..w{d}")
            theta0[int(key[1:])] = value
    penalty, mean = np.zeros(0), np.zeros(0)
    if prior_law is not None:
        law = parse_prior(prior_law) if isinstance(prior_law, str) else prior_law
        if not isinstance(law, NormalPrior) or law.each or law.var is None:
            raise InputError("--prior-law for logistic_regression: normal:var=V[,mean=A] on b and every weight")
        penalty, mean = np.full(d + 1, 1 / law.var), np.full(d + 1, law.mean)
    return LogisticRegression(M=M, external=external, regime=Regime(regime or "replace", M_schedule), d=d,
                              theta0=theta0, design=design or "fresh", penalty=penalty, prior_mean=mean)
