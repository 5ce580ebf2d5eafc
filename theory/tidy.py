"""The one simplification a family-specific expression goes through before it is shown.

A rational function of the parameters, the sizes and the exponentials e^{θ_a} (every
family here but Curie–Weiss with θ2 = 0 and the logs of the inverse maps) is brought to
one fraction by ``cancel`` and factored: exact, canonical (an identically zero expression
comes out 0) and 5–10× faster than ``simplify``, whose extra passes only buy forms such as
n/(4 cosh²(θ/2)) — the logistic variance in disguise, longer to read and slow to handle
afterwards (trigsimp over ℚ(i)). Anything else (tanh, logs, roots) goes to ``simplify``.
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.functions.elementary.hyperbolic import HyperbolicFunction

from .fastpoly import faster_polys


def tidy(e):
    """``powsimp(factor(cancel(e)))`` for a rational function of symbols and exponentials,
    else ``simplify(e)``; sums over levels are left as they are."""
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
            simple = sp.simplify(min(e, one_fraction, key=sp.count_ops))  # short input: fast
        return min((c for c in (simple, one_fraction) if not fractional_hyperbolic(c)), key=sp.count_ops)
    return sp.simplify(e)


def is_rational(e: sp.Expr) -> bool:
    """Whether e is a rational function of its symbols and of exponentials of them."""
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.Function) and not isinstance(node, sp.exp):
            return False
        if isinstance(node, sp.Pow) and not node.exp.is_Integer and node.base is not sp.E:
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
    beside it (tanh θ*_1 next to cosh θ_1) replaced by a dummy, and the map back.

    No identity can shorten such a term, so simplify need not see it (trigsimp would spend
    seconds on it), and an expression left rational in the rest takes the fast path.
    """
    by_arg: dict = {}
    for h in e.atoms(HyperbolicFunction):
        by_arg.setdefault(h.args[0], []).append(h)
    held = {hs[0]: sp.Dummy() for arg, hs in by_arg.items() if arg.is_Symbol and len(hs) == 1}
    return e.xreplace(held), {d: h for h, d in held.items()}
