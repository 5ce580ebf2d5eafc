"""Progress bars that say nothing on import.

``tqdm.auto`` picks the notebook widget in Jupyter, but where ipywidgets is missing it warns
(``TqdmWarning: IProgress not found``) the moment it is imported, even for a bar that is
disabled. The widget is therefore used only when ipywidgets is installed, else the text bar.
"""

from __future__ import annotations

import importlib.util


def tqdm(*args, **kwargs):
    """A ``tqdm`` bar: the notebook widget where ipywidgets is installed, else ``tqdm.std``."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm as bar
    else:
        from tqdm.std import tqdm as bar
    return bar(*args, **kwargs)
