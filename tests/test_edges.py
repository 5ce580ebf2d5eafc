"""Edges of the input: the MAP refit's special functions, a prior's support against its
parameter's range, sizes and outputs checked before any work, JSON without NaN."""

import json
import math

import numpy as np
import pytest
import scipy.optimize
import sympy as sp

from theory.cli import main
from theory.errors import InputError
from theory.families import get_family
from theory.io import json_text
from theory.params import from_params
from theory.setting import Setting, parameter_range, parse_prior


# --- the MAP refit with a Gaussian prior on the Poisson's θ (Lambert W) -----------------------
def _root(n, xbar, var, mean):
    """μ solving n(x̄ − μ) − (log μ − mean)/var = 0, by bracketing (independent of SymPy)."""
    f = lambda mu: n * (xbar - mu) - (math.log(mu) - mean) / var  # noqa: E731
    lo, hi = 1e-300, max(xbar, 1.0) * 2 + abs(mean) + 10
    return scipy.optimize.brentq(f, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=500)


@pytest.mark.parametrize("var, mean", [(2.0, 0.0), (0.5, 1.5)])
def test_map_refit_solves_its_stationarity_equation(var, mean):
    """The closed form μ' = W(·)/(2n) (SciPy's Lambert W), and Newton where e^{2n x̄} overflows,
    against a bracketing root of n(x̄ − μ) + ∂θ log p0 = 0; a refit that forgets the prior
    (μ' = x̄) is rejected by the same comparison."""
    loop = from_params("poisson", 50, {"rate": 1.0}, prior_law=f"normal:var={var},mean={mean}")
    n = loop.n_total
    xbar = np.array([0.0, 0.02, 0.5, 1.0, 3.0, 7.0, 20.0, 300.0])  # 2n·x̄ > 709 from x̄ = 7
    _, mu, _ = loop._refit_infinite(n * xbar[:, None], np.zeros((len(xbar), 1)))
    want = np.array([_root(n, x, var, mean) for x in xbar])
    assert np.allclose(mu[:, 0], want, rtol=1e-9, atol=0), (mu[:, 0], want)
    assert not np.allclose(xbar, want, rtol=1e-9, atol=0)  # negative control: no prior


def test_map_refit_of_the_issue_runs(capsys):
    argv = ["simulate", "poisson", "--prior-law", "normal:var=2", "--init", "rate=1", "--M", "50",
            "--generations", "5", "--chains", "10", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert out.err == "" and json.loads(out.out)["final"]["mean"]["rate"] > 0


# --- a prior's support against its parameter's range -------------------------------------------
def test_parameter_ranges_are_derived():
    assert parameter_range(get_family("gaussian"), "mean") == sp.Reals
    assert parameter_range(get_family("gaussian"), "var") == sp.Interval.open(0, sp.oo)
    assert parameter_range(get_family("poisson"), "rate") == sp.Interval.open(0, sp.oo)
    assert parameter_range(get_family("exponential"), "rate") == sp.Interval.open(0, sp.oo)
    assert parameter_range(get_family("bernoulli"), "p") == sp.Interval.open(0, 1)


@pytest.mark.parametrize("family, law", [("gaussian", "exponential:rate=1,on=mean"),
                                         ("poisson", "beta:a=2,b=2,on=rate"),
                                         ("exponential", "beta:a=1,b=1,on=rate"),
                                         ("gaussian", "beta:a=1,b=1,on=var")])
def test_a_prior_missing_part_of_its_parameter_is_refused(family, law):
    with pytest.raises(InputError, match="choose a law whose support covers it"):
        Setting(get_family(family), prior=parse_prior(law))


@pytest.mark.parametrize("family, law", [("gaussian", "normal:mean=0,var=1,on=mean"),
                                         ("gaussian", "gamma:shape=2,rate=1,on=var"),
                                         ("poisson", "exponential:rate=1,on=rate"),
                                         ("bernoulli", "beta:a=2,b=2,on=p"),
                                         ("bernoulli", "gamma:shape=2,rate=1,on=p")])
def test_a_prior_covering_its_parameter_is_kept(family, law):
    assert Setting(get_family(family), prior=law).prior == parse_prior(law)


@pytest.mark.parametrize("command", [
    ["derive", "poisson", "--prior-law", "beta:a=2,b=2,on=rate", "--json"],
    ["simulate", "poisson", "--prior-law", "beta:a=2,b=2,on=rate", "--init", "rate=1", "--M", "5",
     "--generations", "2", "--chains", "2"],
    ["simulate", "gaussian", "--prior-law", "exponential:rate=1,on=mean", "--init", "mean=1,var=2",
     "--M", "5", "--generations", "2", "--chains", "2"]])
def test_derive_and_simulate_refuse_the_same_prior(command, capsys):
    assert main(command) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "choose a law whose support covers it" in line


# --- the API: a Setting checks what it is given ------------------------------------------------
@pytest.mark.parametrize("options, needle", [
    ({"prior": 3}, "prior must be"), ({"estimator": "map"}, "estimator must be"),
    ({"truth": {"theta": float("nan")}}, "not finite"), ({"truth": 5}, "truth must map"),
    ({"data": [("__import__('os')",)]}, "finite statistics"), ({"data": [(1, 2)]}, "finite statistics"),
    ({"data": [(float("inf"),)]}, "finite statistics")])
def test_setting_refuses_bad_fields(options, needle):
    with pytest.raises(InputError, match=needle):
        Setting(get_family("poisson"), **options)


def test_setting_needs_a_family():
    with pytest.raises(InputError, match="needs a family"):
        Setting("poisson")


# --- JSON ----------------------------------------------------------------------------------------
def test_json_text_refuses_non_finite_numbers():
    assert json_text({"a": [1.0, None]}) == '{\n "a": [\n  1.0,\n  null\n ]\n}'
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError):
            json_text({"a": bad})


def test_histogram_json_is_finite(capsys):
    argv = ["simulate", "gaussian", "--init", "mean=0,var=1", "--M", "5", "--generations", "3",
            "--chains", "5", "--histogram", "mean=-1e300:1e300:4", "--json"]
    assert main(argv) == 0
    hist = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))["histograms"]
    assert sum(hist["mean"]["counts"]) == 15 and hist["mean"]["counts"][0] == 0


def test_sweep_output_checked_before_computing(tmp_path, monkeypatch, capsys):
    import theory.sweep as sw

    monkeypatch.setattr(sw, "execute", lambda *a, **k: pytest.fail("computed before the check"))
    argv = ["sweep", "--family", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "3",
            "--chains", "4", "--out", str(tmp_path / "no" / "such" / "x.json")]
    (tmp_path / "no").write_text("a file, not a folder")
    assert main(argv) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert main(argv[:-1] + [str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
