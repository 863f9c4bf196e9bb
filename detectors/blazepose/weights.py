"""The BlazePose model files, taken from a ``mediapipe`` wheel the user downloaded (nothing is fetched here).

::

    pip download mediapipe==0.10.21 --no-deps -d wheels/      # any platform's wheel holds the same two files
    poselift models extract wheels/mediapipe-0.10.21-*.whl --out models/blazepose

:func:`extract_models` reads ``mediapipe/modules/pose_detection/pose_detection.tflite`` and
``mediapipe/modules/pose_landmark/pose_landmark_full.tflite`` out of the wheel (a zip file), checks each
against :data:`~poselift.detectors.blazepose.net.MODEL_SHA256` and writes them atomically; a file whose hash
differs is refused (another release's pre/post-processing may differ from what this detector implements).
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from poselift.core.errors import FileFormatError
from poselift.core.io import atomic_path
from poselift.detectors.blazepose.net import MODEL_SHA256

__all__ = ["WHEEL_MEMBERS", "extract_models"]

WHEEL_MEMBERS = {
    "pose_detection.tflite": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "pose_landmark_full.tflite": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
}
"""File name -> its path inside the ``mediapipe`` wheel."""


def extract_models(wheel: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Extract and verify the two BlazePose files from ``wheel`` into ``out_dir``.

    Returns:
        file name -> written path.

    Raises:
        FileNotFoundError: no such wheel.
        FileFormatError: not a zip file, a member missing, or a SHA-256 that is not the expected one
            (nothing is written then).
    """
    wheel, out = Path(wheel), Path(out_dir)
    if not wheel.is_file():
        raise FileNotFoundError(f"no such wheel: {wheel} (pip download mediapipe==0.10.21 --no-deps -d DIR)")
    try:
        zf = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile:
        raise FileFormatError(f"{wheel}: not a wheel (zip file)", wheel) from None
    data: dict[str, bytes] = {}
    with zf:
        names = set(zf.namelist())
        for name, member in WHEEL_MEMBERS.items():
            if member not in names:
                raise FileFormatError(f"{wheel}: has no {member} (is it a mediapipe wheel?)", wheel)
            blob = zf.read(member)
            got = hashlib.sha256(blob).hexdigest()
            if got != MODEL_SHA256[name]:
                raise FileFormatError(f"{wheel}: {member} has SHA-256 {got}, expected {MODEL_SHA256[name]} "
                                      "(the mediapipe 0.10.21 file); refusing another version", wheel)
            data[name] = blob
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, blob in data.items():
        with atomic_path(out / name, suffix=".tflite") as tmp:
            Path(tmp).write_bytes(blob)
        written[name] = out / name
    return written
