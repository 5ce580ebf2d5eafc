"""The documentation: every public name in the API reference, and the site builds with warnings
as errors (Sphinx + MyST-NB; the notebook's code is run by test_examples), when the docs extra
is installed."""

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
    listed = set(re.findall(r"^\.\. (?:auto\w+|py:\w+):: theory\.(\w+)$", api, re.M))
    assert listed == set(theory.__all__), (set(theory.__all__) - listed, listed - set(theory.__all__))
    for name in theory.__all__:
        value = getattr(theory, name)
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
            own = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
            assert own and own.strip(), f"theory.{name} has no docstring"
        else:  # data: described in the page itself
            assert re.search(rf"py:data:: theory\.{re.escape(name)}\n(?:   :\w+:.*\n)*\n   \S", api), name


def test_the_readme_is_one_page_that_stands_on_its_own():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "SPEC" not in readme
    for link in re.findall(r"\]\(([^)#]+)\)", readme):  # every link into the repository exists
        assert (ROOT / link).exists(), link


def test_the_readme_names_every_command_and_flag():
    import argparse

    from theory.cli import build_parser

    readme = (ROOT / "README.md").read_text()
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, parser in commands.choices.items():
        assert f"`{name}" in readme, name
        flags = {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
        assert not {f for f in flags if not re.search(rf"{re.escape(f)}(?![\w-])", readme)}, name


def test_every_page_is_in_the_table_of_contents():
    index = (DOCS / "index.md").read_text()
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")} - {"index"}
    pages |= {"notebooks/quickstart"}
    assert not {p for p in pages if not re.search(rf"^{re.escape(p)}$", index, re.M)}


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    pytest.importorskip("myst_nb", reason="the docs extra is not installed")
    # the notebook not executed here: its code is run by tests/test_examples.py (the same file,
    # docs/notebooks links to examples/), and a Jupyter kernel to run it again cost a third of the
    # build (2.6 CPU-s); the published site executes it (docs/conf.py)
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            "-D", "nb_execution_mode=off",
                            "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-4000:]
    page = (tmp_path / "html" / "notebooks" / "quickstart.html").read_text()
    assert "simulate" in page and "cell_input" in page  # the notebook's cells are in the page
