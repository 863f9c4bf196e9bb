"""Joint correspondences between datasets (the cross-dataset block of poselift.core.layouts)."""
from __future__ import annotations

import numpy as np
import pytest

from poselift.core.errors import InputError, LayoutError
from poselift.core.layouts import (
    H36M17,
    HUMANEVA15,
    JointCorrespondence,
    get_correspondence,
    get_mapping,
    reachable,
)


def test_h36m_runs_on_humaneva_score_twelve_joints_and_report_hips_and_head_apart():
    c = get_correspondence("h36m17", "humaneva15")
    assert c.label == "12 shared joints" and not c.is_identity
    assert all(a == b for a, b in c.shared)  # same anatomical point, same name in both layouts
    assert {a for a, _ in c.shared} == {"pelvis", "thorax", "left_shoulder", "right_shoulder", "left_elbow",
                                        "right_elbow", "left_wrist", "right_wrist", "left_knee", "right_knee",
                                        "left_ankle", "right_ankle"}
    assert {(a, b) for a, b, _ in c.differ} == {("left_hip", "left_hip"), ("right_hip", "right_hip"),
                                                ("head_top", "head")}
    assert c.left_out() == (["spine", "neck_nose"], [])
    # the index arrays pick the same joint names out of either layout
    assert [H36M17.joints[i] for i in c.run_index] == [HUMANEVA15.joints[i] for i in c.data_index]
    assert c.shared[c.root] == ("pelvis", "pelvis")
    text = c.describe()
    assert "93 mm" in text and "left out" in text and "spine" in text


def test_the_same_layout_is_the_identity_in_layout_order():
    c = get_correspondence("h36m17", "h36m17")
    assert c.is_identity and c.label == "all 17 joints"
    np.testing.assert_array_equal(c.run_index, np.arange(17))
    np.testing.assert_array_equal(c.data_index, np.arange(17))


def test_bad_correspondences_are_refused_with_the_reason():
    with pytest.raises(LayoutError, match="no joint correspondence of a coco17 run with humaneva15"):
        get_correspondence("coco17", "humaneva15")
    with pytest.raises(InputError, match="roots"):
        JointCorrespondence("h36m17", "humaneva15", shared=(("thorax", "thorax"),))
    with pytest.raises(InputError, match="two pairs"):
        JointCorrespondence("h36m17", "humaneva15", shared=(("pelvis", "pelvis"), ("thorax", "thorax")),
                            differ=(("thorax", "head", "x"),))
    with pytest.raises(LayoutError, match="no joint 'nose'"):
        JointCorrespondence("h36m17", "humaneva15", shared=(("pelvis", "pelvis"), ("nose", "head")))


def test_humaneva_2d_feeds_a_h36m_run_copied_by_name_and_computed_on_lines():
    """Every h36m17 joint is produced; joints of both layouts are copied, spine and neck/nose are the documented
    points between two HumanEva-I joints, the head top is HumanEva-I's head."""
    assert reachable("humaneva15", "h36m17")
    m = get_mapping("humaneva15", "h36m17")
    rng = np.random.default_rng(0)
    he = rng.normal(size=(5, 15, 2))
    out = m.apply(he)
    for name in HUMANEVA15.joints:
        if name in H36M17.joints:
            np.testing.assert_array_equal(out[:, H36M17.index(name)], he[:, HUMANEVA15.index(name)])
    i = HUMANEVA15.index
    np.testing.assert_allclose(out[:, H36M17.index("spine")], 0.52 * he[:, i("pelvis")] + 0.48 * he[:, i("thorax")])
    np.testing.assert_allclose(out[:, H36M17.index("neck_nose")], (he[:, i("thorax")] + he[:, i("head")]) / 2)
    np.testing.assert_array_equal(out[:, H36M17.index("head_top")], he[:, i("head")])
    assert "computed" in m.notes[H36M17.index("spine")] and "mm" in m.notes[H36M17.index("neck_nose")]


def test_humaneva_runs_on_human36m_use_the_same_pairs_the_other_way_round():
    fwd, back = get_correspondence("h36m17", "humaneva15"), get_correspondence("humaneva15", "h36m17")
    assert back.shared == tuple((b, a) for a, b in fwd.shared) and back.label == "12 shared joints"
    assert ("head", "head_top") in {(a, b) for a, b, _ in back.differ}
    assert back.left_out() == ([], ["spine", "neck_nose"])
    m = get_mapping("h36m17", "humaneva15")
    x = np.random.default_rng(1).normal(size=(4, 17, 2))
    out = m.apply(x)
    for name in HUMANEVA15.joints:
        src = "head_top" if name == "head" else name
        np.testing.assert_array_equal(out[:, HUMANEVA15.index(name)], x[:, H36M17.index(src)])
