"""The ONNX Runtime wrapper: providers, signature checks, batches, bad files."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from poselift.detectors import runtime  # noqa: E402
from poselift.detectors.runtime import OnnxModel, TensorSpec, check_signature, resolve_providers  # noqa: E402


def _scale_model(batch=None) -> bytes:
    """y = 2 x, x and y of shape [batch, 3]."""
    b = batch if batch is not None else "N"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [b, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, 3])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    g = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["y"])], "g", [x], [y], initializer=[two])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def test_cpu_provider_is_reported():
    m = OnnxModel(_scale_model(), providers="cpu")
    assert m.provider == "CPUExecutionProvider"
    assert m.inputs == [TensorSpec("x", ("N", 3), "float32")]


def test_auto_uses_cuda_only_when_it_really_works(monkeypatch):
    monkeypatch.setattr(runtime, "_CUDA_OK", None)
    works = runtime.cuda_works()
    provs = resolve_providers("auto")
    assert provs[-1] == "CPUExecutionProvider"
    assert ("CUDAExecutionProvider" in provs) == works
    m = OnnxModel(_scale_model(), providers="auto")
    # the provider reported is the one the session really got
    assert m.provider == ("CUDAExecutionProvider" if works else "CPUExecutionProvider")


def test_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="not available"):
        resolve_providers("MadeUpExecutionProvider")


def test_batches_are_split_for_a_fixed_batch_model():
    m = OnnxModel(_scale_model(batch=2), providers="cpu")
    assert m.max_batch == 2
    x = np.arange(15, dtype=np.float32).reshape(5, 3)
    out = m.run({"x": x})["y"]
    np.testing.assert_allclose(out, 2 * x)  # 5 items through a batch-2 model: chunks 2, 2, 1 (padded)


def test_batch_size_chunks_a_dynamic_model():
    m = OnnxModel(_scale_model(), providers="cpu")
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    np.testing.assert_allclose(m.run({"x": x}, batch_size=3)["y"], 2 * x, rtol=1e-6)


def test_signature_mismatch_names_the_tensor_and_shapes():
    with pytest.raises(ValueError) as e:
        OnnxModel(_scale_model(), providers="cpu", inputs=[TensorSpec("x", ("N", 4))])
    assert "input 'x': expected shape [N, 4], the model has [N, 3]" in str(e.value)
    with pytest.raises(ValueError, match=r"missing output\(s\) \['z'\]"):
        OnnxModel(_scale_model(), providers="cpu", outputs=[TensorSpec("z", ("N", 3))])
    with pytest.raises(ValueError, match="expected type int64"):
        OnnxModel(_scale_model(), providers="cpu", inputs=[TensorSpec("x", ("N", 3), "int64")])


def test_dynamic_dimensions_match_anything():
    check_signature("m", "input", [TensorSpec("a", ("batch", 3))], [TensorSpec("a", (None, 3))])
    check_signature("m", "input", [TensorSpec("a", (1, 3))], [TensorSpec("a", ("N", 3))])
    with pytest.raises(ValueError, match="rank|shape"):
        check_signature("m", "input", [TensorSpec("a", ("N", 3, 1))], [TensorSpec("a", ("N", 3))])


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        OnnxModel(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(ValueError, match="cannot load"):
        OnnxModel(bad, providers="cpu")


def test_inconsistent_batch_is_refused():
    m = OnnxModel(_scale_model(), providers="cpu")
    with pytest.raises(ValueError, match="empty batch"):
        m.run({"x": np.zeros((0, 3), np.float32)})
