"""``poselift export``: a run's lifter as ONNX (whole-sequence model and streaming step).

::

    poselift export RUN_DIR [--out DIR] [--opset 17] [--no-step]
"""
from __future__ import annotations

import argparse

__all__ = ["register"]


def _export_cmd(args: argparse.Namespace) -> int:
    from poselift.experiments.run_folder import export_run
    from poselift.model.onnx import META_FILE

    out, meta = export_run(args.run_dir, args.out, opset=args.opset, step=not args.no_step)
    for name in meta["files"] + [META_FILE]:
        size = (out / name).stat().st_size
        print(f"wrote {out / name} ({size / 1e6:.1f} MB)")
    kind = "causal" if meta["causal"] else f"centred, streaming delay {meta['latency_frames']} frames"
    print(f"receptive field {meta['receptive_field']} ({kind}); inputs/outputs described in {out / META_FILE}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="export a run's lifter (ONNX: whole-sequence model and streaming step)",
                       description="Write lifter.onnx (whole sequences), lifter_step.onnx (one frame at a time, "
                       "with caches) and export.json (names, shapes, receptive field, layouts).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder with checkpoint.pt")
    p.add_argument("--out", help="output folder (default RUN_DIR/export)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (13 or newer; default 17)")
    p.add_argument("--no-step", action="store_true", help="skip the streaming step model")
    p.set_defaults(func=_export_cmd)
