"""``poselift demo``: single-frame vs temporal lifting on embedded synthetic data.

Needs nothing downloaded. It generates synthetic training and held-out test
sequences (:mod:`poselift.datasets.synthetic`: human-like motion, Human3.6M-like
cameras, detector-like 2D noise), trains a single-frame lifter (receptive
field 1) and a temporal lifter (27 frames) with the same width and depth,
evaluates both on the held-out sequences and writes into the output folder::

    metrics.json      both models' numbers (mm) and the settings
    table.md          the comparison table (also printed)
    figure.png        error over time of both models on one test video, and a 3D snapshot
    single_frame/     run folder of the single-frame model (poselift evaluate works on it)
    temporal/         run folder of the temporal model
"""
from __future__ import annotations

import argparse


def _cmd(args: argparse.Namespace) -> int:
    from poselift.core.io import check_output_folder
    from poselift.experiments.demo import run_demo

    if args.out:
        check_output_folder(args.out)
    summary = run_demo(args.out, quick=args.quick, seed=args.seed, device=args.device,
                       progress=not args.no_progress)
    return 0 if summary["temporal_beats_single_frame"] or args.quick else 3


def register(sub) -> None:
    p = sub.add_parser("demo", help="train single-frame and temporal lifters on synthetic data and compare them",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="output folder (default: runs/demo-<time>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default, reproducible), cuda or auto")
    p.add_argument("--quick", action="store_true", help="tiny settings (seconds; for testing the pipeline)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd)
