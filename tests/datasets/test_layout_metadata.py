"""One reader of VideoPose3D's layout metadata: the Human3.6M npz reader and the 2D-file reader agree."""
from pathlib import Path

import numpy as np
import pytest

from poselift.core.errors import FileFormatError, InputError
from poselift.datasets.h36m.npz import _infer_layout2d
from poselift.detectors.formats.vp3d_npz import vp3d_layout

P = Path("file.npz")
SH_SIDES = [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]


@pytest.mark.parametrize("meta, n", [
    ({}, 17),                                   # 17 COCO and 17 Human3.6M joints: ambiguous
    ({}, 15),
    ({"layout_name": "h36m"}, 16),              # count contradicts the name
    ({"layout_name": "nonsense"}, 17),
])
def test_both_readers_refuse_the_same_files(meta, n):
    with pytest.raises((InputError, FileFormatError)):
        vp3d_layout(meta, n, P)
    with pytest.raises((InputError, FileFormatError)):
        _infer_layout2d(n, meta, P)


@pytest.mark.parametrize("meta, n, expected", [
    ({"layout_name": "h36m", "num_joints": 17}, 17, "h36m17"),
    ({"layout_name": "coco"}, 17, "coco17"),
    ({"layout_name": "humaneva15"}, 15, "humaneva15"),
    ({"num_joints": 16, "keypoints_symmetry": SH_SIDES}, 16, "mpii16"),  # the Stacked Hourglass files
])
def test_both_readers_give_the_same_layout(meta, n, expected):
    assert vp3d_layout(meta, n, P) == expected
    assert _infer_layout2d(n, meta, P) == (expected, None)


def test_a_given_layout_settles_an_unnamed_file_and_may_not_contradict_a_named_one():
    assert _infer_layout2d(17, {}, P, "coco17") == ("coco17", None)
    with pytest.raises(InputError, match="coco"):
        _infer_layout2d(17, {"layout_name": "coco"}, P, "h36m17")


def test_the_full_mocap_skeleton_is_reduced_to_17():
    layout, index = _infer_layout2d(32, {}, P)
    assert layout == "h36m17" and index is not None and len(index) == 17 and np.all(np.diff(index) > 0)
