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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    b = p.add_argument_group(
        "bodyposenet network settings",
        "how the frame is fed to the network and its maps are read; defaults: TAO BodyPoseNet's (RGB, x/255, "
        "TAO limb order). A file (--settings, JSON or YAML: the fields of BodyPoseNetSettings, 'paf_preset', "
        "'decode': {...}) sets them too; flags override the file.")
    b.add_argument("--settings", metavar="FILE", help="settings file (.json, .yaml)")
    b.add_argument("--channel-order", choices=("RGB", "BGR"), help="colour order the network expects")
    b.add_argument("--mean", type=float, nargs="+", metavar="M",
                   help="subtracted from the pixels (0-255), one value or three in --channel-order")
    b.add_argument("--scale", type=float, help="multiplied after the mean, e.g. 0.00392 for x/255, 0.0039 for 1/256")
    b.add_argument("--input-layout", choices=("auto", "NHWC", "NCHW"), help="the network input's axis order")
    b.add_argument("--input-size", type=image_size, metavar="WxH",
                   help="input size for a network whose input size is dynamic")
    b.add_argument("--paf-order", choices=PAF_ORDERS,
                   help="limb topology and PAF channel order: tao (BodyPoseNet) or openpose-coco18 (OpenPose, "
                        "Lightweight OpenPose, OpenVINO human-pose-estimation-0001)")
    b.add_argument("--heatmap-threshold", type=float, help="minimum heatmap value of a joint (TAO: 0.1)")
    b.add_argument("--paf-threshold", type=float, help="PAF sample threshold (TAO: 0.05)")
    b.add_argument("--scales", type=float, nargs="+",
                   help="multi-scale inference (e.g. 1 1.5): a scale above 1 magnifies the frame, on tiles when "
                        "the network's input size is fixed")
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


_NET_FLAGS = ("channel_order", "mean", "scale", "input_layout", "input_size", "paf_order", "heatmap_threshold",
              "paf_threshold", "scales")


PAF_ORDERS = ("openpose-coco18", "tao")
"""The names of poselift.detectors.bodyposenet.PAF_PRESETS (spelled out: --help imports nothing)."""


def _paf_presets():
    from poselift.detectors.bodyposenet.decode import PAF_PRESETS

    return PAF_PRESETS


def _preset_name(decode) -> str:
    for name, (limbs, channels) in _paf_presets().items():
        if decode.limbs == limbs and decode.paf_channels == channels:
            return name
    return f"custom ({len(decode.limbs)} limbs)"


def bodyposenet_settings(args: argparse.Namespace):
    """:class:`BodyPoseNetSettings` from ``--settings`` and the network flags (flags win)."""
    import dataclasses

    from poselift.detectors.bodyposenet import BodyPoseNetSettings, DecodeSettings, load_settings

    s = load_settings(args.settings) if args.settings else BodyPoseNetSettings()
    kw = {}
    if args.channel_order is not None:
        kw["channel_order"] = args.channel_order
    if args.mean is not None:
        if len(args.mean) not in (1, 3):
            raise ValueError(f"--mean takes 1 or 3 values, got {len(args.mean)}")
        kw["mean"] = tuple(args.mean) * (3 if len(args.mean) == 1 else 1)
    if args.scale is not None:
        kw["scale"] = args.scale
    if args.input_layout is not None:
        kw["layout"] = args.input_layout
    if args.input_size is not None:
        kw["input_size"] = tuple(args.input_size)
    if args.scales is not None:
        kw["scales"] = tuple(args.scales)
    dec = {}
    if args.heatmap_threshold is not None:
        dec["heatmap_threshold"] = args.heatmap_threshold
    if args.paf_threshold is not None:
        dec["paf_threshold"] = args.paf_threshold
    decode = s.decode
    if args.paf_order is not None:
        keep = {f.name: getattr(decode, f.name) for f in dataclasses.fields(DecodeSettings)
                if f.name not in ("limbs", "paf_channels")}
        decode = DecodeSettings.from_preset(args.paf_order, **keep)
    if dec:
        decode = dataclasses.replace(decode, **dec)
    return dataclasses.replace(s, decode=decode, **kw)


def cmd_detect(args: argparse.Namespace) -> int:
    from poselift.core.camera import Camera
    from poselift.core.io import check_output_file
    from poselift.detectors.bodypose3dnet import BodyPose3DNet
    from poselift.detectors.bodyposenet import BodyPoseNet
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
        net = BodyPoseNet(args.model, bodyposenet_settings(args), providers=args.providers, threads=args.threads)
        s = net.settings
        print(f"bodyposenet: {net.net_size[0]}x{net.net_size[1]} {'NHWC' if net.nhwc else 'NCHW'} input, "
              f"{s.channel_order}, (x - {list(s.mean)}) * {s.scale:.6g}, scales {list(s.scales)}, "
              f"limbs {_preset_name(s.decode)}", file=sys.stderr)
    else:
        if args.settings or any(getattr(args, k) is not None for k in _NET_FLAGS):
            raise ValueError("--settings and the bodyposenet network flags apply to --detector bodyposenet only")
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
    if getattr(net, "weak_frames", 0):
        result.attrs["weak_frames"] = int(net.weak_frames)
        print(f"warning: {net.weak_frames} frame(s) with nobody found and every heatmap below the threshold: check "
              "the preprocessing (--channel-order, --mean, --scale) and --paf-order", file=sys.stderr)
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
    from poselift.core.io import check_output_file
    from poselift.detectors.formats import write_poses3d_h5
    from poselift.experiments.runs import check_input_layout
    from poselift.inference import load_lifter

    check_output_file(args.out)  # before the work, not after it
    if args.render:
        check_output_file(args.render, "--render")
    data = read_2d_input(args.keypoints, args)
    lifter = load_lifter(args.run, device=args.device)
    check_input_layout(data.layout, lifter, str(args.keypoints))
    if args.render:  # before the work: a render that cannot be made is refused up front
        _check_render(args, data)
    sequences = data.to_sequences(min_length=args.min_length)
    if not sequences:
        raise ValueError(f"{args.keypoints}: no track with at least {args.min_length} frames")
    if args.render or args.body_height is not None:  # both need whole tracks
        poses = [lifter.lift(s, progress=not args.quiet and len(s) >= 20_000, body_height=args.body_height)
                 for s in sequences]  # a bar for long videos
    else:  # written chunk by chunk as they are lifted: memory bounded by a chunk, not the video's length
        poses = [lifter.lift_chunks(s, progress=not args.quiet and len(s) >= 20_000) for s in sequences]
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

    n = data.tracked_frames  # frames after the last tracked one have nothing to draw (and cost memory)
    if n < data.num_frames:
        print(f"{args.render}: rendering frames 0-{n - 1}; the last {data.num_frames - n} of the "
              f"{data.num_frames} frames have no keypoints", file=sys.stderr)
    kp, _ = data.frame_table(stop=n)
    panels: list = [Panel2D(kp, data.layout, image_size=data.image_size,
                            frames=read_frames(args.video) if args.video else None, title="2D keypoints",
                            crop=not args.no_crop)]
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))[: args.max_panels]
    for i in order:
        full = np.full((n, lifter.layout_out.num_joints, 3), np.nan, np.float32)
        full[sequences[i].frames] = poses[i]
        tid = sequences[i].track.track_id
        panels.append(Panel3D({f"track {tid}": full}, lifter.layout_out, title=f"3D, track {tid}"))
    t0 = time.perf_counter()
    render_animation(args.render, panels, fps=data.fps, size=args.size, dpi=args.dpi, progress=not args.quiet)
    wall = time.perf_counter() - t0
    print(f"{args.render}: {n} frame(s) at {data.fps:g} frames/s, {args.size[0]}x{args.size[1]}, "
          f"rendered in {wall:.1f} s ({n / max(wall, 1e-9):.1f} frames/s)", file=sys.stderr)
