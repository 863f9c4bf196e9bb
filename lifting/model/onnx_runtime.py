"""Running an exported lifter (:mod:`poselift.model.onnx`) with ONNX Runtime, with the API of the torch forms.

:class:`OnnxSequenceModel` runs ``lifter.onnx`` (whole sequences, edge-padded like
:func:`~poselift.inference.lift_sequence`); :class:`OnnxStepModel` runs ``lifter_step.onnx`` one
frame at a time with the :class:`~poselift.model.streaming.StreamingLifter` API (``push``, ``reset``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from poselift.core.errors import InputError
from poselift.core.io import check_onnx_external_data
from poselift.core.windows import pad_edges, window_geometry
from poselift.model.onnx import SEQUENCE_FILE, STEP_FILE, verify_export_file

__all__ = ["OnnxSequenceModel", "OnnxStepModel"]


def _session(path: Path, providers: Sequence[str] | None, threads: int | None):
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise RuntimeError("running an exported lifter needs onnxruntime (pip install onnxruntime)") from e
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    verify_export_file(path)  # a folder mixing two exports is refused
    check_onnx_external_data(path)  # weights from outside the export's folder are refused
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=list(providers or ["CPUExecutionProvider"]))


def _meta_props(session) -> dict:
    props = session.get_modelmeta().custom_metadata_map
    try:
        return {"receptive_field": int(props["receptive_field"]), "causal": bool(int(props["causal"])),
                "latency_frames": int(props["latency_frames"]), "in_joints": int(props["in_joints"]),
                "in_features": int(props["in_features"]), "out_joints": int(props["out_joints"])}
    except (KeyError, ValueError) as e:
        raise InputError(f"not a poselift lifter export (metadata {sorted(props)} lacks {e})") from None


def _check_frames(x: np.ndarray, j: int, f: int, what: str) -> None:
    if x.shape[-2:] != (j, f):
        raise InputError(f"{what}: expected (..., {j}, {f}) keypoints, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError(f"{what} contain NaN or infinite values")


class OnnxSequenceModel:
    """``lifter.onnx`` in ONNX Runtime.

    Args:
        path: the ``.onnx`` file or the export folder.
        providers: ONNX Runtime execution providers (default CPU).
        threads: intra-op threads (default: ONNX Runtime's choice).
    """

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] | None = None,
                 threads: int | None = None) -> None:
        path = Path(path)
        self.session = _session(path / SEQUENCE_FILE if path.is_dir() else path, providers, threads)
        self.meta = _meta_props(self.session)

    @property
    def receptive_field(self) -> int:
        return self.meta["receptive_field"]

    def __call__(self, keypoints) -> np.ndarray:
        """``(B, T, J_in, F)`` -> ``(B, T - rf + 1, J_out, 3)`` (no padding)."""
        x = np.ascontiguousarray(keypoints, dtype=np.float32)
        if x.ndim != 4:
            raise InputError(f"keypoints: expected (batch, frames, joints, features), got shape {x.shape}")
        _check_frames(x, self.meta["in_joints"], self.meta["in_features"], "keypoints")
        if x.shape[1] < self.receptive_field:
            raise InputError(f"sequence too short: {x.shape[1]} frames for a receptive field of {self.receptive_field}")
        return self.session.run(["poses_3d"], {"keypoints": x})[0]

    def lift(self, sequence) -> np.ndarray:
        """``(T, J_in, F)`` -> ``(T, J_out, 3)``: edge-padded like :func:`~poselift.inference.lift_sequence`."""
        x = np.asarray(sequence, np.float32)
        if x.ndim != 3 or len(x) == 0:
            raise InputError(f"expected a non-empty sequence (frames, joints, features), got shape {x.shape}")
        before, after = window_geometry(self.receptive_field, self.meta["causal"]).pad
        return self(pad_edges(x, before, after)[None])[0]


class OnnxStepModel:
    """``lifter_step.onnx`` in ONNX Runtime, with the :class:`~poselift.model.streaming.StreamingLifter` API.

    Args:
        path: the ``.onnx`` file or the export folder.
        streams: ``S``, streams advanced together by each :meth:`push`.
        providers, threads: as :class:`OnnxSequenceModel`.

    Shapes:
        :meth:`push`: ``(J_in, F)`` -> ``(J_out, 3)`` or ``(S, J_in, F)`` -> ``(S, J_out, 3)``, numpy float32.
    """

    def __init__(self, path: str | os.PathLike, streams: int = 1, providers: Sequence[str] | None = None,
                 threads: int | None = None) -> None:
        path = Path(path)
        self.session = _session(path / STEP_FILE if path.is_dir() else path, providers, threads)
        self.meta = _meta_props(self.session)
        if int(streams) < 1:
            raise InputError(f"streams must be at least 1, got {streams}")
        self.streams = int(streams)
        self.caches = {}
        for i in self.session.get_inputs():
            if i.name.startswith("cache_"):
                self.caches[i.name] = np.zeros((self.streams, *i.shape[1:]), np.float32)
        self._outputs = ["pose_3d"] + [f"next_{n}" for n in self.caches]
        self._reset = np.ones(self.streams, bool)

    @property
    def latency_frames(self) -> int:
        return self.meta["latency_frames"]

    def reset(self, stream: int | None = None) -> None:
        """Start a new sequence on all streams or on one."""
        if stream is None:
            self._reset[:] = True
        else:
            self._reset[int(stream)] = True

    def push(self, keypoints) -> np.ndarray:
        """Advance every stream by one frame (see :meth:`poselift.model.streaming.StreamingLifter.push`)."""
        x = np.asarray(keypoints, np.float32)
        batched = x.ndim == 3
        if not batched:
            if x.ndim != 2 or self.streams != 1:
                raise InputError(f"keypoints: expected shape ({self.streams}, joints, features)"
                                 f"{' or (joints, features)' if self.streams == 1 else ''}, got {x.shape}")
            x = x[None]
        if x.shape[0] != self.streams:
            raise InputError(f"keypoints: expected {self.streams} streams, got shape {x.shape}")
        _check_frames(x, self.meta["in_joints"], self.meta["in_features"], "keypoints")
        feed = {"keypoints": np.ascontiguousarray(x), "reset": self._reset, **self.caches}
        res = self.session.run(self._outputs, feed)
        for name, value in zip(self.caches, res[1:]):
            self.caches[name] = value
        self._reset = np.zeros(self.streams, bool)
        return res[0] if batched else res[0][0]
