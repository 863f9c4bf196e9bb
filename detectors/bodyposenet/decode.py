"""BodyPoseNet decoding: heatmap peaks and part-affinity-field grouping into people (no network here).

The network gives, for one image, confidence maps (``heatmaps``, 18 joints +
background, at stride 8) and part affinity fields (``pafs``, an (x, y) unit
vector field per limb, possibly at a higher resolution). This module turns
those into people:

1. **peaks** (:func:`find_peaks`): local maxima of each joint's map above
   ``heatmap_threshold`` (3x3 neighbourhood, ties broken towards the later
   cell so a plateau gives one peak), refined to sub-cell precision by a
   parabola through the log of the peak and its two neighbours on each axis
   (exact for a Gaussian blob; a plain parabola where a neighbour is not
   positive).
2. **limb scores** (:func:`score_limbs`): for every candidate pair of joints
   of a limb, the PAF is sampled at ``paf_samples`` points on the segment
   (nearest PAF cell) and dotted with the segment's unit vector; a pair is
   kept when more than ``min_paf_fraction`` of the samples exceed
   ``paf_threshold`` and the mean plus a length prior
   (``min(length_prior * image_width / length - 1, 0)``) is positive; pairs
   are then taken greedily by score, each joint used once per limb.
3. **assembly** (:func:`assemble_people`): limbs are processed in topology
   order; a connection extends the person that owns one of its joints,
   merges two people whose joints are disjoint, or starts a new person.
   Limbs that close a cycle when the topology is walked in order (in TAO's
   order the eye-ear links, as the shoulder-ear links come first) are
   *redundant*: they may extend or merge, never start a person. A
   connection that would give a person a second joint of the same kind is
   dropped, so two people are never joined. People with fewer than
   ``min_parts`` joints or a mean score below ``min_mean_score`` are dropped.
4. **diagnosis**: strong peaks (``strong_peak``, 0.5) in ``min_parts`` or more
   joint types of which most end up in nobody mean the PAFs do not fit the
   heatmaps; :func:`decode_people` says so (:attr:`People.problem`, an
   :class:`~poselift.core.errors.InputWarning`), naming flipped PAF signs when
   decoding with the negated PAFs puts most of them in people (:data:`PROBLEMS`). Swapped left/right
   heatmap channels are not detectable this way (nor in general).

All settings are in :class:`DecodeSettings`, defaulting to the values TAO
uses (*reported*, from the TAO BodyPoseNet inference configuration:
heatmap threshold 0.1, PAF threshold 0.05, 10 samples, 80 %, at least 4
parts, mean score 0.4). TAO's own post-processor upsamples the maps to the
image size and smooths them (Gaussian, 7 px) before finding peaks; here peaks
are found on the network's grid and refined sub-cell instead, which is much
cheaper (``heatmap_sigma`` adds smoothing on the grid when wanted).

Coordinates: image pixels with the continuous convention (pixel ``i``
covers ``[i, i + 1)``, its centre is ``i + 0.5``); heatmap cell ``g`` is
centred at network-input pixel ``(g + 0.5) * stride``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from poselift.core.errors import InputError, InputWarning, numeric_array

BODYPOSENET_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13), (1, 2), (2, 3), (3, 4), (2, 16),
    (1, 5), (5, 6), (6, 7), (5, 17), (1, 0), (0, 14), (0, 15), (14, 16), (15, 17),
)
"""Limb topology of the TAO 18-joint configuration (``bodyposenet18`` joint
indices); limb ``k`` uses PAF channels ``2k`` (x) and ``2k + 1`` (y)."""

OPENPOSE_COCO18_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
    (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17),
)
OPENPOSE_COCO18_PAF_CHANNELS: tuple[tuple[int, int], ...] = (
    (12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7),
    (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27),
)
"""The original OpenPose COCO-18 model's limbs, in OpenPose's processing order, and their (x, y) PAF
channels (the same 18 joints in the same order as BodyPoseNet; used by OpenPose, Lightweight OpenPose
and OpenVINO's human-pose-estimation-0001). Every limb has the same two channels as in TAO's table
(:data:`BODYPOSENET_LIMBS` is this layout sorted by channel), so either reads the other's maps; the
order differs: here the shoulder-ear links come last and are the redundant ones."""

PAF_PRESETS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...] | None]] = {
    "tao": (BODYPOSENET_LIMBS, None),
    "openpose-coco18": (OPENPOSE_COCO18_LIMBS, OPENPOSE_COCO18_PAF_CHANNELS),
}
"""Named limb topologies with their PAF channel order: ``(limbs, paf_channels)``
(``None``: limb ``k`` on channels ``2k, 2k + 1``). See :meth:`DecodeSettings.from_preset`."""

MAP_LAYOUTS = ("HWC", "CHW")
"""Axis orders of one image's maps: channels last (TAO, TensorFlow) or first (PyTorch, OpenVINO)."""


@dataclass(frozen=True)
class DecodeSettings:
    """Peak finding and grouping settings (defaults: TAO's, *reported*).

    Attributes:
        limbs: joint pairs, in processing order.
        paf_channels: ``(x, y)`` PAF channel per limb; ``None``: ``(2k, 2k + 1)``.
        paf_count: PAF channels the network outputs (``None``: 2 per limb); the maps must have exactly
            this many (a topology may use a subset of them).
        num_joints: joints with a heatmap channel (the background channel follows them); the heatmaps
            must have exactly ``num_joints`` or ``num_joints + 1`` channels.
        heatmap_threshold: minimum heatmap value of a peak.
        heatmap_sigma: Gaussian smoothing of the heatmaps before peak finding,
            in heatmap cells (0: none).
        refine: sub-cell peak refinement.
        max_peaks: keep at most this many peaks per joint (highest first).
        paf_threshold: a PAF sample "passes" above this.
        paf_samples: samples along each candidate limb.
        min_paf_fraction: fraction of samples that must pass (strictly more than).
        length_prior: limbs longer than ``length_prior * image_width`` are penalised.
        min_parts: people with fewer joints are dropped.
        min_mean_score: people whose score per joint is lower are dropped.
        strong_peak: heatmap peaks at least this high are taken as joints some person should have: when
            ``min_parts`` or more joint types have such peaks and most of these peaks end up in nobody,
            the PAFs do not fit the heatmaps (:data:`PROBLEMS`).
    """

    limbs: tuple[tuple[int, int], ...] = BODYPOSENET_LIMBS
    paf_channels: tuple[tuple[int, int], ...] | None = None
    paf_count: int | None = None
    num_joints: int = 18
    heatmap_threshold: float = 0.1
    heatmap_sigma: float = 0.0
    refine: bool = True
    max_peaks: int | None = 64
    paf_threshold: float = 0.05
    paf_samples: int = 10
    min_paf_fraction: float = 0.8
    length_prior: float = 0.5
    min_parts: int = 4
    min_mean_score: float = 0.4
    strong_peak: float = 0.5

    def __post_init__(self) -> None:
        for a, b in self.limbs:
            if not (0 <= a < self.num_joints and 0 <= b < self.num_joints) or a == b:
                raise InputError(f"limb ({a}, {b}) is not a pair of distinct joints of {self.num_joints}")
        if self.paf_channels is not None and len(self.paf_channels) != len(self.limbs):
            raise InputError(f"{len(self.paf_channels)} PAF channel pairs for {len(self.limbs)} limbs")
        if self.paf_samples < 2:
            raise InputError(f"paf_samples must be >= 2, got {self.paf_samples}")
        used = [c for pair in self.channels for c in pair]
        if min(used) < 0 or max(used) >= self.num_paf_channels:
            raise InputError(f"PAF channels {sorted(set(used))} do not fit {self.num_paf_channels} PAF channels "
                             "(set paf_count to the network's PAF channel count)")
        if len(set(used)) != len(used):
            raise InputError("a PAF channel is used by two limbs (or twice by one)")

    @classmethod
    def from_preset(cls, name: str, **kw) -> "DecodeSettings":
        """Settings with a named limb topology and PAF channel order (:data:`PAF_PRESETS`), e.g.
        ``DecodeSettings.from_preset("openpose-coco18")`` for OpenPose-trained COCO-18 networks."""
        if name not in PAF_PRESETS:
            raise InputError(f"unknown PAF preset {name!r}; known: {sorted(PAF_PRESETS)}")
        limbs, channels = PAF_PRESETS[name]
        return cls(limbs=limbs, paf_channels=channels, **kw)

    @property
    def channels(self) -> tuple[tuple[int, int], ...]:
        if self.paf_channels is not None:
            return self.paf_channels
        return tuple((2 * k, 2 * k + 1) for k in range(len(self.limbs)))

    @property
    def num_paf_channels(self) -> int:
        """PAF channels the maps must have: ``paf_count``, else 2 per limb."""
        return int(self.paf_count) if self.paf_count is not None else 2 * len(self.limbs)


@dataclass
class People:
    """People found in one image.

    Attributes:
        keypoints: ``(P, J, 2)`` image pixels; NaN where a joint was not found.
        confidence: ``(P, J)`` heatmap peak heights (sub-cell fitted); 0 where not found.
        scores: ``(P,)`` score per found joint (joint peaks + limb scores over joint count).
        problem: ``None``, or a key of :data:`PROBLEMS` when the maps show a detectable mistake (strong
            heatmap peaks that the PAFs do not link into people).
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    scores: np.ndarray
    problem: str | None = None

    def __len__(self) -> int:
        return len(self.keypoints)

    @classmethod
    def empty(cls, num_joints: int = 18, problem: str | None = None) -> "People":
        return cls(np.zeros((0, num_joints, 2), np.float32), np.zeros((0, num_joints), np.float32),
                   np.zeros(0, np.float32), problem)

    def boxes(self, margin: float = 0.1) -> np.ndarray:
        """``(P, 4)`` boxes ``x0, y0, x1, y1`` around each person's found joints, enlarged by ``margin`` per side."""
        out = np.zeros((len(self), 4), np.float32)
        for i, kp in enumerate(self.keypoints):
            ok = np.isfinite(kp).all(-1)
            lo, hi = kp[ok].min(0), kp[ok].max(0)
            pad = (hi - lo) * margin
            out[i] = [*(lo - pad), *(hi + pad)]
        return out


_NEIGHBOURS_STRICT = ((-1, -1), (-1, 0), (-1, 1), (0, -1))  # earlier cells: must be strictly lower


_NEIGHBOURS_WEAK = ((0, 1), (1, -1), (1, 0), (1, 1))  # later cells: may be equal


def _refine_axis(lo: np.ndarray, c: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through ``(-1, lo), (0, c), (1, r)`` (log values when all are positive).

    Returns:
        the offset in ``[-0.5, 0.5]`` and the ratio ``peak value / c`` at that offset.
    """
    pos = (lo > 0) & (c > 0) & (r > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ll = np.where(pos, np.log(np.where(pos, lo, 1)), lo)
        cc = np.where(pos, np.log(np.where(pos, c, 1)), c)
        rr = np.where(pos, np.log(np.where(pos, r, 1)), r)
        den = ll - 2 * cc + rr
        off = np.clip(np.nan_to_num(np.where(den < 0, 0.5 * (ll - rr) / den, 0.0)), -0.5, 0.5)
        gain = 0.5 * (rr - ll) * off + 0.5 * den * off**2
        ratio = np.where(pos, np.exp(gain), 1 + gain / np.where(c != 0, c, 1))
    return off, np.nan_to_num(ratio, nan=1.0, posinf=1.0)


def find_peaks(
    heatmaps: np.ndarray,
    threshold: float = 0.1,
    sigma: float = 0.0,
    refine: bool = True,
    max_peaks: int | None = None,
) -> list[np.ndarray]:
    """Local maxima of each joint's heatmap.

    Args:
        heatmaps: ``(J, H, W)`` maps (only the joints to search; no background).
        threshold: minimum value of a peak.
        sigma: Gaussian smoothing in cells before the search (0: none).
        refine: sub-cell refinement (log-parabola per axis).
        max_peaks: keep at most this many per joint, highest first.

    Returns:
        ``J`` arrays ``(n_j, 3)``: ``x, y`` in heatmap cells (cell centres at
        integers) and the peak value (the fitted height when refining, the raw
        cell value when smoothing), sorted by value (highest first).
    """
    hm = _maps(heatmaps, "heatmaps")
    if hm.ndim != 3:
        raise InputError(f"heatmaps must be (joints, height, width), got shape {hm.shape}")
    _check_maps_finite(hm, "heatmaps", "joint")
    if sigma > 0:
        from scipy.ndimage import gaussian_filter

        hm = gaussian_filter(hm, sigma=(0, sigma, sigma), mode="constant")
    nj, h, w = hm.shape
    j, y, x = np.nonzero(hm > threshold)
    out: list[np.ndarray] = [np.zeros((0, 3), np.float32) for _ in range(nj)]
    if len(j) == 0:
        return out
    pad = np.full((nj, h + 2, w + 2), -np.inf, np.float32)
    pad[:, 1:-1, 1:-1] = hm
    yp, xp = y + 1, x + 1
    v = pad[j, yp, xp]
    keep = np.ones(len(v), bool)
    for dy, dx in _NEIGHBOURS_STRICT:
        keep &= v > pad[j, yp + dy, xp + dx]
    for dy, dx in _NEIGHBOURS_WEAK:
        keep &= v >= pad[j, yp + dy, xp + dx]
    j, yp, xp, v = j[keep], yp[keep], xp[keep], v[keep]
    fx = xp.astype(np.float32) - 1
    fy = yp.astype(np.float32) - 1
    if refine and len(v):
        zero = np.where(np.isfinite(pad), pad, 0.0)
        inner_x = (xp > 1) & (xp < w)
        inner_y = (yp > 1) & (yp < h)
        ox, gx = _refine_axis(zero[j, yp, xp - 1], v, zero[j, yp, xp + 1])
        oy, gy = _refine_axis(zero[j, yp - 1, xp], v, zero[j, yp + 1, xp])
        fx = fx + np.where(inner_x, ox, 0.0)
        fy = fy + np.where(inner_y, oy, 0.0)
        # the joint's confidence: the fitted peak height (the cell value without refinement)
        score = v * np.where(inner_x, gx, 1.0) * np.where(inner_y, gy, 1.0)
    else:
        score = v
    if sigma > 0:  # smoothing lowers peaks: report the raw value at the peak cell
        score = np.asarray(heatmaps, np.float32)[j, yp - 1, xp - 1]
    score = score.astype(np.float32)
    order = np.lexsort((-score, j))
    j, fx, fy, score = j[order], fx[order], fy[order], score[order]
    bounds = np.searchsorted(j, np.arange(nj + 1))
    for k in range(nj):
        s, e = bounds[k], bounds[k + 1]
        if max_peaks is not None:
            e = min(e, s + max_peaks)
        if e > s:
            out[k] = np.stack([fx[s:e], fy[s:e], score[s:e]], 1).astype(np.float32)
    return out


def _maps(x, what: str) -> np.ndarray:
    """``x`` as float32 maps; :class:`~poselift.core.errors.InputError` for anything that is not numbers."""
    return numeric_array(x, what, np.float32)


def _check_maps_finite(maps: np.ndarray, what: str, channel: str) -> None:
    """NaN/inf in ``(C, H, W)`` maps: :class:`~poselift.core.errors.InputError` naming the first bad cell."""
    bad = ~np.isfinite(maps)
    if bad.any():
        c, y, x = np.unravel_index(int(np.argmax(bad)), maps.shape)
        v = maps[c, y, x]
        raise InputError(f"{what} contain {'NaN' if v != v else 'inf'} at {channel} {c}, row {y}, column {x} "
                         f"({int(bad.sum())} non-finite values)")


def score_limbs(
    cand_a: np.ndarray,
    cand_b: np.ndarray,
    paf: np.ndarray,
    channels: tuple[int, int],
    cell_size: tuple[float, float] = (1.0, 1.0),
    paf_ratio: tuple[float, float] = (1.0, 1.0),
    image_width: float | None = None,
    settings: DecodeSettings = DecodeSettings(),
) -> list[tuple[int, int, float]]:
    """Score every pair of candidates of one limb and match them greedily.

    Args:
        cand_a, cand_b: ``(nA, 3)``, ``(nB, 3)`` peaks (x, y in heatmap cells, value).
        paf: ``(Hp, Wp, C)`` part affinity fields (channels last).
        channels: the limb's (x, y) channels in ``paf``.
        cell_size: image pixels per heatmap cell (x, y): limb directions and
            lengths are measured in image pixels.
        paf_ratio: PAF cells per heatmap cell (x, y) (e.g. 4 when the PAF is at stride 2 and the heatmap at stride 8).
        image_width: image width in pixels for the length prior (``None``: no prior).
        settings: thresholds.

    Returns:
        ``(i, j, score)`` connections (indices into ``cand_a`` / ``cand_b``),
        best first, each candidate used at most once.
    """
    na, nb = len(cand_a), len(cand_b)
    if na == 0 or nb == 0:
        return []
    hp, wp = paf.shape[:2]
    cs = np.asarray(cell_size, np.float32)
    ratio = np.asarray(paf_ratio, np.float32)
    a = cand_a[:, :2]
    b = cand_b[:, :2]
    d_img = (b[None, :, :] - a[:, None, :]) * cs  # (nA, nB, 2) image pixels
    norm = np.sqrt((d_img**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = d_img / norm[..., None]
    pa = (a + 0.5) * ratio - 0.5  # PAF cell coordinates
    pb = (b + 0.5) * ratio - 0.5
    t = np.linspace(0.0, 1.0, settings.paf_samples, dtype=np.float32)
    pts = pa[:, None, None, :] + t[None, None, :, None] * (pb[None, :, None, :] - pa[:, None, None, :])
    xi = np.clip(np.rint(pts[..., 0]).astype(np.intp), 0, wp - 1)
    yi = np.clip(np.rint(pts[..., 1]).astype(np.intp), 0, hp - 1)
    cx, cy = channels
    vx = paf[yi, xi, cx]
    vy = paf[yi, xi, cy]
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf PAF values give NaN/inf scores: rejected below
        dots = vx * unit[..., None, 0] + vy * unit[..., None, 1]  # (nA, nB, S)
        frac = (dots > settings.paf_threshold).mean(-1)
        mean = dots.mean(-1)
    if image_width is not None:
        with np.errstate(divide="ignore"):
            mean = mean + np.minimum(settings.length_prior * image_width / norm - 1.0, 0.0)
    ok = (frac > settings.min_paf_fraction) & (mean > 0) & (norm > 0) & np.isfinite(mean)
    ii, jj = np.nonzero(ok)
    if len(ii) == 0:
        return []
    sc = mean[ii, jj]
    order = np.argsort(-sc, kind="stable")
    used_a, used_b = set(), set()
    out = []
    limit = min(na, nb)
    for o in order:
        i, j = int(ii[o]), int(jj[o])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append((i, j, float(sc[o])))
        if len(out) >= limit:
            break
    return out


def redundant_limbs(limbs: Sequence[tuple[int, int]]) -> tuple[bool, ...]:
    """Which limbs close a cycle when the topology is walked in order (union-find)."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = []
    for a, b in limbs:
        ra, rb = root(a), root(b)
        out.append(ra == rb)
        if ra != rb:
            parent[ra] = rb
    return tuple(out)


class _Person:
    __slots__ = ("parts", "score", "count")

    def __init__(self, num_joints: int) -> None:
        self.parts = [-1] * num_joints
        self.score = 0.0
        self.count = 0


def assemble_people(
    peaks: Sequence[np.ndarray],
    connections: Sequence[list[tuple[int, int, float]]],
    settings: DecodeSettings = DecodeSettings(),
) -> list[tuple[list[int], float, int]]:
    """Group limb connections into people.

    Args:
        peaks: per joint ``(n_j, 3)`` candidates (value in column 2).
        connections: per limb, ``(i, j, score)`` from :func:`score_limbs`.
        settings: topology and the people filters.

    Returns:
        per person: candidate index per joint (``-1`` if missing), total score, joint count.
    """
    nj = settings.num_joints
    redundant = redundant_limbs(settings.limbs)
    owner: list[dict[int, _Person]] = [dict() for _ in range(nj)]
    people: list[_Person] = []
    for k, (ja, jb) in enumerate(settings.limbs):
        va, vb = peaks[ja][:, 2], peaks[jb][:, 2]
        for i, j, s in connections[k]:
            pa, pb = owner[ja].get(i), owner[jb].get(j)
            if pa is None and pb is None:
                if redundant[k]:
                    continue
                p = _Person(nj)
                p.parts[ja], p.parts[jb] = i, j
                p.score, p.count = float(va[i] + vb[j] + s), 2
                owner[ja][i] = owner[jb][j] = p
                people.append(p)
            elif pb is None:
                if pa.parts[jb] == -1:
                    pa.parts[jb] = j
                    pa.score += float(vb[j] + s)
                    pa.count += 1
                    owner[jb][j] = pa
            elif pa is None:
                if pb.parts[ja] == -1:
                    pb.parts[ja] = i
                    pb.score += float(va[i] + s)
                    pb.count += 1
                    owner[ja][i] = pb
            elif pa is not pb:
                if all(x == -1 or y == -1 for x, y in zip(pa.parts, pb.parts)):
                    for jj, c in enumerate(pb.parts):
                        if c != -1:
                            pa.parts[jj] = c
                            owner[jj][c] = pa
                    pa.score += pb.score + s
                    pa.count += pb.count
                    pb.count = 0  # merged away
    out = []
    for p in people:
        if p.count >= max(settings.min_parts, 1) and p.score / p.count >= settings.min_mean_score:
            out.append((p.parts, p.score, p.count))
    out.sort(key=lambda r: -r[1])
    return out


def _channels_last(maps: np.ndarray, counts: tuple[int, ...], layout: str, what: str) -> np.ndarray:
    """``maps`` as ``(H, W, C)``, checking that the channel axis has exactly one of ``counts`` channels.

    A map whose channels sit on the other axis is refused with a message that says so (channel-first
    maps read as channels-last have their width as channel count, e.g. 57, and decode to nobody).
    """
    want = " or ".join(str(c) for c in counts)
    if layout not in MAP_LAYOUTS:
        raise InputError(f"{what}: layout must be one of {list(MAP_LAYOUTS)}, got {layout!r}")
    if maps.ndim != 3:
        raise InputError(f"{what} must be one image's maps, (height, width, {want}) for layout 'HWC' or "
                         f"({want}, height, width) for 'CHW'; got shape {maps.shape}")
    axis, other = (2, 0) if layout == "HWC" else (0, 2)
    if maps.shape[axis] in counts:
        return maps if layout == "HWC" else np.moveaxis(maps, 0, -1)
    if maps.shape[other] in counts:
        fix = "pass layout='CHW'" if layout == "HWC" else "pass layout='HWC'"
        order = "first" if layout == "HWC" else "last"
        raise InputError(f"{what} of shape {maps.shape} have their {want} channels {order}, not on the axis "
                         f"layout {layout!r} says: {fix}, or transpose them")
    raise InputError(f"{what} must have exactly {want} channels ({'last' if layout == 'HWC' else 'first'} for "
                     f"layout {layout!r}); got shape {maps.shape}")


PROBLEMS: dict[str, str] = {
    "unlinked": "joint types have strong heatmap peaks but no limb links them into a person: check the PAF "
                "channel order (--paf-order / DecodeSettings.from_preset) and the PAF thresholds (most strong "
                "peaks are in nobody)",
    "flipped": "the PAFs point the other way along the limbs: with their sign flipped they link the strong "
               "heatmap peaks into people, as given they leave most in nobody; the network's limbs run from the second "
               "joint to the first: negate the PAFs (pafs = -pafs)",
}
"""Mistakes in the maps that the decoder can see, by :attr:`People.problem` key. Not among them: heatmap
channels of left and right joints swapped (a network that labels the left wrist as the right one gives maps
that are as consistent as the right ones: a person seen from behind looks like that), which cannot be told
apart from the maps in general."""


def _diagnose(peaks: Sequence[np.ndarray], groups, paf: np.ndarray, limb_args, settings: DecodeSettings
              ) -> str | None:
    """``None`` or a :data:`PROBLEMS` key: strong peaks (``settings.strong_peak``) in ``min_parts`` or more
    joint types of the topology, of which more than half are in nobody; ``"flipped"`` when decoding with the
    negated PAFs puts at least half of them in people."""
    linkable = {j for limb in settings.limbs for j in limb}  # joint types the topology can put in a person
    strong = [np.flatnonzero(p[:, 2] >= settings.strong_peak) if j in linkable else np.zeros(0, np.intp)
              for j, p in enumerate(peaks)]
    if sum(len(s) > 0 for s in strong) < max(settings.min_parts, 2):
        return None
    total = sum(len(s) for s in strong)

    def in_people(found) -> int:
        used = [set() for _ in peaks]
        for parts, _, _ in found:
            for j, c in enumerate(parts):
                if c >= 0:
                    used[j].add(c)
        return sum(sum(int(c) in used[j] for c in s) for j, s in enumerate(strong))

    if in_people(groups) * 2 >= total:
        return None
    negated = [score_limbs(peaks[a], peaks[b], -paf, ch, *limb_args, settings)
               for (a, b), ch in zip(settings.limbs, settings.channels)]
    return "flipped" if in_people(assemble_people(peaks, negated, settings)) * 2 >= total else "unlinked"


def decode_people(
    heatmaps: np.ndarray,
    pafs: np.ndarray,
    settings: DecodeSettings = DecodeSettings(),
    cell_size: tuple[float, float] = (1.0, 1.0),
    image_width: float | None = None,
    layout: str = "HWC",
    warn: bool = True,
) -> People:
    """Heatmaps + PAFs of one image to people.

    Args:
        heatmaps: ``(H, W, C)`` with exactly ``C = settings.num_joints`` or ``num_joints + 1`` (a trailing
            background channel is ignored); ``(C, H, W)`` with ``layout="CHW"``.
        pafs: ``(Hp, Wp, Cp)`` with exactly ``Cp = settings.num_paf_channels`` (``(Cp, Hp, Wp)`` with
            ``layout="CHW"``); may have a higher resolution than the heatmaps.
        settings: :class:`DecodeSettings`.
        cell_size: image pixels per heatmap cell (x, y); keypoints are
            returned as ``(cell + 0.5) * cell_size``.
        image_width: image width in pixels for the limb length prior.
        layout: ``"HWC"`` (channels last, TAO's) or ``"CHW"`` (channels first, PyTorch/OpenVINO's). Maps
            whose channel counts sit on the other axis are refused with a message saying to pass the
            other layout or transpose, never decoded into nobody.
        warn: give an :class:`~poselift.core.errors.InputWarning` when the maps show a detectable mistake
            (:data:`PROBLEMS`: strong peaks in several joint types that the PAFs leave mostly unlinked,
            and whether negating the PAFs links them); :attr:`People.problem` says it either way.

    Returns:
        :class:`People` (zero people is a valid answer).
    """
    hm = _channels_last(_maps(heatmaps, "heatmaps"), (settings.num_joints + 1, settings.num_joints), layout,
                        "heatmaps")
    paf = _channels_last(_maps(pafs, "pafs"), (settings.num_paf_channels,), layout, "pafs")
    if hm.shape[0] and hm.shape[1] and not (paf.shape[0] and paf.shape[1]):
        raise InputError(f"pafs are empty (shape {paf.shape}) but the heatmaps are not (shape {hm.shape})")
    # NaN PAF values are not checked here (a full pass costs ~0.5 ms): they fail every limb criterion
    nj = settings.num_joints
    peaks = find_peaks(np.moveaxis(hm[..., :nj], -1, 0), settings.heatmap_threshold, settings.heatmap_sigma,
                       settings.refine, settings.max_peaks)
    if not any(len(p) for p in peaks):
        return People.empty(nj)
    ratio = (paf.shape[1] / hm.shape[1], paf.shape[0] / hm.shape[0])
    conns = [
        score_limbs(peaks[a], peaks[b], paf, ch, cell_size, ratio, image_width, settings)
        for (a, b), ch in zip(settings.limbs, settings.channels)
    ]
    groups = assemble_people(peaks, conns, settings)
    problem = _diagnose(peaks, groups, paf, (cell_size, ratio, image_width), settings)
    if problem is not None and warn:
        warnings.warn(f"decode_people: {PROBLEMS[problem]}", InputWarning, stacklevel=2)
    if not groups:
        return People.empty(nj, problem)
    kp = np.full((len(groups), nj, 2), np.nan, np.float32)
    conf = np.zeros((len(groups), nj), np.float32)
    scores = np.zeros(len(groups), np.float32)
    cs = np.asarray(cell_size, np.float32)
    for p, (parts, score, count) in enumerate(groups):
        for j, c in enumerate(parts):
            if c >= 0:
                kp[p, j] = (peaks[j][c, :2] + 0.5) * cs
                conf[p, j] = peaks[j][c, 2]
        scores[p] = score / count
    return People(kp, conf, scores, problem)
