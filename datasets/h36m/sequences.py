"""Human3.6M as PoseSequence objects: one per subject, action and camera."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from poselift.core.errors import InputError
from poselift.core.sequence import PoseSequence
from poselift.datasets.h36m.constants import CAMERA_IDS, FPS
from poselift.datasets.h36m.data import H36MData


def sequences(
    data: H36MData,
    subjects: str | Iterable[str] | None = None,
    keypoints: str = "gt",
    cameras: Iterable[str] | None = None,
    *,
    actions: Iterable[str] | None = None,
    skipped: list[str] | None = None,
) -> list[PoseSequence]:
    """One :class:`PoseSequence` per (subject, action, camera).

    Order: subjects as given (numeric order when ``None``), actions sorted
    by name, cameras in :data:`CAMERA_IDS` order (or as given).

    Each sequence has ``poses3d`` ``(T, 17, 3)`` in camera coordinates
    (metres, absolute: the root carries the trajectory; layout ``h36m17``),
    ``camera`` set, ``fps = 50`` and ``subject``/``action`` labels, and
    ``keypoints`` in pixels:

    * ``"gt"``: the 3D projected through the camera with the Human3.6M lens
      distortion, ``(T, 17, 2)``, layout ``h36m17``;
    * ``"sh"`` (or ``"detections"``, or the stored :attr:`H36MData.keypoints_name`):
      the stored 2D detections ``(T, J, 2)`` in :attr:`H36MData.layout2d`
      (``mpii16`` for the Stacked Hourglass). Sequences without detections
      for a camera (S11 Directions, camera 54138969) are skipped.

    Args:
        data: what :func:`load`, :func:`read_archive` or :func:`read_npz` returned.
        subjects: a subject, a list of them, or ``None`` for all.
        keypoints: ``"gt"`` or ``"sh"`` / ``"detections"``.
        cameras: camera ids to use (default: all four).
        actions: restrict to these actions (default: all with 3D).
        skipped: if given, one line per skipped sequence is appended to it.

    Returns:
        The sequences (the camera id is ``seq.camera.name``); ``meta`` holds ``keypoints``
        (name of the 2D) and ``source``.
    """
    subjects = _checked_subjects(data, subjects)
    use_gt = _uses_gt(data, keypoints)
    cams_wanted = _checked_cameras(cameras)
    action_filter = None if actions is None else set(actions)
    name = "gt" if use_gt else data.keypoints_name
    out: list[PoseSequence] = []
    for s in subjects:
        cams = data.camera_ids(s) if cams_wanted is None else cams_wanted
        acts = [a for a in data.actions(s) if action_filter is None or a in action_filter]
        if not acts:
            continue
        per_cam = _camera_views(data, s, acts, cams, use_gt)
        for i, action in enumerate(acts):
            for cam_id in cams:
                X_cams, kps = per_cam[cam_id]
                if use_gt:
                    kp, layout = kps[i], "h36m17"
                else:
                    kp, layout = data.keypoints2d.get((s, action, cam_id)), data.layout2d
                    if kp is None:
                        if skipped is not None:
                            skipped.append(f"{s} {action!r} camera {cam_id}: no {name} 2D; skipped")
                        continue
                out.append(
                    PoseSequence(
                        keypoints=kp,
                        layout=layout,
                        poses3d=X_cams[i],
                        layout3d="h36m17",
                        camera=data.cameras[(s, cam_id)],
                        fps=FPS,
                        subject=s,
                        action=action,
                        meta={"keypoints": name, "source": data.source},
                    )
                )
    return out


def _checked_subjects(data: H36MData, subjects: str | Iterable[str] | None) -> list[str]:
    """``subjects`` as a list (all of ``data``'s when ``None``); a subject without 3D is an error."""
    if isinstance(subjects, str):
        subjects = [subjects]
    subjects = data.subjects if subjects is None else list(subjects)
    unknown = [s for s in subjects if s not in set(data.subjects)]
    if unknown:
        raise InputError(f"no 3D for subject(s) {unknown}; available: {data.subjects}")
    return subjects


def _uses_gt(data: H36MData, keypoints: str) -> bool:
    """Whether ``keypoints`` asks for the projected ground truth (``True``) or the stored detections
    (``False``); detections that are absent, or not the Stacked Hourglass when ``"sh"`` is asked for,
    and unknown names are errors."""
    if keypoints == "gt":
        return True
    if keypoints in ("sh", "detections", "det") or (data.keypoints_name and keypoints == data.keypoints_name):
        if not data.keypoints2d:
            raise InputError(f"keypoints={keypoints!r}: this data holds no 2D detections (source {data.source})")
        if keypoints == "sh" and not data.keypoints_name.startswith("sh"):
            raise InputError(
                f"keypoints='sh': the stored detections are {data.keypoints_name!r}, not Stacked Hourglass; "
                f"use keypoints='detections' or {data.keypoints_name!r}"
            )
        return False
    raise InputError(f"keypoints must be 'gt' or 'sh'/'detections' (stored: {data.keypoints_name!r}), got {keypoints!r}")


def _checked_cameras(cameras: Iterable[str] | None) -> list[str] | None:
    """Camera ids as strings, each one of :data:`CAMERA_IDS` (``None``: every camera of each subject)."""
    cams_wanted = None if cameras is None else [str(c) for c in cameras]
    if cams_wanted is not None:
        bad = [c for c in cams_wanted if c not in CAMERA_IDS]
        if bad:
            raise InputError(f"unknown camera id(s) {bad}; known: {list(CAMERA_IDS)}")
    return cams_wanted


def _camera_views(data: H36MData, s: str, acts: list[str], cams: list[str], use_gt: bool
                  ) -> dict[str, tuple[list[np.ndarray], list[np.ndarray] | None]]:
    """Subject ``s``'s 3D of ``acts`` in each camera's coordinates and, with ``use_gt``, projected.

    Returns:
        per camera id: the per-action ``(T_a, 17, 3)`` camera-frame 3D and the ``(T_a, 17, 2)`` pixels
        (``None`` without ``use_gt``).
    """
    # One transform (and projection) per subject and camera over all of its frames:
    # few large vectorised calls, then views split per action. float32 throughout
    # (within ~1e-4 px and ~1e-3 mm of float64).
    X = np.concatenate([data.poses3d[(s, a)] for a in acts])
    cuts = np.cumsum([len(data.poses3d[(s, a)]) for a in acts])[:-1]
    per_cam: dict[str, tuple[list[np.ndarray], list[np.ndarray] | None]] = {}
    for cam_id in cams:
        cam = data.cameras.get((s, cam_id))
        if cam is None:
            raise InputError(f"{s}: no calibration for camera {cam_id}")
        X_cam = cam.world_to_camera(X)
        kp = cam.project(X_cam) if use_gt else None
        per_cam[cam_id] = (np.split(X_cam, cuts), None if kp is None else np.split(kp, cuts))
    return per_cam
