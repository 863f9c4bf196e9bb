"""One place that opens ONNX models with ONNX Runtime.

:class:`OnnxModel` wraps an ``onnxruntime.InferenceSession``:

* **providers are chosen explicitly.** ``onnxruntime.get_available_providers()``
  lists ``CUDAExecutionProvider`` whenever the GPU build is installed, even
  on a machine without a GPU or without the CUDA libraries; a session asked
  for CUDA then silently runs on the CPU. :func:`cuda_works` therefore builds
  a one-node probe model with CUDA first and checks which provider the
  session really got (once per process, with ONNX Runtime's log quietened
  while probing). ``providers="auto"`` means CUDA when that probe succeeds,
  else CPU. TensorRT is used only when asked for by name (building its
  engines takes minutes).
* **the provider in use is reported** (:attr:`OnnxModel.provider`), taken from
  the session, not from the request.
* **the model's signature is checked** against :class:`TensorSpec` lists the
  wrapper expects; a mismatch raises ``ValueError`` naming the tensor, the
  expected and the actual shape/type (:func:`check_signature`); a
  :class:`~poselift.core.errors.SignatureError` (a ``ValueError``).
* **declared sizes are capped**: a model whose fixed input dimensions ask for
  more than :data:`MAX_INPUT_VALUES` values per batch item (a crafted file
  declaring a 33000 x 33000 image) is refused on load, before any frame is
  resized to it (:func:`check_input_size`).
* **batches**: :meth:`OnnxModel.run` splits the leading (batch) axis into
  chunks no larger than the model allows (a model exported with a fixed
  batch of 1 runs item by item) and concatenates the results.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from poselift.core.errors import FileFormatError, InputError, SignatureError
from poselift.core.io import check_onnx_external_data

__all__ = [
    "TensorSpec",
    "OnnxModel",
    "cuda_works",
    "resolve_providers",
    "check_signature",
    "check_input_size",
    "format_shape",
    "MAX_INPUT_VALUES",
]

MAX_INPUT_VALUES = 2**27
"""Most values one batch item of a model input may hold: 134 M (512 MiB of float32, e.g. a 6000 x 6000
colour image); BodyPoseNet takes 0.3 M, BodyPose3DNet 0.15 M."""

Dim = int | str | None
"""A tensor dimension: a fixed size, or a symbolic/unknown (dynamic) one."""

_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(bool)": "bool",
}

_PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "gpu": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
}


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and element type of one model input or output.

    ``shape`` entries are ints (fixed) or ``None``/strings (dynamic, any size;
    a string is just a label such as ``"N"``).
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"

    def describe(self) -> str:
        return f"{self.name!r} {format_shape(self.shape)} {self.dtype}"


def format_shape(shape: Sequence[Dim]) -> str:
    """``[N, 3, 256, 192]`` style text (dynamic dimensions by their label or ``?``)."""
    return "[" + ", ".join(str(d) if isinstance(d, int) else (d or "?") for d in shape) + "]"


def _is_fixed(d: Dim) -> bool:
    return isinstance(d, int) and d > 0


# --------------------------------------------------------------------------- providers
_CUDA_OK: bool | None = None


# A one-node float model (y = Relu(x), x and y of shape [1], opset 13, IR 7), serialised
# with ``onnx.helper`` once and stored here so the probe needs no ``onnx`` at run time.
_PROBE_MODEL = bytes.fromhex(
    "08071208706f73656c6966743a370a0c0a0178120179220452656c75120570726f62655a0f0a0178120a0a0808"
    "0112040a020801620f0a0179120a0a08080112040a02080142040a00100d"
)


def cuda_works() -> bool:
    """True when an ONNX Runtime session really runs on ``CUDAExecutionProvider``.

    Builds a probe session asking for CUDA then CPU and checks the provider
    the session actually got (ONNX Runtime falls back to the CPU, with an
    error in its log, when the CUDA libraries or the GPU are missing). The
    answer is cached for the process. ONNX Runtime's default log level is set
    to fatal-only during the probe and back to warnings (its default) after it.
    """
    global _CUDA_OK
    if _CUDA_OK is not None:
        return _CUDA_OK
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        _CUDA_OK = False
        return False
    ort.set_default_logger_severity(4)  # fatal only: a failed CUDA load is expected here
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        sess = ort.InferenceSession(_PROBE_MODEL, sess_options=opts,
                                    providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        ok = sess.get_providers()[0] == "CUDAExecutionProvider"
        if ok:
            sess.run(None, {"x": np.ones(1, np.float32)})
    except Exception:  # noqa: BLE001 - any failure means "CUDA does not work here"
        ok = False
    finally:
        ort.set_default_logger_severity(2)
    _CUDA_OK = bool(ok)
    return _CUDA_OK


def resolve_providers(providers: str | Sequence[str] | None = "auto") -> list[str]:
    """Turn a provider request into the list handed to ONNX Runtime.

    Args:
        providers: ``"auto"`` (CUDA when :func:`cuda_works`, else CPU),
            ``"cpu"``, ``"cuda"``, ``"tensorrt"``, a full provider name, or a
            list of those (tried in order). The CPU provider is always
            appended as the last fallback (and CUDA after TensorRT when it works).

    Raises:
        ValueError: a provider this ONNX Runtime build does not have.
    """
    import onnxruntime as ort

    if providers is None or providers == "auto":
        return (["CUDAExecutionProvider"] if cuda_works() else []) + ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [p.strip() for p in providers.split(",") if p.strip()]
    available = ort.get_available_providers()
    out: list[str] = []
    for p in providers:
        name = _PROVIDER_ALIASES.get(p.lower(), p)
        if name not in available:
            raise InputError(f"ONNX Runtime provider {p!r} is not available in this build; available: {available}")
        if name not in out:
            out.append(name)
    if "TensorrtExecutionProvider" in out and "CUDAExecutionProvider" not in out and cuda_works():
        out.append("CUDAExecutionProvider")  # for the nodes TensorRT does not take
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")
    return out


# --------------------------------------------------------------------------- signatures
def _spec_of(arg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else (d if isinstance(d, str) else None) for d in (arg.shape or ()))
    return TensorSpec(arg.name, shape, _ONNX_TYPES.get(arg.type, arg.type))


def _dims_compatible(expected: Dim, actual: Dim) -> bool:
    # a dynamic dimension on either side is accepted (the data decides at run time)
    return not (_is_fixed(expected) and _is_fixed(actual)) or expected == actual


def check_signature(
    what: str,
    kind: str,
    actual: Sequence[TensorSpec],
    expected: Sequence[TensorSpec],
    exact: bool = True,
) -> None:
    """Compare a model's inputs or outputs with what a wrapper expects.

    Args:
        what: names the model in messages (e.g. its path).
        kind: ``"input"`` or ``"output"``.
        actual: what the model has.
        expected: what the wrapper needs.
        exact: the model may not have tensors beyond ``expected`` (inputs
            must all be fed, so this is right for inputs; extra outputs are
            harmless).

    Raises:
        SignatureError: (a ``ValueError``) naming every missing/unexpected tensor and every shape,
            rank or type difference, e.g. ``input 'k_inv': expected
            [N, 3, 3] float32, the model has [N, 3, 4] float32``.
    """
    have = {s.name: s for s in actual}
    want = {s.name: s for s in expected}
    problems: list[str] = []
    missing = [n for n in want if n not in have]
    extra = [n for n in have if n not in want] if exact else []
    if missing:
        problems.append(f"missing {kind}(s) {missing}")
    if extra:
        problems.append(f"unexpected {kind}(s) {extra}")
    for name, w in want.items():
        a = have.get(name)
        if a is None:
            continue
        if len(a.shape) != len(w.shape) or not all(_dims_compatible(e, d) for e, d in zip(w.shape, a.shape)):
            problems.append(f"{kind} {name!r}: expected shape {format_shape(w.shape)}, the model has {format_shape(a.shape)}")
        if a.dtype != w.dtype:
            problems.append(f"{kind} {name!r}: expected type {w.dtype}, the model has {a.dtype}")
    if problems:
        lines = "; ".join(problems)
        raise SignatureError(
            f"{what}: the model's {kind}s do not match what this wrapper expects: {lines}. "
            f"Expected {kind}s: {', '.join(s.describe() for s in expected)}; "
            f"the model has: {', '.join(s.describe() for s in actual) or 'none'}"
        )


def check_input_size(what: str, name: str, dims: Sequence[Dim], limit: int = MAX_INPUT_VALUES) -> int:
    """Values per batch item of an input with per-item dimensions ``dims`` (unknown ones count as 1).

    Raises:
        SignatureError: more than ``limit`` values: the model declares an input far larger than
            any pose network takes (a crafted or broken file); nothing has been allocated for it.
    """
    n = 1
    for d in dims:
        n *= d if _is_fixed(d) else 1
    if n > limit:
        raise SignatureError(f"{what}: input {name!r} declares {format_shape(list(dims))} = {n:,d} values per item "
                             f"({n * 4 / 1e9:.1f} GB as float32), more than the {limit:,d} poselift accepts; "
                             "the model is broken or crafted")
    return n


# --------------------------------------------------------------------------- the wrapper
class OnnxModel:
    """An ONNX model opened with ONNX Runtime.

    Args:
        model: path to a ``.onnx`` file, or the serialised model bytes.
        providers: see :func:`resolve_providers` (default ``"auto"``).
        threads: intra-op threads for the CPU provider (``None``: ONNX
            Runtime's default, all cores).
        inputs, outputs: expected signature (:class:`TensorSpec` lists);
            checked on load when given (see :func:`check_signature`).
        name: how messages name the model (default: the path).

    Attributes:
        provider: the execution provider the session really uses.
        inputs, outputs: the model's actual signature.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: not a readable ONNX model (corrupt, truncated, another format).
        SignatureError: the model's inputs/outputs differ from ``inputs``/``outputs``.
    """

    def __init__(
        self,
        model: str | os.PathLike | bytes,
        providers: str | Sequence[str] | None = "auto",
        threads: int | None = None,
        inputs: Sequence[TensorSpec] | None = None,
        outputs: Sequence[TensorSpec] | None = None,
        name: str | None = None,
    ) -> None:
        import onnxruntime as ort

        if isinstance(model, (bytes, bytearray)):
            source: bytes | str = bytes(model)
            self.name = name or "<in-memory ONNX model>"
        else:
            path = Path(model)
            if not path.is_file():
                raise FileNotFoundError(f"ONNX model not found: {path}")
            source = str(path)
            self.name = name or str(path)
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.requested_providers = resolve_providers(providers)
        check_onnx_external_data(source if isinstance(source, bytes) else path, self.name)
        try:
            self.session = ort.InferenceSession(source, sess_options=opts, providers=self.requested_providers)
        except MemoryError:  # out of memory, or numpy refusing a huge declared array: not masked here
            raise
        except Exception as e:  # noqa: BLE001 - ORT raises its own exception types
            raise FileFormatError(f"{self.name}: ONNX Runtime cannot load this model: corrupt, truncated or not "
                                  f"an ONNX file ({e})", None if isinstance(model, (bytes, bytearray)) else model) from e
        self.provider: str = self.session.get_providers()[0]
        self.inputs: list[TensorSpec] = [_spec_of(a) for a in self.session.get_inputs()]
        self.outputs: list[TensorSpec] = [_spec_of(a) for a in self.session.get_outputs()]
        for spec in self.inputs:  # before anything is sized by them
            check_input_size(self.name, spec.name, spec.shape[1:])
        if inputs is not None:
            check_signature(self.name, "input", self.inputs, inputs, exact=True)
        if outputs is not None:
            check_signature(self.name, "output", self.outputs, outputs, exact=False)

    def __repr__(self) -> str:
        return f"OnnxModel({self.name!r}, provider={self.provider})"

    def input(self, name: str) -> TensorSpec:
        for s in self.inputs:
            if s.name == name:
                return s
        raise KeyError(f"{self.name}: no input {name!r}; inputs: {[s.name for s in self.inputs]}")

    @property
    def max_batch(self) -> int | None:
        """Largest batch the model accepts (``None``: any), from the inputs' first dimension."""
        fixed = [s.shape[0] for s in self.inputs if s.shape and _is_fixed(s.shape[0])]
        return min(fixed) if fixed else None

    def run(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Iterable[str] | None = None,
        batch_size: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Run the model on a batch, in chunks.

        Args:
            feeds: input name -> array with the batch on axis 0 (all the same length).
            outputs: output names to fetch (default: all).
            batch_size: largest chunk per call (default: the model's fixed
                batch if it has one, else everything at once).

        Returns:
            output name -> array, chunks concatenated along axis 0.
        """
        names = list(outputs) if outputs is not None else [s.name for s in self.outputs]
        feeds = {k: np.ascontiguousarray(v) for k, v in feeds.items()}
        sizes = {len(v) for v in feeds.values()}
        if len(sizes) != 1:
            raise InputError(f"{self.name}: inputs have different batch sizes {sorted(sizes)}")
        n = sizes.pop()
        if n == 0:
            raise InputError(f"{self.name}: empty batch")
        cap = self.max_batch
        step = min(x for x in (batch_size, cap, n) if x is not None)
        chunks: list[list[np.ndarray]] = []
        for s in range(0, n, step):
            chunk = {k: v[s : s + step] for k, v in feeds.items()}
            if cap is not None and len(next(iter(chunk.values()))) < cap:
                # a fixed-batch model: pad the last chunk by repeating its last item
                pad = cap - len(next(iter(chunk.values())))
                chunk = {k: np.concatenate([v, np.repeat(v[-1:], pad, 0)]) for k, v in chunk.items()}
                res = self.session.run(names, chunk)
                res = [r[: cap - pad] for r in res]
            else:
                res = self.session.run(names, chunk)
            chunks.append(res)
        if len(chunks) == 1:
            return dict(zip(names, chunks[0]))
        return {nm: np.concatenate([c[i] for c in chunks], 0) for i, nm in enumerate(names)}
