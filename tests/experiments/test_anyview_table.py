"""``experiments/scripts/anyview_table.py``: issue 24's table from run folders (own test, cross-view, novel views)."""
from __future__ import annotations

import json

import pytest

from poselift.experiments.scripts.anyview_table import collect, main, table, targets


def _metrics(path, p1, p2=40.0, n=45.0, hip=0.95, shoulder=0.9, frames=100):
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps({
        "mpjpe": p1, "p_mpjpe": p2, "n_mpjpe": n, "frames": frames,
        "proportions": {"height_ratio": 0.97, "hip_width_ratio": hip, "shoulder_width_ratio": shoulder,
                        "lean": 3.0, "frames": frames}}))


def test_table_means_the_four_held_out_cameras_and_says_what_was_not_run(tmp_path, capsys):
    runs = tmp_path / "runs"
    _metrics(runs / "std_image", 50.0)
    _metrics(runs / "std_image" / "protocols" / "h36m-novel-views", 90.0, hip=0.8)
    for k, p1 in zip(range(1, 5), (60.0, 70.0, 80.0, 110.0)):
        _metrics(runs / f"std_image_cv{k}_e5", p1, frames=10 * k)
    _metrics(runs / "any_image", 51.5)
    _metrics(runs / "any_image" / "protocols" / "h36m-novel-views", 55.0, hip=0.97, shoulder=0.93)
    rows = collect(runs, ["std", "any"], ["image"], "_e5")
    got = {(m, t): r for m, t, r in rows}
    assert got[("std_image", "cross-view, mean of 4")]["mpjpe"] == pytest.approx(80.0)
    assert got[("std_image", "cross-view, mean of 4")]["frames"] == 100
    assert got[("any_image", "cross-view, camera 1")] is None  # not trained: a row that says so
    text = table(rows)
    assert "| any_image | cross-view, mean of 4 | not run |" in text
    assert "| std_image | h36m-novel-views | 90.0 | 40.0 | 45.0 | 0.97 | 0.80 | 0.90 | 3.0 | 100 |" in text
    lines = targets(rows, ["std", "any"], ["image"])
    assert "std_image: novel-view P1 / own P1 = 1.80 (target <= 1.2)" in lines[0]
    assert "any_image: novel-view P1 / own P1 = 1.07" in lines[1]
    assert "= +1.5 mm (target <= +1.0)" in lines[2]
    main([str(runs), "--configs", "std", "any", "--norms", "image", "--cv-suffix", "_e5"])
    assert "| std_image | cross-view, camera 4 | 110.0 |" in capsys.readouterr().out


def test_a_missing_runs_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no such folder"):
        main([str(tmp_path / "nowhere")])
