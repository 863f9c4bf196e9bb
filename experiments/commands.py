"""CLI: ``poselift train``, ``evaluate``, ``table``, ``reproduce``."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from poselift.experiments.config import apply_overrides, load_config


def _train(args: argparse.Namespace) -> int:
    from poselift.experiments.runner import train_run
    from poselift.training.distributed import is_main, launched_by_torchrun

    cfg = load_config(args.config)
    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"device={args.device}")
    if args.data:
        overrides.append(f"data.path={args.data}")
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise ValueError("--resume RUN_DIR is the run folder; do not also pass a different --out")
        if args.restart:
            raise ValueError("--resume and --restart contradict each other")
        out = Path(args.resume)
        if is_main() and not (out / "checkpoint.pt").exists():  # under torchrun only machine 0 needs the folder
            raise FileNotFoundError(f"nothing to resume: {out} has no checkpoint.pt (it stopped before the first "
                                    "epoch ended; start it again with --out)")
        for stale in out.glob(".*.tmp") if is_main() else ():  # a write cut short by a kill: keep the old file
            stale.unlink()
    else:
        if not args.out and launched_by_torchrun():
            raise ValueError("under torchrun pass --out RUN_DIR (each process would name its own folder by its clock)")
        out = Path(args.out) if args.out else Path("runs") / f"{cfg.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if is_main():
        print(f"run folder: {out}" + (" (resuming)" if args.resume else ""))
    metrics = train_run(cfg, out, progress=not args.no_progress, resume=not args.restart)
    if not is_main():  # process 0 writes and prints the run folder; the others may not even see it
        return 0
    print((out / "table.md").read_text())
    print(f"Protocol 1 {metrics['mpjpe']:.1f} mm, Protocol 2 {metrics['p_mpjpe']:.1f} mm -> {out / 'metrics.json'}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from poselift.experiments.runner import evaluate_run

    flip = None if args.flip_test is None else args.flip_test == "on"
    metrics = evaluate_run(args.run_dir, data_path=args.data, progress=not args.no_progress, flip_test=flip)
    print((Path(args.run_dir) / "table.md").read_text())
    print(f"Protocol 1 {metrics['mpjpe']:.1f} mm, Protocol 2 {metrics['p_mpjpe']:.1f} mm")
    return 0


def _table(args: argparse.Namespace) -> int:
    from poselift.experiments.tables import anchor_rows, render_table, row_from_run

    rows = [row_from_run(d) for d in args.run_dirs]
    if args.anchors:
        rows += anchor_rows(None if args.anchors == "all" else args.anchors)
    text = render_table(rows, args.format, per_action=args.per_action, caption=args.caption)
    if args.out:
        from poselift.core.io import atomic_write_text

        atomic_write_text(args.out, text)
    sys.stdout.write(text)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from poselift.experiments.runner import reproduce_run

    out, diffs = reproduce_run(args.run_dir, args.out, progress=not args.no_progress, tol=args.tolerance)
    if diffs:
        print(f"NOT reproduced ({out}):")
        for d in diffs:
            print("  " + d)
        return 4
    print(f"reproduced: {out}/metrics.json equals {args.run_dir}/metrics.json")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from poselift.experiments.compare import (
        Method,
        compare_methods,
        comparison_table,
        single_frame_from_detector,
    )
    from poselift.inference import load_lifter

    if args.input:
        from poselift.detectors.formats import read_2d

        size = tuple(int(v) for v in args.image_size.lower().split("x")) if args.image_size else None
        seqs = read_2d(args.input, image_size=size, fps=args.fps).to_sequences(min_length=args.min_length)
        if not seqs:
            raise ValueError(f"{args.input}: no track with at least {args.min_length} frames")
    else:
        from poselift.experiments.runner import shared_test_split

        seqs = shared_test_split(args.run_dirs, args.data)
    lifters = [load_lifter(d, device=args.device) for d in args.run_dirs]
    if args.single_frame:
        lifters.insert(0, load_lifter(args.single_frame, device=args.device))
    methods = []
    det = single_frame_from_detector(seqs)
    if det is not None:
        methods.append(det)
    for lf in lifters:
        name = lf.run_dir.name + f" (rf {lf.receptive_field})"
        kind = "single-frame" if lf.receptive_field == 1 else "temporal"
        methods.append(Method(name, [lf.lift(s) for s in seqs], kind=kind))
    result = compare_methods(seqs, methods)
    text = comparison_table(result, args.format)
    if args.out:
        from poselift.core.io import atomic_write_json

        atomic_write_json(args.out, result)
    sys.stdout.write(text)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train and evaluate one experiment config into a run folder")
    p.add_argument("config", help="YAML config (see experiments/configs/)")
    p.add_argument("--out", help="run folder (default runs/<name>-<time>); an existing one resumes")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from its last checkpoint (same config; RNG states, optimiser, "
                   "learning rate, BN momentum and data order are restored, so the result equals an uninterrupted run)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.epochs=3")
    p.add_argument("--data", help="Human3.6M archive folder or cache (overrides data.path)")
    p.add_argument("--device", help="auto, cpu, cuda")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="re-evaluate a run folder's checkpoint on its test split")
    p.add_argument("run_dir")
    p.add_argument("--data", help="Human3.6M archive folder or cache (overrides the config)")
    p.add_argument("--flip-test", choices=["on", "off"], help="override flip test-time augmentation")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("table", help="comparison table from run folders")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--format", choices=["md", "latex", "csv"], default="md")
    p.add_argument("--per-action", action="store_true", help="add Protocol 1 per action")
    p.add_argument("--anchors", nargs="?", const="all", default=None,
                   help="add published numbers as reference rows (optionally only one 2D input, e.g. 'GT')")
    p.add_argument("--caption")
    p.add_argument("--out", help="also write the table to this file")
    p.set_defaults(func=_table)

    p = sub.add_parser("compare", help="single-frame vs temporal 3D on the same frames (with or without ground truth)",
                       description="Compare lifters (and BodyPose3DNet's own single-frame 3D when the 2D file has it) "
                       "on the same frames: Protocol 1/2 and velocity error with ground truth (the runs' test split); "
                       "agreement and smoothness without (--input FILE from poselift detect, DeepStream JSON, ...).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--input", help="2D keypoint file of a video (no ground truth); default: the first run's test split")
    p.add_argument("--single-frame", metavar="RUN_DIR", help="a receptive-field-1 run used as the single-frame reference")
    p.add_argument("--image-size", help="WxH for 2D files that do not store it")
    p.add_argument("--fps", type=float)
    p.add_argument("--min-length", type=int, default=10, help="shortest track to compare (frames)")
    p.add_argument("--data", help="Human3.6M data path (ground-truth mode)")
    p.add_argument("--device", default="auto")
    p.add_argument("--format", choices=["md", "csv"], default="md")
    p.add_argument("--out", help="also write the numbers as JSON")
    p.set_defaults(func=_compare)

    p = sub.add_parser("reproduce", help="re-run a run folder's config and compare metrics.json")
    p.add_argument("run_dir")
    p.add_argument("--out", help="folder for the re-run")
    p.add_argument("--tolerance", type=float, default=0.0, help="allowed difference in mm (default 0: identical)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_reproduce)
