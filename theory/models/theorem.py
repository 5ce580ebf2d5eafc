"""Which statistics stay martingales under closed-loop maximum likelihood beyond exponential families.

**Theorem.** Let the complete-data model of (x, z) (z latent: a mixture's component, an RBM's
hidden units) be an exponential family p_η(x, z) = h(x, z) exp(η·T(x, z) − A(η)), and let
g(x) = c·T(x, z) be a fixed linear combination of its statistics whose value does not depend on
z. Suppose the direction c is free: η + s c is a parameter of the model for every small s (the
natural parameter along c is neither fixed nor constrained, and not on a boundary). Then

1. at every stationary point θ̂ of the marginal likelihood ℓ(η) = Σ_i log Σ_z p_η(x_i, z) (a
   global or local maximum, a saddle, an EM fixed point): E_θ̂[g(X)] = (1/n) Σ_i g(x_i);
2. after every exact M-step of EM (from any responsibilities, converged or not):
   E_η'[g(X)] = (1/n) Σ_i g(x_i);

so in the closed loop (x_1..x_M drawn from the generation t−1 model, refitted) E_{θ_t}[g] is a
martingale: E[E_{θ_t}[g] | θ_{t−1}] = E_{θ_{t−1}}[g].

*Proof.* ∂ℓ/∂η along c is Σ_i (E_η[c·T | x_i] − E_η[c·T]) = Σ_i g(x_i) − n E_η[g], since c·T =
g(x) is known given x; it vanishes at a stationary point. The M-step maximises Q(η) = η·Σ_i
E_old[T | x_i] − n A(η); its condition ∇A(η') = (1/n) Σ_i E_old[T | x_i], projected on c, is the
same equation. The draws of generation t have mean E_{θ_{t−1}}[g]. □

**A second martingale: one EM iteration.** For any statistic T_j (z-dependent too: a mixture's
weight 1[z = k], its weighted mean 1[z = k] x), one EM iteration warm-started at the generating
parameter θ_{t−1} gives E[E_{θ_t}[T_j]] = E_{θ_{t−1}}[E_{θ_{t−1}}[T_j | X]] = E_{θ_{t−1}}[T_j]:
the weights w_k and the products w_k m_k are martingales of that loop. Iterating EM to
convergence replaces θ_{t−1} in the responsibilities by the fit itself, and the property is lost:
the converged weights drift (shown by simulation in theory.validate.mixkde_checks). Ratios such
as m_k = (w_k m_k)/w_k are martingales of neither loop.

**Where the exponential-family results do not carry over.**

* statistics that depend on z (weights, component means and variances) at a converged fit: no
  martingale (above);
* a constrained direction: component variances held fixed, or tied to a given value, break
  E[x²] = mean of x², and with it the total-variance law; a variance *floor* that binds does
  the same (this package drops a singular component instead, which keeps every M-step exact);
* a fit that is not a stationary point nor an M-step: a gradient ascent stopped early (the RBM),
  a generalised EM whose M-step only improves Q;
* the laws of second order: the exponential family's exact R1–R8 rest on θ ↦ μ being a
  bijection of one model; a mixture's total variance follows the Gaussian's law only because
  mean and E[x²] are both covered, and the individual components carry no law;
* absorption: components collapse (v_k → 0, w_k → 0 are boundaries where the likelihood is
  unbounded or the parameter undefined); a mixture reduced to one component is a Gaussian for
  good, unlike an exponential family, whose boundary is a point mass of its own;
* estimators that are not maximum likelihood: a KDE matches the data's mean but adds h² to
  its variance (theory.models.moment_laws).

Note that running EM *longer* is not what the mean and E[x²] need: one exact M-step is enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..derivation import Derivation, Step
from ..diskcache import cached_law
from ..store import record

RESULT_ID = "R12.theorem"


@dataclass(frozen=True)
class Coverage:
    """One statistic of one model class: is its model expectation a martingale of the closed
    loop, by which mechanism, under which condition."""

    statistic: str
    martingale: bool
    mechanism: str
    condition: str


THEOREM = "z-free statistic with a free natural parameter: E_fit[g] = sample mean of g"
ONE_ITERATION = "one EM iteration warm-started at the generating model: E[E_old[T | X]] = E_old[T]"

COVERAGE: dict[str, tuple[Coverage, ...]] = {
    "gaussian_mixture": (
        Coverage("mean = E[x]", True, THEOREM, "x = Σ_k 1[z=k] x; every exact M-step, converged or not"),
        Coverage("E[x^2]", True, THEOREM, "x² = Σ_k 1[z=k] x²; component variances fitted (not fixed)"),
        Coverage("total_var = E[x^2] - mean^2", False,
                 "not a martingale: E total_var_t = total_var_0 Π_k (1 - 1/M_k) (replace), from the two above",
                 "as the Gaussian family's variance (theory.models.moment_laws)"),
        Coverage("w_k, w_k m_k, w_k (v_k + m_k^2)", False, ONE_ITERATION,
                 "martingales only when each refit is one EM iteration from the previous fit; "
                 "not at a converged fit"),
        Coverage("m_k, v_k", False, "none", "ratios of covered statistics"),
    ),
    "rbm": (
        Coverage("visible means E[v_j]", True, THEOREM,
                 "v_j is the statistic of the visible bias b_j, z-free; the fit at a stationary point "
                 "of the marginal likelihood (gradient converged), b_j free"),
        Coverage("E[h_a], E[v_j h_a]", False, "none", "depend on the hidden units"),
    ),
    "kde": (
        Coverage("mean", True, "not maximum likelihood: the KDE's mean is the sample mean",
                 "any bandwidth"),
        Coverage("total_var", False, "not maximum likelihood: variance = sample variance + h^2",
                 "E V_t = (1 - 1/M) V_{t-1} + h^2 (fixed h), × (1 - 1/M + c^2 M^(-2/5)) (Silverman)"),
    ),
    "linear_regression": (
        Coverage("w", True, "OLS unbiasedness: E[w_hat | X, w] = w (linear in y), a conditional model",
                 "X of full column rank; not the theorem's mechanism (no latent variable)"),
        Coverage("|w_t - w_0|^2", False, "grows: a sum of the refits' independent errors", ""),
    ),
}


def coverage(model_class: str) -> tuple[Coverage, ...]:
    """The statistics of ``model_class`` and whether they are martingales (see :data:`COVERAGE`)."""
    return COVERAGE[model_class]


def martingales(model_class: str) -> list[str]:
    """The statistics of ``model_class`` that the theorem (or its class's own mechanism) makes
    martingales of the closed loop at a converged fit."""
    record(RESULT_ID)
    return [c.statistic for c in COVERAGE[model_class] if c.martingale]


# -- SymPy derivations ------------------------------------------------------------------------------
@cached_law
def stationarity_general() -> sp.Expr:
    """∂/∂η of the mean marginal log-likelihood along a z-free statistic minus (ḡ − E_η[g]),
    for a complete-data family on x ∈ {x1, x2}, z ∈ {0, 1} with arbitrary other terms ψ(x, z)
    (symbols) and data frequencies (f, 1 − f): simplifies to 0."""
    eta, f = sp.symbols("eta f", real=True)
    g = sp.symbols("g1 g2", real=True)
    psi = sp.symbols("psi10 psi11 psi20 psi21", real=True)
    weights = [[sp.exp(eta * g[i] + psi[2 * i + z]) for z in (0, 1)] for i in (0, 1)]
    Z = sum(sum(w) for w in weights)
    marginal = [sum(w) / Z for w in weights]
    loglik = f * sp.log(marginal[0]) + (1 - f) * sp.log(marginal[1])
    sample_mean = f * g[0] + (1 - f) * g[1]
    model_mean = sum(g[i] * marginal[i] for i in (0, 1))
    return sp.simplify(sp.diff(loglik, eta) - (sample_mean - model_mean))


@cached_law
def mixture_m_step(n: int = 3) -> dict[str, sp.Expr]:
    """The M-step of a two-component 1-D Gaussian mixture, derived from the expected
    complete-data log-likelihood Q = Σ_i Σ_k r_ik [log w_k − ½ log(2π v_k) − (x_i − m_k)²/(2 v_k)]
    (w_2 = 1 − w_1) on n symbolic points with symbolic responsibilities (r_i, 1 − r_i), and the
    two sums it implies: ``mean_gap`` = Σ w_k m_k − x̄ and ``second_gap`` = Σ w_k (v_k + m_k²) − mean
    of x², both 0 (simplified)."""
    x = sp.symbols(f"x1:{n + 1}", real=True)
    r = sp.symbols(f"r1:{n + 1}", positive=True)
    w1 = sp.Symbol("w1", positive=True)
    m = sp.symbols("m1 m2", real=True)
    v = sp.symbols("v1 v2", positive=True)
    resp = [r, [1 - ri for ri in r]]
    w = [w1, 1 - w1]
    Q = sum(resp[k][i] * (sp.log(w[k]) - sp.log(2 * sp.pi * v[k]) / 2 - (x[i] - m[k]) ** 2 / (2 * v[k]))
            for i in range(n) for k in (0, 1))
    sol_w = sp.solve(sp.diff(Q, w1), w1)[0]
    sol_m = [sp.solve(sp.diff(Q, m[k]), m[k])[0] for k in (0, 1)]
    sol_v = [sp.solve(sp.diff(Q, v[k]).subs(m[k], sol_m[k]), v[k])[0] for k in (0, 1)]
    weights = [sol_w, 1 - sol_w]
    mean = sum(weights[k] * sol_m[k] for k in (0, 1))
    second = sum(weights[k] * (sol_v[k] + sol_m[k] ** 2) for k in (0, 1))
    return {"w1": sol_w, "m1": sol_m[0], "m2": sol_m[1], "v1": sol_v[0], "v2": sol_v[1],
            "mean_gap": sp.simplify(mean - sum(x) / n),
            "second_gap": sp.simplify(second - sum(xi**2 for xi in x) / n)}


@cached_law
def one_iteration_weight() -> sp.Expr:
    """E_θ[r_1(X; θ)] − w_1 for a two-component Gaussian mixture, integrated by SymPy: the
    expected responsibility at the generating parameter is the weight (0), which makes the
    weights martingales of the one-iteration loop."""
    x = sp.Symbol("x", real=True)
    w1 = sp.Symbol("w1", positive=True)
    m1, m2 = sp.symbols("m1 m2", real=True)
    s1, s2 = sp.symbols("s1 s2", positive=True)
    n1 = sp.exp(-(x - m1) ** 2 / (2 * s1**2)) / sp.sqrt(2 * sp.pi * s1**2)
    n2 = sp.exp(-(x - m2) ** 2 / (2 * s2**2)) / sp.sqrt(2 * sp.pi * s2**2)
    density = w1 * n1 + (1 - w1) * n2
    responsibility = w1 * n1 / density
    return sp.simplify(sp.integrate(sp.cancel(responsibility * density), (x, -sp.oo, sp.oo)) - w1)


@cached_law
def rbm_visible_bias() -> sp.Expr:
    """For an RBM with one visible and one hidden unit, ∂/∂b of the mean log-likelihood of data
    with visible mean v̄ minus (v̄ − E_θ[v]): 0, so E_θ̂[v] = v̄ where the gradient vanishes."""
    b, c, W, vbar = sp.symbols("b c W vbar", real=True)
    unnorm = {v: sum(sp.exp(b * v + c * h + W * v * h) for h in (0, 1)) for v in (0, 1)}
    Z = unnorm[0] + unnorm[1]
    loglik = vbar * sp.log(unnorm[1] / Z) + (1 - vbar) * sp.log(unnorm[0] / Z)
    return sp.simplify(sp.diff(loglik, b) - (vbar - unnorm[1] / Z))


def verified() -> dict[str, bool]:
    """Each derivation of this module simplified to 0 (the theorem's statements hold)."""
    record(RESULT_ID)
    m = mixture_m_step()
    return {"stationarity_general": stationarity_general() == 0,
            "mixture_mean": m["mean_gap"] == 0, "mixture_second_moment": m["second_gap"] == 0,
            "one_iteration_weight": one_iteration_weight() == 0, "rbm_visible_bias": rbm_visible_bias() == 0}


def derivation() -> Derivation:
    """R12.theorem for the derivation document: the theorem, its proof and its SymPy checks
    (each difference as SymPy simplifies it)."""
    record(RESULT_ID)
    m = mixture_m_step()
    steps = [
        Step(r"\emph{Theorem.} Let the complete-data model of $(x, z)$, $z$ latent (a mixture's component, an "
             r"RBM's hidden units), be an exponential family $p_\eta(x,z)=h(x,z)\,e^{\eta\cdot T(x,z)-A(\eta)}$, "
             r"and let $g(x)=c\cdot T(x,z)$ not depend on $z$, with $\eta+sc$ a parameter of the model for "
             r"every small $s$. At every stationary point $\hat\theta$ of the marginal likelihood "
             r"$\ell(\eta)=\sum_i\ln\sum_z p_\eta(x_i,z)$, and after every exact \mbox{M-step} of EM (converged or "
             r"not), $\mathbb{E}_{\hat\theta}[g]$ is the sample mean of $g$ over the $n$ points fitted; hence "
             r"$\mathbb{E}_{\theta_t}[g]$ is a martingale of the closed loop."),
        Step(r"\emph{Proof.} $c\cdot\nabla_\eta\ell=\sum_i(\mathbb{E}_\eta[c\cdot T\mid x_i]-\mathbb{E}_\eta[c\cdot T])"
             r"=\sum_i g(x_i)-n\,\mathbb{E}_\eta[g]$, since $c\cdot T=g(x)$ is known given $x$; the \mbox{M-step} solves "
             r"$\nabla A(\eta')=n^{-1}\sum_i\mathbb{E}_{\mathrm{old}}[T\mid x_i]$, the same equation along $c$. "
             r"SymPy checks the first identity on a model with $x\in\{x_1,x_2\}$, $z\in\{0,1\}$, arbitrary "
             r"other terms $\psi(x,z)$ and data frequencies $(f, 1-f)$; the difference simplifies to",
             r"\partial_\eta\ell - \bar g + \mathbb{E}_\eta[g]", stationarity_general()),
        Step(r"\emph{Gaussian mixture.} The \mbox{M-step} of two components maximises "
             r"$Q=\sum_{i,k}r_{ik}[\ln w_k-\tfrac12\ln 2\pi v_k-(x_i-m_k)^2/2v_k]$; with responsibilities "
             r"$(r_i, 1 - r_i)$ on three points SymPy solves", "w_1", sp.factor(m["w1"])),
        Step("", "m_1", m["m1"]),
        Step("", "v_1", sp.factor(m["v1"])),
        Step(r"and the mean and second moment of the fit are the data's:",
             r"\textstyle\sum_k w_k m_k - \bar x", m["mean_gap"]),
        Step("", r"\textstyle\sum_k w_k(v_k + m_k^2) - \overline{x^2}", m["second_gap"]),
        Step(r"\emph{One EM iteration.} The expected responsibility at the generating parameter is the "
             r"weight (SymPy integrates it), so with one iteration from the generating fit the weights are "
             r"martingales; at a converged fit they are not:",
             r"\mathbb{E}_\theta[r_1(X;\theta)] - w_1", one_iteration_weight()),
        Step(r"\emph{RBM.} With one visible and one hidden unit, the derivative of the mean log-likelihood in "
             r"the visible bias $b$ is the data's mean less the model's:",
             r"\partial_b\ell - \bar v + \mathbb{E}_\theta[v]", rbm_visible_bias()),
    ]
    return Derivation(RESULT_ID, "model-classes", "martingales of closed-loop maximum likelihood with latent "
                      "variables", tuple(steps), {"stationarity_general": stationarity_general()})


__all__ = ["COVERAGE", "RESULT_ID", "Coverage", "coverage", "derivation", "martingales", "mixture_m_step", "one_iteration_weight",
           "rbm_visible_bias", "stationarity_general", "verified"]
