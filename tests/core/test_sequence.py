"""poselift.core.sequence: PoseSequence and its typed records (TrackInfo, DetectorPose3D)."""
from __future__ import annotations

import numpy as np
import pytest

from poselift.core.errors import InputError
from poselift.core.layouts import get_mapping
from poselift.core.sequence import DetectorPose3D, PoseSequence, TrackInfo


def _tracked(t=10, j=18):
    rng = np.random.default_rng(0)
    interp = np.zeros((t, j), bool)
    interp[3, 0] = True  # the nose was filled in frame 3
    return PoseSequence(
        keypoints=rng.uniform(100, 500, size=(t, j, 2)), layout="bodyposenet18", image_size=(640, 480),
        start_frame=20, track=TrackInfo(7, interp, np.ones(t, bool), "clip.h5"),
        detector3d=DetectorPose3D(rng.normal(size=(t, 34, 3)), "bodypose3dnet34", "mm"),
    )


def test_frames_and_slices_keep_the_records_aligned():
    s = _tracked()
    assert list(s.frames) == list(range(20, 30))
    part = s.slice(2, 6)
    assert list(part.frames) == [22, 23, 24, 25] and part.track.track_id == 7
    assert part.track.interpolated.shape == (4, 18) and part.track.interpolated[1, 0]
    np.testing.assert_array_equal(part.detector3d.poses, s.detector3d.poses[2:6])
    assert part.detector3d.units == "mm" and part.detector3d.layout == "bodypose3dnet34"


def test_converting_the_layout_maps_the_filled_mask():
    s = _tracked()
    c = s.converted("h36m17")
    mapping = get_mapping("bodyposenet18", "h36m17")
    uses_nose = mapping.weights[:, 0] != 0
    assert c.track.interpolated.shape == (10, 17)
    assert np.array_equal(c.track.interpolated[3], uses_nose) and not c.track.interpolated[2].any()
    assert c.start_frame == 20 and c.detector3d is s.detector3d


def test_records_that_do_not_fit_are_refused():
    with pytest.raises(InputError, match="track record shapes"):
        PoseSequence(np.zeros((5, 17, 2)), image_size=(10, 10), track=TrackInfo(0, np.zeros((4, 17), bool),
                                                                                 np.ones(4, bool)))
    with pytest.raises(InputError, match="detector 3D has 4 frames"):
        PoseSequence(np.zeros((5, 17, 2)), image_size=(10, 10),
                     detector3d=DetectorPose3D(np.zeros((4, 17, 3)), "h36m17"))
    with pytest.raises(InputError, match="wrong joint count"):
        DetectorPose3D(np.zeros((4, 16, 3)), "h36m17")
    with pytest.raises(InputError, match="units"):
        DetectorPose3D(np.zeros((4, 17, 3)), "h36m17", "cm")
    with pytest.raises(InputError, match="start_frame"):
        PoseSequence(np.zeros((5, 17, 2)), image_size=(10, 10), start_frame=-1)
