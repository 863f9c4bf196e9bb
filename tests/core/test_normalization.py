"""Person-size normalisation of 2D input and body-height scaling of 3D output (poselift.core.normalization),
and that a run records its normalisation so Lifter uses the same."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import randomised

from poselift.core.camera import normalize_screen
from poselift.core.errors import FileFormatError, InputError
from poselift.core.layouts import get_layout
from poselift.core.normalization import (
    BBOX_UNIT,
    TORSO_UNIT,
    body_height,
    normalize_inputs,
    person_size,
    scale_to_body_height,
)
from poselift.core.sequence import PoseSequence

H = get_layout("h36m17")


def _skeleton_2d(t=5, seed=0):
    """(T, 17, 2) pixels: a body with hips at y=600, shoulders 200 px above, moving right."""
    rng = np.random.default_rng(seed)
    kp = rng.uniform(300, 700, (t, 17, 2))
    for i in range(t):
        kp[i, H.index("left_hip")] = (520 + 3 * i, 600)
        kp[i, H.index("right_hip")] = (480 + 3 * i, 600)
        kp[i, H.index("left_shoulder")] = (540 + 3 * i, 400)
        kp[i, H.index("right_shoulder")] = (460 + 3 * i, 400)
    return kp


def test_image_normalisation_is_bit_identical_to_screen_normalisation():
    kp = _skeleton_2d().astype(np.float32)
    seq = PoseSequence(kp, image_size=(1280, 720))
    want = normalize_screen(kp, 1280, 720)
    assert np.array_equal(normalize_inputs(kp, (1280, 720), "h36m17", "image"), want)
    assert np.array_equal(seq.inputs(2), want) and np.array_equal(seq.inputs(2, "image"), want)


def test_torso_normalisation_known_answer():
    kp = _skeleton_2d()
    x = normalize_inputs(kp, (1000, 1000), "h36m17", "torso")
    hips = x[:, [H.index("left_hip"), H.index("right_hip")]].mean(1)
    shoulders = x[:, [H.index("left_shoulder"), H.index("right_shoulder")]].mean(1)
    np.testing.assert_allclose(hips, 0.0, atol=1e-6)  # centred on the hip midpoint in every frame
    np.testing.assert_allclose(np.linalg.norm(shoulders - hips, axis=-1), TORSO_UNIT, rtol=1e-6)
    # every other joint: (x - hip midpoint) * TORSO_UNIT / 200 px
    want = (kp - kp[:, [H.index("left_hip"), H.index("right_hip")]].mean(1, keepdims=True)) * TORSO_UNIT / 200
    np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["torso", "bbox"])
def test_person_normalisation_ignores_zoom_position_and_image_size(mode):
    kp = _skeleton_2d(t=8, seed=3)
    base = normalize_inputs(kp, (1000, 1000), "h36m17", mode)
    for zoom, shift, size in ((0.37, (900, 40), (1920, 1080)), (2.5, (-300, 10), (640, 480))):
        other = normalize_inputs(kp * zoom + shift, size, "h36m17", mode)
        np.testing.assert_allclose(other, base, atol=1e-5)
    # the image normalisation does not: the same body zoomed reads as another input
    assert np.abs(normalize_inputs(kp * 2.5, (1000, 1000)) - normalize_inputs(kp, (1000, 1000))).max() > 0.3


def test_bbox_size_is_the_larger_side_and_undetected_frames_are_left_out():
    kp = _skeleton_2d(t=3)
    s, _ = person_size(kp, "h36m17", "bbox")
    want = np.median([(f.max(0) - f.min(0)).max() for f in kp])
    assert s == pytest.approx(want)
    x = normalize_inputs(kp, (1, 1), "h36m17", "bbox")
    assert np.median([(f.max(0) - f.min(0)).max() for f in x]) == pytest.approx(BBOX_UNIT, rel=1e-5)
    # torso: frames whose shoulders were filled (confidence 0) do not make the median
    bad = kp.copy()
    bad[:2, H.index("left_shoulder"), 1] -= 500  # two of three frames with a wild filled shoulder
    conf = np.ones(kp.shape[:2])
    conf[:2, H.index("left_shoulder")] = 0
    assert person_size(bad, "h36m17", "torso", conf)[0] == pytest.approx(200.0)
    assert person_size(bad, "h36m17", "torso")[0] != pytest.approx(200.0)


def test_degenerate_person_and_unknown_mode_are_clear_errors():
    kp = np.full((4, 17, 2), 50.0)
    with pytest.raises(InputError, match="cannot measure the person's torso"):
        normalize_inputs(kp, (100, 100), "h36m17", "torso")
    with pytest.raises(InputError, match="unknown 2D normalisation 'height'"):
        normalize_inputs(_skeleton_2d(), (100, 100), "h36m17", "height")


def _standing_3d():
    """h36m17 pose with known bone lengths: trunk head-thorax 0.25, thorax-spine 0.25, spine-pelvis 0.23,
    thigh 0.45, shin 0.44 (straight down), hips 0.13 to the sides."""
    p = np.zeros((17, 3))
    y = {"pelvis": 0.0, "spine": -0.23, "thorax": -0.48, "neck_nose": -0.58, "head_top": -0.73}
    for n, v in y.items():
        p[H.index(n), 1] = v
    for side, x in (("left", 0.13), ("right", -0.13)):
        p[H.index(f"{side}_hip")] = (x, 0.0, 0.0)
        p[H.index(f"{side}_knee")] = (x, 0.45, 0.0)
        p[H.index(f"{side}_ankle")] = (x, 0.89, 0.0)
        p[H.index(f"{side}_shoulder")] = (x * 1.4, -0.48, 0.0)
    return p[None].repeat(3, 0)


def test_body_height_known_answer_and_scaling():
    p = _standing_3d()
    assert body_height(p) == pytest.approx(0.25 + 0.25 + 0.23 + 0.45 + 0.44)
    scaled = scale_to_body_height(p, 1.8)
    assert body_height(scaled) == pytest.approx(1.8)
    np.testing.assert_allclose(scaled, p * 1.8 / 1.62)
    with pytest.raises(InputError, match="positive"):
        scale_to_body_height(p, -1.0)
    with pytest.raises(InputError, match="head top"):
        body_height(np.zeros((2, 17, 3)), "coco17")


def _payload_run(tmp_path, normalization):
    from poselift.checkpoint import lifter_payload, save_checkpoint
    from poselift.model.tcn import TemporalLifter

    torch.manual_seed(0)
    model = randomised(TemporalLifter(17, 17, (3, 3), channels=16), seed=1)
    extra = {"flip_test": False} if normalization is None else {"flip_test": False, "normalization": normalization}
    save_checkpoint(lifter_payload(model, "h36m17", "h36m17", extra=extra), tmp_path / "checkpoint.pt")
    return model


def test_lifter_uses_the_runs_normalisation_end_to_end(tmp_path):
    from poselift.inference import lift_sequence, load_lifter

    model = _payload_run(tmp_path, "torso")
    lifter = load_lifter(tmp_path, device="cpu")
    assert lifter.normalization == "torso"
    kp = _skeleton_2d(t=12, seed=5).astype(np.float32)
    seq = PoseSequence(kp, image_size=(1000, 1000))
    y = lifter.lift(seq)
    ref = lift_sequence(model.eval(), seq.inputs(2, "torso"))
    np.testing.assert_allclose(y, ref - ref[:, :1], atol=1e-5)
    # the same person filmed at another zoom and place in a 16:9 frame: the same 3D
    zoomed = PoseSequence(kp * 0.4 + np.float32([700, 300]), image_size=(1920, 1080))
    np.testing.assert_allclose(lifter.lift(zoomed), y, atol=1e-4)
    # body height: the output scaled to 1.7 m
    assert body_height(lifter.lift(seq, body_height=1.7)) == pytest.approx(1.7, rel=1e-5)
    # a run without the key is an image-normalised run
    _payload_run(tmp_path, None)
    assert load_lifter(tmp_path, device="cpu").normalization == "image"
    _payload_run(tmp_path, "height")
    with pytest.raises(FileFormatError, match="unknown 2D input normalisation 'height'"):
        load_lifter(tmp_path, device="cpu")


def test_config_refuses_person_normalisation_where_the_image_position_is_needed():
    from poselift.core.errors import ConfigError
    from poselift.experiments.config import config_from_dict

    assert config_from_dict({"data": {"normalization": "bbox"}}).data.normalization == "bbox"
    with pytest.raises(ConfigError, match="data.normalization must be one of"):
        config_from_dict({"data": {"normalization": "person"}})
    with pytest.raises(ConfigError, match="back-projection"):
        config_from_dict({"data": {"normalization": "torso", "unlabelled_subjects": ["S5"],
                                   "train_subjects": ["S1"]}})
    with pytest.raises(ConfigError, match="model.trajectory needs the image position"):
        config_from_dict({"data": {"normalization": "torso"}, "model": {"trajectory": True}})
