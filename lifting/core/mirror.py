"""Mirroring (a horizontal flip of the image): one rule for every quantity that flips.

Mirroring the image negates camera X and the normalised image x, and swaps
left and right joints (:attr:`poselift.core.layouts.Layout.flip_permutation`).
It is used for flip augmentation in training and flip test-time augmentation
(the mirrored input's prediction, mirrored back, averaged with the plain one).

* 2D input ``(..., J, F)`` (normalised x, y, confidence...): negate x, permute joints;
* 3D poses ``(..., J, 3)`` (camera coordinates): negate X, permute joints;
* trajectories ``(..., 3)``: negate X;
* packed normalised intrinsics ``(..., 9)`` ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``: the projection of the
  mirrored pose lands on the mirrored 2D when ``cx`` and ``p2`` (the coefficient of x' in the
  tangential term) change sign; for a :class:`~poselift.core.camera.Camera` in pixels the principal
  point is mirrored about the image centre instead.

Functions take torch tensors (training, inference); :func:`flip_camera` takes a Camera.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from poselift.core.camera import Camera
from poselift.core.layouts import Layout, get_layout

__all__ = ["flip_pair", "flip_keypoints", "flip_poses", "flip_rows_", "flip_trajectory", "flip_intrinsics",
           "flip_camera"]


def flip_pair(layout_in: str | Layout, layout_out: str | Layout) -> tuple[np.ndarray, np.ndarray]:
    """``(input permutation, output permutation)`` for flip augmentation of a ``layout_in -> layout_out`` lifter."""
    return get_layout(layout_in).flip_permutation, get_layout(layout_out).flip_permutation


def flip_keypoints(x, perm):
    """Mirror normalised 2D input ``(..., J, F)``: negate x, swap left/right joints (torch)."""
    import torch

    x = x[..., torch.as_tensor(perm, device=x.device), :].clone()
    x[..., 0] = -x[..., 0]
    return x


def flip_poses(y, perm):
    """Mirror camera-frame 3D ``(..., J, 3)``: negate X, swap left/right joints (torch)."""
    return flip_keypoints(y, perm)


def flip_rows_(x, rows, perm):
    """In place: mirror the items ``rows`` of a batch ``x`` ``(B, ..., J, F)`` (2D input or 3D poses),
    the values of :func:`flip_keypoints`, without touching the other items (torch)."""
    if len(rows) == 0:
        return x
    import torch

    sub = x.index_select(0, rows).index_select(-2, torch.as_tensor(perm, device=x.device))
    sub[..., 0].neg_()
    return x.index_copy_(0, rows, sub)


def flip_trajectory(t):
    """Mirror root positions ``(..., 3)`` in camera coordinates: negate X (torch)."""
    out = t.clone()
    out[..., 0] = -out[..., 0]
    return out


def flip_intrinsics(intrinsics):
    """Normalised intrinsics ``(..., 9)`` of the horizontally mirrored image (torch)."""
    out = intrinsics.clone()
    out[..., 2] = -out[..., 2]
    out[..., 8] = -out[..., 8]
    return out


def flip_camera(camera: Camera) -> Camera:
    """The camera that sees the horizontally mirrored image (principal point mirrored, ``p2`` negated)."""
    return replace(camera, c=np.array([camera.width - camera.c[0], camera.c[1]]), p=camera.p * np.array([1.0, -1.0]))
