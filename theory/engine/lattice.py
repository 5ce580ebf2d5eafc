"""A generation of a one-statistic finite family as table lookups on the lattice of its sums.

When φ takes values φ0 + k Δφ on the levels (integer k ≥ 0: Bernoulli, binomial,
Curie–Weiss with θ2 held, categorical with K = 2) the refit sees one integer: the
total index K of the n_total points it is fitted to (the model's own draws, the fresh
points, the fixed data), Σφ = n_total φ0 + K Δφ. Everything a generation computes
after the draw — the face, θ', μ', the point mass reached, the next draw's canonical
probabilities, the observables — is therefore a function of K. :class:`LatticeChains`
keeps K per chain and tabulates those functions over a window of K covering the chains
(grown on demand, at most ``WINDOW_MAX`` points: the lattice itself may have up to 2⁶²),
with the refit code of the general path run on the lattice points, so a table entry is the
number the general path computes for a chain with that sum (a Newton refit, started from θ0
instead of the chain's previous θ, agrees to its tolerance). Chains spread wider than a
window get the tables of their distinct sums, made afresh each generation. A generation is
then a gather of the draw's probabilities, the draw, a max (the window test) and a copy of
each chain's table row into the block of generations (``engine.book``); a block's summaries
cost O(chains) per generation whatever the spread: each generation's histogram of rows
against the tables when the block's chains cover fewer lattice points than there are chains,
else the tables read per chain; hit and collapse times from the rows on a point mass or
collapsed, looked at only when the block reaches them.

The draw is one Binomial(n m, p) when the sum is binomial (:func:`.sampling.binomial_sum`),
else the multinomial over the levels with the general path's canonical 44-bit probabilities.
A binomial sum fitted by the MLE (:func:`.segment.segment_law`) tabulates the segment path's
models (engine.segment): p = K/(n n_t), the model's own frequency, τ, θ from the closed form,
the observables, at 50–65 ns a lattice point instead of the general refit's 250–400 (the run
takes these tables when the whole lattice costs less than its chain-generations, else the
segment path: the same draws). Under a sampling operator that acts on the level
probabilities (temperature, top-k, top-p) the tables hold the operated probabilities and the
draw is the multinomial over them, as on the general path; selection takes the general path. The random stream differs only in that absorbed
chains are not set aside: their draw is a point mass, so they stay where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import collapse, sampling
from .book import block_size, first_times, mean_var_rows
from .model import minimal_face
from .estimators import MLE, NotConverged
from .sampling import binomial_p
from .segment import Segment, segment_law
from .state import State

LATTICE_MAX = 2**62  # largest lattice of sums (k_max · n_total): indices stay int64; beyond: general path
WINDOW_MAX = 2**20   # most lattice points tabulated at once; chains spread wider: their distinct sums
TABLE_MAX = 2**24    # most level probabilities tabulated at once (window × levels, multinomial draws)
MARGIN = 64          # lattice points added on each side when the window grows (at least)
COMPUTE_PIECE = 2048  # lattice points tabulated at once
# a binomial sum's lattice point tabulated costs about as much as this many chain-generations of the
# segment path's summaries (engine.segment; measured 50–65 ns against about 5 ns)
TABLE_POINT_COST = 12
# ... and its tables beat the segment path's summaries when the lattice spans at most this many points
# a chain. Measured (M = 10⁴, generations 21–2 000): the engine's time per generation on the tables
# over its time on the segment path,
# Bernoulli (10⁴ points) 1.09 at 10² chains, 0.97 at 300, 0.96 at 500, 0.92 at 10³, 0.81 at 2·10⁴;
# binomial n = 10 (10⁵ points) 1.36 at 10², 1.09 at 10³, 1.03 at 3·10³, 1.02 at 6·10³, 0.92 at 2·10⁴;
# Curie–Weiss N = 20, θ2 = 0 (2·10⁵ points) 1.37 at 10², 1.07 at 10³, 0.98–1.06 from 3·10³ to 2·10⁴
TABLE_SPREAD = 20


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
    if loop.sampler != "exact" or not nf.finite or nf.d != 1 or loop.regime.pooled or loop.regime.schedule \
            or loop.operator.select is not None:
        return None  # (a pooled regime, a growing M_t or a selection: the general path)
    law = sampling.binomial_sum(nf)  # looked up here: tests replace it
    if law is not None:
        n, _, phi0, step = law
        k = np.arange(n + 1)
        if not loop.operator.identity:  # the operated law of a draw is no binomial: the multinomial
            law = None
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
    if int(k.max()) * loop.n_total > LATTICE_MAX:
        return None
    return LatticeLaw(k=k, phi0=phi0, step=step, binomial=law)


class LatticeChains:
    """C chains of ``loop`` from ``state``, advanced by table lookups on the lattice of sums.

    The tables (``table``: draw probabilities p, θ, μ, point mass, collapse code, and the
    observables as ``obs:<name>``, also in ``obs``) have one row per tabulated K: the window
    ``lo..hi``, or, with ``lo`` None, the distinct sums of this generation; ``rows`` holds each
    chain's row, ``rows_block`` the rows of the generations not yet summarised (:meth:`flush`,
    which ``book`` receives)."""

    def __init__(self, loop, law: LatticeLaw, state, rng: np.random.Generator, book):
        self.loop, self.rng, self.law, self.book = loop, rng, law, book
        self.k, self.phi0, self.step_phi = law.k, law.phi0, law.step
        self.binomial = law.binomial
        kmax = int(law.k.max())
        self.lowest, self.highest = int(np.argmin(law.k)), int(np.argmax(law.k))
        self.m_own, self.m_fresh = loop.M - loop.M0, loop.M0 + loop.external
        self.k_data = 0 if loop.data_counts is None else int(loop.data_counts @ law.k)
        self.top = kmax * loop.n_total
        nf = loop.numeric
        if self.binomial is not None:
            self.own = kmax * self.m_own                       # trials of the model's own draw
            self.fresh = kmax * self.m_fresh                   # trials of the fresh points
            self.p_fresh = None if not self.fresh else \
                float(binomial_p(self.binomial, loop.theta_star, None)[0])
            self.window_max = WINDOW_MAX
        else:
            self.p_fresh = None if not self.m_fresh else \
                sampling.pvals(nf, loop.theta_star, None)[0]
            self.window_max = max(1, min(WINDOW_MAX, TABLE_MAX // len(law.k)))
        # a binomial sum fitted by the MLE: the tables are the segment path's models, and a draw's
        # p is the model's own frequency K/(n n_t) (engine.segment)
        segment = segment_law(loop, 1) if self.binomial is not None else None
        self.segment = None if segment is None else Segment(loop, segment, loop.theta0)
        self.table: dict[str, np.ndarray] = {}
        self.obs: dict[str, np.ndarray] = {}
        self.lo: int | None = None               # first K of the window (None: this generation's sums)
        self.hi = -1                             # last K of the window
        self.vertex_rows = np.empty(0, np.int64)    # table rows on a point mass (sorted)
        self.collapse_rows = np.empty(0, np.int64)  # table rows where the refit has collapsed (sorted)
        self.initial = state                        # the models before the first draw
        self.K: np.ndarray | None = None
        self.rows: np.ndarray | None = None
        self.hit_time = state.hit_time.copy()
        self.collapse_time = np.full(len(state.mu), -1)
        self.absorbed = False  # every chain on an absorbing point mass (at the last summarised generation)
        self.C = len(state.mu)
        # a block of generations: each chain's table row per generation, summarised at once
        # (engine.book); per chain and generation its row and the summaries' temporaries
        self.block = block_size(self.C, 8 * (1 + 3 * len(book.names)))
        self.rows_block = np.empty((self.block, self.C), np.int64)
        self.filled, self.first = 0, 1  # generations buffered, the first of them

    def _support(self, K: np.ndarray) -> np.ndarray:
        """The levels a face reads off the total K: the lowest iff K < top, the highest iff K > 0
        (a face of the segment is one of its ends or all of it)."""
        support = np.zeros((len(K), len(self.k)), np.int64)
        support[:, self.lowest] = K < self.top
        support[:, self.highest] = K > 0
        return support

    # -- dynamics -------------------------------------------------------------------------------
    def step(self, t: int) -> None:
        """Generation t: draw each chain's K, look its row up; the row joins the block."""
        K = self._draw_binomial() if self.binomial is not None else self._draw_multinomial()
        if self.k_data:
            K += self.k_data
        rows = None if self.lo is None else np.subtract(K, self.lo, out=self.rows_block[self.filled])
        # in the window iff 0 <= row <= hi − lo: one max, a negative row being a huge unsigned one
        if rows is None or int(rows.view(np.uint64).max()) > self.hi - self.lo:
            self.flush()  # the block's rows index the tables about to change
            try:
                self._look_up(K)
            except NotConverged as e:
                raise self.loop.not_converged(e, t, self.C) from None
            rows = self.rows_block[self.filled]
            rows[:] = self.rows
        self.K, self.rows = K, rows
        self.filled += 1

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
            p = self.table["p"].take(self.rows)
        K = self.rng.binomial(self.own, p) if self.own else np.zeros(self.C, np.int64)
        if self.fresh:
            K += self.rng.binomial(self.fresh, self.p_fresh, size=self.C)
        return K

    def _draw_multinomial(self) -> np.ndarray:
        if self.K is None:
            p = self._initial_probabilities(self.loop.model_probabilities)
        else:
            p = self.table["p"].take(self.rows, axis=0)
        K = self.rng.multinomial(self.m_own, p) @ self.k if self.m_own else np.zeros(self.C, np.int64)
        if self.m_fresh:
            K += self.rng.multinomial(self.m_fresh, self.p_fresh, size=self.C) @ self.k
        return K

    def flush(self) -> None:
        """Summarise the buffered generations (engine.book): hit and collapse times from the rows'
        table entries, statistics from the observable tables."""
        n = self.filled
        if not n:
            return
        rows = self.rows_block[:n]
        t = np.arange(self.first, self.first + n)
        self.first, self.filled = self.first + n, 0
        lo, hi = int(rows.min()), int(rows.max())
        self.absorbed = False
        if _any_within(self.vertex_rows, lo, hi):
            at = self.table["vertex"].take(rows) >= 0
            first_times(self.hit_time, at, t)
            self.absorbed = self.loop.absorbing and bool(at[-1].all())
        if _any_within(self.collapse_rows, lo, hi):
            first_times(self.collapse_time, self.table["collapse"].take(rows) > 0, t)
        wanted = self.book.wanted(t)
        if wanted.any():
            self.book.add(t[wanted], *self._summarise(rows if wanted.all() else rows[wanted]))

    def all_absorbed(self) -> bool:
        return self.absorbed

    # -- the tables -----------------------------------------------------------------------------
    def _look_up(self, K: np.ndarray) -> None:
        """Each chain's row, the tables extended (with a margin) to cover K."""
        kmin, kmax = int(K.min()), int(K.max())
        keep = self.lo is not None and max(kmax, self.hi) - min(kmin, self.lo) < self.window_max // 2
        lo, hi = (min(kmin, self.lo), max(kmax, self.hi)) if keep else (kmin, kmax)
        margin = max(MARGIN, (hi - lo) // 2)
        lo, hi = max(0, lo - margin), min(self.top, hi + margin)
        if hi - lo >= self.window_max:  # as wide as it may be: the chains' sums, no margin
            lo, hi, keep = kmin, kmax, False
        if hi - lo < self.window_max:
            self._tabulate(lo, hi, keep)
            self.rows = K - lo
        else:  # spread wider than a window: the tables of this generation's distinct sums
            distinct, self.rows = np.unique(K, return_inverse=True)
            self._set_tables(self._compute(distinct))
            self.lo, self.hi = None, -1

    def _tabulate(self, lo: int, hi: int, keep: bool) -> None:
        """Tables over the window lo..hi, keeping the rows of the current window if ``keep``."""
        pieces = [(lo, self.lo - 1), (self.hi + 1, hi)] if keep else [(lo, hi)]
        new = [(a, self._compute(np.arange(a, b + 1))) for a, b in pieces if a <= b]
        tables = {}
        for name, like in new[0][1].items():
            column = np.empty((hi - lo + 1, *like.shape[1:]), like.dtype)
            if keep:
                column[self.lo - lo:self.hi - lo + 1] = self.table[name]
            for a, values in new:
                column[a - lo:a - lo + len(values[name])] = values[name]
            tables[name] = column
        self._set_tables(tables)
        self.lo, self.hi = lo, hi

    def _set_tables(self, tables: dict[str, np.ndarray]) -> None:
        """Install tables (rows: sorted lattice points); note the rows on a point mass and those
        whose refit has collapsed."""
        self.table = tables
        self.obs = {name[4:]: v for name, v in tables.items() if name.startswith("obs:")}
        # the distinct observables stacked (distinct × rows; Bernoulli's p is its φ1), summarised
        # in one pass; obs_index: each observable's row of it
        distinct: list[np.ndarray] = []
        index = []
        for v in self.obs.values():
            same = [j for j, u in enumerate(distinct) if np.array_equal(u, v, equal_nan=True)]
            index.append(same[0] if same else len(distinct))
            if not same:
                distinct.append(v)
        self.obs_matrix, self.obs_index = np.stack(distinct), np.array(index)
        # the rows with a non-finite value (θ on a point mass), counted up to each row
        bad = ~np.all(np.isfinite(self.obs_matrix), axis=0)
        self.bad_before = np.concatenate([[0], np.cumsum(bad)])
        self.vertex_rows = np.flatnonzero(tables["vertex"] >= 0)
        self.collapse_rows = np.flatnonzero(tables["collapse"] > 0)

    def _compute(self, K: np.ndarray) -> dict:
        """Tables at the lattice points K: the refit of the general path on Σφ(K), in pieces of
        COMPUTE_PIECE points (their (points × levels) temporaries stay in cache)."""
        if len(K) <= COMPUTE_PIECE:
            return self._compute_piece(K)
        pieces = [self._compute_piece(K[i:i + COMPUTE_PIECE]) for i in range(0, len(K), COMPUTE_PIECE)]
        return {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}

    def _compute_piece(self, K: np.ndarray) -> dict:
        loop = self.loop
        if self.segment is not None:
            return self._segment_piece(K)
        sums = loop.n_total * self.phi0[None, :] + K[:, None] * self.step_phi[None, :]
        theta_prev = np.repeat(loop.theta0, len(K), axis=0)
        theta, mu, face, vertex = loop._refit_finite(sums, self._support(K), theta_prev)
        if self.binomial is not None:
            p = binomial_p(self.binomial, theta, face)
            if p is None:  # cannot happen: a refit's face is an end of the segment or all of it
                raise RuntimeError("lattice refit left the segment's faces")
        else:
            p = loop.model_probabilities(theta, face)
        table = State(mu=mu, theta=theta, face=face, vertex=vertex, hit_time=np.full(len(K), -1))
        obs = {f"obs:{name}": np.asarray(v, float) for name, v in loop.observables(table).items()}
        return {"p": p, "theta": theta, "mu": mu, "vertex": vertex,
                "collapse": collapse.classify(loop, table).astype(np.int8), **obs}

    def _segment_piece(self, K: np.ndarray) -> dict:
        """Tables at the lattice points K of a binomial sum fitted by the MLE (:class:`.segment.Segment`):
        p = K/(n n_t), the models, their collapse codes and observables; θ on an end is θ0 (the
        refit's previous θ, as the general refit from θ0 keeps it)."""
        loop, row, trials = self.loop, K[None], np.array([[self.top]])
        state, ends = self.segment.models(row, trials, row.min(axis=1), row.max(axis=1), theta=True)
        codes = self.segment.codes(state, row, trials) if loop.collapsible else np.zeros(len(K), np.int8)
        obs = {f"obs:{name}": np.asarray(v, float) for name, v in loop.observables(state).items()}
        vertex = np.array(state.vertex)
        theta = np.where((vertex >= 0)[:, None], loop.theta0, state.theta) if ends else state.theta
        return {"p": K / self.top, "theta": theta, "mu": state.mu, "vertex": vertex, "collapse": codes, **obs}

    # -- summaries ------------------------------------------------------------------------------
    def _summarise(self, rows: np.ndarray):
        """(mean, var, values) of generations whose chains are on table ``rows`` (generations,
        chains): means and (ddof = 1) variances over chains (generations, observables) of every
        observable (finite values only), in O(chains) per generation, all observables at once:
        Σ_k count_k o(k) over each generation's histogram of rows when the block's rows span
        fewer table rows than there are chains, else the tables read per chain."""
        n, C = rows.shape
        lo, hi = int(rows.min()), int(rows.max())
        width = hi - lo + 1
        if width > C:
            values = self.obs_matrix.take(rows, axis=1)  # (observables, generations, chains)
            mean, var = mean_var_rows(values.reshape(-1, C))
            mean, var = mean.reshape(-1, n).T, var.reshape(-1, n).T
        else:
            shifted = rows + (width * np.arange(n) - lo)[:, None]  # generation j's rows from j·width
            weights = np.bincount(shifted.ravel(), minlength=n * width).reshape(n, width).astype(float)
            values = self.obs_matrix[:, lo:hi + 1]  # (observables, width)
            ok = None
            if self.bad_before[lo] != self.bad_before[hi + 1]:  # non-finite values (θ on a point mass): left out
                ok = np.isfinite(values)
                values = np.where(ok, values, 0.0)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                total = float(C) if ok is None else weights @ ok.T  # (generations, observables)
                mean = weights @ values.T / total
                dev = values - mean[..., None]  # (generations, observables, width)
                square = dev * dev if ok is None else dev * dev * ok
                square = np.matmul(square, weights[:, :, None])[..., 0]
                var = np.where(total > 1, square / (total - 1), 0.0)
            mean, var = np.where(total > 0, mean, np.nan), np.where(total > 0, var, np.nan)
        mean, var = mean[:, self.obs_index], var[:, self.obs_index]

        def values_(name, which, first):
            return self.obs[name].take(rows[which, :first])
        return mean, var, values_

    def summary_now(self):
        """(mean, var, values) of the current generation alone."""
        return self._summarise(self.rows[None])

    @property
    def state(self):
        """The chains' models as a :class:`~.loop.State` (the general path's representation)."""
        if self.K is None:
            return self.initial
        rows = self.rows
        support = self._support(self.K)
        if isinstance(self.loop.estimator, MLE):
            face = minimal_face(self.loop.numeric, support > 0)
        else:
            face = np.ones(support.shape, bool)
        return State(mu=self.table["mu"].take(rows, axis=0), theta=self.table["theta"].take(rows, axis=0),
                     face=face, vertex=self.table["vertex"].take(rows), hit_time=self.hit_time.copy(),
                     collapse_time=self.collapse_time.copy())


def _any_within(sorted_values: np.ndarray, lo: int, hi: int) -> bool:
    """Whether a value of the sorted array lies in lo..hi."""
    i = int(np.searchsorted(sorted_values, lo))
    return i < len(sorted_values) and int(sorted_values[i]) <= hi
