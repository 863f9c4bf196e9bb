"""People across frames: association into tracks, gap filling, minimum length.

:func:`track_people` takes per-frame detections (:class:`Detections`) and
returns :class:`Track` objects, one per person:

* **association**: each frame, every live track predicts its pose (last
  pose plus a smoothed per-track velocity times the frames elapsed) and is
  matched to the detections with ``scipy.optimize.linear_sum_assignment`` on
  ``1 - OKS`` (object keypoint similarity, COCO's per-joint sigmas where the
  joint names match, :data:`DEFAULT_SIGMA` elsewhere; the object area is the
  predicted pose's bounding box) or on the mean keypoint distance relative
  to the person's size. Pairs below ``min_similarity`` (OKS) or above
  ``max_distance`` are not matched; unmatched detections start tracks.
* **gaps**: a track that misses up to ``max_gap`` frames continues; the
  missed frames are filled by linear interpolation between the detections
  around them, and so are joints missing inside detected frames (held at
  the edge value before the first / after the last detection of that
  joint). Filled values get confidence ``filled_confidence`` (0 by default)
  and are marked in :attr:`Track.interpolated`.
* **length**: tracks with fewer than ``min_length`` detected frames are dropped.

:func:`tracks_from_ids` does the same filling for detections that already
carry track ids (a DeepStream tracker's ``object_id``, MMPose ``track_id``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from poselift.core.errors import InputError
from poselift.core.layouts import Layout, get_layout

__all__ = [
    "Detections",
    "Track",
    "TrackerSettings",
    "track_people",
    "tracks_from_ids",
    "oks",
    "joint_sigmas",
    "fill_track",
    "fill_missing_joints",
    "COCO_SIGMAS",
    "DEFAULT_SIGMA",
]

COCO_SIGMAS: dict[str, float] = {
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079, "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062, "left_hip": 0.107, "right_hip": 0.107,
    "left_knee": 0.087, "right_knee": 0.087, "left_ankle": 0.089, "right_ankle": 0.089,
}
"""COCO keypoint OKS sigmas, by joint name."""

DEFAULT_SIGMA = 0.08
"""OKS sigma for joints COCO does not have (neck, pelvis, toes, hands, ...)."""


def joint_sigmas(layout: str | Layout) -> np.ndarray:
    """``(J,)`` OKS sigmas for a layout (COCO's by name, :data:`DEFAULT_SIGMA` otherwise)."""
    lay = get_layout(layout)
    return np.array([COCO_SIGMAS.get(n, DEFAULT_SIGMA) for n in lay.joints], np.float64)


@dataclass
class Detections:
    """The people detected in one frame.

    Attributes:
        keypoints: ``(P, J, 2)`` pixels; NaN for joints not found.
        confidence: ``(P, J)``; ``None`` means 1 where the keypoint is finite.
        ids: ``(P,)`` track ids when the source already tracked (else ``None``).
        extras: name -> ``(P, ...)`` per-person arrays carried into the tracks
            (e.g. BodyPose3DNet's ``pose3d`` ``(P, 34, 3)``).
    """

    keypoints: np.ndarray
    confidence: np.ndarray | None = None
    ids: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        if kp.size == 0:
            kp = kp.reshape(0, kp.shape[1] if kp.ndim == 3 else 0, 2)
        if kp.ndim != 3 or kp.shape[-1] != 2:
            raise InputError(f"detections: keypoints must be (people, joints, 2), got shape {kp.shape}")
        # NaN/inf policy: a joint with a non-finite coordinate is missing: NaN, confidence 0
        found = np.isfinite(kp).all(-1)
        if not found.all():
            kp = kp.copy() if kp is self.keypoints else kp
            kp[~found] = np.nan
        self.keypoints = kp
        if self.confidence is None:
            self.confidence = found.astype(np.float32)
        else:
            c = np.asarray(self.confidence, dtype=np.float32)
            if c.shape != kp.shape[:2]:
                raise InputError(f"detections: confidence shape {c.shape} != keypoints {kp.shape[:2]}")
            self.confidence = np.where(np.isfinite(c) & found, c, 0.0).astype(np.float32)
        if self.ids is not None:
            ids = np.asarray(self.ids).astype(np.int64).reshape(-1)
            if len(ids) != len(kp):
                raise InputError(f"detections: {len(ids)} ids for {len(kp)} people")
            self.ids = ids
        for k, v in self.extras.items():
            if len(v) != len(kp):
                raise InputError(f"detections: extra {k!r} has {len(v)} rows for {len(kp)} people")

    def __len__(self) -> int:
        return len(self.keypoints)


@dataclass
class Track:
    """One person over consecutive frames.

    Attributes:
        track_id: identifier (unique within a file).
        frames: ``(T,)`` consecutive frame indices.
        keypoints: ``(T, J, 2)`` pixels (NaN only for joints never seen in the track).
        confidence: ``(T, J)``; filled values have the tracker's ``filled_confidence``.
        interpolated: ``(T, J)`` True where the value was filled, not detected.
        detected: ``(T,)`` True on frames with a detection.
        extras: name -> ``(T, ...)`` per-frame arrays (filled the same way).
    """

    track_id: int
    frames: np.ndarray
    keypoints: np.ndarray
    confidence: np.ndarray
    interpolated: np.ndarray
    detected: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class TrackerSettings:
    """Settings of :func:`track_people`.

    Attributes:
        metric: ``"oks"`` or ``"distance"``.
        min_similarity: smallest OKS accepted as the same person.
        max_distance: largest mean joint distance, relative to the person's
            size (square root of the bounding-box area), accepted (``"distance"``).
        max_gap: frames a track may miss and still continue (then filled).
        min_length: tracks with fewer detected frames are dropped.
        min_confidence: joints below this confidence are ignored when matching.
        use_velocity: predict with a constant-velocity model.
        velocity_smoothing: weight of the previous velocity in its running average.
        filled_confidence: confidence given to interpolated values.
    """

    metric: str = "oks"
    min_similarity: float = 0.2
    max_distance: float = 0.5
    max_gap: int = 10
    min_length: int = 5
    min_confidence: float = 0.05
    use_velocity: bool = True
    velocity_smoothing: float = 0.5
    filled_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.metric not in ("oks", "distance"):
            raise InputError(f"metric must be 'oks' or 'distance', got {self.metric!r}")
        if self.max_gap < 0 or self.min_length < 1:
            raise InputError("max_gap must be >= 0 and min_length >= 1")


def _area(kp: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(N,)`` bounding-box area of the valid joints of ``kp`` ``(N, J, 2)`` (at least 1)."""
    v = valid[..., None]
    hi = np.where(v, kp, -np.inf).max(1)
    lo = np.where(v, kp, np.inf).min(1)
    span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    return np.maximum(span[:, 0] * span[:, 1], 1.0)


def oks(a: np.ndarray, va: np.ndarray, b: np.ndarray, vb: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Object keypoint similarity between every pose of ``a`` and of ``b``.

    Args:
        a: ``(M, J, 2)`` reference poses (their box area sets the scale); ``va`` ``(M, J)`` valid joints.
        b: ``(N, J, 2)``; ``vb`` ``(N, J)``.
        sigmas: ``(J,)`` per-joint sigmas.

    Returns:
        ``(M, N)``: mean over joints valid in both of
        ``exp(-d^2 / (2 area (2 sigma)^2))``; 0 where no joint is shared.
    """
    d2 = ((a[:, None] - b[None]) ** 2).sum(-1)  # (M, N, J)
    area = _area(a, va)[:, None, None]
    e = np.exp(-d2 / (2 * area * (2 * sigmas) ** 2))
    both = va[:, None] & vb[None]
    e = np.where(both, e, 0.0)
    n = both.sum(-1)
    return np.where(n > 0, e.sum(-1) / np.maximum(n, 1), 0.0)


def _distance_cost(a, va, b, vb) -> np.ndarray:
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    both = va[:, None] & vb[None]
    n = both.sum(-1)
    mean = np.where(both, d, 0.0).sum(-1) / np.maximum(n, 1)
    scale = np.sqrt(_area(a, va))[:, None]
    return np.where(n > 0, mean / scale, np.inf)


class _Live:
    __slots__ = ("tid", "frames", "kp", "conf", "extras", "last", "velocity")

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.frames: list[int] = []
        self.kp: list[np.ndarray] = []
        self.conf: list[np.ndarray] = []
        self.extras: dict[str, list] = {}
        self.last: np.ndarray | None = None
        self.velocity = np.zeros(2)

    def add(self, frame: int, kp: np.ndarray, conf: np.ndarray, extras: Mapping[str, np.ndarray],
            valid: np.ndarray, smoothing: float) -> None:
        if self.frames and self.last is not None:
            gap = frame - self.frames[-1]
            both = valid & np.isfinite(self.last).all(-1)
            if both.any() and gap > 0:
                v = (kp[both] - self.last[both]).mean(0) / gap
                self.velocity = smoothing * self.velocity + (1 - smoothing) * v if len(self.frames) > 1 else v
        merged = kp.copy() if self.last is None else np.where(valid[:, None], kp, self.last)
        self.last = merged
        self.frames.append(frame)
        self.kp.append(kp)
        self.conf.append(conf)
        for k, v in extras.items():
            self.extras.setdefault(k, []).append(v)

    def predict(self, frame: int, use_velocity: bool) -> np.ndarray:
        if not use_velocity:
            return self.last
        return self.last + self.velocity * (frame - self.frames[-1])


def _interp_series(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill rows of ``values`` ``(T, ...)`` where ``known`` ``(T,)`` is False: linear inside, edge-held outside."""
    if known.all() or not known.any():
        return values
    t = np.arange(len(values))
    flat = values.reshape(len(values), -1)
    out = flat.copy()
    kt = t[known]
    for c in range(flat.shape[1]):
        out[~known, c] = np.interp(t[~known], kt, flat[known, c])
    return out.reshape(values.shape)


def fill_track(
    frames: Sequence[int],
    keypoints: Sequence[np.ndarray],
    confidence: Sequence[np.ndarray],
    extras: Mapping[str, Sequence[np.ndarray]] | None = None,
    filled_confidence: float = 0.0,
    track_id: int = 0,
) -> Track:
    """Build a :class:`Track` over consecutive frames from sparse detections.

    Frames between detections and joints missing (NaN) in a detection are
    filled by linear interpolation per joint (edge-held before the first and
    after the last detection of the joint), with confidence
    ``filled_confidence``, and marked in ``interpolated``.

    Args:
        frames: ``n`` increasing frame indices with a detection.
        keypoints: ``n`` arrays ``(J, 2)``; confidence: ``n`` arrays ``(J,)``.
        extras: name -> ``n`` arrays (any shape): filled per frame, linearly
            where finite values exist on both sides.
    """
    f = np.asarray(frames, dtype=np.int64)
    if len(f) == 0:
        raise InputError("a track needs at least one detection")
    if np.any(np.diff(f) <= 0):
        raise InputError("track frames must be strictly increasing")
    t0 = int(f[0])
    n = int(f[-1]) - t0 + 1
    kp0 = np.asarray(keypoints[0])
    j = kp0.shape[0]
    kp = np.full((n, j, 2), np.nan, np.float32)
    conf = np.zeros((n, j), np.float32)
    idx = f - t0
    kp[idx] = np.asarray(keypoints, np.float32)
    conf[idx] = np.asarray(confidence, np.float32)
    detected = np.zeros(n, bool)
    detected[idx] = True
    known = np.isfinite(kp).all(-1)  # (n, J)
    interpolated = ~known
    for jj in range(j):
        if interpolated[:, jj].any() and known[:, jj].any():
            kp[:, jj] = _interp_series(kp[:, jj], known[:, jj])
    conf[interpolated] = filled_confidence
    out_extras: dict[str, np.ndarray] = {}
    for name, vals in (extras or {}).items():
        v0 = np.asarray(vals[0], np.float32)
        arr = np.full((n, *v0.shape), np.nan, np.float32)
        arr[idx] = np.asarray(vals, np.float32)
        ok = np.isfinite(arr.reshape(n, -1)).all(-1)
        out_extras[name] = _interp_series(arr, ok) if ok.any() else arr
    return Track(track_id, np.arange(t0, t0 + n, dtype=np.int64), kp, conf, interpolated, detected, out_extras)


def track_people(
    frames: Sequence[Detections],
    layout: str | Layout,
    settings: TrackerSettings = TrackerSettings(),
    frame_indices: Sequence[int] | None = None,
) -> list[Track]:
    """Associate per-frame detections into tracks.

    Args:
        frames: one :class:`Detections` per frame (empty ones allowed).
        layout: joint layout of the keypoints (for OKS sigmas and checks).
        settings: :class:`TrackerSettings`.
        frame_indices: the frame index of each entry (default ``0, 1, ...``).

    Returns:
        tracks with at least ``settings.min_length`` detected frames, ids
        ``0, 1, ...`` in order of first appearance.
    """
    lay = get_layout(layout)
    sig = joint_sigmas(lay)
    idxs = list(range(len(frames))) if frame_indices is None else [int(i) for i in frame_indices]
    if len(idxs) != len(frames):
        raise InputError(f"{len(idxs)} frame indices for {len(frames)} frames")
    live: list[_Live] = []
    done: list[_Live] = []
    next_id = 0
    for fi, det in zip(idxs, frames):
        if len(det) and det.keypoints.shape[1] != lay.num_joints:
            raise InputError(f"frame {fi}: detections have {det.keypoints.shape[1]} joints; "
                             f"layout {lay.name!r} has {lay.num_joints}")
        # retire tracks that have missed too many frames
        keep = []
        for tr in live:
            (keep if fi - tr.frames[-1] <= settings.max_gap + 1 else done).append(tr)
        live = keep
        if len(det) == 0:
            continue
        kp = det.keypoints.astype(np.float64)
        valid = np.isfinite(kp).all(-1) & (det.confidence >= settings.min_confidence)
        kp_safe = np.where(valid[..., None], kp, 0.0)
        matched_det: dict[int, _Live] = {}
        if live:
            pred = np.stack([tr.predict(fi, settings.use_velocity) for tr in live])
            pvalid = np.isfinite(pred).all(-1)
            pred_safe = np.where(pvalid[..., None], pred, 0.0)
            if settings.metric == "oks":
                sim = oks(pred_safe, pvalid, kp_safe, valid, sig)
                cost = 1.0 - sim
                allowed = sim >= settings.min_similarity
            else:
                cost = _distance_cost(pred_safe, pvalid, kp_safe, valid)
                allowed = cost <= settings.max_distance
            big = 1e6
            rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
            for r, c in zip(rows, cols):
                if allowed[r, c]:
                    matched_det[int(c)] = live[int(r)]
        for d in range(len(det)):
            tr = matched_det.get(d)
            if tr is None:
                if not valid[d].any():
                    continue
                tr = _Live(next_id)
                next_id += 1
                live.append(tr)
            extras = {k: np.asarray(v[d]) for k, v in det.extras.items()}
            tr.add(fi, det.keypoints[d], det.confidence[d], extras, valid[d], settings.velocity_smoothing)
    done.extend(live)
    return _finish(done, settings)


def _finish(tracks: list[_Live], settings: TrackerSettings) -> list[Track]:
    out = []
    for tr in sorted(tracks, key=lambda t: (t.frames[0], t.tid)):
        if len(tr.frames) < settings.min_length:
            continue
        out.append(fill_track(tr.frames, tr.kp, tr.conf, tr.extras, settings.filled_confidence, len(out)))
    return out


def tracks_from_ids(
    frames: Sequence[Detections],
    settings: TrackerSettings = TrackerSettings(),
    frame_indices: Sequence[int] | None = None,
) -> list[Track]:
    """Group detections that carry ``ids`` into tracks (no association), then fill and filter.

    A track whose detections are more than ``max_gap`` frames apart is split
    there (a long absence is not bridged by interpolation). Track ids are the
    source's ids; a split track keeps its id for the first part and gets new
    ids (after the largest source id) for the rest.
    """
    idxs = list(range(len(frames))) if frame_indices is None else [int(i) for i in frame_indices]
    groups: dict[int, _Live] = {}
    order: list[_Live] = []
    fresh = 1 + max((int(i) for det in frames if det.ids is not None for i in det.ids), default=-1)
    for fi, det in zip(idxs, frames):
        if len(det) == 0:
            continue
        if det.ids is None:
            raise InputError(f"frame {fi}: detections have no track ids")
        for d, tid in enumerate(det.ids):
            tid = int(tid)
            tr = groups.get(tid)
            if tr is not None and tr.frames[-1] >= fi:
                raise InputError(f"frame {fi}: track id {tid} appears twice (or frames are out of order)")
            if tr is not None and fi - tr.frames[-1] > settings.max_gap + 1:
                tr = None
                groups[tid] = _Live(fresh)
                fresh += 1
                order.append(groups[tid])
            elif tr is None:
                groups[tid] = _Live(tid)
                order.append(groups[tid])
            tr = groups[tid]
            valid = np.isfinite(det.keypoints[d]).all(-1)
            tr.add(fi, det.keypoints[d], det.confidence[d], {k: np.asarray(v[d]) for k, v in det.extras.items()},
                   valid, settings.velocity_smoothing)
    out = []
    for tr in sorted(order, key=lambda t: (t.frames[0], t.tid)):
        if len(tr.frames) < settings.min_length:
            continue
        out.append(fill_track(tr.frames, tr.kp, tr.conf, tr.extras, settings.filled_confidence, tr.tid))
    return out


def fill_missing_joints(keypoints: np.ndarray, layout: str | Layout) -> tuple[np.ndarray, np.ndarray]:
    """Replace NaN joints by their nearest found ancestor in the same frame.

    After :func:`fill_track` only joints never seen in a track are NaN; a
    lifter needs finite input, so they are placed on an ancestor (e.g. an
    ear never detected sits on the eye) and should get confidence 0.

    Args:
        keypoints: ``(T, J, 2)``.
        layout: the layout's tree decides the ancestor; a joint with no found
            ancestor takes the mean of the found joints of the frame (frames
            with no joint at all stay NaN).

    Returns:
        ``(filled keypoints, filled mask (T, J))``.
    """
    lay = get_layout(layout)
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    lay.check(kp, "keypoints")
    missing = ~np.isfinite(kp).all(-1)
    if not missing.any():
        return kp, missing
    found_any = ~missing
    centroid = np.where(found_any[..., None], kp, 0).sum(1) / np.maximum(found_any.sum(1), 1)[:, None]
    centroid[~found_any.any(1)] = np.nan
    orig = kp.copy()
    for j in range(lay.num_joints):
        todo = missing[:, j].copy()
        src = lay.parents[j]
        while src >= 0 and todo.any():
            ok = todo & ~missing[:, src]
            kp[ok, j] = orig[ok, src]
            todo &= ~ok
            src = lay.parents[src]
        kp[todo, j] = centroid[todo]
    return kp, missing
