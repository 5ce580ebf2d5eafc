"""The validation registry: checks, budgets, and running them into verdicts.

A :class:`Check` pairs one derived prediction (a result id, R1–R8, for one
family) with a Monte Carlo estimate. It returns an :class:`Outcome` holding the
prediction, the estimate and its standard error, a test statistic in z units,
and the same statistic for a deliberately wrong formula (the negative control).
The run's threshold z* (Šidák over its statistical checks) decides both: a
check passes when |z| ≤ z* and its control has |z| > z*. A control that is not
rejected makes the check fail as UNDERPOWERED, so noise can never make a check
pass.
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..parallel import map_tasks
from ..progress import tqdm
from ..stats import FAMILY_WISE_ALPHA, threshold
from ..store import recording


@dataclass(frozen=True)
class Budget:
    """Sample sizes of a run. ``--quick`` and ``--full`` change these, never a threshold."""

    name: str
    chains: int             # exact one-step and transient checks (R1, R2, R5, R8)
    ladder: tuple[int, ...]  # M rungs of the asymptotic order checks (R3, R4)
    ladder_chains: int      # chains per rung
    absorb_chains: int      # pure loops run to absorption (R6)
    stationary_chains: int  # anchored loops sampled at stationarity (R7, R8)
    collapse_chains: int    # chains per setting of the collapse-vs-normalisability table (R9)


QUICK = Budget("quick", chains=100_000, ladder=(100, 200, 400, 800, 1600), ladder_chains=200_000,
               absorb_chains=20_000, stationary_chains=4_000, collapse_chains=400)
FULL = Budget("full", chains=2_000_000, ladder=(100, 200, 400, 800, 1600, 3200),
              ladder_chains=4_000_000, absorb_chains=400_000, stationary_chains=100_000, collapse_chains=4_000)


@dataclass
class Outcome:
    """What a check measured. ``z`` is None for deterministic checks, which set ``passed``."""

    prediction: float
    estimate: float
    sem: float
    z: float | None
    control: str
    control_z: float | None
    detail: str = ""
    passed: bool | None = None            # deterministic checks only
    control_rejected: bool | None = None  # deterministic checks only


@dataclass(frozen=True)
class Check:
    """One prediction against one simulation (see module docstring)."""

    id: str          # result id: "R2.covariance", "R3.drift.mle", ...
    family: str      # family slug
    quantity: str    # what is compared, e.g. "Cov[phi1, phi2] at t=1"
    kind: str        # "exact", "O(M^-2)", "distribution", "deterministic"
    compute: Callable[[Budget, np.random.Generator], Outcome] = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.id}|{self.family}|{self.quantity}"

    @property
    def statistical(self) -> bool:
        return self.kind != "deterministic"


@dataclass
class Result:
    check: Check
    outcome: Outcome | None
    threshold: float
    seconds: float
    error: str | None = None
    evaluated: tuple[str, ...] = ()  # result ids the check read from the store

    @property
    def passed(self) -> bool:
        o = self.outcome
        if o is None:
            return False
        if o.passed is not None:
            return bool(o.passed)
        return bool(np.isfinite(o.z) and abs(o.z) <= self.threshold)

    @property
    def control_rejected(self) -> bool:
        o = self.outcome
        if o is None:
            return False
        if o.control_rejected is not None:
            return bool(o.control_rejected)
        return bool(o.control_z is not None and abs(o.control_z) > self.threshold)

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if not self.passed:
            return "FAIL"
        return "pass" if self.control_rejected else "UNDERPOWERED"

    def as_json(self) -> dict:
        o, c = self.outcome, self.check
        def num(x):
            return None if x is None or not np.isfinite(x) else float(x)
        return {"id": c.id, "family": c.family, "quantity": c.quantity, "kind": c.kind,
                "prediction": num(o.prediction) if o else None,
                "estimate": num(o.estimate) if o else None, "sem": num(o.sem) if o else None,
                "z": num(o.z) if o else None, "threshold": self.threshold,
                "passed": self.passed, "control": o.control if o else None,
                "control_z": num(o.control_z) if o else None,
                "control_rejected": self.control_rejected, "verdict": self.verdict,
                "detail": o.detail if o else self.error, "seconds": round(self.seconds, 2),
                "evaluated": list(self.evaluated)}


def run_checks(checks: list[Check], budget: Budget, seed: int = 0, progress: bool = False,
               alpha: float = FAMILY_WISE_ALPHA, workers: int = 1, scheduler=None) -> list[Result]:
    """Run every check with its own random stream (adding a check never changes another's numbers).

    The checks of one family form one task (they share cached simulations); tasks run
    through joblib on ``workers`` local processes, or on the Dask cluster at ``scheduler``
    (an address or a Client). Streams are keyed by the run seed and the check, so the
    numbers do not depend on the workers or the backend.
    """
    z_star = threshold(sum(c.statistical for c in checks), alpha)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(checks):
        groups.setdefault(c.family, []).append(i)
    order = sorted(groups.values(), key=len, reverse=True)  # largest first keeps the cores busy
    job = (checks, budget, seed)
    bar = tqdm(total=len(checks), disable=not progress, desc=f"validate ({budget.name})",
               unit="check")
    done: dict[int, tuple] = {}
    if scheduler is None and (workers == 1 or len(groups) == 1):  # here, check by check
        order, workers = [[i] for idx in groups.values() for i in idx], 1
    for part in map_tasks(functools.partial(_run_group, job=job), order, workers=workers, scheduler=scheduler,
                          check=_is_group_result):
        done.update(part)
        bar.update(len(part))
    bar.close()
    return [Result(checks[i], done[i][0], z_star, done[i][2], done[i][1], done[i][3])
            for i in range(len(checks))]


def _is_group_result(indices: list[int], part) -> bool:
    """Is ``part`` what :func:`_run_group` returns for ``indices`` (a result from a cluster)?"""
    return (isinstance(part, dict) and sorted(part) == sorted(indices)
            and all(isinstance(v, tuple) and len(v) == 4 for v in part.values()))


_RUN_SEED = 0


def run_seed() -> int:
    """The seed of the validation run in progress: simulations shared by checks are keyed by it."""
    return _RUN_SEED


def _run_group(indices: list[int], job: tuple) -> dict[int, tuple]:
    global _RUN_SEED
    checks, budget, seed = job
    _RUN_SEED = seed
    out = {}
    for i in indices:
        check = checks[i]
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(check.key.encode())]))
        t0 = time.perf_counter()
        try:
            with recording() as ids:
                outcome, error = check.compute(budget, rng), None
        except Exception as e:  # a crash is a failed check, reported, not a lost run
            outcome, error = None, f"{type(e).__name__}: {e}"
        out[i] = (outcome, error, time.perf_counter() - t0, tuple(sorted(ids)))
    return out
