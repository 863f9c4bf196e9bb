"""Joint layouts, symmetry and conversions."""
import numpy as np
import pytest

from poselift.core.layouts import H36M17, LAYOUTS, MPII16, correspondence, get_layout, get_mapping


def test_h36m17_matches_the_data_readme():
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M17.left == (4, 5, 6, 11, 12, 13)
    assert H36M17.right == (1, 2, 3, 14, 15, 16)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout_is_a_tree_with_an_involutive_flip(name):
    lay = get_layout(name)
    perm = lay.flip_permutation
    assert sorted(perm) == list(range(lay.num_joints))
    np.testing.assert_array_equal(perm[perm], np.arange(lay.num_joints))
    for j in range(lay.num_joints):  # every joint reaches the root
        seen, k = 0, j
        while k != lay.root:
            k = lay.parents[k]
            seen += 1
            assert seen <= lay.num_joints
    for a in lay.left:
        assert lay.joints[perm[a]] == "right_" + lay.joints[a][5:]


def test_mpii16_to_h36m17_correspondence_is_by_meaning():
    src, dst = correspondence("mpii16", "h36m17")
    assert len(src) == 15
    # no Stacked Hourglass joint is Human3.6M's spine (joint 7 is MPII's thorax) or its neck/nose marker
    assert set(range(17)) - set(dst.tolist()) == {H36M17.index("spine"), H36M17.index("neck_nose")}
    assert MPII16.index("upper_neck") not in src.tolist()
    for s, d in zip(src, dst):
        assert MPII16.joints[s] == H36M17.joints[d]
    # Stacked Hourglass order: RFoot(0) .. Hip(6), thorax(7), upper neck(8), head top(9) .. LWrist(15)
    pairs = dict(zip(dst.tolist(), src.tolist()))
    assert pairs[0] == 6 and pairs[3] == 0 and pairs[8] == 7 and pairs[10] == 9 and pairs[16] == 10
    assert pairs[13] == 15


def test_coco_to_h36m_mapping_computes_what_is_missing():
    m = get_mapping("coco17", "h36m17")
    coco = get_layout("coco17")
    pts = np.random.default_rng(0).normal(size=(4, 17, 2))
    conf = np.random.default_rng(1).uniform(0.2, 1, size=(4, 17))
    out, c = m.apply(pts, conf)
    lh, rh = coco.index("left_hip"), coco.index("right_hip")
    np.testing.assert_allclose(out[:, 0], (pts[:, lh] + pts[:, rh]) / 2)
    np.testing.assert_allclose(c[:, 0], np.minimum(conf[:, lh], conf[:, rh]))
    np.testing.assert_allclose(out[:, H36M17.index("left_wrist")], pts[:, coco.index("left_wrist")])
    assert "left_hip" in m.describe()
    # affine: translating the input translates the output
    np.testing.assert_allclose(m.apply(pts + 5.0), out + 5.0)


def test_layout_errors_name_the_problem():
    with pytest.raises(KeyError, match="unknown joint layout 'foo'"):
        get_layout("foo")
    with pytest.raises(ValueError, match="17 joints but the array has 16"):
        H36M17.check(np.zeros((3, 16, 2)), "keypoints")
    with pytest.raises(KeyError, match="no conversion"):
        get_mapping("h36m17", "coco17")
    with pytest.raises(KeyError, match="has no joint 'tail'"):
        H36M17.index("tail")
