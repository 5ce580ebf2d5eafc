"""Published claims, checked: ``closedloop claims`` (see :mod:`.registry` for what a claim is)."""

from . import report
from .records import CLAIMS
from .registry import FULL, QUICK, Budget, Citation, Claim, Evidence, Result
from .runner import run_claims, select

__all__ = ["CLAIMS", "FULL", "QUICK", "Budget", "Citation", "Claim", "Evidence", "Result", "report",
           "run_claims", "select"]
