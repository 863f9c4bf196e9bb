"""A dataset poselift has never seen goes through every command with a config file and no Python glue.

The archive is written here in VideoPose3D's npz format (pickled dicts), shaped like HumanEva-I: 15 joints,
subjects ``Train/S1..S3`` and ``Validate/S1..S3``, takes cut into chunks of unequal length (some shorter than
the receptive field), three cameras per subject given as quaternions (the shipped ``humaneva_cameras.yaml``,
VideoPose3D's extrinsics). The shipped config ``humaneva15_27.yaml`` is used as it is, shrunk by ``--set``.
Then the same through ``data.loader``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from poselift.commands import main
from poselift.experiments.scripts.synthetic_humaneva import project, world_to_camera, write_archive

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"
TINY = ["model.channels=32", "train.epochs=2", "train.batch_size=64", "eval.eval_every=1", "eval.monitor_frames=50",
        "device=cpu"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("humaneva") / "data"
    return folder, write_archive(folder)


def test_the_archive_is_read_as_the_cameras_say(archive):
    """3D in camera coordinates equals this test's own transform of the world 3D (scipy's quaternions), the 2D
    is the archive's (trimmed to the mocap), the protocol's actions and subjects are kept and nothing else."""
    from poselift.experiments.config import apply_overrides, load_config
    from poselift.experiments.data import load_splits

    folder, pos3d = archive
    cfg = apply_overrides(load_config(CONFIGS / "humaneva15_27.yaml"),
                          [f"data.path={folder / 'data_3d_humaneva15.npz'}"])
    splits = load_splits(cfg, progress=False)
    cams = yaml.safe_load((CONFIGS / "humaneva_cameras.yaml").read_text())["cameras"]
    assert splits.layout_in == "humaneva15" and splits.layout_out == "humaneva15"
    assert {s.subject for s in splits.train} == {"Train/S1", "Train/S2", "Train/S3"}
    assert {s.subject for s in splits.test} == {"Validate/S1", "Validate/S2", "Validate/S3"}
    assert not any(s.action.startswith("ThrowCatch") for s in splits.train + splits.test)
    assert len(splits.test) == 3 * 4 * 3  # subjects x takes x cameras
    for seq in splits.test + splits.train:
        world = pos3d[seq.subject][seq.action]
        cam = cams[seq.subject.split("/")[1]][["C1", "C2", "C3"].index(seq.camera_id)]
        R, t = world_to_camera(cam)
        np.testing.assert_allclose(seq.poses3d, (world.astype(np.float64) - t) @ R.T, atol=2e-5)
        assert seq.keypoints.shape == (len(world), 15, 2)
        np.testing.assert_allclose(seq.keypoints, project(world, cam), rtol=1e-5, atol=1e-2)
        assert seq.fps == 60 and seq.image_size == (640, 480)
        assert (seq.poses3d[..., 2] > 2.0).all()  # in front of every camera: the quaternion convention holds
    assert splits.protocol.name == "humaneva-vp3d" and splits.protocol.averaging == "subject_action"


def test_train_evaluate_compare_table_figures_reproduce_through_the_command_line(archive, tmp_path, capsys,
                                                                                 monkeypatch):
    folder, _ = archive
    monkeypatch.chdir(tmp_path)  # the run folder must work from anywhere: run the later commands elsewhere
    run, run1 = tmp_path / "runs" / "he27", tmp_path / "runs" / "he1"
    data = ["--data", str(folder / "data_3d_humaneva15.npz")]  # the 2D file is found next to it
    sets = [x for s in TINY for x in ("--set", s)]
    assert main(["train", str(CONFIGS / "humaneva15_27.yaml"), "--out", str(run), *data, *sets, "--no-progress"]) == 0
    assert main(["train", str(CONFIGS / "humaneva15_27.yaml"), "--out", str(run1), *data, *sets,
                 "--set", "model.widths=[1,1,1]", "--no-progress"]) == 0
    capsys.readouterr()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"].startswith("npz:data_3d_humaneva15.npz")
    assert metrics["protocol"]["name"] == "humaneva-vp3d"
    cells = metrics["per_subject_action"]
    assert set(cells) == {"Validate/S1", "Validate/S2", "Validate/S3"}
    assert all(set(by_action) == {"Walking", "Jog", "Box"} for by_action in cells.values())
    # the HumanEva average is the mean over the subject x action cells
    assert metrics["p_mpjpe"] == pytest.approx(np.mean([c["p_mpjpe"] for b in cells.values() for c in b.values()]))
    recorded = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert Path(recorded["path"]).is_absolute() and Path(recorded["keypoints_path"]).is_absolute()

    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    again = json.loads((run / "metrics.json").read_text())
    assert again["p_mpjpe"] == pytest.approx(metrics["p_mpjpe"], abs=1e-9)
    assert list(run.glob("metrics.*.json"))  # the replaced metrics are kept

    assert main(["compare", str(run1), str(run), "--out", str(other / "cmp.json")]) == 0
    out = capsys.readouterr().out
    assert "he27" in out and "he1" in out
    cmp = json.loads((other / "cmp.json").read_text())
    assert json.dumps(cmp)  # numbers written

    assert main(["table", str(run1), str(run), "--by", "subject,action", "--out", str(other / "table.md")]) == 0
    table = (other / "table.md").read_text()
    assert "humaneva-vp3d" in table and "npz:data_3d_humaneva15.npz" in table
    for name in ("Walking", "Jog", "Box", "Validate/S1", "Validate/S3"):
        assert name in table
    assert "h36m" not in table.lower()

    assert main(["figures", str(run1), str(run), "--out", str(other / "fig"), "--frames", "20", "--no-progress"]) == 0
    assert {"per_action.png", "error_over_time.png", "animation.gif"} <= {p.name for p in (other / "fig").iterdir()}

    assert main(["reproduce", str(run), "--out", str(other / "again"), "--no-progress"]) == 0
    assert json.loads((other / "again" / "reproduce.json").read_text())["identical"]


LOADER = '''
import numpy as np
from poselift.core.sequence import PoseSequence


def load(root, frames):
    """Two labs' subjects: a 2D track and its 3D per take (camera coordinates, metres)."""
    from poselift.datasets.synthetic import make_dataset
    seqs = make_dataset(3, ["walk", "box"], 1, frames, seed=int(root))
    train = [s for s in seqs if s.subject != seqs[-1].subject]
    test = [s for s in seqs if s.subject == seqs[-1].subject]
    return {"train": train, "test": test}
'''


def test_a_loader_hook_dataset_goes_through_the_same_commands(tmp_path, capsys, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mylab.py").write_text(LOADER)
    cfg = {"name": "mylab", "device": "cpu",
           "data": {"dataset": "loader", "loader": "mylab.py:load", "loader_args": {"root": 3, "frames": 90}},
           "model": {"widths": [3, 3], "channels": 32},
           "train": {"epochs": 2, "batch_size": 64}, "eval": {"eval_every": 1, "monitor_frames": 50}}
    (tmp_path / "cfg" / "mylab.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "runs" / "mylab"
    monkeypatch.chdir(tmp_path)
    assert main(["train", "cfg/mylab.yaml", "--out", str(run), "--no-progress"]) == 1  # code not allowed
    assert "mylab.py" in capsys.readouterr().err and not run.exists()
    assert main(["train", "cfg/mylab.yaml", "--out", str(run), "--no-progress", "--allow-code"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"] == f"loader:{(tmp_path / 'cfg' / 'mylab.py').resolve()}:load"
    assert metrics["protocol"]["name"] == "custom"
    monkeypatch.chdir(tmp_path / "runs")  # the recorded loader path is absolute
    assert main(["evaluate", str(run), "--no-progress"]) == 1  # a run folder runs no code unless allowed
    assert "would run code" in capsys.readouterr().err
    monkeypatch.setenv("POSELIFT_ALLOW_CODE", "1")  # the same for the rest of the commands
    assert main(["evaluate", str(run), "--no-progress"]) == 0
    assert main(["compare", str(run)]) == 0
    assert main(["table", str(run), "--by", "subject,action"]) == 0
    out = capsys.readouterr().out
    assert "mylab" in out
    assert main(["figures", str(run), "--out", str(tmp_path / "fig"), "--frames", "10", "--no-progress"]) == 0
    assert main(["reproduce", str(run), "--out", str(tmp_path / "again"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "again" / "reproduce.json").read_text())["identical"]
