"""COCO keypoints from MMPose prediction JSON."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from poselift.core.errors import FileFormatError, reading
from poselift.core.io import read_json
from poselift.detectors.formats.tracks import KeypointTracks, check_people
from poselift.detectors.tracking import Detections, TrackerSettings, track_people, tracks_from_ids


def read_mmpose_json(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
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
    has one; otherwise people are associated with the tracker. The frame rate is not
    stored: ``fps`` (default unknown, 0).
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
        check_people(len(inst) if isinstance(inst, list) else 0, f"{path}: frame {i}", path)
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
    return KeypointTracks(tracks, "coco17", image_size, float(fps or 0.0), len(frames), str(path), "mmpose")
