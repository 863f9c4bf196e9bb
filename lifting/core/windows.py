"""Window geometry: which input frames an output frame sees, and how a sequence is padded.

The one place these rules are written down; the model in all its forms
(:mod:`poselift.model`), the training windows, inference and the exports
read them from here.

A temporal lifter with kernel widths ``(w0, w1, ...)`` sees
``receptive_field = w0 * w1 * ...`` input frames per output frame. The output
stands for one frame of its window, the *target*:

* centred (``causal=False``): the middle frame, ``(n - 1) // 2`` frames after the window's first;
* causal (``causal=True``): the last frame, so the pose is known as soon as the frame is (real time).

The same rule holds inside the network: a residual block whose kernel
reaches over ``span + 1`` frames adds the block input at
``target_offset(span + 1, causal)``.

To get one output per input frame a sequence is padded by repeating its
first frame ``before`` times and its last ``after`` times
(``before + after = receptive_field - 1``); a centred model therefore needs
``after`` future frames (its streaming latency), a causal one none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from poselift.core.errors import InputError

__all__ = [
    "STANDARD_WIDTHS",
    "receptive_field",
    "widths_for",
    "target_offset",
    "WindowGeometry",
    "window_geometry",
    "pad_edges",
    "Windowed",
]

STANDARD_WIDTHS: dict[int, tuple[int, ...]] = {
    1: (1, 1, 1),
    27: (3, 3, 3),
    81: (3, 3, 3, 3),
    243: (3, 3, 3, 3, 3),
}
"""Kernel widths of the standard receptive fields. The single-frame baseline (1) keeps the depth of the
27-frame model (two residual blocks, kernel width 1), as VideoPose3D's single-frame comparison does; widths
``(1,)`` would give a network with no residual block at all (22,323 parameters instead of 286,515 at
256 channels and 17 joints)."""


def receptive_field(widths: Sequence[int]) -> int:
    """Input frames one output frame depends on: the product of the kernel widths."""
    return math.prod(int(w) for w in widths)


def widths_for(rf: int) -> tuple[int, ...]:
    """The kernel widths of a standard receptive field (1, 27, 81 or 243); see :data:`STANDARD_WIDTHS`."""
    try:
        return STANDARD_WIDTHS[int(rf)]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"no standard kernel widths for a receptive field of {rf!r}; "
                         f"standard: {sorted(STANDARD_WIDTHS)} (or give the widths themselves)") from None


def target_offset(frames: int, causal: bool) -> int:
    """Index, within a window of ``frames`` frames, of the frame the window's output stands for."""
    if frames < 1:
        raise InputError(f"a window has at least one frame, got {frames}")
    return frames - 1 if causal else (frames - 1) // 2


@dataclass(frozen=True)
class WindowGeometry:
    """Where the target frame sits in a window of ``receptive_field`` frames.

    Attributes:
        receptive_field: window length.
        causal: the target is the last frame (else the centre).
    """

    receptive_field: int
    causal: bool

    @property
    def before(self) -> int:
        """Frames of the window before its target (edge frames to pad a sequence's start with)."""
        return target_offset(self.receptive_field, self.causal)

    @property
    def after(self) -> int:
        """Frames of the window after its target (edge frames to pad a sequence's end with)."""
        return self.receptive_field - 1 - self.before

    @property
    def pad(self) -> tuple[int, int]:
        """``(before, after)``: edge padding giving one output per input frame."""
        return self.before, self.after

    @property
    def latency(self) -> int:
        """Frames that must arrive after a frame before its pose can be computed (0 when causal)."""
        return self.after


def window_geometry(receptive_field: int, causal: bool) -> WindowGeometry:
    """The :class:`WindowGeometry` of a model with this receptive field."""
    if int(receptive_field) < 1:
        raise InputError(f"receptive_field must be >= 1, got {receptive_field}")
    return WindowGeometry(int(receptive_field), bool(causal))


def pad_edges(x, before: int, after: int, axis: int = 0):
    """Pad ``x`` along ``axis`` by repeating its first frame ``before`` times and its last ``after`` times.

    Works on numpy arrays and torch tensors (returns the same kind).
    """
    if hasattr(x, "narrow"):  # torch
        import torch

        dim = axis % x.ndim
        parts = []
        if before:
            parts.append(x.narrow(dim, 0, 1).expand(*[before if d == dim else -1 for d in range(x.ndim)]))
        parts.append(x)
        if after:
            parts.append(x.narrow(dim, x.shape[dim] - 1, 1).expand(*[after if d == dim else -1 for d in range(x.ndim)]))
        return torch.cat(parts, dim=dim)
    import numpy as np

    x = np.asarray(x)
    first = np.take(x, [0], axis=axis)
    last = np.take(x, [x.shape[axis] - 1], axis=axis)
    return np.concatenate([np.repeat(first, before, axis), x, np.repeat(last, after, axis)], axis=axis)


class Windowed:
    """Mixin for the forms of the lifter: ``receptive_field``, ``geometry`` and ``pad`` from the
    ``widths`` and ``causal`` attributes of the class it is mixed into."""

    widths: tuple[int, ...]
    causal: bool

    @property
    def receptive_field(self) -> int:
        """Input frames that one output frame depends on."""
        return receptive_field(self.widths)

    @property
    def geometry(self) -> WindowGeometry:
        """Where the target frame sits in the receptive field."""
        return window_geometry(self.receptive_field, self.causal)

    @property
    def pad(self) -> tuple[int, int]:
        """Edge frames ``(before, after)`` to pad a sequence with so that every input frame gets one output frame."""
        return self.geometry.pad
