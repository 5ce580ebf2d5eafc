"""The numeric twin of a built-in family: what a simulation reads of it, without SymPy.

``closedloop simulate`` of a built-in family used to spend most of its start-up importing SymPy
and building the family, only to turn the derived closed forms into NumPy functions. Those
functions are derived once, from the declarations, and committed as generated code:
``theory/families/numeric_forms.py``, written by :func:`theory.engine.forms.source` with the code
``lambdify`` compiles on the SymPy path (so both paths give the same numbers); a test
regenerates it and compares the text, as for ``derivations/``. A :class:`FamilyTwin` stands for
the family in a simulation's :class:`~theory.setting.Setting` and in the engine: its name,
parameters, levels (finite spaces), absorbing states, the law of a sum of draws, and the
derived functions (θ(μ), the conventional parameters, the entropy, A, μ, χ, ...). Only a
built-in family at its default arguments, unrestricted, has a twin (:func:`twin_of`); any other
goes the SymPy way. Nothing is read from a file at run time: the forms are the package's code.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .family import Finite, point_from_params


@dataclass(frozen=True, eq=False)
class FamilyTwin:
    """A built-in family's numeric stand-in (see the module docstring); one per family (interned).

    ``forms``: the generated entry, name -> data (levels, φ and log h at the levels, facets,
    absorbing states) or (argument names, function) for each derived closed form.
    """

    name: str
    forms: Mapping
    args: Mapping[str, int] = field(default_factory=dict)
    fixed: Mapping[str, float] = field(default_factory=dict)

    @property
    def d(self) -> int:
        return len(self.names)

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        """Names of the natural parameters."""
        return tuple(self.forms["names"])

    @functools.cached_property
    def negative(self) -> tuple[str, ...]:
        return tuple(self.forms["negative"])

    @functools.cached_property
    def conventional(self) -> dict[str, None]:
        """The conventional parameters' names (their expressions are the family's)."""
        return dict.fromkeys(self.forms["conventional"])

    @functools.cached_property
    def space(self) -> Finite | None:
        """``Finite(levels)``, or None for an infinite space (its ends are SymPy numbers)."""
        levels = self.forms.get("levels")
        return None if levels is None else Finite(tuple(levels))

    @functools.cached_property
    def sum_sampler(self) -> Callable | None:
        """The declared law of a sum of draws (infinite spaces), from the family's module."""
        where = self.forms.get("sum_sampler")
        if where is None:
            return None
        module, name = where
        return getattr(importlib.import_module(module), name)

    @property
    def title(self) -> str:
        extra = dict(self.args) | dict(self.fixed)
        return self.name + (" (" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else "")

    @property
    def slug(self) -> str:
        return self.name

    def natural_point(self, params: Mapping[str, float]) -> dict[str, float]:
        """Natural parameters from natural or conventional names (as
        :meth:`~theory.family.ExponentialFamily.natural_point`, with the generated θ(c) and c(θ))."""
        return point_from_params(self, params, self.function_list("conventional_inverse"),
                                 self.function_map("conventional_theta") or {})

    def converts(self, params: Mapping) -> bool:
        """Whether :meth:`natural_point` reads ``params`` by the generated forms: natural names,
        or conventional ones among which the first d (θ(c) of another choice is solved by SymPy)."""
        given = tuple(n for n in self.conventional if n in params)
        return set(params) == set(self.names) or given[: self.d] == tuple(self.conventional)[: self.d]

    def function_list(self, key: str) -> list | None:
        """The generated functions ``key`` as (argument names, function) pairs, or None."""
        entries = self.forms.get(key)
        return None if entries is None else [tuple(e) for e in entries]

    def function_map(self, key: str) -> dict | None:
        entries = self.forms.get(key)
        return None if entries is None else {n: (None if e is None else tuple(e)) for n, e in entries.items()}


def twin_of(name, args: Mapping | None = None, fixed: Mapping | None = None) -> FamilyTwin | None:
    """The twin of the built-in family ``name`` with ``args``, or None: another family object, other
    arguments than the generated ones, parameters held fixed, or forms not generated."""
    if not isinstance(name, str) or fixed:
        return None
    try:
        key = tuple(sorted((k, int(v)) for k, v in dict(args or {}).items()))
    except (TypeError, ValueError, OverflowError):
        return None
    return _interned(name, key)


@functools.cache
def _interned(name: str, args: tuple) -> FamilyTwin | None:
    from .families.numeric_forms import FORMS

    forms = FORMS.get(name)
    if forms is None:
        return None
    defaults = dict(forms["args"])
    if any(k not in defaults or defaults[k] != v for k, v in args):
        return None
    return FamilyTwin(name, forms, args=defaults)


def level_tables(family) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """φ(s) (L, d) and log h(s) (L,) at the levels of a finite family, and the facets of the
    marginal polytope conv φ(S) as level masks (F, L), each face the intersection of its facets;
    a twin's are its generated tables (no SymPy)."""
    if isinstance(family, FamilyTwin):
        tables = family.forms
        return np.array(tables["phi_levels"]), np.array(tables["log_h"]), np.array(tables["facets"], bool)
    import sympy as sp

    from . import symbols as S

    lv = family.space.levels
    phi = np.array([[float(p.subs(S.s, v)) for p in family.phi] for v in lv])
    log_h = np.array([float(sp.log(family.h.subs(S.s, v))) for v in lv])
    return phi, log_h, _facets(phi)


def point_masses(family) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The absorbing point masses of a declared family: φ of the numeric ones (V, d), the labels
    of all (the numeric ones, then the curves of point masses: the Gaussian's var = 0), and
    whether each numeric one is attainable in finitely many generations (V,); a twin's are its
    generated tables (no SymPy)."""
    if isinstance(family, FamilyTwin):
        tables = family.forms
        return (np.array(tables["vertices"], float).reshape(-1, family.d), list(tables["labels"]),
                np.array(tables["attainable"], bool))
    import sympy as sp

    states = family.absorbing_states
    numeric = [all(sp.sympify(v).is_number for v in a.phi) for a in states]
    vertices = np.array([[float(v) for v in a.phi] for a, n in zip(states, numeric, strict=True) if n])
    labels = [a.label for a, n in zip(states, numeric, strict=True) if n] + \
        [a.label for a, n in zip(states, numeric, strict=True) if not n]
    attainable = np.array([a.attainable for a, n in zip(states, numeric, strict=True) if n], bool)
    return vertices.reshape(-1, family.d), labels, attainable


def _facets(points: np.ndarray) -> np.ndarray:
    if points.shape[1] == 1:
        x = points[:, 0]
        return np.array([x == x.min(), x == x.max()])
    from scipy.spatial import ConvexHull

    hull = ConvexHull(points)
    tol = 1e-9 * max(1.0, np.abs(points).max())
    masks = {tuple(np.abs(points @ eq[:-1] + eq[-1]) <= tol) for eq in hull.equations}
    return np.array(sorted(masks))
