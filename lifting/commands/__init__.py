"""The ``poselift`` command line: the only place that parses arguments.

One module per command family, each with a ``register(subparsers)``:

=====================  =====================================================
module                 commands
=====================  =====================================================
:mod:`.demo`           ``demo``
:mod:`.data`           ``prepare``
:mod:`.train`          ``train``, ``evaluate``, ``reproduce``
:mod:`.results`        ``table``, ``compare``, ``figures``
:mod:`.video`          ``detect``, ``lift``
:mod:`.export`         ``export``
:mod:`.weights`        ``import`` (published VideoPose3D weights into a run folder)
:mod:`.bench`          ``bench``
=====================  =====================================================

The modules are imported here by name, so one that fails to import is an
error, not a command that silently disappears. They import the rest of the
package only inside their handlers: ``poselift --help`` and ``--version``
do not load torch.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from poselift._version import __version__
from poselift.commands import bench, data, demo, export, results, train, video, weights
from poselift.core.errors import PoseliftError

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

COMMAND_MODULES = (demo, data, train, results, video, export, weights, bench)


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
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from poselift.core.device import set_threads

        set_threads(args.threads)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (PoseliftError, ValueError, FileNotFoundError, FileExistsError, KeyError, RuntimeError) as e:
        if getattr(args, "debug", False):
            raise
        print(f"poselift {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
