"""examples/: every notebook's code cells run, in order, in one namespace (no Jupyter needed).

The cells are executed with exec() rather than nbclient so that the test suite needs no
Jupyter kernel; figures go to matplotlib's Agg backend.
"""

import json
import time
from pathlib import Path

import matplotlib
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("notebook", sorted(p.name for p in EXAMPLES.glob("*.ipynb")))
def test_notebook_runs(notebook):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = json.loads((EXAMPLES / notebook).read_text())
    assert nb["nbformat"] == 4
    namespace = {"__name__": "__notebook__"}
    start = time.perf_counter()
    for n, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        exec(compile(source, f"{notebook} cell {n}", "exec"), namespace)
    plt.close("all")
    assert time.perf_counter() - start < 60, "the examples must stay quick"
