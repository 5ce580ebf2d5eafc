"""The engine against the floor: chain-generations per second of ``ClosedLoop.run`` and of a bare
vectorised NumPy loop for the same setting, measured in one run, alternating.

    python benchmarks/bench_floor.py [--quick] [--only LABEL]

The floor is the least a vectorised implementation must do per generation: draw
the sufficient statistics of every chain from their exact law (one binomial,
Poisson, Gamma or normal + χ² draw; a multinomial over the levels for categorical
and Curie–Weiss with θ2 ≠ 0), refit (moment matching; for Curie–Weiss a batched
Newton to the project's tolerance, levels-major with 2×2 systems in closed form),
and take the mean and variance over chains (``run`` accumulates those for its time
averages). The project does the same plus what a general engine needs: faces and
absorption, natural parameters, conventional parameters, bookkeeping. Both run the
pure MLE loop from the same interior start for a few generations (too few for
absorption to freeze chains). Project and floor are timed alternately in CPU time
of this process (one BLAS thread), best of ``REPEATS`` each, so a slow spell of a
shared machine hits both. Prints a Markdown table (the one in docs/performance.md); ratio =
floor rate / project rate (how many times slower the project is). With θ2 held at
0.3 the floor still refits every chain by Newton while the project looks the refit up
on the lattice of sums (tabulated once per visited total), so it can beat that floor.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: before numpy loads its BLAS

import time

import numpy as np

from theory.params import from_params

REPEATS = 5
clock = time.process_time  # CPU time of this process: a shared machine's other jobs do not count


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


def floor_categorical(M, chains, generations, p0, rng):
    """Categorical: level counts ~ Multinomial(M, p), p' = counts / M."""
    p = np.tile(p0, (chains, 1))
    for _ in range(generations):
        p = rng.multinomial(M, p) / M
        p.mean(axis=0), p.var(axis=0, ddof=1)
    return p


def floor_curie_weiss(N, theta2=None, tol=1e-10):
    """Curie–Weiss N spins, θ fitted (θ2 too if ``theta2`` is None): level counts ~ Multinomial(M,
    f(·|θ)) over the N + 1 magnetisations, then Newton from the previous θ, all chains at once,
    until |μ(θ) − φ̄| ≤ tol·(range of φ), the project's tolerance (no faces: the benchmark
    runs too few generations for a sample to sit on one). As lean as the project: arrays
    levels-major (sums over levels are vectorised passes) and 2×2 systems solved in closed form."""
    s = np.arange(N + 1)
    m = 2.0 * s - N
    phi = np.stack([m, (m**2 - N) / (2 * N)], axis=1)
    log_h = np.array([float(np.sum(np.log(np.arange(1, N + 1))) - np.sum(np.log(np.arange(1, k + 1)))
                      - np.sum(np.log(np.arange(1, N - k + 1)))) for k in s])
    if theta2 is not None:  # θ2 held: its term moves into the base measure
        log_h, phi = log_h + theta2 * phi[:, 1], phi[:, :1]
    scale = np.ptp(phi, axis=0)
    d = phi.shape[1]
    outer = np.einsum("la,lb->lab", phi, phi).reshape(len(s), d * d)

    def probabilities(theta):  # (L, C)
        z = log_h[:, None] + phi @ theta.T
        q = np.exp(z - z.max(axis=0))
        return q / q.sum(axis=0)

    def run(M, chains, generations, theta0, rng):
        theta = np.tile(theta0, (chains, 1))
        for _ in range(generations):
            tau = rng.multinomial(M, probabilities(theta).T) @ phi / M
            while True:
                q = probabilities(theta)
                mu = (phi.T @ q).T
                grad = mu - tau
                if np.all(np.abs(grad) <= tol * scale):
                    break
                chi = (outer.T @ q).T.reshape(-1, d, d) - mu[:, :, None] * mu[:, None, :]
                if d == 1:
                    theta = theta - grad / chi[:, 0]
                else:
                    a, b, e = chi[:, 0, 0], chi[:, 0, 1], chi[:, 1, 1]
                    det = a * e - b * b
                    theta = theta - np.stack([(e * grad[:, 0] - b * grad[:, 1]) / det,
                                              (a * grad[:, 1] - b * grad[:, 0]) / det], axis=1)
            theta.mean(axis=0), theta.var(axis=0, ddof=1), tau.mean(axis=0), tau.var(axis=0, ddof=1)
        return theta
    return run


# (label, family, family args, fixed, init, floor, floor start)
CASES = [
    ("bernoulli", "bernoulli", {}, {}, {"p": 0.3}, floor_bernoulli(1), 0.3),
    ("binomial (n=10)", "binomial", {"n": 10}, {}, {"p": 0.3}, floor_bernoulli(10), 0.3),
    ("poisson", "poisson", {}, {}, {"rate": 2.0}, floor_poisson, 2.0),
    ("exponential", "exponential", {}, {}, {"rate": 0.5}, floor_exponential, 2.0),
    ("gaussian", "gaussian", {}, {}, {"mean": 1.0, "var": 2.0}, floor_gaussian, (1.0, 2.0)),
    ("curie_weiss (N=20, θ2=0)", "curie_weiss", {"N": 20}, {"theta2": 0},
     {"theta1": 0.05, "theta2": 0}, floor_bernoulli(20), 1 / (1 + np.exp(-0.1))),
    ("categorical (K=3)", "categorical", {"K": 3}, {}, {"p1": 0.2, "p2": 0.3, "p3": 0.5},
     floor_categorical, np.array([0.2, 0.3, 0.5])),
    ("curie_weiss (N=20, θ2=0.3 fixed)", "curie_weiss", {"N": 20}, {"theta2": 0.3},
     {"theta1": 0.05, "theta2": 0.3}, floor_curie_weiss(20, theta2=0.3), np.array([0.05])),
    ("curie_weiss (N=20, θ fitted)", "curie_weiss", {"N": 20}, {}, {"theta1": 0.05, "theta2": 0.3},
     floor_curie_weiss(20), np.array([0.05, 0.3])),
]


def measure(case, M: int, chains: int, generations: int) -> tuple[float, float]:
    """(project, floor) chain-generations per second, best of REPEATS alternating runs."""
    _, family, args, fixed, init, floor, start = case
    loop = from_params(family, M, init, family_args=args, fixed=fixed)
    loop.run(1, 10, seed=0)  # compile the lambdified expressions first
    floor(M, 10, 1, start, np.random.default_rng(0))
    best_project = best_floor = float("inf")
    for rep in range(REPEATS):
        t0 = clock()
        loop.run(generations, chains, seed=rep)
        best_project = min(best_project, clock() - t0)
        t0 = clock()
        floor(M, chains, generations, start, np.random.default_rng(rep))
        best_floor = min(best_floor, clock() - t0)
    work = chains * generations
    return work / best_project, work / best_floor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer chains (a smoke run)")
    p.add_argument("--chains", type=int, default=20_000)
    p.add_argument("--generations", type=int, default=20)
    p.add_argument("--only", help="run the families whose label contains this")
    a = p.parse_args()
    chains = a.chains // 10 if a.quick else a.chains
    print("| family | M | project (chain-gen/s) | floor (chain-gen/s) | floor/project |")
    print("|---|---:|---:|---:|---:|")
    for case in CASES:
        if a.only and a.only not in case[0]:
            continue
        for M in (100, 1000, 10_000):
            project, floor = measure(case, M, chains, a.generations)
            print(f"| {case[0]} | {M} | {project:,.0f} | {floor:,.0f} | {floor / project:.1f} |", flush=True)


if __name__ == "__main__":
    main()
