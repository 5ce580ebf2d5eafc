"""The family registry: SPEC name -> constructor, found by scanning this package.

Adding a family is one module ``<name>.py`` defining a function ``<name>(...)``
that returns an :class:`ExponentialFamily`; nothing else is edited.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

from ..errors import InputError
from ..family import ExponentialFamily

# SPEC §3 order, for listings; any other module found here follows alphabetically
_SPEC_ORDER = ("bernoulli", "binomial", "poisson", "exponential", "gaussian", "categorical", "curie_weiss")


def discover() -> dict:
    """Every module of this package that defines a constructor of its own name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        ctor = getattr(module, info.name, None)
        if callable(ctor):
            found[info.name] = ctor
    rank = {name: i for i, name in enumerate(_SPEC_ORDER)}
    return {n: found[n] for n in sorted(found, key=lambda n: (rank.get(n, len(rank)), n))}


FAMILIES = discover()


def get_family(name: str | ExponentialFamily, fixed: tuple[str, ...] | dict = (), **args) -> ExponentialFamily:
    """The family ``name`` with its arguments (``n``, ``K``, ``N``), optionally restricted.

    ``fixed`` maps natural parameters to the values they are held at (partial MLE).
    Equal arguments give the same object (interned), restricted or not. A family object
    (one declared in a notebook, say) is returned as it is, restricted by ``fixed``.
    """
    if isinstance(name, ExponentialFamily):
        if args:
            raise InputError("family arguments are given with a family name, not with a family object")
        return name.restrict(**dict(fixed)) if fixed else name
    if not isinstance(name, str) or name not in FAMILIES:
        raise InputError(f"unknown family {name!r}; known: {', '.join(FAMILIES)}")
    ctor = FAMILIES[name]
    accepted = set(inspect.signature(ctor).parameters)
    unknown = sorted(set(args) - accepted)
    if unknown:
        hint = f"accepts {', '.join(sorted(accepted))}" if accepted else "takes no arguments"
        raise InputError(f"family {name} {hint}; got {unknown[0]}")
    try:
        family = _interned(ctor, tuple(sorted(args.items())))
    except TypeError:  # an unhashable argument (a list, a dict) is no size
        raise InputError(f"family {name}: arguments must be numbers, got {args}") from None
    return family.restrict(**dict(fixed)) if fixed else family


@functools.lru_cache(maxsize=None)
def _interned(ctor, args: tuple) -> ExponentialFamily:
    """One object per (constructor, arguments): families compare by identity, so every cache
    keyed on a family (numeric views, derivations, compiled expressions) hits on a second lookup."""
    return ctor(**dict(args))
