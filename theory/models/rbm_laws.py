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

import itertools

import numpy as np
import sympy as sp

from ..derivation import Derivation, Step
from ..diskcache import cached_law
from ..notation import positive_first
from ..store import record


class softplus(sp.Function):  # noqa: N801 (a function's name, as SymPy names them)
    """softplus(x) = ln(1 + e^x), whose derivative is the logistic σ (:data:`sigma`): kept as a
    function so the derivatives below come out in the model's probabilities and in σ."""

    def fdiff(self, argindex=1):
        return sigma(self.args[0])


sigma = sp.Function("sigma")  # σ(x) = e^x/(1 + e^x) = softplus′(x)


def _symbols(N: int, H: int):
    b = sp.symbols(f"b1:{N + 1}", real=True)
    c = sp.symbols(f"c1:{H + 1}", real=True)
    W = sp.Matrix(H, N, lambda j, i: sp.Symbol(f"W{j + 1}{i + 1}", real=True))
    return b, c, W


def _config(v) -> str:
    return "".join(map(str, v))


@cached_law
def first_order_conditions(N: int = 2, H: int = 1) -> dict:
    """SymPy on the enumerated RBM with N visible and H hidden units: the log-likelihood ℓ per
    point on data of frequencies q_v (Σ_v q_v = 1), its derivatives in b_i and c_j, ∂²ℓ/∂b_1∂b_2,
    and the verified identities ∂ℓ/∂b_i = q̄_i − E_θ[v_i] and ∂²ℓ/∂b_i∂b_k = −Cov_θ(v_i, v_k)
    (``identity_b``, ``identity_bb``: each difference simplifies to 0); ``theta_dependent``:
    whether the hidden units' statistic σ(c_j + W_j·v) depends on θ. ``shown``: the derivatives
    written through the model's probabilities p_v = e^{E_θ(v)}/Z_θ (display only, same value)."""
    b, c, W = _symbols(N, H)
    configs = list(itertools.product((0, 1), repeat=N))
    q = [sp.Symbol(f"q{_config(v)}", nonnegative=True) for v in configs]
    E = [sum(b[i] * v[i] for i in range(N)) + sum(softplus(c[j] + sum(W[j, i] * v[i] for i in range(N)))
                                                  for j in range(H)) for v in configs]
    weights = [sp.exp(e) for e in E]
    Z = sum(weights)
    p = [w / Z for w in weights]
    ell = sum(qk * e for qk, e in zip(q, E, strict=True)) - sp.log(Z)
    mean = [sum(pk * v[i] for pk, v in zip(p, configs, strict=True)) for i in range(N)]
    qbar = [sum(qk * v[i] for qk, v in zip(q, configs, strict=True)) for i in range(N)]
    d_b = [sp.diff(ell, b[i]) for i in range(N)]
    identity_b = [sp.simplify(d_b[i] - (qbar[i] - mean[i])) for i in range(N)]
    second = [[sp.diff(d_b[i], b[k]) for k in range(N)] for i in range(N)]
    cov = [[sum(pk * v[i] * v[k] for pk, v in zip(p, configs, strict=True)) - mean[i] * mean[k]
            for k in range(N)] for i in range(N)]
    identity_bb = [[sp.simplify(second[i][k] + cov[i][k]) for k in range(N)] for i in range(N)]
    d_c = [sp.diff(ell, c[j]) for j in range(H)]
    stat = [[sp.diff(softplus(c[j] + sum(W[j, i] * v[i] for i in range(N))), c[j]) for v in configs]
            for j in range(H)]
    theta_dependent = [any(s.free_symbols & (set(c) | set(W)) for s in stat[j]) for j in range(H)]
    # display: e^{E_θ(v)} = Z p_v, Z cancels (Σ_v q_v = 1 is already used by ℓ's form)
    Z_, named = sp.Symbol("Z", positive=True), [sp.Symbol(f"p{_config(v)}", positive=True) for v in configs]
    to_p = {w: Z_ * pv for w, pv in zip(weights, named, strict=True)}

    def shown(e):
        return sp.expand(sp.cancel(e.xreplace({Z: Z_}).xreplace(to_p)))

    return {"ell": ell, "d_b": d_b, "d_c": d_c, "identity_b": identity_b, "identity_bb": identity_bb,
            "theta_dependent": theta_dependent, "symbols": (b, c, W, q),
            "shown": {"d_b": [shown(e) for e in d_b], "d_c": [shown(e) for e in d_c],
                      "d_bb": shown(second[0][1]) if N > 1 else None}, "configs": configs}


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


# -- the derivation document (closedloop derive: derivations/model-classes.tex) ----------------------
def derivations() -> list[Derivation]:
    """R12.rbm.*: the first-order conditions as SymPy derives them on the enumerated N = 2, H = 1
    machine (written through its probabilities p_v), and what follows for the closed loop."""
    facts = first_order_conditions(2, 1)
    shown = facts["shown"]
    p = {v: sp.Symbol(f"p{_config(v)}", positive=True) for v in facts["configs"]}
    # Σ_v p_v = 1 read off for p_00 in the terms with p_11: the Hessian as p_01 p_10 − p_00 p_11
    d_bb = shown["d_bb"]
    with_p11 = sp.factor(d_bb - d_bb.subs(p[1, 1], 0)).subs(p[0, 1] + p[1, 0] + p[1, 1] - 1, -p[0, 0])
    d_bb = with_p11 + d_bb.subs(p[1, 1], 0)
    # minus the hidden bias's derivative, term by term: (p_v − q_v) σ(c_1 + W_1·v)
    hidden = sp.collect(shown["d_c"][0], list(shown["d_c"][0].atoms(sigma)), evaluate=False)
    hidden = sp.Add(*[sp.expand(-coef) * sig for sig, coef in hidden.items()])
    energy = (r"E_\theta(v) = b\cdot v + \sum_j \operatorname{softplus}(c_j + W_j\cdot v)")
    steps = [
        Step(rf"The visible marginal of an RBM is $p_\theta(v) = e^{{E_\theta(v)}}/Z_\theta$ with ${energy}$, "
             r"$\operatorname{softplus}(x) = \ln(1 + e^x)$, whose derivative is the logistic $\sigma$. "
             r"On data of frequencies $q_v$ the log-likelihood per point is "
             r"$\ell(\theta) = \sum_v q_v E_\theta(v) - \ln Z_\theta$. SymPy differentiates it on the "
             r"enumerated machine with two visible units and one hidden unit ($v = v_1v_2$, "
             r"$p_v = e^{E_\theta(v)}/Z_\theta$), in the visible biases:"),
        *[Step("", rf"\frac{{\partial\ell}}{{\partial b_{i + 1}}}", positive_first(e))
          for i, e in enumerate(shown["d_b"])],
        Step(r"that is $\partial\ell/\partial b_i = \bar v_i - \mathbb{E}_\theta[v_i]$; the difference "
             r"simplifies to", r"\frac{\partial\ell}{\partial b_i} - \bar v_i + \mathbb{E}_\theta[v_i]",
             facts["identity_b"][0] + facts["identity_b"][1]),
        Step(r"The second derivative is minus the covariance of the units "
             r"($\partial^2\ell/\partial b_i\partial b_k + \operatorname{Cov}_\theta(v_i, v_k)$ simplifies to "
             rf"${sum(sum(row, sp.Integer(0)) for row in facts['identity_bb'])}$ for every $i$, $k$):",
             r"\frac{\partial^2\ell}{\partial b_1\,\partial b_2}", positive_first(d_bb)),
        Step(r"In the hidden bias the statistic is $\sigma(c_1 + W_1\cdot v)$, and minus the derivative is "
             r"the model's average of it less the data's:", r"-\frac{\partial\ell}{\partial c_1}", hidden),
    ]
    moves = "depends on" if facts["theta_dependent"][0] else "does not depend on"
    martingale = Derivation("R12.rbm.martingale", "model-classes", "the visible means are martingales", (
        *steps,
        Step(rf"The hidden unit's statistic {moves} $\theta$, so it is matched at the fit but not conserved "
             r"from one generation to the next; the visible biases enter linearly with the statistic $v_i$. "
             r"At every stationary point of the likelihood (a maximum, local or global, or the limit of a "
             r"diverging fit), $\mathbb{E}_{\hat\theta}[v_i] = \bar v_i$, whose expectation over the "
             r"$M$ points drawn from $\theta_t$ is $\mathbb{E}_{\theta_t}[v_i]$: each visible mean is a "
             r"martingale, $\mathbb{E}[\mathbb{E}_{\theta_{t+1}}[v_i] \mid \theta_t] = \mathbb{E}_{\theta_t}[v_i]$ "
             r"(replace, and the pool's mean under accumulate). A fit stopped early is no stationary point, "
             r"and the property is lost."),), {"d_b1": facts["d_b"][0], "d_c1": facts["d_c"][0]})
    polarisation_ = Derivation("R12.rbm.polarisation", "model-classes", "each unit polarises", (Step(
        r"A bounded martingale converges, and its variance per generation, "
        r"$\operatorname{Var}_\theta(v_i)/M$, must vanish: each unit ends constant, at $1$ with "
        r"probability $\mathbb{E}_{\theta_0}[v_i]$, and the chain ends on a configuration (a point mass)."),))
    absorption = Derivation("R12.rbm.absorption_law", "model-classes", "the law of the final configuration", (Step(
        r"The means alone do not fix it. For independent units (no hidden unit) it is the product "
        r"$\prod_i m_i^{v_i}(1 - m_i)^{1 - v_i}$ of the initial means $m_i$; for a universal RBM "
        r"($H \ge 2^{N-1} - 1$ hidden units, Mont\'ufar and Ay 2011), whose fit is the data's frequencies, "
        r"it is the initial law $p_0(v)$, as for a categorical family; in between only a simulation tells."),))
    rescue = Derivation("R12.rbm.rescue", "model-classes", "the absorbing configurations and their rescue", (Step(
        r"In the pure loop every configuration is absorbing. With one fixed anchor configuration only the "
        r"anchor's point mass is (the data always hold it, and its drift pulls every unit towards it); "
        r"with a Gaussian prior on the weights the fit is finite and no unit is ever clamped, and fresh "
        r"external points from a model of full support reach every configuration: no absorbing state."),))
    return [martingale, polarisation_, absorption, rescue]
