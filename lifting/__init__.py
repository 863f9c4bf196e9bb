"""poselift: temporal 3D human pose lifting.

Import map (one namespace, folders of the repository in brackets):
``poselift`` [lifting/] core: layouts, cameras, model, metrics, training;
``poselift.datasets`` [datasets/]; ``poselift.detectors`` [detectors/];
``poselift.experiments`` [experiments/].
"""
from poselift._version import __version__
from poselift.core.camera import Camera
from poselift.core.errors import (
    ConfigError,
    FileFormatError,
    InputError,
    LayoutError,
    PoseliftError,
    SignatureError,
    check_finite,
    check_shape,
)
from poselift.core.layouts import Layout, get_layout
from poselift.core.sequence import PoseSequence
from poselift.model.tcn import TemporalLifter

__all__ = [
    "__version__", "Camera", "Layout", "get_layout", "TemporalLifter", "PoseSequence",
    "PoseliftError", "InputError", "FileFormatError", "ConfigError", "SignatureError", "LayoutError",
    "check_finite", "check_shape",
]
