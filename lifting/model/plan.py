"""The network's wiring, written down once: which convolutions, in what order, joined how.

Every form of the lifter reads a :class:`NetworkPlan` and differs from the others only in how it
executes it: the trainable dilated form (:class:`~poselift.model.tcn.TemporalLifter`), its strided
training form (:mod:`~poselift.model.strided`), the BatchNorm-folded form
(:mod:`~poselift.model.folded`), the per-frame streaming form (:mod:`~poselift.model.streaming`) and
the ONNX graphs (:mod:`~poselift.model.onnx`).

For kernel widths ``(w0, w1, ..., wn)`` the plan is (``C`` channels, ReLU after every layer except
``shrink``, BatchNorm after every layer except ``shrink`` in the trainable form)::

    expand            Conv1d J_in * F -> C,  kernel w0, dilation 1
    block{i}.conv     Conv1d C -> C,         kernel w(i+1), dilation w0 * ... * wi
    block{i}.conv1x1  Conv1d C -> C,         kernel 1 (its output plus the block input at the target frame)
    shrink            Conv1d C -> J_out * 3, kernel 1, with a bias

A block's convolution reaches over ``span + 1 = (w - 1) d + 1`` frames of its input; the residual is
the block input at the frame its output stands for, :func:`~poselift.core.windows.target_offset`
of that reach (the centre, or the newest frame when causal): :attr:`Block.residual`. In the strided
form (stride = kernel width) the same frame is tap :attr:`Block.tap` of each group of ``w`` rows, and
``residual = tap * dilation``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from poselift.core.errors import InputError
from poselift.core.windows import Windowed, target_offset

__all__ = ["ConvSpec", "Block", "NetworkPlan", "network_plan"]


@dataclass(frozen=True)
class ConvSpec:
    """One convolution of the network.

    Attributes:
        name: ``expand``, ``block{i}.conv``, ``block{i}.conv1x1`` or ``shrink``.
        c_in, c_out: input and output channels.
        width: kernel width (taps).
        dilation: temporal dilation of the kernel.
        relu: ReLU after the layer (every layer but ``shrink``).
        batchnorm: BatchNorm after the layer in the trainable form (every layer but ``shrink``, which has a
            bias instead).
    """

    name: str
    c_in: int
    c_out: int
    width: int
    dilation: int = 1
    relu: bool = True
    batchnorm: bool = True

    @property
    def span(self) -> int:
        """Input frames one output frame of this layer sees, minus one: ``(width - 1) * dilation``."""
        return (self.width - 1) * self.dilation


@dataclass(frozen=True)
class Block:
    """One residual block: ``relu(conv1x1(relu(conv(h)))) + h[target frame]``.

    Attributes:
        index: ``i`` of ``block{i}``.
        conv: the dilated convolution (kernel ``w(i+1)``).
        conv1x1: the 1x1 convolution after it.
        tap: which of the ``width`` taps is the target frame (the residual in the strided form).
        residual: where the residual slice starts within the block's reach of ``span + 1`` frames
            (``tap * dilation``).
    """

    index: int
    conv: ConvSpec
    conv1x1: ConvSpec
    tap: int
    residual: int

    @property
    def width(self) -> int:
        return self.conv.width

    @property
    def dilation(self) -> int:
        return self.conv.dilation

    @property
    def span(self) -> int:
        return self.conv.span


@dataclass(frozen=True)
class NetworkPlan(Windowed):
    """The whole network: expand, residual blocks, shrink (build it with :func:`network_plan`).

    Attributes:
        in_joints, out_joints, in_features, channels, widths, causal: the constructor arguments of
            :class:`~poselift.model.tcn.TemporalLifter`.
        expand, blocks, shrink: the layers, as :class:`ConvSpec` and :class:`Block`.
    """

    in_joints: int
    out_joints: int
    in_features: int
    channels: int
    widths: tuple[int, ...]
    causal: bool
    expand: ConvSpec
    blocks: tuple[Block, ...]
    shrink: ConvSpec

    @property
    def layers(self) -> tuple[ConvSpec, ...]:
        """Every convolution in execution order: expand, (conv, conv1x1) per block, shrink."""
        return (self.expand, *(c for b in self.blocks for c in (b.conv, b.conv1x1)), self.shrink)

    def split(self, items: Sequence) -> tuple:
        """``items``, one per layer in :attr:`layers` order (e.g. folded weights), as
        ``(expand item, [(block conv item, block conv1x1 item), ...], shrink item)``.

        Items with a ``name`` attribute are checked against the plan's layer names.
        """
        want = [c.name for c in self.layers]
        names = [getattr(it, "name", w) for it, w in zip(items, want)]
        if len(items) != len(want) or names != want:
            got = [getattr(it, "name", "?") for it in items]
            raise ValueError(f"unexpected layer list {got} (expected {want})")
        n = len(self.blocks)
        return items[0], [(items[1 + 2 * i], items[2 + 2 * i]) for i in range(n)], items[-1]


def network_plan(in_joints: int, out_joints: int, widths: Sequence[int] = (3, 3, 3), channels: int = 1024,
                 causal: bool = False, in_features: int = 2) -> NetworkPlan:
    """The :class:`NetworkPlan` of a lifter with these constructor arguments (checked).

    Raises:
        InputError: no widths, an even or non-positive width, or a non-positive size.
    """
    widths = tuple(int(w) for w in widths)
    if not widths:
        raise InputError("widths must hold at least one kernel width")
    for w in widths:
        if w < 1 or w % 2 == 0:
            raise InputError(f"kernel widths must be odd and positive, got {widths}")
    if in_joints < 1 or out_joints < 1 or channels < 1 or in_features < 1:
        raise InputError("in_joints, out_joints, channels and in_features must be positive")
    causal = bool(causal)
    expand = ConvSpec("expand", in_joints * in_features, channels, widths[0])
    blocks = []
    dilation = widths[0]
    for i, w in enumerate(widths[1:]):
        tap = target_offset(w, causal)
        conv = ConvSpec(f"block{i}.conv", channels, channels, w, dilation)
        blocks.append(Block(i, conv, ConvSpec(f"block{i}.conv1x1", channels, channels, 1), tap, tap * dilation))
        dilation *= w
    shrink = ConvSpec("shrink", channels, out_joints * 3, 1, relu=False, batchnorm=False)
    return NetworkPlan(in_joints, out_joints, in_features, channels, widths, causal, expand, tuple(blocks), shrink)
