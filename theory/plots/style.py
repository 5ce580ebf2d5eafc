"""Journal styling and deterministic saving (PRL widths; no timestamps in the files).

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot, so building or
drawing one never switches the backend of the user's session (a notebook keeps its own).

The colour cycle is Okabe & Ito's (2008), distinguishable under the common colour-vision
deficiencies and in greyscale by lightness; every series also gets its own marker
(:data:`MARKERS`), so no two series differ by colour alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cycler import cycler
from matplotlib.figure import Figure

from ..io import atomic_path

# Type 42 fonts (journals reject Type 3) go through fontTools, which warns about the
# epoch-0 timestamps of the bundled fonts: harmless, and not something a user can act on
logging.getLogger("fontTools").setLevel(logging.ERROR)

COLUMN = 3.39  # in: PRL single column (8.6 cm)
PAGE = 7.0     # in: PRL double column (17.8 cm)

# Okabe–Ito: blue, vermillion, bluish green, orange, reddish purple, sky blue, yellow, black
COLORS = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")  # one per series, in the order of COLORS

RC = {"font.size": 8, "axes.labelsize": 8, "legend.fontsize": 6.5, "xtick.labelsize": 7,
      "ytick.labelsize": 7, "lines.linewidth": 1.0, "lines.markersize": 3, "font.family": "serif",
      "mathtext.fontset": "cm", "pdf.fonttype": 42, "axes.grid": False, "legend.frameon": False,
      "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
      "axes.prop_cycle": cycler(color=COLORS)}


def color(i: int) -> str:
    """The i-th colour of the cycle."""
    return COLORS[i % len(COLORS)]


def marker(i: int) -> str:
    """The i-th marker, paired with :func:`color` ``(i)``."""
    return MARKERS[i % len(MARKERS)]


def figure(width: float, ncols: int = 1, aspect: float = 0.72):
    """A figure ``width`` inches wide with ``ncols`` panels (call inside
    ``matplotlib.rc_context(RC)``); no pyplot, so no backend is chosen or changed."""
    height = aspect * width if ncols == 1 else 0.9 * aspect * width / ncols * 1.4
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols)


def save(fig, stem: Path, png: bool = True) -> list[Path]:
    """PDF (and PNG) with no creation date, so a fixed seed gives the same file."""
    out = [stem.with_suffix(".pdf")]
    with atomic_path(out[0]) as tmp:
        fig.savefig(tmp, metadata={"CreationDate": None, "ModDate": None, "Producer": None})
    if png:
        out.append(stem.with_suffix(".png"))
        with atomic_path(out[1]) as tmp:
            fig.savefig(tmp, dpi=200, metadata={"Software": None})
    return out
