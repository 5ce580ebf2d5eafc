"""Exact finite-M Markov chains of the closed loop for finite families.

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
With several free parameters, or φ not affine in j, :class:`SumChain` runs on the distinct Σφ.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .estimators import L2, MLE, PriorMAP
from .loop import ClosedLoop
from .model import logsumexp

MAX_STATES = 6000  # P is dense: (MAX_STATES)² doubles ≈ 290 MB


def _replace_only(loop: ClosedLoop, what: str) -> None:
    """The chains below are the replace loop at constant M (a pool is no Markov state on Σφ)."""
    if loop.regime.pooled or loop.regime.schedule is not None:
        raise InputError(f"the {what} is the replace loop at constant M, not {loop.regime.label}")
    if not loop.operator.identity:
        raise InputError(f"the {what} is the loop without a sampling operator, not {loop.operator.label}")


class ExactChain:
    """The closed loop of ``loop`` as a Markov chain on U = Σ level indices."""

    def __init__(self, loop: ClosedLoop):
        nf = loop.numeric
        _replace_only(loop, "exact Markov chain")
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


class SumChain:
    """The closed loop of a finite family with d free parameters as a Markov chain on sums.

    The refit reads the M points only through Σφ. When φ = a + z B with integer z_j (each φ_a
    on a lattice, as Curie–Weiss's φ1 = 2j − N and φ2 = (φ1² − N)/(2N), also with θ1 fixed; or
    z_j = (j, j², …) of the level index j: any family with d + 1 levels), Σφ = M a + Z B is
    read off the integer vector Z = Σ_i z_{j_i}. The states are the distinct Σφ, and given the
    fitted θ

        P(Σφ' | θ) = H_M(Σφ') exp(θ·Σφ' − M A(θ)),

    H_M the M-fold convolution of the base measure h (log space, so probabilities of 10⁻³⁰⁰
    stay exact). Entries below ``cutoff`` are dropped (the row is renormalised), so P is
    sparse; the stationary law is the Perron vector of P. The pure loop only (no anchors, no
    fresh points): fixed data and a prior enter the refit.
    """

    def __init__(self, loop: ClosedLoop, cutoff: float = 1e-15, max_states: int = 200_000):
        import scipy.sparse as sps

        nf = loop.numeric
        _replace_only(loop, "sum chain")
        if not nf.finite or loop.M0 or loop.external:
            raise InputError("the sum chain needs a finite family and no anchors or fresh points")
        phi = nf.phi_levels
        L, d = phi.shape
        z, a, B = self._lattice(phi)                                          # φ = a + z B
        M = loop.M
        log_h = self._log_multiplicity(z, nf.log_h, M)
        keep = np.flatnonzero(np.isfinite(log_h.ravel()))
        Z = np.column_stack(np.unravel_index(keep, log_h.shape))            # (sums, degree)
        # the refit reads Σφ = M a + Z B only: sums Z with the same Σφ are one state (θ1 fixed)
        self.sums, group = np.unique(np.round(Z @ B, 9), axis=0, return_inverse=True)
        group = group.ravel()
        self.size, self.loop = len(self.sums), loop
        if self.size > max_states:
            raise InputError(f"sum chain would have {self.size} states (> {max_states}); lower M")
        base = np.full(self.size, -np.inf)
        np.maximum.at(base, group, log_h.ravel()[keep])
        acc = np.zeros(self.size)
        np.add.at(acc, group, np.exp(log_h.ravel()[keep] - base[group]))
        base += np.log(acc)                                                   # log H_M of each Σφ
        data = sum((np.asarray(p, float) for p in loop.data), np.zeros(d))
        self.phibar = (M * a + self.sums + data) / loop.n_total
        prior = loop.estimator.penalty(loop.n_total) if isinstance(loop.estimator, PriorMAP) else None
        self.theta = loop.refit_theta(self.phibar, np.zeros((self.size, d)), np.ones((self.size, L), bool),
                                      0.0, prior)
        cols, vals, indptr = [], [], [0]
        block = max(1, 4_000_000 // self.size)         # rows per dense block (32 MB)
        for lo in range(0, self.size, block):
            logit = base[None] + self.theta[lo:lo + block] @ self.sums.T
            p = np.exp(logit - logit.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            kept = p > cutoff
            p = np.where(kept, p, 0.0)
            p /= p.sum(axis=1, keepdims=True)                 # rows renormalised after the cut
            r, c = np.nonzero(kept)
            cols.append(c.astype(np.int32))
            vals.append(p[r, c])
            indptr.extend(indptr[-1] + np.cumsum(kept.sum(axis=1)))
        # built as CSR directly (int32 columns): at N = 3, M = 160 P has ~5e8 entries
        self.P = sps.csr_matrix((np.concatenate(vals), np.concatenate(cols), np.array(indptr)),
                                shape=(self.size, self.size))

    @staticmethod
    def _lattice(phi: np.ndarray):
        """Integer coordinates z of the levels with φ = a + z B: each φ_a on its own lattice
        (Curie–Weiss: j and (2j − N)²/4 or so) where it is one, else powers (j, j², …) of j."""
        L = len(phi)
        lo = phi.min(axis=0)
        steps = [np.min(np.diff(np.unique(col))) if np.ptp(col) > 0 else 1.0 for col in phi.T]
        z = (phi - lo) / np.array(steps)
        if np.allclose(z, np.round(z), atol=1e-9) and np.round(z).max() <= 16 * L:
            return np.round(z).astype(int), lo, np.diag(steps)
        for degree in range(1, min(L, 4)):   # the fewest powers of j that φ is affine in
            z = np.arange(L)[:, None] ** np.arange(1, degree + 1)[None]
            X = np.column_stack([np.ones(L), z])
            coef = np.linalg.lstsq(X, phi, rcond=None)[0]
            if np.allclose(X @ coef, phi):
                return z, coef[0], coef[1:]
        raise InputError("the sum chain needs phi on a lattice or affine in (j, j^2, j^3) of the level index j")

    @staticmethod
    def _log_multiplicity(z: np.ndarray, log_h: np.ndarray, M: int) -> np.ndarray:
        """log H_M on the grid of sums: log Σ over level sequences with Σ z = Z of Π h(j_i)."""
        shape = tuple(int(s) for s in z.max(axis=0) * M + 1)
        H = np.full(shape, -np.inf)
        H[(0,) * z.shape[1]] = 0.0
        for n in range(M):
            reach = tuple(slice(0, int(s) * n + 1) for s in z.max(axis=0))
            old = H[reach].copy()
            terms = []
            for j, zj in enumerate(z):
                terms.append((tuple(slice(int(o), int(o) + s.stop) for o, s in zip(zj, reach, strict=True)),
                              old + log_h[j]))
            grow = tuple(slice(0, int(s) * (n + 1) + 1) for s in z.max(axis=0))
            top = np.full(tuple(s.stop for s in grow), -np.inf)
            for where, v in terms:
                top[where] = np.maximum(top[where], v)
            acc = np.zeros_like(top)
            with np.errstate(invalid="ignore", divide="ignore"):   # −∞ − (−∞) where nothing is reached
                for where, v in terms:
                    acc[where] += np.exp(v - top[where])
                H[grow] = np.where(np.isfinite(top), top + np.log(acc), -np.inf)
        return H

    def stationary(self, tol: float = 1e-13) -> np.ndarray:
        """Stationary law over the states (``sums``): the left Perron vector of P (ARPACK), checked
        by its L1 residual ‖πP − π‖."""
        from scipy.sparse.linalg import eigs

        _, vecs = eigs(self.P.T, k=1, which="LR", v0=np.ones(self.size), tol=tol)
        pi = np.abs(vecs[:, 0].real)
        pi /= pi.sum()
        resid = np.abs(self.P.T @ pi - pi).sum()
        if resid > 1e-9:
            raise InputError(f"stationary law of the sum chain not resolved (residual {resid:.2g})")
        return pi
