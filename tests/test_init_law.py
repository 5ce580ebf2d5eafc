"""Chains started from a law (--init-law): a normal law on θ (the normal prior's grammar) or the
setting's own Eq. 18 (named, or on a grid for one parameter), seeded by the run's seed.

Moment checks compare means over chains with their standard errors against the Šidák threshold
z* at a family-wise false-fail rate of 10⁻³ over the moments of a test; each has a negative
control the same draws must reject.
"""

import json

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

import theory
from theory.cli import main
from theory.params import from_params
from theory.stats import threshold
from theory.sweep import sweep


def _z(x, prediction):
    return (x.mean() - prediction) / (x.std(ddof=1) / np.sqrt(len(x)))


def _initial(run, name):
    return run.trace_arrays()["chains"][name][0]


def test_normal_law_per_parameter_draws_and_records():
    run = theory.simulate("curie_weiss", M=20, family_args={"N": 6},
                          init_law="normal:var=1,var2=0.25,mean2=0.5", generations=1, chains=4000,
                          keep=4000, seed=4)
    t1, t2 = _initial(run, "theta1"), _initial(run, "theta2")
    z_star = threshold(4)
    zs = [_z(t1, 0.0), _z(t2, 0.5), _z((t1 - t1.mean()) ** 2, 1.0), _z((t2 - t2.mean()) ** 2, 0.25)]
    assert max(map(abs, zs)) < z_star
    assert abs(_z((t2 - t2.mean()) ** 2, 1.0)) > z_star  # control: one variance for both
    s = run.summary()
    assert s["init_law"] == "normal:var=1,mean2=0.5,var2=0.25"
    assert s["init"] == {"theta1": 0.0, "theta2": 0.5}  # the law's center, no --init given


def test_start_draws_come_from_the_run_seed():
    kw = dict(M=20, init_law="normal:mean=0,var=1", generations=2, chains=50, keep=50)
    a = theory.simulate("bernoulli", seed=1, **kw)
    b = theory.simulate("bernoulli", seed=1, **kw)
    c = theory.simulate("bernoulli", seed=2, **kw)
    assert np.array_equal(_initial(a, "theta"), _initial(b, "theta"))
    assert not np.array_equal(_initial(a, "theta"), _initial(c, "theta"))
    assert a.summary() == b.summary()


def test_stationary_start_of_fig3_is_its_gamma_law_and_stays_there():
    """App. C (Fig. 3): ϑ ~ Gamma(2mϑ0, rate 2(m + λ)) = Gamma(2, rate 4); chains drawn from it
    keep its moments after 2000 generations (the O(1/M) gap at M = 200 is below 10⁻²·sd)."""
    kw = dict(external=1, truth={"rate": 1.0}, prior_law="exponential:rate=1,on=rate", init_law="stationary")
    run = theory.simulate("poisson", M=200, generations=2000, chains=3000, keep=3000, seed=7,
                          record_every=2000, **kw)
    law = theory.stationary_law("poisson", setting_=run.loop.setting.for_derivations(), truth={"rate": 1.0})
    assert np.isclose(law.mean(), 0.5) and np.isclose(law.var(), 2 / 16)
    z_star = threshold(4)
    for x in (_initial(run, "rate"), run.trace_arrays()["chains"]["rate"][-1]):
        zs = [_z(x, law.mean()), _z((x - law.mean()) ** 2, law.var())]
        assert max(map(abs, zs)) < z_star
        assert abs(_z(x, 2 * law.mean())) > z_star  # control: the prior ignored (Gamma(2, rate 2))
    assert run.summary()["init_law"] == "stationary"


def test_stationary_start_without_a_name_is_sampled_on_a_grid():
    """Bernoulli with a normal prior on θ and one fresh point: Eq. 18 is normalisable, not named;
    the draws' mean and variance of θ match the quadrature of exp(log p_st)."""
    loop = from_params("bernoulli", 50, None, external=1, truth={"p": 0.7}, prior_law="normal:var=2",
                       init_law="stationary")
    res = theory.result("R9.stationary", loop.family, loop.setting.for_derivations()).result
    assert res["normalisable"] is True and "law" not in res
    theta = loop.start_law(loop, np.random.default_rng(3), 20000)[:, 0]
    log_p = theory.subs(res["log_density"], theta_star=float(np.log(0.7 / 0.3)))
    f = sp.lambdify(theory.symbol("theta"), log_p, "numpy")
    Z = integrate.quad(lambda x: np.exp(f(x)), -30, 30)[0]
    m1 = integrate.quad(lambda x: x * np.exp(f(x)), -30, 30)[0] / Z
    m2 = integrate.quad(lambda x: (x - m1) ** 2 * np.exp(f(x)), -30, 30)[0] / Z
    z_star = threshold(2)
    assert abs(_z(theta, m1)) < z_star and abs(_z((theta - m1) ** 2, m2)) < z_star
    assert abs(_z(theta, 0.0)) > z_star  # control: the prior's centre, without the data


@pytest.mark.parametrize("argv, message", [
    (["bernoulli", "--M", "20", "--init-law", "stationary"], "not normalisable"),
    (["curie_weiss", "--family-args", "N=6", "--M", "20", "--prior-law", "normal:var=2", "--external-data",
      "phi1=0", "--init-law", "stationary"], "not a named law"),
    (["bernoulli", "--M", "20", "--init", "p=0.3", "--truth", "p=0.5", "--anchors", "1", "--estimator", "map",
      "--init-law", "stationary"], "not\n--estimator map"),
    (["exponential", "--M", "20", "--init-law", "normal:mean=0,var=1"], "mean theta=0 is outside"),
    (["exponential", "--M", "20", "--init-law", "normal:mean=-1,var=1"], "outside the natural domain"),
    (["bernoulli", "--M", "20", "--init-law", "beta:a=1,b=1,on=p"], "expected stationary or normal"),
    (["bernoulli", "--M", "20", "--init-law", ""], "empty"),
    (["bernoulli", "--M", "20", "--init-law", "STATIONARY"], "--init-law 'STATIONARY': malformed"),
    (["bernoulli", "--M", "20", "--init-law", "normal:var=1e300"], "normal law needs 1e-10 <= var <= 1e+10"),
    (["bernoulli", "--M", "20", "--init-law", "normal:var=1,var2=1"], "not a free natural parameter"),
    (["bernoulli", "--M", "20"], "--init PARAMS or --init-law"),
])
def test_bad_init_laws_are_one_line(argv, message, capsys):
    assert main(["simulate", *argv, "--generations", "2", "--chains", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("closedloop: error:")
    assert message.replace("\n", " ") in err


def test_cli_and_sweep_record_the_init_law(capsys):
    args = ["simulate", "bernoulli", "--M", "50", "--external", "1", "--truth", "p=0.5",
            "--init-law", "stationary", "--generations", "3", "--chains", "20", "--json", "--seed", "3"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["init_law"] == "stationary" and out["init"] == {"theta": 0.0}
    doc = sweep({"family": "bernoulli", "external": 1, "truth": {"p": 0.5}, "init_law": "stationary",
                 "generations": 3, "chains": 20}, grid={"M": [50, 100]}, seeds=2, seed=3)
    assert [r["summary"]["init_law"] for r in doc["results"]] == ["stationary"] * 4
    again = sweep({"family": "bernoulli", "external": 1, "truth": {"p": 0.5}, "init_law": "stationary",
                   "generations": 3, "chains": 20}, grid={"M": [50, 100]}, seeds=2, seed=3)
    assert again == doc
