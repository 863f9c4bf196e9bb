"""Reading ``.npz`` archives as untrusted files: every entry loaded eagerly, pickled objects only on request."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from poselift.core.errors import FileFormatError, UnsafePickleWarning

__all__ = ["load_npz"]


def _pickle_refused(path: Path, key: str | None = None) -> FileFormatError:
    what = f"{key!r} in {path}" if key else str(path)
    return FileFormatError(
        f"{what} stores Python objects (pickle), as VideoPose3D's files do; unpickling can run code from the file, "
        "so it is refused by default. Pass allow_pickle=True (--allow-pickle) only if you trust this file", path)


def load_npz(path: Path, allow_pickle: bool) -> dict[str, Any]:
    """All entries of an npz file, read eagerly (so a damaged member fails here, naming the key)."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if allow_pickle:
        warnings.warn(f"{path}: allow_pickle=True: unpickling Python objects can run arbitrary code; "
                      "only load files you trust", UnsafePickleWarning, stacklevel=3)
    try:
        data = np.load(path, allow_pickle=allow_pickle)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise _pickle_refused(path) from None
        raise FileFormatError(f"{path}: corrupt, truncated or not an .npz file ({e})", path) from None
    except MemoryError:  # out of memory, or numpy refusing a huge declared array: not masked here
        raise
    except Exception as e:  # noqa: BLE001 - OSError, zipfile.BadZipFile, EOFError, ...
        raise FileFormatError(f"{path}: corrupt, truncated or not an .npz file ({type(e).__name__}: {e})",
                              path) from None
    if not hasattr(data, "files"):
        raise FileFormatError(f"{path}: a single .npy array, not an .npz archive", path)
    out: dict[str, Any] = {}
    with data:
        for key in data.files:
            try:
                out[key] = data[key]
            except ValueError as e:
                if not allow_pickle and "allow_pickle" in str(e):
                    raise _pickle_refused(path, key) from None
                raise FileFormatError(f"{path}: cannot read {key!r}, corrupt or truncated ({e})", path) from None
            except MemoryError:  # out of memory, or numpy refusing a huge declared array: not masked here
                raise
            except Exception as e:  # noqa: BLE001 - truncated member, bad CRC, bad pickle, ...
                raise FileFormatError(f"{path}: cannot read {key!r}, corrupt or truncated "
                                      f"({type(e).__name__}: {e})", path) from None
    return out
