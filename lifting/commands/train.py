"""``poselift train``, ``evaluate`` and ``reproduce``: experiments from a config to a run folder."""
from __future__ import annotations

import argparse
import re
from datetime import datetime
from pathlib import Path

from poselift.commands.inputs import ON_HELP, SHARED_WITH_HELP, add_allow_code_option, add_data_option

__all__ = ["register", "run_name", "folder_name"]


NOT_IN_NAME = ("device", "train.progress")
"""``--set`` keys that change where or how visibly a run trains, not what it is: left out of its name."""


def run_name(config_name: str, overrides: list[str] | None, name: str | None = None) -> str:
    """What a run is called (titles, tables, ``metrics.json``): ``name`` (``--name``) when given, else the config's
    name followed by what ``--set`` changed (but :data:`NOT_IN_NAME`), e.g.
    ``h36m_gt_27_reduced[model.widths=[1,1,1]]``. ``--set name=X`` names the run ``X`` like ``--name X``
    (it is the config's own name field: appending the other overrides to it would name the run twice)."""
    given = [o.split("=", 1)[1] for o in overrides or [] if "=" in o and o.split("=", 1)[0].strip() == "name"]
    if name is None and given:
        name, flag = given[-1], "--set name="
    else:
        flag = "--name"
    if name is not None:
        if not name.strip():
            raise ValueError(f"{flag} must not be empty")
        return name.strip()
    items = [" ".join(o.split()) for o in overrides or [] if o.split("=", 1)[0].strip() not in NOT_IN_NAME]
    return f"{config_name}[{','.join(items)}]" if items else config_name


def folder_name(name: str) -> str:
    """``name`` as a folder name without shell-hostile characters (brackets, commas, spaces)."""
    return re.sub(r"[^\w.=+-]+", "_", name).strip("_") or "run"


def _train(args: argparse.Namespace) -> int:
    from poselift.checkpoint import CHECKPOINT
    from poselift.experiments.config import apply_overrides, load_config
    from poselift.experiments.data import override_data_paths
    from poselift.experiments.train_eval import train_run
    from poselift.training.distributed import is_main, launched_by_torchrun

    cfg = load_config(args.config)
    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"device={args.device}")
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    override_data_paths(cfg, args.data, args.keypoints_path)
    cfg.name = run_name(cfg.name, args.set, args.name)
    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise ValueError("--resume RUN_DIR is the run folder; do not also pass a different --out")
        if args.restart:
            raise ValueError("--resume and --restart contradict each other")
        out = Path(args.resume)
        if is_main() and not (out / CHECKPOINT).exists():  # under torchrun only machine 0 needs the folder
            raise FileNotFoundError(f"nothing to resume: {out} has no {CHECKPOINT} (it stopped before the first "
                                    "epoch ended; start it again with --out)")
        # stale .tmp files of a killed write are removed by train_run once it holds the folder's lock
    else:
        if not args.out and launched_by_torchrun():
            raise ValueError("under torchrun pass --out RUN_DIR (each process would name its own folder by its clock)")
        out = Path(args.out) if args.out else Path("runs") / f"{folder_name(cfg.name)}-{datetime.now():%Y%m%d-%H%M%S}"
    if is_main():
        print(f"run folder: {out}" + (" (resuming)" if args.resume else ""))
    metrics = train_run(cfg, out, progress=not args.no_progress, resume=not args.restart)
    if not is_main():  # process 0 writes and prints the run folder; the others may not even see it
        return 0
    print((out / "table.md").read_text())
    print(f"Protocol 1 {metrics['mpjpe']:.1f} mm, Protocol 2 {metrics['p_mpjpe']:.1f} mm -> {out / 'metrics.json'}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from poselift.experiments.train_eval import evaluate_run

    flip = None if args.flip_test is None else args.flip_test == "on"
    if args.shared_with and not args.on:
        raise ValueError("evaluate: --shared-with LAYOUT goes with --on")
    if args.on and args.protocol:
        raise ValueError("evaluate: --on evaluates on another dataset under its own protocol; --protocol chooses "
                         "another protocol of the run's own dataset: give one of them")
    if args.on:
        from poselift.experiments.cross_dataset import cross_evaluate, cross_table

        if args.keypoints_path:
            raise ValueError("evaluate --on: the 2D come from the target config (its data.keypoints_path); "
                             "--keypoints is for evaluating a run on its own dataset")
        metrics = cross_evaluate(args.run_dir, args.on, data_path=args.data, progress=not args.no_progress,
                                 flip_test=flip, shared_with=args.shared_with, device=args.device)
        labels = metrics["metric_labels"]
        print(cross_table(metrics))
        print(f"{labels['mpjpe']} {metrics['mpjpe']:.1f} mm, {labels['p_mpjpe']} {metrics['p_mpjpe']:.1f} mm")
        return 0
    metrics = evaluate_run(args.run_dir, data_path=args.data, progress=not args.no_progress, flip_test=flip,
                           keypoints_path=args.keypoints_path, device=args.device, protocol=args.protocol)
    out = Path(args.run_dir) / ("protocols/" + args.protocol if args.protocol else "")
    print((out / "table.md").read_text())
    print(f"Protocol 1 {metrics['mpjpe']:.1f} mm, Protocol 2 {metrics['p_mpjpe']:.1f} mm")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from poselift.experiments.train_eval import reproduce_run

    out, diffs = reproduce_run(args.run_dir, args.out, progress=not args.no_progress, tol=args.tolerance,
                               device=args.device)
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
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. train.epochs=3 (the run is named after the config and these)")
    p.add_argument("--name", help="the run's name in titles and tables (default: the config's name, with the --set "
                   "items in brackets)")
    add_data_option(p)
    p.add_argument("--device", help="auto, cpu, cuda")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="re-evaluate a run folder's checkpoint on its test split")
    p.add_argument("run_dir")
    add_data_option(p)
    p.add_argument("--flip-test", choices=["on", "off"], help="override flip test-time augmentation")
    p.add_argument("--device", help="auto, cpu, cuda (default: the run's config)")
    p.add_argument("--on", metavar="CONFIG_OR_DATASET", help=ON_HELP)
    p.add_argument("--shared-with", metavar="LAYOUT", help=SHARED_WITH_HELP)
    p.add_argument("--protocol", metavar="NAME",
                   help="evaluate under another protocol's test split (e.g. h36m-novel-views); the numbers go to "
                        "RUN_DIR/protocols/NAME/metrics.json (poselift table reads that folder), metrics.json stays")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("reproduce", help="re-run a run folder's config and compare metrics.json")
    p.add_argument("run_dir")
    p.add_argument("--out", help="folder for the re-run")
    p.add_argument("--tolerance", type=float, default=0.0, help="allowed difference in mm (default 0: identical)")
    p.add_argument("--device", help="auto, cpu, cuda (default: the run's config)")
    add_allow_code_option(p)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_reproduce)
