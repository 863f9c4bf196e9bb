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


# --- a missing joint stays one missing joint (issue 27) -----------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from poselift.core.layouts import conversions, convert  # noqa: E402

_PAIRS = sorted(conversions() + [(n, n) for n in LAYOUTS])


def _dependencies(src: str, dst: str, complete: np.ndarray) -> np.ndarray:
    """``(J_dst, J_src)``: output joint d moves when input joint j moves, found by moving each input joint
    of the complete pose (not by reading the mapping's weights)."""
    base = convert(complete, src, dst)
    deps = np.zeros((get_layout(dst).num_joints, get_layout(src).num_joints), bool)
    for j in range(get_layout(src).num_joints):
        moved = complete.copy()
        moved[..., j, :] += np.array([3.0, -7.0, 11.0][: complete.shape[-1]])
        diff = np.abs(convert(moved, src, dst) - base)
        deps[:, j] = (np.nan_to_num(diff, nan=0.0) > 1e-9).any(axis=(0, -1))
    return deps


def test_the_issue_repro_one_missing_wrist_costs_one_joint():
    x = np.arange(36, dtype=np.float32).reshape(1, 18, 2)
    x[0, 7] = np.nan  # bodyposenet18 left wrist
    out, c = convert(x, "bodyposenet18", "coco17", np.ones((1, 18), np.float32))
    lost = get_layout("coco17").index("left_wrist")
    assert np.isnan(out[0, lost]).all() and c[0, lost] == 0
    keep = np.arange(17) != lost
    assert np.isfinite(out[0, keep]).all() and (c[0, keep] == 1).all()
    h = convert(x, "bodyposenet18", "h36m17")
    assert np.isfinite(h[0, :, 0]).sum() == 16 and np.isnan(h[0, H36M17.index("left_wrist")]).all()
    # a missing hip costs the hip, pelvis and spine of h36m17, nothing else
    x = np.arange(36, dtype=np.float64).reshape(1, 18, 2)
    x[0, get_layout("bodyposenet18").index("left_hip")] = np.nan
    h = convert(x, "bodyposenet18", "h36m17")
    gone = {H36M17.joints[j] for j in np.flatnonzero(np.isnan(h[0, :, 0]))}
    assert gone == {"left_hip", "pelvis", "spine"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=st.sampled_from(_PAIRS), frames=st.integers(1, 3), dims=st.sampled_from([2, 3]),
       seed=st.integers(0, 2**32 - 1), p_missing=st.sampled_from([0.0, 0.05, 0.2, 0.5, 1.0]),
       how=st.sampled_from(["nan", "one_coordinate", "inf"]))
def test_missing_input_joints_stay_local_for_every_pair(pair, frames, dims, seed, p_missing, how):
    src, dst = pair
    rng = np.random.default_rng(seed)
    js = get_layout(src).num_joints
    complete = rng.normal(scale=100.0, size=(frames, js, dims))
    conf = rng.uniform(0.1, 1.0, size=(frames, js))
    ref, ref_c = convert(complete, src, dst, conf)
    holes = rng.random((frames, js)) < p_missing
    holed = complete.copy()
    if how == "nan":
        holed[holes] = np.nan
    elif how == "inf":
        holed[holes] = np.inf
    else:  # a joint with one NaN coordinate is missing as a whole
        holed[holes, rng.integers(dims)] = np.nan
    out, c = convert(holed, src, dst, conf)
    assert out.shape == ref.shape and c.shape == ref_c.shape
    deps = _dependencies(src, dst, complete)
    never = set(get_mapping(src, dst).missing)
    for t in range(frames):
        for d in range(get_layout(dst).num_joints):
            if d in never or (holes[t] & deps[d]).any():
                assert np.isnan(out[t, d]).all(), (src, dst, t, d)
                assert c[t, d] == 0
            else:
                np.testing.assert_allclose(out[t, d], ref[t, d], rtol=1e-12, atol=1e-9)
                assert c[t, d] == ref_c[t, d]


def test_missing_joints_in_float32_and_integer_input():
    x = np.random.default_rng(3).normal(size=(5, 17, 2)).astype(np.float32)
    x[2, 11] = np.nan  # coco17 left hip
    out = convert(x, "coco17", "h36m17")
    assert out.dtype == np.float32
    assert np.isnan(out[2, [0, 4, 7]]).all() and np.isfinite(np.delete(out[2], [0, 4, 7], 0)).all()
    assert np.isfinite(out[[0, 1, 3, 4]]).all()
    ints = convert(np.arange(34).reshape(17, 2), "coco17", "h36m17")  # integers cannot be missing
    assert ints.dtype == np.float64 and np.isfinite(ints).all()
