"""``kde``: a Gaussian kernel density estimate refitted on its own samples.

The model of a generation is its N data points themselves with a Gaussian kernel of bandwidth h:
f(x) = (1/N) Σ_i N(x; x_i, h²). Sampling from it is resampling the points (with replacement)
plus kernel noise N(0, h²). Generation t draws M_t points (plus ``external`` fresh points from
the initial law, the ground truth) and the next model is the KDE on them (``replace``) or on
the pool of every point drawn so far (``accumulate``).

Bandwidth (``--family-args h=0.5`` or ``h=silverman``): fixed, or Silverman's normal-reference
rule h = 1.06 σ̂ N^(−1/5) with σ̂ the data's standard deviation (ddof 1) and N the points the
KDE is built on (scipy's ``silverman`` differs by the factor (4/3)^(1/5) = 1.0592 for 1.06; the
other common form 0.9 min(σ̂, IQR/1.34) N^(−1/5) is not offered: it has no exact moment law).

Generation 0 is the KDE on an initial data set of M points drawn from ``--init-sample``
(``normal:mean=A,var=B``): each chain its own, or with ``--init-seed S`` one set shared by every
chain. Observables: ``mean`` (the points' mean) and ``total_var`` = the KDE's variance = the
points' variance (ddof 0) + h², and ``h``. A KDE is not a maximum-likelihood fit (the likelihood
of the bandwidth is maximal at h = 0): its mean is a martingale, its variance gains h² per
generation (theory.models.moment_laws). No state is absorbing (the kernel keeps the variance
above h²): ``absorbed`` is always false.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, integer
from ..params import parse_params
from ..regime import Regime
from . import refuse_unused
from .base import ModelLoop
from .moment_laws import SILVERMAN_C


def bandwidth(points: np.ndarray, h: float | None) -> np.ndarray:
    """h per chain: the fixed h, or Silverman's 1.06 σ̂ N^(−1/5) (σ̂ ddof 1) of the points (C, N)."""
    C, N = points.shape
    if h is not None:
        return np.full(C, float(h))
    return SILVERMAN_C * points.std(axis=1, ddof=1) * N ** -0.2


def draw(points: np.ndarray, h: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points from every chain's KDE, (C, n): resample a point, add N(0, h²) noise."""
    C, N = points.shape
    idx = rng.integers(0, N, size=(C, n))
    return np.take_along_axis(points, idx, axis=1) + h[:, None] * rng.standard_normal((C, n))


def draw_naive(points: np.ndarray, h: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """The same law chain by chain and point by point (the tests' reference)."""
    out = np.empty((points.shape[0], n))
    for c in range(points.shape[0]):
        for j in range(n):
            out[c, j] = points[c, rng.integers(0, points.shape[1])] + h[c] * rng.standard_normal()
    return out


@dataclass
class KDEState:
    points: np.ndarray  # (C, N): the points the current KDE is built on (accumulate: the pool)
    h: np.ndarray       # (C,): its bandwidth
    pool: np.ndarray    # (C, N_t): accumulate's pool (the points of generations 1..t)


def parse_law(text: str) -> tuple[float, float]:
    """``normal:mean=A,var=B`` -> (A, B)."""
    kind, sep, rest = (text or "").partition(":")
    if kind.strip() != "normal" or not sep:
        raise InputError(f"--init-sample {text!r}: expected normal:mean=A,var=B")
    p = parse_params(rest, "--init-sample")
    unknown = [k for k in p if k not in ("mean", "var")]
    if unknown:
        raise InputError(f"--init-sample: unknown parameter {unknown[0]!r}; known: mean, var")
    if p.get("var", 1.0) <= 0:
        raise InputError(f"--init-sample: var must be > 0, got {p['var']:g}")
    return p.get("mean", 0.0), p.get("var", 1.0)


@dataclass
class KDELoop(ModelLoop):
    """The closed loop of a Gaussian KDE (module docstring): bandwidth ``h`` (None: Silverman),
    initial data N(``mean0``, ``var0``) of M points, shared by all chains when ``init_seed``."""

    h: float | None = 0.5
    mean0: float = 0.0
    var0: float = 1.0
    init_seed: int | None = None

    name = "kde"

    def __post_init__(self):
        super().__post_init__()
        if self.regime.kind == "subsample":
            raise InputError("kde takes --regime replace or accumulate (no derived law for subsample yet)")
        if self.h is not None and not (np.isfinite(self.h) and self.h >= 0):
            raise InputError(f"kde: the bandwidth h must be a finite number >= 0 or silverman, got {self.h}")
        if self.h is None and self.M < 2:
            raise InputError("kde: Silverman's bandwidth needs M >= 2 points (a standard deviation)")
        if self.init_seed is not None:
            self.init_seed = integer(self.init_seed, "--init-seed", 0)

    @property
    def silverman(self) -> bool:
        return self.h is None

    def truth(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """n points per chain from the initial law N(mean0, var0)."""
        return self.mean0 + np.sqrt(self.var0) * rng.standard_normal((chains, n))

    def initial_state(self, chains, rng):
        if self.init_seed is None:
            points = self.truth(chains, self.M, rng)
        else:
            points = np.tile(self.truth(1, self.M, np.random.default_rng(self.init_seed)), (chains, 1))
        return KDEState(points, bandwidth(points, self.h), np.zeros((chains, 0)))

    def step(self, state, t, rng):
        C = state.points.shape[0]
        batch = draw(state.points, state.h, self.model_draws(t), rng)
        if self.external:
            batch = np.concatenate([batch, self.truth(C, self.external, rng)], axis=1)
        if self.regime.kind == "accumulate":
            state.pool = np.concatenate([state.pool, batch], axis=1)
            batch = state.pool
        state.points, state.h = batch, bandwidth(batch, self.h)

    def observables(self, state):
        return {"mean": state.points.mean(axis=1), "total_var": state.points.var(axis=1) + state.h**2,
                "h": state.h.copy()}

    def absorbed(self, state):
        return np.zeros(state.points.shape[0], bool)

    def describe(self):
        return {"family_args": {"h": "silverman" if self.silverman else self.h},
                "bandwidth": (f"silverman: {SILVERMAN_C} sd(ddof 1) N^(-1/5)" if self.silverman
                              else f"fixed h = {self.h:g}"),
                "init_sample": {"law": "normal", "mean": self.mean0, "var": self.var0,
                                "points": self.M, "shared_by_chains": self.init_seed is not None,
                                "init_seed": self.init_seed}}


def parse_bandwidth(family_args: str | None) -> float | None:
    """``h=0.5`` -> 0.5, ``h=silverman`` -> None (the rule); h=0.5 by default."""
    h: float | None = 0.5
    for item in filter(None, (family_args or "").split(",")):
        key, sep, value = (s.strip() for s in item.partition("="))
        if key != "h" or not sep:
            raise InputError(f"kde: unknown family argument {item!r}; known: h=NUMBER or h=silverman")
        if value == "silverman":
            h = None
        else:
            h = parse_params(f"h={value}", "kde family argument")["h"]
    return h


def from_options(name, M, family_args=None, init_seed=None, init_sample=None, external=0, regime="replace",
                 M_schedule=None, **unused) -> KDELoop:
    """``--family-args h=0.5|silverman``, ``--init-sample normal:mean=0,var=1``, ``--init-seed S``."""
    refuse_unused(name, unused, {"temperature": 1.0})
    mean0, var0 = parse_law(init_sample or "normal:mean=0,var=1")
    return KDELoop(M=M, external=external, regime=Regime(regime or "replace", M_schedule),
                   h=parse_bandwidth(family_args), mean0=mean0, var0=var0, init_seed=init_seed)


__all__ = ["KDELoop", "bandwidth", "draw", "draw_naive", "from_options", "parse_bandwidth", "parse_law"]
