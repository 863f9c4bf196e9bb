"""The network plan: one description of the wiring, and every form of the lifter executing the same network.

The forms are checked against each other on networks other than the standard 27-frame one: another block
count, mixed kernel widths, causal and centred, another channel count.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import randomised

from poselift.core.errors import InputError
from poselift.inference import lift_sequence
from poselift.model.folded import fold_batchnorm, folded
from poselift.model.plan import network_plan
from poselift.model.streaming import StreamingLifter, WindowRecompute
from poselift.model.tcn import TemporalLifter

NETWORKS = [((3, 3), False, 20), ((3, 3), True, 20), ((3, 5, 3), False, 48), ((3, 5, 3), True, 48)]


def test_plan_names_dilations_and_residuals():
    plan = network_plan(5, 4, (3, 5, 3), channels=48, causal=False, in_features=3)
    assert [c.name for c in plan.layers] == ["expand", "block0.conv", "block0.conv1x1", "block1.conv",
                                             "block1.conv1x1", "shrink"]
    assert [(c.c_in, c.c_out, c.width, c.dilation) for c in plan.layers] == [
        (15, 48, 3, 1), (48, 48, 5, 3), (48, 48, 1, 1), (48, 48, 3, 15), (48, 48, 1, 1), (48, 12, 1, 1)]
    assert [c.relu for c in plan.layers] == [True] * 5 + [False]
    assert plan.receptive_field == 45
    # residual: centre of the block's reach (span 12 -> 6, span 30 -> 15); causal: its newest frame
    assert [(b.span, b.tap, b.residual) for b in plan.blocks] == [(12, 2, 6), (30, 1, 15)]
    causal = network_plan(5, 4, (3, 5, 3), channels=48, causal=True)
    assert [(b.span, b.tap, b.residual) for b in causal.blocks] == [(12, 4, 12), (30, 2, 30)]
    assert network_plan(5, 4, (5,)).blocks == ()
    with pytest.raises(InputError, match="odd"):
        network_plan(5, 4, (3, 4))
    with pytest.raises(ValueError, match="unexpected layer list"):
        plan.split(plan.layers[:-1])


def test_the_trainable_model_is_built_from_its_plan():
    m = TemporalLifter(5, 4, (3, 5, 3), channels=48, in_features=3)
    for spec, conv, bn in m.layer_modules():
        assert (conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.dilation[0]) == \
            (spec.c_in, spec.c_out, spec.width, spec.dilation)
        assert (bn is not None) == spec.batchnorm and (conv.bias is None) == spec.batchnorm
    # the checkpoint keys are what they were (VideoPose3D import and old checkpoints rely on them)
    assert [k for k in m.state_dict() if k.endswith("weight")] == [
        "expand_conv.weight", "expand_bn.weight", "block_convs.0.weight", "block_convs.1.weight",
        "block_convs.2.weight", "block_convs.3.weight", "block_bns.0.weight", "block_bns.1.weight",
        "block_bns.2.weight", "block_bns.3.weight", "shrink.weight"]


@pytest.mark.parametrize("widths,causal,channels", NETWORKS)
def test_every_form_runs_the_same_network(widths, causal, channels):
    torch.manual_seed(0)
    m = randomised(TemporalLifter(5, 4, widths, channels=channels, causal=causal, in_features=3).double())
    rf = m.receptive_field
    seq = torch.randn(2, rf + 9, 5, 3, dtype=torch.float64)
    dilated = m(seq)  # (2, 10, 4, 3)
    windows = seq.unfold(1, rf, 1).permute(0, 1, 4, 2, 3).reshape(-1, rf, 5, 3)
    torch.testing.assert_close(m.forward_windows(windows).reshape(dilated.shape), dilated, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fold_batchnorm(m)(seq), dilated, rtol=1e-10, atol=1e-10)
    assert folded(m) is folded(m)  # the one folded helper, cached
    # the per-frame forms (streaming with a delay when centred) equal the offline lift, pose for pose
    x = np.random.default_rng(3).normal(size=(30, 5, 3)).astype(np.float32)
    m32 = randomised(TemporalLifter(5, 4, widths, channels=channels, causal=causal, in_features=3))
    m32.load_state_dict(m.state_dict())
    ref = lift_sequence(m32, x)
    for form in (StreamingLifter, WindowRecompute):
        y = form(m32, allow_delay=True).lift(x)
        assert y.shape == ref.shape == (30, 4, 3)
        assert np.abs(y - ref).max() < 1e-4, form.__name__


@pytest.mark.parametrize("widths,causal,channels", NETWORKS)
def test_onnx_graphs_run_the_same_network(tmp_path, widths, causal, channels):
    pytest.importorskip("onnxruntime")
    from poselift.model.onnx import export_onnx
    from poselift.model.onnx_runtime import OnnxSequenceModel, OnnxStepModel

    torch.manual_seed(1)
    m = randomised(TemporalLifter(5, 4, widths, channels=channels, causal=causal))
    meta = export_onnx(m, tmp_path / "export")
    # one cache per layer reaching back: expand, then each block's dilated convolution
    assert [c["frames"] for c in meta["step"]["caches"]] == [s.span for s in
                                                            (m.plan.expand, *(b.conv for b in m.plan.blocks))]
    x = np.random.default_rng(2).normal(size=(40, 5, 2)).astype(np.float32)
    ref = lift_sequence(m, x)
    assert np.abs(OnnxSequenceModel(tmp_path / "export").lift(x) - ref).max() < 1e-4
    live = OnnxStepModel(tmp_path / "export")
    lat = meta["latency_frames"]
    y = np.stack([live.push(f) for f in list(x) + [x[-1]] * lat])[lat:]
    assert np.abs(y - ref).max() < 1e-4
