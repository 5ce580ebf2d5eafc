"""Exact moment laws of the model classes whose refit matches the data's first two moments.

A Gaussian mixture fitted by EM (any exact M-step, see :mod:`theory.models.theorem`) has the
data's mean and second moment; a Gaussian kernel density estimate has the data's mean and the
data's variance plus h². Both are cases of one *moment-matching* refit: on a data set of N
points with mean a and variance P (ddof 0) the fitted model has

    mean a,   variance V = (1 + κ_N) P + h²,

with κ = 0, h = 0 for the mixture, κ = 0 for a KDE of fixed bandwidth h, and κ_N =
c² N^(3/5)/(N − 1), h = 0 for Silverman's rule h = c σ̂ N^(−1/5) (σ̂² the ddof-1 variance,
c = 1.06). Generation t draws M_t points from the model and m external points from the truth
(mean μ*, variance V*) and refits on them (``replace``) or on the pool of every point so far
(``accumulate``, N_t = N_{t−1} + M_t + m).

Only the first two moments of the draws enter, whatever the model's shape, so the expected
data moments y = (a − μ*, (a − μ*)², P) follow an exact *linear* recursion
E[y_t] = L_t E[y_{t−1}] + c_t, derived here by SymPy from the pooled sums
(:func:`one_generation`). Without external points the variance decouples:

    replace:     E P_t = (1 − 1/M_t) E V_{t−1}
    accumulate:  E P_t = E P_{t−1} + (M_t/N_t)(1 − 1/N_t) E V_{t−1} − (M_t/N_t) E P_{t−1}

so the mixture's E total_var_t = total_var_0 Π_k (1 − 1/M_k) (replace) and the Gaussian
family's accumulate law, and a fixed-bandwidth KDE's E V_t = (1 − 1/M) E V_{t−1} + h²
(stationary M h²), while Silverman's rule multiplies the variance by
ρ = 1 − 1/M + c² M^(−2/5) > 1 per generation: it grows without bound.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ..errors import InputError
from ..derivation import Derivation, Step
from ..diskcache import cached_law
from ..setting import m_ext
from ..store import record

RESULT_ID = "R12.moments"

SILVERMAN_C = 1.06  # h = 1.06 σ̂ N^(−1/5) (normal reference rule, σ̂ with ddof 1)

# symbols of the derivation
a, P, V, V_star, M_t, N_prev, h2, kappa = sp.symbols("a P V V^* M_t N_{t-1} h^2 kappa", real=True)
# m, the external points per generation: the families' symbol (printed m, positive)
REGIMES = ("replace", "accumulate")


def batch_sum_moments(n: sp.Expr, mean: sp.Expr, var: sp.Expr) -> dict[str, sp.Expr]:
    """Moments of the sums B1 = Σ x_i, B2 = Σ x_i² of n independent draws of the given mean and
    variance, derived by summing E[x_i x_j] = mean² + var·δ_ij over the n² pairs:
    E B1 = n·mean, E B1² = n·var + n²·mean², E B2 = n(var + mean²)."""
    i, j = sp.symbols("i j", integer=True, positive=True)
    pair = mean**2 + var * sp.KroneckerDelta(i, j)
    # Σ_i Σ_j E[x_i x_j]: the diagonal (n terms) and the off-diagonal (n² − n terms)
    square = sp.summation(pair.subs(j, i), (i, 1, n)) + (n**2 - n) * pair.subs(sp.KroneckerDelta(i, j), 0)
    return {"B1": sp.expand(n * mean), "B1^2": sp.expand(square), "B2": sp.expand(n * (var + mean**2))}


@cached_law
def one_generation(regime: str) -> tuple[sp.Matrix, sp.Matrix, sp.Symbol]:
    """(L, c, N_t) with E[y_t | y_{t−1}] = L y_{t−1} + c, y = (a − μ*, (a − μ*)², P), derived
    from the refit's data moments (the truth's mean taken as the origin: every law is
    translation invariant). The model of generation t−1 has mean a and variance V = (1+κ)P + h²."""
    if regime not in REGIMES:
        raise InputError(f"moment law of regime {regime!r}: known {', '.join(REGIMES)}")
    # the batch: M_t model points and m truth points, independent; Bm, Bt their sums
    model = batch_sum_moments(M_t, a, V)
    truth = batch_sum_moments(m_ext, sp.Integer(0), V_star)
    B1m, B1t, B2 = sp.symbols("B1m B1t B2")
    if regime == "replace":
        S1, S2, N = sp.Integer(0), sp.Integer(0), M_t + m_ext
    else:  # the pool of N_{t−1} points holding the data moments (a, P) of the last fit
        S1, S2, N = N_prev * a, N_prev * (P + a**2), N_prev + M_t + m_ext
    mean_new = (S1 + B1m + B1t) / N
    var_new = (S2 + B2) / N - mean_new**2
    # expectation over the batch: linear in B2, quadratic in B1m + B1t (independent parts)
    expect = {B1m**2: model["B1^2"], B1t**2: truth["B1^2"], B1m * B1t: model["B1"] * truth["B1"],
              B1m: model["B1"], B1t: truth["B1"], B2: model["B2"] + truth["B2"]}

    def E(expr):
        poly = sp.Poly(sp.expand(expr * N**2), B1m, B1t, B2)
        total = sum((coef * expect[sp.Mul(*[g**k for g, k in zip(poly.gens, mon, strict=True)])]
                     if any(mon) else coef) for mon, coef in poly.terms())
        return sp.expand(total / N**2)

    # the model's variance in terms of the data's
    moments = [E(e).subs(V, (1 + kappa) * P + h2) for e in (mean_new, mean_new**2, var_new)]
    # each law is of degree one in a, a², P: read off its coefficients (monomial a^i P^j -> column)
    column = {(1, 0): 0, (2, 0): 1, (0, 1): 2}
    rows, consts = [], []
    for mo in moments:
        row, const = [sp.Integer(0)] * 3, sp.Integer(0)
        for mon, coef in sp.Poly(sp.expand(mo), a, P).terms():
            if mon == (0, 0):
                const += coef
            elif mon in column:
                row[column[mon]] += coef
            else:
                raise ArithmeticError(f"nonlinear term a^{mon[0]} P^{mon[1]} in the moment law")
        rows.append([sp.factor(x) for x in row])
        consts.append(sp.factor(const))
    return sp.Matrix(rows), sp.Matrix(consts), N


@cached_law
def variance_step(regime: str) -> sp.Expr:
    """E P_t in terms of P_{t−1} without external points (m = 0): the decoupled variance law."""
    L, c, _ = one_generation(regime)
    expr = (L[2, 2] * P + c[2]).subs(m_ext, 0)
    if sp.simplify(L[2, 0].subs(m_ext, 0)) != 0 or sp.simplify(L[2, 1].subs(m_ext, 0)) != 0:
        raise ArithmeticError("the variance law does not decouple from the mean without external points")
    return sp.Add(*[sp.factor(sp.expand(expr).coeff(s)) * s for s in (P, h2)])


@cached_law
def silverman_factor() -> sp.Expr:
    """ρ(M) with E V_t = ρ E V_{t−1} for Silverman's rule under replace (κ_M = c² M^(3/5)/(M−1))."""
    c = sp.Symbol("c", positive=True)
    k = c**2 * M_t ** sp.Rational(3, 5) / (M_t - 1)
    step = variance_step("replace").subs({h2: 0, kappa: k})  # E P_t in terms of P
    # V = (1+κ)P with κ fixed by M: E V_t / V_{t−1} = E P_t / P_{t−1}
    rho = sp.expand(step / P)
    return sp.simplify(sp.factor(rho.coeff(c**2))) * c**2 + sp.expand(rho.subs(c, 0))


def silverman_kappa(N):
    """κ_N = c² N^(3/5)/(N − 1): Silverman's h² = κ_N P for data of variance P (ddof 0)."""
    N = np.asarray(N, float)
    return SILVERMAN_C**2 * N**0.6 / (N - 1)


@functools.cache
def _numeric(regime: str):
    L, c, N = one_generation(regime)
    args = (M_t, m_ext, N_prev, h2, kappa, V_star)
    return (sp.lambdify(args, L, "numpy"), sp.lambdify(args, c, "numpy"), sp.lambdify(args, N, "numpy"))


def moment_trajectory(regime: str, sizes, y0, external: int = 0, h: float = 0.0,
                      silverman: bool = False, truth_var: float = 0.0, N0: int | None = None) -> np.ndarray:
    """E[y_t] for t = 0..T (rows), y = (a − μ*, (a − μ*)², P), from the derived recursion.

    ``sizes``: M_1..M_T; ``y0``: the initial data moments (one row, or (C, 3) for per-chain
    starts, then the result has shape (T+1, C, 3)); ``N0``: the initial data set's size (its
    Silverman κ; default M_1; accumulate's pool starts empty); ``h``: a fixed bandwidth, or
    ``silverman``; ``truth_var``: the variance V* of the ``external`` points."""
    record(RESULT_ID)
    Lf, cf, Nf = _numeric(regime)
    y = np.array(y0, float)
    out = [y.copy()]
    fitted = int(sizes[0]) if N0 is None else int(N0)  # the points the current model was fitted on
    pool = 0  # accumulate's pool holds the points drawn in generations 1..t (as theory.regime)
    k = float(silverman_kappa(fitted)) if silverman else 0.0
    for M in sizes:
        args = (float(M), float(external), float(pool), float(h) ** 2, k, float(truth_var))
        L, c = np.array(Lf(*args), float), np.array(cf(*args), float).ravel()
        y = y @ L.T + c
        out.append(y.copy())
        fitted = round(float(Nf(*args)))
        pool = fitted
        k = float(silverman_kappa(fitted)) if silverman else 0.0
    return np.array(out)


def model_variance(P, N, h: float = 0.0, silverman: bool = False):
    """The fitted model's variance V = (1 + κ_N) P + h² for data of variance P (ddof 0)."""
    return (1 + (silverman_kappa(N) if silverman else 0.0)) * np.asarray(P, float) + h**2


def derivation() -> Derivation:
    """R12.moments for the derivation document: the linear law of each regime, as
    :func:`one_generation` derives it, its variance without external points, and Silverman's ρ."""
    record(RESULT_ID)
    steps = [Step(r"A refit on $N$ points of mean $a$ and variance $P$ (divided by $N$) gives a model of mean $a$ "
                  r"and variance $V=(1+\kappa_N)P+h^2$: an EM mixture has $\kappa=h=0$ (every exact "
                  r"\mbox{M-step} matches the data's first two moments, R12.theorem), a kernel density estimate of "
                  r"fixed bandwidth $h$ has $\kappa=0$, Silverman's rule $h=0$ and $\kappa_N=c^2N^{3/5}/(N-1)$. "
                  r"Generation $t$ draws $M_t$ points from the model and $m$ external points from the truth (mean "
                  r"$\mu^*$, variance $V^*$). Summing $\mathbb{E}[x_ix_j]$ over the pairs of $n$ independent draws "
                  r"of mean $\bar a$ and variance $V$ gives $\mathbb{E}\sum x_i=n\bar a$, "
                  r"$\mathbb{E}(\sum x_i)^2=nV+n^2\bar a^2$, $\mathbb{E}\sum x_i^2=n(V+\bar a^2)$, so the data "
                  r"moments $y=(a-\mu^*,(a-\mu^*)^2,P)$ follow the exact linear law "
                  r"$\mathbb{E}[y_t]=L\,y_{t-1}+c$ (SymPy).")]
    for regime in REGIMES:
        L, c, N = one_generation(regime)
        pooled = "" if regime == "replace" else r", the pool holding $N_{t-1}$ points of moments $(a, P)$"
        steps += [Step(rf"\emph{{{regime.capitalize()}}}: the refit is on $N_t$ points{pooled},", "N_t", N),
                  Step("", "L", L), Step("", "c", c),
                  Step(r"and without external points ($m=0$) the variance decouples:",
                       r"\mathbb{E}[P_t]", variance_step(regime))]
    steps.append(Step(r"\emph{Silverman's rule} (replace, no external points) multiplies the variance by "
                      r"$\rho > 1$ each generation, $\mathbb{E}[V_t]=\rho\,V_{t-1}$: it grows geometrically.",
                      r"\rho", silverman_factor()))
    return Derivation(RESULT_ID, "model-classes", "exact laws of the mean and variance of moment-matching "
                      "refits", tuple(steps), {"silverman_factor": silverman_factor()})


__all__ = ["REGIMES", "RESULT_ID", "SILVERMAN_C", "batch_sum_moments", "derivation", "model_variance",
           "moment_trajectory", "one_generation", "silverman_factor", "silverman_kappa", "variance_step"]
