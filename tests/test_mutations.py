"""Tests that bite: each catches a plausible bug that the Monte Carlo checks alone let through.

A light mutation study found that these mutants passed the suite: the time average divided by T
instead of T − burn-in; a 33 % error in the Itô (κ) term of R3; a loose Newton tolerance;
absorption labels swapped; the R6 formula never compared with the exact chain. Each test
below fails on its mutant.
"""

import numpy as np
import pytest
import sympy as sp

from theory import get_family
from theory import symbols as S
from theory.engine import numeric_family
from theory.engine.estimators import solve_theta
from theory.params import from_params
from theory.engine.markov import ExactChain
from theory.results import absorption, recursion


def test_time_average_is_over_the_generations_after_the_burn_in():
    run = from_params("bernoulli", 20, {"p": 0.4}).run(50, 200, seed=2, burn_in=20, record_every=1)
    t = np.array(run.trace["t"])
    means = np.array(run.trace["mean"]["phi1"])
    assert run.time_average["phi1"][0] == pytest.approx(means[t > 20].mean(), abs=1e-12)


def test_r3_ito_term_against_textbook_drifts():
    """Pure loop, MLE: Gaussian E[Δθ] = 3θ/M + O(M⁻²) from E[1/χ²_k] = 1/(k−2); Poisson
    E[Δ log μ] = −1/(2Mμ) by the delta method. A 10 % error in the κ term changes both."""
    th1, th2 = get_family("gaussian").theta
    drift = recursion.drift(get_family("gaussian"), "mle").result["drift"].subs(S.M0, 0)
    assert sp.simplify(drift - sp.Matrix([3 * th1, 3 * th2]) / S.M) == sp.zeros(2, 1)
    (th,) = get_family("poisson").theta
    drift = recursion.drift(get_family("poisson"), "mle").result["drift"][0].subs(S.M0, 0)
    assert sp.simplify(drift + sp.exp(-th) / (2 * S.M)) == 0


def test_newton_refit_solves_to_rounding(rng):
    nf = numeric_family(get_family("curie_weiss", N=6))
    theta = rng.normal(0, 0.5, (500, 2))
    tau = nf.mu(theta)
    fitted = solve_theta(nf, tau, np.zeros_like(theta))
    assert np.max(np.abs(nf.mu(fitted) - tau) / nf.scale) < 1e-9
    assert np.max(np.abs(fitted - theta)) < 1e-6


def test_absorption_labels_against_a_hand_computed_case():
    """Bernoulli from p0 = 0.95: P(all ones) = 0.95 (optional stopping); a label swap gives 0.05."""
    run = from_params("bernoulli", 3, {"p": 0.95}).run(2000, 4000, seed=1)
    by = run.absorbed()["by_state"]
    sem = np.sqrt(0.95 * 0.05 / 4000)
    assert abs(by["phi1=1"] - 0.95) < 5 * sem and abs(by["phi1=0"] - 0.05) < 5 * sem
    # Curie–Weiss (N = 4) pushed up: nearly every chain ends with all spins up
    run = from_params("curie_weiss", 3, {"theta1": 2.0, "theta2": 0.0}, family_args={"N": 4}).run(
        500, 500, seed=1)
    top = max(run.absorbed()["by_state"].items(), key=lambda kv: kv[1])
    assert top[0] == "phi1=4,phi2=1.5" and top[1] > 0.8


@pytest.mark.parametrize("name,args,init", [("bernoulli", {}, {"p": 0.3}),
                                            ("binomial", {"n": 3}, {"p": 0.7}),
                                            ("curie_weiss", {"N": 4}, {"theta1": 0.4})])
def test_r6_formula_equals_the_exact_chain(name, args, init):
    """The optional-stopping probabilities of R6 against the exact Markov chain (independent code)."""
    fixed = {"theta2": 0.0} if name == "curie_weiss" else {}
    loop = from_params(name, 7, init, family_args=args, fixed=fixed)
    chain = ExactChain(loop).absorption_probabilities()
    res = absorption.absorption(loop.family).result
    mu0 = float(loop.init_mu[0])
    for label, p in chain.items():
        assert float(res[f"P[{label}]"].subs(loop.family.mu_symbols[0], mu0)) == pytest.approx(p, abs=1e-9)


def test_segment_faces_fast_path_equals_the_facet_intersection(rng):
    from theory.engine.model import minimal_face

    for fam in (get_family("bernoulli"), get_family("binomial", n=5)):
        nf = numeric_family(fam)
        support = rng.random((3000, len(nf.levels))) < 0.2
        support = support[support.any(axis=1)]  # a sample holds at least one level
        contains = ~(support[:, None, :] & ~nf.facets[None]).any(axis=-1)
        general = np.all(~contains[:, :, None] | nf.facets[None], axis=1)
        assert np.array_equal(minimal_face(nf, support), general)
