"""``poselift detect`` and ``poselift lift`` end to end, with stand-in models and a tiny lifter."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")

from poselift.commands import video as commands  # noqa: E402
from poselift.detectors.bodypose3dnet import crop_for_box  # noqa: E402
from poselift.detectors.formats import read_keypoints_h5, read_poses3d_h5  # noqa: E402
from poselift.detectors.standins import (  # noqa: E402
    bodypose3dnet_standin,
    bodyposenet_standin,
    paint_markers,
    person_template,
    synthesize_maps,
)
from poselift.model.tcn import TemporalLifter  # noqa: E402
from poselift.viz.video import (  # noqa: E402
    probe_video,
    read_frames,
    write_video,  # noqa: E402
)

PEOPLE = [person_template(150, 100, 300), person_template(320, 60, 260), person_template(490, 70, 340)]


def _run(argv: list[str]) -> int:
    """Parse with only this module's subcommands (other groups may be mid-work) and run like poselift.commands."""
    parser = argparse.ArgumentParser(prog="poselift")
    sub = parser.add_subparsers(dest="command")
    commands.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    video = d / "clip.mp4"
    write_video(video, [np.full((480, 640, 3), 30 + 10 * i, np.uint8) for i in range(10)], fps=25)
    hm, paf = synthesize_maps(PEOPLE, image_size=(640, 480))
    model = d / "bodyposenet.onnx"
    model.write_bytes(bodyposenet_standin(hm, paf))
    return video, model


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    m = TemporalLifter(17, 17, (3,), channels=16)
    torch.save({"model": m.state_dict(), "model_config": m.config(), "layout_in": "h36m17",
                "layout_out": "h36m17", "extra": {"flip_test": True}}, d / "checkpoint.pt")
    return d


def test_detect_bodyposenet(clip, tmp_path, capsys):
    video, model = clip
    out = tmp_path / "kp.h5"
    assert _run(["detect", str(video), "--model", str(model), "--out", str(out), "--providers", "cpu", "--quiet"]) == 0
    assert "3 track(s) from 10 frame(s)" in capsys.readouterr().out
    data = read_keypoints_h5(out)
    assert data.layout == "bodyposenet18" and data.image_size == (640, 480) and data.num_frames == 10
    assert data.fps == pytest.approx(25.0) and data.detector == "bodyposenet"
    assert len(data.tracks) == 3
    for tr in data.tracks:
        assert len(tr) == 10 and tr.detected.all()
        err = min(np.abs(tr.keypoints - p).max() for p in PEOPLE)
        assert err < 1.0


def test_lift_with_render(clip, run_dir, tmp_path):
    video, model = clip
    kp = tmp_path / "kp.h5"
    _run(["detect", str(video), "--model", str(model), "--out", str(kp), "--providers", "cpu", "--quiet"])
    out, anim = tmp_path / "poses3d.h5", tmp_path / "anim.mp4"
    assert _run(["lift", str(kp), "--run", str(run_dir), "--out", str(out), "--render", str(anim),
                 "--video", str(video), "--device", "cpu", "--quiet"]) == 0
    res = read_poses3d_h5(out)
    assert len(res.poses) == 3 and res.attrs["layout"] == "h36m17"
    for tid, p in res.poses.items():
        assert p.shape == (10, 17, 3) and np.isfinite(p).all()
        np.testing.assert_allclose(p[:, 0], 0.0, atol=1e-6)  # root-relative
    assert sum(1 for _ in read_frames(anim)) == 10
    assert probe_video(anim).width > probe_video(anim).height  # 2D panel beside 3D panels
    # a PNG is one frame: refused before lifting, with the command that writes one
    with pytest.raises(ValueError, match="figures RUN --input FILE --still FRAME"):
        _run(["lift", str(kp), "--run", str(run_dir), "--out", str(tmp_path / "p2.h5"), "--render",
              str(tmp_path / "still.png"), "--device", "cpu", "--quiet"])
    assert not (tmp_path / "p2.h5").exists()


def test_detect_bodypose3dnet_with_boxes_file(tmp_path, run_dir):
    img = np.zeros((480, 640, 3), np.uint8)
    box = (300, 120, 400, 273.6)
    crop = crop_for_box(box)
    truth = np.floor([(crop.left + 12 + 10 * (j % 17), crop.top + 12 + 100 * (j // 17)) for j in range(34)]) + 0.5
    paint_markers(img, truth)
    image = tmp_path / "frame.png"
    from PIL import Image

    Image.fromarray(img).save(image)
    model = tmp_path / "bp3d.onnx"
    model.write_bytes(bodypose3dnet_standin())
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"0": [{"bbox": list(box), "id": 7}]}))
    out = tmp_path / "kp3d.h5"
    assert _run(["detect", str(image), "--model", str(model), "--detector", "bodypose3dnet", "--boxes", str(boxes),
                 "--out", str(out), "--providers", "cpu", "--min-track-length", "1", "--quiet"]) == 0
    data = read_keypoints_h5(out)
    assert data.layout == "bodypose3dnet34" and len(data.tracks) == 1 and data.tracks[0].track_id == 7
    tr = data.tracks[0]
    np.testing.assert_allclose(tr.keypoints[0], truth, atol=1e-3)
    assert tr.extras["pose3d"].shape == (1, 34, 3) and tr.extras["pose25d"].shape == (1, 34, 4)
    # the 34 -> 17 mapping lets an h36m17 lifter take it; the single-frame 3D is carried along
    p3 = tmp_path / "p3.h5"
    assert _run(["lift", str(out), "--run", str(run_dir), "--out", str(p3), "--device", "cpu", "--quiet"]) == 0
    res = read_poses3d_h5(p3)
    assert res.poses[7].shape == (1, 17, 3) and res.single_frame[7].shape == (1, 34, 3)


def test_detect_errors_are_clear(clip, tmp_path):
    video, model = clip
    with pytest.raises(ValueError, match="needs person boxes"):
        _run(["detect", str(video), "--model", str(model), "--detector", "bodypose3dnet", "--out",
              str(tmp_path / "x.h5"), "--providers", "cpu"])
    # a BodyPoseNet model given as BodyPose3DNet: the signature check names the tensors
    with pytest.raises(ValueError, match=r"missing input\(s\) \['input0', 'k_inv'"):
        _run(["detect", str(video), "--model", str(model), "--detector", "bodypose3dnet", "--boxes", "full",
              "--out", str(tmp_path / "x.h5"), "--providers", "cpu"])
    with pytest.raises(FileNotFoundError):
        _run(["detect", str(tmp_path / "none.mp4"), "--model", str(model), "--out", str(tmp_path / "x.h5")])
    assert not (tmp_path / "x.h5").exists()


def test_cli_prints_one_line_errors(clip, tmp_path, capsys):
    from poselift.commands import main

    video, model = clip
    rc = main(["detect", str(video), "--model", str(model), "--detector", "bodypose3dnet", "--out",
               str(tmp_path / "x.h5"), "--providers", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("poselift detect: error:") and "boxes" in err


def test_bodyposenet_people_give_bodypose3dnet_its_boxes(clip):
    from poselift.detectors.bodypose3dnet import BodyPose3DNet
    from poselift.detectors.bodyposenet import BodyPoseNet
    from poselift.detectors.pipeline import detect_video
    from poselift.detectors.tracking import TrackerSettings

    video, model = clip
    boxes_net = BodyPoseNet(model, providers="cpu")
    seen = []

    class Spy(BodyPose3DNet):
        def __call__(self, image, boxes):
            seen.append(np.asarray(boxes))
            return super().__call__(image, boxes)

    net = Spy(bodypose3dnet_standin(), providers="cpu")
    _, timing = detect_video(video, net, box_detector=boxes_net, progress=False,
                             tracker=TrackerSettings(min_confidence=0.0))
    assert timing["frames"] == 10 and timing["people"] == 30
    # each box surrounds one true person's joints (10 % margin)
    for b in seen[0]:
        inside = [((p >= b[:2]) & (p <= b[2:])).all() for p in PEOPLE]
        assert sum(inside) == 1


def test_detect_preprocessing_flags_settings_file_and_the_weak_maps_warning(tmp_path, capsys):
    from poselift.core.errors import InputWarning
    from poselift.detectors.standins import bodyposenet_blob_standin

    video = tmp_path / "dark.mp4"
    write_video(video, [np.zeros((240, 320, 3), np.uint8)] * 4, fps=10)  # nothing bright: weak maps
    model = tmp_path / "blob.onnx"
    model.write_bytes(bodyposenet_blob_standin())
    settings = tmp_path / "net.yaml"
    settings.write_text("channel_order: BGR\nmean: [128, 128, 128]\nscale: 0.0078125\npaf_preset: openpose-coco18\n")
    out = tmp_path / "kp.h5"
    with pytest.warns(InputWarning, match="check the preprocessing"):
        assert _run(["detect", str(video), "--model", str(model), "--out", str(out), "--providers", "cpu",
                     "--settings", str(settings), "--scale", "0.00390625", "--quiet"]) == 0
    err = capsys.readouterr().err
    # the file's values, the flag overriding the file's scale, and what was found: said out loud
    assert "BGR, (x - [128.0, 128.0, 128.0]) * 0.00390625" in err and "limbs openpose-coco18" in err
    assert "4 frame(s) with nobody found and every heatmap below the threshold" in err
    assert read_keypoints_h5(out).attrs["weak_frames"] == 4
    with pytest.raises(ValueError, match="apply to --detector bodyposenet only"):
        _run(["detect", str(video), "--model", str(model), "--out", str(out), "--detector", "bodypose3dnet",
              "--boxes", "full", "--channel-order", "BGR"])


def test_detect_counts_and_stores_frames_whose_peaks_no_limb_links(tmp_path, capsys):
    from poselift.core.errors import InputWarning
    from poselift.detectors.standins import bodyposenet_blob_standin

    frame = np.zeros((240, 320, 3), np.uint8)
    frame[80:130, 140:190] = 255  # a bright blob: strong peaks for every joint; the stand-in has no PAFs
    video = tmp_path / "blob.mp4"
    write_video(video, [frame] * 4, fps=10)
    model = tmp_path / "blob.onnx"
    model.write_bytes(bodyposenet_blob_standin())
    out = tmp_path / "kp.h5"
    with pytest.warns(InputWarning, match="no limb links them into a person: check the PAF channel order"):
        assert _run(["detect", str(video), "--model", str(model), "--out", str(out), "--providers", "cpu",
                     "--quiet"]) == 0
    assert "4 frame(s) with strong heatmap peaks that the PAFs leave mostly unlinked" in capsys.readouterr().err
    assert read_keypoints_h5(out).attrs["unlinked_frames"] == 4
