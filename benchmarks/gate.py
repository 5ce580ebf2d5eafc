"""The benchmark gate: the engine's cost per generation against the floor's, measured in one run.

    python benchmarks/gate.py            # print the ratios and the gate's verdict
    (tests/test_bench_gate.py runs the same gate in the default suite)

A ratio (engine time / floor time per generation, ``bench_floor``'s differenced CPU times,
alternated, best of the repeats) is compared with the reference ratio measured when the engine
was last tuned (``REFERENCE``): the gate fails when a case has become more than ``FACTOR`` times
slower relative to its floor. Never an absolute time: a slower or busier machine slows engine
and floor alike.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

FACTOR = 2.0  # a regression the gate catches: twice the reference ratio
CHAINS = 20_000
SHORT = 20    # generations 21..40 are differenced against 1..20
REPEATS = 3
# case label of bench_floor.CASES, regime -> engine/floor ratio per generation at 20 000 chains
# against the floor that does the run's job (every observable's mean and variance over chains,
# the collapse marks; bench_floor's docstring), from the full table of docs/performance.md
# (2026-12-06, main 6e14be1: 0.96, 1.10, 1.67, 1.70, 1.30 short; gate.py the same hour: 0.97,
# 1.15, 1.63, 1.55, 1.25); against the bare floor they were 1.06, 1.25, 1.5, 1.7, 1.4. Gaussian
# replace after its kernels (same day): 1.33 in gate.py, 1.31 in bench_floor. The
# categorical's after its levels-major block (same day: 1.12, 1.16 in two gate runs;
# main dc978cc 1.27, 1.29 alternated with them).
REFERENCE = {("bernoulli", "replace"): 1.0, ("bernoulli", "accumulate"): 1.1,
             ("categorical (K=3)", "replace"): 1.15, ("gaussian", "replace"): 1.35,
             ("poisson", "accumulate"): 1.3}


def bench_floor():
    """benchmarks/bench_floor.py as a module, the process environment left as it was (the
    script pins BLAS threads for its own process only)."""
    before = dict(os.environ)
    path = Path(__file__).with_name("bench_floor.py")
    spec = importlib.util.spec_from_file_location("bench_floor", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(before)
    return module


def ratios(chains: int = CHAINS, repeats: int = REPEATS) -> dict[tuple[str, str], float]:
    """(case, regime) -> measured engine/floor ratio per generation, for every REFERENCE case."""
    bench = bench_floor()
    cases = {case[0]: case for case in bench.CASES}
    out = {}
    for label, regime in REFERENCE:
        best = bench.best_times(cases[label], regime, chains, (SHORT, 2 * SHORT), repeats, floors=("full",))
        engine, floor = bench.per_generation(best, SHORT, 2 * SHORT)
        out[label, regime] = engine / floor
    return out


def regressions(measured: dict[tuple[str, str], float]) -> list[str]:
    """The cases slower than FACTOR × their reference ratio, described."""
    return [f"{label} {regime}: engine/floor {r:.2f}, reference {REFERENCE[label, regime]:.2f}"
            for (label, regime), r in measured.items() if r > FACTOR * REFERENCE[label, regime]]


if __name__ == "__main__":
    measured = ratios()
    for (label, regime), r in measured.items():
        print(f"{label:20} {regime:10} {r:6.2f}  (reference {REFERENCE[label, regime]:.2f})")
    bad = regressions(measured)
    print("gate: " + ("FAIL\n  " + "\n  ".join(bad) if bad else f"pass (each within {FACTOR:g}x its reference)"))
    sys.exit(1 if bad else 0)
