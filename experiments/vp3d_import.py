"""Starting from published weights: VideoPose3D checkpoints into poselift run folders.

VideoPose3D (Pavllo et al. 2019) publishes its trained models as ``torch.save`` pickles (e.g.
``pretrained_h36m_cpn.bin``, ``pretrained_h36m_detectron_coco.bin``) holding a dict::

    epoch, lr                 numbers
    model_pos                 state dict of the pose model
    model_traj                state dict of the trajectory model, or None / absent
    optimizer                 the optimiser's state dict (not read here)
    random_state(_semi)       the data generator's numpy RandomState (not read here)

and the state dicts use these keys (same architecture as :class:`~poselift.model.tcn.TemporalLifter`,
REFERENCE.md section 2)::

    VideoPose3D                          poselift TemporalLifter
    expand_conv.weight  (C, 2 J_in, w0)  expand_conv.weight
    expand_bn.*                          expand_bn.*
    layers_conv.{2i}.weight (C, C, wi)   block_convs.{2i}.weight    (dilated, dilation w0 ... w(i-1))
    layers_conv.{2i+1}.weight (C, C, 1)  block_convs.{2i+1}.weight
    layers_bn.{n}.*                      block_bns.{n}.*
    shrink.weight (3 J_out, C, 1)        shrink.weight
    shrink.bias                          shrink.bias

Input channel ``2 j + c`` is joint ``j``, coordinate ``c`` and output channel ``3 j + c`` likewise in
both, and the residual of each block is the centre crop of its input (the last frames when causal)
in both, so the mapped weights give the same outputs (tested against an independent implementation of
the published architecture). Kernel widths, channels and joint counts are read from the weights'
shapes. What the weights do **not** say, and the user declares:

* the 2D input layout (``coco17`` for the Detectron/COCO models, ``h36m17`` for ground truth/CPN,
  ``mpii16`` for Stacked Hourglass, ``humaneva15``): 17 COCO and 17 Human3.6M joints have the same
  count, so it cannot be inferred;
* ``causal``: default ``False`` (all of VideoPose3D's published checkpoints are centred; models trained
  with ``--causal`` must be imported with ``causal=True``).

VideoPose3D's dense variant (``--dense``: block ``i`` has one undilated kernel of ``2 pad_i + 1`` frames
instead of ``w_i`` frames dilated by ``w_0 ... w_(i-1)``) has the same keys and is not supported. Its kernel
widths (3, 7, 19 for ``-arc 3,3,3``) are odd too, so a file cannot always be told from a dilated model with
those widths: when every block's kernel fits the dense rule the import warns and names both readings.
Other facts of VideoPose3D's code the mapping relies on: BatchNorm ``eps`` 1e-5 (its momentum, 0.1 decaying
to 0.001 while training, is not in the state dict and plays no part in evaluation); ``num_batches_tracked``
(written by PyTorch >= 0.4.1, absent from older files) is kept or set to 0; the checkpoint of a run holds the
weights of its training model (``TemporalModelOptimized1f``: strided instead of dilated, the same keys and
shapes); ``model_traj`` is the same class with one output joint, ``None`` when the run was not
semi-supervised.

The input normalisation is VideoPose3D's, the image width (``"image"``); test-time flip
augmentation is on (VideoPose3D's default). The output layout follows from the output joint count
(17: ``h36m17``, 15: ``humaneva15``) unless given.

**Loading without running code.** The file is read with ``torch.load(weights_only=True)``
(:func:`poselift.checkpoint.load_checkpoint`): tensors and plain containers only. The numpy names a
VideoPose3D checkpoint carries (its RandomState and the arrays inside it) are replaced by inert
placeholders (:class:`NumpyStandIn`): nothing from numpy's pickle support is imported or called, and
any other name (a class, ``os.system``, ...) is refused by name before anything runs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import warnings
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from poselift._version import __version__
from poselift.checkpoint import CHECKPOINT, lifter_payload, load_checkpoint, save_checkpoint
from poselift.core.errors import FileFormatError, InputError, LayoutError
from poselift.core.io import atomic_folder, atomic_write_json, atomic_write_text
from poselift.core.layouts import get_layout
from poselift.model.tcn import TemporalLifter
from poselift.datasets.h36m.constants import KEYPOINT_LAYOUTS

__all__ = ["NUMPY_NAMES", "NumpyStandIn", "read_vp3d_checkpoint", "vp3d_to_poselift", "import_vp3d", "VP3DModel",
           "dense_reading"]

NUMPY_NAMES = (
    # arrays and scalars (numpy 1.x and 2.x module paths)
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.ndarray", "numpy.dtype",
    # RandomState: numpy < 1.17, then numpy >= 1.17 (with its MT19937 bit generator)
    "numpy.random.__RandomState_ctor", "numpy.random.mtrand.RandomState",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._mt19937.MT19937",
)
"""The only names besides torch's tensors and plain containers a VideoPose3D checkpoint may contain."""


class NumpyStandIn:
    """An inert placeholder for a numpy object named in a pickle: it records the name, the arguments and
    the state it is given, and does nothing else (so the numpy random state is kept as data, unused)."""

    pickle_name = "numpy"

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.pickle_name} (not loaded)>"


def _stand_ins() -> dict[str, type]:
    return {name: type(f"StandIn[{name}]", (NumpyStandIn,), {"pickle_name": name}) for name in NUMPY_NAMES}


_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_KEY = re.compile(rf"^(expand_conv\.weight|expand_bn\.{_BN}|layers_conv\.\d+\.weight|layers_bn\.\d+\.{_BN}|"
                  r"shrink\.(weight|bias))$")
_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@dataclasses.dataclass
class VP3DModel:
    """One VideoPose3D state dict read into poselift terms.

    Attributes:
        state: poselift :class:`TemporalLifter` state dict.
        in_channels: input values per frame (joints x values per joint: the split needs the layout).
        out_joints, widths, channels: read from the weight shapes.
    """

    state: dict
    in_channels: int
    out_joints: int
    widths: tuple[int, ...]
    channels: int

    @property
    def receptive_field(self) -> int:
        return _prod(self.widths)


def read_vp3d_checkpoint(path: str | os.PathLike) -> dict:
    """The dict of a VideoPose3D checkpoint, loaded as untrusted data (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: corrupt or truncated; refused because it names anything beyond tensors, plain
            containers and the numpy random state (the message names it); not a VideoPose3D checkpoint.
    """
    path = Path(path)
    state = load_checkpoint(path, stand_ins=_stand_ins())
    if "model_pos" not in state:
        keys = sorted(str(k) for k in state)[:12]
        raise FileFormatError(f"{path}: not a VideoPose3D checkpoint: no 'model_pos' state dict (keys: {keys})", path)
    return state


def _tensor(sd: dict, key: str, path: Path, what: str) -> torch.Tensor:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor):
        raise FileFormatError(f"{path}: {what}: {key!r} is missing or not a tensor", path)
    return t


def vp3d_to_poselift(sd: Any, path: str | os.PathLike, what: str = "model_pos") -> VP3DModel:
    """Map one VideoPose3D state dict to a :class:`TemporalLifter` state dict, reading the architecture
    from the weights' shapes.

    A uniform ``module.`` prefix (``nn.DataParallel``) is removed. Keys outside VideoPose3D's layout,
    missing weights and inconsistent shapes are :class:`FileFormatError` naming them. BatchNorm's
    ``num_batches_tracked`` (absent in checkpoints of old PyTorch versions) defaults to 0.
    """
    path = Path(path)
    if not isinstance(sd, dict):
        raise FileFormatError(f"{path}: {what} is a {type(sd).__name__}, not a state dict", path)
    if sd and all(isinstance(k, str) and k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    bad = sorted(str(k) for k in sd if not (isinstance(k, str) and _KEY.match(k)))
    if bad:
        raise FileFormatError(f"{path}: {what} has keys outside VideoPose3D's layout (expand_conv, expand_bn, "
                              f"layers_conv.N, layers_bn.N, shrink): {bad[:6]}", path)
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise FileFormatError(f"{path}: {what}[{k!r}] is a {type(v).__name__}, not a tensor", path)
    expand = _tensor(sd, "expand_conv.weight", path, what)
    shrink = _tensor(sd, "shrink.weight", path, what)
    _tensor(sd, "shrink.bias", path, what)
    if expand.ndim != 3 or shrink.ndim != 3 or shrink.shape[2] != 1:
        raise FileFormatError(f"{path}: {what}: expand_conv.weight {tuple(expand.shape)} / shrink.weight "
                              f"{tuple(shrink.shape)} are not Conv1d weights (out, in, kernel) of the model", path)
    channels, in_channels, w0 = (int(v) for v in expand.shape)
    if shrink.shape[1] != channels or shrink.shape[0] % 3:
        raise FileFormatError(f"{path}: {what}: shrink.weight {tuple(shrink.shape)} does not fit "
                              f"{channels} channels and 3 coordinates per output joint", path)
    convs = sorted(int(k.split(".")[1]) for k in sd if k.startswith("layers_conv."))
    if convs != list(range(len(convs))) or len(convs) % 2:
        raise FileFormatError(f"{path}: {what}: layers_conv indices {convs} are not 0..2n-1", path)
    widths = [w0]
    out: dict[str, torch.Tensor] = OrderedDict()
    out["expand_conv.weight"] = expand
    for i in convs:
        w = sd[f"layers_conv.{i}.weight"]
        want_k = None if i % 2 == 0 else 1
        if w.ndim != 3 or tuple(w.shape[:2]) != (channels, channels) or (want_k and w.shape[2] != want_k):
            raise FileFormatError(f"{path}: {what}: layers_conv.{i}.weight has shape {tuple(w.shape)}; expected "
                                  f"({channels}, {channels}, {'w' if want_k is None else 1})", path)
        if i % 2 == 0:
            widths.append(int(w.shape[2]))
        out[f"block_convs.{i}.weight"] = w
    for prefix, new, n in (("expand_bn", "expand_bn", None), *(("layers_bn", "block_bns", i) for i in convs)):
        src = prefix if n is None else f"{prefix}.{n}"
        dst = new if n is None else f"{new}.{n}"
        for key in _BN_KEYS:
            t = sd.get(f"{src}.{key}")
            if t is None and key == "num_batches_tracked":
                t = torch.zeros((), dtype=torch.long)
            if not isinstance(t, torch.Tensor):
                raise FileFormatError(f"{path}: {what}: {src}.{key} is missing", path)
            if key != "num_batches_tracked" and tuple(t.shape) != (channels,):
                raise FileFormatError(f"{path}: {what}: {src}.{key} has shape {tuple(t.shape)}, expected ({channels},)",
                                      path)
            out[f"{dst}.{key}"] = t
    extra_bn = sorted({k.rsplit(".", 1)[0] for k in sd if k.startswith("layers_bn.")}
                      - {f"layers_bn.{i}" for i in convs})
    if extra_bn:
        raise FileFormatError(f"{path}: {what}: {extra_bn} have no matching layers_conv", path)
    out["shrink.weight"] = shrink
    out["shrink.bias"] = sd["shrink.bias"]
    if any(w < 1 or w % 2 == 0 for w in widths):
        raise FileFormatError(f"{path}: {what}: kernel widths {widths} are not all odd", path)
    dense = dense_reading(widths)
    if dense is not None:
        warnings.warn(f"{path}: {what}: kernel widths {widths} are also those of VideoPose3D's --dense model "
                      f"with -arc {','.join(map(str, dense))} (undilated kernels of 2*pad+1 frames); they are "
                      f"imported as a dilated model with widths {widths} (receptive field {_prod(widths)}): if "
                      "it was trained with --dense, its outputs are wrong (dense models are not supported)",
                      stacklevel=2)
    out = OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in out.items())
    return VP3DModel(out, in_channels, int(shrink.shape[0]) // 3, tuple(widths), channels)


def _prod(widths) -> int:
    n = 1
    for w in widths:
        n *= int(w)
    return n


def dense_reading(kernels: tuple[int, ...] | list[int]) -> tuple[int, ...] | None:
    """The ``-arc`` of a VideoPose3D ``--dense`` model whose kernel widths are ``kernels``, or ``None`` when they
    cannot be one.

    A dense model's block ``i`` has an undilated kernel of ``2 pad_i + 1 = (w_i - 1) D_i + 1`` frames, where
    ``D_i = w_0 ... w_(i-1)``; so ``kernels`` fit the dense rule when every ``k_i - 1`` (``i >= 1``) is a
    multiple of ``D_i`` giving an odd ``w_i > 1``. The dilated models VideoPose3D publishes (all widths 3) never
    fit it.
    """
    if len(kernels) < 2 or kernels[0] < 2:
        return None
    arc, d = [int(kernels[0])], int(kernels[0])
    for k in kernels[1:]:
        if k <= 1 or (k - 1) % d:
            return None
        w = (int(k) - 1) // d + 1
        if w % 2 == 0:
            return None
        arc.append(w)
        d *= w
    return tuple(arc)


def _build(m: VP3DModel, layout_in, causal: bool, dropout: float, path: Path, what: str) -> TemporalLifter:
    lay = get_layout(layout_in)
    in_channels = m.in_channels
    feats = in_channels / lay.num_joints
    if feats not in (2, 3):
        raise InputError(f"{path}: {what} takes {in_channels} input values per frame; layout {lay.name!r} has "
                         f"{lay.num_joints} joints, so that is not 2 (x, y) or 3 (x, y, confidence) per joint: "
                         f"declare the layout the model was trained on ({2 * lay.num_joints} values would be "
                         f"{lay.name}; these weights fit {in_channels // 2} joints)")
    model = TemporalLifter(lay.num_joints, m.out_joints, m.widths, m.channels, dropout, causal, int(feats))
    model.load_state_dict(m.state)
    return model.eval()


def _default_layout_out(out_joints: int, path: Path) -> str:
    by_count = {17: "h36m17", 15: "humaneva15"}
    if out_joints not in by_count:
        raise InputError(f"{path}: the model outputs {out_joints} joints; give its output layout (layout_out=...)")
    return by_count[out_joints]


def _number(v: Any) -> float | int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_vp3d(path: str | os.PathLike, out_dir: str | os.PathLike, layout_in: str, *, layout_out: str | None = None,
                causal: bool = False, dropout: float = 0.25, flip_test: bool = True, name: str | None = None,
                overwrite: bool = False) -> dict:
    """Turn a VideoPose3D checkpoint into a poselift run folder.

    Args:
        path: the ``.bin`` checkpoint.
        out_dir: the run folder to write (``checkpoint.pt``, ``config.yaml``, ``run.json``).
        layout_in: the 2D layout the model was trained on (required: the weights do not say).
        layout_out: the 3D layout (default from the output joint count: 17 -> ``h36m17``, 15 -> ``humaneva15``).
        causal: whether it was trained with ``--causal`` (the weights do not say; published models: no).
        dropout: recorded in the model config (no effect on inference; VideoPose3D's default 0.25).
        flip_test: test-time flip augmentation when lifting (VideoPose3D's default: on).
        name: the run's name (default: the checkpoint's file name).
        overwrite: replace an existing run folder's files.

    Returns:
        the contents of ``run.json``.

    Raises:
        FileFormatError: refused or malformed checkpoint (see :func:`read_vp3d_checkpoint`).
        InputError / LayoutError: a layout that does not fit the weights' joint counts.
        FileExistsError: ``out_dir`` already holds a checkpoint and ``overwrite`` is false.
    """
    from poselift.experiments.config import dump_config

    path, out = Path(path), Path(out_dir)
    if (out / CHECKPOINT).exists() and not overwrite:
        raise FileExistsError(f"{out} already holds a {CHECKPOINT}; choose another folder (or overwrite)")
    if out.is_dir() and any(p.name not in _RUN_FILES for p in out.iterdir()):
        raise FileExistsError(f"{out} holds files that are not an imported run's ({', '.join(sorted(_RUN_FILES))}); "
                              "the import replaces the folder whole: choose an empty or new folder")
    _remove_stale_temporaries(out)
    try:
        lay_in = get_layout(layout_in)
    except KeyError as e:
        raise LayoutError(str(e).strip('"')) from None
    state = read_vp3d_checkpoint(path)
    pos, model, lay_out, traj = _read_models(state, path, lay_in, layout_out, causal, dropout)
    source = {"format": "videopose3d", "file": str(path.resolve()), "sha256": _sha256(path),
              "epoch": _number(state.get("epoch")), "lr": _number(state.get("lr"))}
    extra = {"flip_test": bool(flip_test), "features": model.in_features, "normalization": "image",
             "source": source}
    cfg = _run_config(name or path.stem, model, pos, traj is not None, lay_in, dropout, causal, flip_test)
    info = _run_info(cfg, source, state, model, pos, traj is not None, lay_in, lay_out, causal, flip_test)
    with atomic_folder(out) as tmp:  # a kill leaves the old folder or none, never a checkpoint without its config
        save_checkpoint(lifter_payload(model, lay_in, lay_out, traj, extra), tmp / CHECKPOINT)
        atomic_write_text(tmp / "config.yaml", dump_config(cfg))
        atomic_write_json(tmp / "run.json", info)
    return info


_RUN_FILES = frozenset({CHECKPOINT, "config.yaml", "run.json"})
"""What an imported run folder holds."""


def _remove_stale_temporaries(out: Path) -> None:
    """Remove the hidden temporary folders an import into ``out`` killed before it finished left beside it."""
    import shutil

    if out.parent.is_dir():
        for p in out.parent.glob(f".{out.name}.*.tmp"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def _read_models(state: dict, path: Path, lay_in, layout_out: str | None, causal: bool, dropout: float):
    """The pose model (and the trajectory model, if the checkpoint holds one) built from ``state``.

    Returns:
        ``(pos, model, lay_out, traj)``: the pose weights' description, the pose model, its output
        layout (checked against the weights' joint count) and the trajectory model or ``None``.
    """
    pos = vp3d_to_poselift(state["model_pos"], path, "model_pos")
    model = _build(pos, lay_in.name, causal, dropout, path, "model_pos")
    lay_out = get_layout(layout_out or _default_layout_out(pos.out_joints, path))
    if lay_out.num_joints != pos.out_joints:
        raise InputError(f"{path}: the model outputs {pos.out_joints} joints; layout {lay_out.name!r} has "
                         f"{lay_out.num_joints}")
    traj = None
    if state.get("model_traj") is not None:
        t = vp3d_to_poselift(state["model_traj"], path, "model_traj")
        if t.out_joints != 1:
            raise FileFormatError(f"{path}: model_traj outputs {t.out_joints} joints, a trajectory model outputs 1",
                                  path)
        traj = _build(t, lay_in.name, causal, dropout, path, "model_traj")
    return pos, model, lay_out, traj


def _eval_keypoints(lay_in) -> str:
    """The Human3.6M 2D that ``poselift evaluate`` feeds a model of input layout ``lay_in`` (h36m17: gt,
    mpii16: sh; other layouts have none, and evaluate refuses them)."""
    return {lay: kp for kp, lay in KEYPOINT_LAYOUTS.items()}.get(lay_in.name, "gt")


def _run_config(name: str, model, pos, trajectory: bool, lay_in, dropout: float, causal: bool, flip_test: bool):
    """config.yaml's contents: the model as a poselift config; the data section is the Human3.6M protocol
    in the model's input layout where poselift has one, for ``poselift evaluate``."""
    from poselift.experiments.config import DataConfig, ExperimentConfig, ModelConfig

    cfg = ExperimentConfig(
        name=name, device="auto",
        data=DataConfig(dataset="h36m", keypoints=_eval_keypoints(lay_in), features=model.in_features),
        model=ModelConfig(widths=list(pos.widths), channels=pos.channels, dropout=dropout, causal=causal,
                          trajectory=trajectory),
    )
    cfg.eval.flip_test = bool(flip_test)
    return cfg


def _run_info(cfg, source: dict, state: dict, model, pos, trajectory: bool, lay_in, lay_out, causal: bool,
              flip_test: bool) -> dict:
    """run.json's contents: where the weights came from, what was declared at import and what was read
    from the weights, the keys not read, and what ``evaluate`` will do with the run."""
    from poselift.experiments.run_folder import git_commit

    keypoints = _eval_keypoints(lay_in)
    ignored = sorted(str(k) for k in state if k not in ("model_pos", "model_traj", "epoch", "lr"))
    return {
        "name": cfg.name,
        "imported_from": source,
        "declared": {"layout_in": lay_in.name, "layout_out": lay_out.name, "causal": bool(causal),
                     "normalization": "image", "flip_test": bool(flip_test),
                     "note": "the weights do not say the input layout or whether the model is causal: "
                             "these were declared at import"},
        "read_from_weights": {"widths": list(pos.widths), "channels": pos.channels, "in_joints": model.in_joints,
                              "in_features": model.in_features, "out_joints": pos.out_joints,
                              "receptive_field": pos.receptive_field, "trajectory_model": trajectory},
        "parameters": sum(p.numel() for p in model.parameters()),
        "not_read": ignored,
        "evaluate": ("poselift evaluate runs the Human3.6M protocol with data.keypoints "
                     f"{keypoints!r}" if lay_in.name in ("h36m17", "mpii16") else
                     f"poselift has no Human3.6M 2D in {lay_in.name}: `evaluate` refuses this run; lift, compare "
                     "--input and export work"),
        "package_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
