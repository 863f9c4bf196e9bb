"""BlazePose's anchors, decoding, NMS, regions and heatmap refinement against small cases worked out by hand
(numpy only: no LiteRT, no model files), the blazepose33 layout conversions, and `models extract`."""
from __future__ import annotations

import hashlib
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poselift.core.errors import FileFormatError
from poselift.core.layouts import convert, get_layout, reachable
from poselift.detectors.blazepose.decode import (
    decode_detections,
    hard_nms,
    refine_with_heatmap,
    ssd_anchors,
    weighted_nms,
)
from poselift.detectors.blazepose.regions import (
    Region,
    crop_matrix,
    detection_windows,
    enlarge,
    letterbox_full_frame,
    region_from_points,
    same_person,
    to_frame,
)

SHARED_MODELS = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "blazepose"


def test_anchors_match_a_loop_over_the_ssd_layers():
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    # independent construction: stride 8 (28x28) and 16 (14x14) with 2 anchors per cell; the three stride-32
    # layers share one 7x7 grid, 2 anchors each per cell, all centred on the cell
    want = []
    for n, per in ((28, 2), (14, 2), (7, 6)):
        for y in range(n):
            for x in range(n):
                want += [((x + 0.5) / n, (y + 0.5) / n)] * per
    np.testing.assert_allclose(a, np.array(want))


def test_decode_detections_scales_by_224_around_the_anchor_and_thresholds_the_sigmoid():
    anchors = np.array([[0.5, 0.5], [0.25, 0.75], [0.1, 0.1]])
    raw = np.zeros((3, 12))
    raw[0, :4] = [22.4, -11.2, 44.8, 22.4]  # centre +0.1, -0.05; size 0.2 x 0.1
    raw[0, 4:6] = [-22.4, 0.0]  # keypoint 0 at anchor - 0.1 in x
    raw[1, :4] = [0, 0, 22.4, 22.4]
    scores = np.array([3.0, 0.0, -0.1])  # sigmoid 0.953, 0.5 (kept at >= 0.5), 0.475 (dropped)
    boxes, kps, s = decode_detections(raw, scores, anchors, min_score=0.5)
    assert len(s) == 2
    np.testing.assert_allclose(s, [1 / (1 + math.exp(-3)), 0.5])
    np.testing.assert_allclose(boxes[0], [0.6 - 0.1, 0.45 - 0.05, 0.6 + 0.1, 0.45 + 0.05])
    np.testing.assert_allclose(kps[0, 0], [0.4, 0.5])
    np.testing.assert_allclose(kps[0, 1:], [[0.5, 0.5]] * 3)
    np.testing.assert_allclose(boxes[1], [0.2, 0.7, 0.3, 0.8])
    # logits are clipped at +-100 before the sigmoid: no overflow warning, a score of exactly 1
    _, _, s = decode_detections(raw[:1], np.array([1e6]), anchors[:1])
    assert s[0] == 1.0


def test_weighted_nms_averages_overlapping_detections_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    kps = np.array([[[0, 0]], [[3, 0]], [[55, 55]]], float)
    scores = np.array([0.6, 0.9, 0.7])
    b, k, s = weighted_nms(boxes, kps, scores, 0.3)
    assert len(s) == 2
    np.testing.assert_allclose(s, [0.9, 0.7])  # best first; the merged group keeps its best score
    w = np.array([0.9, 0.6]) / 1.5
    np.testing.assert_allclose(b[0], w[0] * boxes[1] + w[1] * boxes[0])
    np.testing.assert_allclose(k[0, 0], [w[0] * 3, 0])
    np.testing.assert_allclose(b[1], boxes[2])
    # hard NMS keeps the best of the group unchanged
    b, k, s = hard_nms(boxes, kps, scores, 0.3)
    np.testing.assert_allclose(b, boxes[[1, 2]])
    np.testing.assert_allclose(k, kps[[1, 2]])
    np.testing.assert_allclose(s, [0.9, 0.7])


@pytest.mark.parametrize("scale_point", [(100, 40), (160, 100), (40, 130), (137.5, 12.25)])
def test_region_from_points_puts_the_scale_point_at_the_top_centre_of_the_crop(scale_point):
    centre = np.array([100.0, 100.0])
    r = region_from_points(centre, scale_point)
    d = np.hypot(*(np.asarray(scale_point) - centre))
    assert r.width == pytest.approx(2 * d) and r.height == pytest.approx(2 * d)
    n = 256
    np.testing.assert_allclose(to_frame([n / 2, n / 2], r, n), centre, atol=1e-9)
    np.testing.assert_allclose(to_frame([n / 2, 0], r, n), scale_point, atol=1e-9)  # "up" in the crop
    # a scale point straight above the centre: no rotation; to the right: a quarter turn (90 degrees)
    assert region_from_points((0, 0), (0, -5)).rotation == pytest.approx(0)
    assert region_from_points((0, 0), (5, 0)).rotation == pytest.approx(math.pi / 2)


def test_enlarge_squares_on_the_long_side_then_scales():
    r = enlarge(Region(5, 6, 10, 20, 0.3), 1.25)
    assert (r.cx, r.cy, r.width, r.height, r.rotation) == (5, 6, 25, 25, 0.3)
    r = enlarge(Region(0, 0, 10, 20), 1.5, square_long=False)
    assert (r.width, r.height) == (15, 30)


def test_full_frame_is_letterboxed_symmetrically():
    r = letterbox_full_frame(640, 480)
    np.testing.assert_allclose(to_frame([[0, 0], [224, 224], [112, 112]], r, 224),
                               [[0, -80], [640, 560], [320, 240]])
    m = crop_matrix(Region(10, 20, 30, 30, math.pi), 3)  # half a turn: the crop's x runs leftwards
    np.testing.assert_allclose(m @ [0, 0, 1], [25, 35])


def test_same_person_by_centre_distance_not_by_overlap():
    a = Region(100, 100, 100, 100, 0.3)
    assert same_person(a, Region(112, 109, 120, 120))  # 15 px apart, smaller side 100: within 0.2
    assert not same_person(a, Region(125, 100, 100, 100))  # 25 px: another person, though the regions overlap 75 %
    assert not same_person(a, Region(112, 109, 60, 60))  # the smaller side (60) sets the scale


def test_detection_windows_cover_the_frame():
    wins = detection_windows(1920, 1080, (0.5,))
    assert wins[0] == letterbox_full_frame(1920, 1080)
    tiles = np.array([w.bounds() for w in wins[1:]])
    assert np.allclose(tiles[:, 2] - tiles[:, 0], 540)
    assert tiles[:, 0].min() == 0 and tiles[:, 2].max() >= 1920 and tiles[:, 3].max() >= 1080
    with pytest.raises(ValueError, match="fractions"):
        detection_windows(100, 100, (1.5,))


def test_crop_sampling_agrees_with_the_projection():
    """A bright pixel in the frame, seen through a rotated region, maps back to itself (PIL's sampling and
    to_frame use the same pixel convention)."""
    from PIL import Image

    from poselift.detectors.blazepose.net import BlazePose

    img = np.zeros((300, 400, 3), np.uint8)
    img[140:143, 250:253] = 255  # centre (251.5, 141.5)
    region = Region(230, 150, 120, 120, math.radians(35))
    crop = BlazePose._warp(Image.fromarray(img), region, 256)[..., 0]
    v, u = np.unravel_index(np.argmax(crop), crop.shape)
    ys, xs = np.nonzero(crop > 0.5 * crop.max())
    w = crop[ys, xs]
    uv = np.array([(xs * w).sum() / w.sum() + 0.5, (ys * w).sum() / w.sum() + 0.5])
    np.testing.assert_allclose(to_frame(uv, region, 256), [251.5, 141.5], atol=0.3)


def test_refine_with_heatmap_moves_to_the_weighted_cell_and_respects_the_confidence_floor():
    hm = np.full((64, 64, 2), -20.0)
    hm[10, 20, 0] = 20.0  # landmark 0: one confident cell at row 10, column 20
    hm[30, 30, 1] = -1.0  # landmark 1: best confidence sigmoid(-1) = 0.27 < 0.5: unchanged
    xy = np.array([[82.0, 42.0], [121.0, 121.0]])
    out = refine_with_heatmap(xy, hm)
    np.testing.assert_allclose(out[0], [20 / 64 * 256, 10 / 64 * 256], atol=1e-6)
    np.testing.assert_allclose(out[1], xy[1])
    far = refine_with_heatmap(np.array([[200.0, 200.0], [-5.0, 3.0]]), hm)  # window misses the peak; outside
    np.testing.assert_allclose(far, [[200.0, 200.0], [-5.0, 3.0]])


# --- layout ---------------------------------------------------------------------------------------------------
def test_blazepose33_layout_and_conversions():
    lay = get_layout("blazepose33")
    assert lay.num_joints == 33 and lay.joints[0] == "nose" and lay.joints[23:25] == ("left_hip", "right_hip")
    assert len(lay.left) == 16
    assert reachable("blazepose33", "coco17") and reachable("blazepose33", "h36m17")
    rng = np.random.default_rng(0)
    p = rng.normal(size=(4, 33, 2))
    coco = convert(p, "blazepose33", "coco17")
    idx = [lay.index(n) for n in get_layout("coco17").joints]
    assert idx == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    np.testing.assert_array_equal(coco, p[:, idx])
    h = convert(p, "blazepose33", "h36m17")
    hip = (p[:, 23] + p[:, 24]) / 2
    sho = (p[:, 11] + p[:, 12]) / 2
    ears = (p[:, 7] + p[:, 8]) / 2
    h36 = get_layout("h36m17")
    np.testing.assert_allclose(h[:, h36.index("pelvis")], hip)
    np.testing.assert_allclose(h[:, h36.index("thorax")], sho)
    np.testing.assert_allclose(h[:, h36.index("spine")], (hip + sho) / 2)
    np.testing.assert_allclose(h[:, h36.index("head_top")], ears + 0.5 * (ears - sho))
    np.testing.assert_allclose(h[:, h36.index("left_knee")], p[:, 25])
    np.testing.assert_allclose(h[:, h36.index("neck_nose")], p[:, 0])


# --- models extract ---------------------------------------------------------------------------------------------
def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for member, blob in files.items():
            z.writestr(member, blob)
    return path


def test_models_extract_refuses_wrong_files(tmp_path):
    from poselift.commands import main
    from poselift.detectors.blazepose.weights import WHEEL_MEMBERS, extract_models

    bad = _wheel(tmp_path / "bad.whl", {m: b"not the model" for m in WHEEL_MEMBERS.values()})
    with pytest.raises(FileFormatError, match="SHA-256"):
        extract_models(bad, tmp_path / "out")
    assert not (tmp_path / "out" / "pose_detection.tflite").exists()
    missing = _wheel(tmp_path / "other.whl", {"x.txt": b"x"})
    with pytest.raises(FileFormatError, match="no mediapipe/modules"):
        extract_models(missing, tmp_path / "out")
    (tmp_path / "notzip.whl").write_bytes(b"plain text")
    assert main(["models", "extract", str(tmp_path / "notzip.whl"), "--out", str(tmp_path / "o")]) == 1


def test_models_extract_from_a_wheel_with_the_real_files(tmp_path, capsys):
    if not (SHARED_MODELS / "pose_detection.tflite").is_file():
        pytest.skip(f"BlazePose files not found at {SHARED_MODELS}")
    from poselift.commands import main
    from poselift.detectors.blazepose.net import MODEL_SHA256
    from poselift.detectors.blazepose.weights import WHEEL_MEMBERS

    wheel = _wheel(tmp_path / "mediapipe-0.10.21-test.whl",
                   {m: (SHARED_MODELS / n).read_bytes() for n, m in WHEEL_MEMBERS.items()})
    assert main(["models", "extract", str(wheel), "--out", str(tmp_path / "m")]) == 0
    for name, sha in MODEL_SHA256.items():
        assert hashlib.sha256((tmp_path / "m" / name).read_bytes()).hexdigest() == sha
    assert "SHA-256 verified" in capsys.readouterr().out
