"""The detector layouts' conversions to h36m17 (appended to poselift.core.layouts)."""
from __future__ import annotations

import numpy as np
import pytest

from poselift.core.layouts import get_layout, get_mapping
from poselift.detectors.standins import person_template


def test_bodyposenet18_to_h36m17_joint_by_joint():
    m = get_mapping("bodyposenet18", "h36m17")
    assert m.missing == ()
    src, dst = get_layout("bodyposenet18"), get_layout("h36m17")
    p = person_template(100, 0, 200)
    q = m.apply(p)

    def s(n):
        return p[src.index(n)]

    def d(n):
        return q[dst.index(n)]

    np.testing.assert_allclose(d("pelvis"), (s("left_hip") + s("right_hip")) / 2)
    np.testing.assert_allclose(d("thorax"), s("neck"))
    np.testing.assert_allclose(d("spine"), (d("pelvis") + s("neck")) / 2)
    np.testing.assert_allclose(d("neck_nose"), s("nose"))
    ears = (s("left_ear") + s("right_ear")) / 2
    np.testing.assert_allclose(d("head_top"), ears + 0.5 * (ears - s("neck")))
    assert d("head_top")[1] < s("right_eye")[1]  # above the eyes (y down)
    for n in ("left_wrist", "right_knee", "left_shoulder"):
        np.testing.assert_allclose(d(n), s(n))
    assert all(note for note in m.notes)


def test_bodypose3dnet34_to_h36m17_joint_by_joint():
    m = get_mapping("bodypose3dnet34", "h36m17")
    assert m.missing == ()
    src, dst = get_layout("bodypose3dnet34"), get_layout("h36m17")
    p = np.random.default_rng(0).normal(size=(34, 3))
    conf = np.linspace(0.1, 1.0, 34)
    q, c = m.apply(p, conf)
    for a, b in (("pelvis", "pelvis"), ("torso", "spine"), ("neck", "thorax"), ("nose", "neck_nose"),
                 ("left_ankle", "left_ankle"), ("right_elbow", "right_elbow")):
        np.testing.assert_allclose(q[dst.index(b)], p[src.index(a)])
    ears = (p[src.index("left_ear")] + p[src.index("right_ear")]) / 2
    np.testing.assert_allclose(q[dst.index("head_top")], ears + 0.5 * (ears - p[src.index("neck")]))
    # the head's confidence is the lowest of the joints it uses
    used = [src.index(n) for n in ("left_ear", "right_ear", "neck")]
    assert c[dst.index("head_top")] == pytest.approx(conf[used].min())
    assert "torso" in m.describe()
