"""Training windows gathered by index from sequences held as tensors.

:class:`WindowBank` concatenates all sequences (each padded at both ends by
repeating its edge frames) into one tensor. A training window for target
frame ``n`` is ``inputs[start[n] : start[n] + rf]``; a batch of windows is one
gather of the rows ``start[idx, None] + arange(rf)`` (``index_select``), with no
per-window Python loop and no stored copy of every window. The tensors can
live on the GPU.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from poselift.core.errors import InputError, check_finite, numeric_array
from poselift.core.windows import pad_edges, window_geometry

__all__ = ["WindowBank"]


class WindowBank:
    """Sequences packed for window sampling.

    Args:
        inputs: per sequence ``(T_i, J_in, F)`` normalised 2D (+ confidence).
        receptive_field: window length ``rf``.
        causal: windows end at their target frame instead of centring on it.
        targets: optional per sequence ``(T_i, J_out, 3)`` root-relative 3D.
        trajectories: optional per sequence ``(T_i, 3)`` root position, camera frame.
        intrinsics: optional per sequence ``(9,)`` normalised camera intrinsics.
        frame_stride: keep every ``frame_stride``-th frame of each sequence as a
            target (consecutive frames at 50 fps are nearly identical).
        frame_ranges: optional per sequence ``(start, stop)`` of the frames that
            may be targets (e.g. a labelled chunk); the whole sequence still
            provides context.
        device: where the tensors live.

    Attributes:
        num_windows: number of target frames.
    """

    def __init__(
        self,
        inputs: Sequence[np.ndarray],
        receptive_field: int,
        causal: bool = False,
        targets: Sequence[np.ndarray] | None = None,
        trajectories: Sequence[np.ndarray] | None = None,
        intrinsics: Sequence[np.ndarray] | None = None,
        frame_stride: int = 1,
        frame_ranges: Sequence[tuple[int, int]] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if not len(inputs):
            raise InputError("WindowBank needs at least one sequence")
        if frame_stride < 1:
            raise InputError(f"frame_stride must be >= 1, got {frame_stride}")
        rf = int(receptive_field)
        if rf < 1:
            raise InputError(f"receptive_field must be >= 1, got {receptive_field}")
        self.geometry = window_geometry(rf, causal)
        self.receptive_field, self.causal = rf, causal
        inputs = _checked_inputs(inputs)
        targets, trajectories, intrinsics = _checked_companions(len(inputs), targets, trajectories, intrinsics,
                                                                frame_ranges)
        padded, starts, frame_index, seq_index = _pack_sequences(
            inputs, targets, trajectories, intrinsics, frame_ranges, frame_stride, self.geometry.pad)
        dev = torch.device(device)
        self.device = dev
        self.inputs = torch.from_numpy(np.concatenate(padded)).to(dev)
        self.start = torch.from_numpy(np.concatenate(starts)).long().to(dev)
        self.frame = torch.from_numpy(np.concatenate(frame_index)).long().to(dev)
        self.seq = torch.from_numpy(np.concatenate(seq_index)).long().to(dev)
        self._arange = torch.arange(rf, device=dev)
        self.targets = self._pack(targets, frame_index)
        self.trajectories = self._pack(trajectories, frame_index)
        self.intrinsics = (
            None if intrinsics is None
            else torch.from_numpy(np.stack([np.asarray(c, np.float32) for c in intrinsics])).to(dev)
        )
        self.num_sequences = len(inputs)

    def _pack(self, seqs, frame_index):
        if seqs is None:
            return None
        rows = [np.asarray(s, dtype=np.float32)[f] for s, f in zip(seqs, frame_index)]
        return torch.from_numpy(np.concatenate(rows)).to(self.device)

    @property
    def num_windows(self) -> int:
        return int(self.start.numel())

    def __len__(self) -> int:
        return self.num_windows

    def windows(self, idx: torch.Tensor) -> torch.Tensor:
        """``(B,)`` window indices -> ``(B, rf, J_in, F)`` input windows."""
        rows = (self.start[idx, None] + self._arange).reshape(-1)
        # index_select of whole rows of the (frames, J*F) view: one copy, ~2x faster than advanced indexing
        flat = self.inputs.view(self.inputs.shape[0], -1).index_select(0, rows)
        return flat.view(len(idx), self.receptive_field, *self.inputs.shape[1:])

    def centre_inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """``(B,)`` -> ``(B, J_in, F)``: the input at each window's target frame."""
        return self.inputs[self.start[idx] + self.geometry.before]

    def vp3d_sample_list(self, mirrored: bool) -> np.ndarray:
        """The samples in VideoPose3D's list order (``ChunkedGenerator`` with chunk length 1): sequence after
        sequence, each sequence's windows in frame order, then (``mirrored``) the same windows again mirrored.

        Returns:
            ``(N,)`` or ``(2 N,)`` int64 sample indices as :class:`~poselift.training.trainer.Trainer` reads them
            (``k < N``: window ``k``; ``k >= N``: window ``k - N`` mirrored), so that a permutation of this list
            indexes the epoch VideoPose3D would feed.
        """
        n = self.num_windows
        seq = self.seq.cpu().numpy()
        bounds = np.flatnonzero(np.diff(seq)) + 1
        parts = np.split(np.arange(n, dtype=np.int64), bounds)
        if not mirrored:
            return np.concatenate(parts)
        return np.concatenate([np.concatenate([p, p + n]) for p in parts])

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``batch_size`` random window indices (with replacement)."""
        return torch.randint(self.num_windows, (batch_size,), generator=generator).to(self.device)


def _checked_inputs(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The input sequences as float arrays, each ``(T_i, J, F)`` with ``T_i > 0`` and one ``(J, F)`` for all."""
    inputs = [_float_array(x, f"input sequence {i}") for i, x in enumerate(inputs)]
    for i, x in enumerate(inputs):
        if x.ndim != 3:
            raise InputError(f"input sequence {i}: expected (frames, joints, features), got shape {x.shape}")
        if len(x) == 0:
            raise InputError(f"input sequence {i}: empty sequence (0 frames)")
    shapes = {x.shape[1:] for x in inputs}
    if len(shapes) != 1:
        raise InputError(f"all input sequences must have the same (joints, features), got {sorted(shapes)}")
    return inputs


def _checked_companions(n: int, targets, trajectories, intrinsics, frame_ranges):
    """Check the optional per-sequence arrays' counts (one per input sequence) and shapes: targets
    ``(T_i, J_out, 3)`` with one ``J_out``, trajectories ``(T_i, 3)``, intrinsics ``(9,)``.

    Returns:
        ``(targets, trajectories, intrinsics)`` as float arrays (``None`` where not given).
    """
    for name, seqs in (("targets", targets), ("trajectories", trajectories), ("intrinsics", intrinsics),
                       ("frame_ranges", frame_ranges)):
        if seqs is not None and len(seqs) != n:
            raise InputError(f"{len(seqs)} {name} for {n} input sequences")
    if targets is not None:
        targets = [_float_array(y, f"targets of sequence {i}") for i, y in enumerate(targets)]
        tshapes = {y.shape[1:] for y in targets}
        if any(y.ndim != 3 or y.shape[-1] != 3 for y in targets) or len(tshapes) != 1:
            raise InputError(f"targets must all be (frames, joints, 3) with the same joints, got shapes "
                             f"{[y.shape for y in targets][:5]}")
    if trajectories is not None:
        trajectories = [_float_array(y, f"trajectories of sequence {i}") for i, y in enumerate(trajectories)]
        if any(y.ndim != 2 or y.shape[-1] != 3 for y in trajectories):
            raise InputError(f"trajectories must be (frames, 3), got shapes {[y.shape for y in trajectories][:5]}")
    if intrinsics is not None:
        intrinsics = [_float_array(c, f"intrinsics of sequence {i}") for i, c in enumerate(intrinsics)]
        if any(c.shape != (9,) for c in intrinsics):
            raise InputError(f"intrinsics must be (9,) per sequence, got shapes {[c.shape for c in intrinsics][:5]}")
    return targets, trajectories, intrinsics


def _pack_sequences(inputs, targets, trajectories, intrinsics, frame_ranges, frame_stride: int,
                    pad: tuple[int, int]):
    """Pad each sequence by its edge frames and list its target frames (checking lengths and finiteness).

    Returns:
        per sequence: the padded input ``(before + T_i + after, J, F)``, the start of each target's
        window in the concatenated padded inputs, the target frames and the sequence index.
    """
    before, after = pad
    padded, starts, frame_index, seq_index = [], [], [], []
    offset = 0
    for i, x in enumerate(inputs):
        t = len(x)
        check_finite(x, f"input sequence {i}")
        for name, seqs in (("target", targets), ("trajectory", trajectories)):
            if seqs is None:
                continue
            if len(seqs[i]) != t:
                raise InputError(f"sequence {i}: mismatched lengths: {t} input frames but {len(seqs[i])} "
                                 f"{name} frames")
            check_finite(seqs[i], f"{name} sequence {i}")
        if intrinsics is not None:
            check_finite(intrinsics[i], f"intrinsics of sequence {i}")
        padded.append(pad_edges(x, before, after))
        try:
            lo, hi = (0, t) if frame_ranges is None else (int(frame_ranges[i][0]), int(frame_ranges[i][1]))
        except (TypeError, ValueError, IndexError):
            raise InputError(f"sequence {i}: frame range must be (start, stop), got {frame_ranges[i]!r}") from None
        if not 0 <= lo <= hi <= t:
            raise InputError(f"sequence {i}: frame range ({lo}, {hi}) outside 0..{t}")
        frames = np.arange(lo, hi, frame_stride)
        # with edge padding, the window of frame f starts at padded index f
        starts.append(offset + frames)
        frame_index.append(frames)
        seq_index.append(np.full(len(frames), i))
        offset += t + before + after
    return padded, starts, frame_index, seq_index


def _float_array(x, what: str) -> np.ndarray:
    return numeric_array(x, what, np.float32)
