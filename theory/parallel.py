"""The one task runner: joblib on local cores, or a Dask distributed cluster when one is given.

:func:`map_tasks` yields ``fn(item)`` for each item, in order, wherever it runs; derive,
validate, figures and sweep all run their tasks through it.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from .errors import InputError

SCHEDULER_TIMEOUT = 5.0  # seconds to reach a Dask scheduler before giving up


def connect(scheduler, timeout: float = SCHEDULER_TIMEOUT):
    """``(client, own)``: a ``dask.distributed.Client`` for an address, or a Client passed through
    (``own`` False: the caller keeps it open); InputError if unreachable."""
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise InputError("--scheduler needs dask[distributed]: pip install distributed") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(str(scheduler), timeout=timeout), True
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                         f"({type(e).__name__})") from None


def map_tasks(fn: Callable, items: Sequence, *, workers: int = 1, scheduler=None,
              timeout: float = SCHEDULER_TIMEOUT, fork_after: Callable[[], None] | None = None,
              batch_size: int | str = "auto") -> Iterator:
    """``fn(item)`` for each item, in order, each yielded as soon as it and those before it are done.

    ``scheduler`` (an address or a Client): on that Dask cluster. Else ``workers`` processes
    through joblib (``workers`` as joblib's ``n_jobs``: -1 is every core); one worker or one
    item runs here. ``fork_after``: on Linux, from a process without other threads, run it
    here and then fork the workers, which inherit what it computed (and the imports) instead
    of redoing it; elsewhere (spawn platforms, threads as under pytest-xdist or in a
    notebook, where forking is unsafe) joblib's loky workers.
    """
    items = list(items)
    if scheduler is not None:
        client, own = connect(scheduler, timeout)
        try:
            for future in client.map(fn, items, pure=False):
                yield future.result()
        finally:
            if own:
                client.close()
    elif workers == 1 or len(items) <= 1:
        yield from (fn(x) for x in items)
    elif fork_after is not None and workers > 1 and sys.platform == "linux" and threading.active_count() == 1:
        fork_after()
        # an executor, not a Pool: a worker that dies (killed, out of memory) is an error, not a hang
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(fn, items)
    else:
        from joblib import Parallel, delayed

        yield from Parallel(n_jobs=workers, batch_size=batch_size, return_as="generator")(
            delayed(fn)(x) for x in items)
