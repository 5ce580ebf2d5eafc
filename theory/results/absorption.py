"""R6: absorbing states of the pure loop, the probability of each, and the mean absorption time.

Absorbing states are the extreme points of the closed convex hull of φ(S): a
point mass there reproduces itself. The sufficient statistics are a bounded
(or bounded-below) martingale, so they converge, and only an absorbing state
can be a limit. Optional stopping, E[φ_τ] = μ_0, fixes the probabilities when
the absorbing states are affinely independent. For one-parameter families the
diffusion limit dμ = √(χ(μ)/M) dW gives the mean absorption time T(μ) from the
backward equation (χ(μ)/2M) T''(μ) = −1 with T = 0 at attainable ends.
"""

from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from ..speedups import cancel
from .common import result


def latex_state(state) -> str:
    from ..notation import state_latex

    return state_latex(state)


def probabilities(family: ExponentialFamily) -> dict[str, sp.Expr] | None:
    """P(absorbed at each state | μ_0) from optional stopping, or None if not determined."""
    states = family.absorbing_states
    if len(states) == 1:
        return {states[0].label: sp.Integer(1)}
    if len(states) > family.d + 1 or any(st.phi[0].free_symbols for st in states):
        return None
    pis = sp.symbols(f"_pi0:{len(states)}")
    eqs = [sp.Eq(sum(pis), 1)] + [
        sp.Eq(sum(p * st.phi[a] for p, st in zip(pis, states, strict=True)), family.mu_symbols[a])
        for a in range(family.d)]
    sol = sp.solve(eqs, pis, dict=True)
    if len(sol) != 1 or set(sol[0]) != set(pis):
        return None
    return {st.label: sp.factor(sol[0][p]) for p, st in zip(pis, states, strict=True)}


def _real_logs(e: sp.Expr, mu: sp.Symbol, inside) -> sp.Expr:
    """log(arg) -> log(−arg) where arg < 0 inside the interval: a constant shift of an
    antiderivative, which keeps it real (SymPy writes ∫dμ/(μ − 1) as log(μ − 1))."""
    return e.replace(lambda x: isinstance(x, sp.log) and x.args[0].subs(mu, inside).is_negative,
                     lambda x: sp.log(sp.expand(-x.args[0])))


def mean_time(family: ExponentialFamily) -> sp.Expr | None:
    """Diffusion mean absorption time T(μ) in generations (one-parameter families), or None.

    Solves (χ(μ)/2M) T'' = −1 between the attainable ends; with one end at
    infinity, on (a, L) and then L -> ∞ (an infinite limit means an infinite mean).
    """
    if family.d != 1 or family.mu_inverse is None:
        return None
    ends = [st.phi[0] for st in family.absorbing_states if st.attainable]
    if not ends:
        return None
    mu = family.mu_symbols[0]
    chi = family.in_mu(family.chi[0, 0])
    c1, c2 = sp.symbols("_c1 _c2")
    top = sp.Symbol("_L", positive=True)
    lower, upper = min(ends), (max(ends) if len(ends) == 2 else top)
    inside = (lower + max(ends)) / 2 if len(ends) == 2 else lower + 1
    particular = _real_logs(sp.integrate(_real_logs(sp.integrate(-2 * S.M / chi, mu), mu, inside),
                                         mu), mu, inside)
    T = particular + c1 * mu + c2
    bc = [sp.limit(T, mu, lower, "+"), sp.limit(T, mu, upper, "-")]
    sol = sp.solve(bc, [c1, c2], dict=True)
    if not sol:
        return None
    T = sp.simplify(T.subs(sol[0]))
    if upper is top:
        T = sp.limit(T, top, sp.oo)
    return sp.simplify(sp.refine(T, sp.Q.positive(mu - lower)))


_H = sp.Function("H")


def _binary_entropy_form(family: ExponentialFamily, T: sp.Expr):
    """T(μ) as c·M·H(x), x = (μ − a)/(b − a), when it is one, else None.

    Display only: the same function as ``T``, in the textbook form (Bernoulli: 2M·H(μ)).
    Both vanish at the ends a, b and, with d²H/dμ² = −1/((μ − a)(b − μ)), both solve
    (χ/2M) T'' = −1 exactly when c = 2(μ − a)(b − μ)/χ(μ) does not depend on μ; c may
    depend on the family's sizes (2n for the binomial, 2N for Curie–Weiss with θ2 = 0).
    """
    ends = [st.phi[0] for st in family.absorbing_states if st.attainable]
    if len(ends) != 2:
        return None
    mu = family.mu_symbols[0]
    lo, hi = sorted(ends, key=lambda e: float(e.subs({x: 10 for x in e.free_symbols})))
    c = sp.factor(cancel(2 * (mu - lo) * (hi - mu) / family.in_mu(family.chi[0, 0])))
    if mu in c.free_symbols:
        return None
    return c * S.M * _H(sp.factor((mu - lo) / (hi - lo)))


@result("R6.absorption")
def absorption(family: ExponentialFamily) -> Derivation:
    """R6 for ``family``."""
    states = family.absorbing_states
    listing = "; ".join(
        f"${latex_state(st)}$ ({'reached in finite time' if st.attainable else 'approached only asymptotically'})"
        for st in states)
    steps = [Step(f"The extreme points of the closed convex hull of $\\phi(S)$ are point masses that "
                  f"the loop reproduces: {listing}.", None, None)]
    result: dict[str, sp.Basic] = {}
    probs = probabilities(family)
    if probs is None:
        steps.append(Step("There are more absorbing states than the martingale has constraints: "
                          "optional stopping fixes only their mean, $\\mathbb{E}[\\phi_\\tau] = \\mu_0$; the exact "
                          "law of the final state comes from the finite-M Markov chain.", None, None))
    else:
        shown = {st.label: latex_state(st) for st in states}
        for label, p in probs.items():
            steps.append(Step(f"Optional stopping ($\\mathbb{{E}}[\\phi_\\tau] = \\mu_0$) gives the probability "
                              f"of ${shown[label]}$:", rf"P({shown[label]})", p))
            result[f"P[{label}]"] = p
    T = mean_time(family)
    if T is not None:
        chi = family.in_mu(family.chi[0, 0])
        steps += [Step("In the diffusion limit the variance of one step is $\\chi(\\mu)/M$, with", r"\chi(\mu)", chi),
                  Step("and the mean absorption time solves $(\\chi/2M)\\,T'' = -1$, $T = 0$ at the absorbing "
                       "ends (generations, error O(1) as M grows):", r"T(\mu)", T)]
        result["mean_time"] = T
        entropy_form = _binary_entropy_form(family, T)
        if entropy_form is not None:
            steps.append(Step("that is, with the binary entropy $H(x) = -x\\ln x-(1-x)\\ln(1-x)$ of the "
                              "position $x$ of $\\mu$ between the absorbing ends,", r"T(\mu)", entropy_form))
    return Derivation("R6.absorption", family.slug, "Absorbing states and absorption", tuple(steps),
                      result, order=0 if T is not None else None)
