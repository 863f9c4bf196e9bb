"""Tracks: identities through crossings, gap filling, minimum length, source ids."""
from __future__ import annotations

import numpy as np
import pytest

from poselift.detectors.standins import person_template
from poselift.detectors.tracking import (
    Detections,
    TrackerSettings,
    fill_missing_joints,
    fill_track,
    oks,
    track_people,
    tracks_from_ids,
)


def _walkers(n=40, speed=12.0):
    """Two people walking towards each other along the same line (one 10 px lower), passing at frame ~20."""
    a = [person_template(100 + speed * t, 60, 300) for t in range(n)]
    b = [person_template(100 + speed * (n - 1) - speed * t, 70, 300) for t in range(n)]
    return np.array(a), np.array(b)


@pytest.mark.parametrize("metric", ["oks", "distance"])
def test_crossing_people_keep_their_identities(metric):
    a, b = _walkers()
    rng = np.random.default_rng(0)
    frames = []
    for t in range(len(a)):
        people = [a[t], b[t]]
        if rng.random() < 0.5:  # detection order carries no identity
            people = people[::-1]
        frames.append(Detections(np.array(people) + rng.normal(0, 0.5, (2, 18, 2))))
    tracks = track_people(frames, "bodyposenet18", TrackerSettings(metric=metric))
    assert len(tracks) == 2
    for tr in tracks:
        assert len(tr) == len(a) and tr.detected.all()
        truth = a if abs(tr.keypoints[0, 1, 0] - a[0, 1, 0]) < 5 else b
        assert np.abs(tr.keypoints - truth).max() < 3.0, "track switched to the other person"


def test_crossing_needs_the_motion_model():
    # the same scene without velocity prediction swaps identities at the crossing: the test above can fail
    a, b = _walkers()
    frames = [Detections(np.array([a[t], b[t]])) for t in range(len(a))]
    tracks = track_people(frames, "bodyposenet18", TrackerSettings(use_velocity=False))
    ok = []
    for tr in tracks:
        truth = a if abs(tr.keypoints[0, 1, 0] - a[0, 1, 0]) < 5 else b
        ok.append(np.abs(tr.keypoints - truth).max() < 3.0)
    assert not all(ok)


def test_three_frame_dropout_is_filled_and_marked():
    a, _ = _walkers(n=20, speed=5.0)
    conf = np.full((18,), 0.9, np.float32)
    frames = [Detections(a[t][None], conf[None]) if t not in (8, 9, 10) else Detections(np.zeros((0, 18, 2)))
              for t in range(20)]
    tracks = track_people(frames, "bodyposenet18", TrackerSettings(max_gap=3))
    assert len(tracks) == 1
    tr = tracks[0]
    np.testing.assert_array_equal(tr.frames, np.arange(20))
    np.testing.assert_array_equal(np.flatnonzero(~tr.detected), [8, 9, 10])
    assert tr.interpolated[8:11].all() and not tr.interpolated[:8].any() and not tr.interpolated[11:].any()
    np.testing.assert_allclose(tr.keypoints[8:11], a[8:11], atol=1e-3)  # straight-line walk: exact
    assert (tr.confidence[8:11] == 0).all() and (tr.confidence[:8] == pytest.approx(0.9))


def test_gap_longer_than_max_gap_starts_a_new_track():
    a, _ = _walkers(n=20, speed=2.0)
    frames = [Detections(a[t][None]) if not 5 <= t < 12 else Detections(np.zeros((0, 18, 2))) for t in range(20)]
    tracks = track_people(frames, "bodyposenet18", TrackerSettings(max_gap=3, min_length=3))
    assert [(int(t.frames[0]), int(t.frames[-1])) for t in tracks] == [(0, 4), (12, 19)]


def test_short_tracks_are_dropped():
    a, b = _walkers(n=12)
    frames = [Detections(np.array([a[t], b[t]]) if t < 3 else a[t][None]) for t in range(12)]
    tracks = track_people(frames, "bodyposenet18", TrackerSettings(min_length=5))
    assert len(tracks) == 1 and len(tracks[0]) == 12


def test_missing_joint_inside_a_track_is_interpolated():
    a, _ = _walkers(n=6, speed=4.0)
    kp = a.copy()
    kp[2:4, 10] = np.nan  # right ankle lost for two frames
    tr = fill_track(range(6), kp, np.ones((6, 18)), filled_confidence=0.1)
    assert tr.interpolated[2:4, 10].all() and tr.interpolated.sum() == 2
    np.testing.assert_allclose(tr.keypoints[2:4, 10], a[2:4, 10], atol=1e-4)
    assert (tr.confidence[2:4, 10] == pytest.approx(0.1))


def test_tracks_from_ids_group_and_split():
    a, b = _walkers(n=10)
    frames = []
    for t in range(10):
        if t in (4, 5):
            frames.append(Detections(a[t][None], ids=[7]))
        else:
            frames.append(Detections(np.array([a[t], b[t]]), ids=[7, 3]))
    tracks = tracks_from_ids(frames, TrackerSettings(max_gap=1, min_length=1))
    by_id = {t.track_id: t for t in tracks}
    assert len(by_id[7]) == 10 and by_id[7].detected.all()
    # id 3 is missing for two frames > max_gap 1: split into two tracks, the second with a fresh id
    assert len(by_id[3]) == 4 and set(by_id) == {3, 7, 8}
    np.testing.assert_allclose(by_id[7].keypoints, a, atol=1e-4)


def test_oks_is_one_for_identical_poses_and_decays():
    p = person_template(100, 0, 300)[None]
    v = np.ones((1, 18), bool)
    s = np.full(18, 0.08)
    assert oks(p, v, p, v, s)[0, 0] == pytest.approx(1.0)
    assert oks(p, v, p + 30, v, s)[0, 0] < 0.5
    assert oks(p, v, p, np.zeros((1, 18), bool), s)[0, 0] == 0.0


def test_fill_missing_joints_uses_the_ancestor():
    kp = np.tile(person_template(100, 0, 300)[None], (3, 1, 1)).astype(np.float32)
    kp[:, 16] = np.nan  # right ear never seen -> right eye (its parent)
    out, mask = fill_missing_joints(kp, "bodyposenet18")
    np.testing.assert_allclose(out[:, 16], kp[:, 14])
    assert mask[:, 16].all() and mask.sum() == 3


def test_wrong_joint_count_is_named():
    with pytest.raises(ValueError, match="18"):
        track_people([Detections(np.zeros((1, 17, 2)))], "bodyposenet18")
