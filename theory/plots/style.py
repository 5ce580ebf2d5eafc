"""Journal styling and deterministic saving (PRL widths; no timestamps in the files)."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display: identical on a laptop and in CI
import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path  # noqa: E402

# Type 42 fonts (journals reject Type 3) go through fontTools, which warns about the
# epoch-0 timestamps of the bundled fonts: harmless, and not something a user can act on
logging.getLogger("fontTools").setLevel(logging.ERROR)

COLUMN = 3.39  # in: PRL single column (8.6 cm)
PAGE = 7.0     # in: PRL double column (17.8 cm)
RC = {"font.size": 8, "axes.labelsize": 8, "legend.fontsize": 6.5, "xtick.labelsize": 7,
      "ytick.labelsize": 7, "lines.linewidth": 1.0, "lines.markersize": 3, "font.family": "serif",
      "mathtext.fontset": "cm", "pdf.fonttype": 42, "axes.grid": False, "legend.frameon": False,
      "savefig.bbox": "tight", "savefig.pad_inches": 0.02}


def figure(width: float, ncols: int = 1, aspect: float = 0.72):
    """A figure ``width`` inches wide with ``ncols`` panels (call inside ``plt.style.context(RC)``)."""
    height = aspect * width if ncols == 1 else 0.9 * aspect * width / ncols * 1.4
    return plt.subplots(1, ncols, figsize=(width, height), layout="constrained")


def save(fig, stem: Path, png: bool = True) -> list[Path]:
    """PDF (and PNG) with no creation date, so a fixed seed gives the same file."""
    out = [stem.with_suffix(".pdf")]
    with atomic_path(out[0]) as tmp:
        fig.savefig(tmp, metadata={"CreationDate": None, "ModDate": None, "Producer": None})
    if png:
        out.append(stem.with_suffix(".png"))
        with atomic_path(out[1]) as tmp:
            fig.savefig(tmp, dpi=200, metadata={"Software": None})
    plt.close(fig)
    return out
