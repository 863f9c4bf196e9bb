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
:mod:`.models`         ``models extract`` (BlazePose's files out of a mediapipe wheel)
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
shows the full traceback instead.

The global options (:data:`GLOBAL_OPTIONS`: ``--debug``, ``--threads``, ``--device``, ``--quiet``) are
accepted before or after the command name.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

from poselift._version import __version__
from poselift.commands import bench, data, demo, export, models, results, train, video, weights
from poselift.core.errors import PoseliftError

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

COMMAND_MODULES = (demo, data, train, results, video, export, weights, models, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poselift",
        description="Temporal 3D human pose lifting: 2D keypoints in, 3D poses out.",
    )
    parser.add_argument("--version", action="version", version=f"poselift {__version__}")
    for flag, kw in GLOBAL_OPTIONS.items():
        parser.add_argument(flag, **kw)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    _global_options_everywhere(sub)
    return parser


GLOBAL_OPTIONS = {
    "--debug": dict(action="store_true", help="show tracebacks instead of one-line errors"),
    "--threads": dict(type=int, default=None,
                      help="CPU threads for torch and ONNX Runtime (default: $POSELIFT_THREADS or all cores); use 1 "
                      "per process when several processes share the cores (oversubscribed threads slow training "
                      "many times)"),
    "--device": dict(default=None, help="torch device: auto, cpu, cuda, cuda:N (commands that run a model; each "
                     "command's own default otherwise)"),
    "--quiet": dict(action="store_true", help="no progress bars"),
}
"""Options accepted before or after the command name (``poselift --threads 1 train CFG`` and ``poselift train
CFG --threads 1`` are the same); given on both sides, the one after the command name wins."""


def _global_options_everywhere(sub: argparse._SubParsersAction) -> None:
    """Add :data:`GLOBAL_OPTIONS` to every command's parser (nested ones too).

    A command that defines one itself (``--device`` with its own default, ``lift --quiet``) keeps its help;
    its default moves to ``_command_defaults`` and applies only when the option is given on neither side.
    A command parser's default would otherwise overwrite the value given before the command name.
    """
    for p in set(sub.choices.values()):
        own = {flag: a for a in p._actions for flag in a.option_strings if flag in GLOBAL_OPTIONS}
        defaults = {}
        for flag, kw in GLOBAL_OPTIONS.items():
            if flag in own:
                defaults[own[flag].dest] = own[flag].default
                own[flag].default = argparse.SUPPRESS
            else:
                p.add_argument(flag, **{**kw, "default": argparse.SUPPRESS})
        p.set_defaults(_command_defaults=defaults, _takes_device="--device" in own)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _global_options_everywhere(action)


def _finish_global_options(args: argparse.Namespace) -> None:
    """Apply a command's own defaults of the global options, refuse ``--device`` where no model runs, and let
    ``--quiet`` switch off the progress bars of commands that spell it ``--no-progress``."""
    for dest, value in getattr(args, "_command_defaults", {}).items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, value)
    if args.device is not None and not getattr(args, "_takes_device", False):
        raise ValueError(f"--device: {args.command} runs no torch model (it takes no device)")
    if args.quiet and hasattr(args, "no_progress"):
        args.no_progress = True


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


def one_line_warning(command: str):
    """A :func:`warnings.formatwarning` that prints ``poselift COMMAND: warning: MESSAGE`` on one line (Python's
    own format adds the file, line number and the source line that warned: noise to a user of the command)."""
    def fmt(message, category, filename, lineno, line=None) -> str:
        text = " ".join(str(message).split())
        kind = "" if category is UserWarning else f" ({category.__name__})"
        return f"poselift {command}: warning: {text}{kind}\n"

    return fmt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    formatwarning = warnings.formatwarning
    if not args.debug:  # --debug: Python's format, with the file and line that warned
        warnings.formatwarning = one_line_warning(args.command)
    try:
        _finish_global_options(args)
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
    finally:
        warnings.formatwarning = formatwarning


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
