"""The engine against the floor: chain-generations per second of ``ClosedLoop.run`` and of a bare
vectorised NumPy loop for the same setting, measured in one run, alternating.

    python benchmarks/bench_floor.py [--quick]

The floor is the least a vectorised implementation must do per generation: draw
the sufficient statistics of every chain from their exact law (one binomial,
Poisson, Gamma or normal + χ² draw), refit by moment matching, and take the mean
and variance over chains (``run`` accumulates those for its time averages). The
project does the same plus what a general engine needs: faces and absorption,
natural parameters, conventional parameters, bookkeeping. Both run the pure MLE
loop from the same interior start for a few generations (too few for absorption
to freeze chains). Project and floor are timed alternately, best of ``REPEATS``
each, so a slow spell of a shared machine hits both. Prints a Markdown table
(the one in the README); ratio = floor rate / project rate (how many times
slower the project is).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from theory.engine.loop import from_params

REPEATS = 5


def floor_bernoulli(n):
    """Bernoulli (n = 1), binomial n, Curie–Weiss with θ2 = 0 (n = N): p' = Binomial(n M, p)/(n M)."""
    def run(M, chains, generations, p0, rng):
        p = np.full(chains, p0)
        for _ in range(generations):
            p = rng.binomial(n * M, p) / (n * M)
            p.mean(), p.var(ddof=1)
        return p
    return run


def floor_poisson(M, chains, generations, rate0, rng):
    mu = np.full(chains, rate0)
    for _ in range(generations):
        mu = rng.poisson(M * mu) / M
        mu.mean(), mu.var(ddof=1)
    return mu


def floor_exponential(M, chains, generations, mean0, rng):
    mu = np.full(chains, mean0)
    for _ in range(generations):
        mu = rng.gamma(M, mu) / M
        mu.mean(), mu.var(ddof=1)
    return mu


def floor_gaussian(M, chains, generations, start, rng):
    mean, var = np.full(chains, start[0]), np.full(chains, start[1])
    for _ in range(generations):
        total = rng.normal(M * mean, np.sqrt(M * var))
        squares = var * rng.chisquare(M - 1, size=chains)
        mean, var = total / M, squares / M
        mean.mean(), mean.var(ddof=1), var.mean(), var.var(ddof=1)
    return mean, var


# (label, family, family args, fixed, init, floor, floor start)
CASES = [
    ("bernoulli", "bernoulli", {}, {}, {"p": 0.3}, floor_bernoulli(1), 0.3),
    ("binomial (n=10)", "binomial", {"n": 10}, {}, {"p": 0.3}, floor_bernoulli(10), 0.3),
    ("poisson", "poisson", {}, {}, {"rate": 2.0}, floor_poisson, 2.0),
    ("exponential", "exponential", {}, {}, {"rate": 0.5}, floor_exponential, 2.0),
    ("gaussian", "gaussian", {}, {}, {"mean": 1.0, "var": 2.0}, floor_gaussian, (1.0, 2.0)),
    ("curie_weiss (N=20, θ2=0)", "curie_weiss", {"N": 20}, {"theta2": 0},
     {"theta1": 0.05, "theta2": 0}, floor_bernoulli(20), 1 / (1 + np.exp(-0.1))),
]


def measure(case, M: int, chains: int, generations: int) -> tuple[float, float]:
    """(project, floor) chain-generations per second, best of REPEATS alternating runs."""
    _, family, args, fixed, init, floor, start = case
    loop = from_params(family, M, init, family_args=args, fixed=fixed)
    loop.run(1, 10, seed=0)  # compile the lambdified expressions first
    floor(M, 10, 1, start, np.random.default_rng(0))
    best_project = best_floor = float("inf")
    for rep in range(REPEATS):
        t0 = time.perf_counter()
        loop.run(generations, chains, seed=rep)
        best_project = min(best_project, time.perf_counter() - t0)
        t0 = time.perf_counter()
        floor(M, chains, generations, start, np.random.default_rng(rep))
        best_floor = min(best_floor, time.perf_counter() - t0)
    work = chains * generations
    return work / best_project, work / best_floor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer chains (a smoke run)")
    p.add_argument("--chains", type=int, default=20_000)
    p.add_argument("--generations", type=int, default=20)
    a = p.parse_args()
    chains = a.chains // 10 if a.quick else a.chains
    print("| family | M | project (chain-gen/s) | floor (chain-gen/s) | floor/project |")
    print("|---|---:|---:|---:|---:|")
    for case in CASES:
        for M in (100, 1000, 10_000):
            project, floor = measure(case, M, chains, a.generations)
            print(f"| {case[0]} | {M} | {project:,.0f} | {floor:,.0f} | {floor / project:.1f} |", flush=True)


if __name__ == "__main__":
    main()
