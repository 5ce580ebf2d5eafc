"""The exact laws of the linear-regression loop (:mod:`theory.models.regression`), derived.

Least squares refitted on labels of the current model moves w by a martingale difference:
replace, w_t = w_{t−1} + σ G_t⁻¹X_tᵀε_t (G_t = X_tᵀX_t); accumulate, S_t w_t = S_{t−1}w_{t−1} +
X_tᵀ(X_t w_{t−1} + σε_t), so w_t = w_{t−1} + σ S_t⁻¹X_tᵀε_t (S_t the pooled Gram matrix). Hence
**w is a martingale** (E[w_t | past] = w_{t−1}: least squares is unbiased — not the exponential
families' mechanism of matched sufficient statistics, see theory.models.theorem), and |w_t − w_0|²
adds the increments' conditional variances:

* replace: E|w_t − w_0|² = σ² Σ_k E tr G_k⁻¹ — fresh design t σ² d/(M − d − 1) (the inverse-Wishart
  mean, derived below from E[1/χ²_ν] by SymPy), fixed design t σ² tr G⁻¹;
* accumulate: σ² Σ_k E tr(S_k⁻¹ G_k S_k⁻¹) — fixed design tr G⁻¹ Σ_k 1/k² (S_k = kG), → π²/6 σ² tr G⁻¹,
  Gerstgrasser et al.'s bound; fresh design, by the exchangeability of the pool's N_k rows,
  E tr(S_k⁻¹G_kS_k⁻¹) = (M_k/N_k) E tr S_k⁻¹ = (M_k/N_k) d/(N_k − d − 1), i.e. Σ_k d/(k(kM − d − 1))
  at constant M, whose limit SymPy sums to d/(d + 1) [ψ(1) − ψ(1 − (d + 1)/M)]: below the bound
  π²/6 d/(M − d − 1) term by term (k(kM − d − 1) ≥ k²(M − d − 1)), equal to it only as M → ∞.

Ridge (λ_k = σ²/V_k, prior mean A) under replace is an AR(1), w_t − A = 𝒜(w_{t−1} − A) + noise with
𝒜 = (G + Λ)⁻¹G and noise covariance N = σ²(G + Λ)⁻¹G(G + Λ)⁻¹: with a fixed design w_t is exactly
Gaussian, mean A + 𝒜ᵗ(w_0 − A), covariance Σ_t = Σ_{k<t} 𝒜ᵏN𝒜ᵏ → Σ (the discrete Lyapunov
equation Σ = 𝒜Σ𝒜 + N); for a uniform λ in G's eigenbasis Σ_ii = σ² g_i/(λ(2g_i + λ))
= (V/2)/(1 + λ/(2g_i)). The paper's Eq. 18 for this loop (u = 1 prior per generation, m = 0,
χ = I/σ² constant) reads p_st(w) ∝ p0(w)² = N(A, V/2): the exact law's leading order in 1/M
(g_i ≈ M), short of it by the factor 1/(1 + σ²/(2 V g_i)).
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp
from scipy.linalg import solve_discrete_lyapunov

from ..errors import InputError
from ..derivation import Derivation, Step
from ..diskcache import cached_law
from ..notation import positive_first
from ..store import record

t, k, M, d, n, nu, x, sigma, lam, g, a, s = sp.symbols("t k M d n nu x sigma lambda g a s", positive=True)


# -- SymPy: the inverse-Wishart mean and the accumulate limit ------------------------------------
@cached_law
def inverse_chi2_mean() -> sp.Expr:
    """E[1/X] for X ~ χ²_ν, integrated by SymPy: 1/(ν − 2) (ν > 2)."""
    density = x ** (nu / 2 - 1) * sp.exp(-x / 2) / (2 ** (nu / 2) * sp.gamma(nu / 2))
    value = sp.integrate(density / x, (x, 0, sp.oo), conds="none")
    return sp.simplify(sp.gammasimp(value))


@cached_law
def inverse_wishart_trace() -> sp.Expr:
    """E tr W⁻¹ for W = XᵀX ~ Wishart_d(n, I): each diagonal entry of W⁻¹ is 1/χ²_{n−d+1}
    (Bartlett), so d E[1/χ²_{n−d+1}] = d/(n − d − 1)."""
    return sp.simplify(d * inverse_chi2_mean().subs(nu, n - d + 1))


@cached_law
def replace_error() -> sp.Expr:
    """E|w_t − w_0|² under replace with a fresh N(0, I_d) design: t σ² d/(M − d − 1)."""
    return t * sigma**2 * inverse_wishart_trace().subs(n, M)


@cached_law
def accumulate_term() -> sp.Expr:
    """Generation k's share of E|w_t − w_0|² under accumulate, fresh design, constant M:
    (1/k) σ² E tr S_k⁻¹ with S_k ~ Wishart_d(kM, I)."""
    return sp.simplify(sigma**2 * inverse_wishart_trace().subs(n, k * M) / k)


@cached_law
def accumulate_limit() -> sp.Expr:
    """lim_t E|w_t − w_0|² under accumulate, fresh design, constant M: Σ_{k≥1} of
    :func:`accumulate_term`. In partial fractions (SymPy) the term is σ²d/(d + 1)·[1/(k − c) − 1/k],
    c = (d + 1)/M; its partial sums are F(K) = ψ(K + 1 − c) − ψ(1 − c) − ψ(K + 1) + ψ(1) (SymPy checks
    F(K) − F(K − 1) = the term's bracket and F(0) = 0: SymPy's own summation of it diverges term by
    term), and F(K) → ψ(1) − ψ(1 − c) (SymPy's limit)."""
    K, c = sp.Symbol("K", integer=True, positive=True), (d + 1) / M
    bracket = sp.apart(accumulate_term(), k) * (d + 1) / (sigma**2 * d)
    assert sp.simplify(bracket - (1 / (k - c) - 1 / k)) == 0

    def F(K_):
        return sp.digamma(K_ + 1 - c) - sp.digamma(1 - c) - sp.digamma(K_ + 1) + sp.digamma(1)

    assert sp.simplify(sp.expand_func(F(K) - F(K - 1) - bracket.subs(k, K))) == 0 and F(0) == 0
    tail = sp.limit(sp.digamma(K + 1 - sp.Symbol("c", positive=True)) - sp.digamma(K + 1), K, sp.oo)
    assert tail == 0
    return sigma**2 * d / (d + 1) * (sp.digamma(1) - sp.digamma(1 - c))


@cached_law
def ridge_stationary_eigen() -> sp.Expr:
    """The stationary variance of w along an eigenvector of G (eigenvalue g) under ridge, replace,
    fixed design: s = a² s + σ² g/(g + λ)² with a = g/(g + λ), solved by SymPy."""
    sol = sp.solve(sp.Eq(s, (g / (g + lam)) ** 2 * s + sigma**2 * g / (g + lam) ** 2), s)[0]
    return sp.factor(sp.simplify(sol))


def eq18_variance() -> sp.Expr:
    """Eq. 18 with the prior N(A, V) once per generation, no external data, χ = I/σ²:
    p_st ∝ p0² = N(A, V/2), V = σ²/λ."""
    return sigma**2 / (2 * lam)


# -- numbers the checks, figures and claims use -----------------------------------------------------
@functools.cache
def _trace_function():
    """(n, d) -> E tr W⁻¹, vectorised (NumPy) from :func:`inverse_wishart_trace`."""
    return sp.lambdify((n, d), inverse_wishart_trace(), "numpy")


def replace_sq_error(T: int, M_: int, d_: int, sigma_: float, design: np.ndarray | None = None,
                     schedule=None) -> float:
    """E|w_T − w_0|² under replace, least squares: t σ² d/(M − d − 1) (fresh; ``schedule``: a
    function k -> M_k, summed) or T σ² tr(XᵀX)⁻¹ (``design``, fixed); inf if M ≤ d + 1."""
    record("R12.regression.replace")
    if design is not None:
        return T * sigma_**2 * float(np.trace(np.linalg.inv(design.T @ design)))
    sizes = [schedule(j) if schedule else M_ for j in range(1, T + 1)]
    if min(sizes) <= d_ + 1:
        return float("inf")
    return float(sigma_**2 * np.sum(_trace_function()(np.array(sizes, float), d_)))


def accumulate_sq_error(T: int, M_: int, d_: int, sigma_: float, design: np.ndarray | None = None,
                        schedule=None) -> float:
    """E|w_T − w_0|² under accumulate, least squares: σ² tr(XᵀX)⁻¹ Σ_{k≤T} 1/k² (``design``) or
    σ² Σ_k (M_k/N_k) d/(N_k − d − 1) (fresh; N_k = M_1 + ... + M_k)."""
    record("R12.regression.accumulate")
    if design is not None:
        return sigma_**2 * float(np.trace(np.linalg.inv(design.T @ design))) * sum(1 / j**2 for j in range(1, T + 1))
    sizes = np.array([schedule(j) if schedule else M_ for j in range(1, T + 1)], float)
    pool = np.cumsum(sizes)
    if pool[0] <= d_ + 1:
        return float("inf")
    trace = _trace_function()(pool, d_)
    return float(sigma_**2 * np.sum(sizes / pool * trace))


def accumulate_limit_value(M_: int, d_: int, sigma_: float) -> float:
    """lim_t of :func:`accumulate_sq_error` (fresh design, constant M)."""
    record("R12.regression.accumulate")
    return float(accumulate_limit().subs({M: M_, d: d_, sigma: sigma_}).evalf(30))


def gerstgrasser_bound(M_: int, d_: int, sigma_: float) -> float:
    """π²/6 σ² d/(M − d − 1): the fixed design's limit in expectation over the design, the bound."""
    record("R12.regression.accumulate")
    return float(np.pi**2 / 6 * sigma_**2 * d_ / (M_ - d_ - 1))


def fixed_design_moments(T: int | None, design: np.ndarray, M_: int, sigma_: float, penalty: np.ndarray,
                         prior_mean: np.ndarray, w0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of w_T under replace with a fixed design (its first M rows labelled by the
    model, the rest external, labelled by w_0), least squares or ridge: an AR(1),
    w_t = 𝒜w_{t−1} + (G + Λ)⁻¹(G_e w_0 + ΛA) + noise, 𝒜 = (G + Λ)⁻¹G_m, noise covariance
    N = σ²(G + Λ)⁻¹G(G + Λ)⁻¹, so w_T is exactly Gaussian: mean w* + 𝒜ᵀ(w_0 − w*) with the fixed point
    (G_e + Λ)w* = G_e w_0 + ΛA, covariance Σ_{k<T} 𝒜ᵏN𝒜ᵏᵀ. ``T`` None: the stationary law
    (Σ = 𝒜Σ𝒜ᵀ + N), which exists only when 𝒜 contracts: a prior, or external rows spanning R^d (with
    fewer, w is a martingale along the directions they miss)."""
    X = np.asarray(design, float)
    G, G_m = X.T @ X, X[:M_].T @ X[:M_]
    G_e, lam = G - G_m, np.diag(penalty)
    if np.any(penalty > 0):
        record("R12.regression.ridge")
    if len(X) > M_:
        record("R12.regression.external")
    inv = np.linalg.inv(G + lam)
    A_, N_ = inv @ G_m, sigma_**2 * inv @ G @ inv.T
    anchored = np.linalg.matrix_rank(G_e + lam) == len(G)
    fixed = np.linalg.solve(G_e + lam, G_e @ w0 + penalty * prior_mean) if anchored else np.asarray(w0, float)
    if T is None:
        if not anchored or max(abs(np.linalg.eigvals(A_))) >= 1:
            raise InputError("no stationary law: without a prior the external rows must span R^d (w is a "
                             "martingale along the directions they miss)")
        return fixed, solve_discrete_lyapunov(A_, N_)
    cov, power = np.zeros_like(G), np.eye(len(G))
    for _ in range(T):
        cov += power @ N_ @ power.T
        power = A_ @ power
    return fixed + power @ (w0 - fixed), cov


def eq18_normal(m: int, sigma_: float, V: float | None, A: float, w0: float) -> tuple[float, float]:
    """Eq. 18 for one component of w: p_st ∝ p0(w)^2 e^{−2m D_KL}, D_KL = |w − w_0|²/(2σ²) per
    point (inputs N(0, I)): the normal of precision 2/V + 2m/σ² and mean weighted between A and
    w_0 (V None: no prior)."""
    prec = (0.0 if V is None else 2 / V) + 2 * m / sigma_**2
    mean = ((0.0 if V is None else 2 * A / V) + 2 * m * w0 / sigma_**2) / prec
    return float(mean), float(1 / prec)


@cached_law
def martingale_gap() -> sp.Matrix:
    """(XᵀX)⁻¹Xᵀ(Xw) − w on a symbolic 3 × 2 design, simplified by SymPy: 0, so least squares on
    labels Xw + σε has mean w (E ε = 0)."""
    X = sp.Matrix(3, 2, sp.symbols("x1:7"))
    w = sp.Matrix(sp.symbols("w1:3"))
    return ((X.T * X).inv() * X.T * (X * w) - w).applyfunc(sp.simplify)


def w_is_a_martingale() -> bool:
    """E[w_t | w_{t−1}, X] = w_{t−1} under least squares: (XᵀX)⁻¹Xᵀ(Xw + σε) = w + σ(XᵀX)⁻¹Xᵀε with
    E ε = 0, checked by SymPy on a symbolic 3 × 2 design (:func:`martingale_gap`)."""
    record("R12.regression.martingale")
    return all(e == 0 for e in martingale_gap())


def _tex(expr: sp.Expr) -> str:
    """LaTeX of a ratio with its denominator's sign turned positive and each sum from its positive
    terms (d/(n − d − 1), not −d/(d − n + 1)), and ψ for the digamma."""
    num, den = sp.fraction(sp.together(expr))
    factors = []
    for f in sp.Mul.make_args(den):  # n, M, nu >> d: the sign each factor has in use
        if f.subs({v: (10**9 if v in (n, M, nu) else 1) for v in f.free_symbols}) < 0:
            f, num = sp.expand(-f), -num
        factors.append(f)
    den = sp.Mul(*factors)
    sign, num = ("- ", -num) if num.could_extract_minus_sign() else ("", num)
    text = positive_first(num) if den == 1 else rf"{sign}\frac{{{positive_first(num)}}}{{{positive_first(den)}}}"
    return text.replace(r"\operatorname{polygamma}{\left(0,", r"\psi{\left(")


def derivations() -> list[Derivation]:
    """R12.regression.* for the derivation document, from the SymPy expressions above."""
    XtX = r"X^{\mathsf T}X"
    martingale = Derivation("R12.regression.martingale", "model-classes", "the weights are a martingale", (
        Step(r"The loop: $y=x\cdot w+\sigma\varepsilon$ with inputs $x\sim\mathcal N(0,I_d)$; each generation "
             r"labels $M$ inputs with $w_{t-1}$ and refits by least squares, "
             rf"$w_t=w_{{t-1}}+\sigma({XtX})^{{-1}}X^{{\mathsf T}}\varepsilon$ (replace), or "
             r"$w_t=w_{t-1}+\sigma S_t^{-1}X_t^{\mathsf T}\varepsilon_t$ with $S_t$ the Gram matrix of the pool "
             r"(accumulate). Least squares is unbiased: on a symbolic $3\times 2$ design SymPy simplifies",
             rf"({XtX})^{{-1}}X^{{\mathsf T}}Xw - w", martingale_gap()),
        Step(r"so $w$ is a martingale, by unbiasedness rather than by matched sufficient statistics "
             r"(R12.theorem), and $|w_t-w_0|^2$ adds the conditional variances of the increments."),),
        {"gap": martingale_gap()})
    replace = Derivation("R12.regression.replace", "model-classes", "the error under replace", (
        Step(r"SymPy integrates the inverse of a $\chi^2_\nu$ variable:",
             r"\mathbb{E}[1/\chi^2_\nu]", _tex(inverse_chi2_mean())),
        Step(r"Each diagonal entry of $W^{-1}$, $W\sim\mathrm{Wishart}_d(n,I)$, is the inverse of a "
             r"$\chi^2_{n-d+1}$ variable (Bartlett):", r"\mathbb{E}\operatorname{tr}W^{-1}",
             _tex(inverse_wishart_trace())),
        Step(r"so with a fresh design of $M$ rows each generation (a fixed design: "
             rf"$t\sigma^2\operatorname{{tr}}({XtX})^{{-1}}$)", r"\mathbb{E}|w_t-w_0|^2", _tex(replace_error())),),
        {"sq_error": replace_error()})
    accumulate = Derivation("R12.regression.accumulate", "model-classes", "the error under accumulate", (
        Step(r"With a fresh design ($G_k$ the Gram matrix of generation $k$'s rows, $S_k$ of the pool's $kM$ rows, "
             r"exchangeable), generation $k$ adds",
             r"\sigma^2\,\mathbb{E}\operatorname{tr}(S_k^{-1}G_kS_k^{-1})", _tex(accumulate_term())),
        Step(r"whose sum SymPy finds in digamma functions $\psi$ ($\gamma$ is Euler's constant, "
             r"$\psi(1) = -\gamma$):", r"\lim_t\mathbb{E}|w_t-w_0|^2", _tex(accumulate_limit())),
        Step(r"below $\frac{\pi^2}{6}\frac{\sigma^2 d}{M-d-1}$ term by term, the fixed design's limit "
             rf"$\sigma^2\operatorname{{tr}}({XtX})^{{-1}}\sum_k k^{{-2}}$ in expectation over the design."),),
        {"limit": accumulate_limit()})
    ridge = Derivation("R12.regression.ridge", "model-classes", "the stationary law of ridge", (
        Step(r"Ridge with the prior $\mathcal N(A, V)$, penalty $\lambda=\sigma^2/V$, fixed design: along an "
             rf"eigenvector of ${XtX}$ of eigenvalue $g$, $w_t-A$ is an autoregression of coefficient "
             r"$a=g/(g+\lambda)$ and noise variance $\sigma^2 g/(g+\lambda)^2$, whose stationary variance SymPy "
             r"solves from $s=a^2s+\sigma^2 g/(g+\lambda)^2$:", "s", _tex(ridge_stationary_eigen())),
        Step(r"The reference paper's Eq.~18 for this loop (the prior once per generation, no external points, "
             r"$\chi=I/\sigma^2$) gives $p_{\mathrm{st}}\propto p_0^2$, of variance",
             r"\operatorname{Var}_{\mathrm{st}}", _tex(eq18_variance())),
        Step(r"the $g\to\infty$ limit of the exact law (leading order in $1/M$, as $g\approx M$)."),),
        {"stationary_variance": ridge_stationary_eigen()})
    external = Derivation("R12.regression.external", "model-classes", "external rows labelled by the truth", (
        Step(r"With a fixed design whose rows beyond the first $M$ are labelled by $w_0$ ($G$ the Gram matrix of "
             r"every row, $G_m$ of the first $M$, $G_e=G-G_m$, $\Lambda$ the penalties), least squares or ridge "
             r"is an autoregression $w_t = \mathcal A w_{t-1} + (G + \Lambda)^{-1}(G_e w_0 + \Lambda A)$ plus "
             r"noise, $\mathcal A = (G + \Lambda)^{-1}G_m$, so $w_t$ is exactly Gaussian; its stationary law "
             r"exists when $\mathcal A$ contracts (a prior, or external rows spanning $\mathbb{R}^d$), centred "
             r"at $w^*$ with $(G_e + \Lambda)w^* = G_e w_0 + \Lambda A$; with fewer rows $w$ stays a martingale "
             r"along the directions they miss."),))
    return [martingale, replace, accumulate, ridge, external]

