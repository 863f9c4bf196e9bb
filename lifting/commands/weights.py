"""``poselift import``: published weights (VideoPose3D checkpoints) into a run folder.

::

    poselift import pretrained_h36m_detectron_coco.bin --layout coco17 --out runs/vp3d_coco243
    poselift import pretrained_h36m_cpn.bin --layout h36m17 --out runs/vp3d_cpn243

The run folder works with ``lift``, ``compare``, ``export`` and (for h36m17 / mpii16 input)
``evaluate``. See :mod:`poselift.experiments.vp3d_import`.
"""
from __future__ import annotations

import argparse

__all__ = ["register"]

DESCRIPTION = """Turn a VideoPose3D checkpoint (.bin: model_pos / model_traj state dicts with keys expand_conv,
expand_bn, layers_conv.N, layers_bn.N, shrink) into a poselift run folder (checkpoint.pt, config.yaml,
run.json). Kernel widths, channels and joint counts come from the weights' shapes. The weights do not say which
2D layout the model was trained on (17 COCO and 17 Human3.6M joints have the same count) nor whether it is
causal: --layout is required, --causal is off unless given (all published VideoPose3D models are centred).
The file is a pickle: it is read with torch.load(weights_only=True), its numpy random state replaced by inert
placeholders; anything else it names (a class, os.system, ...) is refused and nothing of it runs."""


def _import_cmd(args: argparse.Namespace) -> int:
    from poselift.experiments.vp3d_import import import_vp3d

    info = import_vp3d(args.checkpoint, args.out, args.layout, layout_out=args.layout_out, causal=args.causal,
                       dropout=args.dropout, flip_test=not args.no_flip_test, name=args.name,
                       overwrite=args.overwrite)
    w, d = info["read_from_weights"], info["declared"]
    src = info["imported_from"]
    epoch = f", epoch {src['epoch']}" if src.get("epoch") is not None else ""
    print(f"{args.out}: VideoPose3D model{epoch}: widths {w['widths']} (receptive field {w['receptive_field']}), "
          f"{w['channels']} channels, {info['parameters']:,} parameters"
          + (", with its trajectory model" if w["trajectory_model"] else ""))
    print(f"  declared: input {d['layout_in']} ({w['in_joints']} joints x {w['in_features']}), output "
          f"{d['layout_out']}, {'causal' if d['causal'] else 'centred (not causal)'}, normalisation by the "
          f"image width, flip test {'on' if d['flip_test'] else 'off'}")
    print(f"  {info['evaluate']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("import", help="turn a VideoPose3D checkpoint into a poselift run folder",
                       description=DESCRIPTION)
    p.add_argument("checkpoint", help="VideoPose3D checkpoint (.bin)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--layout", required=True, metavar="LAYOUT",
                   help="the 2D layout the model was trained on: coco17 (Detectron/COCO models), h36m17 "
                        "(ground truth or CPN), mpii16 (Stacked Hourglass), humaneva15")
    p.add_argument("--layout-out", help="3D output layout (default from the joint count: 17 h36m17, 15 humaneva15)")
    p.add_argument("--causal", action="store_true",
                   help="the model was trained with --causal (the weights cannot say; default: centred, as all "
                        "published VideoPose3D models)")
    p.add_argument("--dropout", type=float, default=0.25, help="recorded in the config (no effect on inference)")
    p.add_argument("--no-flip-test", action="store_true", help="no test-time flip augmentation when lifting")
    p.add_argument("--name", help="run name (default: the checkpoint's file name)")
    p.add_argument("--overwrite", action="store_true", help="replace the files of an existing run folder")
    p.set_defaults(func=_import_cmd)
