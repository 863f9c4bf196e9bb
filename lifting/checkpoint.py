"""The one checkpoint format: what ``checkpoint.pt`` holds, how it is written, and how it is read.

A checkpoint is a plain dict saved with ``torch.save`` and read back with
``torch.load(weights_only=True)`` (tensors, numbers, strings and plain
containers only; nothing in it can run code when loaded)::

    model               state dict of the pose model (TemporalLifter)
    model_config        its constructor arguments (TemporalLifter.config())
    traj_model          state dict of the trajectory model, or None
    traj_model_config   its constructor arguments, or None
    layout_in           joint layout name of the 2D input
    layout_out          joint layout name of the 3D output
    extra               {"flip_test": bool, "features": int, "normalization": str, "source": dict, ...}
                        what using the model needs: "normalization" is how the 2D input was
                        normalised in training ("image" when absent; poselift.core.normalization),
                        "source" where imported weights came from (poselift.experiments.vp3d_import)
    -- written by training, needed only to resume it --
    optimizer, epoch, history, settings, rng

:func:`lifter_payload` builds the first part (the trainer adds the rest) and
:func:`read_lifter_payload` turns it back into models: both the trainer and
:func:`poselift.inference.load_lifter` go through them, so the format is
defined here and nowhere else.
"""
from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from poselift.core.errors import FileFormatError
from poselift.core.io import FREE_BYTES, MAX_EXPANSION, atomic_path, format_bytes
from poselift.core.layouts import Layout, get_layout
from poselift.core.normalization import NORMALIZATIONS
from poselift.model.tcn import TemporalLifter

__all__ = [
    "CHECKPOINT",
    "save_checkpoint",
    "load_checkpoint",
    "lifter_payload",
    "read_lifter_payload",
    "build_model",
    "check_tensors",
]

CHECKPOINT = "checkpoint.pt"
"""File name of the checkpoint in a run folder."""

_REQUIRED = ("model", "model_config", "layout_in", "layout_out")


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    """Write ``state`` with ``torch.save``, atomically (a crash leaves the old file or the new one)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu",
                    stand_ins: Mapping[str, Callable] | None = None) -> dict:
    """Load a checkpoint as untrusted data.

    Always ``torch.load(..., weights_only=True)``: tensors, numbers, strings and
    plain containers only. A pickle that names any other Python object (a
    class, or a function such as ``os.system`` that would run when unpickled)
    is refused before anything of it runs.

    ``stand_ins`` (for foreign checkpoints, e.g. VideoPose3D's, which carry a
    numpy random state): ``{"module.name": callable}``; a pickle naming one of
    these gets the given harmless callable in its place (the named object
    itself is never imported or called). Everything else is still refused.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: corrupt or truncated, not a checkpoint, not a dict at
            the top level, refused because it holds Python objects, or because a
            tensor addresses more than its storage holds (:func:`check_tensors`).
        MemoryError: out of memory (said as such, never "corrupt").
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    _check_container(path)
    allowed = [(fn, name) for name, fn in (stand_ins or {}).items()]
    try:
        with torch.serialization.safe_globals(allowed), warnings.catch_warnings():
            # torch warns (two lines) about pickle protocols before failing on a foreign pickle: the one-line
            # error below says it all
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError as e:
        raise MemoryError(f"{path}: out of memory while loading the checkpoint ({e or 'no detail'})") from e
    except Exception as e:  # noqa: BLE001 - zipfile, pickle, torch and OS errors alike
        text = str(e)
        if isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower()):
            raise MemoryError(f"{path}: out of memory while loading the checkpoint "
                              f"({' '.join(text.split())[:200]})") from e
        if isinstance(e, pickle.UnpicklingError) and "weights only load failed" in text.lower():
            # torch's message: a long preamble, then the unpickler's reason
            reason = text.split("WeightsUnpickler error:", 1)[-1]
            lines = [ln.strip() for ln in reason.splitlines() if ln.strip()]
            named = [ln for ln in text.splitlines() if "GLOBAL" in ln]
            if named:  # the pickle names a Python class or function: refused, nothing of it ran
                what = named[0].strip().split(" was not an allowed", 1)[0].split(" whose module", 1)[0]
                raise FileFormatError(
                    f"{path}: refused: the checkpoint holds Python objects beyond tensors and plain containers, "
                    f"which could run code when loaded ({what[:200]}); poselift loads checkpoints with "
                    "torch.load(weights_only=True)",
                    path,
                ) from None
            text = lines[0] if lines else "not a torch checkpoint"
        text = " ".join(text.split())
        raise FileFormatError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {text[:300]})",
                              path) from e
    if not isinstance(state, dict):
        raise FileFormatError(f"{path}: not a poselift checkpoint (a {type(state).__name__}, not a dict)", path)
    check_tensors(state, path)
    return state


# the legacy (pre-1.6) torch.save format starts with this magic number, pickled (LONG1 opcode)
_LEGACY_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _check_container(path: Path) -> None:
    """Before ``torch.load``: a zip archive whose members expand within :data:`~poselift.core.io.MAX_EXPANSION`
    times the file's size, or torch's legacy format; anything else (a plain pickle, another format) is refused
    in one line."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(32)
    if _LEGACY_MAGIC in head:
        return
    if not zipfile.is_zipfile(path):
        raise FileFormatError(f"{path}: corrupt or truncated checkpoint, or not a checkpoint at all (a plain pickle, "
                              "another format): torch.save writes a zip archive or its legacy format, and this is "
                              "neither", path)
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(i.file_size for i in zf.infolist())
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, ...
        raise FileFormatError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {e})", path) from None
    if declared > max(FREE_BYTES, MAX_EXPANSION * size):
        raise FileFormatError(f"{path}: refused: its members declare {format_bytes(declared)} in a file of "
                              f"{format_bytes(size)} (more than {MAX_EXPANSION} times: a zip bomb or damaged)", path)


def check_tensors(state: Any, path: str | os.PathLike) -> None:
    """Refuse tensors that address more elements than their storage holds, before anything is materialised.

    ``torch.zeros(1).expand(6000, 6000, 3)`` is saved as a one-element storage with stride 0: the file is a
    few kB, but every use of the tensor (a copy into a model, a check of its values) allocates its full size.
    Every tensor found in ``state`` (nested dicts, lists and tuples) must have at least as many elements in
    its storage as it has (``numel``) and as its strides reach; and all of them together may address at most
    :data:`~poselift.core.io.MAX_EXPANSION` times the file's size (beyond :data:`~poselift.core.io.FREE_BYTES`).
    :func:`load_checkpoint` calls it on every checkpoint it reads (``lift``, ``evaluate``, ``export``,
    ``import``, ``train --resume``).

    Raises:
        FileFormatError: naming the tensor, its shape and what its storage holds.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    budget = max(FREE_BYTES, MAX_EXPANSION * size)
    total = 0
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", state)]
    while stack:
        where, obj = stack.pop()
        if isinstance(obj, torch.Tensor):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            numel = obj.numel()
            if numel == 0:
                continue
            if obj.layout != torch.strided:
                raise FileFormatError(f"{path}: tensor {where or '(top level)'} is {obj.layout}, not a dense tensor; "
                                      "poselift checkpoints hold dense tensors only", path)
            held = obj.untyped_storage().nbytes() // max(obj.element_size(), 1)
            reach = obj.storage_offset() + sum((n - 1) * abs(s) for n, s in zip(obj.shape, obj.stride())) + 1
            if numel > held or reach > held:
                raise FileFormatError(
                    f"{path}: refused: tensor {where or '(top level)'} of shape {tuple(obj.shape)} (strides "
                    f"{tuple(obj.stride())}) addresses {numel:,} elements but its storage holds {held:,} (an "
                    "expanded or crafted tensor that would grow when used)", path)
            total += numel * obj.element_size()
            if total > budget:
                raise FileFormatError(f"{path}: refused: its tensors address {format_bytes(total)} in a file of "
                                      f"{format_bytes(size)} (more than {MAX_EXPANSION} times)", path)
        elif isinstance(obj, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(obj))


def lifter_payload(model: TemporalLifter, layout_in: str | Layout, layout_out: str | Layout,
                   traj_model: TemporalLifter | None = None, extra: dict | None = None) -> dict:
    """The part of a checkpoint that using the model needs (see the module docstring)."""
    return {
        "model": model.state_dict(),
        "model_config": model.config(),
        "traj_model": None if traj_model is None else traj_model.state_dict(),
        "traj_model_config": None if traj_model is None else traj_model.config(),
        "layout_in": get_layout(layout_in).name,
        "layout_out": get_layout(layout_out).name,
        "extra": dict(extra or {}),
    }


def build_model(config: Any, weights: Any, path: str | os.PathLike, what: str = "model") -> TemporalLifter:
    """A :class:`TemporalLifter` from a stored configuration and state dict, checked before anything is allocated.

    The configuration is first turned into a model on torch's ``meta`` device
    (shapes only, no memory), and every stored tensor's shape is compared with
    it; only a checkpoint whose tensors really have those shapes is built for
    real. A configuration that claims a huge model its tensors do not hold
    costs nothing.

    Raises:
        FileFormatError: a configuration that does not fit :class:`TemporalLifter`, missing or
            unexpected weights, weights whose shapes differ from the configuration's, or
            weights holding NaN or infinite values (named).
    """
    path = Path(path)
    if not isinstance(config, dict):
        raise FileFormatError(f"{path}: {what} config is a {type(config).__name__}, not a dict", path)
    if not isinstance(weights, dict):
        raise FileFormatError(f"{path}: {what} weights are a {type(weights).__name__}, not a state dict", path)
    try:
        with torch.device("meta"):
            skeleton = TemporalLifter(**config)
    except (TypeError, ValueError) as e:  # unknown or missing constructor arguments, bad values
        raise FileFormatError(f"{path}: {what} config {config} does not fit this poselift ({e})", path) from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise FileFormatError(f"{path}: {what} weights do not match its config: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}", path)
    for k, shape in expected.items():
        t = weights[k]
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else None
        if got != shape:
            raise FileFormatError(f"{path}: {what} weight {k!r} has shape {got}, but the stored config "
                                  f"{config} implies {shape}", path)
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise FileFormatError(f"{path}: {what} weight {k!r} holds {bad} NaN or infinite value(s) of {t.numel()}: "
                                  "the training diverged or the file is damaged, and every pose it lifts would be "
                                  "NaN", path)
    model = TemporalLifter(**config)
    model.load_state_dict(weights)
    return model


def read_lifter_payload(state: dict, path: str | os.PathLike) -> dict:
    """Models and settings from a checkpoint dict (see :func:`lifter_payload`).

    Returns:
        ``{"model", "traj_model" (or None), "layout_in", "layout_out" (Layout), "extra" (dict),
        "normalization" (str: ``extra["normalization"]``, ``"image"`` when absent)}``.

    Raises:
        FileFormatError: a key missing, a model that cannot be built, an unknown layout or normalisation.
    """
    path = Path(path)
    for key in _REQUIRED:
        if key not in state:
            raise FileFormatError(f"{path} is not a poselift checkpoint (no {key!r})", path)
    model = build_model(state["model_config"], state["model"], path)
    traj = None
    if state.get("traj_model_config") is not None:
        traj = build_model(state["traj_model_config"], state.get("traj_model"), path, "trajectory model")
    try:
        layout_in, layout_out = get_layout(state["layout_in"]), get_layout(state["layout_out"])
    except KeyError as e:
        raise FileFormatError(f"{path}: {e}", path) from None
    extra = state.get("extra", {})
    extra = extra if isinstance(extra, dict) else {}
    normalization = extra.get("normalization", "image")
    if normalization not in NORMALIZATIONS:
        raise FileFormatError(f"{path}: unknown 2D input normalisation {normalization!r} in the checkpoint; "
                              f"this poselift knows {list(NORMALIZATIONS)}", path)
    return {"model": model, "traj_model": traj, "layout_in": layout_in, "layout_out": layout_out,
            "extra": extra, "normalization": normalization}
