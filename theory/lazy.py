"""A module imported on first use: ``sympy`` here is SymPy, loaded when an attribute is first read.

The command line's numeric paths (``closedloop simulate`` of a built-in family from its
generated numeric forms, ``--help``) import the declaration and engine modules without
needing SymPy, whose import is most of their start-up; those modules read SymPy through this
handle. Nothing is loaded or changed by importing this module.
"""

from __future__ import annotations

import importlib
import sys


class OnDemand:
    """Stands for the module ``name``: the first attribute read imports it; each attribute read
    is then kept here (a module's public names are not rebound: ``theory.speedups`` rebinds
    SymPy's internals, never the ``sympy`` namespace)."""

    def __init__(self, name: str):
        self.__dict__["_module_name"] = name

    def __getattr__(self, attr: str):
        value = getattr(importlib.import_module(self.__dict__["_module_name"]), attr)
        self.__dict__[attr] = value
        return value

    def __repr__(self) -> str:
        return f"<{self.__dict__['_module_name']}, imported on first use>"


sympy = OnDemand("sympy")


def is_sympy(value, kind: str = "Basic") -> bool:
    """Whether ``value`` is a SymPy object of class ``kind``, without importing SymPy: if it was
    never imported, nothing is a SymPy object."""
    return "sympy" in sys.modules and isinstance(value, getattr(sympy, kind))
