"""Person-size normalisation on synthetic bodies of varied size and framing.

    python experiments/scripts/person_size_synthetic.py [--out runs/person_size] [--epochs 10] [--channels 128]
        [--batch 256] [--lr-decay 0.85]

Trains three lifters on the same synthetic data (4 bodies x 8 motions x 4 Human3.6M-like cameras,
1000 x 1000 images), differing only in ``data.normalization``: ``image`` (by the image width,
VideoPose3D's), ``torso`` and ``bbox`` (by the person's size), and two more with virtual cameras
(``data.virtual_cameras`` as in ``synthetic_27_anyview.yaml``: half the training frames re-filmed from
anywhere around the person, with detector-like noise): ``image+vc`` and ``torso+vc``. Each is then
evaluated on the held-out bodies (2 others) seen in other framings than the training one, built from the
test sequences:

* **as filmed**: the training cameras;
* **zoom z**: a focal length z times longer (pixels scaled by z about the principal point): the person
  appears z times larger; z = 0.5, 0.7, 1.4, 2.0;
* **1080p 16:9**: the 1000 x 1000 picture placed in a 1920 x 1080 frame (scaled by 1.08 to its height):
  the person is half as wide *relative to the image width*, like the issue's side-on 1080p clip;
* **body s**: the test bodies scaled by s about the pelvis in 3D (s = 0.85, 1.15), re-projected by the
  same cameras, with the same detector-like noise added back;
* **novel views**: each test take filmed by the 8 fixed cameras of the ``h36m-novel-views`` protocol
  (below to 60 deg above, portrait / 16:9 / 4:3, 2.5-12 m, 25-75 deg field of view), exact 2D.

Errors in mm against the (scaled) ground truth: P1 (MPJPE), P2 (Procrustes), N-MPJPE (scale fitted);
``size`` is the predicted body height over the true one (:func:`poselift.core.normalization.body_height`,
median over the frames of each sequence, then averaged); the second table adds, for every lifter, the
hip and shoulder widths over the true ones and the lean (angle between the predicted and true spine) of
:func:`poselift.proportions.summarize_proportions`. ``torso + height``: the torso model's output
scaled to the true body height (``poselift lift --body-height``), which a user can measure or guess.
Prints a Markdown table and the machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np


def reframed(seqs, zoom: float = 1.0, frame: tuple[int, int] | None = None, body: float = 1.0,
             views: bool = False):
    """The test sequences seen in another framing (see the module docstring)."""
    from poselift.core.camera import Camera

    if views:
        from poselift.datasets.protocols import apply_view_rules, get_protocol

        return apply_view_rules(get_protocol("h36m-novel-views"), [], seqs)[1]

    out = []
    for s in seqs:
        cam = s.camera
        kp, p3 = s.keypoints.astype(np.float64), s.poses3d
        if body != 1.0:
            root = p3[:, s.layout3d.root : s.layout3d.root + 1]
            p3 = root + body * (p3 - root)
            noise = kp - s.meta["clean_keypoints"]
            kp = np.asarray(cam.project(p3.astype(np.float64)), np.float64) + noise
        if zoom != 1.0:
            kp = cam.c + zoom * (kp - cam.c)
            cam = dataclasses.replace(cam, f=cam.f * zoom)
        if frame is not None:
            w, h = frame
            k = h / cam.height
            offset = np.array([(w - k * cam.width) / 2, 0.0])
            kp = kp * k + offset
            cam = Camera(f=cam.f * k, c=cam.c * k + offset, width=w, height=h, k=cam.k, p=cam.p, R=cam.R, T=cam.T,
                         name=cam.name)
        out.append(dataclasses.replace(s, keypoints=kp.astype(np.float32), poses3d=p3, camera=cam,
                                       image_size=None))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/person_size", help="folder for the five run folders")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr-decay", type=float, default=0.85)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from poselift.core.device import machine_description
    from poselift.core.normalization import body_height
    from poselift.datasets.virtual_cameras import CameraDistribution
    from poselift.experiments.config import (
        DataConfig,
        EvalConfig,
        ExperimentConfig,
        ModelConfig,
        SyntheticConfig,
    )
    from poselift.proportions import summarize_proportions
    from poselift.experiments.train_eval import evaluate_sequences, load_splits, train_run
    from poselift.inference import load_lifter
    from poselift.training.trainer import TrainSettings

    t0 = time.perf_counter()
    base = ExperimentConfig(
        name="person_size", seed=args.seed, device="cpu",
        data=DataConfig(dataset="synthetic", path=None, train_subjects=[], test_subjects=[],
                        synthetic=SyntheticConfig(subjects=4, test_subjects=2, num_frames=400, test_num_frames=400)),
        model=ModelConfig(widths=[3, 3, 3], channels=args.channels),
        train=TrainSettings(epochs=args.epochs, batch_size=args.batch, lr_decay=args.lr_decay, progress=False),
        eval=EvalConfig(eval_every=0),
    )
    splits = load_splits(base, progress=False)
    out = Path(args.out)
    lifters = {}
    # as synthetic_27_anyview.yaml: half of the training frames re-filmed, 200-frame chunks, detector-like noise
    anyview = CameraDistribution(enabled=True, fraction=0.5, chunk_frames=200, noise={})
    for key, norm, vc in (("image", "image", None), ("torso", "torso", None), ("bbox", "bbox", None),
                          ("image+vc", "image", anyview), ("torso+vc", "torso", anyview)):
        data = dataclasses.replace(base.data, normalization=norm)
        if vc is not None:
            data = dataclasses.replace(data, virtual_cameras=vc)
        name = f"synthetic_27_{norm}" + ("_anyview" if vc is not None else "")
        cfg = dataclasses.replace(base, name=name, data=data)
        t = time.perf_counter()
        folder = out / key.replace("+", "_")
        train_run(cfg, folder, splits=splits, progress=False, resume=True)
        lifters[key] = load_lifter(folder, device="cpu")
        print(f"trained {cfg.name} in {time.perf_counter() - t:.0f} s", flush=True)

    test = splits.test
    framings = [("as filmed", {}), ("zoom 0.5", {"zoom": 0.5}), ("zoom 0.7", {"zoom": 0.7}),
                ("zoom 1.4", {"zoom": 1.4}), ("zoom 2.0", {"zoom": 2.0}), ("1080p 16:9", {"frame": (1920, 1080)}),
                ("body 0.85", {"body": 0.85}), ("body 1.15", {"body": 1.15}), ("novel views", {"views": True})]
    rows = []
    for label, kw in framings:
        seqs = reframed(test, **kw)
        row = {"framing": label}
        for norm, lf in lifters.items():
            preds = lf.lift_all(seqs)
            m = evaluate_sequences(preds, seqs)
            size = np.mean([body_height(p) / body_height(s.root_relative_3d()) for p, s in zip(preds, seqs)])
            row[norm] = (m["mpjpe"], m["p_mpjpe"], m["n_mpjpe"], size)
            prop = summarize_proportions(preds, [s.root_relative_3d() for s in seqs], layout=seqs[0].layout3d)
            row[norm + " shape"] = (prop["hip_width_ratio"], prop["shoulder_width_ratio"], prop["lean"])
            if norm == "torso":
                hp = [lf.lift(s, body_height=body_height(s.root_relative_3d())) for s in seqs]
                row["torso + height"] = evaluate_sequences(hp, seqs)["mpjpe"]
        rows.append(row)
        print(f"evaluated {label}", flush=True)

    print("\nHeld-out synthetic bodies, 27-frame lifters (3 x 3 x 3, "
          f"{args.channels} channels, {args.epochs} epochs, batch {args.batch}, lr decay {args.lr_decay}), "
          "errors in mm; size = predicted / true body height\n")
    print("| framing | image P1 | image P2 | image N-MPJPE | image size | torso P1 | torso P2 | torso N-MPJPE | "
          "torso size | torso + true height P1 | bbox P1 | bbox P2 | bbox N-MPJPE | bbox size |")
    print("|---|" + "---:|" * 13)
    for r in rows:
        i, t, b = r["image"], r["torso"], r["bbox"]
        print(f"| {r['framing']} | {i[0]:.1f} | {i[1]:.1f} | {i[2]:.1f} | {i[3]:.2f} | {t[0]:.1f} | {t[1]:.1f} | "
              f"{t[2]:.1f} | {t[3]:.2f} | {r['torso + height']:.1f} | {b[0]:.1f} | {b[1]:.1f} | {b[2]:.1f} | "
              f"{b[3]:.2f} |")
    print("\nThe same framings, every lifter: P1 (mm) / size / hip width x / shoulder width x / lean (deg); "
          "+vc: trained with virtual cameras\n")
    print("| framing | " + " | ".join(lifters) + " |")
    print("|---|" + "---|" * len(lifters))
    for r in rows:
        cells = []
        for norm in lifters:
            e, (hip, shoulder, lean) = r[norm], r[norm + " shape"]
            cells.append(f"{e[0]:.1f} / {e[3]:.2f} / {hip:.2f} / {shoulder:.2f} / {lean:.1f}")
        print(f"| {r['framing']} | " + " | ".join(cells) + " |")
    print(f"\nmachine: {machine_description()}; wall {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
