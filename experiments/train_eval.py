"""One experiment = config -> data splits -> training -> evaluation -> run folder.

:func:`train_run` is what ``poselift train CONFIG`` calls; :func:`evaluate_run`
is ``poselift evaluate RUN_DIR`` and :func:`reproduce_run` ``poselift
reproduce RUN_DIR``. They work for every kind of data (Human3.6M, VideoPose3D
npz archives, the synthetic data, a loader function: :mod:`poselift.experiments.data`),
and every ``metrics.json`` records the dataset, the protocol (by name, with what
this copy of the data lacks) and whether flip test-time augmentation was used.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from poselift._version import __version__
from poselift.checkpoint import CHECKPOINT
from poselift.core.device import machine_description
from poselift.core.io import atomic_path, atomic_write_json, atomic_write_text, read_json
from poselift.core.layouts import get_layout
from poselift.core.sequence import PoseSequence
from poselift.datasets.protocols import Protocol
from poselift.datasets.splits import Splits
from poselift.experiments.config import ExperimentConfig, config_from_dict, dump_config, load_config
from poselift.experiments.data import labelled_subset, load_splits, override_data_paths, recorded_data_paths
from poselift.experiments.evaluation import markdown_table, sequence_errors, summarize
from poselift.experiments.run_folder import git_commit, writing_run_folder
from poselift.experiments.run_fit import check_run_fits_data
from poselift.inference import Lifter, load_lifter
from poselift.model.tcn import TemporalLifter
from poselift.training import distributed as D
from poselift.training.trainer import Trainer
from poselift.training.window_bank import WindowBank

__all__ = [
    "build_models",
    "evaluate_sequences",
    "train_run",
    "evaluate_run",
    "reproduce_run",
    "compare_metrics",
    "trained_on_notes",
]


def build_models(cfg: ExperimentConfig, layout_in: str, layout_out: str) -> tuple[TemporalLifter, TemporalLifter | None]:
    m = cfg.model
    j_in, j_out = get_layout(layout_in).num_joints, get_layout(layout_out).num_joints
    kw = dict(widths=tuple(m.widths), channels=m.channels, dropout=m.dropout, causal=m.causal,
              in_features=cfg.data.features)
    model = TemporalLifter(j_in, j_out, **kw)
    traj = TemporalLifter(j_in, 1, **kw) if (m.trajectory or cfg.semi_supervised) else None
    return model, traj


def evaluate_sequences(preds: Sequence[np.ndarray], seqs: Sequence[PoseSequence], notes: Sequence[str] = (),
                       keep_errors: bool = False, protocol: Protocol | None = None) -> dict:
    """Protocol numbers for predictions against the sequences' 3D (see :func:`summarize`).

    ``preds``: per sequence ``(T, J, 3)`` as the network gave them (the protocol's ``root`` rule decides
    whether their own root is subtracted); ``protocol``: its root rule, action rule and averaging
    (``None``: predicted root subtracted, takes merged by number, actions averaged).
    """
    root_mode = protocol.root if protocol is not None else "subtract"
    errs = []
    for p, s in zip(preds, seqs):
        target = s.root_relative_3d()[: len(p)]
        errs.append(sequence_errors(p, target, root=s.layout3d.root, subject=s.subject, action=s.action,
                                    camera=s.camera_id, root_mode=root_mode))
    summary = summarize(errs, notes, protocol)
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


def _virtual_cameras(train_seqs, ranges, cfg: ExperimentConfig):
    """The training sequences with ``data.virtual_cameras`` applied, and its report (``run.json``)."""
    from poselift.core.errors import ConfigError
    from poselift.datasets.virtual_cameras import virtual_camera_views

    vc = cfg.data.virtual_cameras
    if vc.enabled and ranges is not None:
        raise ConfigError("data.virtual_cameras: not with the per_camera labelled-subset rule (its chunks are "
                          "ranges of whole sequences); use a protocol with the vp3d rule")
    seqs, report = virtual_camera_views(train_seqs, vc, cfg.seed)
    return seqs, (report if vc.enabled else None)


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

        from poselift.core.io import read_yaml

        return dump_config(config_from_dict(read_yaml(text=old_text) or {})) == cfg_text
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
    try:  # one writer at a time; a run that fails before its first checkpoint leaves no new folder
        with writing_run_folder(run_dir, "poselift train", remove_if_failed=True):
            return _train_run(cfg, Path(run_dir), splits, progress, resume, dist_info)
    finally:
        D.cleanup(dist_info)


def _forget_results(run_dir: Path, checkpoint: bool) -> None:
    """Remove results that a new training would contradict (and, for a restart, the old checkpoint and log)."""
    names = ["metrics.json", "table.md", "predictions.h5"] + ([CHECKPOINT, "log.csv"] if checkpoint else [])
    for name in names:
        (run_dir / name).unlink(missing_ok=True)


def _prepare_run_folder(run_dir: Path, cfg_text: str, resume: bool) -> None:
    """Create ``run_dir`` with its ``config.yaml`` (a folder holding another config's run is refused); training
    from scratch forgets the folder's old results."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / "config.yaml").exists():
        old = (run_dir / "config.yaml").read_text(encoding="utf-8")
        if not _same_config(old, cfg_text):
            raise ValueError(f"{run_dir} holds a run of a different config; choose another folder (or delete it)")
    else:
        atomic_write_text(run_dir / "config.yaml", cfg_text)
    if not resume or not (run_dir / CHECKPOINT).exists():  # training from scratch: old results go
        _forget_results(run_dir, checkpoint=not resume)


def _monitor(cfg: ExperimentConfig, splits: Splits, protocol: Protocol):
    """The evaluation the trainer runs every ``eval.eval_every`` epochs: P1 and P2 on (the first
    ``eval.monitor_frames`` frames of) the test split."""
    def monitor(m, _t):
        preds = _lifter(m, splits, cfg, protocol).lift_all(splits.test, max_frames=cfg.eval.monitor_frames)
        r = evaluate_sequences(preds, splits.test, protocol=protocol)
        return {"mpjpe": r["mpjpe"], "p_mpjpe": r["p_mpjpe"]}

    return monitor


def _train_run(cfg: ExperimentConfig, run_dir: Path, splits: Splits | None, progress: bool, resume: bool,
               dist_info: D.DistInfo) -> dict:
    cfg = recorded_data_paths(cfg)  # the run folder's config.yaml names the files it read, wherever it is run from
    cfg_text = dump_config(cfg)
    progress = progress and dist_info.is_main  # one set of progress bars

    D.on_main(lambda: _prepare_run_folder(run_dir, cfg_text, resume))  # process 0 writes; an error stops all
    device = dist_info.device
    torch.manual_seed(cfg.seed)
    t_data = time.perf_counter()
    splits = splits or load_splits(cfg, progress)
    data_seconds = time.perf_counter() - t_data
    protocol = splits.protocol
    model, traj = build_models(cfg, splits.layout_in, splits.layout_out)
    train_seqs, ranges = labelled_subset(splits.train, cfg.data.labelled_fraction, protocol, cfg.seed)
    train_seqs, virtual_report = _virtual_cameras(train_seqs, ranges, cfg)
    labelled = _bank(train_seqs, cfg, model, device, labelled=True, ranges=ranges, trajectories=traj is not None)
    # what this run trained on joins the notes (a copy: a caller's Splits may serve several runs)
    splits = dataclasses.replace(splits, notes=list(splits.notes), report=copy.deepcopy(splits.report))
    splits.notes.extend(trained_on_notes(splits, protocol, cfg, labelled.num_windows))
    unlabelled = _bank(splits.unlabelled, cfg, model, device, labelled=False) if splits.unlabelled else None

    # the epoch definition is the protocol's (a config that changes it runs a named variant of it)
    settings = dataclasses.replace(cfg.train, seed=cfg.seed, progress=progress and cfg.train.progress,
                                   flip_mode=protocol.flip_mode, window_order=protocol.window_order)
    monitor = _monitor(cfg, splits, protocol) if cfg.eval.eval_every > 0 else None
    trainer = Trainer(model, labelled, settings, splits.layout_in, splits.layout_out, evaluate=monitor,
                      run_dir=run_dir, traj_model=traj, unlabelled=unlabelled, device=device,
                      eval_every=max(cfg.eval.eval_every, 1) if cfg.eval.eval_every > 0 else 10**9,
                      normalization=cfg.data.normalization, flip_test=cfg.eval.flip_test)

    def write_info() -> dict:
        info = _run_info(cfg, device)
        if dist_info.world_size > 1:
            info.update(processes=dist_info.world_size, backend=dist_info.backend)
        info.update(dataset=splits.dataset, protocol=protocol.name, flip_mode=settings.effective_flip_mode,
                    train_windows=labelled.num_windows,
                    unlabelled_windows=unlabelled.num_windows if unlabelled else 0,
                    parameters=sum(p.numel() for p in model.parameters()),
                    virtual_cameras=virtual_report,
                    data_seconds=round(data_seconds, 2))
        atomic_write_json(run_dir / "run.json", info)
        return info

    info = D.on_main(write_info)

    t0 = time.perf_counter()
    history = trainer.fit(resume=resume)
    train_seconds = time.perf_counter() - t0
    metrics, eval_seconds, frames = D.on_main(
        lambda: _final_evaluation(_lifter(trainer.model, splits, cfg, protocol), cfg, splits, run_dir, progress))
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


def trained_on_notes(splits: Splits, protocol: Protocol, cfg: ExperimentConfig, windows: int) -> list[str]:
    """What a run trained on, where the data's report does not say it: the labelled subset and the action
    filter (the windows of the training set counted after both).

    ``windows``: the training windows of the labelled bank (target frames; an epoch of the ``duplicate`` flip
    mode holds each twice). Also records them in ``splits.report["train"]`` (``trained_windows``).
    """
    notes = []
    frames = sum(len(s) for s in splits.train)
    if protocol.actions:
        notes.append(f"Training actions: {', '.join(protocol.actions)} only.")
    if protocol.labelled_fraction < 1:
        rule = {"vp3d": "one chunk per take, the same for every camera", "per_camera": "one chunk per camera"}
        notes.append(f"Labelled subset: labelled_fraction {protocol.labelled_fraction:g} of each training take "
                     f"({rule.get(protocol.subset_rule, protocol.subset_rule)}): {windows:,} training windows of "
                     f"the {frames:,} frames of the training sequences.")
    elif cfg.data.frame_stride > 1:
        notes.append(f"Frame stride {cfg.data.frame_stride}: {windows:,} training windows of {frames:,} frames.")
    if "train" in splits.report:
        splits.report["train"]["trained_windows"] = int(windows)
    return notes


def _lifter(model, splits: Splits, cfg: ExperimentConfig, protocol: Protocol) -> Lifter:
    """The model as the protocol evaluates it (raw output, or its root subtracted)."""
    return Lifter(model, get_layout(splits.layout_in), get_layout(splits.layout_out), cfg.eval.flip_test,
                  root_relative=protocol.root == "subtract", normalization=cfg.data.normalization)


def protocol_record(protocol: Protocol, splits: Splits, cfg: ExperimentConfig) -> dict:
    """What ``metrics.json`` says about how the numbers were measured."""
    return {"name": protocol.name, "base": protocol.base, "changes": list(protocol.changes),
            "description": protocol.description, "dataset": splits.dataset, "keypoints": cfg.data.keypoints,
            "flip_test": cfg.eval.flip_test, "root": protocol.root, "averaging": protocol.averaging,
            "flip_mode": protocol.flip_mode, "subset_rule": protocol.subset_rule,
            "window_order": protocol.window_order,
            "test_subjects": list(protocol.test_subjects), "excluded_takes": list(protocol.exclude),
            "data_report": splits.report,
            **({"train_cameras": list(protocol.train_cameras), "test_cameras": list(protocol.test_cameras)}
               if protocol.test_cameras or protocol.train_cameras else {}),
            **({"test_views": [dataclasses.asdict(v) for v in protocol.test_views]} if protocol.test_views else {})}


def _final_evaluation(lifter: Lifter, cfg: ExperimentConfig, splits: Splits, run_dir: Path, progress: bool):
    """Lift the test split with ``lifter`` (as the protocol evaluates it) and write ``metrics.json``/``table.md``."""
    t0 = time.perf_counter()
    protocol = splits.protocol
    preds = lifter.lift_all(splits.test, progress=progress)
    eval_seconds = time.perf_counter() - t0
    metrics = evaluate_sequences(preds, splits.test, splits.notes, protocol=protocol)
    metrics = {"name": cfg.name, "dataset": splits.dataset, "protocol": protocol_record(protocol, splits, cfg),
               "flip_test": cfg.eval.flip_test, **metrics}
    metrics["proportions"] = test_proportions(preds, splits.test)
    _keep_previous(run_dir / "metrics.json")
    atomic_write_json(run_dir / "metrics.json", metrics)
    title = (f"{cfg.name}: receptive field {lifter.receptive_field}, {splits.dataset} {cfg.data.keypoints} 2D, "
             f"protocol {protocol.name}")
    atomic_write_text(run_dir / "table.md", markdown_table(metrics, title))
    if cfg.eval.save_predictions:
        _save_predictions(run_dir / "predictions.h5", preds, splits.test)
    frames = int(sum(len(p) for p in preds))
    return metrics, eval_seconds, frames


def test_proportions(preds: Sequence[np.ndarray], seqs: Sequence[PoseSequence]) -> dict:
    """Predicted/true body proportions and lean over all test frames (:mod:`poselift.proportions`);
    ``{"unavailable": why}`` when the 3D layout lacks the joints they need."""
    from poselift.proportions import summarize_proportions

    layout = seqs[0].layout3d if seqs else "h36m17"
    try:
        return summarize_proportions(preds, [s.root_relative_3d()[: len(p)] for p, s in zip(preds, seqs)], layout)
    except ValueError as e:
        return {"unavailable": str(e)}


def _keep_previous(path: Path) -> None:
    """Before a file is replaced by a re-evaluation, keep the old one beside it (``<name>.<time>.json``)."""
    if path.exists():
        stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y%m%dT%H%M%S")
        kept = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
        k = 1
        while kept.exists():
            kept, k = path.with_name(f"{path.stem}.{stamp}-{k}{path.suffix}"), k + 1
        os.replace(path, kept)


def _save_predictions(path: Path, preds, seqs) -> None:
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "poselift-predictions"
            f.attrs["version"] = 1
            for i, (p, s) in enumerate(zip(preds, seqs)):
                g = f.create_group(f"{i:05d}")
                g.create_dataset("poses3d", data=p.astype(np.float32), compression="gzip")
                g.attrs.update(subject=s.subject, action=s.action, camera=s.camera_id)


def evaluate_run(run_dir: str | os.PathLike, data_path: str | None = None, progress: bool = True,
                 flip_test: bool | None = None, keypoints_path: str | None = None,
                 device: str | None = None, protocol: str | None = None) -> dict:
    """Re-evaluate the checkpoint of ``run_dir`` on its config's test split (under its protocol).

    ``data_path``, ``keypoints_path`` and ``device`` override the config's ``data.path``,
    ``data.keypoints_path`` (the 2D file of a VideoPose3D-format dataset) and ``device``.

    The new numbers go to ``metrics.json``; the previous ``metrics.json`` is kept beside it as
    ``metrics.<time it was written>.json`` (nothing measured is destroyed). ``protocol``: evaluate under
    that registered protocol's test split instead (e.g. ``h36m-novel-views`` for a model trained under
    ``h36m-vp3d``), writing ``run_dir/protocols/<protocol>/metrics.json`` and ``table.md``.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.yaml)")
    cfg = load_config(cfg_path)
    override_data_paths(cfg, data_path, keypoints_path)
    if device is not None:
        cfg.device = device
    if flip_test is not None:
        cfg.eval.flip_test = flip_test
    out_dir = run_dir
    if protocol is not None:
        from poselift.datasets.protocols import get_protocol

        get_protocol(protocol)
        cfg.data.protocol = protocol
        out_dir = run_dir / "protocols" / protocol
    with writing_run_folder(run_dir, "poselift evaluate"):
        lifter = load_lifter(run_dir, device=cfg.device, flip_test=cfg.eval.flip_test)
        splits = load_splits(cfg, progress, test_only=True)
        check_run_fits_data(lifter, splits.layout_in, cfg.data.normalization, run_dir)
        # the loaded lifter itself, its output as the protocol evaluates it (raw, or its root subtracted)
        lifter = dataclasses.replace(lifter, root_relative=splits.protocol.root == "subtract")
        out_dir.mkdir(parents=True, exist_ok=True)
        metrics, eval_seconds, frames = _final_evaluation(lifter, cfg, splits, out_dir, progress)
        if protocol is not None:
            return metrics
        info = read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
        info.update(last_evaluated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    eval_seconds=round(eval_seconds, 2), eval_frames=frames, eval_fps=frames / eval_seconds)
        atomic_write_json(run_dir / "run.json", info)
    return metrics


def compare_metrics(a: dict, b: dict, tol: float = 0.0) -> list[str]:
    """Differences between two metrics dicts (overall, per action, per subject and action); empty when identical
    within ``tol`` mm (a cell only one of them has is a difference)."""
    diffs = []
    for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        if abs(float(a.get(k, np.nan)) - float(b.get(k, np.nan))) > tol or (k in a) != (k in b):
            diffs.append(f"{k}: {a.get(k)} vs {b.get(k)}")

    def cells(m: dict, part: str) -> dict:
        if part == "per_action":
            return m.get(part, {})
        return {f"{s} {act}": v for s, by_action in m.get(part, {}).items() for act, v in by_action.items()}

    for part in ("per_action", "per_subject_action"):
        pa, pb = cells(a, part), cells(b, part)
        for cell in sorted(set(pa) | set(pb)):
            x, y = pa.get(cell, {}), pb.get(cell, {})
            for k in ("mpjpe", "p_mpjpe"):
                if not abs(float(x.get(k, np.nan)) - float(y.get(k, np.nan))) <= tol:
                    diffs.append(f"{cell} {k}: {x.get(k)} vs {y.get(k)}")
    return diffs


def reproduce_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, progress: bool = True,
                  tol: float = 0.0, device: str | None = None) -> tuple[Path, list[str]]:
    """Re-run ``run_dir``'s config (same seed; ``device`` overrides its device) into ``out_dir`` and compare the
    metrics.

    Returns:
        ``(out_dir, differences)``: differences is empty when the new
        ``metrics.json`` equals the old one within ``tol`` mm.
    """
    run_dir = Path(run_dir)
    for f in ("config.yaml", "metrics.json"):
        if not (run_dir / f).exists():
            raise FileNotFoundError(f"{run_dir} is not a finished run folder (no {f})")
    cfg = load_config(run_dir / "config.yaml")
    if device is not None:
        cfg.device = device
    old = read_json(run_dir / "metrics.json")
    out = Path(out_dir) if out_dir is not None else run_dir.with_name(
        f"{run_dir.name}-reproduce-{datetime.now():%Y%m%d-%H%M%S}")
    with writing_run_folder(out, "poselift reproduce", remove_if_failed=True):
        new = train_run(cfg, out, progress=progress, resume=False)
        diffs = compare_metrics(old, new, tol)
        atomic_write_json(out / "reproduce.json", {"original": str(run_dir), "identical": not diffs,
                                                   "differences": diffs})
    return out, diffs
