"""Monte Carlo engine: the closed loop simulated exactly (one draw of Σφ per generation)."""

from .estimators import L2, MAP, MLE, make_estimator
from .loop import ClosedLoop, Run, State
from .model import NumericFamily, numeric_family

__all__ = ["L2", "MAP", "MLE", "ClosedLoop", "NumericFamily", "Run", "State", "make_estimator",
           "numeric_family"]
