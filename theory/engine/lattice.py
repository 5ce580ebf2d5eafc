"""A generation of a one-statistic finite family as table lookups on the lattice of its sums.

When φ takes values φ0 + k Δφ on the levels (integer k ≥ 0: Bernoulli, binomial,
Curie–Weiss with θ2 held, categorical with K = 2) the refit sees one integer: the
total index K of the n_total points it is fitted to (the model's own draws, the fresh
points, the fixed data), Σφ = n_total φ0 + K Δφ. Everything a generation computes
after the draw — the face, θ', μ', the point mass reached, the next draw's canonical
probabilities, the observables — is therefore a function of K. :class:`LatticeChains`
keeps K per chain and tabulates those functions over the window of K the chains have
visited (grown on demand), with the refit code of the general path run on the lattice
points, so a table entry is the number the general path computes for a chain with that
sum (a Newton refit, started from θ0 instead of the chain's previous θ, agrees to its
tolerance). A generation is then a gather of the draw's probabilities, the draw, a min
and a max; the summaries over chains are a histogram of K against the tables.

The draw is the one the general path makes: one Binomial(n m, p) when the sum is
binomial (:func:`.sampling.binomial_sum`), else the multinomial over the levels, with
the same canonical 44-bit probabilities. The random stream differs only in that absorbed
chains are not set aside: their draw is a point mass, so they stay where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import collapse, sampling
from .model import minimal_face
from .estimators import MLE, NotConverged
from .sampling import binomial_p
from .state import State

LATTICE_MAX = 2**22  # largest lattice of sums tabulated (k_max · n_total + 1 points); beyond: general path
TABLE_MAX = 2**26    # largest table of level probabilities (lattice points × levels, multinomial draws)
MARGIN = 64          # lattice points added on each side when the window grows (at least)


@dataclass(frozen=True, eq=False)
class LatticeLaw:
    """φ(level) = φ0 + k Δφ with integer k ≥ 0 (one statistic): the refit's Σφ is n_total φ0 + K Δφ."""

    k: np.ndarray           # lattice index of each level, shape (L,)
    phi0: np.ndarray        # φ at index 0, shape (d,)
    step: np.ndarray        # Δφ, shape (d,)
    binomial: tuple | None  # sampling.binomial_sum's law when a draw's index is one Binomial


def lattice_law(loop) -> LatticeLaw | None:
    """How ``loop``'s generations can be table lookups on the lattice of sums, else None."""
    nf = loop.numeric
    if loop.sampler != "exact" or not nf.finite or nf.d != 1 or loop.regime.pooled or loop.regime.schedule:
        return None  # (a pooled regime or a growing M_t: the general path)
    law = sampling.binomial_sum(nf)  # looked up here: tests replace it
    if law is not None:
        n, _, phi0, step = law
        k = np.arange(n + 1)
    else:
        phi = nf.phi_levels[:, 0]
        gaps = np.diff(np.unique(phi))
        if not len(gaps):
            return None
        step_ = gaps.min()
        k = np.rint((phi - phi.min()) / step_).astype(np.int64)
        if not np.allclose(phi.min() + k * step_, phi, rtol=0, atol=1e-9 * (1 + np.abs(phi).max())):
            return None
        phi0, step = np.array([phi.min()]), np.array([step_])
        if (int(k.max()) * loop.n_total + 1) * len(k) > TABLE_MAX:
            return None
    if int(k.max()) * loop.n_total + 1 > LATTICE_MAX:
        return None
    return LatticeLaw(k=k, phi0=phi0, step=step, binomial=law)


class LatticeChains:
    """C chains of ``loop`` from ``state``, advanced by table lookups on the lattice of sums."""

    def __init__(self, loop, law: LatticeLaw, state, rng: np.random.Generator):
        self.loop, self.rng, self.law = loop, rng, law
        self.k, self.phi0, self.step_phi = law.k, law.phi0, law.step
        self.binomial = law.binomial
        kmax = int(law.k.max())
        self.lowest, self.highest = int(np.argmin(law.k)), int(np.argmax(law.k))
        self.m_own, self.m_fresh = loop.M - loop.M0, loop.M0 + loop.external
        self.k_data = 0 if loop.data_counts is None else int(loop.data_counts @ law.k)
        self.top = kmax * loop.n_total
        size = self.top + 1
        d = loop.family.d
        nf = loop.numeric
        if self.binomial is not None:
            self.own = kmax * self.m_own                       # trials of the model's own draw
            self.fresh = kmax * self.m_fresh                   # trials of the fresh points
            self.p_fresh = None if not self.fresh else \
                float(binomial_p(self.binomial, loop.theta_star, None)[0])
            self.p = np.empty(size)                            # success probability of the own draw
        else:
            self.p_fresh = None if not self.m_fresh else \
                sampling.pvals(nf, loop.theta_star, None)[0]
            self.p = np.empty((size, len(law.k)))             # level probabilities of the own draw
        self.theta = np.empty((size, d))
        self.mu = np.empty((size, d))
        self.vertex = np.empty(size, np.int64)
        self.collapse = np.zeros(size, np.int8)  # engine.collapse code of the refit at K
        self.obs = {name: np.empty(size) for name in loop.observables(state)}
        self.lo, self.hi = 0, -1                 # the tabulated window of K (empty)
        self.vertex_K: list[int] = []            # tabulated K on a point mass
        self.collapse_K: list[int] = []          # tabulated K where the refit has collapsed
        self.initial = state                     # the models before the first draw
        self.K: np.ndarray | None = None
        self.hit_time = state.hit_time.copy()
        self.collapse_time = np.full(len(state.mu), -1)
        self.n_absorbed = 0
        self.C = len(state.mu)

    def _support(self, K: np.ndarray) -> np.ndarray:
        """The levels a face reads off the total K: the lowest iff K < top, the highest iff K > 0
        (a face of the segment is one of its ends or all of it)."""
        support = np.zeros((len(K), len(self.k)), np.int64)
        support[:, self.lowest] = K < self.top
        support[:, self.highest] = K > 0
        return support

    # -- dynamics -------------------------------------------------------------------------------
    def step(self, t: int) -> None:
        if self.binomial is not None:
            K = self._draw_binomial()
        else:
            K = self._draw_multinomial()
        if self.k_data:
            K += self.k_data
        self.K = K
        self.kmin, self.kmax = int(K.min()), int(K.max())
        if self.kmin < self.lo or self.kmax > self.hi:
            try:
                self._tabulate(self.kmin, self.kmax)
            except NotConverged as e:
                raise self.loop._not_converged(e, t, self.C) from None
        self._record_hits(t)
        self._record_collapses(t)

    def _initial_probabilities(self, probabilities):
        """The first draw's probabilities, from the initial models (any θ per chain; one model: once)."""
        theta, face = self.initial.theta, self.initial.face
        if np.all(theta == theta[0]) and np.all(face == face[0]):
            return np.repeat(probabilities(theta[:1], face[:1]), self.C, axis=0)
        return probabilities(theta, face)

    def _draw_binomial(self) -> np.ndarray:
        if self.K is None:
            p = self._initial_probabilities(lambda th, f: binomial_p(self.binomial, th, f))
        else:
            p = self.p.take(self.K)
        K = self.rng.binomial(self.own, p) if self.own else np.zeros(self.C, np.int64)
        if self.fresh:
            K += self.rng.binomial(self.fresh, self.p_fresh, size=self.C)
        return K

    def _draw_multinomial(self) -> np.ndarray:
        nf = self.loop.numeric
        if self.K is None:
            p = self._initial_probabilities(lambda th, f: sampling.pvals(nf, th, f))
        else:
            p = self.p.take(self.K, axis=0)
        K = self.rng.multinomial(self.m_own, p) @ self.k if self.m_own else np.zeros(self.C, np.int64)
        if self.m_fresh:
            K += self.rng.multinomial(self.m_fresh, self.p_fresh, size=self.C) @ self.k
        return K

    def _record_hits(self, t: int) -> None:
        """First generation on a point mass, for the chains that reached one now."""
        if not any(self.kmin <= v <= self.kmax for v in self.vertex_K):
            return
        at = self.vertex.take(self.K) >= 0
        if self.loop.absorbing:  # absorbed chains stay: look for new ones only if the count grew
            count = int(np.count_nonzero(at))
            if count == self.n_absorbed:
                return
            self.n_absorbed = count
        new = at & (self.hit_time < 0)
        self.hit_time[new] = t

    def _record_collapses(self, t: int) -> None:
        """First generation collapsed, for the chains that collapsed now."""
        if not any(self.kmin <= v <= self.kmax for v in self.collapse_K):
            return
        new = (self.collapse.take(self.K) > 0) & (self.collapse_time < 0)
        self.collapse_time[new] = t

    def all_absorbed(self) -> bool:
        return self.loop.absorbing and self.n_absorbed == self.C

    def _tabulate(self, kmin: int, kmax: int) -> None:
        """Extend the tabulated window to cover [kmin, kmax], with a margin (the window grows rarely)."""
        if self.hi < self.lo:
            lo, hi = kmin, kmax
        else:
            lo, hi = min(kmin, self.lo), max(kmax, self.hi)
        margin = max(MARGIN, (hi - lo) // 2)
        lo, hi = max(0, lo - margin), min(self.top, hi + margin)
        pieces = [(lo, hi)] if self.hi < self.lo else [(lo, self.lo - 1), (self.hi + 1, hi)]
        for a, b in pieces:
            if a <= b:
                self._fill(np.arange(a, b + 1))
        self.lo, self.hi = lo, hi

    def _fill(self, K: np.ndarray) -> None:
        """Tables at the lattice points K: the refit of the general path on Σφ(K)."""
        loop = self.loop
        sums = loop.n_total * self.phi0[None, :] + K[:, None] * self.step_phi[None, :]
        theta_prev = np.repeat(loop.theta0, len(K), axis=0)
        theta, mu, face, vertex = loop._refit_finite(sums, self._support(K), theta_prev)
        if self.binomial is not None:
            p = binomial_p(self.binomial, theta, face)
            if p is None:  # cannot happen: a refit's face is an end of the segment or all of it
                raise RuntimeError("lattice refit left the segment's faces")
        else:
            p = sampling.pvals(loop.numeric, theta, face)
        self.p[K], self.theta[K], self.mu[K], self.vertex[K] = p, theta, mu, vertex
        table = State(mu=mu, theta=theta, face=face, vertex=vertex, hit_time=np.full(len(K), -1))
        for name, values in loop.observables(table).items():
            self.obs[name][K] = values
        self.vertex_K += [int(k) for k in K[vertex >= 0]]
        codes = collapse.classify(loop, table)
        self.collapse[K] = codes
        self.collapse_K += [int(k) for k in K[codes > 0]]

    # -- summaries ------------------------------------------------------------------------------
    def stats(self) -> dict[str, tuple[float, float]]:
        """Mean and (ddof = 1) variance over chains of every observable (finite values only),
        from the histogram of K: Σ_k count_k o(k), never a per-chain array per observable."""
        lo, hi = self.kmin, self.kmax
        counts = np.bincount(self.K - lo if lo else self.K, minlength=hi - lo + 1)[:hi - lo + 1]
        counts = counts.astype(float)
        out = {}
        for name, table in self.obs.items():
            seg = table[lo:hi + 1]
            w = counts
            if not np.all(np.isfinite(seg)):
                ok = np.isfinite(seg)
                w, seg = counts[ok], seg[ok]
            total = w.sum()
            if not total:
                out[name] = (float("nan"), float("nan"))
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                mean = float((w * seg).sum() / total)
                dev = seg - mean
                var = float((w * dev * dev).sum() / (total - 1)) if total > 1 else 0.0
            out[name] = (mean, var)
        return out

    def observables(self, first: int | None = None) -> dict[str, np.ndarray]:
        """Per-chain observables (of the first ``first`` chains; for traces and histograms)."""
        K = self.K if first is None else self.K[:first]
        return {name: table.take(K) for name, table in self.obs.items()}

    @property
    def state(self):
        """The chains' models as a :class:`~.loop.State` (the general path's representation)."""
        if self.K is None:
            return self.initial
        K = self.K
        vertex = self.vertex.take(K)
        support = self._support(K)
        if isinstance(self.loop.estimator, MLE):
            face = minimal_face(self.loop.numeric, support > 0)
        else:
            face = np.ones(support.shape, bool)
        return State(mu=self.mu.take(K, axis=0), theta=self.theta.take(K, axis=0), face=face,
                     vertex=vertex, hit_time=self.hit_time.copy(), collapse_time=self.collapse_time.copy())
