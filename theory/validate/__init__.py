"""Validation: every derived closed form against Monte Carlo, with honest statistics."""

from .checks import NOT_CHECKED, all_checks
from . import report
from .registry import FULL, QUICK, Budget, Check, Outcome, Result, run_checks

__all__ = ["FULL", "NOT_CHECKED", "report", "QUICK", "Budget", "Check", "Outcome", "Result", "all_checks",
           "run_checks"]
