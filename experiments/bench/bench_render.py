"""Benchmark the side-by-side animation (2D over video beside two 3D panels) at 960x540, before and after.

    python experiments/bench/bench_render.py [--frames 120] [--before REV] [--cores 0]

"After" is :func:`poselift.viz.animation.render_animation` (static parts drawn once, per frame only the
video crop is copied in and the skeletons drawn). "Before" is the renderer of git revision ``REV``
(default ``da70352``, the last one with a full matplotlib redraw per frame), loaded from git into a
temporary module; it had no size option, so matplotlib's ``Figure`` is given the same 9.6 x 5.4 in at
100 dpi while it runs. Both render the same synthetic person (a 120-frame walk, 1.5 x the 1000 px
synthetic camera, i.e. a 1920x1080 frame): once over a blank canvas, once over a 1920x1080 H.264 clip
decoded as they go, each to an MP4 (PyAV), whole calls timed (decoding and encoding included). The
process is pinned to one core (``--cores``). The load average is printed: other jobs on the cores
slow both alike; compare the two columns of one run.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load_before(rev: str):
    """``lifting/viz/animation.py`` at git revision ``rev`` as a module (None when git cannot give it)."""
    repo = Path(__file__).resolve().parents[2]
    try:
        src = subprocess.run(["git", "show", f"{rev}:lifting/viz/animation.py"], cwd=repo, capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(tempfile.mkdtemp()) / "animation_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("animation_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["animation_before"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def forced_figsize(width_in: float, height_in: float):
    """Context: every new matplotlib ``Figure`` gets this size (the old renderer's only size was square panels)."""
    import contextlib

    import matplotlib.figure as mf

    @contextlib.contextmanager
    def ctx():
        original = mf.Figure

        class Sized(original):
            def __init__(self, *a, **kw):
                kw["figsize"] = (width_in, height_in)
                super().__init__(*a, **kw)

        mf.Figure = Sized
        try:
            yield
        finally:
            mf.Figure = original

    return ctx()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--before", default="da70352", help="git revision of the old renderer")
    ap.add_argument("--cores", type=int, nargs="+", default=[0], help="CPU cores to pin to (default: one)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(args.cores))
    import torch

    torch.set_num_threads(len(args.cores))

    from poselift.core.device import machine_description
    from poselift.datasets.synthetic import make_dataset
    from poselift.viz import animation as after
    from poselift.viz.video import read_frames, write_video

    t = args.frames
    (seq,) = make_dataset(1, ["walk"], 1, t, seed=3)[:1]
    kp = seq.keypoints * 1.5 + np.float32([200, 0])  # a 1920x1080 frame
    pose = seq.root_relative_3d()
    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    clip = work / "clip1080.mp4"
    rng = np.random.default_rng(0)
    base = rng.integers(40, 200, (1080 // 8, 1920 // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    write_video(clip, (np.roll(base, 4 * i, 1) for i in range(t)), 50.0)

    def panels(mod, video: bool):
        return [mod.Panel2D(kp, "h36m17", frames=(read_frames(clip) if video else None), image_size=(1920, 1080),
                            title="2D keypoints"),
                mod.Panel3D({"temporal": pose}, title="3D, temporal"),
                mod.Panel3D({"single-frame": pose * 1.02, "ground truth": pose}, title="3D vs ground truth")]

    before = load_before(args.before)
    rows = []
    for video in (False, True):
        label = "over a 1920x1080 H.264 clip" if video else "blank canvas"
        out = {}
        if before is not None:
            with forced_figsize(9.6, 5.4):
                t0 = time.perf_counter()
                before.render_animation(work / "before.mp4", panels(before, video), fps=25, dpi=100, progress=False)
                out["before"] = t / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        after.render_animation(work / "after.mp4", [*panels(after, video)[:1], *panels(after, video)[1:]],
                               fps=25, size=(960, 540), dpi=100, progress=False)
        out["after"] = t / (time.perf_counter() - t0)
        for p in panels(after, video)[:1]:  # the lift default: the 2D panel cropped to the person
            t0 = time.perf_counter()
            p.crop = True
            after.render_animation(work / "after_crop.mp4", [p, *panels(after, video)[1:]], fps=25, size=(960, 540),
                                   dpi=100, progress=False)
            out["after, cropped"] = t / (time.perf_counter() - t0)
        rows.append((label, out))
    print(f"\nSide-by-side animation, 960x540, {t} frames, 3 panels (2D + two 3D), MP4; one core; frames/s\n")
    print("| background | before (full redraw) | after | after, 2D cropped to the person | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for label, out in rows:
        b = out.get("before")
        print(f"| {label} | {b:.1f} | {out['after']:.1f} | {out['after, cropped']:.1f} | "
              f"{out['after'] / b:.0f}x |" if b else
              f"| {label} | (git revision {args.before} not available) | {out['after']:.1f} | "
              f"{out['after, cropped']:.1f} | |")
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"\nmachine: {machine_description()}; pinned to core(s) {args.cores}; load average {load[0]:.2f}; "
          f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
