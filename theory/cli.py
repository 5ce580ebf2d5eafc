"""The `closedloop` command: derive | simulate | validate | figures | sweep | claims | reproduce.

Errors from bad input are one line on stderr (``closedloop: error: ...``) and
exit status 2; JSON goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from .errors import InputError
from .version import __version__
from .io import check_file_writable, check_writable, json_text, write_json_atomic
from .params import external_data, fixed_items, integer_args, parse_params


def _progress(enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None
    return lambda what: print(f"  derived {what}", file=sys.stderr)


MAX_WORKERS = 1024  # local processes; joblib overflows long before 2**63


def _nonnegative(value: int, option: str) -> None:
    if value < 0:
        raise InputError(f"{option} must be >= 0, got {value}")
    if option == "--workers" and value > MAX_WORKERS:
        raise InputError(f"--workers must be at most {MAX_WORKERS}, got {value}")


def _speedups(command):
    """``command`` run with SymPy's speed-ups on in this thread (theory.speedups), as derivations
    are computed."""

    @functools.wraps(command)
    def run(args):
        from .speedups import sympy_speedups

        with sympy_speedups():
            return command(args)

    return run


@_speedups
def cmd_derive(args) -> int:
    from . import derive

    if not args.json:
        check_writable(args.out)
    families = derive.targets(args.families, integer_args(args.family_args),
                              parse_params(args.fixed, "fixed parameter"),
                              # N, n stay symbols unless given; a setting's data need numbers
                              symbolic=not (args.external or args.external_data or args.prior_law
                                            or args.external_data_file))
    setting = {"fresh": args.external, "data": external_data(args.external_data, args.external_data_file),
               "prior_law": args.prior_law, "regime": args.regime, "M_schedule": args.M_schedule,
               "truth": parse_params(args.truth, "--truth") if args.truth else None,
               **_operator_options(args)}
    if args.json:
        print(json_text(derive.to_json(families, setting)))
        return 0
    import shutil

    compile_pdf = shutil.which("pdflatex") is not None and not args.no_pdf
    if setting["fresh"] or setting["data"] or args.prior_law or args.regime != "replace" or args.M_schedule \
            or any(v is not None for v in _operator_options(args).values()):
        # one setting: its R9, R10 and R11 document
        docs = [derive.write_setting(f, setting, Path(args.out), compile_pdf) for f in families]
    else:
        _nonnegative(args.workers, "--workers")
        docs = derive.write_all(families, Path(args.out), compile_pdf=compile_pdf,
                                progress=_progress(True), workers=args.workers or min(2, os.cpu_count() or 1))
    note = "" if compile_pdf else " (pdflatex not found or --no-pdf: .tex only)"
    print(f"wrote {len(docs)} documents to {args.out}/{note}")
    return 0


def _histograms(items: list[str] | None) -> dict[str, tuple[float, float, int]]:
    """``--histogram theta1=-3:3:60``: NAME=LO:HI:BINS, repeatable."""
    out = {}
    for item in items or []:
        name, sep, spec = item.partition("=")
        parts = spec.split(":")
        if not sep or len(parts) != 3:
            raise InputError(f"malformed --histogram {item!r}: expected NAME=LO:HI:BINS, e.g. theta1=-3:3:60")
        try:
            lo, hi, bins = float(parts[0]), float(parts[1]), float(parts[2])
        except ValueError:
            raise InputError(f"--histogram {item!r}: LO, HI and BINS must be numbers") from None
        if name.strip() in out:
            raise InputError(f"--histogram {name.strip()} is given twice")
        out[name.strip()] = (lo, hi, bins)
    return out


def cmd_simulate(args) -> int:
    from .models import MODEL_CLASSES

    if args.family in MODEL_CLASSES:
        return _simulate_model_class(args)
    for flag in ("init_seed", "init_sample", "design"):
        if getattr(args, flag) is not None:
            raise InputError(f"--{flag.replace('_', '-')} is for the model classes "
                             f"({', '.join(MODEL_CLASSES)}), not {args.family}")
    from .params import from_params

    loop = from_params(
        args.family, args.M, parse_params(args.init, "--init"), init_law=args.init_law, anchors=args.anchors,
        truth=parse_params(args.truth, "--truth") if args.truth else None,
        estimator=args.estimator, fixed=fixed_items(args.fixed), family_args=integer_args(args.family_args),
        nu=args.nu, lam=args.lam, prior=parse_params(args.prior, "--prior") if args.prior else None,
        sampler=args.sampler, external=args.external,
        data=external_data(args.external_data, args.external_data_file), prior_law=args.prior_law,
        regime=args.regime, M_schedule=args.M_schedule, numeric_twin=True, **_operator_options(args))
    run = loop.run(args.generations, args.chains, seed=args.seed, burn_in=args.burn_in,
                   record_every=args.record_every, progress=sys.stderr.isatty() and not args.quiet,
                   histograms=_histograms(args.histogram))
    summary = run.summary()
    _warn_unrepresentable(run)
    if args.json:
        print(json_text(summary))
    else:
        print(_simulate_text(summary))
    return 0


def _simulate_model_class(args) -> int:
    """``simulate`` of a model class beyond the exponential families (theory.models)."""
    from .models import model_loop, refuse_unused

    # the exponential families' options that no model class reads
    refuse_unused(args.family, {"anchors": args.anchors, "estimator": args.estimator, "fixed": args.fixed,
                                "prior": args.prior, "sampler": args.sampler, "init_law": args.init_law,
                                "truth": args.truth, "histogram": args.histogram,
                                "external_data": args.external_data,
                                "external_data_file": args.external_data_file},
                  {"anchors": 0, "estimator": "mle", "sampler": "exact"})
    options = {"M": args.M, "family_args": args.family_args,
               "init": parse_params(args.init, "--init") if args.init else None,
               "init_seed": args.init_seed, "init_sample": args.init_sample, "design": args.design,
               "external": args.external, "regime": args.regime, "M_schedule": args.M_schedule,
               "prior_law": args.prior_law}
    options |= _operator_options(args)
    loop = model_loop(args.family, **options)
    run = loop.run(args.generations, args.chains, seed=args.seed, burn_in=args.burn_in,
                   record_every=args.record_every, progress=sys.stderr.isatty() and not args.quiet)
    summary = run.summary()
    if args.json:
        print(json_text(summary))
    else:
        lines = [f"{summary['family']} M={summary['M']} regime={summary['regime']} "
                 f"generations={summary['generations']} chains={summary['chains']} seed={summary['seed']}",
                 *_stats_table(summary), f"absorbed: {summary['absorbed']['fraction']:.4g} of chains"]
        print("\n".join(lines))
    return 0


def _warn_unrepresentable(run) -> None:
    """One stderr line when float64 could not carry part of a run (underflow, overflow)."""
    import numpy as np

    what = []
    under = run.loop.numeric.underflowed(run.state.mu)
    if under.any():
        what.append(f"{under.sum()} of {run.chains} chains' mean underflowed float64 (counted as "
                    "collapsed, diverging: that point mass is only reached as t -> oo)")
    over = [f"{key} {kind} of {n}" for key, stats in (("final", run.final),
                                                       ("time-average", run.time_average))
            for n, (m, v) in stats.items() for kind, x in (("mean", m), ("var", v))
            if np.isinf(x)]
    if over:
        what.append(f"overflowed (null): {', '.join(over)}")
    if all(np.isnan(m) for m, _ in run.final.values()):
        raise InputError(f"every summary of this run is undefined in float64 ({run.loop.family.title}, "
                         f"M={run.loop.M}); choose a less extreme setting")
    if what:
        print(f"closedloop: warning: {'; '.join(what)}", file=sys.stderr)


def _stats_table(s: dict) -> list[str]:
    """The final and time-averaged mean and variance of every observable of a run's summary."""
    fmt = lambda x: "-" if x is None else f"{x:.6g}"  # noqa: E731
    lines = [f"{'':10} {'final mean':>12} {'final var':>12} {'time-avg mean':>14} {'time-avg var':>13}"]
    for n in s["final"]["mean"]:
        lines.append(f"{n:10} {fmt(s['final']['mean'][n]):>12} {fmt(s['final']['var'][n]):>12} "
                     f"{fmt(s['time_average']['mean'][n]):>14} {fmt(s['time_average']['var'][n]):>13}")
    return lines


def _simulate_text(s: dict) -> str:
    fmt = lambda x: "-" if x is None else f"{x:.6g}"  # noqa: E731
    lines = [f"{s['family']} M={s['M']} anchors={s['anchors']} estimator={s['estimator']['name']} "
             f"generations={s['generations']} chains={s['chains']} seed={s['seed']}",
             *([f"regime={s['regime']}" + (f" M_t={s['M_schedule']}" if s["M_schedule"] else "")]
               if s["regime"] != "replace" or s["M_schedule"] else []),
             *(["operator: " + ", ".join(f"{k}={v}" for k, v in s["operator"].items() if v is not None)]
               if any(v is not None for v in s.get("operator", {}).values()) else []),
             *_stats_table(s)]
    c = s["collapsed"]
    lines.append(f"collapsed: {c['fraction']:.4g} of chains"
                 + (f", first at generation {fmt(c['time_mean'])} ± {fmt(c['time_sem'])}"
                    if c["time_mean"] is not None else ""))
    lines += [f"  {label}: {frac:.4g}" for label, frac in c["by_face"].items()]
    kinds = [f"{kind} {frac:.4g}" for kind, frac in c["by_kind"].items() if frac]
    if kinds:
        lines.append(f"  by kind: {', '.join(kinds)}")
    e = s["ever_absorbed"]
    if e["fraction"] and not c["fraction"]:
        lines.append(f"touched a point mass and left it again (not collapsed): {e['fraction']:.4g} of chains")
    return "\n".join(lines)


def _cluster(args):
    """The Dask cluster of ``--scheduler`` (with ``--tls-*``, ``--timeout``) for the command, or None."""
    from .parallel import TLS, cluster

    files = (args.tls_ca_file, args.tls_cert, args.tls_key)
    if any(files) and not (args.tls_ca_file and args.tls_cert):
        raise InputError("TLS needs --tls-ca-file and --tls-cert (and --tls-key unless the certificate "
                         "file holds the key)")
    if any(files) and args.scheduler is None:
        raise InputError("--tls-* options are for a --scheduler tls://ADDRESS")
    return cluster(args.scheduler, args.timeout, TLS(*files) if any(files) else None)


@_speedups
def cmd_validate(args) -> int:
    import os
    import shutil

    from .validate import FULL, QUICK, all_checks, report, run_checks

    _nonnegative(args.seed, "--seed")
    _nonnegative(args.workers, "--workers")
    if not args.families:  # the report files are written
        check_writable(args.out)
    budget = FULL if args.full else QUICK
    checks = all_checks(args.families or None)
    if not checks:
        raise InputError(f"no checks for {', '.join(args.families)}")
    if args.only:
        known = sorted({c.id for c in checks})
        checks = [c for c in checks if any(c.id == i or c.id.startswith(i + ".") for i in args.only)]
        if not checks:
            raise InputError(f"no checks with id {', '.join(args.only)}; known: {', '.join(known)}")
    workers = args.workers or min(2, os.cpu_count() or 1)
    with _cluster(args) as scheduler:
        results = run_checks(checks, budget, seed=args.seed, workers=workers, scheduler=scheduler,
                             progress=sys.stderr.isatty() and not args.json)
    if args.json:
        print(json_text(report.as_json(results, budget, args.seed)))
    else:
        print(report.text(results))
    if not args.families and not args.only:  # the committed report is always the whole registry
        pdf = shutil.which("pdflatex") is not None and not args.no_pdf
        paths = report.write(results, budget, args.seed, Path(args.out), pdf)
        if not args.json:
            print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0 if all(r.verdict == "pass" for r in results) else 1


@_speedups
def cmd_figures(args) -> int:
    from .plots import FULL, QUICK, build_all, check_ids

    _nonnegative(args.seed, "--seed")
    if args.only is not None:
        check_ids(args.only)
    check_writable(args.out)
    _nonnegative(args.workers, "--workers")
    workers = args.workers or min(2, os.cpu_count() or 1)
    with _cluster(args) as scheduler:
        records = build_all(FULL if args.full else QUICK, Path(args.out), seed=args.seed,
                            progress=sys.stderr.isatty(), only=args.only or None, workers=workers,
                            scheduler=scheduler)
    print(f"wrote {len(records)} figures to {args.out}/ (PDF at column and page width, PNG, JSON)")
    return 0


@_speedups
def cmd_claims(args) -> int:
    """Published claims against the toolkit's derivations and simulations (theory.claims)."""
    from .claims import FULL, QUICK, report, run_claims, select

    _nonnegative(args.seed, "--seed")
    _nonnegative(args.workers, "--workers")
    if args.out is not None:
        check_writable(args.out)
    claims = select(args.only)
    if not claims:
        raise InputError(f"no claim with id {', '.join(args.only)}; see closedloop claims --help")
    budget = FULL if args.full else QUICK
    results = run_claims(claims, budget, seed=args.seed, workers=args.workers or min(2, os.cpu_count() or 1))
    print(json_text(report.as_json(results, budget, args.seed)) if args.json else report.text(results))
    if args.out is not None:
        path = report.write(results, budget, args.seed, Path(args.out))
        if not args.json:
            print(f"wrote {path}")
    return 0 if all(r.verdict in ("holds", "fails", "not checkable") for r in results) else 1


def reproduce_stages(args) -> list[tuple[str, list[str]]]:
    """The commands of ``reproduce``, as if typed on the command line (run at once, see there)."""
    size = ["--full"] if args.full else ["--quick"]
    workers = ["--workers", str(args.workers or 1)]
    pdf = ["--no-pdf"] if args.no_pdf else []
    seed = ["--seed", str(args.seed)]
    stages = [("derive", ["derive", *workers, *pdf, "--out", args.derivations]),
              ("validate", ["validate", *size, *workers, *seed, *pdf, "--out", args.derivations]),
              ("figures", ["figures", *size, *workers, *seed, "--out", args.figures])]
    if getattr(args, "claims", False):
        stages.append(("claims", ["claims", *size, *workers, *seed, "--out", args.derivations]))
    return stages


_SUMMARY_MARK = {"validate": "checks passed", "claims": " claims; z* = "}  # the summary line of each


def _stage_outcome(name: str, text: str) -> str:
    """What a stage's output says in one line: its summary (validate, claims), else its last line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if name in _SUMMARY_MARK:
        lines = [line for line in lines if _SUMMARY_MARK[name] in line] or lines
    return lines[-1].strip() if lines else "(no output)"


def _failed_checks(text: str) -> list[str]:
    """The rows of validate's table whose verdict is not pass (the table itself goes to the report)."""
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("wrote ")]
    return [row for row in rows[1:] if "checks passed" not in row and not row.rstrip().endswith("pass")]


@_speedups
def cmd_reproduce(args) -> int:
    """derive + validate + figures (+ claims with --claims); quick unless --full.

    The three stages run at the same time, one process each: derive and figures as child
    processes (``python -m theory``), validate in this one. Run one after the other on 2
    joblib workers each, every stage left a core idle in its serial steps and at its end
    (the categorical derivation, the last family's checks, fig1b) and started a pool of
    its own; three single processes fill both cores (measured under load: 140 s against
    218 s one after the other; 193 s with validate on 2 workers beside them, where derive
    became the longest). None reads what another writes. Printed: a progress line as each
    stage ends, then the checks that failed (if any) and one summary line; the full validation
    table is in the report file, the stages' warnings and errors on stderr.
    """
    import contextlib
    import io
    import re
    import subprocess
    import tempfile
    import threading
    import time

    check_writable(args.derivations, "--derivations")
    check_writable(args.figures, "--figures")
    _nonnegative(args.seed, "--seed")
    _nonnegative(args.workers, "--workers")
    t0 = time.perf_counter()
    stages = reproduce_stages(args)
    size = "full" if args.full else "quick"
    print(f"reproduce ({size}): {', '.join(name for name, _ in stages)} at once, "
          f"{args.workers or 1} worker(s) each; a line as each ends", flush=True)
    # the children import this very package: its folder first on the path, not the cwd (-P)
    here = str(Path(__file__).resolve().parents[1])
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    children, seconds, outputs, lock = {}, {}, {}, threading.Lock()
    # the progress lines go to this stdout, also while validate's own output is being captured;
    # a reader that stopped early (| head) stops them, and the command then ends as main() says
    stdout, closed = sys.stdout, threading.Event()

    def stage_done(name, code, out, err):  # one progress line, as the stage ends
        with lock:
            seconds.setdefault(name, time.perf_counter() - t0)
            outputs[name] = (out, err)
            state = "done" if code == 0 else f"FAILED (status {code})"
            if not closed.is_set():
                try:
                    print(f"  {name} {state} at {seconds[name]:.0f} s: {_stage_outcome(name, out)}",
                          file=stdout, flush=True)
                except BrokenPipeError:
                    closed.set()

    def watch(name, proc, out, err):
        code = proc.wait()
        out.seek(0), err.seek(0)
        if code != 0:
            err_text = err.read() + f"closedloop: error: reproduce: {name} exited with status {code}\n"
        else:
            err_text = err.read()
        stage_done(name, code, out.read(), err_text)

    status = 0
    with contextlib.ExitStack() as stack:
        threads = []
        for name, argv in stages:
            if name != "validate":
                out, err = (stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(2))
                proc = subprocess.Popen([sys.executable, "-P", "-m", "theory", *argv], stdout=out, stderr=err,
                                        text=True, env=env)
                children[name] = proc
                threads.append(threading.Thread(target=watch, args=(name, proc, out, err), daemon=True))
                threads[-1].start()
        try:
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                status = cmd_validate(_parser().parse_args(dict(stages)["validate"]))
            stage_done("validate", status, printed.getvalue(), "")
            for name, proc in children.items():
                code = proc.wait()
                status = status or code
            for thread in threads:
                thread.join()
            if closed.is_set():
                raise BrokenPipeError
        finally:
            for proc in children.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    for name, _ in stages:  # what the stages said on stderr (warnings, errors), in stage order
        print(outputs[name][1], end="", file=sys.stderr)
    failed = _failed_checks(outputs["validate"][0])
    for row in failed:
        print(row)
    checks = re.search(r"\d+/\d+ checks passed", outputs["validate"][0])
    print(f"reproduce ({size}) done in {time.perf_counter() - t0:.0f} s ("
          + ", ".join(f"{name} {seconds[name]:.0f} s" for name, _ in stages) + "): "
          + (checks.group(0) if checks else "validate gave no summary")
          + f"; the full table in {args.derivations}/validation.md, figures in {args.figures}/"
          + ("" if status == 0 else "; SOME STAGE OR CHECK FAILED (see above)"))
    return status


def cmd_sweep(args) -> int:
    """A grid of simulate settings x seeds (joblib on local cores, or a Dask cluster)."""
    import os

    from . import sweep as sw

    if args.out:
        check_file_writable(args.out)
    doc = sw.load_grid_file(args.grid_file) if args.grid_file else {}
    base = dict(doc.get("base", {}))
    base.update({name: value for name, value in
                 ((n, getattr(args, n)) for n in sw.SETTINGS if hasattr(args, n)) if value is not None})
    grid = dict(doc.get("grid", {}))
    for item in args.grid or []:
        name, values = sw.grid_option(item)
        grid[name] = values
    seeds = args.seeds if args.seeds is not None else doc.get("seeds", 1)
    seed = args.seed if args.seed is not None else doc.get("seed", 0)
    _nonnegative(args.workers, "--workers")
    workers = args.workers or os.cpu_count() or 1
    with _cluster(args) as scheduler:
        result = sw.sweep(base, grid, seeds=seeds, seed=seed, n_jobs=workers, scheduler=scheduler,
                          progress=sys.stderr.isatty() and not args.quiet, timeout=args.timeout)
    if args.out:
        write_json_atomic(args.out, result)
        print(f"wrote {len(result['results'])} runs to {args.out}", file=sys.stderr)
    else:
        print(json_text(result))
    return 0


def _sweep_parser(sub) -> None:
    w = sub.add_parser("sweep", help="run a grid of simulate settings x seeds (local cores or a Dask cluster)")
    w.add_argument("grid_file", nargs="?", metavar="GRID.json",
                   help='{"base": {simulate options}, "grid": {"M": [50, 100], ...}, "seeds": 3}')
    w.add_argument("--grid", action="append", metavar="NAME=v1,v2",
                   help="a grid axis over a simulate option (repeatable; separate values by ';' "
                        "when they contain commas: init=p=0.3;p=0.5)")
    w.add_argument("--seeds", type=int, metavar="R", help="replicates per grid point (default 1)")
    w.add_argument("--seed", type=int, help="root seed, split by SeedSequence.spawn (default 0)")
    w.add_argument("--workers", type=int, default=0, help="local processes (default: all cores)")
    _cluster_flags(w, "run")
    w.add_argument("--out", metavar="FILE", help="write the JSON here (atomically); default stdout")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    base = w.add_argument_group("base setting (the options of simulate; override the grid file's base)")
    same = "as for simulate"
    base.add_argument("--family", help="family name: " + ", ".join(FAMILY_NAMES))
    for flag, kind in (("M", int), ("anchors", int), ("generations", int), ("chains", int),
                       ("burn-in", int), ("record-every", int), ("external", int), ("nu", float),
                       ("lam", float)):
        base.add_argument(f"--{flag}", type=kind, help=same)
    for flag in ("init", "init-law", "truth", "prior", "family-args", "estimator", "sampler", "prior-law",
                 "regime", "M-schedule"):
        base.add_argument(f"--{flag}", help=same)
    base.add_argument("--fixed", action="append", metavar="NAME[=VALUE]", help=same + " (repeatable)")
    base.add_argument("--external-data", action="append", metavar="STATS", help=same + " (repeatable)")
    _operator_flags(base)


def _cluster_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """--scheduler and how to reach it: Dask's TLS certificates and the connection timeout."""
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"{what} on the Dask cluster at ADDRESS (tls://host:8786 with the --tls-* "
                             "files; a cluster can run code in this process: see docs/howto/sweep-dask.md)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to reach the scheduler (default 5)")
    parser.add_argument("--tls-ca-file", metavar="PEM", help="CA certificate that signed the cluster's")
    parser.add_argument("--tls-cert", metavar="PEM", help="this client's certificate (may hold the key)")
    parser.add_argument("--tls-key", metavar="PEM", help="this client's private key")


# Named here for --help, which imports neither the families (SymPy) nor the figures (Matplotlib);
# tests/test_cli.py keeps both equal to their registries.
MODEL_CLASS_NAMES = ("rbm", "gaussian_mixture", "kde", "linear_regression",
                     "logistic_regression")  # theory.models.MODEL_CLASSES
FAMILY_NAMES = ("bernoulli", "binomial", "poisson", "exponential", "gaussian", "categorical", "curie_weiss")
FIGURE_IDS = ("fig1a_trajectories", "fig1b_absorption_times", "fig1c_all_up", "fig1d_final_vs_initial",
              "fig2_stationary", "fig3_poisson", "entropy", "gaussian_collapse", "stationary_laws",
              "reparametrisation", "estimators", "absorption_time_vs_M", "regimes_gaussian",
              "accumulate_limit", "growth", "mixture_variance", "kde_variance", "temperature_phase",
              "temperature_stationary", "top_p_support", "selection_variance", "regression_error",
              "ridge_stationary", "rbm_polarisation")

class _Parser(argparse.ArgumentParser):
    """argparse with the house error format: one line, exit status 2 (``--help`` shows usage)."""

    def error(self, message):
        self.exit(2, f"closedloop: error: {message} (see {self.prog} --help)\n")


def _budget_flags(parser: argparse.ArgumentParser, quick: str, full: str) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=quick)
    size.add_argument("--full", action="store_true", help=full)


def _setting_flags(parser: argparse.ArgumentParser) -> None:
    """The paper's general setting: external data on top of the M model points, a prior."""
    parser.add_argument("--external", type=int, default=0, metavar="m",
                        help="fresh external points per generation from --truth, on top of the M")
    parser.add_argument("--external-data", action="append", metavar="STATS",
                        help="one fixed external point re-used every generation, by its statistics "
                             "(phi1=-6) or its value (s=2.5); repeatable")
    parser.add_argument("--external-data-file", metavar="FILE",
                        help="a fixed real data set: one point per line, as --external-data (s=2.5)")
    parser.add_argument("--regime", choices=["replace", "accumulate", "subsample"], default="replace",
                        help="which points a refit sees: its own generation's (replace, default), every "
                             "point drawn so far (accumulate), or a subsample of that pool of the "
                             "replace loop's size (subsample)")
    parser.add_argument("--M-schedule", metavar="SCHEDULE", dest="M_schedule",
                        help="growing sample sizes M_t: linear:a (a t), geometric:a,r (a r^(t-1)) or "
                             "M1,M2,... (--M is M_1)")
    parser.add_argument("--prior-law", metavar="LAW",
                        help="MAP with a prior entering once per generation: normal:var=V[,mean=A] on "
                             "every natural parameter, or LAW:...,on=NAME on a conventional parameter "
                             "with the MAP done in it (exponential:rate=1,on=rate)")
    _operator_flags(parser)


# the choices of --by, named for --help without importing the operator (SymPy); equal to
# theory.operator.SELECT_BY (tests/test_operators_engine.py)
SELECT_BY_NAMES = ("abs_deviation", "largest", "smallest")


def _operator_flags(parser) -> None:
    """The sampling operator the model's M points are drawn through (external points never)."""
    parser.add_argument("--temperature", type=float, metavar="T",
                        help="draw the model's points from f^(1/T), renormalised (on configurations)")
    parser.add_argument("--top-k", type=int, metavar="K", dest="top_k",
                        help="finite spaces: draw from the model's K most probable outcomes")
    parser.add_argument("--top-p", type=float, metavar="P", dest="top_p",
                        help="finite spaces: draw from the model's smallest most-probable set of mass >= P")
    parser.add_argument("--select", type=float, metavar="FRACTION",
                        help="draw M/FRACTION points, keep the M with the largest --by statistic")
    parser.add_argument("--by", choices=SELECT_BY_NAMES,
                        help="the selection statistic: |phi1 - mean| (abs_deviation), phi1 (largest) "
                             "or -phi1 (smallest)")


def _operator_options(args) -> dict:
    """The operator's flags as the keywords of theory.params.operator_of (None: not given)."""
    return {k: getattr(args, k, None) for k in ("temperature", "top_k", "top_p", "select", "by")}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="closedloop", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"closedloop (theory) {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("derive", help="derive R1-R8 symbolically and write LaTeX")
    d.add_argument("families", nargs="*", help="family names (default: all): " + ", ".join(FAMILY_NAMES))
    d.add_argument("--out", default="derivations", help="output folder (default: derivations)")
    d.add_argument("--json", action="store_true", help="print A, mu, chi, R3 drift/cov as JSON")
    d.add_argument("--family-args", help="family arguments, e.g. N=10 or n=5,K=4")
    d.add_argument("--fixed", help="natural parameters held fixed, e.g. theta2=0")
    d.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    d.add_argument("--workers", type=int, default=0,
                   help="local processes deriving families (default: 2, or 1 on one core)")
    _setting_flags(d)
    d.add_argument("--truth", help="numbers for the truth theta* of fresh external points (default: symbolic)")

    m = sub.add_parser("simulate", help="simulate the closed loop (exact sampler) and summarise")
    m.add_argument("family", help="family name: " + ", ".join(FAMILY_NAMES)
                   + "; or a model class: " + ", ".join(MODEL_CLASS_NAMES))
    m.add_argument("--M", type=int, required=True, help="sample size per generation")
    m.add_argument("--anchors", type=int, default=0, metavar="M0",
                   help="ground-truth points per generation (default 0: pure loop)")
    m.add_argument("--init", help="initial model, e.g. mean=3,var=0.5 or theta1=0.1 "
                                  "(needed unless --init-law)")
    m.add_argument("--init-law", metavar="LAW",
                   help="start each chain from a law of theta (seeded): stationary (Eq. 18 of the setting) "
                        "or normal:mean=A,var=V[,varK=..,meanK=..] on the natural parameters")
    m.add_argument("--init-seed", type=int, metavar="S",
                   help="model classes: draw the initial model from seed S (rbm weights; "
                        "linear_regression: w_0 ~ N(0, I_d))")
    m.add_argument("--init-sample", metavar="LAW",
                   help="model classes: the initial data set's law, e.g. normal:mean=0,var=1 (kde)")
    m.add_argument("--design", choices=["fresh", "fixed"],
                   help="linear_regression: a fresh N(0, I_d) design every generation (default) or one "
                        "held fixed")
    m.add_argument("--truth", help="ground truth for the anchors (and default MAP prior mean)")
    m.add_argument("--estimator", default="mle", choices=["mle", "map", "l2"],
                   help="the refit: maximum likelihood (default), conjugate MAP (--nu, --prior) or L2 (--lam)")
    m.add_argument("--nu", type=float, default=1.0, help="MAP pseudo-observations (default 1)")
    m.add_argument("--lam", type=float, default=0.1, help="L2 strength lambda (default 0.1)")
    m.add_argument("--prior", help="MAP prior mean as parameters (default: truth, else init)")
    m.add_argument("--fixed", action="append", metavar="NAME[=VALUE]",
                   help="natural parameter held fixed (partial MLE); value from --init if omitted")
    m.add_argument("--family-args", help="family arguments, e.g. N=10")
    m.add_argument("--generations", type=int, required=True, metavar="T", help="generations to run")
    m.add_argument("--chains", type=int, required=True, metavar="C", help="independent chains (loops)")
    m.add_argument("--burn-in", type=int, default=0, metavar="B",
                   help="generations skipped by the time average (default 0)")
    m.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    m.add_argument("--record-every", type=int, default=0, metavar="K",
                   help="add a trace of chain means/vars every K generations to the JSON")
    m.add_argument("--sampler", default="exact", choices=["exact", "naive"],
                   help="exact: one draw of the sufficient statistics per generation (default); "
                        "naive: draw all M points")
    _setting_flags(m)
    m.add_argument("--histogram", action="append", metavar="NAME=LO:HI:BINS",
                   help="stream the law of NAME over chains x generations after the burn-in into "
                        "BINS bins on [LO, HI) (repeatable); added to the JSON")
    m.add_argument("--json", action="store_true", help="print the SPEC JSON object")
    m.add_argument("--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser("validate", help="check every derived result against Monte Carlo")
    _budget_flags(v, "small samples, under 2 minutes (default)", "paper-scale samples (progress bar)")
    v.add_argument("families", nargs="*", help="only these family slugs (report files not written)")
    v.add_argument("--only", nargs="+", metavar="ID",
                   help="only the checks of these result ids or prefixes (R9, R3.drift.map); "
                        "report files not written")
    v.add_argument("--json", action="store_true", help="print every check as JSON")
    v.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    v.add_argument("--workers", type=int, default=0,
                   help="local processes, one family's checks each (joblib; default: 2 or the cores)")
    _cluster_flags(v, "run the checks")
    v.add_argument("--out", default="derivations", help="folder of validation.md/.tex")
    v.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")

    f = sub.add_parser("figures", help="rebuild every figure (paper Fig. 1 and beyond)")
    _budget_flags(f, "fewer chains (default)", "10x the chains")
    f.add_argument("--out", default="figures", help="output folder (default: figures)")
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--only", nargs="*", metavar="ID", help="only these figure ids: " + ", ".join(FIGURE_IDS))
    f.add_argument("--workers", type=int, default=0,
                   help="local processes, one figure each (joblib; default: 2 or the cores)")
    _cluster_flags(f, "build (the output folder must be shared)")

    _sweep_parser(sub)

    c = sub.add_parser("claims", help="check published claims against the derivations and simulations")
    _budget_flags(c, "each claim's own chains, well under a minute (default)", "10x the chains")
    c.add_argument("--only", nargs="+", metavar="ID", help="only claims whose id starts with one of these "
                                                           "(a paper: dey-donoho2024)")
    c.add_argument("--json", action="store_true", help="print every claim as JSON")
    c.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    c.add_argument("--workers", type=int, default=0, help="local processes (joblib; default: 2 or the cores)")
    c.add_argument("--out", metavar="DIR", help="write DIR/claims.md (reproduce --claims: derivations/)")

    r = sub.add_parser("reproduce", help="derive + validate + figures (quick settings)")
    r.add_argument("--full", action="store_true", help="paper-scale validation and figures")
    r.add_argument("--claims", action="store_true", help="also check the published claims (claims.md)")
    r.add_argument("--derivations", default="derivations", help="folder for LaTeX and the report")
    r.add_argument("--figures", default="figures", help="folder for the figures")
    r.add_argument("--workers", type=int, default=0, metavar="N",
                   help="local processes for each stage (default 1: the three stages run at once, "
                        "one process each, which fills two cores)")
    r.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed of validate and figures (default 0)")
    r.add_argument("--no-pdf", action="store_true", help="do not run pdflatex (derive and validate)")
    return p


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The command line's parser, built once per process: argparse takes 7 ms to build it, paid on
    every :func:`main` call of a process that calls it many times (a notebook, the fuzz tests);
    parsing leaves the parser as it was (nothing in it is written by a parse, so threads may share
    it). The command's function is looked up when it is called (:func:`main`)."""
    return build_parser()


def main(argv: list[str] | None = None) -> int:
    # This process is the command's own: SymPy's memo of its core constructors gets 100000
    # entries instead of 1000 (a cold derive 2-3% less CPU). SymPy reads the variable when it is
    # first imported, which the command line does only below; the library never sets it.
    if "sympy" not in sys.modules:
        os.environ.setdefault("SYMPY_CACHE_SIZE", "100000")
    args = _parser().parse_args(argv)
    try:
        return globals()[f"cmd_{args.command}"](args)  # (at call time: a replaced cmd_* is the one run)
    except InputError as e:
        print(f"closedloop: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader stopped early (closedloop ... | head): end quietly, as other Unix tools do
        # (status 128 + SIGPIPE), with stdout on /dev/null so flushing at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
