"""What a result is: named steps (rendered as LaTeX) and named final forms (checked numerically)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp


@dataclass(frozen=True)
class Step:
    """One displayed equation ``lhs = rhs`` with the sentence that justifies it.

    ``lhs`` and ``rhs`` are SymPy objects, or raw LaTeX strings for notation SymPy
    has no object for (conditional expectations, ...). ``rhs=None`` shows text only.
    """

    text: str
    lhs: sp.Basic | str | None = None
    rhs: sp.Basic | str | None = None


@dataclass(frozen=True)
class Derivation:
    """A result ``id`` (``R3.drift``) for one family: its steps and its final forms.

    ``order``: for an asymptotic result, the error is O(M^-order).
    """

    id: str
    family: str
    title: str
    steps: tuple[Step, ...]
    result: Mapping[str, sp.Basic] = field(default_factory=dict)
    order: int | None = None
