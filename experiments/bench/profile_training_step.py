"""Where a training step's time goes: torch.profiler categories, the 0.1 step (baseline) against today's.

    python experiments/bench/profile_training_step.py [--rf 27] [--channels 256] [--steps 5] [--threads 1]

Both steps are ``Trainer`` steps at batch 1024 with flip augmentation on random windows, exactly as
``poselift bench`` times them: the baseline is the strided form as convolutions on ``(B, C, T)`` with
``nn.Dropout`` and per-tensor Adam (``experiments.benchmark.conv_windows_forward``); today's is the strided form
as matrix products (``poselift.model.strided``) with foreach Adam and ``nn.Dropout``'s own draws
(``train.dropout_rng: compat``, the default). Prints ms per step per category (self CPU
time of the ops under each part of the step) and the plain CPU time per step without the profiler.
"""
from __future__ import annotations

import argparse
import collections
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from poselift.core.device import machine_description
from poselift.core.windows import widths_for
from poselift.experiments.benchmark import conv_windows_forward
from poselift.model.tcn import TemporalLifter
from poselift.training.trainer import Trainer, TrainSettings
from poselift.training.window_bank import WindowBank

BACKWARD = {
    "ConvolutionBackward0": "conv/matmul bwd", "MmBackward0": "conv/matmul bwd", "AddmmBackward0": "conv/matmul bwd",
    "_GroupedLinearBackward": "conv/matmul bwd", "_LinearBackward": "conv/matmul bwd",
    "NativeBatchNormBackward0": "BatchNorm bwd", "ReluBackward0": "ReLU bwd", "ThresholdBackward0": "ReLU bwd",
    "MulBackward0": "dropout apply bwd", "_ReluMaskBackward": "ReLU+dropout bwd",
    "SliceBackward0": "residual", "AddBackward0": "residual", "LinalgVectorNormBackward0": "loss",
    "MeanBackward0": "loss", "SubBackward0": "loss", "torch::autograd::AccumulateGrad": "grad accumulation",
}
FORWARD = {  # op directly under the losses part -> category
    "aten::conv1d": "conv/matmul fwd", "aten::linear": "conv/matmul fwd", "aten::mm": "conv/matmul fwd",
    "aten::addmm": "conv/matmul fwd", "_Linear": "conv/matmul fwd", "_GroupedLinear": "conv/matmul fwd",
    "aten::batch_norm": "BatchNorm fwd", "aten::relu": "ReLU fwd", "aten::relu_": "ReLU fwd",
    "aten::dropout": "dropout (mask and apply) fwd", "aten::bernoulli_": "dropout mask", "aten::random_": "dropout mask",
    "aten::lt": "dropout mask", "_ReluMask": "ReLU+dropout fwd", "aten::index_select": "gather windows",
    "aten::index": "gather windows", "aten::index_copy_": "mirroring", "aten::index_put_": "mirroring",
    "aten::where": "mirroring", "aten::add": "residual", "aten::add_": "residual", "aten::linalg_vector_norm": "loss",
    "aten::mean": "loss", "aten::sub": "loss",
}
VIEWS = ("view", "reshape", "transpose", "permute", "squeeze", "unsqueeze", "_to_copy", "aten::to", "contiguous",
         "aten::t", "slice", "select", "expand", "clone", "copy_", "empty")


def trainer(rf: int, channels: int, baseline: bool) -> Trainer:
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(2000, 17, 2)).astype(np.float32) for _ in range(5)]
    targets = [rng.normal(size=(2000, 17, 3)).astype(np.float32) * 0.2 for _ in range(5)]
    torch.manual_seed(0)
    model = TemporalLifter(17, 17, widths_for(rf), channels=channels)
    bank = WindowBank(seqs, model.receptive_field, targets=targets)
    st = TrainSettings(epochs=1, batch_size=1024, progress=False)
    tr = Trainer(model, bank, st, "h36m17", "h36m17", device="cpu")
    if baseline:
        model.forward_windows = lambda x, **_: conv_windows_forward(model, x)  # type: ignore[method-assign]
        tr.optimizer = torch.optim.Adam(model.parameters(), lr=st.lr, amsgrad=True, foreach=False)
    tr.model.train()
    return tr


def step(tr: Trainer, idx: torch.Tensor) -> None:
    with record_function("S_losses"):
        loss = sum(tr.compute_losses(idx, None).values())
    with record_function("S_optim"):
        tr.optimizer.zero_grad(set_to_none=True)
    with record_function("S_backward"):
        loss.backward()
    with record_function("S_optim"):
        tr.optimizer.step()


def category(e) -> str:
    chain, p = [], e
    while p is not None:
        chain.append(p.name)
        p = p.cpu_parent
    if "S_optim" in chain:
        return "optimizer (+zero_grad)"
    if "S_backward" in chain:
        nodes = [n for n in chain if n.startswith("autograd::engine::evaluate_function: ")]
        if not nodes:
            return "python/autograd overhead"
        node = nodes[0].split(": ", 1)[1]
        return BACKWARD.get(node, "layout/views" if any(k in node for k in ("View", "Transpose", "Reshape", "Permute",
                                                                          "Squeeze", "Unsqueeze", "Copy", "Clone",
                                                                          "Select", "Index")) else f"other bwd ({node})")
    if "S_losses" in chain:
        i = chain.index("S_losses")
        if i == 0:
            return "python/autograd overhead"
        top = chain[i - 1]
        if top in FORWARD:
            return FORWARD[top]
        if any(k in top for k in VIEWS):
            return "layout/views"
        return f"other fwd ({top})"
    return "python/autograd overhead"


def profile_steps(tr: Trainer, steps: int) -> tuple[dict[str, float], float]:
    gen = torch.Generator().manual_seed(1)
    batches = [torch.randint(tr.labelled.num_windows, (1024,), generator=gen) for _ in range(steps + 3)]
    for idx in batches[:3]:
        step(tr, idx)  # warm-up
    c0 = time.process_time()
    for idx in batches[3:]:
        step(tr, idx)
    plain = (time.process_time() - c0) / steps * 1e3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for idx in batches[3:]:
            step(tr, idx)
    acc: collections.Counter = collections.Counter()
    for e in prof.events():
        acc["python/autograd overhead" if e.name.startswith("S_") and e.cpu_parent is None else category(e)] += (
            e.self_cpu_time_total)
    return {k: v / steps / 1e3 for k, v in acc.items()}, plain


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rf", type=int, default=27, choices=(27, 81, 243))
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {name: profile_steps(trainer(args.rf, args.channels, name == "baseline"), args.steps)
           for name in ("baseline", "today")}
    cats = sorted(set(res["baseline"][0]) | set(res["today"][0]), key=lambda k: -res["baseline"][0].get(k, 0.0))
    print(f"machine: {machine_description()}; {args.threads} thread(s)\n")
    print(f"### One training step, {args.rf} frames x {args.channels} channels, batch 1024: ms per step "
          f"(torch.profiler, {args.steps} steps)\n")
    print("| category | 0.1 step (baseline) | today |\n|---|---:|---:|")
    for c in cats:
        print(f"| {c} | {res['baseline'][0].get(c, 0.0):.1f} | {res['today'][0].get(c, 0.0):.1f} |")
    tot = {k: sum(v[0].values()) for k, v in res.items()}
    print(f"| **total (profiled)** | **{tot['baseline']:.1f}** | **{tot['today']:.1f}** |")
    print(f"| CPU time per step without the profiler | {res['baseline'][1]:.1f} | {res['today'][1]:.1f} |")
    print(f"| windows per CPU-second | {1024e3 / res['baseline'][1]:,.0f} | {1024e3 / res['today'][1]:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
