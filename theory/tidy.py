"""The one simplification a family-specific expression goes through before it is shown.

A rational function of the parameters, the sizes and the exponentials e^{θ_a} (every
family here but Curie–Weiss with θ2 = 0, and the logs of the inverse maps) is first brought
to one fraction by ``cancel`` and factored: exact (an identically zero expression comes out
0) and fast. ``simplify`` then sees the shorter of that fraction and the input (a long input
is where its cost went, with trigsimp over ℚ(i)), and the input as well when it is short
(its grouping survives), and the shortest result is kept, never one with a hyperbolic of a
fraction of a parameter: simplify writes the
binomial variance n e^θ/(e^θ+1)² as n/(4 cosh²(θ/2)), the logistic in disguise, longer to
read, and a form that later hid a zero from simplify. Anything else (tanh, logs, roots)
goes to ``simplify`` as it is.
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.core.traversal import bottom_up
from sympy.functions.elementary.hyperbolic import HyperbolicFunction

from .fastpoly import faster_polys

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
    ``simplify`` of the shorter of that and e, and ``simplify(e)`` when e is short; else
    ``simplify(e)``. Sums over levels are left as they are; matrices are tidied entry by entry."""
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(tidy)
    e = sp.sympify(e)
    return e if e.has(sp.Sum) else _tidy(e)


@functools.lru_cache(maxsize=4096)  # results share expressions (a drift and its Itô image, ...)
def _tidy(e: sp.Expr) -> sp.Expr:
    if is_rational(e):
        with faster_polys():
            e = sp.expand_power_exp(e)  # e^{θ1+θ2} -> e^{θ1} e^{θ2}: fewer generators for cancel
            one_fraction = sp.powsimp(sp.factor(sp.cancel(e)))
            shorter = min(e, one_fraction, key=ops)
            # a short input is simplified too: it keeps its grouping, θ*(M0 + 1), (M − M0)χ
            inputs = [shorter] + ([e] if e != shorter and ops(e) <= SHORT else [])
            candidates = [simplify(x) for x in inputs] + [one_fraction]
        best = min((c for c in candidates if not fractional_hyperbolic(c)), key=ops)
        return bottom_up(best, _expanded_if_shorter)
    return simplify(e)


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


def held_hyperbolics(e: sp.Expr) -> tuple[sp.Expr, dict]:
    """e with each hyperbolic of a lone symbol that has no other hyperbolic of that symbol
    beside it replaced by a dummy, and the map back.

    For an expression rewritten in μ (:meth:`ExponentialFamily.in_mu`) these are constants
    of the truth, tanh θ*_1: held, they are kept as they are, and simplify does not spend
    seconds of trigsimp on them. (Not for expressions in θ itself: 1 − tanh²θ is 1/cosh²θ.)
    """
    by_arg: dict = {}
    for h in e.atoms(HyperbolicFunction):
        by_arg.setdefault(h.args[0], []).append(h)
    held = {hs[0]: sp.Dummy() for arg, hs in by_arg.items() if arg.is_Symbol and len(hs) == 1}
    return e.xreplace(held), {d: h for h, d in held.items()}
