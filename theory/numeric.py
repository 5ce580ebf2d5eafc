"""Symbolic -> numeric: one cached lambdify for every expression the checks, figures and tests
evaluate, and substitution by symbol *name* (the project's symbols carry assumptions, so a
string key in SymPy's own ``subs`` would make a different, plain symbol).

Text given for an expression or a value is read by :mod:`theory.safe_parse`, never by
``sympify`` (which evaluates text as Python)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

from . import symbols as S
from .errors import InputError
from .safe_parse import number, sympy_object


@functools.lru_cache(maxsize=512)
def compiled(expr: sp.Basic, args: tuple[sp.Symbol, ...]):
    # finite sums over levels are expanded first: lambdify then emits plain numpy arithmetic.
    # The numpy module itself, not the name "numpy": the same printed code, without the
    # `from numpy import *` behind the name (it imports numpy.ma and numpy.f2py, 0.1 s of start-up)
    return sp.lambdify(args, _expand_sums(expr) if expr.has(sp.Sum) else expr, modules=np, cse=True,
                       printer=_printer())


def _expand_sums(expr: sp.Basic) -> sp.Basic:
    """``expr.doit()``, each distinct finite sum written out once (:func:`_expanded`): an expression
    of A's derivatives repeats the same few sums hundreds of times (506 sums, 13 distinct, in one of
    Curie–Weiss's), and doit would redo each occurrence; the result is the same expression."""
    sums = {x for x in sp.preorder_traversal(expr) if isinstance(x, sp.Sum)}
    return expr.xreplace({x: _expanded(x) for x in sums}).doit()


@functools.lru_cache(maxsize=1024)
def _expanded(total: sp.Sum) -> sp.Basic:
    """A finite sum over levels written out term by term, once per sum (they recur across the
    expressions of a family: its cumulants, the checks' moments)."""
    return total.doit()


@functools.cache
def _printer():
    """lambdify's NumPy printer (its settings for ``modules=np``), printing x**-1 as 1/x.

    SymPy's NumPy printer writes x**-1 as ``x**(-1.0)``: a pow, about 3.5 times the time of a
    division on an array of 2·10⁴ values (the exponential family's entropy and rate each
    generation). A division is correctly rounded; NumPy's array pow with exponent −1 gave the
    same bits on 2.4·10⁸ values (random bit patterns, ±0, ±inf, subnormals), while a scalar
    pow (libm) is off by one unit in the last place in about 0.1 % of values, which 1/x corrects.
    Other powers stay pows: x*x*x or 1/(x*x) round twice and would change the values."""
    from sympy.printing.numpy import NumPyPrinter
    from sympy.printing.precedence import PRECEDENCE

    def reciprocal(e) -> bool:
        return isinstance(e, sp.Pow) and e.exp is sp.S.NegativeOne

    class Printer(NumPyPrinter):
        def _print_Pow(self, expr, rational=False):
            if reciprocal(expr) and not rational:
                return "1/" + self.parenthesize(expr.base, PRECEDENCE["Pow"])
            return super()._print_Pow(expr, rational)

        def parenthesize(self, item, level, strict=False):
            # 1/x binds as a product: inside a power (base or exponent) it needs parentheses
            if level > PRECEDENCE["Mul"] and reciprocal(item):
                return f"({self._print(item)})"
            return super().parenthesize(item, level, strict)

    return Printer({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
                    "user_functions": {}})


@functools.lru_cache(maxsize=512)
def arguments(expr: sp.Basic) -> tuple[sp.Symbol, ...]:
    """The free symbols of ``expr`` that a value must be given for, by name (once per expression:
    a validation run evaluates the same few expressions thousands of times)."""
    return tuple(sorted(expr.free_symbols - bound_variables(expr), key=lambda x: x.name))


def evaluate(expr, values: dict) -> np.ndarray:
    """Evaluate ``expr`` (scalar or matrix) at ``values`` (symbol or symbol name -> number/array)."""
    expr = sympy_object(expr)
    by_name = {(k.name if isinstance(k, sp.Symbol) else k): number(v, f"value of {k}")
               for k, v in values.items()}
    free = arguments(expr)
    missing = [x.name for x in free if x.name not in by_name]
    if missing:
        raise InputError(f"no value given for {', '.join(missing)}")
    # floats throughout: an integer M**t overflows int64 silently (M = 20, t = 30)
    args = (np.asarray(by_name[x.name], dtype=float) for x in free)
    with np.errstate(all="ignore"):
        out = compiled(expr, free)(*args)
    return np.asarray(out, dtype=float)


def bound_variables(expr: sp.Basic) -> set:
    return {v for s in expr.atoms(sp.Sum) for v in s.variables}


def by_name(values: Mapping) -> dict:
    """Values keyed by symbol name (a Symbol key becomes its name)."""
    return {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in values.items()}


def scalar(e):
    """The element of a 1×1 matrix (a one-parameter result), anything else unchanged."""
    return e[0, 0] if isinstance(e, sp.MatrixBase) and e.shape == (1, 1) else e


def free_names(e) -> set[str]:
    """Names of the symbols ``e`` depends on (summation indices excluded); empty for a
    non-SymPy value (a law's name, a flag)."""
    if not isinstance(e, sp.Basic):
        return set()
    return {x.name for x in e.free_symbols - bound_variables(e) if isinstance(x, sp.Symbol)}


def check_names(given, known: set[str], what: str = "this expression") -> None:
    """InputError for a name in ``given`` that is neither among ``known`` nor a symbol of the
    project (a misspelled name would otherwise be silently ignored), listing the known ones. A
    project symbol the expression does not contain is accepted: a family's whole parameter point
    may be given to an expression of some of its parameters (the Gaussian entropy, of θ2 only)."""
    unknown = sorted(n for n in set(given) - known if not S.known(n))
    if unknown:
        raise InputError(f"{', '.join(map(repr, unknown))}: not a symbol of {what}; it depends on "
                         f"{', '.join(sorted(known)) or 'no symbol'}")


def symbols_of(e) -> dict[str, sp.Symbol]:
    """The free symbols of an expression, a matrix or a list of them, by name."""
    if isinstance(e, (list, tuple)):
        out = {}
        for x in e:
            out |= symbols_of(x)
        return out
    if isinstance(e, sp.Basic):
        return {x.name: x for x in e.free_symbols if isinstance(x, sp.Symbol)}
    return {}


def subs(e, values: Mapping):
    """``e`` with the symbols named in ``values`` replaced (a value may be an expression, or its
    text read by :func:`theory.safe_parse.expression`); names ``e`` does not contain are
    ignored, as SymPy's ``subs`` ignores absent symbols."""
    if not isinstance(e, sp.Basic):
        return e
    given, table = by_name(values), symbols_of(e)
    return e.subs({table[n]: sympy_object(v, f"value of {n}") for n, v in given.items() if n in table})


def value(e, values: Mapping):
    """A number (float) or a numpy array from an expression or matrix, with values by name.

    A 1×1 matrix (a one-parameter result) gives its element, so arrays broadcast.
    """
    e = scalar(e)
    x = np.asarray(evaluate(e, by_name(values)), dtype=float)
    return float(x.reshape(())) if x.size == 1 else x


def values(results: Mapping, given: Mapping) -> dict:
    """:func:`value` of each named expression that ``given`` determines (others are skipped)."""
    given = {k: number(v, f"value of {k}") for k, v in by_name(given).items()}  # bad text: refused
    out = {}
    for k, v in results.items():
        if isinstance(v, (sp.Expr, sp.MatrixBase)):
            try:
                out[k] = value(v, given)
            except (ValueError, TypeError):
                continue
    return out
