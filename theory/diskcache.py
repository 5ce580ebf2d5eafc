"""Derive once: SymPy objects derived from a family's declaration, kept on disk between runs.

``ExponentialFamily`` derives A, μ, χ, κ and the inverse mean map with SymPy on
first use; a fresh process (every ``closedloop`` call, every worker of a sweep)
would redo it. Each is pickled to ``$THEORY_CACHE_DIR`` (default
``$XDG_CACHE_HOME/theory`` or ``~/.cache/theory``) under a key made of the
declaration (the family's own :meth:`cache_key`: every field, SymPy objects as ``srepr``),
the package and SymPy versions, and a hash of the code that derives them (``family.py``,
``symbols.py``, ...), so an edit of either misses instead of serving stale results.
``THEORY_CACHE_DIR=off`` disables it. A cache that cannot be read or written is
ignored: the object is derived as before.

The results (the :class:`~theory.derivation.Derivation` of every result id, R1–R9) are kept
the same way by :func:`cached_result`, under a key made of the subject's own ``cache_key()`` (every
field of the family's declaration, or of the setting: a new field enters the key by itself) and a hash of every module the
results are derived with (``results/``, ``families/``, ``family.py``, ``setting.py``,
``derivation.py``, ``latex.py``, ...), so a second ``derive``, a ``simulate`` or a figure build
reads them instead of redoing the SymPy work.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import sympy as sp

from . import symbols as S
from .derivation import Derivation
from .speedups import sympy_speedups
from .version import __version__

MISS = object()


def cache_dir() -> Path | None:
    """The cache folder, or None when disabled (``THEORY_CACHE_DIR=off``)."""
    env = os.environ.get("THEORY_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "no", "false") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "theory"


# every module the cumulants are derived with (a test checks the imports against these lists)
_CUMULANT_CODE = ("family.py", "symbols.py", "diskcache.py", "tidy.py", "fastpoly.py", "errors.py",
                  "speedups.py", "notation.py", "derivation.py", "numeric.py", "version.py",
                  "safe_parse.py")


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    return f"{__version__}-sympy{sp.__version__}-{_hash_code(_CUMULANT_CODE)}"


def _hash_code(names, seed: str = "") -> str:
    """Hash of the package's modules ``names`` (a folder stands for its modules), in order."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(seed.encode())
    for name in names:
        path = here / name
        for f in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            digest.update(f"{f.relative_to(here)}\n".encode())
            try:
                digest.update(f.read_bytes())
            except OSError:
                pass
    return digest.hexdigest()[:16]


def canonical(value) -> str:
    """A stable text of a declaration: dataclasses field by field (by their class name), SymPy
    objects as ``srepr``, mappings and sequences item by item, functions by qualified name.

    A subject's ``cache_key()`` is this text, so a field added to a dataclass enters the key
    of everything derived from it without an edit here.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{f.name}={canonical(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, sp.Basic):
        return sp.srepr(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return "{" + ", ".join(f"{canonical(k)}: {canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(canonical(v) for v in value) + ")"
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return repr(value)


def key(subject) -> str:
    """Hash of the subject's declaration (its ``cache_key()``)."""
    return hashlib.sha256(subject.cache_key().encode()).hexdigest()[:32]


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
    if path is not None:
        _write(path, value)


def cached_on_disk(fn):
    """A ``functools.cached_property`` whose value is also kept on disk (see the module doc)."""
    name = fn.__name__

    @functools.wraps(fn)
    def derive(self):
        value = load(self, name)
        if value is MISS:
            with sympy_speedups():  # theory.speedups: derived sooner, the same
                value = fn(self)
            store(self, name, value)
        return value

    return functools.cached_property(derive)


# --- derived results -----------------------------------------------------------------------------
# every module a result's derivation (or the LaTeX width test of R9's displays) reads, besides
# the cumulants' (hashed through _code_version)
_RESULT_CODE = ("setting.py", "results", "families")


@functools.lru_cache(maxsize=1)
def _results_version() -> str:
    return _hash_code(_RESULT_CODE, seed=_code_version())


def _result_path(result_id: str, subject) -> Path | None:
    root = cache_dir()
    if root is None:
        return None
    return root / f"results-{_results_version()}" / f"{subject.slug}-{key(subject)}-{result_id}.pkl"


def _latex_names() -> dict:
    """The LaTeX names of the project's symbols (``symbols.LATEX``), kept with each derivation:
    a fresh process that reads it may not have created its symbols yet, and prints with them.
    All of them (a few hundred strings), which is cheaper than walking the expressions."""
    return dict(S.LATEX)


def cached_result(result_id: str, subject, derive):
    """The derivation ``result_id`` of ``subject`` (a family or a setting, with ``slug`` and
    ``cache_key()``) from the disk, or ``derive()`` kept there."""
    path = _result_path(result_id, subject)
    if path is None:
        return derive()
    found = _read_result(path, result_id)
    if found is MISS:
        value = derive()
        _write(path, (value, _latex_names()))
        return value
    value, names = found
    for sym, tex in names.items():
        S.LATEX.setdefault(sym, tex)
    return value


def _read_result(path: Path, result_id: str):
    try:
        with open(path, "rb") as f:
            value, names = pickle.load(f)
        if value is not None and not (isinstance(value, Derivation) and value.id == result_id):
            return MISS
        if not isinstance(names, dict):
            return MISS
        return value, names
    except Exception:  # absent, truncated or from an incompatible version: derive afresh
        return MISS


def _assoc(cls, args):
    return cls._from_args(args)


class _Pickler(pickle.Pickler):
    """Pickles sums and products as they are: SymPy's own pickling rebuilds them through the
    evaluating constructor, which turns a factored (μ + 10)/20 into μ/20 + 1/2."""

    def reducer_override(self, obj):
        if type(obj) in (sp.Add, sp.Mul):
            return _assoc, (type(obj), obj.args)
        return NotImplemented


def _write(path: Path, value) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        os.replace(tmp, path)
    except Exception:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
