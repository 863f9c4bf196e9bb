"""Virtual cameras: the same 3D motion seen from viewpoints, lenses and framings no studio had.

A lifter trained on Human3.6M has seen four cameras at chest height with ~1000 x 1000 images; on a
phone's portrait clip or a camera looking up at a person it makes the body narrow or tilted. Any
dataset whose 3D is in a **world frame with z up** (Human3.6M, VideoPose3D npz archives with
extrinsics, the synthetic data, a loader whose cameras carry ``R`` and ``T``) can be re-filmed: each
chunk of a sequence is projected through a :class:`~poselift.core.camera.Camera` built here, and its 3D
target is expressed in that camera's frame.

A view (:class:`VirtualView`) is placed relative to the person: the camera stands at ``distance``
metres from the centroid of the chunk's joints, at ``azimuth`` (degrees about the world z axis, 0 along
world +x) and ``elevation`` (degrees above the horizontal through the centroid: positive looks down,
negative looks up), rolled by ``roll`` degrees about its optical axis. Its focal length gives the
horizontal field of view ``fov`` over an image of ``width`` x ``height`` pixels, no lens distortion,
principal point off the image centre by ``principal`` (fractions of the width). The camera is then
panned and tilted so that the body lies at ``position``: fractions ``(0..1, 0..1)`` of the range of
turns that keep all the chunk's joints inside the frame (0: touching the left / top edge, 1: the right
/ bottom edge, 0.5: midway; a body larger than the frame is centred). If a joint would come nearer than
:data:`MIN_DEPTH` to the camera (a person walking towards it), the camera moves back along its axis
until none does; the count is reported.

:class:`CameraDistribution` declares where training views are drawn from (uniform in each range, image
size uniform among ``image_sizes``); :func:`virtual_camera_views` re-films a fraction of the training
frames with views drawn from it, reproducibly from a seed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from poselift.core.camera import Camera
from poselift.core.errors import ConfigError, InputError
from poselift.core.sequence import PoseSequence

__all__ = [
    "MIN_DEPTH",
    "VirtualView",
    "CameraDistribution",
    "draw_view",
    "view_camera",
    "reproject",
    "world_poses",
    "virtual_camera_views",
]

MIN_DEPTH = 1.0
"""Metres: no joint of a re-filmed chunk is nearer the camera than this."""


@dataclass(frozen=True)
class VirtualView:
    """One virtual viewpoint relative to the person (see the module docstring for the geometry).

    Attributes:
        azimuth, elevation, roll: degrees.
        distance: metres from the centroid of the person's joints.
        fov: horizontal field of view, degrees.
        width, height: image size, pixels.
        principal: ``(dx, dy)`` principal point offset from the image centre, fractions of the width.
        position: ``(px, py)`` in ``[0, 1]``: where the body lies within the range of camera turns that
            keep it in the frame.
        name: label (the camera's name).
    """

    azimuth: float
    elevation: float
    roll: float = 0.0
    distance: float = 5.0
    fov: float = 50.0
    width: int = 1000
    height: int = 1000
    principal: tuple[float, float] = (0.0, 0.0)
    position: tuple[float, float] = (0.5, 0.5)
    name: str = ""

    def __post_init__(self) -> None:
        if not -89.0 <= self.elevation <= 89.0:
            raise ConfigError(f"virtual view {self.name!r}: elevation must be in [-89, 89] degrees, got {self.elevation}")
        if not self.distance > 0:
            raise ConfigError(f"virtual view {self.name!r}: distance must be positive, got {self.distance}")
        if not 1.0 <= self.fov <= 170.0:
            raise ConfigError(f"virtual view {self.name!r}: fov must be in [1, 170] degrees, got {self.fov}")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ConfigError(f"virtual view {self.name!r}: image size must be positive, got {self.width}x{self.height}")
        if any(not 0.0 <= p <= 1.0 for p in self.position):
            raise ConfigError(f"virtual view {self.name!r}: position must be in [0, 1], got {self.position}")

    @property
    def focal(self) -> float:
        """Focal length in pixels: ``(width / 2) / tan(fov / 2)``."""
        return self.width / 2 / np.tan(np.radians(self.fov) / 2)


def _range(v: Any, what: str, lo: float = -np.inf, hi: float = np.inf) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ConfigError(f"data.virtual_cameras.{what}: expected [low, high], got {v!r}") from None
    if not (lo <= a <= b <= hi):
        raise ConfigError(f"data.virtual_cameras.{what}: need {lo} <= low <= high <= {hi}, got [{a}, {b}]")
    return a, b


@dataclass
class CameraDistribution:
    """``data.virtual_cameras``: re-film a fraction of the training frames through drawn cameras.

    Attributes:
        enabled: off by default (VideoPose3D's protocol unchanged).
        fraction: fraction of the training frames (so of the windows) re-filmed; the real cameras keep the
            rest. Whole sequences are chosen (in a seeded order) until the fraction is reached.
        chunk_frames: a chosen sequence is cut into chunks of this many frames (the last one takes the
            remainder), each filmed by its own camera (0: one camera for the whole sequence). A window's
            context ends at its chunk's edges (edge-padded, as at a sequence's ends).
        azimuth, elevation, roll: ``[low, high]`` degrees (elevation within [-89, 89]).
        distance: ``[low, high]`` metres from the person's centroid.
        fov: ``[low, high]`` horizontal field of view, degrees.
        image_sizes: ``[[width, height], ...]`` drawn uniformly (landscape, portrait, 16:9, ...).
        principal: largest principal point offset from the image centre, a fraction of the width.
        position: ``[low, high]`` of where the person sits in the frame (fractions of the range that keeps
            the body inside; ``[0, 1]``: anywhere it fits).
        noise: detector-like 2D noise on the re-filmed 2D (fields of
            :class:`poselift.datasets.synthetic.NoiseSettings`, pixels at 1000 px, scaled by the image's
            longer side / 1000); ``null``: exact projections.
        seed: seed of the draws (``null``: the run's seed).
    """

    enabled: bool = False
    fraction: float = 0.5
    chunk_frames: int = 500
    azimuth: list[float] = field(default_factory=lambda: [-180.0, 180.0])
    elevation: list[float] = field(default_factory=lambda: [-15.0, 45.0])
    roll: list[float] = field(default_factory=lambda: [-10.0, 10.0])
    distance: list[float] = field(default_factory=lambda: [2.5, 9.0])
    fov: list[float] = field(default_factory=lambda: [40.0, 75.0])
    image_sizes: list[list[int]] = field(default_factory=lambda: [[1000, 1000], [1920, 1080], [1080, 1920],
                                                                  [1280, 720], [720, 1280], [1440, 1080]])
    principal: float = 0.02
    position: list[float] = field(default_factory=lambda: [0.0, 1.0])
    noise: dict[str, Any] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(f"data.virtual_cameras.fraction must be in [0, 1], got {self.fraction}")
        if self.chunk_frames < 0:
            raise ConfigError(f"data.virtual_cameras.chunk_frames must be >= 0, got {self.chunk_frames}")
        _range(self.azimuth, "azimuth")
        _range(self.elevation, "elevation", -89.0, 89.0)
        _range(self.roll, "roll", -180.0, 180.0)
        _range(self.distance, "distance", 1e-3)
        _range(self.fov, "fov", 1.0, 170.0)
        _range(self.position, "position", 0.0, 1.0)
        if not self.image_sizes or any(len(s) != 2 or int(s[0]) <= 0 or int(s[1]) <= 0 for s in self.image_sizes):
            raise ConfigError(f"data.virtual_cameras.image_sizes: expected [[width, height], ...] of positive sizes, "
                              f"got {self.image_sizes!r}")
        if not 0.0 <= self.principal < 0.5:
            raise ConfigError(f"data.virtual_cameras.principal must be in [0, 0.5), got {self.principal}")
        if self.noise is not None:
            self.noise_settings()

    def noise_settings(self):
        """The :class:`~poselift.datasets.synthetic.NoiseSettings` of :attr:`noise` (``None`` without noise)."""
        from poselift.datasets.synthetic import NoiseSettings

        if self.noise is None:
            return None
        try:
            return NoiseSettings(**self.noise)
        except TypeError as e:
            names = [f.name for f in dataclasses.fields(NoiseSettings)]
            raise ConfigError(f"data.virtual_cameras.noise: {e} (fields: {names})") from None


def draw_view(dist: CameraDistribution, rng: np.random.Generator, name: str = "") -> VirtualView:
    """One view drawn from ``dist``: uniform in every range, the image size uniform among ``image_sizes``."""
    u = lambda r: float(rng.uniform(*r))  # noqa: E731
    w, h = (int(x) for x in dist.image_sizes[int(rng.integers(len(dist.image_sizes)))])
    return VirtualView(azimuth=u(dist.azimuth), elevation=u(dist.elevation), roll=u(dist.roll),
                       distance=u(dist.distance), fov=u(dist.fov), width=w, height=h,
                       principal=(float(rng.uniform(-dist.principal, dist.principal)),
                                  float(rng.uniform(-dist.principal, dist.principal))),
                       position=(u(dist.position), u(dist.position)), name=name)


def view_camera(view: VirtualView, world: np.ndarray) -> tuple[Camera, bool]:
    """The camera of ``view`` for a person whose joints are ``world``.

    Args:
        view: the viewpoint.
        world: ``(T, J, 3)`` world points (metres, z up).

    Returns:
        ``(camera, pushed_back)``: a distortion-free :class:`Camera` (``R``, ``T`` world to camera), and
        whether it had to move back to keep every joint :data:`MIN_DEPTH` in front of it.
    """
    world = np.asarray(world, dtype=np.float64)
    if world.ndim != 3 or world.shape[-1] != 3 or not len(world):
        raise InputError(f"view_camera: expected world joints (T, J, 3), got shape {world.shape}")
    aim = world.reshape(-1, 3).mean(0)
    az, el, roll = np.radians([view.azimuth, view.elevation, view.roll])
    back = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])  # aim -> camera
    forward = -back
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    cr, sr = np.cos(roll), np.sin(roll)
    r_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    R1 = r_roll @ np.stack([right, down, forward])
    distance = float(view.distance)
    depth = (world.reshape(-1, 3) - aim) @ forward + distance  # depth along the axis, before the turn below
    pushed = bool(depth.min() < 2 * MIN_DEPTH)
    if pushed:  # the turn towards `position` can shorten depths: keep a margin
        distance += 2 * MIN_DEPTH - float(depth.min())
    centre = aim + back * distance
    w, h, f = int(view.width), int(view.height), view.focal
    c = np.array([w / 2 + view.principal[0] * w, h / 2 + view.principal[1] * w])
    R = R1
    for _ in range(8):  # pan, then tilt, in angle space (exact for one axis); a few rounds settle both
        moved = 0.0
        for axis, size, p in ((0, w, view.position[0]), (1, h, view.position[1])):
            x = (world.reshape(-1, 3) - centre) @ R.T
            ang = np.arctan2(x[:, axis], x[:, 2])  # angle of each joint from the optical axis
            lo = np.arctan(-c[axis] / f) - ang.min()  # turn that puts the body at the frame's first edge
            hi = np.arctan((size - c[axis]) / f) - ang.max()  # ... at its last edge
            a = lo + p * (hi - lo) if hi >= lo else (lo + hi) / 2
            ca, sa = np.cos(a), np.sin(a)
            turn = np.eye(3)
            turn[axis, axis], turn[axis, 2], turn[2, axis], turn[2, 2] = ca, sa, -sa, ca
            R = turn @ R
            moved = max(moved, abs(a))
        if moved < 1e-7:
            break
    cam = Camera(f=(f, f), c=c, width=w, height=h, R=R, T=centre, name=view.name)
    return cam, pushed


def world_poses(seq: PoseSequence) -> np.ndarray:
    """``(T, J, 3)`` world joints of a sequence with 3D and camera extrinsics (its ``poses3d`` are in the camera
    frame; the world frame must have z up)."""
    if seq.poses3d is None:
        raise InputError(f"{seq.label}: virtual cameras need 3D poses")
    cam = seq.camera
    if cam is None or (np.allclose(cam.R, np.eye(3)) and np.allclose(cam.T, 0)):
        raise InputError(f"{seq.label}: virtual cameras need the 3D in a world frame with z up, i.e. a camera with "
                         "extrinsics (R, T); this sequence's camera has none (its 3D is in camera axes)")
    return cam.camera_to_world(seq.poses3d.astype(np.float64))


def reproject(seq: PoseSequence, view: VirtualView, world: np.ndarray | None = None, noise=None,
              rng: np.random.Generator | None = None) -> tuple[PoseSequence, bool]:
    """``seq`` filmed by ``view``: 2D projected through the view's camera, 3D in its frame.

    Args:
        seq: a sequence whose 2D layout is its 3D layout (the 2D is made from the 3D joints).
        view: the viewpoint.
        world: ``(T, J, 3)`` world joints (default :func:`world_poses` of ``seq``).
        noise: :class:`~poselift.datasets.synthetic.NoiseSettings` for detector-like 2D noise (pixels at
            1000 px, scaled by the longer image side / 1000), with ``rng``; ``None``: exact projections.

    Returns:
        ``(sequence, pushed_back)`` (see :func:`view_camera`); the new sequence keeps the labels, its
        ``camera_id`` is the view's name and ``meta["virtual_view"]`` the view.
    """
    if seq.layout.name != seq.layout3d.name:
        raise ConfigError(f"{seq.label}: virtual cameras make the 2D by projecting the 3D joints "
                          f"({seq.layout3d.name}), but this 2D input is {seq.layout.name}: use ground-truth 2D "
                          "(keypoints: gt) with virtual cameras")
    world = world_poses(seq) if world is None else world
    cam, pushed = view_camera(view, world)
    x_cam = (np.asarray(world, np.float64) - cam.T) @ cam.R.T  # = cam.world_to_camera, in numpy (no torch threads)
    kp = cam.f * x_cam[..., :2] / x_cam[..., 2:3] + cam.c  # = cam.project(x_cam, clamp=False): no distortion
    conf = None
    if noise is not None:
        from poselift.datasets.synthetic import add_detector_noise

        if seq.layout.name != "h36m17":
            raise ConfigError(f"{seq.label}: the detector-like noise is defined for h36m17 joints, not {seq.layout.name}")
        scale = max(cam.width, cam.height) / 1000
        noisy, conf = add_detector_noise(kp / scale, rng or np.random.default_rng(0), noise)
        kp = noisy * scale
    meta = {**seq.meta, "virtual_view": dataclasses.asdict(view), "source_camera": seq.camera_id}
    out = PoseSequence(keypoints=kp.astype(np.float32), layout=seq.layout, confidence=conf,
                       poses3d=x_cam.astype(np.float32), layout3d=seq.layout3d, camera=cam, fps=seq.fps,
                       subject=seq.subject, action=seq.action, camera_id=view.name, meta=meta)
    return out, pushed


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    if size <= 0 or n <= size:
        return [(0, n)]
    cuts = list(range(0, n, size))
    if n - cuts[-1] < size // 2 and len(cuts) > 1:  # a short tail joins the chunk before it
        cuts.pop()
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [n])]


def virtual_camera_views(seqs: Sequence[PoseSequence], dist: CameraDistribution, seed: int
                         ) -> tuple[list[PoseSequence], dict]:
    """Training sequences with a fraction of their frames re-filmed by drawn virtual cameras.

    Sequences are taken in a seeded random order until ``dist.fraction`` of all frames is reached; each
    taken sequence is replaced by its chunks (``dist.chunk_frames``), each through its own drawn view;
    the others are kept as they are (real cameras). The same sequences, distribution and seed give the
    same cameras.

    Returns:
        ``(sequences, report)``: report ``{"frames", "frames_reprojected", "fraction_reprojected",
        "sequences_reprojected", "cameras", "pushed_back", "seed"}``.
    """
    seed = int(dist.seed if dist.seed is not None else seed)
    total = int(sum(len(s) for s in seqs))
    report = {"frames": total, "frames_reprojected": 0, "fraction_reprojected": 0.0, "sequences_reprojected": 0,
              "cameras": 0, "pushed_back": 0, "seed": seed}
    if not dist.enabled or dist.fraction == 0 or not seqs:
        return list(seqs), report
    rng = np.random.default_rng([abs(seed), int(seed < 0), 24])  # any integer seed, negative ones too
    noise = dist.noise_settings()
    order = rng.permutation(len(seqs))
    chosen, frames = set(), 0
    for i in order:
        if frames >= dist.fraction * total:
            break
        chosen.add(int(i))
        frames += len(seqs[i])
    out = []
    for i, s in enumerate(seqs):
        if i not in chosen:
            out.append(s)
            continue
        world = world_poses(s)
        report["sequences_reprojected"] += 1
        for a, b in _chunks(len(s), dist.chunk_frames):
            view = draw_view(dist, rng, name=f"virtual-{seed}-{report['cameras']}")
            new, pushed = reproject(s.slice(a, b), view, world[a:b], noise, rng)
            out.append(new)
            report["cameras"] += 1
            report["pushed_back"] += int(pushed)
    report["frames_reprojected"] = frames
    report["fraction_reprojected"] = frames / total if total else 0.0
    return out, report
