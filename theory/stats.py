"""The one threshold every Monte Carlo verdict is read against (``closedloop validate`` and
``closedloop claims``): Šidák's z* over a run's K statistical comparisons at a family-wise rate."""

from __future__ import annotations

from scipy import stats

FAMILY_WISE_ALPHA = 1e-3  # probability that a correct toolkit fails a whole run


def threshold(n_checks: int, alpha: float = FAMILY_WISE_ALPHA) -> float:
    """z* with P(max_k |Z_k| > z*) = α for K independent standard normals (Šidák):
    z* = Φ⁻¹(1 − p/2), p = 1 − (1 − α)^(1/K)."""
    per_check = 1.0 - (1.0 - alpha) ** (1.0 / max(n_checks, 1))
    return float(stats.norm.isf(per_check / 2))
