"""Evaluation protocols as declared data: which sequences train and test, how takes become actions,
how errors are averaged, how the root is handled, and the training recipe that goes with them.

A number in a table is only comparable with a published one if both were
measured the same way. Every such choice lives in a :class:`Protocol`, one
named entry of :data:`PROTOCOLS`; a run records the protocol it used by name
(and every field it changed), and tables and comparisons read it from there.

=====================  ==============================================================================
name                   what it is
=====================  ==============================================================================
``h36m-vp3d``          VideoPose3D's Human3.6M protocol, exactly: train S1, S5-S8; test S9, S11, all
                       cameras and frames except S11 ``Directions`` (the take without suffix, whose
                       video is corrupt); actions are the first word of a take's name; errors per
                       action, then the mean over actions; Protocol 1 on the raw network output
                       against the root-zeroed ground truth; an epoch holds every training window
                       twice (plain and mirrored); the labelled subset is one chunk per take, the
                       same for every camera, cut out with its 2D. One named difference: the epoch's
                       order is drawn from the run's seed (``window_order=vp3d``: VideoPose3D's
                       fixed-seed order; the windows themselves are the same, window by window).
``h36m-poselift-v1``   what poselift measured before it followed VideoPose3D (kept to compare old
                       numbers): S11 ``Directions`` evaluated; the predicted root subtracted before
                       Protocol 1; a random half of each batch mirrored; a separate labelled chunk per
                       camera with the whole video as 2D context.
``humaneva-vp3d``      VideoPose3D's HumanEva-I protocol: train ``Train/S1..S3``, test
                       ``Validate/S1..S3``, actions Walk, Jog, Box (chunks of one take merged),
                       errors per subject and action (the HumanEva table), raw output, mirrored
                       duplicates.
``custom``             a user's dataset: subjects and actions from the config, per-action averaging.
``h36m-vp3d-cross-     ``h36m-vp3d`` trained on three of Human3.6M's cameras and tested on the fourth
view-1`` .. ``-4``     (camera 1..4 held out); report each and the mean.
``h36m-novel-views``   ``h36m-vp3d``'s training; each test take's 3D filmed by eight fixed, declared
                       virtual cameras (below to well above, portrait and 16:9, near and far).
=====================  ==============================================================================

Fields a config can change (``train.flip_mode``, the subjects, the action
patterns) make a *variant*: its name is the protocol's plus what changed
(e.g. ``h36m-vp3d[flip_mode=random_half]``), so no table can call it by the
base name.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Sequence

from poselift.core.errors import ConfigError
from poselift.training.epoch_rules import FLIP_MODES, WINDOW_ORDERS

__all__ = [
    "FLIP_MODES",
    "WINDOW_ORDERS",
    "ROOT_MODES",
    "SUBSET_RULES",
    "AVERAGING",
    "Protocol",
    "PROTOCOLS",
    "get_protocol",
    "vp3d_subset_start",
    "subset_range",
    "apply_view_rules",
    "H36M_CAMERAS",
]



ROOT_MODES = ("raw", "subtract")
"""``raw``: Protocol 1 compares the network's output as it is with the root-zeroed ground truth (VideoPose3D; the
network learns to put its root at the origin); ``subtract``: the predicted root is subtracted first."""

SUBSET_RULES = ("vp3d", "per_camera")
"""The labelled subset (``data.labelled_fraction`` < 1). ``vp3d``: per take, one contiguous chunk of
``round(T * fraction)`` frames whose start is drawn from the take's length (so every camera of a take gets the
same chunk), the sequence cut to that chunk (its 2D context ends at the chunk's edges, edge-padded);
``per_camera``: a chunk per camera (seeded by subject, action, camera), with the whole video as 2D context."""

AVERAGING = ("action", "subject_action")
"""``action``: frames pooled per action (all subjects and cameras), then the mean over actions (Human3.6M);
``subject_action``: the same per subject (the HumanEva table), then the mean over the subject x action cells."""


@dataclass(frozen=True)
class Protocol:
    """One way of splitting, training and evaluating (see the module docstring).

    Attributes:
        name: registry name (a variant's name says what changed).
        dataset: the dataset it is defined on (``"h36m"``, ``"humaneva"``, or ``"any"``).
        description: one line for tables.
        train_subjects, test_subjects: subject names.
        exclude: ``"SUBJECT/ACTION"`` takes left out of training and testing (exact names).
        actions: action-name prefixes to keep (VideoPose3D's ``--actions``); empty: all.
        action_pattern: regex whose first group is the action of a take name (takes and chunks merge).
        averaging: one of :data:`AVERAGING`.
        root: one of :data:`ROOT_MODES`.
        flip_mode: one of :data:`FLIP_MODES`.
        subset_rule: one of :data:`SUBSET_RULES`.
        window_order: one of :data:`WINDOW_ORDERS` (``seeded`` for every registered protocol: the one way
            ``h36m-vp3d`` and ``humaneva-vp3d`` differ from VideoPose3D's training, named; ``window_order=vp3d``
            is the variant that follows it).
        labelled_fraction: the fraction of each training take that is labelled (1: all; VideoPose3D's
            ``--subset``), cut by :attr:`subset_rule`.
        flip_test: the published numbers this protocol is compared with used flip test-time augmentation.
        reference_train_windows, reference_test_frames: the counts the reference implementation has on the
            complete data (``None``: unknown); a run reports what its copy of the data lacks against them. A
            variant that changes which sequences or frames a set holds has no reference count for that set.
        base: the registered protocol a variant was made from (itself for a registered one).
        changes: ``field=value`` of a variant.
        train_cameras, test_cameras: camera ids kept for training / testing (empty: all).
        test_views: :class:`~poselift.datasets.virtual_cameras.VirtualView` objects: when given, each test
            take's 3D is filmed by these virtual cameras instead of the real ones (needs 2D made from the
            3D, ``keypoints: gt``).
    """

    name: str
    dataset: str
    description: str
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    action_pattern: str = r"^(\S+)"
    averaging: str = "action"
    root: str = "raw"
    flip_mode: str = "duplicate"
    subset_rule: str = "vp3d"
    window_order: str = "seeded"
    labelled_fraction: float = 1.0
    flip_test: bool = True
    reference_train_windows: int | None = None
    reference_test_frames: int | None = None
    base: str = ""
    changes: tuple[str, ...] = field(default=())
    train_cameras: tuple[str, ...] = ()
    test_cameras: tuple[str, ...] = ()
    test_views: tuple = ()

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.flip_mode, FLIP_MODES, "flip_mode"), (self.root, ROOT_MODES, "root"),
                                     (self.subset_rule, SUBSET_RULES, "subset_rule"),
                                     (self.window_order, WINDOW_ORDERS, "window_order"),
                                     (self.averaging, AVERAGING, "averaging")):
            if value not in allowed:
                raise ConfigError(f"protocol {self.name!r}: {what} must be one of {list(allowed)}, got {value!r}")
        try:
            pattern = re.compile(self.action_pattern)
        except re.error as e:
            raise ConfigError(f"protocol {self.name!r}: action_pattern {self.action_pattern!r} is not a regex ({e})"
                              ) from None
        if not 0 < self.labelled_fraction <= 1:
            raise ConfigError(f"protocol {self.name!r}: labelled_fraction must be in (0, 1], got "
                              f"{self.labelled_fraction}")
        if pattern.groups < 1:
            raise ConfigError(f"protocol {self.name!r}: action_pattern needs a group, the action, e.g. '^(\\S+)'")
        if not self.base:
            object.__setattr__(self, "base", self.name)

    # -- takes and actions ----------------------------------------------------------------
    def action_of(self, take: str) -> str:
        """The action a take (or chunk) belongs to, e.g. ``"Walking 1"`` -> ``"Walking"``."""
        m = re.search(self.action_pattern, take)
        return m.group(1) if m and m.group(1) else take

    def keeps(self, subject: str, take: str) -> bool:
        """Whether ``subject``'s take is used (not excluded, and matching :attr:`actions` when given)."""
        if f"{subject}/{take}" in self.exclude:
            return False
        return not self.actions or any(take.startswith(a) for a in self.actions)

    # -- variants ----------------------------------------------------------------------------
    def variant(self, **changes: Any) -> "Protocol":
        """This protocol with some fields changed; the name says which (unchanged values are ignored)."""
        real = {k: v for k, v in changes.items() if v is not None and getattr(self, k) != v}
        if not real:
            return self
        unknown = [k for k in real if k not in self.__dataclass_fields__ or k in ("name", "base", "changes")]
        if unknown:
            raise ConfigError(f"protocol {self.name!r}: cannot change {unknown}")
        text = tuple(f"{k}={_show(v)}" for k, v in sorted(real.items()))
        all_changes = tuple(dict.fromkeys(self.changes + text))
        name = f"{self.base}[{', '.join(all_changes)}]"
        # the reference counts are of the registered sets: a variant with other sets has none to compare with
        if real.keys() & TRAIN_SET_FIELDS:
            real["reference_train_windows"] = None
        if real.keys() & TEST_SET_FIELDS:
            real["reference_test_frames"] = None
        return replace(self, **real, name=name, changes=all_changes)

    @property
    def evaluation_key(self) -> dict:
        """What decides the numbers a run reports on its test split (two runs whose keys differ are not
        comparable as one table's rows without a note)."""
        key = {"dataset": self.dataset, "test_subjects": list(self.test_subjects), "exclude": list(self.exclude),
               "actions": list(self.actions), "action_pattern": self.action_pattern, "averaging": self.averaging,
               "root": self.root}
        if self.test_cameras:
            key["test_cameras"] = list(self.test_cameras)
        if self.test_views:
            key["test_views"] = [v.name for v in self.test_views]
        return key

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


TRAIN_SET_FIELDS = frozenset({"train_subjects", "exclude", "actions", "labelled_fraction"})
"""Fields whose change alters which training windows there are (:attr:`Protocol.reference_train_windows`)."""
TEST_SET_FIELDS = frozenset({"test_subjects", "exclude", "actions"})
"""Fields whose change alters which test frames there are (:attr:`Protocol.reference_test_frames`)."""


def _show(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


H36M_VP3D = Protocol(
    name="h36m-vp3d",
    dataset="h36m",
    description="VideoPose3D's Human3.6M protocol (S9+S11 without S11 Directions; raw output; mirrored duplicates)",
    train_subjects=("S1", "S5", "S6", "S7", "S8"),
    test_subjects=("S9", "S11"),
    exclude=("S11/Directions",),
    reference_train_windows=1_559_752,
    reference_test_frames=543_344,
)

H36M_POSELIFT_V1 = Protocol(
    name="h36m-poselift-v1",
    dataset="h36m",
    description="poselift before 0.2 (S11 Directions evaluated; predicted root subtracted; random-half mirroring; "
                "per-camera labelled chunks)",
    train_subjects=("S1", "S5", "S6", "S7", "S8"),
    test_subjects=("S9", "S11"),
    root="subtract",
    flip_mode="random_half",
    subset_rule="per_camera",
    action_pattern=r"^(.*?)(?:[ _]\d+)?$",
)

HUMANEVA_VP3D = Protocol(
    name="humaneva-vp3d",
    dataset="humaneva",
    description="VideoPose3D's HumanEva-I protocol (Train/S1-S3 -> Validate/S1-S3; Walk, Jog, Box; per subject and "
                "action)",
    train_subjects=("Train/S1", "Train/S2", "Train/S3"),
    test_subjects=("Validate/S1", "Validate/S2", "Validate/S3"),
    actions=("Walk", "Jog", "Box"),
    averaging="subject_action",
)

CUSTOM = Protocol(
    name="custom",
    dataset="any",
    description="a user's dataset: subjects and actions from the config",
    train_subjects=(),
    test_subjects=(),
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (H36M_VP3D, H36M_POSELIFT_V1, HUMANEVA_VP3D, CUSTOM)}


# --------------------------------------------------------------------------- views the model never saw (issue 24)
H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
"""Human3.6M's four cameras, in the archive's order (index 1..4 in the cross-view protocols' names)."""


def _cross_view(index: int) -> Protocol:
    held = H36M_CAMERAS[index - 1]
    return replace(
        H36M_VP3D, name=f"h36m-vp3d-cross-view-{index}", base=f"h36m-vp3d-cross-view-{index}",
        description=f"h36m-vp3d trained on three cameras, tested on the fourth ({held}, camera {index}); the "
                    "cross-view setting: report each of -1..-4 and their mean",
        train_cameras=tuple(c for c in H36M_CAMERAS if c != held), test_cameras=(held,),
        reference_train_windows=None, reference_test_frames=None)


def _novel_views() -> tuple:
    from poselift.datasets.virtual_cameras import VirtualView as V

    return (  # azimuth about world z (0: world +x), elevation above the person's centroid, metres, degrees
        V(0.0, -15.0, 0.0, 4.0, 55.0, 1920, 1080, name="below-16x9"),
        V(60.0, 0.0, 0.0, 3.5, 50.0, 1080, 1920, name="eye-level-portrait"),
        V(120.0, 45.0, 0.0, 5.0, 50.0, 1000, 1000, name="high-square"),
        V(180.0, 60.0, 0.0, 8.0, 45.0, 1920, 1080, name="overhead-far-16x9"),
        V(-120.0, 10.0, 0.0, 2.5, 75.0, 1920, 1080, position=(0.15, 0.5), name="near-wide-16x9-left"),
        V(-60.0, 20.0, 0.0, 12.0, 25.0, 1280, 720, position=(0.8, 0.3), name="far-tele-16x9-right"),
        V(30.0, -10.0, 0.0, 3.0, 65.0, 720, 1280, position=(0.5, 0.7), name="low-near-portrait"),
        V(150.0, 30.0, 5.0, 6.0, 45.0, 1440, 1080, principal=(0.02, -0.01), name="above-4x3-rolled"),
    )


H36M_CROSS_VIEW = tuple(_cross_view(i) for i in range(1, 5))

H36M_NOVEL_VIEWS = replace(
    H36M_VP3D, name="h36m-novel-views", base="h36m-novel-views",
    description="h36m-vp3d's training and test takes; each test take's 3D filmed by 8 fixed virtual cameras (from "
                "15 deg below to 60 deg above, portrait, square, 4:3 and 16:9 framings, 2.5-12 m, 25-75 deg field "
                "of view; ground-truth 2D)",
    test_views=_novel_views(), reference_train_windows=H36M_VP3D.reference_train_windows, reference_test_frames=None)

PROTOCOLS.update({p.name: p for p in (*H36M_CROSS_VIEW, H36M_NOVEL_VIEWS)})


def apply_view_rules(protocol: Protocol, train: Sequence, test: Sequence) -> tuple[list, list]:
    """The training and test sequences under the protocol's camera rules: only :attr:`Protocol.train_cameras` /
    :attr:`Protocol.test_cameras` kept, and with :attr:`Protocol.test_views` every test take (one sequence per
    subject and take; the first camera's) filmed by each view instead."""
    train = [s for s in train if not protocol.train_cameras or s.camera_id in protocol.train_cameras]
    test = [s for s in test if not protocol.test_cameras or s.camera_id in protocol.test_cameras]
    if protocol.test_views:
        from poselift.datasets.virtual_cameras import reproject, world_poses

        takes: dict = {}
        for s in test:
            takes.setdefault((s.subject, s.action), s)
        out = []
        for s in takes.values():
            world = world_poses(s)
            out += [reproject(s, v, world)[0] for v in protocol.test_views]
        test = out
    return list(train), list(test)


def get_protocol(name: str) -> Protocol:
    """The registered protocol ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)}") from None


# --------------------------------------------------------------------------- labelled subsets
def vp3d_subset_start(frames: int, chunk: int) -> int:
    """VideoPose3D's start of the labelled chunk of a take of ``frames`` frames.

    The start is drawn in ``[0, frames - chunk]`` from the take's length alone: the first four bytes of the
    SHA-256 of the decimal length, read as a little-endian unsigned integer ``u``, give
    ``floor(u / (2**32 - 1) * (frames - chunk + 1))``. Every camera of a take (same length) gets the same chunk.
    """
    if not 0 < chunk <= frames:
        raise ConfigError(f"a labelled chunk of {chunk} frames does not fit a take of {frames} frames")
    u = int.from_bytes(hashlib.sha256(str(int(frames)).encode()).digest()[:4], "little")
    return int(u / (2**32 - 1) * (frames - chunk + 1))


def subset_range(rule: str, frames: int, fraction: float, key: Sequence[Any] = ()) -> tuple[int, int]:
    """``(start, stop)`` of the labelled chunk of a sequence of ``frames`` frames (see :data:`SUBSET_RULES`).

    ``key`` (seed, subject, action, camera) seeds the ``per_camera`` rule; the ``vp3d`` rule ignores it.
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"labelled fraction must be in (0, 1], got {fraction}")
    if rule == "vp3d":
        n = int(round(frames * fraction))
        if n >= frames:
            return 0, frames
        if n < 1:
            raise ConfigError(f"a labelled fraction of {fraction} of a {frames}-frame take is no frame at all")
        start = vp3d_subset_start(frames, n)
        return start, start + n
    if rule == "per_camera":
        n = max(1, int(round(frames * fraction)))
        if n >= frames:
            return 0, frames
        h = hashlib.sha256("|".join(str(p) for p in key).encode()).digest()
        start = int.from_bytes(h[:8], "little") % (frames - n + 1)
        return start, start + n
    raise ConfigError(f"unknown labelled-subset rule {rule!r}; known: {list(SUBSET_RULES)}")


def describe(protocols: Iterable[Protocol]) -> str:
    """A Markdown list of protocols (for ``--help`` texts and the README)."""
    return "\n".join(f"- `{p.name}`: {p.description}" for p in protocols)
