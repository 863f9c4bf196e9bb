"""Configs, the protocol's averaging, run folders, the demo end to end."""
import json

import numpy as np
import pytest

from poselift.commands import main
from poselift.experiments.config import apply_overrides, config_from_dict, dump_config, load_config
from poselift.experiments.evaluation import SequenceErrors, canonical_action, summarize


def test_canonical_action_merges_takes():
    assert canonical_action("Walking 1") == "Walking"
    assert canonical_action("Walking_1") == "Walking"
    assert canonical_action("WalkDog") == "WalkDog"
    assert canonical_action("jumping_jacks") == "jumping_jacks"


def _errs(subject, action, values):
    v = np.asarray(values, float)
    return SequenceErrors(subject, action, "c", v, v / 2, v, v[1:])


def test_per_action_averaging_known_answer():
    # Walking: frames pooled across takes/subjects: (10+10+10 + 40) / 4 = 17.5
    # Eating: 30; overall = mean of actions = (17.5 + 30) / 2 = 23.75 (frame-weighted would be 20.8)
    errs = [_errs("S9", "Walking", [10, 10, 10]), _errs("S11", "Walking 1", [40]), _errs("S9", "Eating", [30, 30])]
    s = summarize(errs, notes=["note"])
    assert s["per_action"]["Walking"]["mpjpe"] == pytest.approx(17.5)
    assert s["per_action"]["Walking"]["frames"] == 4
    assert s["mpjpe"] == pytest.approx(23.75)
    assert s["p_mpjpe"] == pytest.approx(23.75 / 2)
    assert s["actions"] == 2 and s["frames"] == 6 and s["notes"] == ["note"]
    # per subject: S9 = mean(Walking 10, Eating 30) = 20; S11 = 40
    assert s["per_subject"]["S9"]["mpjpe"] == pytest.approx(20.0)
    assert s["per_subject"]["S11"]["mpjpe"] == pytest.approx(40.0)


def test_config_validation_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nseed: 3\nmodel: {widths: [3, 3], channels: 64}\ntrain: {epochs: 2}\n")
    cfg = load_config(p)
    assert cfg.model.widths == [3, 3] and cfg.train.epochs == 2 and cfg.train.seed == 3
    cfg2 = apply_overrides(cfg, ["train.epochs=5", "model.causal=true", "seed=7"])
    assert cfg2.train.epochs == 5 and cfg2.model.causal is True and cfg2.train.seed == 7
    assert config_from_dict(__import__("yaml").safe_load(dump_config(cfg2))).train.epochs == 5
    p.write_text("model: {widht: [3]}\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['widht'\]"):
        load_config(p)
    p.write_text("train: {epochs: many}\n")
    with pytest.raises(ValueError, match="train.epochs: expected an integer"):
        load_config(p)
    with pytest.raises(ValueError, match="unknown key"):
        apply_overrides(cfg, ["train.epoch=5"])
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_demo_end_to_end_quick(tmp_path):
    from poselift.experiments.demo import run_demo

    run_demo(tmp_path / "demo", quick=True, progress=False, verbose=False)
    for f in ("metrics.json", "table.md", "figure.png", "single_frame/checkpoint.pt", "temporal/metrics.json",
              "temporal/config.yaml", "temporal/run.json", "temporal/log.csv"):
        assert (tmp_path / "demo" / f).exists(), f
    m = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    for key in ("single_frame", "temporal"):
        assert 0 < m[key]["p_mpjpe"] < m[key]["mpjpe"] < 1000
    table = (tmp_path / "demo" / "table.md").read_text()
    assert "single-frame (rf 1)" in table and "temporal (rf 27)" in table and "P2 (mm)" in table
    run = json.loads((tmp_path / "demo" / "temporal" / "run.json").read_text())
    for k in ("seed", "package_version", "git_commit", "machine", "eval_fps"):
        assert k in run
    # the run folders work with the other commands
    assert main(["evaluate", str(tmp_path / "demo" / "temporal"), "--no-progress"]) == 0
    assert main(["table", str(tmp_path / "demo" / "single_frame"), str(tmp_path / "demo" / "temporal"),
                 "--format", "latex"]) == 0


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 1
    assert "not a run folder" in capsys.readouterr().err


def test_compare_single_frame_and_temporal_with_and_without_ground_truth():
    from poselift.datasets.synthetic import make_dataset
    from poselift.experiments.compare import Method, compare_methods, comparison_table

    seqs = make_dataset(subjects=1, motions=["walk"], num_frames=60, seed=2)[:2]
    rng = np.random.default_rng(0)
    gt = [s.root_relative_3d().astype(np.float64) for s in seqs]
    noisy = [g + rng.normal(scale=0.02, size=g.shape) for g in gt]  # frame-wise noise
    smooth = [g + 0.01 for g in gt]  # constant offset: smooth, 17 mm off
    unknown_units = [1000 * n for n in noisy]  # e.g. a detector's 3D in mm
    methods = [Method("single", noisy, kind="single-frame"), Method("temporal", smooth),
               Method("detector 3D", unknown_units, scale_known=False, kind="single-frame")]
    r = compare_methods(seqs, methods)
    assert r["ground_truth"] and r["reference"] == "single"
    t, s, d = (r["methods"][k] for k in ("temporal", "single", "detector 3D"))
    assert t["mpjpe"] == pytest.approx(np.sqrt(3) * 10, rel=1e-6)  # (10, 10, 10) mm offset
    assert t["mpjve"] == pytest.approx(0.0, abs=1e-9) and s["mpjve"] > 10
    g = r["ground_truth_smoothness"]
    assert t["acceleration"] == pytest.approx(g["acceleration"]) and t["jitter"] == pytest.approx(g["jitter"])
    assert s["acceleration"] > 5 * g["acceleration"] and s["jitter"] > 5 * t["jitter"]
    assert d["scale_aligned"] and d["mpjpe"] == pytest.approx(s["mpjpe"], rel=0.02)  # rescaled to metres
    assert "¹" in comparison_table(r)
    # without ground truth: agreement with the single-frame reference and smoothness only
    for q in seqs:
        q.poses3d = None
    r2 = compare_methods(seqs, methods)
    assert not r2["ground_truth"] and "mpjpe" not in r2["methods"]["temporal"]
    assert r2["methods"]["temporal"]["agreement_p_mpjpe"] > 0
    assert r2["methods"]["temporal"]["jitter"] < r2["methods"]["single"]["jitter"]
    table = comparison_table(r2)
    assert "P2 vs single" in table and "P1 (mm)" not in table
    with pytest.raises(ValueError, match="predictions for"):
        compare_methods(seqs, [Method("x", noisy[:1])])


def _tiny_config(seed=0):
    from poselift.experiments.config import (
        DataConfig,
        EvalConfig,
        ExperimentConfig,
        ModelConfig,
        SyntheticConfig,
    )
    from poselift.training.trainer import TrainSettings

    return ExperimentConfig(
        name="tiny", seed=seed, device="cpu",
        data=DataConfig(dataset="synthetic", path=None, train_subjects=[], test_subjects=[],
                        synthetic=SyntheticConfig(subjects=1, test_subjects=1, num_frames=50, test_num_frames=50,
                                                  motions=["walk", "box"])),
        model=ModelConfig(widths=[3, 3], channels=16),
        train=TrainSettings(epochs=2, batch_size=64, progress=False),
        eval=EvalConfig(eval_every=1, monitor_frames=20),
    )


def test_same_config_and_seed_give_identical_metrics_and_reproduce_checks_it(tmp_path):
    from poselift.experiments.config import dump_config
    from poselift.experiments.train_eval import reproduce_run, train_run

    a = train_run(_tiny_config(0), tmp_path / "a", progress=False)
    b = train_run(_tiny_config(0), tmp_path / "b", progress=False)
    c = train_run(_tiny_config(1), tmp_path / "c", progress=False)
    assert (tmp_path / "a" / "metrics.json").read_text() == (tmp_path / "b" / "metrics.json").read_text()
    assert a["mpjpe"] == b["mpjpe"] and a["mpjpe"] != c["mpjpe"]
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["seed"] == 0 and run["package_version"] and "git_commit" in run
    assert (tmp_path / "a" / "config.yaml").read_text() == dump_config(_tiny_config(0))
    out, diffs = reproduce_run(tmp_path / "a", tmp_path / "a2", progress=False)
    assert diffs == [] and json.loads((out / "reproduce.json").read_text())["identical"]
    # a tampered result is caught
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    m["mpjpe"] += 1.0
    (tmp_path / "a" / "metrics.json").write_text(json.dumps(m))
    assert main(["reproduce", str(tmp_path / "a"), "--out", str(tmp_path / "a3"), "--no-progress"]) == 4
    # a different config cannot silently reuse a run folder
    with pytest.raises(ValueError, match="different config"):
        train_run(_tiny_config(5), tmp_path / "a", progress=False)


def test_tables_from_hand_made_run_folders_in_three_formats(tmp_path, capsys):
    from poselift.experiments.tables import anchor_rows, render_table, row_from_run

    for name, p1, p2 in (("single", 60.0, 45.0), ("temporal_27", 50.25, 38.5)):
        d = tmp_path / name
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps({
            "name": name, "mpjpe": p1, "p_mpjpe": p2, "mpjve": p1 / 20, "n_mpjpe": p1 - 2,
            "per_action": {"Walking": {"mpjpe": p1 - 5}, "Eating": {"mpjpe": p1 + 5}},
            "notes": ["S9 'Discussion 1' is missing"]}))
    rows = [row_from_run(tmp_path / "single"), row_from_run(tmp_path / "temporal_27")]
    md = render_table(rows, "md", per_action=True)
    lines = md.splitlines()
    assert lines[0].startswith("| Method | P1 (mm) | P2 (mm) | MPJVE (mm) | N-MPJPE (mm) | Eating P1 | Walking P1 |")
    assert "| temporal_27 | 50.2 | 38.5 | 2.51 | 48.2 | 55.2 | 45.2 |" in lines  # 50.25 rounds half to even
    assert md.count("Discussion 1") == 1  # notes deduplicated
    assert "_S9 'Discussion 1' is missing_" in lines  # shared by every row: no row names
    rows[1].notes.append("2D input: detections")  # a note only one row carries names that row
    assert "_temporal_27: 2D input: detections_" in render_table(rows, "md").splitlines()
    rows[1].notes.pop()
    tex = render_table(rows + anchor_rows("GT", ["243"]), "latex")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"temporal\_27 & 50.2 & 38.5" in tex
    assert r"\textit{VideoPose3D [GT 2D, 243 fr.] (published)} & 37.2 & 27.2" in tex
    csv_text = render_table(rows, "csv")
    import csv as _csv
    import io as _io

    parsed = list(_csv.DictReader(_io.StringIO(csv_text)))
    assert [r["method"] for r in parsed] == ["single", "temporal_27"]
    assert float(parsed[1]["p_mpjpe_mm"]) == 38.5 and parsed[0]["reference"] == "0"
    assert main(["table", str(tmp_path / "single"), str(tmp_path / "temporal_27"), "--format", "csv"]) == 0
    assert "temporal_27" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        row_from_run(tmp_path)
    with pytest.raises(ValueError, match="format"):
        render_table(rows, "html")


def test_compare_and_table_refuse_what_was_not_measured_the_same_way(tmp_path, capsys):
    """Runs that differ in flip test-time augmentation or in their test split are not compared unless
    --allow-mixed (and then each row says its flip setting); published Human3.6M rows are refused beside a run
    on another dataset."""
    from poselift.experiments.train_eval import train_run

    base = _tiny_config()
    no_flip = _tiny_config()
    no_flip.eval.flip_test = False
    other = _tiny_config()
    other.data.synthetic.test_seed = 77
    for name, cfg in (("flip", base), ("noflip", no_flip), ("other", other)):
        train_run(cfg, tmp_path / name, progress=False)
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "flip"), str(tmp_path / "noflip")]) == 1
    err = capsys.readouterr().err
    assert "differ in flip test-time augmentation" in err and "flip: on" in err and "noflip: off" in err
    assert main(["compare", str(tmp_path / "flip"), str(tmp_path / "noflip"), "--allow-mixed"]) == 0
    out = capsys.readouterr().out
    assert "flip TTA on" in out and "flip TTA off" in out
    assert main(["compare", str(tmp_path / "flip"), str(tmp_path / "other")]) == 1
    err = capsys.readouterr().err
    assert "do not share a test split and protocol (they differ in test_seed)" in err
    assert main(["figures", str(tmp_path / "flip"), str(tmp_path / "other"), "--out", str(tmp_path / "fig")]) == 1
    assert not (tmp_path / "fig").exists()  # refused before the first file
    capsys.readouterr()
    assert main(["table", str(tmp_path / "flip"), "--anchors"]) == 1
    err = capsys.readouterr().err
    assert "published rows are h36m numbers" in err and "tiny (synthetic)" in err
    assert main(["table", str(tmp_path / "flip"), str(tmp_path / "noflip")]) == 0
    out = capsys.readouterr().out
    assert "tiny [flip]" in out and "tiny [noflip]" in out  # one config trained twice: told apart by folder


def test_training_with_person_size_normalisation_records_it_for_lifting(tmp_path):
    import dataclasses

    from poselift.checkpoint import load_checkpoint
    from poselift.experiments.train_eval import evaluate_run, load_splits, train_run
    from poselift.inference import load_lifter

    cfg = _tiny_config(0)
    cfg.data = dataclasses.replace(cfg.data, normalization="torso")
    cfg.train.epochs, cfg.eval.eval_every = 1, 0
    metrics = train_run(cfg, tmp_path / "torso", progress=False)
    assert load_checkpoint(tmp_path / "torso" / "checkpoint.pt")["extra"]["normalization"] == "torso"
    assert "normalization: torso" in (tmp_path / "torso" / "config.yaml").read_text()
    lifter = load_lifter(tmp_path / "torso", device="cpu")
    assert lifter.normalization == "torso"
    # evaluating the checkpoint again gives the training run's numbers (the same normalisation is used)
    assert evaluate_run(tmp_path / "torso", progress=False)["mpjpe"] == pytest.approx(metrics["mpjpe"], abs=1e-6)
    # and the input really is the torso-normalised one: it differs from the image-normalised input
    seq = load_splits(cfg, progress=False).test[0]
    assert np.abs(lifter.inputs(seq) - seq.inputs(2)).max() > 0.1


def test_bone_length_consistency_and_asymmetry_against_hand_made_poses():
    from poselift.core.layouts import get_layout
    from poselift.experiments.compare import asymmetry, bone_length_std, bone_lengths

    lay = get_layout("h36m17")
    rng = np.random.default_rng(1)
    base = rng.normal(size=(17, 3))
    rigid = np.stack([base @ _rot(a).T + a for a in np.linspace(0, 1, 10)])  # rotating, moving: bones fixed
    assert bone_length_std(rigid) == pytest.approx(0.0, abs=1e-12)
    # the right shin alone grows by 1 cm per frame: std of that bone over 10 frames, averaged over 16 bones
    grow = rigid.copy()
    ankle, knee = lay.index("right_ankle"), lay.index("right_knee")
    d = grow[:, ankle] - grow[:, knee]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    grow[:, ankle] += d * (0.01 * np.arange(10))[:, None]
    assert bone_length_std(grow) == pytest.approx(np.std(0.01 * np.arange(10)) / 16, rel=1e-9)
    # symmetric skeleton: a mirrored left side has no asymmetry; lengthening one femur by 3 cm gives 3/6 cm
    sym = base.copy()
    sym[list(lay.left)] = sym[list(lay.right)] * [-1, 1, 1]
    sym[0] = [0, 0, 0]
    sym[[7, 8, 9, 10], 0] = 0
    assert asymmetry(sym[None])[0] == pytest.approx(0.0, abs=1e-12)
    hip, kn = lay.index("left_hip"), lay.index("left_knee")
    longer = sym.copy()
    u = (longer[kn] - longer[hip]) / np.linalg.norm(longer[kn] - longer[hip])
    longer[lay.index("left_knee"):lay.index("left_ankle") + 1] += 0.03 * u  # knee and ankle move together
    lens = bone_lengths(longer[None])[0] - bone_lengths(sym[None])[0]
    assert np.count_nonzero(np.abs(lens) > 1e-9) == 1
    assert asymmetry(longer[None])[0] == pytest.approx(0.03 / 6, rel=1e-9)  # 6 left/right bone pairs


def _rot(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
