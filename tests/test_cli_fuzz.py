"""Bad input found by fuzzing the CLI: each a one-line error, exit 2, before any computing.

Runs in-process (``theory.cli.main``); every case is small, so the file takes seconds.
"""

import json
import os

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
    (SIM + ["--seed", "-1"], "seed must be an integer >= 0"),
    (["simulate", "bernoulli", "--M", "9223372036854775808", "--init", "p=0.3",
      "--generations", "3", "--chains", "4"], "M must be an integer from 1 to 9007199254740992"),
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
    (SIM + ["--burn-in", "-1"], "burn-in must be an integer >= 0"),
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
    # 5. issue 20: crashes, hangs and silent nonsense
    (sim("poisson", "rate=1", "--external-data", ""), "a point needs its statistics (phi1)"),
    (sim("poisson", "rate=1", "--external-data", "phi1=1e20"), "cannot draw 6 points"),
    (sim("gaussian", "mean=0,var=1", "--external-data", "s=1e200"), "overflow float64"),
    (SIM + ["--histogram", "p=0:1:nan"], "bins must be an integer from 1 to 1000000"),
    (SIM + ["--histogram", "p=0:1:inf"], "bins must be an integer from 1 to 1000000"),
    (SIM + ["--histogram", "p=0:1:1e12"], "bins must be an integer from 1 to 1000000"),
    (SIM + ["--histogram", "p=-1e308:1e308:10"], "hi - lo finite in float64"),
    (SIM + ["--histogram", "p=0:1:3", "--histogram", "p=0:1:4"], "--histogram p is given twice"),
    (sim("binomial", "p=0.3", "--family-args", "n=1000000"), "n must be an integer from 1 to 1000, got 1000000"),
    (sim("curie_weiss", "theta1=0.1,theta2=0", "--family-args", "N=1000000"), "N must be an integer from 3 to 1000, got 1000000"),
    (sim("curie_weiss", "theta1=0.1,theta2=0", "--family-args", "N=2"), "categorical with K = 3"),
    (["derive", "categorical", "--family-args", "K=1000000", "--json"], "K must be an integer from 2 to 32, got 1000000"),
    (sim("gaussian", "mean=1,var=2", "--prior-law", "exponential:rate=1,on=mean"), "lives on [0, inf)"),
    (["derive", "poisson", "--prior-law", "beta:a=2,b=2,on=rate", "--json"], "lives on [0, 1]"),
    (sim("gaussian", "mean=0,var=1", "--fixed", "theta2=-0.5"), "cannot be simulated"),
    (SIM[:7] + ["9223372036854775808"] + SIM[8:], "generations must be an integer from 1 to"),
    (["sweep", "--family", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "3",
      "--chains", "4", "--seeds", "1000000000"], "more than 100000"),
    (["sweep", "--family", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "3",
      "--chains", "4", "--out", "/proc/x/y.json"], "cannot write there"),
    (["sweep", "--family", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "3",
      "--chains", "4", "--workers", "9007199254740992"], "--workers must be at most 1024"),
    (sim("bernoulli", "p=0.3", "--external", "9007199254740993", "--truth", "p=0.5"), "more than 2**53"),
    (SIM + ["--prior-law", "beta:a=1e-320,b=1,on=p"], "a=9.99989e-321 is outside 0.0001 <= a <= 10000"),
    (SIM + ["--prior-law", "normal:var=1e-320"], "1e-10 <= var <= 1e+10"),
    (sim("poisson", "rate=1", "--prior-law", "normal:var=2,mean=1e300"), "|mean| <= 1e+10"),
    (sim("poisson", "rate=1", "--prior-law", "gamma:shape=1e6,rate=1e-6,on=rate"), "shape <= 10000"),
    (["derive", "poisson", "--prior-law", "gamma:shape=1e6,rate=1,on=rate", "--json"], "shape <= 10000"),
    (sim("poisson", "rate=1", "--prior-law", "normal:var=2,mean=1e10"), "Newton refit did not converge"),
]


@pytest.mark.parametrize("argv, needle", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("closedloop: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("grid, needle", [({"seeds": None}, "seeds (replicates per grid point) must be"),
                                          ({"base": {"M": "1e400"}}, "setting M: inf is not a valid int"),
                                          ({"base": {"M": 1e400}}, "setting M: inf is not a valid int"),
                                          ({"seed": "x"}, "seed must be an integer >= 0"),
                                          ({"base": {"external_data": 3}}, "is not a valid points")])
def test_grid_values_of_the_wrong_type(grid, needle, tmp_path, capsys):
    doc = {"base": {"family": "bernoulli", "init": {"p": 0.3}, "generations": 3, "chains": 4, "M": 5}}
    doc["base"] |= grid.pop("base", {})
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(doc | grid))
    assert main(["sweep", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert needle in line, line


def test_a_closed_pipe_ends_quietly():
    """``closedloop simulate ... | head -1``: no BrokenPipeError traceback, status 141 (SIGPIPE)."""
    import subprocess
    import sys

    # a JSON trace of 3000 generations (~300 kB) is more than the pipe holds: the write fails
    command = (f"{sys.executable} -m theory simulate bernoulli --M 5 --init p=0.3 --generations 3000 "
               f"--chains 4 --record-every 1 --json | head -c 1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120, check=False)
    assert "Traceback" not in done.stderr and done.stderr == "", done.stderr
    assert done.returncode == 141


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


# --- property-based fuzzing of the CLI grammar and the API -------------------------------------
# Every command line built from the grammar below, with bad and edge values in every slot, must
# end with exit status 0 (stderr empty or "closedloop: warning:" lines) or 2 (one line
# "closedloop: error: ..."), never a traceback, a numpy warning, a hang or NaN/Infinity in the
# JSON. Runs in-process, with small sizes; the default budget fits the suite (derandomized, so
# CI sees the same examples every time: 100-300 per test, about 9 s of CPU; half of an example's
# cost is Hypothesis drawing it). THEORY_FUZZ_EXAMPLES=3000 runs each longer, with random examples.
import contextlib  # noqa: E402
import io  # noqa: E402
import signal  # noqa: E402
import warnings  # noqa: E402
from unittest import mock  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LONG = int(os.environ.get("THEORY_FUZZ_EXAMPLES", "0"))
HANG_SECONDS = 60  # an example running longer is a hang (cold SymPy work is a few seconds)


def fuzz_settings(examples: int):
    return settings(max_examples=LONG or examples, deadline=None, derandomize=not LONG,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=True)


class Hang(BaseException):
    """Raised in the example that passes HANG_SECONDS (BaseException: no handler swallows it)."""


class Computed(BaseException):
    """Raised where a command would start its long computation: the input was accepted."""


@contextlib.contextmanager
def deadline(seconds: float):
    def ring(*_):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list[str]) -> tuple[int | None, str, str]:
    """(exit status, or None when a long computation was reached; stdout; stderr) of ``main``,
    with numpy's warnings turned into failures (a user would see them on stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(), deadline(HANG_SECONDS):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code
        except Computed:
            code = None
        except Hang as e:
            raise AssertionError(f"{' '.join(map(repr, argv))}: {e}") from None
    return code, out.getvalue(), err.getvalue()


def check_outcome(argv, code, out, err) -> None:
    shown = " ".join(map(repr, argv))
    assert "Traceback" not in err, f"{shown}\n{err}"
    lines = err.strip().splitlines()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("closedloop: error: "), f"{shown}\n{err}"
        return
    assert code in (0, None), f"{shown}: exit status {code}\n{err}"
    assert all(line.startswith("closedloop: warning: ") for line in lines), f"{shown}\n{err}"
    if code == 0 and "--json" in argv:
        def refuse(constant):
            raise AssertionError(f"{shown}: {constant} in the JSON")
        json.loads(out, parse_constant=refuse)


# values for every slot: ordinary ones, and the edges (sizes, non-numbers, unicode, code)
EDGE = ["0", "-1", "2.5", "1e-320", "1e308", "1e400", "-1e400", "nan", "inf", "-inf",
        "9007199254740992", "9007199254740993", "9223372036854775808", "", " ", "abc", "é", "٣",
        "1_0", "0x1f", "None", "[1]", "__import__('os').getpid()", "=", ",", ";", "p=0.3"]
NAMES = ["p", "rate", "mean", "var", "theta", "theta1", "theta2", "p1", "p2", "p3", "s", "phi1",
         "phi2", "N", "n", "K", "x", "", "é"]
FAMILIES = ["bernoulli", "binomial", "poisson", "exponential", "gaussian", "categorical",
            "curie_weiss", "bogus", "", "Bernoulli"]


# per family: ordinary values (the fuzzer mostly builds valid commands and then breaks a slot)
ORDINARY = {
    "bernoulli": {"init": ["p=0.3", "theta=0.2"], "data": ["phi1=1", "s=0"],
                  "prior": ["beta:a=2,b=2,on=p", "normal:var=2"], "fixed": []},
    "binomial": {"init": ["p=0.3"], "data": ["s=2"], "prior": ["normal:var=2"], "fixed": []},
    "poisson": {"init": ["rate=1", "rate=3", "theta=0"], "data": ["phi1=3", "s=0"],
                "prior": ["exponential:rate=1,on=rate", "normal:var=2", "gamma:shape=2,rate=1,on=rate"],
                "fixed": []},
    "exponential": {"init": ["rate=1", "rate=2"], "data": ["s=2.5"], "prior": ["gamma:shape=2,rate=1,on=rate"],
                    "fixed": []},
    "gaussian": {"init": ["mean=0,var=1", "mean=1,var=2", "theta1=0,theta2=-0.5"], "data": ["s=1.5"],
                 "prior": ["normal:var=2", "normal:mean=0,var=1,on=mean"], "fixed": ["theta2=-0.5"]},
    "categorical": {"init": ["p1=0.2,p2=0.3,p3=0.5"], "data": ["s=2"], "prior": ["normal:var=2"],
                    "fixed": ["theta2=0"]},
    "curie_weiss": {"init": ["theta1=0.1,theta2=0", "theta1=0.2,theta2=0.3"], "data": ["phi1=-6", "phi1=0"],
                    "prior": ["normal:var=2"], "fixed": ["theta2", "theta2=0"]},
}


@st.composite
def slot(draw, ordinary, edges=None):
    """An ordinary value, or one time in eight an edge one (EDGE, or ``edges``)."""
    ordinary = ordinary if isinstance(ordinary, st.SearchStrategy) else st.sampled_from(list(ordinary))
    if draw(st.integers(0, 7)):
        return draw(ordinary)
    return draw(edges if edges is not None else st.sampled_from(EDGE))


def one_of(ordinary: list[str]):
    return slot(ordinary)


def value():
    return slot(["0", "0.3", "1", "-0.5", "2", "3", "0.1", "0.6"])


@st.composite
def params(draw, names=NAMES):
    """``name=value,...`` text over any names, sometimes malformed."""
    items = draw(st.lists(st.tuples(st.sampled_from(names), value()), min_size=0, max_size=3))
    text = ",".join(f"{n}={v}" for n, v in items)
    return draw(st.one_of(st.just(text), st.sampled_from(EDGE)))


PRIORS = ["normal:var=2", "normal:var=0", "normal:var=-1", "normal:var=nan", "normal:mean=1",
          "normal:var=2,mean=1e300", "normal:var=1e-320", "exponential:rate=1,on=rate",
          "exponential:rate=1,on=mean", "beta:a=2,b=2,on=p", "beta:a=2,b=2,on=rate",
          "gamma:shape=2,rate=1,on=var", "gamma:shape=2,on=var", "bogus:x=1", "normal", "normal:",
          "normal:var=2,var=3", "normal:var=2,on=", ":", "normal:var=1e400", "beta:a=1e-320,b=1,on=p",
          "normal:mean=0,var=1,on=theta", "gamma:shape=1e300,rate=1e-300,on=rate"]
SMALL_SIZE = ["N=2", "N=6", "n=3", "K=2", "K=3"]
BAD_SIZE = ["N=1e6", "N=1001", "K=0", "K=33", "n=-1", "N=2.5", "n=nan", "K=1e400", "N=", "x=1"]


def family_flags(family: str) -> dict:
    """simulate's options for ``family`` -> strategies of their values."""
    o = ORDINARY.get(family, ORDINARY["bernoulli"])
    anything = st.one_of(params(), st.sampled_from(EDGE))
    return {
        "--anchors": one_of(["0", "1", "2"]), "--truth": slot(o["init"], anything),
        "--estimator": one_of(["mle", "map", "l2"]), "--nu": one_of(["1", "0.5"]),
        "--lam": one_of(["0.1", "1"]), "--prior": slot(o["init"], anything),
        "--fixed": slot(o["fixed"] or ["theta"], st.one_of(anything, st.sampled_from(["theta2", "theta1"]))),
        "--family-args": slot(SMALL_SIZE, st.sampled_from(BAD_SIZE)), "--burn-in": one_of(["0", "1", "2"]),
        "--seed": one_of(["0", "1", "12345"]), "--record-every": one_of(["0", "1", "2"]),
        "--sampler": one_of(["exact", "naive"]), "--external": one_of(["0", "1", "2"]),
        "--external-data": slot(o["data"], st.one_of(params(["phi1", "phi2", "s", "x"]), st.sampled_from(EDGE))),
        "--prior-law": slot(o["prior"], st.sampled_from(PRIORS + EDGE)),
        "--histogram": slot(st.builds("{}={}:{}:{}".format, st.sampled_from(["phi1", "p", "rate", "mean"]),
                                      st.sampled_from(["0", "-1"]), st.sampled_from(["1", "5"]),
                                      st.sampled_from(["1", "3", "10"])),
                            st.builds("{}={}:{}:{}".format, st.sampled_from(NAMES), value(), value(), value())),
    }


# a valid huge number of generations is a run the user asked for (it would never end): left out
FINITE_EDGE = [e for e in EDGE if not e.isdigit()]
SIZES = {"--M": one_of(["1", "2", "5", "50", "1000000"]),
         "--generations": slot(["1", "2", "3"], st.sampled_from(FINITE_EDGE)),
         "--chains": one_of(["1", "2", "5"])}


@st.composite
def options(draw, flags: dict, max_size: int = 4) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(flags)), max_size=max_size, unique=True))
    if chosen and not draw(st.integers(0, 9)):  # a repeated option, now and then
        chosen.append(chosen[0])
    argv = []
    for flag in chosen:
        argv += [flag, draw(flags[flag])]
    return argv


@st.composite
def simulate_argv(draw) -> list[str]:
    family = draw(slot(list(ORDINARY), st.sampled_from(FAMILIES)))
    argv = ["simulate", family]
    for flag, values in SIZES.items():
        if draw(st.integers(0, 39)):  # a required option left out, now and then
            argv += [flag, draw(values)]
    if draw(st.integers(0, 39)):
        argv += ["--init", draw(slot(ORDINARY.get(family, ORDINARY["bernoulli"])["init"],
                                     st.one_of(params(), st.sampled_from(EDGE))))]
    argv += draw(options(family_flags(family)))
    if "naive" in argv and "1000000" in argv:  # the naive sampler draws M points one by one: O(M)
        argv[argv.index("1000000")] = "50"
    return argv + (["--json"] if draw(st.booleans()) else [])


FLAGS = family_flags("bernoulli") | {"--prior-law": st.sampled_from(PRIORS + EDGE),
                                     "--external-data": st.one_of(params(["phi1", "phi2", "s", "x"]),
                                                                  st.sampled_from(["phi1=-6", "s=2"]))}


@st.composite
def derive_argv(draw) -> list[str]:
    families = draw(st.lists(st.sampled_from(FAMILIES), max_size=2))
    flags = {k: FLAGS[k] for k in ("--family-args", "--fixed", "--external", "--external-data",
                                   "--prior-law", "--truth")}
    flags |= {"--workers": one_of(["1", "2"]), "--out": st.sampled_from(["/proc/x", "", "é"])}
    return ["derive", *families, *draw(options(flags))] + (["--json"] if draw(st.booleans()) else [])


@st.composite
def sweep_argv(draw) -> list[str]:
    family = draw(slot(list(ORDINARY), st.sampled_from(FAMILIES)))
    init = ORDINARY.get(family, ORDINARY["bernoulli"])["init"]
    argv = ["sweep"]
    base = {"--family": st.just(family), "--M": SIZES["--M"], "--init": slot(init, params()),
            "--generations": SIZES["--generations"], "--chains": SIZES["--chains"]}
    for flag, values in base.items():
        if draw(st.integers(0, 39)):
            argv += [flag, draw(values)]
    axis = st.sampled_from(["M", "anchors", "seed", "init", "x", "chains", "burn_in", "external"])
    grid = slot(st.sampled_from(["M=2,3", "anchors=0,1", f"init={';'.join(init)}", "burn_in=0,1"]),
                st.builds("{}={}".format, axis, st.lists(value(), min_size=1, max_size=2).map(",".join)))
    flags = {"--grid": grid, "--seeds": one_of(["1", "2"]), "--seed": one_of(["0", "3"]),
             "--workers": one_of(["1"]), "--anchors": one_of(["0", "1"]), "--truth": slot(init, params())}
    argv += draw(options(flags))
    if not draw(st.integers(0, 9)):  # unwritable; a writable one is tested in test_sweep.py
        argv += ["--out", draw(st.sampled_from(["/proc/x/y.json", "/", ""]))]
    return argv


@st.composite
def later_argv(draw) -> list[str]:
    """validate, figures, claims and reproduce: their options, up to where the long work starts."""
    command = draw(st.sampled_from(["validate", "figures", "claims", "reproduce"]))
    flags = {"validate": {"--seed": one_of(["0"]), "--workers": one_of(["1"]), "--only": one_of(["R1", "R9"]),
                          "--out": st.sampled_from(["/proc/x", ""]), "--scheduler": st.sampled_from(EDGE)},
             "figures": {"--seed": one_of(["0"]), "--workers": one_of(["1"]), "--only": one_of(["gaussian_collapse"]),
                         "--out": st.sampled_from(["/proc/x", ""])},
             "claims": {"--seed": one_of(["0"]), "--workers": one_of(["1"]),
                        "--only": one_of(["shumailov2024", "dey-donoho2024.pi2-6-poisson"]),
                        "--out": st.sampled_from(["/proc/x", ""])},
             "reproduce": {"--derivations": st.sampled_from(["/proc/x", ""]),
                           "--figures": st.sampled_from(["/proc/x", ""])}}[command]
    extra = draw(st.lists(st.sampled_from(["--quick", "--full", "--json", "--no-pdf", "bernoulli", "bogus"]),
                          max_size=2))
    keep = lambda e: command == "validate" or e.startswith("--q") or (command == "claims" and e == "--json")  # noqa: E731
    return [command, *draw(options(flags)), *[e for e in extra if keep(e)]]


def stopped_before_computing():
    """Every long computation replaced by raising Computed, so the fuzzer reaches it fast."""
    import subprocess

    import theory.claims
    import theory.derive
    import theory.plots
    import theory.validate

    stack = contextlib.ExitStack()
    for target, name in ((theory.derive, "compute"), (theory.derive, "write_all"),
                         (theory.derive, "all_general"), (theory.validate, "run_checks"),
                         (theory.plots, "build_all"), (theory.claims, "run_claims"), (subprocess, "Popen")):
        stack.enter_context(mock.patch.object(target, name, side_effect=Computed))
    return stack


@pytest.mark.fuzz
@fuzz_settings(300)
@given(simulate_argv())
def test_fuzz_simulate(argv):
    check_outcome(argv, *run_cli(argv))


@pytest.mark.fuzz
@fuzz_settings(100)
@given(st.one_of(derive_argv(), later_argv()))
def test_fuzz_derive_validate_figures_reproduce(argv):
    with stopped_before_computing():
        check_outcome(argv, *run_cli(argv))


@pytest.mark.fuzz
@fuzz_settings(100)
@given(sweep_argv())
def test_fuzz_sweep(argv):
    check_outcome(argv, *run_cli(argv))


# --- the API: a result, or a documented exception (InputError, SettingError), nothing else --------
import math  # noqa: E402

import numpy as np  # noqa: E402

import theory  # noqa: E402
from theory.errors import InputError  # noqa: E402

NUMBERS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 0.3, 2.5, -0.5, 1e-320, 1e308, 1e400, -1e400, math.nan, 2**53 + 1,
                     2**63, 10**30, True, False, None, "0.3", "", "abc", "é", "__import__('os').getpid()",
                     [1], {}, (0.3,), np.float64(0.3), np.int64(3), np.nan, 1j]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10))
API_NAMES = st.sampled_from(["p", "rate", "mean", "var", "theta", "theta1", "theta2", "p1", "x", "", "é", 3])


def point(family: str):
    ordinary = {"bernoulli": {"p": 0.3}, "poisson": {"rate": 1.0}, "gaussian": {"mean": 0.0, "var": 1.0},
                "exponential": {"rate": 2.0}, "curie_weiss": {"theta1": 0.1, "theta2": 0.0},
                "binomial": {"p": 0.4}, "categorical": {"p1": 0.2, "p2": 0.3, "p3": 0.5}}[family]
    broken = st.dictionaries(API_NAMES, NUMBERS, max_size=3)
    return slot(st.just(ordinary), st.one_of(broken, NUMBERS))


def api_call(call) -> None:
    with warnings.catch_warnings(), deadline(HANG_SECONDS):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            call()
        except InputError:
            pass


API_FAMILIES = ["bernoulli", "poisson", "gaussian", "exponential", "curie_weiss", "binomial", "categorical"]


@st.composite
def api_simulate(draw):
    family = draw(slot(API_FAMILIES, st.one_of(NUMBERS, st.sampled_from(["bogus", ""]))))
    fam = family if family in API_FAMILIES else "bernoulli"
    short = st.sampled_from([0, -1, 2.5, 1e-320, 1e400, -1e400, math.nan, 2**63, True, None, "2", "",
                             [1], np.int64(2)])  # no valid huge count: see SIZES
    kw = {"M": draw(slot([1, 5, 50], NUMBERS)), "init": draw(point(fam)),
          "generations": draw(slot([1, 3], short)), "chains": draw(slot([1, 4], NUMBERS))}
    optional = {"anchors": slot([0, 1], NUMBERS), "truth": point(fam), "seed": slot([0, 1], NUMBERS),
                "burn_in": slot([0, 1], NUMBERS), "record_every": slot([0, 1], NUMBERS),
                "keep": slot([0, 2], NUMBERS), "external": slot([0, 1], NUMBERS),
                "prior_law": slot(ORDINARY[fam]["prior"], st.sampled_from(PRIORS + [3, None])),
                "estimator": slot(["mle", "map", "l2"], NUMBERS), "nu": slot([1.0], NUMBERS),
                "lam": slot([0.1], NUMBERS), "sampler": slot(["exact", "naive"], NUMBERS),
                "data": slot([[{"phi1": 1}], []], st.one_of(NUMBERS, st.lists(st.dictionaries(
                    st.sampled_from(["phi1", "s", "x"]), NUMBERS, max_size=2), max_size=2)))}
    for name in draw(st.lists(st.sampled_from(sorted(optional)), max_size=3, unique=True)):
        kw[name] = draw(optional[name])
    return family, kw


@pytest.mark.fuzz
@fuzz_settings(100)
@given(api_simulate())
def test_fuzz_api_simulate(args):
    family, kw = args
    api_call(lambda: theory.simulate(family, **kw).summary())


@pytest.mark.fuzz
@fuzz_settings(100)
@given(st.sampled_from(["get_family", "make_setting"]), st.sampled_from(API_FAMILIES), st.data())
def test_fuzz_api_functions(function, family, data):
    fuzz_api_function(function, family, data)


@pytest.mark.fuzz
@fuzz_settings(60)
@given(st.sampled_from(["stationary_law", "evaluate"]), st.sampled_from(API_FAMILIES), st.data())
def test_fuzz_api_laws_and_evaluate(function, family, data):
    fuzz_api_function(function, family, data)


def fuzz_api_function(function, family, data):
    size = {"binomial": "n", "curie_weiss": "N", "categorical": "K"}.get(family, "x")
    args = data.draw(slot([{}], st.one_of(st.fixed_dictionaries({size: NUMBERS}),
                                          st.dictionaries(API_NAMES.map(str), NUMBERS, max_size=2))))
    if function == "get_family":
        api_call(lambda: theory.get_family(family, **args))
    elif function == "make_setting":
        kw = {"external": data.draw(slot([None, 0, 1], NUMBERS)),
              "data": data.draw(slot([(), [{"phi1": 1}]], st.one_of(NUMBERS, st.lists(st.dictionaries(
                  st.sampled_from(["phi1", "s"]), NUMBERS, max_size=1), max_size=2)))),
              "prior_law": data.draw(slot([None] + ORDINARY[family]["prior"], st.sampled_from(PRIORS)))}
        api_call(lambda: theory.make_setting(family, **kw, **args))
    elif function == "stationary_law":
        fam = data.draw(slot(["bernoulli", "poisson", "exponential"], st.sampled_from(API_FAMILIES)))
        api_call(lambda: theory.stationary_law(fam, anchors=data.draw(slot([1, 2], NUMBERS)),
                                               truth=data.draw(point(fam))))
    else:
        drift = theory.result("R3.drift.mle", "bernoulli").result["drift"]
        values = data.draw(st.fixed_dictionaries({"theta": slot([0.3], NUMBERS), "M": slot([100], NUMBERS),
                                                  "M0": slot([0], NUMBERS)}))
        api_call(lambda: theory.evaluate(drift, **values))
