"""BodyPoseNet: peaks, PAF grouping and the ONNX wrapper, on stand-in models with known people."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from poselift.detectors.bodyposenet import (  # noqa: E402
    BODYPOSENET_LIMBS,
    BodyPoseNet,
    BodyPoseNetSettings,
    DecodeSettings,
    decode_people,
    find_peaks,
    redundant_limbs,
)
from poselift.detectors.standins import bodyposenet_standin, person_template, synthesize_maps  # noqa: E402

IMAGE = (640, 480)  # fits the 384x288 network input at scale 0.6


def _frame():
    return np.zeros((IMAGE[1], IMAGE[0], 3), np.uint8)


def _net(people, **kw):
    hm, paf = synthesize_maps(people, image_size=IMAGE)
    return BodyPoseNet(bodyposenet_standin(hm, paf, **kw), providers="cpu", threads=1)


def _match(found, truth):
    """Max joint error of each true person against the detected person closest to it."""
    assert len(found) == len(truth), f"found {len(found)} people, expected {len(truth)}"
    used, errors = set(), []
    for t in truth:
        err = np.nanmax(np.abs(found.keypoints - t[None]), axis=(1, 2))
        i = int(np.nanargmin(err))
        assert i not in used, "two true people matched the same detection"
        used.add(i)
        # every joint found (no NaN) and within 1 px: a detection mixing two people would fail here
        assert np.isfinite(found.keypoints[i]).all()
        errors.append(float(err[i]))
    return errors


def scene_one():
    return [person_template(320, 80, 320)]


def scene_three():
    return [person_template(150, 100, 300), person_template(320, 60, 260), person_template(490, 70, 340)]


def scene_five():
    """Five people: two whose right forearms cross (same limb type), two standing close together."""
    p0 = person_template(90, 60, 300)
    p1 = person_template(230, 70, 300)
    p2 = person_template(380, 70, 300)
    # right forearms crossing in an X (elbow, wrist): the PAFs of the same channel overlap
    p1[3], p1[4] = (290.5, 200.5), (345.5, 255.5)
    p2[3], p2[4] = (345.5, 200.5), (290.5, 255.5)
    p3 = person_template(500, 60, 300)
    p4 = person_template(570, 80, 280)  # 70 px from p3: shoulders 6 px apart
    return [p0, p1, p2, p3, p4]


@pytest.mark.parametrize("scene", [scene_one, scene_three, scene_five], ids=["1 person", "3 people", "5 people"])
def test_recovers_every_person_and_joint(scene):
    people = scene()
    net = _net(people)
    found = net(_frame())
    errors = _match(found, people)
    assert max(errors) < 1.0, errors
    assert (found.confidence > 0.9).all()


def test_crossing_limbs_are_not_swapped():
    people = scene_five()
    found = _net(people)(_frame())
    for truth in people[1:3]:
        i = int(np.argmin(np.abs(found.keypoints[:, 1] - truth[1]).sum(-1)))  # by the neck
        np.testing.assert_allclose(found.keypoints[i, 3:5], truth[3:5], atol=1.0)


def test_empty_frame_gives_zero_people():
    hm, paf = synthesize_maps([], image_size=IMAGE)
    net = BodyPoseNet(bodyposenet_standin(hm, paf), providers="cpu")
    people = net(_frame())
    assert len(people) == 0
    assert people.keypoints.shape == (0, 18, 2)


def test_nchw_model_with_other_output_names_is_read_by_channel_count():
    people = scene_three()
    net = _net(people, layout="NCHW", input_name="image", heatmap_name="out_a", paf_name="out_b")
    assert not net.nhwc and net.net_size == (384, 288)
    errors = _match(net(_frame()), people)
    assert max(errors) < 1.0


def test_dynamic_batch_model_works():
    people = scene_one()
    found = _net(people, batch="N")(_frame())
    assert max(_match(found, people)) < 1.0


def test_wrong_input_shape_is_named():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [1, 288, 384])
    a = helper.make_tensor_value_info("heatmap_out/BiasAdd:0", TensorProto.FLOAT, [1, 288, 384])
    g = helper.make_graph([helper.make_node("Identity", ["input_1:0"], ["heatmap_out/BiasAdd:0"])], "g", [x], [a])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with pytest.raises(ValueError, match=r"input 'input_1:0' has shape \[1, 288, 384\]"):
        BodyPoseNet(m.SerializeToString(), providers="cpu")


def test_wrong_output_channels_are_named():
    hm, paf = synthesize_maps(scene_one(), image_size=IMAGE)
    model = bodyposenet_standin(hm[..., :17], paf[..., :34], heatmap_name="hm17", paf_name="paf34")
    with pytest.raises(ValueError) as e:
        BodyPoseNet(model, providers="cpu")
    msg = str(e.value)
    assert "'hm17' [1, 36, 48, 17]" in msg and "'paf34' [1, 144, 192, 34]" in msg and "19 channels" in msg


def test_bad_image_is_refused():
    net = _net(scene_one())
    with pytest.raises(ValueError, match="RGB"):
        net(np.zeros((10, 10), np.uint8))


def test_peak_refinement_is_sub_cell():
    yy, xx = np.mgrid[0:20, 0:30]
    truth = [(10.3, 7.8), (21.6, 14.45)]
    hm = np.zeros((1, 20, 30), np.float32)
    for cx, cy in truth:
        hm[0] = np.maximum(hm[0], np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 2.0))
    peaks = find_peaks(hm, threshold=0.1)[0]
    assert len(peaks) == 2
    got = sorted(map(tuple, peaks[:, :2].round(4)))
    np.testing.assert_allclose(got, truth, atol=1e-3)
    # without refinement the answer is the integer cell
    coarse = find_peaks(hm, threshold=0.1, refine=False)[0]
    assert set(map(tuple, coarse[:, :2])) == {(10.0, 8.0), (22.0, 14.0)}


def test_plateau_gives_one_peak():
    hm = np.zeros((1, 5, 5), np.float32)
    hm[0, 2, 1:3] = 0.8  # two equal neighbouring cells
    assert len(find_peaks(hm, threshold=0.1)[0]) == 1


def test_min_parts_filter_and_topology_setting():
    people = [person_template(320, 80, 320)]
    hm, paf = synthesize_maps(people, image_size=IMAGE)
    cell = (8 / 0.6, 8 / 0.6)
    assert len(decode_people(hm, paf, DecodeSettings(), cell, 640)) == 1
    # with only the two leg limbs of one side as topology, people have 3 joints: below min_parts=4
    legs = DecodeSettings(limbs=((8, 9), (9, 10)), paf_channels=((2, 3), (4, 5)))
    assert len(decode_people(hm, paf, legs, cell, 640)) == 0
    assert len(decode_people(hm, paf, DecodeSettings(limbs=legs.limbs, paf_channels=legs.paf_channels, min_parts=3),
                             cell, 640)) == 1


def test_redundant_limbs_close_the_face_cycles():
    # in TAO's order the shoulder-ear links come before the eye-ear links, so the latter close the cycles
    red = redundant_limbs(BODYPOSENET_LIMBS)
    assert [BODYPOSENET_LIMBS[k] for k, r in enumerate(red) if r] == [(14, 16), (15, 17)]


def test_multi_scale_on_same_scale_matches_single_scale():
    people = scene_three()
    hm, paf = synthesize_maps(people, image_size=IMAGE)
    model = bodyposenet_standin(hm, paf)
    single = BodyPoseNet(model, providers="cpu")(_frame())
    double = BodyPoseNet(model, BodyPoseNetSettings(scales=(1.0, 1.0)), providers="cpu")(_frame())
    np.testing.assert_allclose(double.keypoints, single.keypoints, atol=1e-3)


def test_decode_settings_validation():
    with pytest.raises(ValueError, match="limb"):
        DecodeSettings(limbs=((0, 0),))
    with pytest.raises(ValueError, match="PAF channel pairs"):
        DecodeSettings(paf_channels=((0, 1),))
