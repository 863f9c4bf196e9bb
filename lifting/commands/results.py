"""``poselift table``, ``compare`` and ``figures``: results from run folders.

``figures`` writes three files for trained runs that share a test split:

* ``per_action.png``: Protocol 1 per action, one bar per run (their ``metrics.json``);
* ``error_over_time.png``: per-frame Protocol 1 of every run on one test sequence;
* ``animation.gif`` (or ``.mp4``): that sequence's input 2D beside each run's
  3D (single-frame runs, receptive field 1, first) and the ground truth.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poselift.commands.inputs import (
    INPUT_OPTIONS,
    ON_HELP,
    SHARED_WITH_HELP,
    add_2d_input_options,
    add_data_option,
    image_size,
)

__all__ = ["register", "DEFAULT_FRAMES"]

FIGURES_DESCRIPTION = """Write per_action.png (Protocol 1 per action, one bar per run), error_over_time.png
(per-frame Protocol 1 of every run on one test sequence) and animation.gif/.mp4 (that sequence's input 2D
beside each run's 3D and the ground truth) for trained runs that share a test split."""

DEFAULT_FRAMES = 200
"""Frames of the ``figures`` animation unless ``--frames`` says otherwise (Human3.6M videos have thousands)."""


def _table(args: argparse.Namespace) -> int:
    from poselift.core.io import check_output_file
    from poselift.experiments.tables import (
        anchor_rows,
        check_anchor_datasets,
        render_table,
        rows_from_runs,
    )

    if args.out:
        check_output_file(args.out)
    if args.shared_with and not args.on:
        raise ValueError("table: --shared-with LAYOUT goes with --on (the cross-dataset results it names)")
    if args.on:
        from poselift.experiments.cross_dataset import cross_rows

        rows = cross_rows(args.run_dirs, args.on, args.data, args.shared_with)
    else:
        rows = rows_from_runs(args.run_dirs)
    if args.anchors:
        anchors = anchor_rows(None if args.anchors == "all" else args.anchors)
        check_anchor_datasets(rows, anchors)
        rows += anchors
    by = args.by or ("action" if args.per_action else None)
    if args.metric != "p1" and by is None:
        raise ValueError("--metric chooses the per-action or per-subject-and-action columns: give --by "
                         "(or --per-action)")
    text = render_table(rows, args.format, caption=args.caption, by=by, metric=args.metric,
                        proportions=args.proportions)
    if args.out:
        from poselift.core.io import atomic_write_text

        atomic_write_text(args.out, text)
    sys.stdout.write(text)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from poselift.core.io import check_output_file
    from poselift.experiments.compare import compare_methods, comparison_table
    from poselift.inference import load_lifter

    if args.out:
        check_output_file(args.out)
    seqs, root_relative, test, data = _compare_test_data(args)
    lifters = [load_lifter(d, device=args.device) for d in args.run_dirs]
    if args.single_frame:
        lifters.insert(0, load_lifter(args.single_frame, device=args.device))
    joints = None
    if args.shared_with and not args.on:
        raise ValueError("compare: --shared-with LAYOUT goes with --on")
    seqs_in = seqs
    if args.on:  # every run scored over the joints its layout shares with the target's 3D
        from poselift.experiments.cross_dataset import common_correspondence, shared_view

        if args.input:
            raise ValueError("compare: --on names the test data; --input a 2D file without ground truth: give one")
        joints = common_correspondence(lifters, test, args.on, args.shared_with)
        seqs, _ = shared_view(seqs_in, joints)
    if args.input:
        from poselift.experiments.run_fit import check_input_layout

        for lf in lifters:
            check_input_layout(data.layout, lf, str(args.input))
    _check_same_flip_test(lifters, args.allow_mixed)
    for lf in lifters:
        lf.root_relative = root_relative  # the protocol's root rule (VideoPose3D: the raw output)
    methods, notes = _compared_methods(lifters, seqs, seqs_in, joints)
    result = compare_methods(seqs, methods)
    text = comparison_table(result, args.format, notes=notes)
    if joints is not None:
        from poselift.experiments.cross_dataset import label_comparison

        result, text = label_comparison(result, text, joints, test.dataset, args.format)
    if args.out:
        from poselift.core.io import atomic_write_json

        atomic_write_json(args.out, result)
    sys.stdout.write(text)
    return 0


def _compare_test_data(args: argparse.Namespace):
    """What ``compare`` lifts: ``(sequences, root_relative, test splits or None, 2D file data or None)`` from
    ``--input`` (a 2D file, no ground truth), ``--on`` (another dataset's test split) or the runs' own test
    split; the options that describe the other sources are refused."""
    if args.input:
        from poselift.commands.inputs import dataset_defaults, read_2d_input

        _no_dataset_options(args, "compare")
        for line in dataset_defaults(args.input, args.run_dirs[0], args):
            print(f"{args.input}: {line}", file=sys.stderr)
        data = read_2d_input(args.input, args)
        seqs = data.to_sequences(min_length=args.min_length)
        if not seqs:
            raise ValueError(f"{args.input}: no track with at least {args.min_length} frames")
        return seqs, True, None, data
    _no_input_options(args, "compare")
    if args.on:
        from poselift.experiments.cross_dataset import target_config
        from poselift.experiments.data import load_splits

        if args.keypoints_path:
            raise ValueError("compare --on: the 2D come from the target config (its data.keypoints_path); "
                             "--keypoints is for the runs' own dataset")
        test = load_splits(target_config(args.on, args.data), progress=False, test_only=True)
    else:
        from poselift.experiments.data import shared_test_split

        test = shared_test_split(args.run_dirs, args.data, allow_mixed=args.allow_mixed,
                                 keypoints_path=args.keypoints_path)
    return test.test, test.protocol.root == "subtract", test, None


def _check_same_flip_test(lifters, allow_mixed: bool) -> None:
    """Refuse lifters that differ in flip test-time augmentation unless ``allow_mixed``."""
    if len({lf.flip_test for lf in lifters}) > 1 and not allow_mixed:
        raise ValueError("the runs differ in flip test-time augmentation ("
                         + ", ".join(f"{lf.run_dir.name}: {'on' if lf.flip_test else 'off'}" for lf in lifters)
                         + "); compare like with like, or pass --allow-mixed (the table then says which is which)")


def _compared_methods(lifters, seqs, seqs_in, joints):
    """The compared methods (the detector's own 3D first, when the 2D carry it and no joint subset is scored;
    then each lifter's lift of ``seqs_in``, cut to ``joints``' shared joints when given) and the notes on
    settings that differ between the lifters (said on each row and under the table)."""
    from poselift.experiments.compare import (
        NORMALIZATION_WORDS,
        Method,
        setting_differences,
        single_frame_from_detector,
    )

    settings = {lf.run_dir.name: {"flip TTA": "on" if lf.flip_test else "off",
                                  "2D normalised by": NORMALIZATION_WORDS.get(lf.normalization, lf.normalization)}
                for lf in lifters}
    suffix, notes = setting_differences(settings)
    methods = []
    det = single_frame_from_detector(seqs) if joints is None else None  # its 3D is not in the shared joints
    if det is not None:
        methods.append(det)
    for lf in lifters:
        name = lf.run_dir.name + f" (rf {lf.receptive_field}{suffix[lf.run_dir.name]})"
        kind = "single-frame" if lf.receptive_field == 1 else "temporal"
        if joints is not None:
            methods.append(Method(name, [lf.lift(s)[:, joints.run_index] for s in seqs_in], kind=kind))
        else:
            methods.append(Method(name, [lf.lift(s) for s in seqs], kind=kind))
    return methods, notes


def cmd_figures(args: argparse.Namespace) -> int:
    from poselift.core.io import check_output_folder, read_json
    from poselift.experiments.figures import comparison_animation, error_over_time_figure, sequence_label
    from poselift.inference import load_lifter

    run_dirs = [Path(d) for d in args.run_dirs]
    for d in run_dirs:
        if not d.is_dir():
            raise FileNotFoundError(f"no such run folder: {d}")
    if args.frames is not None and args.frames < 0:
        raise ValueError(f"--frames must be >= 0 (0: all frames), got {args.frames}")
    if args.still is not None and args.still < 0:
        raise ValueError(f"--still must be a frame number >= 0, got {args.still}")
    out = check_output_folder(args.out)
    # everything is loaded and checked before the first file is written
    names = []
    for d in run_dirs:
        m = read_json(d / "metrics.json") if (d / "metrics.json").exists() else {}
        names.append(str(m.get("name") or d.name))
    index, seq, data, test = _figure_sequence(args, run_dirs)
    measured = None if args.input else f"{test.dataset}, protocol {test.protocol.name}"  # what every figure names
    lifters = [(n, load_lifter(d, device=args.device)) for n, d in _unique(names, run_dirs)]
    seq = _fit_lifters(args, lifters, seq, data, test)
    if args.still is not None and not seq.start_frame <= args.still < seq.start_frame + len(seq):
        raise ValueError(f"--still {args.still}: {sequence_label(seq)} has frames {seq.start_frame}-"
                         f"{seq.start_frame + len(seq) - 1}" + (" (choose the person with --track)" if args.input else ""))
    if not (args.fps or seq.fps > 0):
        raise ValueError(f"{args.input or seq.label}: the frame rate is unknown; give --fps or --video")
    out.mkdir(parents=True, exist_ok=True)
    suffix = f" ({measured})" if measured else ""
    _per_action_bars(args, names, run_dirs, out, suffix)

    lifters.sort(key=lambda item: (item[1].receptive_field != 1, item[1].receptive_field))
    preds = {}
    for name, lf in lifters:
        kind = "single-frame" if lf.receptive_field == 1 else "temporal"
        rf = lf.receptive_field
        preds[name if f"rf {rf}" in name else f"{name} ({kind}, rf {rf})"] = lf.lift(seq)
    label = sequence_label(seq)
    if seq.poses3d is not None:
        error_over_time_figure(seq, preds, out_path=out / "error_over_time.png",
                               title=f"Protocol 1 per frame, {label}{suffix}")
        print(f"{out / 'error_over_time.png'}: per-frame Protocol 1 on test sequence {index} ({label}, "
              f"{len(seq)} frames)")
    else:
        print(f"error_over_time.png: skipped ({args.input} has no ground truth)")

    frames = DEFAULT_FRAMES if args.frames is None else (args.frames or None)
    anim = out / f"animation.{args.format}"
    drawn = dict(fps=args.fps, video=args.video if args.input else None, size=args.size, dpi=args.dpi,
                 title=None if args.input else f"{label} ({test.protocol.name})")  # the animation's and the still's
    comparison_animation(anim, seq, preds, frames=frames, progress=not args.no_progress, **drawn)
    shown = len(seq) if frames is None else min(frames, len(seq))
    print(f"{anim}: {shown} frame(s) of {label}: input 2D, "
          + ", ".join(preds) + (", ground truth" if seq.poses3d is not None else ""))
    if args.still is not None:
        still = out / f"still_{args.still}.png"
        comparison_animation(still, seq, preds, frames=[args.still - seq.start_frame], **drawn)
        print(f"{still}: frame {args.still} of {label}")
    return 0


def _figure_sequence(args: argparse.Namespace, run_dirs: list[Path]):
    """The sequence ``figures`` draws: ``(index, sequence, 2D file data or None, test splits or None)``: the
    longest track of ``--input`` (or the one ``--track`` kept), else the runs' test sequence ``--sequence``."""
    if args.input:
        from poselift.commands.inputs import dataset_defaults, read_2d_input

        _no_dataset_options(args, "figures")
        for line in dataset_defaults(args.input, run_dirs[0], args):
            print(f"{args.input}: {line}", file=sys.stderr)
        data = read_2d_input(args.input, args)
        seqs = data.to_sequences(min_length=args.min_length)
        if not seqs:
            raise ValueError(f"{args.input}: no track with at least {args.min_length} frames")
        if args.sequence is not None:
            raise ValueError("--sequence picks a test sequence; with --input choose the person with --track")
        return 0, max(seqs, key=len), data, None
    from poselift.experiments.data import shared_test_split
    from poselift.experiments.figures import select_sequence

    _no_input_options(args, "figures", allow=("fps",))  # --fps: the animation's frame rate
    test = shared_test_split(run_dirs, args.data, allow_mixed=args.allow_mixed, keypoints_path=args.keypoints_path)
    index, seq = select_sequence(test.test, args.sequence)
    return index, seq, None, test


def _fit_lifters(args: argparse.Namespace, lifters, seq, data, test):
    """Check every lifter takes ``--input``'s layout (or set the protocol's root rule on the test split); a clip
    has no 3D, so its 3D panels are drawn in the lifters' one output layout. Returns the sequence to draw."""
    import dataclasses

    from poselift.experiments.run_fit import check_input_layout

    for _, lf in lifters:
        if args.input:
            check_input_layout(data.layout, lf, str(args.input))
        else:
            lf.root_relative = test.protocol.root == "subtract"
    if not args.input:
        return seq
    outs = sorted({lf.layout_out.name for _, lf in lifters})
    if len(outs) > 1:
        raise ValueError(f"the runs give 3D in different joint layouts ({', '.join(outs)}): draw them separately")
    return dataclasses.replace(seq, layout3d=outs[0])


def _per_action_bars(args: argparse.Namespace, names, run_dirs, out: Path, suffix: str) -> None:
    """per_action.png from the runs' metrics.json (an imported run has none until it is evaluated): the runs'
    test-split numbers, nothing about an ``--input`` clip, so a clip's folder does not get it."""
    from poselift.experiments.figures import per_action_figure

    evaluated = {n: d for n, d in _unique(names, run_dirs) if (d / "metrics.json").exists()}
    if args.input:
        print(f"per_action.png: skipped (--input: the runs' per-action errors are measured on their test split, "
              f"not on {Path(args.input).name})")
    elif evaluated:
        per_action_figure(evaluated, metric="mpjpe", out_path=out / "per_action.png",
                          title=f"Protocol 1 per action{suffix}")
        print(f"{out / 'per_action.png'}: Protocol 1 per action, {len(evaluated)} run(s){suffix}"
              + (f" (without {len(run_dirs) - len(evaluated)} not evaluated)" if len(evaluated) < len(run_dirs) else ""))
    else:
        print("per_action.png: skipped (no run has a metrics.json)")


def _no_input_options(args: argparse.Namespace, command: str, allow: tuple[str, ...] = ()) -> None:
    """2D input options without --input would be silently ignored: refuse them."""
    given = [f"--{name.replace('_', '-')}" for name, default in INPUT_OPTIONS.items()
             if name not in allow and getattr(args, name, default) != default]
    if given:
        raise ValueError(f"{command}: {', '.join(given)} describe the --input file; without --input the runs' "
                         "test split is used")


def _no_dataset_options(args: argparse.Namespace, command: str) -> None:
    """--data/--keypoints choose the runs' test split: with --input they would be silently ignored."""
    given = [flag for flag, dest in (("--data", "data"), ("--keypoints", "keypoints_path")) if getattr(args, dest)]
    if given:
        raise ValueError(f"{command}: {' and '.join(given)} choose the runs' test split; with --input the 2D file is "
                         "the input")


def _unique(names: list[str], dirs: list[Path]) -> list[tuple[str, Path]]:
    """Pair names with folders, making repeated names unique with the folder name."""
    out, seen = [], set()
    for n, d in zip(names, dirs):
        name = n if names.count(n) == 1 else f"{n} [{d.name}]"
        base, k = name, 2
        while name in seen:
            name, k = f"{base} #{k}", k + 1
        seen.add(name)
        out.append((name, d))
    return out


def register(sub) -> None:
    p = sub.add_parser("table", help="comparison table from run folders")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--format", choices=["md", "latex", "csv"], default="md")
    p.add_argument("--per-action", action="store_true", help="add Protocol 1 per action (the same as --by action)")
    p.add_argument("--by", choices=["action", "subject,action"],
                   help="add --metric per action, or per subject and action (the HumanEva table)")
    p.add_argument("--metric", choices=["p1", "p2", "n-mpjpe", "mpjve"], default="p1",
                   help="the metric of the --by columns (default p1; VideoPose3D's HumanEva table is p2)")
    p.add_argument("--anchors", nargs="?", const="all", default=None,
                   help="add published numbers as reference rows (optionally only one 2D input, e.g. 'GT')")
    p.add_argument("--proportions", action="store_true",
                   help="add predicted/true height, hip and shoulder width and the lean of the spine (degrees)")
    p.add_argument("--caption")
    p.add_argument("--out", help="also write the table to this file")
    p.add_argument("--on", metavar="CONFIG_OR_DATASET",
                   help="the runs' cross-dataset results on this test split (poselift evaluate RUN --on ...)")
    p.add_argument("--shared-with", metavar="LAYOUT", help=SHARED_WITH_HELP)
    add_data_option(p)
    p.set_defaults(func=_table)

    p = sub.add_parser("compare", help="single-frame vs temporal 3D on the same frames (with or without ground truth)",
                       description="Compare lifters (and the detector's own single-frame 3D when the 2D file has it: BlazePose's world "
                       "landmarks, BodyPose3DNet's pose3d) "
                       "on the same frames: Protocol 1/2 and velocity error with ground truth (the runs' test split); "
                       "agreement, smoothness and bone consistency without (--input FILE from poselift detect, DeepStream JSON, ...).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--input", help="2D keypoint file of a video (no ground truth); default: the first run's test split")
    p.add_argument("--single-frame", metavar="RUN_DIR", help="a receptive-field-1 run used as the single-frame reference")
    add_2d_input_options(p, min_length=10)
    add_data_option(p)
    p.add_argument("--on", metavar="CONFIG_OR_DATASET", help=ON_HELP)
    p.add_argument("--shared-with", metavar="LAYOUT", help=SHARED_WITH_HELP)
    p.add_argument("--allow-mixed", action="store_true",
                   help="compare runs tested under different protocols or with different flip test-time "
                        "augmentation (the first run's test split is used; each row says its flip setting)")
    p.add_argument("--device", default="auto")
    p.add_argument("--format", choices=["md", "csv"], default="md")
    p.add_argument("--out", help="also write the numbers as JSON")
    p.set_defaults(func=_compare)
    p = sub.add_parser(
        "figures", help="per-action bars, error over time and a comparison animation from run folders",
        description=FIGURES_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="trained run folders with the same test split")
    p.add_argument("--out", required=True, help="folder for per_action.png, error_over_time.png, animation.* "
                                                 "(and still_FRAME.png)")
    p.add_argument("--sequence", default=None, metavar="INDEX|SUBJECT/ACTION/CAMERA",
                   help="test sequence to show: its index in the test split or e.g. 'S9/Walking 1/54138969' "
                        "(default: the first)")
    p.add_argument("--frames", type=int, default=None,
                   help=f"animate the first N frames (default {DEFAULT_FRAMES}; 0: all)")
    p.add_argument("--format", choices=("gif", "mp4"), default="gif", help="animation file type (default gif)")
    p.add_argument("--still", type=int, default=None, metavar="FRAME",
                   help="also write still_FRAME.png: the animation's panels at this frame (the video's frame number "
                        "with --input, else the test sequence's)")
    p.add_argument("--size", type=image_size, default=None, metavar="WxH",
                   help="animation size in pixels (default: 300 px square per panel)")
    p.add_argument("--dpi", type=float, default=None, help="animation dots per inch: text and line size")
    p.add_argument("--input", help="a 2D keypoint file of a video instead of the runs' test split (no ground truth: "
                   "no error_over_time.png); the animation shows its longest track (or --track)")
    add_2d_input_options(p, video_help="with --input: the video the keypoints came from (frame rate, size, and the "
                         "background of the 2D panel); --fps also sets the animation frame rate")
    add_data_option(p)
    p.add_argument("--allow-mixed", action="store_true",
                   help="draw runs tested under different protocols (on the first run's test split)")
    p.add_argument("--device", default="auto", help="torch device for the lifters")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_figures)
