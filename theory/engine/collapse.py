"""Collapse as users mean it, decided from a chain's state.

A chain has **collapsed** when its model sits where the loop cannot bring it back:

* ``face``: on a proper face of the marginal polytope (a point mass or a lower-dimensional
  face: Bernoulli p = 0, a categorical with p3 = 0, Curie–Weiss on two levels) or on an
  attained end of the mean domain (Poisson rate 0, Gaussian variance 0);
* ``float_boundary``: not on such a face in exact terms, but closer to one than the refit
  resolves: the model's mass off the face (finite spaces), or its covariance relative to the
  reference model's (infinite spaces: the exponential's shrinking scale), is below
  :data:`RESOLUTION`, the tolerance the Newton refit solves μ(θ') = target to. A MAP with a
  flat prior (Beta(1, 1) on p) is the MLE: in exact arithmetic it lands on the face, in
  floating point it stops within that tolerance of it;
* ``diverging``: its mean is no longer a finite float64 (or underflowed onto an end that is
  only approached).

and the face is **closed** under the setting's data sources: no fresh points from the truth
(anchors or ``--external``: the truth has full support, so they leave any face) and every
fixed data point on the face. A chain of Fig. 3's loop that momentarily sits at rate 0 has
not collapsed (its fresh point takes it out); in a setting with fresh points nothing collapses.
Whether a setting collapses at all is Eq. 18's normalisability (R9.stationary); the check
``R9.collapse`` in ``validate`` compares the two.

Under a sampling operator (``theory.operator``) with the MLE, a finite chain's face is that of
the operated model's support (:func:`drawn_face`): a level the operator cuts off (top-k, top-p)
never comes back, since the next sample lacks it and the MLE's face with it; a chain whose
operated model is a point mass has collapsed (and is absorbed) a generation before its model
lands there. On an infinite space the operated model of a point mass is that point mass.

Under ``subsample`` the refit draws from the pool of every point so far, which may hold points
off the model's face: a chain has collapsed for good when its pool lies on a closed face and
its model on that face (exactly, or within the refit's resolution); the face reported is the
pool's. Under ``accumulate`` the model is fitted to the pool, so the model's face is the pool's.
"""

from __future__ import annotations

import math

import numpy as np

from .estimators import MLE, REFIT_TOL
from .model import minimal_face, rows_all
from .state import State, gather_pays

RESOLUTION = REFIT_TOL  # the refit's tolerance: closer to a face than this, μ is not resolved
KINDS = ("face", "float_boundary", "diverging")  # codes 1, 2, 3; 0: not collapsed


def collapsible(loop) -> bool:
    """Whether any face can be closed: no fresh points from the truth enter the refit."""
    return loop.M0 == 0 and loop.external == 0


def pool_decides(loop) -> bool:
    """Whether the pool, not the model alone, decides collapse (subsample, see the module docstring)."""
    return loop.regime.kind == "subsample"


def pool_face_settled(loop) -> bool:
    """Whether, under :func:`pool_decides`, the classification of generation 1 is every later
    one's: a :func:`collapsible` loop of a saturated family (a simplex: categorical) with the
    MLE and no operator. Its model is the empirical law of a subsample of its pool, so its face
    lies in the pool's, and only the model's points and the fixed data (in the pool since
    generation 1) join the pool: the pool's face after generation 1 is its face for good, and
    the model stays on it. A chain has collapsed from generation 1 on (code 1), or never."""
    return (pool_decides(loop) and collapsible(loop) and loop.numeric.saturated
            and loop.operated is None and type(loop.estimator) is MLE)


def pool_face(loop, state: State) -> np.ndarray:
    """Finite spaces: the smallest face holding each chain's pool, (C, L)."""
    return minimal_face(loop.numeric, state.pool_counts > 0)


def pool_vertex(loop, state: State) -> np.ndarray:
    """Infinite spaces: the point mass each chain's pool lies on (its mean's), −1 if none, (C,)."""
    if not state.pool_size:
        return np.full(len(state.mu), -1)
    return loop.numeric.vertex_index(state.pool_sums / state.pool_size)


def classify(loop, state: State) -> np.ndarray:
    """Collapse code of each chain (0: none, else 1 + the index in :data:`KINDS`), shape (C,)."""
    C = len(state.mu)
    codes = np.zeros(C, np.int8)
    if not collapsible(loop):
        return codes
    nf = loop.numeric
    if nf.finite:
        (_classify_pool_finite if pool_decides(loop) else _classify_finite)(loop, state, codes)
        return codes
    pooled = pool_decides(loop)
    with np.errstate(all="ignore"):
        bad = nf.underflowed(state.mu)
        if not math.isfinite(state.mu.sum()):  # (one pass: some μ is not finite, or the sum overflows)
            bad |= ~rows_all(np.isfinite(state.mu))
        # (no point mass within reach, the exponential's, or none held in the block: no chain is on one)
        on = state.vertex >= 0 if nf.reaches_point_mass and not state.vertex_clear else None
        # the usual block: every chain finite and off the point masses, open (no mask work)
        marked = bool(np.count_nonzero(bad) or (on is not None and np.count_nonzero(on)))
        if marked:
            codes[bad] = 3
            if on is not None:
                on &= ~bad
                if pooled:  # the pool on the model's point mass too
                    on &= pool_vertex(loop, state) == state.vertex
                codes[on & _closed_vertex(loop, state.vertex)] = 1
        open_ = None if not marked else ~bad if on is None else (state.vertex < 0) & ~bad
        rest = None if open_ is None else np.flatnonzero(open_)
        if len(loop.data) == 0 and (rest is None or len(rest)):  # data keep an approached end open
            # every chain's spread, the others' discarded, unless few are open (a row gather of
            # the (C, d) means cost more than the spread)
            every = rest is None or not gather_pays(len(rest), C)
            near = _near_end(loop, state.mu, state.forms) if every else _near_end(loop, state.mu[rest])
            if pooled:  # and the model fitted to the pool
                pool = state.pool_sums if every else state.pool_sums[rest]
                near &= _near_end(loop, pool / max(state.pool_size, 1))
            if open_ is not None:
                near = near & open_ if every else rest[near]
            codes[near] = 2
    return codes


def _near_end(loop, mu: np.ndarray, values=None) -> np.ndarray:
    """Infinite spaces: models whose spread is below the refit's resolution of the reference's.
    ``values``: the derived forms at ``mu`` (:meth:`~.model.NumericFamily.forms_at`); where they
    prove every |spread| at least that (:meth:`~.shared.SharedValues.at_least`: the usual block,
    no chain near the end) the spread is not evaluated."""
    threshold = RESOLUTION * loop.reference_spread
    if values is not None and "spread" in values and values.at_least("spread", threshold):
        return np.zeros(len(mu), bool)
    spread = loop.numeric.spread(mu, values)
    if spread is None:
        return np.zeros(len(mu), bool)
    return np.abs(spread) < threshold


def drawn_face(loop, state: State) -> np.ndarray:
    """Finite spaces: the face (C, L) the chains' next model points and refits stay on: the
    model's, or under a sampling operator with the MLE the smallest face holding the operated
    model's support (see the module docstring)."""
    if loop.operated is None or not isinstance(loop.estimator, MLE):
        return state.face
    return minimal_face(loop.numeric, loop.operated.support(state.theta, state.face))


def held_vertex(loop, state: State) -> np.ndarray:
    """The point mass each chain is held on, −1 if none, (C,): the model's, or on a finite space
    under a sampling operator the one its operated model is (:func:`drawn_face`)."""
    if loop.operated is None or not loop.numeric.finite or not isinstance(loop.estimator, MLE):
        return state.vertex
    return np.where(state.vertex >= 0, state.vertex,
                    loop.numeric.vertex_index(state.mu, drawn_face(loop, state)))


def _classify_finite(loop, state: State, codes: np.ndarray) -> None:
    nf = loop.numeric
    face = drawn_face(loop, state)
    full = nf.face_size_full(face)[1] if face is not state.face or state.interior is None else state.interior
    closed = _closed(loop, face)
    codes[~full & closed] = 1
    if loop.operated is None:
        # cheap bound first: every level has probability ≥ e^{−spread}/L, spread of log h + θ·φ,
        # evaluated for every chain (a row gather of the chains on the whole polytope cost 7× it)
        with np.errstate(all="ignore"):
            spread = np.abs(state.theta) @ np.ptp(nf.phi_levels, axis=0) + np.ptp(nf.log_h)
        rest = np.flatnonzero((spread >= np.log(1 / RESOLUTION) - np.log(len(nf.levels))) & full)
    else:
        rest = np.flatnonzero(full)
    if not len(rest):
        return
    theta = state.theta[rest]
    p = nf.level_probabilities(theta) if loop.operated is None else loop.operated.probabilities(theta, None)
    face = _resolved_face(nf, p)
    off = np.where(face, 0.0, p).sum(axis=-1)
    hit = ~face.all(axis=-1) & (off < RESOLUTION) & _closed(loop, face)
    codes[rest[hit]] = 2


def _classify_pool_finite(loop, state: State, codes: np.ndarray) -> None:
    """Subsample: the pool on a proper closed face, the model on it exactly (1) or within the
    refit's resolution (2: its probability off the face below RESOLUTION)."""
    nf = loop.numeric
    face = pool_face(loop, state)
    _, full = nf.face_size_full(face)
    candidate = ~full & _closed(loop, face)
    exact = candidate & ~(state.face & ~face).any(axis=-1)
    codes[exact] = 1
    rest = np.flatnonzero(candidate & ~exact)
    if len(rest):
        p = nf.level_probabilities(state.theta[rest], state.face[rest])
        codes[rest[np.where(face[rest], 0.0, p).sum(axis=-1) < RESOLUTION]] = 2


def held_on_point_mass(loop, state: State, codes: np.ndarray) -> np.ndarray:
    """Chains held for good on the absorbing point mass they are on (collapsed, code 1, and under
    subsample their pool there too), shape (C,)."""
    on = (codes == 1) & (held_vertex(loop, state) >= 0)
    if pool_decides(loop) and loop.numeric.finite:
        on &= loop.numeric.vertex_index(state.mu, pool_face(loop, state)) == state.vertex
    return on


def _resolved_face(nf, probabilities: np.ndarray) -> np.ndarray:
    """The smallest face holding every level the refit resolves (probability ≥ RESOLUTION)."""
    return minimal_face(nf, probabilities >= RESOLUTION)


def _closed(loop, face: np.ndarray) -> np.ndarray:
    """Finite spaces: whether each face (C, L) holds every fixed data point's level."""
    counts = loop.data_counts
    if counts is None or not counts.any():
        return np.ones(len(face), bool)
    return np.all(face[:, counts > 0], axis=-1)


def _closed_vertex(loop, vertex: np.ndarray) -> np.ndarray:
    """Infinite spaces: whether the point mass each chain is on holds every fixed data point."""
    if not len(loop.data):
        return np.ones(len(vertex), bool)
    nf = loop.numeric
    points = np.array(loop.data, float)
    out = np.zeros(len(vertex), bool)
    for i in range(len(nf.labels())):
        v = nf.vertex_phi(i)
        if v is not None and np.all(points == v):
            out[vertex == i] = True
    return out


def face_labels(loop, state: State, codes: np.ndarray) -> list[str]:
    """A label for the face each collapsed chain is on ("" for chains that have not collapsed):
    the absorbing state's label for a point mass (``phi1=0``), ``s in {1, 2}`` (the levels it
    keeps) for a lower-dimensional face, ``diverging`` for a mean float64 no longer holds."""
    nf = loop.numeric
    labels = [""] * len(codes)
    names = nf.labels()
    if nf.finite:
        if pool_decides(loop):
            face = pool_face(loop, state)
        else:
            face = drawn_face(loop, state).copy()
            num = np.flatnonzero(codes == 2)
            if len(num):
                face[num] = _resolved_face(nf, nf.level_probabilities(state.theta[num]) if loop.operated is None
                                           else loop.operated.probabilities(state.theta[num], None))
        levels = loop.family.space.levels
        rows, inverse = np.unique(face[codes > 0], axis=0, return_inverse=True)
        text = []
        for row in rows:
            kept = np.flatnonzero(row)
            vertex = nf.level_vertex(kept[0]) if len(kept) == 1 else -1
            text.append(names[vertex] if vertex >= 0 else
                        "s in {" + ", ".join(str(levels[k]) for k in kept) + "}")
        for i, j in zip(np.flatnonzero(codes > 0), np.ravel(inverse), strict=True):
            labels[i] = text[j]
        return labels
    approached = nf.approached_label()
    for i in np.flatnonzero(codes > 0):
        if codes[i] == 3:
            labels[i] = "diverging"
        elif state.vertex[i] >= 0:
            labels[i] = names[state.vertex[i]]
        else:
            labels[i] = approached
    return labels
