"""ONNX export: ONNX Runtime reproduces the torch model, whole-sequence and streaming step."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from helpers import randomised

from poselift.checkpoint import CHECKPOINT
from poselift.commands import main
from poselift.experiments.run_folder import export_run
from poselift.inference import lift_sequence
from poselift.model.folded import fold_batchnorm
from poselift.model.onnx import META_FILE, SEQUENCE_FILE, STEP_FILE, export_onnx
from poselift.model.onnx_runtime import OnnxSequenceModel, OnnxStepModel
from poselift.model.tcn import TemporalLifter

TOL = 1e-4


def _model(widths=(3, 3, 3), causal=True, joints=5, in_features=2, channels=32) -> TemporalLifter:
    torch.manual_seed(0)
    return randomised(TemporalLifter(joints, 4 if joints == 5 else joints, widths, channels=channels,
                                      causal=causal, in_features=in_features))


def _sess(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("causal", [True, False])
def test_sequence_model_matches_torch_for_two_shapes(tmp_path, causal):
    m = _model((3, 3, 3), causal=causal, in_features=3)
    meta = export_onnx(m, tmp_path)
    assert meta["receptive_field"] == 27 and meta["causal"] is causal
    model = onnx.load(str(tmp_path / SEQUENCE_FILE))
    onnx.checker.check_model(model)
    assert {n.op_type for n in model.graph.node} >= {"Conv", "Relu", "Add", "Slice"}
    assert "BatchNormalization" not in {n.op_type for n in model.graph.node}  # folded
    sess = _sess(tmp_path / SEQUENCE_FILE)
    assert [i.name for i in sess.get_inputs()] == ["keypoints"]
    assert [o.name for o in sess.get_outputs()] == ["poses_3d"]
    rng = np.random.default_rng(0)
    for b, t in [(1, 27), (3, 64)]:
        x = rng.normal(size=(b, t, 5, 3)).astype(np.float32)
        y = sess.run(["poses_3d"], {"keypoints": x})[0]
        with torch.no_grad():
            ref = m(torch.from_numpy(x)).numpy()  # the unfolded model, eval mode
        assert y.shape == (b, t - 26, 4, 3)
        assert np.abs(y - ref).max() < TOL
    # the helper pads like lift_sequence
    x = rng.normal(size=(20, 5, 3)).astype(np.float32)
    assert np.abs(OnnxSequenceModel(tmp_path).lift(x) - lift_sequence(m, x)).max() < TOL


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 1, 5), (1, 3)])
def test_step_model_frame_by_frame_equals_offline_causal(tmp_path, widths):
    m = _model(widths)
    meta = export_onnx(m, tmp_path)
    assert meta["latency_frames"] == 0
    step = meta["step"]
    sess = _sess(tmp_path / STEP_FILE)
    names = [i.name for i in sess.get_inputs()]
    assert names == ["keypoints", "reset"] + [c["input"] for c in step["caches"]]
    assert [o.name for o in sess.get_outputs()] == ["pose_3d"] + [c["output"] for c in step["caches"]]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2, 5, 2)).astype(np.float32)  # 2 streams
    ref = np.stack([lift_sequence(m, x[:, s]) for s in range(2)], 1)
    # run the raw graph as a user would, caches starting as zeros
    caches = {c["input"]: np.zeros((2, c["frames"], c["channels"]), np.float32) for c in step["caches"]}
    outs = []
    for t in range(40):
        res = sess.run(None, {"keypoints": x[t], "reset": np.full(2, t == 0), **caches})
        outs.append(res[0])
        caches = dict(zip(caches, res[1:]))
    assert np.abs(np.stack(outs) - ref).max() < TOL
    # the helper, one stream, reset in the middle
    live = OnnxStepModel(tmp_path)
    for t in range(15):
        live.push(x[t, 0])
    live.reset()
    y = np.stack([live.push(x[t, 1]) for t in range(40)])
    assert y.shape == (40, 4, 3)
    assert np.abs(y - ref[:, 1]).max() < TOL


def test_non_causal_step_is_exported_with_its_delay(tmp_path):
    m = _model((3, 3), causal=False)  # rf 9, delay 4
    meta = export_onnx(m, tmp_path)
    assert meta["latency_frames"] == 4 and "4 steps earlier" in meta["step"]["notes"]
    x = np.random.default_rng(2).normal(size=(25, 5, 2)).astype(np.float32)
    ref = lift_sequence(m, x)
    live = OnnxStepModel(tmp_path / STEP_FILE)
    assert live.latency_frames == 4
    y = np.stack([live.push(f) for f in list(x) + [x[-1]] * 4])  # the end padded with the last frame
    assert np.abs(y[4:] - ref).max() < TOL


def _run_folder(path, causal=True):
    """A run folder as load_lifter reads it (checkpoint.pt only)."""
    m = _model((3, 3), causal=causal, joints=17)
    path.mkdir()
    torch.save({"model": m.state_dict(), "model_config": m.config(), "layout_in": "h36m17",
                "layout_out": "h36m17", "extra": {"flip_test": False}}, path / CHECKPOINT)
    return m


def test_cli_export_writes_the_files(tmp_path, capsys):
    m = _run_folder(tmp_path / "run")
    assert main(["export", str(tmp_path / "run"), "--opset", "17"]) == 0
    out = tmp_path / "run" / "export"
    assert sorted(p.name for p in out.iterdir()) == sorted([SEQUENCE_FILE, STEP_FILE, META_FILE])
    meta = json.loads((out / META_FILE).read_text())
    assert meta["layout_in"] == "h36m17" and len(meta["joints_out"]) == 17 and meta["flip_test"] is False
    assert meta["opset"] == 17 and meta["receptive_field"] == 9 and meta["causal"] is True
    assert meta["sequence"]["inputs"][0] == {"name": "keypoints", "dtype": "float32",
                                             "shape": ["batch", "frames", 17, 2]}
    assert "lifter_step.onnx" in capsys.readouterr().out
    x = np.random.default_rng(3).normal(size=(1, 30, 17, 2)).astype(np.float32)
    y = OnnxSequenceModel(out)(x)
    assert np.abs(y - fold_batchnorm(m)(torch.from_numpy(x)).numpy()).max() < TOL
    # --out and another opset
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "o"), "--opset", "13"]) == 0
    assert onnx.load(str(tmp_path / "o" / STEP_FILE)).opset_import[0].version == 13


def test_export_errors(tmp_path, capsys):
    m = _model((3, 3))
    with pytest.raises(ValueError, match="opset 9 not supported"):
        export_onnx(m, tmp_path / "x", opset=9)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint.pt"):
        export_run(tmp_path / "empty", tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        export_run(tmp_path / "missing", tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing written on errors
    _run_folder(tmp_path / "run")
    with pytest.raises(SystemExit):  # there is one export format: no --format option to get wrong
        main(["export", str(tmp_path / "run"), "--format", "tflite"])
    capsys.readouterr()
    assert main(["export", str(tmp_path / "empty")]) == 1
    assert "no checkpoint.pt" in capsys.readouterr().err
    # the runtime helpers check their input
    export_onnx(m, tmp_path / "ok")
    live = OnnxStepModel(tmp_path / "ok")
    with pytest.raises(ValueError, match="expected"):
        live.push(np.zeros((6, 2), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        live.push(np.full((5, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="too short"):
        OnnxSequenceModel(tmp_path / "ok")(np.zeros((1, 5, 5, 2), np.float32))
