"""poselift.core.device: thread and device settings refuse what cannot be honoured, with a clear message."""
from __future__ import annotations

import pytest
import torch

from poselift.core.device import resolve_device, threads_setting
from poselift.core.errors import InputError


def test_threads_setting(monkeypatch):
    monkeypatch.delenv("POSELIFT_THREADS", raising=False)
    assert threads_setting(None) is None and threads_setting(3) == 3
    monkeypatch.setenv("POSELIFT_THREADS", "2")
    assert threads_setting(None) == 2
    monkeypatch.setenv("POSELIFT_THREADS", "abc")
    with pytest.raises(InputError, match=r"\$POSELIFT_THREADS='abc': expected a whole number"):
        threads_setting(None)
    with pytest.raises(InputError, match="--threads -1: the number of CPU threads must be 1 or more"):
        threads_setting(-1)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="unknown device 'tpu9'"):
        resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="device 'cuda'"):
            resolve_device("cuda")
