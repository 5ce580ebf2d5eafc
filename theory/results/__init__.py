"""The results R1–R8 of SPEC section 2, each a pure function ``family -> Derivation``."""

from __future__ import annotations

from ..derivation import Derivation
from ..family import ExponentialFamily


def all_results(family: ExponentialFamily) -> list[Derivation]:
    """Every derivation that applies to ``family``, in reading order (each derived once: the store)."""
    from ..store import RESULTS, compute

    ids = [rid for rid in RESULTS if not rid.startswith("R9")]  # R9 takes a setting: all_general
    return [d for d in (compute(rid, family) for rid in ids) if d is not None]
