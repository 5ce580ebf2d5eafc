"""theory.fastpoly gives SymPy's polynomials (generators and coefficients), without expand()."""

import sympy as sp
from sympy.polys.polyoptions import build_options
from sympy.polys.polyutils import _parallel_dict_from_expr

from theory import fastpoly

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
        with fastpoly.faster_polys():
            with fastpoly.faster_polys():  # nested blocks
                fast = (sp.cancel(e), sp.factor(e), sp.simplify(e))
            assert polyutils._parallel_dict_from_expr is fastpoly.parallel_dict_from_expr
        assert fast == plain, e
    assert polyutils._parallel_dict_from_expr is fastpoly._ORIGINAL
    assert polyutils._dict_from_expr is fastpoly._ORIGINAL_ONE


def test_floats_and_irrational_numbers_are_left_to_sympy():
    e = sp.Float(0.5) * x + sp.sqrt(2) * (x + sp.pi) ** 2
    with fastpoly.faster_polys():
        assert sp.cancel(e) == sp.cancel(e.expand())
        assert fastpoly.parallel_dict_from_expr([e], build_options((), {}))[1].gens == \
            _parallel_dict_from_expr([e], build_options((), {}))[1].gens
