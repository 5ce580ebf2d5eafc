"""The command line: SPEC JSON fields, one-line errors with a non-zero exit."""

import json
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from theory.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "theory", *args], capture_output=True, text=True,
                          timeout=300)


def test_derive_json_fields(capsys):
    assert main(["derive", "bernoulli", "gaussian", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bernoulli"]["natural"] == ["theta"]
    assert out["gaussian"]["natural"] == ["theta1", "theta2"]
    for entry in out.values():
        assert {"A", "mu", "chi", "drift", "cov"} <= set(entry)
    # the Bernoulli's printed expressions, in numbers, against the textbook: p = σ(θ), χ = p(1 − p);
    # θ' = logit(φ̄) by Itô, E[Δθ] = [M0(p* − p) + (2p − 1)/2]/(M p(1 − p)), Var = 1/(M p(1 − p))
    b = out["bernoulli"]
    t, t_star, M, M0 = 0.3, -0.5, 50, 2
    p, p_star = 1 / (1 + np.exp(-t)), 1 / (1 + np.exp(-t_star))
    at = {"theta": t, "theta_star": t_star, "M": M, "M0": M0}
    assert printed(b["A"], at) == pytest.approx(np.log1p(np.exp(t)), rel=1e-12)
    assert printed(b["mu"][0], at) == pytest.approx(p, rel=1e-12)
    assert printed(b["chi"][0][0], at) == pytest.approx(p * (1 - p), rel=1e-12)
    drift = (M0 * (p_star - p) + (2 * p - 1) / 2) / (M * p * (1 - p))
    assert printed(b["drift"][0], at) == pytest.approx(drift, rel=1e-12)
    assert printed(b["cov"][0][0], at) == pytest.approx(1 / (M * p * (1 - p)), rel=1e-12)


def printed(text: str, values: dict) -> float:
    """A printed SymPy expression (the toolkit's own output, parsed by this test) at ``values``."""
    import sympy as sp

    expr = sp.parse_expr(text, local_dict={n: sp.Symbol(n) for n in values})
    return float(expr.subs({sp.Symbol(n): v for n, v in values.items()}))


def test_derive_with_family_args_and_fixed(capsys):
    """Curie–Weiss, N = 4, θ2 = 0: the four spins are independent, μ = 4 tanh θ1 and χ = 4/cosh² θ1."""
    assert main(["derive", "curie_weiss", "--family-args", "N=4", "--fixed", "theta2=0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["curie_weiss-fixed-theta2"]
    assert out["natural"] == ["theta1"]
    for t in (-1.3, 0.0, 0.4, 2.0):
        assert printed(out["mu"][0], {"theta1": t}) == pytest.approx(4 * np.tanh(t), rel=1e-12, abs=1e-15)
        assert printed(out["chi"][0][0], {"theta1": t}) == pytest.approx(4 / np.cosh(t) ** 2, rel=1e-12)


SIM_OK = ["simulate", "gaussian", "--M", "20", "--init", "mean=1,var=2", "--generations", "3",
          "--chains", "10"]


@pytest.mark.parametrize("args, needle", [
    (["derive", "cauchy"], "unknown family 'cauchy'"),
    (["derive", "curie_weiss", "--family-args", "N=1.5"], "must be an integer"),
    (["derive", "bernoulli", "--fixed", "theta9=0"], "cannot fix"),
    (["derive", "bernoulli", "--fixed", "theta"], "malformed"),
    (["derive", "--bogus"], "unrecognized arguments: --bogus"),
    (SIM_OK + ["--M", "0"], "M must be an integer from 1 to"),
    (SIM_OK + ["--anchors", "30"], "0 <= M0 <= M=20"),
    (SIM_OK + ["--anchors", "1"], "anchors (M0 > 0) need a ground truth"),
    (["simulate", "gaussian", "--M", "5", "--init", "mean=0,var=-1", "--generations", "1",
      "--chains", "1"], "outside the domain of gaussian"),
    (["simulate", "bernoulli", "--M", "5", "--init", "p=1.5", "--generations", "1",
      "--chains", "1"], "outside the domain of bernoulli"),
    (["simulate", "bernoulli", "--M", "5", "--init", "q=0.5", "--generations", "1",
      "--chains", "1"], "unknown parameter 'q'"),
    (["simulate", "cauchy", "--M", "5", "--init", "x=1", "--generations", "1", "--chains", "1"],
     "unknown family 'cauchy'"),
    (SIM_OK + ["--estimator", "ridge"], "invalid choice: 'ridge'"),
    (SIM_OK + ["--chains", "0"], "chains must be an integer >= 1"),
    (SIM_OK + ["--estimator", "map", "--nu", "0"], "nu > 0"),
    (SIM_OK + ["--burn-in", "10"], "burn-in"),
    (SIM_OK + ["--truth", "mean=0,var=0", "--anchors", "1"], "outside the domain of gaussian"),
])
def test_bad_input_is_one_line(args, needle, capsys):
    """In this process (a child Python costs a second of start-up per case; the entry point
    itself is tested below): a warning would be a second line on the user's stderr, and an
    exception other than argparse's exit would be a traceback."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", UserWarning)
        try:
            status = main(args)
        except SystemExit as e:  # argparse's refusals
            status = e.code
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_unknown_option_exits_nonzero():
    """`python -m theory`, a child process: one line, no traceback."""
    r = run("derive", "--bogus")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unrecognized arguments: --bogus" in lines[0]


def test_reproduce_runs_its_stages_at_once_and_prints_them_in_order(tmp_path, monkeypatch, capsys):
    """The stages' plumbing (derive and figures as child processes, validate here), on small
    settings: the whole pipeline is `closedloop reproduce` itself. A progress line per stage on
    stderr as it ends, one summary line on stdout (the validation table is in the report file)."""
    from theory import cli

    der, fig = tmp_path / "derivations", tmp_path / "figures"
    validate = ("validate", ["validate", "poisson", "--only", "R1", "--out", str(der)])
    figures = ("figures", ["figures", "--only", "estimators", "--workers", "1", "--out", str(fig)])
    monkeypatch.setattr(cli, "reproduce_stages", lambda args: [
        ("derive", ["derive", "poisson", "--no-pdf", "--workers", "1", "--out", str(der)]), validate, figures])
    real_validate, real_popen, children = cli.cmd_validate, subprocess.Popen, []

    def popen(*args, **kwargs):
        children.append(real_popen(*args, **kwargs))
        return children[-1]

    def late_validate(args):  # ends after the children, whose lines must not be lost in its output
        for child in children:
            child.wait(timeout=300)
        time.sleep(1)  # for their watching threads to print
        return real_validate(args)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(cli, "cmd_validate", late_validate)
    assert main(["reproduce", "--derivations", str(der), "--figures", str(fig)]) == 0
    out, err = capsys.readouterr()
    start, *progress, summary = out.splitlines()
    assert progress[-1].startswith("  validate done at")
    assert not err
    assert summary.startswith("reproduce (quick) done in") and "1/1 checks passed" in summary
    assert "R1.martingale" not in out  # the table is not printed
    assert start.startswith("reproduce (quick): derive, validate, figures at once")
    assert sorted(line.split()[0] for line in progress) == ["derive", "figures", "validate"]
    assert any(line.startswith("  derive done at") and "documents to" in line for line in progress)
    assert any(line.startswith("  figures done at") and "wrote 1 figures" in line for line in progress)
    assert (fig / "estimators.json").exists()
    # a failing stage is reported and makes the status non-zero (the figures are not made again)
    monkeypatch.setattr(cli, "reproduce_stages", lambda args: [
        ("derive", ["derive", "cauchy", "--json"]), validate])
    assert main(["reproduce", "--derivations", str(der), "--figures", str(fig)]) == 2
    out, err = capsys.readouterr()
    assert "  derive FAILED (status 2)" in out and "SOME STAGE OR CHECK FAILED" in out
    assert "unknown family 'cauchy'" in err and "reproduce: derive exited with status 2" in err


def test_reproduce_passes_workers_seed_and_no_pdf_to_its_stages():
    from theory.cli import _stage_outcome, build_parser, reproduce_stages

    args = build_parser().parse_args(["reproduce", "--workers", "3", "--seed", "7", "--no-pdf", "--full"])
    stages = dict(reproduce_stages(args))
    assert stages["derive"] == ["derive", "--workers", "3", "--no-pdf", "--out", "derivations"]
    assert stages["validate"] == ["validate", "--full", "--workers", "3", "--seed", "7", "--no-pdf",
                                  "--out", "derivations"]
    assert stages["figures"] == ["figures", "--full", "--workers", "3", "--seed", "7", "--out", "figures"]
    claims = dict(reproduce_stages(build_parser().parse_args(["reproduce", "--claims", "--seed", "2"])))["claims"]
    assert claims == ["claims", "--quick", "--workers", "1", "--seed", "2", "--out", "derivations"]
    said = "table\nwrote derivations/claims.md\n\n15 holds, 2 fails of 17 claims; z* = 3.9 (Sidak, ...)\nwrote x"
    assert _stage_outcome("claims", said).startswith("15 holds, 2 fails of 17 claims")
    assert _stage_outcome("figures", "wrote 12 figures to figures/\n") == "wrote 12 figures to figures/"
    default = dict(reproduce_stages(build_parser().parse_args(["reproduce"])))
    assert default["derive"] == ["derive", "--workers", "1", "--out", "derivations"]  # at once, one each


@pytest.mark.parametrize("flag", ["--workers", "--seed"])
def test_reproduce_refuses_a_negative_count_in_one_line(flag, tmp_path, capsys):
    argv = ["reproduce", flag, "-1", "--derivations", str(tmp_path / "d"), "--figures", str(tmp_path / "f")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("closedloop: error: ") and err.count("\n") == 1 and flag in err


def test_version(capsys):
    from theory.version import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"closedloop (theory) {__version__}"


def test_help_lists_every_family_and_figure_of_the_registries():
    """--help names families and figure ids without importing them: the lists match the registries."""
    from theory import cli
    from theory.families import FAMILIES
    from theory.models import MODEL_CLASSES
    from theory.plots import FIGURES

    assert set(cli.FAMILY_NAMES) == set(FAMILIES)
    assert set(cli.MODEL_CLASS_NAMES) == set(MODEL_CLASSES)
    assert set(cli.FIGURE_IDS) == set(FIGURES)


def test_every_option_has_help_text():
    import argparse

    from theory.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices
    missing = {name: [a.dest for a in p._actions if not a.help and not isinstance(a, argparse._HelpAction)]
               for name, p in sub.items()}
    assert not any(missing.values()), missing
