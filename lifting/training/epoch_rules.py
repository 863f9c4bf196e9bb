"""What a training epoch holds and in which order: the one list of flip modes and of window orders.

Kept apart from :mod:`~poselift.training.trainer` (which implements them) so that the protocols of
:mod:`poselift.datasets.protocols` can name them without importing torch.
"""
from __future__ import annotations

__all__ = ["FLIP_MODES", "WINDOW_ORDERS"]

FLIP_MODES = ("duplicate", "random_half", "off")
"""``duplicate``: an epoch holds every training window twice, plain and mirrored, shuffled together (VideoPose3D);
``random_half``: every window once, a random half of each batch mirrored; ``off``: no flip augmentation."""

WINDOW_ORDERS = ("seeded", "vp3d")
"""How each training epoch's window order is drawn: ``seeded``: from the run's seed (poselift); ``vp3d``: VideoPose3D's
``ChunkedGenerator`` order, a ``numpy.random.RandomState(1234)`` permutation of its pair list, the same in every run.
Both are uniform shuffles of the same samples (experiments/scripts/vp3d_window_check.py compares them window by
window)."""
