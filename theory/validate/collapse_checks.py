"""Collapse in simulation against Eq. 18's normalisability, setting by setting.

R9.stationary decides whether the stationary law of a setting is normalisable (the
Diaconis–Ylvisaker conditions); when it is not, the loop collapses. Each case below runs
the engine and reads the ``collapsed`` observable (:mod:`theory.engine.collapse`): a
setting reported not normalisable must have collapsed in at least 99 % of its chains by
generation T, a normalisable one in none. The cases cover every family, the pure loop,
fixed data on a face and inside, fresh points, priors in θ and in a conventional
parameter (flat and proper). Control: the opposite verdict, which the same run must reject.
"""

from __future__ import annotations

from ..params import from_params
from ..store import derivation
from .registry import Budget, Check, Outcome, run_seed
from .stats import seeded

MIN_COLLAPSED = 0.99  # by generation T, of the chains of a setting that is not normalisable

# (family, family args, fixed, init, truth, fresh points, fixed data, prior, M, T)
CASES = (
    ("bernoulli", {}, {}, {"p": 0.3}, None, 0, [], None, 20, 400),
    ("bernoulli", {}, {}, {"p": 0.3}, None, 0, [], "beta:a=1,b=1,on=p", 20, 400),
    ("bernoulli", {}, {}, {"p": 0.3}, None, 0, [], "beta:a=2,b=2,on=p", 20, 400),
    ("bernoulli", {}, {}, {"p": 0.3}, None, 0, [{"phi1": 1}], None, 20, 400),
    ("bernoulli", {}, {}, {"p": 0.3}, {"p": 0.3}, 1, [], None, 20, 400),
    ("bernoulli", {}, {}, {"p": 0.3}, None, 0, [], "normal:var=2", 20, 400),
    ("binomial", {"n": 4}, {}, {"p": 0.3}, None, 0, [], None, 20, 1000),
    ("binomial", {"n": 4}, {}, {"p": 0.3}, None, 0, [{"phi1": 2}], None, 20, 400),
    ("poisson", {}, {}, {"rate": 1}, None, 0, [], None, 5, 4000),  # critical Galton–Watson: P(alive at t) ≈ 2Mϑ0/t = 0.25 %
    ("poisson", {}, {}, {"rate": 1}, None, 0, [], "exponential:rate=1,on=rate", 20, 400),
    ("poisson", {}, {}, {"rate": 1}, {"rate": 1}, 1, [], "exponential:rate=1,on=rate", 20, 400),
    ("poisson", {}, {}, {"rate": 1}, None, 0, [{"phi1": 2}], None, 20, 400),
    ("poisson", {}, {}, {"rate": 1}, None, 0, [{"phi1": 0}], None, 20, 400),
    ("exponential", {}, {}, {"rate": 1}, None, 0, [], None, 5, 1000),
    ("exponential", {}, {}, {"rate": 1}, {"rate": 1}, 1, [], None, 5, 1000),
    ("exponential", {}, {}, {"rate": 1}, None, 0, [{"phi1": 1}], None, 5, 1000),
    ("gaussian", {}, {}, {"mean": 0, "var": 1}, None, 0, [], None, 5, 1000),
    ("gaussian", {}, {}, {"mean": 0, "var": 1}, {"mean": 0, "var": 1}, 1, [], None, 5, 400),
    ("gaussian", {}, {}, {"mean": 0, "var": 1}, None, 0, [], "normal:var=2", 5, 200),
    ("categorical", {"K": 3}, {}, {"p1": 0.3, "p2": 0.3}, None, 0, [], None, 20, 400),
    ("categorical", {"K": 3}, {}, {"p1": 0.3, "p2": 0.3}, None, 0, [], "normal:var=2", 20, 200),
    ("categorical", {"K": 3}, {}, {"p1": 0.3, "p2": 0.3}, None, 0, [{"s": 1}], None, 20, 400),
    ("curie_weiss", {"N": 6}, {}, {"theta1": 0.0, "theta2": 0.0}, None, 0, [{"phi1": 0}], None, 20, 2000),
    ("curie_weiss", {"N": 6}, {}, {"theta1": 0.0, "theta2": 0.0}, None, 0, [{"phi1": 0}],
     "normal:var=2", 20, 200),
    ("curie_weiss", {"N": 10}, {"theta2": 0.0}, {"theta1": 0.0}, None, 0, [{"phi1": -6}], None, 50, 1000),
    ("curie_weiss", {"N": 6}, {"theta2": 0.0}, {"theta1": 0.0}, None, 0, [], None, 20, 1000),
)


def case_loop(case):
    """The :class:`~theory.engine.loop.ClosedLoop` of a case and its T."""
    name, args, fixed, init, truth, fresh, data, prior, M, T = case
    return from_params(name, M, init, truth=truth, fixed=fixed, family_args=args, external=fresh,
                       data=data, prior_law=prior), T


def agrees(normalisable: bool | None, fraction: float) -> bool:
    """Whether a collapsed fraction is the verdict's: ≥ MIN_COLLAPSED if not normalisable, 0 if it is."""
    if normalisable is None:
        return False
    return fraction == 0.0 if normalisable else fraction >= MIN_COLLAPSED


def collapse_check(case) -> Check:
    loop, T = case_loop(case)

    def compute(budget: Budget, rng) -> Outcome:
        verdict = derivation("R9.stationary", loop.setting).result.get("normalisable")
        run = loop.run(T, budget.collapse_chains, seed=seeded(run_seed(), "collapse", repr(case)))
        c = run.collapsed()
        kinds = ", ".join(f"{k} {v:.3g}" for k, v in c["by_kind"].items() if v)
        return Outcome(0.0 if verdict else 1.0, c["fraction"], 0.0, None,
                       f"the opposite verdict (normalisable={not verdict})", None,
                       f"normalisable={verdict}; collapsed {c['fraction']:.3f} of "
                       f"{budget.collapse_chains} chains by t={T}" + (f" ({kinds})" if kinds else ""),
                       passed=agrees(verdict, c["fraction"]),
                       control_rejected=verdict is not None and not agrees(not verdict, c["fraction"]))

    return Check("R9.stationary", loop.family.slug, f"collapsed iff not normalisable, "
                 f"{loop.setting.label}, M={loop.M}, t={T}", "deterministic", compute)


def collapse_checks() -> list[Check]:
    return [collapse_check(case) for case in CASES]
