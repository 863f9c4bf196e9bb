"""NVIDIA TAO BodyPoseNet: bottom-up multi-person 2D pose, 18 joints.

* :mod:`~poselift.detectors.bodyposenet.decode`: heatmap peaks and part-affinity-field grouping into people;
* :mod:`~poselift.detectors.bodyposenet.net`: the network through ONNX Runtime (preprocessing, outputs, multi-scale).
"""
from poselift.detectors.bodyposenet.decode import (
    BODYPOSENET_LIMBS,
    MAP_LAYOUTS,
    OPENPOSE_COCO18_LIMBS,
    OPENPOSE_COCO18_PAF_CHANNELS,
    PAF_PRESETS,
    DecodeSettings,
    People,
    assemble_people,
    decode_people,
    find_peaks,
    redundant_limbs,
    score_limbs,
)
from poselift.detectors.bodyposenet.net import (
    BODYPOSENET_HEATMAP,
    BODYPOSENET_INPUT,
    BODYPOSENET_PAF,
    BodyPoseNet,
    BodyPoseNetSettings,
    load_settings,
    settings_from_dict,
)

__all__ = [
    "BODYPOSENET_LIMBS",
    "OPENPOSE_COCO18_LIMBS",
    "OPENPOSE_COCO18_PAF_CHANNELS",
    "PAF_PRESETS",
    "MAP_LAYOUTS",
    "load_settings",
    "settings_from_dict",
    "BODYPOSENET_INPUT",
    "BODYPOSENET_HEATMAP",
    "BODYPOSENET_PAF",
    "DecodeSettings",
    "People",
    "find_peaks",
    "score_limbs",
    "assemble_people",
    "decode_people",
    "BodyPoseNetSettings",
    "BodyPoseNet",
    "redundant_limbs",
]
