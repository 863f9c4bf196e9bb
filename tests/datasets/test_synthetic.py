"""The synthetic motion generator."""
import numpy as np
import pytest

from poselift.core.layouts import H36M17
from poselift.datasets.synthetic import MOTIONS, NoiseSettings, make_dataset


def test_deterministic_from_seed():
    a = make_dataset(subjects=1, motions=["walk", "squat"], num_frames=50, seed=3)
    b = make_dataset(subjects=1, motions=["walk", "squat"], num_frames=50, seed=3)
    c = make_dataset(subjects=1, motions=["walk", "squat"], num_frames=50, seed=4)
    assert len(a) == 2 * 4  # motions x cameras
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.keypoints, y.keypoints)
        np.testing.assert_array_equal(x.poses3d, y.poses3d)
    assert not np.allclose(a[0].poses3d, c[0].poses3d)


def test_skeletons_are_rigid_and_human_sized_and_all_motions_move():
    seqs = make_dataset(subjects=2, num_frames=100, seed=0)
    bones = np.array(H36M17.bones)
    for s in seqs[::4]:
        p = s.poses3d
        lengths = np.linalg.norm(p[:, bones[:, 0]] - p[:, bones[:, 1]], axis=-1)
        assert lengths.std(0).max() < 1e-4  # rigid bones over time
        thigh = lengths[0, list(bones[:, 0]).index(H36M17.index("right_knee"))]
        assert 0.35 < thigh < 0.55
        assert np.all(p[..., 2] > 1.0)  # in front of the camera
        motion = np.abs(np.diff(s.root_relative_3d(), axis=0)).mean()
        assert motion > 1e-4, s.action
    assert {s.action for s in seqs} == set(MOTIONS)


def test_noise_is_detector_like_and_clean_projection_is_exact():
    s = make_dataset(subjects=1, motions=["walk"], num_frames=300, seed=1)[0]
    clean = s.meta["clean_keypoints"]
    np.testing.assert_allclose(clean, s.camera.project(s.poses3d), atol=1e-3)
    err = np.linalg.norm(s.keypoints - clean, axis=-1)
    assert 2 < np.median(err) < 10  # a few pixels of jitter
    assert err.max() > 15  # and some outliers
    assert s.confidence.min() < 0.5 < s.confidence.max() <= 1.0
    # low confidence marks the bad detections
    assert err[s.confidence < 0.5].mean() > err[s.confidence >= 0.5].mean()
    q = make_dataset(subjects=1, motions=["walk"], num_frames=30, seed=1, noise=NoiseSettings.clean())[0]
    np.testing.assert_allclose(q.keypoints, q.meta["clean_keypoints"], atol=1e-4)
    assert np.all((q.keypoints > -50) & (q.keypoints < 1050))


def test_bad_arguments():
    with pytest.raises(KeyError, match="unknown motion 'fly'"):
        make_dataset(subjects=1, motions=["fly"])
