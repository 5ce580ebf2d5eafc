"""R9: the paper's general closed loop (M model points + m external points, a prior once per step).

Derived for any family and :class:`~theory.setting.Setting`:

* ``R9.sde``: U(θ) = ½ log det χ − u log p0 + m D_KL(q‖f_θ); per generation
  E[Δθ] = −χ⁻¹∇U/M and Cov[Δθ] = χ⁻¹/M (error O(M⁻²)), i.e. the SDE
  dθ = −χ⁻¹∇U dτ + dW, ⟨dW dWᵀ⟩ = χ⁻¹ dτ in τ = t/M; by Itô, in expectation
  parameters dμ = [u ∇log p0 + m(μ_q − μ)] dτ + χ dW (driftless in the pure loop).
* ``R9.entropy``: S = A − θ·μ drifts by θ·[m(μ − μ_q) − u∇log p0] − d/2 per unit τ.
* ``R9.stationary``: zero Fokker–Planck current gives p_st(θ) ∝ p0^{2u} e^{−2m D_KL(q‖f_θ)},
  p_st(μ) = p_st(θ)/det χ; whether it is normalisable (collapse when it is not); the named law
  where there is one: Beta, Gamma, InvGamma of μ (one parameter), normal of θ (a quadratic
  log-density), Dirichlet of the level probabilities (a simplex: the categorical), normal–gamma
  of the mean and precision (the Gaussian), each found by matching the log-density's derivatives.

The generic identities (the drift in μ, the entropy rate, the zero current) are derived
in the abstract cumulants μ, χ, κ and a generic prior gradient g = ∇log p0, then
specialised to the family.
"""

from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..diskcache import cached_law
from ..family import Finite, Naturals, latex_name
from ..setting import NormalPrior, Setting, m_ext
from ..tidy import simplify_held, tidy, with_logs
from .common import conventional_form, conventional_names, inverse, result, show, substitution

u_sym = S.symbol("u", "u", nonnegative=True)
tau = S.symbol("tau", r"\tau", nonnegative=True)


def _generic(d: int):
    """Placeholders μ, χ, κ, μ_q, g = ∇log p0, θ and ∇log det χ written through κ."""
    mu, _, chi, _, kappa = S.placeholders(d)
    mu_q = sp.Matrix(S.indexed("muq", r"\mu^{q}", d, real=True))
    g = sp.Matrix(S.indexed("g", r"g", d, real=True))
    theta = sp.Matrix(S.thetas(d))
    chi_inv = inverse(chi)
    grad_logdet = sp.Matrix([sum(chi_inv[b, c] * kappa[a, b, c] for b in range(d) for c in range(d))
                             for a in range(d)])
    return mu, chi, kappa, mu_q, g, theta, chi_inv, grad_logdet


@cached_law
def generic_identities(d: int) -> dict:
    """The three identities of R9, derived in abstract cumulants (kept per dimension, on disk too)."""
    mu, chi, kappa, mu_q, g, theta, chi_inv, grad_logdet = _generic(d)
    grad_U = grad_logdet / 2 - u_sym * g + m_ext * (mu - mu_q)
    drift_theta = -chi_inv * grad_U                                   # per unit τ
    # Itô: dμ_a = χ_ab dθ_b + ½ κ_abc dθ_b dθ_c, with ⟨dθ dθᵀ⟩ = χ⁻¹ dτ
    ito = sp.Matrix([sum(kappa[a, b, c] * chi_inv[b, c] for b in range(d) for c in range(d)) / 2
                     for a in range(d)])
    drift_mu = (chi * drift_theta + ito).applyfunc(sp.simplify)
    if any(sp.simplify(e.subs({u_sym: 0, m_ext: 0})) != 0 for e in drift_mu):
        raise AssertionError("the pure loop must leave μ driftless")
    # entropy S = A − θ·μ: ∇S = −χθ, ∇∇S = −χ − κ·θ
    grad_S = -chi * theta
    hess_S = sp.Matrix(d, d, lambda a, b: -chi[a, b] - sum(kappa[a, b, c] * theta[c] for c in range(d)))
    drift_S = sp.simplify((grad_S.T * drift_theta)[0] + (chi_inv * hess_S).trace() / 2)
    # zero current: J = a p − ½ ∇·(χ⁻¹ p) = 0 with ∂_b χ⁻¹_ab = −(χ⁻¹ ∇ log det χ)_a, so
    # ∇ log p = 2 χ a + ∇ log det χ
    score = (2 * chi * drift_theta + grad_logdet).applyfunc(sp.simplify)
    return {"grad_U": grad_U, "drift_theta": drift_theta, "drift_mu": drift_mu, "drift_S": drift_S,
            "score": score, "mu": mu, "mu_q": mu_q, "g": g, "theta": theta}


def _semi(setting: Setting, expr):
    """Placeholders θ, μ_q, g = ∇ log p0, u, m -> the setting's; μ, χ, κ stay named cumulants."""
    fam = setting.family
    gens = _generic(fam.d)
    sub = {u_sym: setting.u, m_ext: setting.m}
    for a in range(fam.d):
        sub[gens[5][a]] = fam.theta[a]
        sub[gens[3][a]] = setting.mu_q[a]
        sub[gens[4][a]] = sp.diff(setting.log_prior, fam.theta[a])
    return sp.sympify(expr).xreplace(sub)


def _specialise(setting: Setting, expr):
    """Placeholders -> the setting's (see :func:`_semi`), then the family's cumulants μ, χ, κ."""
    return _semi(setting, expr).xreplace(substitution(setting.family))


A_named = sp.Function("A")
LONG = 600  # characters of LaTeX beyond which a display keeps the cumulants named


def _display(full, named):
    """The fully specialised form where it is short, else the one with named cumulants."""
    from ..notation import expr as latex_expr

    if full.has(sp.Sum):  # not printed just to be dropped (Curie–Weiss: long sums)
        return named
    text = latex_expr(show(full) if isinstance(full, sp.MatrixBase) else full)
    return full if len(text) <= LONG else named


def _tidy(e):
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_tidy)
    return e if e.has(sp.Sum) or sp.count_ops(e) > 400 else tidy(e)


def _setting_text(setting: Setting) -> str:
    fam = setting.family
    parts = []
    if setting.from_truth != 0:
        points = "point" if setting.from_truth == 1 else "points"
        parts.append(f"${sp.latex(setting.from_truth)}$ fresh {points} from the truth $f(\\cdot|\\theta^*)$")
    for p in setting.data:
        parts.append("the fixed point with $(" + ",".join(f"\\phi_{{{a + 1}}}" for a in range(fam.d))
                     + ") = (" + ",".join(sp.latex(v) for v in p) + ")$")
    ext = " and ".join(parts) if parts else "no external data"
    prior = "maximum likelihood" if setting.prior is None else \
        f"MAP with {_prior_text(setting.prior, fam)} (once per generation)"
    return f"Each generation fits $M$ model points plus {ext}, by {prior}."


def _prior_text(prior, fam) -> str:
    """The prior in words and mathematics (never its command-line spelling): Gaussian priors by
    their means and variances, a named law by ln p0 up to a constant."""
    from ..notation import expr as latex_expr

    if isinstance(prior, NormalPrior):
        means, var = prior.moments(fam)
        names = [latex_expr(t) for t in fam.theta]
        if len(set(means)) == 1 and len(set(var)) == 1:
            each = "a Gaussian prior" if fam.d == 1 else "independent Gaussian priors"
            return (f"{each} of mean ${sp.latex(sp.nsimplify(means[0]))}$ and variance "
                    f"${sp.latex(sp.nsimplify(var[0]))}$ on ${', '.join(names)}$")
        laws = [f"${n}\\sim\\mathcal{{N}}({sp.latex(sp.nsimplify(m))}, {sp.latex(sp.nsimplify(v))})$"
                for n, m, v in zip(names, means, var, strict=True)]
        return "independent Gaussian priors " + ", ".join(laws)
    log_p = prior.log_density(fam)
    varying = sp.Add(*[a for a in sp.Add.make_args(sp.expand_log(log_p, force=True)) if a.free_symbols])
    on = f"${prior.on}$" if len(prior.on) == 1 else prior.on  # a letter is a variable
    values = ", ".join(f"${k} = {sp.latex(sp.nsimplify(v))}$" if len(k) == 1 else f"{k} ${sp.latex(sp.nsimplify(v))}$"
                       for k, v in prior.params)
    return (f"the {prior.law} prior ({values}) on the parameter {on}, "
            f"$\\ln p_0(\\theta) = {latex_expr(_tidy(varying))} + \\mathrm{{const}}$")


def _conventional_steps(fam, displays) -> tuple[Step, ...]:
    """``lhs = e`` again in the conventional parameter (p, r, ...; p* for the truth), where short."""
    conv = [(lhs, conventional_form(fam, e)) for lhs, e in displays]
    conv = [(lhs, e) for lhs, e in conv if e is not None]
    return tuple(Step(f"In the conventional {conventional_names(fam)} (the truth's starred) these read" if n == 0
                      else "", lhs, e) for n, (lhs, e) in enumerate(conv))


# read by results.finite_m (R9.stationary_correction), which builds on this setting's R9
display, setting_text, tidy_unless_long = _display, _setting_text, _tidy


@result("R9.sde")
def sde(setting: Setting) -> Derivation:
    """R9.sde: U, the drift −χ⁻¹∇U/M and noise χ⁻¹/M of θ, the SDE in τ = t/M, and μ's drift."""
    fam = setting.family
    gen = generic_identities(fam.d)
    U = sp.log(fam.chi.det()) / 2 - setting.log_prior + setting.m * setting.divergence
    drift = _tidy(_specialise(setting, gen["drift_theta"])) / S.M
    noise = _tidy(inverse(fam.chi)) / S.M
    drift_mu = _tidy(_specialise(setting, gen["drift_mu"]))
    chi_named = S.placeholders(fam.d)[2]
    U_named = (sp.log(sp.Symbol(r"\det\chi", positive=True)) / 2 - setting.log_prior
               + setting.m * (A_named(*fam.theta) - (sp.Matrix(fam.theta).T * setting.mu_q)[0]))
    drift_named = _semi(setting, gen["drift_theta"]) / S.M  # one parameter: short enough
    steps = (
        Step(_setting_text(setting) + " With $g=\\nabla\\log p_0$ and $\\mu^q=\\mathbb{E}_q[\\phi]$, "
             "expanding the refit to second order in the fluctuations (as in R3) gives, per generation, "
             "$\\mathbb{E}[\\Delta\\theta]=-\\chi^{-1}\\nabla U/M$ and "
             "$\\operatorname{Cov}[\\Delta\\theta]=\\chi^{-1}/M$ with error $O(M^{-2})$, where",
             r"\nabla U", show(gen["grad_U"])),
        Step("so that in $\\tau=t/M$: $d\\theta=-\\chi^{-1}\\nabla U\\,d\\tau+dW$, "
             "$\\langle dW\\,dW^{\\mathsf T}\\rangle=\\chi^{-1}d\\tau$. By Itô's formula the "
             "expectation parameters move as $d\\mu=\\chi\\,d\\theta+\\tfrac12\\kappa:d\\theta\\,d\\theta$:",
             r"\frac{\mathbb{E}[d\mu]}{d\tau}", show(gen["drift_mu"])),
        Step("driftless in the pure loop ($u=m=0$). For this family and setting (up to a constant"
             " in $U$; long forms keep $A$, $\\mu$, $\\chi$, $\\kappa$ named),", r"U(\theta)",
             _display(U, U_named)),
        Step("", r"\nabla U(\theta)", show(_display(_tidy(_specialise(setting, gen["grad_U"])),
                                                      _semi(setting, gen["grad_U"])))),
        Step("", r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]",
             show(_display(drift, drift_named)) if fam.d == 1 else r"-\chi(\theta)^{-1}\nabla U(\theta)/M"),
        Step("", r"\operatorname{Cov}[\theta_{t+1}-\theta_t\mid\theta_t]",
             show(_display(noise, inverse(chi_named) / S.M))),
        Step("and in expectation parameters", r"\frac{\mathbb{E}[d\mu]}{d\tau}", show(drift_mu)),
    ) + _conventional_steps(fam, ((r"\mathbb{E}[\theta_{t+1}-\theta_t\mid\theta_t]", drift),
                                 (r"\frac{\mathbb{E}[d\mu]}{d\tau}", drift_mu)))
    return Derivation("R9.sde", fam.slug, "General closed loop: potential, drift and noise (Eqs. 12-15)",
                      steps, {"U": U, "drift": drift, "cov": noise, "drift_mu": drift_mu}, order=2)


@result("R9.entropy")
def entropy(setting: Setting) -> Derivation:
    """R9.entropy: drift of S = A − θ·μ per unit τ; −d/2 in the pure loop (the paper prints −d)."""
    fam = setting.family
    gen = generic_identities(fam.d)
    S_expr = with_logs(fam.A - (sp.Matrix(fam.theta).T * fam.mu)[0])  # Gaussian: ½(1 + ln π − ln(−θ2))
    drift = _tidy(_specialise(setting, gen["drift_S"]))
    pure = sp.simplify(gen["drift_S"].subs({u_sym: 0, m_ext: 0}))
    steps = (
        Step("The entropy of the fitted model is $S=A-\\theta\\cdot\\mu$, with $\\nabla S=-\\chi\\theta$ "
             "and $\\nabla\\nabla S=-\\chi-\\kappa\\cdot\\theta$. Itô's formula with the SDE of R9.sde gives",
             r"\frac{\mathbb{E}[dS]}{d\tau}", gen["drift_S"]),
        Step("In the pure loop every family loses entropy at the same rate, half the number of "
             "parameters per unit $\\tau=t/M$ (the paper's Eq. 17 prints $-D$; the simulation "
             "decides for $-D/2$):", r"\frac{\mathbb{E}[dS]}{d\tau}\Big|_{u=m=0}", pure),
        Step("For this family,", "S", _display(S_expr, A_named(*fam.theta) - (
            sp.Matrix(fam.theta).T * S.placeholders(fam.d)[0])[0])),
        Step("and in this setting", r"\frac{\mathbb{E}[dS]}{d\tau}",
             _display(drift, _semi(setting, gen["drift_S"]))),
    )
    return Derivation("R9.entropy", fam.slug, "Entropy of the fitted model (Eqs. 16-17)", steps,
                      {"S": S_expr, "drift_tau": drift, "pure_rate": pure, "paper_rate": -sp.Integer(fam.d)},
                      order=2)


def _up_to_a_constant(log_p: sp.Expr, theta) -> sp.Expr:
    """``log_p`` without its terms free of θ: a constant is the normaliser's business (−2 ln 4π
    of a Gaussian prior, the truth's own terms of the divergence)."""
    return sp.Add(*[a for a in sp.Add.make_args(log_p) if a.free_symbols & set(theta)])


def _unnormalised(density):
    """A density up to normalisation without its numeric factor (1/10485760000000000000000000 in
    Fig. 2 (i)'s law of μ): only its sign is kept."""
    if density is None:
        return None
    c, rest = density.as_coeff_Mul()
    return sp.sign(c) * rest if c.is_Rational and c != 0 else density


@result("R9.stationary")
def stationary(setting: Setting) -> Derivation:
    """R9.stationary: p_st(θ) ∝ p0^{2u} e^{−2m D(q‖f_θ)} (Eq. 18), in μ by 1/det χ; normalisable?"""
    fam = setting.family
    gen = generic_identities(fam.d)
    log_p = 2 * setting.log_prior - 2 * setting.m * setting.divergence
    log_p = _up_to_a_constant(sp.expand(log_p) if not log_p.has(sp.Sum) else log_p, fam.theta)
    density = sp.exp(log_p)
    norm, reason = normalisable(setting, log_p)
    steps = [
        Step("The stationary Fokker-Planck equation has zero current "
             "$a\\,p-\\tfrac12\\nabla\\cdot(\\chi^{-1}p)=0$; since "
             "$\\partial_b\\chi^{-1}_{ab}=-(\\chi^{-1}\\nabla\\log\\det\\chi)_a$ this is",
             r"\nabla\log p_{\mathrm{st}}(\theta)", show(gen["score"])),
        Step("i.e. $p_{\\mathrm{st}}(\\theta)\\propto p_0(\\theta)^{2u}\\,e^{-2m D_{\\mathrm{KL}}(q\\|f_\\theta)}$, "
             "independent of $M$ (Eq. 18). " + _setting_text(setting) + " Up to normalisation,",
             r"\log p_{\mathrm{st}}(\theta)", _display(log_p, _up_to_a_constant(sp.expand(
                 2 * setting.log_prior - 2 * setting.m * (
                     A_named(*fam.theta) - (sp.Matrix(fam.theta).T * setting.mu_q)[0])), fam.theta))),
        Step("In expectation parameters the density carries the Jacobian $1/\\det\\chi$. "
             + ("It is normalisable: " if norm else "It is not normalisable (the loop collapses): "
                if norm is False else "Normalisability is undecided here: ") + reason, None, None),
    ]
    result = {"log_density": log_p, "density": density, "normalisable": norm,
              # p_st(μ) = p_st(θ(μ))/det χ, in μ where θ(μ) has a closed form (else None)
              "density_mu": _unnormalised(fam.in_mu(density / fam.chi.det())) if not density.has(sp.Sum) else None}
    law = named_law(setting, log_p) if norm else None
    if law is not None:
        name, params, text, note = law
        steps.append(Step(f"This is a named law{note}:", None, text))
        result |= {"law": name, **params}
    return Derivation("R9.stationary", fam.slug, "Stationary law in the general loop (Eq. 18)",
                      tuple(steps), result, order=1)


# --- normalisability -----------------------------------------------------------------------------
def normalisable(setting: Setting, log_p: sp.Expr) -> tuple[bool | None, str]:
    """Is ∫ p_st(θ) dθ finite over the free natural parameters? (decision, reason).

    ML (u = 0): ∫ e^{−2m[A(θ) − θ·μ_q]} dθ is the normaliser of a Diaconis–Ylvisaker
    conjugate prior, finite iff m > 0 and μ_q lies in the interior of the convex
    support (Diaconis & Ylvisaker 1979, Thm. 1): a fresh member always does; a fixed
    data set does iff its statistics are not on a face of the marginal polytope.
    With a Gaussian prior on θ: p0² is integrable and, on a discrete space or with
    fresh data only, e^{−2mD} is bounded, so the product is. Otherwise, for one
    parameter, the tails of log p_st decide; else undecided (None).
    """
    fam = setting.family
    m = setting.m
    if setting.prior is None:
        if m == 0:
            return False, "with $m=u=0$ the density is constant in $\\theta$."
        inside = _mu_q_interior(setting)
        if inside is True:
            return True, ("$m>0$ and $\\mu_q$ lies inside the convex support (Diaconis-Ylvisaker).")
        if inside is False:
            return False, ("$\\mu_q$ lies on the boundary of the convex support: along a direction "
                           "of $\\theta$ the density does not decay (Diaconis-Ylvisaker).")
    elif isinstance(setting.prior, NormalPrior) and (
            not setting.data or isinstance(fam.space, Finite | Naturals)):
        return True, ("$p_0^2$ is a Gaussian in $\\theta$ and $e^{-2mD_{\\mathrm{KL}}}$ is bounded "
                      "on a discrete space or with fresh data.")
    if fam.d == 1:
        return _tails(fam, log_p)
    return None, "no criterion applies to this prior in several parameters."


def _mu_q_interior(setting: Setting) -> bool | None:
    fam = setting.family
    if setting.from_truth != 0:  # a mixture with a member of the family has full support
        return True
    mq = [float(v) for v in setting.mu_q]
    if isinstance(fam.space, Finite):
        import numpy as np

        pts = np.array([[float(p.subs(S.s, v)) for p in fam.phi] for v in fam.space.levels])
        tol = 1e-9 * max(1.0, float(np.abs(pts).max()))
        if fam.d == 1:
            return bool(pts.min() + tol < mq[0] < pts.max() - tol)
        from scipy.spatial import ConvexHull

        eq = ConvexHull(pts).equations  # n·x + b <= 0 inside
        return bool(np.all(eq[:, :-1] @ np.array(mq) + eq[:, -1] < -tol))
    inv = fam.mu_inverse
    if inv is None:
        return None
    theta = {t: sp.N(inv[t].subs(dict(zip(fam.mu_symbols, mq, strict=True)))) for t in fam.theta}
    ok = all(v.is_real and v.is_finite for v in theta.values())
    return ok and all(theta[t] < 0 for t in fam.theta if t.name in fam.negative)


def _tails(fam, log_p) -> tuple[bool | None, str]:
    (t,) = fam.theta
    lo, hi = (-sp.oo, sp.Integer(0)) if t.name in fam.negative else (-sp.oo, sp.oo)
    x = sp.Symbol("_x", real=True)
    ell = log_p.subs(t, x)
    verdicts = []
    for end in (lo, hi):
        try:
            if end.is_infinite:
                fast = sp.limit(ell + 2 * sp.log(sp.Abs(x)), x, end)
                slow = sp.limit(ell + sp.log(sp.Abs(x)), x, end)
            else:
                fast = sp.limit(ell, x, end, dir="-")
                slow = sp.limit(ell + sp.log(sp.Abs(x - end)), x, end, dir="-")
        except (NotImplementedError, ValueError, TypeError):
            return None, "the tails could not be decided."
        if fast == -sp.oo or (end.is_finite and fast.is_finite):
            verdicts.append(True)
        elif slow != -sp.oo:
            verdicts.append(False)
        else:
            return None, "the tails could not be decided."
    if all(verdicts):
        return True, "the density decays fast enough at both ends of the natural domain."
    return False, "the density does not decay at an end of the natural domain."


# --- named laws ----------------------------------------------------------------------------------
def named_law(setting: Setting, log_p):
    """(name, params, LaTeX, a note on its parameters) where the stationary law is a named one, else None."""
    fam = setting.family
    if log_p.has(sp.Sum):
        return None
    theta = fam.theta
    if fam.d >= 2 and setting.prior is None:
        found = _dirichlet(fam, log_p) or _normal_gamma(fam, log_p)
        if found is not None:
            return found
    if fam.d >= 2 or setting.prior is not None:
        poly = sp.Poly(sp.expand(log_p), *theta) if sp.expand(log_p).is_polynomial(*theta) else None
        if poly is not None and poly.total_degree() == 2:
            H = sp.hessian(-log_p, theta)
            grad0 = sp.Matrix([sp.diff(log_p, t).subs({x: 0 for x in theta}) for t in theta])
            cov = H.inv()
            mean = cov * grad0
            text = (r"\theta\sim\mathcal{N}\left(" + sp.latex(mean.T) + r",\ "
                    + sp.latex(cov) + r"\right)")
            return "Normal", {"mean": mean, "cov": cov}, text, ""
    if fam.d == 1 and fam.mu_inverse is not None:
        from .stationary import identify

        mu = fam.mu_symbols[0]
        log_p_mu = fam.in_mu(log_p - sp.log(fam.chi[0, 0]))
        if log_p_mu is None:
            return None
        score = simplify_held(sp.diff(log_p_mu, mu))
        ends = [st.phi[0] for st in fam.absorbing_states]
        lower = min(ends) if ends else -sp.oo
        upper = max(ends) if len(ends) == 2 else sp.oo
        found = identify(score, mu, lower, upper)
        if found is not None:
            name, a, b, text, _ = found
            return name, {"alpha": a, "beta": b}, text, ""
    return None


def _solve_constant(diff, variables, unknowns):
    """The unknowns making ``diff`` constant in ``variables`` (every partial derivative zero,
    identically), or None: the numerators' coefficients as polynomials in the variables."""
    equations = []
    for v in variables:
        num = sp.numer(sp.together(sp.expand(sp.diff(diff, v))))
        try:
            equations += sp.Poly(sp.expand(num), *variables).coeffs()
        except sp.PolynomialError:
            return None
    sol = sp.solve(equations, unknowns, dict=True)
    if len(sol) != 1 or set(sol[0]) != set(unknowns) or any(  # solve() drops equations free of them
            sp.simplify(e.subs(sol[0])) != 0 for e in equations):
        return None
    return [simplify_held(sol[0][u]) for u in unknowns]


def _latex(e) -> str:
    return sp.latex(e, symbol_names=S.LATEX)


def _textbook(fam, e):
    """``e`` in the conventional parameters (p*, var*, ...) where it rewrites, else as it is."""
    conv = conventional_form(fam, e)
    return e if conv is None else conv


def _dirichlet(fam, log_p):
    """Eq. 18 on a saturated finite family (levels the vertices of a simplex: the categorical)
    as a Dirichlet law of the level probabilities: p_st(μ) = p_st(θ(μ))/det χ matched against
    Σ_k (α_k − 1) log λ_k(μ), λ_k the barycentric coordinates of μ (the probabilities p_k)."""
    if not isinstance(fam.space, Finite) or len(fam.space.levels) != fam.d + 1 or fam.mu_inverse is None:
        return None
    mu = sp.Matrix(fam.mu_symbols)
    vertices = sp.Matrix([[p.subs(S.s, v) for v in fam.space.levels] for p in fam.phi])
    system = vertices.col_join(sp.ones(1, fam.d + 1))
    if system.det() == 0:
        return None
    lam = system.inv() * mu.col_join(sp.Matrix([1]))          # λ_k(μ), affine in μ
    log_p_mu = fam.in_mu(log_p - sp.log(fam.chi.det()))
    if log_p_mu is None:
        return None
    alpha = sp.symbols(f"_alpha1:{fam.d + 2}")
    template = sum((a - 1) * sp.log(lk) for a, lk in zip(alpha, lam, strict=True))
    found = _solve_constant(sp.expand_log(log_p_mu, force=True) - template, list(mu), list(alpha))
    if found is None:
        return None
    # the coordinates are the level probabilities: the conventional p_k where the family has them
    conv = {sp.expand(fam.in_mu(e) or sp.nan): n for n, e in fam.conventional.items()}
    coords = [latex_name(conv[sp.expand(x)]) if sp.expand(x) in conv else _latex(x) for x in lam]
    text = (r"(" + ",".join(coords) + r")\sim\mathrm{Dirichlet}\left("
            + ",".join(_latex(_textbook(fam, a)) for a in found) + r"\right)")
    return "Dirichlet", {"alpha": sp.Matrix(found)}, text, " of the level probabilities"


def _normal_gamma(fam, log_p):
    """Eq. 18 for the Gaussian (φ = (s, s²) on the real line) as a normal–gamma law of (mean ν,
    precision λ = 1/var): θ(ν, λ) from the conventional parameters, the density in (ν, λ)
    carries |det ∂θ/∂(ν, λ)|, matched against (α − ½) log λ − βλ − κλ(ν − ν0)²/2."""
    if fam.d != 2 or tuple(fam.phi) != (S.s, S.s ** 2) or set(fam.conventional) != {"mean", "var"}:
        return None
    nu, lam = sp.Symbol("_nu", real=True), sp.Symbol("_lambda", positive=True)
    sol = sp.solve([sp.Eq(fam.conventional["mean"], nu), sp.Eq(fam.conventional["var"], 1 / lam)],
                   list(fam.theta), dict=True)
    if len(sol) != 1:
        return None
    theta_of = sp.Matrix([sol[0][t] for t in fam.theta])
    jac = sp.Abs(theta_of.jacobian([nu, lam]).det())
    log_q = sp.expand_log(log_p.xreplace(dict(zip(fam.theta, theta_of, strict=True))) + sp.log(jac),
                          force=True)
    a, b, k, loc = sp.symbols("_alpha _beta _kappa _nu0")
    template = (a - sp.Rational(1, 2)) * sp.log(lam) - b * lam - k * lam * (nu - loc) ** 2 / 2
    found = _solve_constant(log_q - template, [nu, lam], [loc, k, a, b])
    if found is None:
        return None
    loc, k, a, b = found
    text = (r"\left(" + latex_name("mean") + r",\ 1/" + latex_name("var")
            + r"\right)\sim\mathrm{NormalGamma}\left("
            + ",".join(_latex(_textbook(fam, x)) for x in (loc, k, a, b)) + r"\right)")
    note = (r", of the mean and the precision: $1/\sigma^2\sim\mathrm{Gamma}(\text{shape }\alpha,"
            r"\ \text{rate }\beta)$ and, given it, the mean normal of variance $\sigma^2/\kappa$, in "
            r"$\mathrm{NormalGamma}(\mu_0,\kappa,\alpha,\beta)$ (in the parameters, $m$ counts the "
            r"external points; starred, the truth's or the data's mean and variance)")
    return "NormalGamma", {"loc": loc, "kappa": k, "alpha": a, "beta": b}, text, note


# read by results.operators (R11.temperature.drift: Eq. 18 with a temperature's factor)
normal_gamma = _normal_gamma


def stationary_marginals(setting: Setting, grid, log_p=None):
    """Eq. 18 on a grid of θ (one or two free parameters), normalised on the grid.

    Returns (density on the grid, {name: marginal}); two-parameter marginals are sums over
    the other axis (numerical quadrature on the grid). ``log_p``: another log-density of θ and
    the truth to evaluate instead (a sampling operator's, R11), Eq. 18's by default.
    """
    import numpy as np

    from ..numeric import evaluate

    if log_p is None:
        log_p = stationary(setting.for_derivations()).result["log_density"]
    names = setting.family.names
    grid = np.asarray(grid, float)
    if len(names) == 1:
        ell = np.broadcast_to(evaluate(log_p, {names[0]: grid}), grid.shape)
        p = np.exp(ell - ell.max())
        p /= p.sum()
        return p, {names[0]: p}
    if len(names) != 2:
        raise ValueError("marginals on a grid are computed for one or two free parameters")
    t1, t2 = np.meshgrid(grid, grid, indexing="ij")
    ell = np.broadcast_to(evaluate(log_p, {names[0]: t1.ravel(), names[1]: t2.ravel()}), t1.size)
    p = np.exp(ell - ell.max()).reshape(t1.shape)
    p /= p.sum()
    return p, {names[0]: p.sum(axis=1), names[1]: p.sum(axis=0)}
