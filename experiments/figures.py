"""Figures for papers and notebooks: per-action bars, error over time, comparison animations.

* :func:`per_action_figure`: grouped bars, one group per action and one bar
  per run, from run folders' ``metrics.json`` (``per_action`` table) or
  metrics dicts.
* :func:`error_over_time_figure`: per-frame Protocol 1 (or 2) error of
  several methods on one sequence with ground truth.
* :func:`comparison_animation`: the input 2D (over the video frames when
  given, else a blank canvas of the image size) beside one 3D panel per
  method (e.g. single-frame, temporal) and the ground truth when the
  sequence has it; GIF (Pillow) or MP4 (PyAV, which bundles FFmpeg) chosen
  by the file suffix.
* :func:`sequence_label` / :func:`select_sequence`: name and pick a test
  sequence as ``SUBJECT/ACTION/CAMERA``.

Static figures are drawn on a bare :class:`matplotlib.figure.Figure` with the
Agg canvas: no pyplot state, no display needed, nothing to close, and the
caller's (e.g. a notebook's) backend is left alone. A notebook shows the
returned figure with ``display(fig)``. Every file is written atomically
(:func:`poselift.core.io.atomic_path`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from poselift.core.io import atomic_path, read_json
from poselift.core.sequence import PoseSequence
from poselift.experiments.evaluation import METRIC_LABELS, sequence_errors
from poselift.viz.animation import Panel2D, Panel3D, render_animation
from poselift.viz.plots import plot_error_over_time, plot_per_action
from poselift.viz.video import STILL_SUFFIX, VIDEO_SUFFIXES

__all__ = [
    "ANIMATION_SUFFIXES",
    "per_action_figure",
    "per_action_table",
    "error_over_time_figure",
    "per_frame_errors",
    "comparison_animation",
    "save_figure",
    "sequence_label",
    "select_sequence",
]

ANIMATION_SUFFIXES = (".gif", *VIDEO_SUFFIXES, STILL_SUFFIX)
"""File types :func:`comparison_animation` writes (``.gif`` with Pillow, the videos with PyAV; ``.png``: one frame)."""

RunOrMetrics = Union[str, os.PathLike, Mapping[str, Any]]
"""A run folder (with ``metrics.json``) or a metrics dict (``{"name", "per_action": {...}, ...}``)."""

_PER_FRAME_METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe")


# --------------------------------------------------------------------------- helpers
def _new_figure(width: float, height: float):
    """A figure on the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` atomically; the format follows the suffix (``.png``, ``.pdf``, ``.svg``, ...)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if not fmt:
        raise ValueError(f"{path}: give the file a suffix (.png, .pdf, .svg) to choose the format")
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def _load_metrics(item: RunOrMetrics) -> tuple[dict, str]:
    """``(metrics, default name)`` of a run folder or a metrics dict."""
    if isinstance(item, Mapping):
        m = dict(item)
        return m, str(m.get("name") or "")
    run = Path(item)
    path = run / "metrics.json" if run.is_dir() or not run.suffix else run
    if not path.exists():
        raise FileNotFoundError(f"{run}: no metrics.json (train or evaluate the run first)")
    m = read_json(path)
    if not isinstance(m, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return m, str(m.get("name") or (run.name if path != run else run.parent.name))


def per_action_table(runs: Sequence[RunOrMetrics] | Mapping[str, RunOrMetrics],
                     metric: str = "mpjpe") -> dict[str, dict[str, float]]:
    """``{method: {action: error (mm)}}`` from run folders or metrics dicts.

    Args:
        runs: a list of run folders / metrics dicts (named by the metrics'
            ``name``, else the folder name; repeated names get ``#2``, ``#3``),
            or a mapping ``name -> run folder / metrics``.
        metric: ``"mpjpe"`` (Protocol 1), ``"p_mpjpe"`` (Protocol 2),
            ``"n_mpjpe"`` or ``"mpjve"``.

    Raises:
        ValueError: no runs, unknown metric, a run without a per-action table.
        FileNotFoundError: a run folder without ``metrics.json``.
    """
    if metric not in METRIC_LABELS:
        raise ValueError(f"metric must be one of {list(METRIC_LABELS)}, got {metric!r}")
    if isinstance(runs, (str, os.PathLike)):
        runs = [runs]
    items = list(runs.items()) if isinstance(runs, Mapping) else [(None, r) for r in runs]
    if not items:
        raise ValueError("per_action_figure needs at least one run folder or metrics dict")
    table: dict[str, dict[str, float]] = {}
    for given, item in items:
        m, default = _load_metrics(item)
        where = (given or default or "metrics") if isinstance(item, Mapping) else str(item)
        per_action = m.get("per_action")
        if not isinstance(per_action, Mapping) or not per_action:
            raise ValueError(f"{where}: no per-action table ('per_action') in the metrics")
        name = str(given) if given is not None else (default or f"run {len(table) + 1}")
        base, k = name, 2
        while name in table:
            name, k = f"{base} #{k}", k + 1
        row = {}
        for action, values in per_action.items():
            if not isinstance(values, Mapping) or metric not in values:
                raise ValueError(f"{where}: per-action entry {action!r} has no {metric!r}")
            row[str(action)] = float(values[metric])
        table[name] = row
    return table


# --------------------------------------------------------------------------- per action
def per_action_figure(
    runs: Sequence[RunOrMetrics] | Mapping[str, RunOrMetrics],
    metric: str = "mpjpe",
    out_path: str | os.PathLike | None = None,
    title: str | None = None,
    actions: Sequence[str] | None = None,
    dpi: int = 100,
):
    """Grouped bars: one group per action, one bar per run.

    Args:
        runs: run folders (their ``metrics.json``) or metrics dicts, or a
            mapping ``name -> run folder / metrics`` (see :func:`per_action_table`).
        metric: ``"mpjpe"``, ``"p_mpjpe"``, ``"n_mpjpe"`` or ``"mpjve"`` (mm).
        out_path: also save the figure here (``.png``, ``.pdf``, ``.svg``).
        title: figure title (default: the metric's name).
        actions: actions to show, in order (default: all, sorted).
        dpi: resolution when saving.

    Returns:
        the :class:`matplotlib.figure.Figure` (one axes; ``len(actions)``
        tick labels, ``len(runs)`` bar containers of ``len(actions)`` bars).
    """
    table = per_action_table(runs, metric)
    all_actions = sorted({a for row in table.values() for a in row})
    if actions is not None:
        actions = list(actions)
        unknown = [a for a in actions if a not in all_actions]
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; the runs have {all_actions}")
    else:
        actions = all_actions
    width = max(6.0, 0.35 * len(actions) * max(1, len(table)) + 2.0)
    fig = _new_figure(min(width, 24.0), 4.0)
    ax = fig.add_subplot(1, 1, 1)
    plot_per_action(table, ax=ax, actions=actions,
                    title=title if title is not None else f"{METRIC_LABELS[metric]} per action")
    fig.tight_layout()
    if out_path is not None:
        save_figure(fig, out_path, dpi=dpi)
    return fig


# --------------------------------------------------------------------------- error over time
def _check_predictions(seq: PoseSequence, predictions: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(predictions, Mapping) or not predictions:
        raise ValueError("predictions must be a non-empty mapping name -> (T, J, 3) poses")
    j = seq.layout3d.num_joints
    out = {}
    for name, p in predictions.items():
        a = np.asarray(p, dtype=np.float64)
        if a.ndim != 3 or a.shape[1:] != (j, 3):
            raise ValueError(f"prediction {name!r}: expected ({len(seq)}, {j}, 3) poses, got shape {a.shape}")
        if len(a) != len(seq):
            raise ValueError(f"prediction {name!r} has {len(a)} frames, the sequence {len(seq)}")
        out[str(name)] = a
    return out


def per_frame_errors(seq: PoseSequence, predictions: Mapping[str, np.ndarray],
                     metric: str = "mpjpe") -> dict[str, np.ndarray]:
    """Per-frame error (mm) of each method on one sequence.

    Args:
        seq: a sequence with ground-truth ``poses3d`` ``(T, J, 3)``.
        predictions: name -> ``(T, J, 3)`` poses in metres (root-relative or
            not: the root is subtracted from both).
        metric: ``"mpjpe"`` (Protocol 1), ``"p_mpjpe"`` (Protocol 2) or ``"n_mpjpe"``.

    Returns:
        name -> ``(T,)`` errors in mm.
    """
    if metric not in _PER_FRAME_METRICS:
        raise ValueError(f"metric must be one of {list(_PER_FRAME_METRICS)}, got {metric!r}")
    if seq.poses3d is None:
        raise ValueError(f"{seq.label}: no ground-truth 3D, so no error over time "
                         "(compare without ground truth with poselift.experiments.compare)")
    preds = _check_predictions(seq, predictions)
    gt = seq.root_relative_3d()
    root = seq.layout3d.root
    return {name: getattr(sequence_errors(p, gt, root=root), metric) for name, p in preds.items()}


def error_over_time_figure(
    seq: PoseSequence,
    predictions: Mapping[str, np.ndarray],
    out_path: str | os.PathLike | None = None,
    metric: str = "mpjpe",
    fps: float | None = None,
    smooth: int = 1,
    title: str | None = None,
    dpi: int = 100,
):
    """Per-frame error of several methods on one sequence, as curves over time.

    Args:
        seq: the sequence, with ground truth ``poses3d`` ``(T, J, 3)``.
        predictions: name -> ``(T, J, 3)`` predicted poses (metres).
        out_path: also save the figure here.
        metric: ``"mpjpe"`` (Protocol 1, default), ``"p_mpjpe"`` or ``"n_mpjpe"``.
        fps: frames per second of the time axis (default ``seq.fps``).
        smooth: moving-average window in frames (1: raw).
        title: axes title (default: the sequence's label and the metric).

    Returns:
        the :class:`matplotlib.figure.Figure` (one axes, one line per method).
    """
    errors = per_frame_errors(seq, predictions, metric)
    fig = _new_figure(9.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    label = sequence_label(seq)
    plot_error_over_time(errors, fps=float(fps or seq.fps), ax=ax, smooth=smooth,
                         title=title if title is not None else f"{METRIC_LABELS[metric]} per frame, {label}")
    fig.tight_layout()
    if out_path is not None:
        save_figure(fig, out_path, dpi=dpi)
    return fig


# --------------------------------------------------------------------------- animation
def _frame_steps(frames: int | Sequence[int] | None, total: int) -> list[int] | None:
    if frames is None:
        return None
    if isinstance(frames, (int, np.integer)):
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        return list(range(min(int(frames), total)))
    steps = [int(t) for t in frames]
    if not steps:
        raise ValueError("frames is empty")
    bad = [t for t in steps if not 0 <= t < total]
    if bad:
        raise ValueError(f"frames must be in [0, {total}), got {bad[:5]}")
    return steps


def _video_source(video: Any, seq: PoseSequence, start: int) -> Any:
    """Background frames for :class:`~poselift.viz.animation.Panel2D` from a path, an array, a callable or an iterator.

    A video file is read from the sequence's first frame (``seq.start_frame``)
    on, so that time step ``t`` of the sequence shows video frame ``start_frame + t``.
    """
    if video is None or not isinstance(video, (str, os.PathLike)):
        return video
    from poselift.viz.video import read_frames

    path = Path(video)
    if not path.exists():
        raise FileNotFoundError(f"no such video: {path}")
    first = seq.start_frame

    def pairs():
        for i, frame in read_frames(path, start=first + start):
            yield i - first, frame

    return pairs()


def _radius(arrays: Sequence[np.ndarray]) -> float:
    """Half-width (metres) of a 3D view that holds every root-relative pose."""
    pts = np.concatenate([a.reshape(-1, 3) for a in arrays])
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) == 0:
        return 1.0
    r = float(np.abs(pts).max()) * 1.05
    return min(max(r, 0.3), 5.0)


def comparison_animation(
    out_path: str | os.PathLike,
    seq: PoseSequence,
    predictions: Mapping[str, np.ndarray],
    fps: float | None = None,
    frames: int | Sequence[int] | None = None,
    video: Any = None,
    ground_truth: bool = True,
    panel_size: float = 3.0,
    dpi: float | None = None,
    title: str | None = None,
    progress: bool = False,
    size: tuple[int, int] | None = None,
    crop: bool = True,
) -> Path:
    """Input 2D beside one 3D panel per method (and the ground truth), as a GIF or MP4.

    Args:
        out_path: ``.gif`` (Pillow) or ``.mp4`` / ``.mkv`` / ``.mov`` / ``.avi`` (PyAV); ``.png``: a
            still of the one frame ``frames`` names (e.g. ``frames=[120]``).
        seq: the sequence: its 2D keypoints ``(T, J, 2)`` (pixels) are drawn in
            the first panel; its ``poses3d`` (when present and ``ground_truth``)
            root-relative in the last.
        predictions: name -> ``(T, J3, 3)`` poses in metres, camera coordinates,
            e.g. ``{"single-frame": ..., "temporal": ...}``; one panel each, in
            this order, all with the same view limits; drawn root-relative.
        fps: frame rate of the output (default ``seq.fps``).
        frames: an ``int`` N (the first N frames) or the time steps to draw
            (default: all ``T``).
        video: background of the 2D panel: a video file (read from
            ``seq.start_frame`` on), a ``(T, H, W, 3)`` uint8 array, a
            list, a callable ``t -> frame`` or an iterator; ``None``: a blank
            canvas of ``seq.image_size``.
        ground_truth: add a ground-truth panel when ``seq.poses3d`` exists.
        panel_size: inches per (square) panel; without ``size`` the output is
            ``panels * panel_size * dpi`` by ``panel_size * dpi`` pixels.
        dpi: dots per inch (default 80; with ``size``: 100), the size of text and lines.
        size: ``(width, height)`` of the output in pixels (e.g. ``(960, 540)``).
        crop: crop the 2D panel to the person (``False``: the whole frame).
        title: title above the panels, the frame number appended (default: the
            sequence's label; ``""``: no title line at all).
        progress: progress bar while rendering.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: unknown suffix, no predictions, predictions whose shape
            does not fit the sequence, frames out of range.
    """
    out_path = Path(out_path)
    if out_path.suffix.lower() not in ANIMATION_SUFFIXES:
        raise ValueError(f"{out_path}: unknown animation type {out_path.suffix!r}; "
                         f"use one of {list(ANIMATION_SUFFIXES)}")
    preds = _check_predictions(seq, predictions)
    steps = _frame_steps(frames, len(seq))
    if out_path.suffix.lower() == STILL_SUFFIX and (steps is None and len(seq) != 1 or steps and len(steps) != 1):
        raise ValueError(f"{out_path}: a .png is one frame; name it with frames=[t] "
                         f"(got {len(seq) if steps is None else len(steps)} frames)")
    root = seq.layout3d.root
    poses = {name: (p - p[:, root : root + 1]).astype(np.float32) for name, p in preds.items()}
    if ground_truth and seq.poses3d is not None:
        poses["ground truth"] = seq.root_relative_3d().astype(np.float32)
    radius = _radius(list(poses.values()))
    start = steps[0] if steps else 0
    background = _video_source(video, seq, start)
    panels: list[Panel2D | Panel3D] = [
        Panel2D(seq.keypoints, seq.layout, frames=background, image_size=seq.image_size, title="input 2D",
                crop=crop)
    ]
    for name, p in poses.items():
        panels.append(Panel3D({name: p}, seq.layout3d, title=name, radius=radius))
    if not float(fps or seq.fps) > 0:
        raise ValueError(f"{sequence_label(seq)}: the frame rate is unknown (0); give fps=")
    render_animation(out_path, panels, fps=float(fps or seq.fps), frames=steps, panel_size=panel_size,
                     dpi=dpi or (100 if size is not None else 80), progress=progress,
                     title=sequence_label(seq) if title is None else (title or None), size=size)
    return out_path


# --------------------------------------------------------------------------- sequences
def _camera_name(seq: PoseSequence) -> str:
    return seq.camera_id


def sequence_label(seq: PoseSequence) -> str:
    """``"SUBJECT/ACTION/CAMERA"`` (parts that are unknown left out)."""
    parts = [p for p in (seq.subject, seq.action, _camera_name(seq)) if p]
    return "/".join(parts) if parts else "sequence"


def select_sequence(seqs: Sequence[PoseSequence], which: int | str | None = None) -> tuple[int, PoseSequence]:
    """Pick one sequence by index or by ``SUBJECT/ACTION/CAMERA``.

    Args:
        seqs: candidate sequences (e.g. a test split).
        which: an index (``int`` or a string of digits, negative counts from
            the end), ``"SUBJECT/ACTION/CAMERA"`` (e.g. ``"S9/Walking 1/54138969"``;
            ``SUBJECT/ACTION`` takes the first camera), or ``None`` (the first).

    Returns:
        ``(index, sequence)``.
    """
    if not seqs:
        raise ValueError("no sequences to choose from")
    if which is None:
        return 0, seqs[0]
    text = str(which).strip()
    if isinstance(which, (int, np.integer)) or text.lstrip("-").isdigit():
        i = int(text)
        if not -len(seqs) <= i < len(seqs):
            raise ValueError(f"sequence index {i} out of range: {len(seqs)} sequence(s)")
        i %= len(seqs)
        return i, seqs[i]
    parts = text.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"a sequence is an index or SUBJECT/ACTION/CAMERA, got {which!r}")
    for i, s in enumerate(seqs):
        if s.subject == parts[0] and s.action == parts[1] and (len(parts) == 2 or parts[2] == _camera_name(s)):
            return i, s
    known = ", ".join(sequence_label(s) for s in seqs[:8]) + (", ..." if len(seqs) > 8 else "")
    raise ValueError(f"no sequence {text!r}; there are {len(seqs)}: {known}")
