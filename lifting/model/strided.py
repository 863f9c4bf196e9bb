"""The strided (training) form of :class:`~poselift.model.tcn.TemporalLifter`, as matrix products.

With stride equal to the kernel width the windows of each convolution do not
overlap, so the layer is a matrix product: activations kept channels-last as a
``(rows, channels)`` matrix, ``k`` consecutive rows regrouped as ``(rows / k,
k * channels)`` are exactly the unrolled (im2col) input of the next layer, a
free view. Every layer is then one GEMM, nothing is transposed between layers,
and BatchNorm runs on 2D ``(N, C)`` input (torch's vectorised channels-last
kernel). The weights are the model's own (Conv1d ``(C_out, C_in, k)`` used as
``(C_out, k * C_in)``); outputs equal the convolution form's to float rounding
(float64: ~1e-15), gradients and BatchNorm running statistics too.

Dropout on the CPU applies ReLU and a 0/1 mask in place, with the ``1 / (1 - p)``
scale folded into the BatchNorm affine parameters, and a backward that needs
only the output. The mask is drawn either exactly as ``nn.Dropout`` draws it
(``rng="compat"``: the same ``bernoulli_`` draws in the same order, so training
reproduces the convolution form's loss curve to float rounding) or from one
random byte per element (``rng="fast"``: the same distribution, a different
realisation; ~9x cheaper to draw on CPUs where ``bernoulli_`` costs ~8 ns per
element). Off the CPU, or under autocast, plain autograd operations are used
(``F.linear``, slicing, ``F.dropout``).

Where the time went before (27 frames x 256 channels, batch 1024, one thread):
the strided ``conv1d`` backward and forward (166 ms of 327 ms per step),
BatchNorm on ``(B, C, T)`` (56 ms), dropout masks (41 ms), mirroring copies of
the whole batch (7 ms); see ``experiments/bench/README.md``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["strided_forward", "dropout_keep_mask", "DROPOUT_RNGS"]

DROPOUT_RNGS = ("compat", "fast")


def dropout_keep_mask(shape, p: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """0/1 mask of ``shape``, 1 (kept) with probability ``1 - p``, from torch's global generator.

    When ``256 p`` is a whole number (0.25, 0.5, ...) one random byte per element gives exactly
    probability ``p``; otherwise one random 32-bit integer per element is compared with
    ``round((1 - p) 2^32)`` (error below 2.4e-10).
    """
    n = math.prod(shape)
    if float(p * 256).is_integer():
        raw = torch.empty(-(-n // 8), dtype=torch.int64, device=device)
        raw.random_(-(2**63), None)  # 64 uniform bits per word
        u, thr = raw.view(torch.uint8)[:n], int(round((1 - p) * 256))
    else:
        raw = torch.empty(-(-n // 2), dtype=torch.int64, device=device)
        raw.random_(-(2**63), None)
        u, thr = raw.view(torch.int32)[:n].to(torch.int64) + 2**31, int(round((1 - p) * 2**32))
    return torch.lt(u, thr, out=torch.empty(n, device=device, dtype=dtype)).view(shape)


def _compat_mask(rows: int, channels: int, p: float, per_window: int, device, dtype) -> torch.Tensor:
    """``nn.Dropout``'s own draws as a 0/1 mask: ``bernoulli_(1 - p)`` on a ``(B, C, T)`` tensor in memory
    order (what the convolution form draws), transposed to the ``(B * T, C)`` rows used here."""
    noise = torch.empty((rows // per_window, channels, per_window), dtype=dtype, device=device).bernoulli_(1 - p)
    return noise.transpose(1, 2).reshape(rows, channels)


class _ReluMask(torch.autograd.Function):
    """``relu(z) * mask`` in place (``mask`` 0/1, no gradient); the backward needs only the output."""

    @staticmethod
    def forward(ctx, z, mask):
        ctx.mark_dirty(z)
        y = z.relu_().mul_(mask)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(dy, y, 0), None


def _batch_norm(bn: nn.Module, y: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``scale * bn(y)`` for ``(rows, C)`` input with ``scale`` folded into the affine parameters; the
    running statistics, ``num_batches_tracked`` and momentum are updated exactly as the module does."""
    if type(bn) is not nn.BatchNorm1d or not bn.affine:  # SyncBatchNorm1d and the like: the module itself
        out = bn(y)
        return out * scale if scale != 1.0 else out
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        momentum = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    use_batch = bn.training or (bn.running_mean is None and bn.running_var is None)
    track = not bn.training or bn.track_running_stats
    w, b = bn.weight, bn.bias
    if scale != 1.0:
        w, b = w * scale, b * scale
    return F.batch_norm(y, bn.running_mean if track else None, bn.running_var if track else None, w, b,
                        use_batch, momentum, bn.eps)


def _bn_relu_drop(y: torch.Tensor, bn: nn.Module, p: float, rng: str, per_window: int, cpu: bool) -> torch.Tensor:
    """``dropout(relu(bn(y)))`` on ``(rows, C)``."""
    if p == 0:
        return _batch_norm(bn, y).relu_() if cpu else bn(y).relu()
    if not cpu:
        if rng == "compat":
            return bn(y).relu() * _compat_mask(*y.shape, p, per_window, y.device, y.dtype).div_(1 - p)
        return F.dropout(bn(y).relu(), p, True)
    if rng == "compat":
        mask = _compat_mask(*y.shape, p, per_window, y.device, y.dtype)
    else:
        mask = dropout_keep_mask(y.shape, p, y.device, y.dtype)
    return _ReluMask.apply(_batch_norm(bn, y, 1.0 / (1.0 - p)), mask)


def _wmat(w: torch.Tensor) -> torch.Tensor:
    """Conv1d weight ``(C_out, C_in, k)`` as ``(C_out, k * C_in)`` (column ``tap * C_in + c``)."""
    c_out, c_in, k = w.shape
    return w.view(c_out, c_in) if k == 1 else w.permute(0, 2, 1).reshape(c_out, k * c_in)


class _GroupedLinear(torch.autograd.Function):
    """A residual block's strided convolution on ``(rows, C)`` activations ``h``: ``y = G W^T`` with
    ``G = h.view(rows / w, w C)``, and the residual ``h.view(rows / w, w, C)[:, shift]``. The backward
    adds the residual's gradient straight into its slice of the input gradient."""

    @staticmethod
    def forward(ctx, h, wmat, w: int, shift: int):
        n, c = h.shape
        g = h.view(n // w, w * c)
        ctx.save_for_backward(g, wmat)
        ctx.w, ctx.shift = w, shift
        return F.linear(g, wmat), h.view(n // w, w, c)[:, shift].clone()

    @staticmethod
    def backward(ctx, dy, dres):
        g, wmat = ctx.saved_tensors
        dh = dw = None
        if ctx.needs_input_grad[0]:
            dg = dy @ wmat  # (rows / w, w C)
            if dres is not None:
                dg.view(g.shape[0], ctx.w, -1)[:, ctx.shift].add_(dres)
            dh = dg.view(-1, wmat.shape[1] // ctx.w)
        if ctx.needs_input_grad[1]:
            dw = dy.t() @ g
        return dh, dw, None, None


def strided_forward(model, x: torch.Tensor, rng: str = "compat") -> torch.Tensor:
    """The strided form of ``model``: ``(B, rf, J_in, F)`` windows -> ``(B, 1, J_out, 3)``.

    Args:
        model: a :class:`~poselift.model.tcn.TemporalLifter` (train or eval mode; its BatchNorm
            layers' running statistics are updated in training mode); its wiring is ``model.plan``.
        x: windows of exactly ``rf`` frames (not checked here).
        rng: dropout masks in training: ``"compat"`` (``nn.Dropout``'s draws) or ``"fast"``.
    """
    if rng not in DROPOUT_RNGS:
        raise ValueError(f"dropout rng must be one of {list(DROPOUT_RNGS)}, got {rng!r}")
    b, t, j, f = x.shape
    plan = model.plan
    p = model.drop.p if model.drop.training else 0.0
    cpu = x.device.type == "cpu" and not torch.is_autocast_enabled(x.device.type)
    per_window = t // plan.expand.width  # rows per window after the expand layer
    h = F.linear(x.reshape(b * per_window, plan.expand.width * j * f), _wmat(model.expand_conv.weight))
    h = _bn_relu_drop(h, model.expand_bn, p, rng, per_window, cpu)
    for block in plan.blocks:
        i = 2 * block.index
        conv, bn = model.block_convs[i], model.block_bns[i]
        conv1, bn1 = model.block_convs[i + 1], model.block_bns[i + 1]
        w, shift = block.width, block.tap  # the frame of each group the output stands for
        per_window //= w
        if cpu:
            y, res = _GroupedLinear.apply(h, _wmat(conv.weight), w, shift)
        else:
            n, c = h.shape
            y, res = F.linear(h.view(n // w, w * c), _wmat(conv.weight)), h.view(n // w, w, c)[:, shift]
        y = _bn_relu_drop(y, bn, p, rng, per_window, cpu)
        y = _bn_relu_drop(F.linear(y, _wmat(conv1.weight)), bn1, p, rng, per_window, cpu)
        h = y + res
    out = F.linear(h, _wmat(model.shrink.weight), model.shrink.bias)  # (B, J_out * 3)
    return out.view(b, -1, model.out_joints, 3)
