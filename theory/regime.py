"""The data regime of a closed loop: which points a generation's refit sees, and how many it draws.

Generation t draws M_t points from the current model f(·|θ_{t−1}) (plus the setting's external
points, n_t = M_t + m in all), and then refits on

* ``replace`` (the paper's loop): its own n_t points;
* ``accumulate``: every point drawn in generations 1..t, the pool of N_t = Σ_{k≤t} n_k points
  (the external points of every generation included); generation 1 is the replace loop's;
* ``subsample``: n_t points drawn without replacement from that pool (generation 1 again
  the replace loop's, since the pool then holds exactly n_1 points).

M_t is the constant M, or a :class:`Schedule` of growing sample sizes: ``linear:a``
(M_t = round(a·t)), ``geometric:a,r`` (M_t = round(a·r^(t−1))) or an explicit list
``10,20,40`` (one size per generation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

from .errors import InputError

REGIMES = ("replace", "accumulate", "subsample")
SCHEDULES = ("linear", "geometric", "list")
SIZE_MAX = 2**53  # sums of more points are no longer exact in float64


@dataclass(frozen=True)
class Schedule:
    """Sample sizes M_t, t = 1, 2, ...: ``linear`` (a,) -> round(a t); ``geometric`` (a, r) ->
    round(a r^(t−1)); ``list`` (M_1, M_2, ...) -> the given sizes (a run may not go beyond)."""

    kind: str
    values: tuple[float, ...]

    def __post_init__(self):
        values = tuple(float(v) for v in self.values)
        object.__setattr__(self, "values", values)
        if self.kind not in SCHEDULES:
            raise InputError(f"unknown M schedule {self.kind!r}; known: linear:a, geometric:a,r, "
                             "or a list of sizes 10,20,40")
        want = {"linear": 1, "geometric": 2}.get(self.kind)
        if (want is not None and len(values) != want) or not values:
            form = {"linear": "linear:a", "geometric": "geometric:a,r"}.get(self.kind, "M1,M2,...")
            raise InputError(f"M schedule {self.kind} takes {form}, got {len(values)} number(s)")
        if not all(np.isfinite(v) and v > 0 for v in values):
            raise InputError(f"M schedule {self.label}: every number must be finite and > 0")
        if self.kind == "list" and not all(v == int(v) and v <= SIZE_MAX for v in values):
            raise InputError(f"M schedule {self.label}: sizes must be integers from 1 to 2**53")
        if self.kind != "list" and self.size(1) < 1:
            raise InputError(f"M schedule {self.label}: M_1 = {self.size(1)}, needs at least 1 point")
        if self.kind == "geometric" and values[1] < 1:
            raise InputError(f"M schedule {self.label}: the ratio r must be >= 1 (a growing sample)")

    def size(self, t: int) -> int:
        """M_t for generation t >= 1."""
        if self.kind == "list":
            if t > len(self.values):
                raise InputError(f"M schedule {self.label} gives {len(self.values)} sizes, "
                                 f"generation {t} has none; give more sizes or fewer generations")
            return int(self.values[t - 1])
        a = self.values[0]
        exact = a * t if self.kind == "linear" else a * self.values[1] ** (t - 1)
        if not exact <= SIZE_MAX:
            raise InputError(f"M schedule {self.label}: M_{t} passes 2**53 points")
        return int(round(exact))

    def sizes(self, generations: int) -> np.ndarray:
        """(M_1, ..., M_T) as integers; an InputError when a size is out of range."""
        return np.array([self.size(t) for t in range(1, generations + 1)], dtype=np.int64)

    def symbolic(self, t: sp.Symbol) -> sp.Expr | None:
        """M_t as an expression in t for derivations (linear: a t; geometric: a r^(t−1), the
        rounding left out); None for a list."""
        if self.kind == "list":
            return None
        a = sp.nsimplify(self.values[0])
        return a * t if self.kind == "linear" else a * sp.nsimplify(self.values[1]) ** (t - 1)

    @property
    def label(self) -> str:
        numbers = ",".join(f"{v:g}" for v in self.values)
        return numbers if self.kind == "list" else f"{self.kind}:{numbers}"


def parse_schedule(text: str) -> Schedule:
    """``linear:10``, ``geometric:10,1.5`` or ``10,20,40`` (the grammar of ``--M-schedule``)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("--M-schedule is empty: expected linear:a, geometric:a,r or M1,M2,...")
    kind, sep, rest = text.partition(":")
    kind, rest = (kind.strip(), rest) if sep else ("list", text)
    try:
        values = tuple(float(v) for v in rest.split(","))
    except ValueError:
        raise InputError(f"--M-schedule {text!r}: expected numbers, e.g. linear:10, geometric:10,1.5 "
                         "or 10,20,40") from None
    return Schedule(kind, values)


@dataclass(frozen=True)
class Regime:
    """Which points a refit sees (``kind``: replace, accumulate, subsample) and the model points
    drawn per generation (``schedule``: None for a constant M); see the module docstring."""

    kind: str = "replace"
    schedule: Schedule | None = None

    def __post_init__(self):
        if self.kind not in REGIMES:
            raise InputError(f"unknown regime {self.kind!r}; known: {', '.join(REGIMES)}")
        if isinstance(self.schedule, str):
            object.__setattr__(self, "schedule", parse_schedule(self.schedule))
        if not isinstance(self.schedule, Schedule | None):
            raise InputError(f"an M schedule is a Schedule or its text (linear:10), got "
                             f"{type(self.schedule).__name__}")

    @property
    def pooled(self) -> bool:
        """Whether the refit reads a pool of past generations' points (accumulate, subsample)."""
        return self.kind != "replace"

    def model_points(self, t: int, M: int) -> int:
        """M_t: the schedule's size, or the constant M."""
        return M if self.schedule is None else self.schedule.size(t)

    def check_start(self, M: int) -> None:
        """A schedule must start at the loop's M (M_1 = M): the loop's checks read M."""
        if self.schedule is not None and self.schedule.size(1) != M:
            raise InputError(f"--M {M} differs from the schedule's first size M_1 = "
                             f"{self.schedule.size(1)} ({self.schedule.label}); give --M {self.schedule.size(1)}")

    @property
    def label(self) -> str:
        """``accumulate``, ``Mlinear-10``, ``subsample+Mgeometric-10_1.5`` ('' for the paper's loop)."""
        parts = [self.kind] if self.pooled else []
        if self.schedule is not None:
            parts.append("M" + self.schedule.label.replace(":", "-").replace(",", "_"))
        return "+".join(parts)


def as_regime(value) -> Regime:
    """A :class:`Regime` from itself, its kind's name, or None (replace)."""
    if value is None:
        return Regime()
    if isinstance(value, str):
        return Regime(value.strip())
    if not isinstance(value, Regime):
        raise InputError(f"a regime is one of {', '.join(REGIMES)} or a Regime, got {type(value).__name__}")
    return value
