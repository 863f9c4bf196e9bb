"""Property-based tests: random or corrupted input never escapes as anything but poselift's own error.

* file readers: valid files made here (2D JSON of each format, our HDF5, npz,
  the Human3.6M cache and cameras file, a config, a checkpoint, an ONNX model),
  truncated at random offsets, with random bytes flipped or inserted, or
  replaced by random bytes; and structure-aware fuzzing (random JSON documents
  built from the formats' own keys, random arrays in npz and HDF5 files);
* the config loader: random nested dicts;
* layout conversions: random arrays of random shapes/dtypes with random
  layout names, and the consistency of what converts;
* PAF grouping: random heatmaps/PAFs, including NaN, zeros and wrong shapes;
* files that lie about their sizes (npz members and HDF5 datasets declaring any
  shape, checkpoint configs claiming any model, ONNX models declaring any input
  size): they cost what they hold, not what they declare (the concurrency and
  kill-point properties are in ``test_concurrency.py``).

Each either succeeds (with a well-formed result) or raises
:class:`poselift.core.errors.PoseliftError`. Example counts are kept small so the
whole file runs in well under a minute on one core.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from poselift.checkpoint import load_checkpoint, save_checkpoint
from poselift.core.camera import Camera
from poselift.core.errors import InputError, PoseliftError, UnsafePickleWarning, check_finite
from poselift.core.io import read_json
from poselift.core.layouts import LAYOUTS, convert, correspondence, get_layout, get_mapping
from poselift.core.sequence import PoseSequence
from poselift.datasets.h36m import CAMERA_IDS, read_cameras
from poselift.datasets.h36m.cache import load_cache, save_cache
from poselift.datasets.h36m.data import H36MData
from poselift.datasets.h36m.npz import read_npz
from poselift.detectors.bodyposenet import (
    BODYPOSENET_LIMBS,
    DecodeSettings,
    People,
    decode_people,
    find_peaks,
)
from poselift.detectors.formats import (
    KeypointTracks,
    read_2d,
    read_coco_npz,
    read_deepstream_json,
    read_mmpose_json,
    read_poses3d_h5,
    write_keypoints_h5,
    write_poses3d_h5,
)
from poselift.detectors.tracking import fill_track
from poselift.experiments.config import (
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    dump_config,
    load_config,
)
from poselift.model.tcn import TemporalLifter

# POSELIFT_FUZZ_SCALE=20 runs 20x the examples with fresh randomness (a deeper search by hand);
# by default the examples are derandomized: the same inputs on every run.
_SCALE = float(os.environ.get("POSELIFT_FUZZ_SCALE", "0") or 0)


def fuzz(max_examples: int) -> settings:
    return settings(max_examples=max(1, int(max_examples * (_SCALE or 1))), deadline=None,
                    derandomize=not _SCALE, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _expect_ok_or_own_error(fn, *args, **kwargs):
    """Run ``fn``; success or a PoseliftError pass, anything else fails the test (with its traceback)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnsafePickleWarning)
            warnings.simplefilter("ignore", UserWarning)  # torch's notes on pickle protocols
            out = fn(*args, **kwargs)
        _event("accepted")  # --hypothesis-show-statistics: how often each outcome occurred
        return out
    except PoseliftError as e:
        assert str(e), "an error without a message"
        _event(f"refused: {type(e).__name__}")
        return e


def _event(text: str) -> None:
    try:
        event(text)
    except InvalidArgument:  # called outside a hypothesis test
        pass


# --------------------------------------------------------------------------- valid files
COCO_ORDER = list(range(17))


def _person(t: int, dx: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(t)
    return (rng.uniform(100, 500, (17, 2)) + dx).astype(np.float32)


def _write_valid_files(root: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    # MMPose JSON
    frames = [{"frame_id": t, "instances": [{"keypoints": _person(t).tolist(), "keypoint_scores": [0.8] * 17,
                                             "track_id": 1}]} for t in range(4)]
    files["mmpose.json"] = root / "mmpose.json"
    files["mmpose.json"].write_text(json.dumps({"meta_info": {}, "instance_info": frames}))
    # DeepStream JSON (batches separated by commas, as the app writes)
    parts = []
    for fn in range(3):
        p25 = np.c_[np.random.default_rng(fn).uniform(0, 600, (34, 2)), np.zeros(34), np.full(34, 0.9)]
        parts.append(json.dumps({"num_frames_in_batch": 1, "batches": [{"batch_id": 0, "frame_num": fn, "objects": [
            {"object_id": 7, "pose25d": p25.reshape(-1).round(2).tolist(),
             "pose3d": np.ones(136).tolist()}]}]}))
    files["deepstream.json"] = root / "deepstream.json"
    files["deepstream.json"].write_text(", ".join(parts) + ", ")
    # our 2D HDF5
    kp = np.stack([_person(t) for t in range(6)])
    tracks = KeypointTracks([fill_track(range(6), kp, np.full((6, 17), 0.7), track_id=2)], "coco17", (640, 480),
                            25.0, 6, "clip.mp4", "test")
    files["keypoints.h5"] = root / "keypoints.h5"
    write_keypoints_h5(files["keypoints.h5"], tracks)
    # lifted 3D HDF5
    seqs = tracks.to_sequences()
    files["poses3d.h5"] = root / "poses3d.h5"
    write_poses3d_h5(files["poses3d.h5"], seqs, [np.zeros((len(s), 17, 3)) for s in seqs])
    # Detectron2-style npz, plain numbers (no pickle)
    files["coco.npz"] = root / "coco.npz"
    np.savez_compressed(files["coco.npz"], keypoints=np.concatenate([kp, np.full((6, 17, 1), 0.9, np.float32)], -1))
    # VideoPose3D custom npz (pickled dicts: read with the opt-in, truncated only)
    files["custom.npz"] = root / "custom.npz"
    np.savez(files["custom.npz"], positions_2d={"v.mp4": {"custom": [kp]}},
             metadata={"video_metadata": {"v.mp4": {"w": 640, "h": 480}}})
    # Human3.6M cameras.h5 and a prepared cache
    cam = Camera(f=(1100.0, 1100.0), c=(500.0, 500.0), width=1000, height=1002, k=(-0.2, 0.2, 0.0), p=(0.0, 0.001),
                 T=np.array([0.0, -4.0, 1.5]), name=CAMERA_IDS[0])
    files["cameras.h5"] = root / "cameras.h5"
    with h5py.File(files["cameras.h5"], "w") as f:
        g = f.create_group("subject1/camera1")
        g["R"], g["T"] = cam.R.T, (cam.T * 1000.0).reshape(3, 1)
        g["f"], g["c"], g["k"], g["p"] = cam.f.reshape(2, 1), cam.c.reshape(2, 1), cam.k.reshape(3, 1), cam.p.reshape(2, 1)
        g["Name"] = np.array([float(ord(ch)) for ch in CAMERA_IDS[0]]).reshape(-1, 1)
    poses = np.random.default_rng(0).normal(0, 0.3, (12, 17, 3)).astype(np.float32)
    data = H36MData(cameras={("S1", CAMERA_IDS[0]): cam}, poses3d={("S1", "Walking"): poses},
                    keypoints2d={("S1", "Walking", CAMERA_IDS[0]): np.zeros((12, 16, 2), np.float32) + 300},
                    keypoints_name="sh_pt_mpii")
    files["cache.h5"] = root / "cache.h5"
    save_cache(data, files["cache.h5"])
    files["data_3d_h36m.npz"] = root / "data_3d_h36m.npz"
    np.savez(files["data_3d_h36m.npz"], positions_3d={"S1": {"Walking": np.zeros((5, 32, 3)) + 0.1}})
    # a config
    files["config.yaml"] = root / "config.yaml"
    files["config.yaml"].write_text(dump_config(config_from_dict({"name": "fuzz", "model": {"channels": 16}})))
    # a checkpoint
    model = TemporalLifter(17, 17, (3,), channels=4)
    files["checkpoint.pt"] = root / "checkpoint.pt"
    save_checkpoint({"model": model.state_dict(), "model_config": model.config(), "layout_in": "h36m17",
                       "layout_out": "h36m17"}, files["checkpoint.pt"])
    return files


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    root = tmp_path_factory.mktemp("valid")
    files = _write_valid_files(root)
    scratch = tmp_path_factory.mktemp("scratch")
    return files, scratch


def _readers(files: dict[str, Path]):
    """name -> reader of a file of that kind (its path as argument)."""

    def read_2d_deep(p, **kw):
        data = read_2d(p, **kw)
        data.to_sequences(image_size=(640, 480))  # what the lifter would get
        return data

    return {
        "mmpose.json": lambda p: read_2d_deep(p),
        "deepstream.json": lambda p: read_2d_deep(p, image_size=(640, 480)),
        "keypoints.h5": lambda p: read_2d_deep(p),
        "poses3d.h5": read_poses3d_h5,
        "coco.npz": lambda p: read_2d_deep(p),
        "custom.npz": lambda p: read_coco_npz(p, allow_pickle=True).to_sequences(),
        "cameras.h5": read_cameras,
        "cache.h5": load_cache,
        "data_3d_h36m.npz": lambda p: read_npz(p, files["cameras.h5"], allow_pickle=True),
        "config.yaml": load_config,
        "checkpoint.pt": load_checkpoint,
    }


# Files holding pickles that we read with the opt-in: truncated only (truncating cannot add code to run).
TRUNCATE_ONLY = {"custom.npz", "data_3d_h36m.npz"}
# HDF5: truncated or replaced, not bit-flipped. libhdf5 is not hardened against damaged metadata: a
# few flipped bytes in an object header can segfault or hang it inside h5py (seen while fuzzing, e.g.
# in AttributeManager.__getitem__), below anything Python can catch. Truncation is caught by the file's
# end-of-file address; the cache's arrays carry Fletcher-32 checksums.
NO_FLIPS = {"keypoints.h5", "poses3d.h5", "cameras.h5", "cache.h5"}


def test_valid_files_read_back(valid):
    files, _ = valid
    for name, reader in _readers(files).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnsafePickleWarning)
            reader(files[name])


@st.composite
def _mutation(draw, size: int, truncate_only: bool, no_flips: bool = False):
    kinds = ["truncate"] if truncate_only else ["truncate", "random"] if no_flips else \
        ["truncate", "flip", "insert", "random"]
    kind = draw(st.sampled_from(kinds))
    if kind == "truncate":
        return kind, draw(st.integers(0, max(size - 1, 0)))
    if kind == "flip":
        return kind, draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), min_size=1, max_size=8))
    if kind == "insert":
        return kind, (draw(st.integers(0, size)), draw(st.binary(min_size=1, max_size=64)))
    return kind, draw(st.binary(max_size=2048))


def _mutate(raw: bytes, mutation) -> bytes:
    kind, arg = mutation
    if kind == "truncate":
        return raw[:arg]
    if kind == "flip":
        b = bytearray(raw)
        for pos, x in arg:
            b[pos] ^= x
        return bytes(b)
    if kind == "insert":
        pos, extra = arg
        return raw[:pos] + extra + raw[pos:]
    return arg


@fuzz(300)
@given(data=st.data())
def test_readers_on_damaged_files(valid, data):
    files, scratch = valid
    readers = _readers(files)
    name = data.draw(st.sampled_from(sorted(readers)), label="file")
    raw = files[name].read_bytes()
    mutation = data.draw(_mutation(len(raw), name in TRUNCATE_ONLY, name in NO_FLIPS), label="mutation")
    path = scratch / name  # same name and suffix: read_2d picks its reader from the suffix
    path.write_bytes(_mutate(raw, mutation))
    _expect_ok_or_own_error(readers[name], path)


def test_onnx_model_truncated_at_every_tenth_byte(tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from poselift.detectors.runtime import OnnxModel, TensorSpec

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    raw = m.SerializeToString()
    onnx.checker.check_model(m)
    path = tmp_path / "m.onnx"
    for cut in range(0, len(raw), 10):
        path.write_bytes(raw[:cut])
        _expect_ok_or_own_error(OnnxModel, path, providers="cpu", inputs=[TensorSpec("x", ("N", 3))])


# --------------------------------------------------------------------------- structure-aware JSON
JSON_KEYS = ["instance_info", "predictions", "instances", "keypoints", "keypoint_scores", "track_id", "frame_id",
             "batches", "objects", "frame_num", "pose25d", "pose3d", "object_id", "bbox"]

_scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5))
_json = st.recursive(
    _scalars,
    lambda c: st.lists(c, max_size=6) | st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=4), c,
                                                        max_size=5),
    max_leaves=60,
)
# numbers in the shapes the formats use, so the fuzzer gets past the first checks
_rows = st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=2, max_size=3),
                 min_size=16, max_size=18)
_instance = st.fixed_dictionaries({"keypoints": _rows | _json},
                                  optional={"keypoint_scores": st.lists(st.floats(width=32), max_size=18) | _json,
                                            "track_id": st.integers(-3, 3) | _json})
_mmpose = st.fixed_dictionaries({"instance_info": st.lists(
    st.fixed_dictionaries({"frame_id": st.integers(0, 5), "instances": st.lists(_instance, max_size=3) | _json}),
    max_size=4) | _json})
_ds_object = st.fixed_dictionaries({"pose25d": st.lists(st.floats(width=32), min_size=136, max_size=136) | _json},
                                   optional={"object_id": st.integers(-2, 2) | _json,
                                             "pose3d": st.lists(st.floats(width=32), min_size=136, max_size=136)})
_deepstream = st.fixed_dictionaries({"batches": st.lists(st.fixed_dictionaries(
    {"frame_num": st.integers(-1, 6) | _json, "objects": st.lists(_ds_object, max_size=3) | _json}), max_size=4)})


@fuzz(200)
@given(doc=st.one_of(_mmpose, _deepstream, _json), reader=st.sampled_from(["2d", "mmpose", "deepstream", "json"]))
def test_json_readers_on_random_documents(valid, doc, reader):
    _, scratch = valid
    path = scratch / "doc.json"
    path.write_text(json.dumps(doc))
    fn = {"2d": lambda p: read_2d(p, image_size=(640, 480)).to_sequences(), "mmpose": read_mmpose_json,
          "deepstream": read_deepstream_json, "json": read_json}[reader]
    _expect_ok_or_own_error(fn, path)


# --------------------------------------------------------------------------- structure-aware npz and HDF5
_dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64, "U3", "S2"])


@st.composite
def _small_arrays(draw, max_dims: int = 4):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=18))
    assume(int(np.prod(shape)) <= 4000)
    dtype = np.dtype(draw(_dtypes))
    if dtype.kind in "US":
        elements = st.text(alphabet="ab1.", max_size=2) if dtype.kind == "U" else st.sampled_from([b"", b"a", b"1."])
    elif dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=32)
    elif dtype.kind == "c":
        elements = st.complex_numbers(width=64)
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


@fuzz(100)
@given(entries=st.dictionaries(st.sampled_from(["keypoints", "metadata", "positions_2d", "boxes", "x"]),
                               _small_arrays(), min_size=1, max_size=3),
       pickled=st.booleans())
def test_npz_readers_on_random_arrays(valid, entries, pickled):
    _, scratch = valid
    path = scratch / "random.npz"
    np.savez(path, **entries)
    _expect_ok_or_own_error(lambda p: read_2d(p, image_size=(640, 480), allow_pickle=pickled).to_sequences(), path)


@fuzz(100)
@given(target=st.sampled_from(["frames", "keypoints", "confidence", "interpolated", "detected", "pose3d"]),
       value=_small_arrays(max_dims=3),
       attrs=st.dictionaries(st.sampled_from(["layout", "format_version", "num_frames", "image_width", "fps"]),
                             st.integers(-5, 40) | st.text(max_size=8) | st.floats(), max_size=2))
def test_keypoints_h5_with_random_content(valid, target, value, attrs):
    files, scratch = valid
    path = scratch / "content.h5"
    path.write_bytes(files["keypoints.h5"].read_bytes())
    with h5py.File(path, "a") as f:
        g = f["tracks/track_00002"]
        if target in g:
            del g[target]
        try:
            g[target] = value
            for k, v in attrs.items():
                f.attrs[k] = v
        except (TypeError, ValueError):  # h5py cannot store this (unicode arrays, NUL in strings): not a file case
            assume(False)
    _expect_ok_or_own_error(lambda p: read_2d(p).to_sequences(image_size=(640, 480)), path)


# --------------------------------------------------------------------------- the config loader
SECTIONS = {
    "data": ["dataset", "path", "keypoints", "train_subjects", "test_subjects", "features", "frame_stride",
             "labelled_fraction", "unlabelled_subjects", "unlabelled_files", "unlabelled_camera", "synthetic"],
    "model": ["widths", "channels", "dropout", "causal", "trajectory"],
    "train": ["epochs", "batch_size", "lr", "lr_decay", "bn_momentum", "seed", "grad_clip", "windows_per_epoch"],
    "eval": ["flip_test", "eval_every", "monitor_frames", "save_predictions"],
}
_cfg_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6) | st.sampled_from(["h36m", "synthetic", "gt", "sh", "S1", "S9", "auto"]),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), c, max_size=3),
    max_leaves=12,
)


@st.composite
def _config_dicts(draw):
    d = {}
    for key in draw(st.lists(st.sampled_from(["name", "seed", "device", *SECTIONS, "bogus"]), max_size=6,
                             unique=True)):
        if key in SECTIONS and draw(st.booleans()):
            keys = st.sampled_from(SECTIONS[key]) | st.text(max_size=5)
            d[key] = draw(st.dictionaries(keys, _cfg_values, max_size=4))
        else:
            d[key] = draw(_cfg_values)
    return d


@fuzz(300)
@given(d=_config_dicts() | _cfg_values)
def test_config_loader_on_random_dicts(d):
    out = _expect_ok_or_own_error(config_from_dict, d)
    assert isinstance(out, (ExperimentConfig, PoseliftError))
    if isinstance(out, ExperimentConfig):  # what was accepted is stored as config.yaml and reads back the same
        assert config_from_dict(yaml.safe_load(dump_config(out))) == out


@fuzz(100)
@given(overrides=st.lists(st.text(alphabet="abcdeilnoprstuwx._=[]{}:, 0123", max_size=20)
                          | st.sampled_from(["train.epochs=3", "model.widths=[3, 5]", "train.lr=abc",
                                             "eval.flip_test=maybe", "model.channels=[", "data.bogus=1"]),
                          max_size=3))
def test_config_overrides_on_random_strings(overrides):
    base = config_from_dict({})
    out = _expect_ok_or_own_error(apply_overrides, base, overrides)
    assert isinstance(out, (ExperimentConfig, PoseliftError))


# --------------------------------------------------------------------------- layout conversions
_known_layouts = st.sampled_from(sorted(LAYOUTS))
_junk_layouts = st.text(max_size=8) | st.sampled_from(["", "h36m", "COCO17"])
# mostly real layout names (so that conversions run), sometimes anything
_layout_names = st.integers(0, 4).flatmap(lambda k: _junk_layouts if k == 0 else _known_layouts)


@st.composite
def _points(draw, joints: int | None = None, frames_axis: bool = False):
    j = draw(st.sampled_from([0, 15, 16, 17, 18, 34]) | st.integers(0, 40))
    if joints is not None and draw(st.integers(0, 4)):
        j = joints  # mostly the right joint count, so that conversions get exercised
    lead = draw(st.lists(st.integers(0, 4), min_size=int(frames_axis), max_size=1 if frames_axis else 2))
    f = draw(st.integers(0, 4))
    if joints is not None and draw(st.integers(0, 2)):
        f = 2
    shape = tuple(lead) + (j, f) if draw(st.integers(0, 9)) else draw(hnp.array_shapes(min_dims=0, max_dims=2))
    assume(int(np.prod(shape)) <= 5000)
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float32, np.float64, np.int32, np.bool_, np.complex64,
                                           "U2"])))
    elements = st.floats(-1e6, 1e6, width=32) if dtype.kind == "f" else None
    if dtype.kind == "U":
        elements = st.text(alphabet="a1", max_size=2)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@fuzz(300)
@given(data=st.data(), src=_layout_names, with_conf=st.booleans())
def test_layout_conversions_on_random_arrays(data, src, with_conf):
    dst = data.draw(st.integers(0, 5).flatmap(lambda k: st.just("h36m17") if k < 3 else st.just(src) if k == 3
                                              else _layout_names), label="dst")
    points = data.draw(_points(LAYOUTS[src].num_joints if src in LAYOUTS else None), label="points")
    conf = np.ones(points.shape[:-1], np.float32) if with_conf and points.ndim else None
    out = _expect_ok_or_own_error(convert, points, src, dst, conf)
    if isinstance(out, PoseliftError):
        assert isinstance(out, InputError)
        return
    s, d = get_layout(src), get_layout(dst)
    got = out[0] if with_conf and conf is not None else out
    assert got.shape == points.shape[:-2] + (d.num_joints, points.shape[-1])
    mapping = get_mapping(s, d)
    if s.name == d.name:  # identity
        np.testing.assert_array_equal(got, points.astype(got.dtype))
    # every output joint that is a plain copy of an input joint holds that joint's values
    w = mapping.weights
    for jd in range(d.num_joints):
        nz = np.flatnonzero(w[jd])
        if len(nz) == 1 and w[jd, nz[0]] == 1.0:
            np.testing.assert_allclose(got[..., jd, :], points[..., nz[0], :].astype(got.dtype), rtol=1e-6)
    # converting to and back by joint name (correspondence) gives the source joints back
    src_idx, dst_idx = correspondence(d, s)
    for a, b in zip(src_idx, dst_idx):
        nz = np.flatnonzero(w[a])
        if len(nz) == 1 and nz[0] == b and w[a, b] == 1.0:
            np.testing.assert_allclose(got[..., a, :], points[..., b, :].astype(got.dtype), rtol=1e-6)
    if with_conf and conf is not None:
        c = out[1]
        assert c.shape == got.shape[:-1]
        assert np.all(c[..., list(mapping.missing)] == 0)


@fuzz(100)
@given(data=st.data(), layout=_layout_names, target=st.sampled_from(["h36m17", "coco17", "mpii16"]))
def test_pose_sequences_from_random_arrays(data, layout, target):
    points = data.draw(_points(LAYOUTS[layout].num_joints if layout in LAYOUTS else None, frames_axis=True),
                       label="points")
    seq = _expect_ok_or_own_error(PoseSequence, points, layout=layout, image_size=(640, 480))
    if isinstance(seq, PoseSequence):
        assert np.isfinite(seq.keypoints).all() and seq.keypoints.dtype == np.float32
        _expect_ok_or_own_error(seq.converted, target)


@fuzz(100)
@given(x=_small_arrays(max_dims=5), names=st.none() | st.just(get_layout("h36m17").joints))
def test_check_finite_on_random_arrays(x, names):
    out = _expect_ok_or_own_error(check_finite, x, "values", names)
    if isinstance(out, PoseliftError):
        assert "values" in str(out)
    if x.dtype.kind in "fc" and x.size and not np.isfinite(x).all():
        assert isinstance(out, InputError)
        assert isinstance(_expect_ok_or_own_error(check_finite, torch.from_numpy(np.ascontiguousarray(x))
                                                  if x.dtype != np.float16 else x), InputError)


# --------------------------------------------------------------------------- PAF grouping
_map_values = st.floats(-0.5, 1.5, width=32) | st.sampled_from([0.0, 0.0, 1.0, np.nan, np.inf, -np.inf])


@st.composite
def _maps(draw):
    good = draw(st.integers(0, 4))  # mostly well-shaped maps, sometimes anything
    if good:
        h, w = draw(st.integers(0, 9)), draw(st.integers(0, 9))
        hm_shape = (h, w, draw(st.sampled_from([19, 18, 17, 20])))
        r = draw(st.sampled_from([1, 2]))
        paf_shape = (h * r, w * r, draw(st.sampled_from([38, 37, 40])))
    else:
        hm_shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, max_side=20))
        paf_shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, max_side=40))
    assume(np.prod(hm_shape) <= 4000 and np.prod(paf_shape) <= 16000)
    kind = draw(st.sampled_from(["random", "zeros", "peaks"]))
    if kind == "zeros":
        return np.zeros(hm_shape, np.float32), np.zeros(paf_shape, np.float32)
    hm = draw(hnp.arrays(np.float32, hm_shape, elements=_map_values))
    paf = draw(hnp.arrays(np.float32, paf_shape, elements=_map_values))
    if kind == "peaks" and len(hm_shape) == 3 and len(paf_shape) == 3:
        # blobs for two people and PAFs pointing along their limbs: exercises the grouping itself
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        hm = np.zeros(hm_shape, np.float32)
        paf = rng.normal(0, 0.05, paf_shape).astype(np.float32)
        if hm_shape[0] and hm_shape[1] and paf_shape[0] and paf_shape[1]:
            for _ in range(2):
                pts = rng.uniform(0, [hm_shape[1] - 1, hm_shape[0] - 1], (18, 2))
                for j in range(min(18, hm_shape[2])):
                    x, y = np.rint(pts[j]).astype(int)
                    hm[y, x, j] = rng.uniform(0.3, 1.0)
                for k, (a, b) in enumerate(BODYPOSENET_LIMBS):
                    if 2 * k + 1 >= paf_shape[2]:
                        break
                    d = pts[b] - pts[a]
                    n = np.linalg.norm(d)
                    if n > 0:
                        ry, rx = paf_shape[0] / hm_shape[0], paf_shape[1] / hm_shape[1]
                        for t in np.linspace(0, 1, 8):
                            px = int(min(paf_shape[1] - 1, (pts[a][0] + t * d[0] + 0.5) * rx))
                            py = int(min(paf_shape[0] - 1, (pts[a][1] + t * d[1] + 0.5) * ry))
                            paf[py, px, 2 * k: 2 * k + 2] = d / n
    return hm, paf


@fuzz(250)
@given(maps=_maps(), image_width=st.none() | st.floats(1, 2000), min_parts=st.integers(0, 5))
def test_paf_grouping_on_random_maps(maps, image_width, min_parts):
    hm, paf = maps
    out = _expect_ok_or_own_error(decode_people, hm, paf, DecodeSettings(min_parts=min_parts), (8.0, 8.0),
                                  image_width)
    if isinstance(out, PoseliftError):
        assert isinstance(out, InputError)
        return
    assert isinstance(out, People)
    n = len(out)
    _event(f"people: {min(n, 2)}")
    assert out.keypoints.shape == (n, 18, 2) and out.confidence.shape == (n, 18) and out.scores.shape == (n,)
    found = np.isfinite(out.keypoints).all(-1)
    assert np.all(out.confidence[~found] == 0)
    if n:
        out.boxes()  # every person has at least one joint


@fuzz(100)
@given(hm=_small_arrays(max_dims=4), threshold=st.floats(-1, 2), sigma=st.sampled_from([0.0, 1.0]))
def test_find_peaks_on_random_arrays(hm, threshold, sigma):
    out = _expect_ok_or_own_error(find_peaks, hm, threshold, sigma)
    if not isinstance(out, PoseliftError):
        assert len(out) == hm.shape[0] and all(p.ndim == 2 and p.shape[1] == 3 for p in out)


# --------------------------------------------------------------------------- files that lie about their sizes
# Each class of issue 18's "small files drive large memory": a file declaring sizes it does not hold must cost
# what it holds (kilobytes), whatever it declares. numpy's allocations are traced by tracemalloc; for torch
# models the sizes of what gets built are recorded.
_dims = st.integers(0, 40) | st.integers(0, 2**40) | st.sampled_from([17, 2, 3, 10**11])


def _traced_peak(fn, *args) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        _expect_ok_or_own_error(fn, *args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@fuzz(150)
@given(shape=st.lists(_dims, min_size=0, max_size=4), descr=st.sampled_from(["<f4", "<f8", "<i8", "|b1", "|O"]),
       payload=st.integers(0, 400), compressed=st.booleans(), key=st.sampled_from(["keypoints", "positions_2d"]))
def test_npz_members_declaring_any_size_cost_what_they_hold(valid, shape, descr, payload, compressed, key):
    import io
    import zipfile

    _, scratch = valid
    path = scratch / "declared.npz"
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
        z.writestr(f"{key}.npy", head.getvalue() + bytes(range(256)) * (payload // 256) + bytes(payload % 256))
    peak = _traced_peak(lambda p: read_2d(p, image_size=(640, 480), allow_pickle=False).to_sequences(), path)
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB traced for a {path.stat().st_size}-byte file"


@fuzz(80)
@given(target=st.sampled_from(["frames", "keypoints", "confidence", "interpolated", "detected", "pose3d"]),
       shape=st.lists(_dims.filter(lambda d: d < 2**34), min_size=1, max_size=3))
def test_hdf5_datasets_declaring_any_size_cost_what_they_hold(valid, target, shape, monkeypatch):
    import poselift.core.io as pio

    monkeypatch.setattr(pio, "FREE_BYTES", 2**16)  # what the file stores is compared from 64 kB on
    files, scratch = valid
    path = scratch / "declared.h5"
    path.write_bytes(files["keypoints.h5"].read_bytes())
    with h5py.File(path, "a") as f:
        g = f["tracks/track_00002"]
        if target in g:
            del g[target]
        try:
            g.create_dataset(target, shape=tuple(shape), dtype="f4")  # declared, nothing stored
        except (ValueError, OverflowError, RuntimeError):  # beyond what HDF5 itself can describe
            assume(False)
    peak = _traced_peak(lambda p: read_2d(p).to_sequences(image_size=(640, 480)), path)
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB traced for a dataset declared {shape}"


@fuzz(60)
@given(channels=st.integers(1, 100_000), widths=st.lists(st.sampled_from([1, 3, 5]), min_size=1, max_size=4),
       in_joints=st.sampled_from([16, 17, 10**6]), traj=st.booleans())
def test_checkpoint_configs_claiming_any_model_build_only_what_is_stored(valid, channels, widths, in_joints, traj,
                                                                         monkeypatch):
    import poselift.checkpoint as C
    from poselift.inference import load_lifter

    built = []

    class Spy(TemporalLifter):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            if not any(p.is_meta for p in self.parameters()):
                built.append(sum(p.numel() for p in self.parameters()))

    monkeypatch.setattr(C, "TemporalLifter", Spy)
    _, scratch = valid
    run = scratch / "lying_run"
    run.mkdir(exist_ok=True)
    model = TemporalLifter(17, 17, (3,), channels=4)
    stored = sum(p.numel() for p in model.parameters())
    cfg = {**model.config(), "channels": channels, "widths": widths, "in_joints": in_joints}
    save_checkpoint({"model": model.state_dict(), "model_config": cfg, "layout_in": "h36m17", "layout_out": "h36m17",
                     "traj_model": model.state_dict() if traj else None,
                     "traj_model_config": {**cfg, "out_joints": 1} if traj else None}, run / "checkpoint.pt")
    _expect_ok_or_own_error(load_lifter, run, "cpu")
    assert all(n == stored for n in built), f"built models of {built} parameters from {stored} stored"


@fuzz(30)
@given(w=st.integers(1, 60_000), h=st.integers(1, 60_000), layout=st.sampled_from(["NHWC", "NCHW"]))
def test_onnx_models_declaring_any_input_size_are_capped(w, h, layout):
    pytest.importorskip("onnxruntime")
    from poselift.detectors.bodyposenet import BodyPoseNet
    from poselift.detectors.runtime import MAX_INPUT_VALUES
    from poselift.detectors.standins import bodyposenet_standin

    model = bodyposenet_standin(np.zeros((4, 4, 19), np.float32), np.zeros((4, 4, 38), np.float32),
                                input_size=(w, h), layout=layout)
    out = _expect_ok_or_own_error(lambda m: BodyPoseNet(m, providers="cpu"), model)
    assert isinstance(out, PoseliftError) == (w * h * 3 > MAX_INPUT_VALUES)
