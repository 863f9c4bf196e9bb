"""poselift.viz.animation: MP4 (PyAV) and GIF (Pillow) animations of 2D and 3D panels."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from poselift.viz.animation import Panel2D, Panel3D, render_animation
from poselift.viz.video import probe_video, read_frames, write_video


def _poses3d(t=6):
    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.3, (17, 3)).astype(np.float32)
    return np.stack([base + [0.05 * i, 0, 0] for i in range(t)])


def _kp2d(t=6):
    rng = np.random.default_rng(1)
    base = rng.uniform(50, 250, (17, 2)).astype(np.float32)
    return np.stack([base + [5 * i, 0] for i in range(t)])


def test_gif_with_2d_and_overlaid_3d(tmp_path):
    out = tmp_path / "anim.gif"
    people = np.stack([_kp2d(), _kp2d() + [40, 0]], axis=1)  # (T, 2 people, J, 2)
    people[2, 1] = np.nan  # second person absent in frame 2
    panels = [Panel2D(people, "h36m17", image_size=(320, 240), title="2D"),
              Panel3D({"temporal": _poses3d(), "single-frame": _poses3d() + 0.02}, title="3D")]
    render_animation(out, panels, fps=10, panel_size=2.5, dpi=60, progress=False)
    with Image.open(out) as im:
        assert im.n_frames == 6
        assert im.size == (300, 150)  # 2 panels x 2.5 in x 60 dpi wide, 2.5 in high
        im.seek(0)
        first = np.asarray(im.convert("RGB")).copy()
        im.seek(5)
        last = np.asarray(im.convert("RGB")).copy()
    assert np.abs(first.astype(int) - last.astype(int)).sum() > 0  # the skeletons moved


def test_mp4_over_video_frames(tmp_path):
    t = 5
    frames = np.zeros((t, 240, 320, 3), np.uint8)
    frames[..., 0] = 200  # red video
    out = tmp_path / "anim.mp4"
    render_animation(out, [Panel2D(_kp2d(t), frames=frames), Panel3D(_poses3d(t))], fps=25, panel_size=2,
                     dpi=64, progress=False)
    info = probe_video(out)
    assert (info.width, info.height) == (256, 128)
    decoded = [f for _, f in read_frames(out)]
    assert len(decoded) == t
    left = decoded[0][20:-20, 20:108].reshape(-1, 3).astype(int)
    assert (left[:, 0] > 150).mean() > 0.5 and (left[:, 1] < 80).mean() > 0.5  # the video shows through


def test_frames_from_an_iterator_of_pairs(tmp_path):
    t = 4

    def gen():
        for i in range(t):
            yield i, np.full((100, 120, 3), 40 * i, np.uint8)

    out = tmp_path / "it.gif"
    render_animation(out, [Panel2D(_kp2d(t) / 3, frames=gen())], fps=5, panel_size=1.5, dpi=40, progress=False)
    with Image.open(out) as im:
        assert im.n_frames == t


def test_render_rejects_bad_panels(tmp_path):
    with pytest.raises(ValueError, match="different numbers of frames"):
        render_animation(tmp_path / "x.gif", [Panel2D(_kp2d(3), image_size=(10, 10)), Panel3D(_poses3d(4))],
                         progress=False)
    with pytest.raises(ValueError, match="frames or image_size"):
        render_animation(tmp_path / "x.gif", [Panel2D(_kp2d(3))], progress=False)
    with pytest.raises(ValueError, match="17 joints"):
        render_animation(tmp_path / "x.gif", [Panel3D(np.zeros((3, 16, 3)))], progress=False)
    with pytest.raises(ValueError, match="unknown video type"):
        write_video(tmp_path / "x.webm", [np.zeros((4, 4, 3), np.uint8)], 10)
    assert not list(tmp_path.iterdir())


def test_write_video_odd_size_and_count(tmp_path):
    frames = [np.full((33, 47, 3), 10 * i, np.uint8) for i in range(7)]
    assert write_video(tmp_path / "v.mp4", frames, 12.5) == 7
    info = probe_video(tmp_path / "v.mp4")
    assert (info.width, info.height) == (48, 34) and info.fps == pytest.approx(12.5)
    assert sum(1 for _ in read_frames(tmp_path / "v.mp4")) == 7
    with pytest.raises(ValueError, match="frame 1 has shape"):
        write_video(tmp_path / "w.mp4", [frames[0], frames[1][:10]], 10)


def _gif_frame(path, i=0):
    with Image.open(path) as im:
        im.seek(i)
        return np.asarray(im.convert("RGB")).astype(int)


def _near(img, color, tol=60):
    rgb = np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)])
    return np.abs(img - rgb).sum(-1) < tol


def test_3d_skeleton_sits_where_matplotlibs_own_3d_lines_are(tmp_path):
    """The blitted, self-projected skeleton against a reference drawn by matplotlib's Line3D (full draw)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from poselift.viz.animation import panel_rects
    from poselift.viz.plots import RIGHT_COLOR, _to_plot, set_3d_limits

    pose = _poses3d(1)
    out = tmp_path / "one.gif"
    render_animation(out, [Panel3D(pose, elev=20, azim=-60)], size=(320, 300), dpi=80, legend=False,
                     progress=False)
    got = _gif_frame(out)
    # the reference: the same axes rectangle, limits and view; bones as matplotlib 3D lines
    fig = Figure(figsize=(4, 3.75), dpi=80)
    canvas = FigureCanvasAgg(fig)
    (x0, y0, x1, y1), = panel_rects(1, (320, 300), 80, False, False, False)[0]
    ax = fig.add_axes([x0 / 320, y0 / 300, (x1 - x0) / 320, (y1 - y0) / 300], projection="3d")
    ax.view_init(elev=20, azim=-60)
    set_3d_limits(ax, pose)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_ticklabels([])
        axis.labelpad = -12
    from poselift.core.layouts import get_layout

    lay = get_layout("h36m17")
    p = _to_plot(pose[0])
    for a, b in lay.edges:
        if lay.is_right(a) or lay.is_right(b):
            ax.plot(p[[a, b], 0], p[[a, b], 1], p[[a, b], 2], color=RIGHT_COLOR, lw=2)
    canvas.draw()
    ref = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    a, b = _near(got, RIGHT_COLOR), _near(ref, RIGHT_COLOR)
    assert b.sum() > 50
    iou = (a & b).sum() / (a | b).sum()
    assert iou > 0.6, iou  # the same pixels (antialiasing and GIF palette aside)


def test_size_legend_and_crop_to_the_person(tmp_path):
    from poselift.viz.animation import crop_box
    from poselift.viz.plots import LEFT_COLOR, RIGHT_COLOR

    t = 3
    small = _kp2d(t) * 0.3 + [1500, 700]  # a small person in the corner of a 1920x1080 frame
    frames = np.zeros((t, 1080, 1920, 3), np.uint8)
    frames[:, :, :960] = (0, 200, 0)  # left half green, right half dark: the person stands on the dark side
    full, cropped = tmp_path / "full.mp4", tmp_path / "crop.mp4"
    for path, crop in ((full, False), (cropped, True)):
        render_animation(path, [Panel2D(small, frames=frames, title="2D", crop=crop), Panel3D(_poses3d(t))],
                         size=(960, 540), dpi=100, fps=10, progress=False)
        info = probe_video(path)
        assert (info.width, info.height) == (960, 540)
    f_full = next(read_frames(full))[1][:, :480].astype(int)
    f_crop = next(read_frames(cropped))[1][:, :480].astype(int)
    # cropped: the person fills much more of the 2D panel, and no green (the far half of the frame) shows
    area = [(_near(f, LEFT_COLOR, 120) | _near(f, RIGHT_COLOR, 120)).sum() for f in (f_full, f_crop)]
    assert area[1] > 4 * area[0] > 0
    green = [((f[..., 1] > 150) & (f[..., 0] < 80)).mean() for f in (f_full, f_crop)]
    assert green[0] > 0.2 and green[1] < 0.01
    # the legend under the panels: left and right colour samples in the bottom band
    band = f_full[-26:]
    assert _near(band, LEFT_COLOR, 120).sum() > 5 and _near(band, RIGHT_COLOR, 120).sum() > 5
    # crop boxes: the panel's shape, holding every keypoint
    box = crop_box(small, (1920, 1080), aspect=0.75)
    assert (box[2] - box[0]) / (box[3] - box[1]) == pytest.approx(0.75)
    assert box[0] < np.nanmin(small[..., 0]) and box[2] > np.nanmax(small[..., 0])
    assert crop_box(small, (1920, 1080), aspect=16 / 9, crop=False) == pytest.approx((0, 0, 1920, 1080))


def test_blank_canvas_frames_change_and_title_counts(tmp_path):
    out = tmp_path / "t.gif"
    render_animation(out, [Panel2D(_kp2d(), image_size=(320, 240), crop=True)], size=(200, 180), dpi=60,
                     title="clip", fps=5, progress=False)
    with Image.open(out) as im:
        assert im.size == (200, 180) and im.n_frames == 6
    # the skeleton moved between frames, and the frame number in the title changed
    a, b = _gif_frame(out, 0), _gif_frame(out, 5)
    assert np.abs(a - b)[:20].sum() > 0 and np.abs(a - b)[20:].sum() > 0
