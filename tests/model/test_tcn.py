"""The temporal lifter: parameter counts, dilated == strided, causality, input checks."""
import numpy as np
import pytest
import torch
from helpers import randomised

from poselift.core.layouts import H36M17
from poselift.core.windows import pad_edges
from poselift.inference import lift_sequence
from poselift.model.tcn import TemporalLifter


@pytest.mark.parametrize("widths,count", [((3, 3, 3), 8_555_571), ((3, 3, 3, 3), 12_753_971),
                                          ((3, 3, 3, 3, 3), 16_952_371)])
def test_parameter_counts_match_videopose3d(widths, count):
    m = TemporalLifter(17, 17, widths, channels=1024)
    assert sum(p.numel() for p in m.parameters()) == count
    assert m.receptive_field == 3 ** len(widths)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 5), (1, 1, 1), (5,)])
def test_strided_and_dilated_forms_agree(widths, causal):
    torch.manual_seed(0)
    m = randomised(TemporalLifter(5, 4, widths, channels=24, causal=causal, in_features=3).double())
    rf = m.receptive_field
    seq = torch.randn(2, rf + 7, 5, 3, dtype=torch.float64)
    dilated = m(seq)  # (2, 8, 4, 3)
    assert dilated.shape == (2, 8, 4, 3)
    windows = seq.unfold(1, rf, 1).permute(0, 1, 4, 2, 3).reshape(-1, rf, 5, 3)  # every window
    strided = m.forward_windows(windows).reshape(2, 8, 4, 3)
    assert (dilated - strided).abs().max().item() < 1e-10


def test_strided_and_dilated_agree_in_float32_default_size():
    torch.manual_seed(1)
    m = randomised(TemporalLifter(17, 17, (3, 3, 3), channels=256))
    seq = torch.randn(1, 40, 17, 2)
    windows = seq.unfold(1, 27, 1).permute(0, 1, 4, 2, 3).reshape(-1, 27, 17, 2)
    assert (m(seq)[0] - m.forward_windows(windows)[:, 0]).abs().max().item() < 1e-4


def test_causal_outputs_ignore_the_future():
    torch.manual_seed(2)
    m = randomised(TemporalLifter(17, 17, (3, 3), channels=32, causal=True))
    x = torch.randn(60, 17, 2)
    y = lift_sequence(m, x)
    x2 = x.clone()
    x2[40:] += torch.randn_like(x2[40:])  # change frames 40..59
    y2 = lift_sequence(m, x2)
    assert y.shape == (60, 17, 3)
    np.testing.assert_allclose(y[:40], y2[:40], atol=1e-6)  # past unaffected
    assert np.abs(y[40:] - y2[40:]).max() > 1e-3  # present and future do change


def test_non_causal_output_sees_half_a_window_ahead():
    torch.manual_seed(3)
    m = randomised(TemporalLifter(17, 17, (3, 3), channels=32, causal=False))
    x = torch.randn(60, 17, 2)
    x2 = x.clone()
    x2[40:] += 1.0
    d = np.abs(lift_sequence(m, x) - lift_sequence(m, x2)).max(axis=(1, 2))
    assert d[:36].max() < 1e-6 and d[36:40].min() > 1e-4  # frames 36..39 see frame 40 (rf 9: 4 ahead)


def test_lift_sequence_shapes_and_flip_tta():
    torch.manual_seed(4)
    m = randomised(TemporalLifter(17, 17, (3, 3, 3), channels=16))
    x = np.random.default_rng(0).normal(size=(10, 17, 2)).astype(np.float32)  # shorter than rf: padded
    y = lift_sequence(m, x)
    assert y.shape == (10, 17, 3) and y.dtype == np.float32
    perm = H36M17.flip_permutation
    yf = lift_sequence(m, x, flip_perms=(perm, perm))
    # flip-averaged prediction is exactly symmetric: lifting the mirrored input gives the mirrored output
    xm = x[:, perm].copy()
    xm[..., 0] *= -1
    ym = lift_sequence(m, xm, flip_perms=(perm, perm))[:, perm]
    ym[..., 0] *= -1
    np.testing.assert_allclose(yf, ym, atol=1e-5)
    with pytest.raises(ValueError, match="too short"):
        lift_sequence(m, x, pad=False)


def test_pad_edges_repeats_frames():
    x = torch.arange(4.0)[:, None, None].expand(4, 2, 2)
    p = pad_edges(x, 2, 3, axis=0)
    assert p[:, 0, 0].tolist() == [0, 0, 0, 1, 2, 3, 3, 3, 3]


def test_bad_input_raises_clear_errors():
    m = TemporalLifter(17, 17, (3, 3), channels=8)
    with pytest.raises(ValueError, match="wrong joint count.*17.*16"):
        m(torch.zeros(1, 20, 16, 2))
    with pytest.raises(ValueError, match="NaN"):
        x = torch.zeros(1, 20, 17, 2)
        x[0, 5, 3, 0] = float("nan")
        m(x)
    with pytest.raises(ValueError, match="too short: 5 frames.*receptive field of 9"):
        m(torch.zeros(1, 5, 17, 2))
    with pytest.raises(ValueError, match="feature"):
        m(torch.zeros(1, 20, 17, 3))
    with pytest.raises(ValueError, match=r"\(batch, frames, joints, features\)"):
        m(torch.zeros(20, 17, 2))
    with pytest.raises(ValueError, match="exactly 9"):
        m.forward_windows(torch.zeros(2, 10, 17, 2))
    with pytest.raises(ValueError, match="odd"):
        TemporalLifter(17, 17, (3, 2))
    with pytest.raises(ValueError, match="NaN"):
        lift_sequence(m, np.full((30, 17, 2), np.nan, np.float32))
