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

Where each applies (:meth:`Operator.check`, called by the Setting): top-k and top-p need a finite
sample space; a temperature on an infinite space needs the tempered model to stay in the family,
which :func:`tempered_shift` decides from the declaration: with g = h/multiplicity the base
measure of one configuration, f^{1/T} ∝ multiplicity · g^{1/T} e^{θ·φ/T} is in the family iff
log g is affine in φ on the support, log g = c + b·φ, and then θ → θ/T + (1/T − 1) b (constant
g: θ → θ/T). Selection needs φ1 to be a score of the data value: affine and not constant in s.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

from . import symbols as S
from .errors import InputError
from .family import ExponentialFamily, Finite, Interval, Levels

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

    def check(self, family: ExponentialFamily) -> None:
        """InputError, in one line, for an operator that cannot act on ``family``'s model: a
        truncation on an infinite space, a temperature that takes an infinite space's model out
        of the family, a selection without a score φ1 (see the module docstring)."""
        finite = isinstance(family.space, Finite | Levels)
        if self.truncates and not finite:
            flag = "--top-k" if self.top_k is not None else "--top-p"
            raise InputError(f"{flag} truncates a finite sample space; {family.title}'s is infinite")
        if self.temperature is not None and not finite and tempered_shift(family) is None:
            raise InputError(f"--temperature on {family.title}: f^(1/T) ∝ h(s)^(1/T) e^(θ·φ(s)/T) with "
                             f"h(s) = {sp.sstr(family.h)} is not a member of the family"
                             f"{OUTSIDE.get(family.name, '')}; on an infinite sample space the "
                             "toolkit refuses a tempered model outside the family")
        if self.select is not None and not score_statistic(family):
            raise InputError(f"--select ranks points by phi1, which for {family.title} is "
                             f"{sp.sstr(family.phi[0])}, not a score of the data value s (affine in s)")

    def as_json(self) -> dict:
        """The operator's declared numbers (None where not declared)."""
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                "select": self.select, "by": self.by}


# the law a tempered model outside its family is, named for the message of Operator.check
OUTSIDE = {"poisson": " (it is a Conway–Maxwell–Poisson law with ν = 1/T, not a Poisson)"}


def configuration_base(family: ExponentialFamily) -> sp.Expr:
    """g(s) = h(s)/multiplicity(s): the base measure of one sample configuration (h without a
    declared multiplicity)."""
    if family.multiplicity is None:
        return family.h
    return sp.simplify(family.h / family.multiplicity)


@functools.lru_cache(maxsize=None)
def tempered_shift(family: ExponentialFamily) -> tuple[sp.Expr, ...] | None:
    """b with log g(s) = c + b·φ(s) on the support (g: :func:`configuration_base`), or None
    where log g is not affine in φ: then f^{1/T} leaves the family; else it is the member at
    θ/T + (1/T − 1) b (b = 0 for a constant g: θ → θ/T).

    b and c are solved from d + 1 support points with affinely independent φ; the residual
    log g − c − b·φ must then vanish: identically in s (SymPy), and on a finite space at every
    level (evaluated to 30 digits)."""
    log_g = sp.expand_log(sp.log(configuration_base(family)), force=True)
    d = family.d
    if not log_g.has(S.s):
        return (sp.Integer(0),) * d
    points = _support_points(family)
    rows: list[list[sp.Expr]] = []
    chosen: list = []
    for v in points:  # greedily: d + 1 points with affinely independent φ
        row = [p.subs(S.s, v) for p in family.phi] + [sp.Integer(1)]
        if sp.Matrix(rows + [row]).rank() == len(rows) + 1:
            rows.append(row)
            chosen.append(v)
        if len(rows) == d + 1:
            break
    if len(rows) < d + 1:
        return None
    values = sp.Matrix([log_g.subs(S.s, v) for v in chosen])
    solution = sp.Matrix(rows).LUsolve(values)
    b, c = tuple(sp.simplify(x) for x in solution[:d]), solution[d]
    residual = log_g - c - sum(bi * p for bi, p in zip(b, family.phi, strict=True))
    if isinstance(family.space, Finite):
        scale = 1 + max(abs(float(sp.N(log_g.subs(S.s, v), 30))) for v in family.space.levels)
        ok = all(abs(float(sp.N(residual.subs(S.s, v), 30))) <= 1e-12 * scale for v in family.space.levels)
    else:
        ok = sp.simplify(residual) == 0
    return b if ok else None


def _support_points(family: ExponentialFamily) -> list:
    """Points of the sample space to solve b, c at: the levels, else 0, 1, 2, ... from the
    lower end (or from 0 on the real line), halves on a real interval too."""
    space = family.space
    if isinstance(space, Finite):
        return list(space.levels)
    start = sp.Integer(0) if not space.lower.is_finite else space.lower
    step = sp.Rational(1, 2) if isinstance(space, Interval) else sp.Integer(1)
    first = 1 if isinstance(space, Interval) and start.is_finite and space.lower.is_finite else 0
    return [start + k * step for k in range(first, first + 2 * family.d + 6)]


def score_statistic(family: ExponentialFamily) -> bool:
    """Whether φ1 is a score of the data value: affine in s and not constant (selection ranks by it)."""
    phi1 = family.phi[0]
    return bool(phi1.is_polynomial(S.s)) and sp.degree(phi1, S.s) == 1


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
