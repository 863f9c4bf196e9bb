"""Window gathering, the training loop, checkpoints and resume."""
import csv

import numpy as np
import pytest
import torch

from poselift.checkpoint import CHECKPOINT
from poselift.core.errors import ConfigError, FileFormatError
from poselift.core.layouts import H36M17
from poselift.core.mirror import flip_keypoints
from poselift.datasets.synthetic import make_dataset
from poselift.inference import load_lifter
from poselift.model.tcn import TemporalLifter
from poselift.training.trainer import Trainer, TrainSettings, bn_momentum_at
from poselift.training.window_bank import WindowBank


@pytest.fixture(scope="module")
def seqs():
    return make_dataset(subjects=1, motions=["walk", "squat"], num_frames=60, seed=0)


def test_window_bank_gathers_edge_padded_windows():
    a = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 2), np.float32)
    b = 10 + np.arange(3, dtype=np.float32)[:, None, None] * np.ones((3, 2, 2), np.float32)
    bank = WindowBank([a, b], receptive_field=5, targets=[np.zeros((5, 2, 3)), np.ones((3, 2, 3))])
    assert bank.num_windows == 8
    w = bank.windows(torch.tensor([0, 4, 5, 7]))[..., 0, 0]
    assert w.tolist() == [[0, 0, 0, 1, 2], [2, 3, 4, 4, 4], [10, 10, 10, 11, 12], [10, 11, 12, 12, 12]]
    assert bank.targets[torch.tensor([4, 5])][:, 0, 0].tolist() == [0, 1]
    causal = WindowBank([a], receptive_field=3, causal=True, frame_stride=2)
    assert causal.windows(torch.arange(causal.num_windows))[..., 0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [2, 3, 4]]
    chunk = WindowBank([a], receptive_field=3, frame_ranges=[(1, 3)])
    assert chunk.centre_inputs(torch.arange(chunk.num_windows))[:, 0, 0].tolist() == [1, 2]
    with pytest.raises(ValueError, match="NaN"):
        WindowBank([np.full((4, 2, 2), np.nan, np.float32)], 3)


def test_flip_keypoints_mirrors_and_swaps():
    x = torch.randn(3, 17, 2)
    f = flip_keypoints(x, H36M17.flip_permutation)
    assert torch.equal(f[:, 1, 0], -x[:, 4, 0]) and torch.equal(f[:, 1, 1], x[:, 4, 1])
    assert torch.equal(flip_keypoints(f, H36M17.flip_permutation), x)


def _trainer(seqs, run_dir=None, epochs=3, **kw):
    torch.manual_seed(0)
    model = TemporalLifter(17, 17, (3, 3), channels=32)
    bank = WindowBank([s.inputs() for s in seqs], model.receptive_field,
                      targets=[s.root_relative_3d() for s in seqs])
    settings = TrainSettings(epochs=epochs, batch_size=64, progress=False, seed=1, **kw)
    return Trainer(model, bank, settings, "h36m17", "h36m17", run_dir=run_dir, device="cpu")


def test_training_reduces_the_error(seqs):
    tr = _trainer(seqs, epochs=6, lr=3e-3)
    hist = tr.fit()
    assert hist[-1]["loss_pose"] < 0.6 * hist[0]["loss_pose"]
    assert [h["epoch"] for h in hist] == list(range(1, 7))
    assert hist[1]["lr"] == pytest.approx(3e-3 * 0.95)
    assert hist[0]["bn_momentum"] == pytest.approx(0.1)


def test_bn_momentum_schedule():
    assert bn_momentum_at(0, 60, 0.1, 0.001) == pytest.approx(0.1)
    assert bn_momentum_at(30, 60, 0.1, 0.001) == pytest.approx(0.01)
    assert bn_momentum_at(60, 60, 0.1, 0.001) == pytest.approx(0.001)


def test_checkpoint_resume_reproduces_an_uninterrupted_run(seqs, tmp_path, monkeypatch):
    full = _trainer(seqs, tmp_path / "full", epochs=3)
    full.fit()
    crashed = _trainer(seqs, tmp_path / "part", epochs=3)
    original = Trainer._train_epoch

    def crash_in_third_epoch(self):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "_train_epoch", crash_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit()
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    resumed = _trainer(seqs, tmp_path / "part", epochs=3)
    assert resumed.try_resume() and resumed.epoch == 2
    resumed.fit()
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b)
    rows = list(csv.DictReader(open(tmp_path / "part" / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[2]["loss_pose"]) == pytest.approx(full.history[2]["loss_pose"], rel=1e-5)
    assert not list((tmp_path / "part").glob(".*tmp"))  # atomic writes leave nothing behind


def test_a_trainer_used_directly_writes_checkpoints_that_load_back_as_trained(seqs, tmp_path):
    """How the 2D was normalised and the flip test are constructor arguments, written into every checkpoint:
    a Trainer used without the experiment runner (as the benchmark does) no longer writes a checkpoint that
    load_lifter reads back as image-normalised with flip test on."""
    torch.manual_seed(0)
    model = TemporalLifter(17, 17, (3, 3), channels=8, in_features=2)
    bank = WindowBank([s.inputs() for s in seqs], 9, targets=[s.root_relative_3d() for s in seqs])
    tr = Trainer(model, bank, TrainSettings(epochs=1, batch_size=64, progress=False), "h36m17", "h36m17",
                 run_dir=tmp_path, device="cpu", normalization="torso", flip_test=False)
    tr.fit()
    lifter = load_lifter(tmp_path, device="cpu")
    assert lifter.normalization == "torso" and lifter.flip_test is False
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["extra"] == {
        "flip_test": False, "features": 2, "normalization": "torso"}
    with pytest.raises(AttributeError):
        tr.extra = {}  # state comes in through the constructor, not from outside
    with pytest.raises(ConfigError, match="normalization must be one of"):
        Trainer(model, bank, TrainSettings(epochs=1), "h36m17", "h36m17", normalization="pixels")


def test_resume_refuses_a_different_model_or_a_corrupt_checkpoint(seqs, tmp_path):
    _trainer(seqs, tmp_path, epochs=1).fit()
    other = TemporalLifter(17, 17, (3, 3), channels=16)
    bank = WindowBank([s.inputs() for s in seqs], 9, targets=[s.root_relative_3d() for s in seqs])
    tr = Trainer(other, bank, TrainSettings(epochs=2, progress=False), "h36m17", "h36m17", run_dir=tmp_path)
    with pytest.raises(ValueError, match="differs"):
        tr.fit()
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(FileFormatError, match="cannot resume: .*checkpoint.pt"):
        _trainer(seqs, tmp_path, epochs=2).fit()


def test_trainer_checks_its_inputs(seqs):
    model = TemporalLifter(17, 17, (3, 3), channels=8)
    bank = WindowBank([s.inputs() for s in seqs], 27, targets=[s.root_relative_3d() for s in seqs])
    with pytest.raises(ValueError, match="do not match the model"):
        Trainer(model, bank, TrainSettings(epochs=1), "h36m17", "h36m17")
    bank = WindowBank([s.inputs() for s in seqs], 9)
    with pytest.raises(ValueError, match="no 3D targets"):
        Trainer(model, bank, TrainSettings(epochs=1), "h36m17", "h36m17")
    with pytest.raises(ValueError, match="epochs"):
        TrainSettings(epochs=0)


def test_non_finite_loss_stops_training_with_a_clear_error(seqs, tmp_path, monkeypatch):
    tr = _trainer(seqs, tmp_path, epochs=2)
    real = Trainer.compute_losses

    def poisoned(self, idx_l, idx_u):
        losses = real(self, idx_l, idx_u)
        if self.epoch == 1:
            losses["pose"] = losses["pose"] * float("nan")
        return losses

    monkeypatch.setattr(Trainer, "compute_losses", poisoned)
    with pytest.raises(FloatingPointError, match="non-finite in epoch 2"):
        tr.fit()
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["epoch"] == 1  # the checkpoint of the last good epoch survives


def test_the_log_follows_the_checkpoint_after_a_kill_between_them(seqs, tmp_path, monkeypatch):
    """A kill after the last checkpoint but before log.csv: the same command again completes the log."""
    full = _trainer(seqs, tmp_path / "full", epochs=2)
    full.fit()
    original = Trainer._write_log

    def killed_before_the_last_log(self):
        if self.epoch == self.settings.epochs:
            raise KeyboardInterrupt  # the checkpoint of the last epoch is written, the log is not
        original(self)

    monkeypatch.setattr(Trainer, "_write_log", killed_before_the_last_log)
    with pytest.raises(KeyboardInterrupt):
        _trainer(seqs, tmp_path / "run", epochs=2).fit()
    monkeypatch.setattr(Trainer, "_write_log", original)
    assert torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)["epoch"] == 2
    assert len(list(csv.DictReader(open(tmp_path / "run" / "log.csv")))) == 1  # one row short
    again = _trainer(seqs, tmp_path / "run", epochs=2)
    assert again.fit() == again.history and again.epoch == 2  # nothing left to train...
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))  # ...but the log now agrees
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["loss_pose"]) == pytest.approx(full.history[1]["loss_pose"], rel=1e-5)


def test_a_diverging_run_says_what_was_kept(seqs, tmp_path, monkeypatch):
    real = Trainer.compute_losses

    def diverged(self, idx_l, idx_u):
        return {k: v * float("inf") for k, v in real(self, idx_l, idx_u).items()}

    monkeypatch.setattr(Trainer, "compute_losses", diverged)
    with pytest.raises(FloatingPointError, match=r"non-finite in epoch 1 .*learning rate \(0.001\) may be too high; "
                                                 "no checkpoint was written"):
        _trainer(seqs, tmp_path, epochs=2).fit()
    assert not (tmp_path / CHECKPOINT).exists()


def test_windows_per_epoch_is_a_count_not_a_slice(seqs):
    with pytest.raises(ValueError, match="windows_per_epoch must be >= 1"):
        TrainSettings(windows_per_epoch=-5)
    row = _trainer(seqs, epochs=1, windows_per_epoch=100).fit()[0]
    assert round(row["windows_per_second"] * row["epoch_seconds"]) == 100  # windows trained in the epoch


def test_a_duplicate_epoch_holds_every_window_twice_plain_and_mirrored(seqs, monkeypatch):
    """VideoPose3D's epoch: 2 N samples, window k plain and mirrored once each, so twice the optimiser steps
    of a random-half epoch at the same batch size."""
    seen = {}

    def record(self, idx, idx_u=None):
        w, m = self._split_duplicates(idx, self.labelled) if self.settings.effective_flip_mode == "duplicate" else (
            idx, None)
        seen.setdefault("batches", []).append((w.tolist(), None if m is None else m.tolist()))
        return {"loss_pose": self.model.expand_conv.weight.sum() * 0.0}

    monkeypatch.setattr(Trainer, "compute_losses", record)
    dup = _trainer(seqs, epochs=1, flip_mode="duplicate")
    n = dup.labelled.num_windows
    dup.fit()
    batches = seen.pop("batches")
    assert len(batches) == -(-2 * n // 64)  # ceil(2N / batch)
    pairs = sorted((w, bool(m)) for ws, ms in batches for w, m in zip(ws, ms))
    assert pairs == sorted([(k, False) for k in range(n)] + [(k, True) for k in range(n)])
    _trainer(seqs, epochs=1, flip_mode="random_half").fit()
    half = seen.pop("batches")
    assert len(half) == -(-n // 64)
    assert sorted(w for ws, _ in half for w in ws) == list(range(n))


def test_windows_per_epoch_beyond_the_samples_is_an_error_not_a_cap(seqs):
    n = _trainer(seqs, epochs=1).labelled.num_windows
    _trainer(seqs, epochs=1, windows_per_epoch=2 * n, flip_mode="duplicate").fit()  # every sample once: fine
    with pytest.raises(ValueError, match=rf"windows_per_epoch = {2 * n + 1:,} but an epoch can hold at most the "
                                         rf"{n:,} windows, plain and mirrored \({2 * n:,} samples\)"):
        _trainer(seqs, epochs=1, windows_per_epoch=2 * n + 1, flip_mode="duplicate").fit()
    with pytest.raises(ValueError, match=rf"at most the {n:,} windows; use a number"):
        _trainer(seqs, epochs=1, windows_per_epoch=n + 1, flip_mode="random_half").fit()


def test_every_epoch_steps_with_the_settings_dropout_draws_and_no_per_batch_check(seqs, monkeypatch):
    """_train_epoch itself (as poselift bench calls it, without fit) uses train.dropout_rng and skips the
    per-batch finiteness check (a host sync per step on a GPU), per call: the model's own settings (constructor
    arguments) are left as they were, so it still checks its input outside training."""
    import poselift.model.tcn as tcn

    seen, checks = [], []
    real, real_check = tcn.strided_forward, tcn.check_finite

    def spy(model, x, rng="compat"):
        seen.append(rng)
        return real(model, x, rng)

    def check_spy(x, what):
        checks.append(what)
        return real_check(x, what)

    monkeypatch.setattr(tcn, "strided_forward", spy)
    monkeypatch.setattr(tcn, "check_finite", check_spy)
    tr = _trainer(seqs, epochs=1, dropout_rng="fast", windows_per_epoch=128)
    tr._train_epoch()
    assert seen and set(seen) == {"fast"} and not checks
    assert tr.model.validate_inputs is True and tr.model.dropout_rng == "compat"  # not flipped by the trainer
    with pytest.raises(ValueError, match="NaN"):
        tr.model.forward_windows(torch.full((2, 9, 17, 2), float("nan")))
    assert checks == ["input"]
