"""poselift.checkpoint: the one checkpoint format, written by training and read by load_lifter."""
from __future__ import annotations

import tracemalloc

import pytest
import torch

from poselift.checkpoint import (
    CHECKPOINT,
    build_model,
    lifter_payload,
    load_checkpoint,
    read_lifter_payload,
    save_checkpoint,
)
from poselift.core.errors import FileFormatError
from poselift.inference import load_lifter
from poselift.model.tcn import TemporalLifter


def test_round_trip_through_load_lifter(tmp_path):
    torch.manual_seed(0)
    m, t = TemporalLifter(16, 17, (3, 3), channels=8), TemporalLifter(16, 1, (3, 3), channels=8)
    save_checkpoint(lifter_payload(m, "mpii16", "h36m17", t, {"flip_test": False}), tmp_path / CHECKPOINT)
    lf = load_lifter(tmp_path, device="cpu")
    assert lf.layout_in.name == "mpii16" and lf.layout_out.name == "h36m17" and lf.flip_test is False
    for a, b in zip(m.state_dict().values(), lf.model.state_dict().values()):
        assert torch.equal(a, b)
    assert lf.traj_model is not None and lf.traj_model.out_joints == 1


def test_a_config_that_lies_about_its_size_is_refused_before_anything_is_allocated(tmp_path):
    m = TemporalLifter(17, 17, (3, 3), channels=8)
    state = lifter_payload(m, "h36m17", "h36m17")
    state["model_config"] = dict(state["model_config"], channels=6000)  # would be ~1.4 GB of weights
    save_checkpoint(state, tmp_path / CHECKPOINT)
    loaded = load_checkpoint(tmp_path / CHECKPOINT)
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError, match=r"weight 'expand_conv.weight' has shape \(8, 34, 3\), but the "
                                                  r"stored config .* implies \(6000, 34, 3\)"):
            read_lifter_payload(loaded, tmp_path / CHECKPOINT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # kilobytes to megabytes, not the 1.4 GB the config claims


def test_missing_keys_and_bad_configs(tmp_path):
    m = TemporalLifter(17, 17, (3,), channels=4)
    with pytest.raises(FileFormatError, match="no 'layout_out'"):
        read_lifter_payload({"model": m.state_dict(), "model_config": m.config(), "layout_in": "h36m17"}, "x.pt")
    with pytest.raises(FileFormatError, match="does not fit this poselift"):
        build_model(dict(m.config(), widht=3), m.state_dict(), "x.pt")
    with pytest.raises(FileFormatError, match="missing"):
        build_model(m.config(), {}, "x.pt")
