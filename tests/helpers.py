"""Helpers shared by the tests (``tests/`` is on ``sys.path``: ``from helpers import ...``)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from poselift.model.tcn import randomised  # noqa: F401  (one copy, shared with the benchmarks)

REPO = Path(__file__).resolve().parents[1]
"""The repository root."""


def h36m_path() -> Path:
    """Where the real Human3.6M archive is: ``$POSELIFT_H36M``, else ``../shared/data/h36m`` beside the repository."""
    env = os.environ.get("POSELIFT_H36M")
    return Path(env) if env else REPO.parent / "shared" / "data" / "h36m"


def h36m_or_skip() -> Path:
    """:func:`h36m_path`, or skip the test cleanly when the data is not there (a user's machine)."""
    root = h36m_path()
    if not (root / "cameras.h5").is_file():
        pytest.skip(f"Human3.6M not found at {root} (set POSELIFT_H36M)")
    return root

