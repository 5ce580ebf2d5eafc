"""Exact finite-M laws the claims compare with, derived here from the family's declaration.

Where the store has the result (R8's affine moment recursion, R9's entropy and Eq. 18) the
records read it there; the laws below are the ones a claim needs that the store does not yet
derive (the regimes' R10.* are being added): each is computed from SymPy expressions of the
family's χ(μ), and every docstring states the recursion it iterates.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ..errors import InputError
from ..family import ExponentialFamily
from ..numeric import evaluate, subs
from ..store import derivation


@functools.cache
def log_chi2_mean(k: int) -> float:
    """E[log X] for X ~ χ²_k: d/ds E[X^s] at s = 0, with E[X^s] = 2^s Γ(k/2 + s)/Γ(k/2)
    (= ψ(k/2) + log 2)."""
    s = sp.Symbol("s")
    moment = 2**s * sp.gamma(sp.Rational(k, 2) + s) / sp.gamma(sp.Rational(k, 2))
    return float(sp.diff(moment, s).subs(s, 0).evalf(30))


def gaussian_log_var_step(M: int) -> float:
    """E[log σ²_{t+1} − log σ²_t] of the Gaussian refitted by ML on M points: M σ²_{t+1}/σ²_t
    ~ χ²_{M−1}, so the step is E log χ²_{M−1} − log M, whatever σ²_t (a random walk)."""
    return log_chi2_mean(M - 1) - float(np.log(M))


def r8_moments(family: ExponentialFamily, mu0, sizes) -> dict[str, float]:
    """E of R8's monomials (μ_a, μ_aμ_b) after generations of M_1, M_2, ... points (pure loop):
    x_t = A(M_t) x_{t−1} + c(M_t), with A and c of R8 at M0 = 0 (exact at every finite M)."""
    r8 = derivation("R8.moments", family)
    if r8 is None:
        raise InputError(f"R8 (exact moments) does not apply to {family.title}")
    res = r8.result
    start = {m.name: float(v) for m, v in zip(family.mu_symbols, mu0, strict=True)}
    x = np.array([float(evaluate(e, start)) for e in res["monomials"]])
    A, c = (res[k].applyfunc(lambda e: subs(e, {"M0": 0})) for k in ("A", "c"))  # pure loop: no anchors
    for size in sizes:
        x = evaluate(A, {"M": float(size)}) @ x + evaluate(c, {"M": float(size)}).ravel()
    names = [str(m) for m in res["monomials"]]
    return dict(zip(names, x, strict=True))


def variance_curvature(family: ExponentialFamily, a: int) -> float:
    """g in E[χ_aa(μ)] = χ_aa(E μ) + g Var[μ_a] (g = ½ ∂²χ_aa/∂μ_a²), exact when χ_aa is a
    polynomial of degree ≤ 2 whose second derivatives involve μ_a alone; InputError otherwise."""
    chi = family.in_mu(family.chi)[a, a]
    mu = family.mu_symbols
    if not chi.is_polynomial(*mu) or sp.Poly(sp.expand(chi), *mu).total_degree() > 2:
        raise InputError(f"{family.title}: χ_{a + 1}{a + 1}(μ) is not a quadratic polynomial in μ")
    hessian = [[sp.diff(chi, x, y) for y in mu] for x in mu]
    if any(hessian[i][j] != 0 for i in range(len(mu)) for j in range(len(mu)) if (i, j) != (a, a)):
        raise InputError(f"{family.title}: χ_{a + 1}{a + 1} mixes parameters; its mean needs the covariances")
    return float(hessian[a][a] / 2)


def pooled_mean_error(family: ExponentialFamily, a: int, mu0, M: int, T: int,
                      regime: str) -> dict[str, float]:
    """Exact E[(μ_a,T − μ_a,0)²] of the fitted model under ``accumulate`` or ``subsample`` (M points a
    generation, pool of N_t = tM points). The pool's mean m_t of φ_a is a martingale, and with
    v_t = Var m_t and g of :func:`variance_curvature` (E χ_aa(μ) = χ_aa(μ0) + g v):

    * accumulate (the model is the pool's fit): v_{t+1} = v_t + (χ_aa(μ0) + g v_t)/(M (t+1)²);
    * subsample (the model is the fit of M points drawn without replacement from the pool; here
      φ_a² must be an affine function of φ, as x² is for the Gaussian, so the pool mean of φ_a² is
      a martingale and the pool variance has E s²_t = χ_aa(μ0) − v_t): with the finite-population
      moments of the subsample, Var[μ̂ | pool] = s² (N−M)/(M(N−1)) and E[χ̂ | pool] = s² N(M−1)/(M(N−1)),
      the next generation's points move m by M/(N+M) times their mean's offset, so
      v_{t+1} = v_t + (M/(N+M))² [Var μ̂ + E χ̂ / M] / s² · (χ_aa(μ0) − v_t), N = tM; the model's error
      adds Var[μ̂ | pool].

    Returns ``v`` (the pool mean's variance) and ``error`` (the model's), both at T.
    """
    mu = family.mu_symbols
    chi0 = float(evaluate(family.in_mu(family.chi)[a, a], {m.name: v for m, v in zip(mu, mu0, strict=True)}))
    g = variance_curvature(family, a)
    N, m = sp.symbols("N M", positive=True)
    if regime == "accumulate":
        v = 0.0
        for t in range(1, T + 1):
            v += (chi0 + g * v) / (M * t**2)
        return {"v": v, "error": v}
    if regime != "subsample":
        raise InputError(f"no pooled law for regime {regime!r}")
    if family.name != "gaussian" or a != 0:
        raise InputError("the subsample law here is derived for the Gaussian mean (x² is a statistic)")
    var_fit = (N - m) / (m * (N - 1))           # Var[μ̂ | pool] / s²
    chi_fit = N * (m - 1) / (m * (N - 1))       # E[χ̂ | pool] / s²
    step = sp.lambdify((N, m), (m / (N + m)) ** 2 * (var_fit + chi_fit / m))
    fit = sp.lambdify((N, m), var_fit)
    v = chi0 / M  # generation 1: the pool is the replace loop's M points
    for t in range(1, T):
        v += step(float(t * M), float(M)) * (chi0 - v)
    return {"v": v, "error": v + fit(float(T * M), float(M)) * (chi0 - v)}


def accumulate_limit(chi0: float, g: float, M: int, K: int = 10**6) -> float:
    """lim_t v_t of the accumulate recursion v_t = v_{t−1} + (χ0 + g v_{t−1})/(M t²):
    χ0 Σ 1/(M k²) = χ0 π²/(6M) when g = 0 (SymPy's sum), else (χ0/g)(Π_k (1 + g/(M k²)) − 1),
    the product taken to K with its tail exp(g/(MK)) (relative error O(K⁻²))."""
    if g == 0:
        k = sp.Symbol("k", positive=True, integer=True)
        return float(chi0 * sp.Sum(1 / k**2, (k, 1, sp.oo)).doit() / M)
    k = np.arange(1, K + 1, dtype=float)
    log_product = np.sum(np.log1p(g / (M * k**2))) + g / (M * K)
    return chi0 / g * float(np.expm1(log_product))
