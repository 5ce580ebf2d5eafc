"""R10: the data regimes (replace, accumulate, subsample; growing sample sizes M_t).

Generation t draws M_t points from the model fitted at t − 1 and refits by maximum likelihood on
its own points (replace), on the pool of every point drawn so far, N_t = Σ_{k≤t} M_k of them
(accumulate: the model's μ_t is the pool mean P_t), or on M_t points drawn without replacement
from that pool (subsample). Every law below is derived here from the update of the fitted
statistics, with the family's cumulants written in the expectation parameters μ:

* R10.martingale: E[μ_t | F_{t−1}] per regime; under subsample the martingale is the combination
  (N_t P_t + M_{t+1} μ_t)/(N_t + M_{t+1}) solved from the conditional means of (P_t, μ_t).
* R10.moments: when a quadratic entry q = χ_ij(μ) satisfies L q = λ q with
  L q = ½ Σ_kl ∂²q/∂μ_k∂μ_l χ_kl (a constant λ, found by SymPy), a step μ → μ + ξ with E ξ = 0,
  Cov ξ = c χ(μ) gives E q(μ + ξ) = (1 + λ c) q(μ) exactly, so E q(μ_t) = q(μ_0) Π_k (1 + λ c_k),
  c_k = 1/M_k (replace), M_k/N_k² (accumulate). Under subsample the pool's first and second
  moments and μ_t obey a closed linear recursion wherever the family allows it.
* R10.diffusion: accumulate is the pure loop's diffusion run for the total time Σ_k M_k/N_k²;
  subsample (constant M), at leading order in 1/M, is it run on the clock c_1 = 1/M,
  c_t = (2t − 3)/((t − 1)t² M), total (π²/2 − 3)/M for the pool and (π²/2 − 2)/M for the model.
* R10.absorption: the accumulate loop can be absorbed (first generation) but its limit law is
  not a point mass; the exact Bernoulli absorption probability (:func:`accumulate_absorption`).
* R10.growth: under replace with M_t, E q(μ_t) → 0 (λ < 0) iff Σ_t 1/M_t = ∞.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..errors import InputError
from ..family import Finite
from ..notation import expr as tex
from ..numeric import value
from ..regime import Regime
from ..setting import Setting, m_ext
from .common import result, show

# generation index and the sizes of one generation
k = S.symbol("kgen", "k", integer=True, positive=True)
M_t = S.symbol("M_t", "M_{t}", positive=True)
M_next = S.symbol("M_next", "M_{t+1}", positive=True)
N_t = S.symbol("N_t", "N_{t}", positive=True)
N_prev = S.symbol("N_prev", "N_{t-1}", nonnegative=True)
n_t = S.symbol("n_t", "n_{t}", positive=True)
# one component of the fitted statistics: the model's μ, the pool mean P, the pool's mean of φ_aφ_b Q
mu_prev = S.symbol("mu_prev", r"\mu_{t-1}", real=True)
mu_now = S.symbol("mu_now", r"\mu_{t}", real=True)
P_prev = S.symbol("P_prev", r"P_{t-1}", real=True)
P_now = S.symbol("P_now", r"P_{t}", real=True)
mu_q = S.symbol("muq", r"\mu^{q}", real=True)
lam = S.symbol("lambda_chi", r"\lambda", real=True)
c_k = S.symbol("c_k", "c_{k}", positive=True)
a_sched = S.symbol("a", "a", positive=True)  # M_k = a k or a r^(k−1)
r_sched = S.symbol("r", "r", positive=True)
y_sym = S.symbol("y_root", "y")
u_sym = S.symbol("u", "u", nonnegative=True)
g_sym = S.symbol("g", "g", real=True)
f_pool = S.symbol("f_pool", "f", nonnegative=True)  # a subsample's finite-population factor
REGIMES = ("replace", "accumulate", "subsample")


def pure(setting: Setting) -> bool:
    """The pure loop: no external points, no prior (the exact laws of R10.moments and after)."""
    return setting.m == 0 and setting.prior is None


# --- the schedule -------------------------------------------------------------------------------
def size(setting: Setting):
    """M_k as an expression in k: the schedule's (linear a k, geometric a r^(k−1)), or the symbol M;
    None for an explicit list of sizes (evaluated numerically only)."""
    schedule = setting.regime.schedule
    return S.M if schedule is None else schedule.symbolic(k)


def pool_size(Mk):
    """N_k = Σ_{j≤k} M_j by SymPy's summation (M k, a k(k+1)/2, a(r^k − 1)/(r − 1))."""
    j = S.symbol("jgen", "j", integer=True, positive=True)
    return sp.factor(sp.summation(Mk.subs(k, j), (j, 1, k)))


def scales(Mk) -> dict[str, sp.Expr]:
    """c_k of each regime, from its update: the variance of μ_k − μ_{k−1} per unit χ(μ_{k−1}).

    One generation's sum S_k of φ over M_k points has variance M_k χ, so c = (∂μ_k/∂S_k)² M_k:
    replace μ_k = S_k/M_k; accumulate μ_k = (N_{k−1} μ_{k−1} + S_k)/N_k with N_k = N_{k−1} + M_k.
    """
    S_k = sp.Symbol("S_k")
    updates = {"replace": S_k / M_t, "accumulate": (N_prev * mu_prev + S_k) / (N_prev + M_t)}
    c = {name: sp.diff(e, S_k) ** 2 * M_t for name, e in updates.items()}
    Nk = pool_size(Mk)
    return {name: sp.factor(e.subs(N_prev, Nk - M_t).subs(M_t, Mk)) for name, e in c.items()}


# --- R10.martingale -----------------------------------------------------------------------------
def conditional_means():
    """E[P_t | F_{t−1}] and E[μ_t | F_{t−1}] per regime, one component, m external points of mean
    μ^q per generation (n_t = M_t + m points, pool N_t = N_{t−1} + n_t)."""
    drawn = M_t * mu_prev + m_ext * mu_q                   # E of the generation's sum of φ
    pool = (N_prev * P_prev + drawn) / (N_prev + M_t + m_ext)
    return {"replace": drawn / (M_t + m_ext),
            "accumulate": pool.subs(P_prev, mu_prev),
            "subsample": pool}  # a subsample of the pool has the pool's mean


def subsample_martingale():
    """(a, b) with X_t = a P_t + (1 − a) μ_t a martingale of the pure subsample loop, solved by SymPy:
    E[X_t | F_{t−1}] = E[P_t | F_{t−1}] (both have the pool's mean), which must equal X_{t−1}."""
    a_prev = sp.Symbol("a_prev")
    mean = conditional_means()["subsample"].subs(m_ext, 0)
    x_prev = a_prev * P_prev + (1 - a_prev) * mu_prev
    gap = sp.expand(sp.together(mean - x_prev) * (N_prev + M_t))
    sol = sp.solve([gap.coeff(P_prev), gap.coeff(mu_prev)], [a_prev], dict=True)
    if len(sol) != 1:
        raise AssertionError("no unique martingale combination of the subsample loop")
    a = sol[0][a_prev]
    # shift t − 1 -> t: weights N_t and M_{t+1}
    return sp.factor(a.subs({N_prev: N_t, M_t: M_next}))


@result("R10.martingale")
def martingale(setting: Setting) -> Derivation:
    """R10.martingale: E[μ_t | F_{t−1}] per regime (see the module docstring)."""
    fam = setting.family
    means = conditional_means()
    drift = {r: sp.factor(sp.together(means[r] - (mu_prev if r != "subsample" else means[r].subs(m_ext, 0))))
             for r in REGIMES}
    a = subsample_martingale()
    X_now = sp.factor(sp.together(a * P_now + (1 - a) * mu_now))
    # the combination's drift with external points: E[X_t | F_{t−1}] − X_{t−1}, X_{t−1} at weights N_{t−1}, M_t
    x_prev = (a * P_prev + (1 - a) * mu_prev).subs({N_t: N_prev, M_next: M_t})
    x_drift = sp.factor(sp.together(means["subsample"] - x_prev))
    X_prev = S.symbol("X_prev", "X_{t-1}", real=True)
    in_pool = {N_prev: N_t - M_t - m_ext}  # displayed over the pool size N_t = N_{t−1} + M_t + m
    pull = m_ext * (mu_q - X_prev) / N_t
    pool_mean = (N_prev * P_prev + M_t * mu_prev + m_ext * mu_q) / N_t
    if sp.simplify(pool_mean.subs(N_t, N_prev + M_t + m_ext) - means["subsample"]) != 0:
        raise AssertionError("the pool mean's update is misstated")
    if sp.simplify(pull.subs(X_prev, x_prev).subs(N_t, N_prev + M_t + m_ext) - x_drift) != 0:
        raise AssertionError("the subsample martingale's drift is not the pull toward mu_q over the pool")
    Mk = size(setting)
    shown = {}
    if Mk is not None:
        Nk = pool_size(Mk)
        # the pool holds every generation's M_k model and m external points
        at = {M_t: Mk.subs(k, S.t), N_prev: Nk.subs(k, S.t - 1) + m_ext * (S.t - 1)}
        shown["accumulate"] = sp.factor(drift["accumulate"].subs(at))
        shown["subsample"] = sp.factor(X_now.subs({N_t: Nk.subs(k, S.t), M_next: Mk.subs(k, S.t + 1)}))
    steps = [
        Step("Generation $t$ draws $M_t$ points from the model fitted at $t-1$ and $m$ external points of "
             r"mean $\mu^{q}$, and refits by maximum likelihood: $\mu(\theta_t)$ equals the mean of "
             r"$\phi$ over the points the refit sees. Replace refits on its own $n_t = M_t + m$ points:",
             r"\mathbb{E}[\mu_{t}\mid\mathcal{F}_{t-1}]", means["replace"]),
        Step("so the drift is", r"\mathbb{E}[\mu_{t}-\mu_{t-1}\mid\mathcal{F}_{t-1}]", drift["replace"]),
        Step(r"Accumulate refits on the pool of $N_t = N_{t-1} + M_t + m$ points, whose mean $P_t$ is the "
             r"model's $\mu_t$, so $P_{t-1} = \mu_{t-1}$ and",
             r"\mathbb{E}[\mu_{t}-\mu_{t-1}\mid\mathcal{F}_{t-1}]", sp.factor(drift["accumulate"].subs(in_pool))),
        Step("Both drifts vanish for $m = 0$: $\\mu_t$ is a martingale in the pure loop under replace "
             "and accumulate (the accumulate pool weights $N_{t-1}/N_t$ and $M_t/N_t$ add to 1)"
             + (", and with external points the accumulate pull toward $\\mu^{q}$ decays as $1/t$:"
                if "accumulate" in shown else "."),
             r"\mathbb{E}[\mu_{t}-\mu_{t-1}\mid\mathcal{F}_{t-1}]" if "accumulate" in shown else None,
             shown.get("accumulate")),
        Step(r"Subsample refits on $n_t$ points drawn without replacement from the pool, whose mean "
             r"$\mu_t$ has conditional mean $P_t$; the pool mean moves toward the model:",
             r"\mathbb{E}[\mu_{t}\mid\mathcal{F}_{t-1}] = \mathbb{E}[P_{t}\mid\mathcal{F}_{t-1}]",
             pool_mean),
        Step(r"so $\mu_t$ alone is not a martingale. Solving $\mathbb{E}[X_t\mid\mathcal{F}_{t-1}] = "
             r"X_{t-1}$ for $X_t = a_t P_t + (1-a_t)\mu_t$ in the pure loop gives the martingale",
             "X_{t}", X_now),
    ]
    if "subsample" in shown:
        steps.append(Step("For this schedule:", "X_{t}", shown["subsample"]))
    steps += [
        Step("With external points its drift is the accumulate one, toward $\\mu^{q}$ over the pool:",
             r"\mathbb{E}[X_{t}-X_{t-1}\mid\mathcal{F}_{t-1}]", pull),
        Step(r"A prior entering once per refit (MAP: $\mu(\theta_t) - u\,g(\theta_t)/n = $ the data mean, "
             r"$g = \nabla\log p_0$, $n$ the points refitted) adds the drift of R9 per generation under "
             r"replace; under accumulate $\mu_t = P_t + u\,g(\theta_t)/N_t$ and the prior's pull on the pool "
             r"is $M_{t+1}u\,g(\theta_t)/(N_t N_{t+1})$, of order $t^{-2}$ at constant $M$. "
             r"Componentwise for several parameters; for this family $\mu = " + _mu_text(fam) + "$.",
             None, None),
    ]
    res = {"mean_replace": means["replace"], "drift_replace": drift["replace"],
           "drift_accumulate": drift["accumulate"], "mean_subsample": means["subsample"],
           "martingale_subsample": X_now, "drift_martingale_subsample": pull}
    res = {key: (sp.factor(e.subs(in_pool)) if key.startswith("drift") else e) for key, e in res.items()}
    res |= {f"{r}_schedule": e for r, e in shown.items()}
    return Derivation("R10.martingale", fam.slug, "The martingale under each data regime",
                      tuple(steps), res)


def _mu_text(fam) -> str:
    return tex(show(fam.mu)) if fam.d == 1 else r"\nabla A(\theta)"


# --- R10.moments --------------------------------------------------------------------------------
def step_expectation(family, q: sp.Expr, cov: sp.Matrix) -> sp.Expr:
    """E q(μ + ξ) for q polynomial of degree ≤ 2 in μ, E ξ = 0, Cov ξ = ``cov``: the Taylor series of
    q stops at second order, so this is exact."""
    mu = family.mu_symbols
    xi = [sp.Symbol(f"_xi{a}") for a in range(len(mu))]
    expanded = sp.Poly(sp.expand(q.subs({m: m + x for m, x in zip(mu, xi, strict=True)},
                                        simultaneous=True)), *xi)
    out = sp.Integer(0)
    for powers, coeff in expanded.terms():
        order = sum(powers)
        if order == 0:
            out += coeff
        elif order == 2:
            a, b = [i for i, p in enumerate(powers) for _ in range(p)]
            out += coeff * cov[a, b]
        elif order > 2:
            raise AssertionError("q is not quadratic")
    return sp.expand(out)


@functools.cache
def chi_eigenvalues(family) -> dict[tuple[int, int], sp.Expr]:
    """{(i, j): λ} for the entries q = χ_ij(μ), polynomial of degree ≤ 2 in μ, with L q = λ q for a
    constant λ: E q(μ + ξ) = q(μ) + c L q(μ) with Cov ξ = c χ(μ). Empty without θ(μ)."""
    if family.mu_inverse is None:
        return {}
    mu = family.mu_symbols
    chi = family.in_mu(family.chi).applyfunc(sp.expand)
    out = {}
    for i, j in itertools.combinations_with_replacement(range(family.d), 2):
        q = chi[i, j]
        if q == 0 or not q.is_polynomial(*mu) or sp.Poly(q, *mu).total_degree() > 2:
            continue
        ratio = sp.cancel((step_expectation(family, q, chi) - q) / q)
        if not ratio.free_symbols & set(mu):
            out[(i, j)] = sp.factor(ratio)
    return out


def product_law(lam_value, c) -> sp.Expr:
    """Π_{k=1}^t (1 + λ c_k) by SymPy; for c_k = C/k² through (1 − y/k)(1 + y/k), y² = −λC."""
    C = sp.cancel(c * k**2)
    if not c.has(k):
        return (1 + lam_value * c) ** S.t
    if not C.has(k):
        y = sp.sqrt(-lam_value * C)
        law = (sp.product(1 - y_sym / k, (k, 1, S.t)) * sp.product(1 + y_sym / k, (k, 1, S.t))).subs(y_sym, y)
    elif not sp.cancel(c * k).has(k):  # c_k = C/k: one rising factorial
        law = sp.product(1 + lam_value * c, (k, 1, S.t))
    else:  # no product form SymPy writes legibly (roots of a cubic in k): left as the product
        return sp.Product(1 + lam_value * c, (k, 1, S.t))
    return as_gamma(law)


def as_gamma(e):
    """Rising factorials (x)_t written as Γ(x + t)/Γ(x), the textbook form."""
    return e.replace(lambda x: isinstance(x, sp.RisingFactorial),
                     lambda x: sp.gamma(x.args[0] + x.args[1]) / sp.gamma(x.args[0]))


def infinite_product(lam_value, c) -> sp.Expr | None:
    """Π_{k≥1} (1 + λ C/k²) = 1/(Γ(1 − y)Γ(1 + y)) = sin(πy)/(πy), y² = −λC: the finite product is
    Γ(t+1−y)Γ(t+1+y)/(Γ(1−y)Γ(1+y)Γ(t+1)²) and its t-dependent ratio tends to 1
    (:func:`gamma_ratio_limit`). None unless c_k = C/k²."""
    C = sp.cancel(c * k**2)
    if C.has(k):
        return None
    if lam_value == 0:
        return sp.Integer(1)
    if gamma_ratio_limit() != 0:
        raise AssertionError("the Gamma ratio of the infinite product does not tend to 1")
    return sp.gammasimp(1 / (sp.gamma(1 - y_sym) * sp.gamma(1 + y_sym))).subs(y_sym, sp.sqrt(-lam_value * C))


@functools.cache
def gamma_ratio_limit() -> sp.Expr:
    """lim_{t→∞} log[Γ(t+1−y)Γ(t+1+y)/Γ(t+1)²] for a symbolic y, by SymPy (0); once per process."""
    tt = sp.Symbol("tt", positive=True)
    return sp.limit(sp.loggamma(tt + 1 + y_sym) + sp.loggamma(tt + 1 - y_sym) - 2 * sp.loggamma(tt + 1), tt, sp.oo)


@functools.cache
def power_ratio_limit() -> sp.Expr:
    """lim_{t→∞} log[Γ(t+1+z)/(Γ(t+1) t^z)] for a symbolic real z, by SymPy (0); once per process."""
    tt, z = sp.Symbol("tt", positive=True), sp.Symbol("z", real=True)
    return sp.limit(sp.loggamma(tt + 1 + z) - sp.loggamma(tt + 1) - z * sp.log(tt), tt, sp.oo)


def _law_target(family):
    """(i, j, λ, name) of the entries with a closed law, and their LaTeX names."""
    chi_mu = family.in_mu(family.chi) if family.mu_inverse is not None else None
    out = []
    for (i, j), lam in chi_eigenvalues(family).items():
        name = r"\chi" if family.d == 1 else rf"\chi_{{{i + 1}{j + 1}}}"
        out.append((i, j, lam, name, chi_mu[i, j]))
    return out


@result("R10.moments")
def moments(setting: Setting) -> Derivation | None:
    """R10.moments: exact finite-M second-moment laws per regime (pure loop); None where the family
    has no entry of χ with L χ_ij = λ χ_ij or the setting is not the pure loop."""
    fam = setting.family
    targets = _law_target(fam)
    if not targets or not pure(setting):
        return None
    chi_mu = fam.in_mu(fam.chi)
    lams = sorted({target[2] for target in targets}, key=str)
    entries = ", ".join(f"${t[3]}$" for t in targets)
    if fam.d > 1 and len(targets) < fam.d * (fam.d + 1) // 2:
        conventional = fam.in_conventional(fam.chi[targets[0][0], targets[0][1]])
        entries += f" (in the conventional parameters ${tex(conventional)}$)" if conventional is not None else ""
    Mk = size(setting)
    steps = [
        Step("A step $\\mu \\to \\mu + \\xi$ with $\\mathbb{E}\\xi = 0$ and $\\operatorname{Cov}\\xi = "
             "c\\,\\chi(\\mu)$ changes a quadratic $q(\\mu)$ by exactly $c\\,Lq$, "
             "$Lq = \\frac12\\sum_{kl}\\partial_k\\partial_l q\\,\\chi_{kl}$ (the Taylor series stops). "
             "In the expectation parameters", r"\chi(\mu)", show(chi_mu)),
        Step(f"and SymPy finds $L q = \\lambda q$ for {entries}, with", r"\lambda",
             lams[0] if len(lams) == 1 else sp.Matrix(lams)),
    ]
    res = {"lambda": lams[0]}
    if Mk is not None:
        c = scales(Mk)
        steps.append(Step(r"A generation is such a step with $c_k$ read off its update (the sum of $\phi$ "
                          r"over $M_k$ points has covariance $M_k\chi$): replace $\mu_k = S_k/M_k$, "
                          r"accumulate $\mu_k = (N_{k-1}\mu_{k-1} + S_k)/N_k$, $N_k = \sum_{j\le k} M_j$"
                          + (" (constant $M$)" if setting.regime.schedule is None else "") + ":",
                          r"c_k^{\mathrm{replace}}", c["replace"]))
        steps.append(Step("", r"c_k^{\mathrm{accumulate}}", c["accumulate"]))
        for name in ("replace", "accumulate"):
            law = product_law(lams[0], c[name])
            res[f"factor_{name}"] = law
            res[f"c_{name}"] = c[name]
            steps.append(Step(f"so under {name}, exactly at every finite $M$, "
                              r"$\mathbb{E}[q(\mu_t)] = q(\mu_0)\prod_{k\le t}(1+\lambda c_k)$ with",
                              rf"\prod_{{k=1}}^{{t}}(1+\lambda c_k^{{\mathrm{{{name}}}}})", law))
    else:
        steps.append(Step(r"A generation is such a step with $c_k = 1/M_k$ (replace) or $M_k/N_k^2$ "
                          r"(accumulate), so $\mathbb{E}[q(\mu_t)] = q(\mu_0)\prod_{k\le t}(1+\lambda c_k)$ "
                          "exactly, evaluated numerically for a list of sizes.", None, None))
    steps.append(Step(r"Since $\mu_t$ is a martingale, $\operatorname{Cov}[\mu_t] = \sum_k c_k\,"
                      r"\mathbb{E}\chi(\mu_{k-1})$, which telescopes: for these entries "
                      r"$\operatorname{Cov}[\mu_t] = q(\mu_0)\,(\prod_{k\le t}(1+\lambda c_k) - 1)/\lambda$ "
                      r"($q(\mu_0)\sum_{k\le t} c_k$ when $\lambda = 0$).", None, None))
    steps += _subsample_steps(fam, res)
    return Derivation("R10.moments", fam.slug, "Exact finite-M second moments under each data regime",
                      tuple(steps), res)


# --- subsample: the pool's moments ---------------------------------------------------------------
@functools.cache
def subsample_recursion(family):
    """The closed linear recursion of the pure subsample loop, or None.

    State: pool means P_a (of φ_a) and Q_ab (of φ_aφ_b, replaced by P where φ_aφ_b is affine in φ),
    the model's μ_a, and products of two of P, μ. One generation (pool N → N' = N + M, subsample
    of n, f = (N' − n)/(N' − 1) the finite-population factor) maps expectations as

        E P'_a = (N P_a + M μ_a)/N',   E Q'_ab = (N Q_ab + M e_ab(μ))/N',  e_ab = χ_ab + μ_a μ_b,
        E P'_a P'_b = E P'_a E P'_b + M χ_ab(μ)/N'²,   E μ'_a = E P'_a,   E P'_a μ'_b = E P'_a P'_b,
        E μ'_a μ'_b = (1 − f/n) E P'_a P'_b + (f/n) E Q'_ab,

    and the monomials whose images stay in their span are kept (as R8 does).
    Returns (monomials, A, const, (N, M, n, f), (P, Q, Q as used, e)) with E x' = A x + const.
    """
    if family.mu_inverse is None:
        return None
    d = family.d
    mu = list(family.mu_symbols)
    P = [S.symbol(f"P{a + 1}" if d > 1 else "P", f"P_{{{a + 1}}}" if d > 1 else "P", real=True)
         for a in range(d)]
    pairs = list(itertools.combinations_with_replacement(range(d), 2))
    Q = {ab: S.symbol(f"Q{ab[0] + 1}{ab[1] + 1}" if d > 1 else "Q", f"Q_{{{ab[0] + 1}{ab[1] + 1}}}" if d > 1 else "Q",
                      real=True)
         for ab in pairs}
    chi = family.in_mu(family.chi).applyfunc(sp.expand)
    Nn, Mm, nn, ff = (sp.Symbol(x, positive=True) for x in ("N", "M", "n", "f"))
    N1 = Nn + Mm
    affine = _affine_products(family)  # φ_aφ_b = const + Σ_c w_c φ_c where it is so
    q_of = {ab: (sum(w * P[c] for c, w in enumerate(affine[ab][1])) + affine[ab][0]) if ab in affine else Q[ab]
            for ab in pairs}
    e_of = {ab: sp.expand(chi[ab] + mu[ab[0]] * mu[ab[1]]) for ab in pairs}
    EP = [(Nn * P[a] + Mm * mu[a]) / N1 for a in range(d)]
    EQ = {ab: (Nn * q_of[ab] + Mm * e_of[ab]) / N1 for ab in pairs}
    EPP = {ab: EP[ab[0]] * EP[ab[1]] + Mm * chi[ab] / N1**2 for ab in pairs}
    image = {}
    for a in range(d):
        image[P[a]] = EP[a]
        image[mu[a]] = EP[a]
    for ab in pairs:
        if ab not in affine:
            image[Q[ab]] = EQ[ab]
        a, b = ab
        image[P[a] * P[b]] = EPP[ab]
        image[mu[a] * mu[b]] = (1 - ff / nn) * EPP[ab] + ff / nn * EQ[ab]
    for a in range(d):
        for b in range(d):
            image[P[a] * mu[b]] = EPP[(min(a, b), max(a, b))]
    image = {x: sp.expand(e) for x, e in image.items()}
    variables = P + mu + [Q[ab] for ab in pairs if ab not in affine]
    monomials = list(image)
    while True:
        keep = [x for x in monomials if _in_span(image[x], monomials, variables)]
        if keep == monomials:
            break
        monomials = keep
    A = sp.Matrix([[_coeff(image[x], y, variables) for y in monomials] for x in monomials])
    const = sp.Matrix([image[x].subs({v: 0 for v in variables}) for x in monomials])
    return monomials, A, const, (Nn, Mm, nn, ff), (P, Q, q_of, e_of)


def _affine_products(family) -> dict:
    """{(a, b): (const, (w_1..w_d))} where φ_a φ_b = const + Σ_c w_c φ_c on the whole sample space
    (Bernoulli φ² = φ, categorical φ_aφ_b = δ_ab φ_a, Gaussian φ_1² = φ_2), found by SymPy."""
    d = family.d
    out = {}
    w = [sp.Symbol(f"_w{c}") for c in range(d + 1)]
    for a, b in itertools.combinations_with_replacement(range(d), 2):
        gap = family.phi[a] * family.phi[b] - w[0] - sum(w[c + 1] * family.phi[c] for c in range(d))
        if isinstance(family.space, Finite):
            eqs = [gap.subs(S.s, v) for v in family.space.levels]
        elif all(sp.sympify(p).is_polynomial(S.s) for p in family.phi):
            eqs = sp.Poly(sp.expand(gap), S.s).coeffs()
        else:
            continue
        sol = sp.solve(eqs, w, dict=True)
        if sol:
            fixed = {x: sol[0].get(x, 0) for x in w}
            if all(sp.simplify(e.subs(fixed)) == 0 for e in eqs):
                out[(a, b)] = (fixed[w[0]], tuple(fixed[x] for x in w[1:]))
    return out


def _in_span(e, monomials, variables) -> bool:
    poly = sp.Poly(e, *variables)
    for powers, _ in poly.terms():
        if sum(powers) == 0:
            continue
        mono = sp.Mul(*(v**p for v, p in zip(variables, powers, strict=True)))
        if mono not in monomials:
            return False
    return True


def _coeff(e, mono, variables):
    return sp.factor(sp.Poly(e, *variables).coeff_monomial(mono))


def _subsample_steps(family, res) -> list[Step]:
    closed = subsample_recursion(family)
    targets = _law_target(family)
    mu = family.mu_symbols
    if closed is not None:
        monomials, A, const, _, _ = closed
        wanted = set().union(*(sp.Poly(t[4], *mu).monoms() and
                               {sp.Mul(*(m**p for m, p in zip(mu, pw, strict=True)))
                                for pw in sp.Poly(t[4], *mu).monoms() if sum(pw) > 0} for t in targets))
        if wanted <= set(monomials):
            res["subsample_monomials"] = sp.Matrix(monomials)
            res["subsample_A"] = A
            res["subsample_c"] = const
            return [Step(r"Subsample: given the pool ($N$ points, mean $P$, mean $Q$ of "
                         r"$\phi_a\phi_b$), a subsample of $n$ points without replacement has mean "
                         r"$P$ and covariance $f\,(Q - PP^{\top})/n$, $f = (N-n)/(N-1)$, exactly. "
                         r"A generation adds $M$ points, with $\mathbb{E}[\phi_a\phi_b] = \chi_{ab} + "
                         r"\mu_a\mu_b$, so the expectations of the monomials below obey a closed linear "
                         r"recursion $x' = A x + b$ (its $A$ depends on $N$, $M$, $n$, $f$; "
                         r"$Q$ replaced by $P$ where $\phi_a\phi_b$ is affine in $\phi$), "
                         r"exact at every finite $M$ and evaluated generation by generation:",
                         "x", sp.Matrix(monomials)),
                    Step("There is no product form: $f$ and the pool size change every generation.",
                         None, None)]
    return [Step("Subsample: the pool's second moments do not close for this family (they need "
                 "moments of $\\phi$ beyond the second that are not polynomials of degree 2 in $\\mu$); "
                 "its second-moment law is left to simulation.", None, None)]


# --- numeric callables --------------------------------------------------------------------------
def _sizes(setting: Setting, M: int, t: int) -> np.ndarray:
    regime = setting.regime
    return np.array([regime.model_points(j, M) for j in range(1, t + 1)], dtype=float)


def _lambda_value(setting: Setting) -> float:
    d = moments(_pure_setting(setting))
    if d is None:
        raise InputError(f"{setting.family.title}: no exact second-moment law (no entry of chi with "
                         "L chi = lambda chi)")
    return float(value(d["lambda"], {}))


def _check_pure(setting: Setting, t: int) -> None:
    if t < 0:
        raise InputError(f"t = {t}: generations are counted from 0")
    if not pure(setting):
        raise InputError(f"{setting.label}: the exact second-moment law is the pure loop's (no external "
                         "points, no prior)")


def _scales(setting: Setting, M: int, t: int) -> np.ndarray:
    """c_k, k ≤ t, of the setting's replace (1/M_k) or accumulate (M_k/N_k²) loop."""
    sizes = _sizes(setting, M, t)
    return 1 / sizes if setting.regime.kind == "replace" else sizes / np.cumsum(sizes) ** 2


def second_moment_factor(setting: Setting, M: int, t: int, mu0=None, with_replacement: bool = False) -> float:
    """E[q(μ_t)]/q(μ_0) for the entries q = χ_ij(μ) with L q = λ q (all of χ for the families with a
    quadratic variance; the variance for the Gaussian), pure loop, exactly at finite M:
    Π_{k≤t}(1 + λ c_k) under replace (c_k = 1/M_k) and accumulate (c_k = M_k/N_k²); under subsample
    the linear recursion of :func:`subsample_recursion` from μ_0 (``mu0``: expectation parameters,
    default the family's interior point). ``with_replacement``: the subsample drawn with
    replacement (finite-population factor 1 instead of (N − n)/(N − 1)), the validation's negative
    control."""
    if setting.regime.kind != "subsample":
        _check_pure(setting, t)
        return float(np.prod(1 + _lambda_value(setting) * _scales(setting, M, t)))
    return float(second_moment_factors(setting, M, t, mu0, with_replacement)[-1])


def second_moment_factors(setting: Setting, M: int, T: int, mu0=None, with_replacement: bool = False) -> np.ndarray:
    """:func:`second_moment_factor` at t = 0..T, the same numbers: the factors 1 + λ c_k made once
    (c_k of t ≤ T are those of T's first t generations), the subsample recursion run once and
    read at every t (a figure's curve at sixty t took sixty runs of it)."""
    _check_pure(setting, T)
    lam_value = _lambda_value(setting)
    if setting.regime.kind != "subsample":
        factors = 1 + lam_value * _scales(setting, M, T)
        return np.array([np.prod(factors[:t]) for t in range(T + 1)])
    steps, monomials, start = _subsample_trajectory(setting, _sizes(setting, M, T), mu0, with_replacement)
    q = _law_target(setting.family)[0][4]
    terms, q0 = _polynomial_terms(q, setting.family), float(q.subs(start))
    return np.array([_expectation_of_terms(terms, dict(zip(monomials, x, strict=True)), setting.family) / q0
                     for x in steps])


def mean_error_factor(setting: Setting, M: int, t: int, mu0=None) -> float:
    """E(μ_1,t − μ_1,0)²/χ_11(μ_0), pure loop, exactly at finite M: the squared error of the fitted
    first expectation parameter (a one-statistic family's mean, the Gaussian's mean) after t
    generations, in units of one point's variance at the start.

    Under replace and accumulate μ_t is a martingale (R10.martingale) whose step k has covariance
    c_k χ(μ_{k−1}), so by R10.moments (E χ_11(μ_k) = χ_11(μ_0) Π_{j≤k}(1 + λ c_j)) the error telescopes:

        Σ_{k≤t} c_k Π_{j<k}(1 + λ c_j) = (Π_{k≤t}(1 + λ c_k) − 1)/λ     (= Σ_k c_k when λ = 0),

    1 − Π_k(1 − c_k) for the Gaussian mean (λ = −1, the mean of x² conserved). Under subsample μ_t is
    not a martingale; E μ_1,t and E μ_1,t² are read off :func:`subsample_recursion` (``mu0``:
    expectation parameters, default the family's interior point). InputError where χ_11 has no law
    (no L χ_11 = λ χ_11) or the subsample moments do not close."""
    _check_pure(setting, t)
    fam = setting.family
    lam_value = _lambda_value(setting)
    if _law_target(fam)[0][:2] != (0, 0):
        raise InputError(f"{fam.title}: chi_11 has no exact law (R10.moments)")
    if setting.regime.kind != "subsample":
        c = _scales(setting, M, t)
        before = np.concatenate([[1.0], np.cumprod(1 + lam_value * c)[:-1]])  # Π_{j<k}(1 + λ c_j)
        return float(np.sum(c * before))
    moments, start = _subsample_moments(setting, _sizes(setting, M, t), mu0)
    m = fam.mu_symbols[0]
    error = sp.expand((m - start[m]) ** 2)
    return _expectation(error, fam, moments) / float(_law_target(fam)[0][4].subs(start))


def _expectation(poly, family, moments: dict) -> float:
    """E of a polynomial of degree ≤ 2 in μ, from the expectations of its monomials."""
    return _expectation_of_terms(_polynomial_terms(poly, family), moments, family)


def _polynomial_terms(poly, family) -> list[tuple[sp.Expr, float]]:
    """(monomial, coefficient) of a polynomial in μ, in SymPy's order of terms."""
    mu = family.mu_symbols
    return [(sp.Mul(*(m**p for m, p in zip(mu, powers, strict=True))), float(coeff))
            for powers, coeff in sp.Poly(poly, *mu).terms()]


def _expectation_of_terms(terms, moments: dict, family) -> float:
    out = 0.0
    for mono, coeff in terms:
        if mono != 1 and mono not in moments:
            raise InputError(f"{family.title}: the subsample recursion does not carry E[{mono}]")
        out += coeff * (1.0 if mono == 1 else moments[mono])
    return out


@functools.cache
def _subsample_step(family):
    """(A, const) of :func:`subsample_recursion` as functions of (N, M, n, f), lambdified once per
    family (a figure runs the recursion at sixty (M, t))."""
    _, A, const, args, _ = subsample_recursion(family)
    return sp.lambdify(args, A, "numpy"), sp.lambdify(args, const, "numpy")


def _subsample_moments(setting: Setting, sizes, mu0, with_replacement: bool = False) -> tuple[dict, dict]:
    """({monomial: E at the last generation}, {symbol: start value}) of the pure subsample loop,
    the recursion of :func:`subsample_recursion` run over ``sizes`` from μ_0."""
    steps, monomials, start = _subsample_trajectory(setting, sizes, mu0, with_replacement)
    return dict(zip(monomials, steps[-1], strict=True)), start


def _subsample_trajectory(setting: Setting, sizes, mu0, with_replacement: bool = False):
    """(the monomials' expectations at the start and after each generation of ``sizes``, the
    monomials, {symbol: start value}): :func:`subsample_recursion` run from μ_0."""
    fam = setting.family
    closed = subsample_recursion(fam)
    if closed is None:
        raise InputError(f"{fam.title}: the subsample second moments do not close; simulate instead")
    monomials, _, _, _, (P, Q, _, e_of) = closed
    mu = fam.mu_symbols
    if mu0 is None:
        mu0 = [float(e.subs(fam.interior_point())) for e in fam.mu]
    start = {m: v for m, v in zip(mu, mu0, strict=True)}
    start |= {p: v for p, v in zip(P, mu0, strict=True)}
    start |= {Q[ab]: float(e_of[ab].subs(start)) for ab in Q}
    x = np.array([float(sp.sympify(mo).subs(start)) for mo in monomials])
    fA, fc = _subsample_step(fam)
    N, steps = 0.0, [x]
    for Mk in sizes:
        N1 = N + Mk
        f = 1.0 if with_replacement else 0.0 if N1 == Mk else (N1 - Mk) / (N1 - 1)
        x = np.asarray(fA(N, Mk, Mk, f), dtype=float) @ x + np.asarray(fc(N, Mk, Mk, f), dtype=float).ravel()
        steps.append(x)
        N = N1
    return steps, monomials, start


# --- R10.diffusion ------------------------------------------------------------------------------
def _pure_setting(setting: Setting, kind: str | None = None) -> Setting:
    """The pure loop of ``setting``'s family with its schedule (and ``kind``, if given)."""
    regime = setting.regime if kind is None else Regime(kind, setting.regime.schedule)
    return Setting(setting.family, regime=regime)


@result("R10.diffusion")
def diffusion(setting: Setting) -> Derivation | None:
    """R10.diffusion: accumulate is the pure loop's diffusion run for the total time Σ_k M_k/N_k²;
    its limit t → ∞ and, for the Gaussian, the exact Dey–Donoho constant; at constant M the
    subsample loop's clock to leading order in 1/M (:func:`subsample_generation`). Pure loop only."""
    fam = setting.family
    if not pure(setting):
        return None
    Mk = size(setting)
    _, _, chi, _, kappa = S.placeholders(1)
    chi, kappa = chi[0, 0], kappa[0, 0, 0]
    S_k = sp.Symbol("S_k")
    # cumulants of one generation's increment from its update, the sum S_k over M_k points having
    # j-th cumulant M_k κ_j: the increment is linear in S_k, so its j-th cumulant scales by (∂/∂S_k)^j
    updates = {"replace": S_k / M_t, "accumulate": (N_prev * mu_prev + S_k) / (N_prev + M_t)}
    cum = {name: {j: sp.factor(sp.diff(e, S_k) ** j * M_t) for j in (2, 3)} for name, e in updates.items()}
    per_time = {name: sp.factor(c[3] / c[2]) for name, c in cum.items()}  # third cumulant per unit τ
    steps = [
        Step(r"One generation moves $\mu$ by an increment linear in the sum $S_t$ of $\phi$ over its "
             r"$M_t$ new points, whose $j$-th cumulant is $M_t\kappa_j(\mu)$. Under accumulate, "
             r"$\mu_t = (N_{t-1}\mu_{t-1} + S_t)/N_t$, so the increment has mean 0 and",
             r"\operatorname{Var}[\mu_t-\mu_{t-1}\mid\mathcal{F}_{t-1}]",
             (cum["accumulate"][2] * chi).subs({N_prev + M_t: N_t}).subs(N_prev, N_t - M_t)),
        Step("and third cumulant", r"\kappa_3[\mu_t-\mu_{t-1}\mid\mathcal{F}_{t-1}]",
             sp.factor((cum["accumulate"][3] * kappa).subs(N_prev, N_t - M_t))),
        Step(r"against $\chi/M_t$ and $\kappa/M_t^2$ under replace. In the clock "
             r"$\tau_t = \sum_{k\le t} c_k$, $c_k = M_k/N_k^2$ (replace: $1/M_k$, i.e. $t/M$), both "
             r"loops have zero drift and diffusion $\chi(\mu)$ per unit $\tau$; the third cumulant per "
             r"unit $\tau$ is $\kappa/N_k$ under accumulate against $\kappa/M_k$ under replace, and "
             r"$N_k \ge M_k$. So the diffusion limit of accumulate is the pure loop's "
             r"$d\mu = \chi(\mu)^{1/2}\,dW_\tau$ run to time $\tau_t$, no less accurate than the "
             r"replace loop's. Its total time is", None, None),
    ]
    res = {"third_cumulant_per_time_replace": per_time["replace"].subs(M_t, S.M),
           "third_cumulant_per_time_accumulate": per_time["accumulate"].subs(N_prev, N_t - M_t)}
    if Mk is None:
        steps.append(Step(r"$\tau_\infty = \sum_k M_k/N_k^2$, evaluated numerically for a list of sizes.",
                          None, None))
        return Derivation("R10.diffusion", fam.slug, "Diffusion limits of the accumulate and subsample loops",
                          tuple(steps), res)
    c = scales(Mk)["accumulate"]
    total = sp.simplify(sp.summation(c, (k, 1, sp.oo)))
    res["total_time"] = total
    steps.append(Step("", r"\tau_\infty = \sum_{k\ge1} c_k", total))
    if setting.regime.schedule is None:
        steps.append(Step(r"finite: in the replace loop's units $t/M$ the whole accumulate run is "
                          r"$\pi^2/6$ generations of the replace loop at the same $M$. Since "
                          r"$\sum_k c_k\,\mathbb{E}\chi(\mu_{k-1}) < \infty$, the martingale $\mu_t$ "
                          r"is bounded in $L^2$ and converges almost surely and in $L^2$ to $\mu_\infty$.",
                          None, None))
    targets = _law_target(fam)
    if targets:
        lam_value = targets[0][2]
        limit = infinite_product(lam_value, c)
        if limit is not None:
            res["limit_factor"] = limit
            res["lambda"] = lam_value
            i, j, _, name, _ = targets[0]
            ratio_lhs = (r"\frac{\mathbb{E}\chi(\mu_\infty)}{\chi(\mu_0)}" if fam.d == 1 else
                         rf"\frac{{\mathbb{{E}}{name}(\mu_\infty)}}{{{name}(\mu_0)}}")
            spread_lhs = (r"\frac{\operatorname{Var}[\mu_\infty]}{\chi(\mu_0)}" if fam.d == 1 else
                          rf"\frac{{\operatorname{{Cov}}[\mu_\infty]_{{{i + 1}{j + 1}}}}}{{{name}(\mu_0)}}")
            steps.append(Step(r"With $L q = \lambda q$ (R10.moments), $\mathbb{E}[q(\mu_\infty)] = "
                              r"q(\mu_0)\prod_{k\ge1}(1 + \lambda c_k)$; the finite product is "
                              r"$\Gamma(t+1-y)\Gamma(t+1+y)/[\Gamma(1-y)\Gamma(1+y)\Gamma(t+1)^2]$ with "
                              r"$y^2 = -\lambda/M$, whose $t$-dependent ratio tends to 1, so by the "
                              r"reflection formula", ratio_lhs, limit))
            var_limit = sp.expand((limit - 1) / lam_value) if lam_value != 0 else total
            res["variance_limit_factor"] = var_limit
            steps.append(Step(r"and, by the telescoping of R10.moments, the spread of the limit law around "
                              r"$\mu_0$ is", spread_lhs, var_limit))
            series = sp.series(var_limit, S.M, sp.oo, 3).removeO()
            res["variance_limit_series"] = series
            steps.append(Step(r"to second order in $1/M$ (error $O(M^{-3})$)", spread_lhs, series))
            conv = fam.in_conventional(fam.chi[i, j])
            if fam.d > 1 and i == j and conv is not None:  # the Gaussian: χ_11 is the variance
                steps.append(Step(rf"Here ${name} = {tex(conv)}$: the squared error of the limit's "
                                  rf"$\mu_{{{i + 1}}}$ is $\mathbb{{E}}(\mu_{{{i + 1},\infty}} - \mu_{{{i + 1},0}})^2 "
                                  rf"= {tex(conv)}_0$ times the above, below its first term $\pi^2/(6M)$ "
                                  r"(for the Gaussian mean, Dey and Donoho's bound) by $\pi^4/(120M^2)$ "
                                  r"at leading order.", None, None))
    if setting.regime.schedule is None:
        steps += _subsample_diffusion_steps(fam, res)
    return Derivation("R10.diffusion", fam.slug, "Diffusion limits of the accumulate and subsample loops",
                      tuple(steps), res)


@functools.cache
def subsample_generation():
    """One generation of the pure subsample loop on Y = E q(P) and Z = E(P_1 − μ_1)² (P the pool
    mean, μ the model, a subsample of M points of the pool), for a q whose Hessian is 2λ in μ_1
    alone; λ symbolic, by SymPy from the generic such quadratic q(x) = λx² + bx + a (the other
    coordinates enter q linearly and drop out of every step below):

        q(αx + (1−α)y) = αq(x) + (1−α)q(y) + κ(x−y)²,  κ = −λα(1−α),
        E[q(μ) | pool] = q(P) + λ f V/M,   E q(x̄) = (1 + λ/M) q(μ)  (x̄: M points drawn from μ, χ_11 = q),

    with α = N_{t−1}/N_t, V the pool's variance of φ_1 and, closing the map, V = q(P). Returns
    (g, h): Y_t = g Y_{t−1} with g = 1 + λ(M(1 + f) + λf)/N_t² (f the previous subsample's factor),
    and E q(μ_t) = h Y_t, h = 1 + λf/M (f the last subsample's)."""
    x, y, a, b, alpha = (sp.Symbol(n, real=True) for n in ("x", "y", "a", "b", "alpha"))

    def q(v):
        return lam * v**2 + b * v + a

    kappa = sp.factor(sp.cancel((q(alpha * x + (1 - alpha) * y) - alpha * q(x) - (1 - alpha) * q(y)) / (x - y) ** 2))
    xi = sp.Symbol("xi", real=True)
    curvature = sp.expand(q(x + xi) - q(x) - sp.diff(q(x), x) * xi).coeff(xi, 2)  # E q(x + ξ) − q(x) per Var ξ
    Y, Z = sp.Symbol("Y", positive=True), sp.Symbol("Z", nonnegative=True)
    q_model = Y + curvature * Z                        # E q(μ_{t−1})
    step = 1 + curvature / S.M                         # E q(x̄)/q(μ), Var x̄ = q(μ)/M
    w = N_prev / (N_prev + S.M)                        # the old pool's weight α
    # E(P − x̄)² = Z + E q(μ)/M: the new points scatter around the model, the model around the pool
    Y_next = w * Y + (1 - w) * step * q_model + kappa.subs(alpha, w) * (Z + q_model / S.M)
    closure = {Z: f_pool * Y / S.M}
    g = sp.factor(sp.cancel(Y_next.subs(closure) / Y))
    h = sp.expand(q_model.subs(closure) / Y)
    return g, h


def subsample_reduction(family) -> bool | None:
    """Whether :func:`subsample_generation` applies to ``family``: None where it does not (the
    subsample recursion does not close, χ_11 has no law, or its Hessian is not 2λ in μ_1 alone);
    True where the map is exact (the pool's variance of φ_1 is χ_11(P): Bernoulli, categorical,
    Gaussian), False where it holds to O(M⁻²) (the pool's variance is χ_11(P) at leading order)."""
    targets = _law_target(family)
    closed = subsample_recursion(family)
    if not targets or closed is None or targets[0][:2] != (0, 0):
        return None
    mu = family.mu_symbols
    _, _, lam_value, _, q = targets[0]
    target = 2 * lam_value * sp.diag(1, *[0] * (len(mu) - 1))
    if sp.simplify(sp.hessian(q, mu) - target) != sp.zeros(len(mu)):
        return None
    P, _, q_of, _ = closed[4]
    pool_variance = q_of[(0, 0)] - P[0] ** 2
    return sp.simplify(pool_variance - q.subs(dict(zip(mu, P, strict=True)), simultaneous=True)) == 0


def _subsample_diffusion_steps(fam, res) -> list[Step]:
    """R10.diffusion under subsample at constant M: the clock c_t of the pool mean and its total,
    from :func:`subsample_generation` to first order in 1/M (keys clock_subsample,
    total_time_subsample, model_time_subsample, limit_factor_subsample)."""
    exact = subsample_reduction(fam)
    if exact is None:
        return [Step("Subsample: the pool's second moments do not reduce to one statistic for this "
                     "family; its diffusion limit is not derived here.", None, None)]
    lam_value = _law_target(fam)[0][2]
    g, h = subsample_generation()
    g_family = sp.factor(sp.cancel(g.subs(lam, lam_value)))  # 1 where λ = 0: E χ is conserved
    eps = sp.Symbol("epsilon", positive=True)  # 1/M
    f_prev = (N_prev - S.M) / (N_prev - 1)        # the subsample of generation t − 1 (n = M points)
    at_t = {N_prev: (S.t - 1) * S.M}              # N_{t−1} = (t − 1)M at constant M
    first = sp.series(g.subs(f_pool, f_prev).subs(at_t).subs(S.M, 1 / eps), eps, 0, 2).removeO()
    ct = sp.factor(sp.cancel(first.coeff(eps, 1) / lam))
    # generation 1 refits on its whole pool from the point μ_0: α = 0 and no subsample noise (f = 0)
    first_1 = sp.series(g.subs({N_prev: 0, f_pool: 0}).subs(S.M, 1 / eps), eps, 0, 2).removeO()
    c1 = sp.cancel(first_1.coeff(eps, 1) / lam)
    ck = ct.subs(S.t, k)
    clock = sp.Piecewise((c1 / S.M, sp.Eq(k, 1)), (ck / S.M, True))
    total = sp.simplify((c1 + sp.summation(sp.apart(ck, k), (k, 2, sp.oo))) / S.M)
    f_last = sp.limit(((N_t - S.M) / (N_t - 1)).subs(N_t, S.t * S.M), S.M, sp.oo)  # f_t at leading order
    last = sp.cancel((h - 1) / lam).subs(f_pool, f_last)  # the model's own subsample: f_t/M more clock
    model_time = sp.simplify(total + sp.limit(last, S.t, sp.oo))
    limit = sp.exp(lam_value * model_time)
    res |= {"generation_factor_subsample": g_family, "clock_subsample": clock,
            "f_subsample": f_last, "total_time_subsample": total, "model_time_subsample": model_time,
            "limit_factor_subsample": limit}
    how = (r"exactly for this family (the pool's variance of $\phi_1$ is $\chi_{11}(P)$, so "
           r"$Z_{t-1} = f_{t-1}Y_{t-1}/M$)" if exact else
           r"to $O(M^{-2})$ for this family (the pool's variance of $\phi_1$ is $\chi_{11}(P)$ at "
           r"leading order only, so $Z_{t-1} = f_{t-1}Y_{t-1}/M$ at leading order)")
    return [
        Step(r"Subsample (constant $M$): the pool mean $P_t = (N_{t-1}P_{t-1} + S_t)/N_t$ is a martingale in "
             r"the pools' own filtration (the model $\mu_{t-1}$, a subsample of the pool, has conditional "
             r"mean $P_{t-1}$). With $q = \chi_{11}$, whose Hessian is $2\lambda$ in $\mu_1$ alone, "
             r"$q(\alpha x + (1-\alpha)y) = \alpha q(x) + (1-\alpha)q(y) - \lambda\alpha(1-\alpha)(x_1-y_1)^2$; "
             r"with $Y_t = \mathbb{E}\,q(P_t)$, $Z_t = \mathbb{E}(P_{1,t} - \mu_{1,t})^2$ and the subsample's "
             r"finite-population factor $f_t = (N_t - M)/(N_t - 1)$, one generation maps, " + how + ",",
             r"\frac{Y_{t}}{Y_{t-1}}", g_family.subs(f_pool, sp.Symbol("f_{t-1}"))),
        Step(r"To first order in $1/M$ ($N_{t-1} = (t-1)M$, $f_{t-1} \to (t-2)/(t-1)$; generation 1 refits "
             r"on its whole pool, $c_1 = 1/M$) this is $1 + \lambda c_t$ with the clock",
             r"c_t\,M", sp.apart(ct, S.t)),
        Step(r"for $t \ge 2$. The pool mean's increment has variance $c_t\,\chi(P_{t-1})$ and third "
             r"cumulant $O(M^{-2})$, so at leading order in $1/M$ the pool mean is the pure loop's "
             r"diffusion $d\mu = \chi(\mu)^{1/2}dW_\tau$ on the clock $\tau_t = \sum_{k\le t} c_k$, "
             r"whose total is", r"\tau_\infty", total),
        Step(r"(accumulate: $\pi^2/(6M)$; replace: $t/M$). The model is the pool's last subsample, "
             r"$\mathbb{E}\,q(\mu_t) = (1 + \lambda f_t/M)\,Y_t$ with $f_t \to 1$: it is that diffusion run "
             r"for one more $1/M$,", r"T_\infty", model_time),
        Step(r"so, at leading order (error $O(M^{-2})$; not exact at finite $M$, unlike the accumulate "
             r"product), $\operatorname{Var}\mu_{1,\infty} = \chi_{11}(\mu_0)\,T_\infty$ and",
             r"\frac{\mathbb{E}\chi_{11}(\mu_\infty)}{\chi_{11}(\mu_0)}", limit),
    ]


def subsample_limit_factor(setting: Setting, M: float, t: int | None = None) -> float:
    """E χ_11(μ_t)/χ_11(μ_0) of the pure subsample loop at constant M by its diffusion limit
    (R10.diffusion): exp(λ T_t), T_t = Σ_{k≤t} c_k + f_t/M the model's clock (c_1 = 1/M,
    c_k = (2k − 3)/((k − 1)k² M), f_t = (t − 1)/t), T_∞ = (π²/2 − 2)/M; error O(M⁻²)."""
    d = diffusion(_pure_setting(setting, "subsample").for_derivations())
    if d is None or "limit_factor_subsample" not in d.result:
        raise InputError(f"{setting.family.title}: no subsample diffusion limit")
    if t is None:
        return float(sp.N(d["limit_factor_subsample"].subs(S.M, sp.Rational(M))))
    if t < 1:
        raise InputError(f"t = {t}: the subsample clock starts at generation 1")
    first, later = (piece.expr for piece in d["clock_subsample"].args)  # c_1 and c_k, k ≥ 2
    ks = np.arange(2, t + 1, dtype=float)
    T = float(first.subs(S.M, M)) + float(np.sum(sp.lambdify((k, S.M), later, "numpy")(ks, M))) \
        + float(d["f_subsample"].subs(S.t, t)) / M
    return float(np.exp(float(value(d["lambda"], {})) * T))


def accumulate_limit_factor(setting: Setting, M: float) -> float:
    """E χ(μ_∞)/χ(μ_0) under accumulate at constant M: sin(π y)/(π y), y = √(−λ/M) (sinh for λ > 0),
    the evaluated R10.diffusion ``limit_factor``; for the Gaussian the factor of the variance, and
    1 − it is E(m_∞ − m_0)²/v_0."""
    return _diffusion_limit(setting, "limit_factor", M)


def accumulate_mean_error_limit(setting: Setting, M: float) -> float:
    """lim_{t→∞} of :func:`mean_error_factor` under accumulate at constant M, E(μ_1,∞ − μ_1,0)²/χ_11(μ_0):
    (sin(π y)/(π y) − 1)/λ, y = √(−λ/M) (π²/(6M) when λ = 0), the evaluated R10.diffusion
    ``variance_limit_factor``; for the Gaussian mean 1 − sin(π/√M)√M/π < π²/(6M) (Dey and Donoho)."""
    return _diffusion_limit(setting, "variance_limit_factor", M)


def _diffusion_limit(setting: Setting, key: str, M: float) -> float:
    d = diffusion(_pure_setting(setting, "accumulate").for_derivations())
    if d is None or key not in d.result:
        raise InputError(f"{setting.family.title}: no closed accumulate limit law")
    # M exact, so SymPy's adaptive evaluation keeps 15 digits where 1 − sin(y)/y cancels (large M);
    # evalf's subs evaluates in place, without rebuilding the expression at M (8 times faster)
    return float(sp.re(d[key].evalf(subs={S.M: sp.Rational(M)})))


# --- R10.absorption -----------------------------------------------------------------------------
@result("R10.absorption")
def absorption(setting: Setting) -> Derivation | None:
    """R10.absorption: whether the accumulate and subsample loops collapse (pure loop, families with
    attainable absorbing states); the exact Bernoulli probability is :func:`accumulate_absorption`."""
    fam = setting.family
    states = [st for st in fam.absorbing_states if st.attainable]
    if not pure(setting) or not states:
        return None
    p = _absorption_point(fam)
    first = None
    if p is not None:
        first = sp.factor(sum(prob ** S.M for prob in p))
    steps = [Step("Under accumulate the model sits on a face of the sample space's hull (an absorbing "
                  "state: the model then draws only points of that face) exactly when every point of the "
                  "pool lies on it. The first generation's pool is the replace loop's $M_1$ points, so "
                  "the loop can be absorbed at a finite $M$"
                  + (", with probability, at the vertices of this family," if first is not None else "."),
                  r"\mathbb{P}(\text{absorbed at } t = 1)" if first is not None else None, first)]
    steps.append(Step("Points are never removed from the pool: once it holds points that no single face "
                      "contains, no later generation can put it on a face. So the accumulate loop is "
                      "absorbed at the first generation or never, and the probability above is that of "
                      "ever collapsing onto a vertex: below 1 for every $M \\ge 2$, where replace is "
                      "absorbed with probability 1 (R6).", None, None))
    steps.append(Step("Subsample refits on a subsample of the same pool, which never loses a point: its "
                      "model can sit on a vertex for a generation (a subsample all at one point) and leaves it "
                      "at the next, since the pool still holds other points; it stays for good exactly when the "
                      "pool lies on the vertex, that is from the first generation. So the subsample loop "
                      "collapses with the same probability and at the same time as the accumulate loop, "
                      "while its model touches vertices transiently.", None, None))
    res = {}
    targets = _law_target(fam)
    limit = diffusion(_pure_setting(setting, "accumulate").for_derivations())
    if targets and targets[0][2] != 0 and limit is not None and "limit_factor" in limit.result:
        res["limit_factor"] = limit["limit_factor"]
        steps.append(Step(r"The limit law is not a point mass either: by R10.diffusion "
                          r"$\mathbb{E}\chi(\mu_\infty) = \chi(\mu_0)\sin(\pi y)/(\pi y) > 0$, "
                          r"$y^2 = -\lambda/M$ with $\lambda = " + tex(targets[0][2]) + r"$ (R10.moments), for $M > "
                          + tex(-targets[0][2]) + "$.", None, None))
    if first is not None:
        res["first_generation"] = first
    if fam.name == "bernoulli":
        steps.append(Step(r"For the Bernoulli the pool is its count $K_t$ of ones among $N_t = \sum_{k\le t} "
                          r"M_k$ points, a Markov chain $K_t = K_{t-1} + \mathrm{Bin}(M_t, K_{t-1}/N_{t-1})$ "
                          r"absorbed at $0$ and $N_t$; its law, computed exactly by dynamic programming "
                          r"over $K \le N_t$ ($O(M^2t^2)$ operations), confirms that "
                          r"$\mathbb{P}(\text{absorbed by } t)$ keeps its value at $t = 1$.", None, None))
    return Derivation("R10.absorption", fam.slug, "Absorption under accumulate and subsample", tuple(steps), res)


def _absorption_point(fam):
    """P_θ0(s = v) of each attainable vertex v, in the conventional parameters, for one-parameter
    finite families whose conventional form exists (Bernoulli: p^M + (1 − p)^M); else None."""
    if fam.d != 1 or not isinstance(fam.space, Finite):
        return None
    (t,) = fam.theta
    probs = []
    for st in (st for st in fam.absorbing_states if st.attainable):
        level = [v for v in fam.space.levels if fam.phi[0].subs(S.s, v) == st.phi[0]]
        if len(level) != 1:
            return None
        mass = sp.simplify(fam.h.subs(S.s, level[0]) * sp.exp(t * fam.phi[0].subs(S.s, level[0]) - fam.A))
        conv = fam.in_conventional(mass)
        probs.append(conv if conv is not None else mass)
    return probs


def accumulate_absorption_curve(M: int, p0: float, t: int, schedule=None) -> np.ndarray:
    """Exact P(K_s = 0) and P(K_s = N_s), s = 0..t, of the Bernoulli accumulate loop (pure, MLE):
    K_s = K_{s−1} + Bin(M_s, K_{s−1}/N_{s−1}) with K_1 ~ Bin(M_1, p0), N_s = Σ_{k≤s} M_k; an array of
    shape (t + 1, 2), by dynamic programming over the pool count (``schedule``: a
    :class:`~theory.regime.Schedule` of M_s, M_1 = M; None for constant M)."""
    from scipy.stats import binom

    if not (0 <= p0 <= 1) or t < 0 or M < 1:
        raise InputError(f"accumulate_absorption: need 0 <= p0 <= 1, t >= 0, M >= 1; got p0={p0}, t={t}, M={M}")
    regime = Regime("accumulate", schedule)
    out = np.zeros((t + 1, 2))
    out[0] = [p0 == 0, p0 == 1]
    law, N = np.array([1.0]), 0  # law of K over 0..N (before generation 1: N = 0)
    for s in range(1, t + 1):
        Ms = regime.model_points(s, M)
        p = np.array([p0]) if N == 0 else np.arange(N + 1) / N
        new = np.zeros(N + Ms + 1)
        j = np.arange(Ms + 1)
        pmf = binom.pmf(j[None, :], Ms, p[:, None])  # (states, draws)
        for draws in range(Ms + 1):
            new[draws:draws + len(law)] += law * pmf[:, draws]
        law, N = new, N + Ms
        out[s] = [law[0], law[-1]]
    return out


def accumulate_absorption(M: int, p0: float, t: int, schedule=None) -> float:
    """P(absorbed by generation t) of the Bernoulli accumulate loop: :func:`accumulate_absorption_curve`'s
    last row, both ends."""
    return float(accumulate_absorption_curve(M, p0, t, schedule)[-1].sum())


# --- R10.growth ---------------------------------------------------------------------------------
@result("R10.growth")
def growth(setting: Setting) -> Derivation | None:
    """R10.growth: replace with growing M_t collapses in mean (λ < 0) iff Σ_t 1/M_t = ∞; linear
    schedules E q(μ_t) ~ t^{λ/a}, geometric ones keep E q(μ_∞) > 0. Pure loop only."""
    fam = setting.family
    targets = _law_target(fam)
    if not pure(setting) or not targets:
        return None
    lam_value = targets[0][2]
    schedule = setting.regime.schedule
    kinds = [schedule.kind] if schedule is not None else ["linear", "geometric"]
    steps = [Step(r"Under replace with $M_t$ points at generation $t$, R10.moments gives "
                  r"$\mathbb{E}\,q(\mu_t) = q(\mu_0)\prod_{k\le t}(1 + \lambda/M_k)$, with", r"\lambda",
                  lam_value)]
    res = {"lambda": lam_value}
    if lam_value == 0:
        steps.append(Step("so the second moments of $\\mu$ are conserved: no collapse in mean for any schedule.",
                          None, None))
        return Derivation("R10.growth", fam.slug, "Growing sample sizes", tuple(steps), res)
    steps.append(Step(r"A product $\prod_k(1 - x_k)$ with $0 < x_k < 1$ tends to 0 iff $\sum_k x_k = \infty$, so "
                      r"($\lambda < 0$, $M_k > -\lambda$) the loop collapses in mean iff "
                      r"$\sum_t 1/M_t = \infty$." if lam_value.is_negative else
                      r"With $\lambda > 0$ the product grows without bound iff $\sum_t 1/M_t = \infty$.",
                      None, None))
    for kind in kinds:
        Mk = (schedule.symbolic(k) if schedule is not None and schedule.kind == kind
              else a_sched * k if kind == "linear" else a_sched * r_sched ** (k - 1)) if kind != "list" else None
        if Mk is None:
            steps.append(Step("For a list of sizes the product is evaluated numerically.", None, None))
            continue
        total = sp.simplify(sp.summation(1 / Mk, (k, 1, sp.oo)).replace(
            lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr))
        law = as_gamma(sp.product(1 + lam_value / Mk, (k, 1, S.t))) if kind == "linear" else sp.Product(
            1 + lam_value / Mk, (k, 1, S.t))
        res[f"sum_{kind}"] = total
        if not law.has(sp.Product):
            res[f"factor_{kind}"] = law
        text = {"linear": "Linear growth", "geometric": "Geometric growth"}[kind]
        steps.append(Step(f"{text}, $M_k = {tex(Mk)}$:", r"\sum_{k\ge1} \frac{1}{M_k}", total))
        if law.has(sp.Product):
            steps.append(Step("finite, so $\\mathbb{E}\\,q(\\mu_\\infty) > 0$: the loop does not collapse "
                              "in mean (the product converges to a positive number, evaluated numerically).",
                              None, None))
        else:
            rate = _power_law_constant(law, lam_value / Mk.coeff(k)) if kind == "linear" else None
            steps.append(Step("and exactly", r"\prod_{k=1}^{t}\Big(1 + \frac{\lambda}{M_k}\Big)", law))
            if rate is not None:
                res["linear_rate"] = lam_value / Mk.coeff(k)
                steps.append(Step(rf"so $\mathbb{{E}}\,q(\mu_t) \sim q(\mu_0)\,C\,t^{{{tex(lam_value / Mk.coeff(k))}}}$ "
                                  r"as $t\to\infty$: a power law, still a collapse, with", "C", rate))
    return Derivation("R10.growth", fam.slug, "Growing sample sizes", tuple(steps), res)


def _power_law_constant(law, exponent):
    """lim_{t→∞} law(t)/t^exponent for law = (1 + z)_t/t! = Γ(t+1+z)/(Γ(1+z)Γ(t+1)), z = exponent:
    1/Γ(1 + z), since Γ(t+1+z)/(Γ(t+1) t^z) → 1 (:func:`power_ratio_limit`)."""
    expected = as_gamma(sp.RisingFactorial(1 + exponent, S.t)) / sp.factorial(S.t)
    if sp.simplify(law - expected) != 0 or power_ratio_limit() != 0:
        raise AssertionError(f"the linear-schedule product {law} is not (1 + z)_t/t!")
    return 1 / sp.gamma(1 + exponent)
