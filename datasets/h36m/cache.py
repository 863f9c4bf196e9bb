"""A compact, versioned HDF5 cache of :class:`~poselift.datasets.h36m.H36MData`.

``prepare_cache`` reads Human3.6M once (archive folder, or VideoPose3D npz
files plus ``cameras.h5``) and writes one HDF5 file; ``load_cache`` reads it
back in about a second. Layout of the file::

    /                      attrs: format, version, keypoints_name, layout2d,
                                  source, notes (JSON list), poselift_version
    /cameras/<S>/<cam_id>  attrs: f, c, k, p, R (world-to-camera), T (metres),
                                  width, height, name
    /poses3d/<S>/<action>              (T, 17, 3) float32, world metres
    /keypoints2d/<S>/<action>/<cam_id> (T, J, 2)  float32, pixels

A *compact* cache (``compact=True``, ``poselift prepare h36m --compact``) keeps
the 3D and the cameras only (2D input ``gt``, projected at load) and stores
each 3D take losslessly as ``(51, T)`` int32: per coordinate, the differences
of consecutive float32 bit patterns (root attribute ``poses3d_encoding``
``"float32-bit-delta"``), gzip level 9. Decoding gives back the very same
float32 values; all seven subjects take about 58 MiB instead of 70 (3D only)
or 122 (with the detections), small enough to carry to a GPU machine.

Arrays are compressed (gzip with the byte-shuffle filter by default, or lzf)
and carry a Fletcher-32 checksum, so a damaged file fails loudly instead of
returning wrong numbers. The file is written atomically
(:func:`poselift.core.io.atomic_path`): an interrupted run leaves no half cache.

The cache is derived from Human3.6M and falls under its academic licence:
keep it outside any repository (the default location is the user's cache
folder).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from poselift._version import __version__
from poselift.core.camera import Camera
from poselift.core.errors import FileFormatError, InputError, check_finite, reading
from poselift.core.io import atomic_path, open_h5
from poselift.core.locks import lock_output
from poselift.core.layouts import get_layout
from poselift.datasets.h36m.archive import read_archive
from poselift.datasets.h36m.data import H36MData
from poselift.datasets.h36m.npz import read_npz

__all__ = [
    "CACHE_FORMAT",
    "CACHE_VERSION",
    "PreparedCache",
    "default_cache_path",
    "detect_format",
    "save_cache",
    "encode_bit_delta",
    "decode_bit_delta",
    "load_cache",
    "prepare_cache",
]

CACHE_FORMAT = "poselift-h36m-cache"
CACHE_VERSION = 1
"""Bumped whenever the layout of the file changes; :func:`load_cache` refuses other versions."""

_CAMERA_FIELDS = ("f", "c", "k", "p", "R", "T")
BIT_DELTA = "float32-bit-delta"


def encode_bit_delta(a: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` float32 -> ``(J * 3, T)`` int32: per coordinate, the first value's bit pattern and then the
    differences of consecutive bit patterns (modulo 2**32). Lossless; smooth motion gives small numbers that
    compress well."""
    bits = np.ascontiguousarray(np.asarray(a, np.float32).reshape(len(a), -1).T).view(np.int32).astype(np.int64)
    out = bits.copy()
    out[:, 1:] = bits[:, 1:] - bits[:, :-1]
    return (out & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def decode_bit_delta(d: np.ndarray, joints: int) -> np.ndarray:
    """Inverse of :func:`encode_bit_delta`: ``(J * 3, T)`` int32 -> ``(T, J, 3)`` float32, bit for bit."""
    bits = (np.cumsum(d.astype(np.int64), axis=1) & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    return np.ascontiguousarray(bits.T).reshape(-1, joints, 3)


@dataclass
class PreparedCache:
    """What :func:`prepare_cache` did.

    Attributes:
        path: the cache file.
        size_bytes: its size on disk.
        seconds_read, seconds_write: time spent reading the source and writing the cache.
        num_frames: frames of 3D.
        num_sequences3d, num_sequences2d: ``(subject, action)`` and ``(subject, action, camera)`` entries.
        notes: what was left out or adjusted while reading.
    """

    path: Path
    size_bytes: int
    seconds_read: float
    seconds_write: float
    num_frames: int
    num_sequences3d: int
    num_sequences2d: int
    notes: list[str] = field(default_factory=list)


def default_cache_path(keypoints_name: str = "sh_pt_mpii") -> Path:
    """``$POSELIFT_CACHE/h36m_<name>.h5``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, ``/poselift/``.

    Outside any repository on purpose: the cache is derived from Human3.6M.
    """
    base = os.environ.get("POSELIFT_CACHE")
    if base:
        root = Path(base)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "poselift"
    return root / f"h36m_{keypoints_name or 'gt'}.h5"


def detect_format(source: str | Path) -> str:
    """``"archive"`` for a folder with ``cameras.h5``, ``"npz"`` for an ``.npz`` file (or a folder holding
    ``data_3d_h36m.npz``); ``ValueError`` otherwise."""
    source = Path(source)
    if source.is_dir():
        if (source / "cameras.h5").is_file():
            return "archive"
        if (source / "data_3d_h36m.npz").is_file():
            return "npz"
        raise InputError(f"{source}: neither an archive folder (no cameras.h5) nor a folder with data_3d_h36m.npz")
    if source.suffix == ".npz":
        return "npz"
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    raise InputError(f"{source}: cannot tell the format; pass format='archive' or 'npz'")


def _compression(compression: str | None) -> dict:
    if compression in (None, "none"):
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    raise InputError(f"compression must be 'gzip', 'lzf' or 'none', got {compression!r}")


def save_cache(data: H36MData, out: str | Path, *, compression: str | None = "gzip", progress: bool = False,
               compact: bool = False) -> Path:
    """Write ``data`` to an HDF5 cache at ``out`` (atomically).

    Args:
        data: the dataset; 3D ``(T, 17, 3)`` metres and 2D ``(T, J, 2)`` pixels
            are stored as float32.
        out: destination file (parent folders are created).
        compression: ``"gzip"`` (smaller), ``"lzf"`` (faster to load) or ``"none"``.
        progress: progress bar.
        compact: 3D and cameras only, bit-delta encoded and gzip level 9 (see the module docstring); the 2D
            detections are left out (and the cache says so).

    Returns:
        ``out`` as a :class:`Path`.
    """
    import h5py
    from tqdm.auto import tqdm

    out = Path(out)
    opts = dict(_compression(compression), fletcher32=True)
    if compact:
        opts = {"compression": "gzip", "compression_opts": 9, "shuffle": True, "fletcher32": True}
    get_layout(data.layout2d)  # fail before writing anything
    notes = list(data.notes)
    if compact and data.keypoints2d:
        notes.append(f"Compact cache: 3D and cameras only; the {data.keypoints_name or '2D'} detections of the source "
                     "were left out (2D input gt only).")
    # one writer at a time; taking the lock removes the temporaries a killed `prepare` left behind
    with lock_output(out, "poselift prepare"):
        with atomic_path(out, suffix=".h5") as tmp:
            with h5py.File(tmp, "w") as h5:
                h5.attrs["format"] = CACHE_FORMAT
                h5.attrs["version"] = CACHE_VERSION
                h5.attrs["keypoints_name"] = "" if compact else data.keypoints_name
                h5.attrs["layout2d"] = data.layout2d
                h5.attrs["poses3d_encoding"] = BIT_DELTA if compact else "float32"
                h5.attrs["layout3d"] = "h36m17"
                h5.attrs["source"] = data.source
                h5.attrs["notes"] = json.dumps(notes)
                h5.attrs["missing3d"] = json.dumps([[s, a, n] for (s, a), n in sorted(data.missing3d.items())])
                h5.attrs["poselift_version"] = __version__
                for (s, cam_id), cam in data.cameras.items():
                    g = h5.require_group(f"cameras/{s}").create_group(cam_id)
                    for k in _CAMERA_FIELDS:
                        g.attrs[k] = np.asarray(getattr(cam, k), dtype=np.float64)
                    g.attrs["width"], g.attrs["height"], g.attrs["name"] = cam.width, cam.height, cam.name
                items = [("poses3d", k, v, 17, 3) for k, v in data.poses3d.items()]
                n2 = get_layout(data.layout2d).num_joints
                if not compact:
                    items += [("keypoints2d", k, v, n2, 2) for k, v in data.keypoints2d.items()]
                for group, key, arr, nj, nc in tqdm(items, desc="writing cache", unit="array", disable=not progress):
                    a = np.asarray(arr)
                    if a.ndim != 3 or a.shape[1:] != (nj, nc) or len(a) == 0:
                        raise InputError(f"{group} {key}: expected (frames, {nj}, {nc}), got shape {a.shape}")
                    check_finite(a, f"{group} {key}")
                    parent = h5.require_group("/".join((group, *key[:-1])))
                    if compact:  # (51, T) int32 bit deltas, whole coordinates per chunk
                        enc = encode_bit_delta(a)
                        parent.create_dataset(key[-1], data=enc, chunks=(nj * nc, min(len(a), 1 << 14)), **opts)
                        continue
                    # whole frames per chunk, up to ~1 MiB: h5py's automatic chunks split the
                    # joints and cost compression ratio and read speed
                    rows = min(len(a), max(1, (1 << 20) // (nj * nc * 4)))
                    parent.create_dataset(
                        key[-1], data=a.astype(np.float32, copy=False), chunks=(rows, nj, nc), **opts
                    )
    return out


def _corrupt(path: Path, detail: str) -> FileFormatError:
    return FileFormatError(f"{path}: corrupt Human3.6M cache ({detail}); delete it and rebuild with "
                           "`poselift prepare h36m`", path)


def load_cache(path: str | Path, subjects: Iterable[str] | None = None) -> H36MData:
    """Load a cache written by :func:`save_cache` / :func:`prepare_cache`.

    Args:
        path: the cache file.
        subjects: read only these subjects (all when ``None``).

    Returns:
        :class:`H36MData` (3D ``(T, 17, 3)`` world metres, 2D ``(T, J, 2)`` pixels, float32).

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: (a ``ValueError``) not a poselift cache, another format version, or damaged
            (truncated, bytes changed: the Fletcher-32 checksums catch those).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such cache file (build one with `poselift prepare h36m --source ...`)")
    want = None if subjects is None else set(subjects)
    with reading(path, "Human3.6M cache HDF5"):
        data = _load_cache(path, want)
    if want is not None and want - set(data.subjects):
        raise InputError(f"{path}: no data for subject(s) {sorted(want - set(data.subjects))}; cached: {data.subjects}")
    return data


def _load_cache(path: Path, want: set[str] | None) -> H36MData:
    try:
        h5 = open_h5(path, "Human3.6M cache")  # external storage and links, virtual datasets, whole-file budget
    except FileFormatError as e:
        if "refused" in str(e):
            raise
        raise _corrupt(path, f"not a readable HDF5 file: {e}") from None
    with h5:
        fmt = h5.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt != CACHE_FORMAT:
            raise FileFormatError(f"{path}: not a poselift Human3.6M cache (format attribute {fmt!r})", path)
        try:
            version = int(h5.attrs.get("version", -1))
        except (TypeError, ValueError):
            version = -1
        if version != CACHE_VERSION:
            raise FileFormatError(
                f"{path}: cache format version {version}, but this poselift reads version {CACHE_VERSION}; "
                "rebuild it with `poselift prepare h36m --source ...`",
                path,
            )
        try:
            layout2d = str(h5.attrs["layout2d"])
            n2 = get_layout(layout2d).num_joints
            cameras: dict[tuple[str, str], Camera] = {}
            for s, g in h5["cameras"].items():
                if want is not None and s not in want:
                    continue
                for cam_id, c in g.items():
                    cameras[(s, cam_id)] = Camera(
                        **{k: np.asarray(c.attrs[k]) for k in _CAMERA_FIELDS},
                        width=int(c.attrs["width"]),
                        height=int(c.attrs["height"]),
                        name=str(c.attrs["name"]),
                    )
            encoding = str(h5.attrs.get("poses3d_encoding", "float32"))
            if encoding not in ("float32", BIT_DELTA):
                raise FileFormatError(f"{path}: unknown 3D encoding {encoding!r}; rebuild the cache", path)
            poses3d: dict[tuple[str, str], np.ndarray] = {}
            for s, g in h5["poses3d"].items():
                if want is not None and s not in want:
                    continue
                for action, d in g.items():
                    poses3d[(s, action)] = _read(d, (17, 3), path) if encoding == "float32" else _read_delta(d, path)
            keypoints2d: dict[tuple[str, str, str], np.ndarray] = {}
            for s, g in h5.get("keypoints2d", {}).items():
                if want is not None and s not in want:
                    continue
                for action, ga in g.items():
                    for cam_id, d in ga.items():
                        keypoints2d[(s, action, cam_id)] = _read(d, (n2, 2), path)
            notes = json.loads(str(h5.attrs.get("notes", "[]")))
            missing3d = {(str(s), str(a)): int(n) for s, a, n in json.loads(str(h5.attrs.get("missing3d", "[]")))}
            data = H36MData(
                cameras=cameras,
                poses3d=poses3d,
                keypoints2d=keypoints2d,
                layout2d=layout2d,
                keypoints_name=str(h5.attrs.get("keypoints_name", "")),
                notes=list(notes),
                missing3d=missing3d,
                source=f"{path} (cache of {h5.attrs.get('source', '?')})",
            )
        except FileFormatError:
            raise
        except MemoryError:  # out of memory, or numpy refusing a huge declared array: not masked here
            raise
        except Exception as e:  # noqa: BLE001 - OSError (checksum), KeyError, TypeError, bad JSON, bad camera, ...
            raise _corrupt(path, f"{type(e).__name__}: {e}") from e
    for key in data.keypoints2d:
        if key[:2] not in data.poses3d or len(data.keypoints2d[key]) != len(data.poses3d[key[:2]]):
            raise _corrupt(path, f"2D {key} does not match its 3D")
    return data


def _read_delta(d, path: Path) -> np.ndarray:
    if d.ndim != 2 or d.shape[0] != 17 * 3 or d.dtype != np.int32:
        raise _corrupt(path, f"{d.name} has shape {d.shape} {d.dtype}, expected (51, frames) int32 bit deltas")
    a = decode_bit_delta(d[()], 17)
    check_finite(a, f"{path}: {d.name}")  # a changed delta would shift every later frame
    return a


def _read(d, tail: tuple[int, int], path: Path) -> np.ndarray:
    if d.ndim != 3 or d.shape[1:] != tail or d.dtype != np.float32:
        raise _corrupt(path, f"{d.name} has shape {d.shape} {d.dtype}, expected (frames, {tail[0]}, {tail[1]}) float32")
    return d[()]


def prepare_cache(
    source: str | Path,
    out: str | Path | None = None,
    *,
    format: str | None = None,
    cameras: str | Path | None = None,
    keypoints_npz: str | Path | None = None,
    allow_pickle: bool = False,
    subjects: Iterable[str] | None = None,
    compression: str | None = "gzip",
    progress: bool = False,
    compact: bool = False,
) -> PreparedCache:
    """Convert Human3.6M once into a cache file.

    Args:
        source: the archive folder, or ``data_3d_h36m.npz`` (or a folder holding it).
        out: the cache file (default :func:`default_cache_path`).
        format: ``"archive"`` or ``"npz"``; detected from ``source`` when ``None``.
        cameras: ``cameras.h5`` for the npz format (default: next to the npz file).
        keypoints_npz: npz format only: a ``data_2d_h36m_<name>.npz`` with 2D detections.
        allow_pickle: npz format only: the files hold pickles; see :func:`~poselift.datasets.h36m.read_npz`.
        subjects: subjects to keep (all when ``None``).
        compression: ``"gzip"``, ``"lzf"`` or ``"none"``.
        progress: progress bars.
        compact: 3D and cameras only, losslessly bit-delta encoded (see :func:`save_cache`).

    Returns:
        :class:`PreparedCache` with the path, size, timings and notes.
    """
    source = Path(source)
    fmt = format or detect_format(source)
    t0 = time.perf_counter()
    if fmt == "archive":
        if keypoints_npz is not None:
            raise InputError("keypoints_npz is for format='npz'; the archive brings its own Stacked Hourglass 2D")
        data = read_archive(source, subjects, progress=progress)
    elif fmt == "npz":
        npz3d = source / "data_3d_h36m.npz" if source.is_dir() else source
        cams = Path(cameras) if cameras is not None else npz3d.parent / "cameras.h5"
        if not cams.is_file():
            raise FileNotFoundError(f"{cams}: no cameras.h5; the npz files carry no cameras, give --cameras PATH")
        data = read_npz(npz3d, cams, keypoints_npz, allow_pickle=allow_pickle, subjects=subjects, progress=progress)
    else:
        raise InputError(f"format must be 'archive' or 'npz', got {fmt!r}")
    t1 = time.perf_counter()
    out = Path(out) if out is not None else default_cache_path("gt_compact" if compact else data.keypoints_name)
    save_cache(data, out, compression=compression, progress=progress, compact=compact)
    t2 = time.perf_counter()
    return PreparedCache(
        path=out,
        size_bytes=out.stat().st_size,
        seconds_read=t1 - t0,
        seconds_write=t2 - t1,
        num_frames=data.num_frames(),
        num_sequences3d=len(data.poses3d),
        num_sequences2d=0 if compact else len(data.keypoints2d),
        notes=list(data.notes),
    )
