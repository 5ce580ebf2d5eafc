"""Text from a caller read without ``eval``: numbers and small expressions in the project's symbols.

SymPy's ``sympify`` (and ``nsimplify``, ``subs``, ``Matrix`` given text) evaluates a string as
Python, so a caller's ``"__import__('os').system(...)"`` would run. Here text is parsed with
:func:`ast.parse` (``mode="eval"``, which only builds a tree) and the tree is walked, accepting
only numbers, names, ``+ - * / **``, unary ``±`` and calls of the functions in
:data:`FUNCTIONS`; anything else (attributes, subscripts, keywords, strings, lambdas, ...) is
an :class:`~theory.errors.InputError` naming the text. Nothing is ever evaluated as Python.

A name becomes the project's symbol of that name (``M`` is positive, as in every derivation),
or else a real symbol of that name (as the project's ``theta``, ``mu1``, ...); names starting
with ``_`` are refused. Numbers in text must be finite, and a power of numbers whose result would
exceed :data:`MAX_BITS` bits is refused (``9**9**9**9`` would otherwise hang SymPy).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

from . import symbols as S
from .errors import InputError

MAX_LENGTH = 1000  # characters of one text; deeper or longer input is refused, not parsed
MAX_BITS = 100_000  # size of an exact number a power of numbers may produce

# SymPy's functions and constants of these names (looked up when used: no SymPy at import)
FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
             "Abs", "sign")  # none evaluates eagerly at a large integer (gamma(10**9) would compute 10**9!)
CONSTANTS = ("pi", "E")
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: _power(a, b)}


def expression(text: str, what: str = "expression") -> sp.Expr:
    """The SymPy expression ``text`` spells, read with the whitelist above (never ``eval``)."""
    if not isinstance(text, str):
        raise InputError(f"{what}: expected text, got {type(text).__name__}")
    shown = _shown(text)
    if len(text) > MAX_LENGTH:
        raise InputError(f"{what} {shown!r}: longer than {MAX_LENGTH} characters")
    try:
        out = _build(ast.parse(text.strip(), mode="eval").body)
        if out.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise _Refused("it is not finite (a division by zero?)")
        return out
    except _Refused as e:
        raise InputError(f"{what} {shown!r}: {e} (allowed: numbers, names, + - * / ** and "
                         f"{', '.join(FUNCTIONS)})") from None
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError, TypeError):
        raise InputError(f"{what} {shown!r} is not a number or an expression") from None


def number(value, what: str = "value"):
    """``value`` unchanged unless it is text; text must spell a finite number (no free symbols:
    ``"1/3"``, ``"2.5e-3"``, ``"pi/2"``) and gives it as a float."""
    if not isinstance(value, str):
        return value
    out = expression(value, what)
    if out.free_symbols or not out.is_number or not out.is_real:
        raise InputError(f"{what} {_shown(value)!r} is not a real number")
    return float(out)


def numbers(values: Mapping, what: str = "value") -> dict:
    """:func:`number` of every value of a mapping (keys kept); InputError if it is no mapping."""
    if not isinstance(values, Mapping):
        raise InputError(f"{what}s must map names to numbers, got {_shown(repr(values))}")
    return {k: number(v, f"{what} {k}") for k, v in values.items()}


def sympy_object(value, what: str = "expression"):
    """A SymPy object from a SymPy object, a number, a numeric numpy array, text (through
    :func:`expression`) or a list/tuple of these: ``sympify`` restricted to what runs no code."""
    if isinstance(value, str):
        return expression(value, what)
    if isinstance(value, (list, tuple)):
        return type(value)(sympy_object(v, what) for v in value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise InputError(f"{what}: an array of {value.dtype} is not numeric")
        return sp.Array(value.tolist())
    try:
        return sp.sympify(value, strict=True)  # strict: no text, no fallback through str()
    except sp.SympifyError:
        raise InputError(f"{what}: cannot read a {type(value).__name__} as a SymPy expression") from None


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


class _Refused(Exception):
    """A node outside the whitelist (the message says which)."""


def _build(node: ast.AST) -> sp.Expr:
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Refused(f"{type(v).__name__} constants are not numbers")
        if isinstance(v, float):
            if not math.isfinite(v):
                raise _Refused("a number is not finite")
            return sp.Float(repr(v))  # its shortest decimal, as sympify("0.3") gives
        return sp.Integer(v)
    if isinstance(node, ast.Name):
        return _name(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        operand = _build(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_build(node.left), _build(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _Refused(f"{node.func.id}() takes plain arguments")
        return getattr(sp, node.func.id)(*(_build(a) for a in node.args))
    if isinstance(node, ast.Call):
        raise _Refused("only the listed functions can be called")
    raise _Refused(f"{type(node).__name__} is not allowed")


def _name(name: str) -> sp.Expr:
    if name.startswith("_"):
        raise _Refused(f"name {name!r} starts with '_'")
    if name in CONSTANTS:
        return getattr(sp, name)
    if name in FUNCTIONS:
        raise _Refused(f"{name} is a function")
    # an existing project symbol (its assumptions: M > 0, ...), else a real one; never a new
    # entry in the project's table (text could otherwise grow it without bound)
    return next((sym for sym in S.LATEX if sym.name == name), None) or sp.Symbol(name, real=True)


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """base**exponent, refusing an exact power of numbers too large to build."""
    if isinstance(base, sp.Rational) and isinstance(exponent, sp.Rational) and abs(base) not in (0, 1):
        size = max(abs(base.p).bit_length(), abs(base.q).bit_length())
        if abs(exponent) * size > MAX_BITS:
            raise _Refused(f"the power {base}**{exponent} is too large")
    return base**exponent
