"""R7: stationary law with M0 anchors in the diffusion limit, one-parameter families.

In expectation coordinates one step has drift ρ(μ* − μ) (R1, exact) and variance
χ(μ)/M (R2, leading), so the stationary Fokker–Planck equation gives

    p(μ) ∝ (1/χ(μ)) exp( 2 M0 ∫ (μ* − μ)/χ(μ) dμ ),

with M drops out. The law is identified by matching d log p/dμ against the
log-derivative of named laws from sympy.stats on the same support.
"""

from __future__ import annotations

import sympy as sp
import sympy.stats as ss

from .. import symbols as S
from ..derivation import Derivation, Step
from ..family import ExponentialFamily
from ..tidy import simplify_held
from .common import result

_a, _b = sp.symbols("_alpha _beta", positive=True)


def _rescaled(mu, lower, upper) -> str:
    """(μ − a)/(b − a) as LaTeX, simplified: μ itself on [0, 1]."""
    return sp.latex(sp.simplify((mu - lower) / (upper - lower)), symbol_names=S.LATEX)


def _candidates(mu, lower, upper):
    """Named laws (sympy.stats) on the support, as (name, density in μ with params _a, _b)."""
    x = sp.Symbol("_x", positive=True)
    if lower.is_finite and upper.is_finite:
        dens = ss.density(ss.Beta("X", _a, _b))(x)
        return [("Beta", dens.subs(x, (mu - lower) / (upper - lower)) / (upper - lower),
                 lambda a, b: _rescaled(mu, lower, upper) + rf"\sim\mathrm{{Beta}}\left({sp.latex(a, symbol_names=S.LATEX)},"
                              rf"{sp.latex(b, symbol_names=S.LATEX)}\right)")]
    if lower.is_finite:
        return [("Gamma", ss.density(ss.Gamma("X", _a, 1 / _b))(mu),
                 lambda a, b: rf"\mu\sim\mathrm{{Gamma}}(\text{{shape}}={sp.latex(a, symbol_names=S.LATEX)},"
                              rf"\ \text{{rate}}={sp.latex(b, symbol_names=S.LATEX)})"),
                ("InverseGamma", ss.density(ss.GammaInverse("X", _a, _b))(mu),
                 lambda a, b: rf"\mu\sim\mathrm{{InvGamma}}(\text{{shape}}={sp.latex(a, symbol_names=S.LATEX)},"
                              rf"\ \text{{scale}}={sp.latex(b, symbol_names=S.LATEX)})"),
                ("BetaPrime", ss.density(ss.BetaPrime("X", _a, _b))(mu),
                 lambda a, b: rf"\mu\sim\mathrm{{BetaPrime}}({sp.latex(a, symbol_names=S.LATEX)},"
                              rf"{sp.latex(b, symbol_names=S.LATEX)})")]
    return [("Normal", ss.density(ss.Normal("X", _a, _b))(mu), lambda a, b: "Normal")]


def identify(score, mu, lower, upper):
    """(name, α, β, LaTeX, normalised density) of the named law with log-derivative ``score``."""
    for name, dens, show in _candidates(mu, lower, upper):
        template = sp.diff(sp.expand_log(sp.log(dens), force=True), mu)
        resid = sp.numer(sp.together(sp.expand(score - template)))
        try:
            coeffs = sp.Poly(sp.expand(resid), mu).coeffs()
        except sp.PolynomialError:
            continue
        sol = sp.solve(coeffs, [_a, _b], dict=True)
        # solve() drops equations free of α, β (e.g. θ* = 0): every coefficient must vanish
        if sol and _a in sol[0] and _b in sol[0] and all(
                sp.simplify(c.subs(sol[0])) == 0 for c in coeffs):
            a, b = simplify_held(sol[0][_a]), simplify_held(sol[0][_b])
            return name, a, b, show(a, b), simplify_held(dens.subs({_a: a, _b: b}))
    return None


@result("R7.stationary")
def stationary(family: ExponentialFamily) -> Derivation | None:
    """R7 for one-parameter families with a closed-form inverse mean map; None otherwise."""
    if family.d != 1 or family.mu_inverse is None:
        return None
    mu = family.mu_symbols[0]
    mu_star = S.starred(mu)
    chi = family.in_mu(family.chi[0, 0])
    log_p = -sp.log(chi) + 2 * S.M0 * sp.integrate((mu_star - mu) / chi, mu)
    score = sp.simplify(sp.diff(log_p, mu))
    ends = [st.phi[0] for st in family.absorbing_states]
    lower = min(ends) if ends else -sp.oo
    upper = max(ends) if len(ends) == 2 else sp.oo
    steps = [
        Step("One step of the anchored loop has, in expectation coordinates, drift $\\rho(\\mu^* - \\mu)$ "
             "(exact) and variance $\\chi(\\mu)/M$ (leading order), with", r"\chi(\mu)", chi),
        Step("The stationary Fokker-Planck equation ($t/M$ and $M_0$ fixed, $M\\to\\infty$) gives",
             r"\frac{d}{d\mu}\log p(\mu)", score)]
    result = {"score": score}
    found = identify(score, mu, lower, upper)
    if found is not None:
        name, a, b, text, density = found
        steps += [Step(f"This is the log-derivative of a {name} law:", None, text),
                  Step("so the normalised stationary density is", r"p(\mu)", density)]
        result |= {"law": sp.Symbol(name), "alpha": a, "beta": b, "density": density}
    else:
        steps.append(Step("No named law on this support matches; the density is "
                          "known up to normalisation.", r"\log p(\mu)", log_p))
        result["log_density"] = log_p
    return Derivation("R7.stationary", family.slug, "Stationary law with anchors (diffusion limit)",
                      tuple(steps), result, order=1)
