"""Lift a 1-hour sequence on the CPU in bounded memory, and check the chunk seams.

    python experiments/bench/bench_long_sequence.py [--frames 180000] [--channels 1024] [--flip]

A 1-hour sequence at 50 fps (180,000 frames of 17 joints) of smooth random 2D
goes through the published 243-frame model (random weights with randomised
BatchNorm statistics: speed and memory do not depend on the values) with
:func:`poselift.inference.lift_sequence` in chunks of ``--chunk`` output
frames, with a progress bar. Prints a Markdown table with the machine, the
wall time, frames per second, and the process's resident memory: before
lifting (Python + torch + the model + the input) and its peak (``ru_maxrss``),
so the lifting's own share is visible.

Seam check: every chunk boundary's neighbourhood (``--seam-frames`` output
frames either side) is lifted again in one unchunked pass over exactly the
input frames it depends on, and the largest difference is reported.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import torch

from poselift.core.device import machine_description
from poselift.core.layouts import H36M17
from poselift.core.windows import pad_edges, widths_for
from poselift.inference import lift_sequence
from poselift.model.tcn import TemporalLifter


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def smooth_walk(frames: int, seed: int = 0) -> np.ndarray:
    """``(frames, 17, 2)`` float32 keypoints moving smoothly (a low-passed random walk)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.2, size=(17, 2)).astype(np.float32)
    drift = np.cumsum(rng.normal(scale=0.002, size=(frames, 1, 2)), axis=0).astype(np.float32)
    wobble = rng.normal(scale=0.005, size=(frames, 17, 2)).astype(np.float32)
    return base + np.clip(drift, -0.5, 0.5) + wobble


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=180_000, help="default: 1 hour at 50 fps")
    ap.add_argument("--channels", type=int, default=1024)
    ap.add_argument("--rf", type=int, default=243, choices=[27, 81, 243])
    ap.add_argument("--chunk", type=int, default=8192)
    ap.add_argument("--flip", action="store_true", help="flip test-time augmentation (doubles the work)")
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--seam-frames", type=int, default=50)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    widths = widths_for(args.rf)
    torch.manual_seed(0)
    model = TemporalLifter(17, 17, widths, channels=args.channels, causal=args.causal).eval()
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    x = smooth_walk(args.frames)
    perms = (H36M17.flip_permutation, H36M17.flip_permutation) if args.flip else None
    lift_sequence(model, x[:2000], flip_perms=perms)  # warm-up: folding, allocator, kernels
    rss0 = rss_mib()
    t0 = time.perf_counter()
    y = lift_sequence(model, x, flip_perms=perms, chunk=args.chunk, progress=True)
    wall = time.perf_counter() - t0
    peak = peak_rss_mib()
    assert y.shape == (args.frames, 17, 3) and np.isfinite(y).all()

    # seams: re-lift each boundary's neighbourhood in one pass over exactly its inputs
    rf = model.receptive_field
    xp = pad_edges(x, *model.pad)
    worst = 0.0
    seams = list(range(args.chunk, args.frames, args.chunk))
    for s in seams:
        a, b = max(0, s - args.seam_frames), min(args.frames, s + args.seam_frames)
        ref = lift_sequence(model, xp[a : b + rf - 1], pad=False, flip_perms=perms, chunk=10**9)
        worst = max(worst, float(np.abs(ref - y[a:b]).max()))

    print(f"\nmachine: {machine_description(torch.device('cpu'))}, {torch.get_num_threads()} threads")
    print(f"model: rf {rf}, {args.channels} channels, causal={args.causal}, flip TTA={args.flip}, "
          f"chunk {args.chunk} frames\n")
    print("| frames | duration at 50 fps | wall (s) | frames/s | RSS before (MiB) | peak RSS (MiB) | "
          "peak - before (MiB) | seams checked | max seam diff |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.frames:,} | {args.frames / 50 / 60:.1f} min | {wall:.1f} | {args.frames / wall:,.0f} | "
          f"{rss0:,.0f} | {peak:,.0f} | {peak - rss0:,.0f} | {len(seams)} | {worst:.2e} |")


if __name__ == "__main__":
    main()
