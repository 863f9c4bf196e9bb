"""Concurrent writers and kills: a run folder has one writer at a time, and a kill at any point of an export
or a training leaves files that agree with each other.

* a second ``train`` / ``train --resume`` / ``evaluate`` / ``export`` / ``reproduce`` into a folder that
  another process is writing is refused at once, naming the holder, and touches nothing (not even the
  holder's in-flight temporary files);
* an export killed (SIGKILL) after each of its steps leaves the old export or the new one, both loadable and
  matching their recorded hashes, and the next export cleans up;
* a run that fails before its first checkpoint leaves no run folder; ``--restart`` leaves no results of the
  old run beside the new one; stale temporaries of a killed run are removed by the next one.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import poselift.core.io as pio
import poselift.model.onnx as onnx_mod
from poselift.commands import main
from poselift.core.errors import FileFormatError, FolderBusyError
from poselift.core.locks import LOCK_FILE

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL") or not hasattr(os, "fork"),
                                reason="kills processes with SIGKILL (POSIX)")

CONFIG = """\
name: tiny
seed: 0
device: cpu
data:
  dataset: synthetic
  path: null
  synthetic: {subjects: 1, test_subjects: 1, num_frames: 120, test_num_frames: 60}
model: {widths: [3, 3], channels: 16, dropout: 0.1}
train: {epochs: 2, batch_size: 64, windows_per_epoch: 256, progress: false}
eval: {eval_every: 0}
"""

HOLD = """
import sys, time
from poselift.core.locks import lock_folder
lock = lock_folder(sys.argv[1], "poselift train")
open(sys.argv[2], "w").write("the holder's write in flight")
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def cfg(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CONFIG)
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------- concurrent writers
def test_every_writer_is_refused_while_another_process_writes_the_folder(tmp_path, cfg, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(CONFIG)
    (run / "checkpoint.pt").write_bytes(b"the holder's checkpoint")
    source = tmp_path / "source"  # a finished run to reproduce into the busy folder
    source.mkdir()
    (source / "config.yaml").write_text(CONFIG)
    (source / "metrics.json").write_text("{}")
    in_flight = run / ".log.csv.abcd1234.tmp"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run), str(in_flight)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != LOCK_FILE}
        for argv in (["train", str(cfg), "--out", str(run)], ["train", str(cfg), "--resume", str(run)],
                     ["evaluate", str(run)], ["export", str(run)], ["reproduce", str(source), "--out", str(run)]):
            assert main(argv + ["--no-progress"] * (argv[0] != "export")) == 1, argv
            err = _one_line(capsys)
            assert f"{run} is in use: poselift train (pid {holder.pid} on " in err, err
            assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != LOCK_FILE} == before, argv
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_two_trainings_into_one_folder(tmp_path, cfg, capsys):
    """The issue's reproduction: the second ``train`` (and a ``--resume``) while the first runs are refused;
    the first finishes undisturbed."""
    cfg.write_text(CONFIG.replace("epochs: 2", "epochs: 40"))
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "poselift", "--threads", "1", "train", str(cfg), "--out", str(run),
                              "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoint.pt").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended too early"
        assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 1
        assert main(["train", str(cfg), "--resume", str(run), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert err.count(f"is in use: poselift train (pid {first.pid} on ") == 2, err
        assert first.poll() is None, "the first run ended before the others were refused (make it longer)"
        _, err1 = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err1
    assert (run / "metrics.json").exists() and not list(run.glob(".*"))


# --------------------------------------------------------------------------- kill points inside an export
def _tiny_model(seed: int):
    from helpers import randomised

    from poselift.model.tcn import TemporalLifter

    torch.manual_seed(seed)
    return randomised(TemporalLifter(17, 17, (3, 3), channels=8), seed)


def _killed_export(model, out: Path, point: int) -> int:
    """Export ``model`` into ``out`` in a forked child that SIGKILLs itself after step ``point``; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            count = [0]

            def step():
                count[0] += 1
                if count[0] == point:
                    os.kill(os.getpid(), signal.SIGKILL)

            def after(fn):
                def wrapped(*a, **k):
                    out_ = fn(*a, **k)
                    step()
                    return out_
                return wrapped

            torch.set_num_threads(1)
            onnx_mod._write_onnx = after(onnx_mod._write_onnx)  # 1, 2: each .onnx file written
            onnx_mod.file_sha256 = after(onnx_mod.file_sha256)  # 3, 4: each hash
            onnx_mod.atomic_write_json = after(onnx_mod.atomic_write_json)  # 5: export.json
            pio._fsync_tree = after(pio._fsync_tree)  # 6: the new folder complete, not yet swapped in
            pio._exchange = after(pio._exchange)  # 7: swapped, the old folder not yet removed
            onnx_mod.export_onnx(model, out)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(3)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the export child hung at kill point {point}")


def test_an_export_killed_at_any_step_leaves_the_old_or_the_new_export(tmp_path):
    from poselift.model.onnx import export_onnx, read_export
    from poselift.model.onnx_runtime import OnnxSequenceModel, OnnxStepModel

    old, new = _tiny_model(0), _tiny_model(1)
    x = np.random.default_rng(0).normal(0, 0.3, (1, 30, 17, 2)).astype(np.float32)
    export_onnx(new, tmp_path / "reference")
    y_new = OnnxSequenceModel(tmp_path / "reference")(x)
    out = tmp_path / "export"
    seen = []
    for point in range(1, 8):
        export_onnx(old, out)
        y_old = OnnxSequenceModel(out)(x)
        assert not np.allclose(y_old, y_new)
        assert _killed_export(new, out, point) == -signal.SIGKILL
        read_export(out)  # every file matches the hash export.json records
        y = OnnxSequenceModel(out)(x)
        OnnxStepModel(out)  # the step model of the same export loads too
        state = "old" if np.array_equal(y, y_old) else "new" if np.array_equal(y, y_new) else "mixed"
        assert state != "mixed", point
        seen.append(state)
        assert len(list(tmp_path.glob(".export.*.tmp"))) == 1  # the killed export's new (after the swap: old) folder
        export_onnx(new, out)  # the next export replaces the folder and removes the killed one's temporary
        np.testing.assert_array_equal(OnnxSequenceModel(out)(x), y_new)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert seen == ["old"] * 6 + ["new"]


def test_a_folder_mixing_two_exports_is_detected(tmp_path):
    from poselift.model.onnx import export_onnx, read_export
    from poselift.model.onnx_runtime import OnnxSequenceModel, OnnxStepModel

    export_onnx(_tiny_model(0), tmp_path / "old")
    export_onnx(_tiny_model(1), tmp_path / "new")
    (tmp_path / "new" / "lifter.onnx").write_bytes((tmp_path / "old" / "lifter.onnx").read_bytes())
    with pytest.raises(FileFormatError, match=r"lifter.onnx: differs from the file export.json describes \(SHA-256 "
                                              r"mismatch\): the folder mixes two exports"):
        OnnxSequenceModel(tmp_path / "new")
    with pytest.raises(FileFormatError, match="SHA-256 mismatch"):
        read_export(tmp_path / "new")
    OnnxStepModel(tmp_path / "new")  # its own file still matches
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds other files than an export \(notes.txt\)"):
        export_onnx(_tiny_model(0), tmp_path / "other")  # never replaces a folder of the user's files
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------- run folders across failures and kills
def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(tmp_path, cfg, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for sets in (["data.keypoints=sh"], ["train.lr=1.0e+30"]):  # fails at the data; diverges in epoch 1
        assert main(["train", str(cfg), "--no-progress"] + [a for s in sets for a in ("--set", s)]) == 1
        _one_line(capsys)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]  # not even runs/
    (tmp_path / "runs").mkdir()
    assert main(["train", str(cfg), "--out", "runs/x", "--set", "data.keypoints=sh"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "tiny.yaml"] and not list((tmp_path / "runs").iterdir())


def test_stale_temporaries_go_and_a_restart_leaves_no_old_results(tmp_path, cfg, monkeypatch):
    from poselift.experiments.config import load_config
    from poselift.experiments.train_eval import train_run
    from poselift.training.trainer import Trainer

    run = tmp_path / "run"
    run.mkdir()
    (run / ".checkpoint.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")  # a kill inside the first save
    train_run(load_config(cfg), run, progress=False)
    assert not list(run.glob(".*")) and (run / "metrics.json").exists()

    def killed(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_train_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        train_run(load_config(cfg), run, progress=False, resume=False)  # --restart, killed in its first epoch
    # nothing of the old run can be mistaken for the new one's results
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "run.json"]


def test_a_second_writer_in_the_same_folder_from_python_too(tmp_path, cfg):
    """The API refuses like the command line (the lock is in train_run, not in the argument parsing)."""
    from poselift.experiments.config import load_config
    from poselift.experiments.train_eval import train_run

    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run), str(tmp_path / "x")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError, match="is in use: poselift train"):
            train_run(load_config(cfg), run, progress=False)
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]
    finally:
        holder.kill()
        holder.wait()
