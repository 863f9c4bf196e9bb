"""The plain container of Human3.6M poses, cameras and 2D detections."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from poselift.core.camera import Camera
from poselift.datasets.h36m.constants import SH_KEYPOINTS, _camera_order, _sorted_subjects


@dataclass
class H36MData:
    """Human3.6M poses, cameras and 2D detections, keyed by subject/action/camera.

    Attributes:
        cameras: ``{(subject, camera_id): Camera}``; ``R`` world-to-camera,
            ``T`` camera centre in world metres, pixels for ``f`` and ``c``.
        poses3d: ``{(subject, action): (T, 17, 3)}`` float32 world
            coordinates in metres, layout ``h36m17``.
        keypoints2d: ``{(subject, action, camera_id): (T, J, 2)}`` float32 2D
            detections in pixels; every key has a ``poses3d`` entry with the
            same ``T``.
        layout2d: joint layout of ``keypoints2d`` (``"mpii16"`` for the
            Stacked Hourglass detections).
        keypoints_name: what the detections are (``"sh_pt_mpii"``, or the
            ``<name>`` of a ``data_2d_h36m_<name>.npz``); ``""`` when there are none.
        notes: one line per thing left out or adjusted while reading.
        missing3d: ``{(subject, action): frames}`` takes whose 2D exists but whose 3D this copy lacks
            (the frames of their 2D), so a report can say what is missing and how much.
        source: where the data was read from.
    """

    cameras: dict[tuple[str, str], Camera]
    poses3d: dict[tuple[str, str], np.ndarray]
    keypoints2d: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    layout2d: str = "mpii16"
    keypoints_name: str = SH_KEYPOINTS
    notes: list[str] = field(default_factory=list)
    missing3d: dict[tuple[str, str], int] = field(default_factory=dict)
    source: str = ""

    @property
    def sh2d(self) -> dict[tuple[str, str, str], np.ndarray]:
        """The 2D detections (alias of :attr:`keypoints2d`)."""
        return self.keypoints2d

    @property
    def subjects(self) -> list[str]:
        """Subjects with 3D, in numeric order (``S1, S5, ..., S11``)."""
        return _sorted_subjects(s for s, _ in self.poses3d)

    def actions(self, subject: str) -> list[str]:
        """Actions of ``subject`` that have 3D, sorted by name."""
        return sorted(a for s, a in self.poses3d if s == subject)

    def camera_ids(self, subject: str) -> list[str]:
        """Camera ids calibrated for ``subject``, in :data:`CAMERA_IDS` order."""
        return sorted((c for s, c in self.cameras if s == subject), key=_camera_order)

    def num_frames(self, subject: str | None = None) -> int:
        """Frames of 3D of ``subject`` (all subjects when ``None``)."""
        return int(sum(len(p) for (s, _), p in self.poses3d.items() if subject is None or s == subject))

    def subset(self, subjects: Iterable[str]) -> "H36MData":
        """A shallow copy restricted to ``subjects`` (arrays are shared, not copied)."""
        keep = set(subjects)
        return H36MData(
            cameras={k: v for k, v in self.cameras.items() if k[0] in keep},
            poses3d={k: v for k, v in self.poses3d.items() if k[0] in keep},
            keypoints2d={k: v for k, v in self.keypoints2d.items() if k[0] in keep},
            layout2d=self.layout2d,
            keypoints_name=self.keypoints_name,
            notes=list(self.notes),
            missing3d={k: v for k, v in self.missing3d.items() if k[0] in keep},
            source=self.source,
        )

    def summary(self) -> str:
        """A few lines: frames per subject, sequences, detections, notes."""
        lines = [f"Human3.6M from {self.source or '(memory)'}"]
        for s in self.subjects:
            n2d = sum(1 for k in self.keypoints2d if k[0] == s)
            lines.append(
                f"  {s:>3}: {len(self.actions(s)):2d} actions, {self.num_frames(s):7,d} frames of 3D, "
                f"{len(self.camera_ids(s))} cameras, {n2d} 2D sequences"
            )
        lines.append(
            f"  total: {self.num_frames():,d} frames of 3D, {len(self.poses3d)} sequences, "
            f"2D: {self.keypoints_name or 'none'} ({self.layout2d}, {len(self.keypoints2d)} sequences)"
        )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
