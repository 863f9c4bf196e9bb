"""A training run killed with SIGKILL mid-epoch resumes and ends with the uninterrupted run's metrics."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CONFIG = """\
name: kill_test
seed: 3
device: cpu
data:
  dataset: synthetic
  path: null
  keypoints: gt
  synthetic: {subjects: 2, test_subjects: 1, num_frames: 300, test_num_frames: 200, seed: 0, test_seed: 1000}
model: {widths: [3, 3], channels: 64, dropout: 0.25}
train: {epochs: 6, batch_size: 128, lr_decay: 0.9, windows_per_epoch: 2048}
eval: {eval_every: 2, monitor_frames: 50}
"""


def _cmd(*args):
    return [sys.executable, "-m", "poselift", "--threads", "1", "train", *args, "--no-progress"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _epochs_logged(run: Path) -> int:
    try:
        return len(list(csv.DictReader(open(run / "log.csv"))))
    except FileNotFoundError:
        return 0


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_epoch_then_resume_gives_identical_metrics(tmp_path):
    cfg = tmp_path / "kill.yaml"
    cfg.write_text(CONFIG)
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_cmd(str(cfg), "--out", str(full)), check=True, env=_env(), capture_output=True, timeout=300)
    epoch_seconds = [float(r["epoch_seconds"]) for r in csv.DictReader(open(full / "log.csv"))]

    proc = subprocess.Popen(_cmd(str(cfg), "--out", str(killed)), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while _epochs_logged(killed) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed (make the config longer)"
        time.sleep(0.5 * min(epoch_seconds))  # into the middle of the third epoch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    done = _epochs_logged(killed)
    assert 2 <= done < 6 and not (killed / "metrics.json").exists()

    r = subprocess.run(_cmd(str(cfg), "--resume", str(killed)), env=_env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stdout
    assert (killed / "metrics.json").read_text() == (full / "metrics.json").read_text()
    rows = list(csv.DictReader(open(killed / "log.csv")))
    ref = list(csv.DictReader(open(full / "log.csv")))
    assert [x["epoch"] for x in rows] == [str(i) for i in range(1, 7)]
    for a, b in zip(rows, ref):  # every logged loss, lr and BN momentum equal, not only the last
        assert {k: a[k] for k in a if "seconds" not in k and "per_second" not in k} == \
               {k: b[k] for k in b if "seconds" not in k and "per_second" not in k}
    assert not list(killed.glob(".*.tmp"))


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    from poselift.commands import main

    cfg = tmp_path / "kill.yaml"
    cfg.write_text(CONFIG)
    (tmp_path / "empty").mkdir()
    assert main(["train", str(cfg), "--resume", str(tmp_path / "empty"), "--no-progress"]) == 1
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", str(cfg), "--resume", str(tmp_path / "empty"), "--restart"]) == 1
    assert "contradict" in capsys.readouterr().err
