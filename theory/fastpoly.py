"""SymPy's expression -> polynomial conversion without ``expand()``: the same polynomials, sooner.

Every ``cancel``, ``factor``, ``together`` and ``simplify`` turns expressions into polynomials
(``sympy.polys.polyutils._parallel_dict_from_expr``, ``_dict_from_expr``) by expanding them
as expressions first:
``expand()`` builds every term of a product of sums as a SymPy ``Mul``, a third of a cold
``derive`` (the specialised R3 drift of the categorical family expands to thousands of terms).
:func:`parallel_dict_from_expr` multiplies the same sums out as dictionaries
{monomial: rational coefficient} instead and returns the same generators and coefficients.
Whatever it does not handle exactly as ``expand()`` does (floats and other non-rational
numbers, given generators or domains, non-commutative or non-expression input) is passed to
SymPy's own conversion.

:func:`faster_polys` switches it on for a block (``store`` derives every result inside one).
Generators SymPy ranks equal (``M`` and ``M0``: names compared without their trailing
digits) it leaves in set-iteration order, which follows the hash seed; here they come in
another order a seed could give: the results do not depend on it (``derivations/`` is
byte-identical from every run, see tests/test_latex.py).
"""

from __future__ import annotations

import contextlib
import threading

import sympy as sp
from sympy.polys import fields, polytools, polyutils, rings
from sympy.polys.polyutils import _sort_gens, decompose_power

_ORIGINAL = polyutils._parallel_dict_from_expr
_ORIGINAL_ONE = polyutils._dict_from_expr
_MODULES = (polyutils, rings, polytools, fields)  # the modules that call them
_ONE = frozenset()
_lock = threading.Lock()
_depth = 0


class _Unsupported(Exception):
    """Leave this expression to SymPy's own conversion."""


def _add(polys) -> dict:
    out: dict = {}
    for p in polys:
        for m, c in p.items():
            out[m] = out[m] + c if m in out else c
    return {m: c for m, c in out.items() if c}


def _mul(a: dict, b: dict) -> dict:
    out: dict = {}
    for m1, c1 in a.items():
        for m2, c2 in b.items():
            if not m1:
                m = m2
            elif not m2:
                m = m1
            else:  # as Mul does: b**j * b**k = b**(j + k), b**0 = 1 (exp(θ) exp(-θ) = 1)
                powers = dict(m1)
                for base, k in m2:
                    powers[base] = powers.get(base, 0) + k
                m = frozenset((b, k) for b, k in powers.items() if k)
            c = c1 * c2
            out[m] = out[m] + c if m in out else c
    return {m: c for m, c in out.items() if c}


def _poly(e, depth: int = 0) -> dict:
    """``e`` expanded, as {frozenset of (generator, power): rational coefficient}."""
    if depth > 200:
        raise _Unsupported
    if e.is_Rational:
        return {_ONE: e} if e else {}
    if e.is_Add:
        return _add(_poly(a, depth + 1) for a in e.args)
    if e.is_Mul:
        out = {_ONE: sp.S.One}
        for a in e.args:
            out = _mul(out, _poly(a, depth + 1))
            if not out:
                break
        return out
    if e.is_Pow and e.exp.is_Integer and e.exp > 0 and (e.base.is_Add or e.base.is_Mul):
        base, out = _poly(e.base, depth + 1), {_ONE: sp.S.One}
        for _ in range(int(e.exp)):
            out = _mul(out, base)
        return out
    if e.is_number:  # floats, sqrt(2), pi, I: SymPy combines these itself
        raise _Unsupported
    expanded = e.expand()  # a generator's own expansion: exp(a + b) -> exp(a) exp(b), ...
    if expanded != e:
        return _poly(expanded, depth + 1)
    base, k = decompose_power(e)  # signed: 1/x is x**-1, exp(-θ) is exp(θ)**-1
    if decompose_power(base**2) != (base, 2):  # sqrt(x)**2 = x, exp(θ/2)**2 = exp(θ): Mul merges
        raise _Unsupported
    return {frozenset({(base, k)}): sp.S.One}


def parallel_dict_from_expr(exprs, opt):
    """``sympy.polys.polyutils._parallel_dict_from_expr``, multiplying out as dictionaries."""
    if (opt.gens or opt.domain is not None or opt.extension is True or opt.greedy is False
            or opt.series is not False or opt.expand is False):
        return _ORIGINAL(exprs, opt)
    try:
        polys = []
        for e in exprs:
            if not isinstance(e, sp.Expr) or e.is_commutative is False or e.has(sp.Float):
                raise _Unsupported
            polys.append(_poly(e))
    except _Unsupported:
        return _ORIGINAL(exprs, opt)
    # as SymPy reads an expanded term: a negative power b**-k is the generator 1/b to the k
    polys = [{frozenset((b if k > 0 else sp.Pow(b, -sp.S.One), abs(k)) for b, k in m): c
              for m, c in p.items()} for p in polys]
    gens = set()
    for p in polys:
        for m in p:
            gens.update(b for b, _ in m)
    gens = _sort_gens(gens, opt=opt)
    index = {g: i for i, g in enumerate(gens)}
    reps = []
    for p in polys:
        rep = {}
        for m, c in p.items():
            monom = [0] * len(gens)
            for b, k in m:
                monom[index[b]] = k
            monom = tuple(monom)
            rep[monom] = rep[monom] + c if monom in rep else c
        reps.append(rep)
    return reps, opt.clone({"gens": tuple(gens)})


def dict_from_expr(expr, opt):
    """``sympy.polys.polyutils._dict_from_expr`` (one expression: ``Poly``, ``factor``), likewise."""
    if opt.gens or not isinstance(expr, sp.Expr):
        return _ORIGINAL_ONE(expr, opt)
    (rep,), opt = parallel_dict_from_expr((expr,), opt)
    return rep, opt


_PATCHED = {"_parallel_dict_from_expr": (parallel_dict_from_expr, _ORIGINAL),
            "_dict_from_expr": (dict_from_expr, _ORIGINAL_ONE)}


def _install(which: int) -> None:
    for mod in _MODULES:
        for name, funcs in _PATCHED.items():
            if hasattr(mod, name):
                setattr(mod, name, funcs[which])


@contextlib.contextmanager
def faster_polys():
    """Within the block, SymPy converts expressions to polynomials by :func:`parallel_dict_from_expr`."""
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            _install(0)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _install(1)
