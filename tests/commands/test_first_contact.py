"""Issue 21's first contact with a real dataset and a real clip, replayed on a HumanEva-shaped archive in
VideoPose3D's npz format (``experiments/scripts/synthetic_humaneva.py``) from a user's folder:

* the 2D file named otherwise than the config says: ``--keypoints PATH`` on train/evaluate/compare/figures,
  and the error's hint names it;
* the global options on either side of the command name;
* ``lift`` on the dataset's own 2D file takes its frame rate and image size from the dataset, and
  ``--camera`` takes the names compare/figures print;
* ``table --by subject,action --metric p2`` (VideoPose3D's HumanEva table);
* runs named after their config and what ``--set`` changed (or ``--name``);
* warnings on one line; ``compare`` says when lifters normalise the 2D differently; ``figures --input`` writes
  no test-split per_action.png;
* a run says what it trained on: ``labelled_fraction`` in the protocol's name, the windows counted after it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from poselift.commands import _finish_global_options, build_parser, main
from poselift.experiments.scripts.synthetic_humaneva import takes_of, write_archive

CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "humaneva15_27.yaml"
TINY = ["model.widths=[3]", "model.channels=16", "train.epochs=1", "train.batch_size=64", "eval.eval_every=0",
        "device=cpu"]
SETS = [x for s in TINY for x in ("--set", s)]
TAKE = "Walking 1 chunk0"


@pytest.fixture(scope="module")
def he(tmp_path_factory):
    """The archive in data/, its 2D file moved to mine/ under another name, and one run trained from a user's
    folder with ``--keypoints`` and the global options after the command name."""
    root = tmp_path_factory.mktemp("first_contact")
    data = root / "data"
    pos3d = write_archive(data)
    (root / "mine").mkdir()
    kp = root / "mine" / "my_humaneva_2d.npz"
    shutil.move(data / "data_2d_humaneva15_gt.npz", kp)
    run = root / "runs" / "image"
    cwd = os.getcwd()
    os.chdir(root)
    try:
        rc = main(["train", str(CONFIG), "--data", str(data / "data_3d_humaneva15.npz"), "--keypoints", str(kp),
                   "--out", str(run), *SETS, "--threads", "1", "--quiet"])
    finally:
        os.chdir(cwd)
    assert rc == 0
    return {"root": root, "data": data, "kp": kp, "run": run, "pos3d": pos3d}


def test_keypoints_option_and_the_hint_that_names_it(he, tmp_path, capsys):
    d3 = str(he["data"] / "data_3d_humaneva15.npz")
    assert main(["train", str(CONFIG), "--data", d3, "--out", str(tmp_path / "r"), *SETS]) == 1
    err = capsys.readouterr().err
    assert "data.keypoints_path not found" in err and "--keypoints PATH" in err, err
    assert not (tmp_path / "r").exists()
    # the run recorded the file it read; moved elsewhere, evaluate finds it again with --keypoints
    recorded = yaml.safe_load((he["run"] / "config.yaml").read_text())["data"]["keypoints_path"]
    assert Path(recorded) == he["kp"].resolve()
    moved = tmp_path / "elsewhere.npz"
    shutil.copy(he["kp"], moved)
    run = tmp_path / "run"
    shutil.copytree(he["run"], run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["data"]["keypoints_path"] = str(tmp_path / "gone.npz")
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["evaluate", str(run), "--no-progress"]) == 1
    assert "--keypoints PATH" in capsys.readouterr().err
    before = json.loads((he["run"] / "metrics.json").read_text())
    assert main(["evaluate", str(run), "--keypoints", str(moved), "--no-progress"]) == 0
    after = json.loads((run / "metrics.json").read_text())
    assert after["p_mpjpe"] == pytest.approx(before["p_mpjpe"], abs=1e-6)
    # --keypoints where the 2D come from elsewhere (Human3.6M's data.keypoints) is refused, not ignored
    assert main(["train", str(CONFIG.with_name("h36m_gt_27.yaml")), "--keypoints", str(moved),
                 "--out", str(tmp_path / "h"), "--set", "train.epochs=1"]) == 1
    assert "--keypoints PATH is the 2D file of a VideoPose3D-format dataset" in capsys.readouterr().err
    # with --input the test-split options would be ignored: refused
    assert main(["compare", str(he["run"]), "--input", str(moved), "--keypoints", str(moved)]) == 1
    assert "--keypoints choose the runs' test split" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["train", "c.yaml", "--threads", "1"], {"threads": 1, "device": None, "quiet": False, "no_progress": False}),
    (["--threads", "2", "train", "c.yaml"], {"threads": 2}),
    (["--threads", "2", "detect", "v.mp4", "--model", "m", "--out", "o"], {"threads": 2}),
    (["detect", "v.mp4", "--model", "m", "--out", "o", "--threads", "3"], {"threads": 3}),
    (["--device", "cpu", "lift", "k", "--run", "r", "--out", "o"], {"device": "cpu"}),
    (["lift", "k", "--run", "r", "--out", "o"], {"device": "auto", "quiet": False}),
    (["demo"], {"device": "cpu"}),  # each command keeps its own default
    (["demo", "--device", "auto"], {"device": "auto"}),
    (["--quiet", "evaluate", "run"], {"quiet": True, "no_progress": True}),
    (["evaluate", "run", "--quiet", "--device", "cpu"], {"quiet": True, "no_progress": True, "device": "cpu"}),
    (["lift", "k", "--run", "r", "--out", "o", "--quiet"], {"quiet": True}),
    (["--quiet", "lift", "k", "--run", "r", "--out", "o"], {"quiet": True}),
    (["table", "run", "--debug"], {"debug": True}),
    (["--debug", "prepare", "h36m", "--source", "x"], {"debug": True}),
    (["prepare", "h36m", "--source", "x", "--threads", "4"], {"threads": 4}),
])
def test_global_options_on_either_side_of_the_command(argv, expected):
    args = build_parser().parse_args(argv)
    _finish_global_options(args)
    for k, v in expected.items():
        assert getattr(args, k) == v, (argv, k)


def test_device_for_a_command_without_a_model_is_refused(capsys):
    assert main(["table", "run", "--device", "cuda"]) == 1
    assert "--device: table runs no torch model" in capsys.readouterr().err


def test_runs_are_named_after_config_and_overrides(he, tmp_path):
    from poselift.commands.train import folder_name, run_name

    metrics = json.loads((he["run"] / "metrics.json").read_text())
    assert metrics["name"] == "humaneva15_27[" + ",".join(t for t in TINY if t != "device=cpu") + "]"
    assert (he["run"] / "table.md").read_text().startswith(f"**{metrics['name']}: receptive field 3")
    assert run_name("c", None) == "c" and run_name("c", ["a=1"], "mine") == "mine"
    # --set name=X is the name, not one more override to append to it (X[...,name=X] named the run twice)
    assert run_name("x", ["data.normalization=torso", "name=x"]) == "x"
    assert run_name("x", ["name=x"], "mine") == "mine"
    with pytest.raises(ValueError, match="--set name= must not be empty"):
        run_name("c", ["name= "])
    assert run_name("c", ["device=cuda", "train.progress=false"]) == "c"
    assert folder_name("h36m_gt_27_reduced[model.widths=[1,1,1]]") == "h36m_gt_27_reduced_model.widths=_1_1_1"


@pytest.fixture(scope="module")
def torso(he):
    """A second run that normalises its 2D by the torso, named with --name."""
    run = he["root"] / "runs" / "torso"
    assert main(["train", str(CONFIG), "--data", str(he["data"] / "data_3d_humaneva15.npz"), "--keypoints",
                 str(he["kp"]), "--out", str(run), *SETS, "--set", "data.normalization=torso", "--name", "torso run",
                 "--quiet"]) == 0
    return run


def test_table_metric_per_subject_and_action(he, torso, capsys):
    capsys.readouterr()
    assert main(["table", str(he["run"]), str(torso), "--by", "subject,action", "--metric", "p2"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| Method"))
    assert "Walking Validate/S1 P2" in header and " P1 |" not in header.split("N-MPJPE (mm)")[1]
    m = json.loads((torso / "metrics.json").read_text())
    row = next(line for line in out.splitlines() if line.startswith("| torso run |")).strip("| ").split(" | ")
    cells = dict(zip([h.strip() for h in header.strip("| ").split(" | ")], row))
    for s, by_action in m["per_subject_action"].items():
        for a, v in by_action.items():
            assert cells[f"{a} {s} P2"] == f"{v['p_mpjpe']:.1f}"
    assert main(["table", str(torso), "--metric", "mpjve"]) == 1  # no --by: the metric would choose nothing
    assert "--metric chooses" in capsys.readouterr().err


def test_compare_says_when_the_runs_normalise_differently(he, torso, capsys):
    capsys.readouterr()
    assert main(["compare", str(he["run"]), str(torso)]) == 0
    out = capsys.readouterr().out
    assert f"| {he['run'].name} (rf 3, 2D normalised by the image width) |" in out
    assert f"| {torso.name} (rf 3, 2D normalised by the torso) |" in out
    assert "_The lifters differ in 2D normalised by: image: the image width; torso: the torso._" in out
    assert main(["compare", str(he["run"]), str(he["run"])]) == 0
    assert "normalised" not in capsys.readouterr().out  # alike: nothing said


def _lift(he, out, *extra):
    return ["lift", str(he["kp"]), "--run", str(he["run"]), "--out", str(out), "--allow-pickle", "--subject",
            "Validate/S2", "--action", TAKE, *extra]


def test_lift_takes_frame_rate_size_and_camera_names_from_the_dataset(he, tmp_path, capsys):
    assert main(_lift(he, tmp_path / "a.h5", "--camera", "C2")) == 0
    r = capsys.readouterr()
    assert "camera C2 is index 1" in r.err and "60 frames/s" in r.err and "image size 640x480" in r.err
    assert "60 frames/s" in r.out
    # the same as the index with the values given by hand
    assert main(_lift(he, tmp_path / "b.h5", "--camera", "1", "--fps", "60", "--image-size", "640x480")) == 0
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        names = []
        a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert names
        for n in names:
            np.testing.assert_array_equal(a[n][()], b[n][()])
    capsys.readouterr()
    assert main(_lift(he, tmp_path / "c.h5", "--camera", "C9")) == 1
    assert capsys.readouterr().err.strip().endswith("--camera C9: no such camera; the dataset's cameras: C1, C2, C3")


@pytest.mark.slow
def test_warnings_are_one_line(he, tmp_path):
    """Through the installed entry point: Python's format would add the source line that warned."""
    r = subprocess.run([sys.executable, "-m", "poselift", *_lift(he, tmp_path / "a.h5", "--camera", "C2")],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "POSELIFT_THREADS": "1"},
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warning = [line for line in r.stderr.splitlines() if "allow_pickle" in line]
    assert len(warning) == 1 and warning[0].startswith("poselift lift: warning: "), r.stderr
    assert warning[0].endswith("(UnsafePickleWarning)")
    assert not any(line.startswith(" ") for line in r.stderr.splitlines()), r.stderr


def test_camera_name_for_a_file_outside_the_dataset_is_refused(he, tmp_path, capsys):
    other = tmp_path / "other.npz"
    with np.load(he["kp"], allow_pickle=True) as f:
        np.savez(other, positions_2d=f["positions_2d"], metadata=f["metadata"], extra=np.zeros(3))
    assert main(["lift", str(other), "--run", str(he["run"]), "--out", str(tmp_path / "o.h5"), "--allow-pickle",
                 "--subject", "Validate/S2", "--action", TAKE, "--camera", "C2"]) == 1
    assert "a camera name is known only for a file of the run's dataset" in capsys.readouterr().err


def test_figures_of_a_clip_write_no_test_split_bars(he, tmp_path, capsys):
    out = tmp_path / "clip"
    assert main(["figures", str(he["run"]), "--input", str(he["kp"]), "--allow-pickle", "--subject", "Validate/S1",
                 "--action", TAKE, "--camera", "C1", "--out", str(out), "--frames", "3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "per_action.png: skipped (--input" in printed
    assert sorted(p.name for p in out.iterdir()) == ["animation.gif"]


def test_a_run_says_what_it_trained_on(he, tmp_path):
    run = tmp_path / "half"
    assert main(["train", str(CONFIG), "--data", str(he["data"] / "data_3d_humaneva15.npz"), "--keypoints",
                 str(he["kp"]), "--out", str(run), *SETS, "--set", "data.labelled_fraction=0.5", "--quiet"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["protocol"]["name"] == "humaneva-vp3d[labelled_fraction=0.5]"
    # independently: VideoPose3D's rule keeps round(T * 0.5) frames of each protocol take, for each of 3 cameras
    expected = 3 * sum(int(round(n * 0.5)) for s in ("Train/S1", "Train/S2", "Train/S3")
                       for take, n in takes_of(s).items() if take.split()[0] in ("Walking", "Jog", "Box"))
    full = 3 * sum(n for s in ("Train/S1", "Train/S2", "Train/S3") for take, n in takes_of(s).items()
                   if take.split()[0] in ("Walking", "Jog", "Box"))
    assert json.loads((run / "run.json").read_text())["train_windows"] == expected
    note = next(n for n in m["notes"] if n.startswith("Labelled subset"))
    assert f"{expected:,} training windows of the {full:,} frames" in note
    assert "Training actions: Walk, Jog, Box only." in m["notes"]


def test_protocol_variants_drop_reference_counts_they_do_not_share():
    from poselift.datasets.protocols import get_protocol
    from poselift.experiments.data import _report_notes

    vp3d = get_protocol("h36m-vp3d")
    sub = vp3d.variant(labelled_fraction=0.043)
    assert sub.name == "h36m-vp3d[labelled_fraction=0.043]"
    assert sub.reference_train_windows is None and sub.reference_test_frames == vp3d.reference_test_frames
    walk = vp3d.variant(actions=("Walk",))
    assert walk.reference_train_windows is None and walk.reference_test_frames is None
    flip = vp3d.variant(flip_mode="off")  # same windows, other epoch: the counts still apply
    assert flip.reference_train_windows == vp3d.reference_train_windows
    notes = _report_notes({"train": {"unit": "windows", "present": 1_464_400, "reference": 1_559_752,
                                     "missing_takes": [], "missing": 0, "unexplained": 95_352}})
    assert notes == ["The train set has 1,464,400 windows, the protocol's reference count 1,559,752: 95,352 "
                     "windows differ unexplained."]
