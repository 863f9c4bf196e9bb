"""A missing (NaN) joint stays one missing joint wherever joints are combined: person-size normalisation,
body height and mirroring (issue 27; layout conversions are tested in test_layouts.py). What cannot be
computed at all raises a clear error; what is estimated instead warns."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.core.errors import InputError, InputWarning
from poselift.core.layouts import get_layout
from poselift.core.mirror import flip_keypoints
from poselift.core.normalization import BBOX_UNIT, TORSO_UNIT, body_height, normalize_inputs

H = get_layout("h36m17")
LH, RH, LS, RS = (H.index(n) for n in ("left_hip", "right_hip", "left_shoulder", "right_shoulder"))


def _walker(t=9, seed=0):
    """(T, 17, 2) pixels: a person with a 200 px torso walking right at 3 px per frame (the hip midpoint
    moves linearly, so interpolating it in time is exact)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(400, 600, (17, 2))
    base[[LH, RH, LS, RS]] = [(520, 600), (480, 600), (540, 400), (460, 400)]
    return base[None] + np.arange(t)[:, None, None] * np.array([3.0, 0.0])


def test_torso_normalisation_a_missing_wrist_is_only_that_wrist():
    kp = _walker()
    ref = normalize_inputs(kp, (1000, 1000), "h36m17", "torso")
    holed = kp.copy()
    holed[4, H.index("left_wrist")] = np.nan
    out = normalize_inputs(holed, (1000, 1000), "h36m17", "torso")
    assert np.isnan(out[4, H.index("left_wrist")]).all()
    keep = np.isfinite(holed).all(-1)
    np.testing.assert_allclose(out[keep], ref[keep], atol=1e-6)


def test_torso_normalisation_a_missing_hip_interpolates_the_centre_and_warns():
    kp = _walker()
    ref = normalize_inputs(kp, (1000, 1000), "h36m17", "torso")
    holed = kp.copy()
    holed[[3, 8], LH] = np.nan  # inside the clip and at its end
    with pytest.warns(InputWarning, match="2 of 9 frames miss a hip"):
        out = normalize_inputs(holed, (1000, 1000), "h36m17", "torso")
    keep = np.isfinite(holed).all(-1)
    assert np.isnan(out[[3, 8], LH]).all() and np.isfinite(out[keep]).all()
    np.testing.assert_allclose(out[keep][:-16], ref[keep][:-16], atol=1e-6)  # frames 0-7: linear motion, exact
    # frame 8 holds frame 7's centre (no later frame to interpolate to): 3 px off, scaled
    np.testing.assert_allclose(out[8, 0], ref[8, 0] + [3 * TORSO_UNIT / 200, 0], atol=1e-6)


def test_bbox_normalisation_box_from_the_found_joints():
    kp = _walker()
    holed = kp.copy()
    holed[2, 5] = np.nan
    out = normalize_inputs(holed, (1000, 1000), "h36m17", "bbox")
    sizes = [np.ptp(f[np.isfinite(f).all(-1)], axis=0).max() for f in holed]  # the definition, by hand
    centre = kp[:, [LH, RH]].mean(1)
    want = (holed - centre[:, None]) * (BBOX_UNIT / np.median(sizes))
    np.testing.assert_allclose(out, want, atol=1e-5)  # NaN where NaN, equal elsewhere


@pytest.mark.parametrize("mode, gone, match", [
    ("bbox", [LH], "hip .* missing .* in all 9 frames"),
    ("torso", [LS], "no frame of 9 has its hips and shoulders"),
    ("bbox", list(range(17)), "no frame of 9 has its two found joints"),
])
def test_normalisation_that_cannot_be_measured_says_so(mode, gone, match):
    kp = _walker()
    kp[:, gone] = np.nan
    with pytest.raises(InputError, match=match):
        normalize_inputs(kp, (1000, 1000), "h36m17", mode)


def _standing(t=6):
    """(T, 17, 3) metres: every bone of the height chain axis-aligned, so the height is known: head top
    1.70, thorax 1.45, spine 1.20, pelvis 0.95, hips 0.95, knees 0.50, ankles 0.08 -> 0.75 + 0.87 = 1.62."""
    p = np.zeros((t, 17, 3))
    for name, y in (("head_top", 1.70), ("thorax", 1.45), ("spine", 1.20), ("pelvis", 0.95),
                    ("neck_nose", 1.55), ("left_hip", 0.95), ("right_hip", 0.95), ("left_knee", 0.50),
                    ("right_knee", 0.50), ("left_ankle", 0.08), ("right_ankle", 0.08),
                    ("left_shoulder", 1.45), ("right_shoulder", 1.45), ("left_elbow", 1.2),
                    ("right_elbow", 1.2), ("left_wrist", 0.95), ("right_wrist", 0.95)):
        p[:, H.index(name), 1] = y
    return p


def test_body_height_missing_joints_stay_local():
    p = _standing()
    assert body_height(p) == pytest.approx(1.62)
    q = p.copy()
    q[:, H.index("left_ankle")] = np.nan  # one leg lost in every frame: the other leg measures it
    q[2, H.index("spine")] = np.nan  # a trunk joint lost in one frame: that frame is left out
    q[3, H.index("left_wrist")] = np.nan  # not in the chain: no effect
    assert body_height(q) == pytest.approx(1.62)
    q[:, H.index("head_top")] = np.nan
    with pytest.raises(InputError, match="no frame with the joints a body height needs.*head_top"):
        body_height(q)


def test_mirroring_moves_a_missing_joint_to_its_mirror_and_touches_nothing_else():
    x = torch.randn(4, 17, 2)
    x[1, H.index("left_wrist")] = float("nan")
    y = flip_keypoints(x, H.flip_permutation)
    bad = ~torch.isfinite(y).all(-1)
    assert bad.sum() == 1 and bad[1, H.index("right_wrist")]
