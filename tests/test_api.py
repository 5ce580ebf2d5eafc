"""The notebook API: the README's Python section runs as written, names work, traces start at t = 0."""

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import theory

ROOT = Path(__file__).resolve().parents[1]


def _python_section(readme: str) -> list[str]:
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_section_runs():
    blocks = _python_section((ROOT / "README.md").read_text())
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md (Python)", "exec"), {"__name__": "readme"})


def test_flat_namespace():
    import theory.derive  # the module stays reachable: the API's function is `derivations`

    assert hasattr(theory.derive, "write_all")
    for name in ("get_family", "FAMILIES", "result", "derivations", "evaluate", "simulate", "stationary_law",
                 "Setting", "NormalPrior", "LawPrior", "subs", "symbols", "ExponentialFamily", "Derivation"):
        assert name in theory.__all__ and hasattr(theory, name), name


def test_symbols_by_name_and_subs():
    theta = theory.symbols.get("theta")
    assert theta.is_real and theta == sp.Symbol("theta", real=True)
    e = theta**2 + theory.symbols.get("M")
    assert e.subs({"theta": 0.3}) == e  # why the helper exists
    assert theory.subs(e, theta=0.3, M=2) == pytest.approx(2.09)
    assert theory.evaluate(e, theta=0.3, M=2) == pytest.approx(2.09)
    with pytest.raises(KeyError):
        theory.symbols.get("no_such_symbol")


def test_result_by_id_and_repr_latex():
    bern = theory.get_family("bernoulli")
    d = theory.result("R3.drift.mle", bern)
    assert d is not None and d.id == "R3.drift.mle" and "drift" in d.result
    assert bern._repr_latex_().startswith("$$") and d._repr_latex_().startswith("$$")
    # pure loop: drift −κ/(2Mχ²) with χ = p(1 − p), κ = χ(1 − 2p)
    num = theory.evaluate(d["drift"], theta=0.3, M=100, M0=0, theta_star=0.0)
    p = 1 / (1 + np.exp(-0.3))
    assert num == pytest.approx(-(1 - 2 * p) / (2 * 100 * p * (1 - p)), rel=1e-9)
    assert theory.evaluate(d, family=bern, p=p, M=100, M0=0, theta_star=0.0)["drift"] == pytest.approx(num)
    with pytest.raises(theory.InputError):
        theory.result("R99.nothing", bern)


def test_conventional_init_in_closed_loop_and_trace_from_zero():
    bern = theory.get_family("bernoulli")
    loop = theory.ClosedLoop(bern, M=20, init={"p": 0.3})
    assert loop.init["theta"] == pytest.approx(np.log(0.3 / 0.7))
    run = loop.run(10, 50, seed=3, record_every=1, keep=5)
    tr = run.trace_arrays()
    assert tr["t"].tolist() == list(range(11))
    assert tr["mean"]["p"][0] == pytest.approx(0.3) and tr["chains"]["p"].shape == (11, 5)
    assert run.summary()["trace"]["t"][0] == 1  # the JSON trace is unchanged


def test_stationary_law_is_scipy_with_explicit_rate():
    law = theory.stationary_law("poisson", anchors=3, truth={"rate": 2.0})
    # Gamma(shape 2 M0 rate*, rate 2 M0): mean rate*, scipy scale = 1/rate
    assert law.dist.name == "gamma"
    assert law.kwds["a"] == pytest.approx(12.0) and law.kwds["scale"] == pytest.approx(1 / 6)
    beta = theory.stationary_law("bernoulli", anchors=2, truth={"p": 0.3})
    assert beta.dist.name == "beta" and beta.mean() == pytest.approx(0.3)


def test_simulate_takes_a_setting_and_a_family_declared_in_the_session():
    """One declared loop for engine and derivations: ``simulate(setting, ...)``; and a family
    built here, not registered (the notebook case), runs like a built-in one."""
    import sympy as sp

    from theory.family import ExponentialFamily, Naturals
    from theory.symbols import s, thetas

    bern = theory.get_family("bernoulli")
    setting = theory.Setting(bern, anchors=2, truth={"p": 0.5})
    run = theory.simulate(setting, M=20, init={"p": 0.1}, generations=40, chains=400, seed=3)
    assert run.loop.setting is setting and run.loop.M0 == 2
    # one anchor in ten from p* = 0.5 pulls the mean up from 0.1: E[p_t] = 0.5 - 0.4 (0.9)^t
    assert abs(run.final["p"][0] - (0.5 - 0.4 * 0.9**40)) < 5 * np.sqrt(run.final["p"][1] / 400)
    with pytest.raises(theory.InputError, match="Setting declares the loop"):
        theory.simulate(setting, M=20, init={"p": 0.1}, anchors=1)

    (theta,) = thetas(1)
    geometric = ExponentialFamily(name="geometric", space=Naturals(), phi=(s,), h=sp.Integer(1),
                                  conventional={"q": sp.exp(theta)}, negative=("theta",),
                                  sum_sampler=lambda rng, mu, m: rng.negative_binomial(
                                      m, 1 / (1 + mu[..., 0]))[..., None])
    run = theory.simulate(geometric, M=30, init={"q": 0.5}, generations=3, chains=300, seed=1)
    assert abs(run.final["phi1"][0] - 1.0) < 5 * np.sqrt(run.final["phi1"][1] / 300)  # martingale: E = μ0 = 1


def test_a_prior_object_is_accepted_where_its_text_is():
    fig3 = theory.make_setting("poisson", external=1, prior_law=theory.LawPrior("exponential", (("rate", 1.0),), "rate"))
    text = theory.make_setting("poisson", external=1, prior_law="exponential:rate=1,on=rate")
    assert fig3 == text
    run = theory.simulate("bernoulli", M=20, init={"p": 0.3}, prior_law=theory.NormalPrior(2.0),
                          generations=2, chains=20)
    assert run.loop.prior == theory.NormalPrior(2.0)


def test_import_theory_loads_nothing_and_shadows_no_submodule():
    import subprocess
    import sys

    code = ("import sys, theory; print(sorted(m for m in sys.modules if m.startswith(('theory', 'sympy'))));"
            "import theory.setting, theory.family; print(type(theory.setting).__name__, type(theory.family).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['theory', 'theory.version']"
    assert out[1] == "module module"
