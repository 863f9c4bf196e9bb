"""poselift's training windows against VideoPose3D's ChunkedGenerator rule (experiments/scripts/vp3d_window_check.py)
on small synthetic sequences: the same samples, the same windows with their edge padding, the same mirrored twins;
the order differs by design (``window_order``) and ``window_order=vp3d`` reproduces VideoPose3D's exactly."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.core.errors import ConfigError
from poselift.core.layouts import get_layout
from poselift.datasets.protocols import WINDOW_ORDERS as PROTOCOL_WINDOW_ORDERS
from poselift.datasets.protocols import subset_range
from poselift.experiments.scripts.vp3d_window_check import (compare, mirror, poselift_samples, vp3d_chunk,
                                                              vp3d_orders, vp3d_pairs, vp3d_window)
from poselift.model.tcn import TemporalLifter
from poselift.training.trainer import WINDOW_ORDERS, Trainer, TrainSettings
from poselift.training.window_bank import WindowBank

LAY = get_layout("h36m17")


def sides():
    perm = list(LAY.flip_permutation)
    left = [j for j, m in enumerate(perm) if j < m]
    return left, [perm[j] for j in left]


def test_vp3d_window_by_hand():
    seq = np.arange(3.0)[:, None]  # frames 0, 1, 2
    # rf 5 centred: pad 2; the part before / after the sequence repeats its edge frame
    assert vp3d_window(seq, 0, 1, 2, 0)[:, 0].tolist() == [0, 0, 0, 1, 2]
    assert vp3d_window(seq, 2, 3, 2, 0)[:, 0].tolist() == [0, 1, 2, 2, 2]
    # causal (shift = pad): the window ends at its target frame
    assert vp3d_window(seq, 0, 1, 2, 2)[:, 0].tolist() == [0, 0, 0, 0, 0]
    assert vp3d_window(seq, 2, 3, 2, 2)[:, 0].tolist() == [0, 0, 0, 1, 2]
    # a window longer than the sequence on both sides
    assert vp3d_window(seq, 1, 2, 3, 0)[:, 0].tolist() == [0, 0, 0, 1, 2, 2, 2]


def test_vp3d_pairs_order_and_shuffle():
    pairs = vp3d_pairs([2, 3])
    assert pairs.tolist() == [[0, 0, 1, 0], [0, 1, 2, 0], [0, 0, 1, 1], [0, 1, 2, 1],
                              [1, 0, 1, 0], [1, 1, 2, 0], [1, 2, 3, 0], [1, 0, 1, 1], [1, 1, 2, 1], [1, 2, 3, 1]]
    # VideoPose3D permutes the pair list itself (a list of tuples, each epoch from one RandomState(1234)):
    # that is the same as indexing it with a permutation of its indices
    tuples = [tuple(r) for r in pairs.tolist()]
    rng = np.random.RandomState(1234)
    direct = [rng.permutation(tuples) for _ in range(3)]
    for d, p in zip(direct, vp3d_orders(len(tuples), 3)):
        np.testing.assert_array_equal(d, pairs[p])
    x = np.arange(2 * 17 * 2, dtype=float).reshape(2, 17, 2)
    m = mirror(x, *sides())
    np.testing.assert_array_equal(m[..., 0], -x[:, LAY.flip_permutation, 0])
    np.testing.assert_array_equal(mirror(m, *sides()), x)


@pytest.mark.parametrize("frames", list(range(20, 3000, 97)) + [1383, 2699, 5000])
def test_labelled_chunk_is_videopose3ds(frames):
    for fraction in (0.1, 0.043, 0.5):
        start, n = vp3d_chunk(frames, fraction)
        assert subset_range("vp3d", frames, fraction) == (start, start + n)


def bank_and_trainer(lengths, rf, causal, order, seed=0):
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(0, 0.3, (t, 17, 2)).astype(np.float32) for t in lengths]
    targets = []
    for t in lengths:
        y = rng.normal(0, 0.2, (t, 17, 3)).astype(np.float32)
        targets.append(y - y[:, :1])
    widths = {9: (3, 3), 3: (3,)}[rf]
    model = TemporalLifter(17, 17, widths, 8, causal=causal)
    bank = WindowBank(inputs, rf, causal=causal, targets=targets)
    trainer = Trainer(model, bank, TrainSettings(batch_size=8, window_order=order, seed=seed, progress=False),
                      "h36m17", "h36m17", device="cpu")
    return inputs, targets, bank, trainer


@pytest.mark.parametrize("causal", [False, True], ids=["centred", "causal"])
def test_windows_equal_videopose3ds_window_by_window(causal):
    lengths = [1, 5, 30, 13, 9]
    inputs, targets, bank, trainer = bank_and_trainer(lengths, 9, causal, "seeded")
    table, read, orders = poselift_samples(bank, trainer, LAY.flip_permutation, LAY.flip_permutation, 2)
    vp = vp3d_orders(2 * sum(lengths), 2)
    rep = compare(inputs, targets, 9, causal, *sides(), *sides(), bank, (table, read),
                  orders={"vp3d": vp, "poselift": orders}, batch=8)
    assert rep.same_windows, rep
    assert rep.samples_vp3d == rep.samples_poselift == 2 * sum(lengths)
    assert rep.mirrored_twins_checked == sum(lengths) and rep.max_abs_input == 0 == rep.max_abs_target
    # every frame within 4 frames of an end needs padding (centred; causal: the first 8 frames)
    edge = sum(min(t, 8) for t in lengths) if causal else sum(min(t, 4) + min(max(t - 4, 0), 4) for t in lengths)
    assert rep.edge_windows == edge
    # the order is poselift's own (another generator): not VideoPose3D's sequence of samples
    assert rep.order["identical_sequence_of_samples"] == [False, False]
    # a window that differs is found and named
    bad = [x.copy() for x in inputs]
    bad[2][29, 3, 0] += 1.0  # the last frame of a 30-frame sequence: in its own window and the padding after it
    rep = compare(bad, targets, 9, causal, *sides(), *sides(), bank, (table, read))
    assert not rep.same_windows and rep.input_differences
    assert {(s, f) for s, f, _, _ in rep.input_differences} >= {(2, 29)}


def test_window_order_vp3d_feeds_videopose3ds_sequence_of_samples():
    lengths = [7, 30, 13]
    inputs, targets, bank, trainer = bank_and_trainer(lengths, 3, False, "vp3d")
    table, read, orders = poselift_samples(bank, trainer, LAY.flip_permutation, LAY.flip_permutation, 3)
    rep = compare(inputs, targets, 3, False, *sides(), *sides(), bank, (table, read),
                  orders={"vp3d": vp3d_orders(2 * sum(lengths), 3), "poselift": orders}, batch=8)
    assert rep.same_windows and rep.order["identical_sequence_of_samples"] == [True, True, True]
    # a resumed run (a fresh trainer at epoch 2) continues VideoPose3D's generator where it was
    _, _, bank2, resumed = bank_and_trainer(lengths, 3, False, "vp3d")
    resumed.epoch = 2
    space = resumed._sample_space(bank2)
    np.testing.assert_array_equal(torch.cat(list(resumed._epoch_order(space, space))).numpy(), orders[2])
    # the same order whatever the run's seed (VideoPose3D's generator seed is fixed)
    _, _, _, other = bank_and_trainer(lengths, 3, False, "vp3d", seed=5)
    _, _, o = poselift_samples(other.labelled, other, LAY.flip_permutation, LAY.flip_permutation, 1)
    np.testing.assert_array_equal(o[0], orders[0])


def test_window_order_is_validated():
    assert WINDOW_ORDERS == PROTOCOL_WINDOW_ORDERS
    with pytest.raises(ConfigError, match="window_order must be one of"):
        TrainSettings(window_order="numpy")
    with pytest.raises(ConfigError, match="cannot be combined with windows_per_epoch"):
        TrainSettings(window_order="vp3d", windows_per_epoch=100)
    with pytest.raises(ConfigError, match="random_half"):
        TrainSettings(window_order="vp3d", flip_mode="random_half")


def test_window_order_names_a_protocol_variant():
    from poselift.experiments.config import ExperimentConfig
    from poselift.experiments.data import resolve_protocol

    cfg = ExperimentConfig(name="x")
    cfg.data.dataset = "h36m"
    assert resolve_protocol(cfg).name == "h36m-vp3d" and resolve_protocol(cfg).window_order == "seeded"
    cfg.train.window_order = "vp3d"
    p = resolve_protocol(cfg)
    assert p.name == "h36m-vp3d[window_order=vp3d]" and p.window_order == "vp3d"


def test_a_run_with_videopose3ds_window_order_records_it(tmp_path):
    from poselift.experiments.config import DataConfig, EvalConfig, ExperimentConfig, ModelConfig, SyntheticConfig
    from poselift.experiments.train_eval import train_run

    cfg = ExperimentConfig(
        name="tiny", seed=0, device="cpu",
        data=DataConfig(dataset="synthetic", path=None, train_subjects=[], test_subjects=[],
                        synthetic=SyntheticConfig(subjects=1, test_subjects=1, num_frames=40, test_num_frames=40,
                                                  motions=["walk"])),
        model=ModelConfig(widths=[3], channels=8),
        train=TrainSettings(epochs=1, batch_size=32, progress=False, window_order="vp3d"),
        eval=EvalConfig(eval_every=0))
    metrics = train_run(cfg, tmp_path / "run", progress=False)
    assert metrics["protocol"]["window_order"] == "vp3d"
    assert "window_order: vp3d" in (tmp_path / "run" / "config.yaml").read_text()


def test_window_order_vp3d_with_unlabelled_windows_says_what_it_does_not_follow():
    rng = np.random.default_rng(0)
    x = [rng.normal(0, 0.3, (t, 17, 2)).astype(np.float32) for t in (12, 9)]
    labelled = WindowBank(x, 3, targets=[rng.normal(0, 0.2, (len(a), 17, 3)) for a in x],
                          trajectories=[rng.normal(0, 1, (len(a), 3)) for a in x])
    unlabelled = WindowBank(x, 3, intrinsics=[np.ones(9, np.float32) for _ in x])
    with pytest.warns(UserWarning, match="unlabelled windows are still drawn at random"):
        Trainer(TemporalLifter(17, 17, (3,), 8), labelled, TrainSettings(batch_size=8, window_order="vp3d",
                progress=False), "h36m17", "h36m17", device="cpu", unlabelled=unlabelled,
                traj_model=TemporalLifter(17, 1, (3,), 8))
