"""theory.tidy: the one simplification of family-specific expressions."""

import sympy as sp

from theory import get_family
from theory.tidy import fractional_hyperbolic, held_hyperbolics, is_rational, tidy

t, ts = sp.symbols("theta theta_star", real=True)
n = sp.Symbol("n", integer=True, positive=True)


def test_logistic_variance_stays_in_exponentials():
    """simplify alone gives n/(4 cosh²(θ/2)); tidy keeps the textbook n e^θ/(e^θ+1)²."""
    chi = sp.diff(n * sp.exp(t) / (sp.exp(t) + 1), t)
    assert fractional_hyperbolic(sp.simplify(chi))  # the form tidy must not pick
    out = tidy(chi)
    assert not out.has(sp.cosh, sp.sinh) and sp.simplify(out - n * sp.exp(t) / (sp.exp(t) + 1) ** 2) == 0
    assert get_family("binomial", n=n).chi[0, 0] == out


def test_an_identically_zero_rational_function_comes_out_zero():
    e = sp.exp(2 * t) / (sp.exp(t) + 1) - sp.exp(t) + sp.exp(t) / (sp.exp(t) + 1) + sp.exp(t + ts) - sp.exp(t) * sp.exp(ts)
    assert is_rational(e) and tidy(e) == 0
    assert tidy(sp.Matrix([e, 1 / (1 + sp.exp(-t))])) == sp.Matrix([0, sp.exp(t) / (sp.exp(t) + 1)])


def test_tanh_of_the_parameter_is_kept_and_not_rational():
    """Curie–Weiss with θ2 = 0: μ = N tanh θ1 is shorter than its exponential form."""
    cw = get_family("curie_weiss", fixed={"theta2": 0}, N=sp.Symbol("N", integer=True, positive=True))
    assert cw.mu[0].has(sp.tanh) and not fractional_hyperbolic(cw.mu[0])
    assert not is_rational(sp.log(t) + 1) and not is_rational(sp.sqrt(t))


def test_held_hyperbolics_round_trip():
    mu = sp.Symbol("mu")
    e = mu * sp.tanh(ts) + sp.cosh(t) * sp.sinh(t)
    held, back = held_hyperbolics(e)
    assert not held.has(sp.tanh) and held.has(sp.cosh, sp.sinh)  # two of θ: not held
    assert held.xreplace(back) == e


def test_hyperbolics_of_a_parameter_come_out_as_cosh_power_times_a_function_of_tanh():
    """Even or odd in cosh x: cosh(x)^p R(tanh x), exact, by cancelling polynomials (no trigsimp)."""
    N, M, M0 = sp.symbols("N M M0", positive=True)
    cases = [
        (N * sp.sinh(t) * sp.cosh(t) + N * sp.cosh(t) ** 2 * sp.tanh(ts), N * (sp.tanh(t) + sp.tanh(ts)) * sp.cosh(t) ** 2),
        (-2 * N * sp.sinh(t) / sp.cosh(t) ** 3, -2 * N * sp.tanh(t) / sp.cosh(t) ** 2),
        (N * (1 - sp.tanh(t) ** 2), N / sp.cosh(t) ** 2),
        # the covariance of R2 keeps its grouping: ((M − M0) χ + M0 χ*) / M²
        (((M - M0) * N / sp.cosh(t) ** 2 + M0 * N / sp.cosh(ts) ** 2) / M**2,
         N * ((M - M0) / sp.cosh(t) ** 2 + M0 / sp.cosh(ts) ** 2) / M**2),
        # e^{±x} = cosh x (1 ± tanh x)
        (sp.exp(2 * t) * sp.tanh(t) - sp.exp(t) * sp.sinh(t), sp.exp(t) * sp.sinh(t) * (sp.tanh(t) - 1) + sp.exp(t) * sp.sinh(t)),
    ]
    for e, expected in cases:
        out = tidy(e)
        assert not out.has(sp.sinh, sp.exp), out
        value = {t: sp.Rational(3, 10), ts: sp.Rational(-7, 10), N: 5, M: 40, M0: 3}
        assert abs(sp.N((out - e).subs(value))) < 1e-12 and abs(sp.N((out - expected).subs(value))) < 1e-12
    assert tidy(N * sp.tanh(t)) == N * sp.tanh(t)
    # (M − M0) tanh θ + M0 tanh θ*: its grouping kept, not multiplied out
    assert tidy((M - M0) * sp.tanh(t) + M0 * sp.tanh(ts)) == (M - M0) * sp.tanh(t) + M0 * sp.tanh(ts)
    # mixed parity (cosh θ + 1) or another argument (cosh 2θ): left to simplify
    for e in (sp.cosh(t) + sp.tanh(t), sp.cosh(2 * t) * sp.tanh(t)):
        assert sp.simplify(tidy(e) - e) == 0


def test_the_tanh_route_never_lengthens_and_keeps_symbols_of_one_name_apart():
    x_real, x_pos = sp.Symbol("x", real=True), sp.Symbol("x", positive=True)
    assert tidy(sp.tanh(x_real) - sp.tanh(x_pos)) != 0  # two symbols, whatever their names
    ours = sp.Symbol("_tanh_theta", real=True)  # a symbol named as the route's own T
    assert tidy(sp.sinh(t) / sp.cosh(t) - ours) != 0
    held, back = held_hyperbolics(sp.tanh(t) - ours)
    assert held.xreplace(back) == sp.tanh(t) - ours and held != 0
    for e in (sp.sinh(t), 1 / sp.sinh(t), sp.exp(2 * t) * sp.tanh(t)):
        out = tidy(e)
        assert sp.count_ops(out) <= sp.count_ops(e) and abs(sp.N((out - e).subs(t, 0.37))) < 1e-12
