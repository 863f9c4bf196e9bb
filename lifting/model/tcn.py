"""The temporal lifter: a dilated temporal convolution network over 2D keypoints.

Architecture (VideoPose3D, Pavllo et al. 2019), for kernel widths
``(w0, w1, ..., wn)``:

* *expand*: Conv1d with kernel ``w0`` from ``J_in * F`` to ``C`` channels, BN, ReLU, dropout;
* one residual block per further width ``wi``: Conv1d (kernel ``wi``, dilation
  ``w0 * ... * w(i-1)``), BN, ReLU, dropout, Conv1d 1x1, BN, ReLU, dropout, plus the
  block input cropped to the output length (the centre crop, or the most recent
  frames when causal);
* *shrink*: Conv1d 1x1 from ``C`` to ``J_out * 3``.

All convolutions are "valid", so ``T`` input frames give ``T - rf + 1`` output
frames with receptive field ``rf = prod(widths)``. Output frame ``i`` sees
input frames ``[i, i + rf - 1]`` and estimates the pose at the window centre
(``causal=False``) or at its last frame (``causal=True``, usable in real time).

The same weights run in two forms:

* **dilated** (:meth:`TemporalLifter.forward`): whole sequences, every output
  frame, each intermediate activation computed once (about 17 M multiply-adds
  per frame for 243 frames, 1024 channels);
* **strided** (:meth:`TemporalLifter.forward_windows`): stride = kernel width
  instead of dilation, exactly one output per ``rf``-frame window; far cheaper
  for training on randomly sampled windows.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from poselift.core.errors import InputError, check_finite
from poselift.core.windows import Windowed
from poselift.model.plan import Block, ConvSpec, network_plan
from poselift.model.strided import DROPOUT_RNGS, strided_forward

__all__ = ["TemporalLifter", "randomised"]


class TemporalLifter(Windowed, nn.Module):
    """Dilated temporal convolution lifter (VideoPose3D architecture).

    Args:
        in_joints: joints of the 2D input ``J_in``.
        out_joints: joints of the 3D output ``J_out`` (the trajectory model uses 1).
        widths: odd kernel widths; receptive field is their product
            (``(3, 3, 3)`` -> 27, ``(3,) * 4`` -> 81, ``(3,) * 5`` -> 243). The single-frame baseline is
            ``(1, 1, 1)``: the depth of the 27-frame model (two residual blocks) with kernel width 1, as
            VideoPose3D compares them. ``(1,)`` also sees one frame but has no residual block at all (22,323
            parameters instead of 286,515 at 256 channels and 17 joints; 19,757 / 283,949 with HumanEva's 15) and costs millimetres; it is not the
            baseline (:data:`poselift.core.windows.STANDARD_WIDTHS`).
        channels: hidden channels ``C``.
        dropout: dropout probability.
        causal: estimate the last frame of each window instead of the centre.
        in_features: values per input joint ``F`` (2 for x, y; 3 with confidence).
        validate_inputs: check every input for NaN/inf (``forward``; ``forward_windows`` unless told otherwise
            per call, as the trainer does: its window bank checked every window once).
        dropout_rng: how the strided form draws dropout masks by default
            (:data:`~poselift.model.strided.DROPOUT_RNGS`; ``forward_windows`` may override it per call).

    The wiring is :attr:`plan` (:class:`~poselift.model.plan.NetworkPlan`), which every form reads.

    Shapes:
        ``forward``: ``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)``.
        ``forward_windows``: ``(B, rf, J_in, F)`` -> ``(B, 1, J_out, 3)``.

    With 17 joints in and out and 1024 channels the parameter counts are
    8,555,571 / 12,753,971 / 16,952,371 for 3, 4, 5 widths of 3.
    """

    def __init__(
        self,
        in_joints: int,
        out_joints: int,
        widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        dropout: float = 0.25,
        causal: bool = False,
        in_features: int = 2,
        *,
        validate_inputs: bool = True,
        dropout_rng: str = "compat",
    ) -> None:
        super().__init__()
        plan = network_plan(in_joints, out_joints, widths, channels, causal, in_features)
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {dropout}")
        self.plan = plan
        self.in_joints, self.out_joints, self.in_features = in_joints, out_joints, in_features
        self.widths, self.channels, self.causal = plan.widths, channels, causal
        self.validate_inputs = bool(validate_inputs)
        if dropout_rng not in DROPOUT_RNGS:
            raise InputError(f"dropout_rng must be one of {list(DROPOUT_RNGS)}, got {dropout_rng!r}")
        self.dropout_rng = dropout_rng  # strided form: nn.Dropout's own draws ("fast": cheaper masks, other draws)

        def conv(spec):
            return nn.Conv1d(spec.c_in, spec.c_out, spec.width, dilation=spec.dilation, bias=not spec.batchnorm)

        self.expand_conv = conv(plan.expand)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.block_convs = nn.ModuleList()
        self.block_bns = nn.ModuleList()
        for block in plan.blocks:
            for spec in (block.conv, block.conv1x1):
                self.block_convs.append(conv(spec))
                self.block_bns.append(nn.BatchNorm1d(channels, momentum=0.1))
        self.shrink = conv(plan.shrink)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)

    def layer_modules(self) -> list[tuple[ConvSpec, nn.Conv1d, nn.BatchNorm1d | None]]:
        """``(spec, Conv1d, BatchNorm1d or None)`` for every layer of :attr:`plan`, in its order."""
        bns = [self.expand_bn, *self.block_bns, None]
        convs = [self.expand_conv, *self.block_convs, self.shrink]
        return [(spec, c, bn) for spec, c, bn in zip(self.plan.layers, convs, bns)]

    # -- properties ------------------------------------------------------------
    def set_bn_momentum(self, momentum: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum

    def extra_repr(self) -> str:
        return (
            f"in_joints={self.in_joints}, out_joints={self.out_joints}, widths={self.widths}, "
            f"channels={self.channels}, causal={self.causal}, in_features={self.in_features}, "
            f"receptive_field={self.receptive_field}"
        )

    def config(self) -> dict:
        """Constructor arguments, for checkpoints."""
        return {
            "in_joints": self.in_joints, "out_joints": self.out_joints, "widths": list(self.widths),
            "channels": self.channels, "dropout": self.drop.p, "causal": self.causal,
            "in_features": self.in_features,
        }

    # -- input checks --------------------------------------------------------------
    def _check(self, x: torch.Tensor, windows: bool, finite: bool | None = None) -> None:
        """Input checks; every failure is an :class:`~poselift.core.errors.InputError` naming the problem
        (NaN/inf: the first bad sequence, frame and joint)."""
        if not isinstance(x, torch.Tensor):
            raise InputError(f"expected a torch.Tensor (batch, frames, joints, features), got {type(x).__name__}")
        if not x.is_floating_point():
            raise InputError(f"expected a floating-point input tensor, got dtype {x.dtype}")
        if x.ndim != 4:
            raise InputError(f"expected input (batch, frames, joints, features), got shape {tuple(x.shape)}")
        _, t, j, f = x.shape
        if j != self.in_joints:
            raise InputError(f"wrong joint count: the model takes {self.in_joints} joints, input has {j}")
        if f != self.in_features:
            raise InputError(
                f"wrong feature count: the model takes {self.in_features} values per joint, input has {f}"
            )
        rf = self.receptive_field
        if windows and t != rf:
            raise InputError(f"forward_windows needs windows of exactly {rf} frames, got {t}")
        if t < rf:
            raise InputError(
                f"sequence too short: {t} frames for a receptive field of {rf} "
                f"(pad the sequence, e.g. with poselift.inference.lift_sequence)"
            )
        if x.shape[0] == 0:
            raise InputError(f"empty batch: input of shape {tuple(x.shape)}")
        if self.validate_inputs if finite is None else finite:
            check_finite(x, "input")

    # -- forward passes --------------------------------------------------------
    def _block(self, x, block: Block, conv, bn, conv1, bn1):
        span, start = block.span, block.residual
        res = x[:, :, start : x.shape[2] - span + start]  # the residual: the block input at the target frame
        y = self.drop(self.relu(bn(conv(x))))
        y = self.drop(self.relu(bn1(conv1(y))))
        return res + y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dilated form. ``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)``."""
        self._check(x, windows=False)
        b, t, j, f = x.shape
        h = self.drop(self.relu(self.expand_bn(self.expand_conv(x.reshape(b, t, j * f).transpose(1, 2)))))
        for block in self.plan.blocks:
            i = 2 * block.index
            h = self._block(h, block, self.block_convs[i], self.block_bns[i], self.block_convs[i + 1],
                            self.block_bns[i + 1])
        out = self.shrink(h)  # (B, J_out*3, T')
        return out.transpose(1, 2).reshape(b, -1, self.out_joints, 3)

    def forward_windows(self, x: torch.Tensor, *, validate: bool | None = None,
                        dropout_rng: str | None = None) -> torch.Tensor:
        """Strided (training) form: ``(B, rf, J_in, F)`` -> ``(B, 1, J_out, 3)``, as matrix products
        (:mod:`poselift.model.strided`).

        Args:
            x: windows of exactly ``rf`` frames.
            validate: check ``x`` for NaN/inf (default: :attr:`validate_inputs`); shapes are always checked.
            dropout_rng: how dropout masks are drawn (default: :attr:`dropout_rng`).
        """
        self._check(x, windows=True, finite=validate)
        return strided_forward(self, x, self.dropout_rng if dropout_rng is None else dropout_rng)


def randomised(model: TemporalLifter, seed: int = 0) -> TemporalLifter:
    """``model`` with non-trivial BatchNorm statistics and affine parameters (from ``seed``), in eval mode, so
    that eval-mode outputs and folding are not degenerate (fresh BatchNorm layers are the identity); for tests
    and benchmarks of untrained models. Modifies ``model`` in place and returns it."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g, dtype=m.running_mean.dtype) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g, dtype=m.running_var.dtype) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g, dtype=m.weight.dtype) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g, dtype=m.bias.dtype) * 0.1)
    return model.eval()
