"""The accelerator paths: training, evaluation, inference, streaming and mixed precision on one device.

Marked ``cuda``. They run on ``$POSELIFT_TEST_DEVICE``: ``cpu`` by default (CI, where they run like every other
test), ``cuda`` in ``experiments/bench/gpu_session.sh`` (``pytest -m cuda``), where every result on the GPU is
compared with the same computation on the CPU. Asking for ``cuda`` without a CUDA device fails; nothing skips.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

from poselift.datasets.synthetic import make_dataset
from poselift.inference import lift_sequence
from poselift.model.streaming import StreamingLifter
from poselift.model.tcn import TemporalLifter
from poselift.training.trainer import Trainer, TrainSettings
from poselift.training.window_bank import WindowBank

pytestmark = pytest.mark.cuda
DEVICE = os.environ.get("POSELIFT_TEST_DEVICE", "cpu")


@pytest.fixture(scope="module")
def device() -> torch.device:
    d = torch.device(DEVICE)
    if d.type == "cuda" and not torch.cuda.is_available():
        pytest.fail("POSELIFT_TEST_DEVICE=cuda, but this torch sees no CUDA device")
    return d


@pytest.fixture(autouse=True)
def exact_float32():
    """No TF32 in these comparisons (a GPU would otherwise multiply with 10-bit mantissas)."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.fixture(scope="module")
def seqs():
    return make_dataset(subjects=1, motions=["walk", "box"], num_frames=80, seed=0)


def _fit(seqs, device, **kw):
    torch.manual_seed(0)
    model = TemporalLifter(17, 17, (3, 3, 3), channels=64, dropout=0.0)
    bank = WindowBank([s.inputs() for s in seqs], model.receptive_field, targets=[s.root_relative_3d() for s in seqs])
    st = TrainSettings(epochs=2, batch_size=64, windows_per_epoch=512, progress=False, seed=3, **kw)
    tr = Trainer(model, bank, st, "h36m17", "h36m17", device=device)
    return tr.fit(), {k: v.detach().cpu().double() for k, v in tr.model.state_dict().items()}


def test_training_on_the_device_follows_the_cpu(seqs, device):
    """The same 16 steps (strided step, mirrored duplicates, amsgrad, BN schedule) on the device and on the CPU:
    the same loss curve and weights to float32 rounding."""
    hist_d, w_d = _fit(seqs, device)
    hist_c, w_c = _fit(seqs, torch.device("cpu"))
    for a, b in zip(hist_d, hist_c):
        assert a["loss_pose"] == pytest.approx(b["loss_pose"], rel=1e-4)
    for k in w_c:
        if w_c[k].is_floating_point():
            assert torch.allclose(w_d[k], w_c[k], rtol=1e-3, atol=1e-5), k


def test_bf16_autocast_trains_on_cuda_and_is_refused_aloud_elsewhere(seqs, device):
    if device.type == "cuda":
        hist, _ = _fit(seqs, device, amp=True)
        ref, _ = _fit(seqs, device)
        assert all(np.isfinite(h["loss_pose"]) for h in hist)
        assert hist[-1]["loss_pose"] == pytest.approx(ref[-1]["loss_pose"], rel=0.1)
    else:
        with pytest.warns(UserWarning, match="amp .*bfloat16.* CUDA only.*float32"):
            _fit(seqs, device, amp=True)


def test_inference_and_streaming_on_the_device_equal_the_cpu(device):
    torch.manual_seed(1)
    m = TemporalLifter(17, 17, (3, 3, 3), channels=64, causal=True).eval()
    x = np.random.default_rng(2).normal(size=(300, 17, 2)).astype(np.float32)
    ref = lift_sequence(m, x)
    md = TemporalLifter(17, 17, (3, 3, 3), channels=64, causal=True).eval()
    md.load_state_dict(m.state_dict())
    md.to(device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent host round trips or dtype changes
        got = lift_sequence(md, x)
    assert got.shape == (300, 17, 3) and np.abs(got - ref).max() < 1e-4
    live = StreamingLifter(md)
    out = np.stack([live.push(x[i]) for i in range(60)])
    assert np.abs(out - ref[:60]).max() < 1e-4


def test_a_run_trained_on_the_device_evaluates_the_same_on_the_cpu(tmp_path, device):
    from poselift.experiments.config import (
        DataConfig,
        EvalConfig,
        ExperimentConfig,
        ModelConfig,
        SyntheticConfig,
    )
    from poselift.experiments.train_eval import evaluate_run, train_run

    cfg = ExperimentConfig(
        name="dev", seed=0, device=str(device),
        data=DataConfig(dataset="synthetic", path=None, synthetic=SyntheticConfig(
            subjects=1, test_subjects=1, num_frames=60, test_num_frames=60, motions=["walk"])),
        model=ModelConfig(widths=[3, 3], channels=32),
        train=TrainSettings(epochs=2, batch_size=64, progress=False),
        eval=EvalConfig(eval_every=1, monitor_frames=20),
    )
    on_device = train_run(cfg, tmp_path / "run", progress=False)
    cfg_file = tmp_path / "run" / "config.yaml"
    cfg_file.write_text(cfg_file.read_text().replace(f"device: {device}", "device: cpu"))
    on_cpu = evaluate_run(tmp_path / "run", progress=False)
    for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        assert on_cpu[k] == pytest.approx(on_device[k], abs=1e-3), k
