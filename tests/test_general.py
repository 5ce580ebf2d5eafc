"""The paper's general loop (R9): settings, derived identities, named stationary laws, engine, CLI."""

import json

import pytest
import sympy as sp

from theory import get_family
from theory.cli import main
from theory.derive import paper_settings
from theory.params import from_params
from theory.engine.markov import ExactChain
from theory.errors import InputError
from theory.results import general
from theory.setting import NormalPrior, Setting, data_point, parse_prior


@pytest.fixture(scope="module")
def paper():
    return {sid: setting for sid, _, setting in paper_settings()}


def test_pure_loop_identities_in_every_dimension():
    for d in (1, 2, 3):
        gen = general.generic_identities(d)
        pure = {general.u_sym: 0, general.m_ext: 0}
        assert all(sp.simplify(e.subs(pure)) == 0 for e in gen["drift_mu"])  # μ is driftless
        assert sp.simplify(gen["drift_S"].subs(pure)) == -sp.Rational(d, 2)  # not −d (Eq. 17)


def test_named_stationary_laws_of_the_paper_settings(paper):
    fig2i = general.stationary(paper["fig2-i"]).result
    assert (fig2i["law"], fig2i["alpha"], fig2i["beta"]) == ("Beta", 4, 16)  # Beta(N+φq, N−φq)
    fig2ii = general.stationary(paper["fig2-ii"]).result
    assert fig2ii["law"] == "Normal" and fig2ii["cov"] == sp.eye(2)  # variance 2 / 2
    fig3 = general.stationary(paper["fig3"]).result
    theta_star = sp.Symbol("theta_star", real=True)
    # App. C: Gamma(shape 2 m ϑ0, rate 2(m + λ)) with m = λ = 1
    assert fig3["law"] == "Gamma" and sp.simplify(fig3["alpha"] - 2 * sp.exp(theta_star)) == 0
    assert fig3["beta"] == 4
    assert general.stationary(paper["fig2-iii"]).result["normalisable"] is True
    assert general.stationary(paper["fig2-iii-no-prior"]).result["normalisable"] is False


def test_curie_weiss_without_coupling_has_the_binomial_stationary_law():
    """θ2 = 0: Σσ = 2k − N with k ~ Binomial(N, p), so Eq. 18 with m fresh points must be the
    binomial's law with n = N, (N + μ)/2N ~ Beta(2Nm p*, 2Nm(1 − p*)), p* = (1 + tanh θ*)/2;
    and the identified Beta density must be the derived density in μ (a swapped α, β is not)."""
    N = sp.Symbol("N", integer=True, positive=True)
    cw = get_family("curie_weiss", fixed={"theta2": 0}, N=N)
    res = general.stationary(Setting(cw, fresh=general.m_ext)).result
    t_star = sp.Symbol("theta1_star", real=True)
    p_star = (1 + sp.tanh(t_star)) / 2
    m = general.m_ext
    assert res["law"] == "Beta"
    assert sp.simplify(res["alpha"] - 2 * N * m * p_star) == 0
    assert sp.simplify(res["beta"] - 2 * N * m * (1 - p_star)) == 0
    mu = cw.mu_symbols[0]
    x = (N + mu) / (2 * N)

    def score_gap(a, b):  # d/dμ of log(density_mu) minus that of the Beta(a, b) density of x
        beta_log = (a - 1) * sp.log(x) + (b - 1) * sp.log(1 - x)
        gap = sp.diff(sp.log(res["density_mu"]) - beta_log, mu)
        point = {N: 6, m: sp.Rational(3, 2), t_star: sp.Rational(2, 5), mu: sp.Rational(7, 5)}
        return abs(float(gap.subs(point)))

    assert score_gap(res["alpha"], res["beta"]) < 1e-12
    assert score_gap(res["beta"], res["alpha"]) > 1e-3  # negative control


def test_normalisability_rules():
    pois = get_family("poisson")
    assert general.stationary(Setting(pois)).result["normalisable"] is False  # m = u = 0
    assert general.stationary(Setting(pois, fresh=2)).result["normalisable"] is True
    bern = get_family("bernoulli")
    on_vertex = Setting(bern, data=(data_point(bern, {"phi1": 1}),))
    assert general.stationary(on_vertex).result["normalisable"] is False
    inside = Setting(bern, data=(data_point(bern, {"phi1": 1}), data_point(bern, {"phi1": 0})))
    assert general.stationary(inside).result["normalisable"] is True


def test_data_points_and_priors_are_checked():
    cw = get_family("curie_weiss", N=10)
    assert data_point(cw, {"phi1": 0}) == (0, sp.Rational(-1, 2))
    gauss = get_family("gaussian")
    assert data_point(gauss, {"s": 2}) == (2, 4)
    for bad in ({"phi1": 1}, {"phi3": 0}, {"phi1": 12}):
        with pytest.raises(InputError):
            data_point(cw, bad)
    assert parse_prior("normal:var=2") == NormalPrior(2.0)
    for bad in ("normal", "normal:var=-1", "gamma:shape=1,on=rate", "cauchy:x=1,on=rate",
                "exponential:rate=1", "normal:var=1,var=2"):
        with pytest.raises(InputError):
            parse_prior(bad)


def test_exact_chain_with_a_fixed_point_is_centred_on_it():
    loop = from_params("curie_weiss", 30, {"theta1": 0.3}, fixed={"theta2": 0}, family_args={"N": 6},
                       data=[{"phi1": -2}])
    chain = ExactChain(loop)
    assert chain.stationary() @ chain.phibar == pytest.approx(-2, abs=1e-9)  # E[φ̄'] = (Mμ + φq)/(M+1)


def test_histograms_stream_every_chain_generation():
    loop = from_params("poisson", 20, {"rate": 1.0}, truth={"rate": 1.0}, external=1,
                       prior_law="exponential:rate=1,on=rate")
    run = loop.run(50, 30, seed=1, burn_in=10, histograms={"rate": (0.0, 1.0, 10)})
    h = run.histograms["rate"]
    assert h.counts.sum() + h.below + h.above + h.undefined == 30 * 40


ACCEPTANCE = [
    ["simulate", "curie_weiss", "--family-args", "N=10", "--fixed", "theta2=0", "--M", "50",
     "--external-data", "phi1=-6", "--init", "theta1=0", "--generations", "200", "--chains", "50",
     "--json"],
    ["simulate", "curie_weiss", "--family-args", "N=10", "--M", "400", "--prior-law", "normal:var=2",
     "--external-data", "phi1=0", "--init", "theta1=0,theta2=0", "--generations", "20", "--chains",
     "50", "--json", "--histogram", "theta2=-3:3:12"],
    ["simulate", "poisson", "--M", "200", "--external", "1", "--truth", "rate=1", "--prior-law",
     "exponential:rate=1,on=rate", "--init", "rate=1", "--generations", "200", "--chains", "50", "--json"],
]


@pytest.mark.parametrize("argv", ACCEPTANCE, ids=["fig2-i", "fig2-iii", "fig3"])
def test_the_papers_settings_run_as_printed(argv, capsys):
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["external"] + len(out["external_data"]) == 1
    assert all(v is not None for v in out["final"]["mean"].values() if v is not None)
    assert "quantiles" in out["final"]


def test_derive_prints_the_settings_results(capsys):
    assert main(["derive", "curie_weiss", "--family-args", "N=10", "--fixed", "theta2=0",
                 "--external-data", "phi1=-6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["curie_weiss-fixed-theta2"]
    assert out["normalisable"] is True and out["m"] == 1 and out["u"] == 0
    assert {"U", "drift_general", "stationary_theta"} <= set(out)
    assert "theta1" in out["stationary_theta"]


@pytest.mark.parametrize("argv", [
    ["simulate", "poisson", "--M", "10", "--external", "1", "--init", "rate=1", "--generations", "1",
     "--chains", "1"],                                                   # fresh points need a truth
    ["simulate", "poisson", "--M", "10", "--prior-law", "exponential:rate=1,on=mean", "--init",
     "rate=1", "--generations", "1", "--chains", "1"],                   # unknown conventional name
    ["simulate", "bernoulli", "--M", "10", "--external-data", "phi1=0.5", "--init", "p=0.5",
     "--generations", "1", "--chains", "1"],                             # not a data point
    ["simulate", "bernoulli", "--M", "10", "--prior-law", "normal:var=1", "--estimator", "map",
     "--init", "p=0.5", "--generations", "1", "--chains", "1"],          # two estimators
    ["derive", "poisson", "--prior-law", "normal:var=0", "--json"],
])
def test_bad_setting_input_is_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("closedloop: error:")


def test_derive_writes_the_settings_document(tmp_path, capsys):
    assert main(["derive", "curie_weiss", "--family-args", "N=10", "--fixed", "theta2=0",
                 "--external-data", "phi1=-6", "--out", str(tmp_path), "--no-pdf"]) == 0
    assert "normalisable=True, stationary law Beta" in capsys.readouterr().out
    (doc,) = tmp_path.glob("setting-*.tex")
    assert {p.name for p in (tmp_path / doc.stem).glob("*.tex")} == {
        "R9.sde.tex", "R9.entropy.tex", "R9.stationary.tex", "R9.stationary_correction.tex"}


def test_derive_json_keeps_sizes_symbolic(capsys):
    """`derive curie_weiss --json` is for general N; numbers only with --family-args."""
    assert main(["derive", "curie_weiss", "--fixed", "theta2=0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["curie_weiss-fixed-theta2"]
    assert out["args"] == {"N": "N"} and out["mu"] == ["N*tanh(theta1)"]
    assert main(["derive", "binomial", "--family-args", "n=4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["binomial"]["A"] == "4*log(exp(theta) + 1)"
    N = sp.Symbol("N", integer=True, positive=True)
    assert sp.simplify(get_family("binomial", n=N).A - N * sp.log(1 + sp.exp(sp.Symbol("theta", real=True)))) == 0
