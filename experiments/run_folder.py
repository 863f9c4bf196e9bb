"""Run folders: what a training run leaves behind, written under a lock, exported.

A run folder holds::

    config.yaml     the resolved experiment configuration
    run.json        seed, package version, git commit, machine, torch version, device, timings
    checkpoint.pt   models, optimiser, RNG states and history (written atomically each epoch)
    log.csv         one row per epoch
    metrics.json    final evaluation: mpjpe, p_mpjpe, n_mpjpe, mpjve (mm), per_action, per_subject
    table.md        the same as a Markdown table
    .poselift.lock  held by the process writing the folder (:func:`writing_run_folder`)

:func:`writing_run_folder` holds the lock while a command writes the folder, :func:`git_commit` says what
code wrote it, :func:`export_run` writes its ONNX graphs. Loading a run back is
:func:`poselift.inference.load_lifter` (re-exported here); whether a run fits some 2D or a dataset is
:mod:`poselift.experiments.run_fit`.
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
           "writing_run_folder"]


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
