"""Camera utilities against direct evaluations of the formulas."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from poselift.core.camera import (
    Camera,
    camera_to_world,
    normalize_screen,
    project,
    project_intrinsics,
    unnormalize_screen,
    world_to_camera,
)
from poselift.core.mirror import flip_camera

# Human3.6M camera 54138969 of subject 1 (intrinsics from cameras.h5)
F = np.array([1145.04940459, 1143.78109572])
C = np.array([512.54150496, 515.45148698])
K = np.array([-0.20709891, 0.24777518, -0.00307515])
P = np.array([-0.00142447, -0.00097505])


def _direct(X, f, c, k, p):
    """The Human3.6M model written out per point, plain Python floats."""
    out = []
    for x, y, z in X:
        xp, yp = x / z, y / z
        r2 = xp * xp + yp * yp
        radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
        tan = p[0] * yp + p[1] * xp
        xd = xp * (radial + tan) + p[1] * r2
        yd = yp * (radial + tan) + p[0] * r2
        out.append((f[0] * xd + c[0], f[1] * yd + c[1]))
    return np.array(out)


def test_projection_matches_the_formula():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(-1.5, 1.5, 50), rng.uniform(-1.5, 1.5, 50), rng.uniform(3, 7, 50)])
    ours = project(X, F, C, K, P)
    np.testing.assert_allclose(ours, _direct(X, F, C, K, P), atol=1e-9)
    # torch, float64, batched with one camera per batch item
    Xb = torch.from_numpy(np.stack([X, X * [1, 1, 1.2]]))
    fb = torch.from_numpy(np.stack([F, F * 1.1]))
    cb = torch.from_numpy(np.stack([C, C]))
    kb = torch.from_numpy(np.stack([K, K]))
    pb = torch.from_numpy(np.stack([P, P]))
    out = project(Xb, fb, cb, kb, pb)
    np.testing.assert_allclose(out[1].numpy(), _direct(Xb[1].numpy(), F * 1.1, C, K, P), atol=1e-9)


def test_distortion_differs_from_pinhole_and_opencv():
    X = np.array([[1.0, 0.8, 4.0]])
    pin = project(X, F, C)
    dist = project(X, F, C, K, P)
    assert np.abs(pin - dist).max() > 1.0  # the distortion matters at the image edge


def test_projection_is_differentiable():
    X = torch.tensor([[0.3, -0.2, 4.0], [0.1, 0.4, 5.0]], dtype=torch.float64, requires_grad=True)
    intr = torch.tensor(np.concatenate([F, C, K, P]), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: project_intrinsics(a, b), (X, intr))


def test_normalisation_round_trip_and_range():
    rng = np.random.default_rng(1)
    px = rng.uniform(0, [1000, 1002], size=(7, 17, 2))
    n = normalize_screen(px, 1000, 1002)
    np.testing.assert_allclose(unnormalize_screen(n, 1000, 1002), px, atol=1e-9)
    corners = normalize_screen(np.array([[0.0, 0.0], [1000.0, 1002.0]]), 1000, 1002)
    np.testing.assert_allclose(corners, [[-1, -1.002], [1, 1.002]])
    # extra channels pass through; per-item sizes broadcast
    c = np.concatenate([px, np.ones((7, 17, 1))], -1)
    assert normalize_screen(c, 1000, 1002).shape == (7, 17, 3)
    w = np.full((7, 17), 1000.0)
    np.testing.assert_allclose(normalize_screen(px, w, 1002), n)


def test_world_camera_round_trip():
    rng = np.random.default_rng(2)
    R = Rotation.random(random_state=3).as_matrix()
    T = rng.normal(size=3) * 3
    X = rng.normal(size=(10, 17, 3))
    Xc = world_to_camera(X, R, T)
    np.testing.assert_allclose(Xc[0, 0], R @ (X[0, 0] - T))
    np.testing.assert_allclose(camera_to_world(Xc, R, T), X, atol=1e-12)


def test_normalised_intrinsics_project_to_normalised_coordinates():
    cam = Camera(f=F, c=C, k=K, p=P, width=1000, height=1002, name="54138969")
    X = np.array([[[0.2, 0.3, 4.5], [-0.5, 0.1, 5.0]]])
    np.testing.assert_allclose(cam.project(X, normalized=True), cam.normalize(cam.project(X)), atol=1e-12)


def test_flipped_camera_sees_the_mirror_image():
    cam = Camera(f=F, c=C, k=K, p=P, width=1000, height=1002)
    X = np.array([[[0.7, 0.5, 4.0], [-0.9, -0.6, 3.5]]])
    Xm = X * [-1, 1, 1]
    img = cam.project(X, normalized=True)
    mirrored = flip_camera(cam).project(Xm, normalized=True)
    np.testing.assert_allclose(mirrored, img * [-1, 1], atol=1e-12)


def test_bad_camera_raises():
    with pytest.raises(ValueError, match="focal"):
        Camera(f=(0, 1), c=(0, 0), width=10, height=10)
    with pytest.raises(ValueError, match="image size"):
        Camera(f=(1, 1), c=(0, 0), width=0, height=10)
    with pytest.raises(ValueError, match="expected 3 values"):
        Camera(f=(1, 1), c=(0, 0), k=(1, 2), width=10, height=10)
    d = Camera.from_image_size(1920, 1080)
    assert d.c.tolist() == [960, 540] and d.f[0] == pytest.approx(1.15 * 1920)
