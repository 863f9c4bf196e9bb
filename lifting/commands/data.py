"""``poselift prepare``: convert datasets once into a fast cache.

    poselift prepare h36m --source PATH [--out CACHE.h5] [--format archive|npz]
                          [--cameras cameras.h5] [--keypoints-npz data_2d_h36m_<name>.npz]
                          [--allow-pickle] [--subjects S1 S5 ...] [--compression gzip|lzf|none] [--compact]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``prepare`` command group to the ``poselift`` parser."""
    prepare = subparsers.add_parser(
        "prepare",
        help="convert a dataset once into a compact cache",
        description="Convert a dataset once into a compact, versioned cache file.",
    )
    prepare.set_defaults(func=lambda args: _help(prepare))
    sub = prepare.add_subparsers(dest="dataset", metavar="DATASET")

    p = sub.add_parser(
        "h36m",
        help="Human3.6M (the 'h36m' archive folder, or VideoPose3D npz files)",
        description=(
            "Read Human3.6M (3D of the 17 standard joints, cameras, 2D detections) and write an "
            "HDF5 cache that poselift.datasets.h36m.load() reads in about a second. The cache is "
            "derived from Human3.6M (academic licence): keep it outside any repository."
        ),
    )
    p.add_argument("--source", required=True, type=Path,
                   help="the archive folder (with cameras.h5 and S1/ ...), or data_3d_h36m.npz")
    p.add_argument("--out", type=Path, default=None,
                   help="cache file to write (default: $POSELIFT_CACHE or ~/.cache/poselift/h36m_<keypoints>.h5)")
    p.add_argument("--format", choices=("archive", "npz"), default=None, help="source format (default: detected)")
    p.add_argument("--cameras", type=Path, default=None,
                   help="cameras.h5 for --format npz (default: next to the npz file)")
    p.add_argument("--keypoints-npz", type=Path, default=None,
                   help="npz only: 2D detections, e.g. data_2d_h36m_sh_pt_mpii.npz")
    p.add_argument("--allow-pickle", action="store_true",
                   help="npz only: allow unpickling the npz contents (a pickle can run code: only for files you trust)")
    p.add_argument("--subjects", nargs="+", default=None, help="subjects to keep, e.g. S9 S11 (default: all)")
    p.add_argument("--compression", choices=("gzip", "lzf", "none"), default="gzip",
                   help="gzip: smaller; lzf: faster to write (default: gzip)")
    p.add_argument("--compact", action="store_true",
                   help="3D and cameras only, losslessly delta-encoded (all subjects: about 58 MiB): small enough to "
                        "carry to another machine; 2D input gt only (the detections are left out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_prepare_h36m)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _inside_git_tree(path: Path) -> Path | None:
    for parent in [path.resolve().parent, *path.resolve().parent.parents]:
        if (parent / ".git").exists():
            return parent
    return None


def _prepare_h36m(args: argparse.Namespace) -> int:
    from poselift.datasets.h36m.cache import detect_format, prepare_cache

    source: Path = args.source
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder (give the Human3.6M archive folder or data_3d_h36m.npz)")
    fmt = args.format or detect_format(source)
    if fmt == "archive":
        for flag, given in (("--keypoints-npz", args.keypoints_npz), ("--cameras", args.cameras)):
            if given is not None:
                raise ValueError(f"{flag} is for --format npz; the archive folder brings its own cameras.h5 and 2D")
    if args.out is not None:
        repo = _inside_git_tree(args.out)
        if repo is not None:
            print(
                f"warning: {args.out} is inside the git working tree {repo}; the cache is derived from "
                "Human3.6M (academic licence): never commit it",
                file=sys.stderr,
            )
    result = prepare_cache(
        source,
        args.out,
        format=fmt,
        cameras=args.cameras,
        keypoints_npz=args.keypoints_npz,
        allow_pickle=args.allow_pickle,
        subjects=args.subjects,
        compression=args.compression,
        progress=not args.no_progress,
        compact=args.compact,
    )
    print(f"wrote {result.path}")
    print(
        f"  {result.size_bytes / 2**20:.1f} MiB, {result.num_frames:,d} frames of 3D in "
        f"{result.num_sequences3d} sequences, {result.num_sequences2d} 2D sequences"
    )
    print(f"  read {result.seconds_read:.1f} s, wrote {result.seconds_write:.1f} s")
    if result.notes:
        print(f"skipped or adjusted ({len(result.notes)}):")
        for n in result.notes:
            print(f"  - {n}")
    return 0
