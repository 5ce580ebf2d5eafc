"""Shared fixtures: every family (small arguments), parametrised by name; one local Dask cluster;
:func:`once_per_run` for the whole-pipeline fixtures, among them every check at the smoke budget."""

import contextlib
import dataclasses
import gc
import json
import os
import shutil

import numpy as np
import pytest

from theory import get_family
from theory.cases import declared_cases
from theory.validate import QUICK, Budget, Outcome, all_checks, run_checks
from theory.validate.registry import Result

# every registered family at the arguments its module declares (VALIDATION): a new family
# file is tested with no edit here (efax's distribution-parametrised tests)
FAMILY_CASES = {}
for _case in declared_cases():
    FAMILY_CASES.setdefault(_case.name, dict(_case.args))


# session fixtures of whole pipeline stages (and the Dask cluster): under pytest-xdist's loadgroup the
# tests that use them run in one worker (the stages in that process), while the other worker runs the
# rest of the suite; the stages are made once per run whatever the distribution (once_per_run), the
# cluster once per worker
PIPELINE_FIXTURES = {"fresh": "derive", "built": "pipelines", "smoke_results": "pipelines",
                     "quick_results": "pipelines", "dask_client": "pipelines"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        groups = {PIPELINE_FIXTURES[f] for f in getattr(item, "fixturenames", ()) if f in PIPELINE_FIXTURES}
        if groups:
            item.add_marker(pytest.mark.xdist_group(min(groups)))


def pytest_collection_finish(session):
    """Freeze what is alive once the tests are collected (the modules imported, SymPy's caches):
    Python's full collections then stop walking those millions of objects, which cost each
    test process about a tenth of its time (12 s of the suite's CPU). Only the test processes;
    the package itself never touches the collector."""
    gc.collect()
    gc.freeze()


def pytest_addoption(parser, pluginmanager):
    """Without pytest-xdist (the `test` extra installs it) or with ``-p no:xdist``, accept and
    ignore the ``--numprocesses`` and ``--dist`` of pyproject's addopts: one process then."""
    if not pluginmanager.hasplugin("xdist"):
        group = parser.getgroup("xdist", "pytest-xdist absent or disabled: the suite runs in one process")
        # dests of their own: plugins that ask for xdist's options (pytest-benchmark) see none
        group.addoption("--numprocesses", dest="ignored_numprocesses", metavar="N",
                        help="ignored without pytest-xdist")
        group.addoption("--dist", dest="ignored_dist", help="ignored without pytest-xdist")


@contextlib.contextmanager
def _exclusive(lock: "os.PathLike"):
    """Hold an exclusive lock on the file ``lock`` (POSIX fcntl; where there is none: no lock)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: each worker makes its own copy (in its own folder, below)
        yield False
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield True


def once_per_run(tmp_path_factory, name: str, make) -> "os.PathLike":
    """The folder ``make(folder)`` fills, made once per test run whatever the xdist distribution.

    Under pytest-xdist the workers of a run share the parent of their base temporary folders
    (``pytest-N/popen-gwK``): the first worker to ask makes the folder there under a file lock,
    the others wait for it and read it. A folder left without its ``.done`` mark by a failed
    attempt is made again (and fails again, in every worker that asks)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    with _exclusive(root / f"{name}.lock") as shared:
        folder = root / name if shared else tmp_path_factory.getbasetemp() / name
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".done").touch()
    return folder


@pytest.fixture(params=list(FAMILY_CASES), ids=list(FAMILY_CASES))
def family(request):
    return get_family(request.param, **FAMILY_CASES[request.param])


@pytest.fixture
def rng(request):
    """A generator seeded from the test's node id: reproducible, different per test.

    pytest-xdist appends ``@group`` to the ids of grouped tests; the seed is that of the
    plain id, so a test draws the same numbers with and without xdist."""
    import zlib

    nodeid = request.node.nodeid
    group = request.node.get_closest_marker("xdist_group")
    if group is not None:
        nodeid = nodeid.removesuffix(f"@{group.args[0] if group.args else group.kwargs['name']}")
    return np.random.default_rng(zlib.crc32(nodeid.encode()))


def require_pdflatex():
    """Skip without pdflatex locally; CI (CI=true) installs it, so there its absence fails."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is required in CI (.ci/run installs texlive)")
        pytest.skip("pdflatex not installed")


# Every check's code, at sample sizes that only run it: errors, the ids it reads, the report,
# seeds and backends. Whether the checks pass is a matter of the quick budget (tests/test_validate.py,
# -m slow).
SMOKE = Budget("smoke", chains=5_000, ladder=QUICK.ladder, ladder_chains=5_000, absorb_chains=1_000,
               stationary_chains=200, collapse_chains=20)


def run_once(tmp_path_factory, budget: Budget) -> list[Result]:
    """Every registered check at ``budget``, once per test run, in this process (it shares the
    derivations already loaded here; joblib workers and Dask are compared in test_validate): the results
    are kept as JSON (floats round-trip exactly) and rebuilt around the registered checks."""
    def make(out):
        results = run_checks(all_checks(), budget, seed=0)
        rows = [[r.check.key, r.outcome and dataclasses.asdict(r.outcome), r.threshold, r.seconds, r.error,
                 list(r.evaluated)] for r in results]
        (out / "results.json").write_text(json.dumps(rows, default=lambda x: x.item()))  # numpy scalars

    folder = once_per_run(tmp_path_factory, f"validate-{budget.name}", make)
    rows = json.loads((folder / "results.json").read_text())
    checks = all_checks()
    assert [row[0] for row in rows] == [c.key for c in checks]
    return [Result(c, outcome and Outcome(**outcome), z_star, seconds, error, tuple(evaluated))
            for c, (_, outcome, z_star, seconds, error, evaluated) in zip(checks, rows, strict=True)]


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """Every registered check at the smoke budget."""
    return run_once(tmp_path_factory, SMOKE)


@pytest.fixture(scope="session")
def dask_client():
    """One local Dask cluster (one worker process) for every backend test of the session:
    starting one costs seconds, and the tests only need some cluster to send tasks to (a second
    worker would import the package and load the derivations once more). Skipped without the
    dask extra (``pip install 'theory[dask]'``)."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


class SmoothedDraws:
    """A generator whose multinomial draws from its probabilities moved ``share`` of the way to
    uniform: a negative control for a step that must draw from its model's probabilities (mass
    off a model's face, a point mass no longer absorbing); every other draw is the generator's."""

    def __init__(self, rng, share: float):
        self.rng, self.share = rng, share

    def __getattr__(self, name):
        return getattr(self.rng, name)

    def multinomial(self, n, pvals):
        p = np.asarray(pvals)
        return self.rng.multinomial(n, (1 - self.share) * p + self.share / p.shape[-1])
