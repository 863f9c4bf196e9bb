"""Training on several processes (one per GPU, or several CPU processes), on one or more machines.

``torchrun`` starts the processes and tells each its place through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``); :func:`init_distributed` reads it and joins the process
group: NCCL when training on CUDA (process ``LOCAL_RANK`` of a machine uses
``cuda:LOCAL_RANK``), gloo on the CPU. Without those variables nothing
happens and training runs in one process as before.

How :class:`poselift.training.trainer.Trainer` uses the group:

* every process builds the same windows and the same seeded generator, so
  all draw the same *global* batch of ``batch_size`` windows (and the same
  flip masks and unlabelled sample); process ``r`` trains on its contiguous
  share of it. ``batch_size`` stays the global batch: the data order and the
  optimisation do not depend on the number of processes;
* the pose (and trajectory) model run inside one
  :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the
  gradients; each process weights its per-window means by its share of the
  global batch, so the averaged gradient is the gradient of the global-batch
  mean even when the shares are unequal. Batch-level terms (the bone-length
  term compares batch means) are computed over the global batch with a
  differentiable all-reduce;
* ``sync_batchnorm`` normalises with the statistics of the global batch
  (:class:`SyncBatchNorm1d`, which works with gloo on the CPU as well as with
  NCCL; ``torch.nn.SyncBatchNorm`` only runs on GPUs). Without it each
  process normalises with its own share's statistics, the usual DDP
  behaviour, and the BatchNorm running statistics of process 0 are the ones
  kept;
* only process 0 writes checkpoints and logs and runs the evaluations; the
  others wait for it, and an error there is raised in every process
  (:func:`on_main`) instead of leaving them waiting for a collective.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from poselift.core.device import resolve_device

__all__ = [
    "DistInfo",
    "launched_by_torchrun",
    "init_distributed",
    "cleanup",
    "is_distributed",
    "get_rank",
    "get_world_size",
    "is_main",
    "all_reduce_sum_autograd",
    "on_main",
    "all_gather_object",
    "SyncBatchNorm1d",
    "use_sync_batchnorm",
]

T = TypeVar("T")
_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands.

    Attributes:
        rank, world_size: this process's index among ``world_size`` processes.
        local_rank: its index on this machine.
        device: the device it trains on (``cuda:LOCAL_RANK`` on GPUs).
        backend: ``"nccl"``, ``"gloo"`` or ``None`` (a single process).
        initialized_here: :func:`init_distributed` created the process group
            (so the caller should :func:`cleanup` it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True when the environment of ``torchrun`` (or another launcher setting the same variables) is present."""
    return all(k in os.environ for k in _ENV)


def init_distributed(device: str | torch.device = "auto", timeout_minutes: float | None = None) -> DistInfo:
    """Join the process group when launched by ``torchrun``; a no-op otherwise.

    Args:
        device: the device setting of the run (``"auto"``, ``"cpu"``, ``"cuda"``...).
            On CUDA every process gets ``cuda:LOCAL_RANK`` and the backend is
            NCCL; on the CPU the backend is gloo.
        timeout_minutes: how long a collective waits for the other processes
            (``None``: torch's default).

    Returns:
        A :class:`DistInfo`. When the group already exists (initialised by the
        caller) it describes that group and ``initialized_here`` is False.
    """
    if is_distributed():
        dev = resolve_device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        return DistInfo(get_rank(), get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), dev,
                        dist.get_backend(), False)
    if not launched_by_torchrun():
        return DistInfo(device=resolve_device(device))
    if not dist.is_available():
        raise RuntimeError("launched by torchrun, but this torch build has no torch.distributed")
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    dev = resolve_device(device)
    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"process {rank} has LOCAL_RANK {local} but this machine has "
                               f"{torch.cuda.device_count()} GPU(s): start at most one process per GPU "
                               "(torchrun --nproc_per_node)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        backend = "gloo"
    kw: dict[str, Any] = {}
    if timeout_minutes is not None:
        kw["timeout"] = datetime.timedelta(minutes=timeout_minutes)
    if backend == "nccl":
        kw["device_id"] = dev  # binds the communicator to this GPU (torch >= 2.3)
    try:
        dist.init_process_group(backend=backend, rank=rank, world_size=world, **kw)
    except TypeError:  # an older torch without device_id
        kw.pop("device_id", None)
        dist.init_process_group(backend=backend, rank=rank, world_size=world, **kw)
    return DistInfo(rank, world, local, dev, backend, True)


def cleanup(info: DistInfo | None = None) -> None:
    """Destroy the process group (only the one :func:`init_distributed` created, when ``info`` is given)."""
    if info is not None and not info.initialized_here:
        return
    if is_distributed():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """A process group exists (with one process or more)."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """This process writes files and prints results: rank 0 of the process group, or, with no
    group (before :func:`init_distributed` or after :func:`cleanup`), ``$RANK`` 0 or unset."""
    if is_distributed():
        return dist.get_rank() == 0
    return os.environ.get("RANK", "0") == "0"


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of every process's input is the sum of all processes' output gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_sum_autograd(x: torch.Tensor) -> torch.Tensor:
    """Differentiable sum over the processes.

    With DDP averaging the parameter gradients over ``W`` processes, a loss
    that every process computes from all-reduced quantities contributes the
    exact gradient of that loss: each process's local computation receives
    the sum of the ``W`` identical upstream gradients, and DDP divides by
    ``W``.
    """
    if get_world_size() == 1:
        return x
    return _AllReduceSum.apply(x)


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on process 0 only; every process returns its result.

    The result is broadcast (pickled) to the other processes, which wait for
    it; when ``fn`` raises, process 0 re-raises the error and the others
    raise a ``RuntimeError`` quoting it, instead of waiting in the next
    collective until the timeout. In a single process this is ``fn()``.
    """
    if get_world_size() == 1:
        return fn()
    payload: Any = None
    error: BaseException | None = None
    if get_rank() == 0:
        try:
            payload = (True, fn())
        except BaseException as e:  # noqa: BLE001 - every process must hear about it
            error = e
            payload = (False, f"{type(e).__name__}: {e}")
    box = [payload]
    dist.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if error is not None:
        raise error
    if not ok:
        raise RuntimeError(f"process 0 failed: {value}")
    return value


def all_gather_object(obj: Any) -> list:
    """``[obj of process 0, obj of process 1, ...]`` (pickled); ``[obj]`` in a single process."""
    if get_world_size() == 1:
        return [obj]
    out: list = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


class SyncBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d normalising with the statistics of the batch of all processes.

    In training mode inside a process group of several processes, the
    per-channel count, sum and sum of squares (shifted by the running mean,
    which is identical on every process, to keep the single-pass variance
    accurate) are summed over the processes with one differentiable
    all-reduce; the running statistics are updated from the global
    statistics, so they stay identical on all processes. Otherwise (eval
    mode, a single process) it is exactly :class:`torch.nn.BatchNorm1d`.

    Unlike :class:`torch.nn.SyncBatchNorm` it runs on the CPU (gloo) as well
    as on GPUs (NCCL), and it stays a ``BatchNorm1d`` (BatchNorm folding and
    momentum schedules see it as one). :func:`use_sync_batchnorm` switches
    the BatchNorm layers of a model to it and back.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        c = x.shape[1]
        dims = [0] + list(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        track = self.track_running_stats and self.running_mean is not None
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()  # bfloat16 under autocast
        shift = self.running_mean.detach().to(xf.dtype) if track else xf.new_zeros(c)
        xs = xf - shift.view(shape)
        count = xf.new_full((1,), float(x.numel() // c))
        stats = all_reduce_sum_autograd(torch.cat([xs.sum(dims), (xs * xs).sum(dims), count]))
        n = stats[-1].detach()  # no host synchronisation: the trainer gives every process >= 2 windows
        m1 = stats[:c] / n
        var = (stats[c : 2 * c] / n - m1 * m1).clamp_min(0.0)  # biased, as used for normalising
        mean = shift + m1
        if track:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                mom = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - mom).add_(mom * mean.detach().to(self.running_mean.dtype))
                unbiased = var.detach() * (n / (n - 1))
                self.running_var.mul_(1 - mom).add_(mom * unbiased.to(self.running_var.dtype))
        y = (xf - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def use_sync_batchnorm(module: nn.Module, enable: bool = True) -> int:
    """Switch every ``BatchNorm1d`` of ``module`` to :class:`SyncBatchNorm1d` (or back, ``enable=False``).

    The layers keep their parameters, buffers and state-dict keys (only their
    class changes), so optimisers and checkpoints are unaffected. Returns how
    many layers were switched.
    """
    n = 0
    for m in module.modules():
        if enable and type(m) is nn.BatchNorm1d:
            m.__class__ = SyncBatchNorm1d
            n += 1
        elif not enable and type(m) is SyncBatchNorm1d:
            m.__class__ = nn.BatchNorm1d
            n += 1
    return n
