"""One experiment = config -> data splits -> training -> evaluation -> run folder.

:func:`train_run` is what ``poselift train CONFIG`` calls; :func:`evaluate_run`
is ``poselift evaluate RUN_DIR``. Both work for Human3.6M (``data.dataset:
h36m``) and the embedded synthetic data (``data.dataset: synthetic``).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from poselift._version import __version__
from poselift.core.device import machine_description
from poselift.core.io import atomic_path, atomic_write_json, atomic_write_text, read_json
from poselift.core.layouts import get_layout
from poselift.core.sequence import PoseSequence
from poselift.experiments.config import ExperimentConfig, config_from_dict, dump_config, load_config
from poselift.experiments.evaluation import markdown_table, sequence_errors, summarize
from poselift.experiments.runs import git_commit
from poselift.inference import Lifter, load_lifter
from poselift.model.tcn import TemporalLifter
from poselift.training import distributed as D
from poselift.training.trainer import Trainer
from poselift.training.windows import WindowBank

__all__ = [
    "Splits",
    "load_splits",
    "labelled_ranges",
    "build_models",
    "evaluate_sequences",
    "train_run",
    "evaluate_run",
    "resolve_data_path",
]


@dataclass
class Splits:
    """Sequences of one experiment.

    Attributes:
        train: labelled training sequences (with 3D).
        test: evaluation sequences (with 3D).
        unlabelled: sequences for back-projection (2D + camera; 3D unused).
        layout_in, layout_out: 2D input and 3D output layouts.
        notes: statements every results table must carry (e.g. missing data).
    """

    train: list[PoseSequence]
    test: list[PoseSequence]
    unlabelled: list[PoseSequence] = field(default_factory=list)
    layout_in: str = "h36m17"
    layout_out: str = "h36m17"
    notes: list[str] = field(default_factory=list)


def resolve_data_path(path: str | None, config_source: str | None = None) -> Path:
    """Find the Human3.6M archive/cache: ``$POSELIFT_H36M``, then ``path`` relative to
    the working directory, then relative to the config file's folder."""
    env = os.environ.get("POSELIFT_H36M")
    candidates = [Path(env)] if env else []
    if path:
        p = Path(path).expanduser()
        candidates.append(p)
        if not p.is_absolute() and config_source:
            candidates.append(Path(config_source).parent / p)
    for c in candidates:
        if c.exists():
            return c
    raise FileNotFoundError(
        "Human3.6M data not found (tried: " + ", ".join(str(c) for c in candidates) + "). "
        "Set data.path in the config, pass --data PATH, or set POSELIFT_H36M."
    )


def _synthetic_splits(cfg: ExperimentConfig) -> Splits:
    from poselift.datasets.synthetic import NoiseSettings, make_cameras, make_dataset

    s = cfg.data.synthetic
    noise = NoiseSettings(**s.noise)
    cams = make_cameras(np.random.default_rng(s.camera_seed))
    train = make_dataset(s.subjects, s.motions, s.takes, s.num_frames, seed=s.seed, noise=noise, cameras=cams)
    test = make_dataset(s.test_subjects, s.motions, 1, s.test_num_frames, seed=s.test_seed, noise=noise,
                        cameras=cams)
    if cfg.data.keypoints != "gt":
        raise ValueError("synthetic data has only 'gt' keypoints (noisy 2D from the generator)")
    return Splits(train, test, [], "h36m17", "h36m17",
                  [f"Synthetic data: {s.subjects} training bodies (seed {s.seed}), {s.test_subjects} "
                   f"held-out test bodies (seed {s.test_seed}), detector-like 2D noise."])


def _h36m_splits(cfg: ExperimentConfig) -> Splits:
    from poselift.datasets import h36m

    d = cfg.data
    path = resolve_data_path(d.path, cfg.source)
    data = h36m.load(path)
    train = h36m.sequences(data, d.train_subjects, keypoints=d.keypoints)
    test = h36m.sequences(data, d.test_subjects, keypoints=d.keypoints)
    unl = h36m.sequences(data, d.unlabelled_subjects, keypoints=d.keypoints) if d.unlabelled_subjects else []
    unl = [dataclasses.replace(s, poses3d=None) for s in unl]  # unlabelled: the 3D is never seen
    notes = []
    if "S9" in d.test_subjects:
        notes.append(h36m.MISSING_NOTE)
    if d.keypoints == "sh":  # detections missing for a test video change what is averaged
        notes += [n + " (evaluated on the other cameras)" for n in data.notes
                  if "no Stacked Hourglass" in n and any(re.search(rf"\b{s}\b", n) for s in d.test_subjects)]
    if d.keypoints == "sh":
        notes.append("2D input: Stacked Hourglass detections (MPII-pretrained, 16 joints) -> 17 joints.")
    layout_in = "mpii16" if d.keypoints == "sh" else "h36m17"
    return Splits(train, test, unl, layout_in, "h36m17", notes)


def _split_key(cfg) -> dict:
    """What decides a config's test sequences (and their 2D input)."""
    d = cfg.data
    key = {"dataset": d.dataset, "keypoints": d.keypoints}
    if d.dataset == "synthetic":
        s = d.synthetic
        key.update(test_subjects=s.test_subjects, test_num_frames=s.test_num_frames, test_seed=s.test_seed,
                   camera_seed=s.camera_seed, motions=s.motions, noise=s.noise)
    else:
        key.update(test_subjects=list(d.test_subjects))
    return key


def shared_test_split(run_dirs: Sequence[str | os.PathLike], data_path: str | None = None) -> list[PoseSequence]:
    """The test sequences several run folders share, loaded from the first run's config.

    Raises ``ValueError`` naming what differs when the runs were tested on
    different splits; loads no unlabelled data and as little training data as
    possible. ``data_path`` overrides the configs' ``data.path``.
    """
    run_dirs = [Path(d) for d in run_dirs]
    cfgs = []
    for d in run_dirs:
        if not (d / "config.yaml").exists():
            raise FileNotFoundError(f"{d} is not a run folder (no config.yaml)")
        cfgs.append(load_config(d / "config.yaml"))
    keys = [_split_key(c) for c in cfgs]
    for d, k in zip(run_dirs[1:], keys[1:]):
        if k != keys[0]:
            diff = sorted(n for n in k if k[n] != keys[0].get(n))
            raise ValueError(f"{d} and {run_dirs[0]} do not share a test split (they differ in {', '.join(diff)})")
    cfg = copy.deepcopy(cfgs[0])
    if data_path is not None:
        cfg.data.path = data_path
    # only the test split is needed: no unlabelled data, as little training data as possible
    cfg.data.unlabelled_subjects = []
    cfg.data.unlabelled_files = []
    if cfg.data.dataset != "synthetic":
        cfg.data.train_subjects = list(cfg.data.test_subjects[:1])
    return load_splits(cfg, progress=False).test


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
                    raise ValueError(f"data.unlabelled_camera: {e} (expected keys f, c, k, p)") from None
            seq = dataclasses.replace(seq, camera=cam, subject=seq.subject or path.stem)
            out.append(seq.converted(layout_in))
    if d.unlabelled_files and not out:
        raise ValueError(f"data.unlabelled_files: no track of 10 frames or more in {d.unlabelled_files}")
    return out


def load_splits(cfg: ExperimentConfig, progress: bool = True) -> Splits:
    """Sequences for ``cfg.data`` (train, test, unlabelled)."""
    if cfg.data.dataset == "synthetic":
        splits = _synthetic_splits(cfg)
    else:
        splits = _h36m_splits(cfg)
    if cfg.data.unlabelled_files:
        splits.unlabelled = splits.unlabelled + custom_unlabelled(cfg, splits.layout_in)
    if not splits.train:
        raise ValueError(f"no training sequences for subjects {cfg.data.train_subjects}")
    if not splits.test:
        raise ValueError(f"no test sequences for subjects {cfg.data.test_subjects}")
    return splits


def _stable_int(*parts) -> int:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def labelled_ranges(seqs: Sequence[PoseSequence], fraction: float, seed: int) -> list[tuple[int, int]]:
    """One contiguous chunk of ``fraction`` of each video, starting at a seeded random frame."""
    out = []
    for s in seqs:
        t = len(s)
        n = max(1, int(round(t * fraction)))
        if n >= t:
            out.append((0, t))
            continue
        start = _stable_int(seed, s.subject, s.action, s.camera.name if s.camera else "") % (t - n + 1)
        out.append((start, start + n))
    return out


def build_models(cfg: ExperimentConfig, layout_in: str, layout_out: str) -> tuple[TemporalLifter, TemporalLifter | None]:
    m = cfg.model
    j_in, j_out = get_layout(layout_in).num_joints, get_layout(layout_out).num_joints
    kw = dict(widths=tuple(m.widths), channels=m.channels, dropout=m.dropout, causal=m.causal,
              in_features=cfg.data.features)
    model = TemporalLifter(j_in, j_out, **kw)
    traj = TemporalLifter(j_in, 1, **kw) if (m.trajectory or cfg.semi_supervised) else None
    return model, traj


def evaluate_sequences(preds: Sequence[np.ndarray], seqs: Sequence[PoseSequence], notes: Sequence[str] = (),
                       keep_errors: bool = False) -> dict:
    """Protocol numbers for predictions against the sequences' 3D (see :func:`summarize`)."""
    errs = []
    for p, s in zip(preds, seqs):
        target = s.root_relative_3d()[: len(p)]
        errs.append(sequence_errors(p, target, root=s.layout3d.root, subject=s.subject, action=s.action,
                                    camera=s.camera.name if s.camera else ""))
    summary = summarize(errs, notes)
    if keep_errors:
        summary["_errors"] = errs
    return summary


def _bank(seqs, cfg: ExperimentConfig, model: TemporalLifter, device, labelled: bool, ranges=None,
          trajectories: bool = False) -> WindowBank:
    d = cfg.data
    if not labelled and any(s.camera is None for s in seqs):
        raise ValueError("unlabelled sequences need a camera (intrinsics) for back-projection")
    return WindowBank(
        [s.inputs(d.features, d.normalization) for s in seqs],
        model.receptive_field,
        causal=model.causal,
        targets=[s.root_relative_3d() for s in seqs] if labelled else None,
        trajectories=[s.trajectory() for s in seqs] if labelled and trajectories else None,
        intrinsics=None if labelled else [s.camera.intrinsics() for s in seqs],
        frame_stride=d.frame_stride if labelled else d.unlabelled_frame_stride,
        frame_ranges=ranges,
        device=device,
    )


def _run_info(cfg: ExperimentConfig, device: torch.device) -> dict:
    return {
        "name": cfg.name,
        "seed": cfg.seed,
        "package_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "device": str(device),
        "machine": machine_description(device),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _same_config(old_text: str, cfg_text: str) -> bool:
    """The stored ``config.yaml`` describes the same experiment (keys added to the
    config since it was written count as their defaults)."""
    if old_text == cfg_text:
        return True
    try:
        import yaml

        return dump_config(config_from_dict(yaml.safe_load(old_text) or {})) == cfg_text
    except (ValueError, TypeError, AttributeError, yaml.YAMLError):
        return False


def train_run(cfg: ExperimentConfig, run_dir: str | os.PathLike, splits: Splits | None = None,
              progress: bool = True, resume: bool = True) -> dict:
    """Train and evaluate one experiment into ``run_dir``; returns the metrics.

    The run folder gets ``config.yaml``, ``run.json``, ``checkpoint.pt`` (each
    epoch), ``log.csv``, ``metrics.json`` and ``table.md``. If ``run_dir``
    already holds a checkpoint of the same config, training resumes from it.

    Launched by ``torchrun`` (several processes), every process loads the
    data and trains its share of each batch (:mod:`poselift.training.distributed`);
    process 0 alone writes the run folder and evaluates, and every process
    returns the metrics.
    """
    dist_info = D.init_distributed(cfg.device)
    try:
        return _train_run(cfg, Path(run_dir), splits, progress, resume, dist_info)
    finally:
        D.cleanup(dist_info)


def _train_run(cfg: ExperimentConfig, run_dir: Path, splits: Splits | None, progress: bool, resume: bool,
               dist_info: D.DistInfo) -> dict:
    cfg_text = dump_config(cfg)
    progress = progress and dist_info.is_main  # one set of progress bars

    def prepare_folder() -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / "config.yaml").exists():
            old = (run_dir / "config.yaml").read_text(encoding="utf-8")
            if not _same_config(old, cfg_text):
                raise ValueError(f"{run_dir} holds a run of a different config; choose another folder (or delete it)")
        else:
            atomic_write_text(run_dir / "config.yaml", cfg_text)

    D.on_main(prepare_folder)  # process 0 writes; an error there stops every process
    device = dist_info.device
    torch.manual_seed(cfg.seed)
    t_data = time.perf_counter()
    splits = splits or load_splits(cfg, progress)
    data_seconds = time.perf_counter() - t_data
    model, traj = build_models(cfg, splits.layout_in, splits.layout_out)
    ranges = None
    if cfg.data.labelled_fraction < 1:
        ranges = labelled_ranges(splits.train, cfg.data.labelled_fraction, cfg.seed)
    labelled = _bank(splits.train, cfg, model, device, labelled=True, ranges=ranges, trajectories=traj is not None)
    unlabelled = _bank(splits.unlabelled, cfg, model, device, labelled=False) if splits.unlabelled else None

    settings = dataclasses.replace(cfg.train, seed=cfg.seed, progress=progress and cfg.train.progress)
    monitor = None
    if cfg.eval.eval_every > 0:
        def monitor(m, _t):
            lifter = Lifter(m, get_layout(splits.layout_in), get_layout(splits.layout_out), cfg.eval.flip_test,
                            normalization=cfg.data.normalization)
            preds = lifter.lift_all(splits.test, max_frames=cfg.eval.monitor_frames)
            r = evaluate_sequences(preds, splits.test)
            return {"mpjpe": r["mpjpe"], "p_mpjpe": r["p_mpjpe"]}

    trainer = Trainer(model, labelled, settings, splits.layout_in, splits.layout_out, evaluate=monitor,
                      run_dir=run_dir, traj_model=traj, unlabelled=unlabelled, device=device,
                      eval_every=max(cfg.eval.eval_every, 1) if cfg.eval.eval_every > 0 else 10**9)
    trainer.extra = {"flip_test": cfg.eval.flip_test, "features": cfg.data.features,
                     "normalization": cfg.data.normalization}

    def write_info() -> dict:
        info = _run_info(cfg, device)
        if dist_info.world_size > 1:
            info.update(processes=dist_info.world_size, backend=dist_info.backend)
        info.update(train_windows=labelled.num_windows,
                    unlabelled_windows=unlabelled.num_windows if unlabelled else 0,
                    parameters=sum(p.numel() for p in model.parameters()),
                    data_seconds=round(data_seconds, 2))
        atomic_write_json(run_dir / "run.json", info)
        return info

    info = D.on_main(write_info)

    t0 = time.perf_counter()
    history = trainer.fit(resume=resume)
    train_seconds = time.perf_counter() - t0
    metrics, eval_seconds, frames = D.on_main(lambda: _final_evaluation(trainer.model, cfg, splits, run_dir, progress))
    if not D.is_main():
        return metrics
    info.update(
        train_seconds=round(train_seconds, 2),
        epoch_seconds_mean=float(np.mean([h["epoch_seconds"] for h in history])) if history else None,
        windows_per_second_mean=float(np.mean([h["windows_per_second"] for h in history])) if history else None,
        eval_seconds=round(eval_seconds, 2),
        eval_frames=frames,
        eval_fps=frames / eval_seconds if eval_seconds > 0 else None,
        eval_flip_test=cfg.eval.flip_test,
    )
    atomic_write_json(run_dir / "run.json", info)
    return metrics


def _final_evaluation(model, cfg: ExperimentConfig, splits: Splits, run_dir: Path, progress: bool):
    t0 = time.perf_counter()
    lifter = Lifter(model, get_layout(splits.layout_in), get_layout(splits.layout_out), cfg.eval.flip_test,
                    normalization=cfg.data.normalization)
    preds = lifter.lift_all(splits.test, progress=progress)
    eval_seconds = time.perf_counter() - t0
    metrics = evaluate_sequences(preds, splits.test, splits.notes)
    metrics = {"name": cfg.name, **metrics}
    atomic_write_json(run_dir / "metrics.json", metrics)
    title = f"{cfg.name}: receptive field {model.receptive_field}, {cfg.data.dataset} {cfg.data.keypoints} 2D"
    atomic_write_text(run_dir / "table.md", markdown_table(metrics, title))
    if cfg.eval.save_predictions:
        _save_predictions(run_dir / "predictions.h5", preds, splits.test)
    frames = int(sum(len(p) for p in preds))
    return metrics, eval_seconds, frames


def _save_predictions(path: Path, preds, seqs) -> None:
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "poselift-predictions"
            f.attrs["version"] = 1
            for i, (p, s) in enumerate(zip(preds, seqs)):
                g = f.create_group(f"{i:05d}")
                g.create_dataset("poses3d", data=p.astype(np.float32), compression="gzip")
                g.attrs.update(subject=s.subject, action=s.action, camera=s.camera.name if s.camera else "")


def evaluate_run(run_dir: str | os.PathLike, data_path: str | None = None, progress: bool = True,
                 flip_test: bool | None = None) -> dict:
    """Re-evaluate the checkpoint of ``run_dir`` on its config's test split; rewrites ``metrics.json``."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.yaml)")
    cfg = load_config(cfg_path)
    if data_path is not None:
        cfg.data.path = data_path
    if flip_test is not None:
        cfg.eval.flip_test = flip_test
    lifter = load_lifter(run_dir, device=cfg.device)
    splits = load_splits(cfg, progress)
    check_run_fits_data(lifter, splits.layout_in, cfg.data.normalization, run_dir)
    metrics, eval_seconds, frames = _final_evaluation(lifter.model, cfg, splits, run_dir, progress)
    info = read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    info.update(last_evaluated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                eval_seconds=round(eval_seconds, 2), eval_frames=frames, eval_fps=frames / eval_seconds)
    atomic_write_json(run_dir / "run.json", info)
    return metrics


def check_run_fits_data(lifter: Lifter, data_layout: str, normalization: str, run_dir) -> None:
    """Refuse to evaluate a checkpoint on data it was not made for (another 2D layout, another normalisation):
    two 17-joint layouts (coco17, h36m17) would otherwise run silently into a wrong result."""
    if lifter.layout_in.name != get_layout(data_layout).name:
        raise ValueError(f"{run_dir}: the model takes {lifter.layout_in.name} 2D input, but its config's test data "
                         f"gives {get_layout(data_layout).name} (data.keypoints); evaluate it on data in its layout")
    if lifter.normalization != normalization:
        raise ValueError(f"{run_dir}: the checkpoint normalises its input by {lifter.normalization!r}, its config.yaml "
                         f"says data.normalization {normalization!r}")


def compare_metrics(a: dict, b: dict, tol: float = 0.0) -> list[str]:
    """Differences between two metrics dicts (overall and per action); empty when identical within ``tol`` mm."""
    diffs = []
    for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        if abs(float(a.get(k, np.nan)) - float(b.get(k, np.nan))) > tol or (k in a) != (k in b):
            diffs.append(f"{k}: {a.get(k)} vs {b.get(k)}")
    for act in sorted(set(a.get("per_action", {})) | set(b.get("per_action", {}))):
        x, y = a.get("per_action", {}).get(act, {}), b.get("per_action", {}).get(act, {})
        for k in ("mpjpe", "p_mpjpe"):
            if abs(float(x.get(k, np.nan)) - float(y.get(k, np.nan))) > tol:
                diffs.append(f"{act} {k}: {x.get(k)} vs {y.get(k)}")
    return diffs


def reproduce_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, progress: bool = True,
                  tol: float = 0.0) -> tuple[Path, list[str]]:
    """Re-run ``run_dir``'s config (same seed) into ``out_dir`` and compare the metrics.

    Returns:
        ``(out_dir, differences)``: differences is empty when the new
        ``metrics.json`` equals the old one within ``tol`` mm.
    """
    run_dir = Path(run_dir)
    for f in ("config.yaml", "metrics.json"):
        if not (run_dir / f).exists():
            raise FileNotFoundError(f"{run_dir} is not a finished run folder (no {f})")
    cfg = load_config(run_dir / "config.yaml")
    old = read_json(run_dir / "metrics.json")
    out = Path(out_dir) if out_dir is not None else run_dir.with_name(
        f"{run_dir.name}-reproduce-{datetime.now():%Y%m%d-%H%M%S}")
    new = train_run(cfg, out, progress=progress, resume=False)
    diffs = compare_metrics(old, new, tol)
    atomic_write_json(out / "reproduce.json", {"original": str(run_dir), "identical": not diffs, "differences": diffs})
    return out, diffs
