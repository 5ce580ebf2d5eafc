"""The settings every check, figure and test runs a family at, declared by the family itself.

Each family module may define ``VALIDATION``: a tuple of dicts with ``init`` and ``truth``
(conventional or natural parameters, init far from truth so that anchors show) and
optionally ``args`` (family arguments) and ``fixed`` (natural parameters held fixed). A
new family with such a block is validated with no other file edited. This module sits
below both ``validate`` and ``plots``, which read the same cases.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

import numpy as np

from . import families as registry
from . import symbols as S
from .engine.loop import ClosedLoop
from .engine.model import numeric_family
from .family import Naturals
from .families import get_family
from .params import from_params


@dataclass(frozen=True)
class Case:
    """A family with the parameters its checks run at."""

    name: str
    args: tuple
    fixed: tuple
    init: tuple
    truth: tuple

    @functools.cached_property
    def family(self):
        return get_family(self.name, fixed=dict(self.fixed), **dict(self.args))

    @property
    def slug(self) -> str:
        return self.family.slug

    @functools.cached_property
    def theta0(self) -> dict[str, float]:
        return self.family.natural_point(dict(self.init))

    @functools.cached_property
    def theta_star(self) -> dict[str, float]:
        return self.family.natural_point(dict(self.truth))

    def loop(self, M, M0=0, estimator="mle", start=None, **kw) -> ClosedLoop:
        init = dict(start or self.init)
        return from_params(self.name, M, init, anchors=M0, truth=dict(self.truth),
                           estimator=estimator, fixed=dict(self.fixed), family_args=dict(self.args),
                           prior=dict(self.init), **kw)

    def values(self, **extra) -> dict:
        """Symbol values: θ at init, θ* at truth, μ0 and μ* (scalar names as in symbols.py)."""
        fam = self.family
        nf = numeric_family(fam)
        out = dict(self.theta0)
        out |= {S.starred(t).name: self.theta_star[t.name] for t in fam.theta}
        mu0 = nf.mu(np.array([[self.theta0[n] for n in fam.names]]))[0]
        mus = nf.mu(np.array([[self.theta_star[n] for n in fam.names]]))[0]
        for a, m in enumerate(fam.mu_symbols):
            out[S.zeroed(m).name], out[S.starred(m).name] = mu0[a], mus[a]
        return out | extra


def declared_cases() -> list[Case]:
    """Every family's ``VALIDATION`` block, in registry order."""
    out = []
    for name in registry.FAMILIES:
        module = importlib.import_module(f"theory.families.{name}")
        for c in getattr(module, "VALIDATION", ()):
            out.append(Case(name, tuple(c.get("args", {}).items()), tuple(c.get("fixed", {}).items()),
                            tuple(c["init"].items()), tuple(c["truth"].items())))
    return out


CASES = declared_cases()
BY_SLUG = {c.slug: c for c in CASES}


# the stationary law with one anchor (R7): its checks and its figure run here
M_STATIONARY, M0_STATIONARY, RELAXATIONS = 50, 1, 12


def support(loop: ClosedLoop):
    """Ends of the mean domain and the lattice step of φ̄ (0 for a continuous law)."""
    nf = loop.numeric
    if nf.finite:
        phi = nf.phi_levels[:, 0]
        return phi.min(), phi.max(), (phi[1] - phi[0]) / loop.M
    return 0.0, np.inf, 1.0 / loop.M if isinstance(loop.family.space, Naturals) else 0.0
