"""``linear_regression``: the closed loop of a linear model y = x·w + σε, refitted by least squares
(or ridge, through a normal prior on w).

Generation t draws M_t inputs x ~ N(0, I_d) — fresh every generation (``design="fresh"``) or one
design drawn once at the start of the run and reused (``design="fixed"``) — labels them with the
current model, y = x·w_{t−1} + σε, adds ``external`` points labelled by the initial model w_0 (the
ground truth; under a fixed design their inputs are part of the fixed design too), and refits:

* least squares, w_t = (XᵀX)⁻¹Xᵀy, on the generation's points (``replace``) or on every pair drawn
  so far (``accumulate``: the labels of earlier generations came from earlier models);
* ridge (``--prior-law normal:var=V[,mean=A]``, the prior N(A, V) on every component, entering once
  per generation): the MAP w_t = (XᵀX + λI)⁻¹(Xᵀy + λA) with penalty λ = σ²/V (per component
  λ_k = σ²/V_k with ``varK``).

Under accumulate the pool enters only through its running sums S_t = Σ XᵀX and b_t = Σ Xᵀy (exact,
O(d²) per chain whatever the pool's size). Observables: ``sq_error`` = |w_t − w_0|² and ``w1``, the
first component. The loop has no absorbing state (σ > 0): ``absorbed`` is always False. The laws
are in :mod:`theory.models.regression_laws`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, integer
from ..params import parse_params
from ..regime import Regime
from ..setting import NormalPrior, parse_prior
from . import refuse_unused
from .base import ModelLoop

DESIGNS = ("fresh", "fixed")


@dataclass
class RegressionState:
    """C chains: ``w`` (C, d) the fitted weights; ``S`` (C, d, d) and ``b`` (C, d) the pool's
    XᵀX and Xᵀy (accumulate; the last generation's under replace); ``design`` the fixed design
    (n, d) or None."""

    w: np.ndarray
    S: np.ndarray
    b: np.ndarray
    design: np.ndarray | None = None


@dataclass
class LinearRegression(ModelLoop):
    """See the module docstring. ``w0`` (d,) the initial weights (the ground truth); ``penalty``
    (d,) the ridge λ_k = σ²/V_k (zeros: least squares) and ``prior_mean`` (d,) its centre."""

    d: int = 1
    sigma: float = 1.0
    w0: np.ndarray = field(default_factory=lambda: np.zeros(1))
    design: str = "fresh"
    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0))     # empty: no prior
    prior_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))

    name = "linear_regression"

    def __post_init__(self):
        super().__post_init__()
        self.d = integer(self.d, "d (linear_regression)", 1, 1000)
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise InputError(f"sigma (linear_regression) must be finite and > 0, got {self.sigma:g}")
        self.w0 = np.asarray(self.w0, float)
        if self.w0.shape != (self.d,):
            raise InputError(f"the initial weights have {self.w0.size} components, d = {self.d}")
        if self.design not in DESIGNS:
            raise InputError(f"--design {self.design!r}: expected fresh or fixed")
        self.penalty = np.asarray(self.penalty if np.size(self.penalty) else np.zeros(self.d), float)
        self.prior_mean = np.asarray(self.prior_mean if np.size(self.prior_mean) else np.zeros(self.d), float)
        if self.design == "fixed" and self.regime.schedule is not None:
            raise InputError("--design fixed holds one design of M + external rows: it does not take "
                             "--M-schedule")
        if self.regime.kind == "subsample":
            raise InputError("--regime subsample does not apply to linear_regression (replace or accumulate)")
        if not self.ridge:
            first = self.model_draws(1) + self.external
            if first < self.d:
                raise InputError(f"least squares needs M + external >= d points in a generation: "
                                 f"{first} < d = {self.d} (or a ridge prior, --prior-law normal:var=V)")

    @property
    def ridge(self) -> bool:
        return bool(np.any(self.penalty > 0))

    def rows(self, t: int) -> int:
        """The points of generation t: M_t model points and the external ones."""
        return self.model_draws(t) + self.external

    # -- the loop -------------------------------------------------------------------------------
    def initial_state(self, chains: int, rng: np.random.Generator) -> RegressionState:
        d = self.d
        design = rng.standard_normal((self.rows(1), d)) if self.design == "fixed" else None
        return RegressionState(np.tile(self.w0, (chains, 1)), np.zeros((chains, d, d)), np.zeros((chains, d)),
                               design)

    def draw(self, state: RegressionState, t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Generation t's points of every chain: inputs X (C, n, d) (or the fixed design (n, d)) and
        labels y (C, n), the first M_t labelled by w_{t−1}, the rest by w_0."""
        C, n, Mt = len(state.w), self.rows(t), self.model_draws(t)
        if not self.ridge and not self.regime.pooled and n < self.d:
            raise InputError(f"generation {t}: M_t + external = {n} < d = {self.d} points, least squares "
                             "is undetermined")
        X = state.design if state.design is not None else rng.standard_normal((C, n, self.d))
        rows = np.broadcast_to(X, (C, n, self.d))
        mean = np.empty((C, n))
        mean[:, :Mt] = np.matmul(rows[:, :Mt], state.w[:, :, None])[..., 0]
        mean[:, Mt:] = rows[:, Mt:] @ self.w0
        return X, mean + self.sigma * rng.standard_normal((C, n))

    def step(self, state: RegressionState, t: int, rng: np.random.Generator) -> None:
        X, y = self.draw(state, t, rng)
        if X.ndim == 2:  # the fixed design: one Gram matrix for every chain
            G, r = np.broadcast_to(X.T @ X, state.S.shape), y @ X
        else:
            G, r = np.matmul(X.transpose(0, 2, 1), X), np.matmul(y[:, None, :], X)[:, 0]
        if self.regime.pooled:
            state.S += G
            state.b += r
        else:
            state.S[...], state.b[...] = G, r
        state.w[...] = self.refit(state.S, state.b)

    def refit(self, S: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(S + Λ)⁻¹(b + Λ A): least squares (Λ = 0) or ridge, batched over chains."""
        lam = np.diag(self.penalty)
        return np.linalg.solve(S + lam, (b + self.penalty * self.prior_mean)[..., None])[..., 0]

    def observables(self, state: RegressionState) -> dict[str, np.ndarray]:
        return {"sq_error": np.sum((state.w - self.w0) ** 2, axis=1), "w1": state.w[:, 0].copy()}

    def absorbed(self, state: RegressionState) -> np.ndarray:
        return np.zeros(len(state.w), bool)

    def describe(self) -> dict:
        out = {"family_args": {"d": self.d, "sigma": self.sigma}, "design": self.design,
               "init": {f"w{k + 1}": float(v) for k, v in enumerate(self.w0)},
               "estimator": "ridge" if self.ridge else "least_squares"}
        if self.ridge:
            out["prior"] = {"lambda": [float(x) for x in self.penalty],
                            "mean": [float(x) for x in self.prior_mean]}
        return out


class NaiveLinearRegression(LinearRegression):
    """The reference: every chain's whole pool kept and refitted one chain at a time
    (``np.linalg.lstsq``, ridge as the augmented system [X; √Λ] w = [y; √Λ A]). The same draws as
    :class:`LinearRegression` (it reuses :meth:`draw`), so the two agree to rounding."""

    def initial_state(self, chains, rng):
        state = super().initial_state(chains, rng)
        state.pool = [([], []) for _ in range(chains)]
        return state

    def step(self, state, t, rng):
        X, y = self.draw(state, t, rng)
        root = np.diag(np.sqrt(self.penalty))
        for c, (xs, ys) in enumerate(state.pool):
            if not self.regime.pooled:
                xs.clear()
                ys.clear()
            xs.append(X if X.ndim == 2 else X[c])
            ys.append(y[c])
            A = np.vstack(xs + [root])
            rhs = np.concatenate(ys + [root @ self.prior_mean])
            state.w[c] = np.linalg.lstsq(A, rhs, rcond=None)[0]


# -- the command line -----------------------------------------------------------------------------
def initial_weights(d: int, init: dict | None, init_seed: int | None) -> np.ndarray:
    """``--init w=c`` (every component) and/or ``w1=..,w2=..`` (those components; the others from
    ``w``, else 0), or ``--init-seed S``: w_0 ~ N(0, I_d) from seed S."""
    if init and init_seed is not None:
        raise InputError("give --init or --init-seed for linear_regression, not both")
    if init_seed is not None:
        return np.random.default_rng(integer(init_seed, "--init-seed", 0)).standard_normal(d)
    init = dict(init or {})
    w = np.full(d, float(init.pop("w", 0.0)))
    for key, value in init.items():
        index = key[1:]
        if not (key.startswith("w") and index.isdigit() and 1 <= int(index) <= d):
            raise InputError(f"--init {key}: linear_regression takes w (every component) or w1..w{d}")
        w[int(index) - 1] = value
    return w


def ridge_of(prior_law, d: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(λ_k = σ²/V_k, A_k) of ``--prior-law normal:var=V[,mean=A][,varK=..,meanK=..]`` on w (empty
    arrays: no prior)."""
    if prior_law is None:
        return np.zeros(0), np.zeros(0)
    law = parse_prior(prior_law) if isinstance(prior_law, str) else prior_law
    if not isinstance(law, NormalPrior):
        raise InputError("--prior-law for linear_regression: a normal law on w, normal:var=V[,mean=A]")
    var, mean = np.full(d, np.nan if law.var is None else law.var), np.full(d, law.mean)
    for key, value in law.each:
        kind, index = key.rstrip("0123456789"), key.lstrip("varmean")  # NormalPrior checked the form
        if not 1 <= int(index) <= d:
            raise InputError(f"--prior-law {key}: linear_regression has w1..w{d}")
        (var if kind == "var" else mean)[int(index) - 1] = value
    if np.isnan(var).any():
        raise InputError("--prior-law normal: give var=V or a varK for every component of w")
    return sigma**2 / var, mean


def from_options(name, M, family_args=None, init=None, init_seed=None, init_sample=None, design=None,
                 external=0, regime=None, M_schedule=None, prior_law=None, **operator) -> LinearRegression:
    """The loop of ``closedloop simulate linear_regression --family-args d=..,sigma=.. ...``."""
    refuse_unused(name, {"init_sample": init_sample, **operator})
    args = parse_params(family_args, "family argument") if isinstance(family_args, str | None) \
        else dict(family_args)
    unknown = set(args) - {"d", "sigma"}
    if unknown or "d" not in args:
        raise InputError("linear_regression takes --family-args d=D[,sigma=S] (sigma defaults to 1)"
                         + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""))
    d = integer(args["d"], "d (linear_regression)", 1, 1000)
    sigma = float(args.get("sigma", 1.0))
    penalty, mean = ridge_of(prior_law, d, sigma)
    return LinearRegression(M=M, external=external, regime=Regime(regime or "replace", M_schedule), d=d,
                            sigma=sigma, w0=initial_weights(d, init, init_seed), design=design or "fresh",
                            penalty=penalty, prior_mean=mean)
