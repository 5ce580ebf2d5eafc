"""Expressions as LaTeX: the printer, the width estimate and line breaking, and a result's steps.

A display is broken into lines that fit a PRL column (8.6 cm): sums at their terms,
products at their factors, fractions as (1/denominator) times a broken numerator,
functions around a broken argument, matrices element by element. Widths are estimated
from the LaTeX string (Computer Modern at 10 pt), conservatively; the tests compile every
document at column width and fail on any overfull box.

:func:`render` turns a :class:`~theory.derivation.Derivation` into a fragment for
``\\input``: no heading, one numbered ``equation`` per displayed step with a stable
label ``eq:<result id>:<family slug>:<n>``, and only the notation macros of
:data:`PREAMBLE`. Whole documents are assembled in :mod:`theory.documents`.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from . import symbols as S
from .speedups import powsimp

# Notation, defined once. The macros are namespaced (\cl...) and made with \newcommand: a paper's
# own \E or \Var is never taken over, and a clash stops LaTeX with "Command \clE already
# defined" instead of passing silently. A paper that wants its \E: \renewcommand{\clE}{\E}.
NOTATION = r"""% notation of the closed-loop derivations (safe to \input in a paper's preamble)
% the macros are namespaced: a paper's own \E, \Var, ... are left alone
\usepackage{amsmath,amssymb,mathtools,bm}
\newcommand{\clE}{\mathbb{E}}
\newcommand{\clCov}{\operatorname{Cov}}
\newcommand{\clVar}{\operatorname{Var}}
\newcommand{\clKL}{D_{\mathrm{KL}}}
"""

PREAMBLE = NOTATION  # derivations/preamble.tex: what a paper needs to \input the fragments

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
        return _printed(e, S.latex_revision())  # line breaking measures the same terms many times
    return _print_now(e)


@functools.lru_cache(maxsize=20000)
def _printed(e: sp.Basic, names: int) -> str:  # names: the symbol table's revision
    return _print_now(e)


def _print_now(e) -> str:
    return _Printer({"symbol_names": S.LATEX, "ln_notation": True, "mat_delim": "("}).doprint(e)


class _PositiveFirst(_Printer):
    """The project's printer with each sum's positive terms first, a number after the symbols of
    its sign: n - d - 1 and 1 - x, not -d + n - 1 and -x + 1."""

    def _as_ordered_terms(self, e, order=None):
        terms = super()._as_ordered_terms(e, order)
        return sorted(terms, key=lambda x: (x.could_extract_minus_sign(), bool(x.is_number)))


def positive_first(e) -> str:
    """LaTeX of ``e`` (as :func:`expr`) with every sum written from its positive terms
    (n - d - 1, 1 - x), as a textbook writes it; for a display that is not broken over lines."""
    return _PositiveFirst({"symbol_names": S.LATEX, "ln_notation": True, "mat_delim": "("}).doprint(e)


def text(s: str) -> str:
    """Escape prose for LaTeX, leaving inline math ``$...$`` untouched."""
    parts = s.split("$")
    for i in range(0, len(parts), 2):  # even parts are outside math
        parts[i] = (parts[i].replace("_", r"\_").replace("^", r"\^{}")
                    .replace("#", r"\#").replace("&", r"\&"))
    return "$".join(parts)


# Variables of the closed loop that prose may name bare ("for every M", "finite-M", "(p)"): set
# in italics, as in the displays. Single letters that are English words (a, A, I) are not here.
PROSE_VARIABLES = "MNmntdkpquT"
_VARIABLE = re.compile(rf"(?<![\w\\'’.])([{PROSE_VARIABLES}])(?![\w'’(]|\.[A-Za-z])")
_ANCHORS = re.compile(r"(?<![\w\\])M(?:\\?_0|0)(?!\w)")
_ORDER = re.compile(r"(?<![\w\\])O\(([\w/^+\- ⁻¹²³⁴]*)\)")
_SUPERSCRIPT = str.maketrans({"⁻": "-", "¹": "1", "²": "2", "³": "3", "⁴": "4"})
_COMMAND = re.compile(r"(\\[A-Za-z]+(?:\{[^{}]*\})*)")


def prose(s: str) -> str:
    """A sentence of a derivation for LaTeX: :func:`text`, with the variables it names bare set
    as mathematics (``M`` -> ``$M$``, ``M_0`` -> ``$M_0$``, ``O(M^-2)`` -> ``$O(M^{-2})$``), so
    no variable is roman in running text."""
    parts = s.split("$")
    for i in range(0, len(parts), 2):  # outside math
        pieces = _COMMAND.split(parts[i])
        for j in range(0, len(pieces), 2):  # outside \commands{...}
            x = _ORDER.sub(lambda m: "$O(" + _exponents(m.group(1)) + ")$", pieces[j])
            x = _ANCHORS.sub("$M_0$", x)
            pieces[j] = "$".join(y if k % 2 else _VARIABLE.sub(r"$\1$", y)
                                 for k, y in enumerate(x.split("$")))
        parts[i] = "".join(pieces)
    return text("$".join(parts)).replace("$$", "")


def _exponents(x: str) -> str:
    """``M^-2`` and ``M⁻²`` as ``M^{-2}``."""
    x = re.sub("[⁻¹²³⁴]+", lambda m: "^" + m.group(0).translate(_SUPERSCRIPT), x)
    return re.sub(r"\^(-?\w+)", r"^{\1}", x).replace(" ", "")


_MACROS = ((r"\mathbb{E}", r"\clE"), (r"\operatorname{Cov}", r"\clCov"), (r"\operatorname{Var}", r"\clVar"),
           (r"D_{\mathrm{KL}}", r"\clKL"))


def macros(tex: str) -> str:
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
                   rf"\quad\text{{({len(tex)} characters) in the}}",
                   r"\quad\text{Python API and the JSON output.)}"]


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


def _equation_body(step) -> list[str]:
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
    if isinstance(rhs, sp.MatrixBase) and width(expr(rhs)) + width(lhs_tex) + 14 > WIDTH:
        # a matrix too wide for the column: element by element, the zeros together on one line
        out, zeros = [], []
        for elhs, el in _elements(lhs_tex or "\\cdot", rhs):
            if el == 0:
                zeros.append(elhs)
            else:
                out += _checked_lines(elhs, el)
        if zeros:
            together = " = ".join(zeros) + " = 0"
            out.append(together if width(together) <= WIDTH else r"\text{all other elements} = 0")
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


def render_step(step, label: str | None = None) -> str:
    """One step: its sentence and, if it has one, a numbered equation labelled ``label``."""
    out = []
    if step.text:
        out.append(macros(prose(step.text)))
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
        out.append(macros(eq))
    return "\n".join(out)


# Symbols a fragment may use without defining them: each fragment ends with the definitions of
# those it uses (self-contained when pasted alone). (LaTeX token pattern, definition.)
GLOSSARY = (
    (r"M_0", r"$M_0$ of the $M$ points of a generation are anchors drawn from the truth $f(\cdot|\theta^*)$"),
    (r"(?<![\\A-Za-z])m(?![A-Za-z])", r"$m$ external points join the $M$ model points in each refit"),
    (r"(?<![\\A-Za-z])u(?![A-Za-z])", r"$u=1$ for MAP with the prior $p_0$ (once per generation), $u=0$ for maximum likelihood"),
    (r"(?<![\\A-Za-z])g(?![A-Za-z])", r"$g=\nabla\ln p_0$"),
    (r"\\mu\^\{?q\}?", r"$\mu^{q}=\mathbb{E}_q[\phi]$, the mean of $\phi$ under the law $q$ of the external points"),
    (r"\\rho(?![A-Za-z])", r"$\rho=M_0/M$"),
    (r"\\nu(?![A-Za-z])", r"$\nu$ the pseudo-observations of the conjugate MAP prior"),
    # λ is also R10's eigenvalue (L q = λ q, then λ = −1): a fragment stating it defines it
    (r"\\lambda(?![A-Za-z])", r"$\lambda$ the strength of the $L_2$ penalty",
     r"\\lambda\s*=|=\s*\\lambda\s*q"),
)
_MATH = re.compile(r"\$[^$]*\$|\\begin\{(equation|align)\}.*?\\end\{\1\}", re.DOTALL)


def glossary(tex: str) -> str:
    """"Here ..." defining the :data:`GLOSSARY` symbols the fragment ``tex`` uses in mathematics
    but does not define itself (``g=\\nabla...`` in its own text), or "" when there are none."""
    body = re.sub(r"(?<!\\)%.*", "", tex)
    math = " ".join(m.group(0) for m in _MATH.finditer(body))
    used = [entry[1] for entry in GLOSSARY if re.search(entry[0], math)
            and not re.search(entry[2] if len(entry) > 2 else entry[0] + r"\s*=\s*\\", math)]
    return "Here " + "; ".join(used) + "." if used else ""


def label(d, slug: str | None = None) -> str:
    """Label stem of a result: ``eq:R3.drift.mle:bernoulli``."""
    return f"eq:{d.id}:{slug or d.family}"


def heading(d) -> str:
    """The heading a standalone document puts before a fragment (fragments have none)."""
    order = f" (error $O(M^{{-{d.order}}})$)" if d.order else ""
    return f"\\subsection*{{{text(d.id)}: {prose(d.title)}{order}}}\n"


def render(d, slug: str | None = None, levels=None, define: bool = True) -> str:
    """One result (a :class:`~theory.derivation.Derivation`) as a LaTeX fragment for ``\\input``:
    numbered, labelled equations, no heading.

    Equation ``n`` (1, 2, ...) of the result is labelled ``eq:<id>:<slug>:<n>``. ``levels``
    (:class:`theory.documents.LevelSums`) names the sums over a finite family's levels (Z and
    level averages ⟨g⟩, defined at the end of the fragment). ``define``: end with the
    :data:`GLOSSARY` definitions of the closed loop's symbols it uses (not for the model classes,
    whose m, g, ρ, ν mean other things and are defined in their own text).
    """
    stem = label(d, slug)
    order = f"; error O(M^-{d.order})" if d.order else ""
    parts = [f"% {d.id} ({slug or d.family}): {d.title}{order}. Labels {stem}:1, :2, ...; "
             "notation from derivations/preamble.tex"]
    n = 0
    for s in d.steps:
        has_eq = s.rhs is not None or s.lhs is not None
        n += has_eq
        if levels is not None:
            s = dataclasses.replace(s, lhs=levels.name(s.lhs), rhs=levels.name(s.rhs))
        parts.append(render_step(s, f"{stem}:{n}" if has_eq else None))
    if levels is not None and levels.used:
        parts.append(levels.definitions(f"{stem}:levels"))
    where = glossary("\n".join(parts)) if define else ""
    if where:
        parts.append(macros(where))
    return "\n\n".join(parts) + "\n"



def state_latex(state) -> str:
    """An absorbing state as mathematics: ``\\phi_1 = 10, \\phi_2 = 4.5``."""
    names = [r"\phi"] if len(state.phi) == 1 else [rf"\phi_{{{a + 1}}}" for a in range(len(state.phi))]
    return ", ".join(f"{n} = {expr(sp.nsimplify(v))}" for n, v in zip(names, state.phi, strict=True))



CODE_LIKE = ("**", "oo", "mu_star", "NaN", "phi1=", "Sum(")
_PROSE_LEAKS = ((re.compile(r"M\\_0"), "M_0 printed literally"),
                (re.compile(r"\\texttt\{"), "typewriter (code) in a fragment"),
                (re.compile(r"\w\(s\)|\b[a-z]+:[a-z]+="), "command-line spelling in prose"),
                (re.compile(r"\\providecommand"), "a macro that silently yields to a paper's own"),
                (_VARIABLE, "a variable in roman type outside mathematics"))


def prose_leaks(tex: str) -> list[str]:
    """What a paper's copy editor would reject in a fragment's running text (outside ``$...$``,
    displays and comments): ``M\\_0`` printed literally, ``\\texttt{``, ``\\providecommand``,
    command-line spellings (``point(s)``, ``normal:var=2``), and a variable of :data:`PROSE_VARIABLES` standing alone in roman type (``for every M``)."""
    body = re.sub(r"\\begin\{(equation|align)\}.*?\\end\{\1\}", " ", tex, flags=re.DOTALL)
    hits = []
    for ln in body.splitlines():
        ln = re.sub(r"(?<!\\)%.*", "", ln)
        outside = " ".join(re.split(r"(?<!\\)\$", ln)[0::2])
        words = _COMMAND.sub(lambda m: m.group(0) if m.group(0).startswith("\\texttt")
                             or m.group(0).startswith("\\providecommand") else " ", outside)
        for pattern, why in _PROSE_LEAKS:
            if pattern.search(words):
                hits.append(f"{why}: {ln.strip()[:120]}")
    return hits


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
