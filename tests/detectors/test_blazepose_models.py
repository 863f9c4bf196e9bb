"""BlazePose GHUM on the real model files (../shared/models/blazepose) and real images: keypoint accuracy on
four COCO images, world landmarks, region tracking on video frames, and `poselift detect` on an image.

CI installs the ``blazepose`` runtime (LiteRT) with ``.[dev]`` and has ../shared; elsewhere these skip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MODELS = SHARED / "models" / "blazepose"
COCO = SHARED / "media" / "coco"
CLIP = SHARED / "media" / "retail02_short.mp4"

pytest.importorskip("ai_edge_litert", reason="LiteRT not installed (pip install 'poselift[blazepose]')")
if not (MODELS / "pose_landmark_full.tflite").is_file() or not (COCO / "test_coco.json").is_file():
    pytest.skip(f"BlazePose files or COCO images not found under {SHARED}", allow_module_level=True)


@pytest.fixture(scope="module")
def blazepose():
    from poselift.detectors.blazepose import BlazePose

    return BlazePose(MODELS)


def _image(name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(COCO / name) as im:
        return np.asarray(im.convert("RGB"))


@pytest.mark.slow
def test_pck_on_four_coco_images(blazepose):
    """Measured 0.867 (157/181 joints, all 12 annotated people matched) with the default settings."""
    from poselift.detectors.blazepose.accuracy import pck, read_coco_people

    truth = read_coco_people(COCO / "test_coco.json")
    assert sum(len(v) for v in truth.values()) == 12
    correct = labelled = matched = 0
    for name, people in truth.items():
        blazepose.reset()
        found = blazepose(_image(name))
        assert found.keypoints.shape == (len(found), 33, 2) and np.isfinite(found.keypoints).all()
        r = pck(found.keypoints, "blazepose33", people)
        correct, labelled, matched = correct + r.correct, labelled + r.labelled, matched + r.matched
    assert labelled == 181
    assert matched >= 11
    assert correct / labelled >= 0.83, f"PCK@0.1 {correct / labelled:.3f}"


def test_single_person_keypoints_and_world_landmarks(blazepose):
    """000000000785.jpg: one skier; the detector alone (MediaPipe's setting) finds her and the world landmarks
    are metric, centred between the hips."""
    from poselift.detectors.blazepose.accuracy import pck, read_coco_people

    img = _image("000000000785.jpg")
    regions, scores, kps = blazepose.detect(img)
    assert scores[0] > 0.9
    blazepose.reset()
    p = blazepose(img)
    truth = read_coco_people(COCO / "test_coco.json")["000000000785.jpg"]
    assert pck(p.keypoints, "blazepose33", truth).pck >= 0.9
    i = int(np.argmax(p.score))
    w = p.world[i]
    assert np.linalg.norm((w[23] + w[24]) / 2) < 0.05  # origin between the hips (metres)
    shoulders = np.linalg.norm(w[11] - w[12])
    assert 0.2 < shoulders < 0.6
    assert w[0, 1] < w[23, 1] < w[27, 1]  # y down: nose above hips above ankles (she stands)


@pytest.mark.slow
def test_regions_follow_people_between_frames(blazepose):
    """Three frames of the retail clip: from the second frame on, people's regions come from their previous
    landmarks (MediaPipe's tracking), and every person is found once."""
    from poselift.viz.video import read_frames

    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not found")
    blazepose.reset()
    counts, tracked = [], []
    for _, frame in read_frames(CLIP, stop=3):
        p = blazepose(frame)
        counts.append(len(p))
        tracked.append(int(p.from_tracking.sum()))
        b = p.boxes()
        for a in range(len(b)):  # no two people on top of each other
            for c in range(a + 1, len(b)):
                x0, y0 = np.maximum(b[a, :2], b[c, :2])
                x1, y1 = np.minimum(b[a, 2:], b[c, 2:])
                inter = max(0, x1 - x0) * max(0, y1 - y0)
                small = min(np.prod(b[a, 2:] - b[a, :2]), np.prod(b[c, 2:] - b[c, :2]))
                assert inter < 0.8 * small
    assert counts[0] >= 1
    assert tracked[0] == 0 and tracked[1] >= 1 and tracked[2] >= 1


def test_detect_command_on_an_image(tmp_path, capsys):
    from poselift.commands import main
    from poselift.detectors.formats import read_keypoints_h5

    out = tmp_path / "k.h5"
    rc = main(["detect", str(COCO / "000000196141.jpg"), "--detector", "blazepose", "--model-dir", str(MODELS),
               "--out", str(out), "--min-track-length", "1", "--quiet"])
    assert rc == 0
    data = read_keypoints_h5(out)
    assert data.layout == "blazepose33" and data.num_frames == 1 and data.image_size == (640, 429)
    assert len(data.tracks) >= 3  # four annotated people in this image
    seqs = data.to_sequences()
    assert all(s.detector3d is not None and s.detector3d.units == "m" for s in seqs)
    assert seqs[0].detector3d.poses.shape == (1, 33, 3)
    assert "landmarks" in capsys.readouterr().out
    # options that cannot be honoured are refused with a clear message
    assert main(["detect", str(COCO / "000000196141.jpg"), "--detector", "blazepose", "--out",
                 str(tmp_path / "x.h5")]) == 1
    assert main(["detect", str(COCO / "000000196141.jpg"), "--model", "m.onnx", "--tiles", "0.5", "--out",
                 str(tmp_path / "y.h5")]) == 1
    assert "--tiles is for --detector blazepose" in capsys.readouterr().err


def test_missing_or_wrong_model_files(tmp_path):
    from poselift.core.errors import InputError
    from poselift.detectors.blazepose import BlazePose

    with pytest.raises(FileNotFoundError, match="missing pose_detection.tflite"):
        BlazePose(tmp_path)
    (tmp_path / "pose_detection.tflite").write_bytes((MODELS / "pose_landmark_full.tflite").read_bytes())
    (tmp_path / "pose_landmark_full.tflite").write_bytes((MODELS / "pose_landmark_full.tflite").read_bytes())
    with pytest.warns(UserWarning, match="SHA-256"), pytest.raises(InputError, match="not BlazePose"):
        BlazePose(tmp_path)


@pytest.mark.slow
def test_video_command_detects_lifts_compares_and_renders(tmp_path, capsys):
    """`poselift video` on a 12-frame clip (a COCO skier sliding 3 px per frame) with a tiny untrained lifter:
    every file is written and the comparison holds BlazePose's own 3D beside the lift."""
    import json

    import torch

    from poselift.commands import main
    from poselift.detectors.formats import read_keypoints_h5, read_poses3d_h5
    from poselift.model.tcn import TemporalLifter
    from poselift.viz.video import probe_video, write_video

    img = _image("000000000785.jpg")
    frames = [np.roll(img, 3 * i, axis=1) for i in range(12)]
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames, fps=25)
    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    m = TemporalLifter(17, 17, (3,), channels=16)
    torch.save({"model": m.state_dict(), "model_config": m.config(), "layout_in": "h36m17",
                "layout_out": "h36m17", "extra": {"flip_test": False}}, run / "checkpoint.pt")
    out = tmp_path / "out"
    assert main(["video", str(clip), "--run", str(run), "--model-dir", str(MODELS), "--out", str(out),
                 "--tiles", "--device", "cpu", "--size", "320x180", "--quiet"]) == 0
    kp = read_keypoints_h5(out / "keypoints.h5")
    assert kp.layout == "blazepose33" and len(kp.tracks) == 1 and len(kp.tracks[0].frames) == 12
    p3 = read_poses3d_h5(out / "poses3d.h5")
    (tid,) = p3.poses
    assert p3.poses[tid].shape == (12, 17, 3) and p3.single_frame[tid].shape == (12, 33, 3)
    result = json.loads((out / "compare.json").read_text())
    bp = result["methods"]["BlazePose world landmarks (single frame)"]
    assert result["reference"] == "BlazePose world landmarks (single frame)" and not bp["scale_aligned"]
    assert 0 <= bp["bone_std"] < 50 and 0 <= bp["asymmetry"] < 100  # mm: a real body, not noise
    assert probe_video(out / "video.mp4").num_frames == 12
    assert "bone std" in capsys.readouterr().out
