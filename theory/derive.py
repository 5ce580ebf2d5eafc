"""`closedloop derive`: every result for the requested families, as LaTeX files and as JSON."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import sympy as sp

from . import documents
from . import notation
from . import symbols as S
from .derivation import Step
from .errors import InputError
from .families import FAMILIES, get_family
from .family import ExponentialFamily, Finite
from .io import write_text_atomic
from .models import logistic, moment_laws, rbm_laws, regression_laws, theorem
from .parallel import map_tasks
from .params import OPERATOR_OPTIONS, derivation_setting
from .regime import Regime
from .results import general, recursion
from .setting import Setting, m_ext
from .speedups import sympy_speedups
from .store import all_general, all_operators, all_regimes, all_results, compute

# the paper's Fig. 1(a-c) case: Curie–Weiss with the coupling held at zero
DEFAULT_EXTRA = (("curie_weiss", {"theta2": 0}),)


# SymPy's work grows fast with the size of a finite space and with the number of free
# parameters: Curie–Weiss N = 60 takes 30 s (--json), categorical K = 4 (3 parameters) 4 min
MAX_LEVELS = 61
MAX_FREE = 2


# sizes a theorist wants general: left symbolic by `derive --json` unless given as numbers
SYMBOLIC_SIZES = {"N": S.symbol("N", "N", integer=True, positive=True),
                  "n": S.symbol("n", "n", integer=True, positive=True)}


def targets(names: list[str] | None = None, family_args: dict | None = None,
            fixed: dict | None = None, symbolic: bool = False) -> list[ExponentialFamily]:
    """The families to derive: the named ones (all by default, plus Curie–Weiss with θ2 = 0,
    with N and n symbolic).

    Every family argument must be taken by some named family (as ``simulate`` checks), and
    a family beyond what SymPy finishes (``MAX_LEVELS``, ``MAX_FREE``) is refused up front.
    With ``symbolic``, a named family's size (N spins, n trials) not given stays a symbol.
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
        sizes = {n: _args_for(n, SYMBOLIC_SIZES) if symbolic else {} for n in names}
        fams = [get_family(n, fixed=fixed or {}, **(sizes[n] | _args_for(n, family_args)))
                for n in names]
        for f in fams:
            _check_tractable(f)
        return fams
    # the documents hold for every N and n: sizes stay symbolic (categorical keeps K = 3)
    fams = [get_family(n, **_args_for(n, SYMBOLIC_SIZES)) for n in FAMILIES]
    return fams + [get_family(n, fixed=fx, **_args_for(n, SYMBOLIC_SIZES)) for n, fx in DEFAULT_EXTRA]


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


def family_document(family: ExponentialFamily, results, fragments: dict[str, str] | None = None) -> str:
    """The standalone document; ``fragments`` (text by result id) if already rendered."""
    fragments = fragments or {}
    body = (r"\section*{The family}" + "\n" + documents.family_header(family) + "\n"
            + r"\section*{Results}" + "\n"
            + "\n".join(notation.heading(r) + (fragments.get(r.id) or documents.render(r, family=family))
                         for r in results))
    return documents.document(f"Closed-loop learning: {documents.family_title(family)}", body)


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
        parts.append(notation.render_step(Step(
            f"{est.upper()}: drift and variance of $\\theta$ to leading order, error $O(M^{{-2}})$:",
            r"\mathbb{E}[\Delta\theta]", recursion.per_generation(drift[0])), f"eq:generic:{est}:1"))
        parts.append(notation.render_step(Step("", r"\operatorname{Var}[\Delta\theta]",
                                            recursion.per_generation(cov[0])), f"eq:generic:{est}:2"))
    parts.append(r"\section*{Families}" + "\n\\begin{itemize}")
    for f in families:
        states = "; ".join(f"${notation.state_latex(st)}$" for st in f.absorbing_states)
        a = notation.expr(notation.hyperbolic_log(f.A, f.theta))
        a = f"$A(\\theta) = {a}$" if notation.width(a) < 150 else "$A(\\theta) = \\log Z(\\theta)$"
        parts.append(f"\\item \\texttt{{{notation.text(f.slug)}.tex}}: {notation.text(documents.family_title(f))}, "
                     f"{a}; absorbing: {states}")
    parts.append("\\end{itemize}")
    return documents.document("Closed-loop learning in exponential families: derived results",
                          "\n\n".join(parts))


def model_classes() -> str:
    """derivations/model-classes.tex: the laws of the model classes beyond the exponential families
    (R12), a section per class with a subsection per result id, each rendered from its SymPy
    derivation (theory.models)."""
    sections = (
        ("Which statistics stay martingales", [theorem.derivation()]),
        ("Gaussian mixtures and kernel density estimates", [moment_laws.derivation()]),
        ("Linear and logistic regression", [*regression_laws.derivations(), logistic.derivation()]),
        ("Restricted Boltzmann machines", rbm_laws.derivations()),
    )
    parts = ["The closed loop of models that are not exponential families: the theorem saying which "
             "statistics stay martingales, and the exact laws of each model class, derived with SymPy "
             "(the command line's simulate runs these loops, and its validate checks each law against them)."]
    for title, results in sections:
        groups = ", ".join(dict.fromkeys(d.id.rsplit(".", 1)[0] if d.id.count(".") > 1 else d.id
                                         for d in results))  # R12.rbm for R12.rbm.*: each id heads its subsection
        parts.append(f"\\section*{{{notation.text(title)} ({notation.text(groups)})}}")
        parts += [notation.heading(d) + notation.render(d, define=False) for d in results]
    return documents.document("Closed-loop learning beyond exponential families: the model classes",
                              "\n\n".join(parts))


def _render_family(f: ExponentialFamily) -> tuple[str, dict[str, str], str]:
    """(slug, fragment text by result id, standalone document) of one family: R1–R8, R9
    for the general loop with m fresh external points from the truth (m symbolic), and R10 (every
    data regime) for the pure loop at constant M."""
    results = all_results(f) + all_general(Setting(f, fresh=m_ext)) + all_regimes(Setting(f))
    fragments = {r.id: documents.render(r, family=f) for r in results}  # rendered once, used twice
    return f.slug, fragments, family_document(f, results, fragments)


def _render_setting(sid: str, text: str, setting: Setting) -> tuple[str, dict[str, str], str]:
    """(id, fragment text by result id, section of paper-settings.tex) of one paper setting."""
    results = all_general(setting)
    slug = f"{sid}-{setting.family.slug}"
    fragments = {r.id: documents.render(r, slug, setting.family) for r in results}  # rendered once, used twice
    section = (f"\\section*{{{notation.text(text)}}}\n"
               + "\n".join(notation.heading(r) + fragments[r.id] for r in results))
    return sid, fragments, section


@sympy_speedups()
def write_all(families: list[ExponentialFamily], out: Path, compile_pdf: bool = True,
              progress=None, workers: int = 1) -> list[Path]:
    """Write preamble, fragments, one standalone document per family, the overview and the model
    classes' document (:func:`model_classes`).

    Families and the paper's settings are derived as independent tasks, on ``workers`` local
    processes (:func:`_run`), two-parameter families first (the longest: the others fill in after
    them); the files are written here, in a fixed order, so they do not depend on ``workers``
    (nor does what is derived: tests/test_latex.py).
    """
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "preamble.tex", notation.PREAMBLE)
    settings = paper_settings()
    tasks = sorted(((_render_family, (f,)) for f in families), key=lambda task: -task[1][0].d)
    tasks += [(_render_setting, args) for args in settings]
    rendered = {}
    dims = {f.d for f in families} | {st.family.d for _, _, st in settings}
    for (fn, _), result in zip(tasks, _run(tasks, workers, dims), strict=True):
        rendered[fn, result[0]] = result
        if progress and fn is _render_family:
            progress(result[0])
    docs = []
    for f in families:
        slug, fragments, document = rendered[_render_family, f.slug]
        frag_dir = out / slug
        frag_dir.mkdir(exist_ok=True)
        for rid, text in fragments.items():
            write_text_atomic(frag_dir / f"{rid}.tex", text)
        path = out / f"{slug}.tex"
        write_text_atomic(path, document)
        docs.append(path)
    path = out / "overview.tex"
    write_text_atomic(path, overview(families))
    docs.append(path)
    docs.append(write_paper_settings(out, [rendered[_render_setting, sid] for sid, *_ in PAPER_SETTINGS]))
    docs.append(write_demo(out))
    path = out / "model-classes.tex"
    write_text_atomic(path, model_classes())
    docs.append(path)
    if compile_pdf:
        for doc in docs:
            documents.compile_pdf(doc, runs=2 if doc.name == "demo-twocolumn.tex" else 1)
    return docs


def _run(tasks, workers: int, dims):
    """The results of ``fn(*args)`` for each task, in order (as each is ready), on ``workers``
    processes; on Linux the workers are forked after the generic results (every family of a
    dimension shares them) are derived here once, so they inherit them (2.5 of 31 CPU s)."""
    return map_tasks(_call, tasks, workers=workers, batch_size=1, fork_after=lambda: _derive_generic(dims))


@sympy_speedups()
def _call(task):
    fn, args = task
    return fn(*args)


@sympy_speedups()
def _derive_generic(dims) -> None:
    """The results derived in abstract cumulants (R3's expansion, R9's identities), per dimension."""
    for d in sorted(dims):
        for est in recursion.ESTIMATORS:
            recursion.leading_order(est, d, S.thetas(d))
        general.generic_identities(d)


# fragments \input by the two-column demonstration: (folder, result id, label stem)
DEMO = (("bernoulli", "R1.martingale", "eq:R1.martingale:bernoulli"),
        ("bernoulli", "R3.drift.mle", "eq:R3.drift.mle:bernoulli"),
        ("bernoulli", "R7.stationary", "eq:R7.stationary:bernoulli"),
        ("paper-settings/fig3", "R9.stationary", "eq:R9.stationary:fig3-poisson"))


def demo_document() -> str:
    """derivations/demo-twocolumn.tex: a PRL-like two-column page that \\input's a few fragments."""
    parts = [r"\documentclass[10pt,twocolumn]{article}",
             r"\usepackage[a4paper,top=2cm,bottom=2cm]{geometry}",
             r"\setlength{\textwidth}{17.8cm}\setlength{\columnsep}{0.6cm}",
             r"\setlength{\oddsidemargin}{\dimexpr(\paperwidth-\textwidth)/2-1in\relax}",
             r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}", r"\input{preamble}",
             r"\title{Two-column demonstration: derived fragments in a PRL-like page}", r"\date{}",
             r"\begin{document}", r"\maketitle",
             "This page \\verb|\\input|s fragments of \\texttt{derivations/} as a paper would, in "
             "columns of 8.6\\,cm. The martingale property is Eq.~\\eqref{eq:R1.martingale:bernoulli:1}; "
             "the drift of the logit is Eq.~\\eqref{eq:R3.drift.mle:bernoulli:6}."]
    for folder, rid, stem in DEMO:
        parts += [f"\\paragraph{{{notation.text(rid)} ({notation.text(folder)}).}}", f"\\input{{{folder}/{rid}}}"]
    parts += [r"\end{document}", ""]
    return "\n".join(parts)


def write_demo(out: Path) -> Path:
    path = out / "demo-twocolumn.tex"
    path.write_text(demo_document())
    return path


# The reference paper's general settings (Figs. 2 and 3), as printed, and the case that collapses
PAPER_SETTINGS = (
    ("fig2-i", "Fig. 2 (i): $N = 10$, $\\theta_2 = 0$ fixed, ML, one fixed point with sum of spins $-6$",
     "curie_weiss", {"N": 10}, {"theta2": 0}, {"data": [{"phi1": -6}]}),
    ("fig2-ii", "Fig. 2 (ii): $N = 10$, both fitted, Gaussian priors of variance 2",
     "curie_weiss", {"N": 10}, {}, {"prior_law": "normal:var=2"}),
    ("fig2-iii", "Fig. 2 (iii): as (ii) plus one fixed point with sum of spins $0$",
     "curie_weiss", {"N": 10}, {}, {"prior_law": "normal:var=2", "data": [{"phi1": 0}]}),
    ("fig2-iii-no-prior", "The fixed point of (iii) without the prior: it lies on a face, the loop collapses",
     "curie_weiss", {"N": 10}, {}, {"data": [{"phi1": 0}]}),
    ("fig3", "Fig. 3 (App. C): Poisson, one fresh point from the truth, exponential prior on the rate",
     "poisson", {}, {}, {"fresh": 1, "prior_law": "exponential:rate=1,on=rate"}),
)


def paper_settings() -> list[tuple[str, str, Setting]]:
    """(id, description, setting) of :data:`PAPER_SETTINGS`."""
    out = []
    for sid, text, name, args, fixed, opts in PAPER_SETTINGS:
        fam = get_family(name, fixed=fixed, **args)
        out.append((sid, text, derivation_setting(fam, opts.get("fresh", 0), opts.get("data", ()),
                                            opts.get("prior_law"))))
    return out


def write_paper_settings(out: Path, rendered) -> Path:
    """derivations/paper-settings.tex and its fragments paper-settings/<id>/R9.*.tex, from
    :func:`_render_setting` of each setting."""
    sections = []
    for sid, fragments, section in rendered:
        frag_dir = out / "paper-settings" / sid
        frag_dir.mkdir(parents=True, exist_ok=True)
        for rid, text in fragments.items():
            write_text_atomic(frag_dir / f"{rid}.tex", text)
        sections.append(section)
    path = out / "paper-settings.tex"
    write_text_atomic(path, documents.document("The reference paper's general settings (R9)", "\n\n".join(sections)))
    return path


def write_setting(family: ExponentialFamily, options: dict, out: Path, compile_pdf: bool = True) -> Path:
    """R9, R10 and R11 for one family and setting: ``<out>/setting-<slug>-<label>.tex`` and its
    fragments. R9 is the replace loop's at constant M; R10 reads the setting's data regime and M_t;
    R11 the sampling operator, where one is declared (its drift is the replace loop's)."""
    st = _setting_of(family, options)
    nums = _truth_values(family, options.get("truth"))
    general = all_general(replace_loop(st))
    results = general + (all_regimes(st) if st.regime != Regime() else [])  # R10 where a regime is asked
    results += all_operators(replace_loop(st))  # R11 where an operator is declared
    # "=" as "-", not dropped: var=11,var2=2 and var1=1,var2=2 must not share a file
    stem = f"setting-{family.slug}-{st.label}".replace("=", "-").replace(".", "p").replace(":", "-")
    frag_dir = out / stem
    frag_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "preamble.tex", notation.PREAMBLE)
    for r in results:
        write_text_atomic(frag_dir / f"{r.id}.tex", documents.render(r, stem, family))
    path = out / f"{stem}.tex"
    note = ("" if st.regime == Regime() else
            f"The R9 results below are those of the replace loop at constant $M$; R10 reads the data "
            f"regime {notation.text(st.regime.kind)}"
            + (f" with $M_t$ {notation.text(st.regime.schedule.label)}" if st.regime.schedule else "") + ".\n\n")
    body = documents.family_header(family, stem) + note + "\n".join(
        notation.heading(r) + documents.render(r, stem, family) for r in results)
    write_text_atomic(path, documents.document(f"General closed loop: {family.title}, {st.label}", body))
    stat = general[2].result
    print(f"{family.slug} [{st.label}]: normalisable={stat['normalisable']}"
          + (f", stationary law {stat['law']}" if "law" in stat else "")
          + f"\n  U = {sp.sstr(general[0].result['U'].subs(nums))}"
          + f"\n  written to {path}")
    if compile_pdf:
        documents.compile_pdf(path)
    return path


def _setting_of(family: ExponentialFamily, options: dict) -> Setting:
    """The derivation setting of ``derive``'s options (data, prior, truth, regime, M schedule)."""
    return derivation_setting(family, options.get("fresh") or 0, options.get("data") or (),
                              options.get("prior_law"), options.get("truth"), options.get("regime"),
                              options.get("M_schedule"),
                              **{k: options.get(k) for k in OPERATOR_OPTIONS})


def replace_loop(setting: Setting) -> Setting:
    """The same setting under the paper's loop (replace, constant M): what R9 derives."""
    return dataclasses.replace(setting, regime=Regime())


def _truth_values(family: ExponentialFamily, truth: dict | None) -> dict:
    if truth is None:
        return {}
    theta = family.natural_point(truth)
    return {S.starred(t): sp.nsimplify(theta[t.name]) for t in family.theta}


def to_json(families: list[ExponentialFamily], setting: dict | None = None) -> dict:
    """SPEC `derive --json`: per family, natural names, A, μ, χ, R3 drift and covariance as str(),
    for the setting (external data, prior) U, drift_general, stationary_theta, normalisable, under
    ``R10`` the final forms of each data-regime result for the setting's regime and M_t, and under
    ``R11`` those of each result of the declared sampling operator (symbolic in T; the declared
    operator under ``operator``)."""
    setting = setting or {}
    opts = {k: setting.get(k) for k in ("data", "prior_law", "truth")}
    settings = [_setting_of(f, setting) for f in families]  # bad input fails before any work
    out = {}
    for f, st in zip(families, settings, strict=True):
        r3 = compute("R3.drift.mle", f).result  # through the store: kept on disk
        nums = _truth_values(f, opts["truth"])
        sde, stat = compute("R9.sde", replace_loop(st)).result, compute("R9.stationary", replace_loop(st)).result
        out[f.slug] = {
            "family": f.name, "args": {k: v if isinstance(v, int) else str(v) for k, v in f.args.items()},
            "fixed": dict(f.fixed),
            "natural": list(f.names), "A": str(f.A),
            "mu": [str(e) for e in f.mu], "chi": [[str(e) for e in row] for row in f.chi.tolist()],
            "drift": [str(e) for e in r3["drift"]],
            "cov": [[str(e) for e in row] for row in r3["cov"].tolist()],
            "setting": st.label, "m": st.m, "u": st.u,
            "U": str(sde["U"].subs(nums)),
            "drift_general": [str(e.subs(nums)) for e in sde["drift"]],
            "stationary_theta": str(stat["density"].subs(nums)),
            "normalisable": stat["normalisable"],
            "regime": st.regime.kind,
            "M_schedule": None if st.regime.schedule is None else st.regime.schedule.label,
            "R10": {d.id: {key: _json_expr(v) for key, v in d.result.items()} for d in all_regimes(st)},
            "R11": _operator_json(st),
        }
    return out


def _operator_json(setting: Setting) -> dict:
    """``derive --json``'s R11 block: the declared operator and each R11 result's final forms."""
    results = all_operators(replace_loop(setting))
    if not results:
        return {}
    return {"operator": setting.operator.as_json()} | {
        d.id: {key: _json_expr(v) for key, v in d.result.items()} for d in results}


def _json_expr(value):
    """A final form as SymPy ``str()`` (a matrix as nested lists)."""
    if isinstance(value, sp.MatrixBase):
        return [[str(e) for e in row] for row in value.tolist()]
    return str(value)
