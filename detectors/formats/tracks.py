"""The 2D tracks of one video, whatever file or detector they came from, and their conversion to sequences."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poselift.core.errors import InputError
from poselift.core.layouts import get_layout
from poselift.core.sequence import DetectorPose3D, PoseSequence, TrackInfo
from poselift.detectors.tracking import Track, fill_missing_joints

MAX_PEOPLE_PER_FRAME = 1000
"""Most people one frame of a detection file may hold: tracking compares every person with every track, so
a frame of ten million people would run for days; real videos hold a few dozen."""


def check_people(count: int, where: str, path: Any = None) -> None:
    """Refuse a frame holding more than :data:`MAX_PEOPLE_PER_FRAME` people (before any of them is read)."""
    if count > MAX_PEOPLE_PER_FRAME:
        from poselift.core.errors import FileFormatError

        raise FileFormatError(f"{where}: refused: {count:,} people in one frame, more than the "
                              f"{MAX_PEOPLE_PER_FRAME:,} poselift tracks per frame", path)


@dataclass
class KeypointTracks:
    """The 2D tracks of one video.

    Attributes:
        tracks: :class:`~poselift.detectors.tracking.Track` list.
        layout: joint layout name of all tracks.
        image_size: ``(width, height)`` or ``None`` when the source does not say.
        fps: frames per second; 0 when the source does not say (DeepStream, MMPose and npz files do not
            store it: ``read_2d`` takes it from ``fps=`` or the video).
        num_frames: frames in the video (tracks index into ``range(num_frames)``).
        source: where the keypoints came from (video path, file).
        detector: which detector or tool produced them.
        attrs: anything else (stored as HDF5 attributes).
    """

    tracks: list[Track]
    layout: str
    image_size: tuple[int, int] | None
    fps: float
    num_frames: int
    source: str = ""
    detector: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layout = get_layout(self.layout).name
        j = get_layout(self.layout).num_joints
        for t in self.tracks:
            if t.keypoints.shape[1:] != (j, 2):
                raise InputError(f"track {t.track_id}: wrong joint count: keypoints shape {t.keypoints.shape} does not fit "
                                 f"layout {self.layout!r} ({j} joints)")
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.num_frames < (max((int(t.frames[-1]) + 1 for t in self.tracks), default=0)):
            raise InputError(f"num_frames {self.num_frames} is smaller than the last track frame")

    def to_sequences(self, min_length: int = 1, image_size: tuple[int, int] | None = None) -> list[PoseSequence]:
        """One :class:`~poselift.core.sequence.PoseSequence` per track with at least ``min_length`` frames.

        Joints never seen in a track are placed on their nearest found
        ancestor with confidence 0 (a lifter needs finite input). Each sequence
        carries a :class:`~poselift.core.sequence.TrackInfo` (``track``: id,
        filled joints, detected frames), its first video frame (``start_frame``)
        and, when the detector estimated 3D too, a
        :class:`~poselift.core.sequence.DetectorPose3D` (``detector3d``).
        """
        size = image_size or self.image_size
        if size is None:
            raise InputError(f"{self.source or 'keypoints'}: image size unknown; give image_size=(width, height) "
                             "(command line: --image-size WxH)")
        out = []
        for t in self.tracks:
            if len(t) < min_length:
                continue
            kp, filled = fill_missing_joints(t.keypoints, self.layout)
            if not np.isfinite(kp).all():
                empty = np.flatnonzero(~np.isfinite(kp).all(axis=(1, 2)))
                raise InputError(f"{self.source or 'keypoints'}: track {t.track_id}: {len(empty)} frame(s) without any "
                                 f"keypoint, first at video frame {int(t.frames[empty[0]])}")
            conf = np.where(filled, 0.0, t.confidence).astype(np.float32)
            track = TrackInfo(int(t.track_id), t.interpolated | filled, t.detected.copy(), self.source)
            det3d = None
            if "pose3d" in t.extras:
                det3d = DetectorPose3D(t.extras["pose3d"], self.layout, self.pose3d_units, t.extras.get("pose25d"))
            out.append(PoseSequence(keypoints=kp, layout=self.layout, confidence=conf, image_size=size,
                                    fps=self.fps, action=f"track {t.track_id}", start_frame=int(t.frames[0]),
                                    track=track, detector3d=det3d, meta={"source": self.source}))
        return out

    @property
    def pose3d_units(self) -> str:
        """Units of the tracks' ``pose3d`` extras: ``"mm"`` when the source says so, else ``"unknown"``."""
        units = str(self.attrs.get("pose3d_units", ""))
        return units if units in ("mm", "m") else "unknown"

    @property
    def tracked_frames(self) -> int:
        """Frames up to the last one with a track (``last tracked frame + 1``; 0 without tracks).

        What the content implies, whatever ``num_frames`` claims: arrays sized by it cost
        what the file holds (a file declaring 30 million frames for 100 tracked ones does not
        cost gigabytes when rendered).
        """
        return max((int(t.frames[-1]) + 1 for t in self.tracks if len(t.frames)), default=0)

    def frame_table(self, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(F, n_tracks, J, 2)`` keypoints (NaN where a track is absent) and ``(F, n_tracks, J)`` confidence
        for frames ``0 .. F - 1``, ``F = stop`` (default ``num_frames``)."""
        j = get_layout(self.layout).num_joints
        n = self.num_frames if stop is None else min(int(stop), self.num_frames)
        kp = np.full((n, len(self.tracks), j, 2), np.nan, np.float32)
        conf = np.zeros((n, len(self.tracks), j), np.float32)
        for i, t in enumerate(self.tracks):
            keep = t.frames < n
            kp[t.frames[keep], i] = t.keypoints[keep]
            conf[t.frames[keep], i] = t.confidence[keep]
        return kp, conf
