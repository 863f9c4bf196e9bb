"""2D keypoint files: our HDF5 format (written by ``poselift detect``) and other tools' outputs.

Everything reads into :class:`KeypointTracks` (the tracks of one video plus
what the lifter needs: layout, image size, fps), which
:meth:`KeypointTracks.to_sequences` turns into
:class:`~poselift.core.sequence.PoseSequence` objects, one per track.

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

Other sources:

* DeepStream ``deepstream-bodypose-3d`` pose files (:func:`read_deepstream_json`).
* COCO-17 keypoints: VideoPose3D custom-dataset ``.npz`` files and the
  per-video Detectron2 ``.npz`` files VideoPose3D's inference script writes
  (:func:`read_coco_npz`), MMPose prediction JSON (:func:`read_mmpose_json`).

:func:`read_2d` picks the reader from the file.

Bad files: a corrupt, truncated or malformed file raises
:class:`~poselift.core.errors.FileFormatError` naming the file (and the track,
frame or key where it can), whatever the parser underneath threw. Files
storing pickled Python objects are read only with ``allow_pickle=True``
(which warns). NaN/inf policy: a keypoint with a non-finite coordinate is a
*missing* joint: kept as NaN with confidence 0 in the tracks, filled
(interpolated, or placed on its nearest found ancestor) with confidence 0 by
:meth:`KeypointTracks.to_sequences`, so the sequences given to the lifter
are finite.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from poselift._version import __version__
from poselift.core.errors import FileFormatError, InputError, UnsafePickleWarning, reading
from poselift.core.io import atomic_path, read_json
from poselift.core.layouts import get_layout
from poselift.core.sequence import PoseSequence
from poselift.detectors.tracking import Detections, Track, TrackerSettings, fill_missing_joints, track_people, tracks_from_ids

__all__ = [
    "KEYPOINTS_FORMAT",
    "KEYPOINTS_VERSION",
    "POSES3D_FORMAT",
    "POSES3D_VERSION",
    "KeypointTracks",
    "Poses3DFile",
    "write_keypoints_h5",
    "read_keypoints_h5",
    "read_sequences",
    "write_poses3d_h5",
    "read_poses3d_h5",
    "read_deepstream_json",
    "read_coco_npz",
    "read_mmpose_json",
    "read_2d",
]

KEYPOINTS_FORMAT = "poselift-keypoints2d"
KEYPOINTS_VERSION = 1
POSES3D_FORMAT = "poselift-poses3d"
POSES3D_VERSION = 1


@dataclass
class KeypointTracks:
    """The 2D tracks of one video.

    Attributes:
        tracks: :class:`~poselift.detectors.tracking.Track` list.
        layout: joint layout name of all tracks.
        image_size: ``(width, height)`` or ``None`` when the source does not say.
        fps: frames per second.
        num_frames: frames in the video (tracks index into ``range(num_frames)``).
        source: where the keypoints came from (video path, file).
        detector: which detector or tool produced them.
        attrs: anything else (stored as HDF5 attributes).
    """

    tracks: list[Track]
    layout: str
    image_size: tuple[int, int] | None
    fps: float
    num_frames: int
    source: str = ""
    detector: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layout = get_layout(self.layout).name
        j = get_layout(self.layout).num_joints
        for t in self.tracks:
            if t.keypoints.shape[1:] != (j, 2):
                raise InputError(f"track {t.track_id}: wrong joint count: keypoints shape {t.keypoints.shape} does not fit "
                                 f"layout {self.layout!r} ({j} joints)")
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.num_frames < (max((int(t.frames[-1]) + 1 for t in self.tracks), default=0)):
            raise InputError(f"num_frames {self.num_frames} is smaller than the last track frame")

    def to_sequences(self, min_length: int = 1, image_size: tuple[int, int] | None = None) -> list[PoseSequence]:
        """One :class:`~poselift.core.sequence.PoseSequence` per track with at least ``min_length`` frames.

        Joints never seen in a track are placed on their nearest found
        ancestor with confidence 0 (a lifter needs finite input). ``meta``
        holds ``track_id``, ``frames``, ``interpolated``, ``detected``,
        ``source`` and, when present, ``pose3d_single_frame`` and ``pose25d``.
        """
        size = image_size or self.image_size
        if size is None:
            raise InputError(f"{self.source or 'keypoints'}: image size unknown; give image_size=(width, height) "
                             "(command line: --image-size WxH)")
        out = []
        for t in self.tracks:
            if len(t) < min_length:
                continue
            kp, filled = fill_missing_joints(t.keypoints, self.layout)
            if not np.isfinite(kp).all():
                empty = np.flatnonzero(~np.isfinite(kp).all(axis=(1, 2)))
                raise InputError(f"{self.source or 'keypoints'}: track {t.track_id}: {len(empty)} frame(s) without any "
                                 f"keypoint, first at video frame {int(t.frames[empty[0]])}")
            conf = np.where(filled, 0.0, t.confidence).astype(np.float32)
            meta: dict[str, Any] = {
                "track_id": int(t.track_id), "frames": t.frames.copy(), "interpolated": t.interpolated | filled,
                "detected": t.detected.copy(), "source": self.source, "start_frame": int(t.frames[0]),
            }
            if "pose3d" in t.extras:
                meta["pose3d_single_frame"] = t.extras["pose3d"]
            if "pose25d" in t.extras:
                meta["pose25d"] = t.extras["pose25d"]
            out.append(PoseSequence(keypoints=kp, layout=self.layout, confidence=conf, image_size=size,
                                    fps=self.fps, action=f"track {t.track_id}", meta=meta))
        return out

    def frame_table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(num_frames, n_tracks, J, 2)`` keypoints (NaN where a track is absent) and ``(num_frames, n_tracks, J)`` confidence."""
        j = get_layout(self.layout).num_joints
        kp = np.full((self.num_frames, len(self.tracks), j, 2), np.nan, np.float32)
        conf = np.zeros((self.num_frames, len(self.tracks), j), np.float32)
        for i, t in enumerate(self.tracks):
            kp[t.frames, i] = t.keypoints
            conf[t.frames, i] = t.confidence
        return kp, conf


# --------------------------------------------------------------------------- our HDF5 files
def _h5():
    import h5py

    return h5py


def _attr_value(v):
    if isinstance(v, (str, int, float, bool, np.integer, np.floating, np.bool_)):
        return v
    return json.dumps(v, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o))


def _open_h5(path: str | os.PathLike, fmt: str, version: int):
    h5py = _h5()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FileFormatError(f"{path}: not a readable HDF5 file (corrupt, truncated or another format): {e}",
                              path) from None
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


def _h5_array(group, name: str, kinds: str, dtype, where: str, path: Path) -> np.ndarray:
    """Dataset ``name`` of ``group`` as ``dtype``, refusing other kinds of values (no silent casts)."""
    if name not in group:
        raise FileFormatError(f"{where}: missing dataset {name!r}", path)
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
            frames = _h5_array(tg, "frames", "iu", np.int64, where, path)
            if frames.ndim != 1:
                raise FileFormatError(f"{where}: frames has shape {frames.shape}, expected (frames,)", path)
            kp = _h5_array(tg, "keypoints", "iuf", np.float32, where, path)
            conf = _h5_array(tg, "confidence", "iuf", np.float32, where, path)
            interp = _h5_array(tg, "interpolated", "biu", bool, where, path)
            det = _h5_array(tg, "detected", "biu", bool, where, path) if "detected" in tg else np.ones(len(frames), bool)
            t = len(frames)
            checks = [(kp.shape, (t, j, 2), "keypoints"), (conf.shape, (t, j), "confidence"),
                      (interp.shape, (t, j), "interpolated"), (det.shape, (t,), "detected")]
            for got, want, nm in checks:
                if got != want:
                    raise FileFormatError(f"{where}: {nm} has shape {got}, expected {want} "
                                          f"({t} frames, layout {layout.name} with {j} joints)", path)
            if t == 0 or np.any(np.diff(frames) != 1) or frames[0] < 0:
                raise FileFormatError(f"{where}: frames must be consecutive non-negative indices", path)
            # NaN/inf policy: a non-finite keypoint is a missing joint (NaN, confidence 0)
            missing = ~np.isfinite(kp).all(-1)
            kp[missing] = np.nan
            conf = np.where(missing | ~np.isfinite(conf), 0.0, conf).astype(np.float32)
            extras = {}
            for nm, last in (("pose3d", 3), ("pose25d", 4)):
                if nm in tg:
                    arr = _h5_array(tg, nm, "iuf", np.float32, where, path)
                    if arr.shape != (t, j, last):
                        raise FileFormatError(f"{where}: {nm} has shape {arr.shape}, expected {(t, j, last)}", path)
                    extras[nm] = arr
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
        poses: per sequence ``(T, J3, 3)`` root-relative metres.
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
            last = max((int(np.asarray(s.meta.get("frames", np.arange(len(s))))[-1]) + 1 for s in sequences), default=0)
            f.attrs["num_frames"] = int(num_frames if num_frames is not None else last)
            for k, v in (attrs or {}).items():
                f.attrs[k] = _attr_value(v)
            g = f.create_group("tracks")
            for i, (s, p) in enumerate(zip(sequences, poses)):
                p = np.asarray(p, np.float32)
                if p.shape != (len(s), lay.num_joints, 3):
                    raise InputError(f"sequence {i}: poses shape {p.shape}, expected {(len(s), lay.num_joints, 3)}")
                tid = int(s.meta.get("track_id", i))
                tg = g.create_group(f"track_{tid:05d}")
                tg.attrs["track_id"] = tid
                tg.create_dataset("frames", data=np.asarray(s.meta.get("frames", np.arange(len(s))), np.int64))
                tg.create_dataset("poses3d", data=p, compression="gzip")
                if "pose3d_single_frame" in s.meta:
                    tg.create_dataset("pose3d_single_frame", data=np.asarray(s.meta["pose3d_single_frame"], np.float32),
                                      compression="gzip")
                    tg.attrs["pose3d_single_frame_layout"] = s.layout.name


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
            poses[tid] = _h5_array(tg, "poses3d", "iuf", np.float32, where, path)
            frames[tid] = _h5_array(tg, "frames", "iu", np.int64, where, path)
            if len(frames[tid]) != len(poses[tid]):
                raise FileFormatError(f"{path}: track {name}: mismatched lengths: {len(frames[tid])} frames but "
                                      f"{len(poses[tid])} poses", path)
            if "pose3d_single_frame" in tg:
                single[tid] = _h5_array(tg, "pose3d_single_frame", "iuf", np.float32, where, path)
        return Poses3DFile(poses, frames, single, attrs)


# --------------------------------------------------------------------------- DeepStream JSON
def _json_values(text: str, path: Path) -> Iterator[Any]:
    """Top-level JSON values of ``text``: one document, JSON lines, or values separated by commas."""
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        try:
            val, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise FileFormatError(f"{path}: corrupt JSON at line {e.lineno} column {e.colno} ({e.msg})", path) from None
        yield val


def _deepstream_frames(values: Iterator[Any], path: Path) -> Iterator[dict]:
    for v in values:
        if isinstance(v, list):
            yield from _deepstream_frames(iter(v), path)
        elif isinstance(v, dict) and "batches" in v:
            yield from _deepstream_frames(iter(v["batches"]), path)
        elif isinstance(v, dict) and "objects" in v:
            yield v
        else:
            raise FileFormatError(f"{path}: not a DeepStream bodypose-3d file (found a {type(v).__name__} "
                                  "without 'batches' or 'objects')", path)


def _pose_array(values, what: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected 34 x 4 = 136 numbers, got {str(values)[:60]}") from None
    if a.size != 136:
        raise InputError(f"{what}: expected 34 x 4 = 136 numbers, got {a.size}")
    return a.reshape(34, 4)


def read_deepstream_json(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    fps: float = 30.0,
    tracker: TrackerSettings | None = None,
) -> KeypointTracks:
    """Read the pose file of NVIDIA's ``deepstream-bodypose-3d`` app.

    The app writes, per batch, ``{"num_frames_in_batch", "batches": [{"batch_id",
    "frame_num", "ntp_timestamp", "objects": [{"object_id", "pose25d": [136],
    "pose3d": [136]}]}]}``, the batches separated by commas (not one JSON
    document); a JSON list of frames, JSON lines or a single document work too.
    ``pose25d`` is 34 x (x, y in frame pixels, depth relative to the root,
    confidence); ``pose3d`` 34 x (x, y, z in mm, camera coordinates, confidence),
    the app's lifted and scaled pose. ``object_id`` is the DeepStream tracker's
    id, so no association is done; gaps are filled as by the tracker.

    Args:
        image_size: ``(width, height)`` of the video (the file does not store it).
        fps: the video's frame rate (not stored either).
        tracker: gap and length settings (``min_length`` defaults to 1 here).

    Returns:
        tracks in layout ``bodypose3dnet34`` with extras ``pose25d`` and
        ``pose3d`` (mm; ``attrs["pose3d_units"] = "mm"``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with reading(path, "DeepStream JSON"):
        return _read_deepstream_json(path, image_size, fps, tracker)


def _read_deepstream_json(path: Path, image_size, fps, tracker) -> KeypointTracks:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{path}: corrupt JSON: not UTF-8 text (byte {e.start})", path) from None
    per_frame: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for fr in _deepstream_frames(_json_values(text, path), path):
        try:
            fn = int(fr["frame_num"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise FileFormatError(f"{path}: a frame entry without an integer 'frame_num'", path) from None
        if fn < 0:
            raise FileFormatError(f"{path}: negative frame_num {fn}", path)
        objects = fr.get("objects") or []
        if not isinstance(objects, list):
            raise FileFormatError(f"{path}: frame {fn}: 'objects' is a {type(objects).__name__}, not a list", path)
        for k, obj in enumerate(objects):
            where = f"{path}: frame {fn} object {k}"
            if not isinstance(obj, dict) or "pose25d" not in obj:
                raise FileFormatError(f"{where}: no 'pose25d'", path)
            p25 = _pose_array(obj["pose25d"], f"{where} pose25d")
            p3 = _pose_array(obj["pose3d"], f"{where} pose3d") if "pose3d" in obj else np.full((34, 4), np.nan)
            oid = int(obj.get("object_id", k))
            per_frame.setdefault(fn, []).append((oid, p25, p3))
    frames_idx = sorted(per_frame)
    dets = []
    for fn in frames_idx:
        objs = per_frame[fn]
        p25 = np.stack([o[1] for o in objs]).astype(np.float32)
        p3 = np.stack([o[2] for o in objs]).astype(np.float32)
        dets.append(Detections(p25[..., :2], p25[..., 3], ids=np.array([o[0] for o in objs]),
                               extras={"pose25d": p25, "pose3d": p3[..., :3]}))
    settings = tracker or TrackerSettings(min_length=1)
    tracks = tracks_from_ids(dets, settings, frames_idx)
    n = frames_idx[-1] + 1 if frames_idx else 0
    return KeypointTracks(tracks, "bodypose3dnet34", image_size, fps, n, str(path), "deepstream-bodypose-3d",
                          {"pose3d_units": "mm"})


# --------------------------------------------------------------------------- COCO-17 sources
def _pickle_refused(path: Path, key: str | None = None) -> FileFormatError:
    what = f"{key!r} in {path}" if key else str(path)
    return FileFormatError(
        f"{what} stores Python objects (pickle), as VideoPose3D's files do; unpickling can run code from the file, "
        "so it is refused by default. Pass allow_pickle=True (--allow-pickle) only if you trust this file", path)


def _load_npz(path: Path, allow_pickle: bool) -> dict[str, Any]:
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


def _coco_people(entry, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One frame of Detectron2-style keypoints -> ``(P, 17, 2)``, ``(P, 17)``."""
    if (isinstance(entry, (list, tuple)) or (isinstance(entry, np.ndarray) and entry.dtype == object)) \
            and len(entry) == 2 and (entry[0] is None or len(entry[0]) == 0):
        entry = entry[1]  # VideoPose3D's [[], person-class array] per frame (a list, or a row of an object array)
    a = np.asarray(entry if entry is not None and len(entry) else np.zeros((0, 17, 3)))
    if a.dtype.kind not in "biufO":
        raise InputError(f"{where}: keypoints hold {a.dtype} values, expected real numbers")
    a = a.astype(np.float64)
    if a.size == 0:
        return np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3 and a.shape[1] == 4 and a.shape[2] == 17:  # (P, 4, 17): x, y, logit, prob
        return a[:, :2].transpose(0, 2, 1).astype(np.float32), a[:, 3].astype(np.float32)
    if a.ndim == 3 and a.shape[1] == 17 and a.shape[2] in (2, 3):
        conf = a[..., 2] if a.shape[2] == 3 else np.ones(a.shape[:2])
        return a[..., :2].astype(np.float32), conf.astype(np.float32)
    raise InputError(f"{where}: keypoints of shape {a.shape}; expected (people, 17, 2|3) or (people, 4, 17)")


def read_coco_npz(
    path: str | os.PathLike,
    video: str | None = None,
    image_size: tuple[int, int] | None = None,
    fps: float = 30.0,
    allow_pickle: bool = False,
    tracker: TrackerSettings | None = None,
) -> KeypointTracks:
    """COCO-17 keypoints from VideoPose3D / Detectron2 ``.npz`` files.

    Two layouts are recognised:

    * a VideoPose3D custom dataset (``prepare_data_2d_custom.py``):
      ``positions_2d[video]["custom"][0]`` is ``(T, 17, 2)`` and
      ``metadata["video_metadata"][video]`` holds ``{"w", "h"}``; one person per
      video, no confidence (taken as 1). ``video`` picks the video when there
      are several.
    * one video's Detectron2 output (VideoPose3D's ``infer_video_d2.py``):
      ``keypoints[frame]`` is ``[[], (P, 4, 17)]`` (x, y, logit, probability),
      ``metadata = {"w", "h"}``; all people of all frames, associated with
      :func:`~poselift.detectors.tracking.track_people`. Plain ``(T, 17, 2|3)``
      or ``(T, P, 17, 2|3)`` arrays under ``keypoints`` are accepted too.

    Both store Python objects (pickles): ``allow_pickle=True`` is needed and
    should only be given for files you trust.
    """
    path = Path(path)
    with reading(path, "npz"):
        data = _load_npz(path, allow_pickle)
        return _read_coco_npz(path, data, video, image_size, fps, tracker)


def _item(arr, what: str):
    """The object inside a 0-d object array (VideoPose3D stores dicts that way)."""
    a = np.asarray(arr)
    if a.dtype != object or a.shape != ():
        raise InputError(f"{what}: expected a pickled dict, got an array of shape {a.shape} and dtype {a.dtype}")
    return a.item()


def _read_coco_npz(path: Path, data: dict, video, image_size, fps, tracker) -> KeypointTracks:
    keys = list(data)
    try:
        if "positions_2d" in keys:
            pos = _item(data["positions_2d"], f"{path}: 'positions_2d'")
            meta = _item(data["metadata"], f"{path}: 'metadata'") if "metadata" in keys else {}
            if not isinstance(pos, dict) or not isinstance(meta, dict):
                raise FileFormatError(f"{path}: 'positions_2d' and 'metadata' must be dicts", path)
            names = sorted(pos)
            if video is None:
                if len(names) != 1:
                    raise InputError(f"{path} holds {len(names)} videos {names}; choose one with video=...")
                video = names[0]
            if video not in pos:
                raise InputError(f"{path}: no video {video!r}; videos: {names}")
            entry = pos[video]
            arr = entry.get("custom", next(iter(entry.values()))) if isinstance(entry, dict) else entry
            arr = np.asarray(arr[0] if isinstance(arr, (list, tuple)) or np.asarray(arr).ndim == 4 else arr)
            if arr.ndim != 3 or arr.shape[1:] != (17, 2) or arr.dtype.kind not in "biuf":
                raise FileFormatError(f"{path}: video {video!r} keypoints have shape {arr.shape} ({arr.dtype}); "
                                      "expected (frames, 17, 2) numbers", path)
            vm = (meta.get("video_metadata") or {}).get(video, {})
            size = image_size or ((int(vm["w"]), int(vm["h"])) if "w" in vm and "h" in vm else None)
            n = len(arr)
            conf = np.isfinite(arr).all(-1).astype(np.float32)
            dets = [Detections(arr[i][None], conf[i][None], ids=np.zeros(1, np.int64)) for i in range(n)]
            tracks = tracks_from_ids(dets, tracker or TrackerSettings(min_length=1))
            return KeypointTracks(tracks, "coco17", size, fps, n, f"{path}:{video}", "videopose3d-custom")
        if "keypoints" in keys:
            kps = data["keypoints"]
            meta = data["metadata"].item() if "metadata" in keys and data["metadata"].dtype == object \
                and data["metadata"].shape == () else {}
            if not isinstance(meta, dict):
                meta = {}
            size = image_size or ((int(meta["w"]), int(meta["h"])) if "w" in meta and "h" in meta else None)
            frames = list(kps) if kps.dtype == object or kps.ndim == 4 else [k[None] for k in kps]
            dets = []
            for i, entry in enumerate(frames):
                kp, conf = _coco_people(entry, f"{path}: frame {i}")
                dets.append(Detections(kp, conf))
            tracks = track_people(dets, "coco17", tracker or TrackerSettings())
            return KeypointTracks(tracks, "coco17", size, fps, len(frames), str(path), "detectron2")
    except (KeyError, AttributeError, TypeError, IndexError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise FileFormatError(f"{path}: unexpected content for a VideoPose3D/Detectron2 file "
                              f"({type(e).__name__}: {e})", path) from None
    raise FileFormatError(f"{path}: neither a VideoPose3D dataset (positions_2d) nor a Detectron2 output (keypoints); "
                          f"keys: {keys}", path)


def read_mmpose_json(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    fps: float = 30.0,
    tracker: TrackerSettings | None = None,
) -> KeypointTracks:
    """COCO keypoints from MMPose prediction JSON.

    Accepted shapes: ``{"meta_info": ..., "instance_info": [{"frame_id",
    "instances": [...]}, ...]}`` (the top-down demo's ``--save-predictions``
    for a video; frames are indexed by position), the same with
    ``instance_info`` a list of instances (one image), or a bare list of
    frames or of instances. An instance has ``keypoints`` ``[[x, y], ...]`` and
    ``keypoint_scores``; 133 COCO-WholeBody keypoints are cut to their first
    17 (the COCO body). ``track_id`` on instances is used when every instance
    has one; otherwise people are associated with the tracker.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with reading(path, "MMPose JSON"):
        return _read_mmpose_json(path, image_size, fps, tracker)


def _read_mmpose_json(path: Path, image_size, fps, tracker) -> KeypointTracks:
    doc = read_json(path)
    body = doc.get("instance_info", doc.get("predictions")) if isinstance(doc, dict) else doc
    if not isinstance(body, list):
        raise FileFormatError(f"{path}: not an MMPose prediction file (no 'instance_info' list)", path)
    if body and isinstance(body[0], dict) and "instances" in body[0]:
        frames = [fr.get("instances") or [] for fr in body]
    elif not body or (isinstance(body[0], dict) and "keypoints" in body[0]):
        frames = [body]
    elif isinstance(body[0], list):
        frames = body
    else:
        raise FileFormatError(f"{path}: not an MMPose prediction file (entries have neither 'instances' nor "
                              "'keypoints')", path)
    dets = []
    all_ids = True
    for i, inst in enumerate(frames):
        kps, confs, ids = [], [], []
        for k, p in enumerate(inst):
            where = f"{path}: frame {i} instance {k}"
            try:
                kp = np.asarray(p["keypoints"], np.float64)
            except (KeyError, TypeError):
                raise FileFormatError(f"{where}: no 'keypoints'", path) from None
            if kp.ndim == 1:
                kp = kp.reshape(-1, 3)[:, :2] if kp.size % 3 == 0 and kp.size // 3 in (17, 133) else kp.reshape(-1, 2)
            if kp.ndim != 2 or kp.shape[0] not in (17, 133) or kp.shape[1] < 2:
                raise FileFormatError(f"{where}: keypoints of shape {kp.shape}; expected 17 (COCO) or 133 (WholeBody) x 2",
                                      path)
            sc = np.asarray(p.get("keypoint_scores", np.ones(kp.shape[0])), np.float64).reshape(-1)
            if sc.shape[0] != kp.shape[0]:
                raise FileFormatError(f"{where}: {sc.shape[0]} keypoint_scores for {kp.shape[0]} keypoints", path)
            kps.append(kp[:17, :2])
            confs.append(sc[:17])
            if "track_id" in p:
                ids.append(int(p["track_id"]))
            else:
                all_ids = False
        if kps:
            dets.append(Detections(np.stack(kps), np.stack(confs), ids=np.array(ids) if len(ids) == len(kps) else None))
        else:
            dets.append(Detections(np.zeros((0, 17, 2)), np.zeros((0, 17))))
    if all_ids and any(len(d) for d in dets):
        tracks = tracks_from_ids(dets, tracker or TrackerSettings(min_length=1))
    else:
        tracks = track_people(dets, "coco17", tracker or TrackerSettings(min_length=1))
    return KeypointTracks(tracks, "coco17", image_size, fps, len(frames), str(path), "mmpose")


def read_2d(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
    allow_pickle: bool = False,
    video: str | None = None,
    tracker: TrackerSettings | None = None,
) -> KeypointTracks:
    """Read any supported 2D file, choosing the reader from its suffix and content.

    ``.h5``/``.hdf5``: our format; ``.npz``: :func:`read_coco_npz`;
    ``.json``: DeepStream (has ``batches``/``objects``/``pose25d``) or MMPose.
    ``image_size`` and ``fps`` override what the file says (or fill in what
    it does not).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    kw_fps = {} if fps is None else {"fps": fps}
    if suffix not in (".h5", ".hdf5", ".npz", ".json"):
        raise FileFormatError(f"{path}: unknown 2D keypoint file type {suffix!r} (expected .h5, .npz or .json)", path)
    with reading(path, suffix[1:] + " keypoint"):
        data = _read_2d(path, suffix, image_size, kw_fps, allow_pickle, video, tracker)
    if image_size is not None:
        data.image_size = (int(image_size[0]), int(image_size[1]))
    if fps is not None:
        data.fps = float(fps)
    return data


def _read_2d(path, suffix, image_size, kw_fps, allow_pickle, video, tracker) -> KeypointTracks:
    if suffix in (".h5", ".hdf5"):
        data = read_keypoints_h5(path)
    elif suffix == ".npz":
        data = read_coco_npz(path, video=video, image_size=image_size, allow_pickle=allow_pickle, tracker=tracker, **kw_fps)
    elif suffix == ".json":
        head = path.read_text(encoding="utf-8", errors="replace")[:65536]
        if "pose25d" in head or '"batches"' in head:
            data = read_deepstream_json(path, image_size=image_size, tracker=tracker, **kw_fps)
        else:
            data = read_mmpose_json(path, image_size=image_size, tracker=tracker, **kw_fps)
    return data
