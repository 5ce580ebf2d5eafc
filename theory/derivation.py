"""What a result is: named steps (rendered as LaTeX) and named final forms (checked numerically)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

from . import notation, numeric


@dataclass(frozen=True)
class Step:
    """One displayed equation ``lhs = rhs`` with the sentence that justifies it.

    ``lhs`` and ``rhs`` are SymPy objects, or raw LaTeX strings for notation SymPy
    has no object for (conditional expectations, ...). ``rhs=None`` shows text only.
    """

    text: str
    lhs: sp.Basic | str | None = None
    rhs: sp.Basic | str | None = None


@dataclass(frozen=True)
class Derivation:
    """A result ``id`` (``R3.drift``) for one family: its steps and its final forms.

    ``order``: for an asymptotic result, the error is O(M^-order).
    """

    id: str
    family: str
    title: str
    steps: tuple[Step, ...]
    result: Mapping[str, sp.Basic] = field(default_factory=dict)
    order: int | None = None

    def __getitem__(self, key: str):
        """A final form by its key: ``d["drift"]``; a one-parameter result stored as a 1×1
        matrix is given as its element (a scalar is a scalar)."""
        if key not in self.result:
            raise KeyError(f"{self.id} has no result {key!r}; known: {', '.join(self.result)}")
        return numeric.scalar(self.result[key])

    def keys(self):
        """The keys of the final forms (``"drift"``, ``"cov"``, ...)."""
        return self.result.keys()

    @property
    def symbols(self) -> dict[str, tuple[str, ...]]:
        """What each final form depends on: key -> the names of its free symbols, sorted
        (``{"drift": ("M", "M0", "theta", "theta_star"), ...}``): the values
        :func:`theory.evaluate` needs for it."""
        return {k: tuple(sorted(numeric.free_names(v))) for k, v in self.result.items()}

    def evaluate(self, values=None, **kw):
        """Numbers of the final forms at values given by name (``theta=0.3, M=100``), skipping
        those with symbols left free (see :func:`theory.evaluate` for conventional parameters)."""
        return numeric.values(self.result, dict(values or {}) | kw)

    def latex(self) -> str:
        """The result as a LaTeX fragment for ``\\input`` (numbered, labelled equations)."""
        return notation.render(self)

    def _repr_latex_(self) -> str:
        """Jupyter display: the displayed equations of the steps, one per line (MathJax)."""
        rows = [rf"&\textbf{{{self.id}}}\ \text{{({self.family}): {_plain(self.title)}}}"]
        for st in self.steps:
            if st.lhs is None and st.rhs is None:
                continue
            lhs = notation.expr(st.lhs) if st.lhs is not None else ""
            rhs = notation.expr(st.rhs) if st.rhs is not None else ""
            rows.append("&" + (f"{lhs} = {rhs}" if lhs and rhs else lhs or rhs))
        return "$$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$$"


def _plain(text: str) -> str:
    return text.replace("$", "").replace("_", r"\_").replace("{", "").replace("}", "")
