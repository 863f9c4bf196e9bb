"""poselift.model.strided: the training form as matrix products equals the convolution form, exactly."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from poselift.model.strided import dropout_keep_mask, strided_forward
from poselift.model.tcn import TemporalLifter


def _conv_reference(model, x):
    """The strided form written with conv1d on (B, C, T), as poselift 0.1 computed it (independent code)."""
    b, t, j, f = x.shape
    h = F.conv1d(x.reshape(b, t, j * f).transpose(1, 2), model.expand_conv.weight, stride=model.widths[0])
    h = model.drop(F.relu(model.expand_bn(h)))
    for i, w in enumerate(model.widths[1:]):
        shift = w - 1 if model.causal else w // 2
        res = h[:, :, shift::w]
        y = model.drop(F.relu(model.block_bns[2 * i](F.conv1d(h, model.block_convs[2 * i].weight, stride=w))))
        h = res + model.drop(F.relu(model.block_bns[2 * i + 1](model.block_convs[2 * i + 1](y))))
    return model.shrink(h).transpose(1, 2).reshape(b, -1, model.out_joints, 3)


@pytest.mark.parametrize("widths,causal", [((3, 3, 3), False), ((3, 3), True), ((1, 1, 1), False), ((5, 3), False),
                                          ((3, 5, 3), True)])
@pytest.mark.parametrize("mode", ["train", "train_dropout", "eval"])
def test_equals_the_convolution_form_in_float64(widths, causal, mode):
    torch.manual_seed(0)
    a = TemporalLifter(6, 4, widths, channels=24, causal=causal, dropout=0.25 if mode == "train_dropout" else 0.0)
    a = a.double()
    b = TemporalLifter(6, 4, widths, channels=24, causal=causal, dropout=a.drop.p).double()
    b.load_state_dict(a.state_dict())
    for m in (a, b):
        m.train(mode != "eval")
    x = torch.randn(8, a.receptive_field, 6, 2, dtype=torch.float64)
    torch.manual_seed(7)
    ya = strided_forward(a, x, "compat")  # nn.Dropout's own draws: the same masks as the reference
    torch.manual_seed(7)
    yb = _conv_reference(b, x)
    assert ya.shape == yb.shape == (8, 1, 4, 3)
    torch.testing.assert_close(ya, yb, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(ya)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-10, atol=1e-12, msg=n)
    for (n, ba), bb in zip(a.named_buffers(), b.buffers()):  # BatchNorm running statistics
        torch.testing.assert_close(ba.double(), bb.double(), rtol=0, atol=1e-14, msg=n)


def test_forward_windows_uses_it_and_agrees_with_the_dilated_form():
    torch.manual_seed(1)
    m = TemporalLifter(17, 17, (3, 3, 3), channels=32).double().eval()
    x = torch.randn(5, 27, 17, 2, dtype=torch.float64)
    torch.testing.assert_close(m.forward_windows(x), m(x), rtol=1e-12, atol=1e-12)


def test_fast_dropout_masks_have_the_right_rate_and_follow_the_seed():
    torch.manual_seed(3)
    a = dropout_keep_mask((1000, 256), 0.25)
    assert set(a.unique().tolist()) == {0.0, 1.0}
    assert abs(a.mean().item() - 0.75) < 0.005  # 256,000 draws: sd 0.0009
    torch.manual_seed(3)
    assert torch.equal(dropout_keep_mask((1000, 256), 0.25), a)
    b = dropout_keep_mask((4000, 100), 0.1)  # not a multiple of 1/256: 32-bit draws
    assert abs(b.mean().item() - 0.9) < 0.005
    m = TemporalLifter(4, 2, (3,), channels=8, dropout=0.3)
    with pytest.raises(ValueError, match="dropout rng"):
        strided_forward(m, torch.zeros(2, 3, 4, 2), "mersenne")


def test_forty_training_steps_follow_the_same_loss_curve_in_float64():
    """The old step (convolutions, per-tensor Adam) and today's (matrix products, foreach Adam) trained side by
    side from the same weights with the same dropout draws: the same losses and weights after 40 steps, to
    float64 rounding. (In float32 both curves drift from float64, and from each other, by rounding amplified by
    training: that is what changing the thread count does too.)"""
    torch.manual_seed(0)
    a = TemporalLifter(6, 4, (3, 3, 3), channels=32, dropout=0.25).double().train()
    b = TemporalLifter(6, 4, (3, 3, 3), channels=32, dropout=0.25).double().train()
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-3, amsgrad=True, foreach=True)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-3, amsgrad=True, foreach=False)
    gen = torch.Generator().manual_seed(1)
    losses = []
    for step in range(40):
        x = torch.randn(32, 27, 6, 2, dtype=torch.float64, generator=gen)
        y = torch.randn(32, 1, 4, 3, dtype=torch.float64, generator=gen) * 0.2
        pair = []
        for model, opt, fwd in ((a, opt_a, lambda m, v: strided_forward(m, v, "compat")), (b, opt_b, _conv_reference)):
            torch.manual_seed(100 + step)
            loss = torch.linalg.vector_norm(fwd(model, x) - y, dim=-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            pair.append(loss.item())
        losses.append(pair)
    for la, lb in losses:
        assert la == pytest.approx(lb, rel=1e-9)
    assert losses[-1][0] < 0.8 * losses[0][0]  # it learned something
    for (n, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(pa.double(), pb.double(), rtol=1e-8, atol=1e-10, msg=n)
