"""SymPy's expression -> polynomial conversion without ``expand()``, and its ``cancel`` without
``factor_terms``: the same polynomials and the same fractions, sooner.

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

:func:`cancel` brings a rational function of symbols and exponentials to p/q by one walk over
the tree (denominators kept as products of factors, summed over their lcm) and one ring
``cancel``; SymPy's first spends most of its time in ``factor_terms`` (see :func:`cancel`).

:func:`theory.speedups.sympy_speedups` has SymPy use both within a block, in the calling thread;
this module only defines them (it changes nothing in SymPy).
Generators SymPy ranks equal (``M`` and ``M0``: names compared without their trailing
digits) it leaves in set-iteration order, which follows the hash seed; here they come in
another order a seed could give: the results do not depend on it (``derivations/`` is
byte-identical from every run, see tests/test_latex.py).
"""

from __future__ import annotations

import sympy as sp
from sympy.polys import polyoptions, polytools, polyutils, rings
from sympy.polys.polyutils import _sort_gens, decompose_power

# SymPy's own, for what these leave to it (speedups binds dispatchers in their place: not those)
SYMPY_PARALLEL_DICT_FROM_EXPR = getattr(polyutils._parallel_dict_from_expr, "sympy_original", polyutils._parallel_dict_from_expr)
SYMPY_DICT_FROM_EXPR = getattr(polyutils._dict_from_expr, "sympy_original", polyutils._dict_from_expr)
SYMPY_CANCEL = getattr(polytools.cancel, "sympy_original", polytools.cancel)
_ONE = frozenset()


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
    if e.is_Pow and (e.base.is_Add or e.base.is_Mul):  # 1/(a + b): SymPy's expand merges denominators
        raise _Unsupported
    expanded = e.expand()  # a generator's own expansion: exp(a + b) -> exp(a) exp(b), ...
    if expanded != e:
        return _poly(expanded, depth + 1)
    base, k = decompose_power(e)  # signed: 1/x is x**-1, exp(-θ) is exp(θ)**-1
    if ((base.is_Pow and not base.exp.is_Integer)
            or (isinstance(base, sp.exp) and not base.args[0].as_coeff_Mul()[0].is_Integer)
            or decompose_power(base**2) != (base, 2)):
        raise _Unsupported  # x^{1/3} cubed is x, e^{θ/3} cubed is e^θ: Mul merges such powers, SymPy's own
    return {frozenset({(base, k)}): sp.S.One}


def parallel_dict_from_expr(exprs, opt):
    """``sympy.polys.polyutils._parallel_dict_from_expr``, multiplying out as dictionaries."""
    if (opt.gens or opt.domain is not None or opt.extension is True or opt.greedy is False
            or opt.series is not False or opt.expand is False):
        return SYMPY_PARALLEL_DICT_FROM_EXPR(exprs, opt)
    try:
        polys = []
        for e in exprs:
            if not isinstance(e, sp.Expr) or e.is_commutative is False or e.has(sp.Float):
                raise _Unsupported
            polys.append(_poly(e))
    except _Unsupported:
        return SYMPY_PARALLEL_DICT_FROM_EXPR(exprs, opt)
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
        return SYMPY_DICT_FROM_EXPR(expr, opt)
    (rep,), opt = parallel_dict_from_expr((expr,), opt)
    return rep, opt


def cancel(f, *gens, _signsimp=True, **args):
    """``sympy.polys.polytools.cancel`` for a rational function of symbols and exponentials: the
    same canonical p/q (same generators, same ring ``cancel``), sooner.

    SymPy's ``signsimp`` and ``factor_terms`` passes and its ``as_numer_denom`` (a product of
    every denominator) are replaced by one pass over the tree that keeps denominators as
    products of factors, so that a sum of fractions is brought over their least common
    multiple; one gcd at the end. The generators are the ones SymPy's passes leave, except
    where ``factor_terms`` changes an exponential's argument (e^{2a-2b}) or both e^u and e^{-u}
    occur: those, and anything but symbols, rationals, +, ×, integer powers and exponentials,
    go to SymPy's own cancel (tests/test_fastpoly.py compares the two on random expressions).
    """
    if gens or args or not isinstance(f, sp.Expr) or f.is_Number or not f.is_commutative:
        return SYMPY_CANCEL(f, *gens, _signsimp=_signsimp, **args)
    try:
        leaves: dict = {}
        _collect_leaves(f, leaves, set())
        bases = {b for p in leaves.values() if isinstance(p, dict) for m in p for b, _ in m}
        if not bases or any(1 / b in bases for b in bases):  # e^u and e^{-u} both: SymPy's own form
            raise _Unsupported
        opt = polyoptions.build_options((), {})
        ring = rings.PolyRing(_sort_gens(bases, opt=opt), sp.QQ, opt.order)
        numer, denom = _Fractions(ring, leaves).of(f)
    except _Unsupported:
        return SYMPY_CANCEL(f, *gens, _signsimp=_signsimp, **args)
    P, Q = numer.cancel(_product(ring, denom))
    return P.as_expr() / Q.as_expr()


def _collect_leaves(e, leaves: dict, seen: set) -> None:
    """The generators' nodes of e ({node: its monomials, or an exponential's denominator});
    _Unsupported unless e is built of rationals, +, ×, integer powers, symbols and exponentials."""
    if e in seen:
        return
    seen.add(e)
    if e.is_Rational:
        return
    if e.is_Add or e.is_Mul or (e.is_Pow and e.exp.is_Integer):
        for a in e.args:
            _collect_leaves(a, leaves, seen)
    elif e.is_Symbol or isinstance(e, sp.exp):
        if isinstance(e, sp.exp) and e.args[0].is_Add and e.args[0].as_content_primitive()[0] != 1:
            raise _Unsupported  # SymPy's factor_terms reads e^{2a-2b} as e^{2(a-b)}: its own form
        _, denom = e.as_numer_denom()  # as SymPy reads it: e^{-θ} is 1/e^θ, e^{θ1-θ2} a numerator
        if denom is not sp.S.One:
            leaves[e] = denom
            _collect_leaves(denom, leaves, seen)
        else:  # a negative power b**-k of a numerator is the generator 1/b to the k
            leaves[e] = {frozenset((b if k > 0 else sp.Pow(b, -sp.S.One), abs(k)) for b, k in m): c
                         for m, c in _poly(e).items()}
    else:
        raise _Unsupported


def _product(ring, factors: dict):
    out = ring.one
    for p, k in factors.items():
        out *= p**k
    return out


class _Fractions:
    """An expression as (numerator polynomial, {monic denominator factor: power})."""

    def __init__(self, ring, leaves):
        self.ring, self.leaves, self.memo = ring, leaves, {}
        self.gen = dict(zip(ring.symbols, ring.gens, strict=True))

    def of(self, e):
        if e not in self.memo:
            self.memo[e] = self._of(e)
        return self.memo[e]

    def _of(self, e):
        ring = self.ring
        if e.is_Rational:
            return ring(e), {}
        if e.is_Mul:
            numer, denom = ring.one, {}
            for a in e.args:
                n, d = self.of(a)
                numer *= n
                for p, k in d.items():
                    denom[p] = denom.get(p, 0) + k
            return numer, denom
        if e.is_Add:
            return self._sum([self.of(a) for a in e.args])
        if e.is_Pow:  # an integer power (_collect_leaves)
            n, d = self.of(e.base)
            k = int(e.exp)
            return (n**k, {p: j * k for p, j in d.items()}) if k >= 0 else self._inverse((n, d), -k)
        monomials = self.leaves[e]
        if not isinstance(monomials, dict):  # 1/denominator
            return self._inverse(self.of(monomials), 1)
        out = ring.zero  # a generator (exp(a + b) is e^a e^b): its monomials
        for m, c in monomials.items():
            term = ring(c)
            for b, k in m:
                term *= self.gen[b] ** k
            out += term
        return out, {}

    def _inverse(self, fraction, k: int):
        """(n/d)^-k: n made monic (its leading coefficient moved up) goes down."""
        n, d = fraction
        if not n:
            raise _Unsupported  # 1/0: left to SymPy
        numer = _product(self.ring, d) ** k * self.ring(n.LC ** -k)
        return (numer, {}) if n.is_ground else (numer, {n.monic(): k})

    def _sum(self, parts):
        """Σ n_i / d_i over the least common multiple of the d_i (factors matched exactly)."""
        ring, lcm = self.ring, {}
        for _, d in parts:
            for p, k in d.items():
                lcm[p] = max(lcm.get(p, 0), k)
        total = ring.zero
        for n, d in parts:
            total += n * _product(ring, {p: k - d.get(p, 0) for p, k in lcm.items()})
        return total, lcm
