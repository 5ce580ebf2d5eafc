"""The validation registry: covers every derived result, passes quickly, rejects every control."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SMOKE, require_pdflatex, run_once
from theory.cli import main
from theory.documents import compile_pdf
from theory.stats import threshold
from theory.validate import NOT_CHECKED, QUICK, Check, Outcome, all_checks, report, run_checks
from theory.validate.checks import CASES
from theory.validate.registry import Result
from theory.validate.stats import order_fit

DERIVATIONS = Path(__file__).resolve().parents[1] / "derivations"


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """The whole quick validation (`closedloop validate --quick`, a few minutes on 2 cores)."""
    return run_once(tmp_path_factory, QUICK)


@pytest.mark.slow
def test_quick_validation_passes_and_rejects_every_control(quick_results):
    """-m slow: this is `closedloop validate --quick` itself, which `closedloop reproduce` runs
    (and `validate --full` at paper scale); derivations/validation.md, the committed report of
    such a run, is checked below to list every check, all passing. The default suite runs
    every check at the smoke budget (asserting that each passes), and the checks of the fastest
    families at the quick budget (asserting that each passes and rejects its control)."""
    failed = [(r.check.key, r.verdict, r.error) for r in quick_results if r.verdict != "pass"]
    assert not failed, failed
    assert all(r.control_rejected for r in quick_results)


def test_every_check_runs(smoke_results):
    """No check raises, whatever its family and setting (a crash is reported as ERROR)."""
    assert len(smoke_results) == len(all_checks())
    errors = [(r.check.key, r.error) for r in smoke_results if r.error]
    assert not errors, errors


def test_every_check_passes_at_the_smoke_budget(smoke_results):
    """Every prediction agrees with its Monte Carlo estimate at the run's Šidák threshold
    (family-wise α = 10⁻³ over the statistical checks; a z-test keeps its size at any sample
    size), and every deterministic check passes. At this budget many controls are not yet
    rejected (UNDERPOWERED): their power is asserted at the quick budget, below and -m slow."""
    failed = [(r.check.key, r.outcome.z, r.outcome.detail) for r in smoke_results if not r.passed]
    assert not failed, failed


# the quick budget in the default suite, for families whose checks take seconds (Poisson's run
# through the CLI in test_validate_cli_subset_and_errors); the rest of it is -m slow
QUICK_IN_DEFAULT_SUITE = ["bernoulli", "exponential"]


def test_quick_budget_passes_and_rejects_every_control_for_the_fast_families():
    results = run_checks(all_checks(QUICK_IN_DEFAULT_SUITE), QUICK, seed=0, workers=1)
    assert {r.check.family for r in results} == set(QUICK_IN_DEFAULT_SUITE)
    bad = [(r.check.key, r.verdict, r.outcome.z if r.outcome else r.error)
           for r in results if r.verdict != "pass"]
    assert not bad, bad


def test_registry_covers_every_result_and_family():
    """Every derived result id (the committed fragments, e.g. R3.drift.map) of every validated
    family has a check of that id, or a reason in NOT_CHECKED naming the id or a prefix of it."""
    checks = all_checks()
    checked = {(c.id, c.family) for c in checks}

    def reason(rid, slug):
        return [k for k in NOT_CHECKED if k[1] in (slug, "*")
                and (rid == k[0].split(" ")[0] or rid.startswith(k[0].split(" ")[0] + "."))]

    missing = []
    for case in CASES:
        slug = case.slug if (DERIVATIONS / case.slug).exists() else case.name
        for rid in sorted(p.stem for p in (DERIVATIONS / slug).glob("R*.tex")):
            if (rid, case.slug) not in checked and not reason(rid, case.slug):
                missing.append((rid, case.slug))
    assert not missing, f"results with neither a check nor a stated reason: {missing}"
    assert {c.id.split(".")[0] for c in checks} == {f"R{i}" for i in range(1, 13)}


def test_reports_are_written_and_the_table_compiles(smoke_results, tmp_path):
    results = smoke_results
    paths = report.write(results, SMOKE, 0, tmp_path, pdf=False)
    md = paths[0].read_text()
    passed = sum(r.verdict == "pass" for r in results)
    assert md.count("| pass |") == passed
    assert sum(md.count(f"| {v} |") for v in ("pass", "UNDERPOWERED", "FAIL", "ERROR")) == len(results)
    data = report.as_json(results, SMOKE, 0)
    json.dumps(data)  # serialisable, no NaN objects
    assert data["passed"] == passed and data["total"] == len(results) == len(data["checks"])
    from theory.notation import code_like

    assert not code_like(paths[1].read_text())  # E[mu**2], phi1=0 are typeset as mathematics
    require_pdflatex()
    compile_pdf(paths[1])
    assert paths[1].with_suffix(".pdf").stat().st_size > 1000


# -- the verdict logic --------------------------------------------------------------------------
def _result(z, control_z):
    check = Check("R0.test", "none", "x", "exact", lambda b, r: None)
    return Result(check, Outcome(0.0, 0.0, 1.0, z, "wrong", control_z), threshold(10), 0.0)


def test_verdicts():
    z_star = threshold(10)
    assert _result(0.5, 2 * z_star).verdict == "pass"
    assert _result(2 * z_star, 3 * z_star).verdict == "FAIL"
    # a control the data cannot reject makes the check fail: noise never passes a check
    assert _result(0.5, 0.5 * z_star).verdict == "UNDERPOWERED"


def test_sidak_threshold_has_the_stated_family_wise_rate():
    from scipy import stats

    for k in (1, 10, 100):
        z = threshold(k, 1e-3)
        assert 1 - (1 - 2 * stats.norm.sf(z)) ** k == pytest.approx(1e-3, rel=1e-9)


def test_order_fit_accepts_the_right_order_and_rejects_a_lower_one(rng):
    M = np.array([100, 200, 400, 800, 1600])
    sem = np.full(5, 1e-5)
    right = 3.0 / M**2 - 20.0 / M**3 + rng.normal(0, 1e-5, 5)
    wrong = 0.05 / M + rng.normal(0, 1e-5, 5)
    assert order_fit(M, right, sem, 2)[0] > 1e-3
    assert order_fit(M, wrong, sem, 2)[0] < 1e-6


def test_validate_cli_subset_and_errors(capsys, tmp_path):
    assert main(["validate", "poisson", "--json", "--out", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == len(data["checks"]) > 5 and data["passed"] == data["total"]
    assert {c["family"] for c in data["checks"]} == {"poisson"}
    assert not (tmp_path / "validation.md").exists()  # subsets do not overwrite the report
    assert main(["validate", "cauchy"]) == 2


def test_the_run_seed_reaches_every_simulation(smoke_results):
    """Two seeds change every Monte Carlo estimate (shared simulations included)."""
    checks = all_checks(["bernoulli"])
    a = [r for r in smoke_results if r.check.family == "bernoulli"]
    b = run_checks(checks, SMOKE, seed=1, workers=1)
    assert [r.check.key for r in a] == [c.key for c in checks]
    same = [x.check.key for x, y in zip(a, b, strict=True)
            if x.check.statistical and x.outcome.estimate == y.outcome.estimate]
    assert not same, same


def test_committed_report_lists_every_check_and_all_pass():
    """derivations/validation.md is current: one passing row per registered check."""
    rows = [line.split(" | ") for line in (DERIVATIONS / "validation.md").read_text().splitlines()
            if line.startswith("| R")]
    # a quantity's own | is escaped in the Markdown table (E\|w_t - w_0\|^2)
    committed = {(r[0].lstrip("| "), r[1], r[2].replace("\\|", "|")) for r in rows}
    assert committed == {(c.id, c.family, c.quantity) for c in all_checks()}, \
        "run `closedloop validate` and commit derivations/validation.*"
    assert all(r[-1].strip(" |") == "pass" for r in rows)


def test_validate_only_selects_by_id(capsys, tmp_path):
    """A whole id or a dotted prefix of ids (R1 is R1.martingale; R6 has the one id)."""
    assert main(["validate", "--only", "R1", "R6.absorption", "--json", "--workers", "1", "--out",
                 str(tmp_path)]) == 0  # here: two worker processes would import everything again
    data = json.loads(capsys.readouterr().out)
    assert {c["id"] for c in data["checks"]} == {"R1.martingale", "R6.absorption"}
    assert data["passed"] == data["total"] == len(all_checks_with(("R1.martingale", "R6.absorption")))
    assert not (tmp_path / "validation.md").exists()
    assert main(["validate", "--only", "R42"]) == 2
    assert main(["validate", "--only", "R9.entrop"]) == 2  # a prefix ends at a dot


def all_checks_with(ids):
    return [c for c in all_checks() if c.id in ids]


def test_every_check_records_what_it_evaluated(smoke_results):
    """A check reads its own result id from the store, unless it compares the engine with the
    exact Markov chain (an engine check filed under the result it supports)."""
    for r in smoke_results:
        if "vs exact" not in r.check.quantity:
            assert r.check.id in r.evaluated, (r.check.key, r.evaluated)


def test_workers_and_a_dask_cluster_give_the_same_numbers(smoke_results, dask_client):
    """One task per family, streams keyed by seed and check: the backend changes nothing.

    The session's smoke run was made in one process; here two of its families again on 2
    joblib workers (one task per family) and on the Dask cluster."""
    families = ("poisson", "exponential")
    checks = all_checks(list(families))
    key = lambda rs: [(r.check.key, r.outcome.estimate, r.outcome.z) for r in rs]  # noqa: E731
    two = key(r for r in smoke_results if r.check.family in families)
    assert [k[0] for k in two] == [c.key for c in checks]
    assert key(run_checks(checks, SMOKE, seed=0, workers=2)) == two
    assert key(run_checks(checks, SMOKE, seed=0, scheduler=dask_client)) == two
