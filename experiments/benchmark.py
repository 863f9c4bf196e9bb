"""``poselift bench``: the machine's ceilings, then every fast path as a fraction of them.

Roofline first: in the same run the benchmark measures

* the matrix-product rate (GFLOP/s; float32 on CPU; on CUDA also TF32 and
  bfloat16), the ceiling of compute-bound work;
* the memory bandwidth (GB/s, a large tensor copy counted as read + write),
  the ceiling of memory-bound work (streaming one frame reads every weight).

Then, with operation counts derived from the model (:func:`window_flops`,
:meth:`poselift.model.folded.FoldedNetwork.flops_per_frame`; REFERENCE.md section 2:
about 34 MFLOP per output frame for the 243-frame model over a whole sequence,
2 x 176 M multiply-adds per training window forward):

* **inference**: frames/s of :func:`poselift.inference.lift_sequences` over
  many whole sequences (folded BatchNorm, one padded stream, no autograd) and,
  for reference, of a plain ``model.eval()`` forward per sequence; achieved
  GFLOP/s and fraction of the matrix-product ceiling;
* **streaming**: :class:`poselift.model.streaming.StreamingLifter` latency per
  frame (median, p99) against recomputing the window each frame
  (:class:`poselift.model.streaming.WindowRecompute`, same folded weights);
  fraction of the memory-bandwidth floor (every weight read once per frame);
* **training**: windows/s of the full training step (batch 1024, flip
  augmentation, Adam) for 27/81/243 frames, GFLOP/s counting a step as 3
  forward passes, the implied Human3.6M epoch (VideoPose3D's: 2 x 1,464,400
  samples, every window plain and mirrored) and the published schedule
  (60 epochs; 80 for 243 frames);
* **ONNX Runtime vs torch**: the exported whole-sequence model and
  streaming step (:mod:`poselift.model.onnx`) against the torch paths.

Numbers are printed as Markdown tables with the machine and written as JSON
(``--out``). Nothing is asserted: timings are noisy; compare ratios within one run.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from poselift.core.windows import widths_for

__all__ = ["matmul_ceiling", "memory_bandwidth", "window_flops", "run_bench", "synchronize"]

H36M_TRAIN_WINDOWS = 1_464_400  # S1, S5-S8, 4 cameras, every frame (this copy of Human3.6M)
H36M_EPOCH_SAMPLES = 2 * H36M_TRAIN_WINDOWS  # a VideoPose3D epoch: every window plain and mirrored (h36m-vp3d)
PUBLISHED_EPOCHS = {27: 60, 81: 60, 243: 80}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA) before reading a clock; nothing to wait for on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, reps: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    synchronize(device)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        out.append(time.perf_counter() - t0)
    return out


def matmul_ceiling(device: torch.device, dtype: torch.dtype = torch.float32, n: int | None = None,
                   tf32: bool = False, reps: int = 10) -> float:
    """Best-of-``reps`` GFLOP/s of an ``n x n`` matrix product (``2 n^3`` FLOP)."""
    n = n or (2048 if device.type == "cpu" else 8192)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        ts = _time(lambda: a @ b, device, reps)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    return 2 * n**3 / min(ts) / 1e9


def memory_bandwidth(device: torch.device, mib: int | None = None, reps: int = 10) -> float:
    """Best-of-``reps`` GB/s of copying a tensor far larger than the caches (read + write counted)."""
    mib = mib or (512 if device.type == "cpu" else 2048)
    src = torch.ones(mib * 2**20 // 4, device=device)
    dst = torch.empty_like(src)
    ts = _time(lambda: dst.copy_(src), device, reps)
    return 2 * src.numel() * 4 / min(ts) / 1e9


def window_flops(model) -> int:
    """FLOP (2 per multiply-add) of one strided forward over one ``rf``-frame window."""
    widths = model.widths
    rf = model.receptive_field
    c, cin = model.channels, model.in_joints * model.in_features
    outs = rf // widths[0]
    total = outs * c * cin * widths[0]
    for w in widths[1:]:
        outs //= w
        total += outs * c * c * w + outs * c * c
    total += c * model.out_joints * 3
    return 2 * total


def bench_inference(rf: int, channels: int, device: torch.device, frames: int, sequences: int) -> dict:
    from poselift.core.windows import pad_edges
    from poselift.inference import lift_sequences
    from poselift.model.folded import fold_batchnorm
    from poselift.model.tcn import TemporalLifter, randomised

    model = randomised(TemporalLifter(17, 17, widths_for(rf), channels=channels)).to(device).eval()
    flops = fold_batchnorm(model).flops_per_frame()
    seqs = [torch.randn(frames, 17, 2, device=device) for _ in range(sequences)]
    total = frames * sequences
    fast = min(_time(lambda: lift_sequences(model, seqs), device, reps=3, warmup=1))

    def plain():  # what a straightforward script does: eval(), no_grad, one padded sequence at a time
        with torch.no_grad():
            for s in seqs:
                before, after = model.pad
                model(pad_edges(s, before, after, axis=0)[None]).cpu()

    base = min(_time(plain, device, reps=2, warmup=1))
    return {"rf": rf, "channels": channels, "fps": total / fast, "fps_plain": total / base,
            "gflops": total / fast * flops / 1e9, "mflop_per_frame": flops / 1e6}


def bench_streaming(rf: int, channels: int, device: torch.device, frames: int) -> dict:
    from poselift.model.streaming import StreamingLifter, WindowRecompute
    from poselift.model.tcn import TemporalLifter, randomised

    model = randomised(TemporalLifter(17, 17, widths_for(rf), channels=channels, causal=True)).to(device).eval()
    weight_bytes = sum(p.numel() * 4 for n, p in model.named_parameters() if "bn" not in n)
    from poselift.model.folded import fold_batchnorm

    flops = fold_batchnorm(model).flops_per_frame()
    x = torch.randn(frames + 20, 17, 2, device=device)
    res = {"rf": rf, "channels": channels, "weight_mib": weight_bytes / 2**20, "mflop_per_frame": flops / 1e6}
    for name, cls, n in (("stream", StreamingLifter, frames), ("recompute", WindowRecompute,
                                                              max(20, frames // 5))):
        lifter = cls(model)
        for i in range(10):
            lifter.push(x[i])
        ts = []
        for i in range(10, 10 + n):
            t0 = time.perf_counter()
            lifter.push(x[i])
            synchronize(device)
            ts.append(time.perf_counter() - t0)
        ts.sort()
        res[f"{name}_median_ms"] = statistics.median(ts) * 1e3
        res[f"{name}_p99_ms"] = ts[min(len(ts) - 1, int(0.99 * len(ts)))] * 1e3
    res["speedup"] = res["recompute_median_ms"] / res["stream_median_ms"]
    res["gflops"] = flops / (res["stream_median_ms"] / 1e3) / 1e9
    return res


def conv_windows_forward(model, x: torch.Tensor) -> torch.Tensor:
    """The strided training form as poselift 0.1 ran it (the baseline row): ``F.conv1d`` with stride =
    kernel width on ``(B, C, T)`` activations, ``nn.BatchNorm1d``, ReLU and ``nn.Dropout`` as separate
    passes. ``(B, rf, J, F)`` -> ``(B, 1, J_out, 3)``; the same maths as ``forward_windows``."""
    from poselift.core.windows import target_offset

    b, t, j, f = x.shape
    drop, relu = model.drop, torch.nn.functional.relu
    h = torch.nn.functional.conv1d(x.reshape(b, t, j * f).transpose(1, 2), model.expand_conv.weight,
                                   stride=model.widths[0])
    h = drop(relu(model.expand_bn(h)))
    for i, w in enumerate(model.widths[1:]):
        conv, bn, conv1, bn1 = (model.block_convs[2 * i], model.block_bns[2 * i], model.block_convs[2 * i + 1],
                                model.block_bns[2 * i + 1])
        res = h[:, :, target_offset(w, model.causal)::w]
        y = drop(relu(bn(torch.nn.functional.conv1d(h, conv.weight, stride=w))))
        h = res + drop(relu(bn1(conv1(y))))
    return model.shrink(h).transpose(1, 2).reshape(b, -1, model.out_joints, 3)


TRAINING_VARIANTS = {
    "0.1 step (baseline)": "convolutions on (B, C, T), nn.Dropout, per-tensor Adam",
    "matrix products": "the strided form as GEMMs on (rows, C), nn.Dropout's draws, foreach Adam (default)",
    "+ fast dropout": "the same with train.dropout_rng: fast (other draws, same distribution)",
}


def bench_training(rf: int, channels: int, device: torch.device, windows: int, amp: bool,
                   variant: str = "matrix products") -> dict:
    from poselift.model.tcn import TemporalLifter
    from poselift.training.trainer import Trainer, TrainSettings
    from poselift.training.window_bank import WindowBank

    rng = np.random.default_rng(0)
    n_seq = max(2, -(-windows // 2000))
    seqs = [rng.normal(size=(2000, 17, 2)).astype(np.float32) for _ in range(n_seq)]
    targets = [rng.normal(size=(2000, 17, 3)).astype(np.float32) * 0.2 for _ in range(n_seq)]
    model = TemporalLifter(17, 17, widths_for(rf), channels=channels)
    bank = WindowBank(seqs, model.receptive_field, targets=targets, device=device)
    st = TrainSettings(epochs=1, batch_size=1024, windows_per_epoch=2048, progress=False, amp=amp,
                       dropout_rng="fast" if variant == "+ fast dropout" else "compat")
    tr = Trainer(model, bank, st, "h36m17", "h36m17", device=device)
    if variant == "0.1 step (baseline)":
        model.forward_windows = lambda x, **_: conv_windows_forward(model, x)  # type: ignore[method-assign]
        tr.optimizer = torch.optim.Adam(model.parameters(), lr=st.lr, amsgrad=st.amsgrad, foreach=False)
    tr._train_epoch()  # warm-up
    tr.settings.windows_per_epoch = windows
    synchronize(device)
    wps = tr._train_epoch()["windows_per_second"]
    step_flops = 3 * window_flops(model)
    epoch_s = H36M_EPOCH_SAMPLES / wps
    return {"rf": rf, "channels": channels, "windows_per_s": wps, "gflops": wps * step_flops / 1e9,
            "h36m_epoch_s": epoch_s, "schedule_h": epoch_s * PUBLISHED_EPOCHS.get(rf, 60) / 3600,
            "epochs": PUBLISHED_EPOCHS.get(rf, 60), "amp": amp, "variant": variant}


def bench_onnx(rf: int, channels: int, frames: int, step_frames: int) -> dict:
    import onnxruntime as ort

    from poselift.inference import lift_sequence
    from poselift.model.onnx import export_onnx
    from poselift.model.streaming import StreamingLifter
    from poselift.model.tcn import TemporalLifter, randomised

    model = randomised(TemporalLifter(17, 17, widths_for(rf), channels=channels, causal=True)).eval()
    x = torch.randn(frames, 17, 2)
    res = {"rf": rf, "channels": channels}
    with tempfile.TemporaryDirectory() as d:
        export_onnx(model, d)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(Path(d) / "lifter.onnx"), so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x[None].numpy()}
        t_ort = min(_time(lambda: sess.run(None, feed), torch.device("cpu"), reps=3, warmup=1))
        t_torch = min(_time(lambda: lift_sequence(model, x, pad=False), torch.device("cpu"), reps=3, warmup=1))
        n_out = frames - model.receptive_field + 1
        res.update(ort_fps=n_out / t_ort, torch_fps=n_out / t_torch)
        try:
            from poselift.model.onnx_runtime import OnnxStepModel
        except ImportError:
            return res
        step = OnnxStepModel(Path(d) / "lifter_step.onnx")
        torch_step = StreamingLifter(model)
        for name, lifter in (("ort_step", step), ("torch_step", torch_step)):
            for i in range(10):
                lifter.push(x[i].numpy())
            ts = []
            for i in range(10, 10 + step_frames):
                t0 = time.perf_counter()
                lifter.push(x[i % frames].numpy())
                ts.append(time.perf_counter() - t0)
            res[f"{name}_median_ms"] = statistics.median(ts) * 1e3
    return res


def _ceilings(dev: torch.device, quick: bool) -> dict:
    """Measure the matrix-product ceilings (GFLOP/s; tf32 and bf16 on CUDA) and copy bandwidth (GB/s); print them."""
    ceil = {"fp32": matmul_ceiling(dev, reps=5 if quick else 10), "bandwidth": memory_bandwidth(dev)}
    if dev.type == "cuda":
        ceil["tf32"] = matmul_ceiling(dev, tf32=True)
        ceil["bf16"] = matmul_ceiling(dev, torch.bfloat16)
    print("### Ceilings (measured in this run)\n")
    print("| ceiling | value |\n|---|---:|")
    print(f"| float32 matrix product | {ceil['fp32']:,.0f} GFLOP/s |")
    for k in ("tf32", "bf16"):
        if k in ceil:
            print(f"| {k} matrix product | {ceil[k]:,.0f} GFLOP/s |")
    print(f"| memory bandwidth (copy) | {ceil['bandwidth']:,.1f} GB/s |\n")
    return ceil


def _inference_section(dev: torch.device, quick: bool, channels, rfs, ceil: dict) -> list[dict]:
    """Whole-sequence inference for every (channels, rf): measure, print the table, return the rows."""
    frames, nseq = (2000, 2) if quick else (4000, 4)
    rows = [bench_inference(rf, ch, dev, frames, nseq) for ch in channels for rf in rfs]
    print(f"### Whole-sequence inference ({nseq} sequences x {frames} frames, no flip)\n")
    print("| rf | channels | MFLOP/frame | frames/s | plain eval() frames/s | speed-up | GFLOP/s | "
          "of fp32 ceiling |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rf']} | {r['channels']} | {r['mflop_per_frame']:.1f} | {r['fps']:,.0f} | "
              f"{r['fps_plain']:,.0f} | {r['fps'] / r['fps_plain']:.2f}x | {r['gflops']:,.0f} | "
              f"{r['gflops'] / ceil['fp32']:.0%} |")
    print()
    return rows


def _streaming_section(dev: torch.device, quick: bool, channels, rfs, ceil: dict) -> list[dict]:
    """One-frame-at-a-time streaming for every (channels, rf): measure, add each row's weight-read floor
    (``floor_ms``), print the table, return the rows."""
    frames = 100 if quick else 400
    rows = [bench_streaming(rf, ch, dev, frames) for ch in channels for rf in rfs]
    print(f"### Streaming, one frame at a time (causal; {frames} pushes timed)\n")
    print("| rf | channels | weights (MiB) | push median (ms) | push p99 (ms) | recompute window median (ms) | "
          "speed-up | GFLOP/s (of fp32 ceiling) | weight-read floor (ms) | of bandwidth ceiling |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        floor_ms = r["weight_mib"] * 2**20 / (ceil["bandwidth"] * 1e9) * 1e3
        r["floor_ms"] = floor_ms
        print(f"| {r['rf']} | {r['channels']} | {r['weight_mib']:.1f} | {r['stream_median_ms']:.3f} | "
              f"{r['stream_p99_ms']:.3f} | {r['recompute_median_ms']:.3f} | {r['speedup']:.1f}x | "
              f"{r['gflops']:.1f} ({r['gflops'] / ceil['fp32']:.0%}) | {floor_ms:.3f} | "
              f"{floor_ms / r['stream_median_ms']:.0%} |")
    print("\nOne frame reads every weight once and does 2 FLOP per weight: a matrix-vector product, bound by "
          "memory bandwidth once the weights exceed the last-level cache (the floor column); weights that fit "
          "in cache can beat that floor (over 100 %).\n")
    return rows


def _training_rows(dev: torch.device, quick: bool, channels, rfs) -> list[dict]:
    """Measure a training step for every (channels, rf) and :data:`TRAINING_VARIANTS` (plus bf16 on CUDA),
    with fewer windows for the large CPU models."""
    windows = 2048 if quick else (8192 if dev.type == "cpu" else 65536)
    rows = []
    for ch in channels:
        for rf in rfs:
            w = windows if ch <= 256 or dev.type != "cpu" else max(1024, windows // 4)
            if rf == 243 and ch > 256 and dev.type == "cpu":
                w = max(1024, w // 2)
            for variant in TRAINING_VARIANTS:
                rows.append(bench_training(rf, ch, dev, w, amp=False, variant=variant))
            if dev.type == "cuda":
                rows.append(bench_training(rf, ch, dev, w, amp=True))
    return rows


def _print_training(rows: list[dict], dev: torch.device, ceil: dict) -> None:
    """The training table: each row against its (rf, channels) baseline step and its precision's ceiling."""
    threads = torch.get_num_threads()
    print(f"### Training step (batch 1024, flip augmentation, Adam; {threads} thread(s); "
          "a step counted as 3 forward passes)\n")
    for name, what in TRAINING_VARIANTS.items():
        print(f"- {name}: {what}")
    print("\nH36M epoch: 2 x 1,464,400 samples (every window plain and mirrored, as VideoPose3D trains).\n")
    print("| rf | channels | step | precision | windows/s | per thread | vs baseline | GFLOP/s | of ceiling | "
          "H36M epoch | published schedule |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    base = {}
    for r in rows:
        c = ceil["bf16"] if r["amp"] else ceil["fp32"]
        ep = r["h36m_epoch_s"]
        eps = f"{ep / 60:.1f} min" if ep >= 60 else f"{ep:.0f} s"
        key = (r["rf"], r["channels"])
        if r["variant"] == "0.1 step (baseline)":
            base[key] = r["windows_per_s"]
        ratio = r["windows_per_s"] / base[key] if key in base else float("nan")
        print(f"| {r['rf']} | {r['channels']} | {r['variant']} | {'bf16 autocast' if r['amp'] else 'fp32'} | "
              f"{r['windows_per_s']:,.0f} | {r['windows_per_s'] / (threads if dev.type == 'cpu' else 1):,.0f} | "
              f"{ratio:.2f}x | {r['gflops']:,.0f} | {r['gflops'] / c:.0%} | {eps} | "
              f"{r['schedule_h']:.1f} h ({r['epochs']} epochs) |")
    print()


def _onnx_section(quick: bool, channels) -> list[dict]:
    """ONNX Runtime against torch on the CPU (causal, rf 243): measure, print the table, return the rows."""
    rows = [bench_onnx(rf, ch, 1000 if quick else 3000, 50 if quick else 200) for ch in channels for rf in (243,)]
    print("### ONNX Runtime vs torch, CPU (causal model, exported by `poselift export`)\n")
    print("| rf | channels | whole sequence: torch fps | ONNX Runtime fps | step: torch ms | ONNX Runtime ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rf']} | {r['channels']} | {r['torch_fps']:,.0f} | {r['ort_fps']:,.0f} | "
              f"{r.get('torch_step_median_ms', float('nan')):.3f} | {r.get('ort_step_median_ms', float('nan')):.3f} |")
    print()
    return rows


def run_bench(device: str = "cpu", quick: bool = False, sections=("ceilings", "inference", "streaming",
                                                                     "training", "onnx"),
              channels: tuple[int, ...] = (1024, 256), out: str | None = None) -> dict:
    """Run the benchmark, print Markdown tables, return (and optionally save) the numbers.

    The ceilings are always measured (the tables are read against them); ``sections`` chooses the
    rest: ``inference``, ``streaming``, ``training`` and ``onnx`` (CPU only).
    """
    from poselift.core.device import machine_description

    dev = torch.device(device)
    result: dict = {"machine": machine_description(dev), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "quick": quick}
    print(f"machine: {result['machine']}\n")
    rfs = (27, 81, 243)
    ceil = result["ceilings"] = _ceilings(dev, quick)
    if "inference" in sections:
        result["inference"] = _inference_section(dev, quick, channels, rfs, ceil)
    if "streaming" in sections:
        result["streaming"] = _streaming_section(dev, quick, channels, rfs, ceil)
    if "training" in sections:
        rows = result["training"] = _training_rows(dev, quick, channels, rfs)
        _print_training(rows, dev, ceil)
    if "onnx" in sections and dev.type == "cpu":
        result["onnx"] = _onnx_section(quick, channels)
    if out:
        from poselift.core.io import atomic_write_json

        atomic_write_json(out, result)
    return result
