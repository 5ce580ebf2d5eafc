"""The binomial-sum families' loop: a generation is one binomial draw and one division per chain.

A family whose draws are binomial sums (:func:`.sampling.binomial_sum`: Bernoulli, binomial,
Curie–Weiss with θ2 held at 0, categorical with K = 2) lives on a segment: a sample of m
points has Σφ = m φ(s0) + K Δφ with K ~ Binomial(n m, p), p = 1/(1 + e^{−(r + θ·Δφ)}) the
success probability of one trial. The MLE matches means, μ(θ') = τ = Σφ/n_t, so the refitted
model's own success probability is the frequency of the sample's trials,

    p' = K / (n n_t)        (K over the n_t points the refit reads: the sample, or the pool),

and the next generation is drawn with it directly: θ' is never needed to draw. This is the
general path's law exactly (its p is the same number written as a sigmoid of θ'(τ), rounded to
44 bits; here it is a correctly rounded quotient of integers, the same on every machine; p = 1/2
is exactly 1/2), not its random stream. A chain's face is an end of the segment iff K = 0 or
K = n n_t (a point mass: the draws stay there) and the whole segment otherwise.

Per generation :class:`SegmentChains` draws K (the model's trials, then the fresh points' from the
truth), adds it to the pool under accumulate, keeps each chain's K in a block of generations and
divides. Under subsample with n = 1 (Bernoulli, categorical with K = 2) the pool is its count of
ones, and the subsample's count of zeros one Hypergeometric(zeros, ones, n_t) draw (the general
path's multivariate hypergeometric over two levels); a chain has collapsed when its pool is on an
end (its subsample, the model, is then on it too). A block's summaries (engine.book) are
computed from the block's K at once: τ, θ' from the closed-form inverse mean map, the point
masses, hitting and collapse times (collapse.classify on the few chains within the refit's
resolution of an end), the observables; where the ends absorb, chains held on one are not worked
out again.

It applies to the settings of :attr:`~.loop.ClosedLoop.binomial_sum_law` (the exact sampler, no
operator, the MLE with a closed-form inverse mean map, no fixed data, fresh points from the truth
allowed), under replace, accumulate or (n = 1) subsample with any M_t schedule,
when both ends of the segment are point masses and the lattice of pooled sums fits in int64.
Replace at constant M takes the lattice path instead when its tables pay (engine.lattice, whose
tables are this module's models: the same draws).
"""

from __future__ import annotations

import math

import numpy as np

from . import collapse, sampling
from .book import block_size, first_times, mean_var_rows
from .collapse import RESOLUTION
from .estimators import NotConverged
from .sampling import binomial_p
from .state import State

K_MAX = 2**62  # the most trials a refit may read (n · n_t): K stays an exact int64


def segment_law(loop, generations: int) -> tuple | None:
    """The binomial-sum law (n, r, φ(s0), Δφ) when ``loop``'s run of ``generations`` can take
    :class:`SegmentChains`, else None."""
    law = loop.binomial_sum_law
    if law is None or sampling.binomial_sum(loop.numeric) is None:  # (looked up here: tests replace it)
        return None
    nf, n = loop.numeric, law[0]
    if nf.level_vertex(0) < 0 or nf.level_vertex(n) < 0 or (loop.regime.kind == "subsample" and n > 1):
        return None  # (a subsample of n > 1 levels reads every level's count: the general path)
    largest = loop.refit_size(generations) if loop.regime.kind == "accumulate" else \
        loop.largest_sample(generations)
    if n * largest >= K_MAX:
        return None
    return law


class Segment:
    """The models of a :func:`segment_law` setting as functions of their binomial count K out of
    n n_t trials, computed for many at once (the segment path's blocks, the lattice path's tables)."""

    def __init__(self, loop, law: tuple, theta0: np.ndarray):
        self.loop = loop
        self.n, _, phi0, step = law
        self.phi0, self.step_phi = float(phi0[0]), float(step[0])
        self.vertices = loop.numeric.level_vertex(0), loop.numeric.level_vertex(self.n)
        self.theta0 = theta0[:1]  # the Newton's start where the closed form is not finite
        # whether an observable reads θ (not all the family's names are conventional in μ)
        names = {name for name, in_mu, _ in loop.observable_functions if in_mu}
        self.theta_read = not all(in_mu for _, in_mu, _ in loop.observable_functions) \
            or any(name not in names for name in loop.family.names)

    def models(self, K: np.ndarray, trials: np.ndarray, lowest: np.ndarray, highest: np.ndarray,
               theta: bool | None = None) -> tuple[State, bool]:
        """(the models of generations × chains with counts K out of ``trials`` (per generation;
        ``lowest``, ``highest``: each generation's least and largest K), stacked generation-major,
        and whether any is on an end): τ = (n_t φ(s0) + K Δφ) / n_t, the point mass on an end,
        θ' (if ``theta``, by default when an observable reads it) the closed-form inverse mean map
        (±∞ on an end: not read), else None. ``face`` is None: a chain is on a face iff it is on a
        point mass (the observables read the interior off ``vertex``)."""
        size = trials // self.n
        sums = K * self.step_phi if self.step_phi != 1.0 else K
        if self.phi0 != 0.0:
            sums = sums + size * self.phi0
        tau = np.divide(sums, size).reshape(-1, 1)
        low, high = bool(lowest.min() == 0), bool((highest == trials[:, 0]).any())
        if low or high:
            vertex = np.where(K == 0, self.vertices[0], np.where(K == trials, self.vertices[1], -1)).ravel()
        else:
            vertex = np.broadcast_to(np.int64(-1), (K.size,))
        state = State(mu=tau, theta=None, face=None, vertex=vertex, hit_time=np.empty(0, np.int64))
        if self.theta_read if theta is None else theta:
            state.theta = self.theta(tau, vertex < 0 if low or high else None)
        return state, low or high

    def theta(self, mu: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray:
        """θ' of the models μ (k, 1), interior ones where ``inside`` (None: all): the closed form,
        and where it is not finite inside (beyond it in float64) the general refit (Newton from
        θ0; NotConverged if it fails)."""
        loop = self.loop
        theta = loop.numeric.theta_closed_form(mu)
        with np.errstate(invalid="ignore", over="ignore"):  # (−∞ + ∞ with chains on both ends)
            if math.isfinite(theta.sum()):
                return theta
        bad = ~np.isfinite(theta[:, 0])  # (±∞ exactly on the ends)
        bad = np.flatnonzero(bad if inside is None else bad & inside)
        if len(bad):
            whole = np.ones((len(bad), len(loop.numeric.levels)), bool)
            theta[bad] = loop.refit_theta(mu[bad], np.repeat(self.theta0, len(bad), axis=0), whole, 0.0)
        return theta

    def codes(self, states: State, K: np.ndarray, trials: np.ndarray) -> np.ndarray:
        """Collapse codes (engine.collapse) of the models: 1 on an end (no fresh points here:
        every face is closed), 2 within the refit's resolution of one, which only a model whose
        success probability or its complement is below it can be (the mass off an end is at
        least that): those are classified as the general path does."""
        codes = np.where(states.vertex >= 0, 1, 0).astype(np.int8)
        p = (K / trials).ravel()
        near = np.flatnonzero((codes == 0) & (np.minimum(p, 1.0 - p) < 2 * RESOLUTION))
        if len(near):
            whole = np.ones((len(near), len(self.loop.numeric.levels)), bool)
            mu = states.mu[near]
            sub = State(mu=mu, theta=self.theta(mu), face=whole, vertex=states.vertex[near],
                        hit_time=np.empty(0, np.int64))
            codes[near] = collapse.classify(self.loop, sub)
        return codes


class SegmentChains:
    """C chains of a binomial-sum family from ``state`` (see the module docstring): ``p`` each
    chain's next success probability, ``pool`` its pool's K (accumulate), ``K_block`` the K of
    the generations not yet summarised. The interface :meth:`.loop.ClosedLoop.run` drives."""

    def __init__(self, loop, law: tuple, state: State, rng: np.random.Generator, book):
        self.loop, self.rng, self.book = loop, rng, book
        self.segment = Segment(loop, law, state.theta)
        self.n = law[0]
        self.accumulate = loop.regime.kind == "accumulate"
        self.subsample = loop.regime.kind == "subsample"
        self.schedule = loop.regime.schedule is not None
        self.fresh = self.n * (loop.M0 + loop.external)  # trials of the truth's points
        self.p_fresh = loop.truth_law[1] if self.fresh else None
        self.C = C = len(state.mu)
        p = binomial_p(law, state.theta, state.face)
        if p is None:  # (an initial state is interior)
            raise ValueError("initial models off the segment's faces")
        self.p = np.array(p, float)
        self.pool = np.zeros(C, np.int64)   # accumulate: the pool's K (a row of K_block once drawn);
        self.pool_size = 0                  # subsample: the pool's ones and its points
        self.own = self.n * (loop.M - loop.M0)            # trials of the model's points (no schedule)
        self.trials_each = self.n * loop.n_total          # n n_1: the trials a generation adds
        self.theta0 = state.theta.copy()
        self.initial = state
        self.mu_inside = state.mu[:, 0].copy()  # μ of each chain's last interior model (summarised)
        self.moved = np.zeros(C, bool)          # whether it has one (else θ on an end is θ0)
        self.K, self.trials = None, 0        # the last generation's K and its n n_t
        self.hit_time = state.hit_time.copy()
        self.collapse_time = np.full(C, -1)
        self.absorbed = False
        # per chain and generation: its K, and the block's temporaries (τ, θ, observables)
        self.block = block_size(C, 64)
        self.K_block = np.empty((self.block, C), np.int64)
        self.trials_block = np.empty(self.block, np.int64)
        if self.subsample:  # (n = 1) the pool's ones and its size per generation: collapse reads them
            self.pool_block = np.empty((self.block, C), np.int64)
            self.size_block = np.empty(self.block, np.int64)
        self.filled, self.first = 0, 1
        # the chains not held on an end (sorted; the ends absorb: loop.absorbing), those of the
        # block being summarised, and the end each chain was last seen on (0 lower, 1 upper)
        self.live = self.live_block = np.arange(C)
        self.end = np.zeros(C, np.int8)
        # the most trials at which only K = 0 and K = n n_t are within 2·RESOLUTION·n n_t of an end
        # (collapse.classify's float boundary, see Segment.codes): below, collapsed iff on an end
        self.resolved = int(1 / (2 * RESOLUTION))

    def step(self, t: int) -> None:
        """Generation t: K ~ Binomial(n m_t, p) (+ the fresh points'), the pool (accumulate: its K;
        subsample: K of its subsample), p' = K / (n n_t)."""
        j = self.filled
        if self.schedule:
            own, trials = self.n * self.loop.model_draws(t), self.n * self.loop.refit_size(t)
        else:
            own, trials = self.own, self.trials_each * t if self.accumulate else self.trials_each
        drawn = self.rng.binomial(own, self.p) if own else np.zeros(self.C, np.int64)
        if self.fresh:
            drawn += self.rng.binomial(self.fresh, self.p_fresh, size=self.C)
        K = self.K_block[j]
        if self.accumulate:  # the pool: the previous generation's K (a row of this block or the last)
            np.add(self.pool, drawn, out=K)
            self.pool = K
        elif self.subsample:  # n = 1: the pool's ones; the subsample's zeros are hypergeometric
            self.pool += drawn
            # the pool's points (n = 1: a point is a trial)
            size = self.loop.pool_size(t) if self.schedule else self.trials_each * t
            K[:] = trials - self.rng.hypergeometric(size - self.pool, self.pool, trials)
            self.pool_block[j], self.size_block[j] = self.pool, size
            self.pool_size = size
        else:
            K[:] = drawn
        np.divide(K, trials, out=self.p)
        self.trials_block[j] = trials
        self.K, self.trials = K, trials
        self.filled = j + 1

    def flush(self) -> None:
        """Summarise the buffered generations (engine.book): point masses, hitting and collapse
        times, the observables' means and variances. Where the ends absorb, a chain on one at the
        start of the block stays there (its draws are its point mass): only the others' models
        are worked out, the ends' once per generation."""
        n = self.filled
        if not n:
            return
        t = np.arange(self.first, self.first + n)
        self.first, self.filled = self.first + n, 0
        K, trials = self.K_block[:n], self.trials_block[:n, None]
        live = self.live_block = self.live
        if len(live) < self.C:
            K = K[:, live]
        lowest, highest = K.min(axis=1, initial=trials.max()), K.max(axis=1, initial=0)
        states, ends = self._states(K, trials, lowest, highest)
        self.absorbed = False
        if ends:
            on = states.vertex.reshape(n, -1) >= 0
            self._first_times(self.hit_time, on, t)
            if self.loop.absorbing:  # from the next block on, the chains now on an end stay there
                self.end[live] = K[-1] > 0
                self.live = live[~on[-1]]
                self.absorbed = not len(self.live)
        unresolved = self.resolved < trials.max()
        if self.subsample:  # collapsed iff the pool is on an end: its subsample, the model, is there too
            if self.loop.collapsible:
                pool, size = self.pool_block[:n], self.size_block[:n, None]
                self._first_times(self.collapse_time, (pool == 0) | (pool == size), t)
        elif self.loop.collapsible and (ends or unresolved):
            # with n n_t ≤ 1/(2·RESOLUTION) no K but 0 and n n_t is within the refit's resolution of
            # an end (see Segment.codes): a chain has collapsed iff it is on one
            codes = self.segment.codes(states, K, trials).reshape(n, -1) if unresolved else on
            self._first_times(self.collapse_time, codes > 0, t)
        self._keep_inside(states, ends, n)
        wanted = self.book.wanted(t)
        if wanted.any():
            rows = np.flatnonzero(wanted)
            if not wanted.all():
                states = self._states(K[rows], trials[rows], lowest[rows], highest[rows])[0]
            self.book.add(t[wanted], *self._summarise(states, trials[rows], live))

    def _first_times(self, times: np.ndarray, hit: np.ndarray, t: np.ndarray) -> None:
        """book.first_times for the block's live chains (``hit``: generations × live chains)."""
        if len(self.live_block) == self.C:
            first_times(times, hit, t)
        else:
            part = times[self.live_block]
            first_times(part, hit, t)
            times[self.live_block] = part

    def all_absorbed(self) -> bool:
        return self.absorbed

    # -- a block's models ----------------------------------------------------------------------
    def _states(self, K, trials, lowest, highest, theta=None) -> tuple[State, bool]:
        """:meth:`Segment.models`, a failed Newton reported at the block's generation."""
        try:
            return self.segment.models(K, trials, lowest, highest, theta)
        except NotConverged as e:
            raise self.loop.not_converged(e, self.first - 1, self.C) from None

    def _keep_inside(self, states: State, ends: bool, n: int) -> None:
        """μ of each live chain's last interior model of the block (θ on an end is that model's)."""
        live = self.live_block
        tau = states.mu[:, 0].reshape(n, -1)
        if not ends:
            self.mu_inside[live] = tau[-1]
            self.moved[live] = True
            return
        inside = (states.vertex < 0).reshape(n, -1)
        last = n - 1 - np.argmax(inside[::-1], axis=0)
        has = np.flatnonzero(inside.any(axis=0))
        self.mu_inside[live[has]] = tau[last[has], has]
        self.moved[live[has]] = True

    # -- summaries ------------------------------------------------------------------------------
    def _summarise(self, states: State, trials: np.ndarray, live: np.ndarray):
        """(mean, var, values) of generations whose live chains' models are ``states`` (stacked
        generation-major; ``trials``: n n_t per generation) and whose other chains are on the end
        they sit on (as ``end`` says): means and variances over chains (generations, observables)
        of every observable's finite values, the live chains' values followed by the ends'
        (the same values as chain by chain, summed in another order); an observable that is
        another's array is summarised once."""
        n, C, names = len(trials), self.C, self.book.names
        obs = self.loop.observables(states)
        parts = []  # (chains, the end's row: 0 lower, 1 upper) of the chains on an end
        if len(live) < C:
            end_K = np.hstack([np.zeros_like(trials), trials])
            ends, _ = self._states(end_K, trials, end_K[:, 0], end_K[:, 1], theta=True)
            at_ends = self.loop.observables(ends)
            off = np.ones(C, bool)
            off[live] = False
            held = np.flatnonzero(off)
            upper = self.end[held] > 0
            parts = [(chains, j) for j, chains in enumerate((held[~upper], held[upper])) if len(chains)]
        mean, var = np.empty((n, len(names))), np.empty((n, len(names)))
        done = {}
        for i, name in enumerate(names):
            v = obs[name]
            key = (v.__array_interface__["data"][0], v.strides, v.shape)
            if key not in done:
                v = v.reshape(n, -1)
                if parts:
                    e = at_ends[name].reshape(n, 2)
                    held = [np.broadcast_to(e[:, j:j + 1], (n, len(chains))) for chains, j in parts
                            if np.isfinite(e[:, j]).all()]  # (a value not finite on an end: left out)
                    v = np.hstack([v, *held])
                done[key] = mean_var_rows(v)
            mean[:, i], var[:, i] = done[key]

        def values(name, rows, first):
            v = obs[name].reshape(n, -1)[rows]
            if not parts:
                return v[:, :first]
            out = np.empty((len(rows), C))
            out[:, live] = v
            e = at_ends[name].reshape(n, 2)[rows]
            for chains, j in parts:
                out[:, chains] = e[:, j:j + 1]
            return out[:, :first]
        return mean, var, values

    def summary_now(self):
        """(mean, var, values) of the current generation alone."""
        return self._summarise(self._now(), np.array([[self.trials]]), np.arange(self.C))

    def _now(self) -> State:
        """The models of the last generation."""
        K = self.K[None]
        return self._states(K, np.array([[self.trials]]), K.min(axis=1), K.max(axis=1))[0]

    @property
    def state(self) -> State:
        """The chains' models as a :class:`~.state.State` (the general path's representation;
        under accumulate the pool's level counts only mark the levels it holds)."""
        if self.K is None:
            return self.initial
        K, trials = self.K, self.trials
        now = self._now()
        code = np.where(K == 0, 1, np.where(K == trials, 2, 0))
        L = len(self.loop.numeric.levels)
        # θ: the closed form inside; on an end the last interior model's (θ0 if it never moved)
        theta = self.theta0.copy()
        inside, kept = np.flatnonzero(code == 0), np.flatnonzero((code > 0) & self.moved)
        theta[inside] = self.segment.theta(now.mu[inside])
        theta[kept] = self.segment.theta(self.mu_inside[kept, None])
        out = State(mu=now.mu, theta=theta, face=self.loop.segment_faces[code],
                    vertex=now.vertex, hit_time=self.hit_time.copy(), collapse_time=self.collapse_time.copy())
        if self.subsample:
            size = self.pool_size
            out.pool_size = size
            out.pool_counts = np.stack([size - self.pool, self.pool], axis=1)
            out.pool_sums = (size * self.segment.phi0 + self.pool * self.segment.step_phi)[:, None]
        if self.accumulate:
            size = trials // self.n
            out.pool_size = int(size)
            out.pool_sums = (size * self.segment.phi0 + K * self.segment.step_phi)[:, None]
            out.pool_counts = np.zeros((self.C, L), np.int64)
            out.pool_counts[:, 0], out.pool_counts[:, -1] = K < trials, K > 0
        return out
