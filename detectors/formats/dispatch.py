"""Reading any supported 2D file: the reader is chosen from the file's suffix and content."""
from __future__ import annotations

import os
from pathlib import Path

from poselift.core.errors import FileFormatError, reading
from poselift.detectors.formats.coco_npz import read_coco_npz
from poselift.detectors.formats.deepstream import read_deepstream_json
from poselift.detectors.formats.h5 import read_keypoints_h5
from poselift.detectors.formats.mmpose import read_mmpose_json
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.tracking import TrackerSettings


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
