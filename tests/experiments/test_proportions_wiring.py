"""Body proportions in ``evaluate`` (metrics.json), ``compare`` and ``table``."""
import csv
import io
import json

import numpy as np
import pytest

from poselift.commands import main
from poselift.core.layouts import get_layout

H36M = get_layout("h36m17")


def _narrow(poses, factor):
    """Pull the left and right hips and shoulders towards their midpoints by ``factor`` (0.5: half as wide)."""
    out = poses.copy()
    for a, b in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        i, j = H36M.index(a), H36M.index(b)
        mid = (poses[:, i] + poses[:, j]) / 2
        out[:, i] = mid + factor * (poses[:, i] - mid)
        out[:, j] = mid + factor * (poses[:, j] - mid)
    return out


def test_compare_reports_ratios_with_truth_and_absolute_measures_without():
    from poselift.datasets.synthetic import make_dataset
    from poselift.experiments.compare import Method, compare_methods, comparison_table

    seqs = make_dataset(subjects=1, motions=["walk"], num_frames=40, seed=3)[:2]
    gt = [s.root_relative_3d().astype(np.float64) for s in seqs]
    methods = [Method("exact", gt), Method("narrow", [_narrow(g, 0.5) for g in gt])]
    r = compare_methods(seqs, methods)
    exact, narrow = r["methods"]["exact"]["proportions"], r["methods"]["narrow"]["proportions"]
    assert exact["hip_width_ratio"] == pytest.approx(1.0) and exact["lean"] == pytest.approx(0.0, abs=1e-5)
    assert narrow["hip_width_ratio"] == pytest.approx(0.5) and narrow["shoulder_width_ratio"] == pytest.approx(0.5)
    assert narrow["frames"] == 80
    md = comparison_table(r)
    assert "**Body proportions**" in md and "| narrow | 1.00 | 0.50 | 0.50 |" in md
    rows = list(csv.DictReader(io.StringIO(comparison_table(r, "csv"))))
    assert float(rows[1]["hip_width_ratio"]) == pytest.approx(0.5) and rows[2]["method"] == "ground truth"
    for q in seqs:
        q.poses3d = None
    r2 = compare_methods(seqs, methods)
    p = r2["methods"]["narrow"]["proportions"]
    true_hips = np.concatenate([np.linalg.norm(g[:, H36M.index("left_hip")] - g[:, H36M.index("right_hip")], axis=-1)
                                for g in gt])
    assert p["hip_width"] == pytest.approx(0.5 * true_hips.mean()) and "hip_width_ratio" not in p
    assert r2["methods"]["exact"]["proportions"]["asymmetry"] == pytest.approx(0.0, abs=1e-5)  # symmetric bodies
    assert "L/R asymmetry" in comparison_table(r2)


def test_evaluation_records_proportions_and_table_shows_them(tmp_path, capsys):
    from poselift.datasets.synthetic import make_dataset
    from poselift.experiments.train_eval import test_proportions

    seqs = make_dataset(subjects=1, motions=["box"], num_frames=30, seed=4)[:1]
    pred = _narrow(seqs[0].root_relative_3d().astype(np.float64), 0.8) + 1.0  # raw output: offset is irrelevant
    m = test_proportions([pred], seqs)
    assert m["hip_width_ratio"] == pytest.approx(0.8) and m["height_ratio"] == pytest.approx(1.0, abs=0.002)  # thighs move a little
    d = tmp_path / "run"
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps({"name": "r", "mpjpe": 50.0, "p_mpjpe": 40.0, "proportions": m}))
    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.json").write_text(json.dumps({"name": "o", "mpjpe": 50.0, "p_mpjpe": 40.0}))
    assert main(["table", str(d), str(old), "--proportions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "height x | hip width x | shoulder width x | lean (deg)" in lines[0]
    assert lines[2].startswith("| r | 50.0 | 40.0 | – | – | 1.00 | 0.80 | 0.80 | 0.0 |")
    assert lines[3].startswith("| o | 50.0 | 40.0 | – | – | – | – | – | – |")  # measured before: unknown
    assert main(["table", str(d), "--proportions", "--format", "csv"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(row["hip_width_ratio"]) == pytest.approx(0.8)
