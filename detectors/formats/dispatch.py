"""Reading any supported 2D file: the reader is chosen from the file's suffix and content, and what the
file does not say (frame rate, image size, joint layout, which person) comes from the caller or the video."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

from poselift.core.errors import FileFormatError, InputError, InputWarning, reading
from poselift.core.io import load_npz
from poselift.core.layouts import get_layout
from poselift.detectors.formats.coco_npz import _read_coco_npz
from poselift.detectors.formats.deepstream import read_deepstream_json
from poselift.detectors.formats.h5 import read_keypoints_h5
from poselift.detectors.formats.mmpose import read_mmpose_json
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.formats.vp3d_npz import read_positions_2d
from poselift.detectors.tracking import TrackerSettings

__all__ = ["read_2d", "ASSUMED_LAYOUT_SOURCES"]

ASSUMED_LAYOUT_SOURCES = ("detectron2", "mmpose")
"""Sources whose layout (COCO-17) is an assumption, not stated by the file: ``layout=`` may relabel them
(same joint count). Every other source states its layout, and ``layout=`` must agree with it."""


def read_2d(path: str | os.PathLike, image_size: tuple[int, int] | None = None, fps: float | None = None,
            allow_pickle: bool = False, tracker: TrackerSettings | None = None, *, layout: str | None = None,
            subject: str | None = None, action: str | None = None, camera: int | None = None,
            tracks: Sequence[int] | None = None, video: str | os.PathLike | None = None) -> KeypointTracks:
    """Read any supported 2D file, choosing the reader from its suffix and content.

    ``.h5``/``.hdf5``: our format; ``.npz``: a VideoPose3D dataset (``positions_2d``:
    :func:`~poselift.detectors.formats.vp3d_npz.read_vp3d_npz`) or a Detectron2 output
    (:func:`~poselift.detectors.formats.coco_npz.read_coco_npz`); ``.json``: DeepStream (has
    ``batches``/``objects``/``pose25d``) or MMPose.

    Args:
        image_size, fps: override what the file says (or fill in what it does not).
        allow_pickle: npz files holding pickled objects (VideoPose3D's, Detectron2's); only if trusted.
        tracker: gap filling and track association settings.
        layout: the file's joint layout where the file does not state it (COCO-17 is assumed for
            Detectron2 and MMPose files; a VideoPose3D file without ``layout_name``); a file that
            states another layout is an error.
        subject, action, camera: the entry of a VideoPose3D dataset npz (``positions_2d[subject][action]
            [camera]``; a custom dataset's video name is its subject); each may be left out when there is
            only one.
        tracks: keep only these track ids (one person of a multi-person file); an unknown id is an error
            naming the ids there are.
        video: the video the keypoints came from: its frame rate and size fill in what the file does not
            say; a file that says otherwise gets an :class:`~poselift.core.errors.InputWarning`.

    The frame rate stays 0 (unknown) when neither the file, ``fps`` nor ``video`` gives it.

    Example: an MMPose prediction file (COCO-17, no frame rate stored) of one person over 3 frames:

        >>> import json, tempfile, numpy as np
        >>> kp = np.random.default_rng(0).uniform(100, 300, (17, 2))
        >>> frames = [{"frame_id": t, "instances": [{"keypoints": (kp + t).tolist(), "keypoint_scores": [0.9] * 17}]}
        ...           for t in range(3)]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "mm.json"
        ...     _ = path.write_text(json.dumps({"instance_info": frames}))
        ...     tracks = read_2d(path, image_size=(640, 480), fps=25)
        >>> tracks.layout, tracks.num_frames, tracks.fps, len(tracks.tracks)
        ('coco17', 3, 25.0, 1)
        >>> seq = tracks.to_sequences()[0]          # one PoseSequence per tracked person
        >>> seq.keypoints.shape, seq.image_size
        ((3, 17, 2), (640, 480))
        >>> bool(np.allclose(seq.keypoints[2], kp + 2))
        True
    """
    path = Path(path)
    suffix, layout = _checked_request(path, layout, subject, action, camera)
    with reading(path, suffix[1:] + " keypoint"):
        data = _read_2d(path, suffix, image_size, fps, allow_pickle, tracker, layout, subject, action, camera)
    data = _relabelled(data, layout, path)
    if image_size is not None:
        data.image_size = (int(image_size[0]), int(image_size[1]))
    if fps is not None:
        data.fps = float(fps)
    if video is not None:  # called from here: its warnings point at read_2d's caller (stacklevel)
        _fill_from_video(data, Path(video), path, image_size is not None, fps is not None)
    if tracks is not None:
        _keep_tracks(data, tracks, path)
    return data


def _checked_request(path: Path, layout: str | None, subject: str | None, action: str | None,
                     camera: int | None) -> tuple[str, str | None]:
    """``(suffix, layout's canonical name)`` once the file exists, its suffix is one read here and
    subject/action/camera are asked of a ``.npz`` only."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".hdf5", ".npz", ".json"):
        raise FileFormatError(f"{path}: unknown 2D keypoint file type {suffix!r} (expected .h5, .npz or .json)", path)
    if layout is not None:
        layout = get_layout(layout).name
    if suffix != ".npz" and (subject is not None or action is not None or camera is not None):
        raise InputError(f"{path}: subject/action/camera choose an entry of a VideoPose3D .npz file; this is a "
                         f"{suffix} file (choose people with tracks= / --track)")
    return suffix, layout


def _relabelled(data: KeypointTracks, layout: str | None, path: Path) -> KeypointTracks:
    """``data`` in the caller's ``layout``: a relabelling (same joint count) for a source whose layout is
    assumed (:data:`ASSUMED_LAYOUT_SOURCES`), an error for one that states another layout."""
    if layout is not None and data.layout != layout:
        if data.detector not in ASSUMED_LAYOUT_SOURCES:
            raise InputError(f"{path}: the file's keypoints are in layout {data.layout}; --layout says {layout}")
        if get_layout(layout).num_joints != get_layout(data.layout).num_joints:
            raise InputError(f"{path}: {get_layout(data.layout).num_joints} joints per person, layout {layout} has "
                             f"{get_layout(layout).num_joints}")
        data = KeypointTracks(data.tracks, layout, data.image_size, data.fps, data.num_frames, data.source,
                              data.detector, dict(data.attrs, layout_declared=layout))
    return data


def _keep_tracks(data: KeypointTracks, tracks: Sequence[int], path: Path) -> None:
    """Keep only the tracks whose ids are in ``tracks``; an unknown id is an error naming the ids there are."""
    have = [int(t.track_id) for t in data.tracks]
    missing = [int(t) for t in tracks if int(t) not in have]
    if missing:
        raise InputError(f"{path}: no track {missing}; tracks: {have}")
    keep = {int(t) for t in tracks}
    data.tracks = [t for t in data.tracks if int(t.track_id) in keep]


def _fill_from_video(data: KeypointTracks, video: Path, path: Path, size_given: bool, fps_given: bool) -> None:
    """Frame rate and image size from the video where the file (and the caller) do not give them."""
    from poselift.viz.video import probe_video

    info = probe_video(video)
    size = (info.width, info.height)
    if data.image_size is None:
        data.image_size = size
    elif data.image_size != size and not size_given:
        warnings.warn(f"{path} says the image is {data.image_size[0]}x{data.image_size[1]} but {video} is "
                      f"{size[0]}x{size[1]}: the keypoints are read in the file's pixels (a 2D file of another "
                      "video, or of a resized one?)", InputWarning, stacklevel=3)
    if info.fps > 0:
        if not data.fps > 0:
            data.fps = float(info.fps)
        elif abs(data.fps - info.fps) > 1e-3 * info.fps and not fps_given:
            warnings.warn(f"{path} says {data.fps:g} frames/s but {video} runs at {info.fps:g}: using the file's "
                          "(give --fps to choose)", InputWarning, stacklevel=3)


def _read_2d(path, suffix, image_size, fps, allow_pickle, tracker, layout, subject, action, camera) -> KeypointTracks:
    if suffix in (".h5", ".hdf5"):
        return read_keypoints_h5(path)
    if suffix == ".npz":
        entries = load_npz(path, allow_pickle=allow_pickle)
        if "positions_2d" in entries:
            return read_positions_2d(path, entries, subject, action, camera, image_size, fps, layout, tracker,
                                     default_layout=None if layout else "coco17" if _is_custom(entries) else None)
        if subject is not None or action is not None or camera is not None:
            raise InputError(f"{path}: subject/action/camera choose an entry of a VideoPose3D dataset file "
                             "(positions_2d); this file has none")
        return _read_coco_npz(path, entries, None, image_size, fps, tracker)
    with open(path, "rb") as fh:  # the first 64 kB decide the format: the file is not read whole here
        head = fh.read(65536).decode("utf-8", errors="replace")
    if "pose25d" in head or '"batches"' in head:
        return read_deepstream_json(path, image_size=image_size, fps=fps, tracker=tracker)
    return read_mmpose_json(path, image_size=image_size, fps=fps, tracker=tracker)


def _is_custom(entries: dict) -> bool:
    """A VideoPose3D custom dataset (``prepare_data_2d_custom.py``): video metadata, COCO keypoints."""
    import numpy as np

    meta = entries.get("metadata")
    meta = meta.item() if isinstance(meta, np.ndarray) and meta.dtype == object and meta.shape == () else meta
    return isinstance(meta, dict) and "video_metadata" in meta
