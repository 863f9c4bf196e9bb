"""Cameras: screen normalisation, world <-> camera, and the Human3.6M projection.

Conventions (all functions batched over arbitrary leading dimensions, numpy or
torch; the torch path is differentiable):

* 3D points are row vectors ``(..., J, 3)``. World to camera is
  ``X_cam = R @ (X_world - T)`` where ``R`` rotates world into camera axes and
  ``T`` is the camera centre in world coordinates (the Human3.6M
  ``cameras.h5`` stores the transpose of this ``R``; the reader fixes that).
* Camera axes: x right, y down, z forward (depth), as in the image.
* Screen normalisation maps pixel ``u`` in ``[0, w]`` to ``[-1, 1]`` and ``v``
  in ``[0, h]`` to ``[-h/w, h/w]`` (same scale on both axes).
* The projection is the Human3.6M model (radial k1..k3, tangential p1, p2 in
  ``cameras.h5`` order)::

      x', y'  = X/Z, Y/Z                     (optionally clamped to [-1, 1])
      r2      = x'^2 + y'^2
      radial  = 1 + k1 r2 + k2 r2^2 + k3 r2^3
      tan     = p1 y' + p2 x'
      (xd,yd) = (x', y') (radial + tan) + (p2, p1) r2
      pixel   = f * (xd, yd) + c

  This is *not* OpenCV's tangential model (they differ by up to ~0.3 px on
  Human3.6M).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from poselift.core.backend import numpy_or_torch
from poselift.core.errors import InputError

__all__ = [
    "Camera",
    "normalize_screen",
    "unnormalize_screen",
    "world_to_camera",
    "camera_to_world",
    "project",
    "project_intrinsics",
    "rotation_from_quaternion",
    "DEFAULT_FOCAL_FACTOR",
    "MAX_NORMALISED",
]

MAX_NORMALISED = 1e4
"""Largest magnitude a screen-normalised coordinate may have in a lifter's input.

On screen they lie in about [-1, 1]; 1e4 is 5,000 image widths away, which no
detector reports: beyond it the 2D is corrupt or not in pixels of that image,
and lifting it would give poses thousands of kilometres long
(:func:`poselift.core.errors.check_magnitude` refuses it)."""

DEFAULT_FOCAL_FACTOR = 1.15
"""Focal length, as a multiple of the image width, assumed when a video's
intrinsics are unknown (:meth:`Camera.from_image_size`). Human3.6M's cameras
have f ~ 1145 px for 1000 px wide images, i.e. a horizontal field of view of
about 47 degrees, typical of consumer video."""


def _dim(w, ref: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(w, dtype=ref.dtype, device=ref.device)


@numpy_or_torch
def normalize_screen(x, w, h):
    """Pixels to screen-normalised coordinates.

    Args:
        x: ``(..., 2+)`` pixel coordinates (extra channels, e.g. confidence, pass through).
        w, h: image width and height; scalars or arrays broadcastable to ``x.shape[:-1]``.

    Returns:
        Same shape as ``x``: u in ``[-1, 1]``, v in ``[-h/w, h/w]``.
    """
    w, h = _dim(w, x), _dim(h, x)
    u = x[..., 0] / w * 2 - 1
    v = x[..., 1] / w * 2 - h / w
    return torch.cat([u[..., None], v[..., None], x[..., 2:]], dim=-1)


@numpy_or_torch
def unnormalize_screen(x, w, h):
    """Inverse of :func:`normalize_screen`: normalised ``(..., 2+)`` to pixels."""
    w, h = _dim(w, x), _dim(h, x)
    u = (x[..., 0] + 1) * w / 2
    v = (x[..., 1] + h / w) * w / 2
    return torch.cat([u[..., None], v[..., None], x[..., 2:]], dim=-1)


@numpy_or_torch
def world_to_camera(X, R, T):
    """``X_cam = R @ (X - T)`` for row vectors.

    Args:
        X: ``(..., 3)`` world points.
        R: ``(*c, 3, 3)`` world-to-camera rotation.
        T: ``(*c, 3)`` camera centre in world coordinates.
        ``*c`` broadcasts against ``X.shape[:-2]`` (one camera per batch item).
    """
    R = torch.as_tensor(R, dtype=X.dtype, device=X.device)
    T = torch.as_tensor(T, dtype=X.dtype, device=X.device)
    if R.ndim == 2:
        return (X - T) @ R.transpose(-1, -2)
    return (X - T[..., None, :]) @ R.transpose(-1, -2)


@numpy_or_torch
def camera_to_world(X, R, T):
    """Inverse of :func:`world_to_camera`: ``X_world = R^T X_cam + T``."""
    R = torch.as_tensor(R, dtype=X.dtype, device=X.device)
    T = torch.as_tensor(T, dtype=X.dtype, device=X.device)
    if R.ndim == 2:
        return X @ R + T
    return X @ R + T[..., None, :]


@numpy_or_torch
def project(X, f, c, k=None, p=None, clamp: bool = True):
    """Project camera-frame points with the Human3.6M distortion model.

    Args:
        X: ``(*b, J, 3)`` points in camera coordinates, ``Z > 0``.
        f, c: ``(*c, 2)`` focal lengths and principal point (pixels, or
            normalised units for normalised output), ``*c`` broadcastable to ``*b``.
        k: ``(*c, 3)`` radial coefficients (default zero).
        p: ``(*c, 2)`` tangential ``(p1, p2)`` in ``cameras.h5`` order (default zero).
        clamp: clamp ``X/Z`` and ``Y/Z`` to ``[-1, 1]`` before distorting (as
            VideoPose3D does) so that points far outside the view cannot blow
            up the polynomial.

    Returns:
        ``(*b, J, 2)`` image points in the units of ``f`` and ``c``.
    """
    dt, dev = X.dtype, X.device

    def prm(v, n):
        if v is None:
            return torch.zeros(n, dtype=dt, device=dev)
        return torch.as_tensor(v, dtype=dt, device=dev)[..., None, :]

    f, c, k, p = prm(f, 2), prm(c, 2), prm(k, 3), prm(p, 2)
    xy = X[..., :2] / X[..., 2:3]
    if clamp:
        xy = xy.clamp(-1.0, 1.0)
    r2 = (xy * xy).sum(-1, keepdim=True)
    radial = 1 + r2 * (k[..., 0:1] + r2 * (k[..., 1:2] + r2 * k[..., 2:3]))
    tan = p[..., 0:1] * xy[..., 1:2] + p[..., 1:2] * xy[..., 0:1]
    xyd = xy * (radial + tan) + p.flip(-1) * r2
    return f * xyd + c


def project_intrinsics(X, intrinsics, clamp: bool = True):
    """:func:`project` with a packed ``(*c, 9)`` vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``."""
    if isinstance(intrinsics, np.ndarray) and not isinstance(X, torch.Tensor):
        intrinsics = np.asarray(intrinsics)
    return project(X, intrinsics[..., 0:2], intrinsics[..., 2:4], intrinsics[..., 4:7], intrinsics[..., 7:9], clamp=clamp)


def rotation_from_quaternion(q) -> np.ndarray:
    """``(3, 3)`` rotation matrix of a unit quaternion ``(w, x, y, z)`` (scalar first; normalised here).

    With VideoPose3D's camera ``orientation`` quaternion (the camera's rotation in world coordinates,
    scalar first), the world-to-camera rotation of :class:`Camera` is this matrix transposed:
    ``X_cam = R(q)^T (X_world - T)``.
    """
    q = _arr(q, 4, "quaternion (w, x, y, z)")
    n = float(np.linalg.norm(q))
    if not 0.9 < n < 1.1:
        raise InputError(f"quaternion (w, x, y, z) {q.tolist()} is not a unit quaternion (norm {n:.3g})")
    w, x, y, z = q / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _arr(v, n, what: str = "camera"):
    try:
        a = np.asarray(v, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected {n} numbers, got {str(v)[:60]}") from None
    if a.shape != (n,):
        raise InputError(f"{what}: expected {n} values, got shape {np.shape(v)}")
    if not np.isfinite(a).all():
        raise InputError(f"{what}: NaN or infinite value in {a.tolist()}")
    return a


@dataclass
class Camera:
    """One calibrated camera.

    Attributes:
        f: ``(2,)`` focal lengths in pixels.
        c: ``(2,)`` principal point in pixels.
        k: ``(3,)`` radial distortion.
        p: ``(2,)`` tangential distortion ``(p1, p2)`` in ``cameras.h5`` order.
        R: ``(3, 3)`` world-to-camera rotation.
        T: ``(3,)`` camera centre in world coordinates (same unit as the 3D data).
        width, height: image size in pixels.
        name: identifier (e.g. ``"54138969"``).
    """

    f: np.ndarray
    c: np.ndarray
    width: int
    height: int
    k: np.ndarray = field(default_factory=lambda: np.zeros(3))
    p: np.ndarray = field(default_factory=lambda: np.zeros(2))
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    T: np.ndarray = field(default_factory=lambda: np.zeros(3))
    name: str = ""

    def __post_init__(self) -> None:
        who = f"camera {self.name!r}"
        self.f, self.c = _arr(self.f, 2, f"{who} f"), _arr(self.c, 2, f"{who} c")
        self.k, self.p = _arr(self.k, 3, f"{who} k"), _arr(self.p, 2, f"{who} p")
        self.T = _arr(self.T, 3, f"{who} T")
        self.R = _arr(self.R, 9, f"{who} R (3 x 3)").reshape(3, 3)
        try:
            self.width, self.height = int(self.width), int(self.height)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{who}: image size must be two integers, got {self.width!r}x{self.height!r}") from None
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"{who}: image size must be positive, got {self.width}x{self.height}")
        if np.any(self.f <= 0):
            raise InputError(f"{who}: focal length must be positive, got {self.f}")

    @classmethod
    def from_image_size(cls, width: int, height: int, focal: float | None = None, name: str = "") -> "Camera":
        """A distortion-free camera for a video of known size but unknown intrinsics.

        The principal point is the image centre; the focal length defaults to
        ``DEFAULT_FOCAL_FACTOR * width`` pixels (about 47 degrees horizontal
        field of view).
        """
        f = DEFAULT_FOCAL_FACTOR * width if focal is None else float(focal)
        return cls(f=(f, f), c=(width / 2, height / 2), width=width, height=height, name=name)

    # -- packed intrinsics ---------------------------------------------------
    def intrinsics(self, normalized: bool = True) -> np.ndarray:
        """``(9,)`` ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``.

        With ``normalized=True`` the focal length and principal point are in
        screen-normalised units, so :func:`project_intrinsics` returns
        normalised coordinates directly.
        """
        if normalized:
            f = self.f / self.width * 2
            c = normalize_screen(self.c[None], self.width, self.height)[0]
        else:
            f, c = self.f, self.c
        return np.concatenate([f, c, self.k, self.p]).astype(np.float64)

    # -- geometry --------------------------------------------------------------
    def world_to_camera(self, X):
        """``(..., 3)`` world points to camera coordinates."""
        return world_to_camera(X, self.R, self.T)

    def camera_to_world(self, X):
        return camera_to_world(X, self.R, self.T)

    def project(self, X_cam, normalized: bool = False, clamp: bool = True):
        """``(..., J, 3)`` camera-frame points to ``(..., J, 2)`` pixels (or normalised)."""
        intr = self.intrinsics(normalized=normalized)
        if isinstance(X_cam, torch.Tensor):
            intr = torch.as_tensor(intr, dtype=X_cam.dtype, device=X_cam.device)
        return project_intrinsics(X_cam, intr, clamp=clamp)

    def normalize(self, x):
        """Pixels ``(..., 2+)`` to screen-normalised coordinates."""
        return normalize_screen(x, self.width, self.height)

    def to_dict(self) -> dict:
        return {
            "f": self.f.tolist(), "c": self.c.tolist(), "k": self.k.tolist(), "p": self.p.tolist(),
            "R": self.R.tolist(), "T": self.T.tolist(), "width": self.width, "height": self.height,
            "name": self.name,
        }
