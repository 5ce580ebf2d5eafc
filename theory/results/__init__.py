"""The results R1–R8 of SPEC section 2, each a pure function ``family -> Derivation``."""

from __future__ import annotations

from ..derivation import Derivation
from ..family import ExponentialFamily
from . import absorption, anchors, martingale, moments, recursion, reparam, stationary


def all_results(family: ExponentialFamily) -> list[Derivation]:
    """Every derivation that applies to ``family``, in reading order."""
    out = [martingale.martingale(family), martingale.covariance(family)]
    out += [recursion.drift(family, est) for est in recursion.ESTIMATORS]
    out += [reparam.reparametrisation(family), anchors.fixed_points(family),
            absorption.absorption(family)]
    for fn in (stationary.stationary, moments.moments):
        d = fn(family)
        if d is not None:
            out.append(d)
    return out
