"""Reading the "h36m" archive layout (Martinez et al.): cameras.h5, 3D positions, Stacked Hourglass 2D."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np

from poselift.core.camera import Camera
from poselift.core.errors import FileFormatError, InputError, check_finite, reading
from poselift.core.layouts import get_layout
from poselift.datasets.h36m.constants import (
    IMAGE_SIZES,
    JOINTS_17,
    NUM_MOCAP_JOINTS,
    SH_KEYPOINTS,
    _camera_order,
    _sorted_subjects,
    subject_number,
)
from poselift.datasets.h36m.data import H36MData

_ARCHIVE_3D_DIR = Path("MyPoses") / "3D_positions"


_ARCHIVE_SH_DIR = Path("StackedHourglass")


_MM = 1000.0


def _open_h5(path: Path):
    """Open ``path`` read-only; clear errors for a missing or unreadable file."""
    from poselift.core.io import open_h5

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")

    try:
        return open_h5(path)  # external storage and links, virtual datasets and the whole-file budget checked
    except FileFormatError as e:
        if ": refused:" in str(e):
            raise
        raise FileFormatError(f"{path}: corrupt or not an HDF5 file ({str(e).split(': ', 2)[-1]})", path) from None


def _read_dataset(h5, name: str, path: Path) -> np.ndarray:
    if name not in h5:
        raise FileFormatError(f"{path}: no dataset {name!r} (found {sorted(h5.keys())})", path)
    try:
        a = np.asarray(h5[name][()])
    except OSError as e:
        raise FileFormatError(f"{path}: cannot read {name!r}, the file looks corrupt ({e})", path) from None
    if a.dtype.kind not in "biuf":
        raise FileFormatError(f"{path}: {name!r} holds {a.dtype}, not numbers", path)
    return a


def _check_finite(a: np.ndarray, what: str, joint_names=None) -> None:
    """NaN/inf in Human3.6M data is refused (3D ground truth, and the 2D detections, which carry no
    confidence to mark a joint missing), naming the frame and joint."""
    check_finite(a, what, joint_names)


def _reduce_to_17(p32: np.ndarray, what: str) -> np.ndarray:
    """``(T, 32, C)`` mocap joints to ``(T, 17, C)``."""
    if p32.ndim != 3 or p32.shape[1] != NUM_MOCAP_JOINTS:
        raise InputError(f"{what}: expected (frames, {NUM_MOCAP_JOINTS}, C) mocap joints, got shape {p32.shape}")
    return np.ascontiguousarray(p32[:, list(JOINTS_17)])


def read_cameras(path: str | Path, subjects: Iterable[str] | None = None) -> dict[tuple[str, str], Camera]:
    """Read ``cameras.h5`` into ``{(subject, camera_id): Camera}``.

    The file stores the transpose of the world-to-camera rotation
    (``X_cam = R_stored.T @ (X - T)``); the returned cameras hold
    ``R = R_stored.T`` so that ``X_cam = R @ (X - T)``. ``T`` is converted
    from millimetres to metres. The group ``3dtest`` is ignored.

    Args:
        path: the ``cameras.h5`` file.
        subjects: subjects to read (``"S9"``...); all when ``None``.

    Returns:
        Cameras keyed by ``("S9", "54138969")``; image sizes from :data:`IMAGE_SIZES`.
    """
    path = Path(path)
    with reading(path, "cameras HDF5"):
        return _read_cameras(path, None if subjects is None else set(subjects))


def _read_cameras(path: Path, want: set[str] | None) -> dict[tuple[str, str], Camera]:
    out: dict[tuple[str, str], Camera] = {}
    with _open_h5(path) as h5:
        for group in h5:
            m = re.fullmatch(r"subject(\d+)", group)
            if not m:
                continue
            subject = f"S{int(m.group(1))}"
            if want is not None and subject not in want:
                continue
            for cam_key in sorted(h5[group]):
                g = h5[group][cam_key]
                where = f"{path}:{group}/{cam_key}"
                vals = {}
                for k, n in (("R", 9), ("T", 3), ("f", 2), ("c", 2), ("k", 3), ("p", 2), ("Name", None)):
                    a = _read_dataset(g, k, path).astype(np.float64).ravel()
                    if n is not None and a.size != n:
                        raise InputError(f"{where}/{k}: expected {n} values, got {a.size}")
                    if not np.isfinite(a).all():
                        raise InputError(f"{where}/{k}: NaN/inf")
                    vals[k] = a
                name = "".join(chr(int(round(v))) for v in vals["Name"])
                if name not in IMAGE_SIZES:
                    raise InputError(f"{where}: unknown camera id {name!r} (known: {list(IMAGE_SIZES)})")
                R = vals["R"].reshape(3, 3).T  # stored transposed
                if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
                    raise InputError(f"{where}/R: not a rotation matrix")
                w, h = IMAGE_SIZES[name]
                out[(subject, name)] = Camera(
                    f=vals["f"], c=vals["c"], k=vals["k"], p=vals["p"], R=R, T=vals["T"] / _MM,
                    width=w, height=h, name=name,
                )
    if want is not None:
        missing = want - {s for s, _ in out}
        if missing:
            raise InputError(f"{path}: no cameras for subject(s) {_sorted_subjects(missing)}")
    if not out:
        raise InputError(f"{path}: no 'subject<N>/camera<M>' groups found")
    return out


def _archive_subjects(root: Path, subjects: Iterable[str] | None) -> list[str]:
    if subjects is None:
        found = [p.name for p in root.iterdir() if p.is_dir() and re.fullmatch(r"S\d+", p.name)]
        if not found:
            raise FileNotFoundError(f"{root}: no subject folders (S1, S5, ...) found; is this the h36m archive folder?")
        return _sorted_subjects(found)
    subjects = list(subjects)
    for s in subjects:
        subject_number(s)
        if not (root / s).is_dir():
            raise FileNotFoundError(f"{root / s}: no folder for subject {s}")
    return _sorted_subjects(subjects)


def _parse_sh_name(name: str) -> tuple[str, str] | None:
    """``"Walking_1.54138969.h5" -> ("Walking 1", "54138969")``; ``None`` if not of that shape."""
    m = re.fullmatch(r"(.+)\.(\d+)\.h5", name)
    if not m:
        return None
    return m.group(1).replace("_", " "), m.group(2)


def read_archive(
    root: str | Path,
    subjects: Iterable[str] | None = None,
    *,
    detections: bool = True,
    progress: bool = False,
) -> H36MData:
    """Read Human3.6M in the layout of the "h36m" archive.

    Layout (see the data README): ``cameras.h5``,
    ``S*/MyPoses/3D_positions/<Action>.h5`` (dataset ``3D_positions``,
    ``(96, T)`` millimetres) and ``S*/StackedHourglass/<Action_N>.<camera>.h5``
    (dataset ``poses``, ``(T, 16, 2)`` pixels).

    Stacked Hourglass files without 3D are left out, and a camera without a
    Stacked Hourglass file is recorded; both in :attr:`H36MData.notes`.

    Args:
        root: the archive folder (holding ``cameras.h5`` and ``S1/`` ...).
        subjects: subjects to read; all subject folders when ``None``.
        detections: also read the Stacked Hourglass 2D detections.
        progress: show a progress bar (tqdm).

    Returns:
        :class:`H36MData`: 3D ``(T, 17, 3)`` world metres, detections
        ``(T, 16, 2)`` pixels (``mpii16``), cameras.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected the Human3.6M 'h36m' archive folder)")
    subjects = _archive_subjects(root, subjects)
    cameras = read_cameras(root / "cameras.h5", subjects)
    files_3d, files_2d = _archive_files(root, subjects, detections)

    notes: list[str] = []
    bar = tqdm(total=len(files_3d) + len(files_2d), desc="reading Human3.6M", unit="file", disable=not progress)
    with bar:
        poses3d = _read_all_3d(files_3d, bar)
        keypoints2d, no_3d, missing3d = _read_all_sh(files_2d, cameras, poses3d, notes, bar)

    for (s, action), cams in sorted(no_3d.items(), key=lambda kv: (subject_number(kv[0][0]), kv[0][1])):
        notes.append(f"{s} {action!r}: Stacked Hourglass 2D for {len(cams)} camera(s) but no 3D; left out")
    if detections:
        notes += _missing_camera_notes(poses3d, keypoints2d, cameras, "Stacked Hourglass")
    return H36MData(
        cameras=cameras,
        poses3d=poses3d,
        keypoints2d=keypoints2d,
        layout2d="mpii16",
        keypoints_name=SH_KEYPOINTS if detections else "",
        notes=notes,
        missing3d=missing3d,
        source=str(root),
    )


def _archive_files(root: Path, subjects: list[str],
                   detections: bool) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """``(subject, file)`` pairs of the 3D files and (with ``detections``) the Stacked Hourglass files, sorted
    within each subject; a subject without the folder is refused."""
    files_3d: list[tuple[str, Path]] = []
    files_2d: list[tuple[str, Path]] = []
    for s in subjects:
        d3 = root / s / _ARCHIVE_3D_DIR
        if not d3.is_dir():
            raise FileNotFoundError(f"{d3}: no 3D folder for subject {s}")
        files_3d += [(s, p) for p in sorted(d3.glob("*.h5"))]
        if detections:
            d2 = root / s / _ARCHIVE_SH_DIR
            if not d2.is_dir():
                raise FileNotFoundError(f"{d2}: no Stacked Hourglass folder for subject {s} (pass detections=False to skip 2D)")
            files_2d += [(s, p) for p in sorted(d2.glob("*.h5"))]
    return files_3d, files_2d


def _read_all_3d(files_3d: list[tuple[str, Path]], bar) -> dict[tuple[str, str], np.ndarray]:
    """``{(subject, action): (T, 17, 3)}`` world metres, one progress step per file."""
    poses3d: dict[tuple[str, str], np.ndarray] = {}
    for s, path in files_3d:
        with reading(path, "Human3.6M 3D HDF5"):
            poses3d[(s, path.stem)] = _read_archive_3d(path)
        bar.update()
    return poses3d


def _read_all_sh(files_2d: list[tuple[str, Path]], cameras: dict, poses3d: dict, notes: list[str], bar):
    """The Stacked Hourglass files matched to the 3D: ``(keypoints2d, no_3d, missing3d)``.

    ``keypoints2d``: ``{(subject, action, camera): (T, 16, 2)}`` float32 pixels, trimmed to the 3D's frames
    (a file shorter than its 3D is skipped); ``no_3d``: ``{(subject, action): [camera, ...]}`` of files without
    3D; ``missing3d``: their longest frame count. Files left out or trimmed are noted in ``notes``.
    """
    keypoints2d: dict[tuple[str, str, str], np.ndarray] = {}
    no_3d: dict[tuple[str, str], list[str]] = {}
    missing3d: dict[tuple[str, str], int] = {}
    for s, path in files_2d:
        bar.update()
        parsed = _parse_sh_name(path.name)
        if parsed is None:
            notes.append(f"{s}: ignored {path.name} (not named <Action>.<camera>.h5)")
            continue
        action, cam = parsed
        if (s, cam) not in cameras:
            notes.append(f"{s}: ignored {path.name} (camera {cam} is not in cameras.h5)")
            continue
        if (s, action) not in poses3d:
            no_3d.setdefault((s, action), []).append(cam)
            with reading(path, "Stacked Hourglass HDF5"), _open_h5(path) as h5:
                if "poses" in h5:
                    missing3d[(s, action)] = max(missing3d.get((s, action), 0), int(h5["poses"].shape[0]))
            continue
        kp = _read_sh_file(path)
        n3 = len(poses3d[(s, action)])
        if len(kp) > n3:
            notes.append(f"{s} {action!r} camera {cam}: 2D trimmed from {len(kp)} to the {n3} frames of 3D")
            kp = kp[:n3]
        elif len(kp) < n3:
            notes.append(f"{s} {action!r} camera {cam}: skipped, {len(kp)} frames of 2D but {n3} of 3D")
            continue
        keypoints2d[(s, action, cam)] = np.ascontiguousarray(kp, dtype=np.float32)
    return keypoints2d, no_3d, missing3d


def _read_sh_file(path: Path) -> np.ndarray:
    """``(T, 16, 2)`` pixels (``mpii16``) from one Stacked Hourglass file (dataset ``poses``), all finite."""
    with reading(path, "Stacked Hourglass HDF5"):
        with _open_h5(path) as h5:
            kp = _read_dataset(h5, "poses", path)
        if kp.ndim != 3 or kp.shape[1:] != (16, 2):
            raise FileFormatError(f"{path}: 'poses' must be (frames, 16, 2) Stacked Hourglass joints, "
                                  f"got shape {kp.shape}", path)
        _check_finite(kp, f"{path}: 'poses'", get_layout("mpii16"))
    return kp


def _read_archive_3d(path: Path) -> np.ndarray:
    """``(T, 17, 3)`` float32 world metres from one ``3D_positions`` file."""
    with _open_h5(path) as h5:
        a = _read_dataset(h5, "3D_positions", path)
    if a.ndim != 2 or a.shape[0] != 3 * NUM_MOCAP_JOINTS:
        raise FileFormatError(f"{path}: '3D_positions' must be (96, frames) = 32 joints x (x, y, z), got shape "
                              f"{a.shape}", path)
    if a.shape[1] == 0:
        raise FileFormatError(f"{path}: '3D_positions' has no frames", path)
    p32 = a.T.reshape(-1, NUM_MOCAP_JOINTS, 3)
    _check_finite(p32, f"{path}: '3D_positions' (32 mocap joints)")
    p = _reduce_to_17(p32, str(path)).astype(np.float64) / _MM
    return p.astype(np.float32)


def _missing_camera_notes(poses3d, keypoints2d, cameras, what: str) -> list[str]:
    notes = []
    for s, action in sorted(poses3d, key=lambda k: (subject_number(k[0]), k[1])):
        cams = sorted((c for ss, c in cameras if ss == s), key=_camera_order)
        missing = [c for c in cams if (s, action, c) not in keypoints2d]
        if missing:
            notes.append(f"{s} {action!r}: no {what} 2D for camera(s) {', '.join(missing)}")
    return notes
