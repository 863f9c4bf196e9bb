"""Synthetic human motion seen by Human3.6M-like cameras with detector-like 2D noise.

Nothing is downloaded: skeletons in the ``h36m17`` layout are animated by
forward kinematics from joint-angle curves (several motion types), placed in
a capture area, filmed by four calibrated cameras with Human3.6M-like
intrinsics and lens distortion, and projected to 2D with the errors a real
2D detector makes:

* jitter: white Gaussian noise per joint plus a slowly drifting offset
  (AR(1)), larger at the extremities;
* outliers: occasional short bursts where a joint jumps tens of pixels
  (a confused detector), with low confidence;
* occlusion: joints with larger noise and low confidence for a while.

Everything is deterministic from a seed. The output is a list of
:class:`poselift.core.sequence.PoseSequence` with ground-truth 3D in camera
coordinates (metres), so the package's whole train/evaluate path runs on it.

World frame: metres, Z up. Body frame of the rest pose: x to the person's
right, y forward, z up. A joint's rotation ``Rx(flex) @ Ry(abd) @ Rz(twist)``
(about the body-frame right, forward and up axes) turns the bones below it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from poselift.core.camera import Camera
from poselift.core.layouts import H36M17
from poselift.core.sequence import PoseSequence

__all__ = [
    "MOTIONS",
    "NoiseSettings",
    "SyntheticSubject",
    "make_cameras",
    "make_subject",
    "animate",
    "make_sequences",
    "make_dataset",
]

# rest-pose offsets of each joint from its parent (x right, y forward, z up), metres;
# lengths close to the Human3.6M subjects'
_REST = {
    "pelvis": (0.0, 0.0, 0.0),
    "right_hip": (0.13, 0.0, 0.0),
    "right_knee": (0.0, 0.0, -0.44),
    "right_ankle": (0.0, 0.0, -0.44),
    "left_hip": (-0.13, 0.0, 0.0),
    "left_knee": (0.0, 0.0, -0.44),
    "left_ankle": (0.0, 0.0, -0.44),
    "spine": (0.0, 0.01, 0.23),
    "thorax": (0.0, 0.0, 0.25),
    "neck_nose": (0.0, 0.06, 0.10),
    "head_top": (0.0, -0.03, 0.11),
    "left_shoulder": (-0.15, 0.0, -0.02),
    "left_elbow": (0.0, 0.0, -0.28),
    "left_wrist": (0.0, 0.0, -0.25),
    "right_shoulder": (0.15, 0.0, -0.02),
    "right_elbow": (0.0, 0.0, -0.28),
    "right_wrist": (0.0, 0.0, -0.25),
}
_LEG = 0.88  # pelvis height above the ankles in the rest pose (thigh + shin)
_ANKLE_HEIGHT = 0.08

# Human3.6M-like intrinsics (f, c in pixels, k, p) for 1000 x 1000 images
_CAM_INTRINSICS = [
    ((1145.0, 1144.0), (512.5, 515.5), (-0.207, 0.247, -0.003), (-0.0010, -0.0014)),
    ((1149.7, 1147.6), (508.8, 508.1), (-0.194, 0.240, 0.007), (-0.0016, -0.0027)),
    ((1149.1, 1148.0), (519.8, 501.4), (-0.208, 0.255, -0.002), (0.0015, -0.0008)),
    ((1145.5, 1144.8), (514.9, 501.9), (-0.199, 0.217, -0.009), (-0.0004, -0.0019)),
]


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


@dataclass
class SyntheticSubject:
    """A body: per-joint rest offsets ``(17, 3)`` (metres) and a name."""

    name: str
    offsets: np.ndarray


def make_subject(name: str, rng: np.random.Generator) -> SyntheticSubject:
    """A random body: overall scale 0.9-1.1 and +-6 % per bone (symmetric left/right)."""
    scale = rng.uniform(0.9, 1.1)
    offsets = np.array([_REST[n] for n in H36M17.joints], dtype=np.float64) * scale
    for n in H36M17.joints:
        if n.startswith("left_"):
            continue
        f = rng.uniform(0.94, 1.06)
        offsets[H36M17.index(n)] *= f
        if n.startswith("right_"):
            offsets[H36M17.index("left_" + n[6:])] *= f
    return SyntheticSubject(name, offsets)


# --- motions ------------------------------------------------------------------
# each returns joint angles {joint: (flex, abd, twist)} as (T,) arrays (radians),
# root yaw (T,), root position (T, 3) in the body's starting frame, and pelvis pitch

Angles = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _zeros(t):
    return np.zeros_like(t)


def _angles(t, **kw) -> Angles:
    z = _zeros(t)
    out: Angles = {}
    for joint in ("pelvis", "right_hip", "right_knee", "left_hip", "left_knee", "spine", "thorax",
                  "neck_nose", "right_shoulder", "right_elbow", "left_shoulder", "left_elbow"):
        out[joint] = tuple(kw.get(f"{joint}_{c}", z) for c in ("flex", "abd", "twist"))  # type: ignore[assignment]
    return out


def _gait(t, p, cadence, hip_amp, knee_amp, arm_amp, elbow, speed, lean, rng):
    w = 2 * np.pi * cadence * p["freq"]
    ph = w * t + p["phase"]
    a = p["amp"]
    hip_r = np.deg2rad(hip_amp) * a * np.sin(ph)
    hip_l = np.deg2rad(hip_amp) * a * np.sin(ph + np.pi)
    knee_r = -np.deg2rad(5 + knee_amp * a * np.clip(np.sin(ph + 1.2), 0, None))
    knee_l = -np.deg2rad(5 + knee_amp * a * np.clip(np.sin(ph + 1.2 + np.pi), 0, None))
    ang = _angles(
        t,
        right_hip_flex=hip_r, left_hip_flex=hip_l, right_knee_flex=knee_r, left_knee_flex=knee_l,
        right_shoulder_flex=-0.8 * hip_r * arm_amp, left_shoulder_flex=-0.8 * hip_l * arm_amp,
        right_shoulder_abd=np.full_like(t, -0.12), left_shoulder_abd=np.full_like(t, 0.12),
        right_elbow_flex=np.deg2rad(elbow) + 0.3 * np.maximum(hip_l, 0),
        left_elbow_flex=np.deg2rad(elbow) + 0.3 * np.maximum(hip_r, 0),
        spine_flex=np.full_like(t, -np.deg2rad(lean)), pelvis_twist=0.12 * a * np.sin(ph),
        thorax_twist=-0.15 * a * np.sin(ph),
    )
    # walk on a circle around the capture centre (Human3.6M subjects walk in circles)
    radius = rng.uniform(0.8, 1.4)
    direction = rng.choice([-1.0, 1.0])
    yaw = p["yaw0"] + direction * speed * p["freq"] * t / radius
    bob = 0.02 * a * (1 + speed / 2) * np.cos(2 * ph)
    # facing the tangent of a circle centred on the capture area: with facing
    # direction (-sin yaw, cos yaw), the position is direction * radius * (cos yaw, sin yaw)
    pos = np.stack([direction * radius * np.cos(yaw), direction * radius * np.sin(yaw), bob], -1)
    return ang, yaw, pos


def _walk(t, p, rng):
    return _gait(t, p, 0.9, 22, 45, 0.7, 15, 1.2, 4, rng)


def _run(t, p, rng):
    return _gait(t, p, 1.4, 35, 80, 1.0, 80, 2.6, 10, rng)


def _stand(t, p, rng):
    """Standing in place, slowly turning."""
    yaw = p["yaw0"] + 0.2 * np.sin(0.3 * t + p["phase"])
    pos = np.zeros((len(t), 3))
    return yaw, pos


def _wave(t, p, rng):
    w = 2 * np.pi * 1.4 * p["freq"]
    ph = w * t + p["phase"]
    a = p["amp"]
    side = rng.choice(["right", "left"])
    sgn = -1.0 if side == "right" else 1.0
    kw = {
        f"{side}_shoulder_abd": sgn * np.deg2rad(140 + 10 * np.sin(0.5 * ph)) * np.ones_like(t),
        f"{side}_shoulder_flex": np.deg2rad(20) * np.ones_like(t),
        f"{side}_elbow_flex": np.deg2rad(35 + 30 * a * np.sin(ph)),
        "spine_abd": -sgn * np.deg2rad(4) * np.ones_like(t),
        "neck_nose_twist": 0.2 * np.sin(0.4 * ph),
        "right_hip_abd": np.full_like(t, -0.05), "left_hip_abd": np.full_like(t, 0.05),
    }
    yaw, pos = _stand(t, p, rng)
    pos[:, 0] += 0.03 * np.sin(0.25 * ph)
    return _angles(t, **kw), yaw, pos


def _squat(t, p, rng):
    w = 2 * np.pi * 0.35 * p["freq"]
    d = 0.5 - 0.5 * np.cos(w * t + p["phase"])  # 0 standing .. 1 down
    depth = p["amp"]
    hip = np.deg2rad(95) * d * depth
    knee = -np.deg2rad(110) * d * depth
    kw = dict(
        right_hip_flex=hip, left_hip_flex=hip, right_knee_flex=knee, left_knee_flex=knee,
        spine_flex=-0.35 * hip, right_shoulder_flex=np.deg2rad(80) * d, left_shoulder_flex=np.deg2rad(80) * d,
        right_hip_abd=np.full_like(t, 0.12), left_hip_abd=np.full_like(t, -0.12),
    )
    yaw, pos = _stand(t, p, rng)
    return _angles(t, **kw), yaw, pos


def _jumping_jacks(t, p, rng):
    w = 2 * np.pi * 0.9 * p["freq"]
    d = 0.5 - 0.5 * np.cos(w * t + p["phase"])
    a = p["amp"]
    kw = dict(
        right_shoulder_abd=-np.deg2rad(10 + 150 * d * a), left_shoulder_abd=np.deg2rad(10 + 150 * d * a),
        right_hip_abd=np.deg2rad(22) * d * a, left_hip_abd=-np.deg2rad(22) * d * a,
        right_elbow_flex=np.deg2rad(10) * np.ones_like(t), left_elbow_flex=np.deg2rad(10) * np.ones_like(t),
        right_knee_flex=-np.deg2rad(10) * (1 - d), left_knee_flex=-np.deg2rad(10) * (1 - d),
    )
    yaw, pos = _stand(t, p, rng)
    pos[:, 2] = 0.12 * a * np.clip(np.sin(2 * (w * t + p["phase"])), 0, None)
    return _angles(t, **kw), yaw, pos


def _box(t, p, rng):
    w = 2 * np.pi * 0.8 * p["freq"]
    ph = w * t + p["phase"]
    pr = np.clip(np.sin(ph), 0, None) ** 2  # right punch extension
    pl = np.clip(np.sin(ph + np.pi), 0, None) ** 2
    kw = dict(
        right_shoulder_flex=np.deg2rad(55 + 30 * pr), left_shoulder_flex=np.deg2rad(55 + 30 * pl),
        right_shoulder_abd=np.full_like(t, -0.25), left_shoulder_abd=np.full_like(t, 0.25),
        right_elbow_flex=np.deg2rad(120 - 105 * pr * p["amp"]), left_elbow_flex=np.deg2rad(120 - 105 * pl * p["amp"]),
        thorax_twist=0.35 * (pl - pr), spine_flex=np.full_like(t, -0.12),
        right_hip_flex=np.full_like(t, 0.25), left_hip_flex=np.full_like(t, 0.25),
        right_knee_flex=np.full_like(t, -0.4), left_knee_flex=np.full_like(t, -0.4),
        right_hip_abd=np.full_like(t, 0.08), left_hip_abd=np.full_like(t, -0.08),
    )
    yaw, pos = _stand(t, p, rng)
    pos[:, 0] += 0.05 * np.sin(0.5 * ph)
    return _angles(t, **kw), yaw, pos


def _look_around(t, p, rng):
    w = 2 * np.pi * 0.25 * p["freq"]
    ph = w * t + p["phase"]
    a = p["amp"]
    kw = dict(
        thorax_twist=0.6 * a * np.sin(ph), spine_twist=0.3 * a * np.sin(ph),
        neck_nose_twist=0.5 * a * np.sin(ph + 0.5), neck_nose_flex=0.2 * np.sin(0.7 * ph),
        right_shoulder_abd=np.full_like(t, -0.1), left_shoulder_abd=np.full_like(t, 0.1),
        right_elbow_flex=0.3 + 0.3 * np.sin(ph + 1), left_elbow_flex=0.3 + 0.3 * np.sin(ph + 2),
    )
    yaw = p["yaw0"] + 0.8 * np.sin(0.5 * ph)
    pos = np.zeros((len(t), 3))
    return _angles(t, **kw), yaw, pos


def _bend(t, p, rng):
    w = 2 * np.pi * 0.3 * p["freq"]
    d = 0.5 - 0.5 * np.cos(w * t + p["phase"])
    a = p["amp"]
    kw = dict(
        spine_flex=-np.deg2rad(60) * d * a, thorax_flex=-np.deg2rad(20) * d * a,
        right_hip_flex=np.deg2rad(25) * d * a, left_hip_flex=np.deg2rad(25) * d * a,
        right_knee_flex=-np.deg2rad(20) * d, left_knee_flex=-np.deg2rad(20) * d,
        right_shoulder_flex=np.deg2rad(40) * d, left_shoulder_flex=np.deg2rad(30) * d,
        neck_nose_flex=np.deg2rad(15) * d,
    )
    yaw, pos = _stand(t, p, rng)
    return _angles(t, **kw), yaw, pos


MOTIONS: dict[str, Callable] = {
    "walk": _walk,
    "run": _run,
    "wave": _wave,
    "squat": _squat,
    "jumping_jacks": _jumping_jacks,
    "box": _box,
    "look_around": _look_around,
    "bend": _bend,
}
"""Motion types by name."""


def _idle(t, rng, n, amp_deg=4.0):
    """Smooth random joint-angle perturbations: ``(n, T)`` sums of slow sinusoids."""
    freqs = rng.uniform(0.05, 0.6, size=(n, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(n, 3))
    amps = rng.uniform(0.3, 1.0, size=(n, 3)) * np.deg2rad(amp_deg) / 1.5
    return (amps[..., None] * np.sin(2 * np.pi * freqs[..., None] * t + phases[..., None])).sum(1)


def animate(subject: SyntheticSubject, motion: str, num_frames: int, fps: float,
            rng: np.random.Generator, position=(0.0, 0.0)) -> np.ndarray:
    """World-frame 3D joints ``(T, 17, 3)`` (metres, Z up) of ``subject`` doing ``motion``."""
    if motion not in MOTIONS:
        raise KeyError(f"unknown motion {motion!r}; known: {sorted(MOTIONS)}")
    t = np.arange(num_frames) / fps
    params = {
        "freq": rng.uniform(0.85, 1.15), "amp": rng.uniform(0.75, 1.2),
        "phase": rng.uniform(0, 2 * np.pi), "yaw0": rng.uniform(-np.pi, np.pi),
    }
    angles, yaw, root = MOTIONS[motion](t, params, rng)
    names = list(angles)
    idle = _idle(t, rng, len(names) * 3).reshape(len(names), 3, -1)
    joints = H36M17.joints
    rot = [None] * len(joints)
    pos = np.zeros((num_frames, len(joints), 3))
    # root orientation: yaw about world z, then pelvis angles
    r_root = _rz(yaw)
    for i, j in enumerate(joints):
        if j in angles:
            k = names.index(j)
            fl, ab, tw = (angles[j][c] + idle[k, c] for c in range(3))
            local = _rx(fl) @ _ry(ab) @ _rz(tw)
        else:
            local = None
        par = H36M17.parents[i]
        if par < 0:
            rot[i] = r_root @ local
            continue
        pos[:, i] = pos[:, par] + np.einsum("tij,j->ti", rot[par], subject.offsets[i])
        rot[i] = rot[par] @ local if local is not None else rot[par]
    # put the feet on the ground: pelvis height from the lowest ankle, smoothed
    lowest = np.minimum(pos[:, H36M17.index("right_ankle"), 2], pos[:, H36M17.index("left_ankle"), 2])
    k = max(1, int(fps * 0.2))
    lowest = np.convolve(np.pad(lowest, (k, k), mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), "valid")
    pos[..., 2] += _ANKLE_HEIGHT - lowest[:, None]
    pos[..., :2] += np.asarray(position)[None, None] + root[:, None, :2]
    pos[..., 2] += root[:, None, 2]
    return pos


def _look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, np.array([0.0, 0.0, 1.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def make_cameras(rng: np.random.Generator | None = None, distance: float = 5.0) -> list[Camera]:
    """Four cameras around the capture area, as in Human3.6M (1000 x 1000 images).

    They stand at about ``distance`` metres from the centre, 1.3-1.8 m high,
    at azimuths about 90 degrees apart, aimed at a point 1 m above the centre.
    """
    rng = rng or np.random.default_rng(0)
    cams = []
    az0 = rng.uniform(0, 2 * np.pi)
    for i, (f, c, k, p) in enumerate(_CAM_INTRINSICS):
        az = az0 + i * np.pi / 2 + rng.uniform(-0.25, 0.25)
        d = distance * rng.uniform(0.9, 1.1)
        centre = np.array([d * np.cos(az), d * np.sin(az), rng.uniform(1.3, 1.8)])
        target = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 1.0])
        cams.append(Camera(f=f, c=c, k=k, p=p, R=_look_at(centre, target), T=centre,
                           width=1000, height=1000, name=f"cam{i + 1}"))
    return cams


@dataclass
class NoiseSettings:
    """Detector-like 2D errors (pixels at 1000 x 1000).

    Attributes:
        jitter: white noise standard deviation.
        drift: standard deviation of the slowly varying offset (AR(1)).
        drift_correlation: AR(1) coefficient per frame.
        extremity_factor: noise multiplier at wrists, ankles and head.
        outlier_rate: probability per joint and frame that an outlier burst starts.
        outlier_pixels: range of outlier displacement.
        outlier_frames: range of outlier burst length.
        occlusion_rate: probability per joint and frame that an occlusion starts.
        occlusion_frames: range of occlusion length.
        occlusion_factor: noise multiplier while occluded.
    """

    jitter: float = 3.0
    drift: float = 2.5
    drift_correlation: float = 0.95
    extremity_factor: float = 1.6
    outlier_rate: float = 0.003
    outlier_pixels: tuple[float, float] = (15.0, 60.0)
    outlier_frames: tuple[int, int] = (1, 6)
    occlusion_rate: float = 0.002
    occlusion_frames: tuple[int, int] = (10, 40)
    occlusion_factor: float = 3.0

    @classmethod
    def clean(cls) -> "NoiseSettings":
        return cls(0.0, 0.0, 0.0, 1.0, 0.0, (0.0, 0.0), (1, 1), 0.0, (1, 1), 1.0)


def _bursts(rng, shape, rate, lengths):
    """Boolean mask ``(T, J)`` of bursts starting with probability ``rate``."""
    t, j = shape
    starts = rng.random(shape) < rate
    mask = np.zeros(shape, bool)
    for ti, ji in zip(*np.nonzero(starts)):
        mask[ti : ti + rng.integers(lengths[0], lengths[1] + 1), ji] = True
    return mask


def add_detector_noise(keypoints: np.ndarray, rng: np.random.Generator, noise: NoiseSettings):
    """Add detector-like errors to clean 2D ``(T, J, 2)`` pixels.

    Returns:
        ``(noisy (T, J, 2), confidence (T, J))``.
    """
    t, j, _ = keypoints.shape
    scale = np.ones(j)
    for n in ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "head_top"):
        scale[H36M17.index(n)] = noise.extremity_factor
    occl = _bursts(rng, (t, j), noise.occlusion_rate, noise.occlusion_frames)
    sigma = noise.jitter * scale[None] * np.where(occl, noise.occlusion_factor, 1.0)
    out = keypoints + rng.normal(size=(t, j, 2)) * sigma[..., None]
    if noise.drift > 0:
        rho = noise.drift_correlation
        eps = rng.normal(size=(t, j, 2)) * noise.drift * np.sqrt(1 - rho**2) * scale[None, :, None]
        d = np.empty_like(eps)
        d[0] = rng.normal(size=(j, 2)) * noise.drift * scale[:, None]
        for i in range(1, t):
            d[i] = rho * d[i - 1] + eps[i]
        out = out + d
    outl = _bursts(rng, (t, j), noise.outlier_rate, noise.outlier_frames)
    if outl.any():
        n = int(outl.sum())
        ang = rng.uniform(0, 2 * np.pi, n)
        rad = rng.uniform(*noise.outlier_pixels, n)
        out[outl] += np.stack([np.cos(ang), np.sin(ang)], -1) * rad[:, None]
    conf = np.clip(rng.normal(0.9, 0.04, size=(t, j)), 0.5, 1.0)
    conf = np.where(occl, rng.uniform(0.15, 0.5, size=(t, j)), conf)
    conf = np.where(outl, rng.uniform(0.05, 0.4, size=(t, j)), conf)
    return out.astype(np.float32), conf.astype(np.float32)


def make_sequences(subject: SyntheticSubject, motion: str, cameras: list[Camera], num_frames: int,
                   rng: np.random.Generator, fps: float = 50.0,
                   noise: NoiseSettings | None = None) -> list[PoseSequence]:
    """One take of ``motion`` by ``subject``, as one sequence per camera."""
    noise = NoiseSettings() if noise is None else noise
    world = animate(subject, motion, num_frames, fps, rng,
                    position=rng.uniform(-0.3, 0.3, size=2))
    seqs = []
    for cam in cameras:
        cam3d = cam.world_to_camera(world)
        clean = cam.project(cam3d)
        kp, conf = add_detector_noise(clean, rng, noise)
        seqs.append(PoseSequence(
            keypoints=kp, confidence=conf, layout="h36m17", poses3d=cam3d.astype(np.float32),
            layout3d="h36m17", camera=cam, fps=fps, subject=subject.name, action=motion,
            meta={"clean_keypoints": clean.astype(np.float32), "source": "synthetic"},
        ))
    return seqs


def make_dataset(
    subjects: int | list[str] = 4,
    motions: list[str] | None = None,
    takes: int = 1,
    num_frames: int = 400,
    seed: int = 0,
    fps: float = 50.0,
    noise: NoiseSettings | None = None,
    cameras: list[Camera] | None = None,
) -> list[PoseSequence]:
    """Synthetic sequences: every subject does every motion ``takes`` times, seen by every camera.

    Args:
        subjects: number of random bodies (named ``"Syn{seed}-{i}"``) or explicit names.
        motions: motion names (default: all of :data:`MOTIONS`).
        takes: repetitions of each motion per subject (different random parameters).
        num_frames: frames per take.
        seed: everything (bodies, motion parameters, cameras, noise) derives from it.
        noise: detector noise settings (default :class:`NoiseSettings`).
        cameras: cameras to film with (default: :func:`make_cameras` from the seed).

    Returns:
        ``len(subjects) * len(motions) * takes * len(cameras)`` sequences.
    """
    rng = np.random.default_rng(seed)
    names = [f"Syn{seed}-{i}" for i in range(subjects)] if isinstance(subjects, int) else list(subjects)
    motions = list(MOTIONS) if motions is None else list(motions)
    for m in motions:
        if m not in MOTIONS:
            raise KeyError(f"unknown motion {m!r}; known: {sorted(MOTIONS)}")
    if num_frames < 1:
        raise ValueError("num_frames must be positive")
    cams = make_cameras(rng) if cameras is None else cameras
    out = []
    for name in names:
        subj = make_subject(name, rng)
        for m in motions:
            for _ in range(takes):
                out += make_sequences(subj, m, cams, num_frames, rng, fps, noise)
    return out
