"""One entry point for configs: Human3.6M from a prepared cache file or an archive folder."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from poselift.core.errors import InputError
from poselift.datasets.h36m.archive import read_archive
from poselift.datasets.h36m.cache import load_cache
from poselift.datasets.h36m.data import H36MData


def load(
    path: str | Path,
    subjects: Iterable[str] | None = None,
    *,
    progress: bool = False,
) -> H36MData:
    """Load Human3.6M from a prepared cache file or an archive folder.

    A cache (:func:`poselift.datasets.h36m.cache.prepare_cache`) loads in about a
    second; an archive folder is read file by file (a few seconds more).
    VideoPose3D npz files need :func:`read_npz` (they hold pickles and carry
    no cameras) or a cache prepared from them.

    Args:
        path: cache file (``.h5``) or the archive folder.
        subjects: keep only these subjects (all when ``None``).
        progress: progress bar while reading an archive.
    """
    path = Path(path)
    if path.is_dir():
        return read_archive(path, subjects, progress=progress)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder (expected a Human3.6M cache file or archive folder)")
    if path.suffix == ".npz":
        raise InputError(
            f"{path}: VideoPose3D npz files carry no cameras and hold pickles; read them with "
            "poselift.datasets.h36m.read_npz(..., cameras_h5=..., allow_pickle=True) or prepare a cache "
            "first: poselift prepare h36m --format npz --source ... --cameras ... --allow-pickle"
        )
    data = load_cache(path)
    return data if subjects is None else data.subset(subjects)
