"""LaTeX documents: a family's header, fragments with sums over levels named, standalone files, pdflatex.

Fragments come from :func:`theory.notation.render`; here a family's finite sums are shown
as Z and level averages (:class:`LevelSums`), a family is introduced (:func:`family_header`),
and fragments become standalone documents in the PRL two-column geometry, compiled with
pdflatex.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import sympy as sp

from . import diskcache, notation
from . import symbols as S
from .derivation import Derivation, Step
from .family import ExponentialFamily, Finite, Levels, latex_name
from .notation import WIDTH, expr, hyperbolic_log, lines, macros, render_step, text
from .speedups import powsimp, sympy_speedups

# the package's code as loaded: text kept on disk is keyed by it (a file edited after this module
# was imported must not have its hash stand for the code that rendered)
_RENDERING_CODE = diskcache.package_version()

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


def render(d: Derivation, slug: str | None = None, family: ExponentialFamily | None = None) -> str:
    """:func:`theory.notation.render`, with the sums over the levels of a finite ``family`` whose
    partition function has no closed form (Curie–Weiss) shown as Z and level averages ⟨g⟩.

    Kept on disk (:func:`theory.diskcache.cached_text`) under the code that renders it (hashed
    when this module is loaded) and everything else the text depends on: the derivation, the
    slug, the family's declaration and the LaTeX names of every symbol in it; choosing the
    textbook form of each display is most of `derive`'s time once the results are read from the
    disk. A derivation that cannot be pickled (a user's lambda, say) is rendered, not kept."""
    def name() -> str:
        symbols = set()
        for step in d.steps:
            for side in (step.lhs, step.rhs):
                if isinstance(side, sp.Basic | sp.MatrixBase):
                    symbols |= side.atoms(sp.Symbol)  # bound ones too: a sum's index is printed
        names = sorted((diskcache.canonical(x), S.LATEX.get(x)) for x in symbols)
        return (f"documents.render({diskcache.fingerprint(d)}, {slug!r}, "
                f"{family.cache_key() if family is not None else None}, {names!r})")

    return diskcache.cached_text(_RENDERING_CODE, name, lambda: _render(d, slug, family))


@sympy_speedups()
def _render(d: Derivation, slug: str | None, family: ExponentialFamily | None) -> str:
    return notation.render(d, slug, LevelSums.of(family))


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
        return macros(text) + "\n\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"


@functools.cache
def _sum_names(family: ExponentialFamily) -> dict:
    """The names given to the sums of one family (every fragment of it sees the same sums)."""
    return {}



@sympy_speedups()
def family_header(f: ExponentialFamily, slug: str | None = None) -> str:
    """Declaration and derived cumulants of a family (a fragment, labels eq:family:<slug>:n)."""
    phis = ", ".join(expr(p) for p in f.phi)
    rows = [
        ("Sample space", f"$S = {f.space.latex()}$"),
        ("Sufficient statistics", rf"$\phi(s) = ({phis})$"),
        ("Base measure", f"$h(s) = {expr(f.h)}$"),
        ("Natural parameters", "$" + ", ".join(expr(t) for t in f.theta) + "$"),
    ]
    conv = [(c, e) for c, e in f.conventional.items() if not (isinstance(e, sp.Symbol) and e.name == c)]
    steps = [Step("Conventional parameters:" if n == 0 else "", latex_name(c), e)
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
    """``curie_weiss ($N = 10$, $\\theta_2 = 0$)``: the family's title, math in ``$``, for :func:`theory.notation.text`."""
    # a size left symbolic is general (the formulas hold for every N): not a setting to state
    extra = [(k, v) for k, v in f.args.items() if not isinstance(v, sp.Symbol)] + list(f.fixed.items())
    name = f.name  # escaped by notation.text where it is printed
    if not extra:
        return name
    shown = []
    for k, v in extra:
        sym = S.LATEX.get(sp.Symbol(k, real=True)) or (rf"\theta_{{{k[5:]}}}" if k.startswith("theta") else k)
        shown.append(f"${sym} = {expr(sp.nsimplify(v))}$")
    return f"{name} ({', '.join(shown)})"



def _scalar(m):
    return m[0, 0] if isinstance(m, sp.MatrixBase) and m.shape == (1, 1) else m


def document(title: str, body: str) -> str:
    """A standalone document in the PRL two-column geometry (8.6 cm columns)."""
    return (f"\\documentclass[10pt,twocolumn]{{article}}\n{LAYOUT}\\input{{preamble}}\n\\allowdisplaybreaks\n"
            f"\\title{{{text(title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n{body}\n"
            "\\end{document}\n")


def compile_pdf(tex: Path, runs: int = 1) -> str:
    """pdflatex -halt-on-error on ``tex`` (its inputs read from its folder); raises with the log
    tail on failure.

    The PDF is built in a temporary folder beside it and moved into place (``os.replace``)
    only when complete: a run killed half-way leaves the previous PDF or none, never a
    truncated one. ``runs`` = 2 resolves cross-references (the demonstration's \\eqref).
    Returns the log text of the last run (the tests look for overfull boxes in it).
    """
    if shutil.which("pdflatex") is None:
        raise FileNotFoundError("pdflatex not found")
    tex = tex.resolve()
    build = Path(tempfile.mkdtemp(prefix=".pdflatex-", dir=tex.parent))
    try:
        # the file is compiled under its own name (the PDF's /ID depends on it), its inputs
        # found in its folder through TEXINPUTS, with the .aux of the last run (references)
        shutil.copyfile(tex, build / tex.name)
        aux = tex.with_suffix(".aux")
        if aux.exists():
            shutil.copyfile(aux, build / aux.name)
        for _ in range(runs):
            log = _pdflatex(build / tex.name, tex.parent)
        os.replace(build / tex.with_suffix(".pdf").name, tex.with_suffix(".pdf"))
        os.replace(build / aux.name, aux)
        return log
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _pdflatex(tex: Path, inputs: Path) -> str:
    # a fixed date makes the PDF bytes reproducible
    env = os.environ | {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1",
                        "TEXINPUTS": f"{inputs}{os.pathsep}{os.environ.get('TEXINPUTS', '')}"}
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tex.parent, capture_output=True, text=True, timeout=300, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"pdflatex failed on {tex.name}:\n" + run.stdout[-3000:])
    log = tex.with_suffix(".log")
    return log.read_text(errors="replace") if log.exists() else run.stdout


def overfull(log: str) -> list[str]:
    """The 'Overfull \\hbox' lines of a pdflatex log."""
    return [ln for ln in log.splitlines() if ln.startswith("Overfull \\hbox")]


