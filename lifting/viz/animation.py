"""Animations: 2D keypoints over video (or a blank canvas) beside 3D skeletons, as MP4 or GIF.

:func:`render_animation` draws one figure with a row of panels and writes
every frame of it to a file:

* :class:`Panel2D`: keypoints ``(T, J, 2)`` or several people ``(T, P, J, 2)``
  drawn over video frames (an array, a list, a callable ``t -> frame`` or an
  iterator of frames in order) or over a blank canvas of ``image_size``;
* :class:`Panel3D`: one or more named pose sequences ``(T, J, 3)`` (camera
  coordinates, e.g. "single-frame", "temporal", "ground truth") overlaid in
  one 3D view; use several panels to put them side by side.

The figure is built once with matplotlib's Agg canvas (no display, no
pyplot state) and only the line data change per frame, so a few hundred
frames take seconds, not minutes. ``.mp4``/``.mkv``/``.mov``/``.avi`` are
encoded with PyAV (its wheels bundle FFmpeg: H.264 when available, else
MPEG-4 Part 2), ``.gif`` with Pillow (:func:`write_video`). Files are
written atomically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from poselift.core.layouts import Layout, get_layout
from poselift.viz.plots import _bone_color, set_3d_limits
from poselift.viz.video import write_video

__all__ = ["Panel2D", "Panel3D", "render_animation"]

_PERSON_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_EXTRA_COLORS = ("#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")


@dataclass
class Panel2D:
    """2D keypoints over video frames or a blank canvas.

    Attributes:
        keypoints: ``(T, J, 2)`` or ``(T, P, J, 2)`` pixels; NaN joints/people are not drawn.
        layout: joint layout of ``keypoints``.
        frames: background per frame: ``(T, H, W, 3)`` array, a sequence, a
            callable ``t -> frame``, an iterator yielding frames (or
            ``(index, frame)`` pairs) in order, or ``None`` for a blank canvas.
        image_size: ``(width, height)``; needed without ``frames``.
        title: panel title.
    """

    keypoints: np.ndarray
    layout: str | Layout = "h36m17"
    frames: Any = None
    image_size: tuple[int, int] | None = None
    title: str = ""


@dataclass
class Panel3D:
    """Named 3D pose sequences overlaid in one view.

    Attributes:
        poses: name -> ``(T, J, 3)`` camera coordinates (x right, y down, z
            forward); a bare array is named "".
        layout: joint layout of the poses.
        title: panel title.
        radius: half-width of the view (default: from all frames).
        elev, azim: view angles in degrees.
    """

    poses: Mapping[str, np.ndarray] | np.ndarray
    layout: str | Layout = "h36m17"
    title: str = ""
    radius: float | None = None
    elev: float = 15.0
    azim: float = -70.0


# --------------------------------------------------------------------------- drawing
class _FrameSource:
    """Random or sequential access to background frames."""

    def __init__(self, frames: Any) -> None:
        self.frames = frames
        self.iter: Iterator | None = None
        self.pos = -1
        self.current = None
        if frames is not None and not callable(frames) and not hasattr(frames, "__getitem__"):
            self.iter = iter(frames)

    def get(self, t: int) -> np.ndarray | None:
        f = self.frames
        if f is None:
            return None
        if self.iter is None:
            if callable(f):
                return f(t)
            return f[t] if t < len(f) else None
        while self.pos < t:
            try:
                item = next(self.iter)
            except StopIteration:
                return self.current
            if isinstance(item, tuple) and len(item) == 2 and np.isscalar(item[0]):
                self.pos, self.current = int(item[0]), item[1]
            else:
                self.pos, self.current = self.pos + 1, item
        return self.current


def _as_people(kp: np.ndarray, layout: Layout) -> np.ndarray:
    kp = np.asarray(kp, dtype=np.float32)
    if kp.ndim == 3:
        kp = kp[:, None]
    if kp.ndim != 4 or kp.shape[-1] != 2:
        raise ValueError(f"Panel2D keypoints must be (T, J, 2) or (T, P, J, 2), got shape {kp.shape}")
    layout.check(kp, "Panel2D keypoints")
    return kp


def _plot_xyz(p: np.ndarray) -> np.ndarray:
    """Camera coordinates (x right, y down, z forward) to plot axes (x, depth, up)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1)


def render_animation(
    out_path: str | os.PathLike,
    panels: Sequence[Panel2D | Panel3D],
    fps: float = 25.0,
    frames: Sequence[int] | None = None,
    panel_size: float = 4.0,
    dpi: int = 80,
    progress: bool = True,
    title: str | None = None,
) -> Path:
    """Render ``panels`` side by side, one video frame per time step.

    Args:
        out_path: ``.mp4`` (or ``.mkv``, ``.mov``, ``.avi``) or ``.gif``.
        panels: :class:`Panel2D` / :class:`Panel3D`, all with the same number of frames ``T``.
        fps: frame rate of the output.
        frames: which time steps to draw (default all ``T``).
        panel_size: inches per panel (square panels).
        dpi: pixels per inch.
        progress: show a progress bar.
        title: figure title (the frame number is appended).

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the 3d projection)
    from tqdm.auto import tqdm

    if not panels:
        raise ValueError("render_animation needs at least one panel")
    out_path = Path(out_path)
    lengths = set()
    prepared: list[dict] = []
    for p in panels:
        if isinstance(p, Panel2D):
            lay = get_layout(p.layout)
            kp = _as_people(p.keypoints, lay)
            if p.frames is None and p.image_size is None:
                raise ValueError("Panel2D needs frames or image_size")
            lengths.add(len(kp))
            prepared.append({"kind": "2d", "panel": p, "layout": lay, "kp": kp})
        elif isinstance(p, Panel3D):
            lay = get_layout(p.layout)
            poses = p.poses if isinstance(p.poses, Mapping) else {"": p.poses}
            if not poses:
                raise ValueError("Panel3D needs at least one pose sequence")
            arrs = {}
            for name, a in poses.items():
                a = np.asarray(a, dtype=np.float32)
                if a.ndim != 3 or a.shape[-1] != 3:
                    raise ValueError(f"Panel3D poses {name!r} must be (T, J, 3), got shape {a.shape}")
                lay.check(a, f"Panel3D poses {name!r}")
                lengths.add(len(a))
                arrs[name] = a
            prepared.append({"kind": "3d", "panel": p, "layout": lay, "poses": arrs})
        else:
            raise TypeError(f"panels must be Panel2D or Panel3D, got {type(p).__name__}")
    if len(lengths) != 1:
        raise ValueError(f"panels have different numbers of frames: {sorted(lengths)}")
    total = lengths.pop()
    steps = list(range(total)) if frames is None else [int(t) for t in frames]
    if not steps:
        raise ValueError("no frames to render")
    if min(steps) < 0 or max(steps) >= total:
        raise ValueError(f"frames must be in [0, {total}), got {min(steps)}..{max(steps)}")

    fig = Figure(figsize=(panel_size * len(panels), panel_size + (0.3 if title is not None else 0)), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    suptitle = fig.suptitle(title or "", fontsize=9) if title is not None else None
    updaters: list[Callable[[int], None]] = []
    for i, spec in enumerate(prepared):
        p = spec["panel"]
        lay = spec["layout"]
        if spec["kind"] == "2d":
            ax = fig.add_subplot(1, len(panels), i + 1)
            source = _FrameSource(p.frames)
            first = source.get(steps[0])
            if first is not None:
                first = np.asarray(first)
                h, w = first.shape[:2]
                image = ax.imshow(first, extent=(0, w, h, 0), interpolation="bilinear")
            else:
                w, h = p.image_size
                image = None
                ax.set_facecolor("white")
            ax.set_xlim(0, w)
            ax.set_ylim(h, 0)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(p.title, fontsize=9)
            kp = spec["kp"]
            n_people = kp.shape[1]
            lines = []
            for person in range(n_people):
                row = []
                for a, b in lay.edges:
                    color = _bone_color(lay, a, b) if n_people == 1 else _PERSON_COLORS[person % len(_PERSON_COLORS)]
                    (ln,) = ax.plot([], [], color=color, lw=1.5, marker="o", ms=2)
                    row.append((ln, a, b))
                lines.append(row)

            def update_2d(t, kp=kp, lines=lines, image=image, source=source):
                if image is not None:
                    f = source.get(t)
                    if f is not None:
                        image.set_data(np.asarray(f))
                for person, row in enumerate(lines):
                    k = kp[t, person]
                    for ln, a, b in row:
                        ln.set_data(k[[a, b], 0], k[[a, b], 1])

            updaters.append(update_2d)
        else:
            ax = fig.add_subplot(1, len(panels), i + 1, projection="3d")
            ax.view_init(elev=p.elev, azim=p.azim)
            arrs = spec["poses"]
            pts = np.concatenate([a.reshape(-1, 3) for a in arrs.values()])
            pts = pts[np.isfinite(pts).all(-1)]
            if len(pts) == 0:
                pts = np.zeros((1, 3), np.float32)
            set_3d_limits(ax, pts, radius=p.radius)
            ax.set_title(p.title, fontsize=9)
            # small side-by-side panels: tick numbers only crowd them (the grid keeps the scale visible)
            for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
                axis.set_ticklabels([])
                axis.labelpad = -12
            seq_lines = []
            for n, (name, a) in enumerate(arrs.items()):
                row = []
                for e, (ja, jb) in enumerate(lay.edges):
                    color = _bone_color(lay, ja, jb) if n == 0 else _EXTRA_COLORS[(n - 1) % len(_EXTRA_COLORS)]
                    (ln,) = ax.plot([], [], [], color=color, lw=2.0 if n == 0 else 1.5, alpha=1.0 if n == 0 else 0.8,
                                    label=(name or None) if e == 0 else None)
                    row.append((ln, ja, jb))
                seq_lines.append((_plot_xyz(a), row))
            if len(arrs) > 1:
                ax.legend(fontsize=7, loc="upper right")

            def update_3d(t, seq_lines=seq_lines):
                for q, row in seq_lines:
                    qt = q[t]
                    for ln, a, b in row:
                        ln.set_data_3d(qt[[a, b], 0], qt[[a, b], 1], qt[[a, b], 2])

            updaters.append(update_3d)
    fig.tight_layout()

    def generate() -> Iterator[np.ndarray]:
        for t in tqdm(steps, desc=f"render {out_path.name}", disable=not progress, leave=False):
            for u in updaters:
                u(t)
            if suptitle is not None:
                suptitle.set_text(f"{title}  frame {t}" if title else f"frame {t}")
            canvas.draw()
            yield np.asarray(canvas.buffer_rgba())[..., :3].copy()

    write_video(out_path, generate(), fps)
    return out_path
