"""``poselift detect`` and ``poselift lift``.

::

    poselift detect VIDEO --model M.onnx [--detector bodyposenet|bodypose3dnet] --out keypoints.h5
    poselift detect VIDEO_OR_IMAGE --detector blazepose --model-dir DIR --out keypoints.h5 [--max-frames N]
    poselift lift keypoints.h5 --run RUN_DIR --out poses3d.h5 [--render out.mp4 [--video VIDEO]]
    poselift video CLIP --run RUN_DIR --model-dir BLAZEPOSE_DIR --out OUT_DIR    # detect + lift + compare + render

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

__all__ = ["register", "cmd_detect", "cmd_lift", "cmd_video"]


def register(subparsers) -> None:
    """Add the ``detect`` and ``lift`` subcommands."""
    p = subparsers.add_parser(
        "detect", help="detect and track 2D keypoints in a video with an ONNX model",
        description="Run BodyPoseNet or BodyPose3DNet (ONNX Runtime) on every frame of a video, associate "
                    "people into tracks, fill short gaps and write our HDF5 2D keypoint file.",
    )
    p.add_argument("video", help="video file (anything PyAV/FFmpeg decodes) or a still image")
    p.add_argument("--model", help="the detector's .onnx file (bodyposenet, bodypose3dnet)")
    p.add_argument("--detector", choices=("bodyposenet", "bodypose3dnet", "blazepose"), default="bodyposenet")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.add_argument("--boxes", help="bodypose3dnet: person boxes, a JSON file or 'full' (the whole frame)")
    p.add_argument("--box-model", help="bodypose3dnet: a BodyPoseNet .onnx whose people give the boxes")
    p.add_argument("--providers", default="auto", help="ONNX Runtime providers: auto (CUDA if it works), cpu, cuda")
    p.add_argument("--threads", type=int, help="CPU threads for ONNX Runtime")
    p.add_argument("--focal", type=float, help="bodypose3dnet: frame focal length in pixels (k_inv from the "
                   "crop intrinsics); default: the DeepStream app's fixed k_inv")
    p.add_argument("--start", type=int, default=0, help="first frame")
    p.add_argument("--stop", type=int, help="stop before this frame")
    p.add_argument("--max-frames", type=int, help="read at most this many frames from --start")
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
    add_blazepose_options(p)
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

    v = subparsers.add_parser(
        "video", help="from a video to 3D in one command: BlazePose 2D, lifted by a run, compared and rendered",
        description="Run BlazePose on the clip (detect), lift every track with the run (lift), compare the lift with "
                    "BlazePose's own single-frame 3D (compare --input) and render the 2D over the video beside the "
                    "3D. Writes OUT_DIR/keypoints.h5, poses3d.h5, compare.json and video.mp4 (the same files the "
                    "three commands write; each step prints what it did).",
    )
    v.add_argument("video_file", metavar="CLIP", help="a video (or a still image)")
    v.add_argument("--run", required=True, help="run folder with checkpoint.pt")
    v.add_argument("--model-dir", required=True, help="BlazePose model folder (poselift models extract)")
    v.add_argument("--out", required=True, help="output folder (created)")
    v.add_argument("--max-frames", type=int, help="read at most this many frames")
    v.add_argument("--tiles", type=float, nargs="*", metavar="F", help="as detect --tiles")
    v.add_argument("--detect-every", type=int, metavar="N", help="as detect --detect-every")
    v.add_argument("--threads", type=int, help="CPU threads per BlazePose network (default 1)")
    v.add_argument("--min-length", type=int, default=10, help="lift and compare tracks of at least this many frames")
    v.add_argument("--device", default="auto", help="torch device for the lifter")
    v.add_argument("--no-render", action="store_true", help="no video.mp4")
    v.add_argument("--size", type=image_size, default=(960, 540), metavar="WxH", help="rendered size (960x540)")
    v.add_argument("--quiet", action="store_true", help="no progress bars")
    v.set_defaults(func=cmd_video)


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
    stop = frame_stop(args)
    if args.detector != "blazepose" and not args.model:
        raise ValueError(f"--detector {args.detector} needs --model FILE.onnx")
    if args.detector == "blazepose":
        net = blazepose_from_args(args)
    elif args.detector == "bodyposenet":
        if args.boxes or args.box_model:
            raise ValueError("--boxes and --box-model are for --detector bodypose3dnet")
        blazepose_options_unused(args)
        net = BodyPoseNet(args.model, bodyposenet_settings(args), providers=args.providers, threads=args.threads)
        s = net.settings
        print(f"bodyposenet: {net.net_size[0]}x{net.net_size[1]} {'NHWC' if net.nhwc else 'NCHW'} input, "
              f"{s.channel_order}, (x - {list(s.mean)}) * {s.scale:.6g}, scales {list(s.scales)}, "
              f"limbs {_preset_name(s.decode)}", file=sys.stderr)
    else:
        if args.settings or any(getattr(args, k) is not None for k in _NET_FLAGS):
            raise ValueError("--settings and the bodyposenet network flags apply to --detector bodyposenet only")
        blazepose_options_unused(args)
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
                                  start=args.start, stop=stop, progress=not args.quiet)
    wall = time.perf_counter() - t0
    result.attrs.update(model=str(args.model or args.model_dir), detect_seconds=round(wall, 3))
    if getattr(net, "weak_frames", 0):
        result.attrs["weak_frames"] = int(net.weak_frames)
        print(f"warning: {net.weak_frames} frame(s) with nobody found and every heatmap below the threshold: check "
              "the preprocessing (--channel-order, --mean, --scale) and --paf-order", file=sys.stderr)
    if getattr(net, "unlinked_frames", 0):
        result.attrs["unlinked_frames"] = int(net.unlinked_frames)
        print(f"warning: {net.unlinked_frames} frame(s) with strong heatmap peaks that the PAFs leave mostly "
              "unlinked: check --paf-order (or the PAFs' sign)", file=sys.stderr)
    write_keypoints_h5(args.out, result)
    n = max(timing["frames"], 1)
    print(
        f"{args.out}: {len(result.tracks)} track(s) from {timing['frames']} frame(s), {timing['people']} detections; "
        f"{args.detector} on {net.provider}; {timing['frames'] / wall:.1f} frames/s "
        f"(per frame: video {1e3 * timing['video'] / n:.1f} ms, preprocess {1e3 * timing['preprocess'] / n:.1f} ms, "
        f"network {1e3 * timing['network'] / n:.1f} ms, post-processing {1e3 * timing['postprocess'] / n:.1f} ms)"
    )
    if args.detector == "blazepose":
        print(f"blazepose per frame: detection {1e3 * timing['detection'] / n:.1f} ms, landmarks "
              f"{1e3 * timing['landmarks'] / n:.1f} ms, region tracking {1e3 * timing['regions'] / n:.2f} ms; "
              f"track association {1e3 * timing['tracking'] / n:.2f} ms ({net.threads or 'default'} thread(s))")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    """``detect`` + ``lift`` (+ ``--render``) + ``compare --input``, each parsed as its own command line."""
    from poselift.commands import results
    from poselift.core.io import check_output_folder

    if not Path(args.video_file).exists():
        raise FileNotFoundError(f"no such video: {args.video_file}")
    if not Path(args.run).is_dir():
        raise FileNotFoundError(f"no such run folder: {args.run}")
    out = Path(check_output_folder(args.out))
    out.mkdir(parents=True, exist_ok=True)
    quiet = ["--quiet"] if args.quiet else []
    det = ["detect", str(args.video_file), "--detector", "blazepose", "--model-dir", str(args.model_dir),
           "--out", str(out / "keypoints.h5"), "--min-track-length", str(args.min_length), *quiet]
    if args.max_frames is not None:
        det += ["--max-frames", str(args.max_frames)]
    if args.tiles is not None:
        det += ["--tiles", *map(str, args.tiles)]
    if args.detect_every is not None:
        det += ["--detect-every", str(args.detect_every)]
    if args.threads is not None:
        det += ["--threads", str(args.threads)]
    lift = ["lift", str(out / "keypoints.h5"), "--run", str(args.run), "--out", str(out / "poses3d.h5"),
            "--video", str(args.video_file), "--min-length", str(args.min_length), "--device", args.device, *quiet]
    if not args.no_render:
        lift += ["--render", str(out / "video.mp4"), "--size", f"{args.size[0]}x{args.size[1]}"]
    comp = ["compare", str(args.run), "--input", str(out / "keypoints.h5"), "--video", str(args.video_file),
            "--min-length", str(args.min_length), "--device", args.device, "--out", str(out / "compare.json")]
    parser = argparse.ArgumentParser(prog="poselift")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    results.register(sub)
    for argv in (det, lift, comp):
        a = parser.parse_args(argv)
        rc = int(a.func(a) or 0)
        if rc:
            return rc
    return 0


# --- blazepose ---------------------------------------------------------------------------------------------
_BLAZEPOSE_FLAGS = ("model_dir", "tiles", "detect_every", "min_detection_score", "min_presence", "no_region_tracking",
                    "nms_iou", "nms", "duplicate_distance", "max_people", "no_heatmap_refinement")


def add_blazepose_options(p: argparse.ArgumentParser) -> None:
    """The ``--detector blazepose`` options of ``detect``."""
    g = p.add_argument_group("blazepose", "MediaPipe BlazePose GHUM (full) through LiteRT (pip install "
                             "'poselift[blazepose]'); the model files come from 'poselift models extract'")
    g.add_argument("--model-dir", help="folder with pose_detection.tflite and pose_landmark_full.tflite")
    g.add_argument("--tiles", type=float, nargs="*", default=None, metavar="F",
                   help="besides the whole frame, detect people in square tiles of these sizes (fractions of the "
                        "shorter frame side; default 1.0 0.5; none: the whole frame only, as MediaPipe)")
    g.add_argument("--detect-every", type=int, default=None, metavar="N",
                   help="run the person detector every N frames (default 1); tracked people are followed by "
                        "their landmarks in between")
    g.add_argument("--min-detection-score", type=float, default=None, help="detector score threshold (default 0.5)")
    g.add_argument("--min-presence", type=float, default=None, help="pose flag needed to keep a person (default 0.5)")
    g.add_argument("--no-region-tracking", action="store_true", default=None,
                   help="do not place regions from the previous frame's landmarks (detect every frame)")
    g.add_argument("--nms-iou", type=float, default=None, help="IoU above which detections merge (default 0.3)")
    g.add_argument("--nms", choices=("weighted", "hard"), default=None,
                   help="within a detector window: weighted (MediaPipe, default: overlapping detections averaged by "
                        "score) or hard (the best kept); across tiles the best is always kept")
    g.add_argument("--duplicate-distance", type=float, default=None,
                   help="regions whose centres are closer than this fraction of the smaller side are one person "
                        "(default 0.2)")
    g.add_argument("--max-people", type=int, default=None, help="landmark passes per frame at most (default 10)")
    g.add_argument("--no-heatmap-refinement", action="store_true", default=None,
                   help="keep the regressed landmarks (MediaPipe refines them with the heatmap)")


def blazepose_options_unused(args: argparse.Namespace) -> None:
    used = [f for f in _BLAZEPOSE_FLAGS if getattr(args, f, None) is not None]
    if used:
        raise ValueError(f"--{used[0].replace('_', '-')} is for --detector blazepose")


def frame_stop(args: argparse.Namespace) -> int | None:
    """``--stop`` and ``--max-frames`` as one exclusive stop frame."""
    stop = args.stop
    if args.max_frames is not None:
        if args.max_frames < 1:
            raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
        stop = args.start + args.max_frames if stop is None else min(stop, args.start + args.max_frames)
    return stop


def blazepose_from_args(args: argparse.Namespace):
    """A :class:`~poselift.detectors.blazepose.BlazePose` from the ``detect`` options."""
    from poselift.detectors.blazepose import BlazePose, BlazePoseSettings

    if not args.model_dir:
        raise ValueError("--detector blazepose needs --model-dir DIR (the two .tflite files; "
                         "'poselift models extract' gets them out of a mediapipe wheel)")
    if args.model or args.boxes or args.box_model or args.focal is not None:
        raise ValueError("--model, --boxes, --box-model and --focal are not for --detector blazepose")
    if getattr(args, "settings", None) or any(getattr(args, k, None) is not None for k in _NET_FLAGS):
        raise ValueError("--settings and the bodyposenet network flags apply to --detector bodyposenet only")
    if args.providers not in ("auto", "cpu"):
        raise ValueError("--detector blazepose runs on the CPU (LiteRT); --providers cuda cannot be honoured")
    kw = {}
    if args.tiles is not None:
        kw["tiles"] = tuple(args.tiles)
    if args.detect_every is not None:
        kw["detect_every"] = args.detect_every
    if args.min_detection_score is not None:
        kw["min_detection_score"] = args.min_detection_score
    if args.min_presence is not None:
        kw["min_presence"] = args.min_presence
    if args.no_region_tracking:
        kw["track"] = False
    if args.no_heatmap_refinement:
        kw["refine_with_heatmap"] = False
    for name in ("nms_iou", "nms", "duplicate_distance", "max_people"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    net = BlazePose(args.model_dir, BlazePoseSettings(**kw), threads=args.threads if args.threads else 1)
    s = net.settings
    print(f"blazepose: detector on the whole frame + tiles {list(s.tiles)}, every {s.detect_every} frame(s), "
          f"region tracking {'on' if s.track else 'off'}, {net.threads} thread(s)", file=sys.stderr)
    return net


def cmd_lift(args: argparse.Namespace) -> int:
    import numpy as np

    from poselift.commands.inputs import dataset_defaults, read_2d_input
    from poselift.core.io import check_output_file
    from poselift.detectors.formats import write_poses3d_h5
    from poselift.experiments.run_fit import check_input_layout
    from poselift.inference import load_lifter

    check_output_file(args.out)  # before the work, not after it
    if args.render:
        check_output_file(args.render, "--render")
    for line in dataset_defaults(args.keypoints, args.run, args):
        print(f"{args.keypoints}: {line}", file=sys.stderr)
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
    if str(args.render).lower().endswith(".png"):
        raise ValueError(f"--render {args.render}: an animation is many frames; for one frame as a PNG use "
                         "'poselift figures RUN --input FILE --still FRAME'")
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
