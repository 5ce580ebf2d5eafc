"""The command line: SPEC JSON fields, one-line errors with a non-zero exit."""

import json
import subprocess
import sys

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
    assert "M0" in out["bernoulli"]["drift"][0] and "M" in out["bernoulli"]["cov"][0][0]


def test_derive_with_family_args_and_fixed(capsys):
    assert main(["derive", "curie_weiss", "--family-args", "N=4", "--fixed", "theta2=0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["curie_weiss-fixed-theta2"]["natural"] == ["theta1"]
    assert "tanh" in out["curie_weiss-fixed-theta2"]["mu"][0] or "exp" in out["curie_weiss-fixed-theta2"]["mu"][0]


@pytest.mark.parametrize("args, needle", [
    (["derive", "cauchy"], "unknown family 'cauchy'"),
    (["derive", "curie_weiss", "--family-args", "N=1.5"], "must be an integer"),
    (["derive", "bernoulli", "--fixed", "theta9=0"], "cannot fix"),
    (["derive", "bernoulli", "--fixed", "theta"], "malformed"),
])
def test_bad_input_is_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_unknown_option_exits_nonzero():
    r = run("derive", "--bogus")
    assert r.returncode != 0 and "Traceback" not in r.stderr
