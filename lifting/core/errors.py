"""The package's own exceptions, and small checks that raise them.

Every problem with what a user hands the package (arrays, files, configs,
models) is reported with one of these types and a message that names what is
wrong and where (file, key, frame, joint), never as a traceback from deep
inside numpy, h5py or torch::

    PoseliftError                      everything poselift raises on purpose
    └── InputError (ValueError)        bad data or arguments
        ├── FileFormatError            corrupt, truncated or wrong-format file (``.path``)
        ├── ConfigError                unknown or mistyped configuration keys/values
        ├── SignatureError             an ONNX model with other inputs/outputs than expected
        └── LayoutError (KeyError)     unknown layout, joint or layout conversion
    └── FolderBusyError                a run folder (or output) that another process is writing

:class:`InputError` subclasses :class:`ValueError` (and :class:`LayoutError`
also :class:`KeyError`, what an unknown name raised before), so code that
catches those keeps working.

Missing files stay :class:`FileNotFoundError`.

NaN/inf policy (see :func:`check_finite`): file readers keep a non-finite 2D
keypoint as a *missing* joint (NaN, confidence 0) and the tracker fills it;
everything that reaches the lifter (:class:`~poselift.core.sequence.PoseSequence`,
:class:`~poselift.training.window_bank.WindowBank`, :class:`~poselift.model.tcn.TemporalLifter`)
must be finite and non-finite values raise :class:`InputError` naming the
first bad frame and joint.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = [
    "ConfigError",
    "FileFormatError",
    "FolderBusyError",
    "InputError",
    "InputWarning",
    "LayoutError",
    "PoseliftError",
    "SignatureError",
    "UnsafePickleWarning",
    "check_finite",
    "check_float_range",
    "check_magnitude",
    "check_shape",
    "declared_too_large",
    "numeric_array",
    "reading",
]


class PoseliftError(Exception):
    """Base class of every error poselift raises on purpose."""

    # LayoutError also derives from KeyError, whose str() quotes the message: use the plain text
    __str__ = BaseException.__str__


class InputError(PoseliftError, ValueError):
    """Bad input data or arguments (wrong shape, joint count, NaN, empty sequence, ...)."""


class FileFormatError(InputError):
    """A file that is corrupt, truncated or not in the expected format.

    Attributes:
        path: the file (``None`` when not known).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)


class ConfigError(InputError):
    """An experiment configuration with unknown keys or values of the wrong type or range."""


class SignatureError(InputError):
    """An ONNX model whose inputs or outputs differ from what the wrapper expects."""


class LayoutError(InputError, KeyError):
    """An unknown joint layout, joint name or layout conversion (also a ``KeyError``)."""


class FolderBusyError(PoseliftError):
    """A run folder (or another output) locked by another process that is writing it
    (:mod:`poselift.core.locks`); the message names the holder."""


class UnsafePickleWarning(UserWarning):
    """Loading a file that stores pickled Python objects (which can run code), after an explicit opt-in."""


class InputWarning(UserWarning):
    """Input that is usable but doubtful, said out loud: a 2D file and its video that disagree on the frame
    rate or size, a detector that finds nobody in frames whose maps are all weak (check the preprocessing)."""


# --------------------------------------------------------------------------- checks
def _location(index: Sequence[int], ndim: int, joint_names: Sequence[str] | None) -> str:
    """Words for an index into a ``(..., T, J, F)`` (or ``(T, J)``, ``(N,)``) array."""

    def joint(j: int) -> str:
        if joint_names is not None and 0 <= j < len(joint_names):
            return f"joint {j} ({joint_names[j]})"
        return f"joint {j}"

    index = [int(i) for i in index]
    if ndim == 0:
        return "the value"
    if ndim == 1:
        return f"index {index[0]}"
    if ndim == 2:
        return f"frame {index[0]}, {joint(index[1])}"
    lead = index[:-3]
    frame, j, _ = index[-3:]
    parts = []
    if len(lead) == 1:
        parts.append(f"sequence {lead[0]}")
    elif lead:
        parts.append(f"batch index {tuple(lead)}")
    parts += [f"frame {frame}", joint(j)]
    return ", ".join(parts)


def check_finite(x: Any, what: str = "keypoints", joint_names: Sequence[str] | Any | None = None,
                 *, hint: str = "") -> Any:
    """Raise :class:`InputError` when ``x`` holds NaN or infinite values.

    Args:
        x: numpy array or torch tensor (any device), normally ``(T, J, F)`` or
            ``(..., T, J, F)``; ``(T, J)`` (e.g. confidence) and other shapes work
            too (the location is then given as frame/joint or a plain index).
        what: names the array in the message (``"keypoints"``, ``"sequence S9/Walking: poses3d"``).
        joint_names: joint names (or a :class:`~poselift.core.layouts.Layout`) to name the joint.
        hint: appended to the message (e.g. how to fill gaps).

    Returns:
        ``x`` unchanged.

    The message names the first bad value in C order and counts the rest, e.g.
    ``keypoints contain NaN at frame 12, joint 5 (left_knee) (3 non-finite values in
    2 frames, shape (40, 17, 2))``.
    """
    if joint_names is not None and hasattr(joint_names, "joints"):
        joint_names = joint_names.joints
    try:
        import torch

        is_tensor = isinstance(x, torch.Tensor)
    except ImportError:  # pragma: no cover - torch is a dependency
        is_tensor = False
    if is_tensor:
        if not (x.is_floating_point() or x.is_complex()):
            return x
        finite = torch.isfinite(x)
        if bool(finite.all()):
            return x
        bad = ~finite
        first = [int(i) for i in bad.nonzero()[0].tolist()]
        value = float(x[tuple(first)].real.item()) if x.ndim else float(x.real.item())
        count = int(bad.sum())
        frames = int(bad.reshape(*bad.shape[:-2], -1).any(-1).sum()) if x.ndim >= 3 else None
        shape = tuple(x.shape)
    else:
        import numpy as np

        a = np.asarray(x)
        if a.dtype.kind in "biu":
            return x
        if a.dtype.kind not in "fc":
            raise InputError(f"{what}: expected numbers, got an array of dtype {a.dtype}")
        finite = np.isfinite(a)
        if finite.all():
            return x
        bad = ~finite
        first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape)] if a.ndim else []
        value = float(np.real(a[tuple(first)]))
        count = int(bad.sum())
        frames = int(bad.reshape(*bad.shape[:-2], -1).any(-1).sum()) if a.ndim >= 3 else None
        shape = a.shape
    kind = "NaN" if value != value else ("+inf" if value > 0 else "-inf")
    where = _location(first, len(shape), joint_names)
    extra = f"{count} non-finite value{'s' if count != 1 else ''}"
    if frames is not None:
        extra += f" in {frames} frame{'s' if frames != 1 else ''}"
    verb = "contain" if what.rstrip().endswith("s") else "contains"
    msg = f"{what} {verb} {kind} at {where} ({extra}, shape {shape})"
    if hint:
        msg += f"; {hint}"
    raise InputError(msg)


def check_shape(x: Any, expected: Sequence[int | None], what: str = "array",
                names: Sequence[str] | None = None) -> tuple[int, ...]:
    """Raise :class:`InputError` unless ``x.shape`` matches ``expected``.

    ``expected`` holds sizes or ``None`` (any size); ``names`` label the axes in
    the message, e.g. ``keypoints: expected shape (frames, 17, 2), got (40, 16, 2)``.

    Returns:
        the shape.
    """
    shape = tuple(int(s) for s in getattr(x, "shape", ()))
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        labels = [
            str(e) if e is not None else (names[i] if names is not None and i < len(names) else "?")
            for i, e in enumerate(expected)
        ]
        raise InputError(f"{what}: expected shape ({', '.join(labels)}), got {shape}")
    return shape


def declared_too_large(e: BaseException) -> bool:
    """True when ``e`` is numpy's refusal to allocate one array of a given shape and dtype.

    numpy raises a subclass of :class:`MemoryError` for that (``_ArrayMemoryError``, carrying
    ``shape`` and ``dtype``); its ``__name__`` changed between numpy versions (numpy 2 calls it
    ``MemoryError``), so the test is on the class and its attributes, never on a name. A plain
    :class:`MemoryError` (the machine really ran out of memory) is not such a refusal.
    """
    cls = type(e)
    return (isinstance(e, MemoryError) and cls is not MemoryError and cls.__module__.split(".")[0] == "numpy"
            and hasattr(e, "shape") and hasattr(e, "dtype"))


@contextlib.contextmanager
def reading(path: str | os.PathLike, kind: str) -> Iterator[None]:
    """Turn whatever a parser throws on a damaged file into :class:`FileFormatError`.

    ``with reading(path, "HDF5"): ...``: a :class:`FileFormatError` and a missing
    file pass through unchanged; poselift's other errors (a content check deeper
    down) become :class:`FileFormatError`, prefixed with the file unless they
    name it already; any other exception (from h5py, numpy,
    zipfile, json, pickle, a Unicode decoder, ...) becomes
    ``FileFormatError("<path>: corrupt or truncated <kind> file (<type>: <message>)")``,
    chained to the original (``--debug`` shows it). ``KeyboardInterrupt``,
    ``SystemExit`` and ``MemoryError`` are never converted, except numpy's refusal
    of a single array the file declares too large to allocate.
    """
    try:
        yield
    except MemoryError as e:
        if not declared_too_large(e):  # really out of memory: not the file's fault, do not mask it
            raise
        # numpy refused one allocation the file asked for (a damaged header claiming terabytes)
        raise FileFormatError(f"{path}: corrupt or truncated {kind} file (it declares an array too large to "
                              f"allocate: {e})", path) from e
    except (FileFormatError, FileNotFoundError):
        raise
    except PoseliftError as e:
        # a content check deeper down (a layout, a shape, NaN): it is this file's problem, say which file
        msg = str(e) if str(path) in str(e) else f"{path}: {e}"
        raise FileFormatError(msg, path) from e
    except (IsADirectoryError, PermissionError) as e:
        raise FileFormatError(f"{path}: cannot read this {kind} file ({e.strerror or e})", path) from e
    except Exception as e:  # noqa: BLE001 - the point: nothing low-level escapes a reader
        detail = str(e).strip() or "no detail"
        if len(detail) > 300:
            detail = detail[:300] + "..."
        raise FileFormatError(f"{path}: corrupt or truncated {kind} file ({type(e).__name__}: {detail})",
                              path) from e


def check_float_range(x: Any, dtype: Any = "float32", what: str = "keypoints",
                      joint_names: Sequence[str] | Any | None = None) -> Any:
    """Raise :class:`InputError` when finite values of ``x`` lie beyond the range of ``dtype``.

    Converting such values (e.g. float64 ``1e39`` into a float32 model) would turn
    them into infinities and the results into NaN; the message names the first
    one, where it is and the limit, e.g. ``keypoints: value 1e+39 at frame 3,
    joint 2 (left_knee) is beyond the float32 range (+-3.4e+38)``. Arrays already
    of ``dtype`` (or narrower), integers and torch tensors of ``dtype`` pass at once.

    Returns:
        ``x`` unchanged.
    """
    import numpy as np

    target = np.dtype(dtype)
    try:
        import torch

        if isinstance(x, torch.Tensor):
            if not x.is_floating_point() or x.element_size() <= target.itemsize:
                return x
            x = x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    a = np.asarray(x)
    if a.dtype.kind != "f" or a.dtype.itemsize <= target.itemsize:
        return x
    limit = float(np.finfo(target).max)
    with np.errstate(invalid="ignore"):
        over = np.isfinite(a) & (np.abs(a) > limit)
    if not over.any():
        return x
    if joint_names is not None and hasattr(joint_names, "joints"):
        joint_names = joint_names.joints
    first = [int(i) for i in np.unravel_index(int(np.argmax(over)), a.shape)] if a.ndim else []
    where = _location(first, a.ndim, joint_names)
    raise InputError(f"{what}: value {float(a[tuple(first)]):.3g} at {where} is beyond the {target} range "
                     f"(+-{limit:.2g}; {int(over.sum())} such value(s)); the input is corrupt or in the wrong units")


def check_magnitude(x: Any, limit: float, what: str = "keypoints",
                    joint_names: Sequence[str] | Any | None = None, hint: str = "") -> Any:
    """Raise :class:`InputError` when a value of ``x`` (numpy or torch) exceeds ``limit`` in magnitude.

    For finite values that are still absurd (keypoints at 3e38 pixels); the message names
    the first one and where it is. Non-finite values are left to :func:`check_finite`.

    Returns:
        ``x`` unchanged.
    """
    import numpy as np

    try:
        import torch

        if isinstance(x, torch.Tensor):
            if not x.is_floating_point():
                return x
            big = torch.isfinite(x) & (x.abs() > limit)
            if not bool(big.any()):
                return x
            x = x.detach().float().cpu().numpy() if x.dtype == torch.bfloat16 else x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    a = np.asarray(x)
    if a.dtype.kind != "f":
        return x
    with np.errstate(invalid="ignore"):
        big = np.isfinite(a) & (np.abs(a) > limit)
    if not big.any():
        return x
    if joint_names is not None and hasattr(joint_names, "joints"):
        joint_names = joint_names.joints
    first = [int(i) for i in np.unravel_index(int(np.argmax(big)), a.shape)] if a.ndim else []
    msg = (f"{what}: value {float(a[tuple(first)]):.3g} at {_location(first, a.ndim, joint_names)} exceeds "
           f"+-{limit:g} ({int(big.sum())} such value(s))")
    raise InputError(msg + (f"; {hint}" if hint else ""))


def numeric_array(x: Any, what: str, dtype: Any = None):
    """``x`` as a numpy array of real numbers (optionally cast to ``dtype``).

    Raises :class:`InputError` naming ``what`` for ragged lists, objects,
    strings or complex numbers, instead of letting them fail (or be silently
    converted) deep inside numpy. Values beyond ``dtype``'s range are refused
    (:func:`check_float_range`), not turned into infinities.
    """
    import numpy as np

    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged nested lists
        raise InputError(f"{what}: not an array of numbers ({e})") from None
    if a.dtype.kind not in "biuf":
        raise InputError(f"{what}: expected real numbers, got an array of dtype {a.dtype}")
    if dtype is None:
        return a
    check_float_range(a, dtype, what)  # a value float32 cannot hold would silently become inf
    return a.astype(dtype, copy=False)

