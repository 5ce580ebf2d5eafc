"""The engine against the floor: CPU time per generation of ``ClosedLoop.run`` and of the
cheapest vectorised NumPy loop doing the same job, measured in one run, alternating.

    python benchmarks/bench_floor.py [--quick] [--only LABEL] [--regime R] [--chains C ...]
    python benchmarks/bench_floor.py --check     # the floors' outputs are the engine's

The floor does per generation what ``run`` does, in bare NumPy written here (independent of
the project, closed forms typed in): draw the sufficient statistics of every chain from their
exact law (one binomial, Poisson, Gamma or normal + χ² draw; a multinomial over the levels for
categorical and Curie–Weiss with θ2 ≠ 0); refit (moment matching; for Curie–Weiss a batched
Newton to the project's tolerance, levels-major with 2×2 systems in closed form); evaluate
every observable ``run`` reports for the family (conventional parameters, θ, the entropy,
φ: the keys of ``run(...).time_average``) and sum each and its square over the chains where
it is finite, from which the per-generation means and (ddof = 1) variances and their time
averages follow (:class:`Book`); and mark each chain's first generation collapsed and on a
point mass. Summaries are made a block of generations at a time (:func:`block_size`), as the
engine makes them. ``--check`` asserts, at small M where chains reach the faces, that the
floors' observables, summaries and marks equal the engine's at the engine's own states.

The bare floor (the only floor before, kept beside it: ratio "bare") does the draw and the
refit and sums the parameters and their squares over chains each generation (Bernoulli: Σp,
Σp²; Gaussian: mean and var): less than ``run`` does, so the ratio the acceptance reads is
the one against the full floor.

Under the pooled regimes a chain also carries its pool: ``accumulate`` refits on the running
pool sum of the statistics (one addition per chain), ``subsample`` on a finite space draws n_t
of the pool's points without replacement from its level counts (a hypergeometric draw per
level but the last). Subsample on an infinite space keeps every point of every pool (memory
grows as chains × generations × M): not measured here.

Cost per generation is differenced: a run of ``SHORT`` generations is subtracted from one of
2·SHORT (the first generations, "short") and from one of ``LONG`` generations ("long": the
same chains run on, most of them absorbed in the replace loop, the pools growing in the
others), so start-up and compilation drop out; the long run is cut to what the floor does in
``BUDGET`` CPU seconds where a generation costs more (the "long to" column: Curie–Weiss,
subsample, 2·10⁴ chains). Engine, floor and bare floor are timed alternately in CPU time of
this process (one BLAS thread), best of the repeats for each length, so a slow spell of a
shared machine hits all three. Prints a Markdown table (the one in docs/performance.md);
ratio = engine time / floor time per generation (how many times slower the engine is).
With θ2 held at 0.3 the floor still refits every chain by Newton while the engine looks the
refit up on the lattice of sums, so it can beat that floor.
"""

from __future__ import annotations

import argparse
import math
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: before numpy loads its BLAS

import time

import numpy as np

from theory.params import from_params

M = 10_000          # points per generation: the exact samplers' cost does not grow with it, and
                    # Curie–Weiss with θ fitted keeps most chains off the faces for 10⁴ generations
SHORT, LONG = 20, 10_000
BUDGET = 10.0       # CPU seconds a long run of the floor may take: fewer generations where one costs more
CHAINS = (100, 1000, 20_000)
REPEATS_SHORT, REPEATS_LONG = 5, 1
REGIMES = ("replace", "accumulate", "subsample")
STEP_MAX = 4.0    # the floor's Newton moves a natural parameter by at most this per step
clock = time.process_time  # CPU time of this process: a shared machine's other jobs do not count


def moments(x):
    """Σx and Σx² over chains (axis 0): the bare floor's summary of its parameters."""
    return x.sum(axis=0), np.einsum("c...,c...->...", x, x)


def block_size(chains):
    """Generations summarised at once: B · chains ≈ 2¹⁵ values a row, 1 ≤ B ≤ 256, so that few
    chains pay the summaries' NumPy calls once a block (as the engine does, engine.book)."""
    return max(1, min(256, 2**15 // chains))


def safe_log(x, zero):
    """log x with log 0 read as 0 where ``zero`` (x == 0) holds: no log of 0 (NumPy's slow path,
    and 0 · log 0 = 0 in an entropy)."""
    return np.log(x + zero)


class Book:
    """What ``ClosedLoop.run`` keeps of a floor's generations, summarised a block at a time.

    Per generation, for each observable row: Σx, Σx² and the number of finite values over
    chains (non-finite values excluded, as the run excludes them); at the end the means, the
    (ddof = 1) variances (Σx² − x̄ Σx) / (n − 1) and their time averages. Σx and Σx² are the
    leanest correct summary, one pass each over a block's rows (the engine takes the same
    sums, and sums a row again about its mean where x̄²/var ≥ 10⁵: engine.book). And each
    chain's first generation on each mark (collapsed, on a point mass): an absorbing mark (a face the step never leaves: a point
    mass redraws itself) is counted, first = T + 1 − generations on it; another keeps its
    first generation, looked for only in a block where some chain has it.

    ``names``: observable → (row, a, b), the observable is a · row + b: observables equal up
    to an affine map share a row (Bernoulli p = φ1, exponential θ = −rate).
    """

    def __init__(self, names, k, chains, generations, absorbing=(), other=()):
        self.names, self.generations = names, generations
        self.block = B = block_size(chains)
        self.rows = np.empty((k, B, chains))
        self.sums, self.squares = np.empty((generations, k)), np.empty((generations, k))
        self.count = np.full((generations, k), chains)
        self.t = 0  # generations summarised
        self.counted = {m: np.zeros(chains, np.int64) for m in absorbing}
        self.first = {m: np.zeros(chains, np.int64) for m in other}

    def add(self, n):
        """Σx, Σx² (and the finite count where a sum is not finite) of rows[:, :n], the next n
        generations."""
        R = self.rows[:, :n]
        gens = slice(self.t, self.t + n)
        s, s2 = self.sums[gens].T, self.squares[gens].T
        R.sum(axis=2, out=s)
        np.einsum("kbc,kbc->kb", R, R, out=s2)
        if not math.isfinite(s.sum()):  # some value not finite: those rows over their finite values
            bad = ~np.isfinite(s)
            x = R[bad]
            ok = np.isfinite(x)
            x[~ok] = 0.0
            s[bad], s2[bad] = x.sum(axis=1), np.einsum("mc,mc->m", x, x)
            self.count[gens].T[bad] = ok.sum(axis=1)
        self.t += n

    def absorbed(self, mark, on):
        """Count the generations on an absorbing mark, ``on`` (n, C) or (C,) for one generation."""
        c = self.counted[mark]
        c += on.sum(axis=0) if on.ndim == 2 else on

    def hit(self, mark, on, t0):
        """Record the first generation of a mark a chain may leave, ``on`` (n, C) from generation t0."""
        if on.any():
            first = self.first[mark]
            new = (first == 0) & on.any(axis=0)
            first[new] = t0 + on[:, new].argmax(axis=0)

    def first_times(self):
        """mark → each chain's first generation on it (0: never)."""
        out = {m: np.where(c > 0, self.generations + 1 - c, 0) for m, c in self.counted.items()}
        return out | self.first

    def summary(self):
        """(mean, var) per generation (T,) of each observable and their time averages."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.sums / self.count
            var = (self.squares - mean * self.sums) / (self.count - 1)
        var[self.count == 1] = 0.0  # one finite value: variance 0, as the run has it
        out = {}
        for name, (r, a, b) in self.names.items():
            m, v = a * mean[:, r] + b, a * a * var[:, r]
            out[name] = {"mean": m, "var": v, "time_average": (m.mean(), v.mean())}
        return out


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


def generations_blocked(generations, book):
    """(t, j, last) for t = 1..T: the generation, its row in the book's block, whether the block
    is then full (or the run over); one block of every generation without a book (bare)."""
    B = book.block if book is not None else generations
    for t in range(1, generations + 1):
        j = (t - 1) % B
        yield t, j, j == B - 1 or t == generations


class BinomialSum:
    """Bernoulli (n = 1), binomial n, Curie–Weiss with θ2 = 0 (n = N spins, p = 1/(1 + e^{−2θ1})):
    a sample's total is Binomial(nM, p) and the refit is p' = total/(nM). Subsample keeps the
    pool's counts over the n + 1 levels (the sample's counts: a multinomial with binomial
    probabilities; for n = 1 the total gives both).

    Observables (h(k) = C(n, k)): p, θ = log p − log(1 − p) (Curie–Weiss θ1: half of it), the
    entropy S = −n (p log p + (1 − p) log(1 − p)) and φ1 = n p (Curie–Weiss: the magnetisation
    N (2p − 1)). p ∈ {0, 1} is a point mass (S = 0, θ infinite: excluded), absorbing under
    replace and accumulate, and the only face: collapsed and on a point mass are one mark. Under
    subsample a chain collapses when its pool does, and a pool
    lies on a face at generation t exactly when it did at generation 1 (its levels only grow,
    and the model draws from them): collapse is recorded at generation 1 or never, the
    model's point mass (which the pool may leave) generation by generation. p' is a multiple of
    1/(nM): no model lies within the refit's resolution of an end without being on it."""

    def __init__(self, n, p0, curie_weiss=False):
        self.n, self.p0, self.cw = n, p0, curie_weiss
        k = np.arange(n + 1)
        self.k = k
        self.binom = np.array([np.prod(np.arange(n - j + 1, n + 1) / np.arange(1, j + 1)) for j in k])
        self.names = ({"theta1": (1, 1.0, 0.0), "entropy": (2, 1.0, 0.0), "phi1": (0, 2.0 * n, -n)}
                      if curie_weiss else
                      {"p": (0, 1.0, 0.0), "theta": (1, 1.0, 0.0), "entropy": (2, 1.0, 0.0), "phi1": (0, n, 0.0)})

    def observe(self, P, theta, S):
        """θ and S (out) of the models p ``P``; returns where p is on an end."""
        Q = 1.0 - P
        zero, one = P == 0, Q == 0
        on = zero | one
        if on.any():
            lp, lq = safe_log(P, zero), safe_log(Q, one)
        else:
            lp, lq = np.log(P), np.log(Q)
        np.subtract(lp, lq, out=theta)
        if self.cw:
            theta *= 0.5
        np.multiply(P, lp, out=S)
        lq *= Q
        S += lq
        S *= -self.n
        if on.any():
            np.copyto(theta, np.nan, where=on)
        return on

    def __call__(self, M, chains, generations, regime, rng, bare=False):
        n, k, binom = self.n, self.k, self.binom
        book = None if bare else Book(self.names, 3, chains, generations, *(
            ((), ("collapsed", "point mass")) if regime == "subsample" else (("collapsed",), ())))
        p = np.full(chains, self.p0)
        if regime == "accumulate":
            pool = np.zeros(chains)
        if regime == "subsample":
            pool = np.zeros((chains, n + 1), dtype=np.int64)
        for t, j, last in generations_blocked(generations, book):
            out = None if bare else book.rows[0, j]
            if regime == "replace":
                p = np.divide(rng.binomial(n * M, p), n * M, out=out)
            elif regime == "accumulate":
                pool += rng.binomial(n * M, p)
                p = np.divide(pool, n * M * t, out=out)
            elif n == 1:
                ones = rng.binomial(M, p)
                pool[:, 0] += M - ones
                pool[:, 1] += ones
                p = np.divide(rng.hypergeometric(pool[:, 1], pool[:, 0], M), M, out=out)
            else:
                pool += rng.multinomial(M, binom * p[:, None] ** k * (1 - p[:, None]) ** (n - k))
                p = np.divide(subsample_levels(pool, M, rng) @ k, n * M, out=out)
            if bare:
                moments(p)
                continue
            if regime == "subsample" and t == 1:  # the pool's face, for good (see the docstring)
                book.first["collapsed"][(pool[:, 0] == M) | (pool[:, -1] == M)] = 1
            if last:
                R = book.rows[:, :j + 1]
                on = self.observe(R[0], R[1], R[2])
                book.add(j + 1)
                if regime == "subsample":
                    book.hit("point mass", on, t - j)
                else:
                    book.absorbed("collapsed", on)
        return p if bare else book


class SumFamily:
    """Poisson (draw: Poisson(M μ)) and exponential (Gamma(M, μ)): μ' = Σx/M, or the pool's
    Σx/N_t under accumulate.

    Observables: Poisson rate = φ1 = μ, θ = log μ, S = μ − μ log μ (h = 1/x!); rate 0 is a
    point mass (S = log h(0) = 0, θ excluded), absorbing, the only end (collapsed and on a
    point mass: one mark), and a rate off 0 is at least 1/(M t), far above the refit's resolution. Exponential rate = 1/μ, θ = −rate,
    S = 1 + log μ, φ1 = μ; its end μ → 0 is approached, never attained: a chain collapses
    (``float_boundary``) once its spread μ² is below the refit's resolution times the
    starting model's, a mark it may leave again."""

    def __init__(self, poisson, start):
        self.poisson, self.start = poisson, start
        self.names = ({"rate": (0, 1.0, 0.0), "theta": (1, 1.0, 0.0), "entropy": (2, 1.0, 0.0),
                       "phi1": (0, 1.0, 0.0)} if poisson else
                      {"rate": (1, 1.0, 0.0), "theta": (1, -1.0, 0.0), "entropy": (2, 1.0, 0.0),
                       "phi1": (0, 1.0, 0.0)})

    def draw(self, rng, M, mu):
        return rng.poisson(M * mu) if self.poisson else rng.standard_gamma(M, len(mu)) * mu

    def observe(self, mu, second, S):
        """(Poisson) θ, S or (exponential) rate, S of the means ``mu``; returns the chains marked:
        on rate 0 (Poisson), below the resolution (exponential)."""
        if self.poisson:
            on = mu == 0
            if on.any():
                np.log(mu + on, out=second)
                np.copyto(second, -np.inf, where=on)
            else:
                np.log(mu, out=second)
            np.multiply(mu, second, out=S)
            if on.any():
                np.copyto(S, 0.0, where=on)
            np.subtract(mu, S, out=S)
            return on
        np.divide(1.0, mu, out=second)
        np.log(mu, out=S)
        S += 1.0
        return mu * mu < RESOLUTION * self.start ** 2

    def __call__(self, M, chains, generations, regime, rng, bare=False):
        book = None if bare else Book(self.names, 3, chains, generations,
                                      *((("collapsed",), ()) if self.poisson else ((), ("collapsed",))))
        mu = np.full(chains, self.start)
        pool = np.zeros(chains)
        for t, j, last in generations_blocked(generations, book):
            out = None if bare else book.rows[0, j]
            if regime == "replace":
                mu = np.divide(self.draw(rng, M, mu), M, out=out)
            else:
                pool += self.draw(rng, M, mu)
                mu = np.divide(pool, M * t, out=out)
            if bare:
                moments(mu)
            elif last:
                R = book.rows[:, :j + 1]
                on = self.observe(R[0], R[1], R[2])
                book.add(j + 1)
                if self.poisson:
                    book.absorbed("collapsed", on)
                else:
                    book.hit("collapsed", on, t - j)
        return mu if bare else book


class Gaussian:
    """Sample mean m ~ N(mean, var/M) and squares about it var·χ²(M − 1) (as 2·Gamma((M−1)/2));
    accumulate adds Σx = M m and Σx² = squares + M m² to the pool and refits on its moments.

    Observables: mean = φ1, var, θ1 = mean/var, θ2 = −1/(2 var), S = ½ log(2πe var),
    φ2 = mean² + var. var = 0 (a point mass, S = −∞) is an end the χ² draws approach: a chain
    collapses once the spread of φ = (x, x²), var (1 + 2 var + 4 mean²), is below the refit's
    resolution times the starting model's (looked at only where var itself is: the spread is
    at least var), a mark it may leave again, and is on the point mass at var = 0. (The engine
    puts a chain on the point mass once var ≤ 10⁻¹² μ2, what μ2 = mean² + var resolves, and
    --check compares at its states; at M = 10⁴ var shrinks as e^{−t/M}, far from either.)"""

    def __init__(self, start=(1.0, 2.0)):
        self.start = start
        self.names = {"mean": (0, 1.0, 0.0), "var": (1, 1.0, 0.0), "theta1": (2, 1.0, 0.0),
                      "theta2": (3, 1.0, 0.0), "entropy": (4, 1.0, 0.0), "phi1": (0, 1.0, 0.0),
                      "phi2": (5, 1.0, 0.0)}
        m, v = start
        self.threshold = RESOLUTION * v * (1 + 2 * v + 4 * m * m)

    def observe(self, mean, var, R):
        """θ1, θ2, S, φ2 (R[2:6]) of the models (mean, var); returns the chains (collapsed, on a
        point mass)."""
        np.divide(mean, var, out=R[2])
        np.divide(-0.5, var, out=R[3])
        np.log(var, out=R[4])
        R[4] *= 0.5
        R[4] += 0.5 * math.log(2 * math.pi * math.e)
        np.multiply(mean, mean, out=R[5])
        R[5] += var
        near = vertex = var < self.threshold
        if near.any():
            vertex = var == 0
            near &= var * (1 + 2 * var + 4 * mean * mean) < self.threshold
        return near, vertex

    def __call__(self, M, chains, generations, regime, rng, bare=False):
        book = None if bare else Book(self.names, 6, chains, generations, (), ("collapsed", "point mass"))
        mean, var = np.full(chains, self.start[0]), np.full(chains, self.start[1])
        pool_x, pool_xx = np.zeros(chains), np.zeros(chains)
        for t, j, last in generations_blocked(generations, book):
            noise = np.sqrt(var / M) * rng.standard_normal(chains)
            squares = var * (2.0 * rng.standard_gamma((M - 1) / 2, chains))
            out_mean, out_var = (None, None) if bare else (book.rows[0, j], book.rows[1, j])
            if regime == "replace":
                mean, var = np.add(mean, noise, out=out_mean), np.divide(squares, M, out=out_var)
            else:
                m = mean + noise
                pool_x += M * m
                pool_xx += squares + M * m * m
                N = M * t
                mean = np.divide(pool_x, N, out=out_mean)
                var = np.subtract(pool_xx / N, mean * mean, out=out_var)
            if bare:
                moments(mean), moments(var)
            elif last:
                R = book.rows[:, :j + 1]
                near, vertex = self.observe(R[0], R[1], R)
                book.hit("collapsed", near, t - j)
                book.hit("point mass", vertex, t - j)
                book.add(j + 1)
        return (mean, var) if bare else book


class Categorical:
    """Categorical: level counts ~ Multinomial(M, p), p' = counts/M (of the pool, or of a
    subsample of it).

    Observables: p1..pK (= φ1..φ(K−1)), θa = log pa − log pK, S = −Σ p log p. A chain has
    collapsed once a level is lost (a proper face), is on a point mass once one level holds
    everything: both absorbing under replace and accumulate; under subsample the pool's face
    is that of generation 1 for good (see :class:`BinomialSum`) and the model's point mass is
    looked at generation by generation. p is a multiple of 1/M: no model lies within the
    refit's resolution of a face without being on it."""

    def __init__(self, p0):
        self.p0 = np.asarray(p0, float)
        K = len(p0)
        self.names = ({f"p{a + 1}": (a, 1.0, 0.0) for a in range(K)}
                      | {f"theta{a + 1}": (K + a, 1.0, 0.0) for a in range(K - 1)}
                      | {"entropy": (2 * K - 1, 1.0, 0.0)}
                      | {f"phi{a + 1}": (a, 1.0, 0.0) for a in range(K - 1)})

    def observe(self, P, theta, S):
        """θ (K − 1 rows), S of the models P (K rows); returns (some level lost, on a point mass)."""
        zero = P == 0
        lost = zero.any(axis=0)
        lp = safe_log(P, zero) if lost.any() else np.log(P)
        np.subtract(lp[:-1], lp[-1], out=theta)
        if lost.any():
            np.copyto(theta, np.nan, where=lost)
        lp *= P
        np.sum(lp, axis=0, out=S)
        np.negative(S, out=S)
        return lost, (P == 1).any(axis=0)

    def __call__(self, M, chains, generations, regime, rng, bare=False):
        K = len(self.p0)
        book = None if bare else Book(self.names, 2 * K, chains, generations, *(
            ((), ("collapsed", "point mass")) if regime == "subsample" else (("collapsed", "point mass"), ())))
        p = np.tile(self.p0, (chains, 1))
        pool = np.zeros((chains, K), dtype=np.int64)
        for t, j, last in generations_blocked(generations, book):
            counts = rng.multinomial(M, p)
            if regime == "replace":
                p = counts / M
            else:
                pool += counts
                p = pool / (M * t) if regime == "accumulate" else subsample_levels(pool, M, rng) / M
            if bare:
                moments(p)
                continue
            book.rows[:K, j] = p.T
            if regime == "subsample" and t == 1:
                book.first["collapsed"][(pool == 0).any(axis=1)] = 1
            if last:
                R = book.rows[:, :j + 1]
                lost, vertex = self.observe(R[:K], R[K:2 * K - 1], R[2 * K - 1])
                book.add(j + 1)
                if regime == "subsample":
                    book.hit("point mass", vertex, t - j)
                else:
                    book.absorbed("collapsed", lost)
                    book.absorbed("point mass", vertex)
        return p if bare else book


class CurieWeiss:
    """Curie–Weiss N spins, θ fitted (θ2 too if ``theta2`` is None): level counts ~ Multinomial(M,
    f(·|θ)) over the N + 1 magnetisations, then Newton from the previous θ, all chains at once,
    until |μ(θ) − φ̄| ≤ tol·(range of φ), the project's tolerance. As lean as the project:
    arrays levels-major (sums over levels are vectorised passes), 2×2 systems in closed form.
    A sample on a face takes its empirical law as the next model and skips the Newton: with θ2
    held the faces are the two ends (every point at ±N); with θ fitted, φ = (m, (m² − N)/2N)
    lies on a parabola, whose proper faces are one level, two adjacent levels and the two
    ends {−N, N}.

    Observables: θ (NaN on a face), the entropy S = Σ_s q (log h − log q) of the model's level
    probabilities q (h(s) = C(N, s), times e^{θ2 φ2} when θ2 is held), and φ = τ̄ (the refit's target). A chain has collapsed once its sample
    is on a face, is on a point mass once on one level: both absorbing under replace and
    accumulate (under subsample: as :class:`BinomialSum`). A model refitted off a face keeps a
    probability of order 1/M off it, far above the refit's resolution."""

    def __init__(self, N, theta0, theta2=None, tol=1e-10, max_steps=100):
        self.N, self.theta0, self.tol, self.max_steps = N, theta0, tol, max_steps
        s = np.arange(N + 1)
        m = 2.0 * s - N
        phi = np.stack([m, (m**2 - N) / (2 * N)], axis=1)
        log_h = np.array([float(np.sum(np.log(np.arange(1, N + 1))) - np.sum(np.log(np.arange(1, k + 1)))
                          - np.sum(np.log(np.arange(1, N - k + 1)))) for k in s])
        if theta2 is not None:  # θ2 held: its term moves into the base measure
            log_h, phi = log_h + theta2 * phi[:, 1], phi[:, :1]
        self.entropy_log_h = log_h[:, None]  # (L, 1)
        self.log_h, self.phi, self.scale = log_h, phi, np.ptp(phi, axis=0)
        self.d = d = phi.shape[1]
        self.outer = np.einsum("la,lb->lab", phi, phi).reshape(len(s), d * d)
        self.names = ({"theta1": (0, 1.0, 0.0), "theta2": (1, 1.0, 0.0), "entropy": (2, 1.0, 0.0),
                       "phi1": (3, 1.0, 0.0), "phi2": (4, 1.0, 0.0)} if d == 2 else
                      {"theta1": (0, 1.0, 0.0), "entropy": (1, 1.0, 0.0), "phi1": (2, 1.0, 0.0)})

    def probabilities(self, theta):  # (L, C)
        z = self.log_h[:, None] + self.phi @ theta.T
        q = np.exp(z - z.max(axis=0))
        return q / q.sum(axis=0)

    def refit(self, theta, tau):
        phi, d = self.phi, self.d
        for _ in range(self.max_steps):
            q = self.probabilities(theta)
            mu = (phi.T @ q).T
            grad = mu - tau
            if np.all(np.abs(grad) <= self.tol * self.scale):
                break
            chi = (self.outer.T @ q).T.reshape(-1, d, d) - mu[:, :, None] * mu[:, None, :]
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

    def faces(self, counts, n):
        """(on a face, on a point mass) of samples with level counts ``counts`` (C, L) of n points
        (nonzero: the levels present)."""
        if self.d == 1:
            ends = (counts[:, 0] == n) | (counts[:, -1] == n)
            return ends, ends
        present = np.count_nonzero(counts, axis=1)
        face, vertex = present <= 2, present == 1
        two = np.flatnonzero(present == 2)
        if len(two):  # two levels: a face when adjacent or the two ends
            on = counts[two] != 0
            lo, hi = on.argmax(axis=1), on.shape[1] - 1 - on[:, ::-1].argmax(axis=1)
            face[two] = (hi - lo == 1) | ((lo == 0) & (hi == on.shape[1] - 1))
        return face, vertex

    def entropy(self, Q, S):
        """S (out) = Σ_s q (log h − log q) of level probabilities Q (n, L, C)."""
        zero = Q == 0
        terms = np.subtract(self.entropy_log_h, safe_log(Q, zero) if zero.any() else np.log(Q))
        terms *= Q
        np.sum(terms, axis=1, out=S)

    def __call__(self, M, chains, generations, regime, rng, bare=False):
        d, phi, L = self.d, self.phi, self.N + 1
        book = None if bare else Book(self.names, 2 * d + 1, chains, generations, *(
            ((), ("collapsed", "point mass")) if regime == "subsample" else (("collapsed", "point mass"), ())))
        if not bare:
            Q = np.empty((book.block, L, chains))
        theta = np.tile(self.theta0, (chains, 1))
        q = self.probabilities(theta)
        pool = np.zeros((chains, L), dtype=np.int64)
        for t, j, last in generations_blocked(generations, book):
            counts = rng.multinomial(M, q.T)
            n = M
            if regime == "accumulate":
                pool += counts
                counts, n = pool, M * t
            elif regime == "subsample":
                pool += counts
                counts = subsample_levels(pool, M, rng)
            face, vertex = self.faces(counts, n)
            tau = counts @ phi / n
            if face.any():
                inner = ~face
                theta[inner], q_inner = self.refit(theta[inner], tau[inner])
                q[:, inner], q[:, face] = q_inner, counts[face].T / n
            else:
                theta, q = self.refit(theta, tau)
            if bare:
                moments(theta), moments(tau)
                continue
            R = book.rows
            R[:d, j] = theta.T
            R[d + 1:, j] = tau.T
            Q[j] = q
            if face.any():
                R[:d, j][:, face] = np.nan
            if regime == "subsample":
                if t == 1:
                    book.first["collapsed"][self.faces(pool, M)[0]] = 1
                book.hit("point mass", vertex[None], t)
            else:
                book.absorbed("collapsed", face)
                book.absorbed("point mass", vertex)
            if last:
                self.entropy(Q[:j + 1], R[d, :j + 1])
                book.add(j + 1)
        return theta if bare else book


RESOLUTION = 1e-10  # the refit's tolerance: a model closer to an end than this has collapsed (the project's)

# (label, family, family args, fixed, init, floor, regimes)
CASES = [
    ("bernoulli", "bernoulli", {}, {}, {"p": 0.3}, BinomialSum(1, 0.3), REGIMES),
    ("binomial (n=10)", "binomial", {"n": 10}, {}, {"p": 0.3}, BinomialSum(10, 0.3), REGIMES),
    ("poisson", "poisson", {}, {}, {"rate": 2.0}, SumFamily(True, 2.0), REGIMES[:2]),
    ("exponential", "exponential", {}, {}, {"rate": 0.5}, SumFamily(False, 2.0), REGIMES[:2]),
    ("gaussian", "gaussian", {}, {}, {"mean": 1.0, "var": 2.0}, Gaussian(), REGIMES[:2]),
    ("categorical (K=3)", "categorical", {"K": 3}, {}, {"p1": 0.2, "p2": 0.3, "p3": 0.5},
     Categorical([0.2, 0.3, 0.5]), REGIMES),
    ("curie_weiss (N=20, θ2=0)", "curie_weiss", {"N": 20}, {"theta2": 0},
     {"theta1": 0.05, "theta2": 0}, BinomialSum(20, 1 / (1 + np.exp(-0.1)), curie_weiss=True), REGIMES),
    ("curie_weiss (N=20, θ2=0.3 fixed)", "curie_weiss", {"N": 20}, {"theta2": 0.3},
     {"theta1": 0.05, "theta2": 0.3}, CurieWeiss(20, [0.05], theta2=0.3), REGIMES),
    ("curie_weiss (N=20, θ fitted)", "curie_weiss", {"N": 20}, {}, {"theta1": 0.05, "theta2": 0.3},
     CurieWeiss(20, [0.05, 0.3]), REGIMES),
]


def floor_rows(case, loop, state):
    """The floor's observable rows (k, 1, C) and marks {mark: (C,)} at the engine's ``state``: the
    engine's model converted to the floor's variables (p, μ, (mean, var), θ and the face)."""
    floor, mu = case[5], state.mu
    C = len(mu)
    if isinstance(floor, BinomialSum):
        n = floor.n
        P = (mu[:, 0] / n + 1) / 2 if floor.cw else mu[:, 0] / n
        R = np.empty((3, 1, C))
        R[0, 0] = P
        on = floor.observe(R[0], R[1], R[2])[0]
        return R, {"collapsed": on, "point mass": on}
    if isinstance(floor, SumFamily):
        R = np.empty((3, 1, C))
        R[0, 0] = mu[:, 0]
        on = floor.observe(R[0], R[1], R[2])[0]
        return R, {"collapsed": on} | ({"point mass": on} if floor.poisson else {})
    if isinstance(floor, Gaussian):
        R = np.empty((6, 1, C))
        R[0, 0], R[1, 0] = mu[:, 0], mu[:, 1] - mu[:, 0] ** 2
        near, vertex = floor.observe(R[0], R[1], R)
        return R, {"collapsed": near[0], "point mass": vertex[0]}
    if isinstance(floor, Categorical):
        K = len(floor.p0)
        R = np.empty((2 * K, 1, C))
        R[:K - 1, 0], R[K - 1, 0] = mu.T, 1 - mu.sum(axis=1)
        lost, vertex = floor.observe(R[:K], R[K:2 * K - 1], R[2 * K - 1])
        return R, {"collapsed": lost[0], "point mass": vertex[0]}
    d, n = floor.d, 1000
    counts = np.rint(loop.numeric.level_probabilities(state.theta, state.face) * n).astype(int)
    face, vertex = floor.faces(np.where(state.face, counts, 0), n)
    q = floor.probabilities(state.theta)  # the floor's model where the engine's is interior
    q[:, face] = loop.numeric.level_probabilities(state.theta[face], state.face[face]).T
    R = np.empty((2 * d + 1, 1, C))
    R[:d, 0], R[d + 1:, 0] = np.where(face[:, None], np.nan, state.theta).T, mu.T
    floor.entropy(q[None], R[d, :1])
    return R, {"collapsed": face, "point mass": vertex}


def check(M=5, chains=64, generations=60, seed=1):
    """Assert that each floor's observables, their summaries and marks equal the engine's at the
    engine's states: a replace run of ``chains`` chains at small M (chains reach the faces),
    generation by generation; returns {label: {mark: generations in which some chains had the
    mark and others had not}} (so both answers of each mark were compared)."""
    from theory.engine import collapse
    from theory.engine.book import mean_var

    marked = {}
    for case in CASES:
        label, family, args, fixed, init, floor, _ = case
        loop = from_params(family, M, init, family_args=args, fixed=fixed, regime="replace")
        state = loop.initial_state(chains)
        rng = np.random.default_rng(seed)
        mixed = {}
        for t in range(1, generations + 1):
            loop.step(state, t, rng)
            with np.errstate(all="ignore"):  # (logs of 0, ∞ − ∞: the values excluded)
                R, marks = floor_rows(case, loop, state)
                book = Book(floor.names, len(R), chains, 1)
                book.rows = R
                book.add(1)
            summary = book.summary()
            engine = loop.observables(state)
            assert list(engine) == list(floor.names), (label, list(engine))
            for name, (r, a, b) in floor.names.items():
                mine, theirs = a * R[r, 0] + b, np.asarray(engine[name], float)
                ok = np.isfinite(theirs)
                assert np.array_equal(ok, np.isfinite(mine)), (label, t, name)
                np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-9, atol=1e-12, err_msg=f"{label} {name}")
                m, v = mean_var(theirs)
                got = summary[name]
                np.testing.assert_allclose([got["mean"][0], got["var"][0]], [m, v], rtol=1e-7, atol=1e-12,
                                           err_msg=f"{label} {name} t={t}")
            codes = collapse.classify(loop, state)
            assert np.array_equal(marks["collapsed"], codes > 0), (label, t)
            assert np.array_equal(marks.get("point mass", np.zeros(chains, bool)), state.vertex >= 0), (label, t)
            for m, on in marks.items():
                mixed[m] = mixed.get(m, 0) + int(0 < np.count_nonzero(on) < chains)
        marked[label] = mixed
    return marked


def best_times(case, regime, chains, lengths, repeats, floors=("full", "bare")):
    """{length: [engine, *floors]} best CPU seconds over ``repeats`` rounds, each round running
    the engine and the ``floors`` (the full floor, the bare one) alternately at every length."""
    _, family, args, fixed, init, floor, _ = case
    loop = from_params(family, M, init, family_args=args, fixed=fixed, regime=regime)
    loop.run(2, 10, seed=0)  # compile the lambdified expressions first
    floor(M, 10, 2, regime, np.random.default_rng(0))
    best = {T: [float("inf")] * (1 + len(floors)) for T in lengths}
    with np.errstate(divide="ignore", invalid="ignore"):  # (logs of 0, ∞ − ∞: excluded values)
        for rep in range(repeats):
            for T in lengths:
                t0 = clock()
                loop.run(T, chains, seed=rep)
                times = [clock() - t0]
                for kind in floors:
                    t0 = clock()
                    floor(M, chains, T, regime, np.random.default_rng(rep), bare=kind == "bare")
                    times.append(clock() - t0)
                best[T] = [min(b, x) for b, x in zip(best[T], times, strict=True)]
    return best


def per_generation(best, T0, T1):
    """(engine, *floors) seconds per generation between generations T0 and T1, differenced."""
    return tuple((b1 - b0) / (T1 - T0) for b0, b1 in zip(best[T0], best[T1], strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="10² and 10³ chains, long = 500 generations, fewer repeats (a few minutes)")
    p.add_argument("--only", help="run the families whose label contains this")
    p.add_argument("--regime", choices=REGIMES, action="append", help="only these regimes")
    p.add_argument("--chains", type=int, nargs="+", help=f"chain counts (default {CHAINS})")
    p.add_argument("--long", type=int, help=f"generations of the long run (default {LONG})")
    p.add_argument("--budget", type=float, default=BUDGET,
                   help=f"CPU seconds of the floor's long run at most: its length is cut to fit (default {BUDGET:g})")
    p.add_argument("--bare", action="store_true",
                   help="against the bare floor alone (the step and Σθ, Σθ²: the floor before issue 25's second pass)")
    p.add_argument("--check", action="store_true",
                   help="assert that the floors' observables, summaries and marks are the engine's, and exit")
    a = p.parse_args()
    if a.check:
        for label, marks in check().items():
            print(f"{label}: same observables, summaries and marks as the engine "
                  f"(generations with both answers of each mark: {marks})")
        return
    chains = a.chains or ((100, 1000) if a.quick else CHAINS)
    long = a.long or (500 if a.quick else LONG)
    repeats = (2, 1) if a.quick else (REPEATS_SHORT, REPEATS_LONG)
    floors = ("bare",) if a.bare else ("full", "bare")
    print(f"M = {M}; short: generations {SHORT + 1}–{2 * SHORT}, long: {SHORT + 1} to the 'long to' column; "
          "engine and floor µs per generation, ratio = engine/floor"
          + (" (the bare floor)" if a.bare else ", bare = engine/bare floor"))
    head = ["engine", "floor", "ratio"] + ([] if a.bare else ["bare"])
    print("| family | regime | chains | " + " | ".join(f"short {h}" for h in head) + " | long to | "
          + " | ".join(f"long {h}" for h in head) + " |")
    print("|---|---|" + "---:|" * (2 + 2 * len(head)))
    for case in CASES:
        if a.only and a.only not in case[0]:
            continue
        for regime in case[6]:
            if a.regime and regime not in a.regime:
                continue
            for C in chains:
                short = best_times(case, regime, C, (SHORT, 2 * SHORT), repeats[0], floors)
                floor_cost = per_generation(short, SHORT, 2 * SHORT)[1]
                T = int(min(long, max(2 * SHORT, a.budget / max(floor_cost, 1e-9))))
                long_ = best_times(case, regime, C, (SHORT, T), repeats[1], floors)
                cells = []
                for eng, *flo in (per_generation(short, SHORT, 2 * SHORT), per_generation(long_, SHORT, T)):
                    cells += [f"{1e6 * eng:,.0f}", f"{1e6 * flo[0]:,.0f}"] + [f"{eng / f:.2f}" for f in flo]
                cells.insert(len(head), f"{T:,}")
                print(f"| {case[0]} | {regime} | {C:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
