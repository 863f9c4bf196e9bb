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
  forward passes, the implied Human3.6M epoch and the published schedule
  (60 epochs; 80 for 243 frames);
* **ONNX Runtime vs torch**: the exported whole-sequence model and
  streaming step (:mod:`poselift.model.onnx`) against the torch paths.

Numbers are printed as Markdown tables with the machine and written as JSON
(``--out``). Nothing is asserted: timings are noisy; compare ratios within one run.
"""
from __future__ import annotations

import argparse

__all__ = ["register"]


def _cmd(args: argparse.Namespace) -> int:
    from poselift.experiments.benchmark import run_bench

    sections = tuple(args.only) if args.only else ("ceilings", "inference", "streaming", "training", "onnx")
    run_bench(args.device, args.quick, sections, tuple(args.channels), args.out)
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure the machine's ceilings and the lifter's speed as fractions of them",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (rough numbers in about a minute)")
    p.add_argument("--channels", type=int, nargs="+", default=[1024, 256])
    p.add_argument("--only", nargs="+", choices=["inference", "streaming", "training", "onnx"],
                   help="run only these sections (the ceilings always run)")
    p.add_argument("--out", help="also write the numbers as JSON")
    p.set_defaults(func=_cmd)
