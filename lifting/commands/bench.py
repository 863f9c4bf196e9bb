"""``poselift bench``: the machine's ceilings, then every fast path as a fraction of them
(:mod:`poselift.experiments.benchmark`)."""
from __future__ import annotations

import argparse

__all__ = ["register"]

DESCRIPTION = ("Measure this machine's matrix-product and memory-bandwidth ceilings, then whole-sequence inference, "
               "streaming, training and ONNX Runtime speed as fractions of them; print Markdown tables "
               "(and JSON with --out). Nothing is asserted: compare ratios within one run.")


def _cmd(args: argparse.Namespace) -> int:
    from poselift.experiments.benchmark import run_bench

    sections = tuple(args.only) if args.only else ("ceilings", "inference", "streaming", "training", "onnx")
    run_bench(args.device, args.quick, sections, tuple(args.channels), args.out)
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure the machine's ceilings and the lifter's speed as fractions of them",
                       description=DESCRIPTION)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (rough numbers in about a minute)")
    p.add_argument("--channels", type=int, nargs="+", default=[1024, 256])
    p.add_argument("--only", nargs="+", choices=["inference", "streaming", "training", "onnx"],
                   help="run only these sections (the ceilings always run)")
    p.add_argument("--out", help="also write the numbers as JSON")
    p.set_defaults(func=_cmd)
