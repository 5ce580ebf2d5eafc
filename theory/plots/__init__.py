"""Figures: a registry of (compute, draw) pairs written to ``figures/<id>.{pdf,png,json}``.

``compute(budget, rng)`` does all simulation and evaluates the derivations it
overlays (never a retyped formula); its dict is saved as JSON next to the figure
with the settings and seed, so a figure can be restyled without re-simulating
and its data checked by tests. ``draw(fig, axes, data)`` is pure matplotlib.

From Python, :func:`draw` redraws a figure from its JSON (or computes it) on a new figure
or on the caller's Axes, and :func:`compute` gives the JSON record.
"""

from __future__ import annotations

import functools
import json
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import write_text_atomic
from ..store import recording
from ..parallel import map_tasks
from .registry import FIGURES, FULL, QUICK, Figure, FigureBudget, register  # noqa: F401


def to_json(obj):
    """Arrays to lists, non-finite numbers to null (JSON has neither)."""
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def compute(fig_id: str, budget: FigureBudget = QUICK, seed: int = 0) -> dict:
    """The JSON record of one figure: its simulations and the derivations it overlays, seeded by
    its id and ``seed`` (as ``closedloop figures --seed``)."""
    check_ids([fig_id])
    spec = FIGURES[fig_id]
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(fig_id.encode())]))
    with recording() as ids:  # the result ids the figure really evaluates, not a retyped list
        data = to_json(spec.compute(budget, rng))
    return {"id": fig_id, "caption": spec.caption, "budget": budget.name, "seed": seed,
            "derivations": sorted(ids), "data": data}


def draw(fig_id: str, ax=None, data=None, *, budget: FigureBudget = QUICK, seed: int = 0):
    """Draw the figure ``fig_id`` and return its ``matplotlib.figure.Figure``.

    ``data``: the figure's JSON record (``figures/<id>.json``, as written by ``closedloop
    figures``), a path to it, or its ``"data"`` entry; None computes it now (the simulations
    at ``budget``, seeded as ``closedloop figures --seed``). ``ax``: a matplotlib Axes to draw
    on (a sequence of Axes for a figure of several panels), or None for a new figure at PRL
    column width in the journal style. No backend is chosen: in a notebook the figure shows
    as usual::

        fig = theory.plots.draw("fig3_poisson", data="figures/fig3_poisson.json")
        fig, ax = plt.subplots(); theory.plots.draw("fig1c_all_up", ax=ax, data=record)
    """
    import matplotlib

    from . import style

    check_ids([fig_id])
    spec = FIGURES[fig_id]
    if data is None:
        data = compute(fig_id, budget, seed)
    elif isinstance(data, str | Path):
        data = json.loads(Path(data).read_text())
    if isinstance(data, dict) and "data" in data and data.get("id") == fig_id:
        data = data["data"]  # a whole record
    if ax is None:
        with matplotlib.rc_context(style.RC):
            fig, axes = style.figure(style.COLUMN, spec.ncols)
            spec.draw(fig, axes, data)
        return fig
    axes = np.asarray(ax, dtype=object) if isinstance(ax, list | tuple | np.ndarray) else ax
    n = axes.size if isinstance(axes, np.ndarray) else 1
    if n != spec.ncols:
        raise InputError(f"figure {fig_id} has {spec.ncols} panel(s); {n} Axes given")
    first = axes.flat[0] if isinstance(axes, np.ndarray) else axes
    spec.draw(first.figure, axes, data)
    return first.figure


def build(fig_id: str, budget: FigureBudget, out: Path, seed: int = 0) -> dict:
    """Compute, draw and save one figure at column and page width; returns its JSON record."""
    import matplotlib

    from . import style

    record = compute(fig_id, budget, seed)
    spec = FIGURES[fig_id]
    out.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(style.RC):
        for width, suffix in ((style.COLUMN, ""), (style.PAGE, "-wide")):
            fig, axes = style.figure(width, spec.ncols)
            spec.draw(fig, axes, record["data"])
            style.save(fig, out / f"{fig_id}{suffix}", png=not suffix)
    write_text_atomic(out / f"{fig_id}.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def check_ids(ids: list[str]) -> None:
    """InputError naming an unknown figure id (and the known ones), before building anything."""
    unknown = [i for i in ids if i not in FIGURES]
    if unknown or not ids:
        raise InputError(f"unknown figure id {unknown[0]!r}; known: {', '.join(FIGURES)}" if unknown
                         else f"--only needs figure ids; known: {', '.join(FIGURES)}")


def build_all(budget: FigureBudget, out: Path, seed: int = 0, progress: bool = False,
              only: list[str] | None = None, workers: int = 1, scheduler=None) -> list[dict]:
    """Build the figures (all, or ``only``), one task per figure.

    Tasks run through joblib on ``workers`` local processes, or on the Dask cluster at
    ``scheduler`` (an address or a Client; the output folder must be shared). Every figure
    is seeded by its id and the run seed, so the files do not depend on either.
    """
    from ..progress import tqdm

    ids = [i for i in FIGURES if only is None or i in only]
    bar = tqdm(total=len(ids), disable=not progress, desc="figures", unit="figure")
    try:
        records = []
        for r in map_tasks(functools.partial(build, budget=budget, out=out, seed=seed), ids,
                           workers=workers, scheduler=scheduler,
                           check=lambda fig_id, record: isinstance(record, dict) and record.get("id") == fig_id):
            records.append(r)
            bar.update()
        return records
    finally:
        bar.close()


# the figure modules register themselves: imported last, once the registry exists, so that
# FIGURES is complete whichever function is called first (build alone, too)
from . import extra, general, mixkde, operators, paper, rbm, regimes, regression  # noqa: E402,F401
