"""poselift.core.mirror: every mirroring rule is an involution and consistent with the projection."""
from __future__ import annotations

import numpy as np
import torch

from poselift.core.camera import Camera, project_intrinsics
from poselift.core.layouts import H36M17, MPII16
from poselift.core.mirror import (
    flip_camera,
    flip_intrinsics,
    flip_keypoints,
    flip_pair,
    flip_poses,
    flip_trajectory,
)


def test_flips_are_involutions():
    perm = H36M17.flip_permutation
    x = torch.randn(5, 17, 3)
    assert torch.equal(flip_keypoints(flip_keypoints(x, perm), perm), x)
    assert torch.equal(flip_poses(flip_poses(x, perm), perm), x)
    t = torch.randn(5, 3)
    assert torch.equal(flip_trajectory(flip_trajectory(t)), t) and torch.equal(flip_trajectory(t)[:, 1:], t[:, 1:])
    k = torch.randn(4, 9)
    assert torch.equal(flip_intrinsics(flip_intrinsics(k)), k)


def test_flip_pair_is_the_layouts_permutations():
    a, b = flip_pair("mpii16", "h36m17")
    assert np.array_equal(a, MPII16.flip_permutation) and np.array_equal(b, H36M17.flip_permutation)


def test_mirrored_3d_projects_onto_mirrored_2d():
    cam = Camera(f=(1145.0, 1144.0), c=(512.5, 515.5), k=(-0.2, 0.24, -0.003), p=(-0.001, -0.0014),
                 width=1000, height=1002)
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(6, 17, 3)) * 0.3 + [0.1, -0.2, 4.5])
    perm = H36M17.flip_permutation
    intr = torch.from_numpy(cam.intrinsics(normalized=True))
    uv = project_intrinsics(X, intr)
    mirrored = project_intrinsics(flip_poses(X, perm), flip_intrinsics(intr))
    assert torch.allclose(mirrored, flip_keypoints(uv, perm), atol=1e-9)
    # the Camera form (pixels) agrees with the packed form
    uv_cam = torch.from_numpy(flip_camera(cam).project(flip_poses(X, perm).numpy(), normalized=True))
    assert torch.allclose(uv_cam, mirrored, atol=1e-9)
