"""``poselift detect`` and ``poselift lift``.

::

    poselift detect VIDEO --model M.onnx [--detector bodyposenet|bodypose3dnet] --out keypoints.h5
    poselift lift keypoints.h5 --run RUN_DIR --out poses3d.h5 [--render out.mp4 [--video VIDEO]]

``detect`` writes our HDF5 2D file (:mod:`poselift.detectors.formats`);
``lift`` reads it (or a DeepStream JSON, MMPose JSON, VideoPose3D dataset or
Detectron2 npz: the 2D options of :mod:`poselift.commands.inputs`), lifts every
track with a run and writes the 3D poses; with ``--render`` it also draws the
2D overlay beside the 3D skeletons.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from poselift.commands.inputs import add_2d_input_options, image_size

__all__ = ["register", "cmd_detect", "cmd_lift"]


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
        description="Lift every track of a 2D keypoint file (ours, DeepStream JSON, MMPose JSON, a VideoPose3D "
                    "dataset or Detectron2 npz) to root-relative 3D poses (metres) with a run folder (trained or "
                    "imported). The file's joint layout must convert to the run's input layout; otherwise the "
                    "error names the runs and configs that fit.",
    )
    q.add_argument("keypoints", help="2D keypoint file (.h5 from 'poselift detect', .json, .npz)")
    q.add_argument("--run", required=True, help="run folder with checkpoint.pt")
    q.add_argument("--out", required=True, help="output .h5 file")
    add_2d_input_options(q, video_help="the video the keypoints came from: its frame rate and size fill in what "
                         "the file does not say, and --render draws over its frames")
    q.add_argument("--body-height", type=float, metavar="METRES",
                   help="scale each track's 3D so its ankle-to-head-top height is this (metres; about 93%% of the "
                        "stature); default: the size the model gives")
    q.add_argument("--device", default="auto", help="torch device for the lifter")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    r = q.add_argument_group("rendering")
    r.add_argument("--render", help="also write an animation (.mp4 or .gif): 2D beside the 3D skeletons")
    r.add_argument("--size", type=image_size, default=(960, 540), metavar="WxH",
                   help="animation size in pixels (default 960x540)")
    r.add_argument("--dpi", type=float, default=100.0, help="animation dots per inch: text and line size (default 100)")
    r.add_argument("--max-panels", type=int, default=2, help="3D panels in the animation (longest tracks)")
    r.add_argument("--no-crop", action="store_true", help="show the whole frame in the 2D panel (default: cropped "
                   "to the people)")
    q.set_defaults(func=cmd_lift)


def cmd_detect(args: argparse.Namespace) -> int:
    from poselift.core.camera import Camera
    from poselift.detectors.bodypose3dnet import BodyPose3DNet
    from poselift.detectors.bodyposenet import BodyPoseNet, BodyPoseNetSettings
    from poselift.detectors.formats import write_keypoints_h5
    from poselift.detectors.pipeline import detect_video, read_boxes_json
    from poselift.detectors.tracking import TrackerSettings
    from poselift.viz.video import probe_video

    if not Path(args.video).exists():
        raise FileNotFoundError(f"no such video: {args.video}")
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

    from poselift.commands.inputs import read_2d_input
    from poselift.detectors.formats import write_poses3d_h5
    from poselift.experiments.runs import check_input_layout
    from poselift.inference import load_lifter

    data = read_2d_input(args.keypoints, args)
    lifter = load_lifter(args.run, device=args.device)
    check_input_layout(data.layout, lifter, str(args.keypoints))
    if args.render:  # before the work: a render that cannot be made is refused up front
        _check_render(args, data)
    sequences = data.to_sequences(min_length=args.min_length)
    if not sequences:
        raise ValueError(f"{args.keypoints}: no track with at least {args.min_length} frames")
    poses = [lifter.lift(s, progress=len(s) >= 20_000, body_height=args.body_height)  # a bar for long videos
             for s in sequences]
    attrs = {"keypoints_file": str(args.keypoints), "run_dir": str(args.run), "layout_2d": data.layout,
             "normalization": lifter.normalization}
    if args.body_height is not None:
        attrs["body_height"] = float(args.body_height)
    write_poses3d_h5(args.out, sequences, poses, layout=lifter.layout_out.name, num_frames=data.num_frames,
                     attrs=attrs)
    fps = f", {data.fps:g} frames/s" if data.fps > 0 else ", frame rate unknown"
    print(f"{args.out}: {len(sequences)} track(s) lifted with {args.run} "
          f"({data.layout} -> {lifter.layout_in.name} input, receptive field {lifter.receptive_field}, "
          f"normalised by {'the image width' if lifter.normalization == 'image' else lifter.normalization}{fps})")
    if args.render:
        _render(args, data, sequences, poses, lifter, np)
    return 0


def _check_render(args: argparse.Namespace, data) -> None:
    if not data.fps > 0:
        raise ValueError(f"--render: {args.keypoints} does not store its frame rate; give --fps or --video")
    if data.image_size is None and not args.video:
        raise ValueError(f"--render: {args.keypoints} does not store its image size; give --image-size or --video")
    if args.max_panels < 1:
        raise ValueError(f"--max-panels must be >= 1, got {args.max_panels}")


def _render(args, data, sequences, poses, lifter, np) -> None:
    import time

    from poselift.viz.animation import Panel2D, Panel3D, render_animation
    from poselift.viz.video import read_frames

    kp, _ = data.frame_table()
    panels: list = [Panel2D(kp, data.layout, image_size=data.image_size,
                            frames=read_frames(args.video) if args.video else None, title="2D keypoints",
                            crop=not args.no_crop)]
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))[: args.max_panels]
    for i in order:
        full = np.full((data.num_frames, lifter.layout_out.num_joints, 3), np.nan, np.float32)
        full[sequences[i].frames] = poses[i]
        tid = sequences[i].track.track_id
        panels.append(Panel3D({f"track {tid}": full}, lifter.layout_out, title=f"3D, track {tid}"))
    t0 = time.perf_counter()
    render_animation(args.render, panels, fps=data.fps, size=args.size, dpi=args.dpi, progress=not args.quiet)
    wall = time.perf_counter() - t0
    print(f"{args.render}: {data.num_frames} frame(s) at {data.fps:g} frames/s, {args.size[0]}x{args.size[1]}, "
          f"rendered in {wall:.1f} s ({data.num_frames / max(wall, 1e-9):.1f} frames/s)", file=sys.stderr)
