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

__all__ = ["Lifter", "load_lifter", "git_commit", "machine_description"]  # Lifter, load_lifter: poselift.inference


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
