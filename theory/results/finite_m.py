"""R9.stationary_correction: Eq. 18 at finite M, the O(1/M) correction (one free parameter).

Eq. 18 (R9.stationary) is the stationary law of the diffusion limit. At finite M the
chain θ_t is still a Markov chain whose jump moments E[(Δθ)^j | θ] are series in ε = 1/M
(M the model points per generation, m external points besides them):

    E[Δθ]  = ε a1 + ε² a2,   E[Δθ²] = ε b1 + ε² b2,   E[Δθ³] = ε² c2,   E[Δθ⁴] = ε² d2,

all with error O(ε³). They follow from the refit μ(θ') − u g(θ')/n = S/n (n = M + m,
g = d log p0/dθ, S the sum of φ over the M model points and the m external ones) by
reverting the series of its left side to fourth order in δ = S/n − μ(θ) + u g(θ)/n, whose
moments are exact: E[δ] = [m(μ_q − μ) + u g]/n, Var[δ] = (Mχ + m_f χ*)/n², third cumulant
(Mκ + m_f κ*)/n³ (m_f of the m points fresh from the truth, the others fixed data).

Stationarity of a smooth g(θ), E[g(θ_{t+1}) − g(θ_t)] = 0, expanded in these moments
(Kramers–Moyal) is, order by order in ε, the Fokker–Planck equation of R9 for p0 and a
zero-current equation for the correction: with p = p0 (1 + ε h) + O(ε²),

    h' = (2/b1) [a2 − ½ 𝒟 b2 + ⅙ 𝒟² c2 − (1/24) 𝒟³ d2],   𝒟f = f' + f (log p0)',

where (log p0)' = (2 a1 − b1')/b1 is the score of Eq. 18. Hence
E_M[f(θ)] = E_0[f] + Cov_0(h, f)/M + O(M⁻²) for any smooth f, the finite-M moments.
Everything is derived once in abstract cumulants (χ, κ, κ4, κ5 the second to fifth
derivatives of A) and the prior's derivatives, then specialised to the setting.
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..errors import InputError
from ..setting import Setting, m_ext
from .common import result
from .finite_m_several import method_derivation
from .general import display, setting_text, stationary, tidy_unless_long, u_sym

ORDER = 2  # the jump moments are kept to ε² = M⁻²

# one-parameter placeholders: μ and its derivatives χ, κ, κ4, κ5; g = (log p0)' and its derivatives
# (gp1.. and not g1..: those name the components of ∇log p0 in R9's several-parameter identities)
mu, _, chi, _, _kappa = (x[0] if isinstance(x, sp.MatrixBase) else x for x in S.placeholders(1))
kappa = _kappa[0, 0, 0]
kappa4 = S.symbol("kappa4", r"\kappa_{4}", real=True)
kappa5 = S.symbol("kappa5", r"\kappa_{5}", real=True)
chi_star, kappa_star = S.starred(chi), S.starred(kappa)
mu_q = S.symbol("muq", r"\mu^{q}", real=True)
g = S.symbol("g", "g", real=True)
g1 = S.symbol("gp1", "g'", real=True)
g2 = S.symbol("gp2", "g''", real=True)
g3 = S.symbol("gp3", "g'''", real=True)
m_fresh = S.symbol("m_f", r"m_{\mathrm{f}}", nonnegative=True)
_NEXT = {mu: chi, chi: kappa, kappa: kappa4, kappa4: kappa5, g: g1, g1: g2, g2: g3}  # d/dθ


def _d(e):
    """d/dθ of an expression in the placeholders (chain rule through :data:`_NEXT`)."""
    missing = {kappa5, g3} & e.free_symbols
    if missing:
        raise AssertionError(f"the correction needs no derivative of {missing}")
    return sum(sp.diff(e, x) * nx for x, nx in _NEXT.items())


def _taylor(e) -> list:
    """Coefficients of ε⁰..ε^ORDER of e."""
    return [sp.factor(sp.diff(e, S.eps, k).subs(S.eps, 0) / sp.factorial(k)) for k in range(ORDER + 1)]


def _times(a: list, b: list) -> list:
    """Product of two series in ε, truncated at ε^ORDER."""
    return [sp.expand(sum(a[i] * b[k - i] for i in range(k + 1))) for k in range(ORDER + 1)]


_F = {k: sp.Symbol(f"F{k}") for k in range(1, 5)}


def _reversion() -> dict[int, sp.Expr]:
    """Δ = Σ_k c_k δ^k solving Σ_k F_k Δ^k = δ to O(δ⁵) (checked by composing back)."""
    F = _F
    c = {1: 1 / F[1], 2: -F[2] / F[1] ** 3, 3: (2 * F[2] ** 2 - F[1] * F[3]) / F[1] ** 5,
         4: (5 * F[1] * F[2] * F[3] - F[1] ** 2 * F[4] - 5 * F[2] ** 3) / F[1] ** 7}
    delta = sp.Symbol("delta")
    reverted = sum(c[k] * delta**k for k in c)
    back = sp.expand(sum(F[k] * reverted**k for k in F))
    if any(sp.cancel(back.coeff(delta, k)) != (k == 1) for k in range(1, 5)):
        raise AssertionError("series reversion of the refit is wrong")
    return c


@functools.cache
def jump_moments() -> dict[tuple[int, int], sp.Expr]:
    """{(j, k): coefficient of M^-k in E[(θ_{t+1} − θ_t)^j | θ_t]}, j = 1..4, k = 1, 2 (placeholders).

    Series reversion of F(θ') = μ(θ') − u ε g(θ')/(1 + mε) around θ: with F_k = F^{(k)}/k!,
    Δθ = δ/F1 − F2 δ²/F1³ + (2F2² − F1F3) δ³/F1⁵ + (5F1F2F3 − F1²F4 − 5F2³) δ⁴/F1⁷ + O(δ⁵),
    then the exact raw moments of δ to O(ε²) (the fourth cumulant of δ and E[δ⁵] are O(ε³)).
    """
    eps, m, u = S.eps, m_ext, u_sym
    w = u * eps / (1 + m * eps)                      # u/n with n = M + m = (1 + mε)/ε
    F = {_F[1]: chi - w * g1, _F[2]: (kappa - w * g2) / 2, _F[3]: (kappa4 - w * g3) / 6,
         _F[4]: kappa5 / 24}
    c = {k: _taylor(v.xreplace(F)) for k, v in _reversion().items()}
    e = eps * (m * (mu_q - mu) + u * g) / (1 + m * eps)          # E[δ], exact
    v = eps * (chi + eps * m_fresh * chi_star) / (1 + m * eps) ** 2   # Var[δ], exact
    k3 = eps**2 * (kappa + eps * m_fresh * kappa_star) / (1 + m * eps) ** 3
    raw = {1: e, 2: v + e**2, 3: k3 + 3 * v * e + e**3, 4: 3 * v**2 + 4 * k3 * e + 6 * v * e**2 + e**4}
    raw = {s: _taylor(x) for s, x in raw.items()}
    out = {}
    for j in range(1, 5):
        total = [sp.Integer(0)] * (ORDER + 1)
        for ks in itertools.product(range(1, 5), repeat=j):
            if sum(ks) > 4:
                continue
            term = raw[sum(ks)]
            for k in ks:
                term = _times(term, c[k])
            total = [a + b for a, b in zip(total, term, strict=True)]
        if total[0] != 0 or (j > 2 and sp.simplify(total[1]) != 0):
            raise AssertionError(f"E[dtheta^{j}] is not of the diffusion order")
        for k in (1, 2):
            out[(j, k)] = sp.factor(total[k])
    return out


@functools.cache
def score_correction_generic() -> sp.Expr:
    """h' of the module docstring in the placeholders: p_M(θ) ∝ p_st(θ)(1 + h(θ)/M + O(M⁻²))."""
    J = jump_moments()
    a1, a2, b1, b2, c2, d2 = J[1, 1], J[1, 2], J[2, 1], J[2, 2], J[3, 2], J[4, 2]
    score = (2 * a1 - _d(b1)) / b1

    def D(f):
        return _d(f) + score * f

    hp = 2 / b1 * (a2 - D(b2) / 2 + D(D(c2)) / 6 - D(D(D(d2))) / 24)
    return sp.factor(sp.cancel(sp.expand(hp)))


def _substitution(setting: Setting) -> dict:
    """Placeholders -> the setting's θ-expressions (the family's cumulants, prior, data)."""
    fam = setting.family
    (t,) = fam.theta
    lp = setting.log_prior
    k = fam.kappa[0, 0, 0]
    k4 = sp.diff(k, t)
    return {mu: fam.mu[0], chi: fam.chi[0, 0], kappa: k, kappa4: k4, kappa5: sp.diff(k4, t),
            chi_star: fam.starred(fam.chi[0, 0]), kappa_star: fam.starred(k),
            mu_q: setting.mu_q[0], g: sp.diff(lp, t), g1: sp.diff(lp, t, 2), g2: sp.diff(lp, t, 3),
            g3: sp.diff(lp, t, 4), m_ext: setting.m, m_fresh: setting.from_truth, u_sym: setting.u}


_DTHETA = r"\mathbb{E}[(\theta_{t+1}-\theta_t)^{%d}\mid\theta_t]"


@result("R9.stationary_correction")
def stationary_correction(setting: Setting) -> Derivation | None:
    """R9.stationary_correction: the O(1/M) correction h'/M to the score of Eq. 18 (one parameter);
    for several free parameters the method (a partial differential equation, solved numerically by
    :mod:`.finite_m_several`)."""
    fam = setting.family
    if fam.d != 1:
        return method_derivation(setting)
    J = jump_moments()
    hp_generic = score_correction_generic()
    sub = _substitution(setting)
    hp = tidy_unless_long(hp_generic.xreplace(sub))
    # the display keeps the family's cumulants named where the expanded form is long
    named = hp_generic.xreplace({k: v for k, v in sub.items() if k in (mu_q, g, g1, g2, g3, m_ext, m_fresh, u_sym)})
    M = S.M
    steps = (
        Step(setting_text(setting) + r" With $M$ model points and $m$ external ones, "
             r"$m_{\mathrm{f}}$ of them fresh from the truth, the refit solves "
             r"$\mu(\theta_{t+1})-u\,g(\theta_{t+1})/n=\bar\phi_{t+1}$, $n=M+m$, "
             r"$g=(\log p_0)'$. Reverting its series to fourth order in the fluctuation and "
             r"taking the exact moments of $\bar\phi_{t+1}$ gives the jump moments to $O(M^{-2})$, "
             r"with $\chi,\kappa,\kappa_4,\kappa_5$ the second to fifth derivatives of $A$:",
             _DTHETA % 1, J[1, 1] / M + J[1, 2] / M**2),
        Step("", _DTHETA % 2, J[2, 1] / M + J[2, 2] / M**2),
        Step("", _DTHETA % 3, J[3, 2] / M**2),
        Step("and $\\mathbb{E}[(\\theta_{t+1}-\\theta_t)^{4}\\mid\\theta_t]=3\\chi^{-2}/M^{2}$, all "
             "with error $O(M^{-3})$. Stationarity of every smooth $f$, "
             r"$\mathbb{E}[f(\theta_{t+1})-f(\theta_t)]=0$, expanded in these moments "
             r"(Kramers-Moyal), gives at order $M^{-1}$ Eq.~18 and at order $M^{-2}$ a zero-current "
             r"equation for the correction: $p_M(\theta)=p_{\mathrm{st}}(\theta)\,[1+h(\theta)/M]"
             r"+O(M^{-2})$ with $h'=\frac{2}{b_1}[a_2-\frac12\mathcal{D}b_2+\frac16\mathcal{D}^2c_2"
             r"-\frac1{24}\mathcal{D}^3d_2]$, $\mathcal{D}f=f'+f\,(\log p_{\mathrm{st}})'$, "
             r"$a_k,b_k,c_k,d_k$ the coefficients of $M^{-k}$ in the first to fourth jump moments "
             r"above ($d_2=3\chi^{-2}$). It is",
             r"h'(\theta)", hp_generic),
        Step("For this setting", r"h'(\theta)", display(hp, named)),
        Step(r"so that $\mathbb{E}_M[f(\theta)]=\mathbb{E}_{\mathrm{st}}[f]"
             r"+\operatorname{Cov}_{\mathrm{st}}(h,f)/M+O(M^{-2})$ for every smooth $f$ "
             r"(in particular the variance of $\theta$, $f=(\theta-\mathbb{E}_{\mathrm{st}}\theta)^2$), "
             r"$h$ normalised by $\mathbb{E}_{\mathrm{st}}[h]=0$. $M$ counts the model points; "
             r"with $M_0$ anchors among $M$ points read $M-M_0$. The series holds where "
             r"$p_{\mathrm{st}}\chi^{-3}$ (the next order of the jump moments) vanishes at the ends "
             r"of the domain: always with a Gaussian prior; otherwise only where Eq.~18 decays faster "
             r"than $\chi^{3}$ (enough fresh points, fixed data far enough from a vertex).", None, None),
    )
    return Derivation("R9.stationary_correction", fam.slug, "Stationary law at finite M: the O(1/M) "
                      "correction to Eq. 18", steps,
                      {"score_correction": hp, "score_correction_generic": hp_generic,
                       **{f"jump{j}_{k}": v for (j, k), v in J.items()}}, order=2)


def finite_m_moments(setting: Setting, functions, values=None, points: int = 200_001):
    """(E_st[f], c_f) for each f in ``functions`` (numpy callables of θ): E_M[f] = E_st[f] + c_f/M
    + O(M⁻²), with c_f = Cov_st(h, f) (one free parameter; ``values``: numbers for θ* etc.).

    On a uniform grid over the mass of Eq. 18 (the density above e⁻⁸⁰ of its peak): the
    trapezoid rule is spectrally accurate for E_st of a smooth, decaying integrand, and h is
    the cumulative trapezoid of h' (error O(step²) ≈ 1e-9 at the default grid).
    """
    import numpy as np

    from ..numeric import evaluate

    fam = setting.family
    (t,) = fam.theta
    values = dict(values or {})
    log_p = stationary(setting.for_derivations()).result["log_density"]
    hp = stationary_correction(setting.for_derivations()).result["score_correction"]
    upper = -1e-9 if t.name in fam.negative else 40.0
    xs = np.linspace(-40.0, upper, 40_001)
    ell = np.broadcast_to(evaluate(log_p, values | {t.name: xs}), xs.shape)
    keep = np.flatnonzero(np.isfinite(ell) & (ell - np.nanmax(ell) > -80))
    lo, hi = xs[max(keep[0] - 1, 0)], xs[min(keep[-1] + 1, len(xs) - 1)]
    x = np.linspace(lo, hi, points)
    ell = np.broadcast_to(evaluate(log_p, values | {t.name: x}), x.shape)
    p = np.exp(ell - ell.max())
    p /= p.sum()
    # the next order of the jump moments grows as χ⁻³ toward an end where χ → 0: the series in
    # 1/M holds only where p_st χ⁻³ vanishes there (e.g. Bernoulli with m fresh points only
    # and no prior: 2m min(p*, 1 − p*) > 3; where it fails, exact chains leave the formal c)
    chi = np.broadcast_to(evaluate(fam.chi[0, 0], values | {t.name: x}), x.shape)
    with np.errstate(all="ignore"):
        tail = np.exp(ell - ell.max() - 3 * np.log(chi))
    if not np.all(np.isfinite(tail)) or max(tail[0], tail[-1]) > 1e-6 * tail.max():
        raise InputError(f"{setting.label}: Eq. 18 does not decay faster than chi^3 at an end of the "
                         "domain, so the finite-M law is not a series in 1/M there")
    slope = np.broadcast_to(evaluate(hp, values | {t.name: x}), x.shape)
    h = np.concatenate([[0.0], np.cumsum((slope[1:] + slope[:-1]) / 2 * np.diff(x))])
    h -= p @ h
    out = []
    for f in functions:
        fx = np.broadcast_to(f(x), x.shape)
        mean = p @ fx
        out.append((float(mean), float(p @ (h * (fx - mean)))))
    return out
