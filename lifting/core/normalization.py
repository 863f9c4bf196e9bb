"""How big the person is: 2D input normalisation (by the image width or by the person's size) and the
scaling of 3D output to a given body height.

**Input normalisation** (:func:`normalize_inputs`), the ``normalization`` setting of a run:

* ``"image"`` (the default, VideoPose3D's): screen normalisation by the image width
  (:func:`poselift.core.camera.normalize_screen`): ``u = 2 x / w - 1``, ``v = 2 y / w - h / w``. The
  person's size and place in the frame are part of the input, so a lifter trained on one framing
  (Human3.6M: a person about half the frame high, f ~ 1.15 w) reads a person filmed larger or smaller
  as a bigger or smaller (or turned) body.
* ``"torso"``: per frame, the 2D is centred on the hip midpoint ``c_t`` and divided by one length per
  sequence ``s``, the median over frames of the torso length (hip midpoint to shoulder midpoint, in
  pixels)::

      x_norm = (x - c_t) / s * TORSO_UNIT

* ``"bbox"``: the same, with ``s`` the median over frames of the larger side of the box around the
  person's keypoints, times ``BBOX_UNIT / s``.

With ``"torso"`` or ``"bbox"`` the input no longer says how large the person appears nor where in the
frame: a person filmed at any distance, zoom or image size gives the same input. What the lifter
loses is the image position (the root trajectory cannot be estimated from it, so trajectory models and
semi-supervised back-projection need ``"image"``) and the scale: the 3D comes out at the size of the
training bodies; :func:`scale_to_body_height` rescales it when the person's height is known. The scale
is one number per sequence (a median), so a person walking towards the camera still grows within the
clip; frames where the joints used have confidence 0 (filled, not detected) are left out of the
median when any frame has them detected. Missing (NaN) joints stay local: they stay NaN, a frame missing
a joint the size needs is left out of the median, and a frame missing a hip takes its centre
interpolated from the neighbouring frames, with a warning; no frame to measure from is an error.

``TORSO_UNIT`` and ``BBOX_UNIT`` put a Human3.6M person at about the size the ``"image"``
normalisation gives (torso ~0.5 m at ~5.5 m with f ~ 1145 px in a 1000 px wide image: ~0.2;
standing box ~1.75 m: ~0.7); a BatchNorm follows the first convolution, so the exact value matters
little.

**Body height** (:func:`body_height`, :func:`scale_to_body_height`): the length of the chain head top
-> thorax -> spine -> pelvis (the joints of it the layout has) plus the mean of the left and right
thigh + shin (hip -> knee -> ankle), per frame, median over the sequence: the standing height from the
ankles to the top of the head, without the feet and the ankle height (about 93 % of the stature on
Human3.6M's subjects).
"""
from __future__ import annotations

import warnings

import numpy as np

from poselift.core.camera import normalize_screen
from poselift.core.errors import InputError, InputWarning
from poselift.core.layouts import Layout, get_layout

__all__ = [
    "NORMALIZATIONS",
    "TORSO_UNIT",
    "BBOX_UNIT",
    "check_normalization",
    "person_size",
    "normalize_inputs",
    "body_height",
    "scale_to_body_height",
]

NORMALIZATIONS = ("image", "torso", "bbox")
"""Known 2D input normalisations (see the module docstring)."""

TORSO_UNIT = 0.2
"""Normalised length of the person's median torso under ``"torso"``."""

BBOX_UNIT = 0.7
"""Normalised length of the larger side of the person's median box under ``"bbox"``."""

_HIPS = ("left_hip", "right_hip")
_SHOULDERS = ("left_shoulder", "right_shoulder")


def check_normalization(name: str, where: str = "normalization") -> str:
    """``name`` if it is a known normalisation, else :class:`~poselift.core.errors.InputError` naming the choices."""
    if name not in NORMALIZATIONS:
        raise InputError(f"{where}: unknown 2D normalisation {name!r}; choose one of {list(NORMALIZATIONS)}")
    return name


def _indices(layout: Layout, names) -> list[int]:
    return [layout.index(n) for n in names]  # LayoutError names the layout and the joint


def _median_over(values: np.ndarray, usable: np.ndarray) -> float:
    """Median of ``values`` ``(T,)`` over the usable frames (all frames when none is)."""
    ok = usable & np.isfinite(values)
    if not ok.any():
        ok = np.isfinite(values)
    return float(np.median(values[ok])) if ok.any() else float("nan")


def _hip_centres(kp: np.ndarray, hips: list[int]) -> np.ndarray:
    """``(T, 2)`` hip midpoints; a frame missing a hip takes the centre interpolated in time from the frames
    that have both (held at the ends), with an :class:`~poselift.core.errors.InputWarning` saying how many."""
    centre = kp[:, hips].mean(1)
    found = np.isfinite(centre).all(-1)
    if found.all():
        return centre
    if not found.any():
        raise InputError(f"cannot centre the person: a hip (left_hip/right_hip) is missing (NaN) in all "
                         f"{len(kp)} frames; use the 'image' normalisation for this sequence")
    t = np.arange(len(kp))
    for k in range(centre.shape[1]):
        centre[~found, k] = np.interp(t[~found], t[found], centre[found, k])
    warnings.warn(f"{int((~found).sum())} of {len(kp)} frames miss a hip (NaN): their centre is interpolated "
                  "from the neighbouring frames' hip midpoints", InputWarning, stacklevel=3)
    return centre


def person_size(keypoints, layout: str | Layout, mode: str, confidence=None) -> tuple[float, np.ndarray]:
    """The person's size ``s`` (one number, pixels) and centre ``c_t`` ``(T, 2)`` for ``"torso"``/``"bbox"``.

    Missing joints (NaN) stay local: a frame missing a hip or shoulder is left out of the torso median, a
    missing joint out of its frame's box; a frame missing a hip takes its centre from the neighbouring
    frames (interpolated in time, with an :class:`~poselift.core.errors.InputWarning`).

    Args:
        keypoints: ``(T, J, 2)`` pixels; NaN where a joint is missing.
        layout: their joint layout (needs ``left_hip``, ``right_hip``, ``left_shoulder``, ``right_shoulder``).
        mode: ``"torso"`` or ``"bbox"``.
        confidence: ``(T, J)``; frames whose needed joints all have confidence > 0 make the median
            (all frames when none has).

    Raises:
        InputError: the size cannot be measured (every frame degenerate or missing the joints it needs),
            or no frame has both hips.
        LayoutError: the layout lacks hips or shoulders.
    """
    lay = get_layout(layout)
    kp = np.asarray(keypoints, np.float64)
    lay.check(kp, "keypoints")
    conf = np.ones(kp.shape[:2]) if confidence is None else np.asarray(confidence, np.float64)
    hips, shoulders = _indices(lay, _HIPS), _indices(lay, _SHOULDERS)
    found = np.isfinite(kp).all(-1)  # (T, J)
    if mode == "torso":
        per_frame = np.linalg.norm(kp[:, shoulders].mean(1) - kp[:, hips].mean(1), axis=-1)  # NaN: left out
        usable = (conf[:, hips + shoulders] > 0).all(1)
    elif mode == "bbox":
        seen = (conf > 0) & found
        none = ~seen.any(1)
        seen[none] = found[none]  # a frame without any detected joint: its box from all the joints it has
        lo = np.where(seen[..., None], kp, np.inf).min(1)
        hi = np.where(seen[..., None], kp, -np.inf).max(1)
        with np.errstate(invalid="ignore"):
            per_frame = (hi - lo).max(-1)  # inf - inf: a frame without any joint, left out
        usable = seen.sum(1) >= 2
    else:
        raise InputError(f"person_size: mode must be 'torso' or 'bbox', got {mode!r}")
    if not np.isfinite(per_frame).any():
        need = "hips and shoulders" if mode == "torso" else "two found joints"
        raise InputError(f"cannot measure the person's {mode} size: no frame of {len(kp)} has its {need} "
                         "(they are missing, NaN); use the 'image' normalisation for this sequence")
    s = _median_over(per_frame, usable)
    if not np.isfinite(s) or s <= 1e-6:
        raise InputError(f"cannot measure the person's {mode} size (median {s} px over {len(kp)} frames): "
                         "the hips/shoulders coincide; use the 'image' normalisation for this sequence")
    return s, _hip_centres(kp, hips)


def normalize_inputs(keypoints, image_size: tuple[int, int], layout: str | Layout = "h36m17",
                     mode: str = "image", confidence=None) -> np.ndarray:
    """Normalised 2D lifter input ``(T, J, 2)`` float32 from pixels ``(T, J, 2)``.

    ``mode="image"`` is exactly :func:`~poselift.core.camera.normalize_screen` (bit for bit);
    ``"torso"`` and ``"bbox"`` are described in the module docstring (``image_size`` is then unused).
    A missing (NaN) joint stays NaN and changes no other joint (see :func:`person_size`).
    """
    check_normalization(mode)
    if mode == "image":
        return normalize_screen(np.asarray(keypoints, np.float32), *image_size)
    s, centre = person_size(keypoints, layout, mode, confidence)
    unit = TORSO_UNIT if mode == "torso" else BBOX_UNIT
    kp = np.asarray(keypoints, np.float64)
    return ((kp - centre[:, None]) * (unit / s)).astype(np.float32)


def _trunk_and_legs(layout: Layout) -> tuple[list[int], list[tuple[int, int, int]]]:
    trunk = [layout.joints.index(n) for n in ("head_top", "thorax", "spine", "pelvis") if n in layout.joints]
    legs = []
    for side in ("left", "right"):
        names = (f"{side}_hip", f"{side}_knee", f"{side}_ankle")
        if all(n in layout.joints for n in names):
            legs.append(tuple(layout.joints.index(n) for n in names))
    if "head_top" not in layout.joints or "pelvis" not in layout.joints:
        raise InputError(f"layout {layout.name!r} has no head top and pelvis to measure a body height")
    if not legs:
        raise InputError(f"layout {layout.name!r} has no hip-knee-ankle chain to measure a body height")
    return trunk, legs


def body_height(poses, layout: str | Layout = "h36m17") -> float:
    """Median over frames of the ankle-to-head-top chain length of ``poses`` ``(T, J, 3)`` (their units).

    See the module docstring for the chain. Missing joints (NaN) stay local: a frame missing a leg joint
    takes the other leg's length; a frame missing a trunk joint or both legs is left out of the median.
    Raises :class:`InputError` for a layout without a head top, a trunk or legs, or poses with no frame
    that has the joints (naming the missing ones).
    """
    lay = get_layout(layout)
    p = np.asarray(poses, np.float64)
    if p.ndim != 3 or p.shape[-1] != 3:
        raise InputError(f"poses must be (frames, joints, 3), got shape {p.shape}")
    lay.check(p, "poses")
    trunk, legs = _trunk_and_legs(lay)
    length = np.zeros(len(p))
    for a, b in zip(trunk[:-1], trunk[1:]):
        length += np.linalg.norm(p[:, a] - p[:, b], axis=-1)
    each = np.stack([np.linalg.norm(p[:, h] - p[:, k], axis=-1) + np.linalg.norm(p[:, k] - p[:, a], axis=-1)
                     for h, k, a in legs], axis=0)  # (legs, T); NaN where a joint of that leg is missing
    legs_found = np.isfinite(each)
    leg = np.where(legs_found, each, 0.0).sum(0) / np.maximum(legs_found.sum(0), 1)
    length = np.where(legs_found.any(0), length + leg, np.nan)
    ok = np.isfinite(length)
    if not ok.any():
        used = sorted({*trunk, *(j for chain in legs for j in chain)})
        gone = [lay.joints[j] for j in used if not np.isfinite(p[:, j]).all()]
        raise InputError(f"poses have no frame with the joints a body height needs (missing, NaN, in some or "
                         f"all frames: {gone})")
    return float(np.median(length[ok]))


def scale_to_body_height(poses, height: float, layout: str | Layout = "h36m17") -> np.ndarray:
    """Root-relative ``poses`` ``(T, J, 3)`` scaled (one factor for the sequence) so that :func:`body_height`
    equals ``height`` (same units, e.g. metres)."""
    if not (np.isfinite(height) and height > 0):
        raise InputError(f"body height must be a positive number, got {height}")
    current = body_height(poses, layout)
    if current <= 0:
        raise InputError("the poses have zero body height (all joints at one point); cannot scale them")
    return (np.asarray(poses) * (height / current)).astype(np.asarray(poses).dtype, copy=False)
