"""Body proportions against hand-built skeletons whose measures are known by construction."""
import numpy as np
import pytest

from poselift.core.layouts import get_layout
from poselift.proportions import LENGTHS, body_measures, proportion_ratios, summarize_proportions

H36M = get_layout("h36m17")


def _skeleton(hip=0.25, shoulder=0.36, upper_arm=0.28, forearm=0.25, thigh=0.45, shin=0.44,
              trunk=(0.24, 0.26, 0.12, 0.11), left_scale=1.0):
    """An upright h36m17 skeleton in camera axes (y down, facing the camera), pelvis at the origin.

    Trunk: pelvis->spine->thorax->neck_nose->head_top, straight up. Arms hang straight down,
    legs straight down from the hips. ``left_scale`` stretches the left limbs.
    """
    p = {n: np.zeros(3) for n in H36M.joints}
    up = np.array([0.0, -1.0, 0.0])
    y = 0.0
    for name, length in zip(("spine", "thorax", "neck_nose", "head_top"), trunk):
        y += length
        p[name] = up * y
    thorax = p["thorax"]
    for side, sign, s in (("left", 1.0, left_scale), ("right", -1.0, 1.0)):
        p[f"{side}_hip"] = np.array([sign * hip / 2, 0.0, 0.0])
        p[f"{side}_knee"] = p[f"{side}_hip"] - up * thigh * s
        p[f"{side}_ankle"] = p[f"{side}_knee"] - up * shin * s
        p[f"{side}_shoulder"] = thorax + np.array([sign * shoulder / 2, 0.0, 0.0])
        p[f"{side}_elbow"] = p[f"{side}_shoulder"] - up * upper_arm * s
        p[f"{side}_wrist"] = p[f"{side}_elbow"] - up * forearm * s
    return np.stack([p[n] for n in H36M.joints])


def _rot_x(deg):
    a = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def test_measures_of_a_known_skeleton():
    m = body_measures(_skeleton())
    # height = trunk chain 0.24+0.26+0.12+0.11 = 0.73, + thigh 0.45 + shin 0.44 -> 1.62
    assert m["height"] == pytest.approx(1.62)
    assert m["hip_width"] == pytest.approx(0.25)
    assert m["shoulder_width"] == pytest.approx(0.36)
    assert m["upper_arm"] == pytest.approx(0.28) and m["forearm"] == pytest.approx(0.25)
    assert m["thigh"] == pytest.approx(0.45) and m["shin"] == pytest.approx(0.44)
    assert m["asymmetry"] == pytest.approx(0.0)
    assert m["lean_toward_camera"] == pytest.approx(0.0) and m["lean_sideways"] == pytest.approx(0.0)


def test_asymmetry_and_lean_signs():
    # left limbs 10 % longer: |1.1 - 1| / 1.05 for each limb
    assert body_measures(_skeleton(left_scale=1.1))["asymmetry"] == pytest.approx(0.1 / 1.05)
    # rotate about x by +20 deg: up (0,-1,0) -> (0, -cos20, -sin20): the top comes towards the camera (z < 0)
    m = body_measures(_skeleton() @ _rot_x(20).T)
    assert m["lean_toward_camera"] == pytest.approx(20.0)
    assert m["lean_sideways"] == pytest.approx(0.0, abs=1e-9)
    assert body_measures(_skeleton() @ _rot_x(-30).T)["lean_toward_camera"] == pytest.approx(-30.0)


def test_ratios_and_lean_against_truth():
    truth = _skeleton()
    narrow = _skeleton(hip=0.125, shoulder=0.18)  # half as wide, same lengths
    r = proportion_ratios(narrow, truth)
    assert r["hip_width_ratio"] == pytest.approx(0.5) and r["shoulder_width_ratio"] == pytest.approx(0.5)
    assert r["height_ratio"] == pytest.approx(1.0) and r["thigh_ratio"] == pytest.approx(1.0)
    assert r["lean"] == pytest.approx(0.0, abs=1e-6)
    tilted = 0.9 * (truth @ _rot_x(15).T) + np.array([0.3, -0.1, 4.0])  # scaled, leaning, translated
    r = proportion_ratios(tilted, truth)
    for k in LENGTHS:
        assert r[f"{k}_ratio"] == pytest.approx(0.9)
    assert r["lean"] == pytest.approx(15.0)


def test_batched_shapes_and_summary():
    truth = np.stack([_skeleton()] * 5)
    pred = np.stack([_skeleton(hip=0.2)] * 3 + [_skeleton(hip=0.3)] * 2)
    m = body_measures(pred)
    assert all(v.shape == (5,) for v in m.values())
    s = summarize_proportions([pred[:3], pred[3:]], [truth[:3], truth[3:]])
    assert s["frames"] == 5
    assert s["hip_width_ratio"] == pytest.approx((3 * 0.8 + 2 * 1.2) / 5)
    a = summarize_proportions([pred])
    assert a["hip_width"] == pytest.approx((3 * 0.2 + 2 * 0.3) / 5) and "hip_width_ratio" not in a


def test_humaneva_layout_and_bad_input():
    hv = get_layout("humaneva15")
    sk = _skeleton()
    by_name = {n: sk[H36M.index(n if n != "head" else "head_top")] for n in hv.joints}
    pose = np.stack([by_name[n] for n in hv.joints])[None]
    m = body_measures(pose, hv)
    assert m["hip_width"][0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="shape"):
        body_measures(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="lacks"):
        body_measures(np.zeros((4, 17, 3)), "coco17")
    with pytest.raises(ValueError, match="shape"):
        proportion_ratios(np.zeros((2, 17, 3)), np.zeros((3, 17, 3)))
