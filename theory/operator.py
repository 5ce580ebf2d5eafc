"""The sampling operator: how a generation's M model points are drawn from the fitted model.

Synthetic data are rarely drawn from the fitted model f(·|θ) as it is. The operator acts on the
model before its M points are drawn (the external points, fresh or fixed, are never altered):

* ``temperature`` T: the probabilities of the sample space raised to 1/T and renormalised,
  f_T(x) ∝ f(x|θ)^{1/T}. For a family whose sample points are configurations counted by a
  multiplicity (Curie–Weiss: C(N, k) spin configurations per magnetisation level k) the power
  acts on each configuration, not on the histogram. Where the tempered model stays in the
  family (base measure constant on the configurations) it is θ → θ/T.
* ``top_k`` K: the model truncated to its K most probable outcomes, renormalised (finite
  spaces).
* ``top_p`` P: the model truncated to its smallest most-probable set of mass ≥ P, renormalised
  (finite spaces; nucleus sampling).
* ``select`` FRACTION with ``by`` STATISTIC: draw ⌈M/FRACTION⌉ points from the model, keep the
  M with the largest statistic: ``abs_deviation`` |φ1(x) − μ1(θ)|, ``largest`` φ1(x),
  ``smallest`` −φ1(x).

Temperature acts first, then top-k, then top-p (the order of language-model samplers);
selection is applied to the (possibly tempered) model's draws and does not combine with a
truncation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError

SELECT_BY = {"abs_deviation": "|phi1(x) - mu1|, the distance from the model's mean",
             "largest": "phi1(x), the largest values",
             "smallest": "-phi1(x), the smallest values"}
TEMPERATURE_BOUNDS = (1e-3, 1e3)  # beyond, f^(1/T) under- or overflows float64 for the families' logits


@dataclass(frozen=True)
class Operator:
    """The sampling operator of a closed loop (see the module docstring); the default is the
    identity (the paper's loop: the M points drawn from the fitted model as it is)."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    select: float | None = None
    by: str | None = None

    def __post_init__(self):
        if self.temperature is not None:
            T = _number(self.temperature, "--temperature T")
            low, high = TEMPERATURE_BOUNDS
            if not low <= T <= high:
                raise InputError(f"--temperature {T:g} is outside [{low:g}, {high:g}]")
            object.__setattr__(self, "temperature", None if T == 1 else T)
        if self.top_k is not None:
            k = self.top_k
            if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
                raise InputError(f"--top-k K needs an integer K >= 1, got {k!r}")
            object.__setattr__(self, "top_k", int(k))
        if self.top_p is not None:
            P = _number(self.top_p, "--top-p P")
            if not 0 < P <= 1:
                raise InputError(f"--top-p P needs 0 < P <= 1, got {P:g}")
            object.__setattr__(self, "top_p", None if P == 1 else P)
        if (self.select is None) != (self.by is None):
            raise InputError("selection needs both --select FRACTION and --by STATISTIC "
                             f"({', '.join(SELECT_BY)})")
        if self.select is not None:
            f = _number(self.select, "--select FRACTION")
            if not 0 < f <= 1:
                raise InputError(f"--select FRACTION needs 0 < FRACTION <= 1, got {f:g}")
            if self.by not in SELECT_BY:
                raise InputError(f"--by {self.by!r}: unknown statistic; known: {', '.join(SELECT_BY)}")
            if self.truncates:
                raise InputError("--select does not combine with --top-k or --top-p: use one")
            object.__setattr__(self, "select", f)

    @property
    def identity(self) -> bool:
        """Whether the model's points are drawn from the fitted model as it is."""
        return self.temperature is None and not self.truncates and self.select is None

    @property
    def truncates(self) -> bool:
        """Whether top-k or top-p truncation is declared."""
        return self.top_k is not None or self.top_p is not None

    def drawn(self, M: int) -> int:
        """Points drawn from the model to keep M: ⌈M/FRACTION⌉ under selection, else M."""
        if self.select is None:
            return M
        return math.ceil(M / self.select - 1e-12)

    @property
    def label(self) -> str:
        """``T1.005``, ``topk3+topp0.9``, ``select0.5-abs_deviation`` ('' for the identity)."""
        parts = []
        if self.temperature is not None:
            parts.append(f"T{self.temperature:g}")
        if self.top_k is not None:
            parts.append(f"topk{self.top_k}")
        if self.top_p is not None:
            parts.append(f"topp{self.top_p:g}")
        if self.select is not None:
            parts.append(f"select{self.select:g}-{self.by}")
        return "+".join(parts)

    def as_json(self) -> dict:
        """The operator's declared numbers (None where not declared)."""
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                "select": self.select, "by": self.by}


def _number(value, what: str) -> float:
    if isinstance(value, bool | str):
        raise InputError(f"{what} needs a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} needs a number, got {value!r}") from None
    if not np.isfinite(x):
        raise InputError(f"{what} needs a finite number, got {value!r}")
    return x


def as_operator(value=None, **declared) -> Operator:
    """An :class:`Operator` from itself, None (the identity) or its fields as keywords
    (``temperature=1.005``, ``top_p=0.9``, ``select=0.5, by="abs_deviation"``; None values
    are left out)."""
    if isinstance(value, Operator) and not any(v is not None for v in declared.values()):
        return value
    if value is not None and not isinstance(value, Operator):
        raise InputError(f"a sampling operator is an Operator, got {type(value).__name__}")
    return Operator(**{k: v for k, v in declared.items() if v is not None})
