"""The results R1–R8 of SPEC section 2, each a pure function ``family -> Derivation``."""

from __future__ import annotations

from ..derivation import Derivation
from ..family import ExponentialFamily
from . import recursion


def all_results(family: ExponentialFamily) -> list[Derivation]:
    """Every derivation that applies to ``family``, in reading order (each derived once: the store)."""
    from ..store import compute

    ids = ["R1.martingale", "R2.covariance", *(f"R3.drift.{est}" for est in recursion.ESTIMATORS),
           "R4.reparametrisation", "R5.fixed_points", "R6.absorption", "R7.stationary", "R8.moments"]
    return [d for d in (compute(rid, family) for rid in ids) if d is not None]
