"""The figure registry: each figure a (compute, draw) pair under its id, and the sample budgets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FigureBudget:
    """Sample sizes; ``--quick`` and ``--full`` change only these."""

    name: str
    scale: float  # multiplies the number of chains of every figure


QUICK = FigureBudget("quick", 1.0)
FULL = FigureBudget("full", 10.0)


@dataclass(frozen=True)
class Figure:
    id: str
    caption: str
    derivations: tuple[str, ...]   # result ids overlaid as theory lines
    ncols: int
    compute: Callable[[FigureBudget, np.random.Generator], dict]
    draw: Callable


FIGURES: dict[str, Figure] = {}


def register(fig: Figure) -> None:
    FIGURES[fig.id] = fig
