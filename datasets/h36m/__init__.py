"""Human3.6M: readers for the "h36m" archive layout and VideoPose3D's npz files, a cache, sequences.

Modules: :mod:`~.constants` (subjects, cameras, joints), :mod:`~.data` (the container),
:mod:`~.archive` and :mod:`~.npz` (readers), :mod:`~.cache` (the prepared cache),
:mod:`~.sequences` (PoseSequence objects), :mod:`~.loader` (:func:`load`: cache or archive).

Everything lands in one plain container, :class:`H36MData`:

* ``cameras[(subject, camera_id)]``: :class:`poselift.core.camera.Camera` with
  ``R`` world-to-camera (the stored ``R`` of ``cameras.h5`` is transposed;
  this module fixes it), ``T`` the camera centre in world metres, the
  Human3.6M distortion and the image size of that camera id;
* ``poses3d[(subject, action)]``: ``(T, 17, 3)`` float32 world coordinates in
  metres, the standard 17 of the 32 mocap joints (:data:`JOINTS_17`), in the
  ``h36m17`` layout;
* ``keypoints2d[(subject, action, camera_id)]``: ``(T, J, 2)`` float32 2D
  detections in pixels (the Stacked Hourglass detections of the archive:
  ``J = 16``, layout ``mpii16``).

:func:`sequences` turns it into :class:`poselift.core.sequence.PoseSequence`
objects (one per subject, action and camera) with 3D in camera coordinates
and either ground-truth 2D (the 3D projected through the camera, with lens
distortion) or the detections. :func:`load` reads either a prepared cache
(:mod:`poselift.datasets.h36m.cache`, fast) or an archive folder (slower).

Actions are named after the 3D files without ``.h5`` (``"Walking 1"``); the
Stacked Hourglass files write ``_`` for the space (``Walking_1.54138969.h5``).

The data is licensed for academic research only: read it from where the user
keeps it, never copy it (or anything derived from it) into a repository.
"""
from poselift.datasets.h36m.archive import read_archive, read_cameras
from poselift.datasets.h36m.constants import (
    CAMERA_IDS,
    FPS,
    IMAGE_SIZES,
    JOINTS_17,
    MISSING_NOTE,
    NUM_MOCAP_JOINTS,
    SH_KEYPOINTS,
    SUBJECTS,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    subject_number,
)
from poselift.datasets.h36m.data import H36MData
from poselift.datasets.h36m.loader import load
from poselift.datasets.h36m.npz import read_npz
from poselift.datasets.h36m.sequences import sequences

__all__ = [
    "SUBJECTS",
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "CAMERA_IDS",
    "IMAGE_SIZES",
    "JOINTS_17",
    "NUM_MOCAP_JOINTS",
    "FPS",
    "SH_KEYPOINTS",
    "MISSING_NOTE",
    "H36MData",
    "read_cameras",
    "read_archive",
    "read_npz",
    "sequences",
    "load",
    "subject_number",
]
