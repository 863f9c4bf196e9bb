"""Inference-only form of the lifter: BatchNorm folded into the convolutions.

In eval mode every ``Conv1d -> BatchNorm1d`` pair is one affine map, so it can
be replaced by a single convolution with a bias:

    W' = W * gamma / sqrt(var + eps)        (per output channel)
    b' = beta - mean * gamma / sqrt(var + eps)

:func:`fold_batchnorm` does this once and returns a :class:`FoldedNetwork`
holding plain tensors (no autograd, no BatchNorm, no dropout). Its layers,
:attr:`FoldedNetwork.layers`, are the one description that the whole-sequence
engine, the streaming lifter and the ONNX exporter all read.

One folded layer per convolution of the network's plan
(:class:`~poselift.model.plan.NetworkPlan`: names, widths, dilations, where each residual starts), in
the plan's order, each a ``weight (C_out, C_in, k)`` and a ``bias (C_out,)``;
:meth:`FoldedNetwork.split` hands them out as ``(expand, [(conv, conv1x1) per block], shrink)``.

:func:`folded` is the one way to get a model's folded form: cached on the model until its weights
change, in another dtype on request.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from poselift.core.windows import Windowed
from poselift.model.plan import ConvSpec, NetworkPlan
from poselift.model.tcn import TemporalLifter

__all__ = ["FoldedLayer", "FoldedNetwork", "fold_batchnorm", "folded", "NUMPY_DTYPES"]

NUMPY_DTYPES = {torch.float16: "float16", torch.float32: "float32", torch.float64: "float64"}
"""The numpy name of each dtype a folded network can run in (for range checks of the input before conversion)."""


@dataclass
class FoldedLayer:
    """One convolution with BatchNorm folded in.

    Attributes:
        spec: the layer in the network's plan (name, width, dilation, ReLU).
        weight: ``(C_out, C_in, k)``.
        bias: ``(C_out,)``.
    """

    spec: ConvSpec
    weight: torch.Tensor
    bias: torch.Tensor

    @property
    def name(self) -> str:
        """``expand``, ``block{i}.conv``, ``block{i}.conv1x1`` or ``shrink``."""
        return self.spec.name

    @property
    def dilation(self) -> int:
        return self.spec.dilation

    @property
    def relu(self) -> bool:
        return self.spec.relu

    @property
    def width(self) -> int:
        return self.spec.width

    @property
    def span(self) -> int:
        """Input frames one output frame of this layer sees, minus one."""
        return self.spec.span


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

    Same maths as ``model.eval()(x)``; build it with :func:`folded` (or :func:`fold_batchnorm`).

    Args:
        plan: the network's wiring.
        layers: one :class:`FoldedLayer` per layer of ``plan.layers``, in that order (checked).

    Shapes:
        ``forward``: ``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)``.
    """

    def __init__(self, plan: NetworkPlan, layers: list[FoldedLayer]) -> None:
        super().__init__()
        plan.split(layers)  # checks the names against the plan
        self.plan, self.layers = plan, list(layers)
        self.widths, self.causal = plan.widths, plan.causal
        self.in_joints, self.out_joints, self.in_features = plan.in_joints, plan.out_joints, plan.in_features
        # register the tensors so .to(device) / state_dict see them
        for i, layer in enumerate(self.layers):
            self.register_buffer(f"w{i}", layer.weight, persistent=False)
            self.register_buffer(f"b{i}", layer.bias, persistent=False)

    def _apply(self, fn, recurse=True):  # keep FoldedLayer tensors in sync with the buffers after .to()
        out = super()._apply(fn, recurse)
        for i, layer in enumerate(self.layers):
            layer.weight, layer.bias = getattr(self, f"w{i}"), getattr(self, f"b{i}")
        return out

    def split(self) -> tuple[FoldedLayer, list[tuple[FoldedLayer, FoldedLayer]], FoldedLayer]:
        """``(expand, [(block conv, block conv1x1), ...], shrink)``."""
        return self.plan.split(self.layers)

    @property
    def channels(self) -> int:
        return self.plan.channels

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].weight.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].weight.device

    def converted(self, dtype: torch.dtype | None = None, device: str | torch.device | None = None) -> FoldedNetwork:
        """This network with its tensors in ``dtype`` and on ``device``: a new network (``self`` when nothing
        changes; this one is never modified, unlike ``.to()``)."""
        dtype = dtype or self.dtype
        device = torch.device(device) if device is not None else self.device
        if dtype == self.dtype and device == self.device:
            return self
        return FoldedNetwork(self.plan, [FoldedLayer(l.spec, l.weight.to(device, dtype), l.bias.to(device, dtype))
                                         for l in self.layers])

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
        expand, blocks, shrink = self.split()
        h = x.reshape(b, t, j * f).transpose(1, 2)
        h = nn.functional.conv1d(h, expand.weight, expand.bias).relu_()
        for block, (conv, conv1) in zip(self.plan.blocks, blocks):
            span, start = block.span, block.residual
            res = h[:, :, start : h.shape[2] - span + start]
            y = nn.functional.conv1d(h, conv.weight, conv.bias, dilation=conv.dilation).relu_()
            y = nn.functional.conv1d(y, conv1.weight, conv1.bias).relu_()
            h = y.add_(res)
        out = nn.functional.conv1d(h, shrink.weight, shrink.bias)
        return out.transpose(1, 2).reshape(b, -1, self.out_joints, 3)


def fold_batchnorm(model: TemporalLifter, dtype: torch.dtype | None = None) -> FoldedNetwork:
    """Fold a trained lifter's BatchNorm layers into its convolutions (eval-mode maths), uncached
    (:func:`folded` caches).

    Args:
        model: the lifter (its running statistics are used; it is not modified).
        dtype: dtype of the folded tensors (default: the model's). Folding is
            done in float64 either way.

    Returns:
        a :class:`FoldedNetwork` on the model's device.
    """
    dtype = dtype or model.expand_conv.weight.dtype
    layers = [FoldedLayer(spec, *_fold(conv, bn, dtype)) for spec, conv, bn in model.layer_modules()]
    return FoldedNetwork(model.plan, layers)


def _weights_key(model: TemporalLifter) -> tuple:
    # in-place updates (optimiser steps, load_state_dict) bump a tensor's version counter
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in
                 list(model.parameters()) + list(model.buffers()))


def folded(model: Any, dtype: torch.dtype | None = None) -> FoldedNetwork:
    """The model's BatchNorm-folded inference form.

    Args:
        model: a :class:`~poselift.model.tcn.TemporalLifter` (folded once and cached on it until its weights
            change), a :class:`FoldedNetwork` (used as is), or anything with a ``.model`` attribute holding
            one of those (e.g. :class:`~poselift.inference.Lifter`).
        dtype: the folded tensors' dtype (default: the model's). A lifter is then folded in float64 straight
            to ``dtype`` (not cached); a folded network is converted (a new one).

    Shared: do not modify the result in place (``.to()``); :meth:`FoldedNetwork.converted` makes a copy.
    """
    if not isinstance(model, (TemporalLifter, FoldedNetwork)) and isinstance(
            getattr(model, "model", None), (TemporalLifter, FoldedNetwork)):
        model = model.model
    if isinstance(model, FoldedNetwork):
        return model.converted(dtype)
    if not isinstance(model, TemporalLifter):
        raise TypeError(f"expected a TemporalLifter or FoldedNetwork, got {type(model).__name__}")
    if dtype is not None and dtype != model.expand_conv.weight.dtype:
        return fold_batchnorm(model, dtype)
    key = _weights_key(model)
    cache = model.__dict__.get("_folded_cache")
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, fold_batchnorm(model))
        model.__dict__["_folded_cache"] = cache
    return cache[1]
