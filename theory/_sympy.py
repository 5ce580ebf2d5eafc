"""SymPy set up for reproducible derivations, once, before anything else imports it.

- **Assumptions asked in a fixed order.** SymPy shuffles, with an unseeded generator, the
  order in which it tries the facts that could settle an assumption (``x.is_positive``),
  to expose handlers that disagree. Some do: the Curie–Weiss MAP drift came out in one of
  two forms from run to run, and with a seed it would still follow how many queries came
  before it (which families a worker derived first). Here the facts are tried in SymPy's
  own listed order, so derivations/ is the same from every run and every worker layout.
- **A larger cache.** SymPy memoises its core constructors in an LRU cache of 1000 entries
  by default; a derive works over far more distinct expressions (5% faster with 100000).
  Read by SymPy at import: it takes effect only when ``theory`` is imported first.
- **powsimp memoised** (SymPy's ``cacheit``, the cache above): ``simplify`` calls it on
  every candidate and it recurses through every subexpression, the same sums of
  exponentials again and again (a cold derive 10% faster, the same results: it is a pure
  function of its arguments).
"""

import importlib
import os
import sys

os.environ.setdefault("SYMPY_CACHE_SIZE", "100000")

import sympy.core.assumptions as _assumptions  # noqa: E402  (after the cache size is set)
from sympy.core.cache import cacheit  # noqa: E402

_powsimp = importlib.import_module("sympy.simplify.powsimp")  # the module (sympy.simplify.powsimp is the function)


def _in_listed_order(facts: list) -> None:
    """SymPy's ``shuffle`` of the facts to try, as the identity permutation."""


_assumptions.shuffle = _in_listed_order

_ORIGINAL_POWSIMP = _powsimp.powsimp
_CACHED_POWSIMP = cacheit(_ORIGINAL_POWSIMP)  # unhashable arguments (matrices) are passed through
for _module in list(sys.modules.values()):  # every module that holds it by name (simplify, radsimp, ...)
    if (getattr(_module, "__name__", "").startswith("sympy")
            and getattr(_module, "powsimp", None) is _ORIGINAL_POWSIMP):
        _module.powsimp = _CACHED_POWSIMP
