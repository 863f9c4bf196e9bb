"""Frames handed to the detectors: validation, resizing, normalisation into a network input, and tiling
(multi-scale inference on a fixed-size network magnifies the frame and runs the network on tiles)."""
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


def to_network_input(pixels: np.ndarray, size: tuple[int, int], channel_order: str = "RGB",
                     mean=(0.0, 0.0, 0.0), scale: float = 1.0, channels_first: bool = False) -> np.ndarray:
    """An ``(h, w, 3)`` RGB image placed at the top-left of a ``size`` = (width, height) canvas, normalised.

    The network sees ``(pixel - mean) * scale`` per channel in ``channel_order`` (``mean`` in that order);
    the rest of the canvas is a black pixel after the same normalisation. Returns ``(1, H, W, 3)`` float32,
    or ``(1, 3, H, W)`` with ``channels_first``.
    """
    nw, nh = size
    h, w = pixels.shape[:2]
    if w > nw or h > nh:
        raise InputError(f"an image of {w}x{h} does not fit a {nw}x{nh} network input")
    m = np.asarray(mean, np.float32).reshape(-1)
    if m.size == 1:
        m = np.repeat(m, 3)
    s = np.float32(scale)
    canvas = np.empty((nh, nw, 3), np.float32)
    canvas[...] = -m * s
    pix = pixels[..., ::-1] if channel_order.upper() == "BGR" else pixels
    region = canvas[:h, :w]
    if m.any():
        np.subtract(pix, m, out=region, casting="unsafe")
        region *= s
    else:
        np.multiply(pix, s, out=region, casting="unsafe")
    return np.ascontiguousarray(canvas.transpose(2, 0, 1))[None] if channels_first else canvas[None]


def tile_starts(total: int, size: int, align: int = 1, overlap: float = 0.25) -> list[int]:
    """Start offsets of tiles of ``size`` covering ``[0, total)``, neighbours overlapping by at least
    ``overlap`` of a tile, every start a multiple of ``align`` (the last tile may reach past ``total``
    by less than ``align``: that part is padding)."""
    if size < 1 or align < 1 or not 0 <= overlap < 1:
        raise InputError(f"bad tiling: size {size}, align {align}, overlap {overlap}")
    if total <= size:
        return [0]
    last = -(-(total - size) // align) * align  # the last start, rounded up to the grid
    step = max(align, int(size * (1 - overlap)) // align * align)
    n = -(-last // step) + 1
    starts = sorted({int(round(last * i / (n - 1) / align)) * align for i in range(n)})
    return starts
