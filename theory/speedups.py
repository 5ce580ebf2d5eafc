"""PLACEHOLDER until the speedups branch lands: the SymPy fast paths as one context."""

from .fastpoly import faster_polys as sympy_speedups  # noqa: F401
