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
from poselift.detectors.bodypose3dnet import BodyPose3DNet, Poses3D, crop_for_box
from poselift.detectors.bodyposenet import (
    BodyPoseNet,
    BodyPoseNetSettings,
    DecodeSettings,
    People,
    decode_people,
)
from poselift.detectors.formats import (
    KeypointTracks,
    read_2d,
    read_keypoints_h5,
    read_sequences,
    write_keypoints_h5,
)
from poselift.detectors.runtime import OnnxModel, TensorSpec
from poselift.detectors.tracking import Detections, Track, TrackerSettings, track_people

__all__ = [
    "BodyPose3DNet", "Poses3D", "crop_for_box",
    "BodyPoseNet", "BodyPoseNetSettings", "DecodeSettings", "People", "decode_people",
    "KeypointTracks", "read_2d", "read_keypoints_h5", "read_sequences", "write_keypoints_h5",
    "OnnxModel", "TensorSpec",
    "Detections", "Track", "TrackerSettings", "track_people",
]
