"""Running a trained lifter on whole sequences.

:func:`lift_sequence` pads a sequence by repeating its edge frames (``rf - 1``
frames before it when causal, ``(rf - 1) / 2`` on each side otherwise), so
every input frame gets one output frame, and optionally averages with the
prediction for the mirrored input (flip test-time augmentation).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .data import flip_inputs, flip_poses
from .model import TemporalLifter

__all__ = ["lift_sequence", "lift_sequences", "pad_edges"]


def pad_edges(x: torch.Tensor, before: int, after: int, dim: int = -3) -> torch.Tensor:
    """Pad ``x`` along ``dim`` by repeating its first/last frame."""
    dim = dim % x.ndim
    parts = []
    if before:
        parts.append(x.narrow(dim, 0, 1).expand(*[before if d == dim else -1 for d in range(x.ndim)]))
    parts.append(x)
    if after:
        parts.append(x.narrow(dim, x.shape[dim] - 1, 1).expand(*[after if d == dim else -1 for d in range(x.ndim)]))
    return torch.cat(parts, dim=dim)


@torch.no_grad()
def _run_padded(model: TemporalLifter, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """``x`` ``(T, J, F)`` already on device -> ``(T, J_out, 3)``, in chunks of ``chunk`` outputs."""
    before, after = model.pad
    rf = model.receptive_field
    xp = pad_edges(x, before, after, dim=0)
    t = x.shape[0]
    outs = []
    for s in range(0, t, chunk):
        e = min(t, s + chunk)
        outs.append(model(xp[s : e + rf - 1][None])[0])
    return torch.cat(outs, 0)


@torch.no_grad()
def lift_sequence(
    model: TemporalLifter,
    inputs,
    pad: bool = True,
    flip_perms: tuple[Sequence[int], Sequence[int]] | None = None,
    chunk: int = 8192,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Lift one sequence.

    Args:
        model: a trained lifter (put in eval mode for the call).
        inputs: ``(T, J_in, F)`` normalised 2D (+ confidence), numpy or torch.
        pad: pad edges so the output has ``T`` frames; without padding the
            output has ``T - rf + 1`` frames and ``T < rf`` raises.
        flip_perms: ``(input_perm, output_perm)`` left/right permutations; when
            given, the prediction for the mirrored input is un-mirrored and
            averaged in (test-time augmentation).
        chunk: output frames per forward pass (bounds memory on long videos).
        device: defaults to the model's device.

    Returns:
        ``(T, J_out, 3)`` (or ``(T - rf + 1, J_out, 3)`` without padding) as numpy float32.
    """
    was_training = model.training
    model.eval()
    try:
        dev = torch.device(device) if device is not None else next(model.parameters()).device
        x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, torch.Tensor) else inputs)
        x = x.to(dev, torch.float32)
        if x.ndim != 3:
            raise ValueError(f"expected one sequence (frames, joints, features), got shape {tuple(x.shape)}")
        if not pad:
            y = model(x[None])[0]
            if flip_perms is not None:
                yf = model(flip_inputs(x, flip_perms[0])[None])[0]
                y = (y + flip_poses(yf, flip_perms[1])) / 2
            return y.float().cpu().numpy()
        if x.shape[0] == 0:
            raise ValueError("empty sequence")
        # validate once here; chunks then skip the per-call check
        model._check(pad_edges(x[:1], model.receptive_field - 1, 0, 0)[None], windows=False)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("input contains NaN or infinite values")
        prev = model.validate_inputs
        model.validate_inputs = False
        try:
            y = _run_padded(model, x, chunk)
            if flip_perms is not None:
                yf = _run_padded(model, flip_inputs(x, flip_perms[0]), chunk)
                y = (y + flip_poses(yf, flip_perms[1])) / 2
        finally:
            model.validate_inputs = prev
        return y.float().cpu().numpy()
    finally:
        model.train(was_training)


def lift_sequences(model: TemporalLifter, inputs: Sequence, **kwargs) -> list[np.ndarray]:
    """:func:`lift_sequence` over a list of sequences."""
    return [lift_sequence(model, x, **kwargs) for x in inputs]
