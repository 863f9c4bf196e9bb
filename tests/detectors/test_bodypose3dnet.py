"""BodyPose3DNet: crops, k_inv, t_form_inv and output parsing, with a stand-in that reads markers."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from poselift.core.camera import Camera  # noqa: E402
from poselift.detectors.bodypose3dnet import (  # noqa: E402
    DEFAULT_FOCAL_LENGTH,
    MEAN_LIMB_LENGTHS,
    SCALE_NORMALIZED_MEAN_LIMB_LENGTHS,
    BodyPose3DNet,
    crop_for_box,
    crop_image,
    default_k_inv,
)
from poselift.detectors.standins import bodypose3dnet_standin, paint_markers  # noqa: E402


@pytest.fixture(scope="module")
def standin() -> bytes:
    return bodypose3dnet_standin()


def _markers(crop, rows=2, margin=12.0, spacing=10.0):
    """34 marker positions (frame pixels at pixel centres) spread inside ``crop``."""
    pts = []
    for j in range(34):
        u = margin + spacing * (j % 17) + 0.5
        v = margin + 100.0 * (j // 17) + 0.5
        pts.append((crop.left + u * crop.scale[0], crop.top + v * crop.scale[1]))
    return np.floor(np.array(pts)) + 0.5


def test_crop_follows_the_deepstream_rule():
    # box 100 wide, 153.6 high: half-height 76.8 * 1.25 = 96 -> square 192 -> 192 x 256, centred
    c = crop_for_box((100, 50, 200, 203.6))
    assert (c.left, c.top, c.width, c.height) == (54.0, -1.0, 192.0, 256.0)
    assert c.scale == (1.0, 1.0)
    # a wide box: the square comes from the width, then the height grows to 4/3 of it
    c = crop_for_box((0, 0, 300, 60))
    assert c.width == 375 and c.height == 500 and c.left == -38 and c.top == -221
    np.testing.assert_allclose(c.to_crop(c.to_image([[10.0, 20.0]])), [[10.0, 20.0]])
    np.testing.assert_allclose(c.t_form_inv @ [192, 256, 1], [c.left + c.width, c.top + c.height, 1])


def test_default_k_inv_is_the_published_matrix():
    f = DEFAULT_FOCAL_LENGTH
    expected = [[1 / f, 0, -96 / f], [0, 1 / f, -128 / f], [0, 0, 1]]
    np.testing.assert_allclose(default_k_inv(), expected)
    np.testing.assert_allclose(default_k_inv()[0, 0], 0.00124876620338, rtol=1e-6)


def test_limb_defaults():
    nz = np.flatnonzero(MEAN_LIMB_LENGTHS)
    assert len(nz) == 17 and MEAN_LIMB_LENGTHS.shape == (36,)
    assert (np.flatnonzero(SCALE_NORMALIZED_MEAN_LIMB_LENGTHS) == nz).all()
    # published values: about the lengths over neck-pelvis (a few differ by up to 0.2 %)
    np.testing.assert_allclose(SCALE_NORMALIZED_MEAN_LIMB_LENGTHS[nz], MEAN_LIMB_LENGTHS[nz] / 492.6854, rtol=2e-3)


def test_crop_image_samples_pixel_centres_and_pads():
    img = np.arange(300 * 400 * 3, dtype=np.float64).reshape(300, 400, 3) % 251
    img = img.astype(np.uint8)
    c = crop_for_box((100, 50, 200, 203.6))  # scale 1, left 54, top -1
    out = crop_image(img, c)
    assert out.shape == (256, 192, 3)
    np.testing.assert_array_equal(out[1:, :], img[0:255, 54:246])
    np.testing.assert_array_equal(out[0], 0)  # row -1 is outside the frame: padding


def test_markers_map_back_to_frame_pixels(standin):
    net = BodyPose3DNet(standin, providers="cpu")
    img = np.zeros((480, 640, 3), np.uint8)
    box = (300, 120, 400, 273.6)
    crop = crop_for_box(box)
    assert crop.scale == (1.0, 1.0)
    truth = _markers(crop)
    paint_markers(img, truth)
    res = net(img, [box])
    assert len(res) == 1
    # our own mapping of pose2d (crop pixels) and the network's t_form_inv output agree with the truth
    np.testing.assert_allclose(res.keypoints[0], truth, atol=1e-3)
    np.testing.assert_allclose(res.pose2d_org_img[0, :, :2], truth, atol=1e-3)
    np.testing.assert_allclose(res.pose2d_crop[0, :, :2], crop.to_crop(truth), atol=1e-3)
    np.testing.assert_allclose(res.pose25d[0, :, :2], truth, atol=1e-3)
    np.testing.assert_allclose(res.pose25d[0, :, 2], 0.01 * np.arange(34), atol=1e-6)
    assert (res.confidence > 0.99).all()


def test_scaled_crop_and_batches(standin):
    """Two people, one needing a 2x downscale, run in batches of one."""
    net = BodyPose3DNet(standin, providers="cpu", batch_size=1)
    img = np.zeros((720, 1280, 3), np.uint8)
    boxes = [(100, 100, 300, 407.2), (800, 200, 900, 353.6)]
    crops = [crop_for_box(b) for b in boxes]
    assert crops[0].scale == (2.0, 2.0) and crops[1].scale == (1.0, 1.0)
    truths = [_markers(c) for c in crops]
    for t in truths:
        paint_markers(img, t)
    res = net(img, boxes)
    assert len(res) == 2
    np.testing.assert_allclose(res.keypoints[0], truths[0], atol=1.01)  # half a crop pixel at scale 2
    np.testing.assert_allclose(res.keypoints[1], truths[1], atol=1e-3)
    np.testing.assert_allclose(res.pose2d_org_img[:, :, :2], res.keypoints, atol=1e-3)


def test_k_inv_from_camera_matches_the_intrinsics(standin):
    cam = Camera(f=(1000.0, 1000.0), c=(630.0, 370.0), width=1280, height=720)
    net = BodyPose3DNet(standin, providers="cpu", camera=cam)
    img = np.zeros((720, 1280, 3), np.uint8)
    box = (100, 100, 300, 407.2)
    truth = _markers(crop_for_box(box))
    paint_markers(img, truth)
    res = net(img, [box])
    # stand-in: pose3d = (k_inv @ [u, v, 1]) * mean_limb_lengths[2]; with the crop camera this is the
    # frame pixel's viewing ray K^-1 [x, y, 1]
    rays = np.c_[(res.keypoints[0] - cam.c) / cam.f, np.ones(34)] * MEAN_LIMB_LENGTHS[2]
    np.testing.assert_allclose(res.pose3d[0], rays, rtol=1e-5, atol=1e-3)
    crop = crop_for_box(box)
    k_crop = np.linalg.inv(net.k_inv(crop))
    np.testing.assert_allclose(k_crop[0, 0], cam.f[0] / crop.scale[0])
    np.testing.assert_allclose(k_crop[:2, 2], (cam.c - [crop.left, crop.top]) / crop.scale)


def test_without_camera_the_fixed_k_inv_is_fed(standin):
    net = BodyPose3DNet(standin, providers="cpu")
    img = np.zeros((480, 640, 3), np.uint8)
    box = (300, 120, 400, 273.6)
    crop = crop_for_box(box)
    truth = _markers(crop)
    paint_markers(img, truth)
    feeds, _ = net.inputs(img, [box])
    np.testing.assert_allclose(feeds["k_inv"][0], default_k_inv(), rtol=1e-6)
    np.testing.assert_allclose(feeds["t_form_inv"][0], crop.t_form_inv)
    np.testing.assert_allclose(feeds["mean_limb_lengths"][0], MEAN_LIMB_LENGTHS)
    assert feeds["input0"].shape == (1, 3, 256, 192)
    res = net(img, [box])
    uv = crop.to_crop(truth)
    np.testing.assert_allclose(res.pose3d[0, :, 0], (uv[:, 0] - 96) / DEFAULT_FOCAL_LENGTH * MEAN_LIMB_LENGTHS[2],
                               rtol=1e-4, atol=1e-3)


def test_input_is_bgr_over_255(standin):
    net = BodyPose3DNet(standin, providers="cpu")
    img = np.zeros((300, 300, 3), np.uint8)
    img[..., 0] = 255  # red
    feeds, _ = net.inputs(img, [(100, 100, 200, 200)])
    x = feeds["input0"][0]
    assert x[2].max() == pytest.approx(1.0) and x[0].max() == 0.0  # channel 2 is red (BGR)


def test_no_boxes_gives_zero_people(standin):
    net = BodyPose3DNet(standin, providers="cpu")
    res = net(np.zeros((100, 100, 3), np.uint8), np.zeros((0, 4)))
    assert len(res) == 0 and res.keypoints.shape == (0, 34, 2)


def test_bad_boxes_are_named(standin):
    net = BodyPose3DNet(standin, providers="cpu")
    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match=r"box 1 .* is empty"):
        net(img, [(0, 0, 10, 10), (5, 5, 5, 20)])
    with pytest.raises(ValueError, match="NaN"):
        net(img, [(0, np.nan, 10, 10)])


def _renamed_standin(rename: dict[str, str]) -> bytes:
    import onnx

    m = onnx.load_from_string(bodypose3dnet_standin())
    for vi in m.graph.input:
        if vi.name in rename:
            old = vi.name
            vi.name = rename[old]
            for node in m.graph.node:
                node.input[:] = [rename[old] if x == old else x for x in node.input]
    return m.SerializeToString()


def test_wrong_input_name_is_named():
    model = _renamed_standin({"k_inv": "K_inverse"})
    with pytest.raises(ValueError) as e:
        BodyPose3DNet(model, providers="cpu")
    msg = str(e.value)
    assert "missing input(s) ['k_inv']" in msg and "unexpected input(s) ['K_inverse']" in msg


def test_wrong_input_shape_is_named():
    import onnx
    from onnx import TensorProto, helper

    # a model whose image input is 3x224x224 (and which would otherwise be fine)
    m = onnx.load_from_string(bodypose3dnet_standin())
    new_in = helper.make_tensor_value_info("input0", TensorProto.FLOAT, ["N", 3, 224, 224])
    m.graph.input[0].CopyFrom(new_in)
    with pytest.raises(ValueError, match=r"input 'input0': expected shape \[N, 3, 256, 192\], the model has \[N, 3, 224, 224\]"):
        BodyPose3DNet(m.SerializeToString(), providers="cpu")


def test_keypoints_from_setting_is_checked(standin):
    with pytest.raises(ValueError, match="keypoints_from"):
        BodyPose3DNet(standin, providers="cpu", keypoints_from="pose25d")
