"""COCO-17 keypoints from VideoPose3D custom-dataset and Detectron2 ``.npz`` files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from poselift.core.errors import FileFormatError, InputError, reading
from poselift.core.io import load_npz
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.tracking import Detections, TrackerSettings, track_people, tracks_from_ids


def _load_npz(path: Path, allow_pickle: bool) -> dict[str, Any]:
    """All entries of an npz file, read eagerly within their declared sizes (:func:`poselift.core.io.load_npz`)."""
    return load_npz(path, allow_pickle=allow_pickle)


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
