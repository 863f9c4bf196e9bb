"""From a config's ``data`` section to the experiment's :class:`~poselift.datasets.splits.Splits`.

One function, :func:`load_splits`, for every kind of data (``data.dataset``):

* ``h36m``: Human3.6M (archive folder or prepared cache), ground-truth or Stacked Hourglass 2D;
* ``npz``: any dataset in VideoPose3D's npz format (:mod:`poselift.datasets.mocap_archive`);
* ``synthetic``: the embedded synthetic data;
* ``loader``: a user's function (``data.loader: package.module:function``) returning the splits.

The protocol (:mod:`poselift.datasets.protocols`) decides which subjects and
takes train and test; fields of the config that differ from it make a named
variant. Every Splits says what its copy of the data lacks against the
protocol's reference counts (``Splits.report``), and the notes every table
built from it must carry.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from poselift.core.errors import ConfigError, InputError
from poselift.core.sequence import PoseSequence
from poselift.core.trust import require_code_allowed
from poselift.datasets.protocols import Protocol, get_protocol, subset_range
from poselift.datasets.splits import Splits, count_frames
from poselift.experiments.config import ExperimentConfig, load_config

__all__ = [
    "resolve_protocol",
    "resolve_data_path",
    "recorded_data_paths",
    "load_splits",
    "labelled_subset",
    "custom_unlabelled",
    "test_split_key",
    "shared_test_split",
    "override_data_paths",
    "import_loader",
]


# --------------------------------------------------------------------------- protocol and paths
def resolve_protocol(cfg: ExperimentConfig) -> Protocol:
    """The protocol a config follows: ``data.protocol`` (default by dataset) and the fields the config
    changes (subjects, actions, action rule, left-out takes, flip mode, window order), as a named variant."""
    d = cfg.data
    base = get_protocol(d.protocol or ("h36m-vp3d" if d.dataset == "h36m" else "custom"))
    flip = "off" if not cfg.train.flip_augment else cfg.train.flip_mode
    changes: dict[str, Any] = {
        "train_subjects": None if d.train_subjects is None else tuple(d.train_subjects),
        "test_subjects": None if d.test_subjects is None else tuple(d.test_subjects),
        "actions": None if d.actions is None else tuple(d.actions),
        "action_pattern": d.action_pattern,
        "exclude": None if d.exclude is None else tuple(d.exclude),
        "flip_mode": flip,
        "window_order": cfg.train.window_order,
        "labelled_fraction": None if d.labelled_fraction >= 1 else float(d.labelled_fraction),
    }
    if base.name == "custom":  # a user's own protocol: its fields are the config's, no variant name
        return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})
    return base.variant(**changes)


def resolve_data_path(path: str | None, config_source: str | None = None, env: str | None = None,
                      what: str = "data", near: str | os.PathLike | None = None) -> Path:
    """Find ``path``: ``$env`` (when given and set), then ``path`` relative to the working directory, then
    relative to the config file's folder, then (``near``: a file) its name in ``near``'s folder."""
    candidates = [Path(os.environ[env])] if env and os.environ.get(env) else []
    if path:
        p = Path(path).expanduser()
        candidates.append(p)
        if not p.is_absolute() and config_source:
            candidates.append(Path(config_source).parent / p)
        if near is not None:
            candidates.append(Path(near).parent / p.name)
    for c in candidates:
        if c.exists():
            return c
    hint = f", set {env}" if env else ""
    option = ("Set data.keypoints_path in the config or pass --keypoints PATH (the 2D file)"
              if what == "data.keypoints_path" else f"Set data.path in the config, pass --data PATH{hint}")
    raise FileNotFoundError(f"{what} not found (tried: " + (", ".join(str(c) for c in candidates) or "nothing")
                            + f"). {option}.")


def recorded_data_paths(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with the data files it names (``data.path``, ``keypoints_path``, ``cameras``, a loader's file,
    ``unlabelled_files``) made absolute where they are found, so that the copy a run folder keeps
    (``config.yaml``) reads the same files from any working directory: ``evaluate``, ``compare``,
    ``figures`` and ``reproduce`` need no extra flags. Paths not found are left as they are (their
    command names them when it needs them)."""
    out = copy.deepcopy(cfg)
    d = out.data

    def absolute(value, env=None, near=None):
        if not value:
            return value
        try:
            return str(resolve_data_path(value, cfg.source, env=env, near=near).resolve())
        except FileNotFoundError:
            return value

    if d.dataset in ("h36m", "npz"):
        d.path = absolute(d.path, env="POSELIFT_H36M" if d.dataset == "h36m" else None)
    if d.dataset == "npz":
        d.keypoints_path = absolute(d.keypoints_path, near=d.path)
        d.cameras = absolute(d.cameras, near=d.path)
    if d.loader and ":" in d.loader:
        target, name = d.loader.rsplit(":", 1)
        if target.endswith(".py"):
            d.loader = f"{absolute(target)}:{name}"
    d.unlabelled_files = [absolute(f) for f in d.unlabelled_files]
    return out


# --------------------------------------------------------------------------- the datasets
def _h36m(cfg: ExperimentConfig, protocol: Protocol, test_only: bool, progress: bool) -> Splits:
    from poselift.datasets import h36m

    d = cfg.data
    path = resolve_data_path(d.path, cfg.source, env="POSELIFT_H36M", what="Human3.6M data")
    train_subjects = [] if test_only else list(protocol.train_subjects)
    unl_subjects = [] if test_only else list(d.unlabelled_subjects)
    needed = sorted(set(train_subjects) | set(protocol.test_subjects) | set(unl_subjects), key=h36m.subject_number)
    data = h36m.load(path, subjects=needed, progress=progress)

    def seqs(subjects):
        out = h36m.sequences(data, subjects, keypoints=d.keypoints) if subjects else []
        return [s for s in out if protocol.keeps(s.subject, s.action)]

    train, test = seqs(train_subjects), seqs(list(protocol.test_subjects))
    unl = [dataclasses.replace(s, poses3d=None) for s in seqs(unl_subjects)]  # unlabelled: 3D never seen
    notes = [f"Protocol {protocol.name}: {protocol.description}."]
    if d.keypoints == "sh":
        notes.append("2D input: Stacked Hourglass detections (MPII-pretrained, 16 joints) -> 17 joints.")
        notes += [n for n in data.notes if "no Stacked Hourglass" in n and
                  any(n.startswith(f"{s} ") for s in protocol.test_subjects)
                  and protocol.keeps(n.split(" ", 1)[0], n.split("'")[1] if "'" in n else "")]
    report = _h36m_report(data, protocol, train, test, test_only)
    notes += _report_notes(report)
    return Splits(train, test, unl, "h36m", protocol, notes, report)


def _h36m_report(data, protocol: Protocol, train, test, test_only: bool) -> dict:
    """What this copy lacks: takes whose 3D is missing (frames from their 2D), against the reference counts."""
    cams = 4

    def missing(subjects):
        return [{"take": f"{s}/{a}", "frames": n, "cameras": cams}
                for (s, a), n in sorted(data.missing3d.items()) if s in subjects and protocol.keeps(s, a)]

    excluded = [{"take": t, "frames": int(len(data.poses3d[tuple(t.split("/", 1))])), "cameras": cams}
                for t in protocol.exclude if tuple(t.split("/", 1)) in data.poses3d]
    out = {}
    splits = [("test", test, protocol.test_subjects, protocol.reference_test_frames)]
    if not test_only:
        splits.insert(0, ("train", train, protocol.train_subjects, protocol.reference_train_windows))
    for name, seqs, subjects, reference in splits:
        miss = missing(subjects)
        present = count_frames(seqs)
        r = {"unit": "windows" if name == "train" else "frames", "present": present, "reference": reference,
             "missing_takes": miss, "missing": int(sum(m["frames"] * m["cameras"] for m in miss))}
        if name == "test":
            r["excluded_takes"] = [e for e in excluded if e["take"].split("/")[0] in subjects]
        if reference:
            r["unexplained"] = int(reference - present - r["missing"])
        out[name] = r
    return out


def _report_notes(report: dict) -> list[str]:
    notes = []
    for name, r in report.items():
        if not r.get("missing_takes") and not r.get("unexplained"):
            continue
        takes = ", ".join(f"{m['take']} ({m['frames']:,} frames x {m['cameras']} cameras)" for m in r["missing_takes"])
        ref = r.get("reference")
        if takes:
            frac = f" ({r['missing'] / ref:.1%} of the protocol's {ref:,})" if ref else ""
            text = (f"This copy of the data lacks {takes}: {r['missing']:,} {r['unit']}{frac}; "
                    f"the {name} set has {r['present']:,} {r['unit']}.")
            if r.get("unexplained"):
                text += f" {r['unexplained']:,} more {r['unit']} differ from the reference count unexplained."
        else:
            text = (f"The {name} set has {r['present']:,} {r['unit']}, the protocol's reference count {ref:,}: "
                    f"{r['unexplained']:,} {r['unit']} differ unexplained.")
        notes.append(text)
    return notes


def _npz(cfg: ExperimentConfig, protocol: Protocol, test_only: bool, progress: bool) -> Splits:
    from poselift.datasets.mocap_archive import read_mocap_archive

    d = cfg.data
    path = resolve_data_path(d.path, cfg.source, what="the dataset archive (data.path)")
    kp = resolve_data_path(d.keypoints_path, cfg.source, what="data.keypoints_path", near=path
                           ) if d.keypoints_path else None
    cams = resolve_data_path(d.cameras, cfg.source, what="data.cameras", near=path) if d.cameras else None
    archive = read_mocap_archive(path, kp, cameras=cams, layout=d.layout, fps=d.fps, world_units=d.world_units,
                           allow_pickle=d.allow_pickle)
    for name, subjects in (("train", protocol.train_subjects), ("test", protocol.test_subjects)):
        if not subjects:
            raise ConfigError(f"data.{name}_subjects: name the {name} subjects of {path.name} "
                              f"(it has {archive.subjects})")
    train = [] if test_only else archive.sequences(protocol.train_subjects, d.keypoints, protocol.keeps)
    test = archive.sequences(protocol.test_subjects, d.keypoints, protocol.keeps)
    unl = []
    if d.unlabelled_subjects and not test_only:
        unl = [dataclasses.replace(s, poses3d=None)
               for s in archive.sequences(d.unlabelled_subjects, d.keypoints, protocol.keeps)]
        if any(s.camera is None for s in unl):
            raise ConfigError(f"data.unlabelled_subjects: back-projection needs each camera's intrinsics, and "
                              f"{path.name}'s cameras have none (no f and c): the reprojection losses cannot be "
                              "computed; give them in data.cameras or train without unlabelled subjects")
    notes = [f"Protocol {protocol.name}: {protocol.description}.", *dict.fromkeys(archive.notes)]
    return Splits(train, test, unl, f"npz:{path.name}", protocol, notes)


def _synthetic(cfg: ExperimentConfig, protocol: Protocol, test_only: bool, progress: bool) -> Splits:
    from poselift.datasets.synthetic import NoiseSettings, make_cameras, make_dataset

    s = cfg.data.synthetic
    try:
        noise = NoiseSettings(**s.noise)
    except TypeError as e:
        raise ConfigError(f"data.synthetic.noise: {e} (fields: {[f.name for f in dataclasses.fields(NoiseSettings)]})"
                          ) from None
    cams = make_cameras(np.random.default_rng(s.camera_seed))
    train = [] if test_only else make_dataset(s.subjects, s.motions, s.takes, s.num_frames, seed=s.seed, noise=noise,
                                              cameras=cams)
    test = make_dataset(s.test_subjects, s.motions, 1, s.test_num_frames, seed=s.test_seed, noise=noise, cameras=cams)
    return Splits(train, test, [], "synthetic", protocol,
                  [f"Synthetic data: {s.subjects} training bodies (seed {s.seed}), {s.test_subjects} "
                   f"held-out test bodies (seed {s.test_seed}), detector-like 2D noise."])


def import_loader(spec: str, config_source: str | None = None):
    """The function a ``data.loader`` names: ``"package.module:function"`` or ``"file.py:function"`` (a path,
    relative to the config file's folder or the working directory).

    Importing it runs code, so it is refused (:class:`~poselift.core.errors.ConfigError` naming the module or
    file) unless the user allowed code for this command (:mod:`poselift.core.trust`: ``--allow-code``,
    ``POSELIFT_ALLOW_CODE=1`` or ``with allow_code():``); nothing of it is imported before that check."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(f"data.loader must be 'package.module:function' or 'path/file.py:function', got {spec!r}")
    target, name = spec.rsplit(":", 1)
    if target.endswith(".py"):
        p = Path(target).expanduser()
        if not p.is_absolute() and config_source and not p.exists():
            p = Path(config_source).parent / p
        require_code_allowed(f"data.loader {spec!r}: the file {p}, function {name!r}", config_source)
        if not p.is_file():
            raise FileNotFoundError(f"data.loader: no such file {p}")
        mod_name = f"poselift_loader_{abs(hash(str(p.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, p)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[mod_name]
            raise ConfigError(f"data.loader: importing {p} failed ({type(e).__name__}: {e})") from e
    else:
        require_code_allowed(f"data.loader {spec!r}: module {target!r}, function {name!r}", config_source)
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise ConfigError(f"data.loader: cannot import module {target!r} ({e}); is it on the Python path?") from e
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"data.loader: {target} has no function {name!r}")
    return fn


def _loader(cfg: ExperimentConfig, protocol: Protocol, test_only: bool, progress: bool) -> Splits:
    d = cfg.data
    fn = import_loader(d.loader, cfg.source)
    try:
        value = fn(**(d.loader_args or {}))
    except TypeError as e:
        raise ConfigError(f"data.loader {d.loader}: calling it with data.loader_args {d.loader_args} failed ({e})"
                          ) from None
    splits = Splits.from_value(value, f"data.loader {d.loader}")
    splits.dataset = splits.dataset or f"loader:{d.loader}"
    splits.protocol = protocol
    splits.notes = [f"Data from {d.loader}({', '.join(f'{k}={v!r}' for k, v in (d.loader_args or {}).items())}).",
                    *splits.notes]
    return splits


_DATASETS = {"h36m": _h36m, "npz": _npz, "synthetic": _synthetic, "loader": _loader}


def _view_rules(splits: Splits, protocol: Protocol) -> None:
    """The protocol's cameras (cross-view) and virtual test views (novel views), with the counts reported."""
    from poselift.datasets.protocols import apply_view_rules

    if protocol.test_views and any(s.layout.name != s.layout3d.name for s in splits.test):
        raise ConfigError(f"protocol {protocol.name} films the test 3D with virtual cameras, which gives "
                          "ground-truth 2D: use data.keypoints: gt")
    splits.train, splits.test = apply_view_rules(protocol, splits.train, splits.test)
    for name, seqs in (("train", splits.train), ("test", splits.test)):
        if isinstance(splits.report, dict) and name in splits.report:
            splits.report[name]["present"] = count_frames(seqs)
    what = (f"cameras {', '.join(protocol.train_cameras)} for training, {', '.join(protocol.test_cameras)} for "
            "testing" if protocol.test_cameras else "")
    if protocol.test_views:
        what = f"every test take filmed by {len(protocol.test_views)} virtual cameras ({count_frames(splits.test):,} " \
               "test frames)"
    splits.notes.append(f"Protocol {protocol.name}: {what}.")


def load_splits(cfg: ExperimentConfig, progress: bool = True, test_only: bool = False) -> Splits:
    """The experiment's sequences (train, test, unlabelled) for ``cfg.data``, following its protocol.

    ``test_only``: only the test split is needed (evaluation, comparisons): no training or unlabelled
    data is read where it can be avoided.
    """
    protocol = resolve_protocol(cfg)
    splits = _DATASETS[cfg.data.dataset](cfg, protocol, test_only, progress)
    if protocol.train_cameras or protocol.test_cameras or protocol.test_views:
        _view_rules(splits, protocol)
    if cfg.data.unlabelled_files and not test_only:
        splits.unlabelled = splits.unlabelled + custom_unlabelled(cfg, splits.layout_in)
    if not splits.train and not test_only:
        raise InputError(f"no training sequences (subjects {list(protocol.train_subjects)}, protocol {protocol.name})")
    if not splits.test:
        raise InputError(f"no test sequences (subjects {list(protocol.test_subjects)}, protocol {protocol.name})")
    splits.layout_in  # the layouts must agree across the splits  # noqa: B018
    return splits


# --------------------------------------------------------------------------- labelled subsets
def labelled_subset(seqs: Sequence[PoseSequence], fraction: float, protocol: Protocol, seed: int
                    ) -> tuple[list[PoseSequence], list[tuple[int, int]] | None]:
    """The labelled part of the training sequences by the protocol's subset rule.

    Returns:
        ``(sequences, frame_ranges)``: with the ``vp3d`` rule the sequences are cut to their chunk (the
        2D context ends at the chunk's edges) and the ranges are ``None``; with ``per_camera`` the
        sequences are whole and ``frame_ranges`` says which frames are targets.
    """
    if fraction >= 1:
        return list(seqs), None
    if protocol.subset_rule == "vp3d":
        return [s.slice(*subset_range("vp3d", len(s), fraction)) for s in seqs], None
    return list(seqs), [subset_range("per_camera", len(s), fraction, (seed, s.subject, s.action, s.camera_id))
                        for s in seqs]


# --------------------------------------------------------------------------- unlabelled files
def custom_unlabelled(cfg: ExperimentConfig, layout_in: str) -> list[PoseSequence]:
    """Sequences of ``data.unlabelled_files`` with their camera, converted to the model's input layout.

    Every file's tracks become sequences; each gets ``data.unlabelled_camera``
    (pixels) or, when that is ``null``, :meth:`Camera.from_image_size` of its
    video. Tracks shorter than 10 frames are dropped.
    """
    from poselift.core.camera import Camera
    from poselift.detectors.formats import read_2d

    d = cfg.data
    out = []
    size = tuple(d.unlabelled_image_size) if d.unlabelled_image_size else None
    for f in d.unlabelled_files:
        path = Path(f)
        if not path.is_absolute() and not path.exists() and cfg.source:
            path = Path(cfg.source).parent / f
        for seq in read_2d(path, image_size=size).to_sequences(min_length=10):
            w, h = seq.image_size
            if d.unlabelled_camera is None:
                cam = Camera.from_image_size(w, h, name=f"default:{path.name}")
            else:
                try:
                    cam = Camera(**d.unlabelled_camera, width=w, height=h, name=f"user:{path.name}")
                except TypeError as e:
                    raise ConfigError(f"data.unlabelled_camera: {e} (expected keys f, c, k, p)") from None
            seq = dataclasses.replace(seq, camera=cam, camera_id=cam.name, subject=seq.subject or path.stem)
            out.append(seq.converted(layout_in))
    if d.unlabelled_files and not out:
        raise InputError(f"data.unlabelled_files: no track of 10 frames or more in {d.unlabelled_files}")
    return out


# --------------------------------------------------------------------------- test splits of several runs
def test_split_key(cfg: ExperimentConfig) -> dict:
    """What decides a config's test sequences and how their errors are averaged (its protocol's evaluation
    part, the data and the 2D input)."""
    d = cfg.data
    key = {"dataset": d.dataset, "keypoints": d.keypoints, "protocol": resolve_protocol(cfg).evaluation_key}
    if d.dataset == "synthetic":
        s = d.synthetic
        key.update(test_subjects=s.test_subjects, test_num_frames=s.test_num_frames, test_seed=s.test_seed,
                   camera_seed=s.camera_seed, motions=s.motions, noise=s.noise)
    elif d.dataset == "npz":
        key.update(path=Path(d.path).name, keypoints_path=d.keypoints_path and Path(d.keypoints_path).name)
    elif d.dataset == "loader":
        key.update(loader=d.loader, loader_args=d.loader_args)
    return key


def shared_test_split(run_dirs: Sequence[str | os.PathLike], data_path: str | None = None,
                      allow_mixed: bool = False, keypoints_path: str | None = None) -> Splits:
    """The test split several run folders share, loaded from the first run's config (test data only).

    Raises :class:`~poselift.core.errors.InputError` naming what differs when the runs were tested on
    different splits or under protocols that average differently; ``allow_mixed`` loads the first run's
    split anyway. ``data_path`` and ``keypoints_path`` override the configs' ``data.path`` and
    ``data.keypoints_path`` (:func:`override_data_paths`).
    """
    run_dirs = [Path(d) for d in run_dirs]
    cfgs = []
    for d in run_dirs:
        if not (d / "config.yaml").exists():
            raise FileNotFoundError(f"{d} is not a run folder (no config.yaml)")
        cfgs.append(load_config(d / "config.yaml"))
    keys = [test_split_key(c) for c in cfgs]
    for d, k in zip(run_dirs[1:], keys[1:]):
        if k != keys[0] and not allow_mixed:
            diff = sorted(n for n in k if k[n] != keys[0].get(n))
            raise InputError(f"{d} and {run_dirs[0]} do not share a test split and protocol (they differ in "
                             f"{', '.join(diff)}); compare runs tested the same way, or pass --allow-mixed to use "
                             "the first run's")
    cfg = override_data_paths(copy.deepcopy(cfgs[0]), data_path, keypoints_path)
    return load_splits(cfg, progress=False, test_only=True)


def override_data_paths(cfg: ExperimentConfig, data_path: str | None = None,
                        keypoints_path: str | None = None) -> ExperimentConfig:
    """``cfg`` (changed in place) reading ``data_path`` (``--data``) and ``keypoints_path`` (``--keypoints``: the
    2D file of a VideoPose3D-format dataset) instead of its ``data.path`` / ``data.keypoints_path``.

    Raises:
        ConfigError: ``keypoints_path`` for a dataset that takes its 2D from elsewhere (it would be ignored).
    """
    if data_path is not None:
        cfg.data.path = str(data_path)
    if keypoints_path is not None:
        if cfg.data.dataset != "npz":
            raise ConfigError(f"--keypoints PATH is the 2D file of a VideoPose3D-format dataset (data.dataset npz); "
                              f"this config's dataset is {cfg.data.dataset!r}, whose 2D input is data.keypoints "
                              f"({cfg.data.keypoints!r})")
        cfg.data.keypoints_path = str(keypoints_path)
    return cfg
