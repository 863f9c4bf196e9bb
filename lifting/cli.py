"""The ``poselift`` command line.

Each subcommand lives next to the code it drives and registers itself through
a ``register(subparsers)`` function in one of the modules listed in
:data:`COMMAND_MODULES`; this file only assembles them.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from poselift._version import __version__
from poselift.core.errors import PoseliftError

COMMAND_MODULES = [
    "poselift.demo",  # demo
    "poselift.datasets.commands",  # prepare
    "poselift.experiments.commands",  # train, evaluate, table, reproduce
    "poselift.detectors.commands",  # detect, lift
    "poselift.experiments.figure_commands",  # figures
    "poselift.model.onnx",  # export
    "poselift.experiments.perf",  # bench
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poselift",
        description="Temporal 3D human pose lifting: 2D keypoints in, 3D poses out.",
    )
    parser.add_argument("--version", action="version", version=f"poselift {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: $POSELIFT_THREADS or all cores); use 1 per process "
                        "when several processes share the cores (oversubscribed threads slow training many times)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # a command group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    threads = args.threads or (int(os.environ["POSELIFT_THREADS"]) if os.environ.get("POSELIFT_THREADS") else None)
    if threads:
        import torch

        torch.set_num_threads(threads)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (PoseliftError, ValueError, FileNotFoundError, KeyError, RuntimeError) as e:
        if getattr(args, "debug", False):
            raise
        print(f"poselift {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
