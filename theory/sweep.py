"""Sweeps: a grid of simulate settings × seeds, on local cores (joblib) or a Dask cluster.

A sweep is a ``base`` setting (the options of ``closedloop simulate``), a ``grid``
mapping some of those options to lists of values, and a number of ``seeds``
(replicates) per grid point. Every (grid point, replicate) is one task: a plain
dict of settings and an integer seed, run by :func:`run_task` into the
``simulate --json`` summary. Only these plain dicts cross process boundaries.

Seeds: ``numpy.random.SeedSequence(seed).spawn(n_tasks)``, one child per task in
grid order, so every number depends on the seed and the task's place in the grid,
never on the number of workers or on the backend.

    from theory.sweep import sweep
    doc = sweep({"family": "bernoulli", "init": {"p": 0.3}, "generations": 50, "chains": 1000},
                grid={"M": [50, 100]}, seeds=3, n_jobs=2)          # or scheduler="tcp://host:8786"
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .errors import InputError, integer
from .parallel import SCHEDULER_TIMEOUT, connect, map_tasks
from .params import from_params, parse_params

# setting name -> kind; the names are those of `closedloop simulate` (dashes as underscores)
SETTINGS: dict[str, str] = {
    "family": "str", "M": "int", "anchors": "int", "init": "params", "init_law": "str", "truth": "params",
    "estimator": "str", "nu": "float", "lam": "float", "prior": "params", "fixed": "fixed",
    "family_args": "intparams", "sampler": "str", "external": "int", "external_data": "points",
    "prior_law": "str", "generations": "int", "chains": "int", "burn_in": "int",
    "record_every": "int", "regime": "str", "M_schedule": "str",
    "temperature": "float", "top_k": "int", "top_p": "float", "select": "float", "by": "str",
}
REQUIRED = ("family", "M", "init", "generations", "chains")
MAX_TASKS = 100_000  # grid points x seeds: each summary is kept in memory and in the output (a few kB)


# --- settings ---------------------------------------------------------------------------------
def normalise(name: str, value, where: str = "setting"):
    """A setting value in its canonical JSON form; InputError names a bad name or value."""
    kind = SETTINGS.get(name.replace("-", "_"))
    if kind is None:
        raise InputError(f"unknown {where} {name!r}; known: {', '.join(SETTINGS)}")
    if value is None:
        if name in REQUIRED:
            raise InputError(f"{where} {name} needs a value")
        return None
    try:
        if kind == "int":
            if isinstance(value, str):  # "400" exactly, "1e3" through float
                value = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
            if isinstance(value, bool) or int(value) != value:
                raise ValueError
            return int(value)
        if kind == "float":
            v = float(value)
            if not np.isfinite(v):
                raise ValueError
            return v
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{where} {name}: {value!r} is not a valid {kind}") from None
    if kind in ("fixed", "points") and not isinstance(value, str | Mapping | list):
        raise InputError(f"{where} {name}: {value!r} is not a valid {kind} (text, an object or a list)")
    if kind in ("params", "intparams"):
        params = _params(value, f"{where} {name}")
        if kind == "intparams":
            bad = [k for k, v in params.items() if v != int(v)]
            if bad:
                raise InputError(f"{where} {name}: {bad[0]} must be an integer")
            return {k: int(v) for k, v in params.items()}
        return params
    if kind == "fixed":
        out = {}
        items = [value] if isinstance(value, str | Mapping) else list(value)
        for item in items:
            if isinstance(item, Mapping):
                out.update({k: None if v is None else _params({k: v}, f"{where} fixed")[k]
                            for k, v in item.items()})
                continue
            for part in filter(None, str(item).split(",")):
                if "=" in part:
                    out.update(parse_params(part, f"{where} fixed"))
                else:
                    out[part.strip()] = None
        return out
    # points: one point (a string or mapping) or a list of them
    items = [value] if isinstance(value, str | Mapping) else list(value)
    return [_params(p, f"{where} {name}") for p in items]


def _params(value, what: str) -> dict[str, float]:
    if isinstance(value, str):
        return parse_params(value, what)
    if not isinstance(value, Mapping):
        raise InputError(f"{what}: expected name=value pairs, got {value!r}")
    text = ",".join(f"{k}={v}" for k, v in value.items())
    return parse_params(text, what)


def grid_option(text: str) -> tuple[str, list[str]]:
    """``--grid M=50,100`` -> ("M", ["50", "100"]); values split on ';' when one is present
    (``--grid "init=p=0.3;p=0.5"``), else on ','."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise InputError(f"malformed --grid {text!r}: expected NAME=v1,v2 (or NAME=v1;v2)")
    parts = values.split(";") if ";" in values else values.split(",")
    return name.strip().replace("-", "_"), [p.strip() for p in parts if p.strip()]


def load_grid_file(path: str | Path) -> dict:
    """``{"base": {...}, "grid": {NAME: [values]}, "seeds": R, "seed": S}`` from a JSON file."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise InputError(f"cannot read grid file {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"grid file {path} is not JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(doc, dict):
        raise InputError(f"grid file {path}: expected an object with base, grid, seeds")
    unknown = sorted(set(doc) - {"base", "grid", "seeds", "seed"})
    if unknown:
        raise InputError(f"grid file {path}: unknown key {unknown[0]!r}; known: base, grid, seeds, seed")
    for key in ("base", "grid"):
        if not isinstance(doc.get(key, {}), dict):
            raise InputError(f"grid file {path}: {key} must be an object")
    return doc


def normalised(base: Mapping, grid: Mapping | None) -> tuple[dict, dict]:
    """Base settings and grid axes in canonical form (names with underscores, typed values)."""
    base = {k.replace("-", "_"): normalise(k, v, "setting") for k, v in dict(base).items()}
    axes = {}
    for name, values in dict(grid or {}).items():
        values = [values] if isinstance(values, str | Mapping) or not isinstance(values, Sequence) \
            else list(values)
        if not values:
            raise InputError(f"grid {name} has no values")
        axes[name.replace("-", "_")] = [normalise(name, v, "grid setting") for v in values]
    return base, axes


def tasks(base: Mapping, grid: Mapping[str, Sequence] | None = None, seeds: int = 1,
          seed: int = 0) -> list[dict]:
    """Every (grid point, replicate) as {"setting", "replicate", "seed", "options"}, in grid order.

    ``options`` is the full plain setting (base overridden by the grid point);
    ``seed`` the task's integer seed from ``SeedSequence(seed).spawn``.
    """
    seeds = integer(seeds, "seeds (replicates per grid point)", 1)
    seed = integer(seed, "seed", 0)
    base, axes = normalised(base, grid)
    n_tasks = seeds * int(np.prod([len(v) for v in axes.values()], dtype=object))
    if n_tasks > MAX_TASKS:
        raise InputError(f"the sweep has {n_tasks} tasks (grid points x seeds), more than "
                         f"{MAX_TASKS}; split it into several sweeps")
    points = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    out = []
    for point in points:
        options = base | point
        missing = [n for n in REQUIRED if options.get(n) is None  # a law can replace the init
                   and not (n == "init" and options.get("init_law"))]
        if missing:
            names = (n if n != "init" else "init (or init_law)" for n in missing)
            raise InputError(f"sweep needs {', '.join(names)} (in the base or the grid)")
        for r in range(int(seeds)):
            out.append({"setting": point, "replicate": r, "options": options})
    children = np.random.SeedSequence(int(seed)).spawn(len(out))
    for task, child in zip(out, children, strict=True):
        task["seed"] = int(child.generate_state(1, np.uint64)[0])
    return out


def build_loop(options: Mapping):
    """The :class:`~theory.engine.loop.ClosedLoop` of one task's options (InputError if bad)."""
    o = dict(options)
    return from_params(
        o["family"], o["M"], o.get("init"), init_law=o.get("init_law"), anchors=o.get("anchors") or 0,
        truth=o.get("truth"),
        estimator=o.get("estimator") or "mle", fixed=o.get("fixed"), family_args=o.get("family_args"),
        nu=1.0 if o.get("nu") is None else o["nu"], lam=0.1 if o.get("lam") is None else o["lam"],
        prior=o.get("prior"), sampler=o.get("sampler") or "exact", external=o.get("external") or 0,
        data=o.get("external_data") or (), prior_law=o.get("prior_law"), regime=o.get("regime"),
        M_schedule=o.get("M_schedule"), temperature=o.get("temperature"), top_k=o.get("top_k"),
        top_p=o.get("top_p"), select=o.get("select"), by=o.get("by"))


def check(task_list: list[dict]) -> None:
    """Build every distinct setting once, before computing: bad input fails here, in one line."""
    seen = set()
    for task in task_list:
        o = task["options"]
        key = json.dumps(o, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        where = "" if not task["setting"] else " at grid point " + ", ".join(
            f"{k}={_show(v)}" for k, v in task["setting"].items())
        try:
            build_loop(o)
            g, c, b = o["generations"], o["chains"], o.get("burn_in") or 0
            if g < 1 or c < 1:
                raise InputError(f"generations and chains must be >= 1, got {g} and {c}")
            if not 0 <= b < g:
                raise InputError(f"burn-in must satisfy 0 <= burn-in < generations, got {b}")
            if (o.get("record_every") or 0) < 0:
                raise InputError("record_every must be >= 0")
        except InputError as e:
            raise InputError(f"{e}{where}") from None


def _show(v) -> str:
    if isinstance(v, dict):
        return ",".join(f"{k}={x:g}" if isinstance(x, float) else f"{k}={x}" for k, x in v.items())
    return str(v)


# --- running ----------------------------------------------------------------------------------
def run_task(options: Mapping, seed: int) -> dict:
    """One task: the ``simulate --json`` summary of ``options`` run with ``seed`` (a plain dict)."""
    loop = build_loop(options)
    run = loop.run(options["generations"], options["chains"], seed=seed,
                   burn_in=options.get("burn_in") or 0, record_every=options.get("record_every") or 0)
    return run.summary()


def execute(task_list: list[dict], n_jobs: int = 1, scheduler=None, progress: bool = False) -> list[dict]:
    """Summaries of ``task_list``, in order: joblib with ``n_jobs`` local processes, or on the
    Dask cluster at ``scheduler`` (an address or a Client)."""
    from .progress import tqdm

    bar = tqdm(total=len(task_list), disable=not progress, file=sys.stderr, desc="sweep", unit="task")
    try:
        out = []
        for summary in map_tasks(_run, task_list, workers=n_jobs, scheduler=scheduler,
                                 check=lambda task, summary: isinstance(summary, dict)):
            out.append(summary)
            bar.update()
        return out
    finally:
        bar.close()


def _run(task: dict) -> dict:
    return run_task(task["options"], task["seed"])


def sweep(base: Mapping, grid: Mapping[str, Sequence] | None = None, seeds: int = 1, seed: int = 0,
          n_jobs: int = 1, scheduler=None, progress: bool = False,
          timeout: float = SCHEDULER_TIMEOUT) -> dict:
    """Run the grid × seeds; the document ``{"base", "grid", "seeds", "seed", "results"}``.

    Each result is ``{"setting": grid point, "replicate": r, "seed": task seed, "summary":
    simulate --json object}``. Bad input raises InputError before anything is computed;
    the scheduler is contacted (short timeout) before anything is computed too.
    """
    task_list = tasks(base, grid, seeds, seed)
    check(task_list)
    if scheduler is not None:
        client, own = connect(scheduler, timeout)
        scheduler = client
    else:
        own = False
        if isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or n_jobs == 0:
            raise InputError(f"workers must be a non-zero integer, got {n_jobs}")
    try:
        summaries = execute(task_list, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    finally:
        if own:
            scheduler.close()
    base, axes = normalised(base, grid)
    return {"base": base, "grid": axes, "seeds": int(seeds), "seed": int(seed),
            "results": [{"setting": t["setting"], "replicate": t["replicate"], "seed": t["seed"],
                         "summary": s} for t, s in zip(task_list, summaries, strict=True)]}
