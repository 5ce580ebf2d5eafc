"""The documentation: every public name in the API reference, and the site builds with warnings
as errors (Sphinx + MyST-NB, the notebooks executed), when the docs extra is installed."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import theory

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_every_public_name_is_in_the_api_reference_with_a_docstring():
    api = (DOCS / "api.md").read_text()
    listed = set(re.findall(r"^\.\. (?:auto\w+|py:\w+):: theory\.(\w+)", api, re.M))
    assert listed == set(theory.__all__), (set(theory.__all__) - listed, listed - set(theory.__all__))
    for name in theory.__all__:
        value = getattr(theory, name)
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
            own = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
            assert own and own.strip(), f"theory.{name} has no docstring"
        else:  # data: described in the page itself
            assert re.search(rf"py:data:: theory\.{re.escape(name)}\n(?:   :\w+:.*\n)*\n   \S", api), name


def test_every_page_is_in_the_table_of_contents():
    index = (DOCS / "index.md").read_text()
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")} - {"index"}
    pages |= {"notebooks/quickstart"}
    assert not {p for p in pages if not re.search(rf"^{re.escape(p)}$", index, re.M)}


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    pytest.importorskip("myst_nb", reason="the docs extra is not installed")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-4000:]
    page = (tmp_path / "html" / "notebooks" / "quickstart.html").read_text()
    assert "cell_output" in page  # the notebook ran and its outputs are in the page
