"""Model classes beside the exponential families: the same closed loop, the same commands.

Each class is a module here with a ``from_options(**options) -> ModelLoop`` (see
:mod:`theory.models.base`), imported only when a command names it. ``options`` are the
command line's, by name: ``M``, ``family_args`` (the text of ``--family-args``), ``init``
(name -> number), ``init_seed``, ``init_sample``, ``design``, ``external``, ``regime``,
``M_schedule``, ``prior_law`` and the sampling operator's ``temperature``, ``top_k``, ``top_p``,
``select``, ``by``. A class takes what applies to it and refuses the rest by name
(:func:`refuse_unused`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from ..errors import InputError
from .base import ModelLoop, ModelRun

# name -> module of theory.models that declares it
MODEL_CLASSES = {"rbm": "rbm", "gaussian_mixture": "mixture", "kde": "kde",
                 "linear_regression": "regression", "logistic_regression": "logistic"}


def model_loop(name: str, **options) -> ModelLoop:
    """The :class:`ModelLoop` of the model class ``name`` from command-line options (``family_args``
    as its text, ``"N=3,H=2"``, or a mapping)."""
    if name not in MODEL_CLASSES:
        raise InputError(f"unknown model class {name!r}; known: {', '.join(MODEL_CLASSES)}")
    if isinstance(options.get("family_args"), Mapping):  # the API's {"N": 3}: the text --family-args takes
        options["family_args"] = ",".join(f"{k}={v}" for k, v in options["family_args"].items())
    module = importlib.import_module(f"{__name__}.{MODEL_CLASSES[name]}")
    return module.from_options(name=name, **options)


def refuse_unused(name: str, options: dict, defaults: dict | None = None) -> None:
    """InputError naming the first option given (not None, not its default) that ``name`` does
    not take."""
    defaults = {"external": 0, "regime": "replace", **(defaults or {})}
    for key, value in options.items():
        if value is not None and value != defaults.get(key, None) and value != () and value != []:
            flag = "--" + key.replace("_", "-")
            raise InputError(f"{flag} does not apply to {name}")


__all__ = ["MODEL_CLASSES", "ModelLoop", "ModelRun", "model_loop", "refuse_unused"]
