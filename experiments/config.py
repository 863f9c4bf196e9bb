"""Experiment configuration: YAML files validated into dataclasses.

A config has four sections plus a name and a seed::

    name: h36m_gt_27_reduced
    seed: 0
    data:   {dataset: h36m, protocol: h36m-vp3d, path: ../shared/data/h36m, keypoints: gt, ...}  # DataConfig
    model:  {widths: [3, 3, 3], channels: 256, ...}                        # ModelConfig
    train:  {epochs: 20, batch_size: 1024, ...}                            # poselift.training.trainer.TrainSettings
    eval:   {flip_test: true, eval_every: 1, ...}                          # EvalConfig
    device: auto

Unknown keys are errors (a typo must not silently fall back to a default),
and so are values of the wrong type: both raise :class:`~poselift.core.errors.ConfigError`
(a ``ValueError``) naming the key, e.g. ``train.epochs: expected an integer, got 'ten'``.
Configs are data: files are read with :func:`poselift.core.io.read_yaml` (plain YAML, no Python objects,
no aliases, bounded size), and the one setting that names code (``data.loader``) runs only when the user
allows it for the command (:mod:`poselift.core.trust`).
:func:`load_config` reads a file, :func:`apply_overrides` applies
``section.key=value`` strings from the command line, and
:func:`config_to_dict` gives the resolved configuration that every run folder
stores as ``config.yaml``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from poselift.core.errors import ConfigError
from poselift.core.io import read_yaml
from poselift.core.normalization import NORMALIZATIONS
from poselift.datasets.virtual_cameras import CameraDistribution
from poselift.training.trainer import TrainSettings

__all__ = [
    "DataConfig",
    "ModelConfig",
    "EvalConfig",
    "ExperimentConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "dump_config",
]



@dataclass
class SyntheticConfig:
    """Synthetic data (:mod:`poselift.datasets.synthetic`): train and test use different bodies and seeds."""

    subjects: int = 4
    test_subjects: int = 2
    takes: int = 1
    num_frames: int = 400
    test_num_frames: int = 400
    seed: int = 0
    test_seed: int = 1000
    camera_seed: int = 0  # one capture studio for train and test, as in Human3.6M
    motions: list[str] | None = None
    noise: dict[str, Any] = field(default_factory=dict)  # NoiseSettings fields

    def __post_init__(self) -> None:
        for k in ("subjects", "test_subjects", "takes", "num_frames", "test_num_frames"):
            if getattr(self, k) < 1:
                raise ConfigError(f"data.synthetic.{k} must be >= 1, got {getattr(self, k)}")
        self.noise = _noise_dict(self.noise or {})


DATASETS = ("h36m", "synthetic", "npz", "loader")


@dataclass
class DataConfig:
    """Which data to train and test on, and the protocol that says how.

    Attributes:
        dataset: ``"h36m"`` (Human3.6M archive or cache), ``"npz"`` (any dataset in VideoPose3D's npz
            format: :mod:`poselift.datasets.mocap_archive`), ``"synthetic"`` (the embedded synthetic data) or
            ``"loader"`` (your own function, :attr:`loader`).
        protocol: a protocol of :data:`poselift.datasets.protocols.PROTOCOLS` (``null``: ``h36m-vp3d`` for
            Human3.6M, ``custom`` otherwise). It supplies the subjects, left-out takes, action rule, averaging,
            root handling, epoch definition and labelled-subset rule; a field set here that differs from it
            makes a named variant (e.g. ``h36m-vp3d[test_subjects=S9]``).
        path: the data: Human3.6M archive folder or cache (``poselift prepare h36m``; ``$POSELIFT_H36M``
            overrides it), or the npz with ``positions_3d``. Relative paths are tried against the working
            directory, then the config file's folder.
        keypoints: 2D input. Human3.6M: ``"gt"`` (3D projected through the camera) or ``"sh"`` (Stacked
            Hourglass detections, 16 joints in, 17 out); npz: ``"archive"`` (the 2D it stores) or ``"gt"``
            (projected; needs intrinsics); synthetic: ``"gt"`` (noisy 2D from the generator).
        keypoints_path: npz: a separate npz holding ``positions_2d`` and ``metadata``.
        cameras: npz: a cameras file (JSON or YAML, see :mod:`poselift.datasets.mocap_archive`); else the
            archive's own ``cameras`` entry.
        layout: npz: the joint layout when the archive's metadata does not say.
        world_units: npz: ``"m"`` or ``"mm"`` of ``positions_3d``.
        fps: npz: frames per second when the archive does not say.
        allow_pickle: npz: VideoPose3D's files store pickled dicts, which can run code when read: set this
            only for files you trust.
        train_subjects, test_subjects: ``null``: the protocol's.
        actions: action-name prefixes to keep (VideoPose3D's ``--actions``); ``null``: the protocol's.
        action_pattern: regex whose first group is the action of a take name (how takes and chunks merge
            into actions); ``null``: the protocol's.
        exclude: ``"SUBJECT/TAKE"`` takes to leave out; ``null``: the protocol's.
        features: 2 (x, y) or 3 (x, y, confidence) values per input joint.
        frame_stride: every ``frame_stride``-th frame of each training video is a target.
        labelled_fraction: fraction of each labelled take used (1.0: all), by the protocol's subset rule.
        unlabelled_subjects: subjects whose 2D (and cameras) feed the semi-supervised back-projection;
            their 3D is never read.
        unlabelled_frame_stride: frame stride of unlabelled windows.
        unlabelled_files: 2D keypoint files of your own videos used as unlabelled data for back-projection.
        unlabelled_camera: intrinsics of those videos, ``{f: [fx, fy], c: [cx, cy], k: [...], p: [...]}`` in
            pixels; ``null`` assumes the documented default from the image size
            (:meth:`poselift.core.camera.Camera.from_image_size`).
        unlabelled_image_size: ``[width, height]`` for files that do not store it.
        loader: ``dataset: loader``: ``"package.module:function"`` or ``"path/to/file.py:function"`` (relative
            to the config file), called as ``function(**loader_args)``; it returns a
            :class:`poselift.datasets.splits.Splits` or ``{"train": [...], "test": [...], ...}`` of
            :class:`~poselift.core.sequence.PoseSequence`. Recorded in the run, so every later command
            loads the same data again. It runs code: only when the user allows it for the command
            (``--allow-code`` or ``POSELIFT_ALLOW_CODE=1``, :mod:`poselift.core.trust`), else refused.
        loader_args: keyword arguments of :attr:`loader`.
        synthetic: settings when ``dataset: synthetic``.
        normalization: how the 2D input is normalised: ``"image"`` (by the image width, VideoPose3D's
            and the default) or ``"torso"``/``"bbox"`` (by the person's size, so any framing gives the
            same input; :mod:`poselift.core.normalization`). Stored in the checkpoint, so lifting
            uses the same. Person-size normalisation drops the image position: not with a
            trajectory model or semi-supervised back-projection.
        virtual_cameras: re-film a fraction of the training frames through virtual cameras drawn from a
            declared distribution (:class:`poselift.datasets.virtual_cameras.CameraDistribution`; ``enabled:
            false`` by default, VideoPose3D's protocol unchanged). Needs 3D in a world frame with z up (cameras
            with extrinsics) and 2D made from the 3D joints (``keypoints: gt``); works with both input
            normalisations; a trajectory model learns the root in the virtual camera's frame. The unlabelled
            windows of semi-supervised training keep their real 2D and cameras (they have no 3D to re-film).
            Test data is never re-filmed (that is the ``h36m-novel-views`` protocol).
    """

    dataset: str = "h36m"
    protocol: str | None = None
    path: str | None = "../shared/data/h36m"
    keypoints: str = "gt"
    keypoints_path: str | None = None
    cameras: str | None = None
    layout: str | None = None
    world_units: str = "m"
    fps: float | None = None
    allow_pickle: bool = False
    train_subjects: list[str] | None = None
    test_subjects: list[str] | None = None
    actions: list[str] | None = None
    action_pattern: str | None = None
    exclude: list[str] | None = None
    features: int = 2
    frame_stride: int = 1
    labelled_fraction: float = 1.0
    unlabelled_subjects: list[str] = field(default_factory=list)
    unlabelled_frame_stride: int = 1
    unlabelled_files: list[str] = field(default_factory=list)
    unlabelled_camera: dict[str, Any] | None = None
    unlabelled_image_size: list[int] | None = None
    loader: str | None = None
    loader_args: dict[str, Any] = field(default_factory=dict)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    normalization: str = "image"
    virtual_cameras: CameraDistribution = field(default_factory=CameraDistribution)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"data.normalization must be one of {list(NORMALIZATIONS)}, got {self.normalization!r}")
        if self.normalization != "image" and (self.unlabelled_subjects or self.unlabelled_files):
            raise ConfigError(f"data.normalization {self.normalization!r} drops the image position that "
                              "semi-supervised back-projection needs; use 'image' with unlabelled data")
        if self.dataset not in DATASETS:
            raise ConfigError(f"data.dataset must be one of {list(DATASETS)}, got {self.dataset!r}")
        keypoints = {"h36m": ("gt", "sh"), "npz": ("archive", "gt"), "synthetic": ("gt",), "loader": ("gt",)}
        if self.keypoints not in keypoints[self.dataset]:
            raise ConfigError(f"data.keypoints for dataset {self.dataset!r} must be one of "
                              f"{list(keypoints[self.dataset])}, got {self.keypoints!r}")
        if self.protocol is not None:
            from poselift.datasets.protocols import get_protocol

            get_protocol(self.protocol)
        if self.dataset == "loader" and not self.loader:
            raise ConfigError("data.dataset: loader needs data.loader: 'package.module:function'")
        if self.loader and self.dataset != "loader":
            raise ConfigError(f"data.loader is for data.dataset: loader (the dataset is {self.dataset!r})")
        if self.dataset == "npz" and not self.path:
            raise ConfigError("data.dataset: npz needs data.path: the npz holding positions_3d")
        if self.world_units not in ("m", "mm"):
            raise ConfigError(f"data.world_units must be 'm' or 'mm', got {self.world_units!r}")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"data.fps must be positive, got {self.fps}")
        if self.features not in (2, 3):
            raise ConfigError(f"data.features must be 2 or 3, got {self.features}")
        if not 0 < self.labelled_fraction <= 1:
            raise ConfigError(f"data.labelled_fraction must be in (0, 1], got {self.labelled_fraction}")
        if self.frame_stride < 1 or self.unlabelled_frame_stride < 1:
            raise ConfigError("frame strides must be >= 1")
        if self.virtual_cameras.enabled and self.keypoints == "sh":
            raise ConfigError("data.virtual_cameras: the re-filmed 2D is projected from the 3D joints, but "
                              "data.keypoints is 'sh' (detections in another layout); use keypoints: gt")
        overlap = set(self.unlabelled_subjects) & set(self.test_subjects or ())
        if overlap:
            raise ConfigError(f"unlabelled subjects {sorted(overlap)} are also test subjects")


@dataclass
class ModelConfig:
    """:class:`poselift.model.tcn.TemporalLifter` settings (+ ``trajectory``: also train a trajectory model)."""

    widths: list[int] = field(default_factory=lambda: [3, 3, 3])
    channels: int = 1024
    dropout: float = 0.25
    causal: bool = False
    trajectory: bool = False

    def __post_init__(self) -> None:
        if not self.widths or any(w < 1 or w % 2 == 0 for w in self.widths):
            raise ConfigError(f"model.widths must be odd positive kernel widths, got {self.widths}")
        if self.channels < 1:
            raise ConfigError(f"model.channels must be >= 1, got {self.channels}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class EvalConfig:
    """Evaluation settings.

    Attributes:
        flip_test: average with the mirrored input's prediction.
        eval_every: monitor the test error every this many epochs (0: only at the end).
        monitor_frames: per-epoch monitoring uses the first this many frames of
            every test video (the final evaluation uses all frames).
        save_predictions: write ``predictions.h5`` (per sequence 3D) into the run folder.
    """

    flip_test: bool = True
    eval_every: int = 1
    monitor_frames: int | None = 500
    save_predictions: bool = False

    def __post_init__(self) -> None:
        if self.eval_every < 0:
            raise ConfigError(f"eval.eval_every must be >= 0, got {self.eval_every}")
        if self.monitor_frames is not None and self.monitor_frames < 1:
            raise ConfigError(f"eval.monitor_frames must be >= 1 or null, got {self.monitor_frames}")


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: EvalConfig = field(default_factory=EvalConfig)
    source: str | None = None  # the file it was read from (not part of the experiment)

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be in [0, 2**63), got {self.seed}")
        # one seed for everything: the top-level one
        if self.train.seed not in (0, self.seed):
            raise ConfigError(f"set the seed at the top level (seed: {self.train.seed}), not in train")
        self.train.seed = self.seed
        if self.model.trajectory and self.data.normalization != "image":
            raise ConfigError(f"model.trajectory needs the image position; data.normalization is "
                              f"{self.data.normalization!r} (use 'image')")

    @property
    def semi_supervised(self) -> bool:
        return bool(self.data.unlabelled_subjects or self.data.unlabelled_files)


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Validate/convert a YAML value to the annotated type ``tp``."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if value is None:
            return tp()
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_show(value)}")
        return _from_dict(tp, value, where)
    if origin is dict:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_show(value)}")
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"{where}: keys must be strings, got {_show(bad[0])}")
        return dict(value)
    if origin in (list, tuple):
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {_show(value)}")
        args = get_args(tp)
        (item,) = args[:1] or (Any,)
        if origin is tuple and args and Ellipsis not in args and len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {_show(value)}")
        out = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    args = get_args(tp)
    if args and type(None) in args:  # Optional[X]
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where) if len(inner) == 1 else value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {_show(value)}")
        return value
    if tp is int:
        value = _number_text(value)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {_show(value)}")
        return value
    if tp is float:
        value = _number_text(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_show(value)}")
        try:
            out = float(value)
        except OverflowError:
            raise ConfigError(f"{where}: number out of range: {_show(value)}") from None
        if not math.isfinite(out):
            raise ConfigError(f"{where}: expected a finite number, got {_show(value)}")
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_show(value)}")
        return value
    return value


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _number_text(value: Any) -> Any:
    """``"1e-4"`` -> ``0.0001``: YAML 1.1 (PyYAML) reads a float without a dot (``1e-4``, ``3E5``) as a
    string; ordinary number notation is accepted wherever a number is expected. Anything else unchanged."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def _noise_dict(d: Any) -> dict[str, Any]:
    """``data.synthetic.noise`` checked against :class:`~poselift.datasets.synthetic.NoiseSettings`
    (unknown keys and mistyped values are errors); the given keys with converted values."""
    from poselift.datasets.synthetic import NoiseSettings

    where = "data.synthetic.noise"
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping, got {_show(d)}")
    settings = _from_dict(NoiseSettings, d, where)
    return {k: getattr(settings, k) for k in d}


def _show(value: Any) -> str:
    """``repr`` of a config value, cut short (a fuzzed or pasted value can be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _from_dict(cls, d: dict, where: str):
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls) if f.init}
    unknown = [k for k in d if k not in names]
    if unknown:
        shown = sorted(repr(k) if not isinstance(k, str) else k for k in unknown)
        raise ConfigError(f"{where or 'config'}: unknown key(s) {shown}; allowed: {sorted(names)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in d.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        if where and not str(e).startswith(where):  # "train.epochs must be ...": name the section
            raise ConfigError(f"{where}.{e}") from None
        raise
    except (TypeError, ValueError, OverflowError) as e:
        raise ConfigError(f"{where or 'config'}: {e}") from None


def config_from_dict(d: dict) -> ExperimentConfig:
    """Validate a nested dict into an :class:`ExperimentConfig`."""
    if not isinstance(d, dict):
        raise ConfigError(f"a config must be a mapping at the top level, got {type(d).__name__}")
    return _from_dict(ExperimentConfig, d, "")


def config_to_dict(cfg: ExperimentConfig) -> dict:
    """Plain nested dict (lists, not tuples) of the resolved configuration."""

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    d = plain(asdict(cfg))
    d.pop("source", None)
    return d


def dump_config(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def load_config(path: str | os.PathLike) -> ExperimentConfig:
    """Read and validate a YAML config file.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: (a ``ValueError``) not UTF-8 YAML, YAML with aliases or beyond the size bounds
            (:func:`poselift.core.io.read_yaml`), unknown keys, or values of the wrong type or range; the
            message names the file and the key.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file (give the .yaml file)")
    d = read_yaml(path, error=ConfigError)
    if d is None:
        d = {}
    try:
        cfg = config_from_dict(d)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    cfg.source = str(path.resolve())
    return cfg


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Apply ``section.key=value`` overrides (values parsed as YAML), e.g. ``train.epochs=3``."""
    d = config_to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"override {item!r}: no section {p!r}")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f"override {item!r}: unknown key {key!r}")
        node[parts[-1]] = read_yaml(text=value, what=f"override {_show(item)}: the value", error=ConfigError)
    d["train"]["seed"] = d["seed"]  # the top-level seed is the one seed
    out = config_from_dict(d)
    out.source = cfg.source
    return out
