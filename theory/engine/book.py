"""What a run keeps of its generations, summarised a block of generations at a time.

A run keeps summaries over chains, not the chains' histories: per generation the mean and
(ddof = 1) variance over chains of every observable (finite values only), averaged over the
generations after the burn-in; every K-th generation a trace row; histograms over chains ×
generations; each chain's first generation collapsed and on a point mass. Made generation by
generation, these summaries were most of a generation's cost when the chains are few (20–150 µs
of small NumPy calls against 5–20 µs for the draw and the refit at 10² chains). The chains
(``loop._Chains``, ``lattice.LatticeChains``) therefore copy what the observables read into
buffers of B generations and summarise a block in one call; :class:`Book` takes the block's
per-generation means and variances. B keeps a block's buffers and temporaries near
:data:`BLOCK_BYTES` (B = 1 with many chains, where a generation's own work dominates anyway).

The numbers are those of a summary made each generation: :func:`mean_var` is
:func:`mean_var_rows` of one row, a row's sums the same in a block as alone, and the time
averages add the generations' means one after the other, in generation order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BLOCK_BYTES = 2**23   # a block's buffers and the temporaries of its summaries, about (8 MiB)
BLOCK_MAX = 256       # generations per block at most: few chains then pay a block's fixed cost rarely
EINSUM_BUFFER = 8192  # einsum sums a row longer than its buffer in pieces: such rows one by one
CANCELLATION = 1e-5   # a one-pass variance below this · mean² is summed again in two passes
REPEAT_CHUNK = 2**16  # generations added at once when a run's last state repeats (every chain absorbed)
NO_ROWS = np.empty(0, np.intp)

# values(name, rows, first): the observable ``name`` in the first ``first`` chains (None: all) at
# the given rows of a summarised block, shape (len(rows), chains)
Values = Callable[[str, np.ndarray, int | None], np.ndarray]


def block_size(chains: int, bytes_per_chain: int) -> int:
    """Generations per block: B · chains · bytes_per_chain ≈ BLOCK_BYTES, 1 ≤ B ≤ BLOCK_MAX."""
    return int(max(1, min(BLOCK_MAX, BLOCK_BYTES // max(1, chains * bytes_per_chain))))


def mean_var(values: np.ndarray) -> tuple[float, float]:
    """Mean and (ddof = 1) variance over the chains where the value is finite (NaN if none):
    :func:`mean_var_rows` of one row."""
    mean, var = mean_var_rows(np.reshape(values, (1, -1)))
    return float(mean[0]), float(var[0])


def _square_sums(values: np.ndarray) -> np.ndarray:
    """Σ x² of each row of ``values``: einsum on contiguous rows (it sums a strided row in
    another order: such rows are copied), row by row where a row is longer than einsum's buffer
    (it would sum such a row in pieces, not as it sums one row)."""
    if values.strides[1] != values.itemsize:
        values = np.ascontiguousarray(values)
    if values.shape[1] <= EINSUM_BUFFER:
        return np.einsum("bi,bi->b", values, values)
    return np.array([np.einsum("i,i->", x, x) for x in values])


def mean_var_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (ddof = 1) variance of each row of ``values`` (rows, chains) over its finite
    values, in a few calls; :func:`mean_var` is this function on one row.

    A row's mean is its pairwise sum Σx over its length divided by n (NumPy sums a row laid
    along memory the same way at any stride: a column of a wider array is read in place). Its
    variance is first taken in one pass, (Σx² − x̄ Σx) / (n − 1), the floor's two sums. Its
    relative error grows as κ = x̄²/var (the subtraction cancels): about κ · √n · 10⁻¹⁶ on varied
    rows, up to κ · n · 10⁻¹⁶ where few values repeat (their roundings add up alike). Where
    κ ≥ 1/:data:`CANCELLATION` (or the variance is not positive, or Σx² overflowed), the row is
    summed again in two passes, Σ (x − x̄)² / (n − 1), exact to a few ulps. The relative error is
    thus below 10⁻⁸ up to 2·10⁴ chains (measured against exact sums on varied and two-valued
    rows, tests/test_blocks.py; a variance below the smallest normal float loses relative
    precision either way), a millionth of the summary's own Monte Carlo error
    (√(2/(n − 1)) ≥ 10⁻²). The threshold is that high because a pool's chains (accumulate) stay
    close together: κ ~ 10³–10⁴ there throughout a run at M = 10⁴. Integer and boolean values
    are summarised as floats. Rows whose mean is not finite are summarised over their finite
    values (``np.var``'s two passes), a run of consecutive rows with as many finite values at once
    (a pairwise sum depends on the length, so rows of one count are summed as rows of that
    length), read as views of the finite values selected once. Large temporaries are few: at 2·10⁴
    chains each costs its pages' first touch more than its sums."""
    R, C = values.shape
    if values.dtype.kind in "biu":  # (counts, flags: their sums in floats, as the mean takes them)
        values = values.astype(float)
    with np.errstate(over="ignore", invalid="ignore"):
        if not C:
            return np.full(R, np.nan), np.full(R, np.nan)
        step, row = values.strides[1], values.strides[0]
        if not (step > 0 and (R == 1 or row >= C * step)):  # rows not laid along memory in order
            values = np.ascontiguousarray(values)
        total = np.add.reduce(values, axis=1)  # values.mean(axis=1) without its Python wrapper:
        mean = total / C                        # the sum divided by the count, the same bits
        finite = np.isfinite(mean)
        bad = NO_ROWS if finite.all() else np.flatnonzero(~finite)
        if C == 1:
            var = np.zeros(R)
        elif len(bad) == R:  # every row is done below
            var = np.empty(R)
        else:  # every row (one with a non-finite value is done again below)
            var = _square_sums(values)
            var -= mean * total
            var /= C - 1
            again = ~((var > CANCELLATION * np.square(mean)) & (var < np.inf))  # (NaN, Σx² overflowed)
            again[bad] = False
            if again.any():
                rows = np.flatnonzero(again)
                dev = values[rows]  # (a copy: the deviations in place, no second large temporary)
                dev -= mean[rows, None]
                var[rows] = _square_sums(dev) / (C - 1)
        if len(bad):
            part = values if len(bad) == R else values[bad]
            ok = np.isfinite(part)
            count = np.count_nonzero(ok, axis=1)
            finite = part[ok]  # the bad rows' finite values, row after row
            start = np.cumsum(count) - count
            runs = np.flatnonzero(np.diff(count)) + 1  # where the count changes
            for lo, hi in zip([0, *runs.tolist()], [*runs.tolist(), len(bad)], strict=True):
                n, rows = int(count[lo]), bad[lo:hi]
                if not n:
                    mean[rows], var[rows] = np.nan, np.nan
                    continue
                x = finite[start[lo]:start[lo] + (hi - lo) * n].reshape(hi - lo, n)
                mean[rows] = m = x.mean(axis=1)
                if n > 1:
                    dev = x - m[:, None]
                    var[rows] = np.multiply(dev, dev, out=dev).sum(axis=1) / (n - 1)
                else:
                    var[rows] = 0.0
    return mean, var


def first_times(times: np.ndarray, hit: np.ndarray, generations: np.ndarray) -> None:
    """Set ``times`` (chains,) still −1 to the first of ``generations`` (B,) at which ``hit``
    (B, chains) holds, in place."""
    found = (times < 0) & hit.any(axis=0)
    if found.any():
        times[found] = generations[hit[:, found].argmax(axis=0)]


def add_in_order(total: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """total + rows[0] + rows[1] + ..., added in that order (column by column): the float sums a
    loop over generations makes."""
    return np.add.accumulate(np.concatenate([total[None], rows]), axis=0)[-1]


def add_repeated(total: np.ndarray, row: np.ndarray, times: int) -> np.ndarray:
    """total + row + row + ... (``times`` rows), added one after the other (:func:`add_in_order`)."""
    chunk = np.broadcast_to(row, (min(times, REPEAT_CHUNK), len(row)))
    while times > 0:
        total = add_in_order(total, chunk[:times])
        times -= len(chunk)
    return total


class Book:
    """The summaries a run keeps (see the module docstring), fed blocks of generations in order.

    ``names``: the observables, in the order of the rows' columns; ``histograms``: name →
    :class:`~.loop.Histogram`; ``trace``: the run's trace dict (lists per observable), or None.
    """

    def __init__(self, names: list[str], generations: int, burn_in: int, record_every: int, keep: int,
                 histograms: dict, trace: dict | None):
        self.names, self.generations, self.burn_in = names, generations, burn_in
        self.record_every, self.keep = record_every, keep
        self.histograms, self.trace = histograms, trace
        self.sum_mean, self.sum_var = np.zeros(len(names)), np.zeros(len(names))
        self.final: tuple[np.ndarray, np.ndarray] | None = None  # (mean, var) of the last generation

    def traced(self, t: np.ndarray) -> np.ndarray:
        """Whether generations ``t`` are trace rows (every ``record_every``-th and the last)."""
        if not self.record_every:
            return np.zeros(len(t), bool)
        return (t % self.record_every == 0) | (t == self.generations)

    def wanted(self, t: np.ndarray) -> np.ndarray:
        """Whether generations ``t`` are summarised: after the burn-in, or a trace row."""
        return (t > self.burn_in) | self.traced(t)

    def add(self, t: np.ndarray, mean: np.ndarray, var: np.ndarray, values: Values) -> None:
        """Generations ``t`` (wanted ones, increasing, after those added before): their means and
        variances over chains (len(t), names) and their per-chain values."""
        if t[-1] > self.burn_in:  # (t increasing: those after the burn-in are the last ones)
            after = slice(0 if t[0] > self.burn_in else int(np.searchsorted(t, self.burn_in, "right")), None)
            self.sum_mean = add_in_order(self.sum_mean, mean[after])
            self.sum_var = add_in_order(self.sum_var, var[after])
            if self.histograms:
                rows = np.arange(len(t))[after]
                for name, h in self.histograms.items():
                    h.add(values(name, rows, None))
        if self.record_every:
            for j in np.flatnonzero(self.traced(t)):
                self._trace_row(int(t[j]), mean[j], var[j], values, int(j))
        self.final = mean[-1], var[-1]

    def repeat(self, t: int, mean: np.ndarray, var: np.ndarray, values: Values) -> None:
        """Generations t + 1 .. T are generation t again (every chain absorbed: nothing moves);
        ``mean``, ``var`` (1, names) and ``values`` (row 0) of generation t."""
        times = self.generations - max(t, self.burn_in)
        if times > 0:
            self.sum_mean = add_repeated(self.sum_mean, mean[0], times)
            self.sum_var = add_repeated(self.sum_var, var[0], times)
            for name, h in self.histograms.items():
                h.add(values(name, np.array([0]), None), times=times)
        if self.record_every:
            K = self.record_every
            rows = list(range((t // K + 1) * K, self.generations + 1, K))
            if self.generations > t and (not rows or rows[-1] != self.generations):
                rows.append(self.generations)
            for s in rows:
                self._trace_row(s, mean[0], var[0], values, 0)
        self.final = mean[0], var[0]

    def _trace_row(self, t: int, mean: np.ndarray, var: np.ndarray, values: Values, row: int) -> None:
        """Generation t's trace row: means, variances and the first ``keep`` chains' values."""
        trace = self.trace
        assert trace is not None  # traced() holds only with record_every, which makes a trace
        trace["t"].append(t)
        for i, name in enumerate(self.names):
            trace["mean"][name].append(float(mean[i]))
            trace["var"][name].append(float(var[i]))
            trace["chains"][name].append(np.array(values(name, np.array([row]), self.keep)[0]))

    def time_average(self) -> dict[str, tuple[float, float]]:
        """Mean over the generations after the burn-in of each observable's mean and variance."""
        n = self.generations - self.burn_in
        return {name: (float(m) / n, float(v) / n)
                for name, m, v in zip(self.names, self.sum_mean, self.sum_var, strict=True)}

    def final_stats(self) -> dict[str, tuple[float, float]]:
        """Mean and variance over chains at the last generation."""
        assert self.final is not None  # the last generation is always summarised
        mean, var = self.final
        return {name: (float(m), float(v)) for name, m, v in zip(self.names, mean, var, strict=True)}
