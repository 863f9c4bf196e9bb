"""Run folders: what a training run leaves behind, and loading a trained lifter back.

A run folder holds::

    config.yaml     the resolved experiment configuration
    run.json        seed, package version, git commit, machine, torch version, device, timings
    checkpoint.pt   models, optimiser, RNG states and history (written atomically each epoch)
    log.csv         one row per epoch
    metrics.json    final evaluation: mpjpe, p_mpjpe, n_mpjpe, mpjve (mm), per_action, per_subject
    table.md        the same as a Markdown table
    .poselift.lock  held by the process writing the folder (:func:`writing_run_folder`)

:func:`~poselift.inference.load_lifter` (also importable from here) turns a run
folder into a :class:`~poselift.inference.Lifter` that lifts any
:class:`~poselift.core.sequence.PoseSequence` (converting its joint layout when needed).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

from poselift.checkpoint import CHECKPOINT
from poselift.core.device import machine_description
from poselift.core.io import check_output_folder
from poselift.core.locks import LOCK_FILE, FolderLock, lock_folder
from poselift.inference import Lifter, load_lifter

__all__ = ["Lifter", "load_lifter", "git_commit", "machine_description", "export_run",  # Lifter, load_lifter: inference
           "writing_run_folder", "run_input_layout", "check_input_layout", "CONFIGS_FOR_LAYOUT"]


@contextlib.contextmanager
def writing_run_folder(run_dir: str | os.PathLike, command: str, *,
                       remove_if_failed: bool = False) -> Iterator[FolderLock | None]:
    """Hold ``run_dir``'s lock (:func:`poselift.core.locks.lock_folder`) while writing it.

    Under ``torchrun`` only process 0 takes the lock (it alone writes); an error
    there (the folder is busy) stops every process. Taking the lock removes the
    stale temporary files of a killed writer.

    Args:
        run_dir: the run folder (created if missing).
        command: names the holder in a refused second writer's message.
        remove_if_failed: when the body fails and this call created the folder,
            remove it unless a checkpoint was written (a config that fails before
            training leaves no run folder behind).

    Raises:
        FolderBusyError: another process is writing the folder.
    """
    from poselift.training import distributed as D

    run_dir = Path(run_dir)
    check_output_folder(run_dir, "run folder")
    created = [p for p in [run_dir, *run_dir.parents] if not p.exists()]  # this folder and new parents (runs/)
    held: list[FolderLock] = []
    try:
        D.on_main(lambda: held.append(lock_folder(run_dir, command)))
    except BaseException:  # e.g. a full disk while taking the lock: leave no folder this call created
        if created and remove_if_failed:
            for p in created:
                with contextlib.suppress(OSError):
                    (p / LOCK_FILE).unlink(missing_ok=True)
                    p.rmdir()  # only when empty
        raise
    ok = False
    try:
        yield held[0] if held else None
        ok = True
    finally:
        if not ok and held and created and remove_if_failed and held[0]._depth == 1 \
                and not (run_dir / CHECKPOINT).exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            for parent in created[1:]:
                with contextlib.suppress(OSError):  # only when empty
                    parent.rmdir()
        for lock in held:
            lock.release()


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """Commit hash of the repository holding ``path`` (the package by default), ``+dirty`` if modified."""
    path = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, opset: int = 17, *,
               step: bool = True) -> tuple[Path, dict]:
    """Export a run folder's lifter to ONNX (:func:`poselift.model.onnx.export_onnx`).

    Args:
        run_dir: a run folder with ``checkpoint.pt``.
        out_dir: where to write (default ``RUN_DIR/export``).
        opset, step: see :func:`~poselift.model.onnx.export_onnx`.

    Returns:
        ``(out_dir, the contents of export.json)``; ``export.json`` names the run folder.

    The run folder is locked while exporting into it (the default ``out_dir``),
    and the export folder is written whole and swapped in, under its own lock
    (:func:`~poselift.model.onnx.export_onnx`).

    Raises:
        FileNotFoundError: no such folder, or no checkpoint in it.
        InputError: ``out_dir`` is a file, or a folder holding other files than an export.
        FolderBusyError: another process is writing the run folder (or ``out_dir``).
    """
    from poselift.model.onnx import export_onnx

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    out = check_output_folder(Path(out_dir) if out_dir is not None else run_dir / "export")
    inside = run_dir.resolve() in out.resolve().parents  # writing into the run folder: hold its lock
    with (lock_folder(run_dir, "poselift export") if inside else contextlib.nullcontext()):
        lifter = load_lifter(run_dir, device="cpu")
        return out, export_onnx(lifter, out, opset, step=step)


CONFIGS_FOR_LAYOUT = {
    "h36m17": "experiments/configs/h36m_gt_*.yaml (Human3.6M ground-truth 2D), or `poselift import` of "
              "VideoPose3D's ground-truth/CPN checkpoints with --layout h36m17",
    "mpii16": "experiments/configs/h36m_sh_*.yaml (Human3.6M Stacked Hourglass detections)",
    "coco17": "`poselift import` of VideoPose3D's Detectron COCO checkpoint (pretrained_h36m_detectron_coco.bin) "
              "with --layout coco17",
}
"""Where a run taking each 2D layout comes from (named when a file's layout does not fit a run)."""


def run_input_layout(run_dir: str | os.PathLike) -> str | None:
    """The 2D layout a run folder's model takes, read cheaply (no checkpoint loading): ``run.json``'s
    declared layout (imported runs), else the config's data (``keypoints: sh`` -> mpii16, else h36m17);
    ``None`` when neither says."""
    import yaml

    from poselift.core.io import read_json, read_yaml

    run_dir = Path(run_dir)
    try:
        if (run_dir / "run.json").exists():
            declared = (read_json(run_dir / "run.json").get("declared") or {}).get("layout_in")
            if declared:
                return str(declared)
        if (run_dir / "config.yaml").exists():
            data = (read_yaml(run_dir / "config.yaml") or {}).get("data") or {}
            if data.get("dataset", "h36m") not in ("h36m", "synthetic"):
                return None  # another dataset: its layout is in the checkpoint, not cheaply in the config
            return "mpii16" if data.get("keypoints") == "sh" else "h36m17"
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return None
    return None


def _candidate_runs(near: Path, limit: int = 200) -> list[Path]:
    """Run folders beside ``near`` (its siblings, and their sub-folders one level down), at most ``limit``."""
    out: list[Path] = []
    parent = near.parent
    try:
        for d in sorted(parent.iterdir()):
            if len(out) >= limit:
                break
            if d.is_dir() and d != near:
                if (d / "checkpoint.pt").exists():
                    out.append(d)
                else:
                    out += [s for s in sorted(d.iterdir()) if s.is_dir() and (s / "checkpoint.pt").exists()][:10]
    except OSError:
        pass
    return out[:limit]


def check_input_layout(file_layout: str, lifter: Lifter, what: str = "the 2D file") -> None:
    """Refuse a run whose input layout cannot be reached from ``file_layout``, naming what would fit.

    Raises:
        LayoutError: with the layouts the file can feed, the run folders beside ``lifter.run_dir`` that take
            one of them, and the configs / imports that make such a run.
    """
    from poselift.core.errors import LayoutError
    from poselift.core.layouts import get_layout, reachable, reachable_from

    src, dst = get_layout(file_layout).name, lifter.layout_in.name
    if reachable(src, dst):
        return
    targets = reachable_from(src)
    runs = []
    if lifter.run_dir is not None:
        for d in _candidate_runs(Path(lifter.run_dir)):
            lay = run_input_layout(d)
            if lay in targets:
                runs.append(f"{d} ({lay})")
    fits = [f"{t}: {CONFIGS_FOR_LAYOUT[t]}" for t in targets if t in CONFIGS_FOR_LAYOUT]
    raise LayoutError(
        f"{what} has {src} keypoints, but {lifter.run_dir or 'this run'} takes {dst} input and {src} cannot be "
        f"converted to {dst}. {src} feeds runs taking {targets}. "
        + (f"Runs here that fit: {', '.join(runs[:8])}. " if runs else "No run beside it fits. ")
        + ("Runs that fit come from " + "; ".join(fits) + "." if fits else "")
    )
