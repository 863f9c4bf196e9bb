"""Joint layouts (skeleton definitions) and explicit conversions between them.

A :class:`Layout` is a named joint order with a kinematic tree (``parents``)
and left/right symmetry. Every skeleton the package meets lives in one table,
:data:`LAYOUTS`, and is looked up by name with :func:`get_layout`:

===================  ====  =======================================================
name                 J     where it comes from
===================  ====  =======================================================
``h36m17``           17    Human3.6M evaluation joints (VideoPose3D/Martinez order)
``mpii16``           16    Stacked Hourglass detections shipped with Human3.6M
``coco17``           17    COCO keypoints (Detectron2, MMPose, most 2D detectors)
``bodyposenet18``    18    NVIDIA TAO BodyPoseNet (COCO + neck, OpenPose order)
``bodypose3dnet34``  34    NVIDIA TAO BodyPose3DNet
``humaneva15``       15    HumanEva-I
``blazepose33``      33    MediaPipe BlazePose GHUM landmarks
===================  ====  =======================================================

Joint names are shared across layouts where the joint means the same thing
(``left_knee`` is the left knee everywhere), so :func:`correspondence` can
find the joints two layouts have in common by name. Conversions that need
arithmetic (a pelvis from two hips, a head top extrapolated from the ears)
are :class:`LayoutMapping` objects: a fixed affine weight matrix plus a
one-line explanation per output joint, so what is measured and what is
computed is always visible.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from poselift.core.errors import InputError, LayoutError

__all__ = [
    "Layout",
    "LayoutMapping",
    "LAYOUTS",
    "get_layout",
    "correspondence",
    "register_layout",
    "register_mapping",
    "get_mapping",
    "conversions",
    "convert",
    "reachable",
    "reachable_from",
    "H36M17",
    "MPII16",
    "COCO17",
    "BODYPOSENET18",
    "BODYPOSE3DNET34",
    "HUMANEVA15",
    "BLAZEPOSE33",
]


@dataclass(frozen=True)
class Layout:
    """A joint order with its kinematic tree and left/right symmetry.

    Attributes:
        name: registry key, e.g. ``"h36m17"``.
        joints: joint names, in array order.
        parents: parent index per joint, ``-1`` for the root.
        root: index of the root joint (the one subtracted for root-relative poses).
        extra_edges: (a, b) pairs drawn in plots in addition to the tree
            (e.g. shoulder-to-shoulder for layouts without a thorax).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    root: int = 0
    extra_edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents):
            raise InputError(f"layout {self.name}: {len(self.joints)} names but {len(self.parents)} parents")
        if len(set(self.joints)) != len(self.joints):
            raise InputError(f"layout {self.name}: duplicate joint names")
        if self.parents[self.root] != -1:
            raise InputError(f"layout {self.name}: root joint {self.root} must have parent -1")
        for j, p in enumerate(self.parents):
            if p >= len(self.joints) or (p < 0 and j != self.root):
                raise InputError(f"layout {self.name}: bad parent {p} for joint {j}")
        # every right_* joint needs a left_* partner and vice versa
        for n in self.joints:
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if n.startswith(a) and b + n[len(a):] not in self.joints:
                    raise InputError(f"layout {self.name}: {n} has no mirror joint")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        """Index of joint ``name``; raises :class:`~poselift.core.errors.LayoutError` (a ``KeyError``) naming the layout."""
        try:
            return self.joints.index(name)
        except ValueError:
            raise LayoutError(f"layout {self.name!r} has no joint {name!r}; joints: {self.joints}") from None

    @property
    def left(self) -> tuple[int, ...]:
        """Indices of left joints, paired element-wise with :attr:`right`."""
        return tuple(i for i, n in enumerate(self.joints) if n.startswith("left_"))

    @property
    def right(self) -> tuple[int, ...]:
        return tuple(self.joints.index("right_" + self.joints[i][5:]) for i in self.left)

    @property
    def flip_permutation(self) -> np.ndarray:
        """Permutation that swaps left and right joints: ``x_flipped = x[..., perm, :]``."""
        perm = np.arange(self.num_joints)
        perm[list(self.left)] = self.right
        perm[list(self.right)] = self.left
        return perm

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs of the kinematic tree."""
        return tuple((j, p) for j, p in enumerate(self.parents) if p >= 0)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Pairs of joints connected in drawings: tree bones plus ``extra_edges``."""
        return self.bones + self.extra_edges

    def is_left(self, j: int) -> bool:
        return self.joints[j].startswith("left_")

    def is_right(self, j: int) -> bool:
        return self.joints[j].startswith("right_")

    def check(self, array, what: str = "array", axis: int = -2) -> None:
        """Raise :class:`~poselift.core.errors.InputError` if ``array.shape[axis]`` is not this layout's joint count."""
        shape = tuple(np.shape(array))
        if len(shape) < (-axis if axis < 0 else axis + 1):
            raise InputError(f"{what}: expected joints on axis {axis}, got shape {shape}")
        if shape[axis] != self.num_joints:
            raise InputError(
                f"{what}: wrong joint count: layout {self.name!r} has {self.num_joints} joints but the array "
                f"has {shape[axis]} on axis {axis} (shape {shape})"
            )


def _layout(name, joints, parent_names, root, extra=()):
    joints = tuple(joints)
    parents = tuple(-1 if parent_names[n] is None else joints.index(parent_names[n]) for n in joints)
    extra_idx = tuple((joints.index(a), joints.index(b)) for a, b in extra)
    return Layout(name, joints, parents, joints.index(root), extra_idx)


H36M17 = Layout(
    "h36m17",
    (
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "neck_nose", "head_top", "left_shoulder",
        "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
)
"""Human3.6M, 17 joints in the VideoPose3D / Martinez order (Martinez calls joints 7-10
Spine, Thorax, Neck/Nose, Head). ``head_top`` is the top of the head; ``neck_nose`` the mocap marker
between neck and nose."""

MPII16 = _layout(
    "mpii16",
    (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),
    {
        "pelvis": None, "right_hip": "pelvis", "left_hip": "pelvis", "right_knee": "right_hip",
        "left_knee": "left_hip", "right_ankle": "right_knee", "left_ankle": "left_knee",
        "thorax": "pelvis", "upper_neck": "thorax", "head_top": "upper_neck",
        "right_shoulder": "thorax", "left_shoulder": "thorax", "right_elbow": "right_shoulder",
        "left_elbow": "left_shoulder", "right_wrist": "right_elbow", "left_wrist": "left_elbow",
    },
    root="pelvis",
)
"""MPII's 16 joints in the order of the Stacked Hourglass detections of the Human3.6M archive:
right ankle, right knee, right hip, left hip, left knee, left ankle, pelvis, thorax, upper neck, head top,
right wrist, right elbow, right shoulder, left shoulder, left elbow, left wrist. (Martinez et al.'s code calls
joints 7-9 "Spine, Thorax, Head"; measured against the projected Human3.6M joints, joint 7 is the thorax and
there is no counterpart of Human3.6M's spine: ``experiments/scripts/sh_joint_distances.py``.)"""

COCO17 = _layout(
    "coco17",
    (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    {
        "nose": None, "left_eye": "nose", "right_eye": "nose", "left_ear": "left_eye",
        "right_ear": "right_eye", "left_shoulder": "nose", "right_shoulder": "nose",
        "left_elbow": "left_shoulder", "right_elbow": "right_shoulder",
        "left_wrist": "left_elbow", "right_wrist": "right_elbow", "left_hip": "left_shoulder",
        "right_hip": "right_shoulder", "left_knee": "left_hip", "right_knee": "right_hip",
        "left_ankle": "left_knee", "right_ankle": "right_knee",
    },
    root="nose",
    extra=(("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")),
)
"""COCO keypoints (17). COCO has no pelvis; the tree used for drawing hangs
off the nose and ``root`` is the nose (convert to ``h36m17`` for
root-relative work)."""

BODYPOSENET18 = _layout(
    "bodyposenet18",
    (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
        "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    {
        "neck": None, "nose": "neck", "right_shoulder": "neck", "left_shoulder": "neck",
        "right_elbow": "right_shoulder", "left_elbow": "left_shoulder",
        "right_wrist": "right_elbow", "left_wrist": "left_elbow", "right_hip": "neck",
        "left_hip": "neck", "right_knee": "right_hip", "left_knee": "left_hip",
        "right_ankle": "right_knee", "left_ankle": "left_knee", "right_eye": "nose",
        "left_eye": "nose", "right_ear": "right_eye", "left_ear": "left_eye",
    },
    root="neck",
    extra=(("left_hip", "right_hip"),),
)
"""NVIDIA TAO BodyPoseNet, 18 joints (COCO plus neck, OpenPose order)."""

BODYPOSE3DNET34 = _layout(
    "bodypose3dnet34",
    (
        "pelvis", "left_hip", "right_hip", "torso", "left_knee", "right_knee", "neck",
        "left_ankle", "right_ankle", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe", "left_heel", "right_heel", "nose", "left_eye", "right_eye",
        "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_pinky_knuckle",
        "right_pinky_knuckle", "left_middle_tip", "right_middle_tip",
        "left_index_knuckle", "right_index_knuckle", "left_thumb_tip", "right_thumb_tip",
    ),
    {
        "pelvis": None, "left_hip": "pelvis", "right_hip": "pelvis", "torso": "pelvis",
        "left_knee": "left_hip", "right_knee": "right_hip", "neck": "torso",
        "left_ankle": "left_knee", "right_ankle": "right_knee",
        "left_big_toe": "left_ankle", "right_big_toe": "right_ankle",
        "left_small_toe": "left_ankle", "right_small_toe": "right_ankle",
        "left_heel": "left_ankle", "right_heel": "right_ankle", "nose": "neck",
        "left_eye": "nose", "right_eye": "nose", "left_ear": "left_eye", "right_ear": "right_eye",
        "left_shoulder": "neck", "right_shoulder": "neck", "left_elbow": "left_shoulder",
        "right_elbow": "right_shoulder", "left_wrist": "left_elbow", "right_wrist": "right_elbow",
        "left_pinky_knuckle": "left_wrist", "right_pinky_knuckle": "right_wrist",
        "left_middle_tip": "left_wrist", "right_middle_tip": "right_wrist",
        "left_index_knuckle": "left_wrist", "right_index_knuckle": "right_wrist",
        "left_thumb_tip": "left_wrist", "right_thumb_tip": "right_wrist",
    },
    root="pelvis",
)
"""NVIDIA TAO BodyPose3DNet, 34 joints (order of the model card)."""

HUMANEVA15 = _layout(
    "humaneva15",
    (
        "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
        "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
        "right_knee", "right_ankle", "head",
    ),
    {
        "pelvis": None, "thorax": "pelvis", "left_shoulder": "thorax", "left_elbow": "left_shoulder",
        "left_wrist": "left_elbow", "right_shoulder": "thorax", "right_elbow": "right_shoulder",
        "right_wrist": "right_elbow", "left_hip": "pelvis", "left_knee": "left_hip",
        "left_ankle": "left_knee", "right_hip": "pelvis", "right_knee": "right_hip",
        "right_ankle": "right_knee", "head": "thorax",
    },
    root="pelvis",
)
"""HumanEva-I, 15 joints."""

LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    """Add ``layout`` to :data:`LAYOUTS` (replacing one of the same name)."""
    LAYOUTS[layout.name] = layout
    return layout


for _l in (H36M17, MPII16, COCO17, BODYPOSENET18, BODYPOSE3DNET34, HUMANEVA15):
    register_layout(_l)


def get_layout(layout: str | Layout) -> Layout:
    """Return the :class:`Layout` called ``layout`` (or ``layout`` itself).

    Raises:
        LayoutError: (a ``KeyError`` and ``ValueError``) an unknown name, listing the known ones.

    >>> h36m = get_layout("h36m17")
    >>> h36m.num_joints, h36m.joints[h36m.root], h36m.index("left_wrist")
    (17, 'pelvis', 13)
    >>> get_layout("h36m16")
    Traceback (most recent call last):
    ...
    poselift.core.errors.LayoutError: unknown joint layout 'h36m16'; known: [...'coco17', 'h36m17'...]
    """
    if isinstance(layout, Layout):
        return layout
    if not isinstance(layout, str):
        raise LayoutError(f"a joint layout is a name such as 'h36m17' or a Layout, got {type(layout).__name__} "
                          f"{layout!r:.80}; known: {sorted(LAYOUTS)}")
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise LayoutError(f"unknown joint layout {layout!r}; known: {sorted(LAYOUTS)}") from None


def correspondence(src: str | Layout, dst: str | Layout) -> tuple[np.ndarray, np.ndarray]:
    """Joints present in both layouts, matched by name.

    Returns:
        ``(src_idx, dst_idx)``: int arrays of equal length, ordered by ``dst``
        index, such that ``src_array[..., src_idx, :]`` and
        ``dst_array[..., dst_idx, :]`` hold the same joints.

    Example: ``correspondence("mpii16", "h36m17")`` matches 15 joints: the legs, pelvis,
    thorax, head top and arms; Human3.6M's spine and neck/nose have no Stacked Hourglass
    counterpart, and SH's upper neck none in Human3.6M.
    """
    src, dst = get_layout(src), get_layout(dst)
    pairs = [(src.joints.index(n), j) for j, n in enumerate(dst.joints) if n in src.joints]
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    s, d = zip(*pairs)
    return np.asarray(s, dtype=np.int64), np.asarray(d, dtype=np.int64)


@dataclass(frozen=True)
class LayoutMapping:
    """A fixed affine conversion from layout ``src`` to layout ``dst``.

    Every output joint is a weighted sum of input joints whose weights sum to
    one (so the mapping commutes with translation, rotation and scaling), or
    is *missing* (all-zero row). ``notes[j]`` says in words how output joint
    ``j`` is obtained.

    Confidence of an output joint is the minimum confidence of the input
    joints it uses; missing joints get NaN positions and confidence 0.
    """

    src: str
    dst: str
    weights: np.ndarray  # (J_dst, J_src)
    notes: tuple[str, ...]

    def __post_init__(self) -> None:
        s, d = get_layout(self.src), get_layout(self.dst)
        w = np.asarray(self.weights, dtype=np.float64)
        if w.shape != (d.num_joints, s.num_joints):
            raise InputError(f"mapping {self.src}->{self.dst}: weights shape {w.shape}")
        sums = w.sum(1)
        bad = ~(np.isclose(sums, 1.0) | np.all(w == 0, axis=1))
        if bad.any():
            raise InputError(f"mapping {self.src}->{self.dst}: rows {np.flatnonzero(bad)} do not sum to 1")
        if len(self.notes) != d.num_joints:
            raise InputError(f"mapping {self.src}->{self.dst}: need one note per output joint")

    @property
    def missing(self) -> tuple[int, ...]:
        """Output joints this mapping cannot produce."""
        return tuple(int(j) for j in np.flatnonzero(np.all(self.weights == 0, axis=1)))

    def describe(self) -> str:
        """A table, one line per output joint, of how it is obtained."""
        d = get_layout(self.dst)
        return "\n".join(f"{d.joints[j]:>16s} <- {self.notes[j]}" for j in range(d.num_joints))

    def apply(self, points: np.ndarray, confidence: np.ndarray | None = None):
        """Convert ``points`` ``(..., J_src, F)`` to ``(..., J_dst, F)``.

        A missing input joint (any coordinate NaN or infinite, as detectors report a joint they did not
        find) stays local: only the output joints computed from it are NaN (confidence 0); every other
        output joint is exactly the conversion of the complete pose.

        Args:
            points: joint coordinates (any number of coordinates ``F``).
            confidence: optional ``(..., J_src)`` scores.

        Returns:
            ``points_dst`` or ``(points_dst, confidence_dst)`` when a confidence
            was given. Missing joints (the mapping cannot give them, or an input they use is missing)
            are NaN with confidence 0.
        """
        src = get_layout(self.src)
        points = np.asarray(points)
        if points.dtype.kind not in "biuf":
            raise InputError(f"points ({self.src} -> {self.dst}): expected numbers, got dtype {points.dtype}")
        src.check(points, f"points ({self.src} -> {self.dst})")
        w = self.weights.astype(points.dtype if points.dtype.kind == "f" else np.float64)
        absent = self._absent(points)  # (..., J_dst): an input joint it uses is missing, or it has none
        if points.dtype.kind == "f":  # a 0 weight times a NaN would spread one missing joint to every output
            found = np.isfinite(points).all(-1, keepdims=True)
            points = np.where(found, points, 0)
        out = np.einsum("dj,...jf->...df", w, points)
        out[absent] = np.nan
        if confidence is None:
            return out
        confidence = np.asarray(confidence)
        if confidence.dtype.kind not in "biuf":
            raise InputError(f"confidence ({self.src} -> {self.dst}): expected numbers, got dtype {confidence.dtype}")
        if confidence.shape != points.shape[:-1]:
            raise InputError(f"confidence ({self.src} -> {self.dst}): shape {confidence.shape} does not match "
                             f"points {points.shape} (expected {points.shape[:-1]})")
        used = self.weights != 0  # (J_dst, J_src)
        c = np.where(used, confidence[..., None, :], np.inf).min(-1)
        c[absent] = 0.0
        return out, c.astype(confidence.dtype if confidence.dtype.kind == "f" else np.float32)

    def _absent(self, points: np.ndarray) -> np.ndarray:
        """``(..., J_dst)`` bool: output joints this mapping cannot give for ``points`` ``(..., J_src, F)``:
        those it never gives (:attr:`missing`) and those computed from a missing (non-finite) input joint."""
        lost = ~np.isfinite(points).all(-1) if points.dtype.kind == "f" else np.zeros(points.shape[:-1], bool)
        used = (self.weights != 0).astype(np.float32)  # (J_dst, J_src)
        absent = (lost.astype(np.float32) @ used.T) > 0
        absent[..., list(self.missing)] = True
        return absent


def mapping_from_rules(src: str | Layout, dst: str | Layout, rules: Mapping[str, object]) -> LayoutMapping:
    """Build a :class:`LayoutMapping` from readable rules.

    ``rules`` maps output joint names to one of:

    * ``"name"``: copy that input joint;
    * ``{"a": w_a, "b": w_b, ...}``: weighted sum (weights sum to one);
    * ``None``: missing.

    Output joints not in ``rules`` are copied from the input joint of the same
    name when there is one, else missing.
    """
    s, d = get_layout(src), get_layout(dst)
    w = np.zeros((d.num_joints, s.num_joints))
    notes = []
    for j, name in enumerate(d.joints):
        rule = rules.get(name, name if name in s.joints else None)
        if rule is None:
            notes.append("missing")
        elif isinstance(rule, str):
            w[j, s.index(rule)] = 1.0
            notes.append(f"{rule}" if rule == name else f"{rule} (taken as {name})")
        else:
            parts = []
            for n, wt in rule.items():
                w[j, s.index(n)] += wt
                parts.append(f"{wt:+.3g}*{n}")
            notes.append(" ".join(parts))
    return LayoutMapping(s.name, d.name, w, tuple(notes))


_MAPPINGS: dict[tuple[str, str], LayoutMapping] = {}


def register_mapping(mapping: LayoutMapping) -> LayoutMapping:
    _MAPPINGS[(mapping.src, mapping.dst)] = mapping
    return mapping


def get_mapping(src: str | Layout, dst: str | Layout) -> LayoutMapping:
    """The registered conversion ``src -> dst`` (identity when equal)."""
    s, d = get_layout(src).name, get_layout(dst).name
    if s == d:
        n = get_layout(s).num_joints
        return LayoutMapping(s, d, np.eye(n), get_layout(s).joints)
    try:
        return _MAPPINGS[(s, d)]
    except KeyError:
        known = sorted(f"{a}->{b}" for a, b in _MAPPINGS)
        raise LayoutError(f"no conversion from {s!r} to {d!r}; known: {known}") from None


def conversions() -> list[tuple[str, str]]:
    """The registered ``(src, dst)`` conversions (identities not included), sorted."""
    return sorted(_MAPPINGS)


def convert(points, src: str | Layout, dst: str | Layout, confidence=None):
    """Convert ``points`` ``(..., J_src, F)`` from layout ``src`` to ``dst``.

    Shorthand for ``get_mapping(src, dst).apply(points, confidence)``: returns
    ``points_dst`` or ``(points_dst, confidence_dst)``; joints ``dst`` has and
    ``src`` cannot give are NaN with confidence 0. A missing (NaN) input joint makes only the output
    joints computed from it NaN (confidence 0): one lost wrist costs a wrist, not the person.

    Raises:
        LayoutError: an unknown layout or no registered conversion.
        InputError: ``points`` with the wrong joint count or not numeric, or a
            ``confidence`` whose shape does not match.

    >>> import numpy as np
    >>> coco = np.random.default_rng(0).uniform(0, 100, (17, 2))        # (J_src, 2), COCO order
    >>> h36m = convert(coco, "coco17", "h36m17")
    >>> h36m.shape
    (17, 2)
    >>> bool(np.allclose(h36m[0], coco[[11, 12]].mean(0)))   # the pelvis: midpoint of COCO's two hips
    True
    >>> convert(coco, "h36m17", "coco17")
    Traceback (most recent call last):
    ...
    poselift.core.errors.LayoutError: no conversion from 'h36m17' to 'coco17'; known: [...]
    """
    return get_mapping(src, dst).apply(points, confidence)


# --- conversions into h36m17 -------------------------------------------------
# Documented joint by joint; the lifter's 3D output is always h36m17, but a
# model trained on h36m17 2D input can take any of these after conversion.

def _with_notes(mapping: LayoutMapping, notes: Mapping[str, str]) -> LayoutMapping:
    """``mapping`` with the formula of each output joint followed by its reason."""
    d = get_layout(mapping.dst)
    full = tuple(f"{mapping.notes[j]}  [{notes[n]}]" if n in notes else mapping.notes[j] for j, n in enumerate(d.joints))
    return LayoutMapping(mapping.src, mapping.dst, mapping.weights, full)


register_mapping(
    _with_notes(
        mapping_from_rules(
            "mpii16",
            "h36m17",
            {
                "spine": {"pelvis": 0.4, "thorax": 0.6},
                "thorax": {"thorax": 0.25, "upper_neck": 0.75},
                "neck_nose": {"upper_neck": 0.8, "head_top": 0.2},
                "head_top": {"upper_neck": 0.5, "head_top": 0.5},
            },
        ),
        {
            # weights fitted by least squares to the projected ground truth of the training subjects
            # (S1, S5-S8, every 10th frame, all cameras), rounded; median errors in pixels
            # (experiments/scripts/sh_joint_distances.py measures the plain distances)
            "spine": "computed: Stacked Hourglass has no spine (its joint 7 is the thorax, 42 px from Human3.6M's "
                     "spine); 0.4 pelvis + 0.6 thorax lands 6 px from it (median)",
            "thorax": "computed: Human3.6M's thorax lies between SH thorax (13 px) and upper neck (7 px); the "
                      "combination lands 6 px from it",
            "neck_nose": "computed from upper neck and head top, 9 px from Human3.6M's neck/nose marker",
            "head_top": "computed: SH's head top lies 23 px above Human3.6M's head marker; half-way to the upper "
                        "neck lands 9 px from it",
        },
    )
)

register_mapping(
    mapping_from_rules(
        "coco17",
        "h36m17",
        {
            "pelvis": {"left_hip": 0.5, "right_hip": 0.5},
            "thorax": {"left_shoulder": 0.5, "right_shoulder": 0.5},
            # spine: midway between pelvis and thorax
            "spine": {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25},
            "neck_nose": "nose",
            # head top: above the ear midpoint by half the ear-midpoint-to-shoulder-midpoint
            # distance: ears + 0.5 * (ears - shoulders)
            "head_top": {"left_ear": 0.75, "right_ear": 0.75, "left_shoulder": -0.25, "right_shoulder": -0.25},
        },
    )
)


# --- detector layouts into h36m17 ---------------------------------------------
# Appended for poselift.detectors. The notes say, joint by joint, what is
# measured and what is computed. Head top: neither detector has one; it is
# extrapolated above the ear midpoint by half the distance from the thorax
# (neck) to the ear midpoint, the same rule as coco17 above (there the
# shoulder midpoint stands in for the thorax). On Human3.6M the ears sit
# about 150-170 mm above the thorax and the head top about 230-250 mm.


register_mapping(
    _with_notes(
        mapping_from_rules(
            "bodypose3dnet34",
            "h36m17",
            {
                "pelvis": "pelvis",
                "spine": "torso",
                "thorax": "neck",
                "neck_nose": "nose",
                "head_top": {"left_ear": 0.75, "right_ear": 0.75, "neck": -0.5},
            },
        ),
        {
            "pelvis": "BodyPose3DNet's own pelvis (root of both skeletons)",
            "right_hip": "measured", "right_knee": "measured", "right_ankle": "measured",
            "left_hip": "measured", "left_knee": "measured", "left_ankle": "measured",
            "spine": "torso: midway pelvis-neck in BodyPose3DNet's limb table (246 + 246 mm), "
                     "where Human3.6M's spine sits (about 233 mm above the pelvis)",
            "thorax": "BodyPose3DNet's neck: 493 mm above the pelvis and the shoulders' parent, "
                      "as Human3.6M's thorax (about 490 mm); not the anatomical neck",
            "neck_nose": "nose (Human3.6M's neck/nose marker is at about nose height)",
            "head_top": "head top extrapolated: ear midpoint + 0.5 * (ear midpoint - neck)",
            "left_shoulder": "measured", "left_elbow": "measured", "left_wrist": "measured",
            "right_shoulder": "measured", "right_elbow": "measured", "right_wrist": "measured",
        },
    )
)

register_mapping(
    _with_notes(
        mapping_from_rules(
            "bodyposenet18",
            "h36m17",
            {
                "pelvis": {"left_hip": 0.5, "right_hip": 0.5},
                "spine": {"left_hip": 0.25, "right_hip": 0.25, "neck": 0.5},
                "thorax": "neck",
                "neck_nose": "nose",
                "head_top": {"left_ear": 0.75, "right_ear": 0.75, "neck": -0.5},
            },
        ),
        {
            "pelvis": "hip midpoint (BodyPoseNet has no pelvis)",
            "right_hip": "measured", "right_knee": "measured", "right_ankle": "measured",
            "left_hip": "measured", "left_knee": "measured", "left_ankle": "measured",
            "spine": "midway between the hip midpoint and the neck",
            "thorax": "BodyPoseNet's neck (labelled as the shoulder midpoint), Human3.6M's thorax",
            "neck_nose": "nose",
            "head_top": "head top extrapolated: ear midpoint + 0.5 * (ear midpoint - neck)",
            "left_shoulder": "measured", "left_elbow": "measured", "left_wrist": "measured",
            "right_shoulder": "measured", "right_elbow": "measured", "right_wrist": "measured",
        },
    )
)


# --- detector layouts into coco17 ----------------------------------------------
# Every COCO joint is measured by both detectors (same names): a selection, nothing computed. They let
# a model trained on COCO-17 input (e.g. VideoPose3D's Detectron model) take BodyPoseNet/BodyPose3DNet 2D.

for _src in ("bodyposenet18", "bodypose3dnet34"):
    register_mapping(mapping_from_rules(_src, "coco17", {}))


def reachable(src: str | Layout, dst: str | Layout) -> bool:
    """Whether 2D in layout ``src`` can feed a model taking ``dst``: the same layout, or a registered
    conversion that produces every joint."""
    s, d = get_layout(src).name, get_layout(dst).name
    return s == d or ((s, d) in _MAPPINGS and not _MAPPINGS[(s, d)].missing)


def reachable_from(src: str | Layout) -> list[str]:
    """The layouts that 2D in ``src`` can be converted to completely (itself first)."""
    s = get_layout(src).name
    return [s] + sorted(d for (a, d), m in _MAPPINGS.items() if a == s and not m.missing)


# =====================================================================================================
# --- cross-dataset joint correspondences ----------------------------------------------------------------
# =====================================================================================================
# A run trained on one dataset, tested on another (``poselift evaluate RUN --on humaneva``): which of its
# output joints are the same anatomical point as a joint of the other dataset's 3D (scored), which share a
# name or role but are defined otherwise (reported separately, never in the scored metrics), and how the
# run's 2D input is made from the other dataset's 2D (a registered LayoutMapping, above or here).
# Appended as its own block: nothing above is changed by it.

__all__ += ["JointCorrespondence", "register_correspondence", "get_correspondence", "HUMANEVA15_ON_H36M17"]


@dataclass(frozen=True)
class JointCorrespondence:
    """Which output joints of a run (layout ``run``) are scored against which 3D joints of a test dataset
    (layout ``data``).

    Attributes:
        run: the run's 3D output layout (e.g. ``"h36m17"``).
        data: the test dataset's 3D layout (e.g. ``"humaneva15"``).
        shared: ``((run joint, data joint), ...)``: the same anatomical point in both; the metrics are
            computed over these only. The two layouts' roots must be one of the pairs (errors are
            root-relative, so both sides must be relative to the same point).
        differ: ``((run joint, data joint, why), ...)``: joints with the same role but another
            definition (e.g. HumanEva-I's hips 93 mm apart, Human3.6M's 261 mm): their distance is
            reported separately, as a difference of definitions plus the model's error, never scored.
        notes: ``{run joint: why it is taken as the same point}``, for the shared joints that need saying.

    Every other joint of either layout is left out (named in :meth:`describe`).
    """

    run: str
    data: str
    shared: tuple[tuple[str, str], ...]
    differ: tuple[tuple[str, str, str], ...] = ()
    notes: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        r, d = get_layout(self.run), get_layout(self.data)
        for a, b in self.shared:
            r.index(a), d.index(b)  # unknown names raise LayoutError naming the layout
        for a, b, _ in self.differ:
            r.index(a), d.index(b)
        runs = [a for a, _ in self.shared] + [a for a, _, _ in self.differ]
        datas = [b for _, b in self.shared] + [b for _, b, _ in self.differ]
        if len(set(runs)) != len(runs) or len(set(datas)) != len(datas):
            raise InputError(f"correspondence {self.name}: a joint appears in two pairs")
        if (r.joints[r.root], d.joints[d.root]) not in self.shared:
            raise InputError(f"correspondence {self.name}: the roots {r.joints[r.root]!r} and {d.joints[d.root]!r} "
                             "must be a shared pair (errors are measured relative to them)")

    @property
    def name(self) -> str:
        return f"{self.run} on {self.data}"

    @property
    def run_index(self) -> np.ndarray:
        """``(K,)`` indices into the run's output of the shared joints."""
        r = get_layout(self.run)
        return np.asarray([r.index(a) for a, _ in self.shared], dtype=np.int64)

    @property
    def data_index(self) -> np.ndarray:
        """``(K,)`` indices into the dataset's 3D of the same joints."""
        d = get_layout(self.data)
        return np.asarray([d.index(b) for _, b in self.shared], dtype=np.int64)

    @property
    def root(self) -> int:
        """Position of the (shared) root pair within :attr:`shared`."""
        r, d = get_layout(self.run), get_layout(self.data)
        return self.shared.index((r.joints[r.root], d.joints[d.root]))

    @property
    def label(self) -> str:
        """What tables call the scored joints, e.g. ``"12 shared joints"`` (``"all 17 joints"`` for the identity)."""
        return f"all {len(self.shared)} joints" if self.is_identity else f"{len(self.shared)} shared joints"

    @property
    def is_identity(self) -> bool:
        return self.run == self.data and self.shared == tuple((n, n) for n in get_layout(self.run).joints)

    def left_out(self) -> tuple[list[str], list[str]]:
        """Joints of the run and of the dataset in no pair (neither scored nor reported)."""
        used_r = {a for a, _ in self.shared} | {a for a, _, _ in self.differ}
        used_d = {b for _, b in self.shared} | {b for _, b, _ in self.differ}
        return ([n for n in get_layout(self.run).joints if n not in used_r],
                [n for n in get_layout(self.data).joints if n not in used_d])

    def describe(self) -> str:
        """One line per joint: scored, reported separately (and why) or left out."""
        notes = self.notes or {}
        lines = [f"{a:>16s} = {b:<16s} scored" + (f"  [{notes[a]}]" if a in notes else "") for a, b in self.shared]
        lines += [f"{a:>16s} ~ {b:<16s} reported separately: {why}" for a, b, why in self.differ]
        run_only, data_only = self.left_out()
        lines += [f"{a:>16s}   {'':<16s} left out: {self.data} has no such joint" for a in run_only]
        lines += [f"{'':>16s}   {b:<16s} left out: {self.run} has no such joint" for b in data_only]
        return "\n".join(lines)


_CORRESPONDENCES: dict[tuple[str, str], JointCorrespondence] = {}


def register_correspondence(c: JointCorrespondence) -> JointCorrespondence:
    """Add ``c`` to the registry (replacing one for the same two layouts)."""
    _CORRESPONDENCES[(get_layout(c.run).name, get_layout(c.data).name)] = c
    return c


def get_correspondence(run: str | Layout, data: str | Layout) -> JointCorrespondence:
    """The registered correspondence of a run's output layout with a dataset's 3D layout (every joint, by
    itself, when the layouts are the same).

    Raises:
        LayoutError: none is registered (listing the known ones).
    """
    r, d = get_layout(run).name, get_layout(data).name
    if r == d:
        return JointCorrespondence(r, d, tuple((n, n) for n in get_layout(r).joints))
    try:
        return _CORRESPONDENCES[(r, d)]
    except KeyError:
        known = sorted(f"{a} on {b}" for a, b in _CORRESPONDENCES)
        raise LayoutError(f"no joint correspondence of a {r} run with {d} data; known: {known} "
                          "(poselift.core.layouts.register_correspondence adds one)") from None


# --- Human3.6M (h36m17) runs on HumanEva-I (humaneva15) --------------------------------------------------
# Measured on Human3.6M (experiments/scripts/cross_joint_placement.py: weights fitted on S1, S5-S8, errors
# on S9 and S11, every 5th frame): Human3.6M's pelvis is the midpoint of its hips (0.0 mm), its hips are
# 260.6 mm apart, its shoulders 335.8 mm; HumanEva-I's hips are ~93 mm apart (issue 26, measured on
# HumanEva-I; no HumanEva-I data is here to re-measure it).

HUMANEVA15_TO_H36M17 = register_mapping(
    _with_notes(
        mapping_from_rules(
            "humaneva15",
            "h36m17",
            {
                "spine": {"pelvis": 0.52, "thorax": 0.48},
                "neck_nose": {"thorax": 0.5, "head": 0.5},
                "head_top": "head",
            },
        ),
        {
            "pelvis": "HumanEva-I's pelvis, the root of both skeletons",
            "right_hip": "HumanEva-I's hip as it is: defined otherwise (HumanEva-I's hips ~93 mm apart, Human3.6M's "
                         "261 mm); not widened, so the run sees the narrower hips of the data",
            "left_hip": "HumanEva-I's hip as it is (see right_hip)",
            "spine": "computed: HumanEva-I has no spine; on Human3.6M the least-squares point on the pelvis-thorax "
                     "line is at 0.484; at 0.48 it lands 32.6 mm (median; 4.8 px in the 2D) from the spine",
            "thorax": "HumanEva-I's thorax (top of its torso segment, the shoulders' parent, as Human3.6M's)",
            "neck_nose": "computed: half-way from the thorax to HumanEva-I's head; on Human3.6M (its head top "
                         "standing in for the head) 59.3 mm (median; 8.6 px) from the neck/nose marker, which "
                         "lies in front of that line",
            "head_top": "HumanEva-I's head taken as the head top: defined otherwise (not scored)",
        },
    )
)
"""HumanEva-I 2D -> the 2D input of a Human3.6M run. Measured joints are copied by name; the spine and the
neck/nose, which HumanEva-I lacks, are points on the line between two joints it has (weights fitted on
Human3.6M, errors above); the head top is HumanEva-I's head and the hips are HumanEva-I's hips, both defined
otherwise than Human3.6M's (nothing else in HumanEva-I is nearer)."""

HUMANEVA15_ON_H36M17 = register_correspondence(
    JointCorrespondence(
        "h36m17",
        "humaneva15",
        shared=(
            ("pelvis", "pelvis"), ("thorax", "thorax"),
            ("right_knee", "right_knee"), ("right_ankle", "right_ankle"),
            ("left_knee", "left_knee"), ("left_ankle", "left_ankle"),
            ("left_shoulder", "left_shoulder"), ("left_elbow", "left_elbow"), ("left_wrist", "left_wrist"),
            ("right_shoulder", "right_shoulder"), ("right_elbow", "right_elbow"), ("right_wrist", "right_wrist"),
        ),
        differ=(
            ("right_hip", "right_hip", "HumanEva-I's hips are ~93 mm apart, Human3.6M's 261 mm"),
            ("left_hip", "left_hip", "HumanEva-I's hips are ~93 mm apart, Human3.6M's 261 mm"),
            ("head_top", "head", "HumanEva-I's head is not Human3.6M's head top"),
        ),
        notes={
            "pelvis": "the root of both; Human3.6M's is its hip midpoint (0.0 mm); HumanEva-I's taken as the same "
                      "point (not measurable here: it would shift every root-relative error)",
            "thorax": "the top of the torso segment and the shoulders' parent in both",
        },
    )
)
"""A Human3.6M run scored on HumanEva-I: 12 joints are the same point (pelvis, thorax, shoulders, elbows,
wrists, knees, ankles). The hips (93 vs 261 mm apart) and HumanEva-I's head vs Human3.6M's head top are
defined otherwise: their distances are reported separately, not scored. Human3.6M's spine and neck/nose have
no HumanEva-I counterpart and are left out. The scored pelvis and thorax are taken as the same point by their
role in both skeletons (root; top of the torso and the shoulders' parent); no HumanEva-I data is here to
measure that. The run's 2D input is made by :data:`HUMANEVA15_TO_H36M17` (its notes: what is computed)."""


# --- HumanEva-I (humaneva15) runs on Human3.6M (h36m17): the same joints the other way round --------------

H36M17_TO_HUMANEVA15 = register_mapping(
    _with_notes(
        mapping_from_rules("h36m17", "humaneva15", {"head": "head_top"}),
        {
            "right_hip": "Human3.6M's hip as it is: defined otherwise (261 mm apart, HumanEva-I's ~93 mm)",
            "left_hip": "Human3.6M's hip as it is (see right_hip)",
            "head": "Human3.6M's head top taken as the head: defined otherwise (not scored)",
        },
    )
)
"""Human3.6M 2D -> the 2D input of a HumanEva-I run: every HumanEva-I joint is a Human3.6M joint of the same name
except the head (Human3.6M's head top); hips and head are defined otherwise (see :data:`HUMANEVA15_ON_H36M17`)."""

H36M17_ON_HUMANEVA15 = register_correspondence(
    JointCorrespondence(
        "humaneva15",
        "h36m17",
        shared=tuple((b, a) for a, b in HUMANEVA15_ON_H36M17.shared),
        differ=tuple((b, a, why) for a, b, why in HUMANEVA15_ON_H36M17.differ),
        notes=HUMANEVA15_ON_H36M17.notes,
    )
)
"""A HumanEva-I run scored on Human3.6M: the same 12 joints, hips and head reported apart (the pairs of
:data:`HUMANEVA15_ON_H36M17` the other way round); Human3.6M's spine and neck/nose are left out."""

__all__ += ["HUMANEVA15_TO_H36M17", "H36M17_TO_HUMANEVA15", "H36M17_ON_HUMANEVA15"]
# --- BlazePose GHUM (MediaPipe), 33 landmarks ------------------------------------
# poselift.detectors.blazepose. Its 2D feeds any run through coco17 (every COCO joint is a BlazePose
# landmark of the same meaning: a selection) or h36m17 (below, joint by joint).

BLAZEPOSE33 = register_layout(_layout(
    "blazepose33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "left_mouth", "right_mouth", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
        "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    ),
    {
        "nose": None, "left_eye_inner": "nose", "left_eye": "left_eye_inner", "left_eye_outer": "left_eye",
        "right_eye_inner": "nose", "right_eye": "right_eye_inner", "right_eye_outer": "right_eye",
        "left_ear": "left_eye_outer", "right_ear": "right_eye_outer", "left_mouth": "nose", "right_mouth": "nose",
        "left_shoulder": "nose", "right_shoulder": "nose", "left_elbow": "left_shoulder",
        "right_elbow": "right_shoulder", "left_wrist": "left_elbow", "right_wrist": "right_elbow",
        "left_pinky": "left_wrist", "right_pinky": "right_wrist", "left_index": "left_wrist",
        "right_index": "right_wrist", "left_thumb": "left_wrist", "right_thumb": "right_wrist",
        "left_hip": "left_shoulder", "right_hip": "right_shoulder", "left_knee": "left_hip",
        "right_knee": "right_hip", "left_ankle": "left_knee", "right_ankle": "right_knee",
        "left_heel": "left_ankle", "right_heel": "right_ankle", "left_foot_index": "left_ankle",
        "right_foot_index": "right_ankle",
    },
    root="nose",
    extra=(("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_mouth", "right_mouth"),
           ("left_heel", "left_foot_index"), ("right_heel", "right_foot_index")),
))
"""MediaPipe BlazePose GHUM, 33 landmarks in the model's order (0 nose, 1-6 eyes inner/centre/outer,
7-8 ears, 9-10 mouth corners, 11-16 arms, 17-22 hand points: pinky and index knuckles, thumb,
23-28 legs, 29-30 heels, 31-32 foot index tips). The tree hangs off the nose as ``coco17``'s (no pelvis)."""

register_mapping(mapping_from_rules("blazepose33", "coco17", {}))  # all 17 measured: a selection by name

register_mapping(
    _with_notes(
        mapping_from_rules(
            "blazepose33",
            "h36m17",
            {
                "pelvis": {"left_hip": 0.5, "right_hip": 0.5},
                "spine": {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25},
                "thorax": {"left_shoulder": 0.5, "right_shoulder": 0.5},
                "neck_nose": "nose",
                "head_top": {"left_ear": 0.75, "right_ear": 0.75, "left_shoulder": -0.25, "right_shoulder": -0.25},
            },
        ),
        {
            "pelvis": "computed: hip midpoint (BlazePose has no pelvis; its world landmarks' origin is this point)",
            "right_hip": "measured", "right_knee": "measured", "right_ankle": "measured",
            "left_hip": "measured", "left_knee": "measured", "left_ankle": "measured",
            "spine": "computed: midway between the hip and shoulder midpoints",
            "thorax": "computed: shoulder midpoint",
            "neck_nose": "nose",
            "head_top": "computed, extrapolated: ear midpoint + 0.5 * (ear midpoint - shoulder midpoint), as coco17",
            "left_shoulder": "measured", "left_elbow": "measured", "left_wrist": "measured",
            "right_shoulder": "measured", "right_elbow": "measured", "right_wrist": "measured",
        },
    )
)
