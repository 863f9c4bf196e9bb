"""Our HDF5 files: 2D keypoint tracks (written by ``poselift detect``) and lifted 3D poses (``poselift lift``).

Our HDF5 2D file, format ``poselift-keypoints2d`` version 1
(:func:`write_keypoints_h5` / :func:`read_keypoints_h5`, written atomically)::

    /                      attrs: format, format_version, layout, image_width,
                           image_height (0 = unknown), fps, num_frames, source,
                           detector, poselift_version, plus any extra attrs
    /tracks/track_00003    attrs: track_id
        frames             (T,)       int64, consecutive video frame indices
        keypoints          (T, J, 2)  float32, pixels (x right, y down; pixel i spans [i, i+1))
        confidence         (T, J)     float32
        interpolated       (T, J)     bool, True where filled, not detected
        detected           (T,)       bool, frames with a detection
        pose3d             (T, J, 3)  float32, optional: BodyPose3DNet's own single-frame 3D
        pose25d            (T, J, 4)  float32, optional: x, y (pixels), relative depth, confidence

The 3D file written by ``poselift lift``, format ``poselift-poses3d``
version 1 (:func:`write_poses3d_h5` / :func:`read_poses3d_h5`)::

    /                      attrs: format, format_version, layout ("h36m17"), units ("m"),
                           root_relative (1), num_frames, fps, image_width, image_height,
                           keypoints_file, run_dir, poselift_version
    /tracks/track_00003    attrs: track_id, [pose3d_single_frame_layout]
        frames             (T,)         int64
        poses3d            (T, 17, 3)   float32, metres, camera axes, root-relative
        pose3d_single_frame (T, J, 3)   optional, copied from the 2D file
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from poselift._version import __version__
from poselift.core import io as _io
from poselift.core.errors import FileFormatError, InputError, reading
from poselift.core.io import atomic_path, format_bytes
from poselift.core.layouts import get_layout
from poselift.core.sequence import PoseSequence
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.tracking import Track

KEYPOINTS_FORMAT = "poselift-keypoints2d"


KEYPOINTS_VERSION = 1


POSES3D_FORMAT = "poselift-poses3d"


POSES3D_VERSION = 1


def _h5():
    import h5py

    return h5py


def _attr_value(v):
    if isinstance(v, (str, int, float, bool, np.integer, np.floating, np.bool_)):
        return v
    return json.dumps(v, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o))


def _open_h5(path: str | os.PathLike, fmt: str, version: int):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    f = _io.open_h5(path)  # external storage and links, virtual datasets and the whole-file budget checked
    try:
        with reading(path, "HDF5"):
            got = f.attrs.get("format")
            if isinstance(got, bytes):
                got = got.decode()
            if got != fmt:
                raise FileFormatError(f"{path}: not a {fmt} file (format attribute {got!r})", path)
            try:
                ver = int(f.attrs.get("format_version", -1))
            except (TypeError, ValueError):
                ver = -1
            if ver < 1 or ver > version:
                raise FileFormatError(f"{path}: {fmt} format version {ver} is not supported (this poselift reads "
                                      f"1..{version}; a newer file needs a newer poselift)", path)
    except BaseException:
        f.close()
        raise
    return f


def _attr_plain(v):
    """An HDF5 attribute as a plain Python value."""
    if isinstance(v, (bytes, str)):
        return _str(v)
    if hasattr(v, "item") and np.size(v) == 1:
        return v.item()
    return v.tolist() if hasattr(v, "tolist") else v


def _str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def write_keypoints_h5(path: str | os.PathLike, data: KeypointTracks) -> None:
    """Write ``data`` to our HDF5 2D file (atomically: a crash leaves the old file or the new one)."""
    h5py = _h5()
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = KEYPOINTS_FORMAT
            f.attrs["format_version"] = KEYPOINTS_VERSION
            f.attrs["layout"] = data.layout
            w, h = data.image_size or (0, 0)
            f.attrs["image_width"], f.attrs["image_height"] = int(w), int(h)
            f.attrs["fps"] = float(data.fps)
            f.attrs["num_frames"] = int(data.num_frames)
            f.attrs["source"] = str(data.source)
            f.attrs["detector"] = str(data.detector)
            f.attrs["poselift_version"] = __version__
            for k, v in data.attrs.items():
                if k not in f.attrs:
                    f.attrs[k] = _attr_value(v)
            g = f.create_group("tracks")
            for t in data.tracks:
                tg = g.create_group(f"track_{int(t.track_id):05d}")
                tg.attrs["track_id"] = int(t.track_id)
                tg.create_dataset("frames", data=np.asarray(t.frames, np.int64))
                tg.create_dataset("keypoints", data=np.asarray(t.keypoints, np.float32), compression="gzip")
                tg.create_dataset("confidence", data=np.asarray(t.confidence, np.float32), compression="gzip")
                tg.create_dataset("interpolated", data=np.asarray(t.interpolated, bool))
                tg.create_dataset("detected", data=np.asarray(t.detected, bool))
                for name in ("pose3d", "pose25d"):
                    if name in t.extras:
                        tg.create_dataset(name, data=np.asarray(t.extras[name], np.float32), compression="gzip")


def _h5_shape(group, name: str, where: str, path: Path, want: tuple | None = None, why: str = "") -> tuple:
    """Declared shape of dataset ``name`` (metadata only, nothing read), checked against ``want``
    (``None`` entries: any size) and against the bytes the file stores for it."""
    if name not in group:
        raise FileFormatError(f"{where}: missing dataset {name!r}", path)
    ds = group[name]
    shape = tuple(int(n) for n in ds.shape or ())
    if want is not None and (len(shape) != len(want) or any(w is not None and w != n for w, n in zip(want, shape))):
        shown = tuple("?" if w is None else w for w in want)
        raise FileFormatError(f"{where}: {name} has shape {shape}, expected {shown}{why}", path)
    declared = int(np.prod(shape, dtype=object)) * ds.dtype.itemsize
    if declared > _io.FREE_BYTES:
        stored = ds.id.get_storage_size()
        if declared > _io.MAX_EXPANSION * stored:
            raise FileFormatError(f"{where}: {name} declares {shape} {ds.dtype} ({format_bytes(declared)}) but the "
                                  f"file stores {format_bytes(stored)} of it: corrupt or crafted", path)
    return shape


def _h5_array(group, name: str, kinds: str, dtype, where: str, path: Path, want: tuple | None = None,
              why: str = "") -> np.ndarray:
    """Dataset ``name`` of ``group`` as ``dtype``, refusing other kinds of values (no silent casts); its
    declared shape is checked (:func:`_h5_shape`) before anything is read."""
    _h5_shape(group, name, where, path, want, why)
    a = np.asarray(group[name][()])
    if a.dtype.kind not in kinds:
        raise FileFormatError(f"{where}: {name} holds {a.dtype} values, expected "
                              f"{'integers' if kinds == 'iu' else 'numbers' if 'f' in kinds else 'booleans'}", path)
    return a.astype(dtype, copy=False)


def read_keypoints_h5(path: str | os.PathLike) -> KeypointTracks:
    """Read our HDF5 2D file, checking its format, version and array shapes.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not our format, a newer version, or inconsistent content
            (the message names the track and the array).
    """
    path = Path(path)
    with _open_h5(path, KEYPOINTS_FORMAT, KEYPOINTS_VERSION) as f, reading(path, KEYPOINTS_FORMAT + " HDF5"):
        try:
            layout = get_layout(_str(f.attrs["layout"]))
        except KeyError as e:
            raise FileFormatError(f"{path}: {e}", path) from None
        j = layout.num_joints
        w, h = int(f.attrs.get("image_width", 0)), int(f.attrs.get("image_height", 0))
        known = {"format", "format_version", "layout", "image_width", "image_height", "fps", "num_frames",
                 "source", "detector"}
        attrs = {k: _attr_plain(v)
                 for k, v in f.attrs.items() if k not in known}
        tracks = []
        for name in sorted(f.get("tracks", {})):
            tg = f["tracks"][name]
            where = f"{path}: track {name}"
            # every declared shape is checked against the others before anything is read
            (t,) = _h5_shape(tg, "frames", where, path, (None,))
            why = f" ({t} frames, layout {layout.name} with {j} joints)"
            for nm, want in (("keypoints", (t, j, 2)), ("confidence", (t, j)), ("interpolated", (t, j))):
                _h5_shape(tg, nm, where, path, want, why)
            frames = _h5_array(tg, "frames", "iu", np.int64, where, path, (t,))
            kp = _h5_array(tg, "keypoints", "iuf", np.float32, where, path, (t, j, 2), why)
            conf = _h5_array(tg, "confidence", "iuf", np.float32, where, path, (t, j), why)
            interp = _h5_array(tg, "interpolated", "biu", bool, where, path, (t, j), why)
            det = (_h5_array(tg, "detected", "biu", bool, where, path, (t,), why) if "detected" in tg
                   else np.ones(t, bool))
            if t == 0 or np.any(np.diff(frames) != 1) or frames[0] < 0:
                raise FileFormatError(f"{where}: frames must be consecutive non-negative indices", path)
            # NaN/inf policy: a non-finite keypoint is a missing joint (NaN, confidence 0)
            missing = ~np.isfinite(kp).all(-1)
            kp[missing] = np.nan
            conf = np.where(missing | ~np.isfinite(conf), 0.0, conf).astype(np.float32)
            extras = {}
            for nm, last in (("pose3d", 3), ("pose25d", 4)):
                if nm in tg:
                    extras[nm] = _h5_array(tg, nm, "iuf", np.float32, where, path, (t, j, last))
            tracks.append(Track(int(tg.attrs.get("track_id", len(tracks))), frames, kp, conf, interp, det, extras))
        return KeypointTracks(
            tracks, layout.name, (w, h) if w > 0 and h > 0 else None, float(f.attrs.get("fps", 0.0)),
            int(f.attrs.get("num_frames", max((int(t.frames[-1]) + 1 for t in tracks), default=0))),
            _str(f.attrs.get("source", "")), _str(f.attrs.get("detector", "")), attrs,
        )


def read_sequences(path: str | os.PathLike, min_length: int = 1) -> list[PoseSequence]:
    """Our HDF5 2D file as one :class:`~poselift.core.sequence.PoseSequence` per track."""
    return read_keypoints_h5(path).to_sequences(min_length=min_length)


@dataclass
class Poses3DFile:
    """Contents of a ``poselift lift`` output file.

    Attributes:
        poses: track id -> ``(T, 17, 3)`` root-relative poses in metres.
        frames: track id -> ``(T,)`` frame indices.
        single_frame: track id -> ``(T, J, 3)`` the detector's own 3D, when it had one.
        attrs: the file's attributes.
    """

    poses: dict[int, np.ndarray]
    frames: dict[int, np.ndarray]
    single_frame: dict[int, np.ndarray]
    attrs: dict[str, Any]


def write_poses3d_h5(
    path: str | os.PathLike,
    sequences: Sequence[PoseSequence],
    poses: Sequence[np.ndarray],
    layout: str = "h36m17",
    num_frames: int | None = None,
    attrs: dict[str, Any] | None = None,
) -> None:
    """Write lifted poses, one group per track (atomically).

    Args:
        sequences: the 2D sequences that were lifted (their ``meta`` gives track id and frames).
        poses: per sequence ``(T, J3, 3)`` root-relative metres, or an iterator of ``(start, (n, J3, 3))``
            chunks covering the sequence in order (:meth:`poselift.inference.Lifter.lift_chunks`): each is
            written as it comes, so memory stays bounded by a chunk, whatever the length.
        layout: layout of ``poses``.
    """
    h5py = _h5()
    lay = get_layout(layout)
    if len(sequences) != len(poses):
        raise InputError(f"{len(poses)} pose arrays for {len(sequences)} sequences")
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = POSES3D_FORMAT
            f.attrs["format_version"] = POSES3D_VERSION
            f.attrs["layout"] = lay.name
            f.attrs["units"] = "m"
            f.attrs["root_relative"] = 1
            f.attrs["poselift_version"] = __version__
            if sequences:
                s0 = sequences[0]
                f.attrs["fps"] = float(s0.fps)
                f.attrs["image_width"], f.attrs["image_height"] = s0.image_size
            last = max((int(s.frames[-1]) + 1 for s in sequences), default=0)
            f.attrs["num_frames"] = int(num_frames if num_frames is not None else last)
            for k, v in (attrs or {}).items():
                f.attrs[k] = _attr_value(v)
            g = f.create_group("tracks")
            for i, (s, p) in enumerate(zip(sequences, poses)):
                want = (len(s), lay.num_joints, 3)
                chunks = [(0, p)] if isinstance(p, (np.ndarray, list, tuple)) or hasattr(p, "__array__") else p
                tid = s.track.track_id if s.track is not None else i
                tg = g.create_group(f"track_{tid:05d}")
                tg.attrs["track_id"] = tid
                tg.create_dataset("frames", data=s.frames)
                ds = tg.create_dataset("poses3d", shape=want, dtype=np.float32, compression="gzip",
                                       chunks=(max(1, min(len(s), 4096)), lay.num_joints, 3) if len(s) else None)
                at = 0
                for start, y in chunks:
                    y = np.asarray(y, np.float32)
                    if start != at or y.ndim != 3 or y.shape[1:] != want[1:] or at + len(y) > want[0]:
                        raise InputError(f"sequence {i}: poses shape {y.shape}, expected {want}"
                                         + (f" (a chunk at frame {start}, after {at} frames)" if start else ""))
                    ds[at : at + len(y)] = y
                    at += len(y)
                if at != want[0]:
                    raise InputError(f"sequence {i}: poses for {at} frames, expected {want}")
                if s.detector3d is not None:
                    tg.create_dataset("pose3d_single_frame", data=s.detector3d.poses, compression="gzip")
                    tg.attrs["pose3d_single_frame_layout"] = s.detector3d.layout
                    tg.attrs["pose3d_single_frame_units"] = s.detector3d.units


def read_poses3d_h5(path: str | os.PathLike) -> Poses3DFile:
    """Read a ``poselift lift`` output file."""
    path = Path(path)
    with _open_h5(path, POSES3D_FORMAT, POSES3D_VERSION) as f, reading(path, POSES3D_FORMAT + " HDF5"):
        attrs = {k: _attr_plain(v)
                 for k, v in f.attrs.items()}
        poses, frames, single = {}, {}, {}
        for name in sorted(f.get("tracks", {})):
            tg = f["tracks"][name]
            tid = int(tg.attrs.get("track_id", len(poses)))
            where = f"{path}: track {name}"
            (t,) = _h5_shape(tg, "frames", where, path, (None,))
            _h5_shape(tg, "poses3d", where, path, (t, None, 3), f" (mismatched lengths: {t} frames)")
            poses[tid] = _h5_array(tg, "poses3d", "iuf", np.float32, where, path)
            frames[tid] = _h5_array(tg, "frames", "iu", np.int64, where, path)
            if "pose3d_single_frame" in tg:
                single[tid] = _h5_array(tg, "pose3d_single_frame", "iuf", np.float32, where, path, (t, None, 3))
        return Poses3DFile(poses, frames, single, attrs)
