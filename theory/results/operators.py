"""R11: the sampling operators (temperature, top-k/top-p truncation, selection) in the closed loop.

The operator acts on the fitted model before its M points are drawn (external points are never
altered). Every law below is derived from the family's declaration:

* R11.temperature.map: f_T ∝ f^{1/T} per configuration. With h = (multiplicity) × g, the
  multiplicity counting configurations (Curie–Weiss: C(N, s)) and g the base measure of one
  configuration, f_T stays in the family iff ln g is affine in φ on the sample space, ln g = c + b·φ
  (:func:`theory.operator.tempered_shift`); then it is the member θ_T = θ/T + (1/T − 1) b (θ/T for a
  constant g). Poisson (g = 1/s!) and the binomial (g = C(n, s)) leave the family. (The documents
  write w for g, which their glossary keeps for the prior's gradient.)
* R11.temperature.drift: E[μ_{t+1} − μ_t | θ] = M(μ(θ_T) − μ(θ))/(M + m) + m(μ^q − μ)/(M + m); with
  T = 1 + κ_T/M the extra drift of θ per unit τ = t/M is −κ_T(θ + b) = −χ⁻¹∇V, V = −κ_T(S − b·μ),
  S = A − θ·μ, so U gains V and Eq. 18 the factor e^{2κ_T(S − b·μ)}; whether the law stays
  normalisable.
* R11.temperature.fixed_points: the M → ∞ map μ' = (1 − λ)μ(θ_T) + λμ^q, λ = m/(M + m), its fixed
  points and their stability: the pitchfork where the truth is the maximum-entropy member
  (Bernoulli p* = 1/2: T = 1 − λ), the saddle-node curve λ_c(T) otherwise (numerical root finding
  on the derived map), the heat-death line where the fixed point escapes (Gaussian: T = 1/(1 − λ));
  :func:`phase` and :func:`phase_boundary` for the figures.
* R11.truncation: top-k/top-p at M = ∞ on a saturated finite family: the nucleus of the
  renormalised nucleus, n_{t+1} = min{j : C_j ≥ P C_{n_t}}, stops at the first n with
  p_(n) > (1 − P) C_n (:func:`truncation_supports`); at finite M a dropped level never returns.
* R11.selection: the Gaussian keeping a fraction f of its draws by |x − mean| (variance factor
  c(f) = 1 + 2zφ(z)/f, z = Φ⁻¹(1 − f/2)) or by the largest/smallest values (mean shift σφ(z)/f,
  variance factor 1 + zφ(z)/f − (φ(z)/f)², z = Φ⁻¹(1 − f)), from the truncated normal's integrals;
  under replace and, for |x − mean|, under accumulate (:func:`selection_factor`).
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..errors import InputError
from ..family import ExponentialFamily, Finite, Levels
from ..notation import expr as tex
from ..numeric import compiled, evaluate
from ..operator import configuration_base, tempered_shift
from ..setting import Setting, m_ext
from .common import conventional_form, inverse, is_zero, result, show
from .general import entropy, normal_gamma, stationary, stationary_marginals

T_sym = S.symbol("T", "T", positive=True)                     # the temperature
kappa_T = S.symbol("kappa_T", r"\kappa_{T}", real=True)       # T = 1 + κ_T/M
lam_ext = S.symbol("lambda_ext", r"\lambda", nonnegative=True)  # external fraction m/(M + m)
f_sel = S.symbol("f_select", "f", positive=True)              # the kept fraction
z_sel = S.symbol("z_select", "z", real=True)                  # the standard-normal threshold
P_top = S.symbol("P_top", "P", positive=True)
PHASES = ("collapse", "stationary", "heat death")


# --- the tempered member ------------------------------------------------------------------------
def multiplicity(family: ExponentialFamily) -> sp.Expr:
    """The configurations a sample point stands for (Curie–Weiss: C(N, s)), the family's declared
    ``multiplicity`` (1 where none): the temperature raises each configuration's probability, so this
    factor of h is not raised to 1/T."""
    return sp.Integer(1) if family.multiplicity is None else sp.sympify(family.multiplicity)


def log_weight_affine(family: ExponentialFamily) -> tuple[sp.Matrix | None, sp.Expr]:
    """(b, ln g): b with ln g(s) = c + b·φ(s) on the sample space, g = h/multiplicity the base measure
    of one configuration (:func:`theory.operator.tempered_shift`, decided by SymPy), or None where
    ln g is not affine in φ (the tempered model then leaves the family)."""
    log_g = sp.expand_log(sp.log(configuration_base(family)), force=True)
    b = tempered_shift(family)
    return (None if b is None else sp.Matrix(b)), log_g


def tempered_theta(family: ExponentialFamily) -> sp.Matrix | None:
    """θ_T = θ/T + (1/T − 1) b, the member f^{1/T} is (per configuration), or None if it leaves."""
    b, _ = log_weight_affine(family)
    if b is None:
        return None
    return (sp.Matrix(family.theta) / T_sym + (1 / T_sym - 1) * b).applyfunc(sp.simplify)


def _tempered_law_text(family: ExponentialFamily) -> str:
    mult = multiplicity(family)
    if mult == 1:
        return r"f_T(s) \propto f(s|\theta)^{1/T}"
    return (r"f_T(s) \propto " + tex(mult) + r"\,\left[\frac{f(s|\theta)}{" + tex(mult)
            + r"}\right]^{1/T}")


@result("R11.temperature.map")
def temperature_map(family: ExponentialFamily) -> Derivation:
    """R11.temperature.map: whether f^{1/T} (per configuration) stays in the family, and θ_T."""
    b, log_w = log_weight_affine(family)
    mult = multiplicity(family)
    steps = [Step("The temperature raises the probability of each configuration to $1/T$ and "
                  "renormalises" + (r" (the level $s$ holds $" + tex(mult) + r"$ configurations, "
                                    "a count that is not raised)" if mult != 1 else "") + ":",
                  None, _tempered_law_text(family)),
                  Step(r"With $h = (\text{multiplicity})\times w$, the weight $w$ of one configuration is",
                       r"\ln w(s)", log_w)]
    if b is None:
        steps.append(Step(r"$\ln w$ is not affine in $\phi(s)$ on the sample space (no $c$, $b$ give "
                          r"$\ln w = c + b\cdot\phi$ at every point), so $w^{1/T}$ is not $w$ times "
                          r"$e^{\theta'\cdot\phi}$: for $T\neq 1$ the tempered model leaves the family. "
                          r"The temperature results below do not apply to this family (a simulation can "
                          r"still temper its probabilities where the sample space is enumerable).", None, None))
        return Derivation("R11.temperature.map", family.slug, "Temperature: the tempered model", tuple(steps),
                          {"stays": sp.false})
    theta_T = tempered_theta(family)
    assert theta_T is not None  # b was found
    steps.append(Step(r"$\ln w = c + b\cdot\phi$ on the sample space, with" if any(b) else
                      r"$w$ is constant, so $w^{1/T}e^{\theta\cdot\phi/T}\propto w\,e^{(\theta/T)\cdot\phi}$: "
                      r"the tempered model is the member", "b" if any(b) else r"\theta_T", show(b) if any(b)
                      else show(theta_T)))
    if any(b):
        steps.append(Step("so the tempered model is the member", r"\theta_T", show(theta_T)))
    mu_T = family.mu.subs(dict(zip(family.theta, theta_T, strict=True)), simultaneous=True)
    if not mu_T.has(sp.Sum):
        mu_T = mu_T.applyfunc(sp.simplify)
        steps.append(Step("with mean", r"\mu(\theta_T)", show(mu_T)))
    conv = {}
    for name, e in list(family.conventional.items())[:family.d]:
        tempered = e.subs(dict(zip(family.theta, theta_T, strict=True)), simultaneous=True)
        shown = conventional_form(family, tempered)
        if shown is not None:  # e^{ln(x)/T} as x^{1/T}: the textbook p^{1/T}/(p^{1/T} + (1 − p)^{1/T})
            shown = sp.expand_log(sp.simplify(shown), force=True)
            shown = sp.factor(sp.together(shown.replace(lambda a: isinstance(a, sp.exp), _exp_as_powers)))
        if shown is not None and shown != e:
            conv[name] = shown
    for n, (name, e) in enumerate(conv.items()):
        steps.append(Step("In the conventional parameters the tempered member has" if n == 0 else "",
                          sp.Symbol(f"{name}_T"), e))
    return Derivation("R11.temperature.map", family.slug, "Temperature: the tempered model", tuple(steps),
                      {"stays": sp.true, "b": b, "theta_T": theta_T, "mu_T": mu_T})


# --- the drift, U and Eq. 18 --------------------------------------------------------------------
def _does_not_apply(rid: str, family: ExponentialFamily, title: str, why: str) -> Derivation:
    return Derivation(rid, family.slug, title, (Step("Does not apply: " + why, None, None),),
                      {"applies": sp.false})


@result("R11.temperature.drift")
def temperature_drift(setting: Setting) -> Derivation:
    """R11.temperature.drift: the extra drift per generation and in the diffusion scaling, the
    potential V added to U, the factor of Eq. 18 and whether the law stays normalisable."""
    fam = setting.family
    title = "Temperature: drift, potential and stationary law"
    tmap = temperature_map(fam)
    if not tmap.result["stays"]:
        return _does_not_apply("R11.temperature.drift", fam, title, "the tempered model leaves the family "
                               "(R11.temperature.map), so the loop under a temperature is not a loop in $\\theta$.")
    theta = sp.Matrix(fam.theta)
    b, theta_T, mu_T = tmap.result["b"], tmap.result["theta_T"], tmap.result["mu_T"]
    M, m = S.M, m_ext
    mu_q = sp.Matrix(S.indexed("muq", r"\mu^{q}", fam.d, real=True))
    mean_next = (M * mu_T + m * mu_q) / (M + m)                # ML on M tempered + m external points
    extra_mu = (M * (mu_T - fam.mu) / (M + m))
    if not is_zero(fam, mean_next - fam.mu - extra_mu - m * (mu_q - fam.mu) / (M + m)):
        raise AssertionError("the tempered step does not split into the temperature and external terms")
    # diffusion scaling: T = 1 + κ_T/M, the shift of θ per generation times M
    shift = (theta_T - theta).subs(T_sym, 1 + kappa_T / M)
    drift_tau = shift.applyfunc(lambda e: sp.simplify(sp.limit(M * e, M, sp.oo)))
    order2 = shift.applyfunc(lambda e: sp.simplify(sp.limit(M * (M * e - sp.limit(M * e, M, sp.oo)), M, sp.oo)))
    # V with −χ⁻¹∇V = drift: ∇V = −χ·drift = κ_T χ (θ + b) = κ_T ∇(θ·μ − A + b·μ), as ∇(θ·μ − A) = χθ
    S_expr = entropy(Setting(fam)).result["S"]
    V = -kappa_T * (S_expr - (b.T * fam.mu)[0])
    gradV = sp.Matrix([sp.diff(V, t) for t in fam.theta])
    if not is_zero(fam, gradV + fam.chi * drift_tau):
        raise AssertionError("−χ⁻¹∇V is not the temperature drift")
    # Eq. 18: zero current gives ∇ log p = 2χ a + ∇ log det χ (R9.stationary), linear in the drift a
    score = 2 * fam.chi * drift_tau
    log_factor = -2 * V
    if not is_zero(fam, score - sp.Matrix([sp.diff(log_factor, t) for t in fam.theta])):
        raise AssertionError("the extra score is not the gradient of 2κ_T(S − b·μ)")
    base = stationary(setting.for_derivations()).result["log_density"]
    log_p = base + log_factor
    norm, reason = _tempered_normalisable(setting, log_p, log_factor)
    steps = [
        Step(r"Each generation refits by maximum likelihood to $M$ points of the tempered model "
             r"$\theta_T$ (R11.temperature.map) and $m$ external points of mean $\mu^{q}$, so",
             r"\mathbb{E}[\mu_{t+1}-\mu_t\mid\theta_t]",
             show(sp.Matrix([sp.factor(e) for e in extra_mu])) + show(m * (mu_q - fam.mu) / (M + m))
             if fam.d == 1 else r"\frac{M\,[\mu(\theta_T)-\mu(\theta)] + m\,(\mu^{q}-\mu(\theta))}{M+m}"),
        Step(r"(a prior adds its term of R9.sde unchanged). In the diffusion scaling $T = 1 + \kappa_T/M$ "
             r"the shift $\theta_T - \theta$ per generation is of order $1/M$; per unit $\tau = t/M$ it is",
             r"\lim_{M\to\infty} M(\theta_T-\theta)", show(drift_tau)),
        Step("(the next order,", r"\lim_{M\to\infty} M\,\bigl[M(\theta_T-\theta) - \lim_{M\to\infty} M(\theta_T-\theta)\bigr]",
             show(order2)),
        Step(r"is an $O(M^{-2})$ correction per generation). The noise is unchanged at leading order. Since "
             r"$\nabla S = -\chi\theta$ for $S = A - \theta\cdot\mu$ (R9.entropy) and $\nabla(b\cdot\mu) = \chi b$, "
             r"this drift is $-\chi^{-1}\nabla V$ with", "V", V),
        Step("so the potential becomes $U + V$ (the temperature lowers it where the entropy is high when "
             r"$\kappa_T > 0$). The zero current of R9.stationary, $\nabla\ln p_{\mathrm{st}} = 2\chi a + "
             r"\nabla\ln\det\chi$, is linear in the drift $a$: the extra score $2\chi a$ is the gradient of",
             r"\ln\frac{p_{\mathrm{st}}^{T}(\theta)}{p_{\mathrm{st}}(\theta)}", log_factor),
        Step(r"so Eq. 18 gains the factor $e^{2\kappa_T(S - b\cdot\mu)}$:", r"\ln p^{T}_{\mathrm{st}}(\theta)",
             _short(log_p)),
        Step(("It is normalisable: " if norm is True else "It is not normalisable: " if norm is False
              else "Normalisable " if norm is not None else "Normalisability: ") + reason, None, None),
    ]
    return Derivation("R11.temperature.drift", fam.slug, title, tuple(steps),
                      {"applies": sp.true, "drift_mu_generation": extra_mu, "drift_tau": drift_tau,
                       "next_order": order2, "V": V, "log_factor": log_factor, "log_density": log_p,
                       "normalisable": norm if isinstance(norm, sp.Basic | bool) else sp.nan},
                      order=2)


def tempered_stationary_marginals(setting: Setting, kappa: float, grid):
    """Eq. 18 times the temperature's factor e^{2κ_T S} (R11.temperature.drift) at κ_T = ``kappa``
    (= M(T − 1) in the diffusion scaling) on a grid of θ, normalised on the grid: (density,
    {name: marginal}) as :func:`theory.results.general.stationary_marginals`."""
    d = temperature_drift(setting.for_derivations())
    if not d.result["applies"]:
        raise InputError(f"{setting.family.title}: the tempered model leaves the family; no stationary law")
    log_p = d.result["log_density"].subs(kappa_T, sp.nsimplify(kappa))
    truth = setting.truth_point
    if truth is not None:
        log_p = log_p.subs({S.starred(t): truth[t.name] for t in setting.family.theta})
    return stationary_marginals(setting, grid, log_p)


def _short(e):
    return e if e.has(sp.Sum) or sp.count_ops(e) > 200 else sp.simplify(e)


def _tempered_normalisable(setting: Setting, log_p, log_factor):
    """(decision, reason): True, False, a condition on κ_T (a SymPy relational), or None."""
    fam = setting.family
    if isinstance(fam.space, Finite | Levels):
        base = stationary(setting.for_derivations()).result["normalisable"]
        return base, (r"on a finite sample space $S$ is an entropy over finitely many configurations, "
                      r"$0 \le S \le \ln(\#\text{configurations})$, so the factor lies between two positive "
                      r"constants and the law is normalisable exactly when it is without the temperature "
                      r"(R9.stationary). In the diffusion scaling a temperature alone neither stops nor "
                      r"causes collapse.")
    if fam.d == 2 and setting.prior is None:
        found = normal_gamma(fam, sp.expand(log_p))
        if found is not None:
            _, params, _, _ = found
            conds = [params["kappa"] > 0, params["alpha"] > 0, params["beta"] > 0]
            cond = _with_signs(fam, sp.And(*[sp.simplify(c) for c in conds]))  # θ2* < 0
            return cond, (r"exactly when the normal–gamma law of the mean and the precision (matched as "
                          r"in R9.stationary) has a positive precision factor, shape $\alpha > 0$ and rate "
                          r"$\beta > 0$, "
                          r"here $\alpha = " + tex(sp.simplify(params["alpha"])) + r"$, $\beta = "
                          + tex(sp.simplify(params["beta"])) + r"$: the condition is $"
                          + tex(cond) + "$" + (r" (never, without external points: the factor "
                                                     r"cannot make the pure loop's law normalisable)"
                                                     if cond == sp.false else "") + ".")
    neg = {S.starred(t): -sp.Symbol(f"_u_{t.name}", positive=True) for t in fam.theta if t.name in fam.negative}
    back = {v: -k for k, v in neg.items()}
    ell, integrated = _integrate_gaussian_directions(fam, sp.expand(log_p.subs(neg)))
    remaining = [t for t in fam.theta if t not in integrated]
    parts = sp.Add.make_args(sp.expand(ell))
    if any(len(a.free_symbols & set(remaining)) > 1 for a in parts):
        return None, "the density does not factor over the parameters; not decided here."
    conds = []
    for t in remaining:
        part = sp.Add(*[a for a in parts if t in a.free_symbols])
        if t.name in fam.negative:  # θ = −y, y > 0
            y = sp.Symbol("_y", positive=True)
            cond = _integral_condition(part.subs(t, -y), y, sp.Integer(0), sp.oo)
        else:
            y = sp.Symbol("_y", real=True)
            cond = _integral_condition(part.subs(t, y), y, -sp.oo, sp.oo)
        if cond is None:
            return None, "SymPy did not decide the integral of the density."
        conds.append(cond)
    cond = sp.simplify(sp.And(*conds)).subs(back)
    text = (r"for no $\kappa_T$" if cond == sp.false else r"for every $\kappa_T$" if cond == sp.true
            else r"exactly when $" + tex(cond) + "$")
    how = (r" (the integral of the density over the natural domain, by SymPy"
           + (", after the Gaussian integral over $" + ", ".join(tex(t) for t in integrated) + "$"
              if integrated else "") + ")")
    if cond in (sp.true, sp.false):
        return bool(cond), text + how + "."
    return cond, text + how + ", with its convergence condition."


def _integrate_gaussian_directions(fam: ExponentialFamily, ell):
    """(ℓ with the parameters it is a concave quadratic in integrated out, those parameters):
    ∫ e^{a2 t² + a1 t + a0} dt = √(π/(−a2)) e^{a0 − a1²/(4 a2)} where a2 < 0 on the whole domain."""
    integrated = []
    for t in fam.theta:
        if not ell.has(t) or not sp.expand(ell).is_polynomial(t) or sp.degree(sp.expand(ell), t) != 2:
            continue
        a2, a1, a0 = sp.Poly(sp.expand(ell), t).all_coeffs()
        on_domain = {x: -sp.Symbol(f"_v_{x.name}", positive=True) for x in fam.theta if x.name in fam.negative}
        if sp.simplify(a2.subs(on_domain)).is_negative is not True:
            continue
        ell = sp.expand(a0 - a1**2 / (4 * a2) + sp.log(sp.pi / (-a2)) / 2)
        integrated.append(t)
    return ell, integrated


def _integral_condition(ell, y, lo, hi):
    """The condition (on κ_T) for ∫_lo^hi e^{ℓ(y)} dy < ∞, or None: SymPy's integral with its
    convergence condition, else each end's power law, ℓ = α ln|y − e| + O(1) (finite end e:
    α > −1) or ℓ = α ln y + O(1), or a linear decay, at infinity (α < −1)."""
    integral = sp.integrate(_as_powers(ell, y), (y, lo, hi), conds="piecewise")
    pieces = integral.args if isinstance(integral, sp.Piecewise) else ((integral, sp.true),)
    if not all(e.has(sp.Integral) for e, _ in pieces):
        good = [c for e, c in pieces if not e.has(sp.Integral, sp.oo, -sp.oo, sp.zoo) and e != 0]
        return sp.Or(*good) if good else sp.false
    conds = []
    for end, side in ((lo, "+"), (hi, "-")):
        try:
            if end.is_finite:
                gap = sp.log(sp.Abs(y - end))
                alpha = sp.limit(ell / gap, y, end, side)
                rest = sp.limit(sp.expand_log(ell - alpha * gap, force=True), y, end, side)
                conds.append(sp.true if rest == -sp.oo else sp.false if rest == sp.oo else
                             (alpha > -1) if rest.is_finite else None)
            else:
                slope = sp.limit(ell / sp.Abs(y), y, end)
                if slope.is_negative:
                    conds.append(sp.true)
                    continue
                alpha = sp.limit(ell / sp.log(sp.Abs(y)), y, end)
                conds.append(sp.false if slope.is_positive else (alpha < -1))
        except (NotImplementedError, ValueError, TypeError):
            return None
    if any(c is None for c in conds):
        return None
    return sp.And(*conds)


def _exp_as_powers(e):
    """e^{Σ c_i ln x_i + r} as Π x_i^{c_i} e^{r}."""
    out = sp.Integer(1)
    for term in sp.Add.make_args(sp.expand(e.args[0])):
        c, rest = term.as_independent(sp.log)
        out *= rest.args[0] ** c if isinstance(rest, sp.log) else sp.exp(term)
    return out


def _as_powers(log_density, y):
    """e^{log_density} with each c·ln y written y^c, so SymPy integrates the power law with its condition."""
    out = sp.Integer(1)
    for a in sp.Add.make_args(sp.expand(sp.expand_log(log_density, force=True))):
        c, rest = a.as_independent(y)
        out *= y**c if isinstance(rest, sp.log) and rest.args[0] == y else sp.exp(a)
    return out


def _with_signs(fam: ExponentialFamily, cond):
    """A condition simplified with the truth's negative parameters known negative (θ2* < 0)."""
    if cond in (sp.true, sp.false):
        return cond
    neg = {S.starred(t): -sp.Symbol(f"_u_{t.name}", positive=True) for t in fam.theta if t.name in fam.negative}
    return sp.simplify(cond.subs(neg)).subs({v: -k for k, v in neg.items()})


# --- the M → ∞ map and its fixed points --------------------------------------------------------
@result("R11.temperature.fixed_points")
def temperature_fixed_points(family: ExponentialFamily) -> Derivation:
    """R11.temperature.fixed_points: the deterministic map, its derivative, the pitchfork at a truth
    fixed by the tempering, and (for one parameter) the saddle-node condition."""
    title = "Temperature: the deterministic map at finite T, collapse and heat death"
    tmap = temperature_map(family)
    if not tmap.result["stays"]:
        return _does_not_apply("R11.temperature.fixed_points", family, title,
                               "the tempered model leaves the family (R11.temperature.map).")
    mu_T = tmap.result["mu_T"]
    mu_star = sp.Matrix([family.starred(e) for e in family.mu])
    new_mu = (1 - lam_ext) * mu_T + lam_ext * mu_star
    # derivative of the map in μ at a fixed point: dμ'/dμ = (1 − λ) χ(θ_T) (∂θ_T/∂θ) χ(θ)⁻¹
    jac_theta = (1 - lam_ext) * mu_T.jacobian(family.theta)
    steps = [Step(r"As $M\to\infty$ at a fixed fraction $\lambda$ of external points (fresh, from the truth "
                  r"$\theta^*$), the refit is the mean of the data the loop sees:", r"\mu_{t+1}", show(new_mu)),
             Step(r"Its derivative is $D = (1-\lambda)\,\partial\mu(\theta_T)/\partial\theta\;\chi(\theta)^{-1}$, "
                  r"a fixed point is stable when the spectral radius of $D$ is below 1. The external fraction is",
                  r"\lambda",
                  m_ext / (S.M + m_ext))]
    res = {"applies": sp.true, "map_mu": new_mu, "jacobian_theta": jac_theta}
    b = tmap.result["b"]
    centre = -b  # θ_T(θ) = θ for every T at θ = −b: the maximum-entropy member when b = 0
    if family.d == 1:
        D = jac_theta[0, 0] / family.chi[0, 0]
        D = D if D.has(sp.Sum) else sp.simplify(D)
        steps.append(Step("For one parameter", "D(\\theta)", D))
        at = {family.theta[0]: centre[0]}
        pitch = sp.simplify(D.subs(at).doit())
        lam_p = sp.solve(sp.Eq(pitch, 1), lam_ext)
        res |= {"derivative": D, "derivative_at_centre": pitch}
        steps.append(Step(r"A truth at $\theta^* = " + tex(centre[0]) + r"$ is fixed by the tempering for "
                          r"every $T$ (the maximum-entropy member when $b = 0$), so it is a fixed point of the "
                          r"map for every $\lambda$, with", r"D(\theta^*)", pitch))
        inside = family.theta[0].name not in family.negative or bool(centre[0] < 0)  # a member?
        if len(lam_p) == 1 and inside:
            res["pitchfork_lambda"] = lam_p[0]
            steps.append(Step("It loses stability where $D = 1$, a pitchfork (the map is odd about it when the "
                              "family is symmetric): the threshold between a stationary loop and collapse is",
                              r"\lambda_{\mathrm{c}}", lam_p[0]))
        elif len(lam_p) == 1:
            res["heat_death_lambda"] = lam_p[0]
            steps.append(Step(r"This point is the end of the natural domain, where the entropy is infinite: "
                              r"while $D < 1$ there the loop has a stable fixed point, and below the threshold "
                              r"the fixed point escapes to infinite entropy (heat death):",
                              r"\lambda_{\mathrm{h}}", lam_p[0]))
        fixed_lam = sp.simplify((family.mu[0] - mu_T[0]) / (mu_star[0] - mu_T[0]))
        res["fixed_point_lambda"] = fixed_lam
        steps.append(Step(r"For any other truth the fixed points $\theta$ of the map are where", r"\lambda",
                          fixed_lam))
        steps.append(Step(r"and two of them merge (a saddle-node) where also $D(\theta) = 1$: the curve "
                          r"$\lambda_{\mathrm{c}}(T)$ below which a second stable fixed point appears on the "
                          r"far side of the maximum-entropy member is found by solving both equations "
                          r"numerically (theory.results.operators.phase_boundary).", None, None))
    else:
        mu_syms = sp.Matrix(family.mu_symbols)
        inv = family.mu_inverse
        if inv is not None:
            in_mu = new_mu.subs(inv, simultaneous=True).applyfunc(sp.simplify)
            in_mu = in_mu.subs({t: inv[t] for t in family.theta}, simultaneous=True).applyfunc(sp.simplify)
            rational = all(e.is_rational_function(*mu_syms) for e in in_mu)
            sols = sp.solve(list(in_mu - mu_syms), list(mu_syms), dict=True) if rational else []
            J = in_mu.jacobian(mu_syms)
            if len(sols) == 1:
                fixed = mu_syms.subs(sols[0])
                eig = list(J.subs(sols[0]).applyfunc(sp.simplify).eigenvals())
                res |= {"fixed_point_mu": fixed, "eigenvalues": sp.Matrix(eig)}
                steps.append(Step("In the expectation parameters the map has the single fixed point",
                                  r"\mu_{\mathrm{fixed}}", fixed.applyfunc(sp.factor)))
                for n, (name, e) in enumerate(family.conventional.items()):
                    at_fixed = family.in_mu(e)
                    at_fixed = None if at_fixed is None else sp.simplify(
                        at_fixed.subs(dict(zip(family.mu_symbols, fixed, strict=True)), simultaneous=True))
                    shown = None if at_fixed is None else conventional_form(family, at_fixed)
                    if shown is not None:
                        steps.append(Step("that is, in the conventional parameters (the truth's starred)," if n == 0
                                          else "", sp.Symbol(f"{name}_fixed"), sp.factor(shown)))
                steps.append(Step("with the eigenvalues of its derivative", r"\operatorname{eig} D",
                                  sp.Matrix(eig).T))
                escape = [sp.solve(sp.Eq(e, 1), lam_ext) for e in eig if e.has(T_sym)]
                if escape and len(escape[0]) == 1:
                    res["heat_death_lambda"] = escape[0][0]
                    steps.append(Step("It is stable, and the loop stationary, while every eigenvalue is below 1; "
                                      "at the threshold the fixed point escapes to infinite entropy (heat death):",
                                      r"\lambda_{\mathrm{h}}", escape[0][0]))
        inside = all(bool(c < 0) for c, t in zip(centre, family.theta, strict=True) if t.name in family.negative)
        if "fixed_point_mu" not in res and inside:
            # a truth at the centre is fixed for every T; there D = (1 − λ) J_T χ⁻¹, a multiple of 1?
            at = dict(zip(family.theta, centre, strict=True))
            D = (jac_theta.subs(at).doit() * inverse(family.chi.subs(at).doit())).applyfunc(sp.simplify)
            scale = D[0, 0]
            if D == scale * sp.eye(family.d):
                lam_p = sp.solve(sp.Eq(scale, 1), lam_ext)
                res |= {"derivative_at_centre": scale}
                steps.append(Step(r"A truth at $\theta^* = " + tex(centre.T) + r"$ (the maximum-entropy member "
                                  r"when $b = 0$) is a fixed point for every $T$ and $\lambda$, where the derivative "
                                  r"is a multiple of the identity,", r"D(\theta^*)", scale))
                if len(lam_p) == 1:
                    res["pitchfork_lambda"] = lam_p[0]
                    steps.append(Step("so it loses stability in every direction at once where", r"\lambda_{\mathrm{c}}",
                                      lam_p[0]))
        if "fixed_point_mu" not in res:
            steps.append(Step("SymPy finds no closed form of the fixed points for other truths; they are not "
                              "derived here.", None, None))
    res["centre"] = centre
    return Derivation("R11.temperature.fixed_points", family.slug, title, tuple(steps), res)


def _theta_grid(family: ExponentialFamily) -> np.ndarray:
    """θ over the natural domain, dense near 0, without θ = 0 itself (a root there is bracketed) and
    within |θ| ≤ 30, where μ has not yet saturated in float64."""
    if family.theta[0].name in family.negative:
        return -np.exp(np.linspace(-25, 25, 6000))
    return np.sinh(np.linspace(-np.arcsinh(30), np.arcsinh(30), 6000))


def _one_parameter_map(family: ExponentialFamily, truth: float):
    """(h, D): h(θ) = μ'(θ) − μ(θ) of the M → ∞ map at (T, λ) and its derivative D(θ), numerical."""
    d = temperature_fixed_points(family).result
    name = family.names[0]
    star = S.starred(family.theta[0]).name

    def h(theta, T, lam):
        values = {name: theta, "T": T, "lambda_ext": lam, star: truth}
        return evaluate(d["map_mu"][0], values) - evaluate(family.mu[0], {name: theta})

    def D(theta, T, lam):
        return evaluate(d["derivative"], {name: theta, "T": T, "lambda_ext": lam})
    return h, D


def fixed_points(family: ExponentialFamily, T: float, lam: float, truth: float) -> list[tuple[float, bool]]:
    """The fixed points θ of the one-parameter M → ∞ map μ' = (1 − λ)μ(θ_T) + λμ(θ*) and whether each
    is stable (D < 1), by bracketing the sign changes of μ' − μ on a grid and Brent's method."""
    from scipy.optimize import brentq

    h, D = _one_parameter_map(family, truth)
    grid = _theta_grid(family)
    with np.errstate(all="ignore"):
        values = np.broadcast_to(h(grid, T, lam), grid.shape)
    out = []
    for i in np.flatnonzero(values[:-1] * values[1:] < 0):
        root = brentq(lambda x: float(h(x, T, lam)), grid[i], grid[i + 1], xtol=1e-13)
        out.append((float(root), bool(float(D(root, T, lam)) < 1)))
    return out


ROUNDING = 1e-12  # relative: a spectral radius this close to 1 is taken as 1 (phase)


def phase(T: float, lam: float, family: ExponentialFamily, truth: dict | float) -> str:
    """'collapse', 'stationary' or 'heat death' of the M → ∞ loop at temperature T with a fraction
    λ = m/(M + m) of fresh external points from the truth.

    λ = 0: T < 1 is collapse (θ_t = θ_0/T^t runs to a vertex, or the variance to 0), T > 1 heat death
    (θ_t → the maximum-entropy member, or the entropy → ∞), T = 1 collapse (the map is the identity:
    at finite M the pure loop is absorbed, R6). λ > 0: from the fixed points of the map and their
    stability (R11.temperature.fixed_points): none stable is heat death (the fixed point has escaped to
    infinite entropy: Gaussian for (1 − λ)T ≥ 1); exactly one stable is stationary (the loop settles
    near it for every start); two or more stable is collapse (bistable: a loop started near a vertex,
    or pushed there by finite-M noise, stays near it, on the far side of the maximum-entropy member
    from the truth; with p* = 1/2 the truth itself is unstable). ``truth``: the truth's natural
    parameters by name (or θ* for one parameter).
    """
    if not 0 <= lam < 1 or not T > 0:
        raise InputError(f"phase needs T > 0 and 0 <= lambda < 1, got T={T}, lambda={lam}")
    if lam == 0:
        return "heat death" if T > 1 else "collapse"
    d = temperature_fixed_points(family)
    if not d.result.get("applies", True):
        raise InputError(f"{family.title}: the tempered model leaves the family; no phase is derived")
    point = _truth(family, truth)
    if family.d == 1:
        stable = sum(s for _, s in fixed_points(family, T, lam, point[family.names[0]]))
        return "heat death" if stable == 0 else "stationary" if stable == 1 else "collapse"
    if "eigenvalues" not in d.result:
        raise InputError(f"{family.title}: the fixed points of the tempered map are not derived")
    args = (T_sym, lam_ext, *(S.starred(t) for t in family.theta))
    eigenvalues = compiled(sp.ImmutableMatrix(d.result["eigenvalues"]), args)
    # complex arguments: an eigenvalue may be complex (a square root of a negative number)
    values = [complex(T), complex(lam), *(complex(point[t.name]) for t in family.theta)]
    radius = float(np.max(np.abs(eigenvalues(*values))))
    # a radius within rounding of 1 is on the boundary, which is heat death (Gaussian: (1 − λ)T ≥ 1);
    # floating point lands either side of it on grids where T(1 − λ) = 1 exactly (T = 1.6, λ = 0.375)
    return "stationary" if radius < 1 - ROUNDING else "heat death"


def _truth(family: ExponentialFamily, truth) -> dict[str, float]:
    if isinstance(truth, int | float) and family.d == 1:
        return {family.names[0]: float(truth)}
    return family.natural_point(dict(truth))


def _saddle_node(family: ExponentialFamily, T: float, theta_star: float) -> float:
    """The largest λ in (0, 1) where two fixed points of the one-parameter map merge: on the fixed-point
    curve λ(θ) (R11.temperature.fixed_points) the θ with D(θ, λ(θ)) = 1, by Brent's method; NaN if none."""
    from scipy.optimize import brentq

    d = temperature_fixed_points(family).result
    name, star = family.names[0], S.starred(family.theta[0]).name

    def lam_of(x):
        return evaluate(d["fixed_point_lambda"], {name: x, "T": T, star: theta_star})

    def slope_gap(x):
        return evaluate(d["derivative"], {name: x, "T": T, "lambda_ext": lam_of(x)}) - 1

    grid = _theta_grid(family)
    with np.errstate(all="ignore"):
        lam_grid = np.broadcast_to(lam_of(grid), grid.shape)
        gap = np.broadcast_to(slope_gap(grid), grid.shape)
    ok = np.isfinite(gap) & (lam_grid > 0) & (lam_grid < 1)
    found = [float(lam_of(brentq(lambda x: float(slope_gap(x)), grid[j], grid[j + 1], xtol=1e-13)))
             for j in np.flatnonzero(ok[:-1] & ok[1:] & (np.sign(gap[:-1]) != np.sign(gap[1:])))]
    return max(found) if found else np.nan


def phase_boundary(family: ExponentialFamily, truth: dict | float, temperatures) -> dict[str, np.ndarray]:
    """The boundaries in the (T, λ) plane at the given temperatures (NaN where there is none):
    ``collapse``: λ_c(T), below which the loop collapses (the pitchfork λ = 1 − T·D-threshold where the
    truth is the maximum-entropy member, else the saddle-node of μ' = μ, D = 1, solved numerically);
    ``heat_death``: λ_h(T), below which the fixed point has escaped (derived closed form where the
    family has one; for one parameter, λ with D = 1 at the domain's infinite-entropy end)."""

    d = temperature_fixed_points(family).result
    if not d.get("applies", True):
        raise InputError(f"{family.title}: the tempered model leaves the family; no boundary is derived")
    temps = np.asarray(temperatures, float)
    collapse = np.full(temps.shape, np.nan)
    heat = np.full(temps.shape, np.nan)
    point = _truth(family, truth)
    if "heat_death_lambda" in d:
        lam_h = sp.lambdify(T_sym, d["heat_death_lambda"], "numpy")
        heat = np.where(temps > 1, np.broadcast_to(lam_h(temps), temps.shape), np.nan)
    if family.d != 1:
        return {"T": temps, "collapse": collapse, "heat_death": heat}
    name = family.names[0]
    theta_star = point[name]
    centre = float(d["centre"][0])
    if abs(theta_star - centre) < 1e-12 and "pitchfork_lambda" in d:
        lam_p = sp.lambdify(T_sym, d["pitchfork_lambda"], "numpy")
        collapse = np.where(temps < 1, np.broadcast_to(lam_p(temps), temps.shape), np.nan)
    else:
        collapse = np.array([_saddle_node(family, float(T), theta_star) if T < 1 else np.nan for T in temps])
    return {"T": temps, "collapse": collapse, "heat_death": heat}


# --- truncation ------------------------------------------------------------------------------------
def _saturated(family: ExponentialFamily) -> bool:
    """A finite family containing every law on its levels (Bernoulli, categorical): the ML refit of a
    truncated model is the truncated model itself."""
    return isinstance(family.space, Finite) and len(family.space.levels) == family.d + 1


@result("R11.truncation")
def truncation(family: ExponentialFamily) -> Derivation:
    """R11.truncation: the support after repeated top-k/top-p truncation at M = ∞ and the absorption
    that follows at finite M."""
    title = "Top-k and top-p truncation: the support and absorption"
    if not isinstance(family.space, Finite | Levels):
        return _does_not_apply("R11.truncation", family, title, "top-k and top-p truncate a finite sample "
                               "space; this family's is infinite.")
    C_n, C_prev, p_n = sp.symbols("C_n C_{n-1} p_{(n)}", positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    # the nucleus of the renormalised nucleus: masses C_j/C_n, so it is the first j with C_j ≥ P C_n
    fixed = C_prev < P_top * C_n  # n is its own nucleus: C_{n-1} < P C_n, with C_{n-1} = C_n − p_(n)
    cond = sp.solve(fixed.subs(C_prev, C_n - p_n), p_n)
    cond = cond.func(cond.lhs, sp.factor(cond.rhs))
    zipf_s = S.symbol("s_zipf", "s", positive=True)
    i, K = sp.Symbol("i", integer=True, positive=True), sp.Symbol("K", integer=True, positive=True)
    zipf = sp.Sum(i ** -zipf_s, (i, 1, j)) / sp.Sum(i ** -zipf_s, (i, 1, K))
    steps = [
        Step(r"Sort the levels by probability, $p_{(1)} \ge p_{(2)} \ge \dots$, with cumulative masses "
             r"$C_j = \sum_{i\le j} p_{(i)}$ (ties in the level order). Top-$k$ keeps the $k$ most probable "
             r"levels, top-$p$ the smallest $n$ with $C_n \ge P$, each renormalised.", None, None)]
    res = {"applies": sp.true}
    if not _saturated(family):
        steps.append(Step("This family does not contain the truncated law: at $M = \\infty$ the refit is the "
                          "member with the truncated law's mean, again of full support, so truncation moves the "
                          "mean (a map $\\mu \\mapsto \\mathbb{E}_{\\mathrm{trunc}}[\\phi]$) rather than the "
                          "support; the support law below holds for a saturated family (Bernoulli, "
                          "categorical) and, at finite $M$, for the levels the refit can reach only through "
                          "the data.", None, None))
    steps += [
        Step(r"At $M = \infty$ (saturated family) the refit is the truncated law itself and keeps the order "
             r"of the levels. Top-$k$ is then idempotent: the support is the $k$ most probable levels after "
             r"one generation and never changes. Under top-$p$ the renormalised nucleus of $n$ levels has "
             r"masses $C_j/C_n$, so its nucleus has", r"n_{t+1}",
             r"\min\{j : C_j \ge P\,C_{n_t}\} \le n_t"),
        Step(r"a non-increasing sequence, which stops at the first $n$ whose nucleus is itself: "
             + tex(fixed) + ", that is", None, cond),
        Step(r"so the support at $M = \infty$ is the first fixed point of $n \mapsto \min\{j : C_j \ge P C_n\}$ "
             r"reached from $n_1 = \min\{j : C_j \ge P\}$, after as many generations as steps "
             r"(theory.results.operators.truncation_supports). For a Zipf law $p_{(j)} \propto j^{-s}$ on $K$ "
             r"levels,", "C_j", zipf),
        Step(r"(the numerator is the generalised harmonic number $H_{j,s}$), so $n$ is a fixed support "
             r"size exactly when "
             r"$n^{-s} > (1-P)\,H_{n,s}$: true for $n = 1$ and for small $n$, false once $n^{s}H_{n,s}$ exceeds "
             r"$1/(1-P)$; the loop stops at the first such $n$ below $n_1$.", None, None),
        Step(r"At finite $M$ the refit gives zero mass to every level not drawn, and a level outside the "
             r"truncated support is never drawn: without external points a level dropped never returns, "
             r"and the support only shrinks. Given the survivors $\mathcal{S}_t$, the ML refit has "
             r"$\mathbb{E}[p_{t+1,i}\mid\mathcal{F}_t] = q_{t,i} = p_{t,i}/\sum_{j\in\mathcal{S}_t}p_{t,j}$: "
             r"the survivors' renormalised masses are a martingale while the truncation keeps every drawn "
             r"level (top-$k$ once at most $k$ levels remain); top-$p$ also cuts the least probable level "
             r"whenever its mass falls below $1 - P$, so its survivors' masses are a martingale only between "
             r"cuts. With either operator the loop is absorbed at a single level with probability 1; under "
             r"top-$k$ at level $i$ with probability $\mathbb{E}\,q_{\tau,i}$, $\tau$ the first generation "
             r"with at most $k$ survivors (from then on the pure loop's martingale).", None, None),
    ]
    res["fixed_condition"] = cond
    return Derivation("R11.truncation", family.slug, title, tuple(steps), res)


def truncation_supports(probabilities, top_k: int | None = None, top_p: float | None = None,
                        generations: int = 50) -> list[tuple[int, ...]]:
    """The support (level indices, most probable first) after each generation 1..``generations`` of the
    M = ∞ loop of a saturated family under top-k then top-p: each generation truncates the refitted
    law, renormalises, and the refit is that law (R11.truncation). Ties are broken by level order."""
    p = np.asarray(probabilities, float)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1):
        raise InputError("truncation_supports needs probabilities that sum to 1")
    out = []
    for _ in range(generations):
        order = np.argsort(-p, kind="stable")
        keep = order[p[order] > 0]
        if top_k is not None:
            keep = keep[:top_k]
        if top_p is not None:
            cum = np.cumsum(p[keep]) / p[keep].sum()
            keep = keep[:int(np.searchsorted(cum, top_p - 1e-12) + 1)]
        q = np.zeros_like(p)
        q[keep] = p[keep] / p[keep].sum()
        p = q
        out.append(tuple(int(i) for i in keep))
    return out


def fixed_support(probabilities, top_k: int | None = None, top_p: float | None = None) -> tuple[tuple[int, ...], int]:
    """(the support the M = ∞ truncation loop settles on, the first generation it is reached)."""
    supports = truncation_supports(probabilities, top_k, top_p, generations=len(probabilities) + 2)
    final = supports[-1]
    return final, next(i for i, s in enumerate(supports, start=1) if s == final)


# --- selection --------------------------------------------------------------------------------------
@functools.cache
def truncated_normal_moments():
    """(mass, first, second moment) of a standard normal beyond z, ∫_z^∞ x^k φ(x) dx, by SymPy."""
    x = sp.Symbol("_x", real=True)
    phi = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)
    return tuple(sp.simplify(sp.integrate(x**k * phi, (x, z_sel, sp.oo))) for k in range(3))


@functools.cache
def selection_laws() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """(mean shift, variance factor) of the kept points in units of σ, per statistic, in the kept
    fraction f and the threshold z: the tail mass ∫_z^∞ φ = erfc(z/√2)/2 is f/2 for |x − mean| (both
    tails: the mean stays, the factor is E[Z² | |Z| > z]) and f one-sided (E[Z | Z > z], Var[Z | Z > z])."""
    mass, first, second = truncated_normal_moments()
    erfc = sp.erfc(sp.sqrt(2) * z_sel / 2)
    out = {}
    for by, tail in (("abs_deviation", f_sel / 2), ("largest", f_sel)):
        m0, m1, m2 = (e.subs(erfc, 2 * tail) for e in (mass, first, second))
        if m0 != tail:
            raise AssertionError("the tail mass is not erfc(z/√2)/2")
        mean = sp.Integer(0) if by == "abs_deviation" else sp.simplify(m1 / m0)
        out[by] = (mean, sp.simplify(m2 / m0 - mean**2))
    out["smallest"] = (-out["largest"][0], out["largest"][1])
    return out


@result("R11.selection")
def selection(family: ExponentialFamily) -> Derivation:
    """R11.selection: the per-generation mean shift and variance factor of the Gaussian under selection."""
    title = "Selection: the variance and mean per generation"
    if family.name != "gaussian":
        return _does_not_apply("R11.selection", family, title, "derived for the Gaussian, whose kept draws "
                               "follow a truncated normal law; for this family the engine simulates the "
                               "selection by drawing the larger sample.")
    shown = selection_laws()
    mass, first, second = truncated_normal_moments()
    gen = S.symbol("kgen", "k", integer=True, positive=True)
    c = sp.Symbol("c", positive=True)
    accumulate = sp.simplify(c * sp.product((gen - 1 + c) / gen, (gen, 2, S.t)))
    # one-sided under replace: mean_t − mean_0 = σ_0 m Σ_{k<t} v^{k/2}, v < 1 the variance factor
    v, shift = sp.Symbol("v", positive=True), sp.Symbol("m_f", positive=True)
    drift_total = sp.simplify(shift * sp.summation(sp.sqrt(v) ** gen, (gen, 0, sp.oo)).args[0][0])
    steps = [
        Step(r"Selection draws $\lceil M/f\rceil$ points from the model $\mathcal{N}(\mathrm{mean}, \sigma^2)$ "
             r"and keeps the $M$ with the largest statistic. As $M\to\infty$ the kept points are draws "
             r"from the normal beyond the $(1-f)$ quantile of the statistic; with $Z$ standard normal, "
             r"the tail integrals are", r"\int_z^\infty (1, x, x^2)\,\varphi(x)\,dx",
             sp.Matrix([mass, first, second]).T),
        Step(r"By $|x-\mathrm{mean}|$ both tails are kept, $2\int_z^\infty\varphi = f$, the mean is unchanged "
             r"by symmetry and the variance is multiplied by", r"c(f) = \mathbb{E}[Z^2\mid |Z| > z]",
             shown["abs_deviation"][1]),
        Step(r"($\varphi$ the standard normal density, $z = \Phi^{-1}(1 - f/2)$): $c(f) > 1$ for $f < 1$, so "
             r"under replace the variance grows as $c(f)^t$, the opposite of collapse. By the largest "
             r"values, $\int_z^\infty\varphi = f$, the mean moves by $\sigma$ times",
             r"\mathbb{E}[Z\mid Z > z]", shown["largest"][0]),
        Step(r"and the variance is multiplied by", r"\operatorname{Var}[Z\mid Z > z]", shown["largest"][1]),
        Step(r"($z = \Phi^{-1}(1-f)$; by the smallest values the same factor and the opposite shift), so under "
             r"replace $\sigma_t = \sigma_0 v^{t/2}$ shrinks geometrically while the mean drifts by "
             r"$\sigma_t\,\mathbb{E}[Z\mid Z>z]$ per generation. The refit's ML variance of the $M$ kept points "
             r"carries the factor $(M-1)/M$ and the random threshold (an order statistic of the larger "
             r"draw) a further $O(1/M)$: the factors above are exact as $M\to\infty$, with corrections "
             r"of order $1/M$ per generation.", None, None),
        Step(r"With $v$ that factor and $m_f = \mathbb{E}[Z\mid Z>z]$ the shift, the mean moves in all by "
             r"$\sigma_0 m_f\sum_{k\ge0} v^{k/2}$:", r"\frac{\mathrm{mean}_\infty - \mathrm{mean}_0}{\sigma_0}",
             drift_total),
        Step(r"Under accumulate with $|x - \mathrm{mean}|$ (the batches share the pool's mean, to $O(1/M)$), "
             r"generation $k$ adds $M$ points of variance $c\,v_{k-1}$ to a pool of $(k-1)M$ of variance "
             r"$v_{k-1}$: $v_k = v_{k-1}(k - 1 + c)/k$ and $v_1 = c\,v_0$, so", r"\frac{v_t}{v_0}", accumulate),
        Step(r"a power law $v_t \sim v_0\,t^{c-1}/\Gamma(c)$ instead of the geometric $c^t$ of replace. The "
             r"one-sided statistics move each batch's mean, so their pool variance also collects the spread "
             r"of the batch means; it is not derived here (replace only).", None, None),
        Step(r"With a temperature as well, the tempered Gaussian is $\mathcal{N}(\mathrm{mean}, T\sigma^2)$ "
             r"(R11.temperature.map): the factors multiply $T\sigma^2$.", None, None),
    ]
    res = {"applies": sp.true, "variance_factor_abs_deviation": shown["abs_deviation"][1],
           "mean_shift_largest": shown["largest"][0], "variance_factor_one_sided": shown["largest"][1],
           "accumulate_abs_deviation": accumulate, "mean_limit_one_sided": drift_total}
    return Derivation("R11.selection", family.slug, title, tuple(steps), res)


def selection_threshold(f: float, by: str) -> float:
    """z with the kept mass f: Φ⁻¹(1 − f/2) by |x − mean|, Φ⁻¹(1 − f) one-sided."""
    from scipy.stats import norm

    if not 0 < f <= 1:
        raise InputError(f"selection fraction f must be in (0, 1], got {f}")
    return float(norm.isf(f / 2 if by == "abs_deviation" else f))


def selection_factor(f: float, by: str) -> dict[str, float]:
    """One generation of the Gaussian under selection as M → ∞ (R11.selection evaluated):
    ``variance_factor`` σ²_{t+1}/σ²_t and ``mean_shift`` (mean_{t+1} − mean_t)/σ_t (positive for
    ``largest``, negative for ``smallest``, 0 for ``abs_deviation``); finite-M corrections O(1/M)."""
    if by not in ("abs_deviation", "largest", "smallest"):
        raise InputError(f"selection by {by!r}: known abs_deviation, largest, smallest")
    shift, factor = selection_laws()[by]
    values = {z_sel: selection_threshold(f, by), f_sel: f}
    return {"variance_factor": float(factor.subs(values)), "mean_shift": float(shift.subs(values))}


def selection_variance(f: float, by: str, t, regime: str = "replace") -> np.ndarray:
    """σ²_t/σ²_0 of the Gaussian under selection at generations ``t`` as M → ∞: v^t under replace
    (v the variance factor); under accumulate, for abs_deviation only, Γ(t + c)/(Γ(c)Γ(t + 1))
    (R11.selection's product, c = c(f))."""
    from scipy.special import gammaln

    t = np.asarray(t, float)
    v = selection_factor(f, by)["variance_factor"]
    if regime == "replace":
        return v ** t
    if regime != "accumulate" or by != "abs_deviation":
        raise InputError("the accumulate law of selection is derived for --by abs_deviation only")
    return np.exp(gammaln(t + v) - gammaln(v) - gammaln(t + 1))


# --- which results an operator has ------------------------------------------------------------------
TEMPERATURE_IDS = ("R11.temperature.map", "R11.temperature.drift", "R11.temperature.fixed_points")


def operator_results(operator) -> tuple[str, ...]:
    """The R11 ids that describe a declared :class:`~theory.operator.Operator` (none for the identity)."""
    ids: tuple[str, ...] = ()
    if operator.temperature is not None:
        ids += TEMPERATURE_IDS
    if operator.truncates:
        ids += ("R11.truncation",)
    if operator.select is not None:
        ids += ("R11.selection",)
    return ids
