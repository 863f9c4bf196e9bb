"""Benchmark real-time (frame-by-frame) lifting and the ONNX export.

    python experiments/bench/bench_streaming.py [--channels 256 1024] [--rf 27 81 243] [--streams 1 8] [--quick]

Prints two Markdown tables (and the machine) for causal lifters with 17 joints:

1. per-frame latency of :class:`poselift.model.streaming.StreamingLifter` ``.push``
   (cached activations: one matrix-vector product per layer) against
   :class:`poselift.model.streaming.WindowRecompute` (the strided form on the
   last ``rf`` frames, every frame), both on the same BatchNorm-folded weights:
   median and 99th percentile, the speed-up of the medians, and the
   multiply-adds per frame each does (counted by ``FlopCounterMode``). With
   several streams the latency is that of one push for all of them, and
   "per stream" divides it by the stream count.
2. ONNX Runtime (CPU provider, the same thread count as torch) against torch:
   the whole-sequence model (``lifter.onnx`` vs the folded torch model on one
   padded sequence, frames per second) and the streaming step
   (``lifter_step.onnx`` via :class:`poselift.model.onnx.OnnxStepModel` vs
   ``StreamingLifter``, ms per frame).

Inputs are random (speed does not depend on values). Numbers are wall-clock
medians over repeated calls; run it on an idle machine. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from poselift.core.device import machine_description
from poselift.core.windows import widths_for
from poselift.model.folded import fold_batchnorm
from poselift.model.streaming import StreamingLifter, WindowRecompute
from poselift.model.tcn import TemporalLifter


def _model(rf: int, channels: int) -> TemporalLifter:
    torch.manual_seed(0)
    return TemporalLifter(17, 17, widths_for(rf), channels=channels, causal=True).eval()


def push_times(lifter, frames: np.ndarray, warmup: int) -> np.ndarray:
    """Seconds per push (frames ``(N, [S,] 17, 2)``; the first ``warmup`` are not timed)."""
    times = np.empty(len(frames) - warmup)
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        lifter.push(f)
        if i >= warmup:
            times[i - warmup] = time.perf_counter() - t0
    return times


def macs_per_push(lifter, frame) -> float:
    with FlopCounterMode(display=False) as fc:
        lifter.push(frame)
    return fc.get_total_flops() / 2


def _ms(t: np.ndarray, q: float) -> float:
    return float(np.quantile(t, q)) * 1e3


def _fmt(ms: float) -> str:
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def streaming_table(channels, rfs, streams, pushes, warmup) -> None:
    print("| rf | channels | streams | streaming median ms | p99 | per stream | window recompute median ms | p99 | "
          "speed-up | M multiply-adds/frame (stream / window) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rng = np.random.default_rng(0)
    for ch in channels:
        for rf in rfs:
            folded = fold_batchnorm(_model(rf, ch))
            for s in streams:
                shape = (pushes + warmup, 17, 2) if s == 1 else (pushes + warmup, s, 17, 2)
                x = rng.normal(size=shape).astype(np.float32)
                live, base = StreamingLifter(folded, streams=s), WindowRecompute(folded, streams=s)
                # the baseline is slow for big models: fewer pushes keep the run short
                t_live = push_times(live, x, warmup)
                n_base = max(warmup + 10, min(len(x), warmup + pushes // (4 if rf * ch >= 81 * 1024 else 1)))
                t_base = push_times(base, x[:n_base], warmup)
                m_live, m_base = macs_per_push(live, x[0]) / s, macs_per_push(base, x[0]) / s
                a, b = _ms(t_live, 0.5), _ms(t_base, 0.5)
                print(f"| {rf} | {ch} | {s} | {_fmt(a)} | {_fmt(_ms(t_live, 0.99))} | {_fmt(a / s)} | {_fmt(b)} | "
                      f"{_fmt(_ms(t_base, 0.99))} | {b / a:.1f}x | {m_live / 1e6:.1f} / {m_base / 1e6:.1f} |",
                      flush=True)


def _fps(fn, x, frames: int, reps: int = 3) -> float:
    """Output frames per second of ``fn(x)`` (one untimed warm-up call)."""
    fn(x)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn(x)
    return reps * frames / (time.perf_counter() - t0)


def onnx_table(channels, rfs, frames, pushes, warmup, threads) -> None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("\n(onnxruntime not installed: ONNX comparison skipped)")
        return
    from poselift.model.onnx import export_onnx
    from poselift.model.onnx_runtime import OnnxSequenceModel, OnnxStepModel

    print(f"\nONNX Runtime (CPUExecutionProvider, {threads} threads) vs torch; whole sequence: one padded sequence "
          f"of {frames} frames; step: one stream\n")
    print("| rf | channels | torch sequence fps | ORT sequence fps | ORT / torch | torch step ms | ORT step ms | "
          "ORT / torch |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(1)
    for ch in channels:
        for rf in rfs:
            folded = fold_batchnorm(_model(rf, ch))
            with tempfile.TemporaryDirectory() as d:
                export_onnx(folded, d)
                seq_ort = OnnxSequenceModel(d, threads=threads)
                step_ort = OnnxStepModel(d, threads=threads)
                x = rng.normal(size=(1, frames + rf - 1, 17, 2)).astype(np.float32)
                xt = torch.from_numpy(x)
                with torch.inference_mode():
                    f_torch = _fps(folded, xt, frames)
                f_ort = _fps(seq_ort, x, frames)
                kp = rng.normal(size=(pushes + warmup, 17, 2)).astype(np.float32)
                s_torch = _ms(push_times(StreamingLifter(folded), kp, warmup), 0.5)
                s_ort = _ms(push_times(step_ort, kp, warmup), 0.5)
                print(f"| {rf} | {ch} | {f_torch:,.0f} | {f_ort:,.0f} | {f_ort / f_torch:.2f} | {_fmt(s_torch)} | "
                      f"{_fmt(s_ort)} | {s_ort / s_torch:.2f} |", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--rf", type=int, nargs="+", default=[27, 81, 243], choices=[27, 81, 243])
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 8], help="streams pushed together")
    ap.add_argument("--pushes", type=int, default=None, help="timed pushes per setting (default 500, quick 40)")
    ap.add_argument("--frames", type=int, default=None, help="sequence length for the ONNX comparison")
    ap.add_argument("--threads", type=int, default=None, help="torch and ONNX Runtime threads (default: torch's)")
    ap.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime comparison")
    ap.add_argument("--quick", action="store_true", help="few repetitions (rough numbers in under a minute)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    pushes = args.pushes or (40 if args.quick else 500)
    warmup = 5 if args.quick else 30
    frames = args.frames or (500 if args.quick else 2000)
    print(f"machine: {machine_description()}")
    print(f"causal lifters, 17 joints in and out; {pushes} timed pushes after {warmup} warm-up ones\n")
    streaming_table(args.channels, args.rf, args.streams, pushes, warmup)
    if not args.no_onnx:
        onnx_table(args.channels, args.rf, frames, pushes, warmup, threads)


if __name__ == "__main__":
    main()
