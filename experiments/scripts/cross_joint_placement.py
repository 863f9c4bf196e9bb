"""Where the Human3.6M joints HumanEva-I lacks can be placed from the joints it has, measured on Human3.6M.

A Human3.6M-trained run evaluated on HumanEva-I (``poselift evaluate RUN --on humaneva``) needs 2D for
Human3.6M's spine, neck/nose and head top, which HumanEva-I does not label. The ``humaneva15 -> h36m17``
conversion of :mod:`poselift.core.layouts` makes them as points on a line between two joints HumanEva-I has:

* spine     = pelvis + a * (thorax - pelvis)
* neck_nose = thorax + b * (head - thorax)

This script fits ``a`` and ``b`` by least squares on the 3D of the training subjects (world coordinates,
every ``--stride``-th frame) and measures how far the point placed with the registered (rounded) weights
lands from the real joint on the test subjects, in 3D (mm) and in the ground-truth 2D of every camera (px).
Human3.6M has no HumanEva head, so its head top stands in for it here (HumanEva's head is defined otherwise: the conversion's docstring says how
that enters). It also prints the hip width and the pelvis-to-hip-midpoint distance the docstring cites.

    python experiments/scripts/cross_joint_placement.py [--data ../shared/data/h36m] [--stride 5]

Prints Markdown. Human3.6M is read where it is; nothing is written.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from poselift.core.device import machine_description
from poselift.core.layouts import H36M17, HUMANEVA15, HUMANEVA15_TO_H36M17
from poselift.datasets import h36m

TRAIN, TEST = ("S1", "S5", "S6", "S7", "S8"), ("S9", "S11")
LINES = {"spine": ("pelvis", "thorax"), "neck_nose": ("thorax", "head_top")}
"""Each placed joint: the two joints whose line it lies on (``start + w * (end - start)``)."""
HUMANEVA_END = {"spine": "thorax", "neck_nose": "head"}
"""The HumanEva-I joint the conversion weighs as each line's end (Human3.6M's head top stands in for ``head``)."""


def registered_weight(joint: str) -> float:
    """``w`` of ``joint`` in the registered ``humaneva15 -> h36m17`` conversion."""
    return float(HUMANEVA15_TO_H36M17.weights[H36M17.index(joint), HUMANEVA15.index(HUMANEVA_END[joint])])


def _stack(data: h36m.H36MData, subjects, stride: int) -> np.ndarray:
    """``(N, 17, 3)`` world metres of every ``stride``-th frame of the subjects' takes."""
    return np.concatenate([p[::stride] for (s, _), p in sorted(data.poses3d.items()) if s in subjects])


def fit_weight(poses: np.ndarray, joint: str, start: str, end: str) -> float:
    """Least-squares ``w`` of ``joint ~ start + w * (end - start)`` over ``poses`` ``(N, 17, 3)``."""
    j, a, b = (H36M17.index(n) for n in (joint, start, end))
    d = poses[:, b] - poses[:, a]
    return float(np.sum((poses[:, j] - poses[:, a]) * d) / np.sum(d * d))


def placement_errors(data: h36m.H36MData, weights: dict[str, float], subjects, stride: int) -> dict:
    """Per placed joint: mean and median distance (mm, 3D) and median (px, ground-truth 2D) to the real joint."""
    poses = _stack(data, subjects, stride)
    seqs = [s for s in h36m.sequences(data, list(subjects), keypoints="gt")]
    kp = np.concatenate([s.keypoints[::stride] for s in seqs])  # (M, 17, 2)
    out = {}
    for joint, (start, end) in LINES.items():
        w = weights[joint]
        j, a, b = (H36M17.index(n) for n in (joint, start, end))
        d3 = np.linalg.norm(poses[:, a] + w * (poses[:, b] - poses[:, a]) - poses[:, j], axis=-1) * 1000
        d2 = np.linalg.norm(kp[:, a] + w * (kp[:, b] - kp[:, a]) - kp[:, j], axis=-1)
        out[joint] = {"weight": w, "mean_mm": float(d3.mean()), "median_mm": float(np.median(d3)),
                      "p95_mm": float(np.percentile(d3, 95)), "median_px": float(np.median(d2)), "frames": len(d3)}
    return out


def body_measures(data: h36m.H36MData, subjects, stride: int) -> dict:
    """Hip width, pelvis-to-hip-midpoint and thorax-to-head-top distances (mm, mean over frames)."""
    p = _stack(data, subjects, stride)
    i = H36M17.index
    mid = (p[:, i("left_hip")] + p[:, i("right_hip")]) / 2
    dist = lambda x, y: float(np.linalg.norm(x - y, axis=-1).mean() * 1000)  # noqa: E731
    return {"hip_width_mm": dist(p[:, i("left_hip")], p[:, i("right_hip")]),
            "pelvis_to_hip_midpoint_mm": dist(p[:, i("pelvis")], mid),
            "shoulder_width_mm": dist(p[:, i("left_shoulder")], p[:, i("right_shoulder")]),
            "thorax_to_head_top_mm": dist(p[:, i("thorax")], p[:, i("head_top")])}


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("POSELIFT_H36M") or str(here.parent / "shared/data/h36m"))
    ap.add_argument("--stride", type=int, default=5, help="every n-th frame (default 5)")
    args = ap.parse_args(argv)
    data = h36m.load(args.data, subjects=TRAIN + TEST)
    train = _stack(data, TRAIN, args.stride)
    fitted = {j: fit_weight(train, j, *LINES[j]) for j in LINES}
    weights = {j: registered_weight(j) for j in LINES}
    print(f"machine: {machine_description()}; fitted on {' '.join(TRAIN)}, measured on {' '.join(TEST)}, "
          f"every {args.stride}th frame\n")
    print("| placed joint | rule | least-squares w | registered w | mean mm | median mm | 95th pct mm | "
          "median px (GT 2D) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for joint, r in placement_errors(data, weights, TEST, args.stride).items():
        a, b = LINES[joint]
        print(f"| {joint} | {a} + w ({b} - {a}) | {fitted[joint]:.3f} | {r['weight']:.3f} | {r['mean_mm']:.1f} | "
              f"{r['median_mm']:.1f} | "
              f"{r['p95_mm']:.1f} | {r['median_px']:.1f} |")
    print()
    for k, v in body_measures(data, TEST, args.stride).items():
        print(f"- {k}: {v:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
