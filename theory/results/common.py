"""Pieces every result uses: the placeholders of the generic derivations and their specialisation.

Generic results are derived once in abstract symbols μ_a, μ*_a, χ_ab, χ*_ab, κ_abc
(fast, and readable as LaTeX), then specialised by substituting the family's own
cumulants, so every family-specific formula comes out of the same derivation.
"""

from __future__ import annotations

import functools
import inspect

import sympy as sp

from .. import diskcache
from .. import symbols as S
from ..errors import InputError
from ..family import ExponentialFamily, latex_name, theta_in_conventional
from ..speedups import cancel, sympy_speedups
from ..tidy import tidy


def result(result_id: str):
    """A result function ``subject[, options] -> Derivation``, computed once per process and kept
    on disk (:func:`theory.diskcache.cached_result`) under ``result_id``, formatted with its
    arguments (``"R3.drift.{estimator}"``). The SymPy speed-ups are on while it derives."""

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.lru_cache(maxsize=None)
        def compute(subject, *args, **kwargs):
            bound = signature.bind(subject, *args, **kwargs)
            bound.apply_defaults()
            rid = result_id.format(**bound.arguments)
            with sympy_speedups():  # SymPy's polynomial conversion without expand(): same results, sooner
                return diskcache.cached_result(rid, subject, lambda: fn(subject, *args, **kwargs))

        functools.update_wrapper(compute, fn)
        return compute

    return decorate


def placeholders(family: ExponentialFamily):
    """Abstract (μ, μ*, χ, χ*, κ) of the family's dimension."""
    return S.placeholders(family.d)


@functools.cache
def substitution(family: ExponentialFamily) -> dict:
    """Placeholder -> the family's expression in θ (and θ* for starred ones); built once per family."""
    mu, mu_star, chi, chi_star, kappa = placeholders(family)
    d = family.d
    sub = {}
    for a in range(d):
        sub[mu[a]] = family.mu[a]
        sub[mu_star[a]] = family.starred(family.mu[a])
        for b in range(d):
            sub[chi[a, b]] = family.chi[a, b]
            sub[chi_star[a, b]] = family.starred(family.chi[a, b])
            for c in range(d):
                sub[kappa[a, b, c]] = family.kappa[a, b, c]
    return sub


def specialise(family: ExponentialFamily, expr):
    """Replace placeholders by the family's cumulants and tidy (:func:`theory.tidy.tidy`)."""
    return tidy(sp.sympify(expr).xreplace(substitution(family)))


def phibar_moments(mu, mu_star, chi, chi_star):
    """E[φ̄] and Cov[φ̄] of one generation: M − M0 points from the model, M0 from the truth.

    φ̄ = (1/M) Σ_i φ(s_i) with independent points, so the mean adds the points'
    means and the covariance their covariances, divided by M and M².
    """
    M, M0 = S.M, S.M0
    mean = ((M - M0) * mu + M0 * mu_star) / M
    cov = ((M - M0) * chi + M0 * chi_star) / M**2
    return mean, cov


def vec(expr) -> sp.Matrix:
    """A scalar or a matrix, as a matrix (for uniform rendering)."""
    return expr if isinstance(expr, sp.MatrixBase) else sp.Matrix([expr])


def show(m):
    """1×1 matrices are shown as scalars."""
    return m[0, 0] if isinstance(m, sp.MatrixBase) and m.shape == (1, 1) else m


def factor(expr):
    """``sp.factor`` with the polynomial generators in a fixed order (by name).

    SymPy sorts generators by name with trailing digits split off, so ``M`` and
    ``M0`` tie and their order, hence the sign of a factor such as (M − M0),
    would follow set iteration, i.e. PYTHONHASHSEED: derivations/ must come out
    byte-identical from every run.
    """
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(factor)
    gens = sorted(expr.free_symbols, key=lambda x: x.name)
    return sp.factor(expr, *gens) if gens else expr


def inverse(m: sp.Matrix) -> sp.Matrix:
    """Matrix inverse by adjugate / determinant: no simplification passes, safe with Sums."""
    return m.adjugate() / m.det(method="berkowitz")


def is_zero(family: ExponentialFamily, expr) -> bool:
    """Whether expr vanishes identically: exactly (:func:`theory.tidy.tidy`: a rational function
    cancels to 0), or, with sums over levels, at two test points."""
    exprs = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    if not any(e.has(sp.Sum) for e in exprs):
        return all(tidy(e) == 0 for e in exprs)
    free = sorted(set().union(*(e.free_symbols for e in exprs)) - {S.k}, key=str)
    for shift in (0, 1):
        # a size left symbolic (N spins, n trials) is set to an integer first: the sums' range
        sizes = {x: 6 + shift for x in free if x.is_integer}
        point = {x: sp.Float((3 + 2 * i + shift) / 7) for i, x in enumerate(free) if x not in sizes}
        point |= {t: sp.Float(float(v) + shift / 5) for t, v in family.interior_point().items()}
        # numbers first, then each distinct sum once (a few float terms): nothing compiled
        values = sizes | point
        values |= {x: x.xreplace(values).doit() for x in set().union(*(e.atoms(sp.Sum) for e in exprs))}
        if any(abs(float(e.xreplace(values))) > 1e-9 for e in exprs):
            return False
    return True


def conventional_form(family: ExponentialFamily, expr, generic=None):
    """An expression in θ, θ* rewritten in the conventional parameters (p, p*; p1, p2, ...), or None.

    Display only (the same function): the textbook form next to the natural one. None when
    there is no closed inverse or the rewritten form is much longer. With ``generic``, the same
    result in the placeholders μ, χ, κ, it is built from the family's cumulants rewritten
    first (short: p_a, p_a(δ_ab − p_b), ...), which is much faster than rewriting ``expr``.
    """
    sub = _conventional_substitution(family)
    if sub is None:
        return None
    if generic is not None:  # a rational function of the rewritten cumulants: cancel, not simplify
        rewritten = sp.sympify(generic).xreplace(_conventional_cumulants(family)).subs(sub, simultaneous=True)
        out = rewritten.applyfunc(_cancelled) if isinstance(rewritten, sp.MatrixBase) else _cancelled(rewritten)
        return None if out.has(*family.theta, sp.I) else show(out)
    e = show(expr)
    if isinstance(e, sp.MatrixBase):
        if e.has(sp.Sum):
            return None
        parts = [_in_conventional(x, family) for x in e]
        return None if any(x is None for x in parts) else sp.Matrix(e.rows, e.cols, parts)
    if not isinstance(e, sp.Expr) or e.has(sp.Sum):
        return None
    return _in_conventional(e, family)


@functools.cache
def _conventional_substitution(family: ExponentialFamily) -> dict | None:
    """θ_a and θ*_a in the conventional parameters (θ = ln(p/(1 − p)), ...), or None."""

    used = tuple(family.conventional)[:family.d]
    if not used or set(used) == set(family.names):  # nothing to convert (Curie–Weiss: θ1, θ2)
        return None
    try:
        own, truth = theta_in_conventional(family), theta_in_conventional(family, truth=True)
    except (InputError, NotImplementedError):
        return None
    return own | {S.starred(t): e for t, e in truth.items()}


@functools.cache
def _conventional_cumulants(family: ExponentialFamily) -> dict:
    """The placeholders μ, μ*, χ, χ*, κ as this family's cumulants in the conventional parameters."""
    return {k: _in_conventional(v, family, limit=False) for k, v in substitution(family).items()}


def conventional_names(family: ExponentialFamily) -> str:
    """"parameter $p$" or "parameters $m$, $\\sigma^2$": the ones :func:`conventional_form` uses."""

    names = tuple(family.conventional)[:family.d]
    listed = ", ".join(f"${latex_name(n)}$" for n in names)
    return f"parameter{'s' if len(names) > 1 else ''} {listed}"


def _cancelled(e):
    try:
        return factor(cancel(e))
    except sp.PolynomialError:  # logs of the parameters (L2)
        return sp.simplify(e)


@functools.lru_cache(maxsize=1024)  # the same covariance is shown for every estimator
def _in_conventional(e, family, limit: bool = True):
    out = tidy(e.subs(_conventional_substitution(family), simultaneous=True))
    if family.d > 1:  # θ_a = log(p_a/p_K): the logs of ratios cancel once expanded
        out = sp.simplify(sp.expand_log(out, force=True))
    try:
        out = factor(out)
    except sp.PolynomialError:  # logs of the parameters (L2): the simplified form
        pass
    if out.has(*family.theta, sp.I) or (limit and sp.count_ops(out) > 1.5 * sp.count_ops(e) + 5):
        return None  # θ left, a complex branch of a log, or longer than the natural form
    return out
