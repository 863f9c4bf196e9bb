"""poselift: temporal 3D human pose lifting.

The package is layered; a module imports only from its own layer or below
(``tests/test_layering.py`` checks it)::

    core          errors, layouts, camera, sequence, windows, mirror, io, device, backend
    model         tcn (TemporalLifter), folded, streaming, onnx                (+ metrics)
    checkpoint    the one checkpoint format
    inference     Lifter, load_lifter, lift_sequence(s); training/; viz/
    datasets/     Human3.6M, VideoPose3D-format archives, synthetic data      (folder datasets/)
    detectors/    BodyPoseNet, BodyPose3DNet, tracking, 2D file formats      (folder detectors/)
    experiments/  configs, runs, evaluation, tables, figures, benchmarks     (folder experiments/)
    commands/     the ``poselift`` command line

The most used names are available here (imported on first use, so
``import poselift`` and ``poselift --help`` stay fast): ``PoseSequence``,
``Camera``, ``Layout``, ``get_layout``, ``TemporalLifter``, ``Lifter``,
``load_lifter`` and the errors.
"""
from __future__ import annotations

import importlib

from poselift._version import __version__

_LAZY = {
    "Camera": "poselift.core.camera",
    "Layout": "poselift.core.layouts",
    "get_layout": "poselift.core.layouts",
    "PoseSequence": "poselift.core.sequence",
    "TemporalLifter": "poselift.model.tcn",
    "Lifter": "poselift.inference",
    "load_lifter": "poselift.inference",
    "PoseliftError": "poselift.core.errors",
    "InputError": "poselift.core.errors",
    "FileFormatError": "poselift.core.errors",
    "ConfigError": "poselift.core.errors",
    "SignatureError": "poselift.core.errors",
    "LayoutError": "poselift.core.errors",
    "check_finite": "poselift.core.errors",
    "check_shape": "poselift.core.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'poselift' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
