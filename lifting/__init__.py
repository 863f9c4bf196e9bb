"""poselift: temporal 3D human pose lifting.

Import map (one namespace, folders of the repository in brackets):
``poselift`` [lifting/] core: layouts, cameras, model, metrics, training;
``poselift.datasets`` [datasets/]; ``poselift.detectors`` [detectors/];
``poselift.experiments`` [experiments/].
"""
from ._version import __version__
from .camera import Camera
from .errors import (
    ConfigError,
    FileFormatError,
    InputError,
    LayoutError,
    PoseliftError,
    SignatureError,
    check_finite,
    check_shape,
)
from .layouts import Layout, get_layout
from .model import TemporalLifter
from .sequence import PoseSequence

__all__ = [
    "__version__", "Camera", "Layout", "get_layout", "TemporalLifter", "PoseSequence",
    "PoseliftError", "InputError", "FileFormatError", "ConfigError", "SignatureError", "LayoutError",
    "check_finite", "check_shape",
]
