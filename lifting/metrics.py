"""Pose error metrics, for numpy arrays and torch tensors of shape ``(..., J, 3)``.

Every metric returns the error in the units of its input (metres in, metres
out; multiply by 1000 for the millimetres the literature reports). The
``*_per_frame`` variants return one value per pose ``(...,)`` (averaged over
joints) for tables and error-over-time plots; the plain versions average
over everything.

* :func:`mpjpe` (Protocol 1): mean Euclidean joint distance. Root alignment
  is the caller's choice (``root=`` subtracts that joint from both poses).
* :func:`p_mpjpe` (Protocol 2): MPJPE after the optimal similarity transform
  (rotation, uniform scale, translation) per pose. The rotation is a proper
  rotation (det = +1): a mirrored prediction is *not* aligned onto its
  target (scipy's ``orthogonal_procrustes`` would allow the reflection and
  report a wrongly low error).
* :func:`n_mpjpe`: MPJPE after fitting a single scale per pose (least squares).
* :func:`mpjve`: MPJPE of the first temporal differences along the frame axis
  ``-3`` (velocity error, per frame of motion).

Smoothness, for predictions without ground truth (frame axis ``-3``):

* :func:`mean_acceleration`: mean joint acceleration ``||x[t+1] - 2 x[t] + x[t-1]||``
  (units per frame squared); zero for motion at constant velocity.
* :func:`jitter`: mean distance of each joint from its centred moving average
  over ``window`` frames (interior frames); zero for constant velocity, large
  for frame-to-frame noise.
* :func:`mpjae`: acceleration error against a reference.
"""
from __future__ import annotations

import torch

from poselift.core.backend import numpy_or_torch

__all__ = [
    "mpjpe",
    "mpjpe_per_frame",
    "p_mpjpe",
    "p_mpjpe_per_frame",
    "n_mpjpe",
    "n_mpjpe_per_frame",
    "mpjve",
    "mpjve_per_frame",
    "procrustes_align",
    "acceleration_per_frame",
    "mean_acceleration",
    "jitter_per_frame",
    "jitter",
    "mpjae",
]


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"expected poses of shape (..., J, 3), got {tuple(pred.shape)}")


def _root_relative(pred, target, root):
    if root is None:
        return pred, target
    return pred - pred[..., root : root + 1, :], target - target[..., root : root + 1, :]


@numpy_or_torch
def mpjpe_per_frame(pred, target, root: int | None = None):
    """Mean per-joint position error per pose: ``(..., J, 3)`` -> ``(...,)``."""
    _check_pair(pred, target)
    pred, target = _root_relative(pred, target, root)
    return torch.linalg.vector_norm(pred - target, dim=-1).mean(-1)


@numpy_or_torch
def mpjpe(pred, target, root: int | None = None):
    """Protocol 1: mean per-joint position error over all poses and joints (scalar).

    >>> import numpy as np
    >>> target = np.random.default_rng(0).normal(size=(4, 17, 3))     # (T, J, 3) metres
    >>> round(float(mpjpe(target + [0.01, 0.0, 0.0], target)), 6)     # every joint 1 cm off
    0.01
    >>> round(float(mpjpe(target + [0.01, 0.0, 0.0], target, root=0)), 6)   # a shift of the whole body
    0.0
    """
    return mpjpe_per_frame(pred, target, root).mean()


@numpy_or_torch
def procrustes_align(pred, target):
    """Align each pose of ``pred`` onto ``target`` with the best similarity transform.

    Solves ``min_{s, R, t} || s * pred @ R + t - target ||`` per pose with ``R``
    a proper rotation (Umeyama 1991): with centred poses ``X``, ``Y`` and
    ``X^T Y = U S V^T``, ``R = U D V^T``, ``D = diag(1, 1, sign det(U V^T))``,
    ``s = tr(S D) / ||X||^2``.

    Args:
        pred, target: ``(..., J, 3)``.

    Returns:
        ``(..., J, 3)`` aligned prediction.
    """
    _check_pair(pred, target)
    mu_x = pred.mean(-2, keepdim=True)
    mu_y = target.mean(-2, keepdim=True)
    x, y = pred - mu_x, target - mu_y
    h = x.transpose(-1, -2) @ y  # (..., 3, 3)
    u, s, vt = torch.linalg.svd(h)
    d = torch.sign(torch.linalg.det(u @ vt))
    d = torch.where(d == 0, torch.ones_like(d), d)
    diag = torch.ones_like(s)
    diag[..., -1] = d
    r = (u * diag[..., None, :]) @ vt
    norm_x = (x * x).sum((-1, -2))
    scale = (s * diag).sum(-1) / norm_x.clamp_min(torch.finfo(x.dtype).tiny)
    return scale[..., None, None] * (x @ r) + mu_y


@numpy_or_torch
def p_mpjpe_per_frame(pred, target):
    """Protocol 2 per pose: ``(..., J, 3)`` -> ``(...,)``. No reflections."""
    return mpjpe_per_frame(procrustes_align(pred, target), target)


@numpy_or_torch
def p_mpjpe(pred, target):
    """Protocol 2: MPJPE after per-pose similarity alignment (scalar). No reflections.

    >>> import numpy as np
    >>> target = np.random.default_rng(0).normal(size=(4, 17, 3))
    >>> turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])   # 90 degrees about z
    >>> round(float(p_mpjpe(1.5 * target @ turn + 0.2, target)), 6)   # turned, scaled, moved: the same pose
    0.0
    >>> round(float(p_mpjpe(target * [-1, 1, 1], target)), 3)         # a mirror image is not aligned away
    1.174
    """
    return p_mpjpe_per_frame(pred, target).mean()


@numpy_or_torch
def n_mpjpe_per_frame(pred, target, root: int | None = None):
    """MPJPE after fitting one least-squares scale per pose: ``(...,)``."""
    _check_pair(pred, target)
    pred, target = _root_relative(pred, target, root)
    num = (pred * target).sum((-1, -2), keepdim=True)
    den = (pred * pred).sum((-1, -2), keepdim=True).clamp_min(torch.finfo(pred.dtype).tiny)
    return mpjpe_per_frame(num / den * pred, target)


@numpy_or_torch
def n_mpjpe(pred, target, root: int | None = None):
    """Scale-normalised MPJPE (scalar).

    >>> import numpy as np
    >>> target = np.random.default_rng(0).normal(size=(4, 17, 3))
    >>> round(float(mpjpe(0.8 * target, target)), 3), round(float(n_mpjpe(0.8 * target, target)), 6)
    (0.314, 0.0)
    """
    return n_mpjpe_per_frame(pred, target, root).mean()


@numpy_or_torch
def mpjve_per_frame(pred, target, root: int | None = None):
    """Velocity error per frame step: ``(..., T, J, 3)`` -> ``(..., T - 1)``."""
    _check_pair(pred, target)
    if pred.ndim < 3 or pred.shape[-3] < 2:
        raise ValueError(f"mpjve needs poses over time (..., T>=2, J, 3), got {tuple(pred.shape)}")
    pred, target = _root_relative(pred, target, root)
    dp = pred[..., 1:, :, :] - pred[..., :-1, :, :]
    dt = target[..., 1:, :, :] - target[..., :-1, :, :]
    return torch.linalg.vector_norm(dp - dt, dim=-1).mean(-1)


@numpy_or_torch
def mpjve(pred, target, root: int | None = None):
    """Mean per-joint velocity error (scalar), in input units per frame.

    >>> import numpy as np
    >>> target = np.random.default_rng(0).normal(size=(4, 17, 3))     # (T, J, 3): frames on axis -3
    >>> round(float(mpjve(target + 0.05, target)), 6)                  # a constant offset moves nothing
    0.0
    >>> walk = np.zeros((5, 17, 3))
    >>> walk[..., 0] = 0.02 * np.arange(5)[:, None]                   # 2 cm per frame along x
    >>> round(float(mpjve(np.zeros_like(walk), walk)), 6)              # a prediction standing still
    0.02
    """
    return mpjve_per_frame(pred, target, root).mean()


def _check_time(poses, need: int, what: str):
    if poses.ndim < 3 or poses.shape[-1] != 3 or poses.shape[-3] < need:
        raise ValueError(f"{what} needs poses over time (..., T>={need}, J, 3), got {tuple(poses.shape)}")


@numpy_or_torch
def acceleration_per_frame(poses):
    """Mean joint acceleration per frame: ``(..., T, J, 3)`` -> ``(..., T - 2)``."""
    _check_time(poses, 3, "acceleration")
    a = poses[..., 2:, :, :] - 2 * poses[..., 1:-1, :, :] + poses[..., :-2, :, :]
    return torch.linalg.vector_norm(a, dim=-1).mean(-1)


@numpy_or_torch
def mean_acceleration(poses):
    """Mean joint acceleration (scalar, input units per frame squared)."""
    return acceleration_per_frame(poses).mean()


@numpy_or_torch
def jitter_per_frame(poses, window: int = 5):
    """Distance from the centred moving average: ``(..., T, J, 3)`` -> ``(..., T - window + 1)``."""
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 3, got {window}")
    _check_time(poses, window, "jitter")
    t = poses.shape[-3]
    csum = torch.cumsum(poses, dim=-3)
    zero = torch.zeros_like(poses[..., :1, :, :])
    csum = torch.cat([zero, csum], dim=-3)
    avg = (csum[..., window:, :, :] - csum[..., : t - window + 1, :, :]) / window
    centre = poses[..., window // 2 : t - window // 2, :, :]
    return torch.linalg.vector_norm(centre - avg, dim=-1).mean(-1)


@numpy_or_torch
def jitter(poses, window: int = 5):
    """Mean distance of joints from their ``window``-frame moving average (scalar)."""
    return jitter_per_frame(poses, window).mean()


@numpy_or_torch
def mpjae(pred, target, root: int | None = None):
    """Mean per-joint acceleration error (scalar)."""
    _check_pair(pred, target)
    pred, target = _root_relative(pred, target, root)
    return torch.linalg.vector_norm(
        (pred[..., 2:, :, :] - 2 * pred[..., 1:-1, :, :] + pred[..., :-2, :, :])
        - (target[..., 2:, :, :] - 2 * target[..., 1:-1, :, :] + target[..., :-2, :, :]), dim=-1
    ).mean()
