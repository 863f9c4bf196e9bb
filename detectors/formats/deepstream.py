"""NVIDIA DeepStream ``deepstream-bodypose-3d`` pose files (JSON)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from poselift.core.errors import FileFormatError, InputError, reading
from poselift.core.io import json_text
from poselift.detectors.formats.tracks import KeypointTracks, check_people
from poselift.detectors.tracking import Detections, TrackerSettings, tracks_from_ids


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
        except RecursionError:
            raise FileFormatError(f"{path}: refused: JSON nested too deeply to parse", path) from None
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
    fps: float | None = None,
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
        fps: the video's frame rate (not stored either; default unknown, 0).
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
    text = json_text(path)  # value count and nesting bounded before parsing
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
        check_people(len(per_frame.get(fn, ())) + len(objects), f"{path}: frame {fn}", path)
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
    return KeypointTracks(tracks, "bodypose3dnet34", image_size, float(fps or 0.0), n, str(path), "deepstream-bodypose-3d",
                          {"pose3d_units": "mm"})
