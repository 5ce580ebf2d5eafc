"""One store of derivations, keyed by result id: checks, figures and the API read results here.

``derivation("R3.drift.mle", family)`` computes a result once (cached) and, inside
:func:`recording`, notes its id, so a check or a figure records the ids it actually
evaluated rather than a retyped list. R1–R8 take a family; R9 takes a
:class:`~theory.setting.Setting` (a family alone means the pure loop). A result is also kept
on disk (:func:`theory.diskcache.cached_result`), so another process reads it instead of
deriving it again.
"""

from __future__ import annotations

import contextlib
import functools

from . import diskcache
from .derivation import Derivation
from .family import ExponentialFamily
from .results import absorption, anchors, general, martingale, moments, recursion, reparam, stationary
from .setting import Setting
from .speedups import sympy_speedups

RESULTS = {
    "R1.martingale": martingale.martingale,
    "R2.covariance": martingale.covariance,
    **{f"R3.drift.{est}": functools.partial(recursion.drift, estimator=est) for est in recursion.ESTIMATORS},
    "R4.reparametrisation": reparam.reparametrisation,
    "R5.fixed_points": anchors.fixed_points,
    "R6.absorption": absorption.absorption,
    "R7.stationary": stationary.stationary,
    "R8.moments": moments.moments,
    "R9.sde": general.sde,
    "R9.entropy": general.entropy,
    "R9.stationary": general.stationary,
}

_recorders: list[set] = []


def derivation(result_id: str, subject: ExponentialFamily | Setting) -> Derivation | None:
    """The derivation ``result_id`` for a family (R1–R8) or a setting (R9); None where it does not apply."""
    if result_id not in RESULTS:
        from .errors import InputError

        raise InputError(f"unknown result id {result_id!r}; known: {', '.join(RESULTS)}")
    for rec in _recorders:
        rec.add(result_id)
    return _compute(result_id, subject)


def compute(result_id: str, subject: ExponentialFamily | Setting) -> Derivation | None:
    """:func:`derivation` without recording the id: for results that build on other results."""
    return _compute(result_id, subject)


@functools.lru_cache(maxsize=None)
def _compute(result_id, subject):
    if result_id.startswith("R9"):
        if isinstance(subject, ExponentialFamily):
            subject = Setting(subject)
    elif isinstance(subject, Setting):
        subject = subject.family
    with sympy_speedups():  # theory.speedups: the same results, sooner
        return diskcache.cached_result(result_id, subject, lambda: RESULTS[result_id](subject))


@contextlib.contextmanager
def recording():
    """Collect the ids of every derivation read inside the block (nested blocks see them too)."""
    ids: set[str] = set()
    _recorders.append(ids)
    try:
        yield ids
    finally:
        _recorders.remove(ids)
