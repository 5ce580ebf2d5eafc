"""The derived closed forms a run evaluates, as NumPy functions, and the generator of their
committed copy for the built-in families (``theory/families/numeric_forms.py``, see
:mod:`theory.twin`).

A form is (argument names, function): the function is SymPy's ``lambdify`` of the derived
expression (:func:`theory.family.compiled_form`), or None for a bare symbol (the value is its
argument). :class:`Forms` gives a family's forms on first use, compiled from its derivations,
or a twin's generated ones, which are that compiled code printed: the same numbers either way.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np

from ..family import compiled_form
from ..twin import FamilyTwin, level_tables, point_masses
from .shared import code_of

# the forms a run may ask for; a finite space reads its levels instead of A, μ, χ
INFINITE_ONLY = ("A", "mu", "chi", "entropy_mu", "spread_mu", "curve", "log_h_ends", "negated")
KEYS = (*INFINITE_ONLY, "mu_inverse", "conventional_mu", "conventional_theta", "conventional_inverse")


class Forms:
    """The forms of one family (or twin), each derived and compiled once, on first use."""

    def __init__(self, family, symbolic: bool = True):
        self.family, self.symbolic = family, symbolic
        self._made: dict[str, object] = {}

    def get(self, key: str):
        """A list (or nested list, or name -> form dict) of forms, or None where there is none."""
        if key not in self._made:
            fam = self.family
            self._made[key] = fam.forms.get(key) if isinstance(fam, FamilyTwin) else self._derive(key)
        return self._made[key]

    def _derive(self, key: str):
        import sympy as sp

        from .. import symbols as S

        fam = self.family
        if key == "A":
            return [compiled_form(fam.A)]
        if key == "mu":
            return [compiled_form(e) for e in fam.mu]
        if key == "chi":
            return [[compiled_form(fam.chi[a, b]) for b in range(fam.d)] for a in range(fam.d)]
        if key == "mu_inverse":
            inv = fam.mu_inverse
            return None if inv is None else [compiled_form(inv[t]) for t in fam.theta]
        if key in ("entropy_mu", "spread_mu"):
            expr = getattr(fam, key)
            return None if expr is None else [compiled_form(expr)]
        if key == "curve":  # φ(s) along a continuum of point masses (Gaussian: (s, s²))
            curves = [a for a in fam.absorbing_states if not all(sp.sympify(v).is_number for v in a.phi)]
            return [compiled_form(p) for p in curves[0].phi] if curves else None
        if key == "log_h_ends":  # log h(s) at the finite ends of a one-statistic space
            ends = [e for e in (fam.space.lower, fam.space.upper) if e.is_finite] if fam.d == 1 else []
            return [float(sp.log(fam.h.subs(S.s, e))) for e in ends]
        if key == "negated":  # θ_a(μ) = −c(μ) for a conventional parameter c (exponential: θ = −rate)
            return negated(fam)
        if key == "conventional_mu":  # None: evaluated from θ (a large finite space: see model.py)
            exprs = fam.conventional_mu if self.symbolic else dict.fromkeys(fam.conventional)
            return {n: None if e is None else compiled_form(e) for n, e in exprs.items()}
        if key == "conventional_theta":
            return {n: compiled_form(e) for n, e in fam.conventional.items()}
        if key == "conventional_inverse":
            inverse = fam.conventional_inverse
            return None if inverse is None else [compiled_form(inverse[t]) for t in fam.theta]
        raise KeyError(key)


def negated(family) -> dict[str, str] | None:
    """θ name -> conventional name where θ_a(μ) + c(μ) simplifies to 0 (None if there is none): θ_a
    is then evaluated as −c, exactly the negation of c's values (−x is exact), and a run summarises
    it from c's (mean negated, variance the same) instead of computing it again."""
    import sympy as sp

    inverse, conventional = family.mu_inverse, family.conventional_mu
    if inverse is None:
        return None
    # μ at an interior point: a sum that is not 0 there needs no simplification (a tenth of a second)
    point = {m: e.subs(family.interior_point()) for m, e in zip(family.mu_symbols, family.mu, strict=True)}
    out = {}
    for t in family.theta:
        for name, c in conventional.items():
            if c is None or name in family.names:
                continue
            total = inverse[t] + c
            if (total == 0 or (not _nonzero_at(total, point) and sp.simplify(total) == 0)) \
                    and _same_numbers_negated(inverse[t], c):
                out[t.name] = name
                break
    return out or None


def _same_numbers_negated(theta, c) -> bool:
    """Whether the code lambdify prints for θ computes −(c's code) bit for bit: the two syntax
    trees agree once every negation is moved into the left factor of a product or quotient
    (−(a·b) = (−a)·b and −(a/b) = (−a)/b exactly: rounding is symmetric in the sign) and onto
    constants. θ = −1/μ against rate = 1/μ agrees; log(μ/(1 + μ)) against log(1 + 1/μ), equal
    in SymPy, does not (another rounding), and θ keeps its own form."""
    own, other = _returned(compiled_form(theta)), _returned(compiled_form(c))
    if own is None or other is None:
        return False
    return ast.dump(_negations_moved(own)) == ast.dump(_negations_moved(ast.UnaryOp(ast.USub(), other)))


def _negations_moved(node):
    """``node`` with each unary minus moved into the left factor of a product or quotient, two
    minuses cancelled and a minus on a number folded into it (:func:`_same_numbers_negated`)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _negations_moved(node.operand)
        if isinstance(inner, ast.Constant) and isinstance(inner.value, int | float):
            return ast.Constant(-inner.value)
        if isinstance(inner, ast.UnaryOp) and isinstance(inner.op, ast.USub):
            return inner.operand
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Mult | ast.Div):
            return ast.BinOp(_negations_moved(ast.UnaryOp(ast.USub(), inner.left)), inner.op, inner.right)
        return ast.UnaryOp(ast.USub(), inner)
    if isinstance(node, ast.AST):
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                setattr(node, name, _negations_moved(value))
            elif isinstance(value, list):
                setattr(node, name, [_negations_moved(v) if isinstance(v, ast.AST) else v for v in value])
    return node


def _returned(form):
    """The syntax tree of the expression a compiled form returns; None unless its body is that one
    line (lambdify's common subexpressions are lines before it)."""
    body = code_of(form)
    return body[0] if body is not None and not body[1] else None


def _nonzero_at(expr, point) -> bool:
    """Whether ``expr`` is a number clearly off 0 at ``point`` (False where it is not a number there)."""
    try:
        return abs(complex(expr.subs(point))) > 1e-9
    except (TypeError, ValueError):
        return False


# --- the generated copy -------------------------------------------------------------------------
def source() -> str:
    """The text of ``theory/families/numeric_forms.py``: the forms and tables of every built-in
    family at its default arguments, derived with SymPy (quick with a warm disk cache)."""
    from ..families import FAMILIES

    functions: list[str] = []
    numpy_names: set[str] = set()

    def printed(form) -> str:
        args, fn = form
        if fn is None:
            return f"({args!r}, None)"
        name = f"_f{len(functions)}"
        code = inspect.getsource(fn).replace("def _lambdifygenerated(", f"def {name}(", 1)
        numpy_names.update(n for n in fn.__code__.co_names if n not in args)
        functions.append(code.rstrip() + "\n")
        return f"({args!r}, {name})"

    def literal(value) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(literal(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {literal(v)}" for k, v in value.items()) + "}"
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple):
            return printed(value)
        return repr(value)

    entries = [f"    {name!r}: {_entry(ctor(), literal)}," for name, ctor in FAMILIES.items()]
    missing = sorted(n for n in numpy_names if not hasattr(np, n))
    if missing:
        raise ValueError(f"generated forms use names numpy lacks: {missing}")
    head = ('"""Generated by theory.engine.forms.source() from the built-in families\' declarations\n'
            "(SymPy's NumPy printer, as lambdify): do not edit; tests/test_twin.py regenerates it.\"\"\"\n\n"
            f"from numpy import {', '.join(sorted(numpy_names))}\n")
    return head + "\n\n" + "\n\n".join(functions) + "\n\nFORMS: dict[str, dict] = {\n" + "\n".join(entries) + "\n}\n"


def _entry(family, literal) -> str:
    """One family's generated entry: its tables as literals, its forms by function name."""
    vertices, labels, attainable = point_masses(family)
    out = {"args": dict(family.args), "names": list(family.names), "negative": list(family.negative),
           "conventional": list(family.conventional), "vertices": vertices.tolist(), "labels": labels,
           "attainable": attainable.tolist()}
    finite = family.sum_sampler is None
    if finite:
        phi, log_h, facets = level_tables(family)
        out |= {"levels": list(family.space.levels), "phi_levels": phi.tolist(), "log_h": log_h.tolist(),
                "facets": facets.tolist()}
    else:
        out["sum_sampler"] = [family.sum_sampler.__module__, family.sum_sampler.__name__]
    forms = Forms(family)
    for key in KEYS:
        if finite and key in INFINITE_ONLY:
            continue
        value = forms.get(key)
        if value is not None:
            out[key] = value
    return literal(out)
