"""SymPy made faster for derivations, inside :func:`sympy_speedups` and in the calling thread only.

The one module that touches SymPy's internals. Importing it (or any of theory) changes
nothing: no environment variable, no patch. Inside ``with sympy_speedups():`` (or a function
decorated ``@sympy_speedups()``), in the thread that entered it:

- **Assumptions asked in a fixed order.** SymPy shuffles, with an unseeded generator, the
  order in which it tries the facts that could settle an assumption (``x.is_positive``), to
  expose handlers that disagree. With consistent handlers the order does not matter; here
  the facts are tried in SymPy's own listed order, so that an inconsistent one could not make
  derivations/ differ from run to run (none has been seen to), and the shuffle's cost goes.
- **powsimp memoised** (SymPy's ``cacheit``): ``simplify`` calls it on every candidate and it
  recurses through every subexpression, the same sums of exponentials again and again (a cold
  derive 10% faster). It is a pure function of its arguments, so results are the same;
  unhashable arguments (a mutable matrix) go to it directly.
- **Polynomials without expand(), cancel without factor_terms** (:mod:`theory.fastpoly`).

How: on the first entry in the process, a dispatcher is bound wherever a SymPy module holds
one of these functions (``sympy.core.assumptions.shuffle``, ``powsimp``,
``_parallel_dict_from_expr``, ``_dict_from_expr``, ``cancel``), except in the namespaces a user
imports from (``sympy``, ``sympy.polys``: ``sympy.cancel`` is always SymPy's own). A
dispatcher calls the fast version in a thread inside a block and SymPy's original in any
other thread; when the last block in the process ends, SymPy's originals are bound back (the
same objects). A speed-up whose SymPy internals are not there, or not of the expected shape
(another SymPy version), is left out: :data:`ACTIVE` says which are used.

:func:`cancel` and :func:`powsimp` are for theory's own calls (``sp.cancel`` is SymPy's):
within a block the fast ones, SymPy's elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import sys
import threading

import sympy  # SymPy loaded: its modules below are imported by name

# the namespaces users import from: never rebound
_PUBLIC = frozenset({"sympy", "sympy.polys"})


def _module(name: str):
    try:  # by importlib: ``import sympy.core.assumptions`` would give a function of that name
        return importlib.import_module(name)
    except ImportError:
        return None


def _function(module, name: str):
    fn = getattr(module, name, None) if module is not None else None
    return fn if callable(fn) else None


def _parameters(fn) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


class _Depth(threading.local):
    depth = 0  # blocks this thread is inside


_here = _Depth()


def inside() -> bool:
    """Whether the calling thread is inside :func:`sympy_speedups`."""
    return _here.depth > 0


def _dispatcher(original, fast):
    """``fast`` in a thread inside a block, ``original`` in any other."""

    @functools.wraps(original)
    def dispatch(*args, **kwargs):
        if _here.depth:
            return fast(*args, **kwargs)
        return original(*args, **kwargs)

    dispatch.sympy_original = original
    return dispatch


# (module names to look in, or None for every SymPy module; attribute; SymPy's function; dispatcher)
_TARGETS: list[tuple[tuple[str, ...] | None, str, object, object]] = []
ACTIVE: dict[str, bool] = {}  # which speed-ups sympy_speedups turns on (detected, for tests)


def _in_listed_order(facts: list) -> None:
    """SymPy's ``shuffle`` of the facts to try, as the identity permutation."""


_assumptions = _module("sympy.core.assumptions")
_shuffle = _function(_assumptions, "shuffle")
ACTIVE["assumptions_in_order"] = _shuffle is not None and len(_parameters(_shuffle)) >= 1
if ACTIVE["assumptions_in_order"]:
    _TARGETS.append((("sympy.core.assumptions",), "shuffle", _shuffle, _dispatcher(_shuffle, _in_listed_order)))

_cache = _module("sympy.core.cache")
ORIGINAL_POWSIMP = _function(_module("sympy.simplify.powsimp"), "powsimp")
ACTIVE["powsimp_memoised"] = ORIGINAL_POWSIMP is not None and _function(_cache, "cacheit") is not None
if ACTIVE["powsimp_memoised"]:
    CACHED_POWSIMP = _cache.cacheit(ORIGINAL_POWSIMP)
    _TARGETS.append((None, "powsimp", ORIGINAL_POWSIMP, _dispatcher(ORIGINAL_POWSIMP, CACHED_POWSIMP)))

try:
    from . import fastpoly
except (ImportError, AttributeError):  # SymPy's polynomial internals it builds on are not there
    fastpoly = None
_polyutils = _module("sympy.polys.polyutils")
_polytools = _module("sympy.polys.polytools")
_parallel = _function(_polyutils, "_parallel_dict_from_expr")
_one = _function(_polyutils, "_dict_from_expr")
ACTIVE["polys_without_expand"] = (fastpoly is not None and _parallel is fastpoly.SYMPY_PARALLEL_DICT_FROM_EXPR
                                  and _one is fastpoly.SYMPY_DICT_FROM_EXPR
                                  and _parameters(_parallel) == ["exprs", "opt"]
                                  and _parameters(_one) == ["expr", "opt"])
if ACTIVE["polys_without_expand"]:
    _TARGETS.append((None, "_parallel_dict_from_expr", _parallel,
                     _dispatcher(_parallel, fastpoly.parallel_dict_from_expr)))
    _TARGETS.append((None, "_dict_from_expr", _one, _dispatcher(_one, fastpoly.dict_from_expr)))

_cancel = _function(_polytools, "cancel")
ACTIVE["cancel"] = (fastpoly is not None and _cancel is fastpoly.SYMPY_CANCEL
                    and _parameters(_cancel) == ["f", "gens", "_signsimp", "args"])
if ACTIVE["cancel"]:
    _TARGETS.append((None, "cancel", _cancel, _dispatcher(_cancel, fastpoly.cancel)))

_DISPATCHERS = {id(d): (name, original) for _, name, original, d in _TARGETS}

# theory's own calls (sp.cancel, sp.powsimp are SymPy's)
cancel = next((d for _, name, _, d in _TARGETS if name == "cancel"), _cancel or sympy.cancel)
powsimp = next((d for _, name, _, d in _TARGETS if name == "powsimp"), ORIGINAL_POWSIMP or sympy.powsimp)


def _sympy_modules(names):
    if names is not None:
        return [sys.modules[n] for n in names if n in sys.modules]
    return [m for n, m in list(sys.modules.items())
            if m is not None and (n == "sympy" or n.startswith("sympy.")) and n not in _PUBLIC]


def _install() -> None:
    """A dispatcher wherever a SymPy module (not a public namespace) holds a function it replaces
    (SymPy's modules listed once for every target)."""
    every = _sympy_modules(None)
    for names, name, original, dispatch in _TARGETS:
        for module in every if names is None else _sympy_modules(names):
            if module.__dict__.get(name) is original:
                setattr(module, name, dispatch)


def _restore() -> None:
    """SymPy's originals back wherever a dispatcher is bound under its name (also in a module
    imported inside a block, which took it from another module)."""
    names = {name for _, name, _, _ in _TARGETS}
    for module in _sympy_modules(None):
        held = getattr(module, "__dict__", {})
        for name in names:
            found = _DISPATCHERS.get(id(held.get(name)))
            if found is not None and found[0] == name:
                setattr(module, name, found[1])


_lock = threading.Lock()
_open = 0  # blocks open in the process, every thread
_fork_hook = False


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: its blocks are the only open ones."""
    global _lock, _open
    _lock = threading.Lock()
    _open = _here.depth
    if _open == 0:
        _restore()


class sympy_speedups(contextlib.ContextDecorator):  # lower case: used as a function, with sympy_speedups()
    """SymPy's speed-ups (module doc) on for the calling thread, within the block; re-entrant,
    nestable, and a decorator (``@sympy_speedups()``). Other threads keep plain SymPy."""

    def __enter__(self):
        global _open, _fork_hook
        with _lock:
            if _open == 0:
                _install()
                if not _fork_hook and hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_after_fork_in_child)
                    _fork_hook = True
            _open += 1
        _here.depth += 1
        return self

    def __exit__(self, *exc):
        global _open
        _here.depth -= 1
        with _lock:
            _open -= 1
            if _open == 0:
                _restore()
        return False
