"""poselift.core.windows: the one definition of window geometry, checked against the models that use it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.core.errors import InputError
from poselift.core.windows import (
    STANDARD_WIDTHS,
    pad_edges,
    receptive_field,
    target_offset,
    widths_for,
    window_geometry,
)
from poselift.model.tcn import TemporalLifter


@pytest.mark.parametrize("rf", [1, 3, 9, 27, 81, 243])
def test_geometry_numbers(rf):
    centred, causal = window_geometry(rf, False), window_geometry(rf, True)
    assert centred.pad == ((rf - 1) // 2, (rf - 1) // 2) and centred.latency == (rf - 1) // 2
    assert causal.pad == (rf - 1, 0) and causal.latency == 0
    assert centred.before + centred.after + 1 == rf == causal.before + causal.after + 1


def test_target_offset_is_the_frame_the_output_stands_for():
    assert [target_offset(n, False) for n in (1, 3, 5, 27)] == [0, 1, 2, 13]
    assert [target_offset(n, True) for n in (1, 3, 5, 27)] == [0, 2, 4, 26]
    with pytest.raises(InputError, match="at least one frame"):
        target_offset(0, False)


def test_standard_widths_and_receptive_fields():
    for rf, widths in STANDARD_WIDTHS.items():
        assert receptive_field(widths) == rf and widths_for(rf) == widths
    # the single-frame baseline has the depth of the 27-frame model (2 residual blocks), not (1,)
    assert len(widths_for(1)) == len(widths_for(27))
    with pytest.raises(InputError, match="no standard kernel widths for a receptive field of 9"):
        widths_for(9)


def test_every_shipped_single_frame_config_is_the_baseline_not_a_blockless_network():
    """(1,) has no residual block: 22,323 parameters instead of 286,515 (256 channels, 17 joints), the
    counts the model docstring gives; every shipped config with a receptive field of 1 uses (1, 1, 1)."""
    from pathlib import Path

    import yaml

    def count(widths):
        return sum(p.numel() for p in TemporalLifter(17, 17, widths, channels=256).parameters())

    assert (count((1,)), count((1, 1, 1))) == (22_323, 286_515)
    configs = Path(__file__).resolve().parents[2] / "experiments" / "configs"
    single = []
    for f in sorted(configs.glob("*.yaml")):
        widths = (yaml.safe_load(f.read_text()) or {}).get("model", {}).get("widths")
        if widths and receptive_field(widths) == 1:
            single.append(f.name)
            assert list(widths) == [1, 1, 1], f.name
    assert len(single) >= 4


@pytest.mark.parametrize("causal", [False, True])
def test_a_centred_or_causal_model_estimates_the_target_frame(causal):
    """The output for a window changes when the target frame's input changes and, for a causal model,
    not when anything after it does (there is nothing after it)."""
    torch.manual_seed(0)
    m = TemporalLifter(4, 2, (3, 3), channels=16, causal=causal).double().eval()
    g = m.geometry
    x = torch.randn(1, m.receptive_field, 4, 2, dtype=torch.float64)
    y = m(x)
    assert m.pad == g.pad
    bumped = x.clone()
    bumped[0, g.before] += 1.0
    assert not torch.allclose(m(bumped), y)
    if causal:
        assert g.after == 0


def test_pad_edges_numpy_and_torch_agree():
    x = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    a = pad_edges(x, 2, 3)
    b = pad_edges(torch.from_numpy(x), 2, 3, axis=0).numpy()
    assert a.shape == (9, 3, 2) and np.array_equal(a, b)
    assert np.array_equal(a[:3], np.repeat(x[:1], 3, 0)) and np.array_equal(a[-4:], np.repeat(x[-1:], 4, 0))
    assert np.array_equal(pad_edges(x, 0, 0), x)
