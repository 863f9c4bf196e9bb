"""StreamingLifter: frame-by-frame causal lifting equals the offline whole-sequence result."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import randomised
from torch.utils.flop_counter import FlopCounterMode

from poselift.core.windows import pad_edges
from poselift.inference import lift_sequence
from poselift.model.folded import fold_batchnorm
from poselift.model.streaming import StreamingLifter, WindowRecompute
from poselift.model.tcn import TemporalLifter

TOL = 1e-4


def _model(widths=(3, 3, 3), causal=True, channels=32, in_features=2, seed=0) -> TemporalLifter:
    torch.manual_seed(seed)
    return randomised(TemporalLifter(5, 4, widths, channels=channels, causal=causal, in_features=in_features), seed)


def _frames(t, streams=None, f=2, seed=1):
    rng = np.random.default_rng(seed)
    shape = (t, 5, f) if streams is None else (t, streams, 5, f)
    return rng.normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 5), (5,), (3, 1, 3)])
@pytest.mark.parametrize("t", [1, 10, 60])  # shorter and longer than the receptive field
def test_push_equals_offline_causal_lift(widths, t):
    m = _model(widths)
    x = _frames(t)
    ref = lift_sequence(m, x)
    live = StreamingLifter(m)
    assert live.latency_frames == 0 and live.causal
    out = np.stack([live.push(x[i]) for i in range(t)])
    assert out.shape == (t, 4, 3) and out.dtype == np.float32
    assert np.abs(out - ref).max() < TOL
    # the baseline with the same API and weights gives the same poses
    base = WindowRecompute(m)
    assert np.abs(np.stack([base.push(x[i]) for i in range(t)]) - ref).max() < TOL


def test_several_streams_torch_input_and_reset():
    m = _model((3, 3, 3), in_features=3)
    x = _frames(50, streams=3, f=3)
    ref = np.stack([lift_sequence(m, x[:, s]) for s in range(3)], 1)  # (T, S, J, 3)
    live = StreamingLifter(m, streams=3)
    out = np.stack([live.push(torch.from_numpy(x[i])).numpy() for i in range(50)])
    assert out.shape == (50, 3, 4, 3)
    assert np.abs(out - ref).max() < TOL
    # reset: a new sequence starts afresh
    live.reset()
    out2 = live.lift(x[:30])
    assert np.abs(out2 - ref[:30]).max() < TOL
    # reset one stream mid-sequence: it restarts, the others carry on
    live.reset()
    for i in range(20):
        live.push(x[i])
    live.reset(stream=1)
    y = np.stack([live.push(x[20 + i]) for i in range(30)])
    assert np.abs(y[:, [0, 2]] - ref[20:, [0, 2]]).max() < TOL
    assert np.abs(y[:, 1] - lift_sequence(m, x[20:, 1])).max() < TOL


def test_batched_single_stream_and_folded_input():
    m = _model((3, 3))
    x = _frames(12)
    ref = lift_sequence(m, x)
    live = StreamingLifter(fold_batchnorm(m))
    out = np.stack([live.push(x[i][None]) for i in range(12)])  # (1, J, F) -> (1, J_out, 3)
    assert out.shape == (12, 1, 4, 3)
    assert np.abs(out[:, 0] - ref).max() < TOL


def test_float64_model_runs_in_float64_and_matches_tightly():
    m = _model((3, 3)).double()
    x = _frames(20).astype(np.float64)
    live = StreamingLifter(m)
    out = torch.stack([live.push(torch.from_numpy(x[i])) for i in range(20)])
    assert out.dtype == torch.float64
    xt = torch.from_numpy(x)
    with torch.no_grad():
        ref = m(pad_edges(xt, m.receptive_field - 1, 0, axis=0)[None])[0]  # the model itself, in float64
    assert (out - ref).abs().max().item() < 1e-10


def test_per_push_work_is_constant_and_equals_the_whole_sequence_cost_per_frame():
    m = _model((3, 3, 3))
    fm = fold_batchnorm(m)
    live = StreamingLifter(m)
    base = WindowRecompute(m)
    x = _frames(120)
    flops, base_flops = {}, {}
    for i in range(120):
        if i in (0, 1, 5, 26, 27, 100):
            with FlopCounterMode(display=False) as fc:
                live.push(x[i])
            flops[i] = fc.get_total_flops()
            with FlopCounterMode(display=False) as fc:
                base.push(x[i])
            base_flops[i] = fc.get_total_flops()
        else:
            live.push(x[i])
            base.push(x[i])
    assert len(set(flops.values())) == 1, flops
    assert flops[100] == fm.flops_per_frame()  # one matrix-vector product per layer
    assert min(base_flops.values()) > 2 * flops[100]  # recomputing the window does far more
    # and the caches hold what the kernels reach back to, no more
    assert [tuple(c.shape) for c in live.caches()] == [(1, 3, 10), (1, 7, 32), (1, 19, 32)]


def test_frames_older_than_the_receptive_field_have_no_effect():
    m = _model((3, 3))  # rf 9
    a = _frames(40)
    b = a.copy()
    b[:5] = _frames(5, seed=7)  # different first 5 frames (the start-up padding differs too)
    la, lb = StreamingLifter(m), StreamingLifter(m)
    ya = np.stack([la.push(f) for f in a])
    yb = np.stack([lb.push(f) for f in b])
    assert np.abs(ya[:5] - yb[:5]).max() > 1e-3
    np.testing.assert_array_equal(ya[5 + 8 :], yb[5 + 8 :])  # frame t sees t-8..t only


def test_non_causal_needs_allow_delay_then_streams_with_delay():
    m = _model((3, 3), causal=False)  # rf 9: 4 frames of delay
    with pytest.raises(ValueError, match="not causal.*allow_delay"):
        StreamingLifter(m)
    x = _frames(30)
    ref = lift_sequence(m, x)
    live = StreamingLifter(m, allow_delay=True)
    assert live.latency_frames == 4
    y = np.stack([live.push(f) for f in x])
    assert np.abs(y[4:] - ref[:-4]).max() < TOL  # push t returns frame t - 4
    tail = live.flush()  # (4, S, J, 3): the end padded with the last frame, as offline
    assert tail.shape == (4, 1, 4, 3)
    assert np.abs(tail[:, 0] - ref[-4:]).max() < TOL
    assert np.abs(live.lift(x[:3]) - lift_sequence(m, x[:3])).max() < TOL  # shorter than the delay


def test_bad_input_errors():
    m = _model((3, 3))
    live = StreamingLifter(m)
    with pytest.raises(ValueError, match="joint count"):
        live.push(np.zeros((6, 2), np.float32))
    with pytest.raises(ValueError, match="feature count"):
        live.push(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        live.push(np.zeros((2, 2, 5, 2), np.float32))
    with pytest.raises(ValueError, match="expected 1 streams|expected 1 stream"):
        live.push(np.zeros((2, 5, 2), np.float32))
    bad = np.zeros((5, 2), np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite.*joint 3"):
        live.push(bad)
    with pytest.raises(ValueError, match="NaN or infinite.*stream 1, joint 2"):
        t = torch.zeros(2, 5, 2)
        t[1, 2, 0] = float("inf")
        StreamingLifter(m, streams=2).push(t)
    with pytest.raises(ValueError, match="streams"):
        StreamingLifter(m, streams=0)
    with pytest.raises(ValueError, match="this lifter runs 2 streams"):
        StreamingLifter(m, streams=2).push(np.zeros((5, 2), np.float32))
    with pytest.raises(TypeError):
        StreamingLifter(object())
    # a rejected frame leaves the state untouched
    x = _frames(10)
    ref = lift_sequence(m, x)
    out = []
    for f in x:
        with pytest.raises(ValueError):
            live.push(bad)
        out.append(live.push(f))
    assert np.abs(np.stack(out) - ref).max() < TOL
