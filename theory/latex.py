"""Derivations -> LaTeX: a fragment per result, a standalone document per family, an overview.

Fragments (``derivations/<family>/<id>.tex``) are meant for ``\\input`` into a paper:
no heading, one numbered ``equation`` per displayed step with a stable label
``eq:<result id>:<family slug>:<n>``, and only the notation macros of
``derivations/preamble.tex``. Every display is broken into lines that fit a
PRL column (8.6 cm): sums at their terms, products at their factors, fractions
as (1/denominator) times a broken numerator, functions around a broken
argument, matrices element by element. Widths are estimated from the LaTeX
string (Computer Modern at 10 pt), conservatively; the tests compile every
document at column width and fail on any overfull box.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import sympy as sp
from sympy.printing.latex import LatexPrinter

from . import symbols as S
from .derivation import Derivation, Step
from .family import ExponentialFamily, Finite, Interval, Levels, Naturals
from .speedups import powsimp, sympy_speedups

# Notation, defined once; \providecommand so that a paper's own definitions win.
NOTATION = r"""% notation of the closed-loop derivations (safe to \input in a paper's preamble)
\usepackage{amsmath,amssymb,mathtools,bm}
\providecommand{\E}{\mathbb{E}}
\providecommand{\Cov}{\operatorname{Cov}}
\providecommand{\Var}{\operatorname{Var}}
\providecommand{\KL}{D_{\mathrm{KL}}}
\providecommand{\phibar}{\bar\phi}
"""

PREAMBLE = NOTATION  # derivations/preamble.tex: what a paper needs to \input the fragments

# the standalone documents are typeset in the PRL geometry: 8.6 cm columns, 0.6 cm apart
LAYOUT = r"""\usepackage[utf8]{inputenc}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[a4paper,top=2cm,bottom=2cm]{geometry}
\setlength{\textwidth}{17.8cm}
\setlength{\columnsep}{0.6cm}
\setlength{\oddsidemargin}{\dimexpr(\paperwidth-\textwidth)/2-1in\relax}
\setlength{\evensidemargin}{\oddsidemargin}
\setlength{\emergencystretch}{3em}
\sloppy
"""

COLUMN_PT = 8.6 / 2.54 * 72.27  # 244.7 pt
WIDTH = 212.0  # pt of a display line (column minus the equation number and a margin)
MAX_LINES = 16  # a display needing more lines is not typeset (it is in `derive --json`)
SPLIT_LINES = 6  # a display of more lines is an align (breakable), else an equation with split
MAX_CHARS = 4000  # nor one whose LaTeX is longer than this (it would need more lines anyway)


# --- printing ------------------------------------------------------------------------------------
class _Printer(LatexPrinter):
    """SymPy's printer with the project's symbol names; B(a, b) and NaN printed as mathematics."""

    def _print_beta(self, e, exp=None):
        args = ", ".join(self._print(a) for a in e.args)
        return r"\operatorname{B}" + (f"^{{{exp}}}" if exp else "") + rf"\left({args}\right)"

    def _print(self, e, *args, **kwargs):
        if e is sp.nan:  # e.g. a Jacobian at a point outside the domain
            return r"\text{undefined}"
        return super()._print(e, *args, **kwargs)

    def _print_log(self, e, exp=None):
        """ln of a large perfect power as a multiple: ln(20^20) -> 20 ln 20, not the 27-digit integer."""
        arg = e.args[0]
        if arg.is_Integer and arg > 1000:
            power = sp.perfect_power(int(arg))
            if power:
                base, k = power
                tex = rf"{k} \ln {base}"
                return rf"\left({tex}\right)^{{{exp}}}" if exp else tex
        return super()._print_log(e, exp)


def expr(e) -> str:
    """LaTeX for a SymPy object or a raw LaTeX string, with the project's symbol names."""
    if isinstance(e, str):
        return e
    if isinstance(e, sp.Basic) and not isinstance(e, sp.MatrixBase):
        return _printed(e, len(S.LATEX))  # line breaking measures the same terms many times
    return _print_now(e)


@functools.lru_cache(maxsize=20000)
def _printed(e: sp.Basic, names: int) -> str:  # names: the symbol table only grows
    return _print_now(e)


def _print_now(e) -> str:
    return _Printer({"symbol_names": S.LATEX, "ln_notation": True, "mat_delim": "("}).doprint(e)


def _text(s: str) -> str:
    """Escape prose for LaTeX, leaving inline math ``$...$`` untouched."""
    parts = s.split("$")
    for i in range(0, len(parts), 2):  # even parts are outside math
        parts[i] = (parts[i].replace("_", r"\_").replace("^", r"\^{}")
                    .replace("#", r"\#").replace("&", r"\&"))
    return "$".join(parts)


_MACROS = ((r"\mathbb{E}", r"\E"), (r"\operatorname{Cov}", r"\Cov"), (r"\operatorname{Var}", r"\Var"),
           (r"D_{\mathrm{KL}}", r"\KL"))


def _macros(tex: str) -> str:
    """Spell the notation through the preamble's macros."""
    for a, b in _MACROS:
        tex = tex.replace(a, b)
    return tex


# --- width estimate ------------------------------------------------------------------------------
_CMD_W = {"quad": 10.0, "qquad": 20.0, ",": 1.7, ":": 2.2, ";": 2.8, "!": -1.7, " ": 3.3,
          "cdot": 7.8, "times": 12.2, "mid": 8.4, "sim": 13.4, "propto": 13.4, "to": 15.0,
          "le": 13.4, "ge": 13.4, "leq": 13.4, "geq": 13.4, "in": 12.2, "infty": 10.0,
          "partial": 5.8, "nabla": 8.4, "ldots": 13.4, "dots": 13.4, "cdots": 13.4, "|": 5.0,
          "{": 5.0, "}": 5.0, "_": 5.0, "%": 8.3, "&": 7.8, "#": 8.3, "colon": 2.8}
_ROMAN_FUNCS = {"log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "det", "tr", "ln", "max",
                "min", "sup", "inf", "arcsin", "arctan", "coth", "sech", "csch", "lim"}
_SIZED = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
          "big", "Big", "bigg", "Bigg", "middle"}
_ARG1 = {"text", "mathrm", "operatorname", "mathbb", "mathcal", "mathbf", "bm", "boldsymbol",
         "textrm", "texttt", "mathit", "bar", "hat", "tilde", "overline", "vec", "dot", "ddot",
         "mathsf", "textit", "textbf", "widehat", "widetilde"}
_IGNORE = {"displaystyle", "textstyle", "limits", "nolimits", "label", "begin", "end", "hfill",
           "nonumber", "notag", "phantom"}


def width(tex: str) -> float:
    """Estimated width in pt of inline/display math ``tex`` at 10 pt (conservative)."""
    w, _ = _group(tex, 0, 0, None)
    return w * 1.08


def _scale(style: int) -> float:
    return (1.0, 1.0, 0.72, 0.55)[min(style, 3)]


def _group(t: str, i: int, style: int, end: str | None) -> tuple[float, int]:
    """Width of ``t`` from ``i`` to the closing ``end`` (or the end of the string)."""
    total = 0.0
    n = len(t)
    while i < n:
        c = t[i]
        if end is not None and c == end:
            return total, i + 1
        if c == "{":
            w, i = _group(t, i + 1, style, "}")
        elif c in "^_":
            w, i = _atom(t, i + 1, style + 2 if style < 2 else style + 1)
        elif c == "\\":
            w, i = _command(t, i, style)
        else:
            w, i = _char(c, style), i + 1
        total += w
    return total, i


def _atom(t: str, i: int, style: int) -> tuple[float, int]:
    """One argument: a group, a command or a character."""
    while i < len(t) and t[i] == " ":
        i += 1
    if i >= len(t):
        return 0.0, i
    if t[i] == "{":
        return _group(t, i + 1, style, "}")
    if t[i] == "\\":
        return _command(t, i, style)
    return _char(t[i], style), i + 1


def _command(t: str, i: int, style: int) -> tuple[float, int]:
    m = re.match(r"\\([a-zA-Z]+|.)", t[i:])
    name = m.group(1)
    i += len(m.group(0))
    sc = _scale(style)
    if name == "frac" or name == "dfrac" or name == "tfrac" or name == "binom":
        inner = style + 1 if name != "dfrac" else style
        a, i = _atom(t, i, max(inner, 1) if style else 1)
        b, i = _atom(t, i, max(inner, 1) if style else 1)
        return max(a, b) + 2.4 * sc, i
    if name == "sqrt":
        a, i = _atom(t, i, style)
        return a + 10 * sc, i
    if name in _SIZED:
        d, i = _atom(t, i, style)  # the delimiter
        return (6.0 if name.lower().startswith(("big", "left", "right", "middle")) else 5.0) * sc, i
    if name in ("text", "textrm", "texttt", "textit", "textbf"):
        j = t.index("}", i) if "{" in t[i:i + 2] else i
        body = t[i + 1:j] if j > i else ""
        return 5.2 * len(body) * sc, j + 1
    if name in ("operatorname", "mathrm"):
        j = t.index("}", i)
        body = t[i + 1:j]
        return (5.6 * len(body) + (1.7 if name == "operatorname" else 0)) * sc, j + 1
    if name in _ARG1:
        a, i = _atom(t, i, style)
        return a * (1.35 if name in ("mathbb", "mathcal") else 1.0), i
    if name in _IGNORE:
        if name in ("label", "begin", "end"):
            j = t.index("}", i)
            return 0.0, j + 1
        return 0.0, i
    if name in _ROMAN_FUNCS:
        return (5.0 * len(name) + 1.7) * sc, i
    if name in _CMD_W:
        return _CMD_W[name] * sc, i
    if name == "\\":
        return 0.0, i
    return 7.0 * sc, i  # Greek letters and other symbols


def _char(c: str, style: int) -> float:
    sc = _scale(style)
    if c in "+-":
        return (12.2 if style < 2 else 7.8) * sc
    if c in "=<>":
        return (13.4 if style < 2 else 7.8) * sc
    if c.isdigit():
        return 5.0 * sc
    if c.isupper():
        return 8.0 * sc
    if c.isalpha():
        return 5.7 * sc
    if c in "()[]":
        return 3.9 * sc
    if c in ",;":
        return 4.5 * sc
    if c in ".'|!":
        return 2.8 * sc
    if c == "/":
        return 5.0 * sc
    if c in " &\n":
        return 0.0
    return 7.8 * sc


# --- line breaking -------------------------------------------------------------------------------
def lines(e, avail: float = WIDTH, first: float | None = None) -> list[str]:
    """``e`` (SymPy) as display lines: the first no wider than ``first`` pt, the others ``avail``."""
    first = avail if first is None else min(first, avail)
    tex = expr(e)
    if width(tex) <= first or not isinstance(e, sp.Basic):
        return [tex]
    if isinstance(e, sp.Add):
        return _add_lines(e, avail, first)
    if e.could_extract_minus_sign() and isinstance(e, sp.Mul):
        pos = -e
        out = (_wrapped("", pos, avail, first - 12.2, force=True) if isinstance(pos, sp.Add)
               else lines(pos, avail, first - 12.2))
        return ["- " + out[0]] + out[1:]
    if isinstance(e, sp.Mul):
        num, den = sp.fraction(e)
        if den != 1:
            return _fraction_lines(num, den, avail, first)
        return _product_lines(e.as_ordered_factors(), avail, first)
    if isinstance(e, sp.Pow):
        base, ex = e.args
        if ex.is_negative:
            return _fraction_lines(sp.Integer(1), base ** -ex, avail, first)
        if isinstance(base, sp.exp) or base == sp.E:
            return _wrapped(r"\exp", base.args[0] * ex if isinstance(base, sp.exp) else ex, avail, first)
        return _wrapped("", base, avail, first, sup=expr(ex))
    if isinstance(e, sp.exp):
        return _wrapped(r"\exp", e.args[0], avail, first)
    if isinstance(e, sp.log):
        return _wrapped(r"\ln", e.args[0], avail, first)
    if isinstance(e, sp.Sum) and len(e.limits) == 1:
        (k, lo, hi), = e.limits
        head = rf"\sum_{{{expr(k)}={expr(lo)}}}^{{{expr(hi)}}}"
        return _wrapped(head, e.function, avail, first, force=True)
    if isinstance(e, sp.Function) and len(e.args) == 1:
        name = expr(e.func(sp.Symbol("x")))
        head = name.replace(r"{\left(x \right)}", "").replace(r"\left(x \right)", "")
        return _wrapped(head, e.args[0], avail, first)
    return [tex]


def _pack(pieces, avail: float, first: float, joiner: str) -> list[str]:
    """Greedy packing of (tex, sympy-or-None, sign) pieces; a piece too wide is broken itself.

    ``joiner`` starts a continuation line between pieces (``\\times`` for factors, '' for terms).
    """
    out: list[str] = []
    cur = ""

    def room() -> float:
        return first if not out else avail

    for tex, obj, sign in pieces:
        piece = sign + tex
        if width(cur + " " + piece) <= room():
            cur = (cur + " " + piece).strip()
            continue
        lead = joiner if (cur or out) and not sign else ""
        if cur:
            out.append(cur)
            cur = ""
        if width(lead + piece) <= room():
            cur = lead + piece
            continue
        w_lead = width(lead + sign)
        sub = (_wrapped("", obj, avail - w_lead, room() - w_lead, force=True) if isinstance(obj, sp.Add)
               else lines(obj, avail - w_lead, room() - w_lead))
        sub[0] = lead + sign + sub[0]
        out += sub[:-1]
        cur = sub[-1]
    if cur:
        out.append(cur)
    return out


def _add_lines(e: sp.Add, avail: float, first: float) -> list[str]:
    pieces = []
    for n, term in enumerate(e.as_ordered_terms()):
        neg = term.could_extract_minus_sign()
        body = -term if neg else term
        tex = expr(body)
        if isinstance(body, sp.Add):
            tex = rf"\left({tex}\right)"
        pieces.append((tex, body, "- " if neg else ("" if n == 0 else "+ ")))
    return _pack(pieces, avail, first, "")


def _product_lines(factors, avail: float, first: float) -> list[str]:
    pieces = []
    for f in factors:
        tex = expr(f)
        if isinstance(f, sp.Add):
            tex = rf"\left({tex}\right)"
        pieces.append((tex, f, ""))
    return _pack(pieces, avail, first, r"\times ")


def _fraction_lines(num, den, avail: float, first: float) -> list[str]:
    den_tex = expr(den)
    if width(den_tex) <= avail - 30:
        coeff, rest = num.as_coeff_Mul() if isinstance(num, sp.Mul) else (sp.Integer(1), num)
        head = rf"\frac{{{expr(coeff)}}}{{{den_tex}}}"
        if rest == 1:
            return [head]
        return _wrapped(head, rest, avail, first, force=True)
    top = _wrapped("", num, avail, first, force=True, big="Bigg")
    bottom = _wrapped(r"\Big/", den, avail, avail, force=True, big="Bigg")
    return top + bottom


def _wrapped(head: str, arg, avail: float, first: float | None = None, sup: str = "",
             force: bool = False, big: str = "bigg") -> list[str]:
    """``head( arg )^sup`` with ``arg`` broken over lines inside big delimiters."""
    first = avail if first is None else first
    if head == r"\sqrt":
        head, sup = "", r"1/2"
    w_head = width(head) + 8
    w_tail = width(f"^{{{sup}}}") + 8 if sup else 8
    if first - w_head < 60:  # the head alone on the first line
        inner = lines(arg, avail - 8 - w_tail, avail - 8)
        left, right = {"bigg": (r"\biggl(", r"\biggr)"), "Bigg": (r"\Biggl[", r"\Biggr]")}[big]
        return [f"{head}{left}"] + inner[:-1] + [inner[-1] + right + (f"^{{{sup}}}" if sup else "")]
    inner = lines(arg, avail - 8 - w_tail, first - w_head)
    if len(inner) == 1 and not force:
        return [head + rf"\left({inner[0]}\right)" + (f"^{{{sup}}}" if sup else "")]
    left, right = {"bigg": (r"\biggl(", r"\biggr)"), "Bigg": (r"\Biggl[", r"\Biggr]")}[big]
    out = [f"{head}{left}{inner[0]}"] + inner[1:]
    out[-1] = out[-1] + right + (f"^{{{sup}}}" if sup else "")
    return out


def display_lines(lhs: str, rhs) -> list[str]:
    """``lhs = rhs`` as lines of a split (each line's alignment point at its left edge)."""
    lhs_tex = expr(lhs) if lhs is not None else ""
    if rhs is None:
        return [lhs_tex]
    first = lhs_tex + " = " if lhs_tex else ""
    w_first = width(first)
    if not isinstance(rhs, sp.Basic):
        return [first + expr(rhs)]
    rhs_w = width(expr(rhs))
    if w_first + rhs_w <= WIDTH:
        return [first + expr(rhs)]
    below = [first.rstrip()] if first else []
    if rhs_w <= WIDTH - 10:  # the right-hand side whole, on the next line
        return below + [r"\quad " + expr(rhs)]
    rest = lines(rhs, WIDTH - 10)
    if WIDTH - w_first >= 70:
        beside = lines(rhs, WIDTH - 10, WIDTH - w_first)
        if width(first + beside[0]) <= WIDTH and len(beside) <= len(rest):
            return [first + beside[0]] + [r"\quad " + x for x in beside[1:]]
    return below + [r"\quad " + x for x in rest]


# --- steps, fragments, documents -----------------------------------------------------------------
def _elements(lhs: str, m: sp.MatrixBase):
    """(lhs of one element, element) for a matrix shown element by element (upper triangle if symmetric)."""
    sym = m.is_square and m == m.T
    for a in range(m.rows):
        for b in range(m.cols):
            if sym and b < a:
                continue
            idx = f"{a + 1}" if m.cols == 1 else (f"{b + 1}" if m.rows == 1 else f"{a + 1}{b + 1}")
            yield rf"\bigl[{lhs}\bigr]_{{{idx}}}", m[a, b]


def _too_long(lhs_tex: str, tex: str) -> list[str]:
    """What is shown instead of an expression too long for a page: where to find it."""
    head = f"{lhs_tex} = " if lhs_tex else ""
    first = head + r"\text{(too long for a page:}"
    lead = [first] if width(first) <= WIDTH else [head.rstrip(), r"\quad\text{(too long for a page:}"]
    return lead + [r"\quad\text{this family's }\mu,\ \chi,\ \kappa\text{ in the}",
                   r"\quad\text{general form; in full}",
                   rf"\quad\text{{({len(tex)} characters) from}}",
                   r"\quad\text{\texttt{theory.result}.)}"]


def textbook(e):
    """The shortest of ``e``, its cancelled and its factored forms (display only; same value).

    A rational function printed with 10-digit coefficients, ``10737418240(λ+45)/(1073741824λ²+…)``,
    is shown as 10/(λ+10). Polynomial generators are sorted by name so the result does not depend
    on the hash seed. Large expressions are left as they are.
    """
    if not isinstance(e, sp.Expr) or e.has(sp.Sum) or e.is_Atom:
        return e
    return _textbook(e)


@functools.lru_cache(maxsize=4096)  # every family document shows the same generic displays
def _textbook(e: sp.Expr) -> sp.Expr:
    if sp.count_ops(e) > 120 or any(f.free_symbols for f in e.atoms(sp.Function)):
        return e  # e^θ, ln μ: no polynomial in the symbols themselves (factor would raise)
    gens = sorted(e.free_symbols, key=lambda x: x.name)
    best, best_len = e, len(expr(e))
    if best_len < 80:  # short forms are left as derived (μ(1 − μ), not −μ² + μ)
        return e
    for fn in (sp.factor, sp.cancel):
        try:
            alt = fn(e, *gens) if gens else fn(e)
        except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
            continue
        n = len(expr(alt))
        if n < 0.8 * best_len:
            best, best_len = alt, n
    return best


def hyperbolic_log(e, theta):
    """c·ln z with z rewritten through cosh where that is shorter (display only, same value):
    −Nθ + N ln(e^{2θ} + 1) is N ln(2 cosh θ). Checked at two points; else ``e`` as it is."""
    if not isinstance(e, sp.Expr) or e.has(sp.Sum):
        return e
    coeff, rest = sp.factor_terms(e).as_independent(*theta, as_Add=False)
    if not rest.has(sp.log):
        return e
    alt = coeff * sp.log(sp.simplify(sp.expand(powsimp(sp.exp(rest))).rewrite(sp.cosh)))
    if not alt.has(sp.cosh) or len(expr(alt)) >= len(expr(e)):
        return e
    for x in (sp.Rational(3, 10), sp.Rational(-7, 5)):
        point = {t: x + a for a, t in enumerate(theta)} | {v: 6 for v in e.free_symbols - set(theta)}
        try:
            if abs(complex((alt - e).subs(point))) > 1e-12:
                return e
        except TypeError:  # not a number there
            return e
    return alt


def _checked_lines(lhs_tex: str, rhs) -> list[str]:
    """``display_lines`` with a cap: a display of more than MAX_LINES lines is not typeset."""
    if isinstance(rhs, sp.Basic):
        rhs = textbook(rhs)
        tex = expr(rhs)
        if len(tex) > MAX_CHARS:
            return _too_long(lhs_tex, tex)
        out = display_lines(lhs_tex, rhs)
        return out if len(out) <= MAX_LINES else _too_long(lhs_tex, tex)
    return display_lines(lhs_tex, rhs)


def _equation_body(step: Step) -> list[str]:
    rhs, lhs = step.rhs, step.lhs
    rhs = sp.sympify(rhs) if isinstance(rhs, (int, float)) else rhs
    lhs = sp.sympify(lhs) if isinstance(lhs, (int, float)) else lhs
    numeric = rhs is None or (isinstance(rhs, sp.Basic) and not isinstance(rhs, sp.MatrixBase) and rhs.is_number) \
        or (isinstance(rhs, sp.MatrixBase) and all(x.is_number for x in rhs))
    if isinstance(lhs, (sp.Basic, sp.MatrixBase)) and numeric:  # an equation "expression = value"
        values = rhs if isinstance(rhs, sp.MatrixBase) else None
        pieces = list(lhs) if isinstance(lhs, sp.MatrixBase) else [lhs]
        out = []
        for n, el in enumerate(pieces):
            value = expr(values[n] if values is not None else (rhs if rhs is not None else ""))
            sub = _checked_lines("", el)
            sub[-1] += f" = {value}" if value else ""
            out += sub
        return out
    lhs_tex = expr(lhs) if lhs is not None else ""
    if isinstance(rhs, sp.MatrixBase) and (width(expr(rhs)) + width(lhs_tex) + 14 > WIDTH
                                           or any(r"\frac" in expr(x) for x in rhs)):
        out = []
        for elhs, el in _elements(lhs_tex or "\\cdot", rhs):
            out += _checked_lines(elhs, el)
        return out
    if isinstance(rhs, str) and width(lhs_tex + rhs) > WIDTH:
        return _raw_lines(lhs_tex, rhs)
    if lhs is not None and rhs is not None:
        return _checked_lines(lhs_tex, rhs)
    only = rhs if rhs is not None else lhs
    return _checked_lines("", only) if isinstance(only, sp.Basic) else _raw_lines("", only)


def _raw_lines(lhs: str, rhs: str) -> list[str]:
    """A raw LaTeX display (named laws, setting equations): broken at top-level ``,\\ `` and ``\\sim``."""
    text = f"{lhs} = {rhs}" if lhs else rhs
    parts = re.split(r"(?=\\sim)|(?<=,\\ )", text)
    out, cur = [], ""
    for p in parts:
        if cur and width(cur + p) > WIDTH:
            out.append(cur)
            cur = r"\quad " + p
        else:
            cur += p
    return out + [cur]


def render_step(step: Step, label: str | None = None) -> str:
    """One step: its sentence and, if it has one, a numbered equation labelled ``label``."""
    out = []
    if step.text:
        out.append(_macros(_text(step.text)))
    if step.rhs is not None or step.lhs is not None:
        body = _equation_body(step)
        tag = f"\\label{{{label}}}" if label else ""
        if len(body) == 1:
            eq = f"\\begin{{equation}}{tag}\n{body[0]}\n\\end{{equation}}"
        elif len(body) > SPLIT_LINES:  # long: align may break across columns and pages
            rows = [f"&{x} \\notag" for x in body[:-1]] + [f"&{body[-1]}{tag}"]
            eq = "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"
        else:
            inner = " \\\\\n".join("&" + x for x in body)
            eq = f"\\begin{{equation}}{tag}\n\\begin{{split}}\n{inner}\n\\end{{split}}\n\\end{{equation}}"
        out.append(_macros(eq))
    return "\n".join(out)


def label(d: Derivation, slug: str | None = None) -> str:
    """Label stem of a result: ``eq:R3.drift.mle:bernoulli``."""
    return f"eq:{d.id}:{slug or d.family}"


def heading(d: Derivation) -> str:
    """The heading a standalone document puts before a fragment (fragments have none)."""
    order = f" (error $O(M^{{-{d.order}}})$)" if d.order else ""
    return f"\\subsection*{{{_text(d.id)}: {_text(d.title)}{order}}}\n"


@sympy_speedups()
def render(d: Derivation, slug: str | None = None, family: ExponentialFamily | None = None) -> str:
    """One result as a LaTeX fragment for ``\\input``: numbered, labelled equations, no heading.

    Equation ``n`` (1, 2, ...) of the result is labelled ``eq:<id>:<slug>:<n>``. With the
    ``family`` of a finite space whose partition function has no closed form (Curie–Weiss),
    sums over the levels are shown as Z and level averages ⟨g⟩, defined at the end.
    """
    stem = label(d, slug)
    order = f"; error O(M^-{d.order})" if d.order else ""
    parts = [f"% {d.id} ({slug or d.family}): {d.title}{order}. Labels {stem}:1, :2, ...; "
             "notation from derivations/preamble.tex"]
    levels = LevelSums.of(family)
    n = 0
    for s in d.steps:
        has_eq = s.rhs is not None or s.lhs is not None
        n += has_eq
        if levels is not None:
            s = Step(s.text, levels.name(s.lhs), levels.name(s.rhs))
        parts.append(render_step(s, f"{stem}:{n}" if has_eq else None))
    if levels is not None and levels.used:
        parts.append(levels.definitions(f"{stem}:levels"))
    return "\n\n".join(parts) + "\n"


class LevelSums:
    """Display-only names for sums over the levels of a finite family (same values).

    Z = Σ_k w_k(θ) is the partition function, ⟨g⟩ = Z⁻¹ Σ_k g(k) w_k(θ) a level average,
    and a star marks both at θ*; g is written through φ_a(k) where it is a monomial in them.
    """

    def __init__(self, family: ExponentialFamily, total: sp.Sum):
        self.family = family
        (self.k, self.lo, self.hi), = total.limits
        self.w = total.function
        self.w_star = family.starred(self.w)
        self.theta = set(family.theta)
        self.theta_star = {S.starred(t) for t in family.theta}
        self.phi_k = [p.subs(S.s, self.k) for p in family.phi]
        self.Z = S.symbol("Z", "Z", positive=True)
        self.Z_star = S.symbol("Z_star", "Z^{*}", positive=True)
        self.used: set[str] = set()
        self._cache: dict = _sum_names(family)  # sum -> (name, what it uses), shared by the family

    @staticmethod
    def of(family: ExponentialFamily | None):
        if family is None or not isinstance(family.space, (Finite, Levels)):
            return None
        sums = list(family.A.atoms(sp.Sum))
        return LevelSums(family, sums[0]) if len(sums) == 1 and len(sums[0].limits) == 1 else None

    def name(self, e):
        if isinstance(e, sp.MatrixBase):
            return e.applyfunc(self.name)
        if not isinstance(e, sp.Basic) or not e.has(sp.Sum):
            return e
        return e.replace(lambda x: isinstance(x, sp.Sum), self._sum)

    def _sum(self, total: sp.Sum):
        if total not in self._cache:
            used, self.used = self.used, set()
            try:
                self._cache[total] = (self._name_sum(total), frozenset(self.used))
            finally:
                self.used = used
        out, uses = self._cache[total]
        self.used |= uses
        return out

    def _name_sum(self, total: sp.Sum):
        out = total
        if len(total.limits) == 1 and total.limits[0] == (self.k, self.lo, self.hi):
            for w, Z, own, star in ((self.w, self.Z, self.theta, False), (self.w_star, self.Z_star,
                                                                           self.theta_star, True)):
                g = sp.simplify(powsimp(total.function / w))
                if not (g.free_symbols & (self.theta | self.theta_star)):
                    self.used.add("Z_star" if star else "Z")
                    out = Z if g == 1 else Z * self._average(g, star)
                    break
        return out

    def _average(self, g, star: bool) -> sp.Symbol:
        self.used.add("avg_star" if star else "avg")
        shown = self._in_phi(g)
        name = f"avg[{sp.srepr(g)}]" + ("_star" if star else "")
        return S.symbol(name, rf"\langle {shown}\rangle" + ("^{*}" if star else ""), real=True)

    def _in_phi(self, g) -> str:
        """g(k) as a monomial in φ_a(k) (degree ≤ 3) where it is one, else as written in k."""
        d = len(self.phi_k)
        names = [r"\phi" if d == 1 else rf"\phi_{{{a + 1}}}" for a in range(d)]
        target = sp.expand(g)
        import itertools

        for deg in (1, 2, 3):
            for combo in itertools.combinations_with_replacement(range(d), deg):
                for sign in (1, -1):
                    cand = sign * sp.Mul(*(self.phi_k[a] for a in combo))
                    if sp.expand(target - cand) == 0:
                        parts = []
                        for a in sorted(set(combo)):
                            c = combo.count(a)
                            parts.append(names[a] + (f"^{{{c}}}" if c > 1 else ""))
                        return ("-" if sign < 0 else "") + " ".join(parts)
        return expr(g)

    def definitions(self, label_: str) -> str:
        """The sentence and display defining Z and ⟨·⟩ (only what the fragment used)."""
        k = expr(self.k)
        phis = ", ".join(rf"\phi_{{{a + 1}}}(k) = {expr(p)}" if len(self.phi_k) > 1
                         else rf"\phi(k) = {expr(p)}" for a, p in enumerate(self.phi_k))
        text = (rf"Here the sums run over the levels ${k} = {expr(self.lo)}, \dots, {expr(self.hi)}$, "
                rf"with ${phis}$: $Z$ is the partition function, "
                r"$\langle g\rangle = Z^{-1}\sum_k w_k\,g(k)$ the average over the levels"
                + (r", and a star marks both at $\theta^*$" if {"Z_star", "avg_star"} & self.used else "")
                + ":")
        body = [rf"Z = \sum_{{{k}={expr(self.lo)}}}^{{{expr(self.hi)}}} w_{k}, \qquad w_{k} ="]
        body += [r"\quad " + x for x in lines(self.w.subs(self.k, self.k), WIDTH - 10)]
        rows = [f"&{x} \\notag" for x in body[:-1]] + [f"&{body[-1]}\\label{{{label_}}}"]
        return _macros(text) + "\n\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"


@functools.cache
def _sum_names(family: ExponentialFamily) -> dict:
    """The names given to the sums of one family (every fragment of it sees the same sums)."""
    return {}


def space_latex(space) -> str:
    """The sample space as mathematics: {0, …, n}, ℕ, (−∞, ∞)."""
    if isinstance(space, Finite):
        lv = space.levels
        inner = ", ".join(str(v) for v in lv) if len(lv) <= 3 else f"{lv[0]}, {lv[1]}, \\dots, {lv[-1]}"
        return rf"\{{{inner}\}}"
    if isinstance(space, Levels):
        return rf"\{{0, 1, \dots, {expr(space.upper)}\}}"
    if isinstance(space, Naturals):
        return r"\mathbb{N} = \{0, 1, 2, \dots\}"
    if isinstance(space, Interval):
        if space.lower == -sp.oo and space.upper == sp.oo:
            return r"\mathbb{R}"
        return rf"({expr(space.lower)}, {expr(space.upper)})"
    return expr(sp.sympify(space))


def state_latex(state) -> str:
    """An absorbing state as mathematics: ``\\phi_1 = 10, \\phi_2 = 4.5``."""
    names = [r"\phi"] if len(state.phi) == 1 else [rf"\phi_{{{a + 1}}}" for a in range(len(state.phi))]
    return ", ".join(f"{n} = {expr(sp.nsimplify(v))}" for n, v in zip(names, state.phi, strict=True))


@sympy_speedups()
def family_header(f: ExponentialFamily, slug: str | None = None) -> str:
    """Declaration and derived cumulants of a family (a fragment, labels eq:family:<slug>:n)."""
    phis = ", ".join(expr(p) for p in f.phi)
    rows = [
        ("Sample space", f"$S = {space_latex(f.space)}$"),
        ("Sufficient statistics", rf"$\phi(s) = ({phis})$"),
        ("Base measure", f"$h(s) = {expr(f.h)}$"),
        ("Natural parameters", "$" + ", ".join(expr(t) for t in f.theta) + "$"),
    ]
    conv = [(c, e) for c, e in f.conventional.items() if not (isinstance(e, sp.Symbol) and e.name == c)]
    steps = [Step("Conventional parameters:" if n == 0 else "", _conv_name(c), e)
             for n, (c, e) in enumerate(conv)]
    steps += [
        Step(r"Log-partition $A = \log\sum_s h(s)\,e^{\theta\cdot\phi(s)}$:", "A(\\theta)",
             hyperbolic_log(f.A, f.theta)),
        Step(r"Mean map $\mu = \nabla A$ (expectation parameters):", r"\mu(\theta)", _scalar(f.mu)),
        Step(r"Fisher information $\chi = \nabla\nabla A = \operatorname{Cov}[\phi]$:", r"\chi(\theta)", _scalar(f.chi)),
    ]
    if f.d == 1:
        steps.append(Step(r"Third cumulant $\kappa = A'''$:", r"\kappa(\theta)", f.kappa[0, 0, 0]))
    if f.mu_inverse is not None:
        steps.append(Step("Inverse mean map:", r"\theta(\mu)", _scalar(sp.Matrix([f.mu_inverse[t] for t in f.theta]))))
    steps.append(Step("KL divergence to the truth:", r"D(f_\theta\|f_{\theta^*})", f.kl))
    table = "\n".join(f"\\item[{a}] {b}" for a, b in rows)
    stem = f"eq:family:{slug or f.slug}"
    levels = LevelSums.of(f)
    if levels is not None:
        steps = [Step(st.text, levels.name(st.lhs), levels.name(st.rhs)) for st in steps]
    eqs = "\n\n".join(render_step(s, f"{stem}:{n + 1}") for n, s in enumerate(steps))
    if levels is not None and levels.used:
        eqs += "\n\n" + levels.definitions(f"{stem}:levels")
    return f"\\begin{{description}}\n{table}\n\\end{{description}}\n{eqs}\n"


def family_title(f: ExponentialFamily) -> str:
    """``curie_weiss ($N = 10$, $\\theta_2 = 0$)``: the family's title, math in ``$``, for :func:`_text`."""
    # a size left symbolic is general (the formulas hold for every N): not a setting to state
    extra = [(k, v) for k, v in f.args.items() if not isinstance(v, sp.Symbol)] + list(f.fixed.items())
    name = f.name  # escaped by _text where it is printed
    if not extra:
        return name
    shown = []
    for k, v in extra:
        sym = S.LATEX.get(sp.Symbol(k, real=True)) or (rf"\theta_{{{k[5:]}}}" if k.startswith("theta") else k)
        shown.append(f"${sym} = {expr(sp.nsimplify(v))}$")
    return f"{name} ({', '.join(shown)})"


def _conv_name(name: str) -> str:
    """``p1`` -> p_1, ``var`` -> σ², ``rate`` -> r, as in the rest of the derivations."""
    from .family import _latex_name

    return _latex_name(name)


def _scalar(m):
    return m[0, 0] if isinstance(m, sp.MatrixBase) and m.shape == (1, 1) else m


def document(title: str, body: str) -> str:
    """A standalone document in the PRL two-column geometry (8.6 cm columns)."""
    return (f"\\documentclass[10pt,twocolumn]{{article}}\n{LAYOUT}\\input{{preamble}}\n\\allowdisplaybreaks\n"
            f"\\title{{{_text(title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n{body}\n"
            "\\end{document}\n")


def compile_pdf(tex: Path, runs: int = 1) -> str:
    """pdflatex -halt-on-error in the file's folder; raises with the log tail on failure.

    ``runs`` = 2 resolves cross-references (the demonstration's \\eqref). Returns the log
    text of the last run (the tests look for overfull boxes in it).
    """
    for _ in range(runs - 1):
        _pdflatex(tex)
    return _pdflatex(tex)


def _pdflatex(tex: Path) -> str:
    if shutil.which("pdflatex") is None:
        raise FileNotFoundError("pdflatex not found")
    # a fixed date makes the PDF bytes reproducible
    env = os.environ | {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tex.parent, capture_output=True, text=True, timeout=300, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"pdflatex failed on {tex}:\n" + run.stdout[-3000:])
    log = tex.with_suffix(".log")
    return log.read_text(errors="replace") if log.exists() else run.stdout


def overfull(log: str) -> list[str]:
    """The 'Overfull \\hbox' lines of a pdflatex log."""
    return [ln for ln in log.splitlines() if ln.startswith("Overfull \\hbox")]


CODE_LIKE = ("**", "oo", "mu_star", "NaN", "phi1=", "Sum(")


def code_like(tex: str) -> list[str]:
    """Code syntax in a .tex file outside commands and math-mode names: ``**``, ``oo``, ``mu_star``, ...

    ``oo`` is looked for as a word (``\\infty`` is the mathematics); comments are skipped.
    """
    hits = []
    for ln in tex.splitlines():
        body = re.sub(r"(?<!\\)%.*", "", ln)
        for pat in CODE_LIKE:
            found = re.search(r"(?<![A-Za-z])oo(?![A-Za-z])", body) if pat == "oo" else (pat in body)
            if found:
                hits.append(f"{pat!r} in: {ln.strip()[:120]}")
    return hits
