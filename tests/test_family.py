"""The derived cumulants against independent facts: scipy.stats moments and brute-force sums."""

import importlib

import numpy as np
import pytest
import sympy as sp

from theory import InputError, get_family
from theory.numeric import evaluate


def _theta(family, rng):
    th = {t.name: rng.uniform(-1.2, 1.2) for t in family.theta}
    for n in family.negative:
        th[n] = -rng.uniform(0.3, 2.0)
    return th


def _reference(family, th):
    """Mean vector and covariance of φ computed without the derivation: from the family
    module's scipy ``reference`` where it declares one (φ a polynomial in s, through the
    law's moments), else by enumerating a finite space's levels numerically."""
    module = importlib.import_module(f"theory.families.{family.name}")
    s = sp.Symbol("s", real=True)
    if hasattr(module, "reference"):
        law = module.reference(th, **{k: v for k, v in family.args.items()})
        def expect(e):
            poly = sp.Poly(sp.expand(e), s)
            return sum(float(c) * (law.moment(k) if k else 1.0) for (k,), c in poly.terms())
        mean = np.array([expect(p) for p in family.phi])
        cov = np.array([[expect(p * q) - mean[a] * mean[b] for b, q in enumerate(family.phi)]
                        for a, p in enumerate(family.phi)])
        return mean, cov
    lv = family.space.levels
    phi = np.array([[float(p.subs(s, v)) for p in family.phi] for v in lv])
    h = np.array([float(family.h.subs(s, v)) for v in lv])
    w = h * np.exp(phi @ np.array([th[n] for n in family.names]))
    w /= w.sum()
    mean = w @ phi
    return mean, (phi - mean).T @ ((phi - mean) * w[:, None])


def test_cumulants_match_independent_reference(family, rng):
    for _ in range(3):
        th = _theta(family, rng)
        mean, cov = _reference(family, th)
        np.testing.assert_allclose(evaluate(family.mu, th).ravel(), mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(evaluate(family.chi, th), cov, rtol=1e-8, atol=1e-12)


def test_chi_positive_definite_and_kappa_symmetric(family, rng):
    th = _theta(family, rng)
    assert np.all(np.linalg.eigvalsh(evaluate(family.chi, th)) > 0)
    kappa = np.array(evaluate(sp.Array(family.kappa), th)).reshape((family.d,) * 3)
    np.testing.assert_allclose(kappa, np.transpose(kappa, (1, 0, 2)), atol=1e-10)
    np.testing.assert_allclose(kappa, np.transpose(kappa, (2, 1, 0)), atol=1e-10)


def test_mu_inverse_is_inverse(family, rng):
    if family.mu_inverse is None:
        assert family.A.has(sp.Sum)  # only where A has no closed form
        return
    th = _theta(family, rng)
    eta = {m.name: v for m, v in zip(family.mu_symbols, evaluate(family.mu, th).ravel(), strict=True)}
    back = [float(evaluate(family.mu_inverse[t], eta)) for t in family.theta]
    np.testing.assert_allclose(back, [th[t.name] for t in family.theta], rtol=1e-9)


def test_kl_is_nonnegative_and_zero_at_truth(family, rng):
    th, th2 = _theta(family, rng), _theta(family, rng)
    vals = th | {f"{k}_star": v for k, v in th2.items()}
    assert float(evaluate(family.kl, vals)) > 0
    same = th | {f"{k}_star": v for k, v in th.items()}
    assert abs(float(evaluate(family.kl, same))) < 1e-10


def test_textbook_log_partitions():
    t = sp.Symbol("theta", real=True)
    assert sp.simplify(get_family("binomial", n=7).A - 7 * sp.log(1 + sp.exp(t))) == 0
    assert sp.simplify(get_family("poisson").A - sp.exp(t)) == 0
    cw = get_family("curie_weiss", N=4, fixed={"theta2": 0})
    t1 = sp.Symbol("theta1", real=True)
    # A = 4 log(2 cosh θ1): same derivative and same value at 0
    assert sp.simplify((sp.diff(cw.A, t1) - 4 * sp.tanh(t1)).rewrite(sp.exp)) == 0
    assert sp.simplify(cw.A.subs(t1, 0) - 4 * sp.log(2)) == 0


def test_absorbing_states():
    labels = lambda f: [s.label for s in f.absorbing_states]  # noqa: E731
    assert labels(get_family("bernoulli")) == ["phi1=0", "phi1=1"]
    assert labels(get_family("curie_weiss", N=10))[-1] == "phi1=10,phi2=4.5"
    assert len(get_family("curie_weiss", N=10).absorbing_states) == 11  # every level is a vertex
    assert labels(get_family("curie_weiss", N=10, fixed={"theta2": 0.3})) == ["phi1=-10", "phi1=10"]
    assert labels(get_family("categorical", K=4)) == ["phi1=1,phi2=0,phi3=0", "phi1=0,phi2=1,phi3=0",
                                                       "phi1=0,phi2=0,phi3=1", "phi1=0,phi2=0,phi3=0"]
    poisson, gauss = get_family("poisson").absorbing_states, get_family("gaussian").absorbing_states
    assert poisson[0].attainable and not gauss[0].attainable


def test_conventional_parameters_round_trip():
    g = get_family("gaussian")
    th = g.natural_point({"mean": 3, "var": 0.5})
    assert th == pytest.approx({"theta1": 6.0, "theta2": -1.0})
    c = get_family("categorical", K=3).natural_point({"p1": 0.2, "p2": 0.3, "p3": 0.5})
    assert c["theta1"] == pytest.approx(np.log(0.2 / 0.5))


@pytest.mark.parametrize("name, params, message", [
    ("bernoulli", {"p": 1.5}, "outside the domain"),
    ("bernoulli", {"q": 0.5}, "unknown parameter 'q'"),
    ("gaussian", {"mean": 1}, "missing var"),
    ("gaussian", {"mean": 1, "var": -2}, "outside the domain"),
    ("exponential", {"theta": 0.5}, "theta=0.5 is outside"),
    ("categorical", {"p1": 0.2, "p2": 0.3, "p3": 0.9}, "inconsistent"),
])
def test_bad_parameters_raise_input_error(name, params, message):
    with pytest.raises(InputError, match=message):
        get_family(name).natural_point(params)


def test_bad_family_arguments():
    with pytest.raises(InputError, match="unknown family"):
        get_family("cauchy")
    with pytest.raises(InputError, match="accepts N"):
        get_family("curie_weiss", n=3)
    with pytest.raises(InputError, match="N must be an integer from 3 to 1000"):
        get_family("curie_weiss", N=1)
    with pytest.raises(InputError, match="cannot fix"):
        get_family("bernoulli", fixed={"theta2": 0})


def test_families_are_interned_so_caches_keyed_on_them_hit():
    """get_family with equal arguments returns the same object, restricted or not; the numeric view is built once."""
    from theory.engine.model import numeric_family

    assert get_family("bernoulli") is get_family("bernoulli")
    assert get_family("curie_weiss", N=6) is get_family("curie_weiss", N=6)
    assert get_family("curie_weiss", N=6) is not get_family("curie_weiss", N=7)
    cw = get_family("curie_weiss", N=6)
    assert cw.restrict(theta2=0) is cw.restrict(theta2=0.0) is get_family("curie_weiss", fixed={"theta2": 0}, N=6)
    numeric_family.cache_clear()
    numeric_family(get_family("bernoulli"))
    numeric_family(get_family("bernoulli"))
    info = numeric_family.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_derived_cumulants_are_kept_on_disk(tmp_path, monkeypatch):
    """A second process (here: a fresh family object) reads A, μ, χ, κ, θ(μ) from the disk cache:
    equal objects, keyed by the declaration; an unreadable file is derived afresh; off disables."""
    from theory import diskcache
    from theory.families import FAMILIES
    from theory.family import ExponentialFamily

    monkeypatch.setenv("THEORY_CACHE_DIR", str(tmp_path))
    names = ("A", "mu", "chi", "kappa", "mu_inverse")
    cold = FAMILIES["binomial"](n=3)
    derived = {n: getattr(cold, n) for n in names}
    files = sorted(tmp_path.rglob("*.pkl"))
    assert len(files) == len(names)
    calls = []
    monkeypatch.setattr(ExponentialFamily, "_partition_function", lambda self: calls.append(1))
    warm = FAMILIES["binomial"](n=3)
    assert {n: getattr(warm, n) for n in names} == derived and not calls
    assert diskcache.key(FAMILIES["binomial"](n=4)) != diskcache.key(warm)
    assert diskcache.key(cold) == diskcache.key(warm)
    monkeypatch.undo()
    monkeypatch.setenv("THEORY_CACHE_DIR", str(tmp_path))
    next(f for f in files if f.name.endswith("-A.pkl")).write_bytes(b"truncated")
    assert FAMILIES["binomial"](n=3).A == derived["A"]
    monkeypatch.setenv("THEORY_CACHE_DIR", "off")
    assert diskcache.cache_dir() is None and FAMILIES["bernoulli"]().mu.shape == (1, 1)


def test_exact_numbers_are_nsimplify_s_without_its_search():
    """`exact` skips nsimplify's search where the answer is the input itself (an integer, a
    rational): every other value gives what nsimplify gives, structure and type; an
    integer-valued float is its integer, which nsimplify rounds (or writes with radicals)."""
    from theory.family import exact

    values = [0, 3, -45, np.int64(7), 2.0, -0.0, 0.5, 0.3, 0.1 + 0.2, 1 / 3, np.float64(2.5),
              sp.Integer(4), sp.Rational(45, 2), sp.Rational(-1, 3), sp.Float(0.25), sp.sqrt(2), sp.Symbol("x")]
    for v in values:
        assert sp.srepr(exact(v)) == sp.srepr(sp.nsimplify(v)), v
    for v in (829358.0, 5445124522863328.0, 2.0**60):
        assert exact(v) == sp.Integer(int(v)) and exact(v) != sp.nsimplify(v), v
