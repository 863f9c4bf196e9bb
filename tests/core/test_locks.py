"""poselift.core.locks: one writer per folder, the holder named, stale temporaries cleaned only under the lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from poselift.core.errors import FolderBusyError
from poselift.core.locks import LOCK_FILE, lock_folder, lock_output

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the holder is killed with SIGKILL (POSIX)")

HOLD = """
import sys, time
from poselift.core.locks import lock_folder, lock_output
lock = (lock_output if sys.argv[1] == "output" else lock_folder)(sys.argv[2], "poselift train")
print("held", flush=True)
time.sleep(600)
"""


def hold(kind: str, path) -> subprocess.Popen:
    """Another process holding the lock (until killed)."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, kind, str(path)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path):
    run = tmp_path / "run"
    holder = hold("folder", run)
    try:
        (run / ".log.csv.abcd1234.tmp").write_text("the holder's write in flight")
        with pytest.raises(FolderBusyError, match=rf"{run} is in use: poselift train \(pid {holder.pid} on "
                                                  rf"[^,]+, since 20.*\) holds its lock"):
            lock_folder(run, "poselift evaluate")
        # the refused writer touched nothing: the holder's in-flight temporary file is still there
        assert (run / ".log.csv.abcd1234.tmp").read_text() == "the holder's write in flight"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the operating system released the killed holder's lock: the next writer gets it and cleans up
    with lock_folder(run, "poselift train") as lock:
        assert lock.removed == [run / ".log.csv.abcd1234.tmp"]
        assert not list(run.glob(".*.tmp")) and (run / LOCK_FILE).exists()
    assert not (run / LOCK_FILE).exists()  # removed on release: a finished run folder holds only its files


def test_locks_are_reentrant_within_a_process(tmp_path):
    outer = lock_folder(tmp_path / "run", "poselift reproduce")
    inner = lock_folder(tmp_path / "run", "poselift train")  # train_run inside reproduce_run
    assert inner is outer
    inner.release()
    assert outer.held and (tmp_path / "run" / LOCK_FILE).exists()
    code = ("import sys\nfrom poselift.core.locks import lock_folder\n"
            "try:\n    lock_folder(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True)
    assert r.stdout.startswith("FolderBusyError") and "poselift reproduce" in r.stdout
    outer.release()
    assert not outer.held
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == ""


def test_an_output_outside_a_run_folder_is_locked_beside_it(tmp_path):
    out = tmp_path / "exports" / "gt27"
    holder = hold("output", out)
    (tmp_path / "exports" / ".gt27.x1.tmp").mkdir()  # the holder's export folder in progress
    (tmp_path / "exports" / ".other.x1.tmp").write_text("someone else's")
    try:
        with pytest.raises(FolderBusyError, match="gt27 is in use: poselift train"):
            lock_output(out, "poselift export")
        assert (tmp_path / "exports" / ".gt27.x1.tmp").is_dir()
    finally:
        holder.kill()
        holder.wait()
    with lock_output(out, "poselift export") as lock:
        assert [p.name for p in lock.removed] == [".gt27.x1.tmp"]  # the killed holder's, and only this output's
    assert (tmp_path / "exports" / ".other.x1.tmp").exists()


def test_a_lock_file_removed_while_opening_is_not_trusted(tmp_path, monkeypatch):
    """The holder removes the lock file on release; a process that opened the old file must not hold a lock
    on it while a third one locks the new file."""
    import poselift.core.locks as L

    real = L._same_file
    calls = []

    def first_time_replaced(fd, path):
        calls.append(path)
        return real(fd, path) and len(calls) > 1

    monkeypatch.setattr(L, "_same_file", first_time_replaced)
    with lock_folder(tmp_path, "x") as lock:
        assert lock.held and len(calls) == 2  # retried on a fresh open
    assert not os.path.exists(tmp_path / LOCK_FILE)
