"""Datasets in VideoPose3D's npz format (poselift.datasets.mocap_archive): what is read, and what is refused."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from poselift.core.errors import FileFormatError, InputError
from poselift.datasets.mocap_archive import read_mocap_archive, read_cameras_file

CENTRE = np.array([3.0, -2.0, 1.5])


def _look_at_origin() -> np.ndarray:
    """Camera-to-world rotation of a camera at CENTRE looking at the origin (z forward, y down, world z up)."""
    z = -CENTRE / np.linalg.norm(CENTRE)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z]).T


R_C2W = _look_at_origin()


def _camera(**extra) -> dict:
    x, y, z, w = Rotation.from_matrix(R_C2W).as_quat()
    return {"id": "C1", "width": 640, "height": 480, "orientation": [w, x, y, z],
            "translation": list(CENTRE * 1000), **extra}


def _write(tmp_path, meta=None, world=None, two_d=True):
    rng = np.random.default_rng(0)
    world = rng.normal(size=(40, 15, 3)) * 0.3 if world is None else world
    entries = {"positions_3d": {"S1": {"Walk 1": world}}}
    if two_d:
        entries["positions_2d"] = {"S1": {"Walk 1": [rng.uniform(0, 600, (40, 15, 2))]}}
    if meta is not None:
        entries["metadata"] = meta
    name = tmp_path / f"archive{len(list(tmp_path.glob('archive*.npz')))}.npz"
    np.savez(name, **entries)
    return name


def _cams(tmp_path, **extra):
    (tmp_path / "cams.json").write_text(json.dumps({"units": "mm", "cameras": {"S1": [_camera(**extra)]}}))
    return tmp_path / "cams.json"


def _read(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pickle warning: these files are the test's own
        return read_mocap_archive(*args, allow_pickle=True, **kw)


def test_quaternion_cameras_in_millimetres_give_camera_coordinates(tmp_path):
    path = _write(tmp_path, {"layout_name": "humaneva15", "num_joints": 15})
    arch = _read(path, cameras=_cams(tmp_path), fps=60)
    (seq,) = arch.sequences(["S1"])
    world = arch.poses3d["S1"]["Walk 1"].astype(np.float64)
    np.testing.assert_allclose(seq.poses3d, (world - CENTRE) @ R_C2W, atol=1e-5)  # X_cam = R^T (X - C)
    assert seq.layout.name == "humaneva15" and seq.fps == 60 and seq.image_size == (640, 480) and seq.camera is None
    spec = read_cameras_file(tmp_path / "cams.json")["S1"][0]
    np.testing.assert_allclose(spec.R, R_C2W.T, atol=1e-12)


def test_what_is_refused_names_the_fix(tmp_path):
    with pytest.raises(InputError, match="does not name its joint layout.*data.layout"):
        _read(_write(tmp_path), cameras=_cams(tmp_path))
    path = _write(tmp_path, {"layout_name": "coco"}, world=np.zeros((5, 15, 3)) + 0.1)
    with pytest.raises(FileFormatError, match="layout 'coco' has 17 joints, the keypoints 15"):
        _read(path, cameras=_cams(tmp_path))
    path = _write(tmp_path, {"layout_name": "humaneva15"})
    with pytest.raises(InputError, match="the file says its layout is 'humaneva15'.*h36m17|humaneva15.*says"):
        _read(path, cameras=_cams(tmp_path), layout="mpii16")
    with pytest.raises(FileFormatError, match="left/right joints"):
        _read(_write(tmp_path, {"layout_name": "humaneva15", "keypoints_symmetry": [[1, 2], [3, 4]]}),
              cameras=_cams(tmp_path))
    mm = _write(tmp_path, {"layout_name": "humaneva15"}, world=np.full((5, 15, 3), 900.0))
    with pytest.raises(InputError, match="look like millimetres.*world_units: mm"):
        _read(mm, cameras=_cams(tmp_path))
    assert _read(mm, cameras=_cams(tmp_path), world_units="mm").poses3d["S1"]["Walk 1"][0, 0, 0] == pytest.approx(0.9)
    arch = _read(path, cameras=_cams(tmp_path))
    with pytest.raises(InputError, match="camera 'C1' of S1 has none; use the 2D of the archive"):
        arch.sequences(["S1"], keypoints="gt")
    with pytest.raises(InputError, match="no 3D for subject 'S2'"):
        arch.sequences(["S2"])
    no_cams = _read(path)
    with pytest.raises(InputError, match="no cameras for subject 'S1'.*data.cameras"):
        no_cams.sequences(["S1"])
    with pytest.raises(InputError, match="exactly one of orientation"):
        _read(path, cameras=_cams(tmp_path, R=np.eye(3).tolist()))
    with pytest.raises(FileFormatError, match="pickle"):
        read_mocap_archive(path)  # pickled dicts need allow_pickle


def test_ground_truth_2d_needs_and_uses_the_intrinsics(tmp_path):
    path = _write(tmp_path, {"layout_name": "humaneva15"}, two_d=False)
    arch = _read(path, cameras=_cams(tmp_path, f=[800.0, 790.0], c=[320.0, 240.0]))
    (seq,) = arch.sequences(["S1"], keypoints="gt")
    X = seq.poses3d.astype(np.float64)
    np.testing.assert_allclose(seq.keypoints, X[..., :2] / X[..., 2:] * [800.0, 790.0] + [320.0, 240.0],
                               rtol=1e-4, atol=1e-2)
    assert arch.sequences(["S1"], keypoints="archive") == [] and any("no 2D" in n for n in arch.notes)
