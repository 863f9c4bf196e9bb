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
                              a custom dataset's video name is its subject); --camera takes the index or, for a
                              file of the run's dataset, the camera's name (C1, 54138969: as compare/figures
                              print it)
    --track ID [ID ...]       only these tracked people
    --min-length N            skip tracks shorter than N frames

When the file is one of the files of the run's dataset (its config's ``data.keypoints_path`` or ``data.path``,
a VideoPose3D-format dataset), what the dataset states fills in what the file does not: the frame rate
(``data.fps``) and the image size (the camera's ``width``/``height`` in ``data.cameras``); a line on stderr
says so (:func:`dataset_defaults`).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["ON_HELP", "SHARED_WITH_HELP", "add_2d_input_options", "add_data_option", "add_allow_code_option",
           "read_2d_input", "image_size", "INPUT_OPTIONS", "dataset_defaults"]

DATA_HELP = ("the dataset, overriding the config's data.path: a Human3.6M archive folder or cache (also "
             "$POSELIFT_H36M), or the positions_3d npz of a VideoPose3D-format dataset")
KEYPOINTS_HELP = ("the 2D file of a VideoPose3D-format dataset (positions_2d npz), overriding the config's "
                  "data.keypoints_path")


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data PATH`` (the 3D file or archive) and ``--keypoints PATH`` (the 2D file): the same options, spelled
    and explained the same way, on every command that reads a run's dataset (``train``, ``evaluate``,
    ``compare``, ``figures``)."""
    parser.add_argument("--data", metavar="PATH", help=DATA_HELP)
    parser.add_argument("--keypoints", metavar="PATH", dest="keypoints_path", help=KEYPOINTS_HELP)
    add_allow_code_option(parser)


def add_allow_code_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-code``: let a config's (or run folder's) ``data.loader`` hook run for this command
    (:mod:`poselift.core.trust`); every command that reads a run's dataset has it."""
    parser.add_argument("--allow-code", action="store_true",
                        help="let the config's data.loader hook run (it imports and calls Python code; also "
                        "POSELIFT_ALLOW_CODE=1); only for configs and run folders you trust")


ON_HELP = ("cross-dataset: evaluate on another dataset's test split, a config file or 'h36m'/'humaneva' (--data "
           "replaces its data.path), over the joints the run's layout shares with it "
           "(poselift.core.layouts.get_correspondence); results in RUN/cross/<name>/")

SHARED_WITH_HELP = ("with --on: score only over the test data's joints that a run of LAYOUT is scored on (e.g. a "
                    "HumanEva-I run on HumanEva-I --shared-with h36m17: the 12 joints of a Human3.6M run), so "
                    "both fit one table")

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


def _camera(text: str) -> int | str:
    """``argparse`` type of ``--camera``: an index (``0``) or a camera name (``C1``, ``54138969``)."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("expected a camera index or name")
    return int(text) if text.isdigit() and len(text) < 4 else text  # 54138969 is a Human3.6M camera's name


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
    g.add_argument("--camera", type=_camera, help="VideoPose3D dataset npz: the camera index, or its name (C1) for a "
                   "file of the run's dataset")
    g.add_argument("--track", type=int, nargs="+", metavar="ID", help="only these tracked people")
    g.add_argument("--min-length", type=int, default=min_length,
                   help=f"skip tracks shorter than this many frames (default {min_length})")
    return g


def read_2d_input(path: str, args: argparse.Namespace) -> Any:
    """The file's :class:`~poselift.detectors.formats.KeypointTracks`, read with the group's options."""
    from poselift.detectors.formats import read_2d

    if args.min_length < 1:
        raise ValueError(f"--min-length must be >= 1, got {args.min_length}")
    if isinstance(args.camera, str):
        raise ValueError(f"--camera {args.camera}: a camera name is known only for a file of the run's dataset "
                         f"(its config's data.keypoints_path, with data.cameras); {path} is not one: give the "
                         "camera's index (0, 1, ...)")
    return read_2d(path, image_size=args.image_size, fps=args.fps, allow_pickle=args.allow_pickle, layout=args.layout,
                   subject=args.subject, action=args.action, camera=args.camera, tracks=args.track,
                   video=args.video)


def _same_file(a: Path, b: Path) -> bool:
    """The same file, or a copy of it (same name and size)."""
    try:
        return a.samefile(b) or (a.name == b.name and a.stat().st_size == b.stat().st_size)
    except OSError:
        return False


def dataset_defaults(path: str, run_dir: str, args: argparse.Namespace) -> list[str]:
    """Fill in, on ``args``, what the run's dataset states about ``path`` when it is one of its files.

    For a run whose config reads a VideoPose3D-format dataset (``data.dataset: npz``) and a 2D file that is its
    ``data.keypoints_path`` or ``data.path`` (the same file or a copy: same name and size): ``--camera NAME``
    becomes the camera's index in the subject's camera list (``data.cameras``); ``--fps`` defaults to
    ``data.fps``; ``--image-size`` to the camera's width and height (the chosen subject and camera, or the one
    size all the dataset's cameras share). Options given stay as they are.

    Returns:
        One line per value filled in (the caller prints them), empty when the file is not the dataset's.
    """
    from poselift.experiments.config import load_config
    from poselift.experiments.data import resolve_data_path

    cfg_path = Path(run_dir) / "config.yaml"
    if not cfg_path.is_file():
        return []
    try:
        cfg = load_config(cfg_path)
    except (ValueError, OSError):  # the command reports a broken run folder itself where it needs the config
        return []
    d = cfg.data
    if d.dataset != "npz":
        return []
    own = []
    for value, what in ((d.keypoints_path, "data.keypoints_path"), (d.path, "data.path")):
        if value:
            try:
                own.append(resolve_data_path(value, cfg.source, what=what))
            except FileNotFoundError:
                own.append(Path(value))
    if not any(_same_file(Path(path), f) for f in own):
        return []
    told = []
    cams = None
    if d.cameras:
        from poselift.datasets.mocap_archive import read_cameras_file

        try:
            cams = read_cameras_file(resolve_data_path(d.cameras, cfg.source, what="data.cameras", near=own[-1]))
        except FileNotFoundError:
            if isinstance(args.camera, str):
                raise FileNotFoundError(f"--camera {args.camera}: the cameras file of {run_dir}'s dataset "
                                        f"(data.cameras: {d.cameras}) is not there; give the camera's index") from None
            told.append(f"the cameras file {d.cameras} of the dataset is not there: no image size from it")
    subject_cams = None
    if cams is not None:
        if args.subject is not None:
            subject_cams = cams.get(args.subject) or cams.get(args.subject.rsplit("/", 1)[-1])
        elif len({tuple(c.name for c in v) for v in cams.values()}) == 1:  # every subject's cameras are named alike
            subject_cams = next(iter(cams.values()))
    if isinstance(args.camera, str):
        if subject_cams is None:
            raise ValueError(f"--camera {args.camera}: {run_dir}'s dataset names no cameras for "
                             + (f"subject {args.subject!r}" if args.subject else "every subject alike (give --subject)")
                             + "; give the camera's index")
        names = [c.name for c in subject_cams]
        if args.camera not in names:
            raise ValueError(f"--camera {args.camera}: no such camera; the dataset's cameras: {', '.join(names)}")
        told.append(f"camera {args.camera} is index {names.index(args.camera)} (data.cameras of {run_dir})")
        args.camera = names.index(args.camera)
    if args.fps is None and d.fps:
        args.fps = float(d.fps)
        told.append(f"{args.fps:g} frames/s from {run_dir}'s config (data.fps)")
    if args.image_size is None and cams is not None:
        i = args.camera
        if args.subject is not None and subject_cams is not None and i is not None and 0 <= i < len(subject_cams):
            sizes = {(subject_cams[i].width, subject_cams[i].height)}
        elif args.subject is None and i is not None:  # the camera of whichever subject: one size for all of them
            sizes = {(v[i].width, v[i].height) for v in cams.values() if 0 <= i < len(v)}
        else:
            sizes = {(c.width, c.height) for v in cams.values() for c in v}
        if len(sizes) == 1:
            args.image_size = sizes.pop()
            told.append(f"image size {args.image_size[0]}x{args.image_size[1]} from the dataset's cameras "
                        f"({Path(d.cameras).name})")
    return told
