"""One 2D-input option group for lift, compare and figures; frame rate and size from --video; which run fits
which file's layout."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from helpers import randomised

from poselift.checkpoint import lifter_payload, save_checkpoint
from poselift.commands import build_parser, main
from poselift.commands.inputs import INPUT_OPTIONS
from poselift.core.errors import LayoutError, UnsafePickleWarning
from poselift.detectors.formats import read_poses3d_h5
from poselift.model.tcn import TemporalLifter
from poselift.viz.video import probe_video, write_video


def _run_dir(path, layout_in="h36m17", config=True):
    torch.manual_seed(0)
    j = {"h36m17": 17, "coco17": 17, "mpii16": 16}[layout_in]
    m = randomised(TemporalLifter(j, 17, (3,), channels=16), seed=0)
    path.mkdir(parents=True)
    save_checkpoint(lifter_payload(m, layout_in, "h36m17", extra={"flip_test": True}), path / "checkpoint.pt")
    if config:
        from poselift.experiments.config import ExperimentConfig, dump_config

        (path / "config.yaml").write_text(dump_config(ExperimentConfig(name=path.name)))
    else:
        (path / "run.json").write_text(json.dumps({"declared": {"layout_in": layout_in}}))
    return path


def _mmpose(path, t=12):
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 200, (17, 2))
    frames = [{"frame_id": i, "instances": [{"keypoints": (base + [300 + 3 * i, 200]).tolist(),
                                             "keypoint_scores": [0.9] * 17}]} for i in range(t)]
    path.write_text(json.dumps({"instance_info": frames}))
    return path


def _options(parser, command):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {s for a in sub._actions for s in a.option_strings}


def test_every_command_that_reads_2d_takes_the_same_options():
    parser = build_parser()
    group = {"--" + name.replace("_", "-") for name in INPUT_OPTIONS} | {"--min-length"}
    for command in ("lift", "compare", "figures"):
        missing = group - _options(parser, command)
        assert not missing, (command, missing)


def test_lift_takes_frame_rate_and_size_from_the_video(tmp_path, capsys):
    run = _run_dir(tmp_path / "runs" / "gt")
    mm = _mmpose(tmp_path / "mm.json")
    video = tmp_path / "clip.mp4"
    write_video(video, [np.full((480, 640, 3), 60, np.uint8)] * 12, fps=24)
    out, anim = tmp_path / "p3d.h5", tmp_path / "anim.mp4"
    # MMPose JSON stores neither frame rate nor size: without --video or --fps a render is refused up front
    with pytest.raises(ValueError, match="does not store its frame rate; give --fps or --video"):
        main(["--debug", "lift", str(mm), "--run", str(run), "--out", str(out), "--render", str(anim),
              "--quiet", "--device", "cpu"])
    assert not out.exists()
    assert main(["lift", str(mm), "--run", str(run), "--out", str(out), "--render", str(anim), "--video", str(video),
                 "--quiet", "--device", "cpu"]) == 0
    assert "coco17 -> h36m17 input" in capsys.readouterr().out
    info = probe_video(anim)
    assert info.fps == pytest.approx(24) and (info.width, info.height) == (960, 540)
    res = read_poses3d_h5(out)
    assert res.attrs["fps"] == pytest.approx(24) and res.attrs["image_width"] == 640
    # --body-height scales the output
    from poselift.core.normalization import body_height

    assert main(["lift", str(mm), "--run", str(run), "--out", str(out), "--image-size", "640x480",
                 "--body-height", "1.6", "--quiet", "--device", "cpu"]) == 0
    (p,) = read_poses3d_h5(out).poses.values()
    assert body_height(p) == pytest.approx(1.6, rel=1e-5)


def test_lift_reads_a_videopose3d_dataset_file(tmp_path):
    run = _run_dir(tmp_path / "runs" / "gt")
    pos = {"S9": {"Walking": [np.random.default_rng(c).uniform(100, 900, (30, 17, 2)).astype(np.float32)
                              for c in range(4)]}}
    meta = {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    npz = tmp_path / "data_2d_h36m_cpn.npz"
    np.savez_compressed(npz, positions_2d=pos, metadata=meta)
    out = tmp_path / "p.h5"
    with pytest.raises(ValueError, match="allow_pickle"):
        main(["--debug", "lift", str(npz), "--run", str(run), "--out", str(out), "--quiet"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafePickleWarning)
        with pytest.raises(ValueError, match=r"holds 4 cameras .*--camera INDEX"):
            main(["--debug", "lift", str(npz), "--run", str(run), "--out", str(out), "--allow-pickle", "--quiet",
                  "--image-size", "1000x1002"])
        assert main(["lift", str(npz), "--run", str(run), "--out", str(out), "--allow-pickle", "--camera", "2",
                     "--image-size", "1000x1002", "--fps", "50", "--quiet", "--device", "cpu"]) == 0
    res = read_poses3d_h5(out)
    (p,) = res.poses.values()
    assert p.shape == (30, 17, 3) and res.attrs["layout_2d"] == "h36m17" and res.attrs["fps"] == 50


def test_a_run_the_files_layout_cannot_reach_is_refused_naming_what_fits(tmp_path):
    coco = _run_dir(tmp_path / "runs" / "vp3d_coco", "coco17", config=False)
    _run_dir(tmp_path / "runs" / "gt27", "h36m17")
    pos = {"S9": {"Walking": [np.random.default_rng(0).uniform(100, 900, (20, 16, 2)).astype(np.float32)]}}
    sh = tmp_path / "data_2d_h36m_sh_pt_mpii.npz"
    np.savez_compressed(sh, positions_2d=pos, metadata={"num_joints": 16, "keypoints_symmetry": [
        [3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafePickleWarning)
        with pytest.raises(LayoutError) as e:
            main(["--debug", "lift", str(sh), "--run", str(coco), "--out", str(tmp_path / "x.h5"), "--allow-pickle",
                  "--image-size", "1000x1000", "--quiet", "--device", "cpu"])
    msg = str(e.value)
    assert "mpii16 keypoints" in msg and "takes coco17 input" in msg and "['mpii16', 'h36m17']" in msg
    assert "gt27 (h36m17)" in msg and "h36m_sh_*.yaml" in msg and "h36m_gt_*.yaml" in msg
    assert not (tmp_path / "x.h5").exists()
    # BodyPoseNet's 18 joints reach a COCO-17 run (every COCO joint is measured by BodyPoseNet)
    from poselift.core.layouts import reachable

    assert reachable("bodyposenet18", "coco17") and reachable("bodypose3dnet34", "coco17")
    assert not reachable("h36m17", "coco17")


def test_compare_takes_the_group_and_refuses_it_without_input(tmp_path, capsys):
    run = _run_dir(tmp_path / "runs" / "gt")
    custom = tmp_path / "data_2d_custom_clip.npz"
    kp = np.random.default_rng(0).uniform(0, 100, (17, 2)) + np.arange(15)[:, None, None] * [2.0, 0] + 200
    np.savez_compressed(custom, positions_2d={"clip.mp4": {"custom": [kp.astype(np.float32)]}},
                        metadata={"layout_name": "coco", "num_joints": 17,
                                  "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
                                  "video_metadata": {"clip.mp4": {"w": 640, "h": 480}}})
    # the issue: compare refused the pickled npz and named --allow-pickle, which it did not accept
    with pytest.raises(ValueError, match="allow_pickle"):
        main(["--debug", "compare", str(run), "--input", str(custom)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafePickleWarning)
        assert main(["compare", str(run), "--input", str(custom), "--allow-pickle", "--device", "cpu"]) == 0
    assert "no ground truth" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"compare: --fps, --layout describe the --input file"):
        main(["--debug", "compare", str(run), "--fps", "30", "--layout", "coco17"])


def test_figures_from_a_2d_file_and_an_unevaluated_run(tmp_path, capsys):
    run = _run_dir(tmp_path / "runs" / "vp3d", "coco17", config=False)
    mm = _mmpose(tmp_path / "mm.json")
    out = tmp_path / "figs"
    assert main(["figures", str(run), "--input", str(mm), "--image-size", "640x480", "--fps", "25", "--out", str(out),
                 "--format", "gif", "--no-progress", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "per_action.png: skipped" in text and "error_over_time.png: skipped" in text
    from PIL import Image

    with Image.open(out / "animation.gif") as im:
        assert im.n_frames == 12


def test_figures_still_is_the_named_frame_and_out_of_range_is_refused(tmp_path, capsys):
    """``figures --still FRAME`` writes the animation's panels at that frame as one PNG (issue 24's rendered frame)."""
    run = _run_dir(tmp_path / "runs" / "vp3d", "coco17", config=False)
    mm = _mmpose(tmp_path / "mm.json")
    out = tmp_path / "figs"
    common = ["--input", str(mm), "--image-size", "640x480", "--fps", "25", "--format", "gif", "--no-progress",
              "--device", "cpu"]
    with pytest.raises(ValueError, match=r"--still 99: .* has frames 0-11"):
        main(["--debug", "figures", str(run), "--out", str(tmp_path / "bad"), "--still", "99", *common])
    assert not (tmp_path / "bad").exists()  # refused before anything was written
    assert main(["figures", str(run), "--out", str(out), "--still", "5", *common]) == 0
    assert "still_5.png: frame 5" in capsys.readouterr().out
    from PIL import Image

    with Image.open(out / "still_5.png") as im:
        still = np.asarray(im.convert("RGB"), np.float64)
    with Image.open(out / "animation.gif") as im:
        gif = []
        for t in (0, 5):
            im.seek(t)
            gif.append(np.asarray(im.convert("RGB"), np.float64))
    assert still.shape == gif[0].shape
    # the still is frame 5 (GIF palettes blur colours a little; frame 0 differs in its title and skeletons)
    assert np.abs(still - gif[1]).mean() < np.abs(still - gif[0]).mean()


def test_write_video_png_holds_exactly_one_frame(tmp_path):
    frame = np.zeros((8, 10, 3), np.uint8)
    frame[2:4, 3:7] = (255, 0, 0)
    assert write_video(tmp_path / "one.png", [frame], fps=25) == 1
    from PIL import Image

    with Image.open(tmp_path / "one.png") as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), frame)
    with pytest.raises(ValueError, match="a .png holds one frame, got 2"):
        write_video(tmp_path / "two.png", [frame, frame], fps=25)
    assert not (tmp_path / "two.png").exists()
