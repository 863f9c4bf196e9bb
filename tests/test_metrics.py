"""Metrics against independent reference computations."""
import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.optimize import minimize_scalar
from scipy.spatial.transform import Rotation

from poselift.metrics import (
    mpjpe,
    mpjpe_per_frame,
    mpjve,
    mpjve_per_frame,
    n_mpjpe,
    n_mpjpe_per_frame,
    p_mpjpe,
    p_mpjpe_per_frame,
    procrustes_align,
)

RNG = np.random.default_rng(0)


def _poses(n=20, j=17):
    return RNG.normal(size=(n, j, 3))


def _reference_p_mpjpe(pred, target):
    """Independent: scipy's Kabsch (proper rotations only) + closed-form optimal scale."""
    out = []
    for p, t in zip(pred, target):
        pc, tc = p - p.mean(0), t - t.mean(0)
        # align_vectors finds R (proper rotation) minimising sum ||t_i - R p_i||^2
        rot, _ = Rotation.align_vectors(tc, pc)
        pr = rot.apply(pc)
        s = (pr * tc).sum() / (pr * pr).sum()
        out.append(np.linalg.norm(s * pr - tc, axis=-1).mean())
    return np.array(out)


def test_mpjpe_known_values():
    a = np.zeros((2, 3, 3))
    b = a.copy()
    b[0, :, 0] = 3.0  # every joint 3 away in frame 0
    b[1, 0, 1] = 6.0  # one joint 6 away in frame 1
    np.testing.assert_allclose(mpjpe_per_frame(b, a), [3.0, 2.0])
    assert mpjpe(b, a) == pytest.approx(2.5)
    # root-relative: a pure translation costs nothing
    assert mpjpe(b[:1], a[:1], root=0) == pytest.approx(0.0)


def test_p_mpjpe_matches_independent_reference():
    target = _poses()
    pred = target + RNG.normal(scale=0.3, size=target.shape)
    ref = _reference_p_mpjpe(pred, target)
    np.testing.assert_allclose(p_mpjpe_per_frame(pred, target), ref, rtol=1e-6, atol=1e-9)
    assert p_mpjpe(pred, target) == pytest.approx(ref.mean(), rel=1e-6)


def test_p_mpjpe_similarity_copies_give_zero():
    target = _poses()
    rots = Rotation.random(len(target), random_state=1).as_matrix()
    scale = RNG.uniform(0.2, 5.0, size=(len(target), 1, 1))
    shift = RNG.normal(size=(len(target), 1, 3)) * 10
    pred = scale * np.einsum("nij,nkj->nki", rots, target) + shift
    assert mpjpe(pred, target) > 0.5
    assert p_mpjpe(pred, target) < 1e-9


def test_p_mpjpe_does_not_reward_mirror_images():
    target = _poses()
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    # a reflection-allowing Procrustes (scipy) would align the mirror image perfectly ...
    refl = []
    for p, t in zip(mirrored, target):
        pc, tc = p - p.mean(0), t - t.mean(0)
        r, s = orthogonal_procrustes(pc, tc)
        refl.append(np.linalg.norm(pc @ r * (s / (pc**2).sum()) - tc, axis=-1).mean())
    assert max(refl) < 1e-9
    # ... ours must not, and must agree with the rotation-only reference
    ours = p_mpjpe_per_frame(mirrored, target)
    assert ours.min() > 0.1
    np.testing.assert_allclose(ours, _reference_p_mpjpe(mirrored, target), rtol=1e-6)


def test_procrustes_alignment_is_a_proper_similarity():
    target = _poses(5)
    pred = target[:, ::-1] * np.array([-1.0, 1.0, 1.0])  # scrambled + mirrored
    aligned = procrustes_align(pred, target)
    for p, a in zip(pred, aligned):
        pc, ac = p - p.mean(0), a - a.mean(0)
        m, *_ = np.linalg.lstsq(pc, ac, rcond=None)  # ac = pc @ m with m = s R
        s = np.cbrt(np.linalg.det(m))
        assert s > 0
        np.testing.assert_allclose(m.T @ m / s**2, np.eye(3), atol=1e-8)


def test_n_mpjpe_matches_brute_force_scale():
    target = _poses(6)
    pred = 0.7 * target + RNG.normal(scale=0.1, size=target.shape)
    ours = n_mpjpe_per_frame(pred, target)
    # least-squares scale (what N-MPJPE fits), found numerically
    for i in range(len(pred)):
        res = minimize_scalar(lambda s: ((s * pred[i] - target[i]) ** 2).sum(), bounds=(0.1, 10), method="bounded")
        ref = np.linalg.norm(res.x * pred[i] - target[i], axis=-1).mean()
        assert ours[i] == pytest.approx(ref, rel=1e-4)
    assert n_mpjpe(0.5 * target, target) == pytest.approx(0.0, abs=1e-12)


def test_mpjve():
    t = np.arange(5, dtype=float)[:, None, None] * np.ones((5, 4, 3))
    target = t.copy()
    pred = target + 2.0  # constant offset: same velocity
    assert mpjve(pred, target) == pytest.approx(0.0)
    pred = target * 2  # velocity (1,1,1) vs (2,2,2): error sqrt(3) per joint per step
    np.testing.assert_allclose(mpjve_per_frame(pred, target), np.full(4, np.sqrt(3)))
    with pytest.raises(ValueError, match="over time"):
        mpjve(pred[:1], target[:1])


def test_numpy_and_torch_agree_and_types_follow_input():
    target = _poses(8)
    pred = target + RNG.normal(scale=0.2, size=target.shape)
    for fn in (mpjpe, p_mpjpe, n_mpjpe):
        a = fn(pred, target)
        b = fn(torch.from_numpy(pred), torch.from_numpy(target))
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        assert float(a) == pytest.approx(float(b), rel=1e-9)
    assert mpjpe_per_frame(pred.reshape(2, 4, 17, 3), target.reshape(2, 4, 17, 3)).shape == (2, 4)
    assert p_mpjpe_per_frame(pred.reshape(2, 4, 17, 3), target.reshape(2, 4, 17, 3)).shape == (2, 4)


def test_p_mpjpe_is_differentiable():
    target = torch.from_numpy(_poses(3))
    pred = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    p_mpjpe(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="shape"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        p_mpjpe(np.zeros((2, 17, 2)), np.zeros((2, 17, 2)))


def test_smoothness_metrics_on_known_signals():
    from poselift.metrics import (
        acceleration_per_frame,
        jitter,
        jitter_per_frame,
        mean_acceleration,
        mpjae,
    )

    t = np.arange(30, dtype=float)[:, None, None]
    const_vel = t * np.array([0.3, -0.1, 0.2]) + RNG.normal(size=(1, 17, 3))  # every joint moves uniformly
    assert mean_acceleration(const_vel) == pytest.approx(0.0, abs=1e-12)
    assert jitter(const_vel) == pytest.approx(0.0, abs=1e-12)
    accel = 0.5 * t**2 * np.array([1.0, 0.0, 0.0]) * np.ones((1, 17, 3))  # constant acceleration 1
    np.testing.assert_allclose(acceleration_per_frame(accel), np.ones(28))
    # alternating +-e noise: acceleration 4e, jitter |e - e/5| = 0.8 e on the 5-frame average
    e = 0.01
    noisy = const_vel + e * ((-1.0) ** np.arange(30))[:, None, None] * np.array([1.0, 0, 0])
    assert mean_acceleration(noisy) == pytest.approx(4 * e)
    np.testing.assert_allclose(jitter_per_frame(noisy), np.full(26, 0.8 * e))
    assert mpjae(noisy, const_vel) == pytest.approx(4 * e)
    with pytest.raises(ValueError, match="odd"):
        jitter(noisy, window=4)
    with pytest.raises(ValueError, match="T>=5"):
        jitter(noisy[:3])
