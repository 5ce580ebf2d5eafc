"""Output: atomic files (a temporary file in the same folder, then ``os.replace``), JSON without
NaN or infinities, and output paths checked writable before any computing.

An interrupted run leaves either the old file or the new one, never half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path next to ``path`` (same suffix, so e.g. ``savefig`` infers the format);
    moved onto ``path`` when the block succeeds, removed when it raises."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """``Path.write_text``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def json_text(obj, **options) -> str:
    """``json.dumps(obj, indent=1)`` refusing NaN and ±infinity (``allow_nan=False``): JSON has
    no such numbers, so every producer writes an undefined or overflowed value as null."""
    return json.dumps(obj, indent=1, allow_nan=False, **options)


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    """``obj`` as JSON (:func:`json_text`, newline-terminated) at ``path``, atomically and synced:
    readers see the old file or the whole new one."""
    text = json_text(obj) + "\n"
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def check_file_writable(path: str | os.PathLike, option: str = "--out") -> None:
    """Before any computing: the folder of ``path`` can be created and written into, and
    ``path`` is not a folder; InputError if not."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder, expected a file name")
    check_writable(path.parent, option)


def check_writable(folder: str | os.PathLike, option: str = "--out") -> None:
    """Create ``folder`` and a file in it, before any computing; InputError if that fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise InputError(f"{option} {folder}: cannot write there ({e.strerror or e})") from None


def read_text_limited(path: str | os.PathLike, option: str, max_bytes: int) -> str:
    """The text of a user's file, at most ``max_bytes`` (a FIFO or /dev/zero would never end);
    InputError if it cannot be read, is larger, or is not UTF-8 text."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise InputError(f"{option} {path}: cannot read it ({e.strerror or e})") from None
    if len(raw) > max_bytes:
        raise InputError(f"{option} {path}: larger than {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{option} {path}: not UTF-8 text") from None
