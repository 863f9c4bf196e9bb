"""2D (and single-frame 3D) keypoints from video: ONNX detectors, tracks, other tools' files.

Modules:

* :mod:`~poselift.detectors.runtime`: opening ONNX models (explicit providers, signature checks, batches);
* :mod:`~poselift.detectors.images`: frame validation and resizing;
* :mod:`~poselift.detectors.bodyposenet`: NVIDIA TAO BodyPoseNet: ``decode`` (heatmap peaks + PAF grouping,
  18 joints) and ``net`` (the network through ONNX Runtime);
* :mod:`~poselift.detectors.bodypose3dnet`: NVIDIA TAO BodyPose3DNet on person crops (34 joints, 2D/2.5D/3D);
* :mod:`~poselift.detectors.blazepose`: MediaPipe BlazePose GHUM through LiteRT (33 landmarks, world 3D, several
  people, regions tracked between frames); not imported here (LiteRT is the optional extra ``blazepose``):
  ``from poselift.detectors.blazepose import BlazePose``;
* :mod:`~poselift.detectors.tracking`: people across frames, gap filling;
* :mod:`~poselift.detectors.formats`: the tracks of one video (``tracks``), our HDF5 2D/3D files (``h5``),
  DeepStream JSON, COCO npz, MMPose JSON, and ``read_2d`` for any of them;
* :mod:`~poselift.detectors.pipeline`: video -> tracks (``poselift detect``);
* :mod:`~poselift.detectors.standins`: stand-in ONNX models with the published signatures (tests, benchmarks).

Frames are read with :mod:`poselift.viz.video`. The joint conversions ``bodyposenet18 -> h36m17`` and
``bodypose3dnet34 -> h36m17`` are registered in :mod:`poselift.core.layouts`.
"""
from __future__ import annotations

import importlib
from typing import Any

# name -> module: imported on first use (PEP 562), so that reading a 2D file (detectors.formats) does not load
# the ONNX detectors and ONNX Runtime
_LAZY = {
    **dict.fromkeys(("BodyPose3DNet", "Poses3D", "crop_for_box"), "poselift.detectors.bodypose3dnet"),
    **dict.fromkeys(("BodyPoseNet", "BodyPoseNetSettings", "DecodeSettings", "People", "decode_people"),
                    "poselift.detectors.bodyposenet"),
    **dict.fromkeys(("KeypointTracks", "read_2d", "read_keypoints_h5", "read_sequences", "write_keypoints_h5"),
                    "poselift.detectors.formats"),
    **dict.fromkeys(("OnnxModel", "TensorSpec"), "poselift.detectors.runtime"),
    **dict.fromkeys(("Detections", "Track", "TrackerSettings", "track_people"), "poselift.detectors.tracking"),
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
