"""Cross-dataset evaluation: a run tested on another dataset's test split, over the joints both share.

A Human3.6M-layout run (trained on the synthetic data, which is in h36m17) is evaluated on the synthetic
HumanEva-shaped archive (experiments/scripts/synthetic_humaneva.py) through the h36m17-on-humaneva15
correspondence; a run evaluated "cross-dataset" on its own data (identity correspondence) gives its ordinary
numbers exactly, on the synthetic data and on Human3.6M itself.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import h36m_or_skip

from poselift.commands import main
from poselift.core.layouts import H36M17, HUMANEVA15, get_correspondence
from poselift.core.sequence import PoseSequence
from poselift.datasets.protocols import get_protocol
from poselift.experiments.cross_dataset import score_shared
from poselift.experiments.scripts.synthetic_humaneva import write_archive
from poselift.experiments.tables import Row, render_table

TINY = {"name": "syn", "device": "cpu", "seed": 0,
        "data": {"dataset": "synthetic", "synthetic": {"subjects": 1, "test_subjects": 1, "num_frames": 60,
                                                       "test_num_frames": 60, "motions": ["walk", "box"]}},
        "model": {"widths": [3, 3], "channels": 16}, "train": {"epochs": 1, "batch_size": 64},
        "eval": {"eval_every": 0}}
METRIC_KEYS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("humaneva") / "data"
    write_archive(folder)
    return folder / "data_3d_humaneva15.npz"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny h36m17 run (synthetic data, one epoch)."""
    folder = tmp_path_factory.mktemp("cross")
    (folder / "syn.yaml").write_text(yaml.safe_dump(TINY))
    out = folder / "run"
    assert main(["train", str(folder / "syn.yaml"), "--out", str(out), "--no-progress"]) == 0
    return out


def _humaneva_sequences(rng, subjects=("Validate/S1", "Validate/S2"), takes=("Walking 1 chunk0", "Jog 1 chunk0")):
    seqs = []
    for s in subjects:
        for a in takes:
            t = int(rng.integers(20, 40))
            p3 = rng.normal(scale=0.3, size=(t, 15, 3)) + np.array([0, 0, 4.0])
            seqs.append(PoseSequence(rng.normal(size=(t, 15, 2)) * 50 + 300, "humaneva15", poses3d=p3,
                                     layout3d="humaneva15", image_size=(640, 480), subject=s, action=a,
                                     camera_id="C1"))
    return seqs


def test_scores_are_over_the_shared_joints_per_subject_and_action_against_numpy():
    """Protocol 1 per subject x action cell and their mean, the differently defined joints' distances and the
    shoulder-width ratio, against a plain numpy computation."""
    rng = np.random.default_rng(3)
    seqs = _humaneva_sequences(rng)
    corr = get_correspondence("h36m17", "humaneva15")
    protocol = get_protocol("humaneva-vp3d")  # raw root rule, per subject and action
    preds = []
    for s in seqs:
        p = rng.normal(scale=0.3, size=(len(s), 17, 3))  # spine and neck/nose: anything, never scored
        tgt = s.root_relative_3d()
        for name in HUMANEVA15.joints:
            if name in H36M17.joints:
                p[:, H36M17.index(name)] = tgt[:, HUMANEVA15.index(name)] + rng.normal(scale=0.02, size=(len(s), 3))
        p[:, H36M17.index("head_top")] = tgt[:, HUMANEVA15.index("head")] + [0.0, -0.1, 0.0]  # 100 mm off
        preds.append(p)
    m = score_shared(preds, seqs, corr, protocol)
    names = [a for a, _ in corr.shared]
    cells = {}
    for p, s in zip(preds, seqs):
        tgt = s.root_relative_3d()
        run_idx, data_idx = [H36M17.index(n) for n in names], [HUMANEVA15.index(n) for n in names]
        d = np.linalg.norm(p[:, run_idx] - tgt[:, data_idx], axis=-1)
        cells[(s.subject, protocol.action_of(s.action))] = d.mean() * 1000  # one sequence per cell here
    for (subject, action), v in cells.items():
        assert m["per_subject_action"][subject][action]["mpjpe"] == pytest.approx(v, rel=1e-9)
    assert m["mpjpe"] == pytest.approx(np.mean(list(cells.values())), rel=1e-9)
    assert m["differently_defined"]["head_top/head"]["mean_mm"] == pytest.approx(100.0, rel=1e-6)
    assert set(m["per_joint"]) == set(names)
    ratio = np.concatenate([
        np.linalg.norm(p[:, H36M17.index("left_shoulder")] - p[:, H36M17.index("right_shoulder")], axis=-1)
        / np.linalg.norm(s.root_relative_3d()[:, 2] - s.root_relative_3d()[:, 5], axis=-1)
        for p, s in zip(preds, seqs)]).mean()
    assert m["segment_ratios"]["shoulder width"] == pytest.approx(ratio, rel=1e-9)


def test_a_h36m_run_on_the_humaneva_shaped_archive_through_every_command(run, archive, tmp_path, capsys):
    own = (run / "metrics.json").read_text()
    on = ["--on", "humaneva", "--data", str(archive)]
    assert main(["evaluate", str(run), *on, "--no-progress"]) == 0
    assert (run / "metrics.json").read_text() == own  # the run's own numbers are not touched
    m = json.loads((run / "cross" / "humaneva15_27" / "metrics.json").read_text())
    assert m["cross_dataset"] and m["dataset"] == "npz:data_3d_humaneva15.npz"
    assert m["protocol"]["name"] == "humaneva-vp3d" and m["averaging"] == "subject_action"
    assert m["joints"]["label"] == "12 shared joints" and m["joints"]["count"] == 12
    assert m["metric_labels"]["p_mpjpe"] == "P2 (12 shared joints)"
    assert {tuple(p[:2]) for p in m["joints"]["differently_defined"]} == {("left_hip", "left_hip"),
                                                                           ("right_hip", "right_hip"),
                                                                           ("head_top", "head")}
    assert set(m["per_subject_action"]) == {"Validate/S1", "Validate/S2", "Validate/S3"}
    assert all(set(c) == {"Walking", "Jog", "Box"} for c in m["per_subject_action"].values())
    cells = [c["p_mpjpe"] for by in m["per_subject_action"].values() for c in by.values()]
    assert m["p_mpjpe"] == pytest.approx(np.mean(cells)) and np.isfinite(m["p_mpjpe"])
    assert any("60 fps" in n for n in m["notes"])  # synthetic data is 50 fps, the archive 60
    assert "P2 (12 shared joints) mm" in (run / "cross" / "humaneva15_27" / "table.md").read_text()
    capsys.readouterr()

    assert main(["table", str(run), *on, "--by", "subject,action", "--out", str(tmp_path / "t.md")]) == 0
    table = (tmp_path / "t.md").read_text()
    assert "P2 (12 shared joints, mm)" in table and "Box Validate/S3" in table and "humaneva-vp3d" in table
    assert main(["table", str(run), *on, "--format", "csv"]) == 0
    assert "12 shared joints" in capsys.readouterr().out

    # a table --shared-with h36m17 takes this run's plain result: it is already over those 12 joints
    assert main(["table", str(run), *on, "--shared-with", "h36m17"]) == 0
    assert "P1 (12 shared joints, mm)" in capsys.readouterr().out

    assert main(["compare", str(run), *on, "--out", str(tmp_path / "cmp.json")]) == 0
    out = capsys.readouterr().out
    assert "P1 (12 shared joints, mm)" in out
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp["joints"]["label"] == "12 shared joints"
    assert all(np.isfinite(r["mpjpe"]) for r in cmp["methods"].values())


def test_a_run_on_its_own_data_through_the_identity_gives_its_ordinary_numbers_exactly(run):
    assert main(["evaluate", str(run), "--on", str(run / "config.yaml"), "--no-progress"]) == 0
    own = json.loads((run / "metrics.json").read_text())
    cross = json.loads((run / "cross" / "syn" / "metrics.json").read_text())
    assert cross["joints"]["label"] == "all 17 joints" and not cross["cross_dataset"]
    for k in METRIC_KEYS:
        assert cross[k] == own[k]
    assert cross["per_action"] == own["per_action"] and cross["per_subject_action"] == own["per_subject_action"]


def test_a_run_on_its_own_data_scored_over_the_joints_another_layout_shares(run):
    """``--shared-with humaneva15``: the synthetic h36m17 run on its own test split over the 12 joints a HumanEva-I
    run would be scored on, against numpy (frames pooled per action, then the mean over actions)."""
    from poselift.experiments.cross_dataset import lifter_for
    from poselift.experiments.data import load_splits

    assert main(["evaluate", str(run), "--on", str(run / "config.yaml"), "--shared-with", "humaneva15",
                 "--no-progress"]) == 0
    m = json.loads((run / "cross" / "syn.shared-humaneva15" / "metrics.json").read_text())
    twelve = [b for _, b in get_correspondence("humaneva15", "h36m17").shared]
    assert m["joints"]["label"] == "12 shared joints" and sorted(m["joints"]["data_joints"]) == sorted(twelve)
    lifter, cfg = lifter_for(run)
    splits = load_splits(cfg, progress=False, test_only=True)
    lifter.root_relative = splits.protocol.root == "subtract"
    idx = [H36M17.index(n) for n in twelve]
    by_action = {}
    for p, s in zip(lifter.lift_all(splits.test), splits.test):
        if splits.protocol.root == "subtract":
            p = p - p[:, :1]
        d = np.linalg.norm(p[:, idx] - s.root_relative_3d()[:, idx], axis=-1).mean(-1)
        by_action.setdefault(splits.protocol.action_of(s.action), []).append(d)
    ref = np.mean([np.concatenate(v).mean() for v in by_action.values()]) * 1000
    assert m["mpjpe"] == pytest.approx(ref, rel=1e-6)
    own = json.loads((run / "metrics.json").read_text())
    assert m["mpjpe"] != own["mpjpe"]


def test_what_cannot_be_done_says_why(run, archive, tmp_path):
    with pytest.raises(ValueError, match="not a config file.*known"):
        main(["evaluate", str(run), "--on", "nowhere", "--debug"])
    with pytest.raises(FileNotFoundError, match="not evaluated on"):
        main(["table", str(tmp_path), "--on", "humaneva", "--debug"])
    with pytest.raises(ValueError, match="goes with --on"):
        main(["evaluate", str(run), "--shared-with", "h36m17", "--debug"])
    mixed = [Row("a", 1.0, 1.0, joints="12 shared joints"), Row("b", 1.0, 1.0)]
    with pytest.raises(ValueError, match="different joints"):
        render_table(mixed)
    with pytest.raises(ValueError, match="anchors"):
        render_table([Row("a", 1.0, 1.0, joints="12 shared joints"), Row("p", 1.0, 1.0, reference=True)])


@pytest.mark.slow
def test_a_h36m_run_on_human36m_itself_through_the_identity_gives_its_ordinary_numbers_exactly(tmp_path):
    root = h36m_or_skip()
    cfg = {"name": "h36m_tiny", "device": "cpu", "seed": 0,
           "data": {"dataset": "h36m", "path": str(root), "keypoints": "gt", "train_subjects": ["S1"],
                    "test_subjects": ["S9"], "actions": ["Walking"]},
           "model": {"widths": [3, 3], "channels": 16},
           "train": {"epochs": 1, "batch_size": 256, "windows_per_epoch": 2000}, "eval": {"eval_every": 0}}
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "h.yaml"), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--on", str(run / "config.yaml"), "--no-progress"]) == 0
    own = json.loads((run / "metrics.json").read_text())
    cross = json.loads((run / "cross" / "h36m_tiny" / "metrics.json").read_text())
    assert own["protocol"]["name"].startswith("h36m-vp3d") and own["frames"] > 1000
    for k in METRIC_KEYS:
        assert cross[k] == own[k]
    assert cross["per_action"] == own["per_action"]


def test_the_line_fit_recovers_a_known_placement():
    from poselift.experiments.scripts.cross_joint_placement import fit_weight

    rng = np.random.default_rng(0)
    poses = rng.normal(size=(200, 17, 3))
    i = H36M17.index
    poses[:, i("spine")] = poses[:, i("pelvis")] + 0.3 * (poses[:, i("thorax")] - poses[:, i("pelvis")])
    assert fit_weight(poses, "spine", "pelvis", "thorax") == pytest.approx(0.3)


@pytest.mark.slow
def test_the_placement_errors_the_conversion_documents_hold_on_human36m():
    """The numbers in the humaneva15 -> h36m17 notes (median 32.6 mm spine, 59.3 mm neck/nose at every 5th
    frame) recomputed at every 25th frame, and the least-squares weights near the registered ones."""
    from poselift.datasets import h36m
    from poselift.experiments.scripts.cross_joint_placement import (
        LINES,
        TEST,
        TRAIN,
        _stack,
        body_measures,
        fit_weight,
        placement_errors,
        registered_weight,
    )

    data = h36m.load(h36m_or_skip(), subjects=TRAIN + TEST)
    train = _stack(data, TRAIN, 25)
    weights = {j: registered_weight(j) for j in LINES}
    for j in LINES:
        assert abs(fit_weight(train, j, *LINES[j]) - weights[j]) < 0.01
    r = placement_errors(data, weights, TEST, 25)
    assert r["spine"]["median_mm"] == pytest.approx(32.6, abs=1.5)
    assert r["neck_nose"]["median_mm"] == pytest.approx(59.3, abs=1.5)
    assert body_measures(data, TEST, 25)["hip_width_mm"] == pytest.approx(260.6, abs=2)
