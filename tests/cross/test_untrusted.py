"""Untrusted configs and files, round 2 (issue 22): nothing runs, nothing balloons, whatever the input.

Every case is small: the bounds are tested with crafted files of kilobytes (a declared size, an
alias, a stride-0 tensor cost nothing until used) or with the limits lowered, never by allocating
gigabytes. ``experiments/scripts/hostile_input.py --quick`` replays the full-size cases with their
peak memory.
"""
from __future__ import annotations

import errno
import io
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch

import poselift.core.io as pio
from poselift.checkpoint import check_tensors, load_checkpoint, save_checkpoint
from poselift.core.errors import ConfigError, FileFormatError
from poselift.core.io import atomic_write_text, json_text, load_npz, read_json, read_yaml
from poselift.core.layouts import H36M17
from poselift.core.trust import allow_code
from poselift.detectors.formats import KeypointTracks, read_2d, read_keypoints_h5, write_keypoints_h5
from poselift.detectors.tracking import fill_track
from poselift.experiments.config import apply_overrides, config_from_dict, load_config
from poselift.model.tcn import TemporalLifter

TINY = {"name": "tiny", "device": "cpu", "data": {"dataset": "synthetic", "path": None},
        "model": {"widths": [3], "channels": 8}}


# --------------------------------------------------------------------------- 1: code runs only when allowed
def _loader_cfg(loader: str, args: dict, source=None):
    cfg = config_from_dict({**TINY, "data": {"dataset": "loader", "loader": loader, "loader_args": args,
                                             "path": None}})
    cfg.source = source
    return cfg


def test_a_config_naming_os_system_runs_nothing_unless_allowed(tmp_path, monkeypatch):
    from poselift.experiments.data import load_splits

    monkeypatch.delenv("POSELIFT_ALLOW_CODE", raising=False)
    marker = tmp_path / "M"
    cfg = _loader_cfg("os:system", {"command": f"touch {marker}"})
    with pytest.raises(ConfigError, match=r"data.loader 'os:system': module 'os', function 'system'.*would run "
                                          r"code; refused.*--allow-code.*POSELIFT_ALLOW_CODE=1"):
        load_splits(cfg, progress=False)
    assert not marker.exists()
    with allow_code(), pytest.raises(Exception):  # allowed: it runs (and returns an int, not splits)
        load_splits(cfg, progress=False)
    assert marker.exists()


def test_a_loader_file_is_not_even_imported_unless_allowed(tmp_path, monkeypatch):
    from poselift.experiments.data import load_splits

    monkeypatch.delenv("POSELIFT_ALLOW_CODE", raising=False)
    (tmp_path / "evil.py").write_text("from pathlib import Path\nPath(__file__).with_name('M').write_text('ran')\n"
                                      "def f():\n    return 1\n")
    cfg = _loader_cfg("evil.py:f", {}, source=str(tmp_path / "config.yaml"))
    with pytest.raises(ConfigError, match=rf"the file {tmp_path / 'evil.py'}, function 'f'.*named by "
                                          rf"{tmp_path / 'config.yaml'}.*would run code"):
        load_splits(cfg, progress=False)
    assert not (tmp_path / "M").exists()
    monkeypatch.setenv("POSELIFT_ALLOW_CODE", "1")
    with pytest.raises(Exception, match="evil.py:f"):  # imported and called; 1 is not a dataset
        load_splits(cfg, progress=False)
    assert (tmp_path / "M").read_text() == "ran"


def test_allow_code_is_scoped_to_the_block(monkeypatch):
    from poselift.core.trust import code_allowed

    monkeypatch.delenv("POSELIFT_ALLOW_CODE", raising=False)
    assert not code_allowed()
    with allow_code():
        assert code_allowed()
        with allow_code(False):  # an inner "not allowed" does not take back what the command allowed
            assert code_allowed()
    assert not code_allowed()
    monkeypatch.setenv("POSELIFT_ALLOW_CODE", "0")
    assert not code_allowed()


def test_every_command_that_reloads_data_has_allow_code():
    from poselift.commands import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("train", "evaluate", "reproduce", "compare", "figures"):
        opts = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert "--allow-code" in opts, name


# --------------------------------------------------------------------------- 2: bounded YAML
def _bomb(levels=9):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "{" + ", ".join(lines) + "}"


def test_a_yaml_alias_bomb_is_refused_in_a_config_an_override_and_detector_settings(tmp_path):
    from poselift.detectors.bodyposenet.net import load_settings

    path = tmp_path / "bomb.yaml"
    path.write_text(f"name: bomb\ndata:\n  dataset: synthetic\n  loader_args: {_bomb()}\n")
    assert path.stat().st_size < 1000
    with pytest.raises(ConfigError, match=r"bomb.yaml: refused: YAML alias at line 4"):
        load_config(path)
    cfg = config_from_dict(TINY)
    with pytest.raises(ConfigError, match=r"override 'data.loader_args=.*: the value: refused: YAML alias"):
        apply_overrides(cfg, [f"data.loader_args={_bomb()}"])
    (tmp_path / "settings.yaml").write_text(f"preprocess: {_bomb()}\n")
    with pytest.raises(FileFormatError, match="settings.yaml: refused: YAML alias"):
        load_settings(tmp_path / "settings.yaml")
    with pytest.raises(FileFormatError, match="alias"):  # a merge key is an alias too
        read_yaml(text="a: &a {x: 1}\nb:\n  <<: *a\n")


def test_yaml_size_values_and_depth_are_bounded(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2000 + "\n")
    with pytest.raises(FileFormatError, match=r"big.yaml: refused: 2.0 kB of YAML, more than the 1.0 kB"):
        read_yaml(big, max_bytes=1000)
    with pytest.raises(FileFormatError, match=r"refused: more than 10 YAML values"):
        read_yaml(text="[" + ", ".join(["1"] * 20) + "]", max_nodes=10)
    with pytest.raises(FileFormatError, match=r"nested more than 64 levels"):
        read_yaml(text="[" * 70 + "]" * 70)
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml(text="a: [", error=ConfigError)
    assert read_yaml(text="a: {b: [1, 2.5, x]}") == {"a": {"b": [1, 2.5, "x"]}}


# --------------------------------------------------------------------------- 3: expanded tensors
def test_expanded_tensors_are_refused_before_anything_is_materialised(tmp_path):
    path = tmp_path / "checkpoint.pt"
    model = TemporalLifter(17, 17, (3,), channels=8)
    state = {"model": model.state_dict(), "model_config": {**model.config(), "channels": 6000},
             "layout_in": "h36m17", "layout_out": "h36m17"}
    state["model"] = {k: torch.zeros(1).expand(6000, 6000, 3) if k == "expand_conv.weight" else v
                      for k, v in state["model"].items()}
    save_checkpoint(state, path)
    assert path.stat().st_size < 20_000
    with pytest.raises(FileFormatError, match=r"refused: tensor model.expand_conv.weight of shape \(6000, 6000, 3\) "
                                              r"\(strides \(0, 0, 0\)\) addresses 108,000,000 elements but its "
                                              r"storage holds 1"):
        load_checkpoint(path)
    from poselift.inference import load_lifter

    with pytest.raises(FileFormatError, match="addresses 108,000,000 elements"):
        load_lifter(tmp_path, device="cpu")


def test_an_expanded_videopose3d_file_is_refused_by_import(tmp_path):
    from poselift.experiments.vp3d_import import import_vp3d

    sd = {"expand_conv.weight": torch.zeros(1).expand(6000, 34, 3)}
    torch.save({"model_pos": sd}, tmp_path / "x.bin")
    with pytest.raises(FileFormatError, match=r"model_pos.expand_conv.weight .* storage holds 1"):
        import_vp3d(tmp_path / "x.bin", tmp_path / "run", "h36m17")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_an_expanded_checkpoint_cannot_resume(tmp_path):
    from poselift.training.trainer import Trainer, TrainSettings
    from poselift.training.window_bank import WindowBank

    model = TemporalLifter(17, 17, (3,), channels=8)
    state = {"model": {k: torch.zeros(1).expand(*v.shape) if v.ndim else v for k, v in model.state_dict().items()},
             "model_config": model.config(), "layout_in": "h36m17", "layout_out": "h36m17"}
    save_checkpoint(state, tmp_path / "checkpoint.pt")
    rng = np.random.default_rng(0)
    bank = WindowBank([rng.normal(size=(20, 17, 2)).astype(np.float32)], 3,
                      targets=[rng.normal(size=(20, 17, 3)).astype(np.float32)])
    tr = Trainer(model, bank, TrainSettings(epochs=1, batch_size=4, progress=False), "h36m17", "h36m17",
                 run_dir=tmp_path, device="cpu")
    with pytest.raises(Exception, match=r"checkpoint.pt.*(refused|addresses)"):
        tr.try_resume()


def test_tensors_together_are_budgeted_by_the_file_size(tmp_path, monkeypatch):
    import poselift.checkpoint as ck

    path = tmp_path / "c.pt"
    torch.save({"a": torch.zeros(1000), "b": torch.zeros(1000)}, path)
    check_tensors(torch.load(path, weights_only=True), path)  # within budget
    monkeypatch.setattr(ck, "FREE_BYTES", 0)
    monkeypatch.setattr(ck, "MAX_EXPANSION", 1)
    big = {"a": torch.zeros(10_000)}  # 40 kB addressed, more than the (small) file holds
    with pytest.raises(FileFormatError, match=r"refused: its tensors address .* in a file of"):
        check_tensors(big, path)


def test_out_of_memory_while_loading_is_said_as_such(tmp_path, monkeypatch):
    from poselift.commands import error_message

    path = tmp_path / "c.pt"
    torch.save({"a": torch.zeros(3)}, path)

    def oom(*a, **k):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                           "to allocate 4000000000 bytes")

    monkeypatch.setattr(torch, "load", oom)
    with pytest.raises(MemoryError) as e:
        load_checkpoint(path)
    assert "corrupt" not in str(e.value)
    assert error_message(e.value).startswith(f"out of memory ({path}: out of memory while loading the checkpoint")


def test_a_raw_pickle_is_refused_in_one_line_without_torch_warnings(tmp_path):
    path = tmp_path / "raw.pkl"
    path.write_bytes(pickle.dumps({"model_pos": {"w": [0.0] * 10}}, protocol=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(FileFormatError, match=r"raw.pkl: corrupt or truncated checkpoint, or not a checkpoint at "
                                                  r"all \(a plain pickle"):
            load_checkpoint(path)
    assert not caught


# --------------------------------------------------------------------------- 4: HDF5 pointing outside itself
def _kp_file(path, frames=20):
    kp = np.random.default_rng(0).uniform(100, 900, (frames, 17, 2)).astype(np.float32)
    track = fill_track(range(frames), kp, np.full((frames, 17), 0.9, np.float32), track_id=1)
    write_keypoints_h5(path, KeypointTracks([track], "h36m17", (1000, 1000), 50.0, frames, "t", "t"))


@pytest.mark.parametrize("how", ["external_storage", "external_link", "soft_link", "virtual"])
def test_hdf5_pointing_outside_itself_is_refused_before_reading(tmp_path, how):
    import h5py

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 100)
    _kp_file(tmp_path / "other.h5")
    path = tmp_path / "kp.h5"
    _kp_file(path)
    with h5py.File(path, "r+") as f:
        tg = f["tracks/track_00001"]
        del tg["keypoints"]
        if how == "external_storage":
            tg.create_dataset("keypoints", shape=(20, 17, 2), dtype="f4", external=[(str(secret), 0, 20 * 17 * 8)])
        elif how == "external_link":
            tg["keypoints"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/tracks/track_00001/keypoints")
        elif how == "soft_link":
            tg["keypoints"] = h5py.SoftLink("/tracks/track_00001/confidence")
        else:
            layout = h5py.VirtualLayout(shape=(20, 17, 2), dtype="f4")
            layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "/tracks/track_00001/keypoints",
                                           shape=(20, 17, 2))
            tg.create_virtual_dataset("keypoints", layout)
    words = {"external_storage": f"keeps its data outside the file \\({secret}\\)", "external_link": "external link",
             "soft_link": "soft link", "virtual": "virtual dataset"}[how]
    with pytest.raises(FileFormatError, match=rf"kp.h5: refused: .*/tracks/track_00001/keypoints.*{words}"):
        read_2d(path)


def test_hdf5_whole_file_budget(tmp_path, monkeypatch):
    import h5py

    path = tmp_path / "kp.h5"
    _kp_file(path)
    with h5py.File(path, "r+") as f:
        for i in range(2, 12):  # ten tracks declaring data never written (each alone within any per-dataset rule)
            tg = f["tracks"].create_group(f"track_{i:05d}")
            tg.create_dataset("keypoints", shape=(5000, 17, 2), dtype="f4", chunks=(100, 17, 2), compression="gzip")
    with h5py.File(path, "r") as f:
        pio.check_h5(f, path)  # within the default budget (64 MiB are free)
    monkeypatch.setattr(pio, "FREE_BYTES", 0)  # lowered to fit the test: 10 x 680 kB declared, never written
    with pytest.raises(FileFormatError, match=r"kp.h5: refused: its datasets declare .* or more in a file of .* "
                                              r"\(more than 200 times"):
        read_2d(path)


def test_lifted_poses_and_caches_are_checked_too(tmp_path):
    import h5py

    from poselift.datasets.h36m.cache import load_cache, save_cache
    from poselift.datasets.h36m.data import H36MData
    from poselift.core.camera import Camera
    from poselift.detectors.formats import read_poses3d_h5, write_poses3d_h5

    cam = Camera(f=(1100.0, 1100.0), c=(500.0, 500.0), width=1000, height=1002, T=np.array([0.0, -4.0, 1.5]),
                 name="54138969")
    data = H36MData(cameras={("S1", "54138969"): cam},
                    poses3d={("S1", "Walking"): np.zeros((30, 17, 3), np.float32)}, keypoints_name="")
    save_cache(data, tmp_path / "cache.h5")
    _kp_file(tmp_path / "kp.h5")
    seqs = read_2d(tmp_path / "kp.h5").to_sequences()
    write_poses3d_h5(tmp_path / "poses.h5", seqs, [np.zeros((20, 17, 3), np.float32)])
    for name in ("cache.h5", "poses.h5"):
        with h5py.File(tmp_path / name, "r+") as f:
            f["sneaky"] = h5py.ExternalLink(str(tmp_path / "kp.h5"), "/tracks")
    with pytest.raises(FileFormatError, match="cache.h5: refused: /sneaky is an external link"):
        load_cache(tmp_path / "cache.h5")
    with pytest.raises(FileFormatError, match="poses.h5: refused: /sneaky is an external link"):
        read_poses3d_h5(tmp_path / "poses.h5")


# --------------------------------------------------------------------------- 5: smaller ones
def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    from pathlib import Path

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError) as e:
        atomic_write_text(tmp_path / "metrics.json", "{}")
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "metrics.json")
    assert not list(tmp_path.iterdir())  # no temporary left


def test_a_train_that_cannot_take_its_lock_leaves_no_folder(tmp_path, monkeypatch):
    import poselift.core.locks as locks
    from poselift.experiments.run_folder import writing_run_folder

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(locks.os, "pwrite", full)
    run = tmp_path / "runs" / "new"
    with pytest.raises(OSError) as e:
        with writing_run_folder(run, "poselift train", remove_if_failed=True):
            pass
    assert e.value.filename == str((run / ".poselift.lock").resolve())
    assert not run.exists() and not (tmp_path / "runs").exists()


def test_lifting_writes_chunk_by_chunk_in_memory_bounded_by_the_chunk(tmp_path):
    import tracemalloc

    from poselift.detectors.formats import read_poses3d_h5, write_poses3d_h5
    from poselift.inference import Lifter

    frames = 8_000
    _kp_file(tmp_path / "kp.h5", frames)
    (seq,) = read_2d(tmp_path / "kp.h5").to_sequences()
    torch.manual_seed(0)
    lifter = Lifter(TemporalLifter(17, 17, (3, 3), channels=8).eval(), H36M17, H36M17)
    tracemalloc.start()
    write_poses3d_h5(tmp_path / "chunked.h5", [seq], [lifter.lift_chunks(seq, chunk=250)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    whole = frames * 17 * 3 * 4  # 1.6 MB: the output held whole
    assert peak < whole / 4, (peak, whole)
    got = read_poses3d_h5(tmp_path / "chunked.h5").poses[1]
    np.testing.assert_array_equal(got, lifter.lift(seq))  # chunk seams give exactly the frames one pass does


# --------------------------------------------------------------------------- 6: not tried before
def test_onnx_external_data_outside_the_folder_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from poselift.detectors.runtime import OnnxModel

    def model(path, location):
        w = numpy_helper.from_array(np.zeros(4, np.float32), "W")
        g = helper.make_graph([helper.make_node("Add", ["x", "W"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", "16")):
            e = t.external_data.add()
            e.key, e.value = k, v
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(m, path)

    (tmp_path / "secret.bin").write_bytes(bytes(16))
    for location in ("../secret.bin", str(tmp_path / "secret.bin")):
        model(tmp_path / "m" / "evil.onnx", location)
        with pytest.raises(FileFormatError, match=rf"evil.onnx: refused: tensor 'W' takes its data from "
                                                  rf"'{location}', outside the model's folder"):
            OnnxModel(tmp_path / "m" / "evil.onnx", providers="cpu")
    (tmp_path / "m" / "w.bin").write_bytes(bytes(16))
    model(tmp_path / "m" / "ok.onnx", "w.bin")
    assert OnnxModel(tmp_path / "m" / "ok.onnx", providers="cpu").inputs[0].name == "x"


def test_json_parse_memory_and_nesting_are_bounded(tmp_path):
    path = tmp_path / "people.json"
    path.write_text('{"instance_info": [{"frame_id": 0, "instances": [' + ",".join(["{}"] * 5000) + "]}]}")
    with pytest.raises(FileFormatError, match=r"people.json: refused: its 5,002 objects and 2 lists would take "
                                              r"about 1.3 MB once parsed .* more than the 100.0 kB"):
        json_text(path, max_memory=100_000)
    with pytest.raises(FileFormatError, match=r"frame 0: refused: 5,000 people in one frame, more than the 1,000"):
        read_2d(path, image_size=(100, 100))
    (tmp_path / "deep.json").write_text('{"batches": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(FileFormatError, match="deep.json: .*(nested too deeply|RecursionError)"):
        read_2d(tmp_path / "deep.json", image_size=(100, 100))
    with pytest.raises(FileFormatError, match="deep.json: refused: JSON nested too deeply"):
        read_json(tmp_path / "deep.json")


def test_an_npz_with_duplicate_member_names_is_refused(tmp_path):
    def npy(a):
        b = io.BytesIO()
        np.save(b, a)
        return b.getvalue()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name while writing it
        with zipfile.ZipFile(tmp_path / "dup.npz", "w") as z:
            z.writestr("keypoints.npy", npy(np.zeros((5, 17, 2))))
            z.writestr("keypoints.npy", npy(np.ones((5, 17, 2))))
    with pytest.raises(FileFormatError, match=r"dup.npz: refused: the archive holds several members named "
                                              r"'keypoints'"):
        load_npz(tmp_path / "dup.npz")
