"""The state of C chains of a closed loop, arrays along axis 0 (read by the loop and the lattice path),
and the rule for working on some of them (:func:`gather_pays`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class State:
    """Current models of C chains (arrays along axis 0) and, under a pooled regime (accumulate,
    subsample), each chain's pool: every point its generations drew so far.

    A chain frozen on an absorbing point mass (accumulate with the MLE) keeps the pool it had
    when it got there: its pool lies on that point, and no refit reads it again (on a simplex,
    ``ClosedLoop._advance_simplex``, it is stepped in place: its pool grows on that point).
    """

    mu: np.ndarray                 # (C, d) expectation parameters
    theta: np.ndarray              # (C, d) natural parameters (finite spaces, L2); else unused
    face: np.ndarray | None        # (C, L) levels of the face the model lives on (finite spaces)
    vertex: np.ndarray             # (C,) index of the point mass the chain is on, −1 if none
    hit_time: np.ndarray           # (C,) first generation on a point mass, −1 if never
    collapse_time: np.ndarray | None = None  # (C,) first generation collapsed (engine.collapse), −1 if never
    pool_sums: np.ndarray | None = None      # (C, d) Σφ over the pool
    pool_counts: np.ndarray | None = None    # (C, L) the pool's level counts (finite spaces; see below)
    pool_points: np.ndarray | None = None    # (C, capacity, d) φ, or (C, capacity) level, of each pool point
    pool_size: int = 0                       # N_t: points in every chain's pool (the first N_t of capacity)
    entropy: np.ndarray | None = None        # (C,) the models' entropy where already made (a run's simplex block)
    interior: np.ndarray | None = None       # (C,) whether each face is the whole polytope, where already made (idem)
    # the derived forms at μ (NumericFamily.forms_at), evaluated once for a snapshot whose μ stays as
    # it is (a run's block): its observables and classification read them; never the live state's
    forms: object | None = None
    # every chain off the point masses (vertex all −1), known without reading vertex (a block's
    # buffer that the run keeps at −1 while no chain is on one): observables and classify skip the test
    vertex_clear: bool = False
    # the cumulants and level probabilities the last refit's Newton made at the θ it converged to
    kept: Kept = field(default_factory=lambda: Kept())

    # pool_counts: the pool's level counts, except on accumulate's exact path where a generation
    # is one binomial sum (sampling.binomial_sum): there they add up the draws' supports
    # (positive exactly where the pool holds a level), all that the MLE's face reads. pool_points: kept only where the refit needs the points themselves
    # (subsample on an infinite space, and the naive reference sampler).

    def subset(self, index) -> State:
        """The chains ``index`` selects (a slice gives views, an index array copies)."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return State(mu=self.mu[index], theta=self.theta[index], face=pick(self.face),
                     vertex=self.vertex[index], hit_time=self.hit_time[index],
                     collapse_time=pick(self.collapse_time), pool_sums=pick(self.pool_sums),
                     pool_counts=pick(self.pool_counts), pool_points=pick(self.pool_points),
                     pool_size=self.pool_size)


class Kept:
    """What the MLE's Newton made at the θ (C, d) it converged to, on the whole polytope (a finite
    family, d ≤ 2, every chain converged in full steps), kept for the next generation, which starts
    from that θ: the level probabilities (L, C), which its draw reads for d = 1
    (:func:`.sampling.pvals`), and where every chain converged at the same step the cumulants
    (A (C,), μ (d, C), χ's distinct entries, levels-major), which its refit reads
    (:func:`.estimators.solve_theta`), instead of making them again. They are a function of θ (and,
    μ and χ, of the batch: every chain): handed out for θ bit for bit the kept one, they are the
    numbers making them again would give. Never modified in place."""

    def __init__(self) -> None:
        self.theta: np.ndarray | None = None
        self.levels: np.ndarray | None = None
        self.cumulants: tuple | None = None

    def clear(self) -> None:
        self.theta, self.levels, self.cumulants = None, None, None

    def keep(self, theta: np.ndarray, levels: np.ndarray, cumulants: tuple | None = None) -> None:
        self.theta, self.levels, self.cumulants = theta.copy(), levels, cumulants

    def _at(self, theta: np.ndarray) -> bool:
        kept = self.theta
        return kept is not None and kept.shape == theta.shape and \
            not np.count_nonzero(kept.view(np.int64) != theta.view(np.int64))

    def cumulants_at(self, theta: np.ndarray) -> tuple | None:
        """(A, μ, χ's entries, level probabilities) at θ if kept, else None."""
        if self.cumulants is None or not self._at(theta):
            return None
        return (*self.cumulants, self.levels)

    def levels_at(self, theta: np.ndarray, face: np.ndarray | None) -> np.ndarray | None:
        """The level probabilities (L, C) of the models θ on ``face`` if kept (every face the whole
        polytope), else None. Only for d = 1: the draw makes the logits θφ(s) from θ (C, d), the
        Newton from θ levels-major (d, C); one product each, they are the same numbers whatever
        the layout, where for d = 2 a BLAS may add the two products of another layout otherwise."""
        if theta.shape[1] != 1 or self.levels is None or (face is not None and not face.all()):
            return None
        return self.levels if self._at(theta) else None


def gather_pays(part: int, chains: int) -> bool:
    """Whether work on ``part`` of ``chains`` chains (the live ones, those not yet collapsed) is
    done on them alone, gathered by index and scattered back, rather than on every chain in place
    with the others' results discarded or their rows put back: while they are fewer than half.
    Gathering and scattering a row costs about what the work on it does (a draw and refit, or a
    classification: ~10 ns a row), so past half the extra rows cost less than the gather. Where the
    work draws (the loop's step), the choice sets which chains consume random numbers: the rule is
    part of a run's numbers (not of their law), and changing it changes results."""
    return 2 * part < chains
