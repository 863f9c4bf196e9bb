"""Where the Stacked Hourglass joints of the Human3.6M archive lie, measured against the projected ground truth.

For every Stacked Hourglass (SH) joint, the median distance in pixels to every
Human3.6M joint projected into the same camera (ground-truth 2D, with lens
distortion), over all frames of the chosen subjects and cameras; then, per SH
joint, the nearest Human3.6M joint. This is the measurement behind the
``mpii16`` joint names and the ``mpii16 -> h36m17`` conversion in
:mod:`poselift.core.layouts`.

    python experiments/scripts/sh_joint_distances.py [--data ../shared/data/h36m] [--subjects S1 S5 ...] [--stride 5]

Prints a Markdown table. Human3.6M is read where it is; nothing is written.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from poselift.core.device import machine_description
from poselift.core.layouts import H36M17, MPII16
from poselift.datasets import h36m


def distances(data: h36m.H36MData, subjects, stride: int = 1) -> np.ndarray:
    """``(16, 17)`` median distance (px) between every SH joint and every projected Human3.6M joint."""
    sh = h36m.sequences(data, subjects, keypoints="sh")
    gt = {(s.subject, s.action, s.camera_id): s for s in h36m.sequences(data, subjects, keypoints="gt")}
    d = []
    for s in sh:
        g = gt[(s.subject, s.action, s.camera_id)]
        a, b = s.keypoints[::stride], g.keypoints[::stride]  # (T, 16, 2), (T, 17, 2)
        d.append(np.linalg.norm(a[:, :, None] - b[:, None], axis=-1))  # (T, 16, 17)
    return np.median(np.concatenate(d), axis=0)


def table(med: np.ndarray) -> str:
    lines = ["| SH joint (index: mpii16 name) | nearest Human3.6M joint | median px | next nearest | median px |",
             "|---|---|---:|---|---:|"]
    for j, name in enumerate(MPII16.joints):
        order = np.argsort(med[j])
        a, b = order[0], order[1]
        lines.append(f"| {j}: {name} | {H36M17.joints[a]} | {med[j, a]:.1f} | {H36M17.joints[b]} | {med[j, b]:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("POSELIFT_H36M") or str(here.parent / "shared/data/h36m"))
    ap.add_argument("--subjects", nargs="+", default=list(h36m.SUBJECTS))
    ap.add_argument("--stride", type=int, default=5, help="every n-th frame (default 5)")
    args = ap.parse_args(argv)
    data = h36m.load(args.data, subjects=args.subjects)
    med = distances(data, args.subjects, args.stride)
    print(f"machine: {machine_description()}; subjects {' '.join(args.subjects)}, every {args.stride}th frame\n")
    print(table(med))
    t, sp, nn = H36M17.index("thorax"), H36M17.index("spine"), H36M17.index("neck_nose")
    for j in (MPII16.index("thorax"), MPII16.index("upper_neck"), MPII16.index("head_top")):
        print(f"\nSH {j} ({MPII16.joints[j]}): thorax {med[j, t]:.1f} px, spine {med[j, sp]:.1f} px, "
              f"neck/nose {med[j, nn]:.1f} px", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
