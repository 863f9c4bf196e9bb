"""NVIDIA TAO BodyPose3DNet: top-down 2D, 2.5D and 3D pose from person crops, 34 joints.

Person boxes come from anywhere (BodyPoseNet people via
:meth:`~poselift.detectors.bodyposenet.People.boxes`, a file, a user's own
detector). For each box this module builds what the network takes, the way
NVIDIA's DeepStream reference app ``deepstream-bodypose-3d`` does
(*reported*; every choice is a setting):

* **the crop** (:func:`crop_for_box`): the box's half-sizes are multiplied by
  ``enlarge`` (1.25), made square (the larger one), then the height is
  enlarged so that width:height = 192:256; the crop rectangle is rounded to
  whole pixels. Parts outside the frame are padded with ``fill`` (black; the
  app pads its frames by 128 px). The crop is resampled bilinearly to
  192x256 and fed as BGR, ``x / 255``, NCHW (:func:`crop_image`).
* **``t_form_inv``**: the 3x3 affine taking crop pixels to original-frame
  pixels, ``[x, y, 1]^T = t_form_inv @ [u, v, 1]^T`` (the app feeds the
  identity and maps the network's crop coordinates back itself).
* **``k_inv``**: the inverse intrinsics *of the crop*. With a known
  :class:`~poselift.core.camera.Camera` (or focal length and principal point) for
  the frame, the crop camera is that camera seen through the crop affine:
  ``K_crop = t_form_inv^-1 @ K`` (:func:`crop_intrinsics`), so a crop pixel
  and the frame pixel it came from give the same viewing ray. Without one,
  the app's default is used: focal length :data:`DEFAULT_FOCAL_LENGTH`
  (800.79 px) in crop pixels, principal point at the crop centre (96, 128).
* **limb lengths**: :data:`MEAN_LIMB_LENGTHS` (mm) and
  :data:`SCALE_NORMALIZED_MEAN_LIMB_LENGTHS` (about those over the
  neck-pelvis length 492.69 mm), 17 non-zero of 36 slots, the app's
  published defaults.

Outputs (:class:`Poses3D`): the network's ``pose2d`` (crop pixels) mapped to
frame pixels with the crop affine (as the app does with ``pose25d``), the
confidence, ``pose25d`` with x, y in frame pixels, and the network's own
single-frame ``pose3d`` (units and frame undocumented: compare it
root-relative and after Procrustes alignment). ``pose2d_org_img`` is kept
as the network gives it; ``keypoints_from="pose2d_org_img"`` trusts it
instead.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from poselift.core.camera import Camera
from poselift.core.errors import InputError
from poselift.detectors.images import check_image
from poselift.detectors.runtime import OnnxModel, TensorSpec

__all__ = [
    "CROP_WIDTH",
    "CROP_HEIGHT",
    "DEFAULT_FOCAL_LENGTH",
    "MEAN_LIMB_LENGTHS",
    "SCALE_NORMALIZED_MEAN_LIMB_LENGTHS",
    "LIMB_PAIRS",
    "BODYPOSE3DNET_INPUTS",
    "BODYPOSE3DNET_OUTPUTS",
    "Crop",
    "crop_for_box",
    "crop_image",
    "crop_intrinsics",
    "default_k_inv",
    "check_boxes",
    "Poses3D",
    "BodyPose3DNet",
]

CROP_WIDTH, CROP_HEIGHT = 192, 256

DEFAULT_FOCAL_LENGTH = 800.79041
"""Focal length (crop pixels) of the DeepStream app's fixed ``k_inv``
(*reported*): ``k_inv = [[1/f, 0, -96/f], [0, 1/f, -128/f], [0, 0, 1]]``."""

MEAN_LIMB_LENGTHS = np.array([
    246.3427, 246.3427, 492.6854, 402.4380, 487.0321, 128.6856, 391.6295, 281.9928, 249.9478,
    0, 0, 0, 0, 0, 0, 0,
    169.1832, 402.2611, 488.1824, 128.6848, 407.5836, 281.9897, 249.9489,
    0, 0, 0, 0, 0, 0, 0,
    168.6137, 0, 0, 0, 0, 0,
], dtype=np.float32)
"""Mean limb lengths in mm, 36 slots (the DeepStream app's input, *reported*).
The 17 non-zero slots, in order, are the limbs of :data:`LIMB_PAIRS`."""

SCALE_NORMALIZED_MEAN_LIMB_LENGTHS = np.array([
    0.5000, 0.5000, 1.0000, 0.8175, 0.9889, 0.2610, 0.7942, 0.5724, 0.5078,
    0, 0, 0, 0, 0, 0, 0,
    0.3433, 0.8171, 0.9912, 0.2610, 0.8259, 0.5724, 0.5078,
    0, 0, 0, 0, 0, 0, 0,
    0.3422, 0, 0, 0, 0, 0,
], dtype=np.float32)
"""The app's scale-normalised limb lengths (*reported*): about :data:`MEAN_LIMB_LENGTHS`
divided by the neck-pelvis length 492.69 mm (a few published values differ from
that ratio by up to 0.2 %; they are kept as published)."""

LIMB_PAIRS: tuple[tuple[str, str], ...] = (
    ("pelvis", "torso"), ("torso", "neck"), ("neck", "pelvis"),
    ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
    ("right_hip", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("right_shoulder", "neck"),
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("left_hip", "pelvis"),
    ("left_hip", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("left_shoulder", "neck"),
)
"""The joint pairs of the 17 non-zero limb slots (the app's root-depth recovery pairs them this way)."""

BODYPOSE3DNET_INPUTS = (
    TensorSpec("input0", ("N", 3, CROP_HEIGHT, CROP_WIDTH)),
    TensorSpec("k_inv", ("N", 3, 3)),
    TensorSpec("t_form_inv", ("N", 3, 3)),
    TensorSpec("scale_normalized_mean_limb_lengths", ("N", 36)),
    TensorSpec("mean_limb_lengths", ("N", 36)),
)
BODYPOSE3DNET_OUTPUTS = (
    TensorSpec("pose2d", ("N", 34, 3)),
    TensorSpec("pose2d_org_img", ("N", 34, 3)),
    TensorSpec("pose25d", ("N", 34, 4)),
    TensorSpec("pose3d", ("N", 34, 3)),
)
"""The published signature (model card), checked when a model is opened."""


# --------------------------------------------------------------------------- crops
@dataclass(frozen=True)
class Crop:
    """An axis-aligned crop rectangle of a frame, resampled to ``size`` pixels.

    Attributes:
        left, top, width, height: the rectangle in frame pixels (may extend past the frame).
        size: ``(width, height)`` of the network input (192, 256).
    """

    left: float
    top: float
    width: float
    height: float
    size: tuple[int, int] = (CROP_WIDTH, CROP_HEIGHT)

    @property
    def scale(self) -> tuple[float, float]:
        """Frame pixels per crop pixel ``(sx, sy)``."""
        return self.width / self.size[0], self.height / self.size[1]

    @property
    def t_form_inv(self) -> np.ndarray:
        """``(3, 3)`` crop pixels -> frame pixels: ``[x, y, 1]^T = M @ [u, v, 1]^T``."""
        sx, sy = self.scale
        return np.array([[sx, 0.0, self.left], [0.0, sy, self.top], [0.0, 0.0, 1.0]])

    @property
    def t_form(self) -> np.ndarray:
        """``(3, 3)`` frame pixels -> crop pixels (inverse of :attr:`t_form_inv`)."""
        return np.linalg.inv(self.t_form_inv)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """``(..., 2)`` crop pixels to frame pixels."""
        p = np.asarray(points, dtype=np.float64)
        sx, sy = self.scale
        return np.stack([p[..., 0] * sx + self.left, p[..., 1] * sy + self.top], -1)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """``(..., 2)`` frame pixels to crop pixels."""
        p = np.asarray(points, dtype=np.float64)
        sx, sy = self.scale
        return np.stack([(p[..., 0] - self.left) / sx, (p[..., 1] - self.top) / sy], -1)


def check_boxes(boxes, what: str = "boxes") -> np.ndarray:
    """Validate ``(N, 4+)`` boxes ``x0, y0, x1, y1[, ...]``; returns ``(N, 4)`` float64."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] < 4:
        raise InputError(f"{what} must be (N, 4) x0, y0, x1, y1, got shape {np.shape(boxes)}")
    b = b[:, :4]
    bad = ~np.isfinite(b).all(1)
    if bad.any():
        raise InputError(f"{what}: box {int(np.flatnonzero(bad)[0])} contains NaN/inf: {b[bad][0].tolist()}")
    empty = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(f"{what}: box {i} {b[i].tolist()} is empty (needs x1 > x0 and y1 > y0)")
    return b


def _roundf(x: float) -> float:
    """Round half away from zero (C ``roundf``, as the app), not Python's half-to-even."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def crop_for_box(
    box: Sequence[float],
    enlarge: float = 1.25,
    size: tuple[int, int] = (CROP_WIDTH, CROP_HEIGHT),
    round_pixels: bool = True,
) -> Crop:
    """The crop the DeepStream app feeds BodyPose3DNet for a person box.

    Half-sizes times ``enlarge``, squared to the larger, then the short side
    of the square is enlarged to the ``size`` aspect ratio (for 192:256 the
    height becomes 4/3 of the width), centred on the box. With
    ``round_pixels`` the rectangle is rounded to whole pixels like the app.

    Args:
        box: ``x0, y0, x1, y1`` in frame pixels.
    """
    x0, y0, x1, y1 = (float(v) for v in check_boxes(box)[0])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max((x1 - x0) / 2, (y1 - y0) / 2) * enlarge
    w = h = 2 * half
    if round_pixels:
        w = h = _roundf(w)
        left, top = _roundf(cx - w / 2), _roundf(cy - h / 2)
        cx, cy = left + w / 2, top + h / 2
    aspect = size[0] / size[1]
    if w / h > aspect:  # too wide: enlarge the height
        h = w / aspect
    else:
        w = h * aspect
    if round_pixels:
        w, h = _roundf(w), _roundf(h)
        return Crop(_roundf(cx - w / 2), _roundf(cy - h / 2), w, h, size)
    return Crop(cx - w / 2, cy - h / 2, w, h, size)


def crop_image(image: np.ndarray, crop: Crop, fill: float = 0.0) -> np.ndarray:
    """Resample ``crop`` of ``image`` to ``(size[1], size[0], 3)`` float32 (bilinear, pixel centres).

    Crop pixel ``(u, v)`` (centre ``u + 0.5``) samples the frame at
    ``left + (u + 0.5) * sx``; frame pixel ``i`` has its centre at ``i + 0.5``.
    Samples outside the frame take ``fill``.
    """
    img = check_image(image)
    h, w = img.shape[:2]
    cw, ch = crop.size
    sx, sy = crop.scale
    xs = crop.left + (np.arange(cw) + 0.5) * sx - 0.5
    ys = crop.top + (np.arange(ch) + 0.5) * sy - 0.5
    x0 = np.floor(xs).astype(np.intp)
    y0 = np.floor(ys).astype(np.intp)
    fx = (xs - x0).astype(np.float32)
    fy = (ys - y0).astype(np.float32)
    # per-axis weights of the two neighbours, zero where the neighbour is outside the frame
    wx = [(1 - fx) * ((x0 >= 0) & (x0 < w)), fx * ((x0 + 1 >= 0) & (x0 + 1 < w))]
    wy = [(1 - fy) * ((y0 >= 0) & (y0 < h)), fy * ((y0 + 1 >= 0) & (y0 + 1 < h))]
    xi = [np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)]
    yi = [np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)]
    out = np.zeros((ch, cw, 3), np.float32)
    wxs = [v.astype(np.float32)[None, :, None] for v in wx]
    for a in (0, 1):
        rows = img.take(yi[a], axis=0)  # (ch, W, 3): whole rows, a fast contiguous copy
        # interpolate along x, then weight by y (separable bilinear)
        line = rows.take(xi[0], axis=1) * wxs[0]
        line += rows.take(xi[1], axis=1) * wxs[1]
        line *= wy[a].astype(np.float32)[:, None, None]
        out += line
    if fill:
        covered = (wy[0] + wy[1])[:, None] * (wx[0] + wx[1])[None, :]
        out += np.float32(fill) * (1 - covered.astype(np.float32))[..., None]
    return out


def crop_intrinsics(crop: Crop, focal: Sequence[float] | float, centre: Sequence[float]) -> np.ndarray:
    """``(3, 3)`` intrinsics of the crop camera, from the frame's focal length and principal point (pixels).

    ``K_crop = inv(t_form_inv) @ K_frame``: a crop pixel and the frame pixel
    it samples have the same viewing ray.
    """
    f = np.broadcast_to(np.asarray(focal, dtype=np.float64), (2,))
    c = np.asarray(centre, dtype=np.float64)
    k = np.array([[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1.0]])
    return crop.t_form @ k


def default_k_inv(focal: float = DEFAULT_FOCAL_LENGTH, size: tuple[int, int] = (CROP_WIDTH, CROP_HEIGHT)) -> np.ndarray:
    """The DeepStream app's fixed ``k_inv``: focal ``focal`` crop pixels, principal point at the crop centre."""
    cx, cy = size[0] / 2, size[1] / 2
    return np.array([[1 / focal, 0, -cx / focal], [0, 1 / focal, -cy / focal], [0, 0, 1.0]])


# --------------------------------------------------------------------------- results
@dataclass
class Poses3D:
    """BodyPose3DNet results for the people of one frame (``N`` boxes).

    Attributes:
        keypoints: ``(N, 34, 2)`` frame pixels.
        confidence: ``(N, 34)``.
        pose25d: ``(N, 34, 4)``: x, y in frame pixels, depth relative to the
            pelvis, confidence (the network's 2.5D output mapped to the frame).
        pose3d: ``(N, 34, 3)``: the network's own single-frame 3D pose, as output.
        pose2d_crop: ``(N, 34, 3)``: the network's ``pose2d`` (crop pixels, confidence).
        pose2d_org_img: ``(N, 34, 3)``: the network's ``pose2d_org_img``, as output.
        boxes: ``(N, 4)`` the person boxes.
        crops: the :class:`Crop` of each box.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    pose25d: np.ndarray
    pose3d: np.ndarray
    pose2d_crop: np.ndarray
    pose2d_org_img: np.ndarray
    boxes: np.ndarray
    crops: list[Crop]

    def __len__(self) -> int:
        return len(self.keypoints)

    @classmethod
    def empty(cls) -> "Poses3D":
        z = np.zeros
        return cls(z((0, 34, 2), np.float32), z((0, 34), np.float32), z((0, 34, 4), np.float32),
                   z((0, 34, 3), np.float32), z((0, 34, 3), np.float32), z((0, 34, 3), np.float32),
                   z((0, 4)), [])


class BodyPose3DNet:
    """BodyPose3DNet through ONNX Runtime: a frame and person boxes in, :class:`Poses3D` out.

    Args:
        model: path to the ``.onnx`` file (or its bytes); its signature must be
            exactly the published one (:data:`BODYPOSE3DNET_INPUTS`,
            :data:`BODYPOSE3DNET_OUTPUTS`).
        providers, threads: see :class:`~poselift.detectors.runtime.OnnxModel`.
        camera: the frame's camera, when known: ``k_inv`` then comes from its
            intrinsics seen through each crop. ``None``: the app's fixed
            ``k_inv`` with ``focal_length``.
        focal_length: focal length in crop pixels used without a camera.
        enlarge: box enlargement before squaring (1.25).
        round_crops: round crop rectangles to whole pixels (as the app).
        batch_size: crops per network call.
        keypoints_from: ``"pose2d"`` (map the network's crop coordinates with
            our crop affine, as the app does) or ``"pose2d_org_img"``.
        mean_limb_lengths, scale_normalized_mean_limb_lengths: ``(36,)`` limb inputs.
    """

    layout_name = "bodypose3dnet34"

    def __init__(
        self,
        model: str | os.PathLike | bytes,
        providers: str | Sequence[str] | None = "auto",
        threads: int | None = None,
        camera: Camera | None = None,
        focal_length: float = DEFAULT_FOCAL_LENGTH,
        enlarge: float = 1.25,
        round_crops: bool = True,
        batch_size: int = 8,
        keypoints_from: str = "pose2d",
        mean_limb_lengths: np.ndarray = MEAN_LIMB_LENGTHS,
        scale_normalized_mean_limb_lengths: np.ndarray = SCALE_NORMALIZED_MEAN_LIMB_LENGTHS,
    ) -> None:
        if keypoints_from not in ("pose2d", "pose2d_org_img"):
            raise InputError(f"keypoints_from must be 'pose2d' or 'pose2d_org_img', got {keypoints_from!r}")
        if not focal_length > 0:
            raise InputError(f"focal_length must be positive, got {focal_length}")
        if enlarge <= 0 or batch_size < 1:
            raise InputError("enlarge must be > 0 and batch_size >= 1")
        self.mean_limb_lengths = self._limbs(mean_limb_lengths, "mean_limb_lengths")
        self.scale_normalized_mean_limb_lengths = self._limbs(scale_normalized_mean_limb_lengths,
                                                              "scale_normalized_mean_limb_lengths")
        self.net = OnnxModel(model, providers=providers, threads=threads,
                             inputs=BODYPOSE3DNET_INPUTS, outputs=BODYPOSE3DNET_OUTPUTS)
        self.camera = camera
        self.focal_length = float(focal_length)
        self.enlarge = float(enlarge)
        self.round_crops = bool(round_crops)
        self.batch_size = int(batch_size)
        self.keypoints_from = keypoints_from
        self.last_timing: dict[str, float] = {}

    @staticmethod
    def _limbs(v, name: str) -> np.ndarray:
        a = np.asarray(v, dtype=np.float32).reshape(-1)
        if a.shape != (36,) or not np.isfinite(a).all():
            raise InputError(f"{name} must be 36 finite values, got shape {np.shape(v)}")
        return a

    @property
    def provider(self) -> str:
        return self.net.provider

    def k_inv(self, crop: Crop) -> np.ndarray:
        """``(3, 3)`` ``k_inv`` fed for ``crop``."""
        if self.camera is None:
            return default_k_inv(self.focal_length, crop.size)
        return np.linalg.inv(crop_intrinsics(crop, self.camera.f, self.camera.c))

    def inputs(self, image: np.ndarray, boxes) -> tuple[dict[str, np.ndarray], list[Crop]]:
        """Network inputs for ``boxes`` of ``image`` (``N >= 1`` boxes)."""
        img = check_image(image)
        b = check_boxes(boxes)
        crops = [crop_for_box(bx, self.enlarge, (CROP_WIDTH, CROP_HEIGHT), self.round_crops) for bx in b]
        n = len(crops)
        x = np.empty((n, 3, CROP_HEIGHT, CROP_WIDTH), np.float32)
        for i, c in enumerate(crops):
            rgb = crop_image(img, c)
            x[i] = rgb[..., ::-1].transpose(2, 0, 1) * np.float32(1 / 255)  # BGR, x / 255
        feeds = {
            "input0": x,
            "k_inv": np.stack([self.k_inv(c) for c in crops]).astype(np.float32),
            "t_form_inv": np.stack([c.t_form_inv for c in crops]).astype(np.float32),
            "scale_normalized_mean_limb_lengths": np.repeat(self.scale_normalized_mean_limb_lengths[None], n, 0),
            "mean_limb_lengths": np.repeat(self.mean_limb_lengths[None], n, 0),
        }
        return feeds, crops

    def __call__(self, image: np.ndarray, boxes) -> Poses3D:
        """Poses of the people in ``boxes`` (``(N, 4)`` x0, y0, x1, y1 frame pixels) of an RGB frame.

        No boxes gives an empty :class:`Poses3D` (the network is not run).
        """
        import time

        img = check_image(image)
        b = check_boxes(boxes)
        if len(b) == 0:
            self.last_timing = {"preprocess": 0.0, "network": 0.0, "decode": 0.0}
            return Poses3D.empty()
        t0 = time.perf_counter()
        feeds, crops = self.inputs(img, b)
        t1 = time.perf_counter()
        out = self.net.run(feeds, batch_size=self.batch_size)
        t2 = time.perf_counter()
        p2d = out["pose2d"].astype(np.float32)
        org = out["pose2d_org_img"].astype(np.float32)
        p25 = out["pose25d"].astype(np.float32)
        p3d = out["pose3d"].astype(np.float32)
        for name, arr in (("pose2d", p2d), ("pose2d_org_img", org), ("pose25d", p25), ("pose3d", p3d)):
            if not np.isfinite(arr).all():
                raise InputError(f"{self.net.name}: output {name!r} contains NaN or infinite values")
        if self.keypoints_from == "pose2d":
            kp = np.stack([c.to_image(p2d[i, :, :2]) for i, c in enumerate(crops)]).astype(np.float32)
        else:
            kp = org[..., :2].copy()
        p25_img = p25.copy()
        p25_img[..., :2] = np.stack([c.to_image(p25[i, :, :2]) for i, c in enumerate(crops)])
        self.last_timing = {"preprocess": t1 - t0, "network": t2 - t1, "decode": time.perf_counter() - t2}
        return Poses3D(kp, p2d[..., 2].copy(), p25_img, p3d, p2d, org, b, crops)
