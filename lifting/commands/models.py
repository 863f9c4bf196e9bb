"""``poselift models extract``: detector model files out of a package the user downloaded.

::

    pip download mediapipe==0.10.21 --no-deps -d wheels/
    poselift models extract wheels/mediapipe-0.10.21-*.whl --out models/blazepose

Nothing is downloaded by poselift; the files are checked by SHA-256
(:mod:`poselift.detectors.blazepose.weights`).
"""
from __future__ import annotations

import argparse

__all__ = ["register"]


def _extract(args: argparse.Namespace) -> int:
    from poselift.detectors.blazepose.weights import extract_models

    written = extract_models(args.wheel, args.out)
    for name, path in written.items():
        print(f"{path}: {name}, SHA-256 verified")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="detector model files: extract BlazePose's from a mediapipe wheel")
    sub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("extract", help="the two BlazePose .tflite files out of a mediapipe 0.10.21 wheel",
                       description="Extract pose_detection.tflite and pose_landmark_full.tflite from a wheel got "
                                   "with 'pip download mediapipe==0.10.21 --no-deps', check their SHA-256 and write "
                                   "them to --out (then: poselift detect VIDEO --detector blazepose --model-dir OUT).")
    q.add_argument("wheel", help="mediapipe-0.10.21-*.whl")
    q.add_argument("--out", required=True, help="folder to write the two files to (created)")
    q.set_defaults(func=_extract)
