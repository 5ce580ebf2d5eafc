"""The one threshold every Monte Carlo verdict is read against (``closedloop validate`` and
``closedloop claims``): Šidák's z* over a run's K statistical comparisons at a family-wise rate;
and the two statistics both read against it, a chains' mean with its standard error and a z-score."""

from __future__ import annotations

import numpy as np
from scipy import stats

FAMILY_WISE_ALPHA = 1e-3  # probability that a correct toolkit fails a whole run


def threshold(n_checks: int, alpha: float = FAMILY_WISE_ALPHA) -> float:
    """z* with P(max_k |Z_k| > z*) = α for K independent standard normals (Šidák):
    z* = Φ⁻¹(1 − p/2), p = 1 − (1 − α)^(1/K)."""
    per_check = 1.0 - (1.0 - alpha) ** (1.0 / max(n_checks, 1))
    return float(stats.norm.isf(per_check / 2))


def z_score(estimate: float, prediction: float, sem: float) -> float:
    """(estimate − prediction) / sem; an exact match with zero noise is z = 0."""
    diff = estimate - prediction
    if sem > 0:
        return float(diff / sem)
    return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)


def mean_sem(x: np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error over independent chains."""
    x = np.asarray(x, float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))
