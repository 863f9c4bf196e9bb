"""``PoseSequence``: one person seen by one camera over time, and the typed records it carries.

This is the plain data structure every stage hands to the next: detectors and
dataset readers produce it, the lifter consumes its 2D keypoints and (when
present) learns from its 3D poses, and experiments evaluate against them.

What a detector or tracker knows about a sequence travels in typed records,
not in string keys: :class:`TrackInfo` (which person of which video, which
frames were detected or filled) and :class:`DetectorPose3D` (a detector's own
single-frame 3D estimate, e.g. BodyPose3DNet's ``pose3d``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from poselift.core.camera import Camera, normalize_screen
from poselift.core.errors import InputError, check_finite, check_float_range, numeric_array
from poselift.core.layouts import Layout, get_layout, get_mapping
from poselift.core.normalization import normalize_inputs

__all__ = ["PoseSequence", "TrackInfo", "DetectorPose3D"]


def _numeric(x: Any, what: str) -> np.ndarray:
    """``x`` as a numeric array (no objects, strings or ragged lists)."""
    return numeric_array(x, what)


@dataclass
class TrackInfo:
    """One tracked person of a video.

    Attributes:
        track_id: the track's identifier (unique within its file).
        interpolated: ``(T, J)`` True where a joint was filled (interpolated or placed), not detected.
        detected: ``(T,)`` True on frames with a detection of this person.
        source: the file or video the track came from.

    The video frame of sequence frame ``t`` is ``PoseSequence.start_frame + t`` (tracks are consecutive).
    """

    track_id: int
    interpolated: np.ndarray
    detected: np.ndarray
    source: str = ""

    def slice(self, start: int, stop: int) -> "TrackInfo":
        return TrackInfo(self.track_id, self.interpolated[start:stop], self.detected[start:stop], self.source)


@dataclass
class DetectorPose3D:
    """A detector's own single-frame 3D estimate of the sequence's person.

    Attributes:
        poses: ``(T, J, 3)`` as the detector gave them (not necessarily root-relative).
        layout: joint layout of ``poses`` (e.g. ``"bodypose3dnet34"``).
        units: ``"mm"``, ``"m"`` or ``"unknown"`` (the BodyPose3DNet network's own ``pose3d`` tensor has
            undocumented units; comparisons then fit a scale first).
        pose25d: ``(T, J, 4)`` x, y (frame pixels), depth relative to the root, confidence; or ``None``.
    """

    poses: np.ndarray
    layout: str
    units: str = "unknown"
    pose25d: np.ndarray | None = None

    def __post_init__(self) -> None:
        p = numeric_array(self.poses, "detector 3D poses", np.float32)
        lay = get_layout(self.layout)
        if p.ndim != 3 or p.shape[-1] != 3:
            raise InputError(f"detector 3D poses must be (frames, joints, 3), got shape {p.shape}")
        lay.check(p, "detector 3D poses")
        self.poses, self.layout = p, lay.name
        if self.units not in ("mm", "m", "unknown"):
            raise InputError(f"detector 3D units must be 'mm', 'm' or 'unknown', got {self.units!r}")
        if self.pose25d is not None:
            q = numeric_array(self.pose25d, "detector pose25d", np.float32)
            if q.shape != p.shape[:2] + (4,):
                raise InputError(f"detector pose25d shape {q.shape} does not match its poses {p.shape}")
            self.pose25d = q

    def slice(self, start: int, stop: int) -> "DetectorPose3D":
        return DetectorPose3D(self.poses[start:stop], self.layout, self.units,
                              None if self.pose25d is None else self.pose25d[start:stop])


@dataclass
class PoseSequence:
    """2D keypoints (and optionally 3D poses) of one person in one video.

    Attributes:
        keypoints: ``(T, J, 2)`` image coordinates in pixels.
        layout: joint layout of ``keypoints`` (name or :class:`Layout`).
        confidence: ``(T, J)`` detector scores in ``[0, 1]``; ``None`` means all 1.
        poses3d: ``(T, J3, 3)`` camera-frame 3D joints in metres (absolute, so
            the root carries the trajectory), or ``None`` when unknown.
        layout3d: layout of ``poses3d``.
        camera: the camera; provides image size and (for back-projection)
            intrinsics. ``None`` needs ``image_size``.
        image_size: ``(width, height)``; taken from ``camera`` when given.
        fps: frames per second.
        subject, action: labels used by evaluation tables.
        camera_id: the camera's identifier (default: ``camera.name``; set it for a camera whose
            intrinsics are unknown, when ``camera`` is ``None``).
        start_frame: video frame index of the first frame (a track that starts later, a slice).
        track: :class:`TrackInfo` when the sequence is a tracked person of a video.
        detector3d: :class:`DetectorPose3D` when the 2D detector also estimated 3D.
        meta: anything else, free-form (source, dataset-specific notes); nothing in the
            package depends on a key being present.

    Every value must be finite: a NaN or infinite keypoint, confidence or 3D
    coordinate raises :class:`~poselift.core.errors.InputError` naming the first bad
    frame and joint (file readers mark missing joints NaN with confidence 0, and
    :meth:`~poselift.detectors.formats.KeypointTracks.to_sequences` fills them
    before building sequences). So do an empty sequence, a joint count that
    does not fit the layout and 3D with another number of frames than the 2D.

    Example:

        >>> import numpy as np
        >>> seq = PoseSequence(np.full((50, 17, 2), 320.0), "h36m17", image_size=(640, 480), fps=25)
        >>> len(seq), seq.layout.name, seq.image_size
        (50, 'h36m17', (640, 480))
        >>> seq.inputs().shape                  # (T, J, 2): the lifter's input, normalised by the image width
        (50, 17, 2)
        >>> seq.inputs()[0, 0].round(3).tolist()   # x: 0 at the centre, +-1 at the edges; y keeps the aspect
        [0.0, 0.25]
        >>> PoseSequence(np.zeros((5, 16, 2)), "h36m17", image_size=(640, 480))
        Traceback (most recent call last):
        ...
        poselift.core.errors.InputError: sequence: keypoints: wrong joint count: layout 'h36m17' has 17 joints but the array has 16 ...
    """

    keypoints: np.ndarray
    layout: str | Layout = "h36m17"
    confidence: np.ndarray | None = None
    poses3d: np.ndarray | None = None
    layout3d: str | Layout = "h36m17"
    camera: Camera | None = None
    image_size: tuple[int, int] | None = None
    fps: float = 50.0
    subject: str = ""
    action: str = ""
    camera_id: str = ""
    start_frame: int = 0
    track: TrackInfo | None = None
    detector3d: DetectorPose3D | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.camera_id and self.camera is not None:
            self.camera_id = str(self.camera.name)
        self.layout = get_layout(self.layout)
        self.layout3d = get_layout(self.layout3d)
        kp = _numeric(self.keypoints, f"{self.label}: keypoints")
        if kp.ndim != 3 or kp.shape[-1] != 2:
            raise InputError(f"{self.label}: keypoints must be (frames, joints, 2), got shape {kp.shape}")
        self.layout.check(kp, f"{self.label}: keypoints")
        if len(kp) == 0:
            raise InputError(f"{self.label}: empty sequence (0 frames of keypoints)")
        # NaN/inf policy: a PoseSequence feeds the lifter, so every value must be finite
        # (readers mark missing joints NaN with confidence 0; the tracker fills them before this)
        check_finite(kp, f"{self.label}: keypoints", self.layout,
                     hint="fill gaps first, e.g. KeypointTracks.to_sequences / poselift.detectors.tracking")
        check_float_range(kp, "float32", f"{self.label}: keypoints", self.layout)  # not silently inf
        self.keypoints = kp.astype(np.float32, copy=False)
        if self.confidence is not None:
            c = _numeric(self.confidence, f"{self.label}: confidence")
            c = check_float_range(c, "float32", f"{self.label}: confidence", self.layout).astype(np.float32, copy=False)
            if c.shape != kp.shape[:2]:
                raise InputError(f"{self.label}: confidence shape {c.shape} != keypoints {kp.shape[:2]} (frames, joints)")
            check_finite(c, f"{self.label}: confidence", self.layout)
            self.confidence = c
        if self.poses3d is not None:
            p = _numeric(self.poses3d, f"{self.label}: poses3d")
            if p.ndim != 3 or p.shape[-1] != 3:
                raise InputError(f"{self.label}: poses3d must be (frames, joints, 3), got shape {p.shape}")
            self.layout3d.check(p, f"{self.label}: poses3d")
            if len(p) != len(kp):
                raise InputError(f"{self.label}: mismatched lengths: {len(p)} frames of 3D but {len(kp)} frames of 2D")
            check_finite(p, f"{self.label}: poses3d", self.layout3d)
            check_float_range(p, "float32", f"{self.label}: poses3d", self.layout3d)
            self.poses3d = p.astype(np.float32, copy=False)
        if self.camera is not None:
            self.image_size = (self.camera.width, self.camera.height)
        if self.image_size is None:
            raise InputError(f"{self.label}: give a camera or image_size=(width, height) to normalise the 2D")
        try:
            w, h = (int(v) for v in self.image_size)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{self.label}: image_size must be (width, height), got {self.image_size!r}") from None
        if w < 1 or h < 1:
            raise InputError(f"{self.label}: image_size must be positive, got {(w, h)}")
        self.image_size = (w, h)
        self.start_frame = int(self.start_frame)
        if self.start_frame < 0:
            raise InputError(f"{self.label}: start_frame must be >= 0, got {self.start_frame}")
        t = len(kp)
        if self.track is not None and (np.shape(self.track.interpolated) != kp.shape[:2]
                                       or np.shape(self.track.detected) != (t,)):
            raise InputError(f"{self.label}: track record shapes {np.shape(self.track.interpolated)}, "
                             f"{np.shape(self.track.detected)} do not fit {t} frames of {kp.shape[1]} joints")
        if self.detector3d is not None and len(self.detector3d.poses) != t:
            raise InputError(f"{self.label}: detector 3D has {len(self.detector3d.poses)} frames, the 2D {t}")

    @property
    def frames(self) -> np.ndarray:
        """``(T,)`` video frame index of every frame (``start_frame + t``)."""
        return np.arange(self.start_frame, self.start_frame + len(self), dtype=np.int64)

    @property
    def label(self) -> str:
        parts = [p for p in (self.subject, self.action, self.camera_id) if p]
        return "sequence " + "/".join(parts) if parts else "sequence"

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def num_frames(self) -> int:
        return len(self.keypoints)

    def normalized_keypoints(self) -> np.ndarray:
        """``(T, J, 2)`` screen-normalised 2D (u in [-1, 1], v in [-h/w, h/w])."""
        return normalize_screen(self.keypoints, *self.image_size)

    def inputs(self, features: int = 2, normalization: str = "image") -> np.ndarray:
        """Lifter input ``(T, J, features)``: normalised x, y (and confidence when 3).

        ``normalization``: ``"image"`` (screen normalisation by the image width, the default) or
        ``"torso"``/``"bbox"`` (by the person's size; :mod:`poselift.core.normalization`).
        """
        if normalization == "image":
            kp = self.normalized_keypoints()
        else:
            kp = normalize_inputs(self.keypoints, self.image_size, self.layout, normalization, self.confidence)
        if features == 2:
            return kp
        if features == 3:
            c = self.confidence if self.confidence is not None else np.ones(kp.shape[:2], np.float32)
            return np.concatenate([kp, c[..., None]], axis=-1)
        raise InputError(f"features must be 2 or 3, got {features}")

    def root_relative_3d(self) -> np.ndarray:
        """``(T, J3, 3)`` 3D poses with the root joint at the origin."""
        if self.poses3d is None:
            raise InputError(f"{self.label}: has no 3D poses")
        r = self.layout3d.root
        return self.poses3d - self.poses3d[:, r : r + 1]

    def trajectory(self) -> np.ndarray:
        """``(T, 3)`` root position in camera coordinates (metres)."""
        if self.poses3d is None:
            raise InputError(f"{self.label}: has no 3D poses")
        return self.poses3d[:, self.layout3d.root].copy()

    def converted(self, layout: str | Layout) -> "PoseSequence":
        """The 2D keypoints converted to ``layout`` through the registered mapping.

        Raises :class:`~poselift.core.errors.InputError` naming the joints the mapping cannot produce.
        Confidence of a computed joint is the minimum of its sources; in the track record it counts as
        filled when any of its sources was.
        """
        target = get_layout(layout)
        if target.name == self.layout.name:
            return self
        mapping = get_mapping(self.layout, target)
        if mapping.missing:
            names = [target.joints[j] for j in mapping.missing]
            raise InputError(f"{self.label}: converting {self.layout.name} to {target.name} leaves {names} missing")
        conf = self.confidence if self.confidence is not None else np.ones(self.keypoints.shape[:2], np.float32)
        kp, c = mapping.apply(self.keypoints, conf)
        track = self.track
        if track is not None:  # a computed joint counts as filled when any of its sources was
            used = mapping.weights != 0  # (J_dst, J_src)
            filled = (track.interpolated[:, None, :] & used[None]).any(-1)
            track = replace(track, interpolated=filled)
        return replace(self, keypoints=kp, layout=target, confidence=c, track=track,
                       meta=dict(self.meta, converted_from=self.layout.name))

    def slice(self, start: int, stop: int) -> "PoseSequence":
        """Frames ``[start, stop)`` as a new sequence (labels, camera and records kept, sliced alike)."""
        start, stop, _ = slice(start, stop).indices(len(self))
        return replace(
            self,
            keypoints=self.keypoints[start:stop],
            confidence=None if self.confidence is None else self.confidence[start:stop],
            poses3d=None if self.poses3d is None else self.poses3d[start:stop],
            start_frame=self.start_frame + start,
            track=None if self.track is None else self.track.slice(start, stop),
            detector3d=None if self.detector3d is None else self.detector3d.slice(start, stop),
            meta=dict(self.meta),
        )
