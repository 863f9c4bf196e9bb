"""Bad input gets the package's own error type and a message naming the problem and where.

One test per case: wrong joint count, NaN/inf, empty and too-short sequences,
mismatched 2D/3D lengths, unknown layouts, configs with unknown or mistyped
keys, corrupt or truncated HDF5/npz/JSON/checkpoint files, ONNX models with
another signature; and untrusted files: a checkpoint or a YAML config whose
pickle/tag would run code is refused and nothing of it runs, an npz with
Python objects is refused without an explicit opt-in.

All files are made here in ``tmp_path`` (nothing derived from Human3.6M).
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch

import poselift
from poselift.checkpoint import load_checkpoint, save_checkpoint
from poselift.core.camera import Camera
from poselift.core.errors import (
    ConfigError,
    FileFormatError,
    InputError,
    LayoutError,
    PoseliftError,
    SignatureError,
    UnsafePickleWarning,
    check_finite,
    check_shape,
)
from poselift.core.io import read_json
from poselift.core.layouts import H36M17, convert, get_layout, get_mapping
from poselift.core.sequence import PoseSequence
from poselift.datasets.h36m.cache import load_cache, save_cache
from poselift.datasets.h36m.data import H36MData
from poselift.datasets.h36m.npz import read_npz
from poselift.detectors.formats import (
    KeypointTracks,
    read_2d,
    read_coco_npz,
    read_deepstream_json,
    read_keypoints_h5,
    read_mmpose_json,
    write_keypoints_h5,
)
from poselift.detectors.tracking import fill_track
from poselift.experiments.config import config_from_dict, load_config
from poselift.inference import load_lifter
from poselift.model.tcn import TemporalLifter
from poselift.training.window_bank import WindowBank


def _kp(t=10, j=17, seed=0):
    return np.random.default_rng(seed).uniform(100, 900, (t, j, 2)).astype(np.float32)


# --------------------------------------------------------------------------- the hierarchy
def test_error_hierarchy_keeps_old_except_clauses_working():
    assert issubclass(InputError, PoseliftError) and issubclass(InputError, ValueError)
    for cls in (FileFormatError, ConfigError, SignatureError, LayoutError):
        assert issubclass(cls, InputError)
    assert issubclass(LayoutError, KeyError)  # unknown names raised KeyError before
    assert str(LayoutError("unknown joint layout 'x'")) == "unknown joint layout 'x'"  # not KeyError's quoting
    assert poselift.InputError is InputError and poselift.check_finite is check_finite
    assert FileFormatError("f: bad", "f").path.name == "f"


def test_check_finite_names_frame_and_joint_numpy_and_torch():
    x = np.zeros((40, 17, 2), np.float32)
    x[12, 5, 1] = np.nan
    x[20, 0, 0] = np.inf
    with pytest.raises(InputError, match=r"keypoints contain NaN at frame 12, joint 5 \(left_knee\) "
                                         r"\(2 non-finite values in 2 frames"):
        check_finite(x, "keypoints", H36M17.joints)
    with pytest.raises(InputError, match=r"input contains NaN at sequence 1, frame 12, joint 5 \(left_knee\)"):
        check_finite(torch.from_numpy(np.stack([np.zeros_like(x), x])), "input", H36M17)
    c = np.ones((4, 3))
    c[2, 1] = -np.inf
    with pytest.raises(InputError, match=r"confidence contains -inf at frame 2, joint 1"):
        check_finite(c, "confidence")
    assert check_finite(np.arange(6).reshape(1, 3, 2)) is not None  # integers are always finite
    with pytest.raises(InputError, match="expected numbers"):
        check_finite(np.array([["a"]]), "keypoints")
    with pytest.raises(InputError, match=r"keypoints: expected shape \(frames, 17, 2\), got \(3, 16, 2\)"):
        check_shape(np.zeros((3, 16, 2)), (None, 17, 2), "keypoints", names=("frames", "joints", "xy"))


# --------------------------------------------------------------------------- arrays
def test_wrong_joint_count():
    with pytest.raises(InputError, match=r"keypoints: wrong joint count: layout 'h36m17' has 17 joints but the "
                                         r"array has 16"):
        PoseSequence(_kp(j=16), layout="h36m17", image_size=(1000, 1000))
    model = TemporalLifter(17, 17, (3,), channels=8)
    with pytest.raises(InputError, match="wrong joint count: the model takes 17 joints, input has 16"):
        model(torch.zeros(1, 5, 16, 2))
    with pytest.raises(InputError, match=r"points \(coco17 -> h36m17\): wrong joint count.*17 joints.*has 18"):
        convert(np.zeros((3, 18, 2)), "coco17", "h36m17")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_keypoints_name_frame_and_joint(bad):
    kp = _kp()
    kp[7, 13] = bad  # left_wrist in h36m17
    kind = "NaN" if bad != bad else ("+inf" if bad > 0 else "-inf")
    with pytest.raises(InputError, match=rf"sequence S1/Walking: keypoints contain \{kind} at frame 7, "
                                         rf"joint 13 \(left_wrist\)" if kind != "NaN" else
                       r"sequence S1/Walking: keypoints contain NaN at frame 7, joint 13 \(left_wrist\)"):
        PoseSequence(kp, image_size=(1000, 1000), subject="S1", action="Walking")
    poses = np.zeros((10, 17, 3), np.float32)
    poses[3, 0, 2] = bad
    with pytest.raises(InputError, match=r"poses3d contains .* at frame 3, joint 0 \(pelvis\)"):
        PoseSequence(_kp(), image_size=(1000, 1000), poses3d=poses)
    model = TemporalLifter(17, 17, (3,), channels=8)
    x = torch.zeros(2, 5, 17, 2)
    x[1, 4, 16, 0] = bad
    with pytest.raises(InputError, match=r"input contains .* at sequence 1, frame 4, joint 16"):
        model(x)
    with pytest.raises(InputError, match=r"input sequence 0 contains .* at frame 7, joint 13"):
        WindowBank([kp], 3)


def test_nan_policy_readers_mark_missing_joints_with_zero_confidence(tmp_path):
    """A file reader keeps a non-finite 2D keypoint as a missing joint (confidence 0); the
    sequences handed to the lifter get it filled, finite, still with confidence 0."""
    kps = []
    for t in range(6):
        k = _kp(1, 17, seed=t)[0]
        if t == 2:
            k[9] = np.nan  # left_wrist in coco17 missing in frame 2
        kps.append({"keypoints": k.tolist(), "keypoint_scores": [0.9] * 17, "track_id": 1})
    path = tmp_path / "mm.json"
    path.write_text(json.dumps({"instance_info": [{"frame_id": t, "instances": [kps[t]]} for t in range(6)]}))
    data = read_mmpose_json(path, image_size=(1000, 1000))
    track = data.tracks[0]
    assert track.confidence[2, 9] == 0.0 and track.confidence[1, 9] == pytest.approx(0.9)
    seq = data.to_sequences()[0]
    assert np.isfinite(seq.keypoints).all() and seq.confidence[2, 9] == 0.0


def test_empty_sequence():
    with pytest.raises(InputError, match="empty sequence"):
        PoseSequence(np.zeros((0, 17, 2)), image_size=(100, 100))
    with pytest.raises(InputError, match=r"input sequence 1: empty sequence \(0 frames\)"):
        WindowBank([np.zeros((4, 17, 2)), np.zeros((0, 17, 2))], 3)
    with pytest.raises(InputError, match="empty batch"):
        TemporalLifter(17, 17, (3,), channels=8)(torch.zeros(0, 3, 17, 2))


def test_too_short_sequence():
    model = TemporalLifter(17, 17, (3, 3, 3), channels=8)
    with pytest.raises(InputError, match="sequence too short: 5 frames for a receptive field of 27"):
        model(torch.zeros(1, 5, 17, 2))
    with pytest.raises(InputError, match="forward_windows needs windows of exactly 27 frames, got 26"):
        model.forward_windows(torch.zeros(1, 26, 17, 2))


def test_mismatched_2d_3d_lengths():
    with pytest.raises(InputError, match="mismatched lengths: 9 frames of 3D but 10 frames of 2D"):
        PoseSequence(_kp(10), image_size=(100, 100), poses3d=np.zeros((9, 17, 3)))
    with pytest.raises(InputError, match="sequence 0: mismatched lengths: 10 input frames but 8 target frames"):
        WindowBank([_kp(10)], 3, targets=[np.zeros((8, 17, 3))])


def test_unknown_layout():
    with pytest.raises(LayoutError, match=r"unknown joint layout 'h36m16'; known: \[.*'h36m17'"):
        get_layout("h36m16")
    with pytest.raises(KeyError):  # still a KeyError for old callers
        PoseSequence(_kp(), layout="openpose25", image_size=(100, 100))
    with pytest.raises(LayoutError, match="a joint layout is a name"):
        get_layout(17)
    with pytest.raises(LayoutError, match="no conversion from 'h36m17' to 'coco17'"):
        get_mapping("h36m17", "coco17")
    with pytest.raises(LayoutError, match="has no joint 'tail'"):
        H36M17.index("tail")


# --------------------------------------------------------------------------- configs
def test_config_unknown_key_is_rejected(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("name: x\nmodel:\n  widths: [3, 3]\n  widht: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value) and "model: unknown key(s) ['widht']" in str(e.value)
    with pytest.raises(ConfigError, match=r"config: unknown key\(s\) \['trian'\]"):
        config_from_dict({"trian": {"epochs": 3}})


def test_config_mistyped_value_is_rejected(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("train:\n  epochs: ten\n")
    with pytest.raises(ConfigError, match="train.epochs: expected an integer, got 'ten'"):
        load_config(path)
    for d, msg in [
        ({"train": {"lr": ".nan"}}, "train.lr: expected a number"),
        ({"train": {"lr": float("inf")}}, "train.lr: expected a finite number"),
        ({"eval": {"flip_test": "yes"}}, "eval.flip_test: expected true/false"),
        ({"model": {"widths": 3}}, "model.widths: expected a list"),
        ({"model": {"widths": [3, 4]}}, "model.widths must be odd positive"),
        ({"train": {"bn_momentum": [0.1]}}, r"train.bn_momentum: expected a list of 2 values"),
        ({"data": {"unlabelled_camera": 5}}, "data.unlabelled_camera: expected a mapping"),
        ({"data": {"features": 4}}, "data.features must be 2 or 3"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            config_from_dict(d)


def test_ordinary_float_notation_is_accepted_everywhere(tmp_path):
    """YAML 1.1 (PyYAML) reads 1e-4 as a string; a config must still take it as the number it is."""
    from poselift.experiments.config import apply_overrides

    path = tmp_path / "exp.yaml"
    path.write_text("train:\n  lr: 3e-4\n  bn_momentum: [1E-1, 1e-3]\n  windows_per_epoch: 1e3\n"
                    "data:\n  dataset: synthetic\n  synthetic: {noise: {jitter: 2e0}}\n")
    cfg = load_config(path)
    assert cfg.train.lr == 3e-4 and cfg.train.bn_momentum == (0.1, 0.001) and cfg.train.windows_per_epoch == 1000
    assert cfg.data.synthetic.noise == {"jitter": 2.0}
    cfg = apply_overrides(cfg, ["train.lr=1e-4", "train.lr_decay=+9.5E-1", "train.grad_clip=5e0"])
    assert (cfg.train.lr, cfg.train.lr_decay, cfg.train.grad_clip) == (1e-4, 0.95, 5.0)
    for bad in ("1e-4x", "nan", "1_0", "0x10"):  # still not numbers
        with pytest.raises(ConfigError, match=f"train.lr: expected a number, got '{bad}'"):
            config_from_dict({"train": {"lr": bad}})
    with pytest.raises(ConfigError, match=r"train.epochs: expected an integer, got 1.5"):
        config_from_dict({"train": {"epochs": "1.5e0"}})


def test_counts_and_momenta_are_range_checked():
    for train, msg in [
        ({"windows_per_epoch": 0}, r"train.windows_per_epoch must be >= 1 \(or null: every window\), got 0"),
        ({"windows_per_epoch": -5}, "got -5"),  # not a Python slice
        ({"bn_momentum": [0, 0.001]}, r"train.bn_momentum must be two momenta \(start, end\), each in \(0, 1\]"),
        ({"bn_momentum": [-0.1, 0.001]}, r"got \[-0.1, 0.001\]"),
        ({"bn_momentum": [0.1, 2]}, "each in"),
        ({"lr": 0}, "train.lr must be a finite number > 0"),
        ({"warmup_epochs": -1}, "train.warmup_epochs must be >= 0"),
        ({"bone_weight": -1}, "train.bone_weight must be a finite number >= 0"),
        ({"grad_clip": 0}, "train.grad_clip must be > 0"),
        ({"batch_size": 1}, "train.batch_size must be >= 2"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            config_from_dict({"train": train})
    for synthetic, msg in [({"noise": {"bogus": 1}}, r"data.synthetic.noise: unknown key\(s\) \['bogus'\]"),
                           ({"noise": {"jitter": "loud"}}, "data.synthetic.noise.jitter: expected a number"),
                           ({"noise": [1]}, "data.synthetic.noise: expected a mapping"),
                           ({"subjects": 0}, "data.synthetic.subjects must be >= 1")]:
        with pytest.raises(ConfigError, match=msg):
            config_from_dict({"data": {"dataset": "synthetic", "synthetic": synthetic}})


def test_a_folder_given_as_config(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path}: is a folder, not a config file"):
        load_config(tmp_path)


def test_config_is_data_never_evaluated(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.yaml"
    path.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match=f"{path}: not valid YAML \\(line 1 column 7: could not determine a "
                                          "constructor for the tag") as e:
        load_config(path)
    assert "\n" not in str(e.value)  # one line for the command line
    assert not marker.exists()
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not a YAML text file"):
        load_config(path)


# --------------------------------------------------------------------------- files
def _tracks() -> KeypointTracks:
    kp = _kp(8, 17)
    return KeypointTracks([fill_track(range(8), kp, np.full((8, 17), 0.8), track_id=3)], "coco17", (1000, 1000),
                          25.0, 8, "clip.mp4", "test")


def test_truncated_hdf5_keypoints(tmp_path):
    path = tmp_path / "kp.h5"
    write_keypoints_h5(path, _tracks())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError) as e:
        read_keypoints_h5(path)
    assert str(path) in str(e.value) and "not a readable HDF5 file" in str(e.value)
    assert e.value.path == path
    with pytest.raises(FileFormatError, match=str(path)):
        read_2d(path)


def _lying_keypoints_h5(path, name: str, shape, dtype="f4"):
    """A valid 2D file whose dataset ``name`` is then declared ``shape`` (nothing stored: a few kB)."""
    import h5py

    write_keypoints_h5(path, _tracks())
    with h5py.File(path, "r+") as f:
        tg = f["tracks/track_00003"]
        del tg[name]
        tg.create_dataset(name, shape=shape, dtype=dtype)


def _peak_bytes(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    except PoseliftError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_hdf5_declared_sizes_are_checked_before_reading(tmp_path):
    path = tmp_path / "kp.h5"
    _lying_keypoints_h5(path, "frames", (200_000_000,), "i8")  # 1.6 GB declared in an 18 kB file
    assert path.stat().st_size < 50_000
    # the whole file's budget (issue 22) refuses it before the dataset's own check
    with pytest.raises(FileFormatError, match=r"refused: its datasets declare 1.6 GB or more in a file of .* kB"):
        read_keypoints_h5(path)
    assert _peak_bytes(lambda: read_2d(path)) < 2**20
    _lying_keypoints_h5(path, "frames", (30,), "i8")  # stored, but disagreeing with the keypoints
    with pytest.raises(FileFormatError, match=r"keypoints has shape \(8, 17, 2\), expected \(30, 17, 2\)"):
        read_keypoints_h5(path)
    _lying_keypoints_h5(path, "confidence", (4_000_000_000, 17))  # beyond what numpy could allocate
    with pytest.raises(FileFormatError, match=r"refused: its datasets declare .* GB or more"):
        read_keypoints_h5(path)


def test_a_frame_count_claim_does_not_size_arrays(tmp_path):
    """``num_frames`` = 3e7 in a file with 8 tracked frames: what is drawn is sized by the tracks."""
    import h5py

    path = tmp_path / "kp.h5"
    write_keypoints_h5(path, _tracks())
    with h5py.File(path, "r+") as f:
        f.attrs["num_frames"] = 30_000_000
    data = read_keypoints_h5(path)
    assert data.num_frames == 30_000_000 and data.tracked_frames == 8
    kp, conf = data.frame_table(stop=data.tracked_frames)
    assert kp.shape == (8, 1, 17, 2) and np.isfinite(kp).all() and conf.shape == (8, 1, 17)
    with h5py.File(path, "r+") as f:
        f.attrs["num_frames"] = 5  # fewer than the tracks hold: contradicts the file's content
    with pytest.raises(FileFormatError, match="num_frames 5 is smaller than the last track frame"):
        read_keypoints_h5(path)


def _small_h36m() -> H36MData:
    cam = Camera(f=(1100.0, 1100.0), c=(500.0, 500.0), width=1000, height=1002, T=np.array([0.0, -4.0, 1.5]),
                 name="54138969")
    poses = np.random.default_rng(0).normal(0, 0.3, (30, 17, 3)).astype(np.float32)
    return H36MData(cameras={("S1", "54138969"): cam}, poses3d={("S1", "Walking"): poses}, keypoints_name="")


def test_corrupt_or_truncated_h36m_cache(tmp_path):
    path = tmp_path / "cache.h5"
    save_cache(_small_h36m(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(FileFormatError, match=rf"{path}: corrupt Human3.6M cache .*rebuild"):
        load_cache(path)
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(500))
    with pytest.raises(FileFormatError, match=str(path)):
        load_cache(path)


def test_corrupt_or_truncated_npz(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, keypoints=_kp(5, 17))
    raw = good.read_bytes()
    path = tmp_path / "trunc.npz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match=rf"{path}: corrupt, truncated or not an .npz file"):
        read_coco_npz(path)
    with pytest.raises(FileFormatError, match=rf"{path}: corrupt, truncated or not an .npz file"):
        read_npz(path, tmp_path / "cameras.h5")  # both npz readers go through poselift.core.io.load_npz
    path.write_bytes(b"PK\x03\x04" + os.urandom(64))
    with pytest.raises(FileFormatError, match=str(path)):
        read_2d(path)


def test_npz_with_python_objects_needs_an_explicit_opt_in(tmp_path):
    path = tmp_path / "data_2d_custom.npz"
    np.savez(path, positions_2d={"v.mp4": {"custom": [_kp(5)]}}, metadata={"video_metadata": {}})
    p3 = tmp_path / "data_3d_h36m.npz"
    np.savez(p3, positions_3d={"S1": {"Walking": np.zeros((5, 32, 3))}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing unpickled, so no warning either
        with pytest.raises(FileFormatError, match=r"'positions_2d' stores Python objects \(pickle\).*"
                                                  r"allow_pickle=True"):
            read_coco_npz(path)
        with pytest.raises(FileFormatError, match=r"'positions_3d' stores Python objects \(pickle\).*"
                                                  r"allow_pickle=True"):
            read_npz(p3, tmp_path / "cameras.h5")
    with pytest.warns(UnsafePickleWarning):
        assert len(read_coco_npz(path, allow_pickle=True, image_size=(100, 100)).tracks) == 1


def test_corrupt_or_truncated_json(tmp_path):
    path = tmp_path / "mm.json"
    path.write_text('{"instance_info": [{"frame_id": 0, "instances": [{"keypoints": [[1, 2], ')
    with pytest.raises(FileFormatError, match=rf"{path}: corrupt JSON at line 1 column \d+"):
        read_mmpose_json(path)
    with pytest.raises(FileFormatError, match="corrupt JSON"):
        read_2d(path)
    path.write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(FileFormatError, match=rf"{path}: corrupt JSON: not UTF-8"):
        read_json(path)
    ds = tmp_path / "pose.json"
    ds.write_text('{"batches": [{"frame_num": 0, "objects": [{"object_id": 1, "pose25d": [1, 2')
    with pytest.raises(FileFormatError, match=rf"{ds}: corrupt JSON"):
        read_deepstream_json(ds)
    ds.write_text('{"batches": [{"frame_num": 0, "objects": [{"pose25d": ["x"]}]}]}')
    with pytest.raises(FileFormatError, match=r"frame 0 object 0 pose25d: expected 34 x 4 = 136 numbers"):
        read_deepstream_json(ds)


# --------------------------------------------------------------------------- ONNX
def _onnx_model(in_shape, name="x") -> bytes:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info(name, TensorProto.FLOAT, in_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, in_shape)
    g = helper.make_graph([helper.make_node("Relu", [name], ["y"])], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def test_onnx_model_with_another_signature(tmp_path):
    pytest.importorskip("onnxruntime")
    from poselift.detectors.bodyposenet import BodyPoseNet
    from poselift.detectors.runtime import OnnxModel, TensorSpec

    with pytest.raises(SignatureError, match=r"input 'x': expected shape \[N, 4\], the model has \[N, 3\]"):
        OnnxModel(_onnx_model(["N", 3]), providers="cpu", inputs=[TensorSpec("x", ("N", 4))])
    with pytest.raises(SignatureError, match=r"missing input\(s\) \['image'\]"):
        OnnxModel(_onnx_model(["N", 3]), providers="cpu", inputs=[TensorSpec("image", ("N", 3))])
    with pytest.raises(SignatureError, match=r"BodyPoseNet expects a 4D image batch"):
        BodyPoseNet(_onnx_model([1, 288, 384]), providers="cpu")
    path = tmp_path / "model.onnx"
    path.write_bytes(_onnx_model(["N", 3])[:20])
    with pytest.raises(FileFormatError, match=rf"{path}: ONNX Runtime cannot load this model"):
        OnnxModel(path, providers="cpu")


def test_onnx_model_declaring_a_huge_input_is_refused_before_any_frame_is_resized(tmp_path):
    pytest.importorskip("onnxruntime")
    from poselift.detectors.bodyposenet import BodyPoseNet, BodyPoseNetSettings
    from poselift.detectors.runtime import MAX_INPUT_VALUES, OnnxModel
    from poselift.detectors.standins import bodyposenet_standin

    model = bodyposenet_standin(np.zeros((36, 48, 19), np.float32), np.zeros((36, 48, 38), np.float32),
                                input_size=(33000, 33000))
    assert len(model) < 500_000
    with pytest.raises(SignatureError, match=r"input 'input_1:0' declares \[33000, 33000, 3\] = 3,267,000,000 "
                                             r"values per item \(13.1 GB as float32\), more than the 134,217,728"):
        BodyPoseNet(model, providers="cpu")
    with pytest.raises(SignatureError, match="declares"):
        OnnxModel(_onnx_model(["N", 20000, 20000]), providers="cpu")
    assert MAX_INPUT_VALUES > 1920 * 1080 * 3  # a full-HD frame is fine
    # a model with a dynamic size: the size poselift would resize frames to is checked the same way
    dynamic = bodyposenet_standin(np.zeros((36, 48, 19), np.float32), np.zeros((36, 48, 38), np.float32),
                                  input_size=("W", "H"))
    assert BodyPoseNet(dynamic, providers="cpu").net_size == (384, 288)
    with pytest.raises(SignatureError, match=r"declares \[40000, 40000, 3\]"):
        BodyPoseNet(dynamic, BodyPoseNetSettings(input_size=(40000, 40000)), providers="cpu")


# --------------------------------------------------------------------------- checkpoints
class _RunsCode:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_checkpoint(path, marker):
    model = TemporalLifter(17, 17, (3,), channels=8)
    state = {"model": model.state_dict(), "model_config": model.config(), "layout_in": "h36m17",
             "layout_out": "h36m17", "extra": {"payload": _RunsCode(marker)}}
    save_checkpoint(state, path)


def test_checkpoint_that_would_run_code_is_refused_by_load_lifter(tmp_path):
    marker = tmp_path / "marker"
    _evil_checkpoint(tmp_path / "checkpoint.pt", marker)
    with pytest.raises(FileFormatError, match=r"checkpoint.pt: refused: the checkpoint holds Python objects.*"
                                              r"weights_only=True"):
        load_lifter(tmp_path, device="cpu")
    with pytest.raises(FileFormatError, match="refused"):
        load_checkpoint(tmp_path / "checkpoint.pt")
    assert not marker.exists()


def test_checkpoint_that_would_run_code_is_refused_by_trainer_resume(tmp_path):
    from poselift.training.trainer import Trainer, TrainSettings

    marker = tmp_path / "marker"
    _evil_checkpoint(tmp_path / "checkpoint.pt", marker)
    model = TemporalLifter(17, 17, (3,), channels=8)
    rng = np.random.default_rng(0)
    bank = WindowBank([rng.normal(size=(20, 17, 2)).astype(np.float32)], 3,
                      targets=[rng.normal(size=(20, 17, 3)).astype(np.float32)])
    tr = Trainer(model, bank, TrainSettings(epochs=1, batch_size=4, progress=False), "h36m17", "h36m17",
                 run_dir=tmp_path, device="cpu")
    with pytest.raises((RuntimeError, PoseliftError)) as e:
        tr.try_resume()
    assert "checkpoint.pt" in str(e.value) and ("unreadable" in str(e.value) or "refused" in str(e.value))
    assert not marker.exists()


def test_corrupt_or_truncated_checkpoint(tmp_path):
    model = TemporalLifter(17, 17, (3,), channels=8)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"model": model.state_dict(), "model_config": model.config(), "layout_in": "h36m17",
                       "layout_out": "h36m17"}, path)
    assert load_lifter(tmp_path, device="cpu").receptive_field == 3
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match=rf"{path}: corrupt or truncated checkpoint"):
        load_lifter(tmp_path, device="cpu")
    save_checkpoint({"model": {}, "model_config": {"in_joints": 17, "wings": 2}, "layout_in": "h36m17",
                       "layout_out": "h36m17"}, path)
    with pytest.raises(FileFormatError, match="model config .* does not fit"):
        load_lifter(tmp_path, device="cpu")


# --------------------------------------------------------------------------- the command line
def test_command_line_reports_bad_input_in_one_line(tmp_path, capsys):
    from poselift.commands import main as cli_main

    cfg = tmp_path / "exp.yaml"
    cfg.write_text("model:\n  widht: 3\n")
    assert cli_main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("poselift train: error:") and "unknown key(s) ['widht']" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_checkpoint_with_nan_weights_is_named_at_load(tmp_path):
    model = TemporalLifter(17, 17, (3, 3), channels=8)
    state = {"model": model.state_dict(), "model_config": model.config(), "layout_in": "h36m17",
             "layout_out": "h36m17"}
    state["model"]["expand_conv.weight"].view(-1)[:3] = float("nan")
    save_checkpoint(state, tmp_path / "checkpoint.pt")
    with pytest.raises(FileFormatError, match=r"model weight 'expand_conv.weight' holds 3 NaN or infinite value\(s\) "
                                              r"of 816: the training diverged or the file is damaged"):
        load_lifter(tmp_path, device="cpu")


def test_a_checkpoint_without_the_training_state_cannot_resume(tmp_path):
    from poselift.training.trainer import Trainer, TrainSettings

    model = TemporalLifter(17, 17, (3,), channels=8)
    rng = np.random.default_rng(0)
    bank = WindowBank([rng.normal(size=(20, 17, 2)).astype(np.float32)], 3,
                      targets=[rng.normal(size=(20, 17, 3)).astype(np.float32)])
    tr = Trainer(model, bank, TrainSettings(epochs=2, batch_size=4, progress=False), "h36m17", "h36m17",
                 run_dir=tmp_path, device="cpu")
    tr.fit()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del state["rng"]
    save_checkpoint(state, tmp_path / "checkpoint.pt")
    with pytest.raises(FileFormatError, match=r"cannot resume: the checkpoint has no rng \(it holds a model, not a "
                                              r"training state\); start again with --restart"):
        tr.try_resume()


# --------------------------------------------------------------------------- numbers beyond float32, absurd ones
def test_values_beyond_float32_are_named_not_turned_into_nan():
    from poselift.inference import lift_sequence
    from poselift.model.streaming import StreamingLifter

    model = TemporalLifter(17, 17, (3, 3), channels=8, causal=True).eval()
    stream = StreamingLifter(model)
    x = np.zeros((17, 2))
    x[3, 0] = 1e39
    with pytest.raises(InputError, match=r"keypoints: value 1e\+39 at frame 3, joint 0 is beyond the float32 range"):
        stream.push(x)
    out = stream.push(np.zeros((17, 2)))  # the refused frame left the stream untouched: the next one is fine
    assert np.isfinite(out).all()
    seq = np.zeros((30, 17, 2))
    seq[7, 2, 1] = -1e39
    with pytest.raises(InputError, match=r"keypoints: value -1e\+39 at frame 7, joint 2 is beyond the float32 range"):
        lift_sequence(model, seq)
    with pytest.raises(InputError, match=r"keypoints: value 1e\+39 at frame 0, joint 0 \(pelvis\) is beyond the "
                                         r"float32 range \(\+-3.4e\+38; 170 such value\(s\)\)"):
        PoseSequence(keypoints=np.full((5, 17, 2), 1e39), layout="h36m17", image_size=(1000, 1000))


def test_keypoints_far_outside_the_image_are_refused_not_lifted():
    from poselift.inference import Lifter

    model = TemporalLifter(17, 17, (3,), channels=8).eval()
    lifter = Lifter(model, H36M17, H36M17, flip_test=False)
    seq = PoseSequence(keypoints=np.full((10, 17, 2), 3e38, np.float32), layout="h36m17", image_size=(1920, 1080))
    with pytest.raises(InputError, match=r"keypoints \(screen-normalised\): value 3.12e\+35 at frame 0, joint 0 "
                                         r"exceeds \+-10000 \(340 such value\(s\)\); on screen they lie in about -1..1"):
        lifter.lift(seq)
    ok = PoseSequence(keypoints=np.full((10, 17, 2), 5000.0, np.float32), layout="h36m17", image_size=(1920, 1080))
    assert np.isfinite(lifter.lift(ok)).all()  # off-screen but plausible: lifted


def test_non_finite_outputs_are_never_returned():
    from poselift.inference import lift_sequence, lift_sequences

    model = TemporalLifter(17, 17, (3,), channels=8).eval()
    with torch.no_grad():
        model.shrink.bias.fill_(float("inf"))  # broken weights that slipped past loading
    x = np.zeros((10, 17, 2), np.float32)
    with pytest.raises(InputError, match="lifted poses contain .*inf at frame 0.*the input was finite"):
        lift_sequence(model, x)
    with pytest.raises(InputError, match="lifted poses of sequence 0 contain"):
        lift_sequences(model, [x, x])
