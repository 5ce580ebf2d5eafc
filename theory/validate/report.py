"""Validation reports: a terminal table, JSON, Markdown and a LaTeX table that compiles.

The files carry no timings, so the same seed and budget give byte-identical reports.
"""

from __future__ import annotations

import re

from pathlib import Path

import numpy as np

from ..io import write_text_atomic
from ..documents import compile_pdf
from ..notation import PREAMBLE
from ..stats import FAMILY_WISE_ALPHA
from .checks import NOT_CHECKED
from .registry import Budget, Result


def _fmt(x, digits=5) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def _row(r: Result) -> list[str]:
    o = r.outcome
    if o is None:
        return [r.check.id, r.check.family, r.check.quantity, "-", "-", "-", "-", "ERROR: " + r.error]
    est = _fmt(o.estimate) + (f" ± {_fmt(o.sem, 2)}" if o.sem and np.isfinite(o.sem) else "")
    z = _fmt(o.z, 3) if o.z is not None else "-"
    cz = _fmt(o.control_z, 3) if o.control_z is not None else ("rejected" if r.control_rejected
                                                               else "accepted")
    return [r.check.id, r.check.family, r.check.quantity, _fmt(o.prediction), est, z,
            f"{cz} ({o.control})", r.verdict]


HEADER = ["result", "family", "quantity", "prediction", "Monte Carlo ± s.e.", "z",
          "control z (wrong formula)", "verdict"]


def summary_line(results: list[Result]) -> str:
    n_pass = sum(r.verdict == "pass" for r in results)
    return (f"{n_pass}/{len(results)} checks passed; z* = {results[0].threshold:.3f} "
            f"(Sidak, family-wise alpha = {FAMILY_WISE_ALPHA:g} over "
            f"{sum(r.check.statistical for r in results)} statistical checks)")


def text(results: list[Result]) -> str:
    rows = [HEADER] + [_row(r) for r in results]
    widths = [min(max(len(row[i]) for row in rows), 60) for i in range(len(HEADER))]
    lines = ["  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    return "\n".join(lines + ["", summary_line(results)])


def as_json(results: list[Result], budget: Budget, seed: int) -> dict:
    return {"budget": budget.name, "seed": seed, "alpha": FAMILY_WISE_ALPHA,
            "threshold": results[0].threshold, "checks": [r.as_json() for r in results],
            "passed": sum(r.verdict == "pass" for r in results), "total": len(results),
            "not_checked": [{"id": i, "family": f, "reason": why}
                            for (i, f), why in NOT_CHECKED.items()]}


def _intro(budget: Budget, seed: int) -> list[str]:
    return [
        f"Budget `{budget.name}` (seed {seed}). Every derived prediction is compared with the "
        "Monte Carlo engine. Exact results: z = (estimate - prediction)/s.e. at finite M. "
        "Asymptotic results: the residual over a ladder of M must have the stated order "
        "(chi-square of a two-term fit, as a z). Laws: chi-square goodness of fit, as a z. "
        "A check passes when |z| <= z* and its negative control (a deliberately wrong "
        "formula, same data) is rejected with |z| > z*.",
    ]


def markdown(results: list[Result], budget: Budget, seed: int) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["# Validation report", "", *_intro(budget, seed), "", "**" + summary_line(results) + "**",
           "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(esc(c) for c in _row(r)) + " |" for r in results]
    out += ["", "## Not checked", ""]
    out += [f"- {i} ({f}): {why}" for (i, f), why in NOT_CHECKED.items()]
    return "\n".join(out) + "\n"


_GREEK = {"phi": r"\phi", "mu": r"\mu", "theta": r"\theta", "chi": r"\chi", "kappa": r"\kappa",
          "nu": r"\nu", "lam": r"\lambda", "tau": r"\tau"}
_MATH = re.compile(r"\b(phi|mu|theta|chi|kappa|nu|lam|tau)(\d*)(?:_(\d))?\b(\*\*\d+)?"
                   r"|\bM0\b|\boo\b|\bM\^-?\d+|\|z\||\bz\*|<=|>=|->|\*\*\d+|(?<=\w)\*(?=\w)")


def _math(m: re.Match) -> str:
    """One piece of code-like notation in a quantity, as inline mathematics."""
    t = m.group(0)
    if m.group(1):
        sub = m.group(2) or ""
        gen = f"^{{({m.group(3)})}}" if m.group(3) else ""
        power = f"^{{{m.group(4)[2:]}}}" if m.group(4) else ""
        base = _GREEK[m.group(1)] + (f"_{{{sub}}}" if sub else "") + gen
        return f"${{{base}}}{power}$" if power else f"${base}$"
    return {"M0": "$M_0$", "oo": r"$\infty$", "|z|": "$|z|$", "z*": "$z^*$", "<=": r"$\le$", ">=": r"$\ge$",
            "->": r"$\to$", "*": r"$\,$"}.get(t) or (f"$^{{{t[2:]}}}$" if t.startswith("**")
                                                       else f"$M^{{{t[2:]}}}$")


def _tex_escape(s: str) -> str:
    """Prose with code-like notation (E[mu**2], phi1=0, |z| <= z*, M0) typeset as mathematics."""
    out, last = [], 0
    for m in _MATH.finditer(s):
        out += [_tex_plain(s[last:m.start()]), _math(m)]
        last = m.end()
    return "".join(out + [_tex_plain(s[last:])]).replace("$$", "")


def _tex_plain(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                 ("#", r"\#"), ("^", r"\^{}"), ("±", r"$\pm$"), ("*", r"$^*$"), ("<", r"$<$"),
                 (">", r"$>$"), ("~", r"\~{}")):
        s = s.replace(a, b)
    return s


def latex(results: list[Result], budget: Budget, seed: int) -> str:
    lines = [r"\documentclass{article}", r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}",
             r"\usepackage[landscape,margin=1.5cm]{geometry}", r"\input{preamble}", r"\usepackage{longtable}",
             r"\begin{document}",
             r"\section*{Validation report}", _tex_escape(_intro(budget, seed)[0]), "",
             r"\textbf{" + _tex_escape(summary_line(results)) + "}", "", r"\scriptsize",
             r"\begin{longtable}{llp{6cm}rrrp{4.5cm}l}",
             " & ".join(_tex_escape(h) for h in HEADER) + r" \\ \hline \endhead"]
    lines += [" & ".join(_tex_escape(c) for c in _row(r)) + r" \\" for r in results]
    lines += [r"\end{longtable}", r"\normalsize", r"\subsection*{Not checked}", r"\begin{itemize}"]
    lines += [r"\item " + _tex_escape(f"{i} ({f}): {why}") for (i, f), why in NOT_CHECKED.items()]
    lines += [r"\end{itemize}", r"\end{document}", ""]
    return "\n".join(lines)


def write(results: list[Result], budget: Budget, seed: int, out: Path, pdf: bool) -> list[Path]:
    """``validation.md`` and ``validation.tex`` (compiled when pdflatex is there) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md, tex = out / "validation.md", out / "validation.tex"
    write_text_atomic(md, markdown(results, budget, seed))
    write_text_atomic(tex, latex(results, budget, seed))
    if not (out / "preamble.tex").exists():
        write_text_atomic(out / "preamble.tex", PREAMBLE)
    if pdf:
        compile_pdf(tex)
    return [md, tex]
