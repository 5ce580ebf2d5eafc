"""Exact finite-M Markov chains of the closed loop for one-statistic finite families.

When d = 1 and φ is affine in the level index j (φ = a + b j: Bernoulli,
binomial, Curie–Weiss with θ2 fixed), the state of generation t is the integer
U = Σ_i j_i ∈ {0, ..., (L−1)M}, with φ̄ = a + b U/M. Given the fitted θ, the sum
V of n iid levels has the law of an exponential family too:
    P(V | θ) = h_n(V) exp(θ (a n + b V) − n A(θ)),
where h_n is the n-fold convolution of the base measure h (computed once, in
log space, so even probabilities of 10⁻³⁰⁰ are exact). Anchors add an
independent sum from the truth. From the transition matrix P follow the
absorption probabilities B = (I − Q)⁻¹R, the mean absorption time (I − Q)⁻¹1,
the distribution of the absorption time, and the stationary law with anchors.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .estimators import L2, MLE, PriorMAP
from .loop import ClosedLoop
from .model import logsumexp

MAX_STATES = 6000  # P is dense: (MAX_STATES)² doubles ≈ 290 MB


class ExactChain:
    """The closed loop of ``loop`` as a Markov chain on U = Σ level indices."""

    def __init__(self, loop: ClosedLoop):
        nf = loop.numeric
        if not nf.finite or nf.d != 1:
            raise InputError(f"exact Markov chain needs a finite one-statistic family, not {loop.family.title}")
        phi = nf.phi_levels[:, 0]
        a, b = phi[0], phi[1] - phi[0]
        if not np.allclose(phi, a + b * np.arange(len(phi))):
            raise InputError("exact Markov chain needs phi affine in the level index")
        L, M, fresh = len(phi), loop.M, loop.M0 + loop.external
        R = M + loop.external                     # random points: model and fresh
        n = loop.n_total                          # points in one refit (with the fixed data)
        c = 0 if loop.data_counts is None else int(loop.data_counts @ np.arange(L))
        self.size = (L - 1) * R + 1
        if self.size > MAX_STATES:
            raise InputError(f"exact chain would have {self.size} states (> {MAX_STATES}); lower M")
        self.loop, self.a, self.b, self.L = loop, a, b, L
        self._log_h = [np.zeros(1)]  # log h_n for n = 0, 1, ... (grown on demand)
        self.phibar = a + b * (np.arange(self.size) + c) / n    # φ̄ in each state

        # fitted model in every state: vertex rows are point masses, the rest need θ
        tau = loop.estimator.target(self.phibar[:, None], n)
        face = np.ones((self.size, L), bool)
        if isinstance(loop.estimator, MLE):
            U = np.arange(self.size) + c
            face[U == 0, 1:] = False
            face[U == (L - 1) * n, :-1] = False
        self.absorbing = face.sum(axis=1) == 1 if loop.absorbing else np.zeros(self.size, bool)
        lam = loop.estimator.lam if isinstance(loop.estimator, L2) else 0.0
        prior = loop.estimator.penalty(n) if isinstance(loop.estimator, PriorMAP) else None
        theta = loop.refit_theta(tau, np.zeros((self.size, 1)), face, lam, prior)
        self.theta = theta[:, 0]                                # fitted θ in each state
        model = self._sum_law(theta[:, 0], face, M - loop.M0)
        if fresh:
            anchor = self._sum_law(loop.theta_star[:, 0], np.ones((1, L), bool), fresh)[0]
            model = np.array([np.convolve(row, anchor) for row in model])
        self.P = model / model.sum(axis=1, keepdims=True)
        start = self._sum_law(loop.theta0[:, 0], np.ones((1, L), bool), M - loop.M0)
        if fresh:
            start = np.convolve(start[0], anchor)[None]
        self.start = start[0] / start.sum()                     # law of U after generation 1

    def _log_hn(self, n: int) -> np.ndarray:
        """log h_n: the n-fold convolution of the level base measure, in log space."""
        logs, base = self._log_h, self.loop.numeric.log_h
        while len(logs) <= n:
            prev = logs[-1]
            stack = np.full((self.L, len(prev) + self.L - 1), -np.inf)
            for j in range(self.L):
                stack[j, j:j + len(prev)] = prev + base[j]
            logs.append(logsumexp(stack, axis=0))
        return logs[n]

    def _sum_law(self, theta: np.ndarray, face: np.ndarray, n: int) -> np.ndarray:
        """P(V = v | θ) for the sum V of n iid level indices, rows per θ, shape (len θ, n(L−1)+1)."""
        nf = self.loop.numeric
        out = np.zeros((len(theta), n * (self.L - 1) + 1))
        full = face.all(axis=1)
        if n == 0:
            out[:, 0] = 1.0
            return out
        v = np.arange(out.shape[1])
        th = theta[full][:, None]
        log_a = nf.A(theta[full][:, None])[:, None]
        logp = self._log_hn(n)[None] + th * (self.a * n + self.b * v[None]) - n * log_a
        out[full] = np.exp(logp)
        for i in np.flatnonzero(~full):  # a point mass at level j: V = n j surely
            out[i, n * np.flatnonzero(face[i])[0]] = 1.0
        return out

    # -- results --------------------------------------------------------------------------------
    def law_at(self, t: int) -> np.ndarray:
        """Law of U after generation t ≥ 1."""
        p = self.start
        for _ in range(t - 1):
            p = p @ self.P
        return p

    def absorption_probabilities(self) -> dict[str, float]:
        """Probability of ending in each absorbing point mass, from the initial model."""
        B = self._fundamental_solve(self.P[np.ix_(self._transient, self.absorbing)])
        ends = np.flatnonzero(self.absorbing)
        probs = self.start[self.absorbing] + self.start[self._transient] @ B
        return {self._label(u): float(p) for u, p in zip(ends, probs, strict=True)}

    def mean_absorption_time(self) -> float:
        """E[T], T the first generation whose fitted model is a point mass (pure loop)."""
        tau = self._fundamental_solve(np.ones((self._transient.sum(), 1)))[:, 0]
        return float(1.0 + self.start[self._transient] @ tau)

    def absorption_time_cdf(self, t_max: int) -> np.ndarray:
        """P(T ≤ t) for t = 1..t_max."""
        out, p = np.empty(t_max), self.start
        for t in range(t_max):
            out[t] = p[self.absorbing].sum()
            p = p @ self.P
        return out

    def stationary(self) -> np.ndarray:
        """Stationary law of U (anchors make the chain ergodic), by the left null vector of P − I."""
        if self.absorbing.any():
            raise InputError("the pure loop has no stationary law besides its absorbing states")
        A = self.P.T - np.eye(self.size)
        A[-1] = 1.0
        rhs = np.zeros(self.size)
        rhs[-1] = 1.0
        pi = np.linalg.solve(A, rhs)
        return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()

    @property
    def _transient(self) -> np.ndarray:
        return ~self.absorbing

    def _fundamental_solve(self, rhs: np.ndarray) -> np.ndarray:
        if not self.absorbing.any():
            raise InputError("no absorbing states: anchors or a regularised estimator keep the loop interior")
        tr = self._transient
        Q = self.P[np.ix_(tr, tr)]
        return np.linalg.solve(np.eye(tr.sum()) - Q, rhs)

    def _label(self, u: int) -> str:
        face = np.zeros(self.L, bool)
        face[0 if u == 0 else -1] = True
        idx = self.loop.numeric.vertex_index(np.array([[self.phibar[u]]]), face[None])[0]
        return self.loop.numeric.labels()[idx]
