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

Every failure is one line on stderr, ``poselift COMMAND: error: MESSAGE``, and
a non-zero exit code (1; 130 when interrupted): the package's own errors
(:mod:`poselift.core.errors`) with their message, file-system errors with
the path and the reason, anything unexpected with its type. ``--debug``
(before or after the command name) shows the full traceback instead.
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
    _debug_everywhere(sub)
    return parser


def _debug_everywhere(sub: argparse._SubParsersAction) -> None:
    """``--debug`` after the command name too (``poselift train CFG --debug``)."""
    for p in set(sub.choices.values()):
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks instead of one-line errors")
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _debug_everywhere(action)


MAX_MESSAGE = 1000
"""Longest error message printed (torch and ONNX Runtime can produce pages)."""


def error_message(e: BaseException) -> str:
    """One line (no newlines, at most :data:`MAX_MESSAGE` characters) describing ``e`` for the command line."""
    if isinstance(e, (PoseliftError, FloatingPointError)):
        text = str(e)
    elif isinstance(e, OSError) and e.filename is not None:  # "runs/x: Is a directory", not "[Errno 21] ..."
        text = f"{e.filename}: {e.strerror or type(e).__name__}"
        if e.filename2 is not None:
            text = f"{e.filename} -> {e.filename2}: {e.strerror or type(e).__name__}"
    elif isinstance(e, MemoryError):
        text = f"out of memory ({e})" if str(e) else "out of memory"
    elif isinstance(e, (ValueError, FileNotFoundError)) and type(e) in (ValueError, FileNotFoundError):
        text = str(e)
    else:  # unexpected here: say what it is (--debug shows where)
        text = f"{type(e).__name__}: {e} (poselift --debug ... shows the traceback)"
    text = " ".join(text.split()) or type(e).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from poselift.core.device import set_threads
        from poselift.core.trust import allow_code

        set_threads(args.threads)
        with allow_code(getattr(args, "allow_code", False)):
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print(f"poselift {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every failure is one line (--debug: the traceback)
        if getattr(args, "debug", False):
            raise
        print(f"poselift {args.command}: error: {error_message(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
