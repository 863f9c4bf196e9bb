"""poselift.experiments.figures and ``poselift figures``: per-action bars, error over time, animations."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from poselift.commands import main
from poselift.core.io import read_json
from poselift.core.sequence import PoseSequence
from poselift.experiments.config import (
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    ModelConfig,
    SyntheticConfig,
    dump_config,
)
from poselift.experiments.data import load_splits
from poselift.experiments.evaluation import sequence_errors
from poselift.experiments.figures import (
    comparison_animation,
    error_over_time_figure,
    per_action_figure,
    per_action_table,
    per_frame_errors,
    select_sequence,
    sequence_label,
)
from poselift.experiments.train_eval import train_run
from poselift.training.trainer import TrainSettings
from poselift.viz.video import probe_video, read_frames, write_video

MOTIONS = ["walk", "wave", "squat"]


def _config(name: str, widths, test_seed: int = 1000) -> ExperimentConfig:
    syn = SyntheticConfig(subjects=1, test_subjects=1, num_frames=48, test_num_frames=40, motions=list(MOTIONS),
                          seed=0, test_seed=test_seed)
    return ExperimentConfig(
        name=name, seed=0, device="cpu",
        data=DataConfig(dataset="synthetic", path=None, synthetic=syn, train_subjects=[], test_subjects=[]),
        model=ModelConfig(widths=list(widths), channels=16, dropout=0.0),
        train=TrainSettings(epochs=1, batch_size=64, progress=False),
        eval=EvalConfig(eval_every=0, flip_test=False),
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny trained runs on the same synthetic test split: single-frame (rf 1) and temporal (rf 9)."""
    root = tmp_path_factory.mktemp("runs")
    single, temporal = _config("single-frame", [1, 1]), _config("temporal", [3, 3])
    splits = load_splits(single)
    train_run(single, root / "single", splits=splits, progress=False, resume=False)
    train_run(temporal, root / "temporal", splits=splits, progress=False, resume=False)
    return root / "single", root / "temporal", splits


@pytest.fixture(scope="module")
def seq_and_preds(runs):
    from poselift.inference import load_lifter

    single, temporal, splits = runs
    seq = splits.test[0]
    preds = {"single-frame": load_lifter(single, device="cpu").lift(seq),
             "temporal": load_lifter(temporal, device="cpu").lift(seq)}
    return seq, preds


# --------------------------------------------------------------------------- per action
def test_per_action_figure_one_group_per_action(runs, tmp_path):
    single, temporal, _ = runs
    out = tmp_path / "bars.png"
    fig = per_action_figure([single, temporal], out_path=out)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(MOTIONS)
    assert len(ax.containers) == 2  # one bar per run in each group
    heights = [[b.get_height() for b in c] for c in ax.containers]
    m = read_json(single / "metrics.json")
    assert heights[0] == pytest.approx([m["per_action"][a]["mpjpe"] for a in sorted(MOTIONS)])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["single-frame", "temporal"]
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200


def test_per_action_from_metrics_dicts_and_names(runs):
    single, temporal, _ = runs
    m = read_json(temporal / "metrics.json")
    table = per_action_table({"a": single, "b": m}, metric="p_mpjpe")
    assert list(table) == ["a", "b"] and set(table["b"]) == set(MOTIONS)
    assert table["b"]["walk"] == pytest.approx(m["per_action"]["walk"]["p_mpjpe"])
    # the same run twice keeps both bars apart
    assert list(per_action_table([m, m])) == ["temporal", "temporal #2"]
    fig = per_action_figure([m], actions=["wave", "walk"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["wave", "walk"]


def test_per_action_bad_input(runs, tmp_path):
    single, _, _ = runs
    with pytest.raises(ValueError, match="at least one"):
        per_action_figure([])
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        per_action_figure([tmp_path])
    with pytest.raises(ValueError, match="metric must be one of"):
        per_action_figure([single], metric="accuracy")
    with pytest.raises(ValueError, match="no per-action table"):
        per_action_figure([{"name": "x", "mpjpe": 50.0}])
    with pytest.raises(ValueError, match="unknown action"):
        per_action_figure([single], actions=["Dancing"])


# --------------------------------------------------------------------------- error over time
def test_error_over_time_figure(seq_and_preds, tmp_path):
    seq, preds = seq_and_preds
    out = tmp_path / "err.png"
    fig = error_over_time_figure(seq, preds, out_path=out)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    expected = sequence_errors(preds["temporal"], seq.root_relative_3d()).mpjpe
    np.testing.assert_allclose(lines[1].get_ydata(), expected)
    np.testing.assert_allclose(lines[1].get_xdata(), np.arange(len(seq)) / seq.fps)
    assert out.stat().st_size > 1000
    p2 = per_frame_errors(seq, preds, metric="p_mpjpe")
    p1 = per_frame_errors(seq, preds)
    assert p2["single-frame"].shape == (len(seq),) and (p2["single-frame"] <= p1["single-frame"] + 1e-6).all()


def test_error_over_time_bad_input(seq_and_preds):
    seq, preds = seq_and_preds
    no_gt = PoseSequence(seq.keypoints, image_size=seq.image_size)
    with pytest.raises(ValueError, match="no ground-truth 3D"):
        error_over_time_figure(no_gt, {"x": preds["temporal"]})
    with pytest.raises(ValueError, match="has 39 frames"):
        error_over_time_figure(seq, {"short": preds["temporal"][:-1]})
    with pytest.raises(ValueError, match=r"expected \(40, 17, 3\)"):
        error_over_time_figure(seq, {"2d": preds["temporal"][..., :2]})
    with pytest.raises(ValueError, match="non-empty"):
        error_over_time_figure(seq, {})
    with pytest.raises(ValueError, match="metric"):
        per_frame_errors(seq, preds, metric="mpjve")


# --------------------------------------------------------------------------- animation
def test_comparison_animation_gif(seq_and_preds, tmp_path):
    seq, preds = seq_and_preds
    out = comparison_animation(tmp_path / "cmp.gif", seq, preds, frames=5, panel_size=2, dpi=50)
    with Image.open(out) as im:
        assert im.n_frames == 5
        # input 2D + single-frame + temporal + ground truth, 2 in x 50 dpi each; the title adds 0.3 in
        assert im.size == (4 * 100, round(2.3 * 50))
    # explicit time steps, no ground truth panel, no title
    out2 = comparison_animation(tmp_path / "cmp2.gif", seq, preds, frames=[0, 10, 20], ground_truth=False,
                                panel_size=2, dpi=50, title="")
    with Image.open(out2) as im:
        assert im.n_frames == 3 and im.size == (3 * 100, 100)


def test_comparison_animation_mp4_over_video(seq_and_preds, tmp_path):
    seq, preds = seq_and_preds
    video = np.zeros((len(seq), 64, 64, 3), np.uint8)
    video[..., 1] = 180
    out = comparison_animation(tmp_path / "cmp.mp4", seq, {"temporal": preds["temporal"]}, frames=6,
                               video=video, ground_truth=False, panel_size=2, dpi=40, fps=25)
    info = probe_video(out)
    assert (info.width, info.height) == (160, 92) and info.fps == pytest.approx(25)
    assert sum(1 for _ in read_frames(out)) == 6
    # a video file as the background, read from the sequence's first frame on
    clip = tmp_path / "clip.mp4"
    write_video(clip, (np.full((48, 64, 3), 20 * i, np.uint8) for i in range(10)), fps=25)
    part = seq.slice(4, 10)
    out2 = comparison_animation(tmp_path / "cmp2.gif", part, {"t": preds["temporal"][4:10]}, video=clip,
                                panel_size=1, dpi=40, title="")
    with Image.open(out2) as im:
        assert im.n_frames == 6


def test_comparison_animation_bad_input(seq_and_preds, tmp_path):
    seq, preds = seq_and_preds
    with pytest.raises(ValueError, match="unknown animation type"):
        comparison_animation(tmp_path / "x.webm", seq, preds)
    with pytest.raises(ValueError, match="non-empty"):
        comparison_animation(tmp_path / "x.gif", seq, {})
    with pytest.raises(ValueError, match="frames"):
        comparison_animation(tmp_path / "x.gif", seq, {"t": preds["temporal"][:5]})
    with pytest.raises(ValueError, match=r"frames must be in \[0, 40\)"):
        comparison_animation(tmp_path / "x.gif", seq, preds, frames=[0, 40])
    with pytest.raises(FileNotFoundError):
        comparison_animation(tmp_path / "x.gif", seq, preds, video=tmp_path / "none.mp4")
    assert not list(tmp_path.iterdir())  # nothing half-written


# --------------------------------------------------------------------------- sequences and CLI
def test_select_sequence(runs):
    seqs = runs[2].test
    assert select_sequence(seqs)[0] == 0 and select_sequence(seqs, "-1")[0] == len(seqs) - 1
    i, s = select_sequence(seqs, sequence_label(seqs[5]))
    assert i == 5 and s is seqs[5]
    assert select_sequence(seqs, f"{seqs[5].subject}/{seqs[5].action}")[1].action == seqs[5].action
    with pytest.raises(ValueError, match="out of range"):
        select_sequence(seqs, len(seqs))
    with pytest.raises(ValueError, match="no sequence 'S1/Dancing/cam1'"):
        select_sequence(seqs, "S1/Dancing/cam1")
    with pytest.raises(ValueError, match="SUBJECT/ACTION/CAMERA"):
        select_sequence(seqs, "walk")


def test_figures_command(runs, tmp_path, capsys):
    single, temporal, splits = runs
    out = tmp_path / "figs"
    label = sequence_label(splits.test[2])
    assert main(["figures", str(temporal), str(single), "--out", str(out), "--frames", "4", "--sequence", label,
                 "--device", "cpu", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert label in text and "single-frame (single-frame, rf 1)" in text
    assert {p.name for p in out.iterdir()} == {"per_action.png", "error_over_time.png", "animation.gif"}
    with Image.open(out / "animation.gif") as im:
        assert im.n_frames == 4 and im.size == (4 * 3 * 80, round(3.3 * 80))  # 2D + 2 runs + ground truth
    assert main(["figures", str(single), "--out", str(out), "--frames", "3", "--format", "mp4", "--device", "cpu",
                 "--no-progress"]) == 0
    assert sum(1 for _ in read_frames(out / "animation.mp4")) == 3


def test_figures_command_errors(runs, tmp_path, capsys):
    single = runs[0]
    other = _config("other", [1, 1], test_seed=7)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.yaml").write_text(dump_config(other))
    (tmp_path / "other" / "metrics.json").write_text((single / "metrics.json").read_text())
    assert main(["figures", str(single), str(tmp_path / "other"), "--out", str(tmp_path / "o")]) == 1
    assert "do not share a test split" in capsys.readouterr().err
    # compare loads its ground truth the same way and refuses the same pair
    assert main(["compare", str(single), str(tmp_path / "other"), "--device", "cpu"]) == 1
    assert "do not share a test split" in capsys.readouterr().err
    assert main(["figures", str(single), "--out", str(tmp_path / "o"), "--sequence", "99"]) == 1
    assert "out of range" in capsys.readouterr().err
    assert main(["figures", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert "no such run folder" in capsys.readouterr().err
