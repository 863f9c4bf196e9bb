"""Training losses: supervised pose and trajectory terms, and the
semi-supervised back-projection and bone-length terms (torch only).

Shapes use ``B`` for batch and ``J`` for joints; all poses are camera-frame,
metres; 2D is screen-normalised.
"""
from __future__ import annotations

from typing import Sequence

import torch

from poselift.core.camera import project_intrinsics

__all__ = [
    "pose_loss",
    "trajectory_loss",
    "reprojection_loss",
    "bone_lengths",
    "bone_length_loss",
    "mean_length_gap",
]


def pose_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean joint error: ``(B, J, 3)`` x2 -> scalar."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def trajectory_loss(pred: torch.Tensor, target: torch.Tensor, min_depth: float = 0.1) -> torch.Tensor:
    """Root-trajectory error weighted by inverse ground-truth depth.

    Args:
        pred, target: ``(B, 3)`` root positions in camera coordinates.
        min_depth: depths are clamped below at this value (metres) so a bad
            label cannot produce an infinite weight.

    Far-away subjects project to small image motions, so their absolute
    position error is down-weighted by ``1 / Z``.
    """
    w = 1.0 / target[..., 2].clamp_min(min_depth)
    return (w * torch.linalg.vector_norm(pred - target, dim=-1)).mean()


def reprojection_loss(
    pose: torch.Tensor,
    trajectory: torch.Tensor,
    intrinsics: torch.Tensor,
    target2d: torch.Tensor,
    correspondence: tuple[Sequence[int], Sequence[int]] | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """2D error of the projected 3D estimate (back-projection).

    Args:
        pose: ``(B, J3, 3)`` root-relative pose.
        trajectory: ``(B, 3)`` root position in camera coordinates.
        intrinsics: ``(B, 9)`` normalised ``[f, c, k, p]`` of each sample's camera.
        target2d: ``(B, J2, 2)`` the 2D input at the same frame (normalised).
        correspondence: ``(idx2d, idx3d)`` joints that exist in both layouts;
            only those are compared. ``None`` requires ``J2 == J3`` and
            compares all joints.
        weights: optional ``(B, J2)`` per-joint weights (e.g. detector confidence).

    Returns:
        Scalar mean 2D distance in normalised units.
    """
    absolute = pose + trajectory[:, None, :]
    proj = project_intrinsics(absolute, intrinsics)
    if correspondence is None:
        if proj.shape[-2] != target2d.shape[-2]:
            raise ValueError(
                f"3D has {proj.shape[-2]} joints and 2D has {target2d.shape[-2]}: give the joint "
                "correspondence between the layouts (poselift.core.layouts.correspondence)"
            )
        src = dst = slice(None)
    else:
        src = torch.as_tensor(correspondence[0], device=pose.device, dtype=torch.long)
        dst = torch.as_tensor(correspondence[1], device=pose.device, dtype=torch.long)
    err = torch.linalg.vector_norm(proj[:, dst] - target2d[:, src, :2], dim=-1)
    if weights is None:
        return err.mean()
    w = weights[:, src]
    return (w * err).sum() / w.sum().clamp_min(1e-8)


def bone_lengths(pose: torch.Tensor, parents: Sequence[int]) -> torch.Tensor:
    """``(..., J, 3)`` -> ``(..., J - 1)`` lengths of the bones (child, parent) of a tree."""
    child = [j for j, p in enumerate(parents) if p >= 0]
    par = [parents[j] for j in child]
    return torch.linalg.vector_norm(pose[..., child, :] - pose[..., par, :], dim=-1)


def bone_length_loss(labelled: torch.Tensor, unlabelled: torch.Tensor, parents: Sequence[int]) -> torch.Tensor:
    """L1 distance between the batch-mean bone lengths of two batches of poses.

    Args:
        labelled: ``(B1, J, 3)`` predicted poses of the labelled batch.
        unlabelled: ``(B2, J, 3)`` predicted poses of the unlabelled batch.
        parents: kinematic tree of the layout.

    Zero when both batches have identical mean bone lengths; it keeps the
    unsupervised branch from shrinking or stretching the skeleton to fit
    the 2D reprojection.
    """
    return mean_length_gap(bone_lengths(labelled, parents).mean(0), bone_lengths(unlabelled, parents).mean(0))


def mean_length_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of two sets of mean bone lengths, ``(J - 1,)`` x2 -> scalar (the bone-length
    term once the batch means are known: a batch's own, or the global batch's when training is distributed)."""
    return (a - b).abs().mean()
