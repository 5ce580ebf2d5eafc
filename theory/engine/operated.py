"""The sampling operator on the engine's side: a generation's model points drawn through it.

The operator (:mod:`theory.operator`) acts on the model's M_t − M0 points only; anchors, fresh
external points and fixed data are drawn or added as they are (engine.loop).

* Finite spaces, on the level probabilities p_k = f(k|θ) (restricted to the model's face):
  temperature on configurations, p_k ∝ mult_k (p_k/mult_k)^{1/T} (mult_k: the family's declared
  multiplicity, C(N, k) for Curie–Weiss, else 1); then top-k, the K most probable levels; then
  top-p, the smallest most-probable set of levels whose mass reaches P (within
  :data:`MASS_TOL`), each renormalised. Truncation ranks **levels** by their probability (for
  Curie–Weiss a level's probability sums its C(N, k) configurations'), ties broken by the lower
  level first. Exact: Multinomial(m, operated p); naive: m levels by inverse CDF.
* Infinite spaces, under a temperature that keeps the model in its family
  (:func:`theory.operator.tempered_shift`): the member at θ/T + (1/T − 1) b, drawn with the
  family's sum sampler (Gaussian: variance × T; exponential: rate / T).
* Selection: ⌈m/FRACTION⌉ points drawn from the (tempered) model, the m with the largest
  statistic kept: ``abs_deviation`` |φ1(x) − μ1(θ)| (μ1 the fitted model's mean, before any
  temperature), ``largest`` φ1(x), ``smallest`` −φ1(x); ties broken by the lower φ1 (the lower
  level) first. Exact on a finite space: the drawn level counts, the levels taken in that order
  until m points are kept; naive and on infinite spaces: the points drawn and sorted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from .. import symbols as S
from ..errors import InputError
from ..family import ExponentialFamily
from ..operator import Operator, tempered_shift
from .model import NumericFamily
from .sampling import canonical, draw_exact, draw_points, draw_points_naive, level_counts

MASS_TOL = 1e-12  # top-p: a cumulative mass within this relative distance below P reaches P


class Operated:
    """The draws of one family's model points through ``operator`` (see the module docstring)."""

    def __init__(self, numeric: NumericFamily, operator: Operator):
        self.numeric, self.operator = numeric, operator
        family = numeric.family
        assert isinstance(family, ExponentialFamily), "an operated loop is built from the declared family"
        self.T = operator.temperature
        if numeric.finite:
            mult = family.multiplicity
            self.log_mult = np.zeros(len(numeric.levels)) if mult is None else np.array(
                [float(sp.log(mult.subs(S.s, int(v)))) for v in numeric.levels])
        elif self.T is not None:
            shift = tempered_shift(family)
            if shift is None:  # the Setting refuses it first (Operator.check)
                raise InputError(f"--temperature takes {family.title}'s model out of its family")
            self.shift = np.array([float(b) for b in shift])

    # -- the operated model ---------------------------------------------------------------------
    def probabilities(self, theta: np.ndarray, face: np.ndarray | None) -> np.ndarray:
        """Operated level probabilities (C, L), canonical (44 bits, as ``sampling.pvals``)."""
        z = self.numeric.logits(theta, face)
        if self.T is not None:  # per configuration: log mult + (log p − log mult)/T, −∞ stays −∞
            z = self.log_mult + (z - self.log_mult) / self.T
        with np.errstate(invalid="ignore"):
            q = np.exp(z - z.max(axis=-1, keepdims=True))
        q /= q.sum(axis=-1, keepdims=True)
        if self.operator.truncates:
            q = self._truncate(q)
        return canonical(q / q.sum(axis=-1, keepdims=True))

    def _truncate(self, q: np.ndarray) -> np.ndarray:
        """Top-k then top-p of level probabilities (C, L), renormalised; ties: the lower level first."""
        order = np.argsort(-q, axis=-1, kind="stable")  # most probable first, stable: lower level first
        ranked = np.take_along_axis(q, order, axis=-1)
        keep = np.ones(q.shape, bool)
        if self.operator.top_k is not None:
            keep[:, self.operator.top_k:] = False
            ranked = np.where(keep, ranked, 0.0)
            ranked /= ranked.sum(axis=-1, keepdims=True)
        if self.operator.top_p is not None:
            reached = np.cumsum(ranked, axis=-1) >= self.operator.top_p * (1 - MASS_TOL)
            kept = reached.argmax(axis=-1) + 1  # the first rank whose cumulative mass reaches P, included
            keep &= np.arange(q.shape[1]) < kept[:, None]
        mask = np.zeros(q.shape, bool)
        np.put_along_axis(mask, order, keep, axis=-1)
        return np.where(mask, q, 0.0)

    def support(self, theta: np.ndarray, face: np.ndarray | None) -> np.ndarray:
        """The levels the operated model can draw, (C, L) booleans."""
        return self.probabilities(theta, face) > 0

    def tempered_mu(self, mu: np.ndarray) -> np.ndarray:
        """Infinite spaces: μ of the model drawn from, μ(θ/T + (1/T − 1) b) under a temperature
        (a point mass stays itself), else μ."""
        if self.T is None:
            return mu
        nf = self.numeric
        theta = nf.theta_closed_form(mu)
        if theta is None:  # the loop refuses it first
            raise InputError(f"--temperature on {nf.family.title} needs a closed-form inverse mean map")
        with np.errstate(all="ignore"):
            tempered = nf.mu(theta / self.T + (1 / self.T - 1) * self.shift)
        ok = np.all(np.isfinite(tempered), axis=-1, keepdims=True)
        return np.where(ok, tempered, mu)

    # -- selection ------------------------------------------------------------------------------
    def _statistic(self, phi1: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """The selection statistic of points whose φ1 is ``phi1`` (C, n), models' means ``mu``."""
        by = self.operator.by
        if by == "abs_deviation":
            return np.abs(phi1 - mu[:, :1])
        return phi1 if by == "largest" else -phi1

    def _kept(self, phi1: np.ndarray, mu: np.ndarray, m: int) -> np.ndarray:
        """Indices (C, m) of the m points kept of each chain's points whose φ1 is ``phi1`` (C, n):
        the largest statistic first, ties the lower φ1 first."""
        order = np.lexsort((phi1, -self._statistic(phi1, mu)), axis=-1)
        return order[:, :m]

    def select_counts(self, counts: np.ndarray, mu: np.ndarray, m: int) -> np.ndarray:
        """Level counts (C, L) of the m points kept of drawn level counts ``counts``: the levels in
        the order of their statistic (ties: the lower level first), each taken until m are kept."""
        phi1 = np.broadcast_to(self.numeric.phi_levels[:, 0], counts.shape)
        order = self._kept(phi1, mu, counts.shape[1])
        ranked = np.take_along_axis(counts, order, axis=-1)
        before = np.cumsum(ranked, axis=-1) - ranked
        kept = np.zeros_like(counts)
        np.put_along_axis(kept, order, np.clip(m - before, 0, ranked), axis=-1)
        return kept

    # -- draws ----------------------------------------------------------------------------------
    def draw(self, theta, mu, face, m: int, rng: np.random.Generator, naive: bool = False):
        """(Σφ, level counts or None) of each chain's m model points through the operator; shapes
        (C, d), (C, L). Exact: one multinomial (finite), the family's sum sampler (infinite);
        ``naive``: the points one by one."""
        nf, n = self.numeric, self.operator.drawn(m)
        selects = self.operator.select is not None
        if nf.finite:
            if naive:
                counts = level_counts(self.levels(theta, mu, face, m, rng), len(nf.levels))
            else:
                counts = rng.multinomial(n, self.probabilities(theta, face))
                if selects:
                    counts = self.select_counts(counts, mu, m)
            return counts @ nf.phi_levels, counts
        if selects or naive:
            return self.points(mu, m, rng, naive).sum(axis=1), None
        return draw_exact(nf, None, self.tempered_mu(mu), None, m, rng)

    def levels(self, theta, mu, face, m: int, rng: np.random.Generator) -> np.ndarray:
        """The level of each of the m kept points per chain, drawn one by one by inverse CDF of the
        operated probabilities (and, under selection, sorted), shape (C, m)."""
        cdf = np.cumsum(self.probabilities(theta, face), axis=-1)
        u = rng.random((len(cdf), self.operator.drawn(m)))
        drawn = np.minimum((u[:, :, None] >= cdf[:, None, :]).sum(-1), cdf.shape[1] - 1)
        if self.operator.select is None:
            return drawn
        phi1 = self.numeric.phi_levels[drawn, 0]
        return np.take_along_axis(drawn, self._kept(phi1, mu, m), axis=-1)

    def points(self, mu, m: int, rng: np.random.Generator, naive: bool = False) -> np.ndarray:
        """φ of each of the m kept points per chain (infinite spaces), shape (C, m, d): drawn from
        the (tempered) model, all at once or (``naive``) one by one, and under selection sorted."""
        draw = draw_points_naive if naive else draw_points
        points = draw(self.numeric, self.tempered_mu(mu), self.operator.drawn(m), rng)
        if self.operator.select is None:
            return points
        kept = self._kept(points[:, :, 0], mu, m)
        return np.take_along_axis(points, kept[:, :, None], axis=1)
