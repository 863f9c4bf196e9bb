"""Reading and writing video with PyAV (its wheels bundle FFmpeg: no system ffmpeg needed).

:func:`probe_video` gives size, frame rate and (when the container says) the
frame count; :func:`read_frames` yields ``(index, frame)`` with frames as
``(H, W, 3)`` uint8 RGB. A still image (``.png``, ``.jpg``, ...) reads as a
one-frame video (through Pillow). :func:`write_video` writes frames to MP4 (and
other containers) with PyAV or to GIF with Pillow, atomically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from poselift.core.io import atomic_path

__all__ = ["VideoInfo", "probe_video", "read_frames", "write_video", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "STILL_SUFFIX"]

VIDEO_SUFFIXES = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi"}
STILL_SUFFIX = ".png"
"""A one-frame "video": :func:`write_video` writes a still image."""

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


# --------------------------------------------------------------------------- writing
def _video_codec() -> str:
    import av

    for name in ("libx264", "h264", "libopenh264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - not available in this build
            continue
    raise RuntimeError("PyAV has no H.264 or MPEG-4 encoder")


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, codec: str | None = None) -> int:
    """Write ``(H, W, 3)`` uint8 RGB frames to ``path`` (MP4 & co. with PyAV, GIF with Pillow), atomically.

    A ``.png`` path is a still: exactly one frame (Pillow).

    Returns:
        the number of frames written.

    Raises:
        ValueError: unknown suffix, no frames, frames of different sizes, more than one frame for a ``.png``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES and suffix not in (".gif", STILL_SUFFIX):
        raise ValueError(f"{path}: unknown video type {suffix!r}; use .mp4, .mkv, .mov, .avi, .gif "
                         "(or .png for one frame)")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    it = iter(frames)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ValueError(f"{path}: no frames to write") from None
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"frames must be (height, width, 3) RGB, got shape {first.shape}")
    size = first.shape

    def checked() -> Iterator[np.ndarray]:
        yield first
        for i, f in enumerate(it, 1):
            f = np.asarray(f)
            if f.shape != size:
                raise ValueError(f"frame {i} has shape {f.shape}, frame 0 has {size}")
            yield f

    n = 0
    if suffix == STILL_SUFFIX:
        from PIL import Image

        frames_list = list(checked())
        if len(frames_list) != 1:
            raise ValueError(f"{path}: a .png holds one frame, got {len(frames_list)}; use .gif or .mp4 for more")
        with atomic_path(path, suffix=STILL_SUFFIX) as tmp:
            Image.fromarray(np.ascontiguousarray(frames_list[0], dtype=np.uint8)).save(tmp, format="PNG")
        return 1
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)) for f in checked()]
        with atomic_path(path, suffix=".gif") as tmp:
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(1, int(round(1000 / fps))), loop=0)
        return len(images)
    import av

    with atomic_path(path, suffix=suffix) as tmp:
        with av.open(str(tmp), mode="w", format=VIDEO_SUFFIXES[suffix]) as container:
            name = codec or _video_codec()
            # x264's "veryfast" preset: 2-3x faster than its default at about the same quality (crf 23)
            options = {"preset": "veryfast"} if name == "libx264" else {}
            stream = container.add_stream(name, rate=Fraction(fps).limit_denominator(1001), options=options)
            h, w = _even(first).shape[:2]
            stream.width, stream.height = w, h
            stream.pix_fmt = "yuv420p"
            for f in checked():
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(_even(f), dtype=np.uint8), format="rgb24")
                for packet in stream.encode(vf):
                    container.mux(packet)
                n += 1
            for packet in stream.encode(None):
                container.mux(packet)
    return n
