"""Rotated regions of interest: where BlazePose's landmark network looks, and the maps in and out of them.

A :class:`Region` is a rotated rectangle in frame pixels (centre, width, height, rotation in radians,
positive = clockwise on screen since y points down). The facts are those of MediaPipe's pose graphs
(``pose_detection_to_roi.pbtxt``, ``pose_landmarks_to_roi.pbtxt``, ``AlignmentPointsRectsCalculator``,
``RectTransformationCalculator``, ``LandmarkProjectionCalculator``), re-derived here:

* **from two alignment points** (:func:`region_from_points`): the centre is the first point (the mid-hip),
  the side is twice the distance to the second (a point on the circle around the whole body), and the
  rotation turns the centre-to-second-point vector to point up:
  ``rotation = target - atan2(-(y1 - y0), x1 - x0)`` with ``target = 90°``, wrapped to ``[-pi, pi)``;
* **enlarged** (:func:`enlarge`): square on the longer side, then both sides times ``scale`` (1.25);
* **crop affine** (:func:`crop_matrix`): network pixel ``(u, v)`` of an ``n x n`` input samples the frame at
  ``centre + R(rotation) @ ((u / n - 0.5) * width, (v / n - 0.5) * height)`` (pixel corners: ``u`` in
  ``[0, n]``), with the letterbox of a non-square region on the shorter side;
* **projection back** (:func:`to_frame`): the same map applied to landmark positions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from poselift.core.errors import InputError

__all__ = ["Region", "region_from_points", "enlarge", "crop_matrix", "to_frame", "letterbox_full_frame",
           "normalize_angle", "detection_windows", "same_person", "DETECTION_SCALE", "TRACKING_SCALE", "TARGET_ANGLE"]

TARGET_ANGLE = math.pi / 2
"""The centre-to-scale-point vector is turned to point up (90°, y flipped) in the region."""

DETECTION_SCALE = 1.25
"""Enlargement of the detector's region (``pose_detection_to_roi``)."""

TRACKING_SCALE = 1.25
"""Enlargement of the region from the previous frame's auxiliary landmarks (``pose_landmarks_to_roi``)."""


def normalize_angle(a: float) -> float:
    """``a`` wrapped to ``[-pi, pi)``."""
    return float(a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi)))


@dataclass(frozen=True)
class Region:
    """A rotated rectangle in frame pixels.

    Attributes:
        cx, cy: centre (pixels; pixel ``i`` spans ``[i, i + 1)``).
        width, height: side lengths (pixels) before rotation.
        rotation: radians; a point at offset ``(dx, dy)`` in the unrotated region lies at
            ``centre + R @ (dx, dy)`` with ``R = [[cos, -sin], [sin, cos]]``.
    """

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0

    def corners(self) -> np.ndarray:
        """``(4, 2)`` corners (top-left, top-right, bottom-right, bottom-left of the unrotated region)."""
        half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * [self.width / 2, self.height / 2]
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return half @ np.array([[c, s], [-s, c]]) + [self.cx, self.cy]

    def bounds(self) -> np.ndarray:
        """``(4,)`` axis-aligned bounds ``x0, y0, x1, y1`` of the rotated rectangle."""
        c = self.corners()
        return np.concatenate([c.min(0), c.max(0)])


def region_from_points(center, scale_point, target_angle: float = TARGET_ANGLE) -> Region:
    """The square region of two alignment points (pixels): centre at ``center``, side twice their
    distance, rotated so that ``scale_point - center`` points along ``target_angle`` (90°: up)."""
    x0, y0 = (float(v) for v in center)
    x1, y1 = (float(v) for v in scale_point)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InputError(f"alignment points must be finite, got {center} and {scale_point}")
    side = 2.0 * math.hypot(x1 - x0, y1 - y0)
    rotation = normalize_angle(target_angle - math.atan2(-(y1 - y0), x1 - x0))
    return Region(x0, y0, side, side, rotation)


def enlarge(region: Region, scale: float, square_long: bool = True) -> Region:
    """``region`` made square on its longer side (``square_long``), then each side times ``scale``."""
    w, h = region.width, region.height
    if square_long:
        w = h = max(w, h)
    return Region(region.cx, region.cy, w * scale, h * scale, region.rotation)


def crop_matrix(region: Region, size: int) -> np.ndarray:
    """``(2, 3)`` affine taking network input coordinates ``(u, v)`` (``[0, size]``, pixel corners) to frame
    pixels. A non-square region is letterboxed: its longer side fills the input, centred."""
    if not (region.width > 0 and region.height > 0):
        raise InputError(f"region of interest is empty: {region}")
    side = max(region.width, region.height)  # letterbox: the input spans side x side frame pixels
    k = side / size
    c, s = math.cos(region.rotation), math.sin(region.rotation)
    # frame = centre + R @ ((u - size/2) * k, (v - size/2) * k)
    a = np.array([[c * k, -s * k], [s * k, c * k]])
    t = np.array([region.cx, region.cy]) - a @ [size / 2, size / 2]
    return np.concatenate([a, t[:, None]], 1)


def to_frame(points: np.ndarray, region: Region, size: int) -> np.ndarray:
    """``(..., 2)`` network input coordinates (``[0, size]``) to frame pixels through ``region``."""
    m = crop_matrix(region, size)
    p = np.asarray(points, np.float64)
    return p @ m[:, :2].T + m[:, 2]


def letterbox_full_frame(width: int, height: int) -> Region:
    """The whole frame as an unrotated region (the detector's input: letterboxed to a square)."""
    return Region(width / 2, height / 2, float(width), float(height), 0.0)


def detection_windows(width: int, height: int, tiles=()) -> list[Region]:
    """The unrotated square windows the detector looks through: the whole frame (letterboxed) first, then,
    for each fraction ``f`` in ``tiles``, squares of side ``f * min(width, height)`` covering the frame,
    neighbours overlapping by at least a quarter (small people fill more of the detector's 224x224 input)."""
    from poselift.detectors.images import tile_starts

    out = [letterbox_full_frame(width, height)]
    for f in tiles:
        if not 0 < f <= 1:
            raise InputError(f"detection tile sizes are fractions of the shorter frame side in (0, 1], got {f}")
        side = f * min(width, height)
        n = max(1, int(round(side)))
        for y in tile_starts(height, n):
            for x in tile_starts(width, n):
                out.append(Region(x + side / 2, y + side / 2, side, side, 0.0))
    return out


def same_person(a: Region, b: Region, fraction: float = 0.2) -> bool:
    """Whether two regions hold one person: their centres (mid-hips) closer than ``fraction`` of the smaller
    side. (Overlapping bounds do not say it: a region is 2.5 body radii wide, and people side by side overlap.)"""
    side = min(a.width, a.height, b.width, b.height)
    return math.hypot(a.cx - b.cx, a.cy - b.cy) < fraction * side
