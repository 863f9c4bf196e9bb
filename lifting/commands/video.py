"""``poselift detect`` and ``poselift lift``.

::

    poselift detect VIDEO --model M.onnx [--detector bodyposenet|bodypose3dnet] --out keypoints.h5
    poselift lift keypoints.h5 --run RUN_DIR --out poses3d.h5 [--render out.mp4 [--video VIDEO]]

``detect`` writes our HDF5 2D file (:mod:`poselift.detectors.formats`);
``lift`` reads it (or a DeepStream JSON, MMPose JSON, VideoPose3D/Detectron2
npz), lifts every track with a trained run and writes the 3D poses; with
``--render`` it also draws the 2D overlay beside the 3D skeletons.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["register", "cmd_detect", "cmd_lift"]


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        out = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}") from None
    if out[0] <= 0 or out[1] <= 0:
        raise argparse.ArgumentTypeError(f"image size must be positive, got {text!r}")
    return out


def register(subparsers) -> None:
    """Add the ``detect`` and ``lift`` subcommands."""
    p = subparsers.add_parser(
        "detect", help="detect and track 2D keypoints in a video with an ONNX model",
        description="Run BodyPoseNet or BodyPose3DNet (ONNX Runtime) on every frame of a video, associate "
                    "people into tracks, fill short gaps and write our HDF5 2D keypoint file.",
    )
    p.add_argument("video", help="video file (anything PyAV/FFmpeg decodes) or a still image")
    p.add_argument("--model", required=True, help="the detector's .onnx file")
    p.add_argument("--detector", choices=("bodyposenet", "bodypose3dnet"), default="bodyposenet")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.add_argument("--boxes", help="bodypose3dnet: person boxes, a JSON file or 'full' (the whole frame)")
    p.add_argument("--box-model", help="bodypose3dnet: a BodyPoseNet .onnx whose people give the boxes")
    p.add_argument("--providers", default="auto", help="ONNX Runtime providers: auto (CUDA if it works), cpu, cuda")
    p.add_argument("--threads", type=int, help="CPU threads for ONNX Runtime")
    p.add_argument("--focal", type=float, help="bodypose3dnet: frame focal length in pixels (k_inv from the "
                   "crop intrinsics); default: the DeepStream app's fixed k_inv")
    p.add_argument("--start", type=int, default=0, help="first frame")
    p.add_argument("--stop", type=int, help="stop before this frame")
    p.add_argument("--min-track-length", type=int, default=5, help="drop tracks with fewer detected frames")
    p.add_argument("--max-gap", type=int, default=10, help="longest gap (frames) filled by interpolation")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], help="bodyposenet: multi-scale inference")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_detect)

    q = subparsers.add_parser(
        "lift", help="lift tracked 2D keypoints to 3D with a trained run",
        description="Lift every track of a 2D keypoint file (ours, DeepStream JSON, MMPose JSON, "
                    "VideoPose3D/Detectron2 npz) to root-relative 3D poses (h36m17, metres) with a trained run.",
    )
    q.add_argument("keypoints", help="2D keypoint file (.h5 from 'poselift detect', .json, .npz)")
    q.add_argument("--run", required=True, help="run folder with checkpoint.pt")
    q.add_argument("--out", required=True, help="output .h5 file")
    q.add_argument("--render", help="also write an animation (.mp4 or .gif): 2D overlay beside the 3D skeleton")
    q.add_argument("--video", help="draw the 2D overlay over this video's frames (default: blank canvas)")
    q.add_argument("--image-size", type=_size, help="WIDTHxHEIGHT for files that do not store it")
    q.add_argument("--fps", type=float, help="frame rate for files that do not store it")
    q.add_argument("--min-length", type=int, default=1, help="skip tracks shorter than this")
    q.add_argument("--max-panels", type=int, default=2, help="3D panels in the animation (longest tracks)")
    q.add_argument("--allow-pickle", action="store_true", help=".npz files with Python objects (only if trusted)")
    q.add_argument("--device", default="auto", help="torch device for the lifter")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_lift)


def cmd_detect(args: argparse.Namespace) -> int:
    from poselift.core.camera import Camera
    from poselift.core.io import check_output_file
    from poselift.detectors.bodypose3dnet import BodyPose3DNet
    from poselift.detectors.bodyposenet import BodyPoseNet, BodyPoseNetSettings
    from poselift.detectors.formats import write_keypoints_h5
    from poselift.detectors.pipeline import detect_video, read_boxes_json
    from poselift.detectors.tracking import TrackerSettings
    from poselift.viz.video import probe_video

    if not Path(args.video).exists():
        raise FileNotFoundError(f"no such video: {args.video}")
    check_output_file(args.out)  # before the work, not after it
    tracker = TrackerSettings(min_length=args.min_track_length, max_gap=args.max_gap)
    boxes = box_net = None
    if args.detector == "bodyposenet":
        if args.boxes or args.box_model:
            raise ValueError("--boxes and --box-model are for --detector bodypose3dnet")
        net = BodyPoseNet(args.model, BodyPoseNetSettings(scales=tuple(args.scales)), providers=args.providers,
                          threads=args.threads)
    else:
        if not (args.box_model or args.boxes):
            raise ValueError("--detector bodypose3dnet needs person boxes: --boxes FILE.json, --boxes full, "
                             "or --box-model BODYPOSENET.onnx")
        camera = None
        if args.focal is not None:
            info = probe_video(args.video)
            camera = Camera.from_image_size(info.width, info.height, focal=args.focal)
        net = BodyPose3DNet(args.model, providers=args.providers, threads=args.threads, camera=camera)
        if args.box_model:
            box_net = BodyPoseNet(args.box_model, providers=args.providers, threads=args.threads)
        elif args.boxes == "full":
            boxes = "full"
        else:
            boxes = read_boxes_json(args.boxes)
    t0 = time.perf_counter()
    result, timing = detect_video(args.video, net, boxes=boxes, box_detector=box_net, tracker=tracker,
                                  start=args.start, stop=args.stop, progress=not args.quiet)
    wall = time.perf_counter() - t0
    result.attrs.update(model=str(args.model), detect_seconds=round(wall, 3))
    write_keypoints_h5(args.out, result)
    n = max(timing["frames"], 1)
    print(
        f"{args.out}: {len(result.tracks)} track(s) from {timing['frames']} frame(s), {timing['people']} detections; "
        f"{args.detector} on {net.provider}; {timing['frames'] / wall:.1f} frames/s "
        f"(per frame: video {1e3 * timing['video'] / n:.1f} ms, preprocess {1e3 * timing['preprocess'] / n:.1f} ms, "
        f"network {1e3 * timing['network'] / n:.1f} ms, post-processing {1e3 * timing['postprocess'] / n:.1f} ms)"
    )
    return 0


def cmd_lift(args: argparse.Namespace) -> int:
    import numpy as np

    from poselift.core.io import check_output_file
    from poselift.detectors.formats import read_2d, write_poses3d_h5
    from poselift.inference import load_lifter
    from poselift.viz.animation import Panel2D, Panel3D, render_animation
    from poselift.viz.video import read_frames

    check_output_file(args.out)  # before the work, not after it
    if args.render:
        check_output_file(args.render, "--render")
    data = read_2d(args.keypoints, image_size=args.image_size, fps=args.fps, allow_pickle=args.allow_pickle)
    sequences = data.to_sequences(min_length=max(1, args.min_length), image_size=args.image_size)
    if not sequences:
        raise ValueError(f"{args.keypoints}: no track with at least {args.min_length} frames")
    lifter = load_lifter(args.run, device=args.device)
    bar = not args.quiet  # a bar for long videos
    poses = [lifter.lift(s, progress=bar and len(s) >= 20_000) for s in sequences]
    write_poses3d_h5(args.out, sequences, poses, layout=lifter.layout_out.name, num_frames=data.num_frames,
                     attrs={"keypoints_file": str(args.keypoints), "run_dir": str(args.run),
                            "layout_2d": data.layout})
    print(f"{args.out}: {len(sequences)} track(s) lifted with {args.run} "
          f"({lifter.layout_in.name} input, receptive field {lifter.receptive_field})")
    if args.render:
        n = data.tracked_frames  # frames after the last tracked one have nothing to draw (and cost memory)
        if n < data.num_frames:
            print(f"{args.render}: rendering frames 0-{n - 1}; the last {data.num_frames - n} of the "
                  f"{data.num_frames} frames have no keypoints", file=sys.stderr)
        kp, _ = data.frame_table(stop=n)
        panels: list = [Panel2D(kp, data.layout, image_size=data.image_size or args.image_size,
                                frames=read_frames(args.video) if args.video else None, title="2D keypoints")]
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))[: max(1, args.max_panels)]
        for i in order:
            full = np.full((n, lifter.layout_out.num_joints, 3), np.nan, np.float32)
            full[sequences[i].frames] = poses[i]
            tid = sequences[i].track.track_id
            panels.append(Panel3D({f"track {tid}": full}, lifter.layout_out, title=f"3D, track {tid}"))
        render_animation(args.render, panels, fps=data.fps or 25.0, progress=not args.quiet)
        print(f"{args.render}: {n} frame(s) rendered", file=sys.stderr)
    return 0
