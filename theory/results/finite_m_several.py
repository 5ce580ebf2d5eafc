"""Eq. 18 at finite M with any number of free parameters: the O(1/M) correction to its moments.

R9.stationary_correction (:mod:`.finite_m`) derives the correction in closed form for one
free parameter, where the zero-current equation integrates once. With d ≥ 2 the correction
solves a partial differential equation; this module computes it numerically, in three steps.

1. Jump moments. The refit solves F(θ') = S/n, F = μ − w g, w = u/n (n = M + m, g = ∇log p0).
   Its inverse series around θ, with δ = S/n − F(θ), G = (∂F)⁻¹ and F_k = ∂^k F,
   Δθ = Σ_k T_k[δ^{⊗k}]:  T1 = G, T2 = −½ G F2[T1, T1], T3 = −G(F2[T1, T2] + F3[T1, T1, T1]/6),
   T4 = −G(½F2[T2, T2] + F2[T1, T3] + ½F3[T1, T1, T2] + F4[T1⁴]/24),
   and the exact raw moments of δ (E δ = ε[m(μ_q − μ) + u g]/(1 + mε), Cov δ = ε(χ + εm_f χ*)/
   (1 + mε)², third cumulant ε²κ, fourth moment 3ε² sym(χ⊗χ), ε = 1/M) give
   E[Δθ^{⊗j}] = ε A_j + ε² B_j + O(ε³) (A_3 = A_4 = 0) as truncated series in ε, evaluated
   on arrays of θ with the family's cumulants χ, κ, κ4, κ5 (its declared levels for a finite
   space, SymPy's derivatives of A otherwise) and the prior's derivatives (SymPy).
2. Generators. For smooth f, E[f(θ') − f(θ)] = ε L1 f + ε² L2 f + O(ε³),
   L1 f = a1·∇f + ½ b1:∇²f (R9's diffusion), L2 f = a2·∇f + ½ b2:∇²f + c2:∇³f/6 + d2:∇⁴f/24
   (raw moments: a_k, b_k, c_k, d_k the ε^k coefficients of the first to fourth).
3. Stationarity of p = p0(1 + εφ) + O(ε²), p0 Eq. 18 (E_p0[L1 f] = 0), at order ε²:
   E_p0[φ L1 f] = −E_p0[L2 f] for all f. L1 is symmetric in L²(p0) (zero current), with
   E_p0[f L1 φ] = −½E_p0[∇f·b1∇φ], so φ is the solution of the weak problem
       ½ E_p0[∇f · b1 ∇φ] = E_p0[L2 f]     for every f,   E_p0[φ] = 0,
   solved by Galerkin on the polynomials of total degree ≤ K (products of Hermite polynomials
   in θ standardised by p0), the expectations by the trapezoid rule on a grid covering p0's mass
   (spectrally accurate for smooth, decaying integrands). Then for any f
       E_M[f] = E_p0[f] + Cov_p0(φ, f)/M + O(M⁻²).
   With d = 1 φ is the h of R9.stationary_correction (tests: the same c).

What is approximated: φ by its projection on degree-K polynomials (the returned coefficients
at K and K − 2 show the convergence), the integrals by quadrature. What is not: the orders in
1/M are exact algebra. The series in 1/M is asymptotic: where χ → 0 inside the mass of Eq. 18
(toward a vertex of the marginal polytope) the next orders grow fast and the 1/M regime starts
late; where they outgrow Eq. 18 (Curie–Weiss with the Gaussian priors of Fig. 2 (ii)) the
coefficient is refused. The quadrature grid has points^d nodes: d ≤ 2 (jump moments: any d).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Step
from ..errors import InputError
from ..family import Finite
from ..numeric import evaluate
from ..setting import Setting
from .general import stationary

ORDER = 2   # series in ε = 1/M kept to ε²
MAX_D = 2   # free parameters of the Galerkin's tensor grid
LETTERS = "abcdefghijklmopqrstuvwxyz"  # einsum indices ('n' is the batch of θ points)


# --- truncated series in ε: lists of ORDER + 1 coefficients (arrays, or the float 0 for none) -----
Series = list  # [ε⁰, ε¹, ε²]


def _product(spec: str, *factors: Series) -> Series:
    """einsum of series factors, truncated at ε^ORDER."""
    out: Series = [0.0] * (ORDER + 1)
    for orders in itertools.product(range(ORDER + 1), repeat=len(factors)):
        k = sum(orders)
        parts = [f[o] for f, o in zip(factors, orders, strict=True)]
        if k > ORDER or any(isinstance(p, float) and p == 0.0 for p in parts):
            continue
        out[k] = out[k] + np.einsum(spec, *parts, optimize=True)
    return out


def _add(*series: Series) -> Series:
    return [sum(s[k] for s in series) for k in range(ORDER + 1)]


def _scale(c: float, s: Series) -> Series:
    return [c * x for x in s]


def _moment(T: dict, raw: dict, j: int, shape: tuple) -> Series:
    """E[Δθ^{⊗j}] = Σ over (k1..kj), Σk ≤ 4, of T_k1 ⊗ … ⊗ T_kj contracted with E[δ^{⊗Σk}]."""
    total: Series = [0.0] * (ORDER + 1)
    free = LETTERS[:j]
    for ks in itertools.product(range(1, 5), repeat=j):
        r = sum(ks)
        if r > 4:          # E[δ^{⊗r}] = O(ε^⌈r/2⌉)
            continue
        slots = iter("ABCDEFGH"[:r])
        specs = ["n" + free[a] + "".join(next(slots) for _ in range(k)) for a, k in enumerate(ks)]
        spec = ",".join(specs + ["n" + "ABCDEFGH"[:r]]) + "->n" + free
        total = _add(total, _product(spec, *[T[k] for k in ks], raw[r]))
    return [np.zeros(shape) if isinstance(x, float) else x for x in total]


# --- the family's cumulants and the prior's derivatives on arrays of θ --------------------------
def _levels(family):
    lv = family.space.levels
    phi = np.array([[float(p.subs(S.s, v)) for p in family.phi] for v in lv])
    log_h = np.array([float(sp.log(family.h.subs(S.s, v))) for v in lv])
    return phi, log_h


def _finite_cumulants(family, theta: np.ndarray) -> list[np.ndarray]:
    """[μ, χ, κ, κ4, κ5] at θ (N, d) as joint cumulants of φ over the declared levels:
    centred moments m_k, κ4 = m4 − Σ₃ m2 m2, κ5 = m5 − Σ₁₀ m2 m3 (A's derivatives)."""
    phi, log_h = _levels(family)
    logit = log_h[None] + theta @ phi.T
    q = np.exp(logit - logit.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    mu = q @ phi
    x = phi[None] - mu[:, None]                                   # (N, L, d) centred
    m2 = np.einsum("nl,nla,nlb->nab", q, x, x)
    m3 = np.einsum("nl,nla,nlb,nlc->nabc", q, x, x, x)
    m4 = np.einsum("nl,nla,nlb,nlc,nle->nabce", q, x, x, x, x)
    m5 = np.einsum("nl,nla,nlb,nlc,nle,nlf->nabcef", q, x, x, x, x, x)
    k4 = m4 - (np.einsum("nab,nce->nabce", m2, m2) + np.einsum("nac,nbe->nabce", m2, m2)
               + np.einsum("nae,nbc->nabce", m2, m2))
    k5 = m5.copy()
    idx = "abcef"
    for pair in itertools.combinations(range(5), 2):     # the ten ways to split 5 into 2 + 3
        rest = "".join(idx[i] for i in range(5) if i not in pair)
        k5 -= np.einsum(f"n{idx[pair[0]]}{idx[pair[1]]},n{rest}->n{idx}", m2, m3)
    return [mu, m2, m3, k4, k5]


@functools.lru_cache(maxsize=32)
def _derivative_tensors(expr: sp.Expr, theta: tuple, orders: tuple[int, ...]):
    """{k: the k-th derivative tensor of expr in θ (nested lists of SymPy expressions)}."""
    d = len(theta)
    out = {}
    for k in orders:
        cache = {}
        entries = []
        for idx in itertools.product(range(d), repeat=k):
            key = tuple(sorted(idx))
            if key not in cache:
                cache[key] = sp.diff(expr, *[theta[i] for i in key]) if k else expr
            entries.append(cache[key])
        out[k] = entries
    return out


def _tensor(entries, d: int, k: int, values: dict, n: int) -> np.ndarray:
    arrays = [np.broadcast_to(evaluate(e, values), (n,)) if e != 0 else np.zeros(n) for e in entries]
    return np.stack(arrays, axis=-1).reshape((n,) + (d,) * k)


def cumulants(setting: Setting, theta: np.ndarray, values: dict | None = None) -> list[np.ndarray]:
    """[μ, χ, κ, κ4, κ5] of the setting's family at θ (N, d)."""
    fam = setting.family
    if isinstance(fam.space, Finite):
        return _finite_cumulants(fam, theta)
    vals = dict(values or {}) | {t.name: theta[:, a] for a, t in enumerate(fam.theta)}
    tensors = _derivative_tensors(fam.A, fam.theta, (1, 2, 3, 4, 5))
    return [_tensor(tensors[k], fam.d, k, vals, len(theta)) for k in range(1, 6)]


def prior_derivatives(setting: Setting, theta: np.ndarray) -> list[np.ndarray]:
    """[∇, ∇², ∇³, ∇⁴] of u log p0 at θ (N, d) (zeros for ML)."""
    fam = setting.family
    vals = {t.name: theta[:, a] for a, t in enumerate(fam.theta)}
    tensors = _derivative_tensors(sp.sympify(setting.log_prior), fam.theta, (1, 2, 3, 4))
    return [_tensor(tensors[k], fam.d, k, vals, len(theta)) for k in range(1, 5)]


def _truth(setting: Setting, values: dict) -> tuple[np.ndarray, np.ndarray]:
    """(μ_q, χ*) of the external data (μ_q: fresh points and fixed data; χ* the truth's)."""
    fam = setting.family
    d = fam.d
    mu_q = np.array([float(evaluate(e, values)) if e.free_symbols else float(e) for e in setting.mu_q]) \
        if setting.m != 0 else np.zeros(d)
    if setting.from_truth == 0:
        return mu_q, np.zeros((1, d, d))
    star = np.array([[float(values[f"{t.name}_star"]) for t in fam.theta]])
    return mu_q, cumulants(setting, star, values)[1]


# --- step 1: the jump moments ----------------------------------------------------------------------
def jump_moments(setting: Setting, theta: np.ndarray, values: dict | None = None) -> dict:
    """{(j, k): the M⁻ᵏ coefficient of E[(θ' − θ)^{⊗j} | θ]}, arrays (N,) + (d,)*j, j = 1..4, k = 1, 2."""
    values = dict(values or {})
    theta = np.atleast_2d(np.asarray(theta, float))
    n, d = theta.shape
    mu, chi, kappa, kappa4, kappa5 = cumulants(setting, theta, values)
    g1, g2, g3, g4 = prior_derivatives(setting, theta)
    mu_q, chi_star = _truth(setting, values)
    m, mf, u = float(setting.m), float(setting.from_truth), float(setting.u)
    # the refit's map F = μ − w g, w = u/n = uε/(1 + mε) = uε − umε² + …: its derivatives F2..F4
    # (−w ∇⁵ log p0 enters at ε³ only)
    F2, F3 = ([c, -u * gk, u * m * gk] for c, gk in ((kappa, g3), (kappa4, g4)))
    F4: Series = [kappa5, 0.0, 0.0]
    # χ singular to float64 (a law on a vertex, far in the tails of Eq. 18): C = ∞ there, which the
    # caller's tail test refuses rather than a quadrature that silently drops it
    singular = np.linalg.cond(chi) > 1e15
    C = np.linalg.inv(np.where(singular[:, None, None], np.eye(d), chi))
    C[singular] = np.inf
    # G = (χ − w H)⁻¹ = C + w CHC + w² CHCHC, H = ∇² log p0
    CHC = np.einsum("nab,nbc,ncd->nad", C, g2, C)
    G = [C, u * CHC, -u * m * CHC + u * u * np.einsum("nab,nbc,ncd->nad", CHC, g2, C)]
    T1 = G
    T2 = _scale(-0.5, _product("nab,nbcd,nci,ndj->naij", G, F2, T1, T1))
    T3 = _scale(-1.0, _add(_product("nab,nbcd,nci,ndjk->naijk", G, F2, T1, T2),
                           _scale(1 / 6, _product("nab,nbcde,nci,ndj,nek->naijk", G, F3, T1, T1, T1))))
    T4 = _scale(-1.0, _add(
        _scale(0.5, _product("nab,nbcd,ncij,ndkl->naijkl", G, F2, T2, T2)),
        _product("nab,nbcd,nci,ndjkl->naijkl", G, F2, T1, T3),
        _scale(0.5, _product("nab,nbcde,nci,ndj,nekl->naijkl", G, F3, T1, T1, T2)),
        _scale(1 / 24, _product("nab,nbcdef,nci,ndj,nek,nfl->naijkl", G, F4, T1, T1, T1, T1))))
    T = {1: T1, 2: T2, 3: T3, 4: T4}
    # raw moments of δ to ε² (the fresh points' κ* enters the third cumulant at ε³ only)
    e1 = m * (mu_q[None] - mu) + u * g1
    ein = np.einsum
    raw = {
        1: [0.0, e1, -m * e1],
        2: [0.0, chi, mf * chi_star - 2 * m * chi + ein("na,nb->nab", e1, e1)],
        3: [0.0, 0.0, kappa + ein("nab,nc->nabc", chi, e1) + ein("nac,nb->nabc", chi, e1)
            + ein("nbc,na->nabc", chi, e1)],
        4: [0.0, 0.0, ein("nab,ncd->nabcd", chi, chi) + ein("nac,nbd->nabcd", chi, chi)
            + ein("nad,nbc->nabcd", chi, chi)],
    }
    out = {(j, k): x for j in range(1, 5) for k, x in enumerate(_moment(T, raw, j, (n,) + (d,) * j))}
    ok = ~singular
    if any(np.max(np.abs(out[(j, 0)][ok]), initial=0) > 0 for j in range(1, 5)) or np.max(
            np.abs(out[(3, 1)][ok]), initial=0) > 1e-9 * (1 + np.max(np.abs(out[(3, 2)][ok]), initial=0)) \
            or np.max(np.abs(out[(4, 1)][ok]), initial=0) > 0:
        raise AssertionError("the jump moments are not of the diffusion order")
    return {key: v for key, v in out.items() if key[1] > 0}


# --- steps 2 and 3: the generators and the Galerkin solution -------------------------------------
def _grid(setting: Setting, values: dict, points: int, cut: float = 70.0):
    """(θ nodes (N, d), trapezoid weights of p0 normalised, log p0) on a tensor grid over the box
    where log p0 > max − ``cut`` (first found on a coarse grid over [−40, 40]^d)."""
    fam = setting.family
    d = fam.d
    if d > MAX_D:
        raise InputError(f"{setting.label}: the finite-M correction is computed for at most {MAX_D} free "
                         f"parameters (its quadrature grid grows as points^d), not {d}")
    log_p = stationary(setting.for_derivations()).result["log_density"]

    def ell(nodes):
        vals = values | {t.name: nodes[:, a] for a, t in enumerate(fam.theta)}
        return np.broadcast_to(evaluate(log_p, vals), (len(nodes),))

    def mesh(axes):
        return np.stack([x.ravel() for x in np.meshgrid(*axes, indexing="ij")], axis=-1)

    coarse = [np.linspace(-40.0, -1e-9 if t.name in fam.negative else 40.0, 801 if d == 1 else 321)
              for t in fam.theta]
    nodes = mesh(coarse)
    e = ell(nodes)
    keep = np.isfinite(e) & (e > np.nanmax(np.where(np.isfinite(e), e, -np.inf)) - cut)
    if not keep.any():
        raise InputError(f"{setting.label}: Eq. 18 has no mass on the grid")
    axes = []
    for a, x in enumerate(coarse):
        step = x[1] - x[0]
        lo, hi = nodes[keep, a].min() - step, nodes[keep, a].max() + step
        if fam.theta[a].name in fam.negative:
            hi = min(hi, -1e-9)
        if lo <= x[0] or hi >= x[-1] + 1e-12 and fam.theta[a].name not in fam.negative:
            raise InputError(f"{setting.label}: Eq. 18 is not concentrated in [-40, 40] along "
                             f"{fam.theta[a].name}; no finite-M correction")
        axes.append(np.linspace(lo, hi, points))
    nodes = mesh(axes)
    e = ell(nodes)
    w = np.where(np.isfinite(e), np.exp(e - np.nanmax(np.where(np.isfinite(e), e, -np.inf))), 0.0)
    edge = np.zeros(len(nodes), bool)
    for a, x in enumerate(axes):
        edge |= (nodes[:, a] == x[0]) | (nodes[:, a] == x[-1])
    if w[edge].max() > 1e-20:
        raise InputError(f"{setting.label}: Eq. 18 does not vanish at the edge of its grid")
    return nodes, w / w.sum()


def _hermite(n_max: int, x: np.ndarray) -> np.ndarray:
    """He_0..He_{n_max}(x) (probabilists' Hermite polynomials), shape (n_max + 1, len x)."""
    out = np.empty((n_max + 1, len(x)))
    out[0] = 1.0
    if n_max:
        out[1] = x
    for k in range(2, n_max + 1):
        out[k] = x * out[k - 1] - (k - 1) * out[k - 2]
    return out


def _basis(nodes: np.ndarray, weights: np.ndarray, degree: int):
    """Products of Hermite polynomials in θ standardised by p0, total degree 1..``degree``:
    (exponents, {derivative multi-index: values (B, N)}) for derivatives of order 0..4 (∂/∂θ)."""
    n, d = nodes.shape
    mean = weights @ nodes
    sd = np.sqrt(weights @ (nodes - mean) ** 2)
    x = (nodes - mean) / sd
    he = [_hermite(degree, x[:, a]) for a in range(d)]
    exps = [e for e in itertools.product(range(degree + 1), repeat=d) if 0 < sum(e) <= degree]

    def derivative(order_per_axis):
        rows = []
        for e in exps:
            v = np.ones(n)
            for a in range(d):
                r, k = order_per_axis[a], e[a]
                if r > k:
                    v = np.zeros(n)
                    break
                v = v * (math.factorial(k) // math.factorial(k - r)) * he[a][k - r] / sd[a] ** r
            rows.append(v)
        return np.array(rows)

    values = {}
    for r in range(5):
        for idx in itertools.product(range(d), repeat=r):
            key = tuple(sorted(idx))
            if key not in values:
                values[key] = derivative([key.count(a) for a in range(d)])
    return exps, values


def _apply(moment: np.ndarray, values: dict, order: int) -> np.ndarray:
    """moment:∇^order f for every basis function, (B, N): Σ over index tuples."""
    d = moment.shape[1]
    out = np.zeros_like(values[()])
    for idx in itertools.product(range(d), repeat=order):
        out += moment[(slice(None),) + idx][None] * values[tuple(sorted(idx))]
    return out


def _tail_share(J: dict, nodes: np.ndarray, w: np.ndarray, axes_edges) -> float:
    """Largest p0-weighted size of the M⁻² jump moments on the grid's edge, relative to its maximum."""
    size = sum(np.abs(J[key]).reshape(len(w), -1).max(axis=1) for key in J if key[1] == 2) * w
    edge = np.zeros(len(w), bool)
    for a, (lo, hi) in enumerate(axes_edges):
        edge |= (nodes[:, a] <= lo) | (nodes[:, a] >= hi)
    return float(size[edge].max() / size.max()) if edge.any() else 0.0


TAIL_SHARE = 1e-6  # the O(M⁻²) jump moments times Eq. 18 must have decayed by the grid's edge


def correction_coefficients(setting: Setting, functions, values: dict | None = None,
                            degree: int = 10, points: int = 161) -> dict:
    """E_M[f] = E_p0[f] + c_f/M + O(M⁻²) for each numpy callable f(θ (N, d)) in ``functions``.

    Returns {"mean": [E_p0 f], "c": [c_f], "c_lower": [c_f with degree − 2] (the Galerkin's
    convergence), "stationarity": max |E_p0[L1 g]| over the basis, relative (0 up to quadrature:
    p0 is L1's stationary law), "phi": φ on the nodes, "nodes", "weights"}.

    Refused (InputError) where the M⁻² jump moments grow faster than Eq. 18 decays, so that
    p0 times them is still large at the edge of the grid (the box where p0 > e⁻⁷⁰ of its
    peak): there the coefficient of 1/M is carried by the far tails, where χ is exponentially
    small, and the finite-M law is not described by it at any practical M.
    """
    values = dict(values or {})
    nodes, w = _grid(setting, values, points)
    edges = [(x.min() + 2 * (np.ptp(x) / (points - 1)), x.max() - 2 * (np.ptp(x) / (points - 1)))
             for x in nodes.T]
    live = w > 1e-300 * w.max()
    nodes, w = nodes[live], w[live] / w[live].sum()
    with np.errstate(over="ignore", invalid="ignore"):
        J = jump_moments(setting, nodes, values)
    tail = _tail_share(J, nodes, w, edges)
    if not np.isfinite(tail) or tail > TAIL_SHARE:
        raise InputError(f"{setting.label}: the O(1/M) coefficient is carried by the far tails of Eq. 18 "
                         f"(where chi is exponentially small, the 1/M^2 jump moments outgrow it: "
                         f"{tail:.1e} of their weighted peak at the edge of the grid), so the finite-M law "
                         "is not a series in 1/M at any practical M")
    exps, der = _basis(nodes, w, degree)
    grad = np.stack([der[(a,)] for a in range(setting.family.d)], axis=-1)      # (B, N, d)
    L1 = _apply(J[1, 1], der, 1) + _apply(J[2, 1], der, 2) / 2
    L2 = (_apply(J[1, 2], der, 1) + _apply(J[2, 2], der, 2) / 2 + _apply(J[3, 2], der, 3) / 6
          + _apply(J[4, 2], der, 4) / 24)
    flux = np.einsum("nbc,jnc->jnb", J[2, 1], grad)                         # b1 ∇g_j
    stiffness = (grad * w[None, :, None]).reshape(len(exps), -1) @ flux.reshape(len(exps), -1).T / 2
    load = L2 @ w
    scale = np.sqrt(2 * np.diag(stiffness))
    out = {"mean": [], "c": [], "c_lower": [], "stationarity": float(np.max(np.abs(L1 @ w) / scale)),
           "nodes": nodes, "weights": w, "degree": degree}
    phis = []
    for keep in (np.ones(len(exps), bool), np.array([sum(e) <= degree - 2 for e in exps])):
        coef = np.linalg.solve(stiffness[np.ix_(keep, keep)], load[keep])
        phi = coef @ der[()][keep]
        phis.append(phi - w @ phi)
    out["phi"] = phis[0]
    for f in functions:
        fx = np.broadcast_to(np.asarray(f(nodes), float), (len(nodes),))
        mean = float(w @ fx)
        out["mean"].append(mean)
        out["c"].append(float(w @ (phis[0] * (fx - mean))))
        out["c_lower"].append(float(w @ (phis[1] * (fx - mean))))
    return out


CONVERGED = 1e-2  # |V1(degree) − V1(degree − 2)| relative to |V1| beyond which V1 is refused


def covariance_correction(setting: Setting, values: dict | None = None, degree: int = 10,
                          points: int = 161) -> dict:
    """Eq. 18's mean and covariance of θ and their 1/M coefficients: E_M[θ] = m0 + m1/M,
    Cov_M[θ] = V0 + V1/M + O(M⁻²), V1_ab = c(θ_aθ_b) − m0_a m1_b − m1_a m0_b; ``V1_lower`` the
    same at degree − 2 (the Galerkin's convergence: refused, InputError, where they differ by more
    than :data:`CONVERGED` of |V1|), ``stationarity`` as in :func:`correction_coefficients`."""
    d = setting.family.d
    pairs = [(a, b) for a in range(d) for b in range(a, d)]
    fs = [(lambda t, a=a: t[:, a]) for a in range(d)] + [(lambda t, a=a, b=b: t[:, a] * t[:, b])
                                                        for a, b in pairs]
    r = correction_coefficients(setting, fs, values, degree, points)
    out = {"stationarity": r["stationarity"], "degree": degree}
    for key, cs in (("", r["c"]), ("_lower", r["c_lower"])):
        m0, m1 = np.array(r["mean"][:d]), np.array(cs[:d])
        V0, V1 = np.zeros((d, d)), np.zeros((d, d))
        for (a, b), mean, c in zip(pairs, r["mean"][d:], cs[d:], strict=True):
            V0[a, b] = V0[b, a] = mean - m0[a] * m0[b]
            V1[a, b] = V1[b, a] = c - m0[a] * m1[b] - m1[a] * m0[b]
        out |= {"mean": m0, "cov": V0, "mean1" + key: m1, "V1" + key: V1}
    moved = np.abs(out["V1"] - out["V1_lower"]).max()
    if not moved <= CONVERGED * np.abs(out["V1"]).max():
        raise InputError(f"{setting.label}: the O(1/M) coefficient has not converged in the polynomial "
                         f"degree ({degree - 2} -> {degree}: it moves by {moved:.3g}); Eq. 18 reaches "
                         "where chi is small and the correction there is not polynomial")
    return out


# --- the record: R9.stationary_correction with several free parameters -----------------------------
def method_derivation(setting: Setting) -> Derivation:
    """R9.stationary_correction for d ≥ 2: the method (the correction is computed numerically,
    :func:`covariance_correction`; no closed form)."""
    from .general import setting_text

    fam = setting.family
    steps = (
        Step(setting_text(setting) + r" With $d$ free parameters write $\delta=\bar\phi_{t+1}-F(\theta_t)$, "
             r"$F=\mu-u\,\nabla\log p_0/n$, $n=M+m$, $G=(\partial F)^{-1}$ and $F_k=\partial^k F$. "
             r"Reverting the refit $F(\theta_{t+1})=\bar\phi_{t+1}$ to fourth order in $\delta$,",
             r"\Delta\theta", r"\textstyle\sum_{k=1}^{4}T_k[\delta^{\otimes k}],\quad T_1=G,\ "
             r"T_2=-\tfrac12 G F_2[T_1,T_1],\ T_3=-G\left(F_2[T_1,T_2]+\tfrac16F_3[T_1^{3}]\right),\ "
             r"T_4=-G(R_4+S_4),\ R_4=F_2[T_1,T_3]+\tfrac12F_2[T_2,T_2],\ "
             r"S_4=\tfrac12F_3[T_1,T_1,T_2]+\tfrac1{24}F_4[T_1^{4}]"),
        Step(r"and the exact moments of $\delta$ ($\mathbb{E}\delta=[m(\mu_q-\mu)+u\nabla\log p_0]/n$, "
             r"covariance $(M\chi+m_{\mathrm f}\chi^{*})/n^2$, third cumulant $M\kappa/n^3$, fourth moment "
             r"$3\,\mathrm{sym}(\chi\otimes\chi)/M^2$ to this order) give the jump moments "
             r"$\mathbb{E}[\Delta\theta^{\otimes j}\mid\theta]=A_j/M+B_j/M^2+O(M^{-3})$, $A_3=A_4=0$, "
             r"$A_1=-\chi^{-1}\nabla U$, $A_2=\chi^{-1}$ (R9.sde). For smooth $f$, "
             r"$\mathbb{E}[f(\theta_{t+1})-f(\theta_t)]=L_1f/M+L_2f/M^2+O(M^{-3})$ with",
             r"L_2f", r"B_1\cdot\nabla f+\tfrac12B_2:\nabla^2f+\tfrac16B_3:\nabla^3f+\tfrac1{24}B_4:\nabla^4f"),
        Step(r"and $L_1$ the diffusion of R9.sde, symmetric in $L^2(p_{\mathrm{st}})$ (zero current). "
             r"With $p_M=p_{\mathrm{st}}(1+\varphi/M)+O(M^{-2})$, stationarity at order $M^{-2}$ is the "
             r"weak equation, for every smooth $f$,",
             r"\tfrac12\,\mathbb{E}_{\mathrm{st}}\!\left[\nabla f\cdot\chi^{-1}\nabla\varphi\right]",
             r"\mathbb{E}_{\mathrm{st}}[L_2 f],\qquad \mathbb{E}_{\mathrm{st}}[\varphi]=0"),
        Step(r"so that $\mathbb{E}_M[f]=\mathbb{E}_{\mathrm{st}}[f]+\operatorname{Cov}_{\mathrm{st}}(\varphi,f)/M"
             r"+O(M^{-2})$. With $d\ge2$ it has no closed form: it is solved numerically (Galerkin on "
             r"polynomials in $\theta$, the family's cumulants to the fifth and the prior's derivatives "
             r"evaluated on a grid over Eq.~18), and refused where $B_j\,p_{\mathrm{st}}$ has not decayed "
             r"within Eq.~18's mass ($\chi$ exponentially small toward a vertex: there the finite-$M$ law "
             r"is not a series in $1/M$ at practical $M$).", None, None),
    )
    return Derivation("R9.stationary_correction", fam.slug, "Stationary law at finite M: the O(1/M) "
                      "correction to Eq. 18 (several parameters, numeric)", steps,
                      {"free_parameters": sp.Integer(fam.d)}, order=2)
