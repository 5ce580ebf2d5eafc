"""Shared fixtures: every family (small arguments), parametrised by name."""

import os
import shutil

import numpy as np
import pytest

from theory import get_family

FAMILY_CASES = {
    "bernoulli": {}, "binomial": {"n": 5}, "poisson": {}, "exponential": {}, "gaussian": {},
    "categorical": {"K": 3}, "curie_weiss": {"N": 6},
}


@pytest.fixture(params=list(FAMILY_CASES), ids=list(FAMILY_CASES))
def family(request):
    return get_family(request.param, **FAMILY_CASES[request.param])


@pytest.fixture
def rng(request):
    """A generator seeded from the test's node id: reproducible, different per test."""
    import zlib

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def require_pdflatex():
    """Skip without pdflatex locally; CI (CI=true) installs it, so there its absence fails."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is required in CI (.ci/run installs texlive)")
        pytest.skip("pdflatex not installed")
