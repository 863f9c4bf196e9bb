"""3D panels of a comparison animation: titles fitted to their panel (issue 21: two long titles overlapped and
were cut to "rf 2") and a metric scale (every tick number is hidden)."""
from __future__ import annotations

import numpy as np
import pytest


def _chars(line: str, size: float) -> float:
    """A stand-in font: every character is ``size`` * 0.6 pixels wide."""
    return len(line) * size * 0.6


def test_a_title_that_fits_stays_on_one_line_at_full_size():
    from poselift.viz.animation import TITLE_FONT, fit_title

    assert fit_title("ground truth", 300, 80, measure=_chars) == ("ground truth", TITLE_FONT)


@pytest.mark.parametrize("title, width", [
    ("h36m_gt_27_reduced (single-frame, rf 1)", 150),
    ("h36m_gt_27_reduced[model.widths=[3,3,3]] (temporal, rf 27)", 180),
    ("humaneva15_27[model.widths=[3],model.channels=16,train.epochs=1,data.normalization=torso] (temporal, rf 3)",
     200),
])
def test_long_titles_fit_their_panel_and_keep_their_end(title, width):
    from poselift.viz.animation import MIN_TITLE_FONT, TITLE_FONT, fit_title

    text, size = fit_title(title, width, 80, measure=_chars)
    lines = text.split("\n")
    assert len(lines) <= 2 and MIN_TITLE_FONT <= size <= TITLE_FONT
    assert all(_chars(line, size) <= width for line in lines), (lines, size)
    assert text.endswith(title.split()[-1])  # "rf 27)" is never what is cut
    if "..." not in text:
        assert " ".join(lines) == title  # wrapped, nothing lost


def test_titles_fit_with_the_real_font():
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    from poselift.viz.animation import fit_title

    title = "h36m_gt_27_reduced[model.widths=[1,1,1]] (single-frame, rf 1)"
    renderer = RendererAgg(10, 10, 100)
    text, size = fit_title(title, 250, 100)
    for line in text.split("\n"):
        assert renderer.get_text_width_height_descent(line, FontProperties(size=size), ismath=False)[0] <= 250


@pytest.mark.parametrize("height, bar", [(1.8, 1.0), (0.45, 0.2), (4.0, 2.0)])
def test_scale_bar_length_and_metric_grid(height, bar):
    from matplotlib.figure import Figure

    from poselift.viz.plots import add_scale_bar, set_3d_limits

    pose = np.zeros((17, 3), np.float32)
    pose[:, 1] = np.linspace(-height / 2, height / 2, 17)  # y down: a standing body of this height (metres)
    ax = Figure().add_subplot(projection="3d")
    set_3d_limits(ax, pose)
    assert add_scale_bar(ax) == bar
    for ticks in (ax.get_xticks(), ax.get_yticks(), ax.get_zticks()):
        np.testing.assert_allclose(np.diff(ticks), bar / 2, rtol=1e-9)  # grid lines every half bar
    x0, x1 = ax.get_xlim()
    assert bar <= 0.6 * (x1 - x0)
    (line,) = ax.lines
    xs = line.get_data_3d()[0]
    assert xs[1] - xs[0] == pytest.approx(bar)
    assert any(t.get_text() == f"{bar:g} m (grid {bar / 2:g} m)" for t in ax.texts)


def test_rendered_panels_carry_the_scale(tmp_path):
    from PIL import Image

    from poselift.viz.animation import Panel3D, render_animation

    rng = np.random.default_rng(0)
    poses = rng.normal(size=(3, 17, 3)).astype(np.float32) * 0.3 + np.array([0, 0, 4], np.float32)
    out = {}
    for scale in (True, False):
        path = tmp_path / f"{scale}.gif"
        render_animation(path, [Panel3D({"a": poses}, "h36m17", title="a long title " * 6, scale_bar=scale)],
                         fps=10, size=(240, 240))
        out[scale] = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    assert np.abs(out[True] - out[False]).sum() > 0  # the bar and its label are drawn
