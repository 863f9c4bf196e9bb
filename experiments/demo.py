"""The embedded demo: single-frame vs temporal lifting on synthetic data (``poselift demo``).

:func:`run_demo` generates synthetic training and held-out test sequences
(:mod:`poselift.datasets.synthetic`), trains a single-frame lifter (receptive
field 1) and a temporal lifter (27 frames) with the same width and depth,
evaluates both and writes ``metrics.json``, ``table.md``, ``figure.png`` and
one run folder per model into the output folder.
"""
from __future__ import annotations

import copy
import time
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = ["demo_configs", "run_demo"]


def demo_configs(quick: bool = False, seed: int = 0, device: str = "cpu"):
    """The two experiment configs of the demo (single-frame, temporal)."""
    from poselift.experiments.config import (
        DataConfig,
        EvalConfig,
        ExperimentConfig,
        ModelConfig,
        SyntheticConfig,
    )
    from poselift.training.trainer import TrainSettings

    if quick:  # for tests: seconds, not minutes
        syn = SyntheticConfig(subjects=2, test_subjects=1, num_frames=120, test_num_frames=120,
                              motions=["walk", "wave", "squat"], seed=seed, test_seed=seed + 1000)
        channels, epochs, batch, decay = 32, 2, 256, 0.9
    else:
        syn = SyntheticConfig(subjects=4, test_subjects=2, num_frames=400, test_num_frames=400,
                              seed=seed, test_seed=seed + 1000)
        channels, epochs, batch, decay = 256, 10, 512, 0.8
    base = ExperimentConfig(
        name="demo",
        seed=seed,
        device=device,
        data=DataConfig(dataset="synthetic", path=None, keypoints="gt", synthetic=syn, train_subjects=[],
                        test_subjects=[]),
        model=ModelConfig(widths=[1, 1, 1], channels=channels, dropout=0.25),
        train=TrainSettings(epochs=epochs, batch_size=batch, lr=1e-3, lr_decay=decay, seed=seed),
        eval=EvalConfig(flip_test=True, eval_every=0),
    )
    single = copy.deepcopy(base)
    single.name = "single-frame (rf 1)"
    temporal = copy.deepcopy(base)
    temporal.name = "temporal (rf 27)"
    temporal.model.widths = [3, 3, 3]
    return single, temporal


def _figure(out_path: Path, runs: dict, splits, fps: float) -> str:
    """Error over time on one held-out video + a 3D snapshot. Returns a one-line description."""
    from poselift.viz.plots import use_agg

    use_agg()
    import matplotlib.pyplot as plt

    from poselift.experiments.evaluation import sequence_errors
    from poselift.inference import load_lifter
    from poselift.viz.plots import (
        draw_skeleton_2d,
        draw_skeleton_3d,
        plot_error_over_time,
        set_3d_limits,
    )

    # the held-out video where the two models differ most is the most instructive; take a walk
    seq = next((s for s in splits.test if s.action == "walk"), splits.test[0])
    preds = {name: load_lifter(d, device="cpu").lift(seq) for name, d in runs.items()}
    gt = seq.root_relative_3d()
    errs = {name: sequence_errors(p, gt).mpjpe for name, p in preds.items()}
    names = list(preds)
    frame = int(np.argmax(errs[names[0]] - errs[names[-1]]))  # where temporal context helps most

    fig = plt.figure(figsize=(13, 7.5))
    ax = fig.add_subplot(2, 1, 1)
    plot_error_over_time(errs, fps=fps, ax=ax, title=f"MPJPE per frame, held-out video ({seq.subject}, {seq.action}, {seq.camera.name})")
    ax.axvline(frame / fps, color="k", ls=":", lw=1)
    ax2 = fig.add_subplot(2, 4, 5)
    draw_skeleton_2d(ax2, seq.keypoints[frame], seq.layout, seq.confidence[frame] if seq.confidence is not None else None,
                     min_confidence=0.5)
    clean = seq.meta.get("clean_keypoints")
    if clean is not None:
        draw_skeleton_2d(ax2, clean[frame], seq.layout, color="0.6", linewidth=1)
    c = seq.keypoints[frame].mean(0)
    ax2.set_xlim(c[0] - 250, c[0] + 250)
    ax2.set_ylim(c[1] + 250, c[1] - 250)
    ax2.set_aspect("equal")
    ax2.set_title(f"input 2D, frame {frame}\n(grey: noise-free, dashed: low confidence)", fontsize=9)
    panels = [("ground truth", gt[frame])] + [(n, preds[n][frame]) for n in names]
    for i, (title, pose) in enumerate(panels):
        a = fig.add_subplot(2, 4, 6 + i, projection="3d")
        draw_skeleton_3d(a, gt[frame], seq.layout3d, color="0.75", linewidth=1)
        draw_skeleton_3d(a, pose, seq.layout3d)
        set_3d_limits(a, gt[frame], radius=1.0)
        a.view_init(elev=10, azim=-70)
        err = "" if title == "ground truth" else f"\nMPJPE {errs[title][frame]:.0f} mm"
        a.set_title(title + err, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_path, dpi=90)
    plt.close(fig)
    return (f"per-frame MPJPE of both models on held-out video {seq.subject}/{seq.action}/{seq.camera.name}, "
            f"and the 2D input and 3D poses at frame {frame}")


def run_demo(out_dir: str | Path | None = None, quick: bool = False, seed: int = 0, device: str = "cpu",
             progress: bool = True, verbose: bool = True) -> dict:
    """Train and compare the two demo models; returns the content of ``metrics.json``."""
    from poselift.core.io import atomic_write_json, atomic_write_text
    from poselift.experiments.data import load_splits
    from poselift.experiments.train_eval import train_run
    from poselift.experiments.tables import render_table, row_from_metrics

    t0 = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else Path("runs") / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    single, temporal = demo_configs(quick, seed, device)
    say = print if verbose else (lambda *a, **k: None)
    say(f"poselift demo -> {out}")
    splits = load_splits(single)
    n_train = sum(len(s) for s in splits.train)
    n_test = sum(len(s) for s in splits.test)
    say(f"synthetic data: {len(splits.train)} training videos ({n_train} frames), "
        f"{len(splits.test)} held-out videos ({n_test} frames)")
    results, runs = {}, {}
    for key, cfg in (("single_frame", single), ("temporal", temporal)):
        say(f"training {cfg.name} ...")
        t = time.perf_counter()
        m = train_run(cfg, out / key, splits=splits, progress=progress, resume=False)
        results[key] = {k: m[k] for k in ("name", "mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "frames", "per_action")}
        results[key]["train_seconds"] = round(time.perf_counter() - t, 1)
        runs[cfg.name] = out / key
    rows = [row_from_metrics(results[k]["name"], results[k]) for k in ("single_frame", "temporal")]
    note = splits.notes[0] if splits.notes else ""
    table = render_table(rows, "md", caption="poselift demo: held-out synthetic videos, noisy 2D input",
                         notes=[note, "Errors in mm, root-relative; P1 = MPJPE, P2 = Procrustes-aligned MPJPE."])
    fig_desc = _figure(out / "figure.png", runs, splits, fps=splits.test[0].fps)
    s, t = results["single_frame"], results["temporal"]
    summary = {
        **results,
        "temporal_beats_single_frame": bool(t["mpjpe"] < s["mpjpe"] and t["p_mpjpe"] < s["p_mpjpe"]),
        "figure": fig_desc,
        "settings": {"quick": quick, "seed": seed, "device": device},
    }
    atomic_write_json(out / "metrics.json", summary)
    atomic_write_text(out / "table.md", table)
    wall = time.perf_counter() - t0
    say("")
    say(table)
    say(f"figure: {out / 'figure.png'} ({fig_desc})")
    verdict = "beats" if summary["temporal_beats_single_frame"] else "does NOT beat"
    say(f"temporal {verdict} single-frame under both protocols; wall time {wall:.0f} s")
    summary["wall_seconds"] = wall
    return summary
