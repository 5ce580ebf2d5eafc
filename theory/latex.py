"""Derivations -> LaTeX: a fragment per result, a standalone document per family, an overview."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import sympy as sp

from . import symbols as S
from .derivation import Derivation, Step
from .family import ExponentialFamily

MAX_CHARS = 6000  # longer expressions are not typeset (they are in `derive --json`)

PREAMBLE = r"""\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb,mathtools,bm}
\usepackage[margin=2cm]{geometry}
\allowdisplaybreaks
\setlength{\emergencystretch}{3em}
"""


def expr(e) -> str:
    """LaTeX for a SymPy object or a raw LaTeX string, with the project's symbol names."""
    if isinstance(e, str):
        return e
    return sp.latex(e, symbol_names=S.LATEX, ln_notation=True, mat_delim="(")


def _text(s: str) -> str:
    """Escape prose for LaTeX, leaving inline math ``$...$`` untouched."""
    parts = s.split("$")
    for i in range(0, len(parts), 2):  # even parts are outside math
        parts[i] = (parts[i].replace("_", r"\_").replace("^", r"\^{}")
                    .replace("#", r"\#").replace("&", r"\&"))
    return "$".join(parts)


def render_step(step: Step) -> str:
    out = []
    if step.text:
        out.append(_text(step.text))
    if step.rhs is not None or step.lhs is not None:
        rhs = expr(step.rhs) if step.rhs is not None else ""
        lhs = expr(step.lhs) if step.lhs is not None else ""
        if len(rhs) > MAX_CHARS:
            rhs = rf"\text{{(an expression of {len(rhs)} characters: see \texttt{{closedloop derive --json}})}}"
        eq = f"{lhs} = {rhs}" if lhs and rhs else (lhs or rhs)
        out.append("\\begin{equation*}\n\\begin{split}\n" + _split(eq) + "\n\\end{split}\n\\end{equation*}")
    return "\n".join(out)


def _split(eq: str) -> str:
    """Break very long single equations at top-level + signs so they fit the page."""
    if len(eq) < 180:
        return eq
    parts, depth, last, lines = [], 0, 0, []
    for i, ch in enumerate(eq):
        depth += ch in "{([" and 1 or (ch in "})]" and -1 or 0)
        if depth == 0 and ch in "+-" and i - last > 150 and eq[i - 1] != "{" and not eq[:i].endswith(r"\left"):
            parts.append(eq[last:i])
            last = i
    parts.append(eq[last:])
    for n, p in enumerate(parts):
        lines.append(("" if n == 0 else "&\\quad ") + p)
    return " \\\\\n".join(lines) if len(lines) > 1 else eq


def render(d: Derivation) -> str:
    """One result as a LaTeX fragment: a subsection with its steps."""
    order = f" (error $O(M^{{-{d.order}}})$)" if d.order else ""
    body = "\n\n".join(render_step(s) for s in d.steps)
    return f"\\subsection*{{{_text(d.id)}: {_text(d.title)}{order}}}\n{body}\n"


def family_header(f: ExponentialFamily) -> str:
    """Declaration and derived cumulants of a family."""
    phis = ", ".join(expr(p) for p in f.phi)
    rows = [
        ("Sample space", f"${_text(str(f.space))}$"),
        ("Sufficient statistics", rf"$\phi(s) = ({phis})$"),
        ("Base measure", f"$h(s) = {expr(f.h)}$"),
        ("Natural parameters", "$" + ", ".join(expr(t) for t in f.theta) + "$"),
    ]
    conv = r"\\ ".join(rf"\mathrm{{{_text(n)}}} &= {expr(e)}" for n, e in f.conventional.items())
    steps = [
        Step(r"Log-partition $A = \log\sum_s h(s)\,e^{\theta\cdot\phi(s)}$:", "A(\\theta)", f.A),
        Step(r"Mean map $\mu = \nabla A$ (expectation parameters):", r"\mu(\theta)", _scalar(f.mu)),
        Step(r"Fisher information $\chi = \nabla\nabla A = \operatorname{Cov}[\phi]$:", r"\chi(\theta)", _scalar(f.chi)),
    ]
    if f.d == 1:
        steps.append(Step(r"Third cumulant $\kappa = A'''$:", r"\kappa(\theta)", f.kappa[0, 0, 0]))
    if f.mu_inverse is not None:
        steps.append(Step("Inverse mean map:", r"\theta(\mu)", _scalar(sp.Matrix([f.mu_inverse[t] for t in f.theta]))))
    steps.append(Step("KL divergence to the truth:", r"D(f_\theta\|f_{\theta^*})", f.kl))
    table = "\n".join(f"\\item[{a}] {b}" for a, b in rows)
    return (f"\\section*{{{_text(f.title)}}}\n\\begin{{description}}\n{table}\n\\end{{description}}\n"
            f"Conventional parameters:\n\\begin{{align*}}\n{conv}\n\\end{{align*}}\n"
            + "\n\n".join(render_step(s) for s in steps) + "\n")


def _scalar(m):
    return m[0, 0] if isinstance(m, sp.MatrixBase) and m.shape == (1, 1) else m


def document(title: str, body: str) -> str:
    return (f"\\documentclass[11pt]{{article}}\n\\input{{preamble}}\n\\title{{{_text(title)}}}\n"
            f"\\date{{}}\n\\begin{{document}}\n\\maketitle\n{body}\n\\end{{document}}\n")


def compile_pdf(tex: Path) -> None:
    """pdflatex -halt-on-error in the file's folder; raises with the log tail on failure."""
    if shutil.which("pdflatex") is None:
        raise FileNotFoundError("pdflatex not found")
    # a fixed date makes the PDF bytes reproducible
    env = os.environ | {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tex.parent, capture_output=True, text=True, timeout=300, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"pdflatex failed on {tex}:\n" + run.stdout[-3000:])
