"""Derive once: SymPy objects derived from a family's declaration, kept on disk between runs.

``ExponentialFamily`` derives A, μ, χ, κ and the inverse mean map with SymPy on
first use; a fresh process (every ``closedloop`` call, every worker of a sweep)
would redo it. Each is pickled to ``$THEORY_CACHE_DIR`` (default
``$XDG_CACHE_HOME/theory`` or ``~/.cache/theory``) under a key made of the
declaration (space, φ, h, parameter names and signs, as ``srepr``), the package
and SymPy versions, and a hash of the code that derives them (``family.py``,
``symbols.py``), so an edit of either misses instead of serving stale results.
``THEORY_CACHE_DIR=off`` disables it. A cache that cannot be read or written is
ignored: the object is derived as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import sympy as sp

MISS = object()


def cache_dir() -> Path | None:
    """The cache folder, or None when disabled (``THEORY_CACHE_DIR=off``)."""
    env = os.environ.get("THEORY_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "no", "false") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "theory"


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    try:
        from . import __version__
    except ImportError:
        __version__ = "0"
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ("family.py", "symbols.py", "diskcache.py"):
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return f"{__version__}-sympy{sp.__version__}-{digest.hexdigest()[:16]}"


def key(family) -> str:
    """Hash of what the derived cumulants depend on: the declaration and the code version."""
    parts = [_code_version(), family.name, repr(family.space), sp.srepr(tuple(family.phi)),
             sp.srepr(family.h), repr(tuple(family.negative)), repr(family.natural_names),
             sp.srepr(tuple(family.theta))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _path(family, name: str) -> Path | None:
    root = cache_dir()
    return None if root is None else root / _code_version() / f"{family.name}-{key(family)}-{name}.pkl"


def load(family, name: str):
    """The cached ``name`` of ``family``, or MISS."""
    path = _path(family, name)
    if path is None:
        return MISS
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # absent, truncated or from an incompatible version: derive afresh
        return MISS


def store(family, name: str, value) -> None:
    """Keep ``value`` (atomically: a reader sees the whole file or none); errors are ignored."""
    path = _path(family, name)
    if path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def cached_on_disk(fn):
    """A ``functools.cached_property`` whose value is also kept on disk (see the module doc)."""
    name = fn.__name__

    @functools.wraps(fn)
    def derive(self):
        value = load(self, name)
        if value is MISS:
            value = fn(self)
            store(self, name, value)
        return value

    return functools.cached_property(derive)
