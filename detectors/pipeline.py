"""Video in, tracked 2D keypoints out: the pipeline behind ``poselift detect``.

:func:`detect_video` reads frames (:mod:`~poselift.viz.video`), runs a
detector on each, associates people into tracks
(:mod:`~poselift.detectors.tracking`) and returns
:class:`~poselift.detectors.formats.KeypointTracks` plus a timing breakdown
(video decoding, preprocessing, network, post-processing, tracking), ready
for :func:`~poselift.detectors.formats.write_keypoints_h5`.

BodyPose3DNet needs person boxes: ``boxes`` gives them per frame (a
:func:`read_boxes_json` file, a callable, or ``"full"`` for the whole frame),
or ``box_detector`` (a :class:`~poselift.detectors.bodyposenet.BodyPoseNet`)
finds people and their keypoints' extent becomes the box.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Mapping, Union

import numpy as np

from poselift.core.errors import reading
from poselift.core.io import read_json
from poselift.detectors.bodypose3dnet import BodyPose3DNet, check_boxes
from poselift.detectors.bodyposenet import BodyPoseNet
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.tracking import Detections, TrackerSettings, track_people, tracks_from_ids
from poselift.viz.video import probe_video, read_frames

__all__ = ["detect_video", "read_boxes_json", "BoxSource"]

BoxSource = Union[str, Mapping[int, tuple[np.ndarray, "np.ndarray | None"]],
                  Callable[[int, np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray | None]"]]
"""``"full"``, a mapping frame -> (boxes (N, 4), ids (N,) or None), or a callable ``(frame_index, frame) -> boxes``."""


def read_boxes_json(path: str | os.PathLike) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """Person boxes per frame from JSON.

    Accepted: a list indexed by frame, or an object mapping frame index
    (string) to that frame's boxes (or ``{"frames": {...}}``). A box is
    ``[x0, y0, x1, y1]`` (extra numbers, e.g. a score, are ignored) or an
    object ``{"bbox": [x0, y0, x1, y1], "id": 3}`` (``"box"`` also accepted;
    ``id`` optional). Ids, when every box has one, become track ids.

    Returns:
        frame index -> ``(boxes (N, 4), ids (N,) or None)``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such boxes file: {path}")
    with reading(path, "boxes JSON"):
        return _read_boxes_json(path)


def _read_boxes_json(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    doc = read_json(path)
    if isinstance(doc, dict) and "frames" in doc:
        doc = doc["frames"]
    items = enumerate(doc) if isinstance(doc, list) else doc.items() if isinstance(doc, dict) else None
    if items is None:
        raise ValueError(f"{path}: expected a list of frames or an object frame -> boxes")
    out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    for key, boxes in items:
        try:
            fi = int(key)
        except ValueError:
            raise ValueError(f"{path}: frame key {key!r} is not an integer") from None
        rows, ids = [], []
        for k, b in enumerate(boxes or []):
            if isinstance(b, dict):
                coords = b.get("bbox", b.get("box"))
                if coords is None:
                    raise ValueError(f"{path}: frame {fi} box {k} has no 'bbox'")
                if "id" in b:
                    ids.append(int(b["id"]))
            else:
                coords = b
            rows.append(np.asarray(coords, np.float64).reshape(-1)[:4])
        arr = check_boxes(np.stack(rows) if rows else np.zeros((0, 4)), f"{path}: frame {fi} boxes")
        out[fi] = (arr, np.asarray(ids, np.int64) if rows and len(ids) == len(rows) else None)
    return out


def _boxes_for(source, fi: int, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(source, str):
        if source != "full":
            raise ValueError(f"unknown box source {source!r} (use 'full', a boxes file, or a box detector)")
        h, w = frame.shape[:2]
        return np.array([[0.0, 0.0, w, h]]), None
    if callable(source):
        res = source(fi, frame)
        return (res[0], res[1]) if isinstance(res, tuple) else (res, None)
    return source.get(fi, (np.zeros((0, 4)), None))


def detect_video(
    video: str | os.PathLike,
    detector,
    boxes: BoxSource | None = None,
    box_detector: BodyPoseNet | None = None,
    tracker: TrackerSettings = TrackerSettings(),
    start: int = 0,
    stop: int | None = None,
    progress: bool = True,
) -> tuple[KeypointTracks, dict[str, float]]:
    """Detect and track people in a video.

    Args:
        video: a video file (or a still image).
        detector: :class:`BodyPoseNet` (bottom-up), :class:`BodyPose3DNet` (needs boxes), or
            :class:`~poselift.detectors.blazepose.BlazePose` (finds and follows people itself; its world
            landmarks become the tracks' ``pose3d``).
        boxes: person boxes for BodyPose3DNet (see :data:`BoxSource`).
        box_detector: a BodyPoseNet whose people give BodyPose3DNet its boxes.
        tracker: association, gap filling and minimum length.
        start, stop: frame range.
        progress: show a progress bar.

    Returns:
        ``(tracks, timing)``; ``timing`` has seconds spent in ``video``
        (decoding), ``preprocess``, ``network``, ``postprocess``, ``boxes``
        (the box detector), ``tracking``, BlazePose's ``detection``, ``landmarks`` and ``regions`` (its
        region tracking), and ``frames``, ``people`` counts.
    """
    from tqdm.auto import tqdm

    info = probe_video(video)
    three_d = isinstance(detector, BodyPose3DNet)
    if three_d and boxes is None and box_detector is None:
        raise ValueError("BodyPose3DNet needs person boxes: give a boxes file, 'full' (the whole frame), "
                         "or a BodyPoseNet box detector")
    timing = {k: 0.0 for k in ("video", "preprocess", "network", "postprocess", "boxes", "tracking", "detection",
                               "landmarks", "regions")}
    if hasattr(detector, "reset"):
        detector.reset()  # a detector that follows people between frames starts afresh
    timing.update(frames=0, people=0)
    dets: list[Detections] = []
    indices: list[int] = []
    all_ids = True
    total = _frames_to_read(info, start, stop)
    bar = tqdm(total=total, desc=f"detect {Path(video).name}", unit="frame", disable=not progress)
    last = time.perf_counter()
    height = width = 0
    for fi, frame in read_frames(video, start=start, stop=stop):
        timing["video"] += time.perf_counter() - last
        height, width = frame.shape[:2]
        if three_d:
            d, has_ids = _detect_3d(detector, frame, fi, boxes, box_detector, timing)
            all_ids = all_ids and has_ids
        else:
            people = detector(frame)
            all_ids = False
            d = Detections(people.keypoints, people.confidence, extras=dict(getattr(people, "extras", {})))
        _add_detector_timing(detector, timing)
        dets.append(d)
        indices.append(fi)
        timing["frames"] += 1
        timing["people"] += len(d)
        bar.update(1)
        last = time.perf_counter()
    bar.close()
    if not dets:
        raise ValueError(f"{video}: no frames decoded in the range [{start}, {stop})")
    t0 = time.perf_counter()
    if three_d and all_ids and any(len(d) for d in dets):
        tracks = tracks_from_ids(dets, tracker, indices)
    else:
        tracks = track_people(dets, detector.layout_name, tracker, indices)
    timing["tracking"] = time.perf_counter() - t0
    return _video_tracks(tracks, detector, info, (width, height), start, indices, video, three_d), timing


def _frames_to_read(info, start: int, stop: int | None) -> int | None:
    """How many frames :func:`detect_video` will read (for the progress bar; ``None``: unknown)."""
    total = stop if stop is not None else (info.num_frames or None)
    if total is not None and info.num_frames:
        total = min(total, info.num_frames)
    return max(total - start, 0) if total is not None else None


def _detect_3d(detector, frame, fi: int, boxes, box_detector, timing: dict) -> tuple[Detections, bool]:
    """One frame through BodyPose3DNet in the boxes of ``box_detector`` or ``boxes``; ``(detections, whether
    every detection kept the id its box came with)`` (a frame with no detection keeps the ids usable)."""
    t0 = time.perf_counter()
    if box_detector is not None:
        people = box_detector(frame)
        bx, ids = people.boxes(), None
    else:
        bx, ids = _boxes_for(boxes, fi, frame)
    timing["boxes"] += time.perf_counter() - t0
    res = detector(frame, bx)
    has_ids = True
    if ids is None or len(ids) != len(res):
        has_ids = len(res) == 0
        ids = None
    return Detections(res.keypoints, res.confidence, ids=ids,
                      extras={"pose3d": res.pose3d, "pose25d": res.pose25d}), has_ids


def _add_detector_timing(detector, timing: dict) -> None:
    """Add the detector's own timing of its last frame to ``timing``."""
    for k in ("preprocess", "network", "detection", "landmarks", "regions"):
        timing[k] += detector.last_timing.get(k, 0.0)
    timing["postprocess"] += detector.last_timing.get("decode", 0.0)


def _video_tracks(tracks, detector, info, frame_size: tuple[int, int], start: int, indices: list[int], video,
                  three_d: bool) -> KeypointTracks:
    """The tracks as :class:`KeypointTracks`, with the video's size and frame rate and the detector's attributes."""
    size = (info.width or frame_size[0], info.height or frame_size[1])
    fps = info.fps if info.fps > 0 else 30.0
    attrs = {"provider": detector.provider, "frame_start": start}
    if three_d:
        attrs["pose3d_units"] = "network output (undocumented)"
    attrs.update(getattr(detector, "file_attrs", {}))
    return KeypointTracks(tracks, detector.layout_name, size, fps, max(indices) + 1, str(video),
                          type(detector).__name__.lower(), attrs)
