"""Virtual cameras: geometry against hand-derived placements, the drawn training views, bad input."""
import numpy as np
import pytest

from poselift.core.errors import ConfigError, InputError
from poselift.datasets.synthetic import make_dataset
from poselift.datasets.virtual_cameras import (
    MIN_DEPTH,
    CameraDistribution,
    VirtualView,
    draw_view,
    reproject,
    view_camera,
    virtual_camera_views,
    world_poses,
)


def _seqs(n_frames=60, motions=("walk",)):
    return make_dataset(subjects=1, motions=list(motions), num_frames=n_frames, seed=5)


def test_camera_placement_matches_spherical_coordinates():
    aim = np.array([0.4, -0.2, 1.0])
    world = aim[None, None]  # one point: the centroid itself, so no turn towards a framing position
    view = VirtualView(azimuth=30.0, elevation=40.0, roll=0.0, distance=4.0, fov=90.0, width=1000, height=600)
    cam, pushed = view_camera(view, world)
    az, el = np.radians(30.0), np.radians(40.0)
    expected_centre = aim + 4.0 * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    assert not pushed
    np.testing.assert_allclose(cam.T, expected_centre, atol=1e-12)
    np.testing.assert_allclose(cam.R[2], (aim - expected_centre) / 4.0, atol=1e-12)  # optical axis at the person
    assert abs(cam.R[0, 2]) < 1e-12  # no roll: the image x axis is horizontal
    assert cam.R[1, 2] < 0  # image y (down) points down in the world
    np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(cam.R) == pytest.approx(1.0)
    assert cam.f[0] == pytest.approx(500.0)  # fov 90 over 1000 px: f = 500 / tan(45 deg)
    np.testing.assert_allclose(cam.project(cam.world_to_camera(world))[0, 0], [500.0, 300.0], atol=1e-9)
    # roll 90 degrees: the image x axis becomes the world's downward-tilted vertical
    cam90, _ = view_camera(VirtualView(azimuth=30.0, elevation=40.0, roll=90.0, distance=4.0), world)
    np.testing.assert_allclose(cam90.R[0], -cam.R[1], atol=1e-12)


def test_framing_positions_put_the_body_inside_the_frame():
    world = world_poses(_seqs()[0])
    for w, h in ((1920, 1080), (1080, 1920)):
        for pos in ((0.0, 0.0), (0.5, 0.5), (1.0, 1.0)):
            view = VirtualView(azimuth=-60.0, elevation=10.0, distance=5.0, fov=60.0, width=w, height=h, position=pos)
            cam, _ = view_camera(view, world)
            kp = cam.project(cam.world_to_camera(world), clamp=False).reshape(-1, 2)
            lo, hi = kp.min(0), kp.max(0)
            # the camera is turned (not shifted) until the frame edges are met within a pixel
            assert (lo > -1).all() and (hi < np.array([w, h]) + 1).all()
            if pos == (0.0, 0.0):
                np.testing.assert_allclose(lo, [0.0, 0.0], atol=1)
            if pos == (1.0, 1.0):
                np.testing.assert_allclose(hi, [w, h], atol=1)
            if pos == (0.5, 0.5):
                np.testing.assert_allclose((lo + hi) / 2, [w / 2, h / 2], atol=1)


def test_reprojection_is_rigid_and_projects_by_the_pinhole_formula():
    seq = _seqs()[0]
    view = VirtualView(azimuth=100.0, elevation=-10.0, roll=5.0, distance=3.0, fov=70.0, width=720, height=1280,
                       principal=(0.01, -0.02), name="v")
    new, _ = reproject(seq, view)
    x = new.poses3d.astype(np.float64)
    # bone lengths unchanged (a rigid change of frame)
    for j, p in enumerate(seq.layout3d.parents):
        if p >= 0:
            np.testing.assert_allclose(np.linalg.norm(x[:, j] - x[:, p], axis=-1),
                                       np.linalg.norm(seq.poses3d[:, j] - seq.poses3d[:, p], axis=-1), atol=1e-5)
    f, c = new.camera.f[0], new.camera.c
    np.testing.assert_allclose(new.keypoints, f * x[..., :2] / x[..., 2:3] + c, atol=1e-2)
    np.testing.assert_allclose(new.keypoints, new.camera.project(x, clamp=False), atol=1e-2)  # the Camera agrees
    np.testing.assert_allclose(x, new.camera.world_to_camera(world_poses(seq)), atol=1e-5)
    assert (x[..., 2] >= MIN_DEPTH).all()
    assert new.camera_id == "v" and new.subject == seq.subject and new.image_size == (720, 1280)
    assert c[0] == pytest.approx(360 + 0.01 * 720) and c[1] == pytest.approx(640 - 0.02 * 720)


def test_a_camera_too_close_moves_back():
    seq = _seqs()[0]
    new, pushed = reproject(seq, VirtualView(azimuth=0.0, elevation=0.0, distance=0.2))
    assert pushed and new.poses3d[..., 2].min() >= MIN_DEPTH


def test_drawn_training_views_are_reproducible_and_reach_the_fraction():
    seqs = _seqs(n_frames=120, motions=("walk", "box"))
    dist = CameraDistribution(enabled=True, fraction=0.5, chunk_frames=50)
    a, ra = virtual_camera_views(seqs, dist, seed=3)
    b, rb = virtual_camera_views(seqs, dist, seed=3)
    c, _ = virtual_camera_views(seqs, dist, seed=4)
    assert ra == rb and all(np.array_equal(x.keypoints, y.keypoints) for x, y in zip(a, b))
    assert any(x.camera_id != y.camera_id or not np.array_equal(x.keypoints, y.keypoints) for x, y in zip(a, c))
    assert 0.5 <= ra["fraction_reprojected"] < 0.5 + 120 / ra["frames"]
    assert sum(len(s) for s in a) == ra["frames"] == sum(len(s) for s in seqs)
    virtual = [s for s in a if "virtual_view" in s.meta]
    assert len(virtual) == ra["cameras"] and sum(len(s) for s in virtual) == ra["frames_reprojected"]
    assert {len(s) for s in virtual} == {50, 70}  # 120 frames: 50 + 70 (a short tail joins its neighbour)
    sizes = {s.image_size for s in virtual}
    assert sizes <= {tuple(x) for x in dist.image_sizes} and len(sizes) > 1
    off, r0 = virtual_camera_views(seqs, CameraDistribution(), seed=3)  # disabled: unchanged
    assert off == list(seqs) and r0["cameras"] == 0


def test_draws_stay_in_their_ranges_and_noise_changes_only_the_2d():
    dist = CameraDistribution(enabled=True, elevation=[-15, 45], fov=[40, 75], noise={"jitter": 5.0})
    rng = np.random.default_rng(0)
    views = [draw_view(dist, rng) for _ in range(200)]
    el = np.array([v.elevation for v in views])
    assert el.min() >= -15 and el.max() <= 45 and el.max() - el.min() > 50
    assert all(40 <= v.fov <= 75 for v in views)
    seq = _seqs()[0]
    clean, _ = reproject(seq, views[0])
    noisy, _ = reproject(seq, views[0], noise=dist.noise_settings(), rng=np.random.default_rng(1))
    np.testing.assert_array_equal(clean.poses3d, noisy.poses3d)
    assert 1.0 < np.abs(noisy.keypoints - clean.keypoints).mean() < 50 and noisy.confidence is not None


def test_bad_input_is_refused_clearly():
    seq = _seqs()[0]
    import dataclasses

    from poselift.core.camera import Camera

    no_extrinsics = dataclasses.replace(seq, camera=Camera.from_image_size(1000, 1000))
    with pytest.raises(InputError, match="extrinsics"):
        world_poses(no_extrinsics)
    with pytest.raises(ConfigError, match="elevation"):
        CameraDistribution(elevation=[-100, 10])
    with pytest.raises(ConfigError, match="fraction"):
        CameraDistribution(fraction=1.5)
    with pytest.raises(ConfigError, match="noise"):
        CameraDistribution(noise={"jiter": 1.0})
    with pytest.raises(ConfigError, match="image_sizes"):
        CameraDistribution(image_sizes=[[1920]])
    with pytest.raises(ConfigError, match="elevation"):
        VirtualView(azimuth=0.0, elevation=90.0)
    coco = dataclasses.replace(seq, keypoints=seq.keypoints, layout="coco17")
    with pytest.raises(ConfigError, match="keypoints: gt"):
        reproject(coco, VirtualView(azimuth=0.0, elevation=0.0))
