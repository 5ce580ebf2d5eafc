"""Figures: every one is built, deterministic, current, and its points sit on its exact theory lines."""

import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from theory.plots import FIGURES, FigureBudget, build, build_all, compute, style
from theory.stats import threshold

from conftest import once_per_run

COMMITTED = Path(__file__).resolve().parents[1] / "figures"

# every figure's code at a tenth of the quick budget's chains (at least 10 per point): the
# simulations take 7 CPU-s (10 at a quarter), the drawing the same; the theory lines do not depend on it
SMOKE = FigureBudget("smoke", 0.1)


def draw_every_figure(out: Path) -> None:
    """Each figure's record as `build` writes it, and its drawing at both widths, laid out with no
    pixels (``draw_without_rendering``: the layout is what can fail, and what differs between the
    widths; saving a PDF cost twice as much again). `build`'s files (the PDFs with their fonts
    embedded, the 200-dpi PNG) run the same saving code for every figure: they are checked on the
    figures built below by `build` itself (test_every_figure_is_drawn_at_both_widths,
    test_same_seed_same_data and the backends' test). A warning (a layout that cannot be made,
    a glyph missing) fails the build."""
    for fig_id, spec in FIGURES.items():
        record = compute(fig_id, SMOKE)
        (out / f"{fig_id}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        with matplotlib.rc_context(style.RC), warnings.catch_warnings():
            # a layout that cannot be made (constrained layout warns), a glyph missing, a numpy
            # warning: errors (a library's deprecation notices are not the figures' concern)
            warnings.simplefilter("error", UserWarning)
            warnings.simplefilter("error", RuntimeWarning)
            for width in (style.COLUMN, style.PAGE):
                fig, axes = style.figure(width, spec.ncols)
                spec.draw(fig, axes, record["data"])
                fig.draw_without_rendering()


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Every figure at the smoke budget, once per run, in this process (it shares the derivations
    already loaded here; test_workers_and_a_dask_cluster_do_not_change_the_data runs the others);
    the records are read back from their JSON."""
    out = once_per_run(tmp_path_factory, "figures", draw_every_figure)
    return out, {fig_id: json.loads((out / f"{fig_id}.json").read_text()) for fig_id in FIGURES}


def test_every_figure_is_drawn_at_both_widths(built, tmp_path):
    """Every figure drawn at column width into its PDF and at page width; `build` writes the four
    files of a figure, the same JSON as the session's."""
    out, records = built
    assert set(records) == set(FIGURES) and len(records) >= 9
    for fig_id in records:
        assert (out / f"{fig_id}.json").stat().st_size > 1000, fig_id
    build("reparametrisation", SMOKE, tmp_path)
    for name in ("reparametrisation.pdf", "reparametrisation-wide.pdf", "reparametrisation.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert (tmp_path / "reparametrisation.json").read_text() == (out / "reparametrisation.json").read_text()


def test_points_match_the_exact_theory_lines(built):
    """Every exact overlay (R1, R5, R6, R8, exact chain): |z| ≤ z*, Šidák over all points at 1e-3
    (a z-test keeps its size at the smoke budget; the committed quick-budget data below too)."""
    _, records = built
    zs = []
    for r in records.values():
        for c in r["data"].get("checks", []):
            est, sem, theory = (np.array(c[k], dtype=float) for k in ("estimate", "sem", "theory"))
            zs += [(r["id"], c["what"], float(z)) for z in (est - theory) / sem]
    assert len(zs) > 50
    z_star = threshold(len(zs))
    bad = [z for z in zs if not abs(z[2]) <= z_star]
    assert not bad, (z_star, bad)


def test_same_seed_same_data(built, tmp_path):
    """A second build of a figure, here in this process, repeats the session's build (a worker's)."""
    out, records = built
    again = build("estimators", SMOKE, tmp_path, seed=0)
    assert (tmp_path / "estimators.json").read_text() == (out / "estimators.json").read_text()
    assert again == records["estimators"]


def test_committed_figures_are_current(built):
    """The committed figures come from the current code: same records, keys and theory lines.

    Monte Carlo numbers are not compared bit for bit (the last bits of a refit, hence a
    draw, differ across CPUs and libms); they are checked against their derivation
    by :func:`test_committed_points_match_their_theory_lines` instead. The theory lines do not
    depend on the number of chains, so the session's smoke build is compared with the
    committed quick one (`closedloop figures`' default budget).
    """
    out, records = built
    for fig_id in records:
        committed = json.loads((COMMITTED / f"{fig_id}.json").read_text())
        fresh = json.loads((out / f"{fig_id}.json").read_text())
        assert committed["budget"] == "quick", f"{fig_id}.budget: run `closedloop figures`"
        for key in ("id", "caption", "derivations", "seed"):
            assert committed[key] == fresh[key], f"{fig_id}.{key}: run `closedloop figures`"
        _assert_same_theory(committed["data"], fresh["data"], fig_id)


def test_committed_points_match_their_theory_lines():
    """The committed data, wherever it was made, lies on its exact lines within z* (Šidák, 1e-3)."""
    zs = []
    for path in sorted(COMMITTED.glob("*.json")):
        for c in json.loads(path.read_text())["data"].get("checks", []):
            est, sem, theory = (np.array(c[k], dtype=float) for k in ("estimate", "sem", "theory"))
            zs += [(path.stem, c["what"], float(z)) for z in (est - theory) / sem]
    assert len(zs) > 50
    z_star = threshold(len(zs))
    assert not [z for z in zs if not abs(z[2]) <= z_star]


def _assert_same_theory(a, b, where, theory=False):
    """Same keys everywhere; values under a ``theory*`` key equal up to floating-point rounding."""
    if isinstance(a, dict):
        assert set(a) == set(b), f"{where}: run `closedloop figures`"
        for k in a:
            _assert_same_theory(a[k], b[k], f"{where}.{k}", theory or k.startswith("theory"))
    elif isinstance(a, list):
        if theory or (a and isinstance(a[0], dict | list)):
            assert len(a) == len(b), where
            for x, y in zip(a, b, strict=True):
                _assert_same_theory(x, y, where, theory)
    elif theory and isinstance(a, float | int) and isinstance(b, float | int):
        assert np.isclose(a, b, rtol=1e-9, atol=1e-12), f"{where}: run `closedloop figures`"


def test_every_figure_records_the_ids_it_evaluates(built):
    """The JSON lists the derivations the figure read from the store; they are the declared ones."""
    _, records = built
    for fig_id, r in records.items():
        assert r["derivations"] == sorted(FIGURES[fig_id].derivations), fig_id


def test_workers_and_a_dask_cluster_do_not_change_the_data(built, dask_client, tmp_path):
    """One figure per task, seeded by its id: 1 or 2 joblib workers or Dask give the same files.

    The session's build ran in one process; here two figures again on 2 joblib workers and one
    on the Dask cluster.
    """
    out, _ = built
    build_all(SMOKE, tmp_path / "two", only=["entropy", "reparametrisation"], workers=2)
    build_all(SMOKE, tmp_path / "dask", only=["estimators"], scheduler=dask_client)
    for folder, i in (("two", "entropy"), ("two", "reparametrisation"), ("dask", "estimators")):
        assert (tmp_path / folder / f"{i}.json").read_text() == (out / f"{i}.json").read_text(), (folder, i)


def test_every_figure_is_listed_in_the_readme_and_shown_in_the_docs():
    from theory.plots import FIGURES

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    gallery = (root / "docs" / "howto" / "reproduce-figure.md").read_text()
    missing = [i for i in FIGURES if f"`{i}`" not in readme or f"### `{i}`" not in gallery]
    assert not missing, f"figures missing from README.md or docs/howto/reproduce-figure.md: {missing}"
