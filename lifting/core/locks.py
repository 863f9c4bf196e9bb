"""Advisory locks on the folders poselift writes: one writer per run folder.

Every command that writes a run folder (``train``, ``train --resume``,
``evaluate``, ``reproduce``'s new folder, ``export``) holds its lock for as
long as it writes; a second writer is refused at once with a
:class:`~poselift.core.errors.FolderBusyError` naming the holder::

    runs/gt27 is in use: poselift train (pid 4711 on gpu-node-3, since 2026-11-21T10:15:00) holds its lock
    (.poselift.lock); wait for it to finish, or use another folder

The lock is ``fcntl.flock`` on the file ``.poselift.lock`` inside the folder
(``msvcrt.locking`` on Windows), which exists while the lock is held (it names
the holder) and is removed on release. The operating system releases the lock
when the holder exits, however it exits (SIGKILL included, which leaves the
file behind), so a stale lock never blocks anyone. Taking the lock is
also the one moment stale temporary files (``.*.tmp``, what a kill during an
atomic write leaves, :mod:`poselift.core.io`) are removed: nobody else can be
writing them then.

Locks are re-entrant within a process (``train_run`` inside ``reproduce``
inside ``demo`` lock the same folder once). Advisory means poselift's own
processes respect it; other programs are not stopped. On network file systems
without ``flock`` support the lock may not exclude writers on other machines.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

from poselift.core.errors import FolderBusyError

__all__ = ["LOCK_FILE", "FolderLock", "lock_folder", "lock_output", "clean_stale"]

LOCK_FILE = ".poselift.lock"
"""Name of the lock file inside a locked folder."""

_HELD: dict[str, "FolderLock"] = {}  # resolved lock-file path -> the lock this process holds
_GUARD = threading.Lock()


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _same_file(fd: int, path: Path) -> bool:
    """The open file ``fd`` is still the file at ``path`` (not removed or replaced meanwhile)."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _holder_text(lock_file: Path) -> str:
    try:
        info = json.loads(lock_file.read_text(encoding="utf-8"))
        return (f"{info.get('command', 'poselift')} (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
                f"since {info.get('since', '?')})")
    except (OSError, ValueError, AttributeError):
        return "another poselift process"


def clean_stale(folder: Path, pattern: str = ".*.tmp") -> list[Path]:
    """Remove the temporary files and folders matching ``pattern`` in ``folder``; returns what was removed.

    Call only while holding the folder's lock (:func:`lock_folder` does).
    """
    removed = []
    for p in sorted(Path(folder).glob(pattern)):
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


class FolderLock:
    """An exclusive advisory lock held through an open lock file (see the module docstring).

    Use :func:`lock_folder` or :func:`lock_output`; release with :meth:`release` or a ``with`` block.

    Attributes:
        folder: the folder protected.
        lock_file: the file locked.
        command: what the holder is doing (for the refusal message of others).
        removed: stale temporary files removed when the lock was taken.
    """

    def __init__(self, folder: Path, lock_file: Path, command: str, stale: str) -> None:
        self.folder, self.lock_file, self.command = folder, lock_file, command
        self._stale = stale
        self._fd: int | None = None
        self._depth = 0
        self.removed: list[Path] = []

    def _acquire(self) -> "FolderLock":
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                ok = _try_lock(fd)
            except OSError as e:  # a file system without locks: say so rather than pretend
                os.close(fd)
                raise OSError(f"{self.lock_file}: cannot take a lock ({e.strerror or e}); this file system does "
                              "not support file locks") from None
            if not ok:
                os.close(fd)
                raise FolderBusyError(
                    f"{self.folder} is in use: {_holder_text(self.lock_file)} holds its lock "
                    f"({self.lock_file.name}); wait for it to finish, or use another folder")
            if _same_file(fd, self.lock_file):
                break
            # the holder removed the file as we opened it: our lock is on a file nobody else will open
            _unlock(fd)
            os.close(fd)
        info = {"command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        except OSError as e:  # a full disk: leave no lock file behind, and say which file
            with contextlib.suppress(OSError):
                self.lock_file.unlink()
            _unlock(fd)
            os.close(fd)
            raise OSError(e.errno, e.strerror, str(self.lock_file)) from None
        self._fd = fd
        self.removed = clean_stale(self.lock_file.parent, self._stale)
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Release one level of the lock (the file lock goes when the outermost holder releases)."""
        with _GUARD:
            if self._fd is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            key = str(self.lock_file)
            if _HELD.get(key) is self:
                del _HELD[key]
            fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(FileNotFoundError, PermissionError):
                self.lock_file.unlink()  # still holding it: a process opening it now retries (see _acquire)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _take(folder: Path, lock_file: Path, command: str, stale: str) -> FolderLock:
    key = str(lock_file)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None and held.held:
            held._depth += 1
            return held
        lock = FolderLock(folder, lock_file, command, stale)._acquire()
        lock._depth = 1
        _HELD[key] = lock
        return lock


def lock_folder(folder: str | os.PathLike, command: str = "poselift") -> FolderLock:
    """Lock ``folder`` (created if missing) for writing, then remove its stale ``.*.tmp`` files.

    Args:
        folder: a run folder.
        command: what the caller does, shown to a refused second writer (e.g. ``"poselift train"``).

    Raises:
        FolderBusyError: another process holds the lock (the message names it).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        from poselift.core.errors import InputError

        raise InputError(f"{folder}: is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return _take(folder, (folder / LOCK_FILE).resolve(), command, ".*.tmp")


def lock_output(path: str | os.PathLike, command: str = "poselift") -> FolderLock:
    """Lock an output (a file or folder) that lives outside a run folder: ``.<name>.lock`` beside it.

    Stale temporaries of that output only (``.<name>.*.tmp``) are removed when
    the lock is taken. Raises :class:`FolderBusyError` like :func:`lock_folder`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _take(path, (path.parent / f".{path.name}.lock").resolve(), command, f".{path.name}.*.tmp")
