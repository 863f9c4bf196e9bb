"""Benchmark batch assembly: index gathering (WindowBank) vs a per-window Python loop.

    python experiments/bench/bench_windows.py [--device cpu|cuda] [--rf 27 243]

A training batch is 1024 windows of ``rf`` frames x 17 joints x 2. poselift
packs all sequences once into one padded tensor and gathers a batch with a
single ``index_select`` of whole rows (on the GPU when there is one). The common
alternative (VideoPose3D's generator works this way) is a Python loop that
slices, pads and copies every window into a numpy batch, which is then
copied to the device. Both paths are timed in the same run on the same
data (Human3.6M-sized: 1.46 M frames in 600 sequences), each allocating a
fresh batch as a training step does; the median time per batch is reported
(copies of 2-35 MB per batch are noisy on a shared machine). The ratio is the
point, not the absolute numbers. Prints a Markdown table and the machine.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from poselift.core.device import machine_description
from poselift.core.windows import window_geometry
from poselift.experiments.benchmark import synchronize
from poselift.training.window_bank import WindowBank


def python_loop_batch(seqs, seq_idx, frame_idx, rf, out):
    """Per-window loop: slice with edge padding, copy into ``out`` (B, rf, J, 2)."""
    half = window_geometry(rf, False).before  # centred windows
    for b, (s, f) in enumerate(zip(seq_idx, frame_idx)):
        x = seqs[s]
        lo, hi = f - half, f + half + 1
        lo_c, hi_c = max(lo, 0), min(hi, len(x))
        chunk = x[lo_c:hi_c]
        if lo < lo_c or hi > hi_c:
            chunk = np.concatenate([np.repeat(x[:1], lo_c - lo, 0), chunk, np.repeat(x[-1:], hi - hi_c, 0)])
        out[b] = chunk
    return out


def median_seconds(fn, batches, dev) -> float:
    """Median wall time of ``fn(batch)`` over ``batches`` (synchronising CUDA)."""
    times = []
    for idx in batches:
        t0 = time.perf_counter()
        x = fn(idx)
        synchronize(dev)
        times.append(time.perf_counter() - t0)
        del x
    return float(np.median(times))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rf", type=int, nargs="+", default=[27, 243])
    ap.add_argument("--batches", type=int, default=100)
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    rng = np.random.default_rng(0)
    lengths = rng.integers(1500, 3400, size=600)
    seqs = [rng.normal(size=(int(n), 17, 2)).astype(np.float32) for n in lengths]
    print(f"machine: {machine_description(dev)}")
    print(f"{sum(lengths):,} frames in {len(seqs)} sequences; batch 1024 windows; median of {args.batches} batches\n")
    print("| rf | per-window Python loop (windows/s) | WindowBank gather (windows/s) | speed-up |")
    print("|---:|---:|---:|---:|")
    for rf in args.rf:
        bank = WindowBank(seqs, rf, device=dev)
        gen = torch.Generator().manual_seed(0)
        batches = [torch.randint(bank.num_windows, (1024,), generator=gen) for _ in range(args.batches)]
        seq_of = bank.seq.cpu().numpy()
        frame_of = bank.frame.cpu().numpy()
        shape = (1024, rf, 17, 2)

        def loop_batch(idx, shape=shape, seq_of=seq_of, frame_of=frame_of, rf=rf):
            i = idx.numpy()
            out = np.empty(shape, np.float32)
            return torch.from_numpy(python_loop_batch(seqs, seq_of[i], frame_of[i], rf, out)).to(dev)

        dev_batches = [b.to(dev) for b in batches]
        loop = 1024 / median_seconds(loop_batch, batches, dev)
        gather = 1024 / median_seconds(bank.windows, dev_batches, dev)
        # same windows either way
        i = batches[0].numpy()
        ref = python_loop_batch(seqs, seq_of[i], frame_of[i], rf, np.empty(shape, np.float32))
        assert np.array_equal(bank.windows(dev_batches[0]).cpu().numpy(), ref)
        print(f"| {rf} | {loop:,.0f} | {gather:,.0f} | {gather / loop:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
