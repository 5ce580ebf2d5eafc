"""The one task runner: joblib on local cores, or a Dask distributed cluster when one is given.

:func:`map_tasks` yields ``fn(item)`` for each item, in order, wherever it runs; derive,
validate, figures and sweep all run their tasks through it.

A cluster is trusted with this process: Dask sends results back pickled, and unpickling runs
whatever the scheduler or a worker put there. Connect only to clusters you control, over TLS
(:class:`TLS`: Dask's mutual authentication with certificates); a ``tls://`` address without
certificates, and certificates with a ``tcp://`` address, are refused. Each result that comes
back is checked (``check``) before it is used, which catches a wrong or garbled answer, not a
malicious one.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from .errors import InputError

SCHEDULER_TIMEOUT = 5.0  # seconds to reach a Dask scheduler before giving up


@dataclass(frozen=True)
class TLS:
    """Dask TLS files (PEM): the CA that signed the cluster's certificates, this client's
    certificate and its private key (None when the certificate file holds the key too)."""

    ca_file: str
    cert: str
    key: str | None = None

    def check(self) -> None:
        """InputError (one line) if a file is missing."""
        for path in filter(None, (self.ca_file, self.cert, self.key)):
            if not os.path.isfile(path):
                raise InputError(f"TLS file {path} not found")

    def security(self):
        """The ``distributed.Security`` of these files, encryption required."""
        from distributed.security import Security

        self.check()
        return Security(tls_ca_file=self.ca_file, tls_client_cert=self.cert, tls_client_key=self.key,
                        require_encryption=True)


def connect(scheduler, timeout: float = SCHEDULER_TIMEOUT, tls: TLS | None = None):
    """``(client, own)``: a ``dask.distributed.Client`` for an address, or a Client passed through
    (``own`` False: the caller keeps it open); InputError (one line) if the address is not a
    Dask scheduler answering within ``timeout`` seconds, or its TLS setting does not match."""
    try:  # an optional extra (theory[dask]): only a cluster needs it
        from dask.distributed import Client
    except ImportError:
        Client = None
    if Client is not None and isinstance(scheduler, Client):
        return scheduler, False
    address = str(scheduler)
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise InputError(f"the scheduler timeout must be a number of seconds > 0, got {timeout!r}")
    if address.startswith("tls://") and tls is None:
        raise InputError(f"the scheduler {address} uses TLS: give its CA and your certificate "
                         "(--tls-ca-file, --tls-cert, --tls-key)")
    if tls is not None and not address.startswith("tls://"):
        raise InputError(f"TLS certificates given, but the scheduler address {address} is not tls://")
    if tls is not None:
        tls.check()
    if Client is None:
        raise InputError("--scheduler needs the dask extra: pip install 'theory[dask]'")
    options = {} if tls is None else {"security": tls.security()}
    # Dask's own timeout does not bound a peer that accepts and then never answers: the
    # connection is made in a thread, left behind (a daemon) if it is not done in time
    made: dict = {}

    def attempt():
        try:
            made["client"] = Client(address, timeout=timeout, **options)
        except BaseException as e:  # a non-Dask peer: any error, even a huge allocation
            made["error"] = e

    thread = threading.Thread(target=attempt, name="theory-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():
        raise InputError(f"no answer from {address} within {timeout:g} s (is it a Dask scheduler?)")
    if "error" in made:
        e = made["error"]
        why = (str(e).splitlines() or [""])[0][:120]
        raise InputError(f"cannot connect to a Dask scheduler at {address} within {timeout:g} s "
                         f"({type(e).__name__}{': ' + why if why else ''})")
    return made["client"], True


@contextlib.contextmanager
def cluster(address: str | None, timeout: float = SCHEDULER_TIMEOUT, tls: TLS | None = None):
    """A Client for ``address`` for the length of a command (None without an address), closed after."""
    if address is None:
        yield None
        return
    client, own = connect(address, timeout, tls)
    try:
        yield client
    finally:
        if own:
            client.close()


def map_tasks(fn: Callable, items: Sequence, *, workers: int = 1, scheduler=None,
              timeout: float = SCHEDULER_TIMEOUT, fork_after: Callable[[], None] | None = None,
              batch_size: int | str = "auto", check: Callable[[object, object], bool] | None = None) -> Iterator:
    """``fn(item)`` for each item, in order, each yielded as soon as it and those before it are done.

    ``scheduler`` (an address or a Client): on that Dask cluster, where ``check(item, result)``
    must accept each result before it is yielded (InputError otherwise). Else ``workers``
    processes through joblib (``workers`` as joblib's ``n_jobs``: -1 is every core); one worker
    or one item runs here. ``fork_after``: on Linux, from a process without other threads, run
    it here and then fork the workers, which inherit what it computed (and the imports) instead
    of redoing it, and exit if this process dies; elsewhere (spawn platforms, threads as under
    pytest-xdist or in a notebook, where forking is unsafe) joblib's loky workers.
    """
    items = list(items)
    if scheduler is not None:
        client, own = connect(scheduler, timeout)
        try:
            for n, (item, future) in enumerate(zip(items, client.map(fn, items, pure=False), strict=True)):
                result = future.result()
                if check is not None and not check(item, result):
                    raise InputError(f"the Dask cluster's reply to task {n + 1} of {len(items)} (a "
                                     f"{type(result).__name__}) is not a result of that task: not used")
                yield result
        finally:
            if own:
                client.close()
    elif workers == 1 or len(items) <= 1:
        yield from (fn(x) for x in items)
    elif fork_after is not None and workers > 1 and sys.platform == "linux" and threading.active_count() == 1:
        fork_after()
        # an executor, not a Pool: a worker that dies (killed, out of memory) is an error, not a hang
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
            yield from pool.map(fn, items)
    else:
        from joblib import Parallel, delayed

        yield from Parallel(n_jobs=workers, batch_size=batch_size, return_as="generator")(
            delayed(fn)(x) for x in items)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def exit_with_parent(parent: int) -> None:
    """In a forked worker: end when ``parent`` dies, rather than wait for tasks that never come.

    Linux delivers SIGTERM on the parent's death (``prctl(PR_SET_PDEATHSIG)``); where that is
    not available, a daemon thread checks the parent every second.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
