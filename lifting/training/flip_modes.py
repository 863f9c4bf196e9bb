"""What a training epoch holds with horizontal-flip augmentation: the one list of flip modes.

Kept apart from :mod:`~poselift.training.trainer` (which implements them) so that the protocols of
:mod:`poselift.datasets.protocols` can name them without importing torch.
"""
from __future__ import annotations

__all__ = ["FLIP_MODES"]

FLIP_MODES = ("duplicate", "random_half", "off")
"""``duplicate``: an epoch holds every training window twice, plain and mirrored, shuffled together (VideoPose3D);
``random_half``: every window once, a random half of each batch mirrored; ``off``: no flip augmentation."""
