"""SymPy set up for reproducible, faster derivations, once, before anything else imports it.

- **Assumptions asked in a fixed order.** SymPy shuffles, with an unseeded generator, the
  order in which it tries the facts that could settle an assumption (``x.is_positive``), to
  expose handlers that disagree. With consistent handlers the order does not matter; here
  the facts are tried in SymPy's own listed order, so that an inconsistent one could not make
  derivations/ differ from run to run (none has been seen to), and the shuffle's cost goes.
- **A larger cache.** SymPy memoises its core constructors in an LRU cache of 1000 entries
  by default; a derive works over far more distinct expressions (5% faster with 100000).
  SymPy reads ``SYMPY_CACHE_SIZE`` when it is imported, so this takes effect only when
  ``theory`` is imported first (not in a session that imported SymPy before); child
  processes inherit it.
- **powsimp memoised** (SymPy's ``cacheit``, the cache above) in every SymPy module that
  holds it, for the whole process: ``simplify`` calls it on every candidate and it recurses
  through every subexpression, the same sums of exponentials again and again (a cold derive
  10% faster). It is a pure function of its arguments, so results are the same; unhashable
  arguments (a mutable matrix) go to it directly.
"""

import importlib
import os
import sys

os.environ.setdefault("SYMPY_CACHE_SIZE", "100000")

from sympy.core.cache import cacheit

# by importlib: ``import sympy.core.assumptions`` would give a function of that name
_assumptions = importlib.import_module("sympy.core.assumptions")
_powsimp = importlib.import_module("sympy.simplify.powsimp")


def _in_listed_order(facts: list) -> None:
    """SymPy's ``shuffle`` of the facts to try, as the identity permutation."""


_assumptions.shuffle = _in_listed_order

ORIGINAL_POWSIMP = _powsimp.powsimp
CACHED_POWSIMP = cacheit(ORIGINAL_POWSIMP)


def replace_everywhere(original, replacement) -> None:
    """Bind ``replacement`` wherever a loaded SymPy module holds ``original`` under its name."""
    name = original.__name__
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("sympy") and getattr(module, name, None) is original:
            setattr(module, name, replacement)


replace_everywhere(ORIGINAL_POWSIMP, CACHED_POWSIMP)
