"""Atomic file writing: a crash leaves the old file or the new one, never half of one.

Everything the package writes that a user would be sorry to lose (checkpoints,
metrics, caches, logs) goes through :func:`atomic_path`: the content is written
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

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_json", "atomic_torch_save", "read_json", "load_checkpoint"]


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


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`atomic_torch_save`, as untrusted data.

    Always ``torch.load(..., weights_only=True)``: tensors, numbers, strings and
    plain containers only. A pickle that names any other Python object (a
    class, or a function such as ``os.system`` that would run when unpickled)
    is refused before anything of it runs.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: corrupt or truncated, not a checkpoint, not a dict at
            the top level, or refused because it holds Python objects.
    """
    import pickle

    import torch

    from poselift.core.errors import FileFormatError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile, pickle, torch and OS errors alike
        text = str(e)
        if isinstance(e, pickle.UnpicklingError) and "weights only load failed" in text.lower():
            # torch's message: a long preamble, then the unpickler's reason
            reason = text.split("WeightsUnpickler error:", 1)[-1]
            lines = [ln.strip() for ln in reason.splitlines() if ln.strip()]
            named = [ln for ln in text.splitlines() if "GLOBAL" in ln]
            if named:  # the pickle names a Python class or function: refused, nothing of it ran
                what = named[0].strip().split(" was not an allowed", 1)[0].split(" whose module", 1)[0]
                raise FileFormatError(
                    f"{path}: refused: the checkpoint holds Python objects beyond tensors and plain containers, "
                    f"which could run code when loaded ({what[:200]}); poselift loads checkpoints with "
                    "torch.load(weights_only=True)",
                    path,
                ) from None
            text = lines[0] if lines else "not a torch checkpoint"
        raise FileFormatError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {text[:300]})",
                              path) from e
    if not isinstance(state, dict):
        raise FileFormatError(f"{path}: not a poselift checkpoint (a {type(state).__name__}, not a dict)", path)
    return state
