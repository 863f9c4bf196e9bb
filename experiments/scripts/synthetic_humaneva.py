"""A synthetic dataset shaped like HumanEva-I, in VideoPose3D's npz format, to try a new dataset end to end.

    python experiments/scripts/synthetic_humaneva.py --out /tmp/he/data

writes ``data_3d_humaneva15.npz`` (``positions_3d[subject][take]``: (T, 15, 3) world metres) and
``data_2d_humaneva15_gt.npz`` (``positions_2d[subject][take]``: one (T, 15, 2) pixel array per camera, and
``metadata`` naming the layout): subjects ``Train/S1..S3`` and ``Validate/S1..S3``, takes cut into chunks of
unequal length (two shorter than 27 frames), a ``ThrowCatch`` take outside the protocol's actions, and the three
cameras of ``experiments/configs/humaneva_cameras.yaml`` (VideoPose3D's HumanEva extrinsics, quaternions). Bodies
and motion come from :mod:`poselift.datasets.synthetic`; the 2D is their projection through pinhole intrinsics
(f 765 px, c (320, 240)) that the cameras file does not carry, as in VideoPose3D's HumanEva files. Then::

    poselift train experiments/configs/humaneva15_27.yaml --data /tmp/he/data/data_3d_humaneva15.npz ...
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
H36M_TO_HUMANEVA = [0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10]
"""h36m17 joints in HumanEva-I's 15-joint order (pelvis, thorax, left shoulder/elbow/wrist, right ..., left
hip/knee/ankle, right ..., head): used only to make plausible bodies."""
MOTION = {"Walking": "walk", "Jog": "run", "Box": "box", "ThrowCatch": "wave"}
F, C = 765.0, np.array([320.0, 240.0])


def cameras() -> dict:
    """``{subject: [camera dict, ...]}`` of the shipped HumanEva cameras file."""
    return yaml.safe_load((CONFIGS / "humaneva_cameras.yaml").read_text())["cameras"]


def world_to_camera(cam: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(R_w2c, centre in metres)`` of a camera dict (quaternion w, x, y, z of the camera-to-world rotation),
    through scipy's scalar-last convention."""
    from scipy.spatial.transform import Rotation

    w, x, y, z = cam["orientation"]
    return Rotation.from_quat([x, y, z, w]).as_matrix().T, np.asarray(cam["translation"]) / 1000.0


def project(world: np.ndarray, cam: dict) -> np.ndarray:
    """``(T, J, 3)`` world metres -> ``(T, J, 2)`` pixels (pinhole, f 765, c (320, 240))."""
    R, t = world_to_camera(cam)
    X = (world - t) @ R.T
    return F * X[..., :2] / X[..., 2:] + C


def takes_of(subject: str) -> dict[str, int]:
    """Chunk lengths per take: unequal, two shorter than 27 frames; ThrowCatch is not a protocol action."""
    k = int(subject[-1])
    if subject.startswith("Train"):
        return {"Walking 1 chunk0": 150 + 10 * k, "Walking 1 chunk1": 14, "Jog 1 chunk0": 120 + 7 * k,
                "Box 1 chunk0": 110 + 5 * k, "ThrowCatch 1 chunk0": 90}
    return {"Walking 1 chunk0": 70 + 5 * k, "Jog 1 chunk0": 60 + 3 * k, "Jog 1 chunk1": 20, "Box 1 chunk0": 55 + k}


def write_archive(folder: str | Path, seed: int = 7) -> dict:
    """Write the two npz files into ``folder``; returns ``positions_3d``."""
    from poselift.datasets.synthetic import animate, make_subject

    folder = Path(folder)
    cams = cameras()
    rng = np.random.default_rng(seed)
    bodies = {s: make_subject(s, rng) for s in ("S1", "S2", "S3")}
    pos3d: dict = {}
    pos2d: dict = {}
    for part in ("Train", "Validate"):
        for s in ("S1", "S2", "S3"):
            subject = f"{part}/{s}"
            pos3d[subject], pos2d[subject] = {}, {}
            for take, n in takes_of(subject).items():
                world = animate(bodies[s], MOTION[take.split()[0]], n, 60.0, rng)[:, H36M_TO_HUMANEVA]
                pos3d[subject][take] = world.astype(np.float32)
                views = [project(world, c).astype(np.float32) for c in cams[s]]
                views[1] = np.concatenate([views[1], views[1][-2:]])  # a video 2 frames longer (trimmed on reading)
                pos2d[subject][take] = views
    meta = {"layout_name": "humaneva15", "num_joints": 15,
            "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "data_3d_humaneva15.npz", positions_3d=pos3d)
    np.savez(folder / "data_2d_humaneva15_gt.npz", positions_2d=pos2d, metadata=meta)
    return pos3d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the two npz files")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    pos = write_archive(args.out, args.seed)
    frames = sum(len(a) for takes in pos.values() for a in takes.values())
    print(f"{args.out}: data_3d_humaneva15.npz, data_2d_humaneva15_gt.npz ({len(pos)} subjects, "
          f"{sum(len(t) for t in pos.values())} takes, {frames} frames x 3 cameras)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
