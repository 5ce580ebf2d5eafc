"""`closedloop derive`: every result for the requested families, as LaTeX files and as JSON."""

from __future__ import annotations

import inspect
from pathlib import Path

from . import latex
from . import symbols as S
from .derivation import Step
from .families import FAMILIES, get_family
from .errors import InputError
from .family import ExponentialFamily, Finite
from .io import write_text_atomic
from .results import all_results, recursion

# the paper's Fig. 1(a-c) case: Curie–Weiss with the coupling held at zero
DEFAULT_EXTRA = (("curie_weiss", {"theta2": 0}),)


# SymPy's work grows fast with the size of a finite space and with the number of free
# parameters: Curie–Weiss N = 60 takes 30 s (--json), categorical K = 4 (3 parameters) 4 min
MAX_LEVELS = 61
MAX_FREE = 2


def targets(names: list[str] | None = None, family_args: dict | None = None,
            fixed: dict | None = None) -> list[ExponentialFamily]:
    """The families to derive: the named ones (all by default, plus Curie–Weiss with θ2 = 0).

    Every family argument must be taken by some named family (as ``simulate`` checks), and
    a family beyond what SymPy finishes (``MAX_LEVELS``, ``MAX_FREE``) is refused up front.
    """
    family_args = family_args or {}
    if not names and (family_args or fixed):
        raise InputError(f"{'--family-args' if family_args else '--fixed'} needs the families "
                         "it applies to, e.g. derive curie_weiss --family-args N=6")
    if names:
        unknown = [n for n in names if n not in FAMILIES]
        if unknown:
            get_family(unknown[0])  # raises the usual "unknown family" message
        for k in family_args:
            if not any(k in _args_for(n, {k: 0}) for n in names):
                if len(names) == 1:
                    get_family(names[0], **family_args)  # the same message as simulate
                raise InputError(f"family argument {k} is taken by none of {', '.join(names)}")
        fams = [get_family(n, fixed=fixed or {}, **_args_for(n, family_args)) for n in names]
        for f in fams:
            _check_tractable(f)
        return fams
    fams = [get_family(n) for n in FAMILIES]
    return fams + [get_family(n, fixed=fx) for n, fx in DEFAULT_EXTRA]


def _check_tractable(family: ExponentialFamily) -> None:
    levels = len(family.space.levels) if isinstance(family.space, Finite) else 0
    if levels > MAX_LEVELS:
        raise InputError(f"derive {family.title}: {levels} sample-space levels is more than "
                         f"SymPy's sums finish ({MAX_LEVELS} at most, e.g. N, n <= 60)")
    if family.d > MAX_FREE:
        raise InputError(f"derive {family.title}: {family.d} free natural parameters is more than "
                         f"the symbolic results finish ({MAX_FREE} at most: categorical K <= 3, "
                         "or fix some with --fixed)")


def _args_for(name: str, family_args: dict) -> dict:
    accepted = set(inspect.signature(FAMILIES[name]).parameters) if name in FAMILIES else set()
    return {k: v for k, v in family_args.items() if k in accepted}


def family_document(family: ExponentialFamily, results) -> str:
    body = latex.family_header(family) + "\n".join(latex.render(r) for r in results)
    return latex.document(f"Closed-loop learning: {family.title}", body)


def overview(families: list[ExponentialFamily]) -> str:
    """The generic results (in abstract cumulants) and an index of the family documents."""
    parts = [r"\section*{Setting}",
             "Generation $t+1$ draws $M-M_0$ points from $f(\\cdot|\\theta_t)$ and $M_0$ anchor points "
             "from the truth $f(\\cdot|\\theta^*)$, and refits. The generic results below are derived "
             "in abstract cumulants $\\mu$, $\\chi$, $\\kappa$ of a one-parameter family; each family "
             "document specialises them.",
             r"\section*{Generic recursion (one parameter)}"]
    for est in recursion.ESTIMATORS:
        drift, cov = recursion.leading_order(est, 1, S.thetas(1))
        parts.append(latex.render_step(Step(
            f"{est.upper()}: drift and variance of $\\theta$ to leading order, error $O(M^{{-2}})$:",
            r"\mathbb{E}[\Delta\theta]", recursion.per_generation(drift[0]))))
        parts.append(latex.render_step(Step("", r"\operatorname{Var}[\Delta\theta]", recursion.per_generation(cov[0]))))
    parts.append(r"\section*{Families}" + "\n\\begin{itemize}")
    for f in families:
        states = ", ".join(st.label for st in f.absorbing_states)
        a = latex.expr(f.A) if len(latex.expr(f.A)) < 300 else r"\log Z(\theta)"
        parts.append(f"\\item \\texttt{{{latex._text(f.slug)}.tex}}: {latex._text(f.title)}, "
                     f"$A(\\theta) = {a}$; absorbing: {latex._text(states)}")
    parts.append("\\end{itemize}")
    return latex.document("Closed-loop learning in exponential families: derived results",
                          "\n\n".join(parts))


def write_all(families: list[ExponentialFamily], out: Path, compile_pdf: bool = True,
              progress=None) -> list[Path]:
    """Write preamble, fragments, one standalone document per family and the overview."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "preamble.tex", latex.PREAMBLE)
    docs = []
    for f in families:
        results = all_results(f)
        frag_dir = out / f.slug
        frag_dir.mkdir(exist_ok=True)
        for r in results:
            write_text_atomic(frag_dir / f"{r.id}.tex", latex.render(r))
        path = out / f"{f.slug}.tex"
        write_text_atomic(path, family_document(f, results))
        docs.append(path)
        if progress:
            progress(f.slug)
    path = out / "overview.tex"
    write_text_atomic(path, overview(families))
    docs.append(path)
    if compile_pdf:
        for doc in docs:
            latex.compile_pdf(doc)
    return docs


def to_json(families: list[ExponentialFamily]) -> dict:
    """SPEC `derive --json`: per family, natural names, A, μ, χ, R3 drift and covariance as str()."""
    out = {}
    for f in families:
        r3 = recursion.drift(f, "mle").result
        out[f.slug] = {
            "family": f.name, "args": dict(f.args), "fixed": dict(f.fixed),
            "natural": list(f.names), "A": str(f.A),
            "mu": [str(e) for e in f.mu], "chi": [[str(e) for e in row] for row in f.chi.tolist()],
            "drift": [str(e) for e in r3["drift"]],
            "cov": [[str(e) for e in row] for row in r3["cov"].tolist()],
        }
    return out
