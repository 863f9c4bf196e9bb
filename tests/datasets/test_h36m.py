"""Human3.6M readers, the prepared cache and ``poselift prepare h36m``.

Two kinds of tests:

* on small files written here in ``tmp_path`` (archive layout, VideoPose3D npz
  files, caches): always run;
* on the real data (``../shared/data/h36m`` beside the repository, or
  ``$POSELIFT_H36M``): skipped cleanly when it is absent. Nothing derived from
  it is written anywhere but ``tmp_path``.
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import h36m_or_skip

from poselift.commands import main as cli_main
from poselift.core.camera import Camera
from poselift.core.errors import UnsafePickleWarning
from poselift.datasets.h36m import CAMERA_IDS, IMAGE_SIZES, JOINTS_17, MISSING_NOTE, load, sequences
from poselift.datasets.h36m.archive import read_archive
from poselift.datasets.h36m.cache import CACHE_VERSION, load_cache, prepare_cache, save_cache
from poselift.datasets.h36m.data import H36MData
from poselift.datasets.h36m.npz import read_npz

# --------------------------------------------------------------------------------------
# synthetic data in the archive / npz layouts
# --------------------------------------------------------------------------------------

SYN_SUBJECTS = ("S1", "S9")
SYN_ACTIONS = {"S1": {"Walking": 40, "Walking 1": 33}, "S9": {"Directions": 25, "Walking": 30}}


def _look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (rows: camera x right, y down, z forward), world z up."""
    fwd = target - centre
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


def _syn_cameras() -> dict[tuple[str, str], Camera]:
    cams = {}
    for si, s in enumerate(SYN_SUBJECTS):
        for ci, cam_id in enumerate(CAMERA_IDS):
            ang = np.pi / 4 + ci * np.pi / 2 + 0.05 * si
            centre = np.array([4.5 * np.cos(ang), 4.5 * np.sin(ang), 1.6])
            w, h = IMAGE_SIZES[cam_id]
            cams[(s, cam_id)] = Camera(
                f=(1145.0 + ci, 1144.0 - ci), c=(512.0 + ci, 515.0 - ci), k=(-0.2, 0.24, -0.003 * ci),
                p=(-0.0007 * ci, 0.0012), R=_look_at(centre, np.array([0.0, 0.0, 1.0])), T=centre,
                width=w, height=h, name=cam_id,
            )
    return cams


def _syn_mocap(T: int, seed: int) -> np.ndarray:
    """(T, 32, 3) float32 world millimetres: a body-sized blob walking near the origin."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([-250, -250, 0], [250, 250, 1800], size=(32, 3))
    t = np.arange(T)[:, None, None]
    drift = np.concatenate([np.sin(t / 10.0) * 300, np.cos(t / 13.0) * 200, np.zeros_like(t, float)], -1)
    return (base[None] + drift + rng.normal(0, 5, (T, 32, 3))).astype(np.float32)


def _write_cameras_h5(path: Path, cams: dict[tuple[str, str], Camera]) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("3dtest", data=np.zeros((96, 1)))
        for (s, cam_id), cam in cams.items():
            g = f.create_group(f"subject{s[1:]}/camera{CAMERA_IDS.index(cam_id) + 1}")
            g["R"] = cam.R.T  # stored transposed, as in the real file
            g["T"] = (cam.T * 1000.0).reshape(3, 1)
            g["f"], g["c"] = cam.f.reshape(2, 1), cam.c.reshape(2, 1)
            g["k"], g["p"] = cam.k.reshape(3, 1), cam.p.reshape(2, 1)
            g["Name"] = np.array([float(ord(ch)) for ch in cam_id]).reshape(-1, 1)


@pytest.fixture
def syn(tmp_path):
    """A small archive: S1 (2 actions), S9 (2 actions + SH without 3D, one camera without SH)."""
    root = tmp_path / "h36m"
    root.mkdir()
    cams = _syn_cameras()
    _write_cameras_h5(root / "cameras.h5", cams)
    mocap, sh = {}, {}
    seed = 0
    for s, acts in SYN_ACTIONS.items():
        (root / s / "MyPoses" / "3D_positions").mkdir(parents=True)
        (root / s / "StackedHourglass").mkdir(parents=True)
        for a, T in acts.items():
            seed += 1
            m = _syn_mocap(T, seed)
            mocap[(s, a)] = m
            with h5py.File(root / s / "MyPoses" / "3D_positions" / f"{a}.h5", "w") as f:
                f.create_dataset("3D_positions", data=m.reshape(T, 96).T, compression="gzip")
            for cam_id in CAMERA_IDS:
                if (s, a, cam_id) == ("S9", "Directions", "54138969"):
                    continue  # like S11 Directions in the real data
                kp = np.random.default_rng(seed * 10 + CAMERA_IDS.index(cam_id)).integers(0, 1000, (T, 16, 2))
                sh[(s, a, cam_id)] = kp.astype(np.float32)
                with h5py.File(root / s / "StackedHourglass" / f"{a.replace(' ', '_')}.{cam_id}.h5", "w") as f:
                    f["poses"] = kp.astype(np.float32)
    for cam_id in CAMERA_IDS:  # 2D without 3D, like S9 Discussion 1
        with h5py.File(root / "S9" / "StackedHourglass" / f"Discussion_1.{cam_id}.h5", "w") as f:
            f["poses"] = np.zeros((12, 16, 2), np.float32)
    return {"root": root, "cameras": cams, "mocap": mocap, "sh": sh}


def _write_npz(tmp_path: Path, syn: dict, name: str = "sh_pt_mpii") -> tuple[Path, Path]:
    """VideoPose3D-shaped npz files (pickled dicts inside) of the synthetic data."""
    pos3d: dict = {}
    for (s, a), m in syn["mocap"].items():
        pos3d.setdefault(s, {})[a] = m.astype(np.float64) / 1000.0  # metres, 32 joints
    pos2d: dict = {}
    for (s, a), m in syn["mocap"].items():
        pos2d.setdefault(s, {})[a] = [syn["sh"].get((s, a, c)) for c in CAMERA_IDS]
    pos2d["S9"]["Discussion 1"] = [np.zeros((12, 16, 2), np.float32)] * 4
    # one camera with extra video frames (VideoPose3D trims those)
    pos2d["S1"]["Walking"][2] = np.concatenate([pos2d["S1"]["Walking"][2], np.zeros((3, 16, 2), np.float32)])
    p3, p2 = tmp_path / "data_3d_h36m.npz", tmp_path / f"data_2d_h36m_{name}.npz"
    np.savez_compressed(p3, positions_3d=pos3d)
    meta = {"num_joints": 16, "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]}
    np.savez_compressed(p2, positions_2d=pos2d, metadata=meta)
    return p3, p2


def _assert_same_data(a: H36MData, b: H36MData) -> None:
    assert sorted(a.poses3d) == sorted(b.poses3d)
    assert sorted(a.keypoints2d) == sorted(b.keypoints2d)
    assert sorted(a.cameras) == sorted(b.cameras)
    for k in a.poses3d:
        assert b.poses3d[k].dtype == np.float32
        np.testing.assert_array_equal(a.poses3d[k], b.poses3d[k])
    for k in a.keypoints2d:
        assert b.keypoints2d[k].dtype == np.float32
        np.testing.assert_array_equal(a.keypoints2d[k], b.keypoints2d[k])
    for k, cam in a.cameras.items():
        assert cam.to_dict() == b.cameras[k].to_dict()
    assert (a.layout2d, a.keypoints_name) == (b.layout2d, b.keypoints_name)


# --------------------------------------------------------------------------------------
# archive reader on synthetic files
# --------------------------------------------------------------------------------------


def test_archive_reader_synthetic(syn):
    d = read_archive(syn["root"])
    assert d.subjects == ["S1", "S9"]
    assert d.actions("S1") == ["Walking", "Walking 1"]
    assert ("S9", "Discussion 1") not in d.poses3d
    for (s, a), m in syn["mocap"].items():
        p = d.poses3d[(s, a)]
        assert p.shape == (len(m), 17, 3) and p.dtype == np.float32
        np.testing.assert_allclose(p, m[:, list(JOINTS_17)] / 1000.0, rtol=0, atol=1e-6)
    # "_" in the SH file name maps to the space of the 3D name
    np.testing.assert_array_equal(d.sh2d[("S1", "Walking 1", "58860488")], syn["sh"][("S1", "Walking 1", "58860488")])
    assert ("S9", "Directions", "54138969") not in d.keypoints2d
    assert any("Discussion 1" in n and "no 3D" in n for n in d.notes)
    assert any("S9 'Directions'" in n and "54138969" in n for n in d.notes)
    # cameras: the stored transpose is fixed, T in metres, sizes per id
    for k, cam in syn["cameras"].items():
        got = d.cameras[k]
        assert got.name == k[1] and (got.width, got.height) == IMAGE_SIZES[k[1]]
        np.testing.assert_allclose(got.R, cam.R, atol=1e-12)
        np.testing.assert_allclose(got.T, cam.T, atol=1e-12)
        np.testing.assert_allclose(got.p, cam.p)


def test_sequences_synthetic(syn):
    d = read_archive(syn["root"])
    gt = sequences(d, ["S9", "S1"], "gt")
    assert [(q.subject, q.action, q.camera.name) for q in gt[:5]] == [
        ("S9", "Directions", c) for c in CAMERA_IDS
    ] + [("S9", "Walking", CAMERA_IDS[0])]
    assert len(gt) == 4 * 4
    for q in gt:
        cam = d.cameras[(q.subject, q.camera.name)]
        X = d.poses3d[(q.subject, q.action)].astype(np.float64)
        Xc = (X - cam.T) @ cam.R.T
        np.testing.assert_allclose(q.poses3d, Xc, atol=1e-5)
        np.testing.assert_allclose(q.keypoints, cam.project(Xc), atol=1e-2)
        assert q.layout.name == "h36m17" and q.layout3d.name == "h36m17" and q.fps == 50
        assert q.camera is cam and q.image_size == IMAGE_SIZES[cam.name]
    skipped: list[str] = []
    sh = sequences(d, "S9", "sh", skipped=skipped)
    assert len(sh) == 7 and all(q.layout.name == "mpii16" for q in sh)
    assert skipped == ["S9 'Directions' camera 54138969: no sh_pt_mpii 2D; skipped"]
    only = sequences(d, "S1", "gt", cameras=["60457274"], actions=["Walking"])
    assert [(q.action, q.camera.name) for q in only] == [("Walking", "60457274")]
    with pytest.raises(ValueError, match="S5"):
        sequences(d, "S5")
    with pytest.raises(ValueError, match="keypoints"):
        sequences(d, "S1", "cpn")


def test_archive_reader_errors(syn, tmp_path):
    root = syn["root"]
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_archive(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="S5"):
        read_archive(root, ["S5"])
    bad = root / "S1" / "MyPoses" / "3D_positions" / "Walking.h5"
    with h5py.File(bad, "w") as f:
        f["3D_positions"] = np.zeros((90, 10), np.float32)
    with pytest.raises(ValueError, match=r"Walking\.h5.*\(96, frames\)"):
        read_archive(root)
    with h5py.File(bad, "w") as f:
        a = np.zeros((96, 10), np.float32)
        a[5, 3] = np.nan
        f["3D_positions"] = a
    with pytest.raises(ValueError, match="NaN"):
        read_archive(root)
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="corrupt or not an HDF5"):
        read_archive(root)
    (root / "cameras.h5").unlink()
    with pytest.raises(FileNotFoundError, match="cameras.h5"):
        read_archive(root)


# --------------------------------------------------------------------------------------
# VideoPose3D npz
# --------------------------------------------------------------------------------------


def test_npz_round_trip(syn, tmp_path):
    p3, p2 = _write_npz(tmp_path, syn)
    with pytest.warns(UnsafePickleWarning, match="trust"):
        d = read_npz(p3, syn["root"] / "cameras.h5", p2, allow_pickle=True)
    ref = read_archive(syn["root"])
    assert d.keypoints_name == "sh_pt_mpii" and d.layout2d == "mpii16"
    assert sorted(d.poses3d) == sorted(ref.poses3d)
    for k in ref.poses3d:
        np.testing.assert_allclose(d.poses3d[k], ref.poses3d[k], atol=1e-6)
    _assert_same_data(replace(ref, poses3d=d.poses3d), d)
    assert any("trimmed" in n for n in d.notes)
    assert any("Discussion 1" in n for n in d.notes)
    assert len(sequences(d, ["S1", "S9"], "sh")) == 15
    # 3D only
    with pytest.warns(UnsafePickleWarning):
        d3 = read_npz(p3, syn["root"] / "cameras.h5", allow_pickle=True, subjects=["S9"])
    assert d3.subjects == ["S9"] and not d3.keypoints2d
    with pytest.raises(ValueError, match="no 2D detections"):
        sequences(d3, "S9", "sh")


def test_npz_refuses_pickles_without_opt_in(syn, tmp_path):
    p3, p2 = _write_npz(tmp_path, syn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either: nothing was unpickled
        with pytest.raises(ValueError, match=r"pickle.*allow_pickle=True"):
            read_npz(p3, syn["root"] / "cameras.h5")
        with pytest.raises(ValueError, match="pickle"):
            read_npz(p3, syn["root"] / "cameras.h5", p2)
    rc = cli_main(["prepare", "h36m", "--format", "npz", "--source", str(p3), "--cameras",
                   str(syn["root"] / "cameras.h5"), "--out", str(tmp_path / "c.h5"), "--no-progress"])
    assert rc == 1 and not (tmp_path / "c.h5").exists()


def test_npz_bad_content(syn, tmp_path):
    cams = syn["root"] / "cameras.h5"
    p = tmp_path / "mm.npz"
    np.savez(p, positions_3d={"S1": {"Walking": np.full((5, 32, 3), 1500.0)}})
    with pytest.warns(UnsafePickleWarning), pytest.raises(ValueError, match="millimetres"):
        read_npz(p, cams, allow_pickle=True)
    np.savez(p, positions_3d={"S1": {"Walking": np.zeros((5, 20, 3))}})
    with pytest.warns(UnsafePickleWarning), pytest.raises(ValueError, match="32"):
        read_npz(p, cams, allow_pickle=True)
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz", cams)


# --------------------------------------------------------------------------------------
# the cache
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_cache_round_trip(syn, tmp_path, compression):
    out = tmp_path / "cache" / "h36m.h5"
    info = prepare_cache(syn["root"], out, compression=compression)
    assert info.path == out and out.is_file() and info.size_bytes == out.stat().st_size
    assert info.num_sequences3d == 4 and info.num_sequences2d == 15
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left nothing behind
    ref = read_archive(syn["root"])
    got = load_cache(out)
    _assert_same_data(ref, got)
    assert got.notes == ref.notes
    _assert_same_data(ref, load(out))  # load() takes a cache file ...
    _assert_same_data(ref, load(syn["root"]))  # ... or the archive folder
    assert load(out, ["S9"]).subjects == ["S9"]
    a, b = sequences(ref, "S1", "gt"), sequences(got, "S1", "gt")
    np.testing.assert_array_equal(a[3].keypoints, b[3].keypoints)


def test_bit_delta_encoding_is_lossless_bit_for_bit():
    from poselift.datasets.h36m.cache import decode_bit_delta, encode_bit_delta

    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(scale=0.01, size=(500, 17, 3)), axis=0).astype(np.float32)
    odd = np.array([0.0, -0.0, 1e-38, -3.4e38, 3.4e38, 1.0, -1.0, 7e-45], np.float32)
    odd = np.broadcast_to(odd[:, None, None], (8, 17, 3)).copy()
    for a in (walk, odd, walk[:1]):
        enc = encode_bit_delta(a)
        assert enc.shape == (51, len(a)) and enc.dtype == np.int32
        back = decode_bit_delta(enc, 17)
        assert back.dtype == np.float32 and back.shape == a.shape
        np.testing.assert_array_equal(back.view(np.int32), a.view(np.int32))  # bits, so -0.0 stays -0.0
    # smooth motion: the deltas are small numbers (that is what compresses)
    assert np.median(np.abs(encode_bit_delta(walk)[:, 1:].astype(np.int64))) < 2**20 < 2**30


def test_compact_cache_keeps_the_3d_exactly_and_says_it_has_no_2d(syn, tmp_path, capsys):
    out = tmp_path / "compact.h5"
    assert cli_main(["prepare", "h36m", "--source", str(syn["root"]), "--out", str(out), "--compact",
                     "--no-progress"]) == 0
    assert "0 2D sequences" in capsys.readouterr().out
    ref, got = read_archive(syn["root"]), load_cache(out)
    assert set(got.poses3d) == set(ref.poses3d) and not got.keypoints2d
    for k, v in ref.poses3d.items():
        np.testing.assert_array_equal(got.poses3d[k].view(np.int32), v.view(np.int32))
    assert got.cameras.keys() == ref.cameras.keys()
    assert any("Compact cache" in n for n in got.notes)
    a, b = sequences(ref, "S1", "gt"), sequences(got, "S1", "gt")
    np.testing.assert_array_equal(a[0].keypoints, b[0].keypoints)
    with pytest.raises(ValueError, match="holds no 2D detections"):
        sequences(got, "S1", "sh")
    with h5py.File(out, "r") as f:
        d = f["poses3d/S1/Walking"]
        assert d.dtype == np.int32 and d.shape == (51, SYN_ACTIONS["S1"]["Walking"]) and d.fletcher32
    with h5py.File(out, "r+") as f:
        f.attrs["poses3d_encoding"] = "float16-something"
    with pytest.raises(ValueError, match="unknown 3D encoding"):
        load_cache(out)


def test_cache_from_npz(syn, tmp_path):
    p3, p2 = _write_npz(tmp_path, syn)
    out = tmp_path / "npz_cache.h5"
    with pytest.warns(UnsafePickleWarning):
        info = prepare_cache(p3, out, cameras=syn["root"] / "cameras.h5", keypoints_npz=p2, allow_pickle=True)
    assert info.num_sequences2d == 15
    with pytest.warns(UnsafePickleWarning):
        ref = read_npz(p3, syn["root"] / "cameras.h5", p2, allow_pickle=True)
    _assert_same_data(ref, load_cache(out))


def test_cache_version_and_corruption(syn, tmp_path):
    out = tmp_path / "h36m.h5"
    prepare_cache(syn["root"], out)
    with h5py.File(out, "r+") as f:
        f.attrs["version"] = CACHE_VERSION + 1
    with pytest.raises(ValueError, match=rf"version {CACHE_VERSION + 1}.*rebuild"):
        load_cache(out)
    with h5py.File(out, "r+") as f:
        f.attrs["version"] = CACHE_VERSION
        offset = f["poses3d/S1/Walking"].id.get_chunk_info(0).byte_offset
    load_cache(out)
    # flip bytes inside a compressed array: caught by the checksum, not returned as numbers
    raw = bytearray(out.read_bytes())
    raw[offset + 10 : offset + 14] = bytes(b ^ 0xFF for b in raw[offset + 10 : offset + 14])
    out.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt"):
        load_cache(out)
    # truncated file, garbage file, an HDF5 file that is not a cache, no file
    prepare_cache(syn["root"], out)
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_cache(out)
    out.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="corrupt"):
        load(out)
    with h5py.File(out, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a poselift Human3.6M cache"):
        load_cache(out)
    with pytest.raises(FileNotFoundError):
        load_cache(tmp_path / "none.h5")


def test_cache_write_is_atomic(syn, tmp_path):
    d = read_archive(syn["root"])
    out = tmp_path / "h36m.h5"
    save_cache(d, out)
    before = out.read_bytes()
    d.poses3d[("S1", "Walking")][3, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_cache(d, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h36m", "h36m.h5"]


def test_cli_prepare(syn, tmp_path, capsys):
    out = tmp_path / "c.h5"
    assert cli_main(["prepare", "h36m", "--source", str(syn["root"]), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "MiB" in text and "Discussion 1" in text and str(out) in text
    _assert_same_data(read_archive(syn["root"]), load_cache(out))
    p3, p2 = _write_npz(tmp_path, syn)
    with pytest.warns(UnsafePickleWarning):
        rc = cli_main(["prepare", "h36m", "--source", str(p3), "--cameras", str(syn["root"] / "cameras.h5"),
                       "--keypoints-npz", str(p2), "--allow-pickle", "--out", str(out), "--no-progress"])
    assert rc == 0 and load_cache(out).keypoints_name == "sh_pt_mpii"
    assert cli_main(["prepare", "h36m", "--source", str(tmp_path / "nowhere")]) == 1
    assert "no such file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# the real data (skipped when absent)
# --------------------------------------------------------------------------------------

FRAMES = {"S1": 62094, "S5": 87054, "S6": 62466, "S7": 89808, "S8": 64678, "S9": 73544, "S11": 58244}


@pytest.fixture(scope="module")
def h36m_root() -> Path:
    return h36m_or_skip()


@pytest.fixture(scope="module")
def real(h36m_root) -> H36MData:
    return read_archive(h36m_root)  # all of it: a few seconds


def test_real_frame_counts_and_cameras(real):
    assert {s: real.num_frames(s) for s in real.subjects} == FRAMES
    assert real.num_frames() == 497888
    for s in FRAMES:
        assert real.camera_ids(s) == list(CAMERA_IDS)
        for c in CAMERA_IDS:
            cam = real.cameras[(s, c)]
            assert cam.name == c and (cam.width, cam.height) == IMAGE_SIZES[c]
            assert np.allclose(cam.R @ cam.R.T, np.eye(3)) and 1.0 < np.linalg.norm(cam.T) < 10.0  # metres
    assert all(p.dtype == np.float32 and p.shape[1:] == (17, 3) for p in real.poses3d.values())
    assert all(k.shape[1:] == (16, 2) for k in real.keypoints2d.values())


def test_real_17_joint_selection(h36m_root, real):
    with h5py.File(h36m_root / "S9" / "MyPoses" / "3D_positions" / "Walking 1.h5", "r") as f:
        raw = f["3D_positions"][()]
    assert raw.dtype == np.float32 and raw.shape[0] == 96
    p32 = raw.T.reshape(-1, 32, 3)
    idx = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    np.testing.assert_allclose(real.poses3d[("S9", "Walking 1")], p32[:, idx] / 1000.0, rtol=1e-6, atol=1e-7)


def test_real_missing_and_skipped(real):
    assert ("S9", "Discussion 1") not in real.poses3d
    assert len(real.actions("S9")) + len(real.actions("S11")) == 59
    assert "519,852 of the 543,344" in MISSING_NOTE and "\n" not in MISSING_NOTE
    # the takes whose 3D this copy lacks, with the frames of their 2D (VideoPose3D's frame counts)
    assert real.missing3d == {("S5", "Discussion 2"): 6090, ("S5", "Discussion 3"): 5935, ("S7", "Discussion"): 5470,
                              ("S7", "SittingDown 1"): 6343, ("S9", "Discussion 1"): 5873}
    assert ("S11", "Directions", "54138969") not in real.keypoints2d
    skipped: list[str] = []
    seqs = sequences(real, ["S9", "S11"], "sh", skipped=skipped)
    assert len(seqs) == 59 * 4 - 1 and len(skipped) == 1 and "S11 'Directions'" in skipped[0]
    for (s, a, _), kp in real.keypoints2d.items():
        assert len(kp) == len(real.poses3d[(s, a)])


def test_real_projection_lands_on_sh_pelvis(real):
    cam = real.cameras[("S9", "54138969")]
    X = real.poses3d[("S9", "Walking")]
    sh_pelvis = real.sh2d[("S9", "Walking", "54138969")][:, 6]  # mpii16 index 6 = pelvis
    gt = sequences(real, "S9", "gt", cameras=["54138969"], actions=["Walking"])[0]
    err = np.median(np.linalg.norm(gt.keypoints[:, 0] - sh_pelvis, axis=-1))
    assert err < 15.0, err
    stored = replace(cam, R=cam.R.T)  # the R exactly as stored in cameras.h5
    Xc = stored.world_to_camera(X)
    assert np.all(Xc[..., 2] > 0)  # still in front, so the distance below is meaningful
    wrong = np.median(np.linalg.norm(stored.project(Xc)[:, 0] - sh_pelvis, axis=-1))
    assert wrong > 200.0, wrong  # about 520 px
    assert np.all(gt.poses3d[..., 2] > 1.0)  # in front of the right camera, metres


def test_real_gt_sequences_test_set(real):
    seqs = sequences(real, ["S9", "S11"], "gt")
    assert len(seqs) == 59 * 4
    assert sum(len(q) for q in seqs) == 4 * (FRAMES["S9"] + FRAMES["S11"])
    q = seqs[0]
    assert q.keypoints.shape[1:] == (17, 2) and q.poses3d.shape[1:] == (17, 3)
    assert q.keypoints.dtype == np.float32 and q.poses3d.dtype == np.float32
    # the projected root stays in the image
    for q in seqs[:: 17]:
        w, h = q.image_size
        assert np.all((q.keypoints[:, 0] > 0) & (q.keypoints[:, 0] < [w, h]))
