"""Where torch runs: the device, the number of CPU threads, and a one-line description of the machine."""
from __future__ import annotations

import os
import platform

from poselift.core.errors import InputError

__all__ = ["resolve_device", "threads_setting", "set_threads", "machine_description"]

THREADS_ENV = "POSELIFT_THREADS"


def resolve_device(device=None):
    """``"auto"`` (or ``None``) -> CUDA when a device really works, else CPU; anything else as given.

    Raises:
        InputError: a CUDA device asked for on a machine where torch has no working CUDA, or a
            device string torch does not know.
    """
    import torch

    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            try:
                torch.zeros(1, device="cuda")
                return torch.device("cuda")
            except Exception:  # noqa: BLE001 - a driver that lists a device it cannot use
                pass
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise InputError(f"unknown device {device!r} ({e}); use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch has no CUDA support" if torch.version.cuda is None else "no CUDA device is usable"
            raise InputError(f"device {device!r}: {why}; use --device cpu (or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def threads_setting(threads: int | None = None) -> int | None:
    """The CPU thread count to use: ``threads`` when given, else ``$POSELIFT_THREADS``, else ``None`` (torch's choice).

    Raises:
        InputError: a count below 1, or ``$POSELIFT_THREADS`` that is not a whole number.
    """
    if threads is None:
        env = os.environ.get(THREADS_ENV, "").strip()
        if not env:
            return None
        try:
            threads = int(env)
        except ValueError:
            raise InputError(f"${THREADS_ENV}={env!r}: expected a whole number of threads (1 or more)") from None
        source = f"${THREADS_ENV}"
    else:
        source = "--threads"
    if threads < 1:
        raise InputError(f"{source} {threads}: the number of CPU threads must be 1 or more")
    return int(threads)


def set_threads(threads: int | None = None) -> int | None:
    """Apply :func:`threads_setting` to torch (only when a count is set); returns it."""
    n = threads_setting(threads)
    if n is not None:
        import torch

        torch.set_num_threads(n)
    return n


def machine_description(device=None) -> str:
    """One line: the CPU model and cores (with torch's version and thread count), or the GPU name."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
