"""Run folders: what a training run leaves behind, and loading a trained lifter back.

A run folder holds::

    config.yaml     the resolved experiment configuration
    run.json        seed, package version, git commit, machine, torch version, device, timings
    checkpoint.pt   models, optimiser, RNG states and history (written atomically each epoch)
    log.csv         one row per epoch
    metrics.json    final evaluation: mpjpe, p_mpjpe, n_mpjpe, mpjve (mm), per_action, per_subject
    table.md        the same as a Markdown table

:func:`~poselift.inference.load_lifter` (also importable from here) turns a run
folder into a :class:`~poselift.inference.Lifter` that lifts any
:class:`~poselift.core.sequence.PoseSequence` (converting its joint layout when needed).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from poselift.core.device import machine_description
from poselift.inference import Lifter, load_lifter

__all__ = ["Lifter", "load_lifter", "git_commit", "machine_description", "export_run"]  # Lifter, load_lifter: poselift.inference


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

    Raises:
        FileNotFoundError: no such folder, or no checkpoint in it.
    """
    from poselift.model.onnx import export_onnx

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    out = Path(out_dir) if out_dir is not None else run_dir / "export"
    lifter = load_lifter(run_dir, device="cpu")
    return out, export_onnx(lifter, out, opset, step=step)
