"""BodyPoseNet: peaks, PAF grouping and the ONNX wrapper, on stand-in models with known people."""
from __future__ import annotations

import numpy as np
import pytest

from poselift.core.errors import InputWarning

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
    with pytest.warns(InputWarning, match="check the preprocessing"):  # all maps below the threshold: said once
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
    assert "'hm17' [1, 36, 48, 17]" in msg and "'paf34' [1, 144, 192, 34]" in msg and "19 or 18 channels" in msg


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
    legs = DecodeSettings(limbs=((8, 9), (9, 10)), paf_channels=((2, 3), (4, 5)), paf_count=38)
    assert len(decode_people(hm, paf, legs, cell, 640)) == 0
    assert len(decode_people(hm, paf, DecodeSettings(limbs=legs.limbs, paf_channels=legs.paf_channels, paf_count=38,
                                                     min_parts=3),
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


# --------------------------------------------------------------------------- an interface that cannot fail silently
def test_channel_first_maps_are_refused_or_read_with_an_explicit_layout():
    from poselift.core.errors import InputError

    people = scene_three()
    # OpenVINO's geometry: a 456x256 input gives 57-wide maps, so a (19, 32, 57) channel-first array has a last
    # axis of 57 >= 18: the old check let it through and it decoded to nobody
    hm, paf = synthesize_maps(people, input_size=(456, 256), image_size=IMAGE)
    cell = (IMAGE[0] / (456 * min(456 / 640, 256 / 480)) * 8,) * 2
    want = decode_people(hm, paf, DecodeSettings(), cell, 640)
    assert len(want) == 3
    chw_hm, chw_paf = hm.transpose(2, 0, 1), paf.transpose(2, 0, 1)
    assert chw_hm.shape == (19, 32, 57)
    with pytest.raises(InputError, match=r"heatmaps of shape \(19, 32, 57\) have their 19 or 18 channels first.*"
                                         r"pass layout='CHW', or transpose"):
        decode_people(chw_hm, chw_paf, DecodeSettings(), cell, 640)
    got = decode_people(chw_hm, chw_paf, DecodeSettings(), cell, 640, layout="CHW")
    np.testing.assert_allclose(got.keypoints, want.keypoints)
    # exact channel counts: a 20-channel heatmap or a 40-channel PAF is not BodyPoseNet's
    with pytest.raises(InputError, match=r"heatmaps must have exactly 19 or 18 channels"):
        decode_people(np.concatenate([hm, hm[..., :1]], -1), paf, DecodeSettings(), cell, 640)
    with pytest.raises(InputError, match=r"pafs must have exactly 38 channels"):
        decode_people(hm, np.concatenate([paf, paf[..., :2]], -1), DecodeSettings(), cell, 640)


def test_openpose_paf_order_preset_and_a_wrong_paf_order_warns():
    import warnings

    from poselift.core.errors import InputWarning
    from poselift.detectors.bodyposenet import (
        OPENPOSE_COCO18_LIMBS,
        OPENPOSE_COCO18_PAF_CHANNELS,
        PAF_PRESETS,
    )

    people = scene_three()
    hm, paf_by_limb = synthesize_maps(people, image_size=IMAGE, limbs=OPENPOSE_COCO18_LIMBS)
    paf = np.zeros_like(paf_by_limb)  # the PAF channels where an OpenPose COCO-18 network puts them
    for k, (cx, cy) in enumerate(OPENPOSE_COCO18_PAF_CHANNELS):
        paf[..., cx], paf[..., cy] = paf_by_limb[..., 2 * k], paf_by_limb[..., 2 * k + 1]
    cell = (8 / 0.6, 8 / 0.6)
    found = decode_people(hm, paf, DecodeSettings.from_preset("openpose-coco18"), cell, 640)
    assert max(_match(found, people)) < 1.0
    # TAO's table is OpenPose's channel layout in channel order: every limb has the same channels in both
    tao = {tuple(sorted(limb)): (2 * k, 2 * k + 1) for k, limb in enumerate(BODYPOSENET_LIMBS)}
    assert all(tao[tuple(sorted(limb))] == ch for limb, ch in zip(OPENPOSE_COCO18_LIMBS, OPENPOSE_COCO18_PAF_CHANNELS))
    tao_found = decode_people(hm, paf, DecodeSettings(), cell, 640)

    def by_neck(p):
        return p.keypoints[np.argsort(p.keypoints[:, 1, 0])]

    np.testing.assert_allclose(by_neck(tao_found), by_neck(found), atol=1e-4)
    assert set(PAF_PRESETS) == {"tao", "openpose-coco18"}
    from poselift.commands.video import PAF_ORDERS

    assert set(PAF_ORDERS) == set(PAF_PRESETS)  # the command line offers exactly the presets
    # PAFs in another order than the settings say (every limb reads its neighbour's field): nobody is
    # assembled, and the detector says why
    shifted = np.roll(paf, 2, axis=-1)
    net = BodyPoseNet(bodyposenet_standin(hm, shifted), providers="cpu")
    with pytest.warns(InputWarning, match="no limb links them into a person: check the PAF channel order"):
        assert len(net(_frame())) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        net(_frame())  # once
    assert net.unlinked_frames == 2 and net.weak_frames == 0


def test_weak_maps_warn_once_check_the_preprocessing():
    import warnings

    from poselift.core.errors import InputWarning
    from poselift.detectors.standins import bodyposenet_blob_standin

    frame = np.zeros((360, 640, 3), np.uint8)
    frame[100:160, 300:360] = 255  # one bright blob: the stand-in's heatmaps peak there
    # fed as TAO expects (x / 255): clear peaks, so no preprocessing warning (the stand-in has no PAFs, so
    # nobody is assembled: that is the other warning)
    net = BodyPoseNet(bodyposenet_blob_standin(), providers="cpu")
    with pytest.warns(InputWarning, match="no limb links them"):
        net(frame)
    assert net.weak_frames == 0 and net.unlinked_frames == 1
    # fed with another network's preprocessing (mean 255 subtracted): every map is <= 0 -> warned, once
    net = BodyPoseNet(bodyposenet_blob_standin(), BodyPoseNetSettings(mean=(255.0, 255.0, 255.0)), providers="cpu")
    with pytest.warns(InputWarning, match="check the preprocessing .*mean \\(255.0, 255.0, 255.0\\)"):
        net(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        net(frame)  # not again
    assert net.weak_frames == 2


def test_multi_scale_magnifies_both_axes_with_tiles_on_a_16_9_frame():
    from poselift.core.errors import InputError
    from poselift.detectors.standins import bodyposenet_blob_standin

    frame = np.zeros((720, 1280, 3), np.uint8)  # 16:9
    blobs = [(100, 100), (640, 360), (1180, 620), (1215, 70), (430, 300)]  # corners included
    for x, y in blobs:
        frame[y - 30 : y + 30, x - 30 : x + 30] = 255
    fixed = BodyPoseNet(bodyposenet_blob_standin((384, 288)), providers="cpu")
    dynamic = BodyPoseNet(bodyposenet_blob_standin(None), providers="cpu")
    assert fixed.fixed_size and not dynamic.fixed_size
    # the old preprocessing clipped one axis: 1280x720 at 1.5 gave factors 0.300/0.400; now one pass is refused
    with pytest.raises(InputError, match="does not fit the fixed 384x288 network input in one pass"):
        fixed.preprocess(frame, 1.5)
    _, (rx, ry) = dynamic.preprocess(frame, 1.5)
    assert rx == pytest.approx(ry) == pytest.approx(0.45)
    for scale in (1.0, 1.5):
        maps = {}
        for name, net in (("fixed", fixed), ("dynamic", dynamic)):
            hm, paf, (sx, sy) = net.predict_maps(frame, scale)
            assert sx == pytest.approx(sy) == pytest.approx(8 / (0.3 * scale))  # both axes magnified alike
            assert hm.shape[0] * 8 >= 720 * 0.3 * scale and hm.shape[1] * 8 >= 1280 * 0.3 * scale  # whole frame
            peaks = find_peaks(hm[..., :1].transpose(2, 0, 1), 0.1)[0]
            found = (peaks[:, :2] + 0.5) * (sx, sy)
            assert len(found) == len(blobs), (name, scale, found)
            for b in blobs:  # every blob, also in the corner a squeezed axis would lose, within a quarter cell
                assert np.min(np.hypot(*(found - b).T)) < 0.25 * sx, (name, scale, b)
            maps[name] = hm
        if scale > 1:  # tiles of the fixed network give the maps of one pass over the magnified frame
            assert np.abs(maps["fixed"] - maps["dynamic"]).max() < 0.03
    # multi-scale (1, 1.5) through the detector: averaged on the first scale's grid, peaks still in place
    net = BodyPoseNet(bodyposenet_blob_standin((384, 288)), BodyPoseNetSettings(scales=(1.0, 1.5)), providers="cpu")
    from poselift.detectors.bodyposenet.net import _multi_scale

    hm0, paf0, cell = net.predict_maps(frame, 1.0)
    hm, _, _ = _multi_scale(net, frame, hm0, paf0, cell)
    found = (find_peaks(hm[..., :1].transpose(2, 0, 1), 0.1)[0][:, :2] + 0.5) * cell
    assert all(np.min(np.hypot(*(found - b).T)) < 0.3 * cell[0] for b in blobs)


def test_settings_file_and_its_errors(tmp_path):
    from poselift.core.errors import InputError
    from poselift.detectors.bodyposenet import OPENPOSE_COCO18_LIMBS, load_settings

    path = tmp_path / "lightweight_openpose.yaml"
    path.write_text("channel_order: BGR\nmean: [128, 128, 128]\nscale: 0.00390625\ninput_size: [456, 256]\n"
                    "paf_preset: openpose-coco18\ndecode: {heatmap_threshold: 0.15}\n")
    s = load_settings(path)
    assert s.channel_order == "BGR" and s.mean == (128.0, 128.0, 128.0) and s.scale == 0.00390625
    assert s.input_size == (456, 256) and s.decode.limbs == OPENPOSE_COCO18_LIMBS
    assert s.decode.heatmap_threshold == 0.15
    path.write_text("channel-order: BGR\n")
    with pytest.raises(InputError, match=r"unknown setting\(s\) \['channel-order'\]"):
        load_settings(path)
    path.write_text("decode: {treshold: 1}\n")
    with pytest.raises(InputError, match=r"unknown decode setting\(s\) \['treshold'\]"):
        load_settings(path)
    path.write_text("paf_preset: openpose\n")
    with pytest.raises(InputError, match="unknown PAF preset 'openpose'"):
        load_settings(path)


# --- realistic maps: the decoder's own diagnosis (issue 27) ---------------------------------------------

def _openpose_maps(people, seed, image=IMAGE, input_size=(384, 288)):
    """Lightweight-OpenPose-shaped maps: realistic_maps at stride 8 for both, PAFs in OpenPose's channel
    order, channels first (as the issue's experiment fed them)."""
    from poselift.detectors.bodyposenet import OPENPOSE_COCO18_LIMBS, OPENPOSE_COCO18_PAF_CHANNELS
    from poselift.detectors.standins import realistic_maps

    hm, by_limb = realistic_maps(people, input_size, image, seed=seed, limbs=OPENPOSE_COCO18_LIMBS)
    paf = np.zeros_like(by_limb)
    for k, (cx, cy) in enumerate(OPENPOSE_COCO18_PAF_CHANNELS):
        paf[..., cx], paf[..., cy] = by_limb[..., 2 * k], by_limb[..., 2 * k + 1]
    return np.moveaxis(hm, -1, 0), np.moveaxis(paf, -1, 0)


def _crowd():
    """Eight people of different sizes side by side across a 640x480 frame (144 true joints)."""
    return [person_template(45 + 78 * i, top, h) for i, (top, h) in
            enumerate(((40, 210), (90, 230), (50, 180), (200, 240), (60, 200), (150, 190), (30, 230), (120, 170)))]


def test_realistic_maps_have_a_trained_networks_statistics():
    from poselift.detectors.standins import realistic_maps

    people = _crowd()
    hm, paf = realistic_maps(people, (384, 288), IMAGE, seed=0)
    peaks = find_peaks(np.moveaxis(hm[..., :18], -1, 0), 0.1)
    values = np.concatenate([p[:, 2] for p in peaks])
    assert len(values) > 1.25 * 18 * len(people)  # many more peaks above the threshold than true joints
    assert ((values > 0.1) & (values < 0.4)).sum() > 0.2 * len(values)  # a crowd of weak false peaks
    true = values[values >= 0.5]
    assert 0.5 <= true.min() and true.max() < 0.96 and true.std() > 0.05  # true peaks of varied height
    norm = np.linalg.norm(paf.reshape(*paf.shape[:2], -1, 2), axis=-1)
    on = norm > 0.3
    assert norm.max() < 0.95 and 0.4 < np.median(norm[on]) < 0.9  # PAFs shorter than unit length
    assert 0.01 < np.median(norm[~on]) < 0.05  # and noisy everywhere


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realistic_crowd_is_decoded_without_a_warning(seed):
    import warnings

    from poselift.detectors.bodyposenet import OPENPOSE_COCO18_LIMBS  # noqa: F401

    people = _crowd()
    hm, paf = _openpose_maps(people, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        found = decode_people(hm, paf, DecodeSettings.from_preset("openpose-coco18"), (8 / 0.6, 8 / 0.6), 640,
                              layout="CHW")
    assert found.problem is None
    # every person found (a stray fragment of a few joints may come on top, as from a real network), each
    # with most of their joints near their place (the maps' localisation error is 0.25 cells, 3 px here)
    assert len(people) <= len(found) <= len(people) + 1
    for t in people:
        near = (np.linalg.norm(found.keypoints - t[None], axis=-1) < 15.0).sum(1)  # (found,)
        assert near.max() >= 12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flipped_paf_signs_warn_in_decode_people_and_in_the_detector(seed):
    import warnings

    people = _crowd()
    hm, paf = _openpose_maps(people, seed)
    settings = DecodeSettings.from_preset("openpose-coco18")
    cell = (8 / 0.6, 8 / 0.6)
    # the experiment: decode_people on channel-first maps with every PAF sign flipped. Before, the
    # only check lived in BodyPoseNet.__call__ (the ONNX path), so this call found nobody in silence.
    with pytest.warns(InputWarning, match=r"PAFs point the other way .* negate the PAFs"):
        flipped = decode_people(hm, -paf, settings, cell, 640, layout="CHW")
    assert len(flipped) == 0 and flipped.problem == "flipped"
    # PAFs in another channel order (each limb reads its neighbour's field): the other diagnosis
    with pytest.warns(InputWarning, match="no limb links them into a person: check the PAF channel order"):
        rolled = decode_people(hm, np.roll(paf, 2, axis=0), settings, cell, 640, layout="CHW")
    assert rolled.problem == "unlinked"
    # through the ONNX detector (TAO's channel table, channels last): counted, and said once
    hm_tao, paf_tao = np.moveaxis(hm, 0, -1), np.moveaxis(paf, 0, -1)
    from poselift.detectors.bodyposenet import BODYPOSENET_LIMBS, OPENPOSE_COCO18_LIMBS, OPENPOSE_COCO18_PAF_CHANNELS

    tao = np.zeros_like(paf_tao)  # OpenPose's channels are TAO's, so this is a re-ordering check only
    for limb, (cx, cy) in zip(OPENPOSE_COCO18_LIMBS, OPENPOSE_COCO18_PAF_CHANNELS):
        k = BODYPOSENET_LIMBS.index(limb)
        tao[..., 2 * k], tao[..., 2 * k + 1] = paf_tao[..., cx], paf_tao[..., cy]
    net = BodyPoseNet(bodyposenet_standin(hm_tao, -tao), providers="cpu")
    with pytest.warns(InputWarning, match="negate the PAFs"):
        assert len(net(_frame())) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        net(_frame())  # once
    assert net.unlinked_frames == 2 and net.weak_frames == 0
    good = BodyPoseNet(bodyposenet_standin(hm_tao, tao), providers="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        assert len(people) <= len(good(_frame())) <= len(people) + 1 and good.unlinked_frames == 0


def test_an_empty_realistic_frame_is_not_a_mistake():
    import warnings

    for seed in range(5):  # only weak false peaks: nobody, and no false alarm about the PAF order
        hm, paf = _openpose_maps([], seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", InputWarning)
            found = decode_people(hm, paf, DecodeSettings.from_preset("openpose-coco18"), (8 / 0.6, 8 / 0.6),
                                  640, layout="CHW")
        assert len(found) == 0 and found.problem is None
    # the detector's rule before (nobody found, 4+ joint types with a peak above 0.1) fired on such a frame
    net = BodyPoseNet(bodyposenet_standin(np.moveaxis(hm, 0, -1), np.moveaxis(paf, 0, -1)), providers="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        assert len(net(_frame())) == 0
    assert net.unlinked_frames == 0 and net.weak_frames == 0
