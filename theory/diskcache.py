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

Nothing runs from a planted file: every file is signed with HMAC-SHA256 under a random key
kept beside the cache (``<root>/key``, mode 0600, created once, atomically) over its name and
its bytes, and the signature is checked (``hmac.compare_digest``) before anything is
unpickled; a value read back is then checked for its type and shape (:func:`expected`) and a
file failing either check is derived afresh and replaced. The cache is used only in a root
owned by the current user and not writable by group or others, with a key file readable by
the user alone; any other root is treated as ``off`` (one warning), as is a root that is
relative or ``/`` and, without ``THEORY_CACHE_DIR`` or ``XDG_CACHE_HOME``, a ``HOME`` that is
empty, relative or ``/`` (the cache would land in the working directory or in ``/``).

The results (the :class:`~theory.derivation.Derivation` of every result id, R1–R9) are kept
the same way by :func:`cached_result`, under a key made of the subject's own ``cache_key()`` (every
field of the family's declaration, or of the setting: a new field enters the key by itself) and a hash of every module the
results are derived with (``results/``, ``families/``, ``family.py``, ``setting.py``,
``derivation.py``, ``latex.py``, ...), so a second ``derive``, a ``simulate`` or a figure build
reads them instead of redoing the SymPy work.

SymPy derived without a subject to key it by, the laws of the model classes (``theory.models``,
R12) and R9's identities in abstract cumulants, is kept the same way by :func:`cached_law`, under
the function's name and arguments and a hash of every module it is derived with (the results',
``models/`` and what it imports), so `derive`'s model-classes document, the R12 checks and the
R9 results of a fresh process read them instead of redoing seconds of SymPy.

Text rendered from a derivation (a LaTeX fragment) is kept by :func:`cached_text` as signed UTF-8
(nothing unpickled), under a hash of every module of the package taken when the rendering code
was loaded and the hash of a name saying what else it depends on (for a fragment: the
derivation's :func:`fingerprint`, its slug, the family's declaration, the LaTeX names of its
symbols), so a second ``derive`` reads the fragments instead of choosing each display's
textbook form again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import inspect
import io
import os
import pickle
import secrets
import stat
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from . import symbols as S
from .version import __version__

if TYPE_CHECKING:
    import sympy as sp

    from . import derivation, speedups
else:  # imported on first use (theory.lazy): declaring a family loads no SymPy
    from .lazy import OnDemand
    from .lazy import sympy as sp
    derivation, speedups = OnDemand("theory.derivation"), OnDemand("theory.speedups")

MISS = object()


def cache_dir() -> Path | None:
    """The cache folder, or None when disabled (``THEORY_CACHE_DIR=off``) or refused: a relative
    path or ``/``, and by default a ``HOME`` that is empty, relative or ``/`` (a cache would
    land in the working directory or in ``/``)."""
    env = os.environ.get("THEORY_CACHE_DIR")
    if env is not None:
        if env.strip().lower() in ("", "0", "off", "no", "false"):
            return None
        root = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        home = os.environ.get("HOME", os.path.expanduser("~"))  # unset: the password entry's
        if os.path.isabs(xdg):  # a relative XDG_CACHE_HOME is ignored, as XDG says
            root = Path(xdg) / "theory"
        elif os.path.isabs(home) and Path(home) != Path(Path(home).anchor):
            root = Path(home) / ".cache" / "theory"
        else:  # HOME empty, relative or /: no default (THEORY_CACHE_DIR still sets one)
            return None
    if not root.is_absolute() or root == Path(root.anchor):
        return None
    return root


def _trusted_root() -> tuple[Path, bytes] | None:
    """(root, key) of a usable cache, creating both if absent; None (one warning) if it is not ours."""
    root = cache_dir()
    if root is None:
        return None
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = root.stat()
        if not _mine(st) or st.st_mode & 0o022:
            _refuse(root, "not owned by you or writable by group/others")
            return None
        return root, _key(root)
    except _Untrusted as e:
        _refuse(root, str(e))
        return None
    except OSError:  # unwritable, a file in the way, ...: no cache, as before
        return None


def _mine(st: os.stat_result) -> bool:
    """Owned by the current user (POSIX; elsewhere the folder's ACLs decide)."""
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


class _Untrusted(Exception):
    """A key file that someone else could have read or written."""


@functools.cache  # once per root and reason in a process
def _refuse(root: Path, why: str) -> None:
    warnings.warn(f"theory: cache {root} ignored ({why}); derived results are not kept", stacklevel=3)


def _key(root: Path) -> bytes:
    """The cache's signing key: 32 random bytes in ``root/key`` (0600), created atomically (a
    concurrent process reads the same key); refused if not ours alone."""
    path = root / "key"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=".key.", dir=root)  # mkstemp creates it 0600
        try:
            os.write(fd, secrets.token_bytes(32))
            os.close(fd)
            os.link(tmp, path)  # fails if another process made one first: theirs is kept
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not _mine(st) or st.st_mode & 0o077 or not stat.S_ISREG(st.st_mode):
            raise _Untrusted(f"its key file {path} is not readable by you alone")
        key = os.read(fd, 64)
    finally:
        os.close(fd)
    if len(key) != 32:
        raise _Untrusted(f"its key file {path} is not a key")
    return key


MAGIC = b"theory-cache-hmac-sha256\n"


def _sign(key: bytes, name: str, payload: bytes) -> bytes:
    """HMAC-SHA256 of the file's name and bytes: a signed file moved to another name fails too."""
    return hmac.new(key, name.encode() + b"\0" + payload, hashlib.sha256).digest()


def _verified(key: bytes, path: Path) -> bytes | None:
    """The payload of a signed file, or None if it is absent, unsigned or signed otherwise."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, payload = data[: len(MAGIC) + 32], data[len(MAGIC) + 32:]
    if not head.startswith(MAGIC) or not hmac.compare_digest(head[len(MAGIC):], _sign(key, path.name, payload)):
        return None
    return payload


# every module the cumulants are derived with (a test checks the imports against these lists)
_CUMULANT_CODE = ("family.py", "symbols.py", "diskcache.py", "tidy.py", "fastpoly.py", "errors.py",
                  "speedups.py", "notation.py", "derivation.py", "numeric.py", "version.py",
                  "safe_parse.py", "lazy.py")


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


def _in_cache(*parts: str) -> tuple[Path, bytes] | None:
    """(path under the cache root, signing key), or None without a usable cache."""
    trusted = _trusted_root()
    return None if trusted is None else (trusted[0].joinpath(*parts), trusted[1])


def _path(family, name: str) -> tuple[Path, bytes] | None:
    return _in_cache(_code_version(), f"{family.name}-{key(family)}-{name}.pkl")


def expected(family, name: str, value) -> bool:
    """Is ``value`` what :func:`cached_on_disk` stores as ``name`` for ``family``: A a SymPy
    expression, μ a d×1 and χ a d×d matrix, κ a d×d×d array, θ(μ) and θ(conventional parameters)
    None or a dict θ_a -> expression, the conventional parameters in μ a dict name -> expression or None,
    the entropy and tr χ in μ an expression or None?"""
    d = family.d
    shapes = {"mu": (d, 1), "chi": (d, d), "kappa": (d, d, d)}
    if name in shapes:
        kind = sp.NDimArray if name == "kappa" else sp.MatrixBase
        return (isinstance(value, kind) and value.shape == shapes[name]
                and all(isinstance(x, sp.Expr) for x in sp.flatten(value.tolist())))
    if name == "conventional_mu":
        return (isinstance(value, dict) and set(value) == set(family.conventional)
                and all(v is None or isinstance(v, sp.Expr) for v in value.values()))
    if name in ("mu_inverse", "conventional_inverse"):
        return value is None or (isinstance(value, dict) and set(value) == set(family.theta)
                                 and all(isinstance(v, sp.Expr) for v in value.values()))
    if name in ("entropy_mu", "spread_mu"):
        return value is None or isinstance(value, sp.Expr)
    return isinstance(value, sp.Expr)


def load(family, name: str):
    """The cached ``name`` of ``family`` if its file is signed with this cache's key and holds
    what is expected (:func:`expected`), else MISS."""
    found = _path(family, name)
    if found is None:
        return MISS
    path, secret = found
    payload = _verified(secret, path)
    if payload is None:
        return MISS
    try:
        value = pickle.loads(payload)
    except Exception:  # from an incompatible version: derive afresh
        return MISS
    return value if expected(family, name, value) else MISS


def store(family, name: str, value) -> None:
    """Keep ``value`` (atomically: a reader sees the whole file or none); errors are ignored."""
    found = _path(family, name)
    if found is not None:
        _write(*found, value)


def cached_on_disk(fn):
    """A ``functools.cached_property`` whose value is also kept on disk (see the module doc)."""
    name = fn.__name__

    @functools.wraps(fn)
    def derive(self):
        value = load(self, name)
        if value is MISS:
            with speedups.sympy_speedups():  # theory.speedups: derived sooner, the same
                value = fn(self)
            store(self, name, value)
        return value

    return functools.cached_property(derive)


# --- derived results -----------------------------------------------------------------------------
# every module a result's derivation (or the LaTeX width test of R9's displays) reads, besides
# the cumulants' (hashed through _code_version)
_RESULT_CODE = ("setting.py", "regime.py", "operator.py", "twin.py", "results", "families")


@functools.lru_cache(maxsize=1)
def _results_version() -> str:
    return _hash_code(_RESULT_CODE, seed=_code_version())


def _result_path(result_id: str, subject) -> tuple[Path, bytes] | None:
    return _in_cache(f"results-{_results_version()}", f"{subject.slug}-{key(subject)}-{result_id}.pkl")


def _latex_names() -> dict:
    """The LaTeX names of the project's symbols (``symbols.LATEX``), kept with each derivation:
    a fresh process that reads it may not have created its symbols yet, and prints with them.
    All of them (a few hundred strings), which is cheaper than walking the expressions."""
    return dict(S.LATEX)


def cached_result(result_id: str, subject, derive):
    """The derivation ``result_id`` of ``subject`` (a family or a setting, with ``slug`` and
    ``cache_key()``) from the disk, or ``derive()`` kept there."""
    found = _result_path(result_id, subject)
    if found is None:
        return derive()
    read = _read_result(*found, result_id)
    if read is MISS:  # absent, unsigned, signed otherwise, or not this result: derived and replaced
        value = derive()
        _write(*found, (value, _latex_names()))
        return value
    value, names = read
    for sym, tex in names.items():
        S.LATEX.setdefault(sym, tex)
    return value


def _read_result(path: Path, secret: bytes, result_id: str):
    """(derivation, LaTeX names) from a signed file holding the derivation ``result_id`` (or None,
    a result that does not apply) and a dict of symbols to strings; else MISS."""
    payload = _verified(secret, path)
    if payload is None:
        return MISS
    try:
        value, names = pickle.loads(payload)
    except Exception:  # from an incompatible version: derive afresh
        return MISS
    if value is not None and not (isinstance(value, derivation.Derivation) and value.id == result_id):
        return MISS
    if not _latex_table(names):
        return MISS
    return value, names


def _latex_table(names) -> bool:
    """Is ``names`` a dict of SymPy symbols to strings (the LaTeX names kept with a derivation)?"""
    return isinstance(names, dict) and all(isinstance(k, sp.Symbol) and isinstance(v, str)
                                           for k, v in names.items())


# --- laws derived without a subject --------------------------------------------------------------
# every module they are derived with, besides the results' (hashed through _results_version):
# theory.models imports the store, and the store the engine
_LAW_CODE = ("models", "engine", "store.py", "params.py", "io.py", "laws.py", "progress.py")


@functools.lru_cache(maxsize=1)
def _laws_version() -> str:
    return _hash_code(_LAW_CODE, seed=_results_version())


def cached_law(fn):
    """``functools.cache`` for SymPy derived without a subject (a model class's law, R9's generic
    identities), also kept on disk: under the function's qualified name and arguments (defaults
    filled in), signed as the results are, with the LaTeX names of the project's symbols (as
    :func:`cached_result`), and read back only if it holds that name and a value made of SymPy
    objects, numbers, strings, booleans and containers of them (:func:`plain`). Arguments enter the
    key by :func:`canonical` (a SymPy symbol with its assumptions, unlike its repr)."""
    signature = inspect.signature(fn)

    @functools.cache
    def law(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        name = f"{fn.__module__}.{fn.__qualname__}({', '.join(f'{k}={canonical(v)}' for k, v in bound.arguments.items())})"
        found = _in_cache(f"laws-{_laws_version()}", hashlib.sha256(name.encode()).hexdigest()[:32] + ".pkl")
        if found is None:
            return fn(*args, **kwargs)
        payload = _verified(found[1], found[0])
        if payload is not None:
            try:
                read_name, value, names = pickle.loads(payload)
            except Exception:  # from an incompatible version: derive afresh
                read_name = None
            if read_name == name and plain(value) and _latex_table(names):
                for sym, tex in names.items():
                    S.LATEX.setdefault(sym, tex)
                return value
        value = fn(*args, **kwargs)
        _write(*found, (name, value, _latex_names()))
        return value

    return functools.update_wrapper(law, fn)


# --- text rendered from derivations ------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """Hash of every module of the package (subfolders too), with the package's and SymPy's versions."""
    here = Path(__file__).resolve().parent
    folders = sorted({str(f.parent.relative_to(here)) for f in here.rglob("*.py")})
    return _hash_code([folder if folder != "." else "" for folder in folders], seed=_code_version())


def fingerprint(value) -> str:
    """A hash of ``value``'s pickle (sums and products as they are): equal objects built alike
    give the same one, and two that differ in anything never do. Much cheaper than
    :func:`canonical` on large expressions (no printing); an object built in another order
    (a derivation made afresh rather than read from the disk) may give another, which is only
    a miss for :func:`cached_text`. Raises what pickling raises (a lambda, a local class)."""
    return hashlib.sha256(_dumps(value)).hexdigest()


def cached_text(code: str, name, make) -> str:
    """``make()``, a string, kept on disk under ``code`` (a hash of the code that makes it, e.g.
    :func:`package_version` taken when that code was loaded) and ``name()``, which must say
    everything else the text depends on (for a fragment: the derivation it renders). Signed as
    the results are and stored as UTF-8 text after the SHA-256 of the name (nothing is
    unpickled), read back only if the file holds that name's hash. Without a usable cache, or
    when ``name()`` raises (an object that cannot be fingerprinted), the text is made afresh."""
    root = _trusted_root()
    if root is None:
        return make()
    try:
        digest = hashlib.sha256(name().encode()).digest()
    except Exception:  # nothing to key it by: made, not kept
        return make()
    path, secret = root[0] / f"texts-{code}" / (digest.hex()[:32] + ".txt"), root[1]
    payload = _verified(secret, path)
    if payload is not None and payload[:32] == digest:
        try:
            return payload[32:].decode()
        except UnicodeDecodeError:
            pass
    text = make()
    _write_bytes(path, secret, digest + text.encode())
    return text

def plain(value) -> bool:
    """Is ``value`` made only of SymPy objects (matrices too), numbers, strings, booleans, None and
    tuples, lists and dicts of them?"""
    if value is None or isinstance(value, bool | int | float | str | sp.Basic | sp.MatrixBase):
        return True
    if isinstance(value, tuple | list):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(plain(k) and plain(v) for k, v in value.items())
    return False


def _assoc(cls, args):
    return cls._from_args(args)


class _Pickler(pickle.Pickler):
    """Pickles sums and products as they are: SymPy's own pickling rebuilds them through the
    evaluating constructor, which turns a factored (μ + 10)/20 into μ/20 + 1/2."""

    def reducer_override(self, obj):
        if type(obj) in (sp.Add, sp.Mul):
            return _assoc, (type(obj), obj.args)
        return NotImplemented


def _write(path: Path, secret: bytes, value) -> None:
    """Pickle ``value`` (sums and products as they are), sign it, and replace ``path`` atomically."""
    try:
        payload = _dumps(value)
    except Exception:
        return
    _write_bytes(path, secret, payload)


def _write_bytes(path: Path, secret: bytes, payload: bytes) -> None:
    """Sign ``payload`` and replace ``path`` with it atomically (nothing on failure)."""
    tmp = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + _sign(secret, path.name, payload) + payload)
        os.replace(tmp, path)
    except Exception:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _dumps(value) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()
