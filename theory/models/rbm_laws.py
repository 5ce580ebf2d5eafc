"""What the closed loop of an RBM conserves, derived with SymPy from its log-likelihood.

The visible marginal of an RBM is p_θ(v) = exp E_θ(v)/Z_θ with E_θ(v) = b·v + Σ_j softplus(c_j +
W_j·v). Its log-likelihood per point on data of frequencies q is ℓ(θ) = Σ_v q(v) E_θ(v) − log Z_θ,
and SymPy finds (:func:`first_order_conditions`)

    ∂ℓ/∂b_i = Σ_v q(v) v_i − E_θ[v_i],
    ∂ℓ/∂c_j = Σ_v q(v) σ(c_j + W_j·v) − E_θ[σ(c_j + W_j·v)],   σ = softplus′,

and ∂²ℓ/∂b_i∂b_k = −Cov_θ(v_i, v_k). The biases enter E_θ linearly with a statistic v_i that does
not depend on θ, so at any stationary point (a maximum, local or global, or the limit of a
diverging fit with ∇ℓ → 0) E_θ̂[v_i] equals the sample mean, whose expectation over the M points
drawn from θ_t is E_θ_t[v_i]:

    E[ E_θ_{t+1}[v_i] | θ_t ] = E_θ_t[v_i]     (replace; and the pool's mean under accumulate).

This is the general statement for model classes (a statistic T stays a martingale when the model
family is closed under the exponential tilt exp(λ·T) with λ a free parameter) with T = v: the RBM
covers the N visible means, and nothing else — the hidden units' conditions match E[σ(c_j +
W_j·v)], a statistic that moves with θ, so neither it nor the pairwise moments E[v_i v_k] are
conserved. Hence each unit polarises: a bounded martingale converges, its variance per generation
Var_θ(v_i)/M must vanish, so v_i ends constant, at 1 with probability E_θ_0[v_i]; the chain ends on
a configuration (a point mass: every unit clamped). Which configuration is *not* fixed by the
means alone: it is p_0(v) for a model whose closure holds every distribution (the categorical;
an RBM with H ≥ 2^(N−1) − 1 hidden units is a universal approximator, Montúfar and Ay 2011), the
product Π_i m_i^(v_i) (1 − m_i)^(1 − v_i) for H = 0 (independent units), and in between only a
simulation tells (theory.validate.rbm_checks). An early-stopped fit (a few gradient steps) is no
stationary point: E_θ̂[v_i] then differs from the sample mean and the martingale is lost.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy as sp

from ..store import record


def _symbols(N: int, H: int):
    b = sp.symbols(f"b1:{N + 1}", real=True)
    c = sp.symbols(f"c1:{H + 1}", real=True)
    W = sp.Matrix(H, N, lambda j, i: sp.Symbol(f"W{j + 1}{i + 1}", real=True))
    return b, c, W


@functools.cache
def first_order_conditions(N: int = 2, H: int = 1) -> dict:
    """SymPy on the enumerated RBM with N visible and H hidden units: the log-likelihood ℓ, its
    derivatives in b_i and c_j, and the verified identities ∂ℓ/∂b_i = q̄_i − E_θ[v_i] and
    ∂²ℓ/∂b_i∂b_k = −Cov_θ(v_i, v_k) (``identity_b``, ``identity_bb``: each difference simplifies
    to 0); ``theta_dependent``: whether the hidden units' statistic σ(c_j + W_j·v) depends on θ."""
    b, c, W = _symbols(N, H)
    configs = list(itertools.product((0, 1), repeat=N))
    q = sp.symbols(f"q0:{len(configs)}", nonnegative=True)
    E = [sum(b[i] * v[i] for i in range(N))
         + sum(sp.log(1 + sp.exp(c[j] + sum(W[j, i] * v[i] for i in range(N)))) for j in range(H))
         for v in configs]
    Z = sum(sp.exp(e) for e in E)
    p = [sp.exp(e) / Z for e in E]
    total = sum(q)
    ell = sum(qk * e for qk, e in zip(q, E, strict=True)) / total - sp.log(Z)
    mean = [sum(pk * v[i] for pk, v in zip(p, configs, strict=True)) for i in range(N)]
    qbar = [sum(qk * v[i] for qk, v in zip(q, configs, strict=True)) / total for i in range(N)]
    d_b = [sp.diff(ell, b[i]) for i in range(N)]
    identity_b = [sp.simplify(d_b[i] - (qbar[i] - mean[i])) for i in range(N)]
    second = [[sp.diff(d_b[i], b[k]) for k in range(N)] for i in range(N)]
    cov = [[sum(pk * v[i] * v[k] for pk, v in zip(p, configs, strict=True)) - mean[i] * mean[k]
            for k in range(N)] for i in range(N)]
    identity_bb = [[sp.simplify(second[i][k] + cov[i][k]) for k in range(N)] for i in range(N)]
    d_c = [sp.diff(ell, c[j]) for j in range(H)]
    sig = [[sp.diff(sp.log(1 + sp.exp(c[j] + sum(W[j, i] * v[i] for i in range(N)))), c[j]) for v in configs]
           for j in range(H)]
    theta_dependent = [any(s.free_symbols & (set(c) | set(W)) for s in sig[j]) for j in range(H)]
    return {"ell": ell, "d_b": d_b, "d_c": d_c, "identity_b": identity_b, "identity_bb": identity_bb,
            "theta_dependent": theta_dependent, "symbols": (b, c, W, q)}


def martingale_statistics(N: int, H: int) -> list[str]:
    """The statistics the closed loop keeps as martingales under exact maximum likelihood: the
    visible means E_θ[v_i] (their bias is a free linear parameter), none of the hidden units'."""
    record("R12.rbm.martingale")
    facts = first_order_conditions(min(N, 2), min(H, 1))
    if not all(x == 0 for x in facts["identity_b"]):  # the SymPy verification, never skipped
        raise RuntimeError("SymPy did not find dl/db_i = mean of v_i - E[v_i]")
    return [f"v{i + 1}" for i in range(N)]


def polarisation(m0) -> np.ndarray:
    """P(v_i ends at 1) = E_θ_0[v_i] (a bounded martingale that converges to 0 or 1)."""
    record("R12.rbm.polarisation")
    return np.asarray(m0, float)


def product_law(m0) -> np.ndarray:
    """Π_i m_i^(v_i) (1 − m_i)^(1 − v_i) over the configurations (v_i = bit i−1 of k): the
    absorption law of independent units (H = 0)."""
    record("R12.rbm.absorption_law")
    m0 = np.asarray(m0, float)
    k = np.arange(2 ** len(m0))
    V = (k[:, None] >> np.arange(len(m0))) & 1
    return np.prod(np.where(V == 1, m0, 1 - m0), axis=1)


def absorbing_states(N: int, prior: bool = False, external: int = 0, anchor: str | None = None) -> list[str]:
    """The configurations whose point mass the loop never leaves: every one in the pure loop; none
    with a Gaussian prior (the MAP is finite: no unit is ever clamped) or with fresh external points
    from a model of full support (they reach every configuration); with one fixed anchor
    configuration only the anchor's (the data always hold it, so no other point mass is reachable,
    and the anchor's own is absorbing: its drift pulls every unit towards it)."""
    record("R12.rbm.rescue")
    if prior or external:
        return []
    every = ["".join(str((k >> i) & 1) for i in range(N)) for k in range(2**N)]
    return [anchor] if anchor is not None else every


def universal(N: int, H: int) -> bool:
    """Whether H ≥ 2^(N−1) − 1: an RBM universal approximator (Montúfar and Ay 2011), whose
    maximum-likelihood fit is the data's frequencies (in the closure), as for a categorical."""
    return H >= 2 ** (N - 1) - 1


LATEX = r"""
\paragraph{Restricted Boltzmann machines.} With $E_\theta(v) = b\cdot v + \sum_j
\operatorname{softplus}(c_j + W_j\cdot v)$ and $\ell(\theta) = \sum_v q(v)\,E_\theta(v) - \log Z_\theta$,
\begin{align}
\frac{\partial \ell}{\partial b_i} &= \bar v_i - \mathbb{E}_\theta[v_i], \qquad
\frac{\partial^2 \ell}{\partial b_i\,\partial b_k} = -\operatorname{Cov}_\theta(v_i, v_k),\\
\frac{\partial \ell}{\partial c_j} &= \overline{\sigma(c_j + W_j\cdot v)} - \mathbb{E}_\theta[\sigma(c_j + W_j\cdot v)],
\end{align}
so at every stationary point $\mathbb{E}_{\hat\theta}[v_i] = \bar v_i$ and
$\mathbb{E}[\,\mathbb{E}_{\theta_{t+1}}[v_i] \mid \theta_t] = \mathbb{E}_{\theta_t}[v_i]$: each visible mean is a
martingale, each unit ends constant, at $1$ with probability $\mathbb{E}_{\theta_0}[v_i]$. The hidden units'
statistic $\sigma(c_j + W_j\cdot v)$ moves with $\theta$ and is not conserved; the law of the final
configuration is $p_0(v)$ only for a universal RBM ($H \ge 2^{N-1} - 1$) and the product of the means for $H = 0$.
"""
