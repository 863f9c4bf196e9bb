"""``PoseSequence``: one person seen by one camera over time.

This is the plain data structure every stage hands to the next: detectors and
dataset readers produce it, the lifter consumes its 2D keypoints and (when
present) learns from its 3D poses, and experiments evaluate against them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poselift.core.camera import Camera, normalize_screen
from poselift.core.errors import InputError, check_finite, numeric_array
from poselift.core.layouts import Layout, get_layout

__all__ = ["PoseSequence"]


def _numeric(x: Any, what: str) -> np.ndarray:
    """``x`` as a numeric array (no objects, strings or ragged lists)."""
    return numeric_array(x, what)


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
        meta: anything else (source file, track id, ...).

    Every value must be finite: a NaN or infinite keypoint, confidence or 3D
    coordinate raises :class:`~poselift.core.errors.InputError` naming the first bad
    frame and joint (file readers mark missing joints NaN with confidence 0, and
    :meth:`~poselift.detectors.formats.KeypointTracks.to_sequences` fills them
    before building sequences). So do an empty sequence, a joint count that
    does not fit the layout and 3D with another number of frames than the 2D.
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
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        self.keypoints = kp.astype(np.float32, copy=False)
        if self.confidence is not None:
            c = _numeric(self.confidence, f"{self.label}: confidence").astype(np.float32, copy=False)
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

    @property
    def label(self) -> str:
        parts = [p for p in (self.subject, self.action, self.camera.name if self.camera else "") if p]
        return "sequence " + "/".join(parts) if parts else "sequence"

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def num_frames(self) -> int:
        return len(self.keypoints)

    def normalized_keypoints(self) -> np.ndarray:
        """``(T, J, 2)`` screen-normalised 2D (u in [-1, 1], v in [-h/w, h/w])."""
        return normalize_screen(self.keypoints, *self.image_size)

    def inputs(self, features: int = 2) -> np.ndarray:
        """Lifter input ``(T, J, features)``: normalised x, y (and confidence when 3)."""
        kp = self.normalized_keypoints()
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
        Confidence of a computed joint is the minimum of its sources.
        """
        from poselift.core.layouts import get_mapping

        target = get_layout(layout)
        if target.name == self.layout.name:
            return self
        mapping = get_mapping(self.layout, target)
        if mapping.missing:
            names = [target.joints[j] for j in mapping.missing]
            raise InputError(f"{self.label}: converting {self.layout.name} to {target.name} leaves {names} missing")
        conf = self.confidence if self.confidence is not None else np.ones(self.keypoints.shape[:2], np.float32)
        kp, c = mapping.apply(self.keypoints, conf)
        return PoseSequence(keypoints=kp, layout=target, confidence=c, poses3d=self.poses3d, layout3d=self.layout3d,
                            camera=self.camera, image_size=self.image_size, fps=self.fps, subject=self.subject,
                            action=self.action, meta=dict(self.meta, converted_from=self.layout.name))

    def slice(self, start: int, stop: int) -> "PoseSequence":
        """Frames ``[start, stop)`` as a new sequence (labels and camera kept)."""
        return PoseSequence(
            keypoints=self.keypoints[start:stop],
            layout=self.layout,
            confidence=None if self.confidence is None else self.confidence[start:stop],
            poses3d=None if self.poses3d is None else self.poses3d[start:stop],
            layout3d=self.layout3d,
            camera=self.camera,
            image_size=self.image_size,
            fps=self.fps,
            subject=self.subject,
            action=self.action,
            meta=dict(self.meta, start_frame=self.meta.get("start_frame", 0) + start),
        )
