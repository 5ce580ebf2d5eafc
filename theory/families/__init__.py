"""The family registry: SPEC name -> constructor. Adding a family is one module plus one line here."""

from __future__ import annotations

import inspect

from ..errors import InputError
from ..family import ExponentialFamily
from .bernoulli import bernoulli
from .binomial import binomial
from .categorical import categorical
from .curie_weiss import curie_weiss
from .exponential import exponential
from .gaussian import gaussian
from .poisson import poisson

FAMILIES = {f.__name__: f for f in
            (bernoulli, binomial, poisson, exponential, gaussian, categorical, curie_weiss)}


def get_family(name: str, fixed: tuple[str, ...] | dict = (), **args) -> ExponentialFamily:
    """The family ``name`` with its arguments (``n``, ``K``, ``N``), optionally restricted.

    ``fixed`` maps natural parameters to the values they are held at (partial MLE).
    """
    if name not in FAMILIES:
        raise InputError(f"unknown family {name!r}; known: {', '.join(FAMILIES)}")
    ctor = FAMILIES[name]
    accepted = set(inspect.signature(ctor).parameters)
    unknown = sorted(set(args) - accepted)
    if unknown:
        hint = f"accepts {', '.join(sorted(accepted))}" if accepted else "takes no arguments"
        raise InputError(f"family {name} {hint}; got {unknown[0]}")
    family = ctor(**args)
    return family.restrict(**dict(fixed)) if fixed else family
