"""The one option group for 2D input, shared by every command that reads a 2D keypoint file.

``lift``, ``compare`` (``--input``) and ``figures`` (``--input``) take the same options, spelled the
same way, and read the file the same way (:func:`poselift.detectors.formats.read_2d`)::

    --allow-pickle            npz files holding pickled objects (VideoPose3D, Detectron2): only if trusted
    --fps FPS                 frame rate, when the file does not store it (or to override it)
    --image-size WxH          image size, when the file does not store it (or to override it)
    --video VIDEO             the video the keypoints came from: its frame rate and size fill in what the
                              file does not say (and lift --render draws over it)
    --layout LAYOUT           the file's joint layout, where the file does not state it
    --subject/--action/--camera   the entry of a VideoPose3D dataset npz (positions_2d[subject][action][camera];
                              a custom dataset's video name is its subject)
    --track ID [ID ...]       only these tracked people
    --min-length N            skip tracks shorter than N frames
"""
from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_2d_input_options", "add_data_option", "add_allow_code_option", "read_2d_input", "image_size", "INPUT_OPTIONS"]

DATA_HELP = ("the dataset, overriding the config's data.path: a Human3.6M archive folder or cache (also "
             "$POSELIFT_H36M), or the positions_3d npz of a VideoPose3D-format dataset")


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data PATH``: the same option, spelled and explained the same way, on every command that reads a
    run's dataset (``train``, ``evaluate``, ``compare``, ``figures``)."""
    parser.add_argument("--data", metavar="PATH", help=DATA_HELP)
    add_allow_code_option(parser)


def add_allow_code_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-code``: let a config's (or run folder's) ``data.loader`` hook run for this command
    (:mod:`poselift.core.trust`); every command that reads a run's dataset has it."""
    parser.add_argument("--allow-code", action="store_true",
                        help="let the config's data.loader hook run (it imports and calls Python code; also "
                        "POSELIFT_ALLOW_CODE=1); only for configs and run folders you trust")

INPUT_OPTIONS = {"allow_pickle": False, "fps": None, "image_size": None, "video": None, "layout": None,
                 "subject": None, "action": None, "camera": None, "track": None}
"""The group's options (``argparse`` destinations) that describe a file, with their defaults."""


def image_size(text: str) -> tuple[int, int]:
    """``argparse`` type for ``WIDTHxHEIGHT``."""
    try:
        w, h = text.lower().split("x")
        out = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}") from None
    if out[0] <= 0 or out[1] <= 0:
        raise argparse.ArgumentTypeError(f"image size must be positive, got {text!r}")
    return out


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return v


def add_2d_input_options(parser: argparse.ArgumentParser, min_length: int = 1,
                         video_help: str | None = None) -> argparse._ArgumentGroup:
    """Add the 2D input options (module docstring) to ``parser`` as one group."""
    g = parser.add_argument_group("2D input", "how the 2D keypoint file is read (the same for every command)")
    g.add_argument("--allow-pickle", action="store_true",
                   help=".npz files holding pickled Python objects (VideoPose3D, Detectron2); only if you trust it")
    g.add_argument("--fps", type=_positive, help="frame rate, if the file does not store it (or to override it)")
    g.add_argument("--image-size", type=image_size, metavar="WxH",
                   help="image size, if the file does not store it (or to override it)")
    g.add_argument("--video", help=video_help or "the video the keypoints came from: its frame rate and size fill in "
                   "what the file does not say")
    g.add_argument("--layout", help="the file's joint layout where it does not state it (e.g. h36m17 for a "
                   "VideoPose3D file without layout_name; COCO-17 is assumed for Detectron2 and MMPose files)")
    g.add_argument("--subject", help="VideoPose3D dataset npz: the subject (or the video name of a custom dataset)")
    g.add_argument("--action", help="VideoPose3D dataset npz: the action")
    g.add_argument("--camera", type=int, help="VideoPose3D dataset npz: the camera index")
    g.add_argument("--track", type=int, nargs="+", metavar="ID", help="only these tracked people")
    g.add_argument("--min-length", type=int, default=min_length,
                   help=f"skip tracks shorter than this many frames (default {min_length})")
    return g


def read_2d_input(path: str, args: argparse.Namespace) -> Any:
    """The file's :class:`~poselift.detectors.formats.KeypointTracks`, read with the group's options."""
    from poselift.detectors.formats import read_2d

    if args.min_length < 1:
        raise ValueError(f"--min-length must be >= 1, got {args.min_length}")
    return read_2d(path, image_size=args.image_size, fps=args.fps, allow_pickle=args.allow_pickle, layout=args.layout,
                   subject=args.subject, action=args.action, camera=args.camera, tracks=args.track,
                   video=args.video)
