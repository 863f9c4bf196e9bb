"""Using a trained lifter: :class:`Lifter` (what :func:`load_lifter` gives for a run folder) and the
whole-sequence engine behind it, fast and in bounded memory.

:func:`lift_sequence` pads a sequence by repeating its edge frames (``rf - 1``
frames before it when causal, ``(rf - 1) / 2`` on each side otherwise), so
every input frame gets one output frame, and optionally averages with the
prediction for the mirrored input (flip test-time augmentation).

How it is fast:

* BatchNorm is folded into the convolutions once (:func:`poselift.model.folded.folded`);
  the folded copy is cached on the model and rebuilt only when its weights change;
* no autograd (``torch.inference_mode``);
* the input is padded once; the mirrored input runs in the same forward pass
  as the original (batch of 2) instead of a second pass;
* :func:`lift_sequences` packs many sequences, each with its own edge
  padding, end to end into one stream, so short sequences share large
  matrix products; outputs that would straddle two sequences are never
  computed into any result.

How memory stays bounded: a sequence of any length is processed in chunks of
``chunk`` output frames (each chunk reads ``chunk + rf - 1`` input frames), the
results go straight into one preallocated output array, and intermediate
activations exist for one chunk at a time. Chunk seams give exactly the
frames one pass would (the convolutions are "valid": an output frame depends
only on its own ``rf`` input frames).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from poselift.checkpoint import CHECKPOINT, load_checkpoint, read_lifter_payload
from poselift.core.camera import MAX_NORMALISED
from poselift.core.device import resolve_device
from poselift.core.errors import (
    InputError,
    check_finite,
    check_float_range,
    check_magnitude,
    numeric_array,
    reading,
)
from poselift.core.layouts import Layout
from poselift.core.mirror import flip_keypoints, flip_pair, flip_poses
from poselift.core.normalization import check_normalization, scale_to_body_height
from poselift.core.sequence import PoseSequence
from poselift.core.windows import pad_edges
from poselift.model.folded import NUMPY_DTYPES, FoldedNetwork, folded
from poselift.model.tcn import TemporalLifter

__all__ = ["lift_sequence", "lift_sequences", "Lifter", "load_lifter"]

DEFAULT_CHUNK = 8192


def _device_of(model) -> torch.device:
    return next(iter(list(model.parameters()) + list(model.buffers()))).device


def _check_inputs(model, x: torch.Tensor, where: str = "", joint_names=None) -> None:
    if x.ndim != 3:
        raise InputError(f"{where}expected one sequence (frames, joints, features), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise InputError(f"{where}empty sequence (0 frames)")
    if x.shape[1] != model.in_joints:
        raise InputError(f"{where}wrong joint count: the model takes {model.in_joints} joints, input has {x.shape[1]}")
    if x.shape[2] != model.in_features:
        raise InputError(f"{where}wrong feature count: the model takes {model.in_features} values per joint, "
                         f"input has {x.shape[2]}")
    check_finite(x, f"{where}keypoints", joint_names,
                 hint="drop or interpolate those frames, or give missing joints finite values and zero confidence")
    check_magnitude(x, MAX_NORMALISED, f"{where}keypoints (screen-normalised)", joint_names, hint=_FAR)


_FAR = ("on screen they lie in about -1..1: the 2D is corrupt, or not in pixels of the image size given "
        "(poselift.core.camera.MAX_NORMALISED)")


@torch.inference_mode()
def _lift_packed(fmodel: FoldedNetwork, seqs: list[torch.Tensor], flip_perms, chunk: int, progress: bool,
                 desc: str) -> list[np.ndarray]:
    from tqdm.auto import tqdm

    rf = fmodel.receptive_field
    before, after = fmodel.pad
    outs = [np.empty((n, fmodel.out_joints, 3), np.float32) for n in (len(s) for s in seqs)]
    dev = fmodel.layers[0].weight.device
    perm_in = None if flip_perms is None else torch.as_tensor(flip_perms[0], device=dev)
    perm_out = None if flip_perms is None else torch.as_tensor(flip_perms[1], device=dev)
    # group whole padded sequences into packs of about `chunk` outputs; one longer than that is cut into chunks
    packs: list[list[int]] = [[]]
    size = 0
    for i, s in enumerate(seqs):
        if packs[-1] and size + len(s) + rf - 1 > chunk + rf - 1:
            packs.append([])
            size = 0
        packs[-1].append(i)
        size += len(s) + rf - 1
    total = sum(len(s) for s in seqs)
    with tqdm(total=total, desc=desc, unit="frame", unit_scale=True, disable=not progress, leave=False,
              dynamic_ncols=True) as bar:
        for pack in packs:
            padded = [pad_edges(seqs[i], before, after) for i in pack]
            if len(pack) == 1 and len(seqs[pack[0]]) > chunk:  # one long sequence: chunk it
                i = pack[0]
                xp, n = padded[0], len(seqs[i])
                for s in range(0, n, chunk):
                    e = min(n, s + chunk)
                    outs[i][s:e] = _forward(fmodel, xp[s : e + rf - 1], perm_in, perm_out)
                    bar.update(e - s)
                continue
            stream = torch.cat(padded, 0) if len(padded) > 1 else padded[0]
            y = _forward(fmodel, stream, perm_in, perm_out)  # (len(stream) - rf + 1, J, 3)
            at = 0
            for i, p in zip(pack, padded):
                n = len(seqs[i])
                outs[i][:] = y[at : at + n]
                at += len(p)  # the rf - 1 outputs straddling into the next sequence are skipped
                bar.update(n)
    return outs


def _forward(fmodel: FoldedNetwork, x: torch.Tensor, perm_in, perm_out) -> np.ndarray:
    """``x`` ``(T, J, F)`` -> ``(T - rf + 1, J_out, 3)`` numpy; with flip, both in one batch of 2."""
    if perm_in is None:
        return fmodel(x[None])[0].float().cpu().numpy()
    y = fmodel(torch.stack([x, flip_keypoints(x, perm_in)]))
    y = (y[0] + flip_poses(y[1], perm_out)) / 2
    return y.float().cpu().numpy()


def _prepare(model, chunk: int, device) -> tuple[FoldedNetwork, torch.device]:
    """The folded model on the device to run on (the model's own unless ``device`` is given)."""
    if chunk < 1:
        raise InputError(f"chunk must be >= 1, got {chunk}")
    fmodel = folded(model)
    dev = torch.device(device) if device is not None else _device_of(model)
    if _device_of(fmodel) != dev:
        fmodel = fmodel.converted(device=dev)  # a copy: the folded form cached on the model is shared
    return fmodel, dev


def _as_tensor(x, fmodel: FoldedNetwork, dev, where: str = "") -> torch.Tensor:
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    dtype = fmodel.layers[0].weight.dtype  # the model's dtype (float32 unless it was converted)
    if dtype in NUMPY_DTYPES:  # a float64 value beyond float32's range would become inf: say so
        check_float_range(x, NUMPY_DTYPES[dtype], f"{where}keypoints")
    return x.to(dev, dtype)


def _check_outputs(ys: list[np.ndarray]) -> list[np.ndarray]:
    """Poses are written only when finite: from finite, in-range input, NaN means the model itself is broken."""
    for i, y in enumerate(ys):
        check_finite(y, "lifted poses" if len(ys) == 1 else f"lifted poses of sequence {i}",
                     hint="the input was finite, so the model's weights are broken or its arithmetic overflowed")
    return ys


def lift_sequence(
    model: TemporalLifter | FoldedNetwork,
    inputs,
    pad: bool = True,
    flip_perms: tuple[Sequence[int], Sequence[int]] | None = None,
    chunk: int = DEFAULT_CHUNK,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Lift one sequence.

    Args:
        model: a trained lifter (its eval-mode maths are used; the model is not modified)
            or a :class:`~poselift.model.folded.FoldedNetwork`.
        inputs: ``(T, J_in, F)`` normalised 2D (+ confidence), numpy or torch.
        pad: pad edges so the output has ``T`` frames; without padding the
            output has ``T - rf + 1`` frames and ``T < rf`` raises.
        flip_perms: ``(input_perm, output_perm)`` left/right permutations; when
            given, the prediction for the mirrored input is un-mirrored and
            averaged in (test-time augmentation).
        chunk: output frames per forward pass: bounds memory on long videos
            (about ``chunk x channels x 4 bytes`` per live activation, x2 with flip).
        device: where to run (defaults to the model's device); a FoldedNetwork is
            moved there.
        progress: show a progress bar (frames).

    Returns:
        ``(T, J_out, 3)`` (or ``(T - rf + 1, J_out, 3)`` without padding) as numpy float32.
    """
    fmodel, dev = _prepare(model, chunk, device)
    x = _as_tensor(inputs, fmodel, dev)
    _check_inputs(fmodel, x)
    if not pad:
        rf = fmodel.receptive_field
        if x.shape[0] < rf:
            raise InputError(f"sequence too short: {x.shape[0]} frames for a receptive field of {rf} "
                             "(use pad=True to get one output per input frame)")
        n = x.shape[0] - rf + 1
        out = np.empty((n, fmodel.out_joints, 3), np.float32)
        perm_in = None if flip_perms is None else torch.as_tensor(flip_perms[0], device=dev)
        perm_out = None if flip_perms is None else torch.as_tensor(flip_perms[1], device=dev)
        with torch.inference_mode():
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                out[s:e] = _forward(fmodel, x[s : e + rf - 1], perm_in, perm_out)
        return _check_outputs([out])[0]
    return _check_outputs(_lift_packed(fmodel, [x], flip_perms, chunk, progress, "lifting"))[0]


def lift_sequences(
    model: TemporalLifter | FoldedNetwork,
    inputs: Sequence,
    flip_perms: tuple[Sequence[int], Sequence[int]] | None = None,
    chunk: int = DEFAULT_CHUNK,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> list[np.ndarray]:
    """Lift many sequences (each edge-padded), packed into large forward passes.

    Same results as :func:`lift_sequence` on each sequence; much faster for
    many short sequences. ``inputs``: list of ``(T_i, J_in, F)``; returns a list
    of ``(T_i, J_out, 3)`` float32 arrays.
    """
    fmodel, dev = _prepare(model, chunk, device)
    xs = []
    for i, x in enumerate(inputs):
        x = _as_tensor(x, fmodel, dev, where=f"sequence {i}: ")
        _check_inputs(fmodel, x, where=f"sequence {i}: ")
        xs.append(x)
    if not xs:
        return []
    return _check_outputs(_lift_packed(fmodel, xs, flip_perms, chunk, progress, "lifting"))


@dataclass
class Lifter:
    """A trained pose lifter (and optional trajectory model) ready to use.

    Attributes:
        model: the pose model, eval mode.
        layout_in, layout_out: joint layouts of its 2D input and 3D output.
        flip_test: average with the mirrored input's prediction.
        traj_model: trajectory model of a semi-supervised run, else ``None``.
        run_dir: where it came from.
        root_relative: subtract the predicted root joint from every pose (default). ``False`` returns the
            network's output as it is (it learned to put the root near the origin); VideoPose3D's
            Protocol 1 is measured on that raw output.
        normalization: how 2D input is normalised, as in training (``"image"``: by the image width;
            ``"torso"``/``"bbox"``: by the person's size; :mod:`poselift.core.normalization`).
            :func:`load_lifter` reads it from the checkpoint, so a run is always fed as it was trained.

    Example (an untrained model of 9 frames; :func:`load_lifter` gives a run's trained one):

        >>> import numpy as np, torch
        >>> from poselift import Lifter, PoseSequence, TemporalLifter, get_layout
        >>> _ = torch.manual_seed(0)
        >>> model = TemporalLifter(17, 17, widths=(3, 3), channels=16).eval()
        >>> lifter = Lifter(model, get_layout("h36m17"), get_layout("h36m17"))
        >>> lifter.receptive_field
        9
        >>> pixels = np.random.default_rng(0).uniform(0, 640, (30, 17, 2))      # (T, J, 2) 2D in pixels
        >>> poses = lifter.lift(PoseSequence(pixels, "h36m17", image_size=(640, 480)))
        >>> poses.shape, poses.dtype                       # one 3D pose per input frame, metres
        ((30, 17, 3), dtype('float32'))
        >>> float(np.abs(poses[:, 0]).max())               # root-relative: the pelvis at the origin
        0.0
    """

    model: TemporalLifter
    layout_in: Layout
    layout_out: Layout
    flip_test: bool = True
    traj_model: TemporalLifter | None = None
    run_dir: Path | None = None
    root_relative: bool = field(default=True, kw_only=True)  # keyword-only: two flags must never swap places
    normalization: str = field(default="image", kw_only=True)

    def __post_init__(self) -> None:
        check_normalization(self.normalization, "Lifter normalization")

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def inputs(self, seq: PoseSequence) -> np.ndarray:
        """``(T, J_in, F)`` model input for ``seq``: its layout converted if needed, normalised as in training."""
        return seq.converted(self.layout_in).inputs(self.model.in_features, self.normalization)

    def _perms(self):
        return flip_pair(self.layout_in, self.layout_out) if self.flip_test else None

    def _root_relative(self, y: np.ndarray) -> np.ndarray:
        if not self.root_relative:
            return y
        r = self.layout_out.root
        return y - y[:, r : r + 1]

    def _scaled(self, y: np.ndarray, body_height: float | None) -> np.ndarray:
        return y if body_height is None else scale_to_body_height(y, body_height, self.layout_out)

    def lift(self, seq: PoseSequence | np.ndarray, progress: bool = False,
             body_height: float | None = None) -> np.ndarray:
        """Root-relative 3D poses ``(T, J_out, 3)`` in metres, camera frame.

        ``seq`` is a :class:`PoseSequence` or an already prepared input array
        ``(T, J_in, F)`` (then normalised by the caller as :attr:`normalization` says); any length
        (long sequences run in chunks in bounded memory, with a progress bar when ``progress``).
        ``body_height`` (metres): scale the sequence's poses so that their ankle-to-head-top
        height (:func:`poselift.core.normalization.body_height`) is this.
        """
        x = self.inputs(seq) if isinstance(seq, PoseSequence) else numeric_array(seq, "keypoints")
        y = self._root_relative(lift_sequence(self.model, x, flip_perms=self._perms(), progress=progress))
        return self._scaled(y, body_height)

    def lift_chunks(self, seq: PoseSequence | np.ndarray, chunk: int = DEFAULT_CHUNK, progress: bool = False
                    ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`lift` one chunk at a time, for writing as it comes: memory bounded by the chunk, not the length.

        Yields ``(start, poses)``: consecutive chunks of root-relative ``(n, J_out, 3)`` poses (metres), the
        first at ``start = 0``, together exactly :meth:`lift`'s output (each chunk reads its ``rf - 1`` context
        frames, the sequence's edge frames repeated at its ends). With image normalisation (per frame) the input
        of a :class:`PoseSequence` is prepared chunk by chunk too; the output is never held whole (:func:`poselift.detectors.formats.write_poses3d_h5` writes such chunks as they come).
        """
        from tqdm.auto import tqdm

        fmodel, dev = _prepare(self.model, chunk, None)
        if isinstance(seq, PoseSequence) and self.normalization == "image":  # per-frame: prepared chunk by chunk
            n = len(seq)

            def frames(lo: int, hi: int) -> torch.Tensor:
                xt = _as_tensor(self.inputs(seq.slice(lo, hi)), fmodel, dev, f"frames {lo}-{hi - 1}: ")
                _check_inputs(fmodel, xt, f"frames {lo}-{hi - 1}: ")
                return xt
        else:
            x = self.inputs(seq) if isinstance(seq, PoseSequence) else numeric_array(seq, "keypoints")
            whole = _as_tensor(x, fmodel, dev)
            _check_inputs(fmodel, whole)
            n = int(whole.shape[0])

            def frames(lo: int, hi: int) -> torch.Tensor:
                return whole[lo:hi]
        before, after = fmodel.pad
        perms = self._perms()
        perm_in = None if perms is None else torch.as_tensor(perms[0], device=dev)
        perm_out = None if perms is None else torch.as_tensor(perms[1], device=dev)
        with tqdm(total=n, desc="lifting", unit="frame", unit_scale=True, disable=not progress, leave=False,
                  dynamic_ncols=True) as bar:
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                lo, hi = max(0, s - before), min(n, e + after)
                idx = torch.arange(s - before, e + after, device=dev).clamp_(0, n - 1) - lo  # edges repeated
                with torch.inference_mode():
                    y = _forward(fmodel, frames(lo, hi)[idx], perm_in, perm_out)
                check_finite(y, "lifted poses", hint="the input was finite, so the model's weights are broken or "
                             "its arithmetic overflowed")
                bar.update(e - s)
                yield s, self._root_relative(y)

    def lift_all(self, seqs: Sequence[PoseSequence | np.ndarray], max_frames: int | None = None,
                 progress: bool = False, body_height: float | None = None) -> list[np.ndarray]:
        """:meth:`lift` for many sequences at once: ``(T_i, J_out, 3)`` each, root-relative, metres.

        All sequences go through :func:`lift_sequences` together (packed into large
        forward passes, flip in the same pass); ``max_frames`` keeps only the first
        frames of each (per-epoch monitoring).
        """
        xs = [self.inputs(s) if isinstance(s, PoseSequence) else numeric_array(s, "keypoints") for s in seqs]
        if max_frames:
            xs = [x[:max_frames] for x in xs]
        ys = lift_sequences(self.model, xs, flip_perms=self._perms(), progress=progress)
        return [self._scaled(self._root_relative(y), body_height) for y in ys]

    def trajectory(self, seq: PoseSequence | np.ndarray) -> np.ndarray:
        """Root position ``(T, 3)`` in camera coordinates (semi-supervised runs only)."""
        if self.traj_model is None:
            raise InputError("this run has no trajectory model (train semi-supervised or with trajectory: true)")
        if self.normalization != "image":
            raise InputError(f"a trajectory needs the image position: this run normalises its input by the "
                             f"person's size ({self.normalization!r})")
        x = self.inputs(seq) if isinstance(seq, PoseSequence) else numeric_array(seq, "keypoints")
        perms = None
        if self.flip_test:
            perms = (self.layout_in.flip_permutation, np.zeros(1, dtype=np.int64))
        return lift_sequence(self.traj_model, x, flip_perms=perms)[:, 0]


def load_lifter(run_dir: str | os.PathLike, device: str = "auto", flip_test: bool | None = None) -> Lifter:
    """Load the trained model(s) of a run folder (its ``checkpoint.pt``).

    Args:
        run_dir: a folder written by ``poselift train`` / ``poselift demo``.
        device: ``"auto"`` (CUDA if it works), ``"cpu"``, ...
        flip_test: override the run's flip test-time augmentation setting.

    Example (a run folder written here from an untrained model; ``poselift train`` writes real ones):

        >>> import tempfile, numpy as np, torch
        >>> from poselift.checkpoint import CHECKPOINT, lifter_payload, save_checkpoint
        >>> from poselift.model.tcn import TemporalLifter
        >>> _ = torch.manual_seed(0)
        >>> model = TemporalLifter(17, 17, widths=(3, 3), channels=16).eval()
        >>> with tempfile.TemporaryDirectory() as run:
        ...     save_checkpoint(lifter_payload(model, "h36m17", "h36m17"), Path(run) / CHECKPOINT)
        ...     lifter = load_lifter(run, device="cpu", flip_test=False)
        >>> lifter.layout_in.name, lifter.layout_out.name, lifter.receptive_field, lifter.normalization
        ('h36m17', 'h36m17', 9, 'image')
        >>> x = np.random.default_rng(0).normal(size=(20, 17, 2)).astype(np.float32)   # (T, J_in, 2) normalised
        >>> same = Lifter(model, lifter.layout_in, lifter.layout_out, flip_test=False).lift(x)
        >>> bool(np.array_equal(lifter.lift(x), same))      # the weights came back bit for bit
        True
        >>> load_lifter(tempfile.gettempdir() + "/no_such_run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: .../no_such_run is not a run folder: no checkpoint.pt in it
    """
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {CHECKPOINT} in it")
    dev = resolve_device(device)
    state = load_checkpoint(path)  # weights_only: a pickle that would run code is refused
    with reading(path, "checkpoint"):
        p = read_lifter_payload(state, path)
    if flip_test is None:
        flip_test = bool(p["extra"].get("flip_test", True))
    model, traj = p["model"].to(dev).eval(), p["traj_model"]
    if traj is not None:
        traj.to(dev).eval()
    return Lifter(model, p["layout_in"], p["layout_out"], flip_test, traj_model=traj, run_dir=run_dir,
                  normalization=p["normalization"])
