"""Run folders: what a training run leaves behind, and loading a trained lifter back.

A run folder holds::

    config.yaml     the resolved experiment configuration
    run.json        seed, package version, git commit, machine, torch version, device, timings
    checkpoint.pt   models, optimiser, RNG states and history (written atomically each epoch)
    log.csv         one row per epoch
    metrics.json    final evaluation: mpjpe, p_mpjpe, n_mpjpe, mpjve (mm), per_action, per_subject
    table.md        the same as a Markdown table

:func:`load_lifter` turns a run folder into a :class:`Lifter` that lifts any
:class:`~poselift.core.sequence.PoseSequence` (converting its joint layout when
needed).
"""
from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from poselift.core.errors import FileFormatError, InputError, reading
from poselift.inference import lift_sequence
from poselift.core.io import load_checkpoint
from poselift.core.layouts import Layout, get_layout
from poselift.model.tcn import TemporalLifter
from poselift.core.sequence import PoseSequence
from poselift.training.trainer import CHECKPOINT, resolve_device

__all__ = ["Lifter", "load_lifter", "git_commit", "machine_description"]


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


def machine_description(device: torch.device | str | None = None) -> str:
    """One line: CPU model and cores, or the GPU name."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


@dataclass
class Lifter:
    """A trained pose lifter (and optional trajectory model) ready to use.

    Attributes:
        model: the pose model, eval mode.
        layout_in, layout_out: joint layouts of its 2D input and 3D output.
        flip_test: average with the mirrored input's prediction.
        traj_model: trajectory model of a semi-supervised run, else ``None``.
        run_dir: where it came from.
    """

    model: TemporalLifter
    layout_in: Layout
    layout_out: Layout
    flip_test: bool = True
    traj_model: TemporalLifter | None = None
    run_dir: Path | None = None

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def inputs(self, seq: PoseSequence) -> np.ndarray:
        """``(T, J_in, F)`` model input for ``seq``, converting its layout if needed."""
        return seq.converted(self.layout_in).inputs(self.model.in_features)

    def _perms(self):
        return (self.layout_in.flip_permutation, self.layout_out.flip_permutation) if self.flip_test else None

    def lift(self, seq: PoseSequence | np.ndarray, progress: bool = False) -> np.ndarray:
        """Root-relative 3D poses ``(T, J_out, 3)`` in metres, camera frame.

        ``seq`` is a :class:`PoseSequence` or an already prepared input array
        ``(T, J_in, F)``; any length (long sequences run in chunks in bounded
        memory, with a progress bar when ``progress``).
        """
        x = self.inputs(seq) if isinstance(seq, PoseSequence) else np.asarray(seq, np.float32)
        y = lift_sequence(self.model, x, flip_perms=self._perms(), progress=progress)
        r = self.layout_out.root
        return y - y[:, r : r + 1]

    def trajectory(self, seq: PoseSequence | np.ndarray) -> np.ndarray:
        """Root position ``(T, 3)`` in camera coordinates (semi-supervised runs only)."""
        if self.traj_model is None:
            raise InputError("this run has no trajectory model (train semi-supervised or with trajectory: true)")
        x = self.inputs(seq) if isinstance(seq, PoseSequence) else np.asarray(seq, np.float32)
        perms = None
        if self.flip_test:
            perms = (self.layout_in.flip_permutation, np.zeros(1, dtype=np.int64))
        return lift_sequence(self.traj_model, x, flip_perms=perms)[:, 0]


def _build(config: dict | None, path: Path) -> TemporalLifter | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise FileFormatError(f"{path}: model config is a {type(config).__name__}, not a dict", path)
    try:
        return TemporalLifter(**config)
    except TypeError as e:  # unknown or missing constructor arguments
        raise FileFormatError(f"{path}: model config {config} does not fit this poselift ({e})", path) from None


def load_lifter(run_dir: str | os.PathLike, device: str = "auto", flip_test: bool | None = None) -> Lifter:
    """Load the trained model(s) of a run folder (its ``checkpoint.pt``).

    Args:
        run_dir: a folder written by ``poselift train`` / ``poselift demo``.
        device: ``"auto"`` (CUDA if it works), ``"cpu"``, ...
        flip_test: override the run's flip test-time augmentation setting.
    """
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {CHECKPOINT} in it")
    state = load_checkpoint(path)  # weights_only: a pickle that would run code is refused
    for key in ("model", "model_config", "layout_in", "layout_out"):
        if key not in state:
            raise FileFormatError(f"{path} is not a poselift checkpoint (no {key!r})", path)
    dev = resolve_device(device)
    with reading(path, "checkpoint"):
        model = _build(state["model_config"], path)
        model.load_state_dict(state["model"])
        traj = _build(state.get("traj_model_config"), path)
        if traj is not None:
            traj.load_state_dict(state["traj_model"])
        layout_in, layout_out = get_layout(state["layout_in"]), get_layout(state["layout_out"])
        extra = state.get("extra", {})
        if flip_test is None:
            flip_test = bool(extra.get("flip_test", True) if isinstance(extra, dict) else True)
    model.to(dev).eval()
    if traj is not None:
        traj.to(dev).eval()
    return Lifter(model, layout_in, layout_out, flip_test, traj, run_dir)
