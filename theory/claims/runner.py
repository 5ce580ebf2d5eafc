"""Running the registry: each claim in a worker process, one Šidák threshold over the registry."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..parallel import map_tasks
from ..stats import threshold
from .records import CLAIMS
from .registry import QUICK, Budget, Claim, Evidence, Result, evaluate


def run_claims(claims: list[Claim] | None = None, budget: Budget = QUICK, seed: int = 0,
               workers: int = 1) -> list[Result]:
    """Every claim of ``claims`` (default: the registry), on ``workers`` local processes (joblib);
    z* is Šidák over the registry's checkable claims, so a subset (``--only``) keeps the threshold.
    Only the claim's id and plain evidence cross processes (checks are closures)."""
    claims = CLAIMS if claims is None else claims
    z_star = threshold(sum(c.statistical for c in CLAIMS))
    done = map_tasks(_Task(budget, seed), [c.id for c in claims], workers=workers)
    return [Result(c, evidence, z_star, seconds, reason)
            for c, (evidence, seconds, reason) in zip(claims, done, strict=True)]


def select(only: list[str] | None) -> list[Claim]:
    """The claims whose id is, or starts with, one of ``only`` (a paper: ``dey-donoho2024``)."""
    if not only:
        return list(CLAIMS)
    if not all(i.strip() for i in only):
        raise InputError("--only: an empty claim id")
    return [c for c in CLAIMS if any(c.id.startswith(i) for i in only)]


@dataclass(frozen=True)
class _Task:
    """One claim by id, run in a worker (it looks the claim up in the registry there)."""

    budget: Budget
    seed: int

    def __call__(self, claim_id: str) -> tuple[Evidence | None, float, str]:
        return evaluate(next(c for c in CLAIMS if c.id == claim_id), self.budget, self.seed)
