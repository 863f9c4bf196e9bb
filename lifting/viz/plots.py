"""Static figures: skeletons in 2D and 3D, error over time, per-action bars.

All functions draw into a matplotlib ``Axes`` given by the caller (or a new
figure) and return it, so notebooks can compose them. Nothing here needs a
display: scripts use the Agg backend (:func:`use_agg`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from poselift.core.layouts import Layout, get_layout

__all__ = [
    "use_agg",
    "LEFT_COLOR",
    "RIGHT_COLOR",
    "CENTRE_COLOR",
    "draw_skeleton_2d",
    "draw_skeleton_3d",
    "set_3d_limits",
    "add_scale_bar",
    "plot_error_over_time",
    "plot_per_action",
]

LEFT_COLOR = "#1f77b4"
RIGHT_COLOR = "#d62728"
CENTRE_COLOR = "#444444"


def use_agg() -> None:
    """Select the non-interactive Agg backend unless a notebook already chose one."""
    import matplotlib

    if "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg")


def _bone_color(layout: Layout, child: int, parent: int) -> str:
    if layout.is_left(child) or layout.is_left(parent):
        return LEFT_COLOR
    if layout.is_right(child) or layout.is_right(parent):
        return RIGHT_COLOR
    return CENTRE_COLOR


def draw_skeleton_2d(ax, keypoints, layout: str | Layout = "h36m17", confidence=None, color: str | None = None,
                     linewidth: float = 2.0, alpha: float = 1.0, min_confidence: float = 0.0, label: str | None = None):
    """Draw one 2D skeleton ``(J, 2)`` (image coordinates, y down) on ``ax``.

    Bones touching a joint with ``confidence < min_confidence`` are dashed.
    Returns the list of line artists (for animations).
    """
    layout = get_layout(layout)
    kp = np.asarray(keypoints)
    layout.check(kp, "keypoints")
    lines = []
    for a, b in layout.edges:
        low = confidence is not None and min(confidence[a], confidence[b]) < min_confidence
        (ln,) = ax.plot(kp[[a, b], 0], kp[[a, b], 1], color=color or _bone_color(layout, a, b),
                        lw=linewidth, alpha=alpha, ls="--" if low else "-", label=label)
        label = None
        lines.append(ln)
    return lines


def _to_plot(pose: np.ndarray) -> np.ndarray:
    """Camera coordinates (x right, y down, z forward) to plot axes (x, depth, up)."""
    return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], -1)


def draw_skeleton_3d(ax, pose, layout: str | Layout = "h36m17", color: str | None = None,
                     linewidth: float = 2.0, alpha: float = 1.0, label: str | None = None):
    """Draw one 3D skeleton ``(J, 3)`` in camera coordinates on a 3D ``ax``.

    The plot shows x to the right, depth into the page and up as up.
    Returns the line artists.
    """
    layout = get_layout(layout)
    p = _to_plot(np.asarray(pose))
    layout.check(p, "pose")
    lines = []
    for a, b in layout.edges:
        (ln,) = ax.plot(p[[a, b], 0], p[[a, b], 1], p[[a, b], 2], color=color or _bone_color(layout, a, b),
                        lw=linewidth, alpha=alpha, label=label)
        label = None
        lines.append(ln)
    return lines


def set_3d_limits(ax, poses, radius: float | None = None) -> None:
    """Equal-aspect limits around the centre of ``poses`` ``(..., J, 3)`` (camera coordinates)."""
    p = _to_plot(np.asarray(poses)).reshape(-1, 3)
    centre = (p.max(0) + p.min(0)) / 2
    r = radius if radius is not None else max(float((p.max(0) - p.min(0)).max()) / 2, 0.1) * 1.1
    ax.set_xlim(centre[0] - r, centre[0] + r)
    ax.set_ylim(centre[1] - r, centre[1] + r)
    ax.set_zlim(centre[2] - r, centre[2] + r)
    try:
        ax.set_box_aspect((1, 1, 1))
    except AttributeError:  # pragma: no cover - old matplotlib
        pass
    ax.set_xlabel("x")
    ax.set_ylabel("depth")
    ax.set_zlabel("up")


SCALE_LENGTHS = (2.0, 1.0, 0.5, 0.2, 0.1, 0.05)
"""Candidate lengths (metres) of the scale bar of a 3D view: the longest that fits in 60 % of the view."""


def add_scale_bar(ax, unit: str = "m", fontsize: float = 7.0) -> float:
    """Draw a metric scale on a 3D ``ax`` whose limits are set (:func:`set_3d_limits`): a bar along the x axis at
    the front bottom edge, labelled with its length (1 m for a person seen whole), and grid lines every half
    bar length. The tick numbers stay hidden; the bar and the grid give the scale.

    Returns:
        The bar's length in ``unit``.
    """
    from matplotlib.ticker import MultipleLocator

    (x0, x1), (y0, _), (z0, _) = ax.get_xlim(), ax.get_ylim(), ax.get_zlim()
    span = x1 - x0
    length = next((v for v in SCALE_LENGTHS if v <= 0.6 * span), SCALE_LENGTHS[-1])
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MultipleLocator(length / 2))
    start = x0 + 0.08 * span
    ax.plot([start, start + length], [y0, y0], [z0, z0], color="black", lw=2.5, solid_capstyle="butt", zorder=10)
    text = f"{length:g} {unit}" + f" (grid {length / 2:g} {unit})"
    ax.text(start + length / 2, y0, z0 + 0.05 * span, text, ha="center", va="bottom", fontsize=fontsize, zorder=10)
    return length


def plot_error_over_time(errors: Mapping[str, np.ndarray], fps: float = 50.0, ax=None, unit: str = "mm",
                         title: str | None = None, smooth: int = 1):
    """Per-frame error curves, one per method.

    Args:
        errors: method name -> ``(T,)`` per-frame error.
        fps: frames per second (x axis in seconds).
        smooth: moving-average window in frames (1 = raw).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    for name, e in errors.items():
        e = np.asarray(e, dtype=np.float64)
        if smooth > 1:
            e = np.convolve(e, np.ones(smooth) / smooth, mode="same")
        t = np.arange(len(e)) / fps
        ax.plot(t, e, lw=1.2, label=f"{name} (mean {np.mean(e):.1f} {unit})")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"error ({unit})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_per_action(per_action: Mapping[str, Mapping[str, float]], ax=None, unit: str = "mm",
                    title: str | None = None, actions: Sequence[str] | None = None):
    """Grouped bars: method -> {action -> error}."""
    import matplotlib.pyplot as plt

    methods = list(per_action)
    if actions is None:
        actions = sorted({a for m in methods for a in per_action[m]})
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.6 * len(actions) * max(1, len(methods)) / 2 + 2), 3.5))
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(actions))
    for i, m in enumerate(methods):
        vals = [per_action[m].get(a, np.nan) for a in actions]
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
    ax.set_xticks(x)
    ax.set_xticklabels(actions, rotation=45, ha="right")
    ax.set_ylabel(f"error ({unit})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax
