"""Atomic file writing: a crash leaves the old file or the new one, never half of one.

Everything the package writes that a user would be sorry to lose (checkpoints
(:mod:`poselift.checkpoint`), metrics, caches, logs) goes through :func:`atomic_path`: the content is written
to a temporary file in the destination folder, flushed to disk, then renamed
over the destination (``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_json", "read_json"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _json_default(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: not UTF-8 text, or not valid JSON (``<path>: corrupt JSON at line L column C (...)``),
            including truncated files and nesting too deep to parse.
    """
    from poselift.core.errors import FileFormatError, reading

    path = Path(path)
    with reading(path, "JSON"):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise FileFormatError(f"{path}: corrupt JSON: not UTF-8 text (byte {e.start})", path) from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise FileFormatError(f"{path}: corrupt JSON at line {e.lineno} column {e.colno} ({e.msg})", path) from None
