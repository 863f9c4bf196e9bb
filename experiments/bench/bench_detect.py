"""End-to-end ``detect`` throughput with stand-in models on the CPU: network time vs everything else.

Writes a short synthetic video (H.264, PyAV), then runs
:func:`poselift.detectors.pipeline.detect_video` (what ``poselift detect``
runs) with

* a stand-in BodyPoseNet (TAO signature, NHWC 1x288x384x3 input, heatmaps
  36x48x19, PAFs 144x192x38) whose outputs hold 5 people, and
* a stand-in BodyPose3DNet (exact published signature) on 5 person boxes per
  frame (its graph, an ArgMax over the crop, is not the real network's cost),

and reports frames per second and the per-frame split: video decoding,
preprocessing (resize / crops), network, post-processing (peak finding and
grouping / parsing) and tracking. The stand-in networks are nearly free, so
the FPS is the pipeline's overhead on top of a real network.

    python experiments/bench/bench_detect.py [--frames 100] [--threads 1] [--size 1280x720]

Prints a Markdown table and the machine.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime / numpy threads (and pinned cores)")
    ap.add_argument("--size", default="1280x720", help="video WIDTHxHEIGHT")
    args = ap.parse_args()
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = str(args.threads)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(range(args.threads)))
    import torch

    torch.set_num_threads(args.threads)
    from poselift.core.device import machine_description
    from poselift.detectors.bodypose3dnet import BodyPose3DNet
    from poselift.detectors.bodyposenet import BodyPoseNet
    from poselift.detectors.pipeline import detect_video
    from poselift.detectors.standins import (
        bodypose3dnet_standin,
        bodyposenet_standin,
        person_template,
        synthesize_maps,
    )
    from poselift.detectors.tracking import TrackerSettings
    from poselift.viz.video import write_video

    w, h = (int(v) for v in args.size.lower().split("x"))
    people = [person_template(w * (i + 0.5) / 5, 0.1 * h, 0.8 * h) for i in range(5)]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        video = Path(d) / "clip.mp4"
        yy, xx = np.mgrid[0:h, 0:w]
        base = (xx + yy) % 256
        write_video(video, (np.repeat(((base + 3 * i) % 256).astype(np.uint8)[..., None], 3, -1)
                            for i in range(args.frames)), 25.0)

        hm, paf = synthesize_maps(people, input_size=(384, 288), image_size=(w, h))
        nets = [("BodyPoseNet (stand-in), 5 people", BodyPoseNet(bodyposenet_standin(hm, paf), providers="cpu",
                                                                 threads=args.threads), None, TrackerSettings())]
        boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in people])
        # the stand-in finds no markers in this video: its joints have confidence ~0, so let the tracker use them
        nets.append(("BodyPose3DNet (stand-in), 5 boxes", BodyPose3DNet(bodypose3dnet_standin(), providers="cpu",
                                                                        threads=args.threads), lambda i, f: boxes,
                     TrackerSettings(min_confidence=0.0)))
        for name, net, box_source, tracker in nets:
            detect_video(video, net, boxes=box_source, stop=3, progress=False, tracker=tracker)  # warm-up
            t0 = time.perf_counter()
            result, timing = detect_video(video, net, boxes=box_source, progress=False, tracker=tracker)
            wall = time.perf_counter() - t0
            n = timing["frames"]
            ms = {k: 1e3 * timing[k] / n for k in ("video", "preprocess", "network", "postprocess", "tracking", "boxes")}
            other = 1e3 * wall / n - sum(ms.values())
            rows.append((name, n, len(result.tracks), n / wall, ms, other, 1e3 * wall / n - ms["network"]))
    print(f"Machine: {machine_description()}; {args.threads} thread(s), pinned to {args.threads} core(s); "
          f"video {w}x{h} H.264, {args.frames} frames\n")
    print("| detector | frames | tracks | FPS | video decode (ms) | preprocess (ms) | network (ms) "
          "| post-process (ms) | tracking (ms) | other (ms) | all but network (ms/frame) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, nt, fps, ms, other, overhead in rows:
        print(f"| {name} | {n} | {nt} | {fps:.1f} | {ms['video']:.2f} | {ms['preprocess']:.2f} | {ms['network']:.2f} "
              f"| {ms['postprocess']:.2f} | {ms['tracking']:.2f} | {other:.2f} | {overhead:.2f} |")


if __name__ == "__main__":
    main()
