"""Benchmark the temporal lifter: training throughput and evaluation speed.

    python experiments/bench/bench_lifter.py [--device cpu|cuda] [--channels 256 1024] [--quick]

Prints a Markdown table per device with, for receptive fields 1 (kernel width
1, same depth), 27, 81 and 243:

* training windows per second (strided form, batch 1024, forward + backward +
  Adam step, flip augmentation, windows gathered from a WindowBank) and the
  implied time of one Human3.6M epoch (1,464,400 windows: S1, S5-S8, 4 cameras);
* evaluation frames per second (dilated form over whole sequences of 2,000
  frames with edge padding, with and without flip test-time augmentation).

Inputs are random (speed does not depend on values). The machine is printed
with the table; no numbers are asserted anywhere.
"""
from __future__ import annotations

import argparse
import time

import torch

from poselift.core.device import machine_description
from poselift.core.layouts import H36M17
from poselift.core.windows import widths_for
from poselift.experiments.benchmark import H36M_TRAIN_WINDOWS, bench_training, synchronize
from poselift.inference import lift_sequence
from poselift.model.tcn import TemporalLifter



def train_throughput(rf: int, channels: int, device: torch.device, windows: int, amp: bool = False) -> float:
    """Windows per second of ``Trainer`` epochs (the same measurement as ``poselift bench``)."""
    return bench_training(rf, channels, device, windows, amp)["windows_per_s"]


def eval_fps(rf: int, channels: int, device: torch.device, frames: int, flip: bool) -> float:
    model = TemporalLifter(17, 17, widths_for(rf), channels=channels).to(device).eval()
    x = torch.randn(frames, 17, 2, device=device)
    perms = (H36M17.flip_permutation, H36M17.flip_permutation) if flip else None
    lift_sequence(model, x[:300], flip_perms=perms)
    synchronize(device)
    reps = 3
    t0 = time.perf_counter()
    for _ in range(reps):
        lift_sequence(model, x, flip_perms=perms)
    synchronize(device)
    return reps * frames / (time.perf_counter() - t0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--channels", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--rf", type=int, nargs="+", default=[1, 27, 81, 243])
    ap.add_argument("--windows", type=int, default=None, help="training windows timed per setting")
    ap.add_argument("--frames", type=int, default=2000, help="frames per evaluated sequence")
    ap.add_argument("--amp", action="store_true", help="bfloat16 autocast for training (CUDA)")
    ap.add_argument("--quick", action="store_true", help="fewer windows (a rough number in seconds)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    windows = args.windows or (4096 if args.quick else (16384 if device.type == "cpu" else 262144))
    print(f"machine: {machine_description(device)}")
    print(f"training: batch 1024, {windows} windows timed; evaluation: {args.frames}-frame sequences\n")
    print("| rf | channels | params | train windows/s | H36M epoch | eval fps | eval fps (flip TTA) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for ch in args.channels:
        for rf in args.rf:
            params = sum(p.numel() for p in TemporalLifter(17, 17, widths_for(rf), channels=ch).parameters())
            w = train_throughput(rf, ch, device, windows, args.amp)
            epoch = H36M_TRAIN_WINDOWS / w
            e1 = eval_fps(rf, ch, device, args.frames, flip=False)
            e2 = eval_fps(rf, ch, device, args.frames, flip=True)
            ep = f"{epoch / 60:.1f} min" if epoch >= 60 else f"{epoch:.0f} s"
            print(f"| {rf} | {ch} | {params / 1e6:.2f} M | {w:,.0f} | {ep} | {e1:,.0f} | {e2:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
