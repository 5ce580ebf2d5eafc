"""theory.fastpoly gives SymPy's polynomials (generators and coefficients), without expand()."""

import os
import random

import sympy as sp
from sympy.polys.polyoptions import build_options
from sympy.polys.polyutils import _parallel_dict_from_expr

from theory import fastpoly, speedups
from theory.speedups import sympy_speedups

x, y = sp.symbols("x y", real=True)
M, M0, nu = sp.symbols("M M0 nu", positive=True)
t1, t2 = sp.symbols("theta1 theta2", real=True)
E1, E2 = sp.exp(t1), sp.exp(t2)

CASES = [
    (x + 1) ** 3 * (y - x) - x * y,
    M0 * (E1 + 1) * sp.exp(t2) + (M - M0) * (E2 + 1) * E1,
    (sp.exp(t1 + t2) + 1) * (E1 + M) ** 2 / 3 - sp.Rational(1, 7) * sp.exp(2 * t1 - t2),
    (x * y) ** 2 * (1 + sp.log(x * y)) + sp.exp(-t1) * x,
    (x + y) ** -2 * (x - y) + sp.sqrt(x) * (sp.sqrt(x) + 1),
    ((M - M0) * x + M0 * y) ** 2 / M**2 - nu * (x - y) * (x + y) + (x - x),
    (E1 + 1) * sp.exp(-t1) * (x + E1) + (x**3 + y) / x**2 + sp.exp(t1 / 2) * (sp.exp(t1 / 2) + y),
    # fractions over shared factors, inverses of sums, e^{-θ} and e^{θ1-θ2} (read as SymPy reads them)
    (E1 / (E1 + 1) ** 2 - E2 / (E2 + 1)) / (1 / (E1 + 1) + x) + M0 / (M * (E1 + 1) ** 2),
    sp.exp(-t1) / (x + sp.exp(t1 - t2)) - (2 * x + 2) / (4 * x**2 - 4) + 1 / (-x - y) ** 3,
    ((M - M0) * E1 / (E1 + E2 + 1) ** 2 + M0 / (3 * E2 + 3)) / M**2 - sp.Rational(1, 2) / (M * (y - x)),
    # left to SymPy's own cancel: factor_terms rewrites e^{2a-2b}; e^u beside e^{-u}
    y + sp.exp(2 * t2 - 2 * t1),
    sp.exp(x - t2) * sp.exp(x - y) / (sp.exp(x - t2) + 1),
    # e^{θ/3} and x^{1/3}: their cubes merge into e^θ and x
    1 / (sp.exp(t1 / 3) - 1) ** 4 + (M ** sp.Rational(1, 3) + 1) ** 3,
]


def _normal(reps, gens):
    order = sorted(range(len(gens)), key=lambda i: sp.default_sort_key(gens[i]))
    return ([{tuple(m[i] for i in order): c for m, c in r.items()} for r in reps],
            [gens[i] for i in order])


def test_same_polynomials_as_sympy():
    for e in CASES:
        exprs = list(sp.fraction(sp.together(e))) + [e]
        ref, ref_opt = _parallel_dict_from_expr(exprs, build_options((), {}))
        ours, our_opt = fastpoly.parallel_dict_from_expr(exprs, build_options((), {}))
        assert _normal(ours, our_opt.gens) == _normal(ref, ref_opt.gens), e


def test_cancel_factor_simplify_agree_and_the_patch_is_undone():
    from sympy.polys import polyutils

    for e in CASES:
        plain = (sp.cancel(e), sp.factor(e), sp.simplify(e))
        with sympy_speedups():
            with sympy_speedups():  # nested blocks
                fast = (speedups.cancel(e), sp.factor(e), sp.simplify(e))
            assert polyutils._parallel_dict_from_expr.sympy_original is fastpoly.SYMPY_PARALLEL_DICT_FROM_EXPR  # a dispatcher
        assert fast == plain, e
    assert polyutils._parallel_dict_from_expr is fastpoly.SYMPY_PARALLEL_DICT_FROM_EXPR
    assert polyutils._dict_from_expr is fastpoly.SYMPY_DICT_FROM_EXPR


def test_floats_and_irrational_numbers_are_left_to_sympy():
    e = sp.Float(0.5) * x + sp.sqrt(2) * (x + sp.pi) ** 2
    with sympy_speedups():
        assert speedups.cancel(e) == sp.cancel(e.expand())
        assert fastpoly.parallel_dict_from_expr([e], build_options((), {}))[1].gens == \
            _parallel_dict_from_expr([e], build_options((), {}))[1].gens


def _random_rational(r: random.Random, depth: int):
    """A random rational function of symbols and exponentials (fractions in fractions, powers)."""
    if depth == 0 or r.random() < 0.2:
        c = r.random()
        if c < 0.4:
            return r.choice([x, y, M, M0, t1, t2])
        if c < 0.55:
            return sp.Rational(r.randint(-5, 5), r.randint(1, 4))
        if c < 0.8:
            return sp.exp(r.choice([1, -1, 2, -2, sp.Rational(1, 2), sp.Rational(1, 3), sp.Rational(-2, 3)])
                          * r.choice([t1, t2, x]))
        return sp.exp(r.choice([t1, x]) - r.choice([t2, y]))
    a, b = _random_rational(r, depth - 1), _random_rational(r, depth - 1)
    op = r.random()
    if op < 0.3:
        return a + b
    if op < 0.55:
        return a * b
    if op < 0.75:
        return a if b == 0 else a / b
    if op < 0.85:
        return a ** r.choice([2, -1, -2])
    return 1 / (a + 1 / (b + 1))


def test_cancel_is_sympys_on_random_rational_functions():
    """The same form as SymPy's cancel, not only the same value (seeded: the same 150 cases on every
    run; THEORY_FUZZ_EXAMPLES=3000 tries that many)."""
    for seed in range(int(os.environ.get("THEORY_FUZZ_EXAMPLES", "150"))):
        r = random.Random(seed)
        e = _random_rational(r, r.randint(2, 4))
        if e.has(sp.zoo, sp.nan, sp.oo):
            continue
        with sympy_speedups():
            fast = speedups.cancel(e)
        assert fast == fastpoly.SYMPY_CANCEL(e), (seed, e)
