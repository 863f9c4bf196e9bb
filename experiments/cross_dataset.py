"""Cross-dataset evaluation: a run tested on another dataset's test split, over the joints both share.

``poselift evaluate RUN --on TARGET`` (and ``compare``/``table`` with ``--on``) lifts the test split of
``TARGET`` with the run as it is (no retraining) and scores it through the joint correspondence of the run's
3D layout with the target's (:func:`poselift.core.layouts.get_correspondence`):

* the target's 2D is converted to the run's input layout by the registered conversion
  (e.g. ``humaneva15 -> h36m17``: Human3.6M's spine and neck/nose computed from HumanEva-I's joints);
* Protocol 1, Protocol 2, N-MPJPE and MPJVE are computed over the **shared joints only**, under the
  target's protocol (its root rule, its action rule and averaging: per subject and action for HumanEva-I),
  and every label says so (``P2 (12 shared joints)``);
* joints defined otherwise in the two datasets (HumanEva-I's hips and head) are reported separately
  (mean distance per joint pair), never scored; per shared joint, the Protocol 1 error; per segment between
  shared joints, the ratio of predicted to true length (a model trained on wider shoulders draws them so).

``TARGET`` is an experiment config (YAML: any dataset poselift reads, a VideoPose3D-format npz, a
``data.loader`` hook) or a dataset name of :data:`TARGETS` (a shipped config); ``--data`` replaces its
``data.path``. Results go to ``RUN/cross/<target config name>/metrics.json`` and ``table.md``: the run's
own ``metrics.json`` is never touched.

A run evaluated this way on its own config's data (identity correspondence) gives its ordinary numbers
exactly.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from poselift.core.errors import ConfigError, InputError
from poselift.core.io import atomic_write_json, atomic_write_text, read_json
from poselift.core.layouts import JointCorrespondence, get_correspondence, get_layout, get_mapping, reachable
from poselift.datasets.splits import Splits
from poselift.experiments.config import ExperimentConfig, load_config
from poselift.experiments.data import load_splits
from poselift.experiments.evaluation import METRICS, sequence_errors, summarize
from poselift.experiments.train_eval import _keep_previous, protocol_record
from poselift.experiments.run_folder import writing_run_folder
from poselift.inference import Lifter, load_lifter

__all__ = [
    "TARGETS",
    "target_config",
    "cross_dir",
    "lifter_for",
    "score_shared",
    "cross_evaluate",
    "metric_labels",
    "cross_table",
    "cross_rows",
    "shared_view",
    "common_correspondence",
    "restricted",
    "label_comparison",
]

CONFIGS = Path(__file__).resolve().parent / "configs"
TARGETS = {"h36m": "h36m_gt_27.yaml", "humaneva": "humaneva15_27.yaml"}
"""Dataset names ``--on`` accepts, and the shipped config whose ``data`` section and protocol define the test
split (``--data PATH`` replaces its ``data.path``)."""

SHORT = {"mpjpe": "P1", "p_mpjpe": "P2", "n_mpjpe": "N-MPJPE", "mpjve": "MPJVE"}


# --------------------------------------------------------------------------- the target
def target_config(on: str, data_path: str | None = None) -> ExperimentConfig:
    """The experiment config whose test split ``--on`` names: a YAML file, or a name of :data:`TARGETS`."""
    if not isinstance(on, str) or not on:
        raise ConfigError(f"--on: a config file or one of {sorted(TARGETS)}, got {on!r}")
    p = Path(on).expanduser()
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise FileNotFoundError(f"--on {on}: no such config file")
        cfg = load_config(p)
    elif on in TARGETS:
        cfg = load_config(CONFIGS / TARGETS[on])
    else:
        raise ConfigError(f"--on {on!r}: not a config file (.yaml) nor a dataset name; known: {sorted(TARGETS)}")
    if data_path is not None:
        cfg = copy.deepcopy(cfg)
        cfg.data.path = data_path
    return cfg


def cross_dir(run_dir: str | os.PathLike, cfg: ExperimentConfig, shared_with: str | None = None) -> Path:
    """Where the cross-dataset results of ``run_dir`` on ``cfg``'s test split go: ``RUN/cross/<cfg.name>``
    (``<cfg.name>.shared-<layout>`` when scored over the joints shared with another layout)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in cfg.name) or "target"
    if shared_with:
        name += f".shared-{get_layout(shared_with).name}"
    return Path(run_dir) / "cross" / name


def restricted(corr: JointCorrespondence, shared_with: str | None) -> JointCorrespondence:
    """``corr`` scored only over the dataset joints that a run of layout ``shared_with`` is scored on (its
    correspondence with the same data): e.g. a HumanEva-I run on HumanEva-I over the 12 joints a Human3.6M run
    shares with it, so that both fit one table. ``None``: ``corr`` itself."""
    if not shared_with:
        return corr
    other = get_correspondence(shared_with, corr.data)
    keep = {b for _, b in other.shared}
    return JointCorrespondence(corr.run, corr.data, tuple(p for p in corr.shared if p[1] in keep),
                               tuple(d for d in corr.differ if d[1] in keep), corr.notes)


def lifter_for(run_dir: str | os.PathLike, flip_test: bool | None = None, device: str | None = None
               ) -> tuple[Lifter, ExperimentConfig]:
    """The run's lifter as its own evaluation uses it (flip setting and device of its ``config.yaml``)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    flip = cfg.eval.flip_test if flip_test is None else flip_test
    return load_lifter(run_dir, device=device or cfg.device, flip_test=flip), cfg


def _check_fits(lifter: Lifter, splits: Splits, where: str) -> JointCorrespondence:
    """The correspondence of the run's output with the target's 3D; refuse what the run cannot take."""
    data_in, data_out = get_layout(splits.layout_in), get_layout(splits.layout_out)
    if not reachable(data_in, lifter.layout_in):
        missing = ""
        try:
            m = get_mapping(data_in, lifter.layout_in)
            missing = f" (it leaves {[lifter.layout_in.joints[j] for j in m.missing]} missing)"
        except KeyError:
            pass
        raise InputError(f"{where}: the run takes {lifter.layout_in.name} 2D and the test data gives "
                         f"{data_in.name}, with no complete conversion between them{missing}")
    return get_correspondence(lifter.layout_out, data_out)


# --------------------------------------------------------------------------- scoring
def _scored_as(path: Path, shared_with: str) -> bool:
    """Whether the cross-dataset ``metrics.json`` at ``path`` is scored over exactly the joints a
    ``shared_with`` run is scored on (a run of that layout, or one restricted to them)."""
    if not path.exists():
        return False
    joints = read_json(path).get("joints") or {}
    try:
        other = get_correspondence(shared_with, joints.get("data_layout", ""))
    except (KeyError, ValueError):
        return False
    return sorted(joints.get("data_joints", [])) == sorted(b for _, b in other.shared)


def shared_view(seqs, corr: JointCorrespondence):
    """The sequences with their 3D cut to the shared joints (in :attr:`JointCorrespondence.shared` order), as
    ``(sequences, layout)``; the layout is a star around the root named ``<data>:shared<K>``."""
    from poselift.core.layouts import Layout

    d = get_layout(corr.data)
    names = tuple(b for _, b in corr.shared)
    root = corr.root
    parents = tuple(-1 if j == root else root for j in range(len(names)))
    lay = Layout(f"{d.name}:shared{len(names)}", names, parents, root)
    idx = corr.data_index
    return [dataclasses.replace(s, poses3d=s.poses3d[:, idx], layout3d=lay) for s in seqs], lay


def score_shared(preds: Sequence[np.ndarray], seqs, corr: JointCorrespondence, protocol, notes: Sequence[str] = ()
                 ) -> dict:
    """The protocol's numbers (:func:`~poselift.experiments.evaluation.summarize`) over the shared joints, plus
    ``per_joint`` (P1 per shared joint, mm, frames pooled), ``differently_defined`` (mean distance per
    differently defined pair, mm) and ``segment_ratios`` (predicted / true length of the segments between shared
    joints that are bones or the shoulder line).

    Args:
        preds: per sequence ``(T, J_run, 3)`` as the network gave them.
        seqs: the target's test sequences (3D in ``corr.data``).
    """
    ri, di = corr.run_index, corr.data_index
    run_l, data_l = get_layout(corr.run), get_layout(corr.data)
    errs, per_joint, diff = [], [], {f"{a}/{b}": [] for a, b, _ in corr.differ}
    segments = _segments(corr)
    seg_ratio = {k: [] for k in segments}
    for p, s in zip(preds, seqs):
        target = s.root_relative_3d()[: len(p)]
        errs.append(sequence_errors(p[:, ri], target[:, di], root=corr.root, subject=s.subject, action=s.action,
                                    camera=s.camera_id, root_mode=protocol.root))
        q = p - p[:, run_l.root: run_l.root + 1] if protocol.root == "subtract" else p
        per_joint.append(np.linalg.norm(q[:, ri] - target[:, di], axis=-1))
        for a, b, _ in corr.differ:
            diff[f"{a}/{b}"].append(np.linalg.norm(q[:, run_l.index(a)] - target[:, data_l.index(b)], axis=-1))
        for k, (x, y) in segments.items():
            pl = np.linalg.norm(p[:, run_l.index(x)] - p[:, run_l.index(y)], axis=-1)
            tx, ty = data_l.index(corr_data(corr, x)), data_l.index(corr_data(corr, y))
            tl = np.linalg.norm(target[:, tx] - target[:, ty], axis=-1)
            seg_ratio[k].append(pl / np.maximum(tl, 1e-9))
    out = summarize(errs, notes, protocol)
    if per_joint:
        pj = np.concatenate(per_joint) * 1000
        out["per_joint"] = {f"{a}/{b}" if a != b else a: float(pj[:, k].mean()) for k, (a, b) in enumerate(corr.shared)}
        out["differently_defined"] = {k: {"mean_mm": float(np.concatenate(v).mean() * 1000),
                                          "why": next(w for a, b, w in corr.differ if f"{a}/{b}" == k)}
                                      for k, v in diff.items()}
        out["segment_ratios"] = {k: float(np.concatenate(v).mean()) for k, v in seg_ratio.items()}
    return out


def corr_data(corr: JointCorrespondence, run_joint: str) -> str:
    """The dataset joint paired with ``run_joint`` among the shared pairs."""
    return dict(corr.shared)[run_joint]


def _segments(corr: JointCorrespondence) -> dict[str, tuple[str, str]]:
    """Segments between shared joints: the data layout's bones whose both ends are shared, and the shoulders."""
    d = get_layout(corr.data)
    to_run = {b: a for a, b in corr.shared}
    out = {}
    for j, p in d.bones:
        if d.joints[j] in to_run and d.joints[p] in to_run:
            out[f"{d.joints[p]}-{d.joints[j]}"] = (to_run[d.joints[p]], to_run[d.joints[j]])
    if "left_shoulder" in to_run and "right_shoulder" in to_run:
        out["shoulder width"] = (to_run["left_shoulder"], to_run["right_shoulder"])
    return out


def metric_labels(label: str) -> dict[str, str]:
    """``{"mpjpe": "P1 (12 shared joints)", ...}``."""
    return {m: f"{SHORT[m]} ({label})" for m in METRICS}


# --------------------------------------------------------------------------- the command
def cross_evaluate(run_dir: str | os.PathLike, on: str, data_path: str | None = None, progress: bool = True,
                   flip_test: bool | None = None, device: str | None = None, write: bool = True,
                   shared_with: str | None = None) -> dict:
    """Evaluate ``run_dir``'s checkpoint on the test split ``on`` names (:func:`target_config`), over the
    joints the two layouts share; write ``RUN/cross/<name>/metrics.json`` and ``table.md`` (``write``).
    ``shared_with`` (a layout): score only over the joints a run of that layout is scored on
    (:func:`restricted`).

    Returns the metrics: the protocol's numbers over the shared joints (:func:`score_shared`), the target's
    ``dataset`` and ``protocol``, ``joints`` (the correspondence: label, pairs, what is left out, the input
    conversion) and ``metric_labels``.
    """
    run_dir = Path(run_dir)
    lifter, run_cfg = lifter_for(run_dir, flip_test, device)
    target = target_config(on, data_path)
    splits = load_splits(target, progress=progress, test_only=True)
    full = _check_fits(lifter, splits, str(run_dir))
    corr = restricted(full, shared_with)
    protocol = splits.protocol
    lifter.root_relative = protocol.root == "subtract"
    preds = lifter.lift_all(splits.test, progress=progress)
    notes = list(splits.notes)
    if not full.is_identity:
        notes.append(f"Cross-dataset: a {lifter.layout_out.name} run ({run_cfg.name}) on {splits.dataset}; errors over "
                     f"the {corr.label} only (differently defined joints reported separately).")
    if shared_with:
        notes.append(f"Errors over the {corr.label} of {corr.data} that a {get_layout(shared_with).name} run is "
                     "scored on.")
    if splits.layout_in != lifter.layout_in.name:
        notes.append(f"2D input converted {splits.layout_in} -> {lifter.layout_in.name} "
                     "(poselift.core.layouts; computed joints named there).")
    fps_note = _fps_note(run_cfg, splits)
    if fps_note:
        notes.append(fps_note)
    metrics = score_shared(preds, splits.test, corr, protocol, notes)
    run_out, data_out = corr.left_out()
    conversion = get_mapping(splits.layout_in, lifter.layout_in)
    metrics = {
        "name": run_cfg.name, "run": str(run_dir.resolve()), "cross_dataset": not full.is_identity,
        "dataset": splits.dataset, "protocol": protocol_record(protocol, splits, target),
        "flip_test": lifter.flip_test,
        "trained_on": {"config": run_cfg.name, "dataset": run_cfg.data.dataset,
                       "protocol": (read_json(run_dir / "run.json").get("protocol")
                                    if (run_dir / "run.json").exists() else None)},
        "target": {"on": on, "config": target.source, "data_path": target.data.path},
        "joints": {"label": corr.label, "count": len(corr.shared), "correspondence": corr.name,
                   "run_layout": corr.run, "data_layout": corr.data,
                   "shared_with": get_layout(shared_with).name if shared_with else None,
                   "data_joints": [b for _, b in corr.shared],
                   "scored": [list(p) for p in corr.shared],
                   "differently_defined": [list(p) for p in corr.differ],
                   "left_out": {"run": run_out, "data": data_out},
                   "input_conversion": conversion.describe().splitlines()},
        "metric_labels": metric_labels(corr.label),
        **metrics,
        "evaluated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if write:
        out = cross_dir(run_dir, target, shared_with)
        with writing_run_folder(run_dir, "poselift evaluate --on"):
            out.mkdir(parents=True, exist_ok=True)
            _keep_previous(out / "metrics.json")
            atomic_write_json(out / "metrics.json", metrics)
            atomic_write_text(out / "table.md", cross_table(metrics))
    return metrics


def _fps_note(run_cfg: ExperimentConfig, splits: Splits) -> str:
    """A note when the test data's frame rate differs from the run's training data (not resampled)."""
    trained = {"h36m": 50.0, "synthetic": 50.0, "npz": run_cfg.data.fps}.get(run_cfg.data.dataset)  # loader: unknown
    rates = sorted({float(s.fps) for s in splits.test})
    if trained and rates and any(abs(r - trained) > 1e-6 for r in rates):
        return (f"Frame rate: the run was trained on {trained:g} fps, the test data is "
                f"{', '.join(f'{r:g}' for r in rates)} fps (used as it is, not resampled).")
    return ""


def cross_table(metrics: dict, per: str | None = None) -> str:
    """Markdown table of one cross-dataset ``metrics.json``: rows per subject x action (or action, or
    subject), then the average; columns named with the scored joints; then the per-joint errors, the
    differently defined joints and the segment ratios."""
    labels = metrics.get("metric_labels") or metric_labels(metrics.get("joints", {}).get("label", "all joints"))
    per = per or ("subject_action" if metrics.get("averaging") == "subject_action" else "action")
    if per == "subject_action":
        rows = {f"{s} {a}": v for s, cells in metrics.get("per_subject_action", {}).items() for a, v in cells.items()}
    else:
        rows = metrics["per_subject" if per == "subject" else "per_action"]
    head = "| " + per.replace("_", " x ") + " | " + " | ".join(f"{labels[m]} mm" for m in METRICS) + " | frames |"
    lines = [f"**{metrics.get('name', '')} on {metrics.get('dataset', '')}, protocol "
             f"{metrics.get('protocol', {}).get('name', '')}**", "", head, "|---|---:|---:|---:|---:|---:|"]
    fmt = lambda v, d=1: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"  # noqa: E731
    for name, v in rows.items():
        lines.append(f"| {name} | " + " | ".join(fmt(v[m], 2 if m == "mpjve" else 1) for m in METRICS)
                     + f" | {v['frames']} |")
    lines.append("| **average** | " + " | ".join(f"**{fmt(metrics[m], 2 if m == 'mpjve' else 1)}**" for m in METRICS)
                 + f" | {metrics['frames']} |")
    if metrics.get("per_joint"):
        lines += ["", "| scored joint (run/data) | P1 mm (frames pooled) |", "|---|---:|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in metrics["per_joint"].items()]
    if metrics.get("differently_defined"):
        lines += ["", "| defined otherwise, not scored (run/data) | mean distance mm | why |", "|---|---:|---|"]
        lines += [f"| {k} | {v['mean_mm']:.1f} | {v['why']} |" for k, v in metrics["differently_defined"].items()]
    if metrics.get("segment_ratios"):
        lines += ["", "| segment (data joints) | predicted / true length |", "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in metrics["segment_ratios"].items()]
    for n in metrics.get("notes", []):
        lines += ["", f"_{n}_"]
    return "\n".join(lines) + "\n"


def cross_rows(run_dirs: Sequence[str | os.PathLike], on: str, data_path: str | None = None,
               shared_with: str | None = None):
    """Table rows (:class:`~poselift.experiments.tables.Row`) of the runs' cross-dataset results on ``on``
    (``RUN/cross/<name>/metrics.json``), each carrying its scored-joints label."""
    from poselift.experiments.tables import row_from_metrics

    target = target_config(on, data_path)
    rows = []
    for d in run_dirs:
        path = cross_dir(d, target, shared_with) / "metrics.json"
        if shared_with and not path.exists() and _scored_as(cross_dir(d, target) / "metrics.json", shared_with):
            path = cross_dir(d, target) / "metrics.json"  # its plain result is already over those joints
        if not path.exists():
            extra = f" --shared-with {shared_with}" if shared_with else ""
            raise FileNotFoundError(f"{d}: not evaluated on {on}{extra} ({path} missing); run: "
                                    f"poselift evaluate {d} --on {on}{extra}")
        m = read_json(path)
        rows.append(row_from_metrics(m.get("name") or Path(d).name, m, str(d)))
    names = [r.method for r in rows]
    return [dataclasses.replace(r, method=f"{r.method} [{Path(d).name}]") if names.count(r.method) > 1 else r
            for r, d in zip(rows, run_dirs)]


def common_correspondence(lifters: Sequence[Lifter], splits: Splits, on: str, shared_with: str | None = None
                          ) -> JointCorrespondence:
    """The one correspondence every lifter (``compare --on``) is scored through; refuses runs whose layouts
    differ (their shared joints would differ) or that cannot take the target's 2D."""
    corrs = {}
    for lf in lifters:
        c = restricted(_check_fits(lf, splits, str(lf.run_dir)), shared_with)
        corrs[(c.name, c.shared)] = c
    if len(corrs) > 1:
        raise InputError(f"compare --on {on}: the runs' layouts share different joints with the test data "
                         f"({', '.join(sorted({n for n, _ in corrs}))}); compare runs of one layout")
    return next(iter(corrs.values()))


def label_comparison(result: dict, text: str, corr: JointCorrespondence, dataset: str, fmt: str) -> tuple[dict, str]:
    """``compare --on``: the comparison's result and table named with the scored joints."""
    result = dict(result, joints={"label": corr.label, "correspondence": corr.name,
                                  "scored": [list(p) for p in corr.shared]},
                  metric_labels=metric_labels(corr.label), dataset=dataset)
    if fmt == "md":
        head, _, rest = text.partition("\n")
        for col in ("P1", "P2", "MPJVE"):
            head = head.replace(f"| {col} (mm)", f"| {col} ({corr.label}, mm)")
        text = (f"**Cross-dataset on {dataset}: errors over the {corr.label} ({corr.name})**\n\n" + head + "\n" + rest)
    else:  # csv: the error columns named with the joints
        head, _, rest = text.partition("\n")
        head = ",".join(f"{c} ({corr.label})" if c in ("mpjpe", "p_mpjpe", "mpjve") else c for c in head.split(","))
        text = head + "\n" + rest
    return result, text
