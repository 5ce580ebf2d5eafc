"""The one simplification a family-specific expression goes through before it is shown.

A rational function of the parameters, the sizes and the exponentials e^{θ_a} (every
family here but Curie–Weiss with θ2 = 0, and the logs of the inverse maps) is first brought
to one fraction by ``cancel`` and factored: exact (an identically zero expression comes out
0) and fast. ``simplify`` then sees the shorter of that fraction and the input (a long input
is where its cost went, with trigsimp over ℚ(i)), and the input as well when it is short
(its grouping survives), and the shortest result is kept, never one with a hyperbolic of a
fraction of a parameter: simplify writes the
binomial variance n e^θ/(e^θ+1)² as n/(4 cosh²(θ/2)), the logistic in disguise, longer to
read, and a form that later hid a zero from simplify. An expression in the hyperbolics and
exponentials of a parameter (Curie–Weiss with θ2 = 0) is written as cosh^p times a rational
function of tanh, tidied as above (:func:`_through_tanh`), where that is no longer than it.
Anything else (logs, roots) goes to ``simplify`` as it is.
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.core.traversal import bottom_up
from sympy.functions.elementary.hyperbolic import HyperbolicFunction

from .speedups import cancel, powsimp, sympy_speedups

SHORT = 60  # operations: simplify of an input this short takes milliseconds


@functools.lru_cache(maxsize=65536)
def ops(e: sp.Basic) -> int:
    """``count_ops``, remembered: simplify measures the same candidates over and over."""
    return sp.count_ops(e)


def simplify(e):
    """``sp.simplify`` with the remembered measure (the same result, sooner)."""
    return sp.simplify(e, measure=ops)


def tidy(e):
    """For a rational function of symbols and exponentials, the shortest of ``factor(cancel(e))``,
    ``simplify`` of the shorter of that and e, and ``simplify(e)`` when e is short; for one in
    the hyperbolics of a parameter, cosh^p R(tanh) (:func:`_through_tanh`) unless longer than e;
    else ``simplify(e)``. Sums over levels are left as they are; matrices are tidied entry by entry."""
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(tidy)
    e = sp.sympify(e)
    return e if e.has(sp.Sum) else _tidy(e)


@functools.lru_cache(maxsize=4096)  # results share expressions (a drift and its Itô image, ...)
def _tidy(e: sp.Expr) -> sp.Expr:
    if is_rational(e):
        with sympy_speedups():
            e = sp.expand_power_exp(e)  # e^{θ1+θ2} -> e^{θ1} e^{θ2}: fewer generators for cancel
            one_fraction = powsimp(sp.factor(cancel(e)))
            shorter = min(e, one_fraction, key=ops)
            # a short input is simplified too: it keeps its grouping, θ*(M0 + 1), (M − M0)χ
            inputs = [shorter] + ([e] if e != shorter and ops(e) <= SHORT else [])
            candidates = [simplify(x) for x in inputs] + [one_fraction]
        best = min((c for c in candidates if not fractional_hyperbolic(c)), key=ops)
        return bottom_up(best, _expanded_if_shorter)
    hyperbolic = _through_tanh(e)
    # not when longer than e itself: sinh x is not cosh x tanh x
    return hyperbolic if hyperbolic is not None and ops(hyperbolic) <= ops(e) else simplify(e)


def _through_tanh(e: sp.Expr) -> sp.Expr | None:
    """e as cosh(x)^p R(tanh x), R tidied as a rational function, or None where it is not one.

    With T = tanh x and C = cosh x (sinh x = TC, e^{±x} = C(1 ± T), C² = 1/(1 − T²)), an
    expression rational in the hyperbolics and exponentials of a parameter x is C^j R(T), j = 0
    or 1, when it is even or odd in C; a factor (1 − T²)^k of R is written C^{-2k}. This is
    the form of the Curie–Weiss family with θ2 = 0 (μ = N tanh θ1, χ = N/cosh²θ1), reached
    by cancelling polynomials: simplify's trigsimp took seconds on each of these.
    """
    hyperbolics = e.atoms(HyperbolicFunction)
    xs = sorted({h.args[0] for h in hyperbolics}, key=sp.default_sort_key)  # sorted: see below
    if (not xs or not all(x.is_Symbol for x in xs) or len({x.name for x in xs}) < len(xs)
            or any(s.name.startswith(("_tanh_", "_cosh_")) for s in e.free_symbols)):
        return None  # two symbols of one name (other assumptions), or one of ours already: T, C would clash
    # named symbols, not Dummies, and xs in a fixed order: the form of the result must not
    # follow how many Dummies were made before (their place in sorted sums) or a set's order
    T = {x: sp.Symbol(f"_tanh_{x.name}", real=True) for x in xs}
    C = {x: sp.Symbol(f"_cosh_{x.name}", positive=True) for x in xs}
    as_tc = {sp.tanh: lambda x: T[x], sp.cosh: lambda x: C[x], sp.sinh: lambda x: T[x] * C[x],
             sp.coth: lambda x: 1 / T[x], sp.sech: lambda x: 1 / C[x], sp.csch: lambda x: 1 / (T[x] * C[x])}
    sub = {h: as_tc[type(h)](h.args[0]) for h in hyperbolics}
    for ex in e.atoms(sp.exp):
        coeff, x = ex.args[0].as_coeff_Mul()
        if x in xs and coeff.is_Integer:
            sub[ex] = (C[x] * (1 + T[x])) ** coeff
        elif ex.args[0].free_symbols & set(xs):
            return None
    f = e.xreplace(sub)
    if not is_rational(f):
        return None
    with sympy_speedups():
        numer, denom = sp.fraction(cancel(f))
    power = {}
    for x in xs:  # C^2 -> 1/(1 - T^2): parity of each C in numerator and denominator
        (numer, j_n), (denom, j_d) = (_even_part(p, C[x], T[x]) or (None, None) for p in (numer, denom))
        if numer is None or denom is None:
            return None
        power[x] = j_n - j_d
    with sympy_speedups():
        numer, denom = sp.fraction(cancel(numer / denom))
    for x in xs:  # (1 - T^2)^k -> C^{-2k}
        k_n, numer = _one_minus_square(numer, T[x])
        k_d, denom = _one_minus_square(denom, T[x])
        power[x] -= 2 * (k_n - k_d)
    if not any(power.values()):  # a function of T alone: C^{2k} -> (1 - T^2)^{-k} in e, its grouping kept
        square = {C[x]: T[x] for x in xs}
        g = f.replace(lambda y: y.is_Pow and y.base in square and y.exp.is_even,
                      lambda y: (1 - square[y.base] ** 2) ** (-y.exp / 2))
        if not g.free_symbols & set(square):
            numer, denom = g, sp.S.One
    rest = _tidy(numer / denom)
    for x in xs:  # what is left of 1 - T^2 read as 1/C^2: (M - M0)/cosh^2, not -(M - M0)(tanh^2 - 1)
        sech2 = {sp.expand(1 - T[x] ** 2): C[x] ** -2, sp.expand(T[x] ** 2 - 1): -C[x] ** -2}
        rest = rest.replace(lambda y, sech2=sech2: y.is_Add and y in sech2, lambda y, sech2=sech2: sech2[y])
    back = {T[x]: sp.tanh(x) for x in xs} | {C[x]: sp.cosh(x) for x in xs}
    return (rest * sp.Mul(*(C[x] ** power[x] for x in xs))).xreplace(back)


def _even_part(p: sp.Expr, c: sp.Symbol, t: sp.Symbol) -> tuple[sp.Expr, int] | None:
    """p = c^j q(c²) (j = 0 or 1) as (q(1/(1 − t²)), j), or None when p mixes parities."""
    poly = sp.Poly(p, c)
    parities = {m[0] % 2 for m in poly.monoms()}
    if len(parities) != 1:
        return None
    j = parities.pop()
    return sp.Add(*(coeff * (1 - t**2) ** (-(m[0] // 2)) for m, coeff in poly.terms())), j


def _one_minus_square(p: sp.Expr, t: sp.Symbol) -> tuple[int, sp.Expr]:
    """(k, q) with p = (1 − t²)^k q and q not divisible by 1 − t²."""
    k, poly, base = 0, sp.Poly(p, t), sp.Poly(1 - t**2, t)
    while poly.degree() >= 2:
        q, r = sp.div(poly, base)
        if not r.is_zero:
            break
        k, poly = k + 1, q
    return (k, poly.as_expr()) if k else (0, p)  # p as it was when nothing divides


def _expanded_if_shorter(x):
    """A sum multiplied out where that is shorter: (e^θ+1)e^{θ*} − (e^{θ*}+1)e^θ is e^{θ*} − e^θ,
    a cancellation simplify leaves inside a larger fraction."""
    if not x.is_Add:
        return x
    alt = sp.expand_mul(x)
    return alt if ops(alt) < ops(x) else x


def is_rational(e: sp.Expr) -> bool:
    """Whether e is a rational function of its symbols and of exponentials of them."""
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.Function) and not isinstance(node, sp.exp):
            return False
        if isinstance(node, sp.Pow) and not node.exp.is_Integer:  # √x, x^n: not rational
            return False
    return True


def fractional_hyperbolic(e: sp.Expr) -> bool:
    """Whether e holds a hyperbolic function of something other than an integer multiple of one symbol."""
    for h in e.atoms(HyperbolicFunction):
        coeff, rest = h.args[0].as_coeff_Mul()
        if not (rest.is_Symbol and coeff.is_Integer):
            return True
    return False


def simplify_held(e: sp.Expr) -> sp.Expr:
    """``simplify`` with the hyperbolics of lone symbols held (:func:`held_hyperbolics`): for
    expressions in μ whose only hyperbolic is the truth's tanh θ*_1, a constant."""
    e, back = held_hyperbolics(sp.sympify(e))
    return simplify(e).xreplace(back)


def held_hyperbolics(e: sp.Expr) -> tuple[sp.Expr, dict]:
    """e with each hyperbolic of a lone symbol that has no other hyperbolic of that symbol
    beside it replaced by a symbol named after it (``_tanh_theta1_star``), and the map back.

    For an expression rewritten in μ (:meth:`ExponentialFamily.in_mu`) these are constants
    of the truth, tanh θ*_1: held, they are kept as they are, and simplify does not spend
    seconds of trigsimp on them. (Not for expressions in θ itself: 1 − tanh²θ is 1/cosh²θ.)
    """
    by_arg: dict = {}
    for h in e.atoms(HyperbolicFunction):
        by_arg.setdefault(h.args[0], []).append(h)
    names = [arg.name for arg in by_arg if arg.is_Symbol]
    taken = {s.name for s in e.free_symbols}
    held = {}
    for arg, hs in by_arg.items():
        if arg.is_Symbol and len(hs) == 1 and names.count(arg.name) == 1:
            name = f"_{type(hs[0]).__name__}_{arg.name}"  # named, not a Dummy: see _through_tanh
            if name not in taken:
                held[hs[0]] = sp.Symbol(name, real=True)
    return e.xreplace(held), {d: h for h, d in held.items()}


def with_logs(e: sp.Expr) -> sp.Expr:
    """A sum of logarithms and a rest, each tidied apart: the rest by :func:`tidy` (its pieces
    often cancel: the Gaussian entropy's θ1² terms), the logarithms expanded, and a common
    numeric factor taken out (½(1 + ln π − ln(−θ2))). Kept only where shorter than ``e``."""
    e = sp.sympify(e)
    if e.has(sp.Sum) or not e.has(sp.log):
        return e
    terms = sp.Add.make_args(sp.expand_log(sp.expand(e), force=False))
    logs = sp.Add(*[a for a in terms if a.has(sp.log)])
    rest = sp.Add(*[a for a in terms if not a.has(sp.log)])
    candidate = sp.factor_terms(tidy(rest) + logs)
    return candidate if ops(candidate) < ops(e) else e
