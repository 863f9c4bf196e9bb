"""The training loop: supervised, optionally semi-supervised, one loop.

One step draws a batch of labelled windows (and, when semi-supervised training
is switched on and the warm-up is over, a batch of unlabelled windows), runs
them through the strided form of the pose model (and the trajectory model
when there is one) in a single forward pass, and sums the loss terms that
apply:

=================  ===========================================================
term               when
=================  ===========================================================
``pose``           always: MPJPE of root-relative 3D, labelled windows
``traj``           trajectory model present: root position error / depth
``proj``           unlabelled data, after ``warmup_epochs``: 2D error of the
                   projected pose + trajectory through the sequence's camera
``bone``           same, ``bone_weight > 0``: L1 between mean bone lengths of
                   the labelled and unlabelled predictions
=================  ===========================================================

Recipe defaults follow VideoPose3D: Adam with amsgrad, lr 1e-3 decayed by
0.95 per epoch, batch 1024, BN momentum decaying exponentially from 0.1 to
0.001, horizontal-flip augmentation. Each epoch ends with an atomic
checkpoint (model(s), optimiser, RNG states, history) and a CSV log row; an
interrupted run resumes from the last completed epoch and reproduces the
uninterrupted result.

Launched by ``torchrun`` (see :mod:`poselift.training.distributed`), the same loop
trains with DistributedDataParallel: ``batch_size`` is the global batch, each
process trains on its share of it, and process 0 alone writes the checkpoint
and the log and runs the evaluations.
"""
from __future__ import annotations

import csv
import io
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from poselift.checkpoint import CHECKPOINT, lifter_payload, load_checkpoint, save_checkpoint
from poselift.core.device import resolve_device
from poselift.core.errors import ConfigError, FileFormatError
from poselift.core.io import atomic_write_text
from poselift.core.layouts import Layout, correspondence, get_layout
from poselift.core.mirror import flip_intrinsics, flip_rows_, flip_trajectory
from poselift.core.normalization import NORMALIZATIONS
from poselift.model.strided import DROPOUT_RNGS
from poselift.model.tcn import TemporalLifter
from poselift.training import distributed as D
from poselift.training.epoch_rules import FLIP_MODES, WINDOW_ORDERS
from poselift.training.losses import (
    bone_length_loss,
    bone_lengths,
    mean_length_gap,
    pose_loss,
    reprojection_loss,
    trajectory_loss,
)
from poselift.training.window_bank import WindowBank

__all__ = ["TrainSettings", "Trainer", "bn_momentum_at", "FLIP_MODES", "WINDOW_ORDERS", "VP3D_SHUFFLE_SEED"]

VP3D_SHUFFLE_SEED = 1234
"""The seed of VideoPose3D's ``ChunkedGenerator`` for the labelled windows (not a command-line option there)."""

LOG = "log.csv"
_RESUME_KEYS = ("model", "optimizer", "epoch", "history", "rng")


def bn_momentum_at(epoch: int, epochs: int, start: float, end: float) -> float:
    """BatchNorm momentum for ``epoch`` (0-based): ``start * (end / start) ** (epoch / epochs)``."""
    return start * math.exp(epoch / max(epochs, 1) * math.log(end / start))


@dataclass
class TrainSettings:
    """Optimisation settings (defaults: the VideoPose3D recipe).

    Attributes:
        epochs: passes over the training windows.
        batch_size: labelled windows per step (the unlabelled batch has the same size).
        lr, lr_decay: Adam learning rate, multiplied by ``lr_decay`` after each epoch.
        amsgrad: Adam variant.
        bn_momentum: ``(start, end)`` of the exponential BatchNorm momentum schedule.
        flip_augment: horizontal-flip augmentation (2D, 3D, trajectory, camera); how: ``flip_mode``.
        flip_mode: what an epoch holds (:data:`FLIP_MODES`): ``"duplicate"`` (VideoPose3D): every training
            window twice, plain and mirrored, shuffled together, so an epoch has twice the optimiser steps of
            one pass over the windows; ``"random_half"``: every window once, a random half of each batch
            mirrored. ``None``: ``"duplicate"`` (experiment configs take it from their protocol).
        dropout_rng: how dropout masks are drawn in the training step (:mod:`poselift.model.strided`):
            ``"compat"``: ``nn.Dropout``'s own draws (the loss curve of every earlier poselift, to float
            rounding); ``"fast"``: one random byte per element, the same distribution, cheaper.
        windows_per_epoch: samples per epoch (a random subset each epoch, drawn without replacement from
            the windows, or from the plain and mirrored windows with ``duplicate``); ``None``: all of them.
            More than there are is an error, not a silent cap.
        window_order: how each epoch's order is drawn (:data:`WINDOW_ORDERS`): ``"seeded"`` (``None``): from
            ``seed``; ``"vp3d"``: VideoPose3D's fixed-seed numpy shuffle of its pair list, the same order in every
            run (``flip_mode`` duplicate or off, all windows each epoch; the unlabelled windows of semi-supervised
            training are still drawn from ``seed``). The two draw the same distribution of orders.
        seed: seeds the window order, augmentation and dropout.
        warmup_epochs: epochs before the unlabelled terms start.
        bone_weight: weight of the bone-length term (0 switches it off).
        proj_weight, traj_weight: weights of the reprojection and trajectory terms.
        grad_clip: clip the gradient norm (``None``: no clipping).
        amp: bfloat16 autocast on CUDA.
        progress: show a tqdm progress bar (process 0 only when distributed).
        sync_batchnorm: when training on several processes, normalise with the
            BatchNorm statistics of the global batch
            (:class:`poselift.training.distributed.SyncBatchNorm1d`, CPU and GPU) instead
            of each process's share; results then match a single process on
            the same global batch. No effect in a single process.
    """

    epochs: int = 60
    batch_size: int = 1024
    lr: float = 1e-3
    lr_decay: float = 0.95
    amsgrad: bool = True
    bn_momentum: tuple[float, float] = (0.1, 0.001)
    flip_augment: bool = True
    flip_mode: str | None = None
    dropout_rng: str = "compat"
    windows_per_epoch: int | None = None
    window_order: str | None = None
    seed: int = 0
    warmup_epochs: int = 1
    bone_weight: float = 1.0
    proj_weight: float = 1.0
    traj_weight: float = 1.0
    grad_clip: float | None = None
    amp: bool = False
    progress: bool = True
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be >= 2 (BatchNorm), got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0 and 0 < self.lr_decay <= 1):
            raise ConfigError(f"lr must be a finite number > 0 and lr_decay in (0, 1], got lr {self.lr}, "
                              f"lr_decay {self.lr_decay}")
        if self.windows_per_epoch is not None and self.windows_per_epoch < 1:
            raise ConfigError(f"windows_per_epoch must be >= 1 (or null: every window), got {self.windows_per_epoch}")
        m = tuple(self.bn_momentum)
        if len(m) != 2 or not all(isinstance(v, (int, float)) and 0 < v <= 1 for v in m):
            raise ConfigError(f"bn_momentum must be two momenta (start, end), each in (0, 1], got {list(m)}")
        self.bn_momentum = tuple(float(v) for v in m)  # type: ignore[assignment]
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        for k in ("bone_weight", "proj_weight", "traj_weight"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"{k} must be a finite number >= 0, got {v}")
        if self.grad_clip is not None and not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ConfigError(f"grad_clip must be > 0 (or null: no clipping), got {self.grad_clip}")
        if self.dropout_rng not in DROPOUT_RNGS:
            raise ConfigError(f"dropout_rng must be one of {list(DROPOUT_RNGS)}, got {self.dropout_rng!r}")
        if self.flip_mode is not None and self.flip_mode not in FLIP_MODES:
            raise ConfigError(f"flip_mode must be one of {list(FLIP_MODES)}, got {self.flip_mode!r}")
        if self.window_order is not None and self.window_order not in WINDOW_ORDERS:
            raise ConfigError(f"window_order must be one of {list(WINDOW_ORDERS)}, got {self.window_order!r}")
        if self.window_order == "vp3d" and (self.windows_per_epoch is not None
                                            or self.effective_flip_mode == "random_half"):
            raise ConfigError("window_order vp3d is VideoPose3D's epoch: every window (plain and mirrored, or plain "
                              "without flip augmentation) each epoch; it cannot be combined with windows_per_epoch "
                              "or flip_mode random_half")

    @property
    def effective_flip_mode(self) -> str:
        """``"off"`` without flip augmentation, else :attr:`flip_mode` (``"duplicate"`` when unset)."""
        if not self.flip_augment or self.flip_mode == "off":
            return "off"
        return self.flip_mode or "duplicate"


EvalFn = Callable[[TemporalLifter, "TemporalLifter | None"], dict]


class _Draw(NamedTuple):
    """This process's part of a global batch drawn from a window bank."""

    idx: torch.Tensor  # (n,) window indices
    mirrored: torch.Tensor | None  # (n,) bool: window mirrored (None: none is)
    n_all: int  # windows in the global batch
    weight: float | None  # distributed: n / (n_all / processes), the weight of this share's mean terms


class Trainer:
    """Train a :class:`TemporalLifter` (plus optional trajectory model).

    Args:
        model: the pose model (``out_joints`` = joints of ``layout_out``).
        labelled: windows with ``targets`` (root-relative 3D); with a
            trajectory model also ``trajectories``.
        settings: :class:`TrainSettings`.
        layout_in, layout_out: layouts of the 2D input and 3D output (for
            flipping, bone lengths and the 2D<->3D joint correspondence).
        evaluate: optional ``f(model, traj_model) -> {"mpjpe": ..., ...}``
            called after each epoch; numbers go to the log.
        run_dir: folder for ``checkpoint.pt`` and ``log.csv`` (nothing saved when ``None``).
        traj_model: optional trajectory model (``out_joints=1``).
        unlabelled: optional windows with ``intrinsics`` for back-projection.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        eval_every: evaluate every this many epochs (and after the last).
        normalization: how the 2D inputs of the window banks were normalised
            (:data:`poselift.core.normalization.NORMALIZATIONS`); saved in the checkpoint, so that
            :func:`~poselift.inference.load_lifter` normalises new input the same way.
        flip_test: the flip test-time augmentation the loaded model uses by default (saved in the checkpoint).

    In a process group of several processes (``torchrun``; see
    :mod:`poselift.training.distributed`) every process must construct the Trainer with
    the same windows, settings and ``run_dir``; ``fit`` then trains with
    DistributedDataParallel and only process 0 writes files and calls
    ``evaluate``. ``device="auto"``/``"cuda"`` means this process's GPU.
    """

    def __init__(
        self,
        model: TemporalLifter,
        labelled: WindowBank,
        settings: TrainSettings,
        layout_in: str | Layout,
        layout_out: str | Layout,
        evaluate: EvalFn | None = None,
        run_dir: str | Path | None = None,
        traj_model: TemporalLifter | None = None,
        unlabelled: WindowBank | None = None,
        device: str | torch.device = "auto",
        eval_every: int = 1,
        *,
        normalization: str = "image",
        flip_test: bool = True,
    ) -> None:
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"normalization must be one of {list(NORMALIZATIONS)}, got {normalization!r}")
        self.settings = settings
        self.world_size, self.rank = D.get_world_size(), D.get_rank()
        self.distributed = self.world_size > 1
        self.device = resolve_device(device)
        if self.distributed and self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())  # cuda:LOCAL_RANK
        if settings.amp and self.device.type != "cuda":
            warnings.warn(f"train.amp (bfloat16 autocast) is for CUDA only; training on {self.device} runs in "
                          "float32", UserWarning, stacklevel=2)
        self.model = model.to(self.device)
        self.traj_model = traj_model.to(self.device) if traj_model is not None else None
        self.labelled, self.unlabelled = labelled, unlabelled
        if settings.window_order == "vp3d" and unlabelled is not None:
            warnings.warn("train.window_order vp3d orders the labelled windows as VideoPose3D does; the unlabelled "
                          "windows are still drawn at random from the run's seed (VideoPose3D: a second shuffle, "
                          "seeded 4321, running on over the epochs)", UserWarning, stacklevel=2)
        self.layout_in, self.layout_out = get_layout(layout_in), get_layout(layout_out)
        self.evaluate = evaluate
        self.eval_every = max(1, int(eval_every))
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._check_setup()
        self.perm_in = torch.as_tensor(self.layout_in.flip_permutation, device=self.device)
        self.perm_out = torch.as_tensor(self.layout_out.flip_permutation, device=self.device)
        self.corr = correspondence(self.layout_in, self.layout_out)
        params = list(self.model.parameters())
        if self.traj_model is not None:
            params += list(self.traj_model.parameters())
        # foreach: the multi-tensor Adam, the same numbers as the per-tensor loop, faster
        self.optimizer = torch.optim.Adam(params, lr=settings.lr, amsgrad=settings.amsgrad, foreach=True)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.epoch = 0
        self.history: list[dict] = []
        # what using the model needs, saved with every checkpoint (poselift.checkpoint): read back by load_lifter
        self._extra = {"flip_test": bool(flip_test), "features": model.in_features, "normalization": normalization}
        self._ddp: torch.nn.Module | None = None  # the DistributedDataParallel wrapper (built by fit)

    # -- set-up checks -------------------------------------------------------------
    def _check_setup(self) -> None:
        m, bank = self.model, self.labelled
        if self.distributed and self.settings.batch_size < 2 * self.world_size:
            raise ValueError(f"batch_size {self.settings.batch_size} is the global batch: it must give each of the "
                             f"{self.world_size} processes at least 2 windows (BatchNorm)")
        if bank.targets is None:
            raise ValueError("the labelled WindowBank has no 3D targets")
        wpe, space = self.settings.windows_per_epoch, self._sample_space(bank)
        if wpe is not None and not 1 <= wpe <= space:
            mode = self.settings.effective_flip_mode
            held = (f"{bank.num_windows:,} windows, plain and mirrored ({space:,} samples)" if mode == "duplicate"
                    else f"{space:,} windows")
            raise ValueError(f"train.windows_per_epoch = {wpe:,} but an epoch can hold at most the {held}; "
                             "use a number from 1 to that, or null for all of them")
        if bank.receptive_field != m.receptive_field or bank.causal != m.causal:
            raise ValueError(
                f"WindowBank windows (rf={bank.receptive_field}, causal={bank.causal}) do not match the "
                f"model (rf={m.receptive_field}, causal={m.causal})"
            )
        j_in, f_in = bank.inputs.shape[1:]
        if (j_in, f_in) != (m.in_joints, m.in_features):
            raise ValueError(f"inputs have {j_in} joints x {f_in} features; model takes {m.in_joints} x {m.in_features}")
        if self.layout_in.num_joints != m.in_joints or self.layout_out.num_joints != m.out_joints:
            raise ValueError(
                f"layouts {self.layout_in.name} ({self.layout_in.num_joints}) -> {self.layout_out.name} "
                f"({self.layout_out.num_joints}) do not match the model ({m.in_joints} -> {m.out_joints})"
            )
        if self.traj_model is not None:
            t = self.traj_model
            if t.out_joints != 1 or t.receptive_field != m.receptive_field or t.causal != m.causal:
                raise ValueError("the trajectory model needs out_joints=1 and the pose model's receptive field")
            if bank.trajectories is None:
                raise ValueError("a trajectory model needs labelled windows with trajectories")
        if self.unlabelled is not None:
            if self.traj_model is None:
                raise ValueError("semi-supervised training needs a trajectory model")
            if self.unlabelled.intrinsics is None:
                raise ValueError("unlabelled windows need camera intrinsics for back-projection")
            if self.unlabelled.receptive_field != m.receptive_field:
                raise ValueError("unlabelled windows have a different receptive field")

    # -- state -------------------------------------------------------------------
    @property
    def extra(self) -> dict:
        """What the checkpoint says about using the model (``flip_test``, ``features``, ``normalization``);
        set by the constructor's arguments."""
        return dict(self._extra)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self, rank_rng: list[dict] | None = None) -> dict:
        """Everything a resume needs (``rank_rng``: every process's RNG states, when distributed)."""
        state = lifter_payload(self.model, self.layout_in, self.layout_out, self.traj_model, self._extra)
        state.update({
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "history": self.history,
            "settings": asdict(self.settings),
            "rng": {"torch": torch.get_rng_state(), "generator": self.generator.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        })
        if rank_rng is not None:  # dropout draws differ per process; each resumes its own
            state["rng"]["ranks"] = rank_rng
        return state

    def _local_rng(self) -> dict:
        return {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` (a checkpoint written by training).

        Raises:
            FileFormatError: the checkpoint lacks what resuming needs (e.g. a model-only
                checkpoint without ``rng`` or ``optimizer``), naming what is missing.
        """
        missing = [k for k in _RESUME_KEYS if k not in state]
        rng = state.get("rng")
        if not missing and not (isinstance(rng, dict) and "torch" in rng and "generator" in rng):
            missing = ["rng['torch'], rng['generator']"]
        if missing:
            raise FileFormatError(f"cannot resume: the checkpoint has no {', '.join(missing)} (it holds a model, "
                                  "not a training state); start again with --restart")
        self.model.load_state_dict(state["model"])
        if self.traj_model is not None:
            if state.get("traj_model") is None:
                raise ValueError("checkpoint has no trajectory model")
            self.traj_model.load_state_dict(state["traj_model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.generator.set_state(state["rng"]["generator"])  # the same on every process
        if self.distributed:
            ranks = state["rng"].get("ranks")
            if ranks is not None and len(ranks) == self.world_size:
                torch.set_rng_state(ranks[self.rank]["torch"])
                if ranks[self.rank].get("cuda") is not None and self.device.type == "cuda":
                    torch.cuda.set_rng_state(ranks[self.rank]["cuda"], self.device)
            else:
                # saved by another number of processes: the data order and flips still continue
                # exactly (shared generator); the dropout draws start afresh from a fixed seed
                torch.manual_seed(self.settings.seed + self.rank + 1_000_003 * self.epoch)
        else:
            torch.set_rng_state(state["rng"]["torch"])
            if state["rng"].get("cuda") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self._set_bn_momentum()

    def save(self) -> None:
        """Write ``checkpoint.pt`` and ``log.csv`` (process 0; every process must call it)."""
        if self.run_dir is None:
            return
        if not self.distributed:
            save_checkpoint(self.state_dict(), self.run_dir / CHECKPOINT)
            self._write_log()
            return
        rank_rng = D.all_gather_object(self._local_rng())

        def write() -> None:
            save_checkpoint(self.state_dict(rank_rng), self.run_dir / CHECKPOINT)
            self._write_log()

        D.on_main(write)

    def _write_log(self) -> None:
        if not self.history:
            return
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        for row in self.history:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write_text(self.run_dir / LOG, buf.getvalue())

    def _read_checkpoint(self, map_location) -> dict | None:
        if not (self.run_dir / CHECKPOINT).exists():
            return None
        try:  # weights_only: a checkpoint whose pickle names Python objects is refused before anything runs
            return load_checkpoint(self.run_dir / CHECKPOINT, map_location=map_location)
        except FileFormatError as e:
            raise FileFormatError(f"cannot resume: {e}", path=e.path) from None

    def try_resume(self) -> bool:
        """Load ``run_dir/checkpoint.pt`` if it exists; True when resumed.

        Distributed, process 0 reads the file and sends it to the others (the
        run folder need only exist on its machine).
        """
        if self.run_dir is None:
            return False
        if self.distributed:
            state = D.on_main(lambda: self._read_checkpoint("cpu"))
        else:
            state = self._read_checkpoint(self.device)
        if state is None:
            return False
        if state.get("model_config") != self.model.config():
            raise ValueError(
                f"cannot resume: the checkpoint's model {state.get('model_config')} differs from {self.model.config()}"
            )
        self.load_state_dict(state)
        return True

    def _set_bn_momentum(self) -> None:
        s = self.settings
        m = bn_momentum_at(self.epoch, s.epochs, *s.bn_momentum)
        self.model.set_bn_momentum(m)
        if self.traj_model is not None:
            self.traj_model.set_bn_momentum(m)

    # -- one step ------------------------------------------------------------------
    def _flip_mask(self, n: int) -> torch.Tensor | None:
        """``random_half``: a fresh random mirroring of ``n`` windows (drawn from the data-order generator)."""
        if self.settings.effective_flip_mode != "random_half":
            return None
        return (torch.rand(n, generator=self.generator) < 0.5).to(self.device)

    def _split_duplicates(self, idx: torch.Tensor, bank: WindowBank) -> tuple[torch.Tensor, torch.Tensor]:
        """``duplicate`` mode: sample ``k`` of ``2 N`` is window ``k mod N``, mirrored when ``k >= N``."""
        n = bank.num_windows
        return idx % n, idx >= n

    def _sample_space(self, bank: WindowBank) -> int:
        """Samples an epoch draws from: every window, or every window plain and mirrored (``duplicate``)."""
        return bank.num_windows * (2 if self.settings.effective_flip_mode == "duplicate" else 1)

    @staticmethod
    def _where(mask, a, b):
        if mask is None:
            return b
        return torch.where(mask.view(-1, *([1] * (b.ndim - 1))), a, b)

    def _share(self, n: int) -> slice:
        """This process's contiguous part of a global batch of ``n`` (sizes differ by at most one)."""
        return slice(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)

    def _draw(self, idx: torch.Tensor, bank: WindowBank) -> _Draw:
        """The global batch ``idx`` (the same on every process) -> this process's windows and their mirroring.

        ``duplicate``: each sample says which window and whether it is mirrored; ``random_half``: a random mask
        drawn for the whole global batch (the same generator draws on every process); then this process's share.
        """
        n_all = len(idx)
        if self.settings.effective_flip_mode == "duplicate":
            idx, mirrored = self._split_duplicates(idx, bank)
        else:
            mirrored = self._flip_mask(n_all)
        weight = None
        if self.distributed:
            share = self._share(n_all)
            idx, mirrored = idx[share], None if mirrored is None else mirrored[share]
            weight = len(idx) * self.world_size / n_all
        return _Draw(idx, mirrored, n_all, weight)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, rf, J_in, F)`` windows -> pose ``(B, J_out, 3)`` and trajectory ``(B, 3)`` (or None), float32."""
        s = self.settings
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=s.amp and self.device.type == "cuda"):
            if self._ddp is not None:
                out = self._ddp(x)
                pose_w, traj_w = out if self.traj_model is not None else (out, None)
            else:
                pose_w = _training_forward(self.model, x, s.dropout_rng)
                traj_w = None if self.traj_model is None else _training_forward(self.traj_model, x, s.dropout_rng)
            pose = pose_w[:, 0].float()
            traj = None if traj_w is None else traj_w[:, 0, 0].float()
        return pose, traj

    def _bone_term(self, pose_l: torch.Tensor, pose_u: torch.Tensor, lab: _Draw, unl: _Draw) -> torch.Tensor:
        """The bone-length term, a comparison of batch means: over the global batch when distributed."""
        parents = self.layout_out.parents
        if not self.distributed:
            return bone_length_loss(pose_l, pose_u, parents)
        a = D.all_reduce_sum_autograd(bone_lengths(pose_l, parents).sum(0)) / lab.n_all
        b = D.all_reduce_sum_autograd(bone_lengths(pose_u, parents).sum(0)) / unl.n_all
        return mean_length_gap(a, b)

    def compute_losses(self, idx_l: torch.Tensor, idx_u: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Forward one labelled (+ unlabelled) batch and return the weighted loss terms.

        The terms are functions of tensors (:mod:`poselift.training.losses`); here the windows are drawn,
        mirrored and shared out, and the terms weighted. Distributed, ``idx_l``/``idx_u`` are the global
        batch (the same on every process); each process forwards its share, and each per-window mean
        term is weighted by ``share / (global batch / processes)``, so that the mean of the terms over the
        processes (what DDP's gradient averaging and the log see) is the global-batch mean. The bone-length
        term is a comparison of batch means and is computed over the global batch.
        """
        bank, s = self.labelled, self.settings
        lab = self._draw(idx_l, bank)
        x_l, y_l = bank.windows(lab.idx), bank.targets[lab.idx]
        if lab.mirrored is not None:
            rows = lab.mirrored.nonzero().squeeze(1)  # only the mirrored windows are touched
            flip_rows_(x_l, rows, self.perm_in)
            flip_rows_(y_l, rows, self.perm_out)
        x = x_l
        if idx_u is not None:
            unl = self._draw(idx_u, self.unlabelled)
            x_u = self.unlabelled.windows(unl.idx)
            k_u = self.unlabelled.intrinsics[self.unlabelled.seq[unl.idx]]
            if unl.mirrored is not None:
                flip_rows_(x_u, unl.mirrored.nonzero().squeeze(1), self.perm_in)
            k_u = self._where(unl.mirrored, flip_intrinsics(k_u), k_u)
            x = torch.cat([x_l, x_u])
        pose, traj = self._forward(x)
        n_l = len(lab.idx)
        losses = {"pose": pose_loss(pose[:n_l], y_l)}
        if traj is not None:
            t_l = bank.trajectories[lab.idx]
            t_l = self._where(lab.mirrored, flip_trajectory(t_l), t_l)
            losses["traj"] = s.traj_weight * trajectory_loss(traj[:n_l], t_l)
        if lab.weight is not None:
            losses = {k: v * lab.weight for k, v in losses.items()}
        if idx_u is not None:
            target2d = x_u[:, self.unlabelled.geometry.before, :, :2]  # the 2D of each window's target frame
            losses["proj"] = s.proj_weight * reprojection_loss(pose[n_l:], traj[n_l:], k_u, target2d, self.corr)
            if unl.weight is not None:
                losses["proj"] = losses["proj"] * unl.weight
            if s.bone_weight > 0:
                losses["bone"] = s.bone_weight * self._bone_term(pose[:n_l], pose[n_l:], lab, unl)
        return losses

    # -- the loop ------------------------------------------------------------------
    def _setup_distributed(self) -> None:
        """Wrap the model(s) in one DistributedDataParallel (once) and switch BatchNorm to sync when asked."""
        if self.settings.sync_batchnorm:
            D.use_sync_batchnorm(self.model)
            if self.traj_model is not None:
                D.use_sync_batchnorm(self.traj_model)
        if self._ddp is not None:
            return
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        # synchronised BatchNorm keeps the running statistics identical; otherwise
        # process 0's are copied to the others before every forward (DDP's default)
        sync_buffers = not self.settings.sync_batchnorm
        kw = {"forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
              else "broadcast_buffers": sync_buffers}
        self._ddp = DistributedDataParallel(
            _PoseAndTrajectory(self.model, self.traj_model, self.settings.dropout_rng),
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            **kw,
        )

    def _evaluate_row(self) -> dict:
        t0 = time.perf_counter()
        metrics = self.evaluate(self.model, self.traj_model)
        row = {f"val_{k}": float(v) for k, v in metrics.items() if np.isscalar(v)}
        row["eval_seconds"] = time.perf_counter() - t0
        return row

    def fit(self, resume: bool = True) -> list[dict]:
        """Train until ``settings.epochs``; returns the per-epoch history."""
        s = self.settings
        if resume and self.try_resume():
            # the log follows the checkpoint: a kill between writing the two left it a row short
            if self.run_dir is not None:
                D.on_main(self._write_log)
            if self.epoch >= s.epochs:
                return self.history
        elif self.epoch == 0:
            torch.manual_seed(s.seed + self.rank)  # dropout: a different stream per process
        try:
            if self.distributed:
                self._setup_distributed()
            while self.epoch < s.epochs:
                self._set_bn_momentum()
                row = self._train_epoch()
                self.epoch += 1
                for g in self.optimizer.param_groups:
                    g["lr"] *= s.lr_decay
                if self.evaluate is not None and (self.epoch % self.eval_every == 0 or self.epoch == s.epochs):
                    row.update(D.on_main(self._evaluate_row))  # process 0 evaluates, the others wait
                self.history.append(row)
                self.save()
        finally:
            if self.distributed and s.sync_batchnorm:  # hand back plain BatchNorm1d layers
                D.use_sync_batchnorm(self.model, False)
                if self.traj_model is not None:
                    D.use_sync_batchnorm(self.traj_model, False)
        return self.history

    def _global_sums(self, sums: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Distributed: the mean over processes of the running loss sums (the global-batch numbers)."""
        if not self.distributed or not sums:
            return sums
        keys = list(sums)
        t = torch.stack([sums[k] for k in keys])
        torch.distributed.all_reduce(t)
        return dict(zip(keys, t / self.world_size))

    def _epoch_order(self, space: int, total: int):
        """This epoch's batches: index tensors into the sample space, a random ``total`` of its ``space``
        samples without replacement (all of them when ``total == space``), drawn as ``window_order`` says."""
        if self.settings.window_order == "vp3d":
            order = torch.from_numpy(self._vp3d_order(space)).to(self.device)[:total]
        else:
            order = torch.randperm(space, generator=self.generator).to(self.device)[:total]
        bs = self.settings.batch_size
        for s in range(0, len(order), bs):
            yield order[s : s + bs]

    def _vp3d_order(self, space: int) -> np.ndarray:
        """VideoPose3D's order of epoch :attr:`epoch`: the ``epoch + 1``-th permutation one
        ``RandomState(1234)`` draws (replayed from the start after a resume), applied to its pair list."""
        pairs = self.labelled.vp3d_sample_list(mirrored=self.settings.effective_flip_mode == "duplicate")
        if len(pairs) != space:
            raise ValueError(f"window_order vp3d: {len(pairs):,} pairs for a sample space of {space:,}")
        state = getattr(self, "_vp3d_rng", None)
        if state is None or state[1] != self.epoch:
            rng = np.random.RandomState(VP3D_SHUFFLE_SEED)
            for _ in range(self.epoch):
                rng.permutation(space)
            state = (rng, self.epoch)
        perm = state[0].permutation(space)
        self._vp3d_rng = (state[0], self.epoch + 1)
        return pairs[perm]

    def _train_epoch(self) -> dict:
        s = self.settings
        if self._ddp is not None:
            self._ddp.train()
        else:
            self.model.train()
            if self.traj_model is not None:
                self.traj_model.train()
        semi = self.unlabelled is not None and self.epoch >= s.warmup_epochs
        # running sums stay on the device: no host synchronisation per step (on a GPU
        # that would stall the queue); finiteness is checked every 20 steps and at the end
        sums: dict[str, torch.Tensor] = {}
        n_batches = 0
        n_windows = 0
        t0 = time.perf_counter()
        space = self._sample_space(self.labelled)
        total = space if s.windows_per_epoch is None else s.windows_per_epoch
        bar = tqdm(
            total=total, desc=f"epoch {self.epoch + 1}/{s.epochs}", unit="win",
            disable=not s.progress or self.rank != 0, leave=False, dynamic_ncols=True,
        )
        # a global batch too small to give every process two windows is skipped (BatchNorm)
        min_batch = 2 * self.world_size

        def check_finite():
            # distributed: on the summed numbers, so that every process stops at the same step
            g = self._global_sums(sums)
            bad = {k: float(v) for k, v in g.items() if not torch.isfinite(v)}
            if bad:
                saved = ("" if self.run_dir is None else f"; the checkpoint holds epoch {self.epoch}" if self.epoch
                         else "; no checkpoint was written")
                raise FloatingPointError(f"loss became non-finite in epoch {self.epoch + 1} (by step {n_batches}): "
                                         f"{bad}; the learning rate ({self.lr:.3g}) may be too high{saved}")
            return g

        try:
            for idx in self._epoch_order(space, total):
                if len(idx) < min_batch:
                    continue  # BatchNorm needs two samples
                idx_u = (torch.randint(self._sample_space(self.unlabelled), (len(idx),), generator=self.generator)
                         .to(self.device) if semi else None)
                losses = self.compute_losses(idx, idx_u)
                loss = sum(losses.values())
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if s.grad_clip:
                    torch.nn.utils.clip_grad_norm_(
                        [p for g in self.optimizer.param_groups for p in g["params"]], s.grad_clip
                    )
                self.optimizer.step()
                for k, v in losses.items():
                    sums[k] = sums[k] + v.detach().double() if k in sums else v.detach().double()
                n_batches += 1
                n_windows += len(idx)
                bar.update(len(idx))
                if n_batches % 20 == 0:
                    g = check_finite()
                    if s.progress and self.rank == 0:
                        bar.set_postfix({k: f"{float(v) / n_batches * (1000 if k == 'pose' else 1):.1f}"
                                         for k, v in g.items()})
            sums = check_finite()
        finally:
            bar.close()
        dt = time.perf_counter() - t0
        row = {"epoch": self.epoch + 1, "lr": self.lr, "bn_momentum": self.model.expand_bn.momentum}
        row.update({f"loss_{k}": float(v) / max(n_batches, 1) for k, v in sums.items()})
        row["train_mpjpe_mm"] = row.get("loss_pose", float("nan")) * 1000
        row["epoch_seconds"] = dt
        row["windows_per_second"] = n_windows / dt if dt > 0 else float("nan")
        return row


class _PoseAndTrajectory(torch.nn.Module):
    """The pose model and the optional trajectory model as one module: one DDP wraps both,
    and its forward is the training step's (:func:`_training_forward`)."""

    def __init__(self, model: TemporalLifter, traj_model: TemporalLifter | None, dropout_rng: str) -> None:
        super().__init__()
        self.model = model
        self.traj_model = traj_model
        self.dropout_rng = dropout_rng

    def forward(self, x: torch.Tensor):
        pose = _training_forward(self.model, x, self.dropout_rng)
        if self.traj_model is None:
            return pose
        return pose, _training_forward(self.traj_model, x, self.dropout_rng)


def _training_forward(model: TemporalLifter, x: torch.Tensor, dropout_rng: str) -> torch.Tensor:
    """The strided form as a training step runs it: ``(B, rf, J_in, F)`` -> ``(B, 1, J_out, 3)``, dropout masks
    drawn as :attr:`TrainSettings.dropout_rng` says, and no per-batch NaN check (the window bank checked every
    window once; on a GPU the check would synchronise every step)."""
    return model.forward_windows(x, validate=False, dropout_rng=dropout_rng)
