"""Monte Carlo engine: the closed loop simulated exactly (one draw of Σφ per generation)."""

from .loop import ClosedLoop, Run
from .model import NumericFamily, numeric_family
from .state import State

__all__ = ["ClosedLoop", "NumericFamily", "Run", "State", "numeric_family"]
