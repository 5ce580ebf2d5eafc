"""A declared family made numeric: mean map, Fisher information and sampling laws on arrays.

Finite spaces are evaluated as log-sum-exp moments over the levels (exact and
stable for any θ, including θ restricted to a face of the marginal polytope);
infinite spaces evaluate the derived A, μ, χ as compiled forms (:mod:`theory.engine.forms`: a
built-in family's generated twin, or lambdify of its derivations). Arrays are batched over chains
along axis 0: θ and μ have shape (C, d), χ has shape (C, d, d).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import InputError
from ..family import ExponentialFamily, Finite
from ..twin import FamilyTwin, level_tables, point_masses
from .forms import Forms
from .shared import Shared, SharedValues, bound

# Finite spaces up to these sizes get the symbolic inverse mean map (closed-form refits,
# conventional parameters on the boundary). SymPy's sum over the levels grows fast: binomial
# n = 1000 takes 20 s, Curie–Weiss N = 40 5 s and N = 60 30 s, categorical K = 6 does not
# finish. Beyond them simulate works numerically (see symbolic).
SYMBOLIC_LEVELS = {1: 1001}  # one statistic
SYMBOLIC_LEVELS_MANY = 32    # several statistics
SYMBOLIC_MAX_D = 4


def last_weight(parts) -> np.ndarray:
    """1 − (μ_1 + … + μ_d), the last level's weight on a unit simplex, the sum made in order
    (:func:`added_in_order`: the same numbers from the rows of a levels-major block or the columns
    of a chains-major one)."""
    last = added_in_order(parts)
    return np.subtract(1.0, last, out=last)


class NumericFamily:
    """Numeric view of an :class:`ExponentialFamily` (one per family, cached)."""

    def __init__(self, family: ExponentialFamily | FamilyTwin):
        self.family = family
        self.d = family.d
        space = family.space
        self.finite = isinstance(space, Finite)
        self.names = family.names
        if isinstance(space, Finite):
            self.levels = np.array(space.levels)
            self.phi_levels, self.log_h, self.facets = level_tables(family)
            scale = np.ptp(self.phi_levels, axis=0)
        else:
            if family.sum_sampler is None:
                raise InputError(f"{family.name}: simulating an infinite sample space needs "
                                 "sum_sampler=(rng, mu, m) -> sum of m draws in its declaration")
            scale = np.ones(self.d)
        self.scale = np.where(scale > 0, scale, 1.0)
        # whether the derived A, μ⁻¹ may be asked for (never for a large finite space: see above)
        self.symbolic = not self.finite or (
            self.d <= SYMBOLIC_MAX_D
            and len(self.levels) <= SYMBOLIC_LEVELS.get(self.d, SYMBOLIC_LEVELS_MANY))
        self.negative = np.array([n in family.negative for n in self.names])
        self.forms = Forms(family, self.symbolic)  # the derived closed forms, compiled on first use
        # the absorbing point masses: numeric ones (vertices; attainable: reached in finite time),
        # then the labels of curves of them (continuum; Gaussian: var 0)
        vertices, labels, attainable = point_masses(family)
        self._vertices, self.attainable = vertices, attainable
        self._vertex_labels, self.continuum = labels[: len(vertices)], labels[len(vertices):]

    # -- cumulants ------------------------------------------------------------------------------
    # Finite spaces are computed levels-major, (L, C) arrays: every sum over the levels is then
    # L vectorised passes over the chains, not C short rows (numpy's per-row reduction cost
    # dominated the refits). The public methods return chains-major (C, L) views.
    def _logits_T(self, theta: np.ndarray, face: np.ndarray | None) -> np.ndarray:
        """log h(s) + θ·φ(s), levels-major (L, C), −∞ off the face. With log h ≡ 0 (categorical)
        its addition is skipped: it changes no value (−0 becomes +0, which neither a max, an
        exponential nor a finiteness test tells apart)."""
        z = self.phi_levels @ theta.T
        with np.errstate(invalid="ignore"):
            if not self._log_h_zero:
                z += self.log_h[:, None]
        if face is not None and not face.all():
            np.copyto(z, -np.inf, where=~face.T)
        return z

    def _moments_T(self, theta, face, probabilities: bool = True):
        """(A, probabilities (L, C) or None) at θ: one pass over the levels (in place: a
        generation makes several of these (levels × chains) arrays)."""
        e = self._logits_T(theta, face)
        top = e.max(axis=0)
        with np.errstate(invalid="ignore"):
            e -= top
            np.exp(e, out=e)
        total = e.sum(axis=0)
        if probabilities:
            e /= total
        return top + np.log(total), (e if probabilities else None)

    def level_probabilities_T(self, theta, face=None) -> np.ndarray:
        """f(s | θ) = e^{z − max z} / Σ e^{z − max z}, z = log h + θ·φ, levels-major (L, C): the
        probabilities of :meth:`_moments_T` without the log-partition (the draws' pass)."""
        e = self._logits_T(theta, face)
        with np.errstate(invalid="ignore"):
            e -= e.max(axis=0)
            np.exp(e, out=e)
        e /= e.sum(axis=0)
        return e

    @functools.cached_property
    def _log_h_zero(self) -> bool:
        return bool(np.all(self.log_h == 0))

    def logits(self, theta: np.ndarray, face: np.ndarray | None = None) -> np.ndarray:
        """log h(s) + θ·φ(s) per level, −∞ off the face (finite spaces), shape (C, L)."""
        return self._logits_T(theta, face).T

    def level_probabilities(self, theta, face=None) -> np.ndarray:
        """f(s | θ) on the levels, restricted to ``face`` (rows sum to 1), shape (C, L)."""
        return self.level_probabilities_T(theta, face).T

    def A(self, theta, face=None) -> np.ndarray:
        """Log-partition A(θ) (on a face: log Σ_{s ∈ face} h e^{θ·φ}); +∞ outside the domain."""
        if self.finite:
            return self._moments_T(theta, face, probabilities=False)[0]
        out = _component(self.forms.get("A")[0], self.names, theta)
        bad = (theta[:, self.negative] >= 0).any(axis=-1) | ~np.isfinite(out)
        return np.where(bad, np.inf, out)

    def mu(self, theta, face=None) -> np.ndarray:
        """Mean map μ(θ) = E_θ[φ], shape (C, d)."""
        if self.finite:
            return (self.phi_levels.T @ self.level_probabilities_T(theta, face)).T
        return np.stack([_component(f, self.names, theta) for f in self.forms.get("mu")], axis=-1)

    def cumulants_levels_major(self, theta_T: np.ndarray):
        """(A, μ (d, C), the distinct entries of χ: [χ11] or [χ11, χ12, χ22], the level
        probabilities (L, C)) at θ given levels-major (d, C), on the whole polytope of a finite
        family with d ≤ 2: the arithmetic of :meth:`cumulants` (the same numbers), for the
        Newton's full steps; the probabilities are :meth:`level_probabilities_T`'s numbers."""
        a, q = self._moments_T(theta_T.T, None)
        mu = self.phi_levels.T @ q
        second = self.phi_outer.T @ q
        if len(mu) == 1:
            return a, mu, [second[0] - mu[0] * mu[0]], q
        return a, mu, [second[0] - mu[0] * mu[0], second[1] - mu[0] * mu[1], second[3] - mu[1] * mu[1]], q

    def _chi_T(self, q_T: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """E[φφᵀ] − μμᵀ from levels-major probabilities, shape (C, d, d)."""
        d = self.d
        second = (self.phi_outer.T @ q_T).T.reshape(-1, d, d)
        return second - mu[:, :, None] * mu[:, None, :]

    @functools.cached_property
    def phi_outer(self) -> np.ndarray:
        """φ(s)φ(s)ᵀ per level, flattened, shape (L, d²)."""
        return np.einsum("la,lb->lab", self.phi_levels, self.phi_levels).reshape(len(self.levels), -1)

    def chi(self, theta, face=None) -> np.ndarray:
        """Fisher information χ(θ) = Cov_θ[φ], shape (C, d, d)."""
        if self.finite:
            q_T = self.level_probabilities_T(theta, face)
            return self._chi_T(q_T, (self.phi_levels.T @ q_T).T)
        d = self.d
        chi = self.forms.get("chi")
        return np.stack([np.stack([_component(chi[a][b], self.names, theta)
                                   for b in range(d)], axis=-1) for a in range(d)], axis=-2)

    def cumulants(self, theta, face=None,
                  centred: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A, μ, χ) at θ in one pass over the levels (finite spaces), for the Newton refit.

        χ is E[φφᵀ] − μμᵀ, or with ``centred`` Σ q (φ − μ)(φ − μ)ᵀ, which does not cancel
        near a vertex (the refit's fallback).
        """
        if not self.finite:
            return self.A(theta), self.mu(theta), self.chi(theta)
        a, q_T = self._moments_T(theta, face)
        mu = (self.phi_levels.T @ q_T).T
        if centred:
            return a, mu, self._covariance(q_T.T, mu)
        return a, mu, self._chi_T(q_T, mu)

    @functools.cached_property
    def saturated(self) -> bool:
        """Whether the levels are d + 1 affinely independent points: every law on them is in
        the family's closure, and the MLE on any face is its empirical law."""
        if not self.finite or len(self.levels) != self.d + 1:
            return False
        square = np.column_stack([self.phi_levels, np.ones(len(self.levels))])
        return np.linalg.matrix_rank(square) == self.d + 1

    @functools.cached_property
    def barycentric(self) -> tuple[np.ndarray, np.ndarray]:
        """(B, c) with q = μ B + c the level probabilities of a :attr:`saturated` family at mean μ,
        on every face (its barycentric coordinates: Σ q φ = μ, Σ q = 1); B (d, L), c (L,)."""
        inv = np.linalg.inv(np.vstack([self.phi_levels.T, np.ones(len(self.levels))]))  # (L, d + 1)
        return inv[:, :-1].T, inv[:, -1]

    def level_weights(self, mu: np.ndarray) -> np.ndarray:
        """q = μB + c (:attr:`barycentric`), shape (C, L): the level probabilities of a
        :attr:`saturated` family's model at mean μ. c is added column by column where it is not
        0: numpy adds a broadcast row (L,) to (C, L) along the short axis, 10× slower. On a
        :attr:`unit_simplex` q = (μ_1, …, μ_d, 1 − (μ_1 + … + μ_d)): for d ≤ 2 the product's last
        entry is one sum; beyond, the sum is made in order here, not in the order a BLAS picks
        (:meth:`simplex_models` adds the same; the product is 2× faster than these columns)."""
        if self.unit_simplex and self.d > 2:
            q = np.empty((len(mu), self.d + 1))
            q[:, :-1] = mu
            q[:, -1] = last_weight([mu[:, a] for a in range(self.d)])
            return q
        q = mu @ self.barycentric[0]
        for level, value in self._weight_offsets:
            q[:, level] += value
        return q

    @staticmethod
    def level_logs(q: np.ndarray) -> np.ndarray:
        """log q where q > 0 and 0 (the log of 1) elsewhere, a new array (no log of 0: numpy's slow
        path; a select, not arithmetic on the mask: a third of its time; no select while every q
        is positive)."""
        return np.log(q) if q.min(initial=1.0) > 0 else np.log(np.where(q > 0, q, 1.0))

    def entropy_of(self, q: np.ndarray, logs: np.ndarray | None = None) -> np.ndarray:
        """S = Σ_{q > 0} q (log h − log q) of level probabilities q (C, L), shape (C,), from
        :meth:`level_logs` of q (made here unless given: it is overwritten), no broadcast row
        of log h where it is 0 (the values of the masked form, signs of 0 too)."""
        terms = self.level_logs(q) if logs is None else logs
        if self._log_h_zero:
            np.subtract(0.0, terms, out=terms)
        else:
            np.subtract(self.log_h, terms, out=terms)
        terms *= q
        return rows_sum(terms)

    @functools.cached_property
    def _weight_offsets(self) -> list[tuple[int, float]]:
        c = self.barycentric[1]
        return [(int(level), float(c[level])) for level in np.flatnonzero(c)]

    def theta_on_face(self, tau: np.ndarray, face: np.ndarray, logs: np.ndarray | None = None) -> np.ndarray:
        """θ with μ_F(θ) = τ on the face F of a :attr:`saturated` family (rows of τ on F), in
        closed form: the level weights are w = τB + c (:meth:`level_weights`); then log h + θ·φ −
        log w is constant on F (off F any finite value: weight 1), one linear solve for (θ, constant).
        On the whole simplex too, and on a vertex (any θ puts all mass on its level).

        ``logs``: :meth:`level_logs` of the weights, when the caller has them and every weight
        on F is positive (a refit's empirical law): log w on F, 0 off it, the same values."""
        if logs is not None:
            log_w = logs if face.all() else np.where(face, logs, 0.0)
            if not self._log_h_zero:
                log_w = log_w - self.log_h
            return log_w @ self._face_solve
        log_w = self.level_weights(tau)
        if not face.all():  # weight 1 off F (no select while every chain is on the whole simplex)
            if math.isfinite(log_w.sum()):
                log_w = np.where(face, log_w, 1.0)
            else:  # w·1 + 0 on F, w·0 + 1 off it: NaN off F where a weight is not finite
                log_w *= face
                log_w += ~face
        np.log(log_w, out=log_w)
        if not self._log_h_zero:
            log_w -= self.log_h  # (a broadcast row: only where log h is not 0)
        return log_w @ self._face_solve

    @functools.cached_property
    def unit_simplex(self) -> bool:
        """Whether the levels' φ are e_1..e_d and then 0, in that order (the categorical): the
        level weights are then q_a = μ_a (a ≤ d) and q_L = 1 − Σμ, and :meth:`theta_on_face`'s
        solve is θ_a = log w_a − log w_L (checked: its matrix is [I; −1] exactly)."""
        d, L = self.d, len(self.levels) if self.finite else 0
        unit = np.vstack([np.eye(d), np.zeros((1, d))])
        return (self.finite and L == d + 1 and np.array_equal(self.phi_levels, unit)
                and np.array_equal(self._face_solve, np.vstack([np.eye(d), -np.ones((1, d))])))

    def simplex_models(self, q: np.ndarray) -> tuple:
        """The models of a :attr:`unit_simplex` family at refits' empirical laws q = counts/n,
        levels-major (L, N) (every pass reads one level's contiguous row): (θ (d, N), face (L, N),
        interior (N,), point mass or −1 (N,), entropy (N,)), bit for bit the numbers of
        :meth:`theta_on_face`, :meth:`vertex_index` and :meth:`entropy_of` at μ = (q_1..q_d) on
        the face {q > 0} (the chains-major path, ``ClosedLoop._simplex_models``):

            w = (μ_1, …, μ_d, 1 − (μ_1 + … + μ_d))     (:meth:`level_weights`: the last from μ,
                                                        another rounding than q_L)
            l_a = log w_a where w_a > 0, else 0        (:meth:`level_logs`)
            θ_a = (l_a − log h_a) − (l_L − log h_L),   l_L read as 0 off the face
            S = Σ_a w_a (log h_a − l_a)                (added level after level from +0)

        and the point mass of each one-level face (where q_a = 1: a quotient of counts is 1 only
        when the count is n). (θ_a needs no mask: w_a = 0 off the face for a ≤ d; w_L may be a
        rounding's ±ε there.)"""
        L, d = q.shape[0], self.d
        mu = q[:d]
        w_last = last_weight(mu)
        face = q > 0
        interior = face.all(axis=0)
        everywhere = interior.all()  # every chain on the whole simplex: every weight positive
        logs = np.empty_like(q)
        for a in range(L):  # (the log of 1 where w_a ≤ 0; for a ≤ d, w_a > 0 exactly on the face)
            w = mu[a] if a < d else w_last
            if not (everywhere or w.min(initial=1.0) > 0):
                w = np.where(face[a] if a < d else w > 0, w, 1.0)
            np.log(w, out=logs[a])
        log_last = logs[d] if self._log_h_zero else logs[d] - self.log_h[d]
        if not everywhere and not face[d].all():
            log_last = np.where(face[d], log_last, 0.0 if self._log_h_zero else 0.0 - self.log_h[d])
        theta = np.empty((d, q.shape[1]))
        for a in range(d):
            np.subtract(logs[a] if self._log_h_zero else logs[a] - self.log_h[a], log_last, out=theta[a])
        vertex = np.full(q.shape[1], -1)
        if not everywhere:  # a one-level face: that level's count is n, q_a = 1 exactly
            for a in range(L):
                on = q[a] == 1.0
                if np.count_nonzero(on):
                    vertex[on] = self._level_vertex[a]
        terms = logs  # (overwritten) w_a (log h_a − l_a)
        np.subtract(0.0 if self._log_h_zero else self.log_h[:, None], logs, out=terms)
        terms[:d] *= mu
        terms[d] *= w_last
        if L >= SEQUENTIAL_ROW:  # (rows_sum's pairwise sum of a long row: a run refuses such a
            return theta, face, interior, vertex, rows_sum(np.ascontiguousarray(terms.T))  # family)
        return theta, face, interior, vertex, added_in_order(terms)

    @functools.cached_property
    def _face_solve(self) -> np.ndarray:
        """The θ rows of [φ −1]⁻¹, transposed (L, d): θ of :meth:`theta_on_face` from log w."""
        L, d = len(self.levels), self.d
        return np.linalg.inv(np.column_stack([self.phi_levels, -np.ones(L)]))[:d].T

    # -- faces as bit masks (bit j: level j), for up to MASK_LEVELS levels ----------------------
    def face_mask(self, face: np.ndarray) -> np.ndarray:
        """The levels of each row of ``face`` (C, L) as a uint64 bit mask, shape (C,)."""
        if len(self.levels) <= 52:  # a float matrix-vector product: exact below 2**53, and fast
            return (face @ self._powers_of_two).astype(np.int64).view(np.uint64)  # float -> uint64 is slow
        packed = np.packbits(face, axis=-1, bitorder="little")
        out = packed[:, 0].astype(np.uint64)
        for b in range(1, packed.shape[1]):
            out |= packed[:, b].astype(np.uint64) << np.uint64(8 * b)
        return out

    def mask_face(self, mask: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`face_mask`: (C,) masks to (C, L) booleans."""
        as_bytes = np.ascontiguousarray(mask, dtype="<u8").view(np.uint8).reshape(-1, 8)
        return np.unpackbits(as_bytes, axis=-1, count=len(self.levels), bitorder="little").view(bool)

    @functools.cached_property
    def _powers_of_two(self) -> np.ndarray:
        return 2.0 ** np.arange(len(self.levels))

    @functools.cached_property
    def full_mask(self) -> np.uint64:
        return np.uint64((1 << len(self.levels)) - 1) if len(self.levels) < 64 else np.uint64(2**64 - 1)

    @functools.cached_property
    def facet_masks(self) -> np.ndarray:
        return self.face_mask(self.facets)

    @functools.cached_property
    def widest_facet(self) -> int:
        """The most levels a facet holds (finite spaces)."""
        return int(self.facets.sum(axis=-1).max())

    @functools.cached_property
    def masks(self) -> bool:
        """Whether faces fit a bit mask (at most 64 levels)."""
        return self.finite and len(self.levels) <= 64

    def face_size_full(self, face: np.ndarray, mask: np.ndarray | None = None):
        """(number of levels of each face, whether it is the whole polytope), shapes (C,), from
        one pass over ``face`` (or its ``mask``)."""
        if self.masks:
            mask = self.face_mask(face) if mask is None else mask
            return np.bitwise_count(mask).astype(np.int64), mask == self.full_mask
        return face.sum(axis=-1), face.all(axis=-1)

    def _covariance(self, q: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Σ_s q(s) (φ(s) − μ)(φ(s) − μ)ᵀ: E[φφᵀ] − μμᵀ cancels catastrophically near a
        vertex (Curie–Weiss N = 10 at θ1 = 9: an eigenvalue −1e-13 sent Newton to θ ~ 1e11)."""
        d = self.d
        out = np.empty((len(q), d, d))
        for a in range(d):
            weighted = q * (self.phi_levels[:, a] - mu[:, a, None])
            for b in range(a + 1):
                out[:, a, b] = out[:, b, a] = np.einsum(
                    "cl,cl->c", weighted, self.phi_levels[:, b] - mu[:, b, None])
        return out

    @functools.cached_property
    def _mu_inverse(self):
        return self.forms.get("mu_inverse")

    @functools.cached_property
    def closed_inverse(self) -> bool:
        """Whether :meth:`theta_closed_form` has a closed form to evaluate."""
        return self.symbolic and self._mu_inverse is not None

    def theta_closed_form(self, mu: np.ndarray) -> np.ndarray | None:
        """θ = μ⁻¹(μ) from the derived closed form (None without one); ±∞/NaN on the boundary."""
        if not self.closed_inverse:
            return None
        if self.d == 1 and self._mu_inverse_functions[0][0] is not None:  # no copy into a column
            fn, cols = self._mu_inverse_functions[0]
            with np.errstate(all="ignore"):
                out = fn(mu[:, cols[0]])
            if np.ndim(out) == 1:
                return out[:, None]
        out = np.empty(mu.shape[:1] + (self.d,))
        with np.errstate(all="ignore"):  # once, not per component: called every generation
            for a, (fn, cols) in enumerate(self._mu_inverse_functions):
                out[:, a] = mu[:, cols[0]] if fn is None else fn(*(mu[:, c] for c in cols))
        return out

    def theta_columns(self, mu: np.ndarray, values: SharedValues | None = None) -> list[np.ndarray] | None:
        """:meth:`theta_closed_form`'s θ component by component, each (C,) and contiguous where μ's
        columns are (no (C, d) array written column by column); a bare μ_b is that column itself.
        ``values``: :attr:`shared_forms` at ``mu``, read instead of evaluating θ's forms alone."""
        if not self.closed_inverse:
            return None
        out = []
        with np.errstate(all="ignore"):
            for a, (fn, cols) in enumerate(self._mu_inverse_functions):
                value = mu[:, cols[0]] if fn is None else values[("theta", a)] if values is not None \
                    else np.asarray(fn(*(mu[:, c] for c in cols)), float)
                out.append(np.broadcast_to(value, mu.shape[:1]))
        return out

    @functools.cached_property
    def shared_forms(self) -> Shared | None:
        """The forms in μ a run's summaries read, evaluated together (:class:`.shared.Shared`: a
        subexpression their code has in common evaluated once, the same numbers): each conventional
        parameter with a form in μ by its name, θ_a as ``("theta", a)``, ``"entropy"`` (S = A − θ·μ
        in μ) and ``"spread"`` (tr χ in μ) where derived; None for a finite space."""
        if self.finite:
            return None
        forms = {name: f for name, f in (self.forms.get("conventional_mu") or {}).items() if f is not None}
        if self.closed_inverse:
            forms |= {("theta", a): f for a, f in enumerate(self._mu_inverse)}
        for key, name in (("entropy", "entropy_mu"), ("spread", "spread_mu")):
            form = self.forms.get(name)
            if form is not None:
                forms[key] = form[0]
        return Shared(forms, self.mu_names)

    def forms_at(self, mu: np.ndarray) -> SharedValues | None:
        """:attr:`shared_forms` at the models ``mu`` (C, d), evaluated as they are read; None for a
        finite space."""
        shared = self.shared_forms
        return None if shared is None else shared.at(*mu.T)

    @functools.cached_property
    def _mu_inverse_functions(self) -> list:
        """(compiled θ_a(μ) or None for a bare μ_b, the columns of μ it reads) per component."""
        return [(fn, [self.mu_names.index(x) for x in args]) for args, fn in self._mu_inverse]

    @property
    def mu_names(self) -> tuple[str, ...]:
        """Names of the expectation parameters, the arguments of the forms in μ (``mu``, ``mu1``...)."""
        return ("mu",) if self.d == 1 else tuple(f"mu{a + 1}" for a in range(self.d))

    # -- boundary -------------------------------------------------------------------------------
    def vertex_index(self, mu: np.ndarray, face: np.ndarray | None = None,
                     on_curve: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """Index of the absorbing point mass each chain sits on, −1 if none, shape (C,).

        ``on_curve``: :meth:`on_continuum` of ``mu``, ``mask``: :meth:`face_mask` of ``face``,
        when the caller has them already.
        """
        out = np.full(len(mu), -1)
        if self.finite:
            if self.masks:
                mask = self.face_mask(face) if mask is None else mask
                single = (mask & (mask - np.uint64(1))) == 0  # one level (a face is never empty)
                if not np.count_nonzero(single):  # (np.any costs more on short arrays)
                    return out
                # the level of a one-level mask is the count of the bits below it (for any mask at
                # most L: a valid index); selected by arithmetic, not by masked assignment
                level = np.bitwise_count(mask - np.uint64(1)).astype(np.intp)
                return np.where(single, self._level_vertex[level], -1)
            single = face.sum(axis=-1) == 1
            at = self.phi_levels[face.argmax(axis=-1)]
            for i, v in enumerate(self._vertices):
                out[single & np.all(at == v, axis=-1)] = i
            return out
        # an end reached in finite time (Poisson: a sample of zeros) is hit exactly; one that is
        # only approached (the exponential's 0, where μ shrinks by a Gamma factor each
        # generation) is never a point mass at finite t, even once μ underflows float64
        for i, at in self._point_mass_hits(mu, on_curve):
            out[at] = i
        return out

    def _point_mass_hits(self, mu: np.ndarray, on_curve: np.ndarray | None = None):
        """(index, whether each chain is on it) for each point mass an infinite space's chains can
        reach (the attained ends, then the continuum's curve), in :meth:`vertex_index`'s order."""
        for i, v in self._attained_vertices:
            yield i, (mu[:, 0] == v[0] if self.d == 1 else np.all(mu == v, axis=-1))
        if self.continuum:
            yield len(self._vertices), (self.on_continuum(mu) if on_curve is None else on_curve)

    def on_point_mass(self, mu: np.ndarray, on_curve: np.ndarray | None = None) -> np.ndarray:
        """Whether each chain of an infinite space is on a point mass it reached
        (:meth:`vertex_index` ≥ 0), shape (C,), without building the indices."""
        hit = None
        for _, at in self._point_mass_hits(mu, on_curve):
            hit = at if hit is None else hit | at
        return np.zeros(len(mu), bool) if hit is None else hit

    @functools.cached_property
    def reaches_point_mass(self) -> bool:
        """Whether an infinite space's loop can land on a point mass in finite time (Poisson's 0,
        the Gaussian's variance 0; not the exponential's 0, only approached)."""
        return bool(self._attained_vertices or self.continuum)

    @functools.cached_property
    def _attained_vertices(self) -> list[tuple[int, np.ndarray]]:
        """(index, φ) of the point masses an infinite space's loop reaches in finite time."""
        return [(i, v) for i, v in enumerate(self._vertices) if self.attainable[i]]

    @functools.cached_property
    def _level_vertex(self) -> np.ndarray:
        """The absorbing point mass at each level (−1: the level's φ is none of them)."""
        out = np.full(len(self.levels), -1)
        for i, v in enumerate(self._vertices):
            out[np.all(self.phi_levels == v, axis=-1) & (out < 0)] = i
        return out

    def underflowed(self, mu: np.ndarray) -> np.ndarray:
        """Chains within the smallest normal float of an end that is only approached as t → ∞
        (their μ is no longer resolved: underflow, not absorption), shape (C,)."""
        out, tiny = None, np.finfo(float).tiny
        for i, v in enumerate(self._vertices):
            if not self.finite and not self.attainable[i]:
                if len(mu) and (mu[:, 0] - v[0] if v[0] else mu[:, 0]).min() >= tiny:
                    continue  # every chain's first component above the end (the usual block: one pass)
                near = np.abs(mu - v if v.any() else mu) < tiny  # (μ − 0 is μ)
                near = near[:, 0] if self.d == 1 else rows_all(near)
                out = near if out is None else out | near
        return np.zeros(len(mu), bool) if out is None else out

    def spread(self, mu: np.ndarray, values: SharedValues | None = None) -> np.ndarray | None:
        """tr χ, the total variance of φ, as a function of μ (infinite spaces with a closed
        inverse mean map; None otherwise), shape (C,); ``values``: :attr:`shared_forms` at ``mu``."""
        f = self._spread_function
        if f is None:
            return None
        return np.broadcast_to(values["spread"] if values is not None else f(*mu.T), mu.shape[:1])

    @functools.cached_property
    def _spread_function(self):
        form = None if self.finite else self.forms.get("spread_mu")
        return None if form is None else bound(form[0], self.mu_names)

    def vertex_phi(self, i: int) -> np.ndarray | None:
        """φ of the i-th absorbing point mass (:meth:`vertex_index` order); None on the continuum."""
        return self._vertices[i] if i < len(self._vertices) else None

    def level_vertex(self, level: int) -> int:
        """The absorbing point mass at a level (finite spaces), −1 if the level is none of them."""
        return int(self._level_vertex[level])

    def approached_label(self) -> str:
        """Label of the end an infinite family's collapsing chains approach (its first point mass)."""
        return self.labels()[0]

    def labels(self) -> list[str]:
        """SPEC labels of the absorbing states, indexed as :meth:`vertex_index` returns them."""
        return self._vertex_labels + self.continuum

    # Relative resolution below which a continuous family is numerically a point mass:
    # the sampled Σφ then carry fewer significant digits than the spread they encode.
    POINT_MASS_RTOL = 1e-12

    def on_continuum(self, mu: np.ndarray) -> np.ndarray:
        """Chains at (or, by rounding, beyond) the point-mass curve φ(s), s = μ1 (Gaussian: var 0)."""
        s, out = mu[:, 0], None
        with np.errstate(all="ignore"):
            for a, (takes_s, f) in enumerate(self._curve_raw, 1):  # φ1 = s is on the curve itself
                below = mu[:, a] - (f(s) if takes_s else f()) <= self.POINT_MASS_RTOL * np.abs(mu[:, a])
                out = below if out is None else out & below
        return np.ones(len(mu), bool) if out is None else out

    @functools.cached_property
    def _curve_raw(self):
        """(whether it reads s, compiled φ_a) for a = 2..d along the point-mass curve, without the
        errstate :attr:`_curve_functions` holds per call (:meth:`on_continuum` holds one)."""
        self._curve_functions  # noqa: B018  (checks the parametrisation)
        return [(bool(args), fn) for args, fn in self.forms.get("curve")[1:]]

    def project_to_continuum(self, mu: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Put chains flagged ``where`` exactly on the point-mass curve (no negative variance)."""
        out = mu.copy()
        out[where] = self._curve(mu[where, 0])
        return out

    def _curve(self, s: np.ndarray) -> np.ndarray:
        return np.stack([np.broadcast_to(f(s), s.shape) for f in self._curve_functions], axis=-1)

    @functools.cached_property
    def _curve_functions(self):
        """φ(s) along the point-mass curve, compiled once (evaluate() walks the expression per call)."""
        forms = self.forms.get("curve")
        if forms[0] != (("s",), None):
            raise NotImplementedError("point-mass curve must be parametrised by phi1 = s")
        return [bound(f, ("s",)) for f in forms]

    def lower_bounds(self) -> np.ndarray | None:
        """Finite mean-domain ends for one-statistic infinite families (Poisson: μ ≥ 0)."""
        if self.finite or self.d != 1 or not len(self._vertices):
            return None
        return self._vertices[:, 0]

    @functools.cached_property
    def mean_floor(self) -> float | None:
        """The lowest of :meth:`lower_bounds` (None without one): a refit's μ below it is rounding."""
        low = self.lower_bounds()
        return None if low is None else float(low.min())


def rows_all(x: np.ndarray) -> np.ndarray:
    """np.all(x, axis=-1) of a (C, d) boolean array, column by column: numpy reduces a short last
    axis one row at a time (10× slower at d = 2)."""
    out = x[:, 0].copy()
    for a in range(1, x.shape[1]):
        out &= x[:, a]
    return out


SEQUENTIAL_ROW = 8  # numpy adds a row shorter than this one value after the other (pairwise beyond)


def rows_sum(x: np.ndarray) -> np.ndarray:
    """np.sum(x, axis=-1) of a (C, L) array, bit for bit, column by column when L is short: numpy
    adds fewer than :data:`SEQUENTIAL_ROW` values in order from +0, ((0 + x0) + x1) + ..., but
    reduces a short last axis one row at a time (20× slower: 220 µs for 2·10⁴ rows of 3)."""
    L = x.shape[-1]
    if L >= SEQUENTIAL_ROW or x.ndim != 2:
        return x.sum(axis=-1)
    return added_in_order([x[:, a] for a in range(L)]) if L else np.zeros(len(x))


def added_in_order(parts) -> np.ndarray:
    """((+0 + p_0) + p_1) + … of equal-shape arrays (a sequence, or the rows of an array), a new
    array: the order numpy adds a row shorter than :data:`SEQUENTIAL_ROW` in, one pass a part."""
    out = np.add(parts[0], 0.0)
    for part in parts[1:]:
        out += part
    return out


def logsumexp(z: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log Σ e^z along ``axis``, shifted by the max (rows here always have a finite entry).

    A plain version: scipy's array-API wrapper costs more than the sum at our sizes.
    """
    m = np.max(z, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _component(form, names, values: np.ndarray) -> np.ndarray:
    """Evaluate one scalar form at each row of ``values`` (columns named ``names``)."""
    out = bound(form, names)(*(np.asarray(values[:, a], dtype=float) for a in range(len(names))))
    return np.broadcast_to(out, values.shape[:1]).astype(float)


def minimal_face(numeric: NumericFamily, support: np.ndarray, with_mask: bool = False):
    """Smallest face of the marginal polytope containing the levels in ``support`` (C, L).

    Every face is the intersection of the facets that contain it, so the face
    spanned by a sample is the intersection of the facets holding all its levels
    (the whole polytope when none does). The MLE lives on this face.
    """
    if support.all():  # every level in every sample (the usual case): the whole polytope, in one pass
        face = np.ones(support.shape, bool)
        mask = np.full(len(support), numeric.full_mask) if numeric.masks else None
        return (face, mask) if with_mask else face
    if numeric.saturated:  # a simplex: every set of its vertices (levels) spans a face
        if not with_mask:
            return support
        return support, numeric.face_mask(support) if numeric.masks else None
    facets = numeric.facets
    if numeric.masks:
        mask = minimal_face_mask(numeric, numeric.face_mask(support))
        if np.count_nonzero(mask != numeric.full_mask):
            face = numeric.mask_face(mask)
        else:  # every sample spans the whole polytope (no unpacking)
            face = np.ones(support.shape, bool)
        return (face, mask) if with_mask else face
    if numeric.d == 1:
        # a segment: its faces are the two end levels and the whole; no (C, F, L) temporaries
        # (a sample holds at least one level, so at most one end can hold all of it)
        face = np.ones_like(support)
        for end in facets:  # facets[0]: the lowest level(s), facets[1]: the highest
            only_here = ~(support & ~end).any(axis=-1)
            face[only_here] = end
        return (face, None) if with_mask else face
    contains = ~(support[:, None, :] & ~facets[None]).any(axis=-1)  # (C, F)
    face = np.all(~contains[:, :, None] | facets[None], axis=1)
    return (face, None) if with_mask else face


def minimal_face_mask(numeric: NumericFamily, support: np.ndarray) -> np.ndarray:
    """:func:`minimal_face` on bit masks (C,) uint64: the AND of the facets holding the support.

    A support of more levels than the widest facet holds lies in no facet (the whole polytope):
    only the others are looked at, against every facet at once (in blocks of rows)."""
    face = np.full(len(support), numeric.full_mask)
    few = np.flatnonzero(np.bitwise_count(support) <= numeric.widest_facet)
    if not len(few):
        return face
    facets = numeric.facet_masks
    outside = ~facets
    block = max(1, 2**20 // len(facets))  # rows of (rows, facets) temporaries (8 MB)
    for lo in range(0, len(few), block):
        rows = few if len(few) <= block else few[lo:lo + block]
        sub = support if len(rows) == len(support) else support[rows]
        # the facets holding each support (R, F), the full mask where one does not: ANDed
        holding = np.where((sub[:, None] & outside) == 0, facets, numeric.full_mask)
        face[rows] = np.bitwise_and.reduce(holding, axis=1)
    return face


@functools.lru_cache(maxsize=None)
def numeric_family(family: ExponentialFamily) -> NumericFamily:
    """The cached numeric view of ``family``."""
    return NumericFamily(family)
