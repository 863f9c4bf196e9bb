"""Frames handed to the detectors: validation and resizing."""
from __future__ import annotations

import numpy as np

from poselift.core.errors import InputError


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Validate an ``(H, W, 3)`` uint8 (or float in [0, 255]) RGB frame."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"{what} must be (height, width, 3) RGB, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise InputError(f"{what} is empty (shape {img.shape})")
    if img.dtype != np.uint8 and not np.isfinite(img).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return img


def resize_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Antialiased bilinear resize of an ``(H, W, 3)`` frame (Pillow; pixel-centre aligned)."""
    from PIL import Image

    img = np.asarray(image)
    if img.shape[1] == width and img.shape[0] == height:
        return img
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    # reducing_gap: box-reduce by an integer factor first, then bilinear (antialiased, about 2x faster)
    return np.asarray(Image.fromarray(img).resize((int(width), int(height)), Image.BILINEAR, reducing_gap=1.5))
