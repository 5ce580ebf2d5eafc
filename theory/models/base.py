"""What every model class beyond the exponential families shares: the closed loop and its run.

A model class (RBM, Gaussian mixture, KDE, linear regression) is a :class:`ModelLoop`: it
declares its numbers once (family arguments, the initial model, the data regime and the
external points), holds the state of C independent chains as arrays, and advances all of them
by one generation at a time (draw M_t points from each chain's fitted model, add the external
points, refit). :meth:`ModelLoop.run` is written once here: burn-in, time averages, a progress
bar, the trace, and the ``simulate --json`` summary with the same keys as an exponential
family's run (``final``, ``time_average``, ``absorbed``, ``collapsed``).

A subclass implements

* :meth:`ModelLoop.initial_state` (chains, rng) -> state (any object holding arrays);
* :meth:`ModelLoop.step` (state, t, rng): generation t of every chain, in place;
* :meth:`ModelLoop.observables` (state) -> name -> (C,) values (``v1..vN``, ``mean``, ...);
* :meth:`ModelLoop.absorbed` (state) -> (C,) bool: the chain sits on a state the loop never
  leaves (an RBM on one configuration, a mixture with a single point, ...);
* :meth:`ModelLoop.describe` -> the class's own JSON fields (family_args, init, ...).
"""

from __future__ import annotations

import abc
import sys
from dataclasses import dataclass, field

import numpy as np

from ..engine.loop import ChainStats
from ..errors import InputError, integer
from ..regime import Regime, as_regime


def mean_var(values: np.ndarray) -> tuple[float, float, int]:
    """(mean, ddof-1 variance, count) over the finite values (NaN, NaN, 0 if none)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.var(ddof=1)) if len(v) > 1 else 0.0, len(v)


@dataclass
class ModelLoop(abc.ABC):
    """The closed loop of a model class; ``M`` model points per generation (M_1 under a
    schedule), ``external`` fresh points per generation from the initial model (the ground
    truth), ``regime`` replace | accumulate | subsample (theory.regime)."""

    M: int
    external: int = 0
    regime: Regime = field(default_factory=Regime)

    name = "model"

    def __post_init__(self):
        self.M = integer(self.M, "M", 1)
        self.external = integer(self.external, "external points", 0)
        self.regime = as_regime(self.regime)
        self.regime.check_start(self.M)

    def model_draws(self, t: int) -> int:
        """M_t: the model points of generation t."""
        return self.regime.model_points(t, self.M)

    # -- what a model class provides ------------------------------------------------------------
    @abc.abstractmethod
    def initial_state(self, chains: int, rng: np.random.Generator):
        """The state of ``chains`` chains at generation 0 (the initial model)."""

    @abc.abstractmethod
    def step(self, state, t: int, rng: np.random.Generator) -> None:
        """Generation t of every chain, in place."""

    @abc.abstractmethod
    def observables(self, state) -> dict[str, np.ndarray]:
        """Observable name -> its value in every chain, shape (C,)."""

    @abc.abstractmethod
    def absorbed(self, state) -> np.ndarray:
        """(C,) bool: the chain is on a state the loop never leaves."""

    @abc.abstractmethod
    def describe(self) -> dict:
        """The class's own JSON fields: ``family_args``, ``init`` and whatever else it declares."""

    # -- the run, once for every class ----------------------------------------------------------
    def run(self, generations: int, chains: int, seed: int | None = 0, burn_in: int = 0,
            record_every: int = 0, progress: bool = False) -> ModelRun:
        """``generations`` generations of ``chains`` independent chains from one seed.

        ``final``: mean and variance over chains at the last generation; ``time_average``: the
        average over generations t > ``burn_in`` of the chains' mean and variance; ``record_every``
        K > 0 keeps the mean and variance every K generations (``trace``)."""
        generations, chains = integer(generations, "generations", 1), integer(chains, "chains", 1)
        burn_in, record_every = integer(burn_in, "burn-in", 0), integer(record_every, "record-every", 0)
        if not burn_in < generations:
            raise InputError(f"burn-in must satisfy 0 <= burn-in < generations, got {burn_in}")
        if seed is not None and not isinstance(seed, np.random.SeedSequence | np.random.BitGenerator
                                               | np.random.Generator):  # a stream, as the engine's run
            seed = integer(seed, "seed", 0)
        rng = np.random.default_rng(seed)
        state = self.initial_state(chains, rng)
        initial = {n: mean_var(v)[:2] for n, v in self.observables(state).items()}
        names = list(initial)
        acc = {n: np.zeros(2) for n in names}
        hit_time = np.where(self.absorbed(state), 0, -1)
        trace: dict | None = {"t": [], "mean": {n: [] for n in names}, "var": {n: [] for n in names}} \
            if record_every else None
        times = range(1, generations + 1)
        if progress:
            from ..progress import tqdm

            times = tqdm(times, file=sys.stderr, desc=f"{self.name} M={self.M}", unit="gen", mininterval=0.5)
        for t in times:
            self.step(state, t, rng)
            hit = self.absorbed(state)
            hit_time[hit & (hit_time < 0)] = t
            want_trace = record_every and (t % record_every == 0 or t == generations)
            if t <= burn_in and not want_trace:
                continue
            stats = {n: mean_var(v)[:2] for n, v in self.observables(state).items()}
            if t > burn_in:
                for n, mv in stats.items():
                    acc[n] += mv
            if want_trace and trace is not None:
                trace["t"].append(t)
                for n, (m, v) in stats.items():
                    trace["mean"][n].append(m)
                    trace["var"][n].append(v)
        final = {n: ChainStats(*mean_var(v)) for n, v in self.observables(state).items()}
        n_avg = generations - burn_in
        time_average = {n: ChainStats(float(a[0] / n_avg), float(a[1] / n_avg), chains) for n, a in acc.items()}
        return ModelRun(self, state, generations, chains, seed, final, time_average, initial,
                        hit_time, self.absorbed(state), trace)


@dataclass
class ModelRun:
    """What a model-class run keeps: the final state, per-observable summaries over chains, the
    initial model's, and each chain's first generation on an absorbing state (−1: never)."""

    loop: ModelLoop
    state: object
    generations: int
    chains: int
    seed: int | None
    final: dict[str, ChainStats]
    time_average: dict[str, ChainStats]
    initial: dict[str, tuple[float, float]]
    hit_time: np.ndarray
    on_absorbing: np.ndarray
    trace: dict | None = None

    def per_chain(self, name: str) -> np.ndarray:
        """The observable ``name`` in every chain at the last generation."""
        values = self.loop.observables(self.state)
        if name not in values:
            raise InputError(f"unknown observable {name!r}; known: {', '.join(values)}")
        return np.array(values[name])

    def absorbed(self) -> dict:
        """Fraction of chains on an absorbing state at the end, and their mean first time."""
        times = self.hit_time[self.on_absorbing].astype(float)
        return {"fraction": float(self.on_absorbing.mean()),
                "time_mean": float(times.mean()) if len(times) else None,
                "time_sem": float(times.std(ddof=1) / np.sqrt(len(times))) if len(times) > 1 else None}

    def summary(self) -> dict:
        """The ``simulate --json`` object: the keys of an exponential family's run where they
        apply (``final``, ``time_average``, ``absorbed``, ``collapsed``), plus ``initial``."""
        loop = self.loop
        out = {"family": loop.name, "M": loop.M, "regime": loop.regime.kind,
               "M_schedule": None if loop.regime.schedule is None else loop.regime.schedule.label,
               "external": loop.external, **loop.describe(),
               "generations": self.generations, "chains": self.chains,
               "seed": self.seed if isinstance(self.seed, int) else None}
        for key, stats in (("final", self.final), ("time_average", self.time_average)):
            out[key] = {"mean": {n: _finite(m) for n, (m, _) in stats.items()},
                        "var": {n: _finite(v) for n, (_, v) in stats.items()}}
        out["initial"] = {"mean": {n: _finite(m) for n, (m, _) in self.initial.items()},
                          "var": {n: _finite(v) for n, (_, v) in self.initial.items()}}
        absorbed = self.absorbed()
        out["absorbed"] = absorbed
        out["collapsed"] = {"fraction": absorbed["fraction"], "time_mean": absorbed["time_mean"],
                            "time_sem": absorbed["time_sem"]}
        if self.trace is not None:
            out["trace"] = {"t": self.trace["t"],
                            "mean": {n: [_finite(x) for x in v] for n, v in self.trace["mean"].items()},
                            "var": {n: [_finite(x) for x in v] for n, v in self.trace["var"].items()}}
        return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
