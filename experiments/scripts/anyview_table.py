"""Issue 24's table: standard vs virtual-camera training under h36m-vp3d, cross-view and novel views.

    python experiments/scripts/anyview_table.py RUNS_DIR [--configs h36m_gt_27_reduced h36m_gt_27_anyview_reduced]
        [--norms image torso] [--cv-suffix _e5]

Reads the run folders the commands of ``docs/anyview.md`` write (nothing is trained or evaluated here):

* ``RUNS_DIR/<config>_<norm>/metrics.json``: the run's own test, ``h36m-vp3d``;
* ``RUNS_DIR/<config>_<norm>/protocols/h36m-novel-views/metrics.json``: the same model on the 8 declared views;
* ``RUNS_DIR/<config>_<norm>_cv<K><suffix>/metrics.json``, K = 1..4: trained on three cameras, tested on camera
  K (``h36m-vp3d-cross-view-K``); the table gives each and their mean (a plain mean of the four, each already
  VideoPose3D's action-wise average).

Prints one Markdown table: P1, P2, N-MPJPE (mm), the predicted/true height, hip and shoulder width, the lean
(deg, angle between the predicted and the true spine) and the frames; then, per model, the novel-view / own-test
P1 ratio (the issue's target: at most 1.2) and the virtual-camera models' P1 cost on ``h36m-vp3d`` (target: at
most 1 mm). A missing folder is a row that says so, never a silent gap.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

COLUMNS = (("mpjpe", "P1", 1), ("p_mpjpe", "P2", 1), ("n_mpjpe", "N-MPJPE", 1))
RATIOS = (("height_ratio", "height x"), ("hip_width_ratio", "hip x"), ("shoulder_width_ratio", "shoulder x"))


def read_metrics(path: Path) -> dict | None:
    """``metrics.json`` as a dict, or ``None`` when the file does not exist."""
    return json.loads(path.read_text()) if path.exists() else None


def summary(m: dict) -> dict:
    """The table's numbers of one ``metrics.json``."""
    props = m.get("proportions") or {}
    out = {k: float(m.get(k, math.nan)) for k, _, _ in COLUMNS}
    out.update({k: float(props.get(k, math.nan)) for k, _ in RATIOS})
    out["lean"] = float(props.get("lean", math.nan))
    out["frames"] = int(m.get("frames", 0))
    return out


def mean_of(rows: list[dict]) -> dict:
    """The plain mean of the held-out cameras' numbers (frames: their sum)."""
    keys = [k for k in rows[0] if k != "frames"]
    out = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    out["frames"] = sum(r["frames"] for r in rows)
    return out


def collect(runs: Path, configs, norms, cv_suffix: str) -> list[tuple[str, str, dict | None]]:
    """``(model, test, numbers or None)`` rows in the table's order."""
    rows = []
    for norm in norms:
        for cfg in configs:
            name = f"{cfg}_{norm}"
            own = read_metrics(runs / name / "metrics.json")
            rows.append((name, "h36m-vp3d", summary(own) if own else None))
            cv = []
            for k in range(1, 5):
                m = read_metrics(runs / f"{name}_cv{k}{cv_suffix}" / "metrics.json")
                rows.append((name, f"cross-view, camera {k}", summary(m) if m else None))
                if m:
                    cv.append(summary(m))
            rows.append((name, "cross-view, mean of 4", mean_of(cv) if len(cv) == 4 else None))
            novel = read_metrics(runs / name / "protocols" / "h36m-novel-views" / "metrics.json")
            rows.append((name, "h36m-novel-views", summary(novel) if novel else None))
    return rows


def table(rows) -> str:
    head = ["model", "test", *(c for _, c, _ in COLUMNS), *(c for _, c in RATIOS), "lean (deg)", "frames"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for model, test, r in rows:
        if r is None:
            lines.append(f"| {model} | {test} | " + " | ".join(["not run"] + [""] * (len(head) - 3)) + " |")
            continue
        cells = [f"{r[k]:.1f}" for k, _, _ in COLUMNS] + [f"{r[k]:.2f}" for k, _ in RATIOS]
        cells += [f"{r['lean']:.1f}", f"{r['frames']:,}"]
        lines.append(f"| {model} | {test} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows, configs, norms) -> list[str]:
    """The issue's targets, measured: novel / own P1, the width ratios on novel views, the cost on h36m-vp3d."""
    got = {(m, t): r for m, t, r in rows if r is not None}
    out = []
    for norm in norms:
        base = got.get((f"{configs[0]}_{norm}", "h36m-vp3d"))
        for cfg in configs:
            name = f"{cfg}_{norm}"
            own, novel = got.get((name, "h36m-vp3d")), got.get((name, "h36m-novel-views"))
            if own and novel:
                out.append(f"{name}: novel-view P1 / own P1 = {novel['mpjpe'] / own['mpjpe']:.2f} (target <= 1.2); "
                           f"novel-view hip x {novel['hip_width_ratio']:.2f}, shoulder x "
                           f"{novel['shoulder_width_ratio']:.2f} (target 0.90-1.10)")
            if own and base and cfg != configs[0]:
                out.append(f"{name}: h36m-vp3d P1 {own['mpjpe']:.1f} vs {base['mpjpe']:.1f} mm for {configs[0]}_{norm}"
                           f" = {own['mpjpe'] - base['mpjpe']:+.1f} mm (target <= +1.0); P2 "
                           f"{own['p_mpjpe'] - base['p_mpjpe']:+.1f}, N-MPJPE {own['n_mpjpe'] - base['n_mpjpe']:+.1f}")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, help="the folder holding the run folders")
    ap.add_argument("--configs", nargs="+", default=["h36m_gt_27_reduced", "h36m_gt_27_anyview_reduced"],
                    help="config names, the standard one first")
    ap.add_argument("--norms", nargs="+", default=["image", "torso"])
    ap.add_argument("--cv-suffix", default="", help="what follows cv<K> in the cross-view folders' names")
    args = ap.parse_args(argv)
    if not args.runs.is_dir():
        raise SystemExit(f"anyview_table: no such folder: {args.runs}")
    rows = collect(args.runs, args.configs, args.norms, args.cv_suffix)
    print(table(rows))
    print()
    for line in targets(rows, args.configs, args.norms):
        print(f"- {line}")


if __name__ == "__main__":
    main()
