"""closedloop claims: the registry's shape, its generated command lines, verdicts, a quick run, JSON."""

import json
from pathlib import Path

import numpy as np
import pytest

from theory.claims import CLAIMS, QUICK, Citation, Claim, Evidence, Result, run_claims, select
from theory.claims.exact import gaussian_log_var_step
from theory.claims.registry import evaluate
from theory.cli import build_parser, main
from theory.stats import threshold

ROOT = Path(__file__).resolve().parents[1]


def test_registry_shape():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    for c in CLAIMS:
        assert c.id.split(".")[0][-4:].isdigit(), c.id  # paper key: first author + year
        assert c.citation.arxiv and c.citation.authors and c.statement and c.published and c.checked
        if c.check is None:
            assert c.not_checkable, c.id
        else:
            assert c.setting["family"] and c.setting["M"] >= 1 and c.chains > 0 and c.generations >= 1


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.check is not None], ids=lambda c: c.id)
def test_command_line_is_a_valid_simulate_command(claim):
    """The setting's command line is generated from the record and parses as `closedloop simulate`."""
    words = claim.command(QUICK, seed=3).split()
    assert words[:2] == ["closedloop", "simulate"]
    args = build_parser().parse_args(words[1:])
    assert (args.family, args.M, args.generations, args.chains, args.seed) == (
        claim.setting["family"], claim.setting["M"], claim.generations, claim.chains, 3)
    assert args.regime == claim.setting.get("regime", "replace")
    assert len(args.external_data or []) == len(claim.setting.get("data", ()))


def _result(derived=1.0, estimate=1.0, sem=0.01, **kw):
    claim = Claim("test2026.x", Citation("A. B", "t", "0000.00000", "Eq. 1"), "s", "p", "c")
    return Result(claim, Evidence("q", derived, estimate, sem, "R0", **kw), threshold(10))


def test_verdicts():
    z = threshold(10)
    assert 3.5 < z < 4.5
    assert _result(control=1.1).verdict == "holds"
    assert _result(control=1.001).verdict == "inconclusive"            # underpowered
    assert _result(estimate=1.2, control=2.0).verdict == "inconclusive"  # the toolkit disagrees with itself
    assert _result(published=1.5, control=1.1).verdict == "fails"
    assert _result(published=1.5, relation="<=", control=1.1).verdict == "holds"   # a bound borne out
    assert _result(published=0.9, relation="<=", control=1.1).verdict == "fails"
    assert _result(control=1.1, statement=(False, "limit is 0")).verdict == "fails"
    assert "underpowered" in _result(control=1.001).why


def test_numpy_values_go_into_json():
    from theory.io import json_text

    r = _result(derived=np.float64(1.0), control=np.float64(1.1), statement=(np.isfinite(1.0), "finite"))
    assert json.loads(json_text(r.as_json()))["derived_statement"] == {"holds": True, "why": "finite"}


def test_a_setting_the_toolkit_cannot_run_is_not_checkable():
    claim = Claim("test2026.y", Citation("A. B", "t", "0000.00000", "Eq. 1"), "s", "p", "c",
                  {"family": "no_such_model", "M": 5, "init": {"w": 0.0}}, 1, 10, check=lambda run: None)
    evidence, _, reason = evaluate(claim, QUICK, 0)
    assert evidence is None and "cannot run this setting yet" in reason and "no_such_model" in reason


def test_quick_run_of_two_claims():
    """The absorbing Bernoulli holds; the paper's Eq. 17 (entropy rate −D) is rejected."""
    results = run_claims(select(["shumailov2024.discrete", "jangjoo2025.eq17"]), QUICK, seed=0)
    verdicts = {r.claim.id: r.verdict for r in results}
    assert verdicts == {"shumailov2024.discrete-absorbing": "holds", "jangjoo2025.eq17-entropy-rate": "fails"}
    eq17 = next(r for r in results if r.claim.id.startswith("jangjoo"))
    assert abs(eq17.z_ours) < eq17.z_star < abs(eq17.z_published) and abs(eq17.z_control) > eq17.z_star
    # Šidák over the whole registry, whatever subset runs
    assert eq17.z_star == threshold(sum(c.check is not None for c in CLAIMS))


def test_cli_json_fields(capsys):
    assert main(["claims", "--only", "shumailov2024.discrete", "--json", "--workers", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget"] == "quick" and out["z_star"] > 3
    (c,) = out["claims"]
    assert {"id", "citation", "statement", "published", "checked", "setting", "quantity", "ours", "z",
            "published_value", "control", "derived_statement", "verdict", "why"} <= set(c)
    assert {"derived", "derived_from", "simulated", "sem"} <= set(c["ours"])
    assert c["setting"].startswith("closedloop simulate bernoulli --M 10")
    assert c["verdict"] == "holds" and c["citation"]["arxiv"] == "2305.17493"


def test_cli_unknown_claim_is_one_line(capsys):
    assert main(["claims", "--only", "nobody2020"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no claim with id nobody2020" in err


def test_committed_report_lists_every_claim():
    text = (ROOT / "derivations" / "claims.md").read_text()
    for c in CLAIMS:
        assert f"`{c.id}`" in text


def test_gaussian_log_variance_step_against_the_digamma():
    """E log χ²_k = ψ(k/2) + log 2 (SciPy's digamma), so the ML refit's step is that at k = M − 1 less log M."""
    from scipy.special import digamma

    for M in (2, 20, 101):
        assert gaussian_log_var_step(M) == pytest.approx(digamma((M - 1) / 2) + np.log(2 / M), rel=1e-12)


def test_reproduce_claims_adds_the_claims_stage():
    from theory.cli import reproduce_stages

    args = build_parser().parse_args(["reproduce", "--claims", "--derivations", "d"])
    assert ("claims", ["claims", "--quick", "--workers", "1", "--seed", "0", "--out", "d"]) in reproduce_stages(args)
    assert "claims" not in dict(reproduce_stages(build_parser().parse_args(["reproduce"])))


def test_empty_claim_id_is_refused(capsys):
    assert main(["claims", "--only", ""]) == 2
    assert "empty claim id" in capsys.readouterr().err


@pytest.mark.slow
def test_whole_registry_at_the_quick_budget():
    """No claim errs or is inconclusive (the toolkit agrees with itself and every control is rejected)."""
    results = run_claims(budget=QUICK, seed=0, workers=2)
    settled = ("holds", "fails", "not checkable")
    assert all(r.verdict in settled for r in results), \
        [(r.claim.id, r.verdict, r.why) for r in results if r.verdict not in settled]
    assert {r.claim.id for r in results if r.verdict == "fails"} >= {"jangjoo2025.eq17-entropy-rate"}
    from theory.claims import report
    from theory.io import json_text

    json.loads(json_text(report.as_json(results, QUICK, 0)))  # every claim's evidence goes into JSON
