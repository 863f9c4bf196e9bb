"""Exporting a trained lifter to ONNX: the graphs, the export folder and its hashes (running it: :mod:`poselift.model.onnx_runtime`).

:func:`export_onnx` writes, from a model (or a run folder's :class:`~poselift.inference.Lifter`), into ``out_dir``:

``lifter.onnx``: the whole-sequence model (BatchNorm folded into the convolutions)::

    keypoints  float32 (batch, frames, J_in, F)      normalised 2D keypoints (+ confidence)
    poses_3d   float32 (batch, frames - rf + 1, J_out, 3)

  Convolutions are "valid": pad a sequence by repeating its first frame ``rf - 1``
  times (causal) or its first and last frames ``(rf - 1) / 2`` times each
  (otherwise) to get one pose per frame, as :func:`~poselift.inference.lift_sequence`
  does (:meth:`poselift.model.onnx_runtime.OnnxSequenceModel.lift` does it for you).

``lifter_step.onnx``: one frame of a stream (several streams at once), the ONNX
form of :class:`~poselift.model.streaming.StreamingLifter`::

    keypoints        float32 (streams, J_in, F)     this frame
    reset            bool    (streams,)             true on a stream's first frame
    cache_expand     float32 (streams, w0 - 1, J_in * F)
    cache_block{i}   float32 (streams, (w - 1) * d, C)   one per residual block with w > 1
    ->
    pose_3d          float32 (streams, J_out, 3)
    next_cache_expand, next_cache_block{i}          the caches to feed with the next frame

  Each cache holds the previous frames of a layer's input, oldest first (a
  layer with kernel width 1 needs none). Start every stream with ``reset`` true
  (the caches' contents are then ignored: they are filled as if the frame had
  been repeated ``rf - 1`` times before, the offline padding; zeros do as
  initial caches) and false afterwards. For a non-causal model each step
  returns the pose of the frame ``latency_frames = (rf - 1) / 2`` steps earlier;
  end a sequence by feeding its last frame ``latency_frames`` more times.

``export.json``: input/output names and shapes, receptive field, causal,
latency, model configuration, (from a run folder) the joint layouts, and the
SHA-256 of each ``.onnx`` file, which the runners
(:mod:`poselift.model.onnx_runtime`) and :func:`read_export` check.

The three files are written into a new folder that replaces ``out_dir`` whole
(:func:`poselift.core.io.atomic_folder`): an export killed at any moment
leaves the old export or the new one, never a mix of the two. One export at a
time: ``.<out_dir name>.lock`` beside the folder is held while writing
(:func:`poselift.core.locks.lock_output`), and taking it removes what a killed
export left behind.

The graphs are built directly from the plan and the folded layers (:meth:`~poselift.model.folded.FoldedNetwork.split`)
with ``onnx.helper`` (Conv with dilations, Gemm, Relu, Add, Slice, Concat,
Where, Reshape, Transpose), checked with ``onnx.checker`` (with strict shape
inference). Command line::

    poselift export RUN_DIR [--out DIR] [--opset 17] [--no-step]
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poselift._version import __version__
from poselift.core.errors import FileFormatError, InputError
from poselift.core.io import atomic_folder, atomic_write_json, check_output_folder, read_json
from poselift.core.locks import lock_output
from poselift.core.normalization import BBOX_UNIT, TORSO_UNIT
from poselift.model.folded import FoldedNetwork, folded
from poselift.model.tcn import TemporalLifter

__all__ = [
    "META_FILE",
    "SEQUENCE_FILE",
    "STEP_FILE",
    "export_onnx",
    "file_sha256",
    "read_export",
    "verify_export_file",
    "sequence_graph",
    "step_graph",
]

SEQUENCE_FILE = "lifter.onnx"
STEP_FILE = "lifter_step.onnx"
META_FILE = "export.json"
MIN_OPSET = 13  # Unsqueeze/Squeeze take axes as an input from 13 on
_INT64_MAX = np.iinfo(np.int64).max


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:  # pragma: no cover - onnx is a dependency
        raise RuntimeError("ONNX export needs the onnx package (pip install onnx)") from e
    return onnx, TensorProto, helper, numpy_helper


def _check_opset(opset: int) -> int:
    onnx = _onnx()[0]
    opset = int(opset)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise InputError(f"opset {opset} not supported: use {MIN_OPSET} to {newest} (the installed onnx's newest)")
    return opset


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self) -> None:
        _, self.TP, self.helper, self.nh = _onnx()
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def const(self, name: str, array) -> str:
        self.inits.append(self.nh.from_array(np.asarray(array), name))
        return name

    def ints(self, values: Sequence[int]) -> str:
        self._n += 1
        return self.const(f"c{self._n}", np.asarray(values, np.int64))

    def node(self, op: str, inputs: Sequence[str], output: str | None = None, **attrs) -> str:
        self._n += 1
        output = output or f"{op.lower()}{self._n}"
        self.nodes.append(self.helper.make_node(op, list(inputs), [output], name=f"{op}_{self._n}", **attrs))
        return output

    def weight(self, name: str, t: torch.Tensor) -> str:
        return self.const(name, t.detach().to("cpu", torch.float32).numpy())

    def model(self, name: str, inputs, outputs, opset: int, doc: str, props: dict):
        onnx, _, helper, _ = _onnx()
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.inits, doc_string=doc)
        opsets = [helper.make_opsetid("", opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="poselift",
                                  producer_version=__version__, doc_string=doc)
        model.ir_version = helper.find_min_ir_version_for(opsets)  # loadable by older runtimes too
        helper.set_model_props(model, {k: str(v) for k, v in props.items()})
        onnx.checker.check_model(model, full_check=True)  # full_check: strict shape inference too
        return model


def _props(net: FoldedNetwork) -> dict:
    rf = net.receptive_field
    return {"receptive_field": rf, "causal": int(net.causal),
            "latency_frames": net.geometry.latency, "widths": ",".join(map(str, net.widths)),
            "in_joints": net.in_joints, "out_joints": net.out_joints, "in_features": net.in_features}


def sequence_graph(model: Any, opset: int = 17):
    """The whole-sequence ONNX model (an ``onnx.ModelProto``; see the module docstring).

    Args:
        model: a :class:`~poselift.model.tcn.TemporalLifter` (BatchNorm folded here),
            :class:`~poselift.model.folded.FoldedNetwork` or :class:`~poselift.experiments.run_folder.Lifter`.
        opset: ONNX opset (13 or newer).
    """
    opset = _check_opset(opset)
    net = folded(model)
    expand, blocks, shrink = net.split()
    g = _Graph()
    TP, helper = g.TP, g.helper
    j, f, jo = net.in_joints, net.in_features, net.out_joints
    rf = net.receptive_field
    x = helper.make_tensor_value_info("keypoints", TP.FLOAT, ["batch", "frames", j, f],
                                      doc_string="normalised 2D keypoints (+ confidence), float32")
    y = helper.make_tensor_value_info("poses_3d", TP.FLOAT, ["batch", "frames_out", jo, 3],
                                      doc_string=f"3D poses, frames_out = frames - {rf - 1}")

    def conv(h, layer, name):
        w = g.weight(f"{name}.weight", layer.weight)
        b = g.weight(f"{name}.bias", layer.bias)
        out = g.node("Conv", [h, w, b], kernel_shape=[layer.width], dilations=[layer.dilation])
        return g.node("Relu", [out]) if layer.relu else out

    h = g.node("Reshape", ["keypoints", g.ints([0, 0, j * f])])
    h = g.node("Transpose", [h], perm=[0, 2, 1])  # (B, J*F, T)
    h = conv(h, expand, "expand")
    for block, (c, c1) in zip(net.plan.blocks, blocks):
        z = conv(conv(h, c, c.name), c1, c1.name)
        span = block.span
        if span:
            start = block.residual
            end = _INT64_MAX if start == span else start - span
            h = g.node("Slice", [h, g.ints([start]), g.ints([end]), g.ints([2])])
        h = g.node("Add", [h, z])
    h = conv(h, shrink, "shrink")  # (B, J_out*3, T')
    h = g.node("Transpose", [h], perm=[0, 2, 1])
    g.node("Reshape", [h, g.ints([0, 0, jo, 3])], "poses_3d")
    doc = (f"poselift temporal lifter (rf {rf}, {'causal' if net.causal else 'centred'}), BatchNorm folded: "
           f"keypoints (batch, frames, {j}, {f}) -> poses_3d (batch, frames - {rf - 1}, {jo}, 3)")
    return g.model("poselift_lifter", [x], [y], opset, doc, _props(net))


def _cache_specs(net: FoldedNetwork) -> list[dict]:
    """Step-graph caches: ``name``, ``next`` (output name), ``frames``, ``channels``, layer ``width``, ``dilation``."""
    plan = net.plan
    specs = []
    for name, layer in [("expand", plan.expand)] + [(f"block{b.index}", b.conv) for b in plan.blocks]:
        if layer.span:
            specs.append({"name": f"cache_{name}", "next": f"next_cache_{name}", "frames": layer.span,
                          "channels": layer.c_in, "width": layer.width, "dilation": layer.dilation})
    return specs


def step_graph(model: Any, opset: int = 17):
    """The one-frame streaming ONNX model (an ``onnx.ModelProto``; see the module docstring).

    Same arguments as :func:`sequence_graph`. Non-causal models are exported with a
    delay of ``(rf - 1) / 2`` frames (their ``latency_frames`` metadata).
    """
    opset = _check_opset(opset)
    net = folded(model)
    expand, blocks, shrink = net.split()
    g = _Graph()
    TP, helper = g.TP, g.helper
    j, f, jo = net.in_joints, net.in_features, net.out_joints
    caches = {c["name"]: c for c in _cache_specs(net)}
    inputs = [
        helper.make_tensor_value_info("keypoints", TP.FLOAT, ["streams", j, f],
                                      doc_string="this frame's normalised 2D keypoints, one row per stream"),
        helper.make_tensor_value_info("reset", TP.BOOL, ["streams"],
                                      doc_string="true on a stream's first frame (its caches are then ignored)"),
    ]
    outputs = [helper.make_tensor_value_info("pose_3d", TP.FLOAT, ["streams", jo, 3],
                                             doc_string="3D pose (of the frame latency_frames steps earlier)")]
    for c in caches.values():
        shape = ["streams", c["frames"], c["channels"]]
        inputs.append(helper.make_tensor_value_info(c["name"], TP.FLOAT, shape,
                                                    doc_string="previous frames of a layer's input, oldest first"))
        outputs.append(helper.make_tensor_value_info(c["next"], TP.FLOAT, shape,
                                                     doc_string=f"{c['name']} for the next step"))
    reset3 = g.node("Unsqueeze", ["reset", g.ints([1, 2])])  # (S, 1, 1)
    flat = g.ints([0, -1])
    column = g.ints([0, 1, -1])

    def gemm(h2, layer, name):
        # weight (C_out, C_in, k) -> (C_out, k * C_in), matching the taps (S, k, C_in) flattened
        w = layer.weight.permute(0, 2, 1).reshape(layer.weight.shape[0], -1)
        out = g.node("Gemm", [h2, g.weight(f"{name}.weight", w), g.weight(f"{name}.bias", layer.bias)], transB=1)
        return g.node("Relu", [out]) if layer.relu else out

    def window(col3, layer, name):
        """``(S, 1, C)`` newest column -> (taps ``(S, k * C)``, window ``(S, span + 1, C)`` or None)."""
        if not layer.span:
            return g.node("Reshape", [col3, flat]), None
        c = caches[f"cache_{name}"]
        fill = g.node("Expand", [col3, g.node("Shape", [c["name"]])])
        cache = g.node("Where", [reset3, fill, c["name"]])
        full = g.node("Concat", [cache, col3], axis=1)  # (S, span + 1, C), oldest first
        g.node("Slice", [full, g.ints([1]), g.ints([_INT64_MAX]), g.ints([1])], c["next"])
        taps = full
        if layer.dilation > 1:
            taps = g.node("Slice", [full, g.ints([0]), g.ints([_INT64_MAX]), g.ints([1]), g.ints([layer.dilation])])
        return g.node("Reshape", [taps, flat]), full

    col3 = g.node("Reshape", ["keypoints", column])  # (S, 1, J*F)
    taps, _ = window(col3, expand, "expand")
    h = gemm(taps, expand, "expand")  # (S, C)
    for block, (c, c1) in zip(net.plan.blocks, blocks):
        col3 = g.node("Reshape", [h, column])
        taps, full = window(col3, c, f"block{block.index}")
        z = gemm(gemm(taps, c, c.name), c1, c1.name)
        mid = block.residual  # the residual: the block input at the window's target
        if full is None or mid == c.span:
            res = h  # the newest frame
        else:
            res = g.node("Reshape", [g.node("Slice", [full, g.ints([mid]), g.ints([mid + 1]), g.ints([1])]), flat])
        h = g.node("Add", [res, z])
    out = gemm(h, shrink, "shrink")
    g.node("Reshape", [out, g.ints([0, jo, 3])], "pose_3d")
    rf = net.receptive_field
    lat = net.geometry.latency
    doc = (f"poselift temporal lifter, one streaming step (rf {rf}, latency {lat} frames): keypoints (streams, {j}, "
           f"{f}) + reset + caches -> pose_3d (streams, {jo}, 3) + next caches")
    return g.model("poselift_lifter_step", inputs, outputs, opset, doc, _props(net))


# --------------------------------------------------------------------------- export
def _resolve(model: Any) -> tuple[Any, dict]:
    """(model, what export.json says about where it came from)."""
    info: dict = {}
    src = model
    if hasattr(src, "layout_in") and hasattr(src, "model"):  # a poselift.inference.Lifter
        info["layout_in"], info["layout_out"] = src.layout_in.name, src.layout_out.name
        info["joints_in"], info["joints_out"] = list(src.layout_in.joints), list(src.layout_out.joints)
        info["flip_test"] = bool(src.flip_test)
        info["normalization"] = getattr(src, "normalization", "image")
        if getattr(src, "traj_model", None) is not None:
            info["note"] = "the run's trajectory model is not exported (pose model only)"
        if src.run_dir is not None and "run_dir" not in info:
            info["run_dir"] = str(src.run_dir)
        src = src.model
    if not isinstance(src, (TemporalLifter, FoldedNetwork)):
        raise TypeError(f"expected a TemporalLifter, FoldedNetwork or Lifter, got {type(src).__name__} "
                        "(a run folder: poselift.experiments.run_folder.export_run)")
    return src, info


_NORMALISATION_TEXT = {
    "image": "2D keypoints in screen-normalised coordinates (poselift.core.camera.normalize_screen: "
             "x in [-1, 1], y scaled by the same factor), plus confidence when in_features is 3",
    "torso": "2D keypoints centred on the hip midpoint in every frame and scaled so that the sequence's median "
             f"torso (hip midpoint to shoulder midpoint) is {TORSO_UNIT} (poselift.core.normalization, 'torso'), plus "
             "confidence when in_features is 3",
    "bbox": "2D keypoints centred on the hip midpoint in every frame and scaled so that the larger side of the "
            f"sequence's median keypoint box is {BBOX_UNIT} (poselift.core.normalization, 'bbox'), plus confidence when "
            "in_features is 3",
}


def _write_onnx(model, path: Path) -> None:
    path.write_bytes(model.SerializeToString())  # into the new folder, swapped in whole by export_onnx


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file (read in 1 MiB pieces)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def verify_export_file(path: str | os.PathLike) -> None:
    """Check an exported ``.onnx`` file against the SHA-256 its folder's ``export.json`` records.

    Nothing is checked when there is no ``export.json`` beside it, or it records
    no hash for this file (a model exported elsewhere, or by an older poselift).

    Raises:
        FileFormatError: the file differs from what ``export.json`` describes: the folder
            mixes two exports or was damaged.
    """
    path = Path(path)
    meta_path = path.parent / META_FILE
    if not meta_path.is_file():
        return
    meta = read_json(meta_path)
    want = meta.get("sha256", {}).get(path.name) if isinstance(meta, dict) and isinstance(meta.get("sha256"), dict) \
        else None
    if want is None:
        return
    if file_sha256(path) != want:
        raise FileFormatError(f"{path}: differs from the file {META_FILE} describes (SHA-256 mismatch): the folder "
                              "mixes two exports or was damaged; export again", path)


def _check_export_folder(out: Path) -> None:
    """An existing ``out`` must hold an export and nothing else (it is replaced whole)."""
    check_output_folder(out)
    if not out.is_dir():
        return
    ours = {SEQUENCE_FILE, STEP_FILE, META_FILE}
    other = sorted(p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith("."))
    if other:
        shown = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
        raise InputError(f"{out}: holds other files than an export ({shown}); the export replaces the whole "
                         "folder, so give a new or empty folder")


def export_onnx(model: Any, out_dir: str | os.PathLike, opset: int = 17, *, step: bool = True) -> dict:
    """Write ``lifter.onnx``, ``lifter_step.onnx`` and ``export.json`` into ``out_dir``.

    Args:
        model: a :class:`~poselift.model.tcn.TemporalLifter`, a
            :class:`~poselift.model.folded.FoldedNetwork` or a :class:`~poselift.inference.Lifter`
            (its joint layouts and flip setting go into ``export.json``); a run folder is exported
            by :func:`poselift.experiments.run_folder.export_run`.
        out_dir: written whole and swapped in (created if missing; an existing one
            may hold only a previous export).
        opset: ONNX opset, 13 or newer.
        step: also export the streaming step (non-causal models: with a delay of
            ``(rf - 1) / 2`` frames, see ``latency_frames``).

    Returns:
        the contents written to ``export.json``.

    """
    opset = _check_opset(opset)
    model, info = _resolve(model)
    out = Path(out_dir)
    _check_export_folder(out)
    net = folded(model, dtype=torch.float32).converted(device="cpu")  # a copy when it moves: the model's own stays
    rf = net.receptive_field
    lat = net.geometry.latency
    j, f, jo = net.in_joints, net.in_features, net.out_joints
    meta: dict = {
        "format": "onnx",
        "opset": opset,
        "poselift_version": __version__,
        "receptive_field": rf,
        "causal": bool(net.causal),
        "latency_frames": lat,
        "pad": list(net.pad),
        "model": {"in_joints": j, "out_joints": jo, "in_features": f, "widths": list(net.widths),
                  "channels": net.channels},
        **info,
        "inputs_normalisation": _NORMALISATION_TEXT[info.get("normalization", "image")],
        "sequence": {
            "file": SEQUENCE_FILE,
            "inputs": [{"name": "keypoints", "dtype": "float32", "shape": ["batch", "frames", j, f]}],
            "outputs": [{"name": "poses_3d", "dtype": "float32", "shape": ["batch", f"frames - {rf - 1}", jo, 3]}],
            "notes": f"valid convolutions: pad each sequence by repeating edge frames ({net.pad[0]} before, "
                     f"{net.pad[1]} after) for one pose per input frame",
        },
    }
    graphs = {SEQUENCE_FILE: sequence_graph(net, opset)}
    if step:
        specs = _cache_specs(net)
        graphs[STEP_FILE] = step_graph(net, opset)
        meta["step"] = {
            "file": STEP_FILE,
            "inputs": [{"name": "keypoints", "dtype": "float32", "shape": ["streams", j, f]},
                       {"name": "reset", "dtype": "bool", "shape": ["streams"]}]
                      + [{"name": c["name"], "dtype": "float32", "shape": ["streams", c["frames"], c["channels"]]}
                         for c in specs],
            "outputs": [{"name": "pose_3d", "dtype": "float32", "shape": ["streams", jo, 3]}]
                       + [{"name": c["next"], "dtype": "float32", "shape": ["streams", c["frames"], c["channels"]]}
                          for c in specs],
            "caches": [{"input": c["name"], "output": c["next"], "frames": c["frames"], "channels": c["channels"]}
                       for c in specs],
            "notes": "feed next_cache_* back as cache_* with the next frame; reset = true on a stream's first frame "
                     "(caches ignored then, zeros will do) and false afterwards"
                     + ("" if net.causal else f"; each step returns the pose of the frame {lat} steps earlier: "
                        f"end a sequence by feeding its last frame {lat} more times"),
        }
    meta["files"] = list(graphs)
    # one exporter at a time (.<name>.lock beside the folder; it also removes a killed export's temporaries),
    # and the whole folder swapped in: old or new, never a mix
    with lock_output(out, "poselift export"), atomic_folder(out) as tmp:
        for name, graph in graphs.items():
            _write_onnx(graph, tmp / name)
        meta["sha256"] = {name: file_sha256(tmp / name) for name in graphs}
        atomic_write_json(tmp / META_FILE, meta)
    return meta


def read_export(out_dir: str | os.PathLike, verify: bool = True) -> dict:
    """The ``export.json`` of an export folder; with ``verify``, each file checked against its SHA-256.

    Raises:
        FileFormatError: a file differs from ``export.json`` (see :func:`verify_export_file`).
    """
    meta = read_json(Path(out_dir) / META_FILE)
    if verify and isinstance(meta, dict):
        for name in meta.get("files", []):
            if (Path(out_dir) / name).exists():
                verify_export_file(Path(out_dir) / name)
    return meta
