"""Human3.6M facts: subjects, cameras, image sizes, the 17 evaluation joints, frame rate."""
from __future__ import annotations

import re
from typing import Iterable

from poselift.core.errors import InputError

SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")


TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")


TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")


CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four camera ids, in the order of ``cameras.h5`` (``camera1..4``) and of
the per-camera lists in VideoPose3D's 2D npz files."""


IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
"""``(width, height)`` in pixels of each camera's video."""


JOINTS_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the standard 17 evaluation joints among the 32 mocap joints, in
the ``h36m17`` order (pelvis, right leg, left leg, spine, thorax, neck/nose,
head, left arm, right arm)."""


NUM_MOCAP_JOINTS = 32


FPS = 50.0


SH_KEYPOINTS = "sh_pt_mpii"
"""Name of the archive's 2D detections: Stacked Hourglass pretrained on MPII
(the name VideoPose3D gives the same detections)."""


MISSING_NOTE = (
    "S9 'Discussion 1' has no 3D in this copy of Human3.6M: its 5,873 frames x 4 cameras are missing from the "
    "S9+S11 test set (519,852 of the 543,344 frames of VideoPose3D's protocol, which also leaves out "
    "S11 'Directions')."
)
"""One line to print next to any S9+S11 number compared with published ones."""


def subject_number(subject: str) -> int:
    """``"S11" -> 11``; raises :class:`~poselift.core.errors.InputError` for anything not shaped ``S<number>``."""
    m = re.fullmatch(r"S(\d+)", subject) if isinstance(subject, str) else None
    if not m:
        raise InputError(f"subject names look like 'S9', got {subject!r}")
    return int(m.group(1))


def _sorted_subjects(subjects: Iterable[str]) -> list[str]:
    return sorted(set(subjects), key=subject_number)


def _camera_order(cam_id: str) -> tuple[int, str]:
    return (CAMERA_IDS.index(cam_id), cam_id) if cam_id in CAMERA_IDS else (len(CAMERA_IDS), cam_id)


KEYPOINT_LAYOUTS = {"gt": "h36m17", "sh": "mpii16"}
"""The 2D joint layout each Human3.6M keypoint source of a config (``data.keypoints``) gives: the ground truth
projected through the cameras (``h36m17``), the Stacked Hourglass detections (``mpii16``, MPII's joint order)."""
