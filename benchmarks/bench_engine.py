"""Chain-generations per second of the exact and the naive sampler, measured in one run.

    python benchmarks/bench_engine.py [--quick]

Exact: one draw of the sufficient statistics per generation (multinomial level
counts, or the family's sum sampler). Naive: draw all M points and sum φ. Both
run the same refit, from the same interior start, for a few generations (too few
for absorption to freeze chains), so the ratio is the cost of sampling M points.
Prints a Markdown table (the one in docs/performance.md).
"""

from __future__ import annotations

import argparse
import time

from theory.params import from_params

# (family, family args, init, fixed): Curie–Weiss with theta2 held at 0 draws its sum as one binomial
CASES = [("bernoulli", {}, {"p": 0.3}, {}), ("gaussian", {}, {"mean": 1.0, "var": 2.0}, {}),
         ("curie_weiss", {"N": 20}, {"theta1": 0.05, "theta2": 0.02}, {}),
         ("curie_weiss", {"N": 20}, {"theta1": 0.05, "theta2": 0.0}, {"theta2": 0.0})]


def rate(family, args, init, M, sampler, chains, generations, fixed=None) -> float:
    """Chain-generations per second (best of 3 repeats, to damp machine noise)."""
    loop = from_params(family, M, init, family_args=args, sampler=sampler, fixed=fixed)
    loop.run(1, min(chains, 10), seed=0)  # compile the lambdified expressions first
    best = float("inf")
    for rep in range(3):
        t0 = time.perf_counter()
        loop.run(generations, chains, seed=rep)
        best = min(best, time.perf_counter() - t0)
    return chains * generations / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer chains (a smoke run)")
    a = p.parse_args()
    scale = 0.1 if a.quick else 1.0
    print("| family | M | exact (chain-gen/s) | naive (chain-gen/s) | exact/naive |")
    print("|---|---:|---:|---:|---:|")
    for family, args, init, fixed in CASES:
        for M in (100, 1000, 10_000):
            exact = rate(family, args, init, M, "exact", int(20_000 * scale), 10, fixed)
            naive_chains = max(10, int(scale * 2_000_000 / M / (20 if family == "curie_weiss" else 1)))
            naive = rate(family, args, init, M, "naive", naive_chains, 3, fixed)
            name = family + (f" (N={args['N']}" + "".join(f", {k}={v:g}" for k, v in fixed.items())
                             + ")" if args else "")
            print(f"| {name} | {M} | {exact:,.0f} | {naive:,.0f} | {exact / naive:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
