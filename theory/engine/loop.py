"""The closed loop, vectorised over chains: sample a generation, refit, record, repeat.

The state of a chain is its current model: expectation parameters μ (always
finite, also on the boundary), natural parameters θ where they are needed, and
for finite spaces the face of the marginal polytope the model lives on. A chain
whose model is a point mass has reached an absorbing state; in the pure loop
(MLE, no anchors) it never leaves and is no longer updated. Memory does not grow
with the number of generations: only summaries over chains are kept, every
``record_every``-th generation if a trace is asked for, made a block of generations at a
time (``engine.book``: the chains are summarised B generations at once).

Under the pooled regimes (``theory.regime``) a chain also carries its pool, every point
drawn so far: accumulate refits on it, through its Σφ and level counts (O(1) per
generation); subsample refits on n_t of its points drawn without replacement, from its
level counts on a finite space (multivariate hypergeometric), from the points themselves
on an infinite one (then memory grows as N_t = Σ n_k points per chain).
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from ..errors import InputError, SettingError, integer
from ..family import ExponentialFamily
from ..twin import FamilyTwin
from ..progress import tqdm
from ..regime import Regime
from ..setting import Setting
from .estimators import L2, MAP, MLE, NotConverged, PriorMAP, solve_theta
from . import collapse
from .book import Book, block_size, first_times, mean_var, mean_var_rows
from .lattice import TABLE_POINT_COST, TABLE_SPREAD, LatticeChains, lattice_law
from .segment import SegmentChains, segment_law
from .operated import Operated
from .model import (SYMBOLIC_LEVELS, SYMBOLIC_LEVELS_MANY, SYMBOLIC_MAX_D, NumericFamily,
                    minimal_face, numeric_family, rows_all)
from .sampling import (HYPERGEOMETRIC_MAX, SMALLEST_NORMAL, binomial_p, binomial_sum, binomial_support,
                       canonical, canonical_normal, draw_counts, draw_exact, draw_levels, draw_naive,
                       draw_points, draw_points_naive, level_counts, pvals, subsample_counts,
                       subsample_naive, subsample_sums)
from .shared import bound
from .state import State, gather_pays

BLOCK_MIN = 4        # generations a block of the general path holds at least, else one (see _Chains)
CHAIN_BLOCK = 2**18  # chains advanced at once; above every quick budget, so quick results do not move
BLOCK_BYTES = 2**30  # ... unless their temporaries would pass this (large finite spaces)
M_MAX = 2**53        # beyond it sums of M points are no longer exact in float64
TINY = float(np.finfo(float).tiny)  # the smallest normal float


@functools.lru_cache(maxsize=1)
def blas_controller(modules: int):
    """threadpoolctl's view of the BLAS libraries loaded, made again only when ``modules`` (the
    number of imported modules: a BLAS usually arrives with the extension module that links it)
    changes: finding and opening the libraries took 0.7 ms on every ``run``, 99 % of entering the
    limit. A BLAS loaded otherwise (ctypes, lazily by a module already imported) is missed until
    the next import: it then runs with its own threads, which costs time, never numbers."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@dataclass
class ClosedLoop:
    """The closed loop of a declared :class:`~theory.setting.Setting`, with M points and a start.

    Each generation draws M − M0 points from the current model and M0 anchors from the
    truth (the SPEC's convention), plus, on top of the M, the setting's fresh points from
    the truth and its fixed data points (the same every generation), the paper's setting.
    A prior makes the refit a MAP with the prior entering once per generation. The
    setting's regime sets M_t (M_1 = M) and which points a refit sees (see the module
    docstring); ``sampler="naive"`` draws every point, and keeps every pool point. ``init`` is
    a point by name, natural or conventional (``{"p": 0.3}``). A family alone is the pure
    loop, ``Setting(family)``. ``start_law``: where the chains start when :meth:`run` is given
    no ``start`` (None: every chain at ``init``); a callable ``(loop, rng, chains) -> θ``
    of shape (C, d), called with the run's generator, with a ``label`` the summary records
    (``theory.laws.StartLaw``).
    """

    setting: Setting
    M: int
    init: Mapping[str, float]
    sampler: str = "exact"
    start_law: Callable | None = None

    def __post_init__(self):
        if isinstance(self.setting, ExponentialFamily | FamilyTwin):
            self.setting = Setting(self.setting)
        if not isinstance(self.setting, Setting):
            raise InputError(f"a closed loop needs a Setting or a family, got {type(self.setting).__name__}")
        self.M = integer(self.M, "M", 1, M_MAX)  # M_MAX = 2**53
        if not self.M0 <= self.M:
            raise InputError(f"anchors M0 must be an integer with 0 <= M0 <= M={self.M}, got {self.M0}")
        if self.M0 > 0 and self.truth is None:
            raise InputError("anchors (M0 > 0) need a ground truth (--truth)")
        if self.external > 0 and self.truth is None:
            raise InputError("fresh external points (--external) need a ground truth (--truth)")
        self.regime.check_start(self.M)
        if self.sampler not in ("exact", "naive"):
            raise InputError(f"unknown sampler {self.sampler!r}; known: exact, naive")
        # conventional names are accepted as by the CLI (p=0.3): stored as natural parameters
        if set(self.init) != set(self.family.names):
            self.init = self.family.natural_point(self.init)
        self.numeric: NumericFamily = numeric_family(self.family)
        self._draw = draw_exact if self.sampler == "exact" else draw_naive
        self.theta0 = self._vector(self.init)  # (1, d) natural parameters of the start
        self.operated = None if self.operator.identity else Operated(self.numeric, self.operator)
        if self.operated is not None and not self.numeric.finite and self.operator.temperature is not None \
                and self.numeric.theta_closed_form(self.numeric.mu(self.theta0)) is None:
            raise InputError(f"--temperature on {self.family.title} needs its inverse mean map in "
                             "closed form (the tempered model is drawn at θ(μ)/T)")
        self.theta_star = None if self.truth is None else self._vector(self.truth)  # (1, d) or None
        self._data, self.data_counts = self._resolve_data()
        self.n_total = self.sample_size(1)  # points of generation 1's refit (of every one at constant M)
        if self.n_total > M_MAX:
            raise InputError(f"M + external points = {self.n_total} is more than 2**53: sums of that many "
                             "points are no longer exact in float64")
        self.estimator = self.setting.estimator
        if self.prior is not None:
            self.estimator = PriorMAP(self.setting.log_prior, self.family.names, self.prior.label)
            self._map_mu = _closed_form_map(self.family, self.prior) \
                if not self.numeric.finite else None
        # the pure MLE loop cannot leave a point mass: absorbed chains are frozen
        # (fixed data all at one point: only that point can be reached, and it absorbs);
        # accumulate's pool then lies on it too; subsample's pool may hold other points
        self.absorbing = (self.M0 == 0 and self.external == 0 and len(set(self.data)) <= 1
                          and isinstance(self.estimator, MLE) and self.regime.kind != "subsample")
        if not self.numeric.symbolic:  # refuse a large family needing symbolic work up front
            conventional_in_mu(self.family)
        self._check_representable(self.theta0, "--init", self.M - self.M0)
        if self.theta_star is not None:
            self._check_representable(self.theta_star, "--truth", self.M0 + self.external)
        self._check_data_drawable()

    def __reduce__(self):
        """Pickle the declaration only: the worker rebuilds the numeric view and compiled refits.

        Compiled SymPy functions (a prior's lambdified penalty, a closed-form MAP) do not
        pickle; rebuilding from the constructor arguments gives the same loop.
        """
        return (ClosedLoop, (self.setting, self.M, dict(self.init), self.sampler, self.start_law))

    # -- the declared setting, read ---------------------------------------------------------------
    @property
    def family(self) -> ExponentialFamily:
        return self.setting.family

    @property
    def M0(self) -> int:
        """Anchors: of the M points, drawn from the truth."""
        return int(self.setting.anchors)

    @functools.cached_property
    def truth(self) -> dict[str, float] | None:
        return self.setting.truth_point

    @property
    def external(self) -> int:
        """Fresh external points from the truth, on top of the M."""
        return int(self.setting.fresh)

    @functools.cached_property  # read every generation
    def data(self) -> tuple[tuple[float, ...], ...]:
        """φ of the fixed external points, as floats."""
        return tuple(tuple(float(v) for v in p) for p in self.setting.data)

    @property
    def prior(self):
        return self.setting.prior

    @property
    def operator(self):
        """The sampling operator the model's points are drawn through (theory.operator)."""
        return self.setting.operator

    @property
    def regime(self) -> Regime:
        """Which points a refit sees (replace, accumulate, subsample) and M_t (theory.regime)."""
        return self.setting.regime

    def model_draws(self, t: int) -> int:
        """M_t − M0: the points generation t draws from each chain's model (the M0 anchors of
        the M_t come from the truth)."""
        return self.regime.model_points(t, self.M) - self.M0

    def sample_size(self, t: int) -> int:
        """n_t = M_t + m_fresh + |data|: the points generation t adds (and subsample refits on)."""
        return self.regime.model_points(t, self.M) + self.external + len(self.data)

    def pool_size(self, t: int) -> int:
        """N_t = Σ_{k≤t} n_k: the points of a pool after generation t (accumulate, subsample)."""
        if self.regime.schedule is None:
            return t * self.n_total
        sizes = self._pool_sizes
        while len(sizes) <= t:
            sizes.append(sizes[-1] + self.sample_size(len(sizes)))
        return sizes[t]

    @functools.cached_property
    def _pool_sizes(self) -> list[int]:
        return [0]

    def refit_size(self, t: int) -> int:
        """n of generation t's refit: N_t under accumulate, else n_t (the target is Σφ/n)."""
        if self.regime.schedule is None:  # (read every generation) n_t = n_1, N_t = t n_1
            return self.n_total * t if self.regime.kind == "accumulate" else self.n_total
        return self.pool_size(t) if self.regime.kind == "accumulate" else self.sample_size(t)

    def largest_sample(self, generations: int) -> int:
        """max_{t≤T} n_t (a list schedule need not grow)."""
        schedule = self.regime.schedule
        if schedule is None:
            return self.n_total
        M = max(schedule.values[:generations]) if schedule.kind == "list" else schedule.size(generations)
        return int(M) + self.external + len(self.data)

    @property
    def keeps_points(self) -> bool:
        """Whether each chain's pool keeps its points (not only their Σφ and level counts): the
        naive sampler's pools, and subsample on an infinite space (no statistic of the pool
        gives the law of a subsample's Σφ there)."""
        return self.regime.pooled and (self.sampler == "naive" or
                                       (self.regime.kind == "subsample" and not self.numeric.finite))

    def check_generations(self, generations: int) -> None:
        """Refuse up front a run the engine cannot carry to ``generations``: sizes beyond a list
        schedule, fewer model points than anchors, refits or pools of more than 2**53 points,
        pools too large for numpy's hypergeometric draw (subsample, finite space), a start at
        which M_t points cannot be drawn."""
        regime = self.regime
        if regime.schedule is not None:
            sizes = regime.schedule.sizes(generations)
            if sizes.min() < self.M0:
                raise InputError(f"M schedule {regime.schedule.label}: a generation draws "
                                 f"{sizes.min()} points, fewer than the {self.M0} anchors")
            if self.largest_sample(generations) > M_MAX:
                raise InputError(f"M schedule {regime.schedule.label}: a generation of more than "
                                 "2**53 points is no longer summed exactly in float64")
            self._check_representable(self.theta0, "--init", int(sizes.max()) - self.M0)
        if not regime.pooled:
            return
        N = self.pool_size(generations)
        if N > M_MAX:
            raise InputError(f"the {regime.kind} pool of generation {generations} holds {N} points, "
                             "more than 2**53 (no longer summed exactly in float64); run fewer generations")
        if regime.kind == "subsample" and self.numeric.finite and not self.keeps_points \
                and N >= HYPERGEOMETRIC_MAX:
            raise InputError(f"the subsample pool of generation {generations} holds {N} points; the "
                             f"hypergeometric draw takes fewer than {HYPERGEOMETRIC_MAX:.0e}: run fewer generations")

    def _resolve_data(self):
        """Σφ of the fixed data and, for finite spaces, their level counts."""
        d = self.family.d
        pts = np.array(self.data, dtype=float).reshape(-1, d)
        if not self.numeric.finite or not len(pts):
            return pts.sum(axis=0), None
        levels = self.numeric.phi_levels
        counts = np.zeros(len(levels), int)
        for p in pts:
            hit = np.flatnonzero(np.all(np.abs(levels - p) <= 1e-9 * (1 + np.abs(p)), axis=1))
            if not len(hit):
                raise InputError(f"external data {p.tolist()} is not a data point of {self.family.title}")
            counts[hit[0]] += 1
        return pts.sum(axis=0), counts

    def _check_representable(self, theta: np.ndarray, what: str, m: int) -> None:
        """Refuse a model float64 cannot carry, before any computing: θ·φ(s) overflowing,
        a non-finite or subnormal mean or covariance, a model that is already numerically a
        point mass (e.g. a variance below the relative resolution of mean² + var), or one
        whose m-point sample cannot be drawn (Poisson: m·rate above numpy's limit)."""
        nf = self.numeric
        point = ",".join(f"{n}={v:g}" for n, v in zip(self.family.names, theta[0], strict=True))
        where = f"{what} (natural {point}, {self.family.title})"
        face = np.ones((1, len(nf.levels)), bool) if nf.finite else None
        with np.errstate(all="ignore"):
            if nf.finite and not np.all(np.isfinite(nf.logits(theta))):
                raise InputError(f"{where}: theta.phi(s) overflows float64; use smaller |theta|")
            mu, chi = nf.mu(theta, face), nf.chi(theta, face)
            if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(chi))):
                raise InputError(f"{where}: its mean or covariance is not finite in float64")
            if np.any((mu != 0) & (np.abs(mu) < np.finfo(float).tiny)):
                raise InputError(f"{where}: its mean underflows float64")
            on_face = nf.finite and np.count_nonzero(nf.level_probabilities(theta, face)) == 1
            if on_face or (not nf.finite and nf.vertex_index(mu)[0] >= 0):
                raise InputError(f"{where}: numerically a point mass in float64 (its spread is "
                                 "below the resolution of its mean); choose a wider model")
            if m:
                try:
                    sums, _ = draw_exact(nf, theta, mu, face, m, np.random.default_rng(0))
                except (ValueError, OverflowError) as e:
                    raise InputError(f"{where}: cannot draw {m} points ({e})") from None
                if not np.all(np.isfinite(sums)):
                    raise InputError(f"{where}: the sum of {m} points overflows float64")

    def _check_data_drawable(self) -> None:
        """Refuse a fixed data point at whose mean the n points of a refit cannot be drawn
        (Poisson: n·rate above numpy's limit): the loop pulls a chain's mean towards it."""
        if self.numeric.finite:
            return
        for p in self.data:
            shown = ",".join(f"phi{a + 1}={v:g}" for a, v in enumerate(p))
            try:
                with np.errstate(all="ignore"):
                    sums, _ = draw_exact(self.numeric, None, np.array([p]), None, self.n_total,
                                         np.random.default_rng(0))
            except (ValueError, OverflowError) as e:
                raise InputError(f"external data {shown}: a model at this mean cannot draw "
                                 f"{self.n_total} points ({e})") from None
            if np.isinf(sums).any():
                raise InputError(f"external data {shown}: the sum of {self.n_total} points at this "
                                 "mean overflows float64")

    def memory_bytes(self, chains: int, generations: int = 1) -> tuple[int, int]:
        """Rough peak memory of a run of ``generations``: (bytes, chains per block), kept state
        plus block temporaries. A pool that keeps its points costs N_T of them per chain
        (φ in float64, or a level in int32), and a subsample of it N_T keys and indices."""
        nf, d = self.numeric, self.family.d
        L = len(nf.levels) if nf.finite else 1
        kept = 8 * (4 * d + 4 + 2 * len(self.family.conventional)) + L  # μ, θ, face, observables
        temp = 8 * (12 * L + 6 * d * d + 8 * d)  # logits, probabilities, counts, Newton
        if nf.finite:
            temp += 4 * len(nf.facets) * L  # minimal_face: (chains, facets, levels) masks
        n = self.largest_sample(generations)
        if self.sampler == "naive":
            temp += (16 + L) * self.operator.drawn(n) if nf.finite else 8 * d
        if self.operator.select is not None and not nf.finite:  # the drawn points, their keys and order
            temp += 8 * (d + 3) * self.operator.drawn(n)
        if self.regime.pooled:
            kept += 8 * d + (8 * L if nf.finite else 0)  # the pool's Σφ and level counts
            if self.keeps_points:
                N = self.pool_size(generations)
                kept += (4 if nf.finite else 8 * d) * N
                temp += 16 * N + 8 * (d + 1) * n  # keys or permutation and indices, new points
        block = int(min(CHAIN_BLOCK, max(1, BLOCK_BYTES // temp)))
        return chains * kept + min(chains, block) * temp, block

    def _vector(self, point: Mapping[str, float]) -> np.ndarray:
        missing = [n for n in self.family.names if n not in point]
        if missing:
            raise InputError(f"{self.family.name} needs natural parameter(s) {', '.join(missing)}")
        return np.array([[float(point[n]) for n in self.family.names]])

    @property
    def truth_mu(self) -> np.ndarray | None:
        """μ(θ*) of the ground truth, shape (d,)."""
        return None if self.theta_star is None else self.numeric.mu(self.theta_star)[0]

    @property
    def init_mu(self) -> np.ndarray:
        return self.numeric.mu(self.theta0)[0]

    # -- dynamics -------------------------------------------------------------------------------
    def initial_state(self, chains: int, start: np.ndarray | None = None) -> State:
        """Every chain at θ0, or chain i at ``start[i]`` (natural parameters, shape (C, d))."""
        nf = self.numeric
        if start is None:  # one model: its mean once, not once per chain
            theta = np.repeat(self.theta0, chains, axis=0)
            mu = np.repeat(nf.mu(self.theta0), chains, axis=0)
        else:
            theta = np.array(start, dtype=float).reshape(chains, self.family.d)
            mu = nf.mu(theta)
        face = np.ones((chains, len(nf.levels)), bool) if nf.finite else None
        state = State(mu=mu, theta=theta, face=face, vertex=np.full(chains, -1), hit_time=np.full(chains, -1),
                      collapse_time=np.full(chains, -1))
        if self.regime.pooled:  # an empty pool
            state.pool_sums = np.zeros((chains, self.family.d))
            state.pool_counts = np.zeros((chains, len(nf.levels)), np.int64) if nf.finite else None
            if self.keeps_points:
                state.pool_points = np.zeros((chains, 0) if nf.finite else (chains, 0, self.family.d),
                                             np.int32 if nf.finite else float)
        return state

    def reserve_pool(self, state: State, size: int) -> None:
        """Room for ``size`` points in each chain's kept pool (grown once, the filled part copied)."""
        points = state.pool_points
        if points is None or points.shape[1] >= size:
            return
        grown = np.zeros((points.shape[0], size) + points.shape[2:], points.dtype)
        grown[:, :state.pool_size] = points[:, :state.pool_size]
        state.pool_points = grown

    def step(self, state: State, t: int, rng: np.random.Generator) -> None:
        """Advance every (non-absorbed) chain by one generation, in place; ``t`` is the new time;
        record the chains that collapsed now (``state.collapse_time``).

        Absorbed chains (the pure loop on a point mass) do not move. The simplex step
        (:meth:`_advance_simplex`) leaves them where they are by itself (a point mass redraws
        itself) and advances every chain. Otherwise every chain is advanced through slices
        (views: no gather and scatter of the state) and the absorbed ones' rows are put back,
        unless the live chains are few enough to pay for a gather (:func:`.state.gather_pays`:
        fewer than half): then they alone are gathered, advanced and scattered back."""
        self._step(state, t, rng)
        if self._simplex:
            self._complete_simplex(state, t)
        if self.collapsible:
            self._record_collapses(state, t)

    def _step(self, state: State, t: int, rng: np.random.Generator) -> None:
        """:meth:`step` without its collapse bookkeeping (a run classifies a block of generations
        at once), and on the simplex step without θ, the point masses and their hitting times
        (:meth:`_complete_simplex`: a run makes them a block at a time)."""
        idx, frozen = None, None
        if self.regime.pooled:  # grown before the absorbed chains' rows are kept below
            self.reserve_pool(state, self.pool_size(t))
        if self.absorbing and not self._simplex:
            absorbed = state.vertex >= 0
            count = np.count_nonzero(absorbed)
            if gather_pays(len(absorbed) - count, len(absorbed)):
                idx = np.flatnonzero(~absorbed)
            elif count:  # their rows, put back below (not a copy of every array)
                rows = np.flatnonzero(absorbed)
                frozen = rows, [(v, v[rows]) for v in vars(state).values() if isinstance(v, np.ndarray)]
        n = len(state.mu) if idx is None else len(idx)
        # blocks bound the (chains × levels) temporaries of draws and Newton refits: 4·10⁶
        # Curie–Weiss chains at once took 10 GB
        block = self._chain_block(t)
        for start in range(0, n, block):
            part = slice(start, start + block) if idx is None else idx[start:start + block]
            try:
                self._advance(state, part, t, rng)
            except NotConverged as e:
                raise self.not_converged(e, t, len(state.mu)) from None
        if self.regime.pooled:
            state.pool_size = self.pool_size(t)
        if frozen is not None:
            rows, kept = frozen
            for array, values in kept:
                array[rows] = values

    def _chain_block(self, t: int) -> int:
        """Chains advanced at once in generation t (:meth:`memory_bytes`); the same every
        generation unless the sample or a pool of kept points grows."""
        if self.keeps_points or self.regime.schedule is not None:  # (the rest of a pool is a few numbers)
            return self.memory_bytes(1, t)[1]
        return self._constant_chain_block

    @functools.cached_property
    def _constant_chain_block(self) -> int:
        return self.memory_bytes(1, 1)[1]

    @functools.cached_property
    def collapsible(self) -> bool:
        """Whether a chain can collapse: no fresh points from the truth (engine.collapse)."""
        return collapse.collapsible(self)

    @functools.cached_property
    def reference_spread(self) -> float:
        """tr χ of the reference model (the truth if there is one, else the start): the scale
        an infinite family's collapse is measured against (engine.collapse)."""
        theta = self.theta_star if self.theta_star is not None else self.theta0
        return float(np.trace(self.numeric.chi(theta)[0]))

    def _record_collapses(self, state: State, t: int) -> None:
        """First generation collapsed, for the chains that collapsed now."""
        times = state.collapse_time
        todo = np.flatnonzero(times < 0)
        if gather_pays(len(todo), len(times)):
            if len(todo):
                times[todo[collapse.classify(self, state.subset(todo)) > 0]] = t
        else:  # every chain classified, those collapsed before keep their time
            times[(collapse.classify(self, state) > 0) & (times < 0)] = t

    def not_converged(self, e: NotConverged, t: int, chains: int) -> SettingError:
        return SettingError(
            f"{e} at generation {t} ({self.family.title}, M={self.M}, M0={self.M0}, "
            f"{self.estimator.name}, {chains} chains); try another --seed or "
            "a start further from the boundary")

    def _advance(self, state: State, idx: np.ndarray | slice, t: int, rng: np.random.Generator) -> None:
        """Generation t of the chains ``idx``: draw, add to the pool (accumulate, subsample), refit."""
        nf, kind = self.numeric, self.regime.kind
        if self._segment is not None and self._advance_segment(state, idx, t, rng):
            return
        if self._simplex:
            self._advance_simplex(state, idx, t, rng)
            return
        face = None if state.face is None else state.face[idx]
        if self.keeps_points:
            sums, counts = self._from_points(state, idx, face, t, rng)
        else:  # (subsample, on a finite space: level counts, the pool's give the subsample's law)
            draw = self._draw_counts if kind == "subsample" else self._draw_generation
            sums, counts = self._refit_sample(state, idx, *draw(state, idx, face, t, rng), t, rng)
        n = self.refit_size(t)
        if nf.finite:
            theta, mu, new_face, vertex = self._refit_finite(sums, counts, state.theta[idx], n, state.kept)
            state.face[idx] = new_face
            state.theta[idx] = theta
        else:
            theta, mu, vertex = self._refit_infinite(sums, state.theta[idx], n)
            if theta is not None:
                state.theta[idx] = theta
        state.mu[idx] = mu
        if vertex is None:  # no point mass within reach
            state.vertex[idx] = -1
            return
        state.vertex[idx] = vertex
        on = vertex >= 0
        if np.count_nonzero(on):
            first = on & (state.hit_time[idx] < 0)
            if np.count_nonzero(first):
                state.hit_time[np.arange(len(state.mu))[idx][first]] = t

    @functools.cached_property
    def _segment(self) -> tuple | None:
        """The binomial sum law (:func:`.sampling.binomial_sum`) when a generation can take
        :meth:`_advance_segment`: :attr:`binomial_sum_law` under replace or accumulate; else None."""
        return None if self.regime.kind == "subsample" else self.binomial_sum_law

    @functools.cached_property
    def binomial_sum_law(self) -> tuple | None:
        """The binomial sum law (:func:`.sampling.binomial_sum`) of a one-statistic finite family
        whose draws are one binomial, the exact sampler, no operator, the MLE with a closed-form
        inverse mean map, no fixed data (engine.segment); else None."""
        nf = self.numeric
        if self.sampler != "exact" or not nf.finite or nf.d != 1 or not self.operator.identity \
                or type(self.estimator) is not MLE or len(self.data) \
                or not nf.symbolic or nf.forms.get("mu_inverse") is None:
            return None
        law = binomial_sum(nf)
        if law is None or len(nf.facets) != 2 or nf.facets[0].sum() != 1 or nf.facets[1].sum() != 1 \
                or (self.truth is not None and self.truth_law[0] is None):
            return None
        return law

    @functools.cached_property
    def segment_faces(self) -> np.ndarray:
        """The faces of the segment as level masks (3, L): the whole, its lower end, its upper end."""
        L = len(self.numeric.levels)
        return np.array([[True] * L, [True] + [False] * (L - 1), [False] * (L - 1) + [True]])

    def _advance_segment(self, state, idx, t, rng):
        """Generation t of a :attr:`_segment` family: what the general path computes, from its
        numbers alone. A sample's Σφ is m φ(s0) + K Δφ with K ~ Binomial(n m, p); its support
        (all the MLE's face reads) is level 0 iff K < n m and level n iff K > 0, so a face is the
        whole segment or one of its ends, and θ' is the closed-form inverse mean map inside and
        the previous θ on an end (the general path's refit_theta). The same draws in the same
        order, the same numbers (each pass below is the general path's operation on the same
        values, rearranged only where IEEE arithmetic is exact: −(r + x) = −x − r); False
        (nothing done) where a probability is not finite, for the general path to handle."""
        nf = self.numeric
        levels, r, neg_step, _, _ = self._segment_numbers
        face, theta_prev = state.face[idx], state.theta[idx]
        everywhere = face.all()  # every chain on the whole segment (no end)
        with np.errstate(over="ignore", invalid="ignore"):
            # p = 1 / (1 + e^{−(r + θ·Δφ)}), in place
            z = theta_prev[:, 0] * neg_step
            if r:
                z -= r
            np.exp(z, out=z)
            z += 1.0
            p = np.divide(1.0, z, out=z)
            if not everywhere:
                lower, upper = face[:, 0], face[:, -1]
                p = np.where(lower & upper, p, np.where(upper, 1.0, 0.0))
            smallest = p.min()  # NaN if any p is
            if math.isnan(smallest):
                return False
            p = canonical(p) if smallest < SMALLEST_NORMAL else canonical_normal(p)
            m = self.model_draws(t)
            trials = levels * m
            K = rng.binomial(trials, p)
            draws = [(K, trials)]  # a sample holds the lower end iff K < trials, the upper iff K > 0
            sums = self._segment_sums(K, m)
            fresh = self.M0 + self.external
            if fresh:
                _, p_star = self.truth_law
                K = rng.binomial(levels * fresh, p_star, size=len(K))
                draws.append((K, levels * fresh))
                sums += self._segment_sums(K, fresh)
            if self.regime.kind == "accumulate":  # the pool's Σφ and the levels it holds
                pool = state.pool_sums[idx, 0]
                pool += sums
                sums = pool
                counts = state.pool_counts[idx]
                for K, trials in draws:
                    counts[:, 0] += K < trials
                    counts[:, -1] += K > 0
                if not isinstance(idx, slice):  # a gather: put back
                    state.pool_sums[idx, 0], state.pool_counts[idx] = pool, counts
                # a pool on one end: none of the other end's level (one min over both, masks if so)
                ends = counts[:, ::counts.shape[1] - 1].min() == 0
                if ends:
                    at_low, at_high = counts[:, -1] == 0, counts[:, 0] == 0
            else:  # the sample on one end: every K is 0, or every K is its number of trials
                ends = len(draws) > 1 or K.min() == 0 or K.max() == trials
                if ends:
                    at_low, at_high = draws[0][0] == 0, draws[0][0] == draws[0][1]
                    for K, trials in draws[1:]:
                        at_low, at_high = at_low & (K == 0), at_high & (K == trials)
            tau = sums / self.refit_size(t)
            closed = nf.theta_closed_form(tau[:, None])
            if not ends:
                theta = closed
                if not everywhere:  # (no end now: the faces below become the whole segment)
                    at_low = at_high = np.zeros(len(tau), bool)
            else:
                theta = np.where((at_low | at_high)[:, None], theta_prev, closed)
            if not math.isfinite(theta.sum()):  # not finite inside: the general refit (Newton)
                bad = np.flatnonzero(~(at_low | at_high) & ~rows_all(np.isfinite(closed)))
                whole = np.ones((len(bad), face.shape[1]), bool)
                theta[bad] = self.refit_theta(tau[bad, None], theta_prev[bad], whole, 0.0)
        state.theta[idx] = theta
        state.mu[idx, 0] = tau
        if ends or not everywhere:
            code = np.where(at_low, 1, np.where(at_high, 2, 0))
            changed = np.flatnonzero((code > 0) | ~(face[:, 0] & face[:, -1]))
            rows = np.arange(len(state.mu))[idx][changed]
            state.face[rows] = self.segment_faces[code[changed]]
            vertex = np.where(at_low, nf.level_vertex(0), np.where(at_high, nf.level_vertex(levels), -1))
            state.vertex[idx] = vertex
            first = (vertex >= 0) & (state.hit_time[idx] < 0)
            if np.count_nonzero(first):
                state.hit_time[np.arange(len(state.mu))[idx][first]] = t
        else:
            state.vertex[idx] = -1
        return True

    @functools.cached_property
    def _segment_numbers(self) -> tuple:
        """(n, r, −Δφ, φ(s0), whether Δφ = 1) of :attr:`_segment`, as the step reads them (scalars)."""
        levels, r, phi0, step = self._segment
        return levels, r, -float(step[0]), float(phi0[0]), float(step[0]) == 1.0

    def _segment_sums(self, K, m):
        """Σφ = m φ(s0) + K Δφ of m draws with binomial count K, shape (C,): the general path's
        two products and sum, the sum skipped when m φ(s0) is +0 and K Δφ ≥ 0 (x + 0 = x then)."""
        _, _, neg_step, phi0, unit = self._segment_numbers
        sums = K.astype(float) if unit else K * -neg_step
        offset = m * phi0
        if offset != 0.0 or np.signbit(offset) or not -neg_step > 0:
            sums = offset + sums
        return sums

    @functools.cached_property
    def _sum_step_applies(self) -> bool:
        """Whether every generation can take :meth:`_sum_step`: an infinite family, the exact
        sampler, no operator, the MLE, replace or accumulate at a constant M."""
        return (not self.numeric.finite and self.sampler == "exact" and self.operator.identity
                and type(self.estimator) is MLE and self.regime.kind in ("replace", "accumulate")
                and self.regime.schedule is None and not self.keeps_points)

    def _sum_step(self, state: State, defer_marks: bool = False, kernels: bool = True) -> Callable | None:
        """``step(state, t, rng)``: generation t of every chain of an infinite family, the general
        path's numbers (:meth:`_step`, :meth:`_advance`) in fewer calls; built once per run for
        ``state``. None where :attr:`_sum_step_applies` does not hold or the chains are more than
        one block (:meth:`_chain_block`).

        The recursion: Σφ ~ the family's sum of m = M − M0 draws at μ, plus M0 + m_fresh draws
        at the truth and the fixed data; under accumulate Σφ joins the pool's; μ' = Σφ/n_t (N_t
        under accumulate), raised to the end of the mean domain (rounding below it) and put on
        the point-mass curve where it is numerically there (Gaussian var 0); a chain on an
        attained point mass (Poisson rate 0) records its first hitting time. Absorbed chains
        (the pure loop on a point mass) are handled as by :meth:`_step` (every chain drawn and
        they keep their state, or the others alone gathered: :func:`.state.gather_pays`). The
        same draws in the same order, the same operations on the same values: bit for bit the
        general path's states. What it saves is calls: the regime, sizes and family read once,
        and the absorbed chains counted from the chains that hit a point mass instead of over
        every chain each generation. Where there is nothing to settle or mark (no point mass
        within reach: the exponential) and no other points, :meth:`_draw_refit_step` is it.

        ``defer_marks``: where absorbed chains are fixed points of the step (``fixed`` below), the
        caller may make the point masses and hitting times from the μ of a block of generations
        (``_Chains``): the step then leaves them alone (``step.marks_deferred``). ``kernels``: False
        never to return the accumulate kernel (:meth:`_pool_step`): what it hands its chains to
        once one is on a point mass (the replace kernels do not apply then either)."""
        nf = self.numeric
        if not self._sum_step_applies or len(state.mu) > self._constant_chain_block:
            return None
        declared, m, n1 = self.family.sum_sampler, self.model_draws(1), self.n_total
        sampler = getattr(declared, "in_domain", declared)  # (μ in the mean domain: no check needed)
        fresh = self.M0 + self.external
        truth, data = self.truth_mu, (self._data if len(self.data) else None)
        accumulate, reaches, mle_mean = self.regime.kind == "accumulate", nf.reaches_point_mass, self._mle_mean
        absorbing = self.absorbing and reaches
        mle = getattr(declared, "mle", None)
        if not fresh and data is None and m == n1 and absorbing:
            if mle is not None and not accumulate:
                return self._mle_step(state, mle, m)
            columns = getattr(declared, "columns", None)
            if columns is not None and accumulate and kernels and not np.count_nonzero(state.vertex >= 0):
                return self._pool_step(state, columns, m, defer_marks)
        # a mean floor of 0 never binds: Σφ of points of the space (φ ≥ 0) over n > 0 is ≥ +0
        settle = mle_mean if nf.continuum or nf.mean_floor not in (None, 0.0) else None
        if not reaches and settle is None and not fresh and data is None and m:
            return self._draw_refit_step(sampler, m, n1, accumulate)
        C = len(state.mu)
        # run-local: chains on a point mass now (absorbing: never leave; else: rewritten each generation)
        held = [int(np.count_nonzero(state.vertex >= 0))]
        # a point mass the sampler redraws exactly, drawing no random numbers (Poisson at rate 0:
        # sums 0, μ' = 0, the pool's sum unchanged): absorbed chains are stepped in place with
        # the others, the same states and stream as keeping or gathering them
        fixed = absorbing and getattr(declared, "redraws_point_mass", False)
        track = not (fixed and defer_marks)  # the point masses found each generation
        # the point masses are the continuum's curve alone (Gaussian): those the settling found
        curve_only = bool(nf.continuum) and not any(nf.attainable)

        def refit(mu, pool, n, rng, out=None):
            """(μ', on a point mass, how many) of the chains at ``mu``; ``pool`` their pool sums;
            μ' is written into ``out`` if given (it may be ``mu``: read before)."""
            sums = sampler(rng, mu, m) if m else np.zeros_like(mu)
            if fresh:  # the truth's law, each chain's row drawn from it (_draw_truth)
                sums = sums + np.asarray(sampler(rng, np.broadcast_to(truth, mu.shape), fresh), dtype=float)
            if data is not None:
                sums = sums + data
            if pool is not None:
                pool += sums
                sums = pool
            tau = np.divide(sums, n, out=out)
            tau, on_curve = (tau, None) if settle is None else settle(tau)
            if not reaches or not track:
                return tau, None, 0
            hit = on_curve if curve_only else nf.on_point_mass(tau, on_curve)
            return tau, (hit, on_curve), int(np.count_nonzero(hit))

        def marks(state, tau, found, t, sel=None, rows=None):
            """Point masses and first hitting times of the refitted chains ``sel`` of ``tau`` (all:
            None), which are the chains ``rows`` of the state (all: None)."""
            hit, on_curve = found
            if sel is not None:
                tau, hit, on_curve = tau[sel], hit[sel], None if on_curve is None else on_curve[sel]
            vertex = nf.vertex_index(tau, on_curve=on_curve)
            if rows is None:
                state.vertex[...] = vertex
                first = hit & (state.hit_time < 0)
                state.hit_time[first] = t
            else:
                state.vertex[rows] = vertex
                first = hit & (state.hit_time[rows] < 0)
                state.hit_time[rows[first]] = t

        def step(state, t, rng, out=None):
            """Generation t; μ' is written into ``out`` (a block buffer's row), which becomes the
            state's μ, if given, else into the state's μ."""
            n = n1 * t if accumulate else n1
            if accumulate:
                state.pool_size = n
            k = held[0]
            if fixed or not absorbing or not k:  # every chain, from the state's μ into ``target``
                pool = state.pool_sums if accumulate else None
                target = state.mu if out is None else out
                tau, found, count = refit(state.mu, pool, n, rng, out=target)
                if tau is not target:  # (put on the point-mass curve: a new array)
                    target[...] = tau
                state.mu = target
                if fixed:  # the held ones among those found (absorbing)
                    if count > k:
                        marks(state, tau, found, t)
                        held[0] = count
                elif count:
                    marks(state, tau, found, t)
                elif k:  # (not absorbing) the chains that were on a point mass left it
                    state.vertex.fill(-1)
                if not fixed:
                    held[0] = count if not absorbing else k + count
                return
            if out is not None:  # (the absorbed chains' μ kept: the others updated in place below)
                out[...] = state.mu
                state.mu = out
            if not gather_pays(C - k, C):  # every chain drawn, the absorbed ones keep their state
                live = state.vertex < 0
                pool = state.pool_sums.copy() if accumulate else None
                tau, found, count = refit(state.mu, pool, n, rng)
                np.copyto(state.mu, tau, where=live[:, None])
                if accumulate:
                    np.copyto(state.pool_sums, pool, where=live[:, None])
                if count:
                    rows = np.flatnonzero(found[0] & live)
                    if len(rows):
                        marks(state, tau, found, t, rows, rows)
                        held[0] = k + len(rows)
            elif k < C:  # the others alone, gathered and scattered back
                rows = np.flatnonzero(state.vertex < 0)
                pool = state.pool_sums[rows] if accumulate else None
                tau, found, count = refit(state.mu[rows], pool, n, rng)
                state.mu[rows] = tau
                if accumulate:
                    state.pool_sums[rows] = pool
                if count:
                    on = np.flatnonzero(found[0])
                    marks(state, tau, found, t, on, rows[on])
                    held[0] = k + len(on)
        step.into_buffer = "rows"  # type: ignore[attr-defined]  # (μ' into a block's row: _Chains.step)
        step.marks_deferred = not track  # type: ignore[attr-defined]
        return step

    @staticmethod
    def _draw_refit_step(sampler, m: int, n: int, accumulate: bool) -> Callable:
        """``step(state, t, rng)`` of :meth:`_sum_step` where no point mass is within reach (the
        exponential: its end 0 is approached, never attained), the mean domain's floor does not
        bind and the model's m = n draws are the sample: Σφ ~ the family's sum of m draws at μ,
        added to the pool's under accumulate, and μ' = Σφ/n (the pool's Σφ/(n t)). Nothing to
        settle or mark: the draw and the refit alone, the same operations on the same values as
        the general sum step."""
        def step(state, t, rng, out=None):
            """Generation t; μ' is written into ``out`` (a block buffer's row), which becomes the
            state's μ, if given, else into the state's μ."""
            sums = sampler(rng, state.mu, m)
            if accumulate:
                state.pool_size = size = n * t
                pool = state.pool_sums
                pool += sums
                state.mu = np.divide(pool, size, out=state.mu if out is None else out)
            else:
                state.mu = np.divide(sums, n, out=state.mu if out is None else out)
        step.into_buffer = "rows"  # type: ignore[attr-defined]  # (μ' into a block's row: _Chains.step)
        step.marks_deferred = False  # type: ignore[attr-defined]
        return step

    def _mle_step(self, state: State, mle: Callable, m: int) -> Callable:
        """``step(state, t, rng)`` of the pure loop under replace where the family's sampler
        draws the MLE's (mean, var) itself (``sum_sampler.mle``: the Gaussian's mean + √(var/m)·z,
        var·χ²_{m−1}/m): the chains' (mean, var) are kept across generations and μ = (mean,
        mean² + var) made from them. A chain is on the point-mass curve where
        var ≤ POINT_MASS_RTOL·μ2 (:meth:`on_continuum`'s test, with the variance drawn rather than
        μ2 − μ1²): put on it (var = 0) and its first hitting time recorded. A point mass redraws
        itself, so absorbed chains are drawn with the others. The law of :meth:`_sum_step`'s
        sums divided by m, another random stream, in half its passes.

        The curve is looked for only where it may be hit: var ≤ rtol·(mean² + var) needs
        var·(1 − rtol) ≤ rtol·mean² ≤ rtol·Σ mean², so no chain is on it while
        :func:`off_the_curve` (var, Σ mean²): one minimum and one dot product a generation instead
        of the test's passes, the same chains found.

        With ``out`` (a block buffer's two (C,) column rows, :class:`_Chains`) the step writes the
        drawn (mean, var) there, the next generation drawing from them, and leaves μ2 to the
        block: ``step.finish_block(columns)`` turns a block's (mean, var) rows into μ's in place
        (μ2 = mean² + var, the same values as made each generation) and keeps the last
        generation's (mean, var) for the next draw."""
        nf = self.numeric
        mu1, mu2 = state.mu[:, 0], state.mu[:, 1]
        mean = mu1.copy()
        var = np.subtract(mu2, np.square(mean))
        var[state.vertex >= 0] = 0.0
        rtol, buf, second = nf.POINT_MASS_RTOL, np.empty(len(mean)), np.empty(len(mean))
        drawn = [mean, var]  # the (mean, var) the next generation draws from: these, or a block's rows
        dot = np.dot

        def on_curve(mean, var, second, t):
            """Put the chains newly on the curve there (var = 0) and mark them; ``second`` holds
            μ2 = mean² + var (written, then projected for those chains if it is μ's column)."""
            np.add(np.square(mean, out=buf), var, out=second)
            curve = np.less_equal(var, np.multiply(second, rtol, out=buf))
            if np.count_nonzero(curve):  # (the absorbed chains' var stays 0)
                new = np.flatnonzero(curve & (state.hit_time < 0))
                if len(new):
                    on = np.ones(len(new), bool)
                    var[new] = 0.0
                    at = nf.project_to_continuum(np.column_stack((mean[new], second[new])), on)
                    second[new] = at[:, 1]
                    state.vertex[new] = nf.vertex_index(at, on_curve=on)
                    state.hit_time[new] = t

        def step(state, t, rng, out=None):
            """Generation t: (mean, var) into ``out`` if given (μ then made by ``finish_block``),
            else μ into the state's."""
            if out is None:
                mle(rng, mean, var, m)
                mu1[...] = mean
                on_curve(mean, var, mu2, t)
                return
            mle(rng, drawn[0], drawn[1], m, out)
            new_mean, new_var = drawn[:] = out
            if not off_the_curve(new_var, dot(new_mean, new_mean), rtol):
                on_curve(new_mean, new_var, second, t)

        def finish_block(columns):
            """A block's (mean, var) rows (2, n, C) → its μ rows, in place; the last generation's
            (mean, var) kept for the next draw."""
            mean[...], var[...] = columns[:, -1]
            drawn[:] = mean, var
            np.add(np.square(columns[0]), columns[1], out=columns[1])
        step.into_buffer = "columns"  # type: ignore[attr-defined]  # (μ into a block's columns: _Chains.step)
        step.finish_block = finish_block  # type: ignore[attr-defined]
        return step

    def _pool_step(self, state: State, sums: Callable, m: int, defer_marks: bool) -> Callable:
        """``step(state, t, rng)`` of the pure loop under accumulate where the family's sampler
        draws Σφ from the columns (mean, var) of its model (``sum_sampler.columns``: the
        Gaussian's Σs, Σs²), while no chain is on a point mass. A family declares ``columns`` (as
        ``mle``) only where φ = (s, s²): its model is then (mean, var = μ2 − μ1²) and its point
        masses the curve μ2 = μ1², on which the screen below rests. The recursion, :meth:`_sum_step`'s
        on columns: (Σs, Σs²) drawn at (μ1, var), var = μ2 − μ1²; the pool's sums grow by them;
        μ' = pool/N_t; var' = μ2' − μ1'², and a chain is on the point-mass curve where
        var' ≤ POINT_MASS_RTOL·|μ2'| (:meth:`on_continuum`'s test, the same values): the same
        draws and operations, bit for bit the general step's states.

        The curve is looked for only where it may be hit: no chain is on it while
        :func:`off_the_curve` (var', max μ2') (a negative μ2' has var' < 0). Once some chain is on
        it (it is then absorbed: kept where it is), that generation ends as the general step's does
        and the run goes on with it (:meth:`_sum_step`).

        With ``out`` (a block buffer's two (C,) column rows, :class:`_Chains`) μ' is written there,
        the state's μ and pool left to the block: ``step.finish_block(columns)`` writes the pool
        back (μ is the block's rows already)."""
        nf, n1 = self.numeric, self.n_total
        rtol, C = nf.POINT_MASS_RTOL, len(state.mu)
        mean = state.mu[:, 0].copy()
        var = np.subtract(state.mu[:, 1], np.square(mean))
        pool_x, pool_xx = state.pool_sums[:, 0].copy(), state.pool_sums[:, 1].copy()
        total, squares = np.empty(C), np.empty(C)
        drawn = [mean]  # μ1 the next generation draws from: this array or a block's row
        general = []  # the general step, once some chain is on a point mass
        maximum = np.maximum.reduce

        def step(state, t, rng, out=None):
            """Generation t: μ' into ``out`` if given, else into the state's μ (its pool too)."""
            if general:
                general[0](state, t, rng)
                if out is not None:
                    out[0][...], out[1][...] = state.mu.T
                return
            n = n1 * t
            state.pool_size = n
            sums(rng, drawn[0], var, m, total, squares)
            np.add(pool_x, total, out=pool_x)
            np.add(pool_xx, squares, out=pool_xx)
            mu1, mu2 = (state.mu[:, 0], state.mu[:, 1]) if out is None else out
            np.divide(pool_x, n, out=mu1)
            np.divide(pool_xx, n, out=mu2)
            np.subtract(mu2, np.square(mu1, out=var), out=var)
            drawn[0] = mu1
            if out is None:
                state.pool_sums[:, 0], state.pool_sums[:, 1] = pool_x, pool_xx
            if not off_the_curve(var, maximum(mu2), rtol):
                tau = np.column_stack((mu1, mu2))
                on = nf.on_continuum(tau)
                if np.count_nonzero(on):  # the general step's refit and marks, then the general step
                    tau = nf.project_to_continuum(tau, on)
                    state.mu[...] = tau
                    mu1[...], mu2[...] = tau.T
                    state.pool_sums[:, 0], state.pool_sums[:, 1] = pool_x, pool_xx
                    state.vertex[...] = nf.vertex_index(tau, on_curve=on)
                    state.hit_time[on & (state.hit_time < 0)] = t
                    general.append(self._sum_step(state, defer_marks, kernels=False))

        def finish_block(columns):
            """The state's pool after the block's generations (μ: the block's rows already)."""
            if not general:
                mean[...] = columns[0, -1]
                drawn[0] = mean
                state.pool_sums[:, 0], state.pool_sums[:, 1] = pool_x, pool_xx
        step.into_buffer = "columns"  # type: ignore[attr-defined]  # (μ into a block's columns: _Chains.step)
        step.finish_block = finish_block  # type: ignore[attr-defined]
        return step

    def _draw_generation(self, state: State, idx, face, t: int, rng: np.random.Generator):
        """(Σφ, level counts or None) of generation t's n_t points: M_t − M0 from each chain's
        model, M0 + m_fresh from the truth, the fixed data."""
        nf = self.numeric
        theta = state.theta[idx]
        sums, counts = self.draw_model(theta, state.mu[idx], face, self.model_draws(t), rng,
                                       state.kept.levels_at(theta, face))
        fresh = self.M0 + self.external
        if fresh:
            n = len(sums)
            if self.sampler == "exact":
                a_sums, a_counts = self._draw_truth(n, fresh, rng)
            else:
                tf = None if face is None else np.ones_like(face)
                a_sums, a_counts = self._draw(nf, np.repeat(self.theta_star, n, 0),
                                              np.repeat(nf.mu(self.theta_star), n, 0), tf, fresh, rng)
            sums = sums + a_sums
            counts = None if counts is None else counts + a_counts
        if len(self.data):
            sums = sums + self._data
            counts = None if counts is None else counts + self.data_counts
        return sums, counts

    def _draw_truth(self, C, m, rng):
        """(Σφ, level counts or None) of m points from the truth for each of C chains, exactly.

        The truth's law is worked out once (:attr:`truth_law`) and each chain's row is drawn
        from it: numpy draws a broadcast law row by row as the repeated one, the same numbers."""
        nf = self.numeric
        if not nf.finite:
            mu = np.broadcast_to(self.truth_law, (C, self.family.d))
            return np.asarray(self.family.sum_sampler(rng, mu, m), dtype=float), None
        law, p = self.truth_law
        if law is not None:  # one Binomial(n m, p*) per chain (sampling.binomial_sum)
            n, _, phi0, step = law
            K = rng.binomial(n * m, p, size=C)
            return m * phi0[None, :] + K[:, None] * step[None, :], binomial_support(n, K, n * m)
        counts = rng.multinomial(m, np.broadcast_to(p, (C, len(p))))
        return counts @ nf.phi_levels, counts

    @functools.cached_property
    def truth_law(self):
        """The truth's law as the exact draw reads it: μ* (d,) on an infinite space; on a finite
        one (binomial sum law or None, its canonical p* (a float) or level probabilities (L,))."""
        nf = self.numeric
        if not nf.finite:
            return self.truth_mu
        law = binomial_sum(nf)
        if law is not None:
            p = binomial_p(law, self.theta_star, None)
            if p is not None:
                return law, float(p[0])
        return None, self._truth_levels

    @functools.cached_property
    def _truth_levels(self) -> np.ndarray:
        """The truth's canonical level probabilities (L,) (finite spaces)."""
        return pvals(self.numeric, self.theta_star, None)[0]

    def draw_model(self, theta, mu, face, m: int, rng: np.random.Generator, levels=None):
        """(Σφ, level counts or None) of m points of each chain's model, through the operator;
        ``levels``: the model's level probabilities (L, C), where known (finite spaces)."""
        if self.operated is None:
            return self._draw(self.numeric, theta, mu, face, m, rng, levels)
        return self.operated.draw(theta, mu, face, m, rng, naive=self.sampler == "naive")

    def model_probabilities(self, theta, face) -> np.ndarray:
        """Canonical level probabilities (C, L) a model point is drawn with (finite spaces): the
        model's, or the operated model's (the lattice path's tables)."""
        if self.operated is None:
            return pvals(self.numeric, theta, face)
        return self.operated.probabilities(theta, face)

    def _draw_counts(self, state: State, idx, face, t: int, rng: np.random.Generator):
        """(Σφ, level counts) of generation t's n_t points on a finite space, drawn as level counts
        (multinomial, never a binomial sum's support: subsample draws from the pool's levels)."""
        nf = self.numeric
        if self.operated is None:
            theta = state.theta[idx]
            counts = draw_counts(nf, theta, face, self.model_draws(t), rng, state.kept.levels_at(theta, face))
        else:
            counts = self.operated.draw(state.theta[idx], state.mu[idx], face, self.model_draws(t), rng)[1]
        counts = self._with_truth_and_data(counts, rng)
        return counts @ nf.phi_levels, counts

    def _with_truth_and_data(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A generation's level counts (C, L) from its model points' ``counts``: the M0 + m_fresh
        points from the truth (its law once, each chain's row drawn from it: the same numbers)
        and the fixed data added, in place."""
        fresh = self.M0 + self.external
        if fresh:
            p = self._truth_levels
            counts += rng.multinomial(fresh, np.broadcast_to(p, (len(counts), len(p))))
        if len(self.data):
            counts += self.data_counts
        return counts

    def _refit_sample(self, state: State, idx, sums, counts, t: int, rng: np.random.Generator):
        """(Σφ, level counts or None) of the points generation t's refit reads, from the
        generation's own: those (replace); or, after adding them to the pool's running Σφ and level
        counts, the pool's (accumulate) or n_t of its points drawn without replacement, a
        multivariate hypergeometric draw of its level counts (subsample on a finite space)."""
        kind = self.regime.kind
        if kind == "replace":
            return sums, counts
        self._add_to_pool(state, idx, sums, counts)
        if kind == "accumulate":
            return state.pool_sums[idx], None if counts is None else state.pool_counts[idx]
        counts = subsample_counts(state.pool_counts[idx], self.sample_size(t), rng)
        return counts @ self.numeric.phi_levels, counts

    @staticmethod
    def _add_to_pool(state: State, idx, sums, counts) -> None:
        """A generation's Σφ and level counts (None: no levels) added to the pool's running ones."""
        state.pool_sums[idx] += sums
        if counts is not None:
            state.pool_counts[idx] += counts

    def _from_points(self, state: State, idx, face, t: int, rng: np.random.Generator):
        """(Σφ, level counts or None) of the refit from the pool's points, generation t's added:
        all of them (accumulate) or n_t drawn without replacement (subsample). The naive
        sampler sums raw points (a finite space's points are levels); the exact one (subsample
        on an infinite space) draws the subsample's Σφ by random keys."""
        new = self._new_points(state, idx, face, t, rng)
        start, end = self.pool_size(t - 1), self.pool_size(t)
        state.pool_points[idx, start:end] = new
        self._add_to_pool(state, idx, *self._point_totals(new))
        pool = state.pool_points[idx, :end]
        if self.regime.kind == "accumulate":
            return self._point_totals(pool)
        if self.sampler == "exact":
            return subsample_sums(pool, self.sample_size(t), rng), None
        return self._point_totals(subsample_naive(pool, self.sample_size(t), rng))

    def _new_points(self, state: State, idx, face, t: int, rng: np.random.Generator) -> np.ndarray:
        """Generation t's n_t points one by one: (C, n_t) levels (finite space, the naive
        sampler) or (C, n_t, d) φ; the model's M_t − M0, the truth's M0 + m_fresh, the data."""
        nf = self.numeric
        model_points, fresh = self.model_draws(t), self.M0 + self.external
        if nf.finite:
            theta = state.theta[idx]
            parts = [draw_levels(nf, theta, face, model_points, rng) if self.operated is None
                     else self.operated.levels(theta, state.mu[idx], face, model_points, rng)]
            C = len(parts[0])
            if fresh:
                parts.append(draw_levels(nf, np.repeat(self.theta_star, C, 0), np.ones_like(face), fresh, rng))
            if len(self.data):
                parts.append(np.broadcast_to(self._data_levels, (C, len(self._data_levels))))
        else:
            draw = draw_points if self.sampler == "exact" else draw_points_naive
            parts = [draw(nf, state.mu[idx], model_points, rng) if self.operated is None
                     else self.operated.points(state.mu[idx], model_points, rng, self.sampler == "naive")]
            C = len(parts[0])
            if fresh:
                parts.append(draw(nf, np.repeat(nf.mu(self.theta_star), C, 0), fresh, rng))
            if len(self.data):
                points = np.array(self.data, float)
                parts.append(np.broadcast_to(points, (C,) + points.shape))
        return np.concatenate(parts, axis=1)

    @functools.cached_property
    def _data_levels(self) -> np.ndarray:
        """The level of each fixed data point (finite spaces)."""
        return np.repeat(np.arange(len(self.data_counts)), self.data_counts)

    def _point_totals(self, points: np.ndarray):
        """(Σφ, level counts or None) of each chain's points: levels (C, n) or φ (C, n, d)."""
        nf = self.numeric
        if nf.finite:
            counts = level_counts(points, len(nf.levels))
            return counts @ nf.phi_levels, counts
        return points.sum(axis=1), None

    def _refit_target(self, sums: np.ndarray, n: int | None):
        """(the estimator's target τ from Σφ over the n points (None: n_1), L2 strength λ, prior
        penalty or None)."""
        est, n = self.estimator, self.n_total if n is None else n
        lam = est.lam if isinstance(est, L2) else 0.0
        prior = est.penalty(n) if isinstance(est, PriorMAP) else None
        return est.target(sums / n, n), lam, prior

    def _refit_finite(self, sums: np.ndarray, counts: np.ndarray, theta_prev: np.ndarray,
                      n: int | None = None, kept=None):
        """(θ', μ', face, point mass) of the next models from Σφ and the level counts of the refit's n
        points; ``kept``: see :meth:`refit_theta`."""
        nf, est = self.numeric, self.estimator
        tau, lam, prior = self._refit_target(sums, n)
        # the MLE lives on the smallest face holding the sample; MAP and L2 stay interior
        if isinstance(est, MLE):
            new_face, mask = minimal_face(nf, counts > 0, with_mask=True)
        else:
            new_face = np.ones(counts.shape, bool)
            mask = np.full(len(new_face), nf.full_mask) if nf.masks else None
        theta = self.refit_theta(tau, theta_prev, new_face, lam, prior, mask=mask, kept=kept)
        mu = nf.mu(theta, new_face) if (lam or prior) else tau
        return theta, mu, new_face, nf.vertex_index(mu, new_face, mask=mask)

    def _refit_infinite(self, sums: np.ndarray, theta_prev: np.ndarray, n: int | None = None):
        """(θ' or None when not needed, μ', point mass or None when none can be reached) of the
        next models from Σφ over n points (None: n_1)."""
        nf, n = self.numeric, self.n_total if n is None else n
        tau, lam, prior = self._refit_target(sums, n)
        theta, on_curve = None, None
        if prior is not None and self._map_mu is not None:
            mu = self._map_mu(n, tau)
            off = ~np.isfinite(mu[:, 0])
            if off.any():  # beyond the closed form in float64: Newton, as without one
                mu[off] = nf.mu(solve_theta(nf, tau[off], theta_prev[off], penalty=prior))
            if nf.lower_bounds() is not None:
                mu = np.maximum(mu, 0.0)
        elif lam or prior is not None:
            theta = solve_theta(nf, tau, theta_prev, lam=lam, penalty=prior)
            mu = nf.mu(theta)
        else:
            mu, on_curve = self._mle_mean(tau)  # (τ = Σφ/n, a new array: adjusted in place)
        if not nf.reaches_point_mass:  # (the exponential's 0 is only approached)
            return theta, mu, None
        return theta, mu, nf.vertex_index(mu, on_curve=on_curve)

    def _mle_mean(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(μ', on the point-mass curve or None) of the MLE on an infinite space from τ = Σφ/n:
        τ raised to the end of the mean domain, in place (rounding below the end is the end), and
        put on the point-mass curve where it is numerically there (Gaussian var 0: a new array)."""
        nf = self.numeric
        if nf.mean_floor is not None:
            np.maximum(tau, nf.mean_floor, out=tau)
        on_curve = None
        if nf.continuum:
            on_curve = nf.on_continuum(tau)
            if np.count_nonzero(on_curve):
                tau = nf.project_to_continuum(tau, on_curve)
        return tau, on_curve

    def refit_theta(self, tau, theta_prev, face, lam, prior=None, mask=None, kept=None):
        """θ' with μ_F(θ') + λθ' + ∇pen = τ on ``face`` (``mask``: its bit mask, if known): for
        the MLE the closed-form inverse mean map inside and a saturated family's level weights on a
        face (:meth:`~.model.NumericFamily.theta_on_face`), else Newton from the previous θ
        (:func:`.estimators.solve_theta`, which reads and keeps its cumulants in ``kept``, a
        :class:`.state.Kept`, when every chain is inside); on a point mass the previous θ (not needed)."""
        nf = self.numeric
        size, full = nf.face_size_full(face, mask)
        todo = size > 1  # on a point mass θ is not needed
        plain = not lam and prior is None
        theta = None
        if plain and nf.closed_inverse:
            interior = full & todo
            if np.count_nonzero(interior) == len(interior):
                closed = nf.theta_closed_form(tau)  # no gathers when every chain is interior
                if np.isfinite(closed.sum()):
                    return closed
            if np.count_nonzero(interior):
                theta = theta_prev.copy()
                closed = nf.theta_closed_form(tau[interior])
                good = rows_all(np.isfinite(closed))
                sel = np.flatnonzero(interior)[good]
                theta[sel] = closed[good]
                todo[sel] = False
        if plain and nf.saturated and np.count_nonzero(todo):
            # a saturated family (levels = d + 1 affinely independent points: categorical) is
            # solved on any face by its level weights, no Newton (M = 100 put chains on faces)
            theta = theta_prev.copy() if theta is None else theta
            sel = np.flatnonzero(todo)
            theta[sel] = nf.theta_on_face(tau[sel], face[sel])
            todo[sel] = False
        if np.count_nonzero(todo) == len(todo):  # every chain: no gathers (no face: all whole)
            return solve_theta(nf, tau, theta_prev, None if np.count_nonzero(full) == len(full) else face,
                               lam, penalty=prior, kept=kept)
        theta = theta_prev.copy() if theta is None else theta
        if np.count_nonzero(todo):
            theta[todo] = solve_theta(nf, tau[todo], theta_prev[todo], face[todo], lam, penalty=prior)
        return theta

    @functools.cached_property
    def _simplex(self) -> bool:
        """Whether a generation takes :meth:`_advance_simplex`: a :attr:`~.model.NumericFamily.saturated`
        finite family (its levels the vertices of a simplex: categorical) not drawn as a binomial
        sum, the exact sampler, no operator, the MLE (every regime)."""
        nf = self.numeric
        return (self.sampler == "exact" and nf.finite and nf.saturated and binomial_sum(nf) is None
                and self.operator.identity and type(self.estimator) is MLE)

    def _advance_simplex(self, state: State, idx, t: int, rng: np.random.Generator) -> None:
        """Generation t of a :attr:`_simplex` family: μ and the face alone.

        The MLE of a sample on a simplex is its empirical law: the model's level probabilities are
        the barycentric coordinates of its mean, q = μB + c (exactly 0 off its face, whose levels
        are the sample's), so the draw reads q instead of recomputing it from θ through exp and
        log — the same law, drawn from other last bits than the general path's (numpy's
        multinomial reads the first L − 1 probabilities and gives the last level the rest).
        Generation 1 draws as the general path does (:func:`.sampling.pvals` of θ: the start's μ
        comes from exp, and 1 − Σμ may round below 0); later ones read μ = Σφ/n, a quotient with
        the same bits on every machine. Then the refit's
        points (the sample; accumulate: the pool; subsample: n_t of the pool's points drawn without
        replacement) give μ' = Σφ/n and the face, the levels among them (every set of a simplex's
        vertices spans a face). A point mass redraws itself (q = e_k: μ' = e_k, the same face), so
        absorbed chains are stepped in place. θ, the point mass and its hitting time follow from μ
        and the face (:meth:`_complete_simplex`), made after the step."""
        nf = self.numeric
        mu, face = state.mu[idx], state.face[idx]  # views of a slice of chains (the step never gathers)
        q = self._simplex_draw_probabilities(state, idx, t)
        counts = self._with_truth_and_data(rng.multinomial(self.model_draws(t), q), rng)
        sums, counts = self._refit_sample(state, idx, counts @ nf.phi_levels, counts, t, rng)
        # written in place: _step hands the simplex step slices of chains only (absorbed chains
        # are stepped too: a point mass redraws itself)
        np.divide(sums, self.refit_size(t), out=mu)
        np.greater(counts, 0, out=face)

    def _simplex_draw_probabilities(self, state: State, idx, t: int) -> np.ndarray:
        """The level probabilities (C, L) generation t of :meth:`_advance_simplex` draws the chains
        ``idx`` with: :meth:`_simplex_probabilities` of μ, or in generation 1 and at a state no
        refit made (its μ from exp: 1 − Σμ may round below 0) :func:`.sampling.pvals` of θ."""
        face = state.face[idx]
        q = None if t == 1 else self._simplex_probabilities(state.mu[idx], face)
        if q is None or q.min() < 0:
            q = pvals(self.numeric, state.theta[idx], face)
        return q

    @functools.cached_property
    def _unit_simplex(self) -> bool:
        """Whether the levels are a :attr:`~.model.NumericFamily.unit_simplex` (the categorical):
        the level weights are q_a = μ_a (a ≤ d) and q_L = 1 − Σμ, so a refit's level counts over
        n give both the next model's μ and its draw's probabilities."""
        return self.numeric.unit_simplex

    def _simplex_step(self, state: State) -> Callable | None:
        """``step(state, t, rng, out)``: generation t of every chain of a :attr:`_simplex` family
        whose levels are a :attr:`_unit_simplex`, the numbers of :meth:`_advance_simplex` in fewer
        calls, its refit's empirical law written levels-major into ``out`` (L, C), a row of the
        run's block (``_Chains``: the state's μ, face and pool Σφ follow from it and the pool's
        counts, :meth:`_simplex_state`, when the run reads them); built once per run for
        ``state``. None for other saturated families, M_t schedules, or chains more than one
        block (:meth:`_chain_block`).

        The recursion: counts ~ Multinomial(M − M0, q) (plus the truth's M0 + m_fresh points and
        the fixed data); under accumulate they join the pool's counts, under subsample n_t of the
        pool's points are drawn without replacement (:func:`.sampling.subsample_counts`); then
        q' = counts/n, μ' = (q'_1..q'_d) and the face {counts > 0} = {q' > 0}. The refit's
        μ' = Σφ/n is q'_a = counts_a/n on a unit simplex (Σφ_a = counts_a exactly), and the draw
        reads q'_1..q'_{L−1} (numpy's multinomial gives the last level the rest), which are the
        level weights μB + c masked by the face that :meth:`_advance_simplex` computes from μ':
        the same draws, the same states bit for bit. q' is the empirical law itself (its last
        entry counts_L/n rather than 1 − Σμ), kept from one generation to the next: no level
        weights, no mask, no test for a negative weight. Generation 1 (and a state no refit made)
        draws from :meth:`_simplex_draw_probabilities`, as the general path does."""
        if not (self._simplex and self._unit_simplex and self.regime.schedule is None) \
                or len(state.mu) > self._constant_chain_block:
            return None
        m, n1, kind = self.model_draws(1), self.n_total, self.regime.kind
        extra = self.M0 + self.external or len(self.data)
        q = np.empty(state.face.shape)  # the next draw's level probabilities
        made = [False]  # whether q holds the last refit's counts/n

        def step(state, t, rng, out):
            if not made[0]:
                q[...] = self._simplex_draw_probabilities(state, slice(None), t)
            counts = rng.multinomial(m, q)
            if extra:
                self._with_truth_and_data(counts, rng)
            n = n1
            if kind != "replace":  # (the pool's Σφ_a, its counts_a, are written with the state)
                state.pool_counts += counts
                state.pool_size = n1 * t
                if kind == "accumulate":
                    counts, n = state.pool_counts, n1 * t
                else:
                    counts = subsample_counts(state.pool_counts, n1, rng)
            np.divide(counts, n, out=q)
            out[...] = q.T
            made[0] = True
        return step

    @staticmethod
    def _simplex_state(state: State, q: np.ndarray) -> None:
        """The state of the :meth:`_simplex_step` whose refit's empirical law is q (L, C), levels-
        major: μ = q_1..q_d, the face q > 0, and a pool's Σφ, its counts of the levels 1..d."""
        d = state.mu.shape[1]
        state.mu[...] = q[:d].T
        np.greater(q.T, 0, out=state.face)
        sums, counts = state.pool_sums, state.pool_counts
        if sums is not None and counts is not None:  # (a pooled regime)
            sums[...] = counts[:, :d]

    def _simplex_probabilities(self, mu: np.ndarray, face: np.ndarray) -> np.ndarray:
        """The level probabilities (C, L) :meth:`_advance_simplex` draws with after generation 1:
        the barycentric coordinates μB + c, 0 off the face (by arithmetic: a masked copy costs 5×)."""
        q = self.numeric.level_weights(mu)
        q *= face
        return q

    def _simplex_models(self, mu: np.ndarray, face: np.ndarray, entropy: bool = False):
        """(θ, point mass or −1, entropy or None) of the :attr:`_simplex` step's models at means μ
        on faces ``face``. ``entropy`` on a :attr:`_unit_simplex`: S too, θ and S sharing the
        level weights' logs (every weight on a refit's face is a positive count over n)."""
        nf = self.numeric
        if not (entropy and self._unit_simplex):
            return nf.theta_on_face(mu, face), nf.vertex_index(mu, face), None
        w = nf.level_weights(mu)
        logs = nf.level_logs(w)
        theta = nf.theta_on_face(mu, face, logs)
        return theta, nf.vertex_index(mu, face), nf.entropy_of(w, logs)  # (logs overwritten)

    def _complete_simplex(self, state: State, t: int, entropy: bool = False) -> np.ndarray | None:
        """θ, the point mass and the first generation on one of the :attr:`_simplex` step's
        generation ``t`` (what the general path's refit writes in the step); returns the models'
        entropy where ``entropy`` (:meth:`_simplex_models`), else None."""
        state.theta[:], state.vertex[:], S = self._simplex_models(state.mu, state.face, entropy)
        first = (state.vertex >= 0) & (state.hit_time < 0)
        if np.count_nonzero(first):
            state.hit_time[first] = t
        return S

    # -- observables ----------------------------------------------------------------------------
    def observables(self, state: State, derived: bool = True) -> dict[str, np.ndarray]:
        """Per chain: the conventional parameters, the natural parameters θ (by the family's
        names), the entropy S = A − θ·μ and the sufficient-statistic averages ``phi1..phid``.

        Conventional parameters are evaluated from μ where the family has a closed
        inverse mean map (finite on the boundary too, e.g. p = 1, var = 0); otherwise
        from θ, which exists only in the interior: chains on a proper face get NaN
        there, and summaries skip them. θ is NaN on the boundary (θ is infinite there).
        S is the entropy relative to the base measure h, finite on every face of a finite
        space; on a point mass it is log h(s) of its data point on a discrete space (0 for
        every family here) and −∞ on a continuous one (Gaussian variance 0).

        A θ_a that is a conventional parameter's negation in μ (:attr:`negations`: the
        exponential's θ = −rate) is evaluated as that negation, exactly. ``derived=False`` (a
        run's block summaries) leaves such a θ_a out where every chain is interior: its values
        are then :func:`negated_values` of the parameter's, and its summaries the parameter's.

        Values may be read-only broadcasts or views of ``state`` (``phi*``, θ when every chain
        is interior): copy what must outlive the next step (a run's book copies).
        """
        C = len(state.mu)
        out = {}
        interior = None
        values = self._form_values(state)
        for name, in_mu, f in self.observable_functions:
            if in_mu:
                out[name] = np.broadcast_to(f(*state.mu.T) if values is None else values[name], (C,))
            else:
                if interior is None:
                    interior = self._interior(state)
                out[name] = np.where(interior, f(*state.theta.T), np.nan)
        missing = [a for a, name in enumerate(self.family.names) if name not in out]
        # (Curie–Weiss: θ is conventional)
        theta = self._natural(state, out, derived, values) if missing else None
        if theta is not None:
            for a in missing:
                x = theta[a]
                if x is not None:
                    out[self.family.names[a]] = x
        entropy = self._entropy(state, values)
        if entropy is not None:
            out["entropy"] = entropy
        for a in range(self.family.d):
            out[f"phi{a + 1}"] = state.mu[:, a]
        return out

    def _form_values(self, state: State):
        """The derived forms at the state's μ (:meth:`~.model.NumericFamily.forms_at`): the block's,
        made once (``state.forms``), or made for this call; None for a finite space."""
        return state.forms if state.forms is not None else self.numeric.forms_at(state.mu)

    def _interior(self, state: State) -> np.ndarray:
        """Chains whose model is in the interior (a full face; infinite spaces: not a point mass)."""
        if state.face is None:
            return state.vertex < 0
        return self.numeric.face_size_full(state.face)[1] if state.interior is None else state.interior

    def _natural(self, state: State, conventional: dict[str, np.ndarray],
                 derived: bool = True, values=None) -> list[np.ndarray | None] | None:
        """θ per chain, component by component (C,) each, NaN off the interior; None for an
        infinite space without a closed-form inverse mean map (its refits do not all carry θ).
        The mask is made only where some chain is off the interior or some θ is not finite.
        A θ_a in :attr:`negations` is −c of its parameter's values in ``conventional``, or (not
        ``derived``, every chain interior) None: left to the caller (see :meth:`observables`)."""
        nf, names = self.numeric, self.family.names
        # every chain interior: a full face (one pass, stopping at the first chain on a face), or
        # (infinite spaces, and the segment path's states, which keep no face) no point mass (none
        # within reach: the exponential's)
        if state.face is not None:
            everywhere = bool(state.face.all())
        else:
            unreachable = not nf.finite and not nf.reaches_point_mass
            everywhere = unreachable or state.vertex_clear or not np.count_nonzero(state.vertex >= 0)
        theta: list[np.ndarray | None]
        if nf.finite:
            theta = [state.theta[:, a] for a in range(self.family.d)]
        else:
            negated = self.negations
            columns = nf.theta_columns(state.mu, values) if len(negated) < len(names) else []
            if columns is None:
                return None
            theta = [columns[a] if name not in negated else None if everywhere and not derived
                     else np.negative(conventional[negated[name]]) for a, name in enumerate(names)]
        with np.errstate(invalid="ignore", over="ignore"):  # (∞ − ∞ or an overflow in the sum)
            if everywhere and all(math.isfinite(x.sum()) for x in theta if x is not None):  # (θ itself)
                return theta
            interior = self._interior(state)
            return [None if x is None else np.where(interior & np.isfinite(x), x, np.nan) for x in theta]

    @functools.cached_property
    def negations(self) -> Mapping[str, str]:
        """θ name -> conventional name for each θ_a(μ) that is a conventional parameter's
        negation (:func:`.forms.negated`, from the derived expressions: the exponential's
        θ = −rate); empty for a finite space, whose θ is the state's, not a function of μ.
        Read-only: the run's summaries follow it."""
        nf = self.numeric
        return MappingProxyType({} if nf.finite else dict(nf.forms.get("negated") or {}))

    def _entropy(self, state: State, values=None) -> np.ndarray | None:
        """S = A − θ·μ per chain (see :meth:`observables`); an infinite space's read from ``values``
        (the derived forms at μ, :meth:`_form_values`: the exponential's 1 − log(1/μ) reads its
        rate's 1/μ), None there without a closed-form inverse mean map."""
        nf = self.numeric
        if self._binomial_entropy is not None:
            return self._binomial_entropy(state.mu[:, 0])
        if state.entropy is not None:  # (made with θ: the simplex step's block, _Chains)
            return state.entropy
        if nf.finite:  # S = Σ_s q (log h − log q) over the face: exact on every face
            # a saturated family (the simplex: categorical) has q = its barycentric coordinates of
            # μ on every face, a linear map, no exponentials
            q = nf.level_weights(state.mu) if nf.saturated else \
                nf.level_probabilities(state.theta, state.face)
            return nf.entropy_of(q)
        at_point_mass = self._point_mass_entropy
        if at_point_mass is None:
            return None
        values = self._form_values(state) if values is None else values
        S = np.broadcast_to(values["entropy"], (len(state.mu),))  # (the form's own array: no copy)
        if not nf.reaches_point_mass or state.vertex_clear:  # (the exponential: no chain is on a point mass)
            return S
        on = state.vertex >= 0
        return np.where(on, at_point_mass[np.maximum(state.vertex, 0)], S) if np.count_nonzero(on) else S

    @functools.cached_property
    def _binomial_entropy(self) -> Callable | None:
        """S(μ) of a binomial-sum family (sampling.binomial_sum: h(s0 + k) = h(s0) C(n, k) e^{r k}),
        None for others: with p = (μ − φ(s0)) / (n Δφ) the model is Binomial(n, p) in k and
        log h − log f = log h(s0) + r k − k log p − (n − k) log(1 − p), so
        S = log h(s0) + n r p − n (p log p + (1 − p) log(1 − p)), 0 log 0 = 0 on the ends."""
        law = binomial_sum(self.numeric) if self.numeric.finite and self.family.d == 1 else None
        if law is None:
            return None
        n, r, phi0, step = law
        log_h0, phi0, scale = float(self.numeric.log_h[0]), float(phi0[0]), float(n * step[0])

        def entropy(mu):
            p = (mu - phi0 if phi0 else mu) / scale if phi0 or scale != 1.0 else mu
            q = 1.0 - p
            # x log x with x ≥ TINY inside the log where some x is not positive: 0 on an end
            # (0 · log TINY), and a rounding of μ beyond an end (x = −1e-17) adds |x| · 708, nothing
            S = np.log(p if p.min(initial=1.0) > 0 else np.maximum(p, TINY))
            S *= p
            log_q = np.log(q if q.min(initial=1.0) > 0 else np.maximum(q, TINY))
            log_q *= q
            S += log_q
            S *= -n
            if log_h0:
                S += log_h0
            if r:
                S += (n * r) * p
            return S
        return entropy

    @functools.cached_property
    def _point_mass_entropy(self) -> np.ndarray | None:
        """S on each point mass (:meth:`~.model.NumericFamily.vertex_index` order, then −∞ for the
        curve's) for an infinite space with S = A − θ·μ derived in μ (None without a closed-form
        inverse mean map): log h(s) at a data value s on a discrete space (an end of the space, one
        statistic), −∞ on a continuous one."""
        nf = self.numeric
        if nf.forms.get("entropy_mu") is None:
            return None
        ends = nf.forms.get("log_h_ends") if self.family.d == 1 else []
        attainable = list(nf.attainable) + [False] * len(nf.continuum)
        values = [-np.inf if not a else ends[i] if i < len(ends) else np.nan for i, a in enumerate(attainable)]
        return np.array(values + [-np.inf])

    @functools.cached_property
    def observable_functions(self) -> list:
        """(name, whether in μ, compiled function) of each conventional parameter, compiled once."""
        nf = self.numeric
        in_mu, in_theta = nf.forms.get("conventional_mu"), nf.forms.get("conventional_theta")
        return [(name, True, bound(in_mu[name], nf.mu_names)) if in_mu[name] is not None
                else (name, False, bound(in_theta[name], self.family.names)) for name in self.family.conventional]

    def run(self, generations: int, chains: int, seed: int | None = 0, burn_in: int = 0,
            record_every: int = 0, keep: int = 0, progress: bool = False,
            start: np.ndarray | Callable | None = None,
            histograms: Mapping[str, tuple[float, float, int]] | None = None) -> Run:
        """Run ``generations`` generations of ``chains`` chains; see :class:`Run`.

        ``record_every`` K > 0 keeps chain means and variances every K generations
        (and the values of the first ``keep`` chains); ``start`` gives each chain its
        own initial natural parameters, as an array (C, d) or a law (see ``start_law``, the
        default) drawn first from the run's generator. ``histograms`` maps an observable to (lo, hi,
        bins): its law over chains × generations after the burn-in is streamed into
        fixed bins (memory flat in the number of generations).
        """
        # The engine's BLAS products are small (chains × levels by levels × d): a second BLAS
        # thread doubled their CPU time without shortening the run (Curie–Weiss with θ fitted,
        # 2·10⁴ chains: 1.1 s CPU with one thread, 2.0 s with two, 1.0 s wall either way), and
        # it competes with parallel workers. One thread for the run; the caller's setting is
        # restored on return (threadpoolctl).
        with blas_controller(len(sys.modules)).limit(limits=1, user_api="blas"):
            return self._run(generations, chains, seed, burn_in, record_every, keep, progress, start,
                             histograms)

    def _run(self, generations, chains, seed, burn_in, record_every, keep, progress, start, histograms) -> Run:
        # generations are counted exactly in the float64 time averages up to 2**53
        generations, chains = integer(generations, "generations", 1, 2**53), integer(chains, "chains", 1)
        burn_in = integer(burn_in, "burn-in", 0)
        if not burn_in < generations:
            raise InputError(f"burn-in must satisfy 0 <= burn-in < generations, got {burn_in}")
        record_every, keep = integer(record_every, "record-every", 0), integer(keep, "keep", 0)
        if seed is not None and not isinstance(seed, np.random.SeedSequence | np.random.BitGenerator
                                               | np.random.Generator):
            seed = integer(seed, "seed", 0)
        self.check_generations(int(generations))
        need, _ = self.memory_bytes(int(chains), int(generations))
        have = available_memory()
        if have is not None and need > have:
            pool = (f" (each chain's {self.regime.kind} pool keeps its {self.pool_size(int(generations))} "
                    "points)") if self.keeps_points else ""
            raise InputError(f"{chains} chains would need about {need / 2**30:.3g} GiB of memory{pool}, "
                             f"{have / 2**30:.3g} GiB available; use fewer chains or generations")
        rng = np.random.default_rng(seed)
        _raise_mmap_threshold()
        start = self.start_law if start is None else start
        init_law = None if start is None else getattr(start, "label", "given")
        if callable(start):  # the start draws come first from the run's own stream
            start = start(self, rng, int(chains))
        state = self.initial_state(int(chains), start)
        self.reserve_pool(state, self.pool_size(int(generations)) if self.regime.pooled else 0)
        obs0 = self.observables(state)
        names = list(obs0)
        trace = {"t": [], "mean": {n: [] for n in names}, "var": {n: [] for n in names},
                 "chains": {n: [] for n in names}} if record_every else None
        hist = {}
        for name, (lo, hi, bins) in (histograms or {}).items():
            if name not in names:
                raise InputError(f"histogram of unknown quantity {name!r}; known: {', '.join(names)}")
            hist[name] = Histogram(lo, hi, bins, name)
        if trace is not None:  # generation 0, the initial model (kept out of the JSON trace)
            trace["initial"] = {"mean": {n: _mean_var(v)[0] for n, v in obs0.items()},
                                "var": {n: _mean_var(v)[1] for n, v in obs0.items()},
                                "chains": {n: v[:keep].copy() for n, v in obs0.items()}}
        book = Book(names, generations, burn_in, record_every, keep, hist, trace)
        chains_ = _chains_for(self, int(generations), state, rng, book)
        bar = None
        if progress:  # tqdm imported only then: a tenth of a second of a short run's start-up
            bar = tqdm(total=generations, file=sys.stderr, unit="gen", mininterval=0.5,
                       desc=f"{self.family.name} M={self.M} {self.regime.label}".rstrip())
        # generations in blocks: the chains advance one generation at a time and are summarised
        # a block at a time (engine.book)
        t = 0
        while t < generations:
            block = min(chains_.block, generations - t)
            for s in range(t + 1, t + block + 1):
                chains_.step(s)
            chains_.flush()
            t += block
            if bar is not None:
                bar.update(block)
            if t < generations and chains_.all_absorbed():  # nothing changes any more
                book.repeat(t, *chains_.summary_now())
                if bar is not None:
                    bar.update(generations - t)
                break
        if bar is not None:
            bar.close()
        chains_.state.kept.clear()  # (for a next generation: the run's state holds no more arrays)
        return Run(loop=self, state=chains_.state, generations=generations, chains=chains, seed=seed,
                   final=book.final_stats(), time_average=book.time_average(), trace=trace, histograms=hist,
                   init_law=init_law)


def _chains_for(loop: ClosedLoop, generations: int, state: State, rng: np.random.Generator, book: Book):
    """The chains a run advances: the lattice path's (engine.lattice: one statistic on a lattice,
    replace at constant M), else a binomial-sum family's (engine.segment: replace, accumulate, M_t
    schedules, subsample for n = 1), else the general path's. A binomial sum under replace can take either, with the same draws: the
    lattice path's tables pay per lattice point, the segment path's summaries per chain and
    generation, so the tables are taken when the whole lattice costs less than the run's
    chain-generations and spans at most TABLE_SPREAD points a chain (wider, the chains spread
    over rows read one by one, and the segment path's held chains cost less as they absorb)."""
    law, segment = lattice_law(loop), segment_law(loop, generations)
    points = None if law is None else int(law.k.max()) * loop.n_total + 1  # the whole lattice
    chains = len(state.mu)
    if law is not None and (segment is None or (points * TABLE_POINT_COST <= chains * generations
                                                and points <= TABLE_SPREAD * chains)):
        return LatticeChains(loop, law, state, rng, book)
    if segment is not None:
        return SegmentChains(loop, segment, state, rng, book)
    return _Chains(loop, state, rng, book)


def off_the_curve(var: np.ndarray, bound: float, rtol: float) -> bool:
    """The Gaussian kernels' screen of the point-mass curve var ≤ rtol·μ2 (the replace and the
    accumulate kernel, :meth:`ClosedLoop._mle_step` and :meth:`ClosedLoop._pool_step`): True where
    no chain can be on it, min var > 2·rtol·``bound`` + the smallest normal float, ``bound`` at
    least what each chain's var is compared with (Σ mean², max μ2); the factor 2 covers the
    roundings of both sides, and a var below the smallest normal float is always tested. One
    minimum instead of the test's passes."""
    return bool(np.minimum.reduce(var) > 2.0 * rtol * bound + TINY)


def negated_values(c: np.ndarray) -> np.ndarray:
    """−c, NaN where it is not finite: the values of a θ_a = −c (:attr:`ClosedLoop.negations`) at
    interior models, as :meth:`ClosedLoop.observables` gives them."""
    out = np.negative(c)
    out[~np.isfinite(out)] = np.nan
    return out


class _Chains:
    """C chains advanced by the general path (:meth:`ClosedLoop.step`), summarised a block of
    generations at a time (engine.book): each generation's μ, θ, face and point mass are copied
    into buffers, whose observables, statistics and collapses :meth:`flush` computes at once.
    The interface :meth:`ClosedLoop.run` drives, shared with :class:`.lattice.LatticeChains`."""

    def __init__(self, loop: ClosedLoop, state: State, rng: np.random.Generator, book: Book):
        self.loop, self.state, self.rng, self.book = loop, state, rng, book
        C, d = state.mu.shape
        L = 0 if state.face is None else state.face.shape[1]
        # per chain and generation: the buffers, the observables, level probabilities (classify, entropy)
        B = block_size(C, 8 * (2 * d + 1 + len(book.names)) + 33 * L)
        # a block saves calls, its buffers cost a copy of the state per generation: below
        # BLOCK_MIN generations (many chains) one generation a block, the state itself
        self.block = B = B if B >= BLOCK_MIN else 1
        # an infinite family's μ column by column (d, B, C): its summaries are elementwise forms in
        # the columns of μ, 1.5–2× faster on contiguous columns than on a (C, d) array's strided
        # ones (the same values); a finite family's level weights are products μB, kept as they are
        self.columns = d > 1 and not loop.numeric.finite
        # a generation: the general path's step, or an infinite family's in fewer calls (the same
        # numbers), which leaves θ as it is: its buffer is filled once; or the unit simplex's,
        # which writes its refit's empirical law into the block levels-major (L, B, C), at any
        # B (no copy of the state: μ and the face are read from it), so that every per-level pass
        # of the block's models and summaries is contiguous (:meth:`_complete_levels`)
        fast = loop._sum_step(state, defer_marks=B > 1 and not self.columns)
        simplex = None if fast else loop._simplex_step(state)
        self.by_levels = simplex is not None
        if self.by_levels:
            self.levels = np.empty((L, B, C))
        if B > 1 and simplex is None:
            self.mu = np.empty((d, B, C) if self.columns else (B, C, d))
            self.theta = np.empty((B, *state.theta.shape))
            self.face = None if state.face is None else np.empty((B, *state.face.shape), bool)
            self.vertex = np.empty((B, C), state.vertex.dtype)
        self.filled, self.first = 0, 1  # generations buffered, the first of them
        self.advance: Callable = fast or simplex or loop._step
        self.theta_moves = fast is None
        if B > 1 and not self.theta_moves:
            self.theta[:] = state.theta
        # where the fast step's point masses absorb (or none is reached), a chain is on its point
        # mass from its first hitting time on: the block's marks follow from those at flush
        self.vertex_from_hits = fast is not None and (loop.absorbing or not loop.numeric.reaches_point_mass)
        self.vertex_clear = False  # (the vertex buffer known to be −1 throughout: _vertex_block)
        # absorbed chains fixed points of the step (Poisson): the marks made from the block's μ
        self.marks_deferred = getattr(fast, "marks_deferred", False)
        # subsample: collapse reads each chain's pool, which is not buffered: classified each generation
        self.classify_each = loop.collapsible and collapse.pool_decides(loop)
        self.classify_first_only = collapse.pool_face_settled(loop)  # (generation 1 decides)
        # the fast step writes μ' into the block's buffer itself, one copy a generation less: the
        # sum step into a row (B, C, d), the state's μ then a view of it; the Gaussian's kernels
        # (_mle_step, _pool_step) into the columns (d, B, C), each generation's rows a pair of
        # views made once, the block finished at flush (step.finish_block: μ2 made from the drawn
        # variances, the kernel's own arrays and the state's pool brought up to date) and the
        # state's μ written from the last generation
        self.into_buffer = (B > 1 and not self.classify_each
                            and getattr(fast, "into_buffer", None) == ("columns" if self.columns else "rows"))
        if self.into_buffer and self.columns:
            self.column_rows = [(self.mu[0, j], self.mu[1, j]) for j in range(B)]
        # the simplex step's θ, point masses and hitting times: made from μ and the face at flush
        # (each generation in a block of one). Subsample's classification each generation reads
        # neither: the model's levels are drawn from the pool, so it lies on the pool's face
        self.deferred = loop._simplex and self.block > 1 and not self.by_levels
        # the simplex step's entropy, made with θ (a unit simplex: ClosedLoop._simplex_models)
        self.entropy = np.empty((B, C)) if loop._simplex and loop._unit_simplex and not self.by_levels else None
        self.models: tuple = ()  # the levels-major block's models (:meth:`_complete_levels`)

    def step(self, t: int) -> None:
        loop, state, j = self.loop, self.state, self.filled
        if self.by_levels:  # (the unit simplex's step: its law into the block)
            self.advance(state, t, self.rng, self.levels[:, j])
            if self.classify_each and (t == 1 or not self.classify_first_only):
                self._write_state(j)
                loop._record_collapses(state, t)
            self.filled = j + 1
            return
        if self.into_buffer:  # (an infinite family's fast step: no simplex, no per-generation collapses)
            self.advance(state, t, self.rng, self.column_rows[j] if self.columns else self.mu[j])
            if not self.vertex_from_hits:
                self.vertex[j] = state.vertex
            self.filled = j + 1
            return
        self.advance(state, t, self.rng)
        if loop._simplex and not self.deferred:
            S = loop._complete_simplex(state, t, self.entropy is not None)
            if S is not None:
                self.entropy[0] = S
        if self.classify_each and (t == 1 or not self.classify_first_only):
            loop._record_collapses(state, t)
        if self.block > 1:
            if self.columns:
                self.mu[:, j] = state.mu.T
            else:
                self.mu[j] = state.mu
            if not self.deferred:
                if not self.vertex_from_hits:
                    self.vertex[j] = state.vertex
                if self.theta_moves:
                    self.theta[j] = state.theta
            if self.face is not None:
                self.face[j] = state.face
        self.filled = j + 1

    def _complete_block(self, n: int, t: np.ndarray) -> None:
        """The simplex step's θ and point masses of the ``n`` buffered generations ``t``, their
        first hitting times, and the last generation's in the state (:meth:`ClosedLoop._complete_simplex`);
        on a unit simplex their entropy too (:meth:`ClosedLoop._simplex_models`)."""
        C, d = self.state.mu.shape
        mu, face = self.mu[:n].reshape(n * C, d), self.face[:n].reshape(n * C, -1)
        theta, vertex, S = self.loop._simplex_models(mu, face, self.entropy is not None)
        if S is not None:
            self.entropy[:n] = S.reshape(n, C)
        self.theta[:n], self.vertex[:n] = theta.reshape(n, C, d), vertex.reshape(n, C)
        first_times(self.state.hit_time, self.vertex[:n] >= 0, t)
        self.state.theta[:], self.state.vertex[:] = self.theta[n - 1], self.vertex[n - 1]

    def _write_state(self, j: int) -> None:
        """The state from generation j of the levels-major block (the unit simplex's step)."""
        self.loop._simplex_state(self.state, self.levels[:, j])

    def _complete_levels(self, n: int, t: np.ndarray) -> None:
        """The unit simplex's models of the ``n`` buffered generations ``t`` from their empirical
        laws, levels-major (:meth:`~.model.NumericFamily.simplex_models`: θ, faces, point masses,
        entropy, bit for bit those of :meth:`_complete_block`), the first hitting times among
        them, and the last generation's point masses in the state; its μ, face, θ and pool Σφ
        once the run reads them (the last generation, or every chain absorbed: the run stops),
        not at every block (the step reads its own law and the pool's counts)."""
        state, (L, _, C) = self.state, self.levels.shape
        theta, face, interior, vertex, S = self.loop.numeric.simplex_models(self.levels[:, :n].reshape(L, n * C))
        theta, vertex = theta.reshape(-1, n, C), vertex.reshape(n, C)
        self.models = theta, face.reshape(L, n, C), vertex, S.reshape(n, C), interior.reshape(n, C)
        if not interior.all():  # (a point mass is a one-level face)
            first_times(state.hit_time, vertex >= 0, t)
        state.vertex[...] = vertex[n - 1]
        if t[-1] == self.book.generations or self.all_absorbed():
            self._write_state(n - 1)
            state.theta[...] = theta[:, n - 1].T

    def _marks_block(self, n: int, t: np.ndarray) -> None:
        """The point masses of the ``n`` buffered generations ``t`` from their μ (a step that leaves
        them to the block: :attr:`marks_deferred`), the first hitting times among them, and the
        last generation's in the state."""
        state = self.state
        C, d = state.mu.shape
        vertex = self.loop.numeric.vertex_index(self.mu[:n].reshape(n * C, d)).reshape(n, C)
        self.vertex[:n] = vertex
        first_times(state.hit_time, vertex >= 0, t)
        state.vertex[:] = vertex[n - 1]

    def _vertex_block(self, n: int, t: np.ndarray) -> None:
        """The point masses of the ``n`` buffered generations ``t`` where they absorb
        (:attr:`vertex_from_hits`): the state's from each chain's first hitting time on, −1 before.
        No chain on one: the buffer (which only this method writes then) is filled with −1 once."""
        state, out = self.state, self.vertex[:n]
        if not np.count_nonzero(state.vertex >= 0):
            if not self.vertex_clear:
                self.vertex.fill(-1)
                self.vertex_clear = True
            return
        self.vertex_clear = False
        hit = state.hit_time
        np.copyto(out, np.where((hit >= 0) & (hit <= t[:, None]), state.vertex, -1))

    def _buffered(self, rows, chains=slice(None)) -> State:
        """The buffered models of generations ``rows`` (of the block) and ``chains`` (one of them
        a slice), stacked generation-major as one State of rows × chains: its μ, θ, face and point
        mass, what observables and classify read (a block of one: the state, or those rows of it)."""
        if self.by_levels:  # (θ, face, μ as (rows × chains, ·) views of levels-major arrays)
            theta, face, vertex, S, interior = self.models
            d = len(theta)

            def columns(a):
                return a[:, rows, chains].reshape(len(a), -1).T
            return State(mu=columns(self.levels[:d]), theta=columns(theta), face=columns(face),
                         vertex=vertex[rows, chains].ravel(), hit_time=np.empty(0, np.int64),
                         entropy=S[rows, chains].ravel(), interior=interior[rows, chains].ravel())
        if self.block == 1:
            now = self.state
            if isinstance(chains, slice) and not self.columns and self.entropy is None:
                return now
            face = None if now.face is None else now.face[chains]
            mu = np.asfortranarray(now.mu[chains]) if self.columns else now.mu[chains]
            return State(mu=mu, theta=now.theta[chains], face=face, vertex=now.vertex[chains],
                         hit_time=np.empty(0, np.int64),
                         entropy=None if self.entropy is None else self.entropy[0, chains],
                         forms=self.loop.numeric.forms_at(mu))

        def flat(a):
            return None if a is None else a[rows, chains].reshape(-1, *a.shape[2:])
        # (columns: μ as (rows × chains, d) with contiguous columns)
        mu = self.mu[:, rows, chains].reshape(len(self.mu), -1).T if self.columns else flat(self.mu)
        return State(mu=mu, theta=flat(self.theta), face=flat(self.face), vertex=flat(self.vertex),
                     hit_time=np.empty(0, np.int64), entropy=flat(self.entropy),
                     forms=self.loop.numeric.forms_at(mu), vertex_clear=self.vertex_clear)

    def flush(self) -> None:
        """Summarise the buffered generations (engine.book) and record the collapses among them."""
        n = self.filled
        if not n:
            return
        t = np.arange(self.first, self.first + n)
        self.first, self.filled = self.first + n, 0
        if self.into_buffer and self.columns:  # (a Gaussian kernel left the block and the state's μ to flush)
            self.advance.finish_block(self.mu[:, :n])
            self.state.mu[...] = self.mu[:, n - 1].T
        if self.by_levels:
            self._complete_levels(n, t)
        elif self.deferred:
            self._complete_block(n, t)
        elif self.marks_deferred:
            self._marks_block(n, t)
        elif self.vertex_from_hits and self.block > 1:
            self._vertex_block(n, t)
        times = self.state.collapse_time
        wanted = self.book.wanted(t)
        whole = self._buffered(slice(n)) if wanted.all() else None  # (classified and summarised)
        # summarised first: the classification then reads the derived forms' values the summaries
        # made (the spread's bound, shared.SharedValues.at_least)
        if whole is not None:
            self.book.add(t, *self._summarise(whole, n))
        elif wanted.any():
            rows = np.flatnonzero(wanted)
            self.book.add(t[rows], *self._summarise(self._buffered(rows), len(rows)))
        if self.loop.collapsible and not self.classify_each:
            todo = np.flatnonzero(times < 0)
            if len(todo):
                # a collapsed chain's code is not read again: the others alone when few (the
                # classification is per chain, so the rule moves time, not codes)
                every = not gather_pays(len(todo), len(times))
                states = whole if every and whole is not None else \
                    self._buffered(slice(n), slice(None) if every else todo)
                codes = collapse.classify(self.loop, states)
                if every:  # (first_times passes over the chains already collapsed)
                    first_times(times, codes.reshape(n, -1) > 0, t)
                else:
                    part = times[todo]
                    first_times(part, codes.reshape(n, -1) > 0, t)
                    times[todo] = part

    def _summarise(self, states: State, n: int):
        """(mean, var, values) of ``n`` generations' states stacked generation-major: means and
        variances over chains (n, observables); an observable that is another's array (Gaussian
        mean and φ1) is summarised once."""
        C = len(self.state.mu)
        obs = self.loop.observables(states, derived=False)
        negations = self.loop.negations
        mean, var = np.empty((n, len(self.book.names))), np.empty((n, len(self.book.names)))
        done = {}

        def summary(name):
            v = obs[name]
            key = (v.__array_interface__["data"][0], v.strides, v.shape)
            if key not in done:
                done[key] = mean_var_rows(v.reshape(n, C))
            return done[key]
        for i, name in enumerate(self.book.names):
            if name in obs:
                mean[:, i], var[:, i] = summary(name)
            else:  # θ = −c left out (ClosedLoop.observables): c's mean negated, its variance, exactly
                m, var[:, i] = summary(negations[name])
                mean[:, i] = np.where(np.isnan(m), m, -m)  # (a row without finite values: NaN as it is)

        def values(name, rows, first):
            if name in obs:
                return obs[name].reshape(n, C)[rows, :first]
            return negated_values(obs[negations[name]].reshape(n, C)[rows, :first])
        return mean, var, values

    def summary_now(self):
        """(mean, var, values) of the current generation alone."""
        return self._summarise(self.state, 1)

    def all_absorbed(self) -> bool:
        return self.loop.absorbing and bool(np.all(self.state.vertex >= 0))


@dataclass
class Histogram:
    """Counts of a quantity in ``bins`` equal bins on [lo, hi), with what fell below, above or undefined."""

    lo: float
    hi: float
    bins: int
    name: str = "histogram"

    MAX_BINS = 10**6  # counts and edges are kept in memory and written into the JSON

    def __post_init__(self):
        try:
            lo, hi, bins = float(self.lo), float(self.hi), float(self.bins)
        except (TypeError, ValueError):
            raise InputError(f"histogram {self.name}: lo, hi and bins must be numbers") from None
        with np.errstate(over="ignore"):
            width = hi - lo
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and np.isfinite(width)):
            raise InputError(f"histogram {self.name}: need finite lo < hi with hi - lo finite in "
                             f"float64, got lo={lo:g}, hi={hi:g}")
        if not (np.isfinite(bins) and bins == int(bins) and 1 <= bins <= self.MAX_BINS):
            raise InputError(f"histogram {self.name}: bins must be an integer from 1 to "
                             f"{self.MAX_BINS}, got {bins:g}")
        self.lo, self.hi, self.bins = lo, hi, int(bins)
        self.counts = np.zeros(self.bins, np.int64)
        self.below = self.above = self.undefined = 0

    def add(self, values: np.ndarray, times: int = 1) -> None:
        """Count ``values`` (any shape), ``times`` times."""
        v = np.asarray(values, float).ravel()
        ok = np.isfinite(v)
        self.undefined += times * int((~ok).sum())
        v = v[ok]
        self.below += times * int((v < self.lo).sum())
        self.above += times * int((v >= self.hi).sum())
        inside = v[(v >= self.lo) & (v < self.hi)]
        idx = np.minimum(((inside - self.lo) / (self.hi - self.lo) * self.bins).astype(int), self.bins - 1)
        self.counts += times * np.bincount(idx, minlength=self.bins)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.bins + 1)

    def as_json(self) -> dict:
        return {"edges": self.edges.tolist(), "counts": self.counts.tolist(), "below": self.below,
                "above": self.above, "undefined": self.undefined}


@dataclass(frozen=True)
class ChainStats:
    """An observable summarised over the chains: ``mean``, ``var`` (ddof = 1) over the ``n``
    chains where it is finite, and ``sem`` = √(var/n).

    For :attr:`Run.final` (the last generation) ``sem`` is the standard error of ``mean``: the
    chains are independent. For :attr:`Run.time_average` ``mean`` and ``var`` are the averages
    over generations of the chains' mean and variance, and √(var/n) is a conservative bound on
    the standard error of ``mean`` (the variance of a chain's time average is at most its
    average variance). Unpacks as ``mean, var = stats``.
    """

    mean: float
    var: float
    n: int

    @property
    def sem(self) -> float:
        """√(var/n): see the class docstring (NaN without a finite value)."""
        return float(np.sqrt(self.var / self.n)) if self.n else float("nan")

    def __iter__(self):
        return iter((self.mean, self.var))


@dataclass
class Run:
    """What a run keeps: the final state, summaries over chains, absorption times, a trace.

    ``final`` and ``time_average`` map each observable (``"p"``, ``"theta"``, ``"phi1"``,
    ``"entropy"``, ...) to its :class:`ChainStats` (``run.final["p"].mean``, ``.var``,
    ``.sem``); :meth:`per_chain` gives its value in every chain at the last generation.
    """

    loop: ClosedLoop
    state: State
    generations: int
    chains: int
    seed: int | None
    final: dict[str, ChainStats]
    time_average: dict[str, ChainStats]
    trace: dict | None
    histograms: dict = field(default_factory=dict)
    init_law: str | None = None  # the law the chains started from (None: all at init)

    QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

    def __post_init__(self):
        # the engine hands (mean, var) pairs over; labelled here, with the chains they count
        finite = {n: int(np.isfinite(v).sum()) for n, v in self.final_values.items()}
        self.final = {n: ChainStats(float(m), float(v), finite.get(n, self.chains))
                      for n, (m, v) in self.final.items()}
        self.time_average = {n: ChainStats(float(m), float(v), self.chains)
                             for n, (m, v) in self.time_average.items()}

    @functools.cached_property
    def final_values(self) -> dict[str, np.ndarray]:
        """Every observable in every chain at the last generation, shape (C,) each."""
        return self.loop.observables(self.state)

    def per_chain(self, name: str) -> np.ndarray:
        """The observable ``name`` in every chain at the last generation, shape (C,) (a copy)."""
        values = self.final_values
        if name not in values:
            raise InputError(f"unknown observable {name!r}; known: {', '.join(values)}")
        return np.array(values[name])

    def trace_arrays(self) -> dict:
        """The recorded trace as numpy arrays, starting at generation t = 0 (the initial model).

        ``{"t": (T,), "mean": {name: (T,)}, "var": {name: (T,)}, "chains": {name: (T, keep)}}``;
        needs ``run(..., record_every=K)``.
        """
        if self.trace is None:
            raise ValueError("no trace was recorded: run with record_every=K (K >= 1)")
        tr, first = self.trace, self.trace.get("initial")
        names = list(tr["mean"])
        out = {"t": np.array(([0] if first else []) + list(tr["t"]), dtype=int), "mean": {}, "var": {},
               "chains": {}}
        for n in names:
            head = [first["mean"][n]] if first else []
            out["mean"][n] = np.array(head + list(tr["mean"][n]), dtype=float)
            head = [first["var"][n]] if first else []
            out["var"][n] = np.array(head + list(tr["var"][n]), dtype=float)
            rows = ([first["chains"][n]] if first else []) + list(tr["chains"][n])
            out["chains"][n] = np.array(rows, dtype=float)
        return out

    def quantiles(self) -> dict[str, dict[str, float | None]]:
        """Quantiles over chains at the last generation, per observable (finite values only)."""
        out = {}
        for n, v in self.final_values.items():
            v = v[np.isfinite(v)]
            out[n] = {f"{q:g}": (float(np.quantile(v, q)) if len(v) else None) for q in self.QUANTILES}
        return out

    @property
    def labels(self) -> list[str]:
        return self.loop.numeric.labels()

    @functools.cached_property
    def collapse_codes(self) -> np.ndarray:
        """:func:`engine.collapse.classify` of every chain at the last generation, shape (C,)."""
        return collapse.classify(self.loop, self.state)

    def collapsed(self) -> dict:
        """Chains collapsed at the last generation (see :mod:`theory.engine.collapse`): the
        fraction, by face and by kind (``face``, ``float_boundary``, ``diverging``), and the
        mean first generation they were found collapsed."""
        codes = self.collapse_codes
        labels = collapse.face_labels(self.loop, self.state, codes)
        hit = codes > 0
        by_face = {}
        for label in labels:
            if label:
                by_face[label] = by_face.get(label, 0) + 1
        times = self.state.collapse_time[hit]
        return {"fraction": float(hit.mean()),
                "by_face": {k: v / len(codes) for k, v in sorted(by_face.items())},
                "by_kind": {kind: float(np.mean(codes == i + 1)) for i, kind in enumerate(collapse.KINDS)},
                **_time_stats(times[times >= 0])}

    def absorbed(self) -> dict:
        """Chains on a point mass that absorbs in this setting (a collapsed chain's point mass:
        no fresh points, every data point there), by state, with their mean first hitting time.
        A point mass the loop leaves again (Fig. 3: rate 0 with a fresh point) is not counted:
        see :meth:`ever_absorbed`."""
        on = collapse.held_on_point_mass(self.loop, self.state, self.collapse_codes)
        vertex = collapse.held_vertex(self.loop, self.state)
        by_state = {}
        for i, label in enumerate(self.labels):
            frac = float(np.mean(on & (vertex == i)))
            if frac:
                by_state[label] = frac
        times = self.state.hit_time[on]
        return {"fraction": float(on.mean()), "by_state": by_state, **_time_stats(times[times >= 0])}

    def ever_absorbed(self) -> dict:
        """Fraction of chains that touched a point mass at least once, absorbing or not, and
        their mean first hitting time."""
        hit = self.state.hit_time >= 0
        return {"fraction": float(hit.mean()), **_time_stats(self.state.hit_time[hit])}

    def summary(self) -> dict:
        """The ``simulate --json`` object of SPEC section 5."""
        loop = self.loop
        out = {"family": loop.family.name, "family_args": dict(loop.family.args),
               "fixed": dict(loop.family.fixed), "M": loop.M, "regime": loop.regime.kind,
               "M_schedule": None if loop.regime.schedule is None else loop.regime.schedule.label,
               "anchors": loop.M0,
               "external": loop.external, "external_data": [list(p) for p in loop.data],
               "prior_law": None if loop.prior is None else loop.prior.label,
               "estimator": _estimator_json(loop.estimator),
               "init": dict(loop.init), "init_law": self.init_law,
               "truth": None if loop.truth is None else dict(loop.truth),
               "operator": loop.operator.as_json(), "sampler": loop.sampler,
               "generations": self.generations, "chains": self.chains, "seed": self.seed}
        for key, stats in (("final", self.final), ("time_average", self.time_average)):
            out[key] = {"mean": {n: _finite(m) for n, (m, _) in stats.items()},
                        "var": {n: _finite(v) for n, (_, v) in stats.items()}}
        out["collapsed"] = self.collapsed()
        out["absorbed"] = self.absorbed()
        out["ever_absorbed"] = self.ever_absorbed()
        out["final"]["quantiles"] = self.quantiles()
        if self.histograms:
            out["histograms"] = {n: h.as_json() for n, h in self.histograms.items()}
        if self.trace is not None:
            out["trace"] = {"t": self.trace["t"],
                            "mean": {n: [_finite(x) for x in v] for n, v in self.trace["mean"].items()},
                            "var": {n: [_finite(x) for x in v] for n, v in self.trace["var"].items()}}
        return out


def _raise_mmap_threshold() -> None:
    """Let the allocator keep a generation's temporaries on its heap. glibc serves a block above
    its mmap threshold (128 KiB at start) by a fresh mmap, and gives heap memory back beyond twice
    that, so every chain-sized temporary (20 000 chains × 2 floats: 320 KB) costs page faults:
    the Gaussian loop ran 2× slower once SciPy, whose import had done this by chance, was no
    longer imported. Freeing a block raises the threshold to its size (up to 32 MiB): one block
    of 16 MiB is allocated and freed here, as any large array of the process would do; with
    another allocator this is one allocation."""
    np.empty(2**21)


def available_memory() -> int | None:
    """Bytes of memory available (MemAvailable, else physical memory), None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _estimator_json(est) -> dict:
    if isinstance(est, PriorMAP):
        return {"name": "map", "prior_law": est.label}
    if isinstance(est, MAP):
        return {"name": "map", "nu": est.nu, "prior_mean": list(est.mu0)}
    if isinstance(est, L2):
        return {"name": "l2", "lam": est.lam}
    return {"name": "mle"}


_mean_var = mean_var  # the one-row summary (tests read it here)


def _time_stats(times: np.ndarray) -> dict:
    """Mean first time (in generations) and its standard error; None where undefined."""
    times = np.asarray(times, float)
    return {"time_mean": float(times.mean()) if len(times) else None,
            "time_sem": float(times.std(ddof=1) / np.sqrt(len(times))) if len(times) > 1 else None}


def _finite(x: float) -> float | None:
    """JSON has no NaN or infinity: an undefined summary is null."""
    return float(x) if np.isfinite(x) else None


@functools.lru_cache(maxsize=None)
def conventional_in_mu(family: ExponentialFamily) -> dict[str, sp.Expr | None]:
    """Conventional parameters as expressions in μ (None where no closed inverse exists).

    A finite space too large for symbolic work (``NumericFamily.symbolic``) gets None for
    conventional parameters that are natural ones (Curie–Weiss: undefined on a proper face
    anyway) and is refused for the others, which would be undefined on the boundary.
    """
    if not numeric_family(family).symbolic:
        other = [n for n, e in family.conventional.items() if e not in family.theta]
        if other:
            nf = numeric_family(family)
            raise InputError(
                f"{family.title}: {nf.d} statistics on {len(nf.levels)} levels is beyond the "
                f"symbolic inverse mean map that gives {other[0]} on the boundary (simulate "
                f"supports one statistic on up to {SYMBOLIC_LEVELS[1]} levels, or "
                f"2..{SYMBOLIC_MAX_D} on up to {SYMBOLIC_LEVELS_MANY})")
        return dict.fromkeys(family.conventional)
    return dict(family.conventional_mu)


def _closed_form_map(family: ExponentialFamily, prior):
    """μ' = F(n, φ̄) solving n(φ̄ − μ) + ∇log p0(θ(μ)) = 0 in closed form (one parameter), or None.

    Solving in μ keeps the refit finite on the boundary of the mean domain (Poisson
    with φ̄ = 0 and a prior on the rate: μ' = 0 while θ' = −∞). The prior's numbers enter
    the solve as symbols (a mean of 1e300 written exactly made SymPy's Lambert solver build a
    polynomial of that degree), then as floats. Special functions are evaluated by SciPy (a
    Gaussian prior on the Poisson's θ gives μ' = W(nv e^{m + nvφ̄})/(nv), Lambert W on its
    principal branch). Where the closed form gives no finite real root of the equation in
    float64 (the exponential overflows, a branch off the real axis), the value is NaN and the
    refit falls back to Newton.
    """
    if family.d != 1 or family.mu_inverse is None:
        return None
    (t,), (mu,) = family.theta, family.mu_symbols
    n, xbar = sp.Symbol("_n", positive=True), sp.Symbol("_xbar", positive=True)
    numbers = prior.parameter_symbols(family)
    g = family.in_mu(sp.diff(prior.log_density(family, symbolic=True), t))
    if g is None:
        return None
    try:
        sols = sp.solve(sp.Eq(n * (xbar - mu) + g, 0), mu)
    except NotImplementedError:
        return None
    point = {n: 10, xbar: float(family.mu[0].subs(family.interior_point())), **numbers}
    good = [e for e in sols if sp.N(e.subs(point)).is_real]
    if len(good) != 1:
        return None
    good, g = good[0].subs(numbers), g.subs(numbers)
    modules = ["scipy", "numpy"]
    root, grad = sp.lambdify((n, xbar), good, modules), sp.lambdify(mu, g, modules)

    def solve(n_, x):
        with np.errstate(all="ignore"):
            value = np.broadcast_to(root(n_, x), x.shape)
            out = np.real(value).astype(float)
            pull = np.broadcast_to(grad(out), x.shape).real
            residual = np.abs(n_ * (x - out) + pull)
            scale = n_ * (np.abs(x) + np.abs(out)) + np.abs(pull)
            ok = (np.isfinite(out) & (np.abs(np.imag(value)) <= 1e-12 * np.abs(out))
                  & np.isfinite(residual) & (residual <= 1e-9 * scale + 1e-300))
        return np.where(ok, out, np.nan)
    return solve
