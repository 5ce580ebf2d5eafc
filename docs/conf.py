"""Sphinx configuration: MyST Markdown pages, the notebooks executed by myst-nb, the API from
docstrings (autodoc). Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout, whichever theory is installed
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from theory import __version__  # noqa: E402

project = "theory"
author = "The theory authors"
copyright = "2026, the theory authors (MIT licence)"
version = release = __version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "jupyter_execute", ".jupyter_cache"]

# notebooks run at every build (a failing cell fails the build), outputs rendered in the page
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": False}

html_theme = "alabaster"
html_title = f"theory {version}"
html_static_path: list[str] = []
