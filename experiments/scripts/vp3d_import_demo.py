"""Import -> lift -> render without downloading anything: a VideoPose3D-layout checkpoint and a synthetic clip.

    python experiments/scripts/vp3d_import_demo.py RUN_DIR --out demo/

No weights may be downloaded here, so the "published" checkpoint is a stand-in: the weights of a poselift run
folder (trained on any data) written exactly as VideoPose3D's ``run.py`` saves its checkpoints
(``epoch``, ``lr``, ``random_state`` (a numpy RandomState), ``optimizer`` (an Adam state dict), ``model_pos``
with VideoPose3D's key names, ``model_traj`` and ``random_state_semi`` None as in a supervised run). Next to it: a 1920x1080, 25 frames/s clip of a held-out synthetic person (a
stick figure on a grey background) and its noisy 2D keypoints as ``poselift detect`` would write them (our
HDF5, Human3.6M's 17 joints). Then run the printed commands.
"""
from __future__ import annotations

import argparse
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

# poselift -> VideoPose3D key names (its common/model.py: expand_conv, expand_bn, layers_conv.N, layers_bn.N, shrink)
RENAME = (("block_convs.", "layers_conv."), ("block_bns.", "layers_bn."))


def write_vp3d_checkpoint(model, path: Path, epoch: int = 80) -> None:
    """``model``'s weights in VideoPose3D's checkpoint layout (what its run.py saves)."""
    sd = OrderedDict()
    for k, v in model.state_dict().items():
        for a, b in RENAME:
            if k.startswith(a):
                k = b + k[len(a):]
        sd[k] = v.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    torch.save({"epoch": epoch, "lr": 1e-3 * 0.95 ** epoch, "random_state": np.random.RandomState(1234),
                "optimizer": opt.state_dict(), "model_pos": sd, "model_traj": None, "random_state_semi": None}, path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="a poselift run folder with h36m17 input (its weights stand in for published ones)")
    ap.add_argument("--out", default="vp3d_demo")
    ap.add_argument("--frames", type=int, default=120)
    args = ap.parse_args(argv)

    from PIL import Image, ImageDraw

    from poselift.core.layouts import get_layout
    from poselift.datasets.synthetic import make_cameras, make_dataset
    from poselift.detectors.formats import KeypointTracks, write_keypoints_h5
    from poselift.detectors.tracking import Detections, TrackerSettings, tracks_from_ids
    from poselift.inference import load_lifter
    from poselift.viz.video import write_video

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lifter = load_lifter(args.run_dir, device="cpu")
    if lifter.layout_in.name != "h36m17":
        raise SystemExit(f"{args.run_dir} takes {lifter.layout_in.name}; this demo writes h36m17 2D")
    ckpt = out / "vp3d_layout_epoch_80.bin"
    write_vp3d_checkpoint(lifter.model, ckpt)

    # a held-out body walking, filmed by a Human3.6M-like camera, placed in a 1920x1080 frame (25 frames/s)
    cam = make_cameras(np.random.default_rng(0))[0]
    (seq,) = make_dataset(["Demo"], ["walk"], 1, args.frames, seed=4242, cameras=[cam], fps=25.0)
    k = 1080 / 1000
    offset = np.array([(1920 - 1000 * k) / 2, 0.0])
    noisy = seq.keypoints * k + offset
    clean = seq.meta["clean_keypoints"] * k + offset
    lay = get_layout("h36m17")

    def frame(t: int) -> np.ndarray:
        img = Image.new("RGB", (1920, 1080), (200, 202, 196))
        pen = ImageDraw.Draw(img)
        for a, b in lay.edges:
            pen.line([tuple(clean[t, a]), tuple(clean[t, b])], fill=(70, 70, 90), width=9)
        return np.asarray(img)

    write_video(out / "clip.mp4", (frame(t) for t in range(args.frames)), 25.0)
    dets = [Detections(noisy[t][None].astype(np.float32), np.ones((1, 17), np.float32), ids=np.zeros(1, np.int64))
            for t in range(args.frames)]
    tracks = KeypointTracks(tracks_from_ids(dets, TrackerSettings(min_length=1)), "h36m17", (1920, 1080), 25.0,
                            args.frames, str(out / "clip.mp4"), "synthetic")
    write_keypoints_h5(out / "clip_2d.h5", tracks)
    print(f"wrote {ckpt} (VideoPose3D layout), {out / 'clip.mp4'} and {out / 'clip_2d.h5'}; now:\n")
    print(f"poselift import {ckpt} --layout h36m17 --out {out / 'run'}")
    print(f"poselift lift {out / 'clip_2d.h5'} --run {out / 'run'} --out {out / 'poses3d.h5'} "
          f"--render {out / 'render.mp4'} --video {out / 'clip.mp4'}")


if __name__ == "__main__":
    main()
