"""COCO-17 keypoints from VideoPose3D custom-dataset and Detectron2 ``.npz`` files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from poselift.core.errors import FileFormatError, InputError, reading
from poselift.core.io import load_npz
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.formats.vp3d_npz import read_positions_2d
from poselift.detectors.tracking import Detections, TrackerSettings, track_people


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
    fps: float | None = None,
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
    should only be given for files you trust. Neither stores the frame rate: ``fps``
    (default unknown, 0). Any VideoPose3D dataset file (Human3.6M's too, any layout):
    :func:`~poselift.detectors.formats.vp3d_npz.read_vp3d_npz`.
    """
    path = Path(path)
    with reading(path, "npz"):
        data = load_npz(path, allow_pickle=allow_pickle)
        return _read_coco_npz(path, data, video, image_size, fps, tracker)


def _read_coco_npz(path: Path, data: dict, video, image_size, fps, tracker) -> KeypointTracks:
    keys = list(data)
    try:
        if "positions_2d" in keys:  # a VideoPose3D dataset (custom: one video per subject key)
            return read_positions_2d(path, data, subject=video, image_size=image_size, fps=fps, tracker=tracker,
                                     default_layout="coco17")
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
            return KeypointTracks(tracks, "coco17", size, float(fps or 0.0), len(frames), str(path), "detectron2")
    except (KeyError, AttributeError, TypeError, IndexError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise FileFormatError(f"{path}: unexpected content for a VideoPose3D/Detectron2 file "
                              f"({type(e).__name__}: {e})", path) from None
    raise FileFormatError(f"{path}: neither a VideoPose3D dataset (positions_2d) nor a Detectron2 output (keypoints); "
                          f"keys: {keys}", path)
