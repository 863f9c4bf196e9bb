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
