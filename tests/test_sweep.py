"""Sweeps: numbers independent of workers and backend, loops that pickle, one-line errors, atomic output."""

import importlib.util
import json
import pickle

import pytest
from conftest import FAMILY_CASES

from theory import InputError
from theory.cli import main
from theory.io import write_json_atomic
from theory.params import from_params
from theory.sweep import sweep, tasks

BASE = {"family": "bernoulli", "init": {"p": 0.3}, "generations": 30, "chains": 500}
GRID = {"M": [10, 40], "anchors": [0, 2]}
BASE_ANCHORED = BASE | {"truth": "p=0.5"}

INITS = {"bernoulli": {"p": 0.3}, "binomial": {"p": 0.3}, "poisson": {"rate": 2.0},
         "exponential": {"rate": 1.5}, "gaussian": {"mean": 1.0, "var": 2.0},
         "categorical": {"p1": 0.2, "p2": 0.3, "p3": 0.5}, "curie_weiss": {"theta1": 0.1, "theta2": 0.2}}


def test_joblib_workers_do_not_change_the_numbers():
    one = sweep(BASE_ANCHORED, GRID, seeds=2, seed=7, n_jobs=1)
    two = sweep(BASE_ANCHORED, GRID, seeds=2, seed=7, n_jobs=2)
    assert one == two
    assert len(one["results"]) == 8
    assert [r["setting"] for r in one["results"][::2]] == [
        {"M": 10, "anchors": 0}, {"M": 10, "anchors": 2}, {"M": 40, "anchors": 0}, {"M": 40, "anchors": 2}]
    # replicates differ, and the task seeds come from SeedSequence.spawn of the root seed
    a, b = one["results"][:2]
    assert a["seed"] != b["seed"] and a["summary"] != b["summary"]
    assert a["summary"]["seed"] == a["seed"]
    assert sweep(BASE_ANCHORED, GRID, seeds=2, seed=8, n_jobs=1)["results"][0]["seed"] != a["seed"]


def test_dask_cluster_gives_the_single_process_result(dask_client):
    expected = sweep(BASE_ANCHORED, GRID, seeds=1, seed=3, n_jobs=1)
    # by address, as `--scheduler tcp://...` does (the sweep opens and closes its own client)
    got = sweep(BASE_ANCHORED, GRID, seeds=1, seed=3, scheduler=dask_client.scheduler.address)
    assert got == expected


@pytest.mark.parametrize("name", list(FAMILY_CASES))
def test_every_family_loop_and_run_pickle(name):
    loop = from_params(name, 20, INITS[name], family_args=FAMILY_CASES[name])
    run = loop.run(5, 50, seed=1)
    again = pickle.loads(pickle.dumps(loop))
    assert again.run(5, 50, seed=1).summary() == run.summary()
    assert pickle.loads(pickle.dumps(run)).summary() == run.summary()


@pytest.mark.parametrize("kwargs", [
    {"fixed": {"theta2": None}},
    {"prior_law": "normal:var=2"},
    {"external_data": [{"phi1": 0}], "estimator": "l2"},
], ids=["fixed", "prior-law", "data-l2"])
def test_curie_weiss_settings_pickle(kwargs):
    kw = dict(kwargs)
    data = kw.pop("external_data", ())
    loop = from_params("curie_weiss", 20, INITS["curie_weiss"], family_args={"N": 6}, data=data, **kw)
    again = pickle.loads(pickle.dumps(loop))
    assert again.run(3, 40, seed=2).summary() == loop.run(3, 40, seed=2).summary()


def test_poisson_with_a_prior_on_the_rate_pickles():
    loop = from_params("poisson", 20, {"rate": 1.0}, external=1, truth={"rate": 1.0},
                       prior_law="exponential:rate=1,on=rate")
    again = pickle.loads(pickle.dumps(loop))
    assert again.run(3, 40, seed=2).summary() == loop.run(3, 40, seed=2).summary()


def _error(capsys, argv):
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("closedloop: error: ") and err.count("\n") == 1, err
    return err


SMALL = ["sweep", "--family", "bernoulli", "--init", "p=0.3", "--generations", "5", "--chains", "20",
         "--workers", "1", "--quiet"]


def test_bad_input_is_one_line_before_computing(capsys, tmp_path, monkeypatch):
    import theory.sweep as sw

    def boom(*a, **k):
        raise AssertionError("computed despite bad input")

    monkeypatch.setattr(sw, "execute", boom)
    out = tmp_path / "out.json"
    assert "unknown grid setting 'Mx'" in _error(capsys, SMALL + ["--grid", "Mx=10,20", "--out", str(out)])
    assert "M=0" in _error(capsys, SMALL + ["--grid", "M=10,0", "--out", str(out)])
    assert "not a valid int" in _error(capsys, SMALL + ["--grid", "M=10,ten"])
    assert "unknown parameter 'q'" in _error(capsys, SMALL + ["--M", "10", "--grid", "init=p=0.3;q=0.5"])
    assert "needs M" in _error(capsys, SMALL)
    # without the dask extra the same flag is refused by what it needs
    unreachable = "Dask scheduler" if importlib.util.find_spec("distributed") else "theory[dask]"
    assert unreachable in _error(capsys, SMALL + ["--M", "10", "--scheduler", "tcp://127.0.0.1:9",
                                                  "--timeout", "0.5"])
    bad = tmp_path / "grid.json"
    bad.write_text(json.dumps({"base": BASE, "grid": {"M": [10]}, "seedz": 2}))
    assert "unknown key 'seedz'" in _error(capsys, ["sweep", str(bad)])
    assert "cannot read grid file" in _error(capsys, ["sweep", str(tmp_path / "none.json")])
    assert not out.exists()
    with pytest.raises(InputError, match="seeds"):
        tasks(BASE | {"M": 10}, seeds=0)


def test_cli_grid_file_and_options_and_atomic_output(capsys, tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"base": BASE, "grid": {"M": [10, 20]}, "seeds": 2, "seed": 5}))
    out = tmp_path / "deep" / "sweep.json"
    assert main(["sweep", str(grid), "--grid", "anchors=0,1", "--truth", "p=0.5", "--workers", "1",
                 "--quiet", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["grid"] == {"M": [10, 20], "anchors": [0, 1]} and doc["seeds"] == 2
    assert len(doc["results"]) == 8
    assert doc == sweep(BASE | {"truth": {"p": 0.5}}, {"M": [10, 20], "anchors": [0, 1]}, seeds=2, seed=5)
    assert [p.name for p in out.parent.iterdir()] == ["sweep.json"]  # no temporary left


def test_an_interrupted_sweep_leaves_no_half_written_file(tmp_path, monkeypatch):
    import theory.sweep as sw

    out = tmp_path / "sweep.json"
    out.write_text("old")

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sw, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(SMALL + ["--M", "10", "--out", str(out)])
    # and a failure while writing keeps the old file and leaves no temporary
    with pytest.raises(TypeError):
        write_json_atomic(out, {"results": [1, object()]})
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]
