"""Inference-only form of the lifter: BatchNorm folded into the convolutions.

In eval mode every ``Conv1d -> BatchNorm1d`` pair is one affine map, so it can
be replaced by a single convolution with a bias:

    W' = W * gamma / sqrt(var + eps)        (per output channel)
    b' = beta - mean * gamma / sqrt(var + eps)

:func:`fold_batchnorm` does this once and returns a :class:`FoldedNetwork`
holding plain tensors (no autograd, no BatchNorm, no dropout). Its layers,
:attr:`FoldedNetwork.layers`, are the one description that the whole-sequence
engine, the streaming lifter and the ONNX exporter all read.

Layer list, in order (``kind``, ``weight (C_out, C_in, k)``, ``bias (C_out,)``,
``dilation``), with ReLU after every layer except ``shrink``::

    expand            k = widths[0], dilation 1
    block{i}.conv     k = widths[i+1], dilation prod(widths[:i+1])
    block{i}.conv1x1  k = 1          (its output is added to the cropped block input)
    shrink            k = 1, no ReLU
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from poselift.core.windows import Windowed, target_offset
from poselift.model.tcn import TemporalLifter

__all__ = ["FoldedLayer", "FoldedNetwork", "fold_batchnorm", "folded"]


@dataclass
class FoldedLayer:
    """One convolution with BatchNorm folded in.

    Attributes:
        name: ``expand``, ``block{i}.conv``, ``block{i}.conv1x1`` or ``shrink``.
        weight: ``(C_out, C_in, k)``.
        bias: ``(C_out,)``.
        dilation: temporal dilation of the kernel.
        relu: ReLU after the layer.
    """

    name: str
    weight: torch.Tensor
    bias: torch.Tensor
    dilation: int = 1
    relu: bool = True

    @property
    def width(self) -> int:
        return int(self.weight.shape[2])

    @property
    def span(self) -> int:
        """Input frames one output frame of this layer sees, minus one."""
        return (self.width - 1) * self.dilation


def _fold(conv: nn.Conv1d, bn: nn.BatchNorm1d | None, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    w = conv.weight.detach().to(torch.float64)
    b = conv.bias.detach().to(torch.float64) if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64,
                                                                                      device=w.device)
    if bn is not None:
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
        w = w * scale[:, None, None]
        b = (b - bn.running_mean.detach().double()) * scale + bn.bias.detach().double()
    return w.to(dtype).contiguous(), b.to(dtype).contiguous()


class FoldedNetwork(Windowed, nn.Module):
    """A :class:`~poselift.model.tcn.TemporalLifter` in eval mode with BatchNorm folded in.

    Same maths as ``model.eval()(x)``; build it with :func:`fold_batchnorm`.

    Shapes:
        ``forward``: ``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)``.
    """

    def __init__(self, layers: list[FoldedLayer], widths: tuple[int, ...], causal: bool, in_joints: int,
                 out_joints: int, in_features: int) -> None:
        super().__init__()
        self.layers = layers
        self.widths, self.causal = tuple(widths), causal
        self.in_joints, self.out_joints, self.in_features = in_joints, out_joints, in_features
        # register the tensors so .to(device) / state_dict see them
        for i, layer in enumerate(layers):
            self.register_buffer(f"w{i}", layer.weight, persistent=False)
            self.register_buffer(f"b{i}", layer.bias, persistent=False)

    def _apply(self, fn, recurse=True):  # keep FoldedLayer tensors in sync with the buffers after .to()
        out = super()._apply(fn, recurse)
        for i, layer in enumerate(self.layers):
            layer.weight, layer.bias = getattr(self, f"w{i}"), getattr(self, f"b{i}")
        return out

    @property
    def channels(self) -> int:
        return int(self.layers[0].weight.shape[0])

    def flops_per_frame(self) -> int:
        """Floating-point operations (2 per multiply-add) per output frame of a long sequence."""
        return int(sum(2 * layer.weight.numel() for layer in self.layers))

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)``."""
        b, t, j, f = x.shape
        if j != self.in_joints or f != self.in_features:
            raise ValueError(f"expected (B, T, {self.in_joints}, {self.in_features}), got {tuple(x.shape)}")
        if t < self.receptive_field:
            raise ValueError(f"sequence too short: {t} frames for a receptive field of {self.receptive_field}")
        h = x.reshape(b, t, j * f).transpose(1, 2)
        layers = self.layers
        e = layers[0]
        h = nn.functional.conv1d(h, e.weight, e.bias).relu_()
        for i in range((len(layers) - 2) // 2):
            conv, conv1 = layers[1 + 2 * i], layers[2 + 2 * i]
            span = conv.span
            start = target_offset(span + 1, self.causal)
            res = h[:, :, start : h.shape[2] - span + start]
            y = nn.functional.conv1d(h, conv.weight, conv.bias, dilation=conv.dilation).relu_()
            y = nn.functional.conv1d(y, conv1.weight, conv1.bias).relu_()
            h = y.add_(res)
        s = layers[-1]
        out = nn.functional.conv1d(h, s.weight, s.bias)
        return out.transpose(1, 2).reshape(b, -1, self.out_joints, 3)


def fold_batchnorm(model: TemporalLifter, dtype: torch.dtype | None = None) -> FoldedNetwork:
    """Fold a trained lifter's BatchNorm layers into its convolutions (eval-mode maths).

    Args:
        model: the lifter (its running statistics are used; it is not modified).
        dtype: dtype of the folded tensors (default: the model's). Folding is
            done in float64 either way.

    Returns:
        a :class:`FoldedNetwork` on the model's device.
    """
    dtype = dtype or model.expand_conv.weight.dtype
    layers = [FoldedLayer("expand", *_fold(model.expand_conv, model.expand_bn, dtype))]
    for i in range(len(model.widths) - 1):
        w, b = _fold(model.block_convs[2 * i], model.block_bns[2 * i], dtype)
        layers.append(FoldedLayer(f"block{i}.conv", w, b, dilation=model._dilations[i]))
        w, b = _fold(model.block_convs[2 * i + 1], model.block_bns[2 * i + 1], dtype)
        layers.append(FoldedLayer(f"block{i}.conv1x1", w, b))
    layers.append(FoldedLayer("shrink", *_fold(model.shrink, None, dtype), relu=False))
    return FoldedNetwork(layers, model.widths, model.causal, model.in_joints, model.out_joints, model.in_features)


def _weights_key(model: TemporalLifter) -> tuple:
    # in-place updates (optimiser steps, load_state_dict) bump a tensor's version counter
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in
                 list(model.parameters()) + list(model.buffers()))


def folded(model: TemporalLifter | FoldedNetwork) -> FoldedNetwork:
    """The model's BatchNorm-folded inference copy, cached until its weights change."""
    if isinstance(model, FoldedNetwork):
        return model
    key = _weights_key(model)
    cache = model.__dict__.get("_folded_cache")
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, fold_batchnorm(model))
        model.__dict__["_folded_cache"] = cache
    return cache[1]
