"""Helpers shared by the tests (``tests/`` is on ``sys.path``: ``from helpers import ...``)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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


def randomised(model, seed: int = 0):
    """Non-trivial BatchNorm statistics and affine parameters, eval mode, so that eval-mode outputs (and
    folding) are not degenerate."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g, dtype=m.running_mean.dtype) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g, dtype=m.running_var.dtype) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g, dtype=m.weight.dtype) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g, dtype=m.bias.dtype) * 0.1)
    return model.eval()
