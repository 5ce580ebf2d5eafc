"""Symbolic -> numeric: one cached lambdify for every expression the checks, figures and tests evaluate."""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp


@functools.lru_cache(maxsize=512)
def _compiled(expr: sp.Basic, args: tuple[sp.Symbol, ...]):
    # finite sums over levels are expanded first: lambdify then emits plain numpy arithmetic
    return sp.lambdify(args, expr.doit() if expr.has(sp.Sum) else expr, modules="numpy", cse=True)


def evaluate(expr, values: dict) -> np.ndarray:
    """Evaluate ``expr`` (scalar or matrix) at ``values`` (symbol or symbol name -> number/array)."""
    expr = sp.sympify(expr)
    by_name = {(k.name if isinstance(k, sp.Symbol) else k): v for k, v in values.items()}
    free = tuple(sorted(expr.free_symbols - _bound(expr), key=lambda x: x.name))
    missing = [x.name for x in free if x.name not in by_name]
    if missing:
        raise ValueError(f"no value given for {', '.join(missing)}")
    # floats throughout: an integer M**t overflows int64 silently (M = 20, t = 30)
    args = (np.asarray(by_name[x.name], dtype=float) for x in free)
    with np.errstate(all="ignore"):
        out = _compiled(expr, free)(*args)
    return np.asarray(out, dtype=float)


def _bound(expr: sp.Basic) -> set:
    return {v for s in expr.atoms(sp.Sum) for v in s.variables}
