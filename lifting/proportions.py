"""Body proportions of 3D poses: is the lifted person as tall, as wide and as upright as the real one?

Protocol 1 and 2 average all joints; a model that makes the body half as wide, or tilts it towards the
camera, can still score well on them. These measures name such failures. They work on numpy arrays of
shape ``(..., J, 3)`` (any leading dimensions, metres) in a layout with named joints (``h36m17``,
``humaneva15``, or any layout with the same joint names).

Measures of one pose (:func:`body_measures`), each ``(...,)``:

* ``height``: skeletal height, the bone lengths along the tree from the pelvis to the head
  (``head_top``, else ``head``) plus the mean leg (thigh + shin). Posture-independent (a seated person
  has the same height); about 0.9 of a person's stature for Human3.6M's joints.
* ``hip_width``, ``shoulder_width``: distance between the left and right joint.
* ``upper_arm``, ``forearm``, ``thigh``, ``shin``: mean of the left and right bone lengths.
* ``asymmetry``: mean over those four limbs of ``|left - right| / ((left + right) / 2)`` (0: symmetric).
* ``lean_toward_camera``: signed angle (degrees) of the spine (pelvis -> thorax) from the image's up
  direction ``-y`` in the camera's y-z plane; positive when the top of the spine is nearer the camera
  (camera axes: x right, y down, z forward). ``lean_sideways``: the same in the x-y plane, positive
  when the top of the spine is to the image's right. Both are relative to the camera, so a camera that
  looks down at an upright person reports a lean away from it.

Against ground truth (:func:`proportion_ratios`): the predicted/true ratio of every length measure
(``height_ratio``, ...) and ``lean``, the angle (degrees) between the predicted and true spine.

:func:`summarize_proportions` pools the frames of many sequences into one mean per measure (what
``evaluate`` writes to ``metrics.json`` under ``"proportions"`` and ``compare`` reports per method).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from poselift.core.layouts import Layout, get_layout

__all__ = [
    "LENGTHS",
    "body_measures",
    "proportion_ratios",
    "summarize_proportions",
]

LIMBS = {
    "upper_arm": ("shoulder", "elbow"),
    "forearm": ("elbow", "wrist"),
    "thigh": ("hip", "knee"),
    "shin": ("knee", "ankle"),
}
LENGTHS = ("height", "hip_width", "shoulder_width", *LIMBS)
"""The length measures; :func:`proportion_ratios` gives ``<name>_ratio`` of each."""


def _joints(layout: Layout) -> dict[str, int]:
    """Indices of the joints the measures need (a clear error naming the missing ones)."""
    names = {"pelvis": "pelvis", "thorax": "thorax", "head": "head_top" if "head_top" in layout.joints else "head"}
    for side in ("left", "right"):
        for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            names[f"{side}_{part}"] = f"{side}_{part}"
    missing = [v for v in names.values() if v not in layout.joints]
    if missing:
        raise ValueError(f"body proportions need joints {missing}, which layout {layout.name} lacks "
                         "(convert the poses to h36m17 first)")
    return {k: layout.joints.index(v) for k, v in names.items()}


def _chain(layout: Layout, joint: int, ancestor: int) -> list[tuple[int, int]]:
    """Bones ``(child, parent)`` from ``joint`` up the tree to ``ancestor``."""
    bones = []
    while joint != ancestor:
        parent = layout.parents[joint]
        if parent < 0:
            raise ValueError(f"layout {layout.name}: joint {layout.joints[ancestor]} is not above the head")
        bones.append((joint, parent))
        joint = parent
    return bones


def _check(poses: np.ndarray, layout: Layout, what: str) -> np.ndarray:
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim < 2 or p.shape[-1] != 3 or p.shape[-2] != layout.num_joints:
        raise ValueError(f"{what}: expected poses of shape (..., {layout.num_joints}, 3) for layout {layout.name}, "
                         f"got {p.shape}")
    return p


def _dist(p: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1)


def body_measures(poses, layout: str | Layout = "h36m17") -> dict[str, np.ndarray]:
    """The measures of the module docstring for every pose.

    Args:
        poses: ``(..., J, 3)`` metres; camera axes for the two lean angles.
        layout: joint layout of ``poses``.

    Returns:
        ``{name: (...,)}``: lengths in the units of ``poses``, ``asymmetry`` as a fraction, the two
        lean angles in degrees.
    """
    lay = get_layout(layout)
    p = _check(poses, lay, "body_measures")
    j = _joints(lay)
    out: dict[str, np.ndarray] = {}
    sides: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (a, b) in LIMBS.items():
        left, right = _dist(p, j[f"left_{a}"], j[f"left_{b}"]), _dist(p, j[f"right_{a}"], j[f"right_{b}"])
        sides[name] = (left, right)
        out[name] = (left + right) / 2
    trunk = sum(_dist(p, c, q) for c, q in _chain(lay, j["head"], j["pelvis"]))
    out["height"] = trunk + out["thigh"] + out["shin"]
    out["hip_width"] = _dist(p, j["left_hip"], j["right_hip"])
    out["shoulder_width"] = _dist(p, j["left_shoulder"], j["right_shoulder"])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["asymmetry"] = np.mean([np.abs(l - r) / ((l + r) / 2) for l, r in sides.values()], axis=0)
    spine = p[..., j["thorax"], :] - p[..., j["pelvis"], :]
    out["lean_toward_camera"] = np.degrees(np.arctan2(-spine[..., 2], -spine[..., 1]))
    out["lean_sideways"] = np.degrees(np.arctan2(spine[..., 0], -spine[..., 1]))
    return {k: out[k] for k in (*LENGTHS, "asymmetry", "lean_toward_camera", "lean_sideways")}


def proportion_ratios(pred, target, layout: str | Layout = "h36m17") -> dict[str, np.ndarray]:
    """Predicted/true proportions of every pose.

    Args:
        pred, target: ``(..., J, 3)`` (translation does not matter).
        layout: joint layout of both.

    Returns:
        ``{"<length>_ratio": (...,)}`` for every name of :data:`LENGTHS` (pred / true) and ``"lean"``
        ``(...,)``: the angle in degrees between the predicted and the true spine (pelvis -> thorax).
    """
    lay = get_layout(layout)
    p, t = _check(pred, lay, "prediction"), _check(target, lay, "target")
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} != target shape {t.shape}")
    mp, mt = body_measures(p, lay), body_measures(t, lay)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {f"{k}_ratio": mp[k] / mt[k] for k in LENGTHS}
    j = _joints(lay)
    sp = p[..., j["thorax"], :] - p[..., j["pelvis"], :]
    st = t[..., j["thorax"], :] - t[..., j["pelvis"], :]
    cos = (sp * st).sum(-1) / (np.linalg.norm(sp, axis=-1) * np.linalg.norm(st, axis=-1))
    out["lean"] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def summarize_proportions(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray] | None = None,
                          layout: str | Layout = "h36m17") -> dict[str, float]:
    """Frame-pooled means over sequences.

    Args:
        preds: per sequence ``(T, J, 3)``.
        targets: per sequence ``(T, J, 3)`` ground truth, or ``None``.
        layout: joint layout of both.

    Returns:
        With targets: ``{"<length>_ratio", "lean"}`` (means over all frames; ratios of lengths, lean in
        degrees) plus ``"frames"``. Without: the absolute means of :func:`body_measures` (metres,
        fraction, degrees) plus ``"frames"``.
    """
    if targets is not None and len(targets) != len(preds):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} targets")
    per: dict[str, list[np.ndarray]] = {}
    frames = 0
    for i, p in enumerate(preds):
        m = proportion_ratios(p, targets[i], layout) if targets is not None else body_measures(p, layout)
        for k, v in m.items():
            per.setdefault(k, []).append(np.ravel(v))
        frames += int(np.prod(np.shape(p)[:-2]))
    out = {k: float(np.mean(np.concatenate(v))) if len(np.concatenate(v)) else float("nan")
           for k, v in per.items()}
    out["frames"] = frames
    return out
