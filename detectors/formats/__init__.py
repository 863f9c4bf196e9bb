"""2D keypoint files: our HDF5 format (written by ``poselift detect``) and other tools' outputs.

Everything reads into :class:`~poselift.detectors.formats.tracks.KeypointTracks` (the tracks of one video plus
what the lifter needs: layout, image size, fps), which
:meth:`KeypointTracks.to_sequences` turns into
:class:`~poselift.core.sequence.PoseSequence` objects, one per track.

Our HDF5 files (:mod:`~poselift.detectors.formats.h5`): the 2D tracks ``poselift detect`` writes
(format ``poselift-keypoints2d``) and the 3D poses ``poselift lift`` writes (``poselift-poses3d``).

Other sources:

* DeepStream ``deepstream-bodypose-3d`` pose files (:func:`read_deepstream_json`).
* VideoPose3D dataset ``.npz`` files, any layout (``positions_2d[subject][action][camera]``:
  Human3.6M's CPN / Detectron / Stacked Hourglass 2D, custom datasets): :func:`read_vp3d_npz`.
* COCO-17 keypoints: the per-video Detectron2 ``.npz`` files VideoPose3D's inference script writes
  (:func:`read_coco_npz`), MMPose prediction JSON (:func:`read_mmpose_json`).

:func:`read_2d` picks the reader from the file, and takes what the file does not say (frame rate,
image size, layout, which entry or person) from its arguments or the video; every command that reads
2D passes the same options to it (:mod:`poselift.commands.inputs`).

Bad files: a corrupt, truncated or malformed file raises
:class:`~poselift.core.errors.FileFormatError` naming the file (and the track,
frame or key where it can), whatever the parser underneath threw. Files
storing pickled Python objects are read only with ``allow_pickle=True``
(which warns). NaN/inf policy: a keypoint with a non-finite coordinate is a
*missing* joint: kept as NaN with confidence 0 in the tracks, filled
(interpolated, or placed on its nearest found ancestor) with confidence 0 by
:meth:`KeypointTracks.to_sequences`, so the sequences given to the lifter
are finite.
"""
from poselift.detectors.formats.coco_npz import read_coco_npz
from poselift.detectors.formats.deepstream import read_deepstream_json
from poselift.detectors.formats.dispatch import read_2d
from poselift.detectors.formats.h5 import (
    KEYPOINTS_FORMAT,
    KEYPOINTS_VERSION,
    POSES3D_FORMAT,
    POSES3D_VERSION,
    Poses3DFile,
    read_keypoints_h5,
    read_poses3d_h5,
    read_sequences,
    write_keypoints_h5,
    write_poses3d_h5,
)
from poselift.detectors.formats.mmpose import read_mmpose_json
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.formats.vp3d_npz import read_vp3d_npz

__all__ = [
    "KEYPOINTS_FORMAT",
    "KEYPOINTS_VERSION",
    "POSES3D_FORMAT",
    "POSES3D_VERSION",
    "KeypointTracks",
    "Poses3DFile",
    "write_keypoints_h5",
    "read_keypoints_h5",
    "read_sequences",
    "write_poses3d_h5",
    "read_poses3d_h5",
    "read_deepstream_json",
    "read_coco_npz",
    "read_mmpose_json",
    "read_vp3d_npz",
    "read_2d",
]
