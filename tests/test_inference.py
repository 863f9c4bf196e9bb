"""Whole-sequence inference: folded BatchNorm, chunk seams, packed sequences, the weight cache."""
import numpy as np
import pytest
import torch
from helpers import randomised

from poselift.core.layouts import H36M17
from poselift.core.windows import pad_edges
from poselift.inference import lift_sequence, lift_sequences
from poselift.model.folded import fold_batchnorm, folded
from poselift.model.tcn import TemporalLifter

PERM = H36M17.flip_permutation


def _reference(model: TemporalLifter, x: torch.Tensor) -> np.ndarray:
    """Edge-pad by hand and run the unfolded eval-mode model in one pass."""
    before, after = model.pad
    with torch.no_grad():
        return model.eval()(pad_edges(x, before, after, axis=0)[None])[0].numpy()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 5), (1, 1, 1), (5,)])
def test_folded_batchnorm_equals_the_eval_model(widths, causal):
    torch.manual_seed(0)
    m = randomised(TemporalLifter(6, 4, widths, channels=20, causal=causal, in_features=3).double())
    f = fold_batchnorm(m)
    x = torch.randn(3, m.receptive_field + 11, 6, 3, dtype=torch.float64)
    with torch.no_grad():
        assert (m(x) - f(x)).abs().max().item() < 1e-12
    # 2 FLOPs per weight per output frame: 34 MFLOP for the published 243-frame model
    big = fold_batchnorm(TemporalLifter(17, 17, (3,) * 5, channels=1024))
    assert big.flops_per_frame() == pytest.approx(33.87e6, rel=1e-3)


@pytest.mark.parametrize("causal", [False, True])
def test_chunk_seams_give_the_one_pass_result(causal):
    torch.manual_seed(1)
    m = randomised(TemporalLifter(17, 17, (3, 3, 3), channels=48, causal=causal))
    x = torch.randn(500, 17, 2)
    ref = _reference(m, x)
    for chunk in (1, 7, 100, 499, 10_000):
        y = lift_sequence(m, x, chunk=chunk)
        assert y.shape == (500, 17, 3)
        assert np.abs(y - ref).max() < 1e-4, chunk
    # flip TTA chunked == flip TTA in one pass == the mean with the hand-mirrored input
    xm = x.clone()
    xm[..., 0] *= -1
    xm = xm[:, PERM]
    ym = _reference(m, xm)[:, PERM] * np.array([-1, 1, 1], np.float32)
    expected = (ref + ym) / 2
    for chunk in (13, 10_000):
        assert np.abs(lift_sequence(m, x, flip_perms=(PERM, PERM), chunk=chunk) - expected).max() < 1e-4


def test_unpadded_output_is_the_valid_part():
    torch.manual_seed(2)
    m = randomised(TemporalLifter(17, 17, (3, 3), channels=32))
    x = torch.randn(40, 17, 2)
    with torch.no_grad():
        ref = m(x[None])[0].numpy()
    for chunk in (5, 1000):
        y = lift_sequence(m, x, pad=False, chunk=chunk)
        assert y.shape == (32, 17, 3) and np.abs(y - ref).max() < 1e-5
    with pytest.raises(ValueError, match="too short"):
        lift_sequence(m, x[:8], pad=False)


def test_packed_sequences_equal_one_at_a_time():
    torch.manual_seed(3)
    m = randomised(TemporalLifter(17, 17, (3, 3, 3), channels=32))
    rng = np.random.default_rng(0)
    lengths = [1, 5, 26, 27, 300, 64, 2, 1000, 33]  # shorter and longer than rf 27 and than the chunk
    seqs = [rng.normal(size=(n, 17, 2)).astype(np.float32) for n in lengths]
    for chunk in (50, 8192):
        outs = lift_sequences(m, seqs, flip_perms=(PERM, PERM), chunk=chunk)
        assert [o.shape for o in outs] == [(n, 17, 3) for n in lengths]
        for s, o in zip(seqs, outs):
            assert np.abs(o - lift_sequence(m, s, flip_perms=(PERM, PERM))).max() < 1e-4
    assert lift_sequences(m, []) == []
    m64 = randomised(TemporalLifter(17, 17, (3, 3, 3), channels=32)).double()  # runs in the model's dtype
    y64 = lift_sequence(m64, seqs[4])
    assert y64.dtype == np.float32 and np.abs(y64 - _reference(m64, torch.as_tensor(seqs[4]).double())).max() < 1e-6
    with pytest.raises(ValueError, match="sequence 2: .*joint count"):
        lift_sequences(m, [seqs[0], seqs[1], np.zeros((30, 16, 2), np.float32)])


def test_folded_copy_follows_weight_updates():
    torch.manual_seed(4)
    m = randomised(TemporalLifter(17, 17, (3, 3), channels=16))
    x = torch.randn(30, 17, 2)
    f1 = folded(m)
    assert folded(m) is f1  # cached
    y1 = lift_sequence(m, x)
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    m.train()
    m(torch.randn(4, 20, 17, 2)).pow(2).mean().backward()  # also moves the BN running statistics
    opt.step()
    assert folded(m) is not f1
    y2 = lift_sequence(m, x)
    assert np.abs(y2 - _reference(m, x)).max() < 1e-5 and np.abs(y2 - y1).max() > 1e-3
    m2 = randomised(TemporalLifter(17, 17, (3, 3), channels=16))
    m2.load_state_dict(m.state_dict())
    assert np.abs(lift_sequence(m2, x) - y2).max() < 1e-6


def test_bad_sequences_name_the_problem():
    m = randomised(TemporalLifter(17, 17, (3, 3), channels=16))
    x = np.zeros((40, 17, 2), np.float32)
    x[12, 3, 1] = np.nan
    with pytest.raises(ValueError, match="frame 12, joint 3"):
        lift_sequence(m, x)
    with pytest.raises(ValueError, match="empty"):
        lift_sequence(m, np.zeros((0, 17, 2), np.float32))
    with pytest.raises(ValueError, match="joint count"):
        lift_sequence(m, np.zeros((40, 18, 2), np.float32))
    with pytest.raises(ValueError, match="chunk"):
        lift_sequence(m, np.zeros((40, 17, 2), np.float32), chunk=0)


def test_operation_counts_match_the_reference():
    """REFERENCE.md section 2: 17.8 / 57.4 / 176.3 M multiply-adds per window; ~17 M per frame (243)."""
    from poselift.experiments.benchmark import window_flops

    for widths, macs in (((3, 3, 3), 17.8e6), ((3,) * 4, 57.4e6), ((3,) * 5, 176.3e6)):
        assert window_flops(TemporalLifter(17, 17, widths, channels=1024)) / 2 == pytest.approx(macs, rel=2e-3)
    f = fold_batchnorm(TemporalLifter(17, 17, (3,) * 5, channels=1024))
    assert f.flops_per_frame() / 2 == pytest.approx(17e6, rel=0.01)
