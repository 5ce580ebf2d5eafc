"""Collapse as users mean it (theory.engine.collapse): decided from the state, checked against
Eq. 18's normalisability over a table of settings, and the issue's two acceptance runs."""

import json

import numpy as np
import pytest

from theory.cli import main
from theory.engine import collapse
from theory.params import from_params
from theory.validate.collapse_checks import CASES, agrees, collapse_check
from theory.validate.registry import QUICK


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[6]}-{c[7]}-{c[5]}")
def test_collapsed_iff_not_normalisable(case):
    """The quick budget of the registry's check (400 chains): passes, and its control (the
    opposite verdict) is rejected."""
    out = collapse_check(case).compute(QUICK, None)
    assert out.passed, out.detail
    assert out.control_rejected, out.detail


def _summary(capsys, argv):
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fig3_loop_has_not_collapsed(capsys):
    """The issue's acceptance run: Fig. 3's loop touches rate 0 and leaves it (ever_absorbed > 0),
    nothing is absorbing, so nothing has collapsed."""
    s = _summary(capsys, ["simulate", "poisson", "--M", "200", "--external", "1", "--truth", "rate=1",
                          "--prior-law", "exponential:rate=1,on=rate", "--init", "rate=1",
                          "--generations", "2000", "--chains", "2000"])
    assert s["collapsed"]["fraction"] == 0 and s["collapsed"]["by_face"] == {}
    assert s["absorbed"]["fraction"] == 0
    assert s["ever_absorbed"]["fraction"] > 0


def test_flat_prior_bernoulli_collapses(capsys):
    """The issue's acceptance run: MAP with a flat Beta(1, 1) prior on p is the MLE; its refit
    stops within the refit's tolerance of p = 0 or 1 (float_boundary), every such chain counts."""
    s = _summary(capsys, ["simulate", "bernoulli", "--M", "50", "--prior-law", "beta:a=1,b=1,on=p",
                          "--init", "p=0.3", "--generations", "3000", "--chains", "2000"])
    c = s["collapsed"]
    assert c["fraction"] >= 0.99
    assert set(c["by_face"]) == {"phi1=0", "phi1=1"}
    # optional stopping: p is a martingale, so P(collapse at 1) = 0.3 (binomial SE, z < 4)
    assert abs(c["by_face"]["phi1=1"] - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 2000)
    assert c["time_mean"] > 0


def test_lower_dimensional_face_is_reported_before_the_vertex():
    """Categorical K = 3, pure loop: a chain first collapses onto an edge (one p = 0), later onto
    a vertex; the first collapse time precedes the hit time of the point mass."""
    loop = from_params("categorical", 20, {"p1": 0.3, "p2": 0.3}, family_args={"K": 3})
    run = loop.run(6, 300, seed=3)
    codes = run.collapse_codes
    edges = [lab for lab in collapse.face_labels(loop, run.state, codes) if lab.startswith("s in")]
    assert edges, "no chain on an edge after 6 generations"
    hit = run.state.hit_time >= 0
    assert np.all(run.state.collapse_time[hit] <= run.state.hit_time[hit])


def test_fresh_points_leave_nothing_collapsible():
    loop = from_params("bernoulli", 5, {"p": 0.3}, truth={"p": 0.3}, external=1)
    assert not collapse.collapsible(loop)
    run = loop.run(200, 200, seed=0)
    assert run.collapsed()["fraction"] == 0 and run.ever_absorbed()["fraction"] > 0


def test_agrees_is_strict():
    assert agrees(False, 0.99) and not agrees(False, 0.98)
    assert agrees(True, 0.0) and not agrees(True, 0.0025)
    assert not agrees(None, 1.0)
