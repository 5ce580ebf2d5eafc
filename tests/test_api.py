"""The notebook API: the Python of the README and docs runs as written, names work, traces start at 0."""

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


@pytest.mark.parametrize("page", ["python.md", "getting-started.md", "howto/check-formula.md"])
def test_the_documentation_python_runs_as_written(page):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / page).read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, f"docs/{page}", "exec"), {"__name__": "docs"})


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
    assert abs(run.final["p"].mean - (0.5 - 0.4 * 0.9**40)) < 5 * np.sqrt(run.final["p"].var / 400)
    with pytest.raises(theory.InputError, match="Setting declares the loop"):
        theory.simulate(setting, M=20, init={"p": 0.1}, anchors=1)

    (theta,) = thetas(1)
    geometric = ExponentialFamily(name="geometric", space=Naturals(), phi=(s,), h=sp.Integer(1),
                                  conventional={"q": sp.exp(theta)}, negative=("theta",),
                                  sum_sampler=lambda rng, mu, m: rng.negative_binomial(
                                      m, 1 / (1 + mu[..., 0]))[..., None])
    run = theory.simulate(geometric, M=30, init={"q": 0.5}, generations=3, chains=300, seed=1)
    assert abs(run.final["phi1"].mean - 1.0) < 5 * np.sqrt(run.final["phi1"].var / 300)  # martingale: E = μ0 = 1


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


def test_scalars_are_scalars_and_symbols_listed():
    d = theory.result("R3.drift.mle", "bernoulli")
    assert isinstance(d["drift"], sp.Expr) and not isinstance(d["drift"], sp.MatrixBase)
    assert d.symbols["drift"] == ("M", "M0", "theta", "theta_star")
    assert isinstance(theory.subs(d.result["drift"], theta=0.3), sp.Expr)  # a 1×1 matrix gives its element
    with pytest.raises(KeyError, match="known: drift"):
        d["drfit"]


def test_unknown_names_are_an_error_listing_the_known_ones():
    d = theory.result("R3.drift.mle", "bernoulli")
    with pytest.raises(theory.InputError, match=r"'thta': not a symbol .* M, M0, theta, theta_star"):
        theory.evaluate(d["drift"], thta=0.3, M=100, M0=0, theta_star=0)
    with pytest.raises(theory.InputError, match="'Mo'"):
        theory.subs(d["drift"], Mo=1)
    with pytest.raises(theory.InputError, match="results of R3.drift.mle"):
        theory.evaluate(d, theta=0.3, M=100, m0=1)
    # a project symbol the expression lacks is fine (a family's whole point, say); a misspelling is not
    assert theory.evaluate(d["drift"], theta=0.3, M=100, M0=0, theta_star=0, nu=2) == pytest.approx(
        theory.evaluate(d["drift"], theta=0.3, M=100, M0=0, theta_star=0))
    # a conventional parameter stands for the natural ones; the family's other names are known
    assert theory.evaluate(d["drift"], family="bernoulli", p=0.4, p_star=0.5, M=10, M0=1) == pytest.approx(
        theory.evaluate(d["drift"], theta=np.log(0.4 / 0.6), theta_star=0.0, M=10, M0=1))


def test_symbol_by_name_before_any_family_and_with_hints():
    import subprocess
    import sys

    code = ("import theory; print(theory.symbol('mu'), theory.symbol('mu1'), theory.symbol('M_0'), "
            "theory.symbol('chi12_star'), theory.symbol('mu').is_real)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["mu", "mu1", "M0", "chi12_star", "True"]
    assert theory.symbol("mu") == theory.get_family("bernoulli").mu_symbols[0]
    with pytest.raises(theory.InputError, match="did you mean theta"):
        theory.symbol("thta")


def test_run_summaries_are_labelled_and_per_chain_values_public():
    run = theory.simulate("bernoulli", M=20, init={"p": 0.3}, generations=5, chains=50, seed=1)
    p = run.per_chain("p")
    final = run.final["p"]
    assert isinstance(final, theory.ChainStats) and final.n == 50
    assert final.mean == pytest.approx(p.mean()) and final.var == pytest.approx(p.var(ddof=1))
    assert final.sem == pytest.approx(np.sqrt(p.var(ddof=1) / 50))
    mean, var = run.time_average["p"]  # unpacks as (mean, var)
    assert run.summary()["time_average"]["mean"]["p"] == mean and run.summary()["time_average"]["var"]["p"] == var
    theta = run.per_chain("theta")  # ±∞ on an absorbed chain: counted out of n
    assert run.final["theta"].n == np.isfinite(theta).sum()
    with pytest.raises(theory.InputError, match="known: p, theta"):
        run.per_chain("q")


def test_stationary_law_without_a_name_is_a_normalised_grid_law():
    """Fig. 2 (iii): Eq. 18 of two parameters names no law; against Fig. 2 (ii)'s normal law
    (the same quadrature on a named one) and Fig. 2 (i)'s Beta law of μ."""
    from scipy import stats

    fig2iii = theory.make_setting("curie_weiss", N=10, data=[{"phi1": 0}], prior_law="normal:var=2")
    law = theory.stationary_law("curie_weiss", setting_=fig2iii, N=10)
    assert isinstance(law, theory.GridLaw) and law.names == ("theta1", "theta2")
    assert law.mean()[0] == pytest.approx(0.0, abs=1e-9)  # the point Σσ = 0 is symmetric in θ1
    th2 = law.marginal("theta2")
    assert th2.mean() == pytest.approx(law.mean()[1], abs=1e-3) and th2.var() == pytest.approx(law.var()[1], rel=1e-2)
    x = np.array([[0.1, -1.0], [-0.3, 0.5]])
    assert np.exp(law.logpdf(x)) == pytest.approx(law.pdf(x))
    assert law.rvs(5, random_state=1).shape == (5, 2)

    from theory.laws import grid_law
    from theory.store import derivation

    fig2ii = theory.make_setting("curie_weiss", N=10, prior_law="normal:var=2")
    named = theory.stationary_law("curie_weiss", setting_=fig2ii, N=10)
    grid = grid_law(derivation("R9.stationary", fig2ii).result["log_density"], fig2ii.family, {})
    assert grid.mean() == pytest.approx(named.mean, abs=1e-6) and grid.cov() == pytest.approx(named.cov, abs=1e-6)
    assert grid.logpdf(np.array([0.3, -0.5])) == pytest.approx(named.logpdf([0.3, -0.5]), abs=1e-6)

    fam = theory.get_family("curie_weiss", N=10, fixed={"theta2": 0})
    fig2i = theory.make_setting(fam, data=[{"phi1": -6}])
    beta = theory.stationary_law(fam, setting_=fig2i)  # Beta of μ1 = 10 tanh θ1 on [−10, 10]
    one = grid_law(derivation("R9.stationary", fig2i).result["log_density"], fam, {})
    assert one.marginal().cdf(0.0) == pytest.approx(beta.cdf(0.0), abs=1e-4)
    assert np.tanh(one.rvs(20000, random_state=2)).mean() * 10 == pytest.approx(beta.mean(), abs=0.05)
    assert stats.kstest(10 * np.tanh(one.rvs(2000, random_state=3)), beta.cdf).pvalue > 1e-3


def test_collapsing_stationary_law_is_refused():
    no_prior = theory.make_setting("curie_weiss", N=10, data=[{"phi1": 0}])
    with pytest.raises(theory.InputError, match="not normalisable"):
        theory.stationary_law("curie_weiss", setting_=no_prior, N=10)


def test_exact_chain_from_a_family_and_M():
    chain = theory.exact_chain("bernoulli", M=20, init={"p": 0.3})
    assert chain.absorption_probabilities()["phi1=1"] == pytest.approx(0.3)  # the martingale
    with pytest.raises(theory.InputError, match="finite one-statistic"):
        theory.exact_chain("poisson", M=5, init={"rate": 1})


def test_figures_redraw_from_their_json_without_touching_the_backend():
    import json

    import matplotlib

    import theory.plots

    backend = matplotlib.get_backend()
    record = json.loads((ROOT / "figures" / "fig1c_all_up.json").read_text())
    fig = theory.plots.draw("fig1c_all_up", data=record)
    assert fig.axes and fig.axes[0].get_xlabel()
    from matplotlib.figure import Figure

    mine = Figure()
    ax = mine.subplots()
    assert theory.plots.draw("fig1c_all_up", ax=ax, data=ROOT / "figures" / "fig1c_all_up.json") is mine
    with pytest.raises(theory.InputError, match="2 panel"):
        theory.plots.draw("fig2_stationary", ax=ax, data=record)
    assert matplotlib.get_backend() == backend


def test_import_and_first_use_do_not_warn_in_a_notebook_without_ipywidgets():
    """tqdm.auto warns on import in Jupyter without ipywidgets: the text bar is used there."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("ipywidgets") is not None:
        pytest.skip("ipywidgets installed: the widget is used")
    # what tqdm.autonotebook reads to decide it runs in Jupyter
    code = ("import sys, types, warnings; warnings.simplefilter('always');"
            "sys.modules['ipykernel.zmqshell'] = types.ModuleType('zmqshell');"
            "sys.modules['IPython'] = types.SimpleNamespace(get_ipython=lambda: types.SimpleNamespace());"
            "{}")
    use = "import theory; theory.simulate('bernoulli', M=5, init={'p': 0.3}, generations=2, chains=2)"
    out = subprocess.run([sys.executable, "-c", code.format(use)], capture_output=True, text=True, check=True)
    assert "Warning" not in out.stderr, out.stderr
    control = subprocess.run([sys.executable, "-c", code.format("import tqdm.auto")], capture_output=True,
                             text=True, check=False)
    assert "TqdmWarning" in control.stderr  # the harness does see the warning tqdm.auto gives


def test_simulate_runs_a_model_class_by_name():
    """theory.simulate reaches the model classes as `closedloop simulate` does, family_args as a dict."""
    run = theory.simulate("rbm", M=20, generations=3, chains=50, family_args={"N": 3, "H": 2}, init_seed=5)
    assert set(run.final) >= {"v1", "v2", "v3"} and run.summary()["family"] == "rbm"
    assert run.final["v1"].n == 50
    with pytest.raises(theory.InputError, match="not rbm"):
        theory.simulate("rbm", M=20, family_args={"N": 3, "H": 2}, init_seed=5, init_law="stationary")
