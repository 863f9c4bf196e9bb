"""``poselift train``, ``evaluate`` and ``reproduce``: experiments from a config to a run folder."""
from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from poselift.commands.inputs import add_data_option

__all__ = ["register"]


def _train(args: argparse.Namespace) -> int:
    from poselift.experiments.config import apply_overrides, load_config
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
        # stale .tmp files of a killed write are removed by train_run once it holds the folder's lock
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
    metrics = evaluate_run(args.run_dir, data_path=args.data, progress=not args.no_progress, flip_test=flip,
                           protocol=args.protocol)
    out = Path(args.run_dir) / ("protocols/" + args.protocol if args.protocol else "")
    print((out / "table.md").read_text())
    print(f"Protocol 1 {metrics['mpjpe']:.1f} mm, Protocol 2 {metrics['p_mpjpe']:.1f} mm")
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


def register(sub) -> None:
    p = sub.add_parser("train", help="train and evaluate one experiment config into a run folder")
    p.add_argument("config", help="YAML config (see experiments/configs/)")
    p.add_argument("--out", help="run folder (default runs/<name>-<time>); an existing one resumes")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from its last checkpoint (same config; RNG states, optimiser, "
                   "learning rate, BN momentum and data order are restored, so the result equals an uninterrupted run)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.epochs=3")
    add_data_option(p)
    p.add_argument("--device", help="auto, cpu, cuda")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="re-evaluate a run folder's checkpoint on its test split")
    p.add_argument("run_dir")
    add_data_option(p)
    p.add_argument("--flip-test", choices=["on", "off"], help="override flip test-time augmentation")
    p.add_argument("--protocol", metavar="NAME",
                   help="evaluate under another protocol's test split (e.g. h36m-novel-views); the numbers go to "
                        "RUN_DIR/protocols/NAME/metrics.json (poselift table reads that folder), metrics.json stays")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("reproduce", help="re-run a run folder's config and compare metrics.json")
    p.add_argument("run_dir")
    p.add_argument("--out", help="folder for the re-run")
    p.add_argument("--tolerance", type=float, default=0.0, help="allowed difference in mm (default 0: identical)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_reproduce)
