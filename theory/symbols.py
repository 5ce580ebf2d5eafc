"""Shared SymPy symbols and their LaTeX names.

Every symbol the derivations use is made here through :func:`symbol`, which
records its LaTeX name in :data:`LATEX`, the one table ``latex.py`` prints with.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

# The symbols every derivation shares, made on first use (module ``__getattr__``): importing this
# module, as the engine does, loads no SymPy (theory.lazy). name -> (LaTeX, assumptions).
BASE = {
    "s": ("s", {"real": True}),  # one data point
    "k": ("k", {"integer": True, "nonnegative": True}),  # a level of a finite sample space
    "M": ("M", {"positive": True}),  # points per generation
    "M0": ("M_0", {"nonnegative": True}),  # anchor points per generation
    "nu": (r"\nu", {"positive": True}),  # MAP pseudo-observations
    "lam": (r"\lambda", {"positive": True}),  # L2 strength
    "t": ("t", {"integer": True, "nonnegative": True}),  # generation
    "epsilon": (r"\epsilon", {"positive": True}),  # bookkeeping 1/M for series
    "m": ("m", {"positive": True}),  # external points per generation (symbolic derivations)
}
ALIASES = {"eps": "epsilon"}  # module attribute -> symbol name
_table: dict[sp.Symbol, str] = {}
_respelled = 0  # entries given another spelling (latex_revision)


def _latex_table() -> dict[sp.Symbol, str]:
    """Every symbol made so far -> its LaTeX name, the shared ones first made."""
    if not _table:
        for name, (latex, assumptions) in BASE.items():
            _table[sp.Symbol(name, **assumptions)] = latex
    return _table


def __getattr__(name: str):
    """``LATEX`` and the shared symbols (``s``, ``M0``, ``eps``, ...), made on first use."""
    if name == "LATEX":
        return _latex_table()
    if name in BASE or name in ALIASES:
        sym = next(x for x in _latex_table() if x.name == ALIASES.get(name, name))
        globals()[name] = sym
        return sym
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def symbol(name: str, latex: str, **assumptions) -> sp.Symbol:
    """A SymPy symbol registered with its LaTeX spelling."""
    global _respelled
    sym = sp.Symbol(name, **assumptions)
    table = _latex_table()
    if sym in table and table[sym] != latex:
        _respelled += 1
    table[sym] = latex
    return sym


def latex_revision() -> int:
    """A number that changes whenever the LaTeX table does: entries are only ever added or
    respelled (what is printed with the table can be kept under it)."""
    return len(_latex_table()) + _respelled


def get(name: str) -> sp.Symbol:
    """The project's symbol called ``name`` (``"theta"``, ``"M0"``, ``"theta1_star"``, ``"mu"``).

    SymPy symbols are equal only with equal assumptions: ``sp.Symbol("theta")`` is not the
    project's ``theta`` (real=True), which is why ``expr.subs({"theta": 0.3})`` does nothing.
    The families' parameters θ, μ, χ, κ (``theta2``, ``mu``, ``mu1``, ``chi12``, with ``_star``
    for the truth) exist before any family made them; ``M_0``, ``theta_1`` are read as ``M0``,
    ``theta1``. KeyError naming the closest known names otherwise.
    """
    for spelling in (name, re.sub(r"^([A-Za-z]+)_(\d+)", r"\1\2", name)):  # M_0 -> M0, theta_1 -> theta1
        for sym in _latex_table():
            if sym.name == spelling:
                return sym
    name = spelling
    base = name.removesuffix("_star")
    match = re.fullmatch(r"(theta|mu|chi|kappa)(\d*)", base)
    if match:  # families create these lazily: the same symbol they will make
        head, index = match.groups()
        sym = symbol(base, PARAMETER_LATEX[head] + (f"_{{{index}}}" if index else ""), real=True)
        return starred(sym) if name.endswith("_star") else sym
    known = sorted({s.name for s in _latex_table()} | {"theta", "theta1", "mu", "mu1", "chi", "kappa"})
    near = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" (did you mean {' or '.join(near)}?)" if near else ""
    raise KeyError(f"no symbol named {name!r}{hint}; known: {', '.join(known)}, and indexed "
                   "theta2, mu2, chi12, ... with _star for the truth")


PARAMETER_LATEX = {"theta": r"\theta", "mu": r"\mu", "chi": r"\chi", "kappa": r"\kappa"}


def known(name: str) -> bool:
    """Whether :func:`get` knows ``name``, without making a symbol (no entry in :data:`LATEX`)."""
    names = {s.name for s in _latex_table()}
    return any(spelling in names or re.fullmatch(r"(theta|mu|chi|kappa)\d*(_star)?", spelling)
               for spelling in (name, re.sub(r"^([A-Za-z]+)_(\d+)", r"\1\2", name)))


def indexed(base: str, latex: str, d: int, suffix: str = "", latex_suffix: str = "", **assumptions):
    if d == 1:
        return (symbol(base + suffix, latex + latex_suffix, **assumptions),)
    return tuple(
        symbol(f"{base}{a}{suffix}", f"{latex}_{{{a}}}{latex_suffix}", **assumptions)
        for a in range(1, d + 1)
    )


def thetas(d: int) -> tuple[sp.Symbol, ...]:
    """Natural parameters: ``theta`` when d = 1, else ``theta1..thetad``."""
    return indexed("theta", r"\theta", d, real=True)


def theta_names(names: tuple[str, ...]) -> tuple[sp.Symbol, ...]:
    """Natural-parameter symbols with given names (``theta1`` -> θ_1)."""
    out = []
    for name in names:
        idx = name.removeprefix("theta")
        out.append(symbol(name, r"\theta" + (f"_{{{idx}}}" if idx else ""), real=True))
    return tuple(out)


def starred(sym: sp.Symbol) -> sp.Symbol:
    """The ground-truth copy of a symbol: ``theta1`` -> ``theta1_star`` (θ_1^*)."""
    return symbol(sym.name + "_star", _latex_table().get(sym, sym.name) + "^{*}", **sym.assumptions0)


def zeroed(sym: sp.Symbol) -> sp.Symbol:
    """The prior/initial copy of a symbol: ``mu1`` -> ``mu1_0`` (μ_{1,0})."""
    return symbol(sym.name + "_0", "{" + _latex_table().get(sym, sym.name) + "}^{(0)}", **sym.assumptions0)


def mus(d: int) -> tuple[sp.Symbol, ...]:
    """Expectation parameters (sufficient-statistic averages) μ_a."""
    return indexed("mu", r"\mu", d, real=True)


def placeholders(d: int):
    """Abstract μ_a, μ*_a, χ_ab, χ*_ab, κ_abc: the generic results are derived in these."""
    mu = sp.Matrix(indexed("mu", r"\mu", d, real=True))
    mu_star = mu.applyfunc(starred)
    sub = (lambda *i: "".join(map(str, i))) if d > 1 else (lambda *i: "")

    def sym(base, latex, *i):
        idx = sub(*i)
        return symbol(base + idx, latex + (f"_{{{idx}}}" if idx else ""), real=True)

    chi = sp.Matrix(d, d, lambda a, b: sym("chi", r"\chi", *sorted((a + 1, b + 1))))
    chi_star = chi.applyfunc(starred)
    kappa = sp.MutableDenseNDimArray.zeros(d, d, d)
    for a in range(d):
        for b in range(d):
            for c in range(d):
                kappa[a, b, c] = sym("kappa", r"\kappa", *sorted((a + 1, b + 1, c + 1)))
    return mu, mu_star, chi, chi_star, sp.ImmutableDenseNDimArray(kappa)


def inverse_fisher(d: int) -> sp.Matrix:
    """Abstract elements χ^{ab} of χ⁻¹ (symmetric), for results written through the inverse Fisher
    information instead of expanded (d ≥ 2: χ^{11} = χ_22/det χ, ...)."""
    return sp.Matrix(d, d, lambda a, b: symbol("chiinv" + "".join(map(str, sorted((a + 1, b + 1)))),
                                               r"\chi^{" + "".join(map(str, sorted((a + 1, b + 1)))) + "}",
                                               real=True))
