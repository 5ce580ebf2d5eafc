"""Bad input found by fuzzing the CLI: each a one-line error, exit 2, before any computing.

Runs in-process (``theory.cli.main``); every case is small, so the file takes seconds.
"""

import json

import pytest

from theory.cli import main

SIM = ["simulate", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "3",
       "--chains", "4"]
GAUSS = ["simulate", "gaussian", "--M", "5", "--generations", "3", "--chains", "4"]


def sim(family, init, *extra):
    return ["simulate", family, "--M", "5", "--init", init, "--generations", "3", "--chains", "4",
            *extra]


CASES = [
    # 1. tracebacks
    (SIM + ["--seed", "-1"], "seed must be a non-negative integer"),
    (["simulate", "bernoulli", "--M", "9223372036854775808", "--init", "p=0.3",
      "--generations", "3", "--chains", "4"], "M must be an integer >= 1 and <= 2**53"),
    (SIM[:-1] + ["10000000000"], "GiB of memory"),
    (SIM + ["--estimator", "map", "--nu", "inf"], "finite nu > 0"),
    (SIM + ["--estimator", "map", "--nu", "nan"], "finite nu > 0"),
    (SIM + ["--estimator", "map", "--nu", "-1"], "finite nu > 0"),
    (SIM + ["--estimator", "l2", "--lam", "inf"], "finite lam > 0"),
    (SIM + ["--estimator", "l2", "--lam", "nan"], "finite lam > 0"),
    (SIM + ["--estimator", "l2", "--lam", "0"], "finite lam > 0"),
    (sim("bernoulli", "theta=1e308"), "numerically a point mass"),
    (sim("binomial", "theta=1e308"), "overflows float64"),
    (sim("curie_weiss", "theta1=1e308,theta2=0"), "overflows float64"),
    (sim("gaussian", "theta1=0", "--fixed", "theta2=1"), "outside the domain of gaussian"),
    (["derive", "bernoulli", "--out", "/proc/x"], "cannot write there"),
    (["figures", "--only", "gaussian_collapse", "--out", "/proc/x"], "cannot write there"),
    # 2. hangs
    (["derive", "curie_weiss", "--family-args", "N=1000", "--json"], "1001 sample-space levels"),
    (["derive", "binomial", "--family-args", "n=1000"], "1001 sample-space levels"),
    (["derive", "categorical", "--family-args", "K=13", "--json"], "free natural parameters"),
    (["derive", "gaussian", "--fixed", "theta2=1", "--json"], "outside the domain of gaussian"),
    (sim("categorical", "p1=0.2,p2=0.2,p3=0.2,p4=0.2,p5=0.1,p6=0.1", "--family-args", "K=6"),
     "symbolic inverse mean map"),
    # 3. silent acceptance
    (["derive", "bernoulli", "--family-args", "N=3", "--json"], "takes no arguments; got N"),
    (["derive", "bernoulli", "gaussian", "--family-args", "N=3", "--json"], "taken by none"),
    (["derive", "--family-args", "N=3", "--json"], "needs the families"),
    (["derive", "--fixed", "theta2=0", "--json"], "needs the families"),
    (sim("bernoulli", "p=0.3,theta=0"), "'theta' is natural"),
    (sim("gaussian", "mean=0,theta2=-1"), "'theta2' is natural"),
    (sim("bernoulli", "p=0.3,p=0.4"), "--init p is given twice"),
    (SIM + ["--record-every", "-1"], "record-every must be an integer >= 0"),
    (SIM + ["--burn-in", "-1"], "burn-in must satisfy"),
    (["figures", "--only", "bogus"], "unknown figure id 'bogus'; known: "),
    (["validate", "--seed", "-1", "bernoulli"], "--seed must be >= 0"),
    # 4. silent nonsense
    (GAUSS + ["--init", "mean=0,var=1e-300"], "numerically a point mass"),
    (GAUSS + ["--init", "mean=1,var=1e-300"], "not finite in float64"),
    (GAUSS + ["--init", "mean=0,var=1e300"], "not finite in float64"),
    (GAUSS + ["--init", "mean=1e10,var=1"], "numerically a point mass"),
    (sim("exponential", "rate=1e308"), "underflows float64"),
    (sim("poisson", "theta=-800"), "numerically a point mass"),
    (["simulate", "poisson", "--M", "1000000", "--init", "rate=1e14", "--generations", "1",
      "--chains", "1"], "cannot draw 1000000 points"),
]


@pytest.mark.parametrize("argv, needle", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("closedloop: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_exponential_is_never_absorbed(capsys):
    """M = 2: every chain's mean underflows within 3000 generations (it was reported absorbed):
    not absorbed, but collapsed, every chain (the underflowed ones as diverging)."""
    argv = ["simulate", "exponential", "--M", "2", "--init", "rate=1", "--generations", "3000",
            "--chains", "50", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["absorbed"]["fraction"] == 0 and summary["absorbed"]["by_state"] == {}
    assert summary["collapsed"]["fraction"] == 1
    assert summary["collapsed"]["by_kind"]["diverging"] == 49 / 50
    assert "underflowed float64 (counted as collapsed, diverging" in out.err
    assert len(out.err.strip().splitlines()) == 1  # one warning line, no numpy warnings


def test_poisson_still_absorbs_at_zero(capsys):
    argv = ["simulate", "poisson", "--M", "2", "--init", "rate=0.5", "--generations", "200",
            "--chains", "50", "--json"]
    assert main(argv) == 0
    absorbed = json.loads(capsys.readouterr().out)["absorbed"]
    assert absorbed["fraction"] == 1 and absorbed["by_state"] == {"phi1=0": 1.0}


@pytest.mark.parametrize("theta1", [8, 30])
def test_curie_weiss_far_start_refits(theta1, capsys):
    """θ1 ≥ 8 with one anchor: the Newton refit failed (cancelling χ, saturated levels)."""
    argv = ["simulate", "curie_weiss", "--family-args", "N=10", "--M", "50", "--anchors", "1",
            "--truth", "theta1=0,theta2=0", "--init", f"theta1={theta1},theta2=0",
            "--generations", "50", "--chains", "100", "--seed", "1", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and out.err == ""
    assert json.loads(out.out)["final"]["mean"]["phi1"] is not None


def test_newton_failure_is_one_line(monkeypatch, capsys):
    """Whatever the cause, a refit that does not converge is one line naming the setting."""
    import theory.engine.loop as loop_module
    from theory.engine.estimators import NotConverged

    def fail(*args, **kwargs):
        raise NotConverged("Newton refit did not converge for 3 chain(s)")

    monkeypatch.setattr(loop_module, "solve_theta", fail)
    argv = ["simulate", "curie_weiss", "--family-args", "N=4", "--M", "5", "--init",
            "theta1=0.1,theta2=0.1", "--generations", "3", "--chains", "7"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("closedloop: error: Newton refit did not converge")
    assert "curie_weiss (N=4), M=5" in line and "7 chains" in line


def test_large_curie_weiss_simulates_without_symbolic_work(capsys):
    argv = ["simulate", "curie_weiss", "--family-args", "N=200", "--M", "20", "--init",
            "theta1=0.1,theta2=0", "--generations", "3", "--chains", "5", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["final"]["mean"]["phi1"] is not None


def test_outputs_are_written_atomically(tmp_path):
    from theory.io import atomic_path, write_text_atomic

    target = tmp_path / "a.tex"
    write_text_atomic(target, "old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.tex"]
