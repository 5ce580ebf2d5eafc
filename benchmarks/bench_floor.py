"""The engine against the floor: CPU time per generation of ``ClosedLoop.run`` and of a bare
vectorised NumPy loop for the same setting, measured in one run, alternating.

    python benchmarks/bench_floor.py [--quick] [--only LABEL] [--regime R] [--chains C ...]

The floor is the least a vectorised implementation must do per generation: draw the
sufficient statistics of every chain from their exact law (one binomial, Poisson, Gamma or
normal + χ² draw; a multinomial over the levels for categorical and Curie–Weiss with
θ2 ≠ 0), refit (moment matching; for Curie–Weiss a batched Newton to the project's
tolerance, levels-major with 2×2 systems in closed form), and sum the parameters and
their squares over chains (``run`` keeps means and variances over chains for its time
averages). Under the pooled regimes a chain also carries its pool: ``accumulate`` refits on
the running pool sum of the statistics (one addition per chain), ``subsample`` on a finite
space draws n_t of the pool's points without replacement from its level counts (a
hypergeometric draw per level but the last). Subsample on an infinite space keeps every point
of every pool (memory grows as chains × generations × M): not measured here.

Cost per generation is differenced: a run of ``SHORT`` generations is subtracted from one of
2·SHORT (the first generations, "short") and from one of ``LONG`` generations ("long": the
same chains run on, most of them absorbed in the replace loop, the pools growing in the
others), so start-up and compilation drop out. Engine and floor are timed alternately in CPU
time of this process (one BLAS thread), best of the repeats for each length, so a slow spell
of a shared machine hits both. Prints a Markdown table (the one in docs/performance.md);
ratio = engine time / floor time per generation (how many times slower the engine is).
With θ2 held at 0.3 the floor still refits every chain by Newton while the engine looks the
refit up on the lattice of sums, so it can beat that floor.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: before numpy loads its BLAS

import time

import numpy as np

from theory.params import from_params

M = 10_000          # points per generation: the exact samplers' cost does not grow with it, and
                    # Curie–Weiss with θ fitted keeps most chains off the faces for 10⁴ generations
SHORT, LONG = 20, 10_000
CHAINS = (100, 1000, 20_000)
REPEATS_SHORT, REPEATS_LONG = 5, 2
REGIMES = ("replace", "accumulate", "subsample")
STEP_MAX = 4.0    # the floor's Newton moves a natural parameter by at most this per step
clock = time.process_time  # CPU time of this process: a shared machine's other jobs do not count


def moments(x):
    """Σx and Σx² over chains (axis 0): what a run needs for the mean and variance over chains."""
    return x.sum(axis=0), np.einsum("c...,c...->...", x, x)


def subsample_levels(pool, n, rng):
    """Level counts of n points drawn without replacement from pools with level counts ``pool``
    (C, L): level by level, x_l ~ Hypergeometric(c_l, rest of the pool, rest of the sample)."""
    out = np.empty_like(pool)
    left, todo = pool.sum(axis=1), np.full(len(pool), n, dtype=pool.dtype)
    for level in range(pool.shape[1] - 1):
        left = left - pool[:, level]
        out[:, level] = x = rng.hypergeometric(pool[:, level], left, todo)
        todo = todo - x
    out[:, -1] = todo
    return out


def floor_binomial_sum(n, p0):
    """Bernoulli (n = 1), binomial n, Curie–Weiss with θ2 = 0 (n = N, p = 1/(1 + e^{−2θ1})): a
    sample's total is Binomial(nM, p) and the refit is p' = total/(nM). Subsample keeps the
    pool's counts over the n + 1 levels (the sample's counts: a multinomial with binomial
    probabilities; for n = 1 the total gives both)."""
    k = np.arange(n + 1)
    binom = np.array([np.prod(np.arange(n - j + 1, n + 1) / np.arange(1, j + 1)) for j in k])

    def run(M, chains, generations, regime, rng):
        p = np.full(chains, p0)
        if regime == "accumulate":
            pool = np.zeros(chains)
        if regime == "subsample":
            pool = np.zeros((chains, n + 1), dtype=np.int64)
        for t in range(1, generations + 1):
            if regime == "replace":
                p = rng.binomial(n * M, p) / (n * M)
            elif regime == "accumulate":
                pool += rng.binomial(n * M, p)
                p = pool / (n * M * t)
            elif n == 1:
                ones = rng.binomial(M, p)
                pool[:, 0] += M - ones
                pool[:, 1] += ones
                p = rng.hypergeometric(pool[:, 1], pool[:, 0], M) / M
            else:
                pool += rng.multinomial(M, binom * p[:, None] ** k * (1 - p[:, None]) ** (n - k))
                p = subsample_levels(pool, M, rng) @ k / (n * M)
            moments(p)
        return p
    return run


def floor_sum(draw, start):
    """Poisson (draw: Poisson(M μ)) and exponential (Gamma(M, μ)): μ' = Σx/M, or the pool's
    Σx/N_t under accumulate."""
    def run(M, chains, generations, regime, rng):
        mu = np.full(chains, start)
        pool = np.zeros(chains)
        for t in range(1, generations + 1):
            if regime == "replace":
                mu = draw(rng, M, mu) / M
            else:
                pool += draw(rng, M, mu)
                mu = pool / (M * t)
            moments(mu)
        return mu
    return run


def floor_gaussian(M, chains, generations, regime, rng, start=(1.0, 2.0)):
    """Sample mean m ~ N(mean, var/M) and squares about it var·χ²(M − 1) (as 2·Gamma((M−1)/2));
    accumulate adds Σx = M m and Σx² = squares + M m² to the pool and refits on its moments."""
    mean, var = np.full(chains, start[0]), np.full(chains, start[1])
    pool_x, pool_xx = np.zeros(chains), np.zeros(chains)
    for t in range(1, generations + 1):
        m = mean + np.sqrt(var / M) * rng.standard_normal(chains)
        squares = var * (2.0 * rng.standard_gamma((M - 1) / 2, chains))
        if regime == "replace":
            mean, var = m, squares / M
        else:
            pool_x += M * m
            pool_xx += squares + M * m * m
            N = M * t
            mean = pool_x / N
            var = pool_xx / N - mean * mean
        moments(mean), moments(var)
    return mean, var


def floor_categorical(p0):
    """Categorical: level counts ~ Multinomial(M, p), p' = counts/M (of the pool, or of a
    subsample of it)."""
    def run(M, chains, generations, regime, rng):
        p = np.tile(p0, (chains, 1))
        pool = np.zeros((chains, len(p0)), dtype=np.int64)
        for t in range(1, generations + 1):
            counts = rng.multinomial(M, p)
            if regime == "replace":
                p = counts / M
            else:
                pool += counts
                p = pool / (M * t) if regime == "accumulate" else subsample_levels(pool, M, rng) / M
            moments(p)
        return p
    return run


def floor_curie_weiss(N, theta0, theta2=None, tol=1e-10, max_steps=100):
    """Curie–Weiss N spins, θ fitted (θ2 too if ``theta2`` is None): level counts ~ Multinomial(M,
    f(·|θ)) over the N + 1 magnetisations, then Newton from the previous θ, all chains at once,
    until |μ(θ) − φ̄| ≤ tol·(range of φ), the project's tolerance. As lean as the project:
    arrays levels-major (sums over levels are vectorised passes), 2×2 systems in closed form.
    A sample on a face (θ2 held: every point at ±N; θ fitted: on at most two levels, which
    for non-adjacent levels is an interior point taken as settled too) takes its empirical
    law as the next model and skips the Newton: no more work than the exact floor."""
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

    def refit(theta, tau):
        for _ in range(max_steps):
            q = probabilities(theta)
            mu = (phi.T @ q).T
            grad = mu - tau
            if np.all(np.abs(grad) <= tol * scale):
                break
            chi = (outer.T @ q).T.reshape(-1, d, d) - mu[:, :, None] * mu[:, None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                if d == 1:
                    step = grad / chi[:, 0]
                else:
                    a, b, e = chi[:, 0, 0], chi[:, 0, 1], chi[:, 1, 1]
                    det = a * e - b * b
                    step = np.stack([(e * grad[:, 0] - b * grad[:, 1]) / det,
                                     (a * grad[:, 1] - b * grad[:, 0]) / det], axis=1)
            # near a face χ is almost singular: a bounded step instead of the engine's line search
            theta = theta - np.clip(np.nan_to_num(step, nan=0.0), -STEP_MAX, STEP_MAX)
        return theta, q

    def run(M, chains, generations, regime, rng):
        theta = np.tile(theta0, (chains, 1))
        q = probabilities(theta)
        pool = np.zeros((chains, N + 1), dtype=np.int64)
        for t in range(1, generations + 1):
            counts = rng.multinomial(M, q.T)
            n = M
            if regime == "accumulate":
                pool += counts
                counts, n = pool, M * t
            elif regime == "subsample":
                pool += counts
                counts = subsample_levels(pool, M, rng)
            if d == 1:
                face = (counts[:, 0] == n) | (counts[:, -1] == n)
            else:
                face = np.count_nonzero(counts, axis=1) <= 2
            tau = counts @ phi / n
            if face.any():
                inner = ~face
                theta[inner], q_inner = refit(theta[inner], tau[inner])
                q[:, inner], q[:, face] = q_inner, counts[face].T / n
            else:
                theta, q = refit(theta, tau)
            moments(theta), moments(tau)
        return theta
    return run


# (label, family, family args, fixed, init, floor, regimes)
CASES = [
    ("bernoulli", "bernoulli", {}, {}, {"p": 0.3}, floor_binomial_sum(1, 0.3), REGIMES),
    ("binomial (n=10)", "binomial", {"n": 10}, {}, {"p": 0.3}, floor_binomial_sum(10, 0.3), REGIMES),
    ("poisson", "poisson", {}, {}, {"rate": 2.0},
     floor_sum(lambda rng, M, mu: rng.poisson(M * mu), 2.0), REGIMES[:2]),
    ("exponential", "exponential", {}, {}, {"rate": 0.5},
     floor_sum(lambda rng, M, mu: rng.standard_gamma(M, len(mu)) * mu, 2.0), REGIMES[:2]),
    ("gaussian", "gaussian", {}, {}, {"mean": 1.0, "var": 2.0}, floor_gaussian, REGIMES[:2]),
    ("categorical (K=3)", "categorical", {"K": 3}, {}, {"p1": 0.2, "p2": 0.3, "p3": 0.5},
     floor_categorical(np.array([0.2, 0.3, 0.5])), REGIMES),
    ("curie_weiss (N=20, θ2=0)", "curie_weiss", {"N": 20}, {"theta2": 0},
     {"theta1": 0.05, "theta2": 0}, floor_binomial_sum(20, 1 / (1 + np.exp(-0.1))), REGIMES),
    ("curie_weiss (N=20, θ2=0.3 fixed)", "curie_weiss", {"N": 20}, {"theta2": 0.3},
     {"theta1": 0.05, "theta2": 0.3}, floor_curie_weiss(20, [0.05], theta2=0.3), REGIMES),
    ("curie_weiss (N=20, θ fitted)", "curie_weiss", {"N": 20}, {}, {"theta1": 0.05, "theta2": 0.3},
     floor_curie_weiss(20, [0.05, 0.3]), REGIMES),
]


def best_times(case, regime, chains, lengths, repeats):
    """{length: (engine, floor)} best CPU seconds over ``repeats`` rounds, each round running
    engine and floor alternately at every length."""
    _, family, args, fixed, init, floor, _ = case
    loop = from_params(family, M, init, family_args=args, fixed=fixed, regime=regime)
    loop.run(2, 10, seed=0)  # compile the lambdified expressions first
    floor(M, 10, 2, regime, np.random.default_rng(0))
    best = {T: [float("inf"), float("inf")] for T in lengths}
    for rep in range(repeats):
        for T in lengths:
            t0 = clock()
            loop.run(T, chains, seed=rep)
            t1 = clock()
            floor(M, chains, T, regime, np.random.default_rng(rep))
            t2 = clock()
            best[T] = [min(best[T][0], t1 - t0), min(best[T][1], t2 - t1)]
    return best


def per_generation(best, T0, T1):
    """(engine, floor) seconds per generation between generations T0 and T1, differenced."""
    return tuple((best[T1][i] - best[T0][i]) / (T1 - T0) for i in (0, 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="10² and 10³ chains, long = 500 generations, fewer repeats (about a minute)")
    p.add_argument("--only", help="run the families whose label contains this")
    p.add_argument("--regime", choices=REGIMES, action="append", help="only these regimes")
    p.add_argument("--chains", type=int, nargs="+", help=f"chain counts (default {CHAINS})")
    p.add_argument("--long", type=int, help=f"generations of the long run (default {LONG})")
    a = p.parse_args()
    chains = a.chains or ((100, 1000) if a.quick else CHAINS)
    long = a.long or (500 if a.quick else LONG)
    repeats = (2, 1) if a.quick else (REPEATS_SHORT, REPEATS_LONG)
    print(f"M = {M}; short: generations {SHORT + 1}–{2 * SHORT}, long: {SHORT + 1}–{long}; "
          "engine and floor µs per generation, ratio = engine/floor")
    print("| family | regime | chains | short engine | short floor | short ratio "
          "| long engine | long floor | long ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in CASES:
        if a.only and a.only not in case[0]:
            continue
        for regime in case[6]:
            if a.regime and regime not in a.regime:
                continue
            for C in chains:
                short = best_times(case, regime, C, (SHORT, 2 * SHORT), repeats[0])
                long_ = best_times(case, regime, C, (SHORT, long), repeats[1])
                cells = []
                for eng, flo in (per_generation(short, SHORT, 2 * SHORT), per_generation(long_, SHORT, long)):
                    cells += [f"{1e6 * eng:,.0f}", f"{1e6 * flo:,.0f}", f"{eng / flo:.2f}"]
                print(f"| {case[0]} | {regime} | {C:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
