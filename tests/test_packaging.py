"""Packaging: the licence, the citation file, the metadata, py.typed, and dask as an optional extra."""

import re
import sys
import tomllib
from pathlib import Path

import pytest

from theory.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_licence_is_mit_and_the_metadata_says_so():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    assert PYPROJECT["urls"]["Paper"] == "https://arxiv.org/abs/2506.20623"


def test_the_citation_file_cites_the_toolkit_and_the_paper():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    from theory import __version__

    assert cff["version"] == __version__
    (paper,) = cff["references"]
    assert paper["journal"] == "Physical Review Letters"
    assert (paper["volume"], paper["start"]) == (136, 197301)
    assert [a["family-names"] for a in paper["authors"]] == ["Jangjoo", "Di Sarra", "Marsili", "Roudi"]


def test_the_package_is_typed():
    assert (ROOT / "theory" / "py.typed").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["theory"]


def test_dask_is_an_extra_not_a_requirement():
    names = {re.split(r"[<>=!~ \[]", req)[0] for req in PYPROJECT["dependencies"]}
    assert not names & {"dask", "distributed"}
    extra = PYPROJECT["optional-dependencies"]["dask"]
    assert {re.split(r"[<>=]", r)[0] for r in extra} == {"dask", "distributed"}


def test_scheduler_without_the_dask_extra_is_one_line(monkeypatch, capsys):
    for name in ("dask", "dask.distributed", "distributed", "distributed.security"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, as when not installed
    argv = ["sweep", "--family", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "2",
            "--chains", "2", "--quiet", "--scheduler", "tcp://127.0.0.1:9"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "closedloop: error: --scheduler needs the dask extra: pip install 'theory[dask]'\n"
