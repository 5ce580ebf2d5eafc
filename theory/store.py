"""One store of derivations, keyed by result id: the derive command, checks, figures and the API
read results here.

Each id has one record: the function that derives it (kept once per process and on disk by
:func:`theory.results.common.result`) and the kind of subject it takes, a family (R1–R8)
or a :class:`~theory.setting.Setting` (R9; a family alone means the pure loop with m
symbolic external points). Inside :func:`recording`, :func:`derivation` notes each id it
serves, so a check or a figure records the ids it actually evaluated rather than a
retyped list.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass

from .derivation import Derivation
from .errors import InputError
from .family import ExponentialFamily
from .results import (absorption, anchors, finite_m, general, martingale, moments, operators, recursion,
                      regimes, reparam, stationary)
from .setting import Setting


@dataclass(frozen=True)
class Record:
    """What the store knows of a result id: its function and the subject it takes."""

    derive: Callable[..., Derivation | None]
    # "family", "setting" (R9), "regime" (R10: a setting read with its data regime), or for R11 (the
    # sampling operator) "operator:family" / "operator:setting": listed only where an operator is declared
    takes: str


RESULTS: dict[str, Record] = {
    "R1.martingale": Record(martingale.martingale, "family"),
    "R2.covariance": Record(martingale.covariance, "family"),
    **{f"R3.drift.{est}": Record(functools.partial(recursion.drift, estimator=est), "family")
       for est in recursion.ESTIMATORS},
    "R4.reparametrisation": Record(reparam.reparametrisation, "family"),
    "R5.fixed_points": Record(anchors.fixed_points, "family"),
    "R6.absorption": Record(absorption.absorption, "family"),
    "R7.stationary": Record(stationary.stationary, "family"),
    "R8.moments": Record(moments.moments, "family"),
    "R9.sde": Record(general.sde, "setting"),
    "R9.entropy": Record(general.entropy, "setting"),
    "R9.stationary": Record(general.stationary, "setting"),
    "R9.stationary_correction": Record(finite_m.stationary_correction, "setting"),
    "R10.martingale": Record(regimes.martingale, "regime"),
    "R10.moments": Record(regimes.moments, "regime"),
    "R10.diffusion": Record(regimes.diffusion, "regime"),
    "R10.absorption": Record(regimes.absorption, "regime"),
    "R10.growth": Record(regimes.growth, "regime"),
    "R11.temperature.map": Record(operators.temperature_map, "operator:family"),
    "R11.temperature.drift": Record(operators.temperature_drift, "operator:setting"),
    "R11.temperature.fixed_points": Record(operators.temperature_fixed_points, "operator:family"),
    "R11.truncation": Record(operators.truncation, "operator:family"),
    "R11.selection": Record(operators.selection, "operator:family"),
}

_recorders: list[set] = []


def subject_for(result_id: str, subject: ExponentialFamily | Setting):
    """The subject result ``result_id`` is derived from: a setting's family for R1–R8 and the R11
    results of the family alone; for R9, R10 and R11.temperature.drift a setting with only what they read (points from the truth, fixed data, prior, and the data
    regime), so the same derivation serves every truth value and estimator."""
    if RESULTS[result_id].takes in ("family", "operator:family"):
        return subject.family if isinstance(subject, Setting) else subject
    if isinstance(subject, ExponentialFamily):
        return Setting(subject)
    return subject.for_derivations()


def derivation(result_id: str, subject: ExponentialFamily | Setting) -> Derivation | None:
    """The derivation ``result_id`` for a family or a setting; None where it does not apply."""
    if result_id not in RESULTS:
        raise InputError(f"unknown result id {result_id!r}; known: {', '.join(RESULTS)}")
    for rec in _recorders:
        rec.add(result_id)
    return compute(result_id, subject)


# the laws of the model classes beyond the families (theory.models), derived in their own modules
MODEL_RESULTS = ("R12.moments", "R12.theorem", "R12.regression.replace", "R12.regression.accumulate",
                 "R12.regression.ridge", "R12.regression.martingale", "R12.regression.external",
                 "R12.logistic.martingale", "R12.rbm.martingale", "R12.rbm.polarisation",
                 "R12.rbm.absorption_law", "R12.rbm.rescue")


def applying_result(result_id: str, subject: ExponentialFamily | Setting) -> dict:
    """The result dict of ``result_id`` for ``subject`` (a copy); a ValueError where the result does
    not apply, so a check or a figure that reads it fails instead of going on without it."""
    d = derivation(result_id, subject)
    if d is None:
        what = subject.label if isinstance(subject, Setting) else subject.title
        raise ValueError(f"{result_id} does not apply to {what}")
    return dict(d.result)


def record(result_id: str) -> None:
    """Note that a model class's law (one of :data:`MODEL_RESULTS`) was read: checks and figures
    list it as they list the ids :func:`derivation` serves."""
    if result_id not in MODEL_RESULTS:
        raise InputError(f"unknown model-class result id {result_id!r}; known: {', '.join(MODEL_RESULTS)}")
    for rec in _recorders:
        rec.add(result_id)


def compute(result_id: str, subject: ExponentialFamily | Setting) -> Derivation | None:
    """:func:`derivation` without recording the id: for results that build on other results."""
    return RESULTS[result_id].derive(subject_for(result_id, subject))


def all_results(family: ExponentialFamily) -> list[Derivation]:
    """Every family result (R1–R8) that applies to ``family``, in reading order."""
    return [d for d in (compute(rid, family) for rid, r in RESULTS.items() if r.takes == "family")
            if d is not None]


def all_general(setting: Setting) -> list[Derivation]:
    """The setting results (R9) that apply to one setting, in reading order."""
    return [d for d in (compute(rid, setting) for rid, r in RESULTS.items() if r.takes == "setting")
            if d is not None]


def all_regimes(setting: ExponentialFamily | Setting) -> list[Derivation]:
    """The data-regime results (R10) that apply to one setting (a family: its pure loop), in order."""
    return [d for d in (compute(rid, setting) for rid, r in RESULTS.items() if r.takes == "regime")
            if d is not None]


def all_operators(setting: Setting) -> list[Derivation]:
    """The operator results (R11) of the setting's declared sampling operator, in order (each says
    where it does not apply to the family); none for the identity."""
    return [d for d in (compute(rid, setting) for rid in operators.operator_results(setting.operator))
            if d is not None]


def clear_memory() -> None:
    """Forget the derivations kept in this process (the disk cache stays)."""
    for record in RESULTS.values():
        fn = record.derive.func if isinstance(record.derive, functools.partial) else record.derive
        fn.cache_clear()


@contextlib.contextmanager
def recording():
    """Collect the ids of every derivation read inside the block (nested blocks see them too)."""
    ids: set[str] = set()
    _recorders.append(ids)
    try:
        yield ids
    finally:
        _recorders.remove(ids)
