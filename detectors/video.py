"""Reading video frames with PyAV (its wheels bundle FFmpeg: no system ffmpeg needed).

:func:`probe_video` gives size, frame rate and (when the container says) the
frame count; :func:`read_frames` yields ``(index, frame)`` with frames as
``(H, W, 3)`` uint8 RGB. A still image (``.png``, ``.jpg``, ...) reads as a
one-frame video (through Pillow). Writing lives in :mod:`poselift.render`
(:func:`~poselift.render.write_video`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from poselift.render import write_video

__all__ = ["VideoInfo", "probe_video", "read_frames", "write_video", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class VideoInfo:
    """Attributes: width, height (pixels), fps, num_frames (0 when the container does not say), path."""

    width: int
    height: int
    fps: float
    num_frames: int
    path: str


def _check(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such video: {p}")
    if p.is_dir():
        raise ValueError(f"{p} is a folder, not a video")
    return p


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate and frame count of a video (or still image)."""
    p = _check(path)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(p) as im:
                w, h = im.size
        except OSError as e:
            raise ValueError(f"{p}: not a readable image ({e})") from None
        return VideoInfo(w, h, 1.0, 1, str(p))
    import av

    try:
        with av.open(str(p)) as c:
            if not c.streams.video:
                raise ValueError(f"{p}: no video stream")
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate or s.base_rate
            fps = float(rate) if rate else 0.0
            n = int(s.frames or 0)
            if n == 0 and s.duration and s.time_base and fps:
                n = int(round(float(s.duration * s.time_base) * fps))
            return VideoInfo(int(s.codec_context.width), int(s.codec_context.height), fps, n, str(p))
    except av.FFmpegError as e:
        raise ValueError(f"{p}: not a readable video ({e})") from None


def read_frames(
    path: str | os.PathLike,
    start: int = 0,
    stop: int | None = None,
    step: int = 1,
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode frames ``start, start + step, ... < stop`` as ``(index, (H, W, 3) uint8 RGB)``.

    Frames are counted in decoding order from 0. Raises ``ValueError`` for a
    file PyAV cannot decode.
    """
    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"bad frame range start={start} stop={stop} step={step}")
    p = _check(path)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        if start == 0 and (stop is None or stop > 0):
            try:
                with Image.open(p) as im:
                    yield 0, np.asarray(im.convert("RGB"))
            except OSError as e:
                raise ValueError(f"{p}: not a readable image ({e})") from None
        return
    import av

    try:
        container = av.open(str(p))
    except av.FFmpegError as e:
        raise ValueError(f"{p}: not a readable video ({e})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{p}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for i, frame in enumerate(container.decode(stream)):
                if stop is not None and i >= stop:
                    break
                if i < start or (i - start) % step:
                    continue
                yield i, frame.to_ndarray(format="rgb24")
        except av.FFmpegError as e:
            raise ValueError(f"{p}: decoding failed ({e})") from None
