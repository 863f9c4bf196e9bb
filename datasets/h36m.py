"""Human3.6M: readers for the "h36m" archive layout and VideoPose3D's npz files.

Everything lands in one plain container, :class:`H36MData`:

* ``cameras[(subject, camera_id)]``: :class:`poselift.core.camera.Camera` with
  ``R`` world-to-camera (the stored ``R`` of ``cameras.h5`` is transposed;
  this module fixes it), ``T`` the camera centre in world metres, the
  Human3.6M distortion and the image size of that camera id;
* ``poses3d[(subject, action)]``: ``(T, 17, 3)`` float32 world coordinates in
  metres, the standard 17 of the 32 mocap joints (:data:`JOINTS_17`), in the
  ``h36m17`` layout;
* ``keypoints2d[(subject, action, camera_id)]``: ``(T, J, 2)`` float32 2D
  detections in pixels (the Stacked Hourglass detections of the archive:
  ``J = 16``, layout ``mpii16``).

:func:`sequences` turns it into :class:`poselift.core.sequence.PoseSequence`
objects (one per subject, action and camera) with 3D in camera coordinates
and either ground-truth 2D (the 3D projected through the camera, with lens
distortion) or the detections. :func:`load` reads either a prepared cache
(:mod:`poselift.datasets.cache`, fast) or an archive folder (slower).

Actions are named after the 3D files without ``.h5`` (``"Walking 1"``); the
Stacked Hourglass files write ``_`` for the space (``Walking_1.54138969.h5``).

The data is licensed for academic research only: read it from where the user
keeps it, never copy it (or anything derived from it) into a repository.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from poselift.core.camera import Camera
from poselift.core.errors import FileFormatError, InputError, UnsafePickleWarning, check_finite, reading
from poselift.core.layouts import get_layout
from poselift.core.sequence import PoseSequence

__all__ = [
    "SUBJECTS",
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "CAMERA_IDS",
    "IMAGE_SIZES",
    "JOINTS_17",
    "NUM_MOCAP_JOINTS",
    "FPS",
    "SH_KEYPOINTS",
    "MISSING_NOTE",
    "H36MData",
    "UnsafePickleWarning",
    "read_cameras",
    "read_archive",
    "read_npz",
    "sequences",
    "load",
    "subject_number",
]

SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")

CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four camera ids, in the order of ``cameras.h5`` (``camera1..4``) and of
the per-camera lists in VideoPose3D's 2D npz files."""

IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
"""``(width, height)`` in pixels of each camera's video."""

JOINTS_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the standard 17 evaluation joints among the 32 mocap joints, in
the ``h36m17`` order (pelvis, right leg, left leg, spine, thorax, neck/nose,
head, left arm, right arm)."""

NUM_MOCAP_JOINTS = 32
FPS = 50.0

SH_KEYPOINTS = "sh_pt_mpii"
"""Name of the archive's 2D detections: Stacked Hourglass pretrained on MPII
(the name VideoPose3D gives the same detections)."""

MISSING_NOTE = (
    "S9 'Discussion 1' has no 3D in this copy of Human3.6M: S9+S11 results cover 59 of the "
    "60 standard test sequences."
)
"""One line to print next to any S9+S11 number compared with published ones."""

_ARCHIVE_3D_DIR = Path("MyPoses") / "3D_positions"
_ARCHIVE_SH_DIR = Path("StackedHourglass")
_MM = 1000.0


def subject_number(subject: str) -> int:
    """``"S11" -> 11``; raises :class:`~poselift.core.errors.InputError` for anything not shaped ``S<number>``."""
    m = re.fullmatch(r"S(\d+)", subject) if isinstance(subject, str) else None
    if not m:
        raise InputError(f"subject names look like 'S9', got {subject!r}")
    return int(m.group(1))


def _sorted_subjects(subjects: Iterable[str]) -> list[str]:
    return sorted(set(subjects), key=subject_number)


def _camera_order(cam_id: str) -> tuple[int, str]:
    return (CAMERA_IDS.index(cam_id), cam_id) if cam_id in CAMERA_IDS else (len(CAMERA_IDS), cam_id)


# -- the container -------------------------------------------------------------


@dataclass
class H36MData:
    """Human3.6M poses, cameras and 2D detections, keyed by subject/action/camera.

    Attributes:
        cameras: ``{(subject, camera_id): Camera}``; ``R`` world-to-camera,
            ``T`` camera centre in world metres, pixels for ``f`` and ``c``.
        poses3d: ``{(subject, action): (T, 17, 3)}`` float32 world
            coordinates in metres, layout ``h36m17``.
        keypoints2d: ``{(subject, action, camera_id): (T, J, 2)}`` float32 2D
            detections in pixels; every key has a ``poses3d`` entry with the
            same ``T``.
        layout2d: joint layout of ``keypoints2d`` (``"mpii16"`` for the
            Stacked Hourglass detections).
        keypoints_name: what the detections are (``"sh_pt_mpii"``, or the
            ``<name>`` of a ``data_2d_h36m_<name>.npz``); ``""`` when there are none.
        notes: one line per thing left out or adjusted while reading.
        source: where the data was read from.
    """

    cameras: dict[tuple[str, str], Camera]
    poses3d: dict[tuple[str, str], np.ndarray]
    keypoints2d: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    layout2d: str = "mpii16"
    keypoints_name: str = SH_KEYPOINTS
    notes: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def sh2d(self) -> dict[tuple[str, str, str], np.ndarray]:
        """The 2D detections (alias of :attr:`keypoints2d`)."""
        return self.keypoints2d

    @property
    def subjects(self) -> list[str]:
        """Subjects with 3D, in numeric order (``S1, S5, ..., S11``)."""
        return _sorted_subjects(s for s, _ in self.poses3d)

    def actions(self, subject: str) -> list[str]:
        """Actions of ``subject`` that have 3D, sorted by name."""
        return sorted(a for s, a in self.poses3d if s == subject)

    def camera_ids(self, subject: str) -> list[str]:
        """Camera ids calibrated for ``subject``, in :data:`CAMERA_IDS` order."""
        return sorted((c for s, c in self.cameras if s == subject), key=_camera_order)

    def num_frames(self, subject: str | None = None) -> int:
        """Frames of 3D of ``subject`` (all subjects when ``None``)."""
        return int(sum(len(p) for (s, _), p in self.poses3d.items() if subject is None or s == subject))

    def subset(self, subjects: Iterable[str]) -> "H36MData":
        """A shallow copy restricted to ``subjects`` (arrays are shared, not copied)."""
        keep = set(subjects)
        return H36MData(
            cameras={k: v for k, v in self.cameras.items() if k[0] in keep},
            poses3d={k: v for k, v in self.poses3d.items() if k[0] in keep},
            keypoints2d={k: v for k, v in self.keypoints2d.items() if k[0] in keep},
            layout2d=self.layout2d,
            keypoints_name=self.keypoints_name,
            notes=list(self.notes),
            source=self.source,
        )

    def summary(self) -> str:
        """A few lines: frames per subject, sequences, detections, notes."""
        lines = [f"Human3.6M from {self.source or '(memory)'}"]
        for s in self.subjects:
            n2d = sum(1 for k in self.keypoints2d if k[0] == s)
            lines.append(
                f"  {s:>3}: {len(self.actions(s)):2d} actions, {self.num_frames(s):7,d} frames of 3D, "
                f"{len(self.camera_ids(s))} cameras, {n2d} 2D sequences"
            )
        lines.append(
            f"  total: {self.num_frames():,d} frames of 3D, {len(self.poses3d)} sequences, "
            f"2D: {self.keypoints_name or 'none'} ({self.layout2d}, {len(self.keypoints2d)} sequences)"
        )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# -- small checked readers -------------------------------------------------------


def _h5py():
    import h5py

    return h5py


def _open_h5(path: Path):
    """Open ``path`` read-only; clear errors for a missing or unreadable file."""
    h5py = _h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise FileFormatError(f"{path}: corrupt or not an HDF5 file ({e})", path) from None


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


# -- the "h36m" archive layout --------------------------------------------------------


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

    notes: list[str] = []
    poses3d: dict[tuple[str, str], np.ndarray] = {}
    bar = tqdm(total=len(files_3d) + len(files_2d), desc="reading Human3.6M", unit="file", disable=not progress)
    with bar:
        for s, path in files_3d:
            with reading(path, "Human3.6M 3D HDF5"):
                poses3d[(s, path.stem)] = _read_archive_3d(path)
            bar.update()

        keypoints2d: dict[tuple[str, str, str], np.ndarray] = {}
        no_3d: dict[tuple[str, str], list[str]] = {}
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
                continue
            with reading(path, "Stacked Hourglass HDF5"):
                with _open_h5(path) as h5:
                    kp = _read_dataset(h5, "poses", path)
                if kp.ndim != 3 or kp.shape[1:] != (16, 2):
                    raise FileFormatError(f"{path}: 'poses' must be (frames, 16, 2) Stacked Hourglass joints, "
                                          f"got shape {kp.shape}", path)
                _check_finite(kp, f"{path}: 'poses'", get_layout("mpii16"))
            n3 = len(poses3d[(s, action)])
            if len(kp) > n3:
                notes.append(f"{s} {action!r} camera {cam}: 2D trimmed from {len(kp)} to the {n3} frames of 3D")
                kp = kp[:n3]
            elif len(kp) < n3:
                notes.append(f"{s} {action!r} camera {cam}: skipped, {len(kp)} frames of 2D but {n3} of 3D")
                continue
            keypoints2d[(s, action, cam)] = np.ascontiguousarray(kp, dtype=np.float32)

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
        source=str(root),
    )


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


# -- VideoPose3D npz files ---------------------------------------------------------------


def _load_npz_objects(path: Path, keys: Sequence[str], allow_pickle: bool, optional: Sequence[str] = ()) -> dict:
    """Entries ``keys`` (and ``optional`` ones when present) of an npz whose entries are pickled objects.

    Without ``allow_pickle`` numpy refuses object arrays before unpickling
    anything; that refusal is turned into an error that says why.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if allow_pickle:
        warnings.warn(
            f"{path}: unpickling Python objects; a pickle can run arbitrary code, so only load files you trust",
            UnsafePickleWarning,
            stacklevel=3,
        )
    try:
        npz = np.load(path, allow_pickle=allow_pickle)
    except MemoryError:  # out of memory, or numpy refusing a huge declared array: not masked here
        raise
    except Exception as e:  # noqa: BLE001 - OSError, ValueError, EOFError, zipfile.BadZipFile, ...
        raise FileFormatError(f"{path}: not a readable npz file, corrupt or truncated ({type(e).__name__}: {e})",
                              path) from None
    if not hasattr(npz, "files"):
        raise FileFormatError(f"{path}: a single .npy array, not an npz archive", path)
    out = {}
    with npz:
        for key in [*keys, *[k for k in optional if k in npz.files]]:
            if key not in npz.files:
                raise FileFormatError(f"{path}: no entry {key!r} (found {npz.files})", path)
            try:
                arr = npz[key]
            except ValueError as e:
                if not allow_pickle and "allow_pickle" in str(e):
                    raise FileFormatError(
                        f"{path}: {key!r} is stored as a pickled Python object (VideoPose3D writes dicts "
                        "into its npz files). Unpickling can run arbitrary code, so it is refused by default; "
                        "if you trust this file, pass allow_pickle=True (--allow-pickle on the command line).",
                        path,
                    ) from None
                raise FileFormatError(f"{path}: cannot read {key!r} ({e})", path) from None
            except MemoryError:  # out of memory, or numpy refusing a huge declared array: not masked here
                raise
            except Exception as e:  # noqa: BLE001 - truncated zip member, bad pickle, ...
                raise FileFormatError(f"{path}: cannot read {key!r}, the file looks corrupt "
                                      f"({type(e).__name__}: {e})", path) from None
            out[key] = arr.item() if arr.dtype == object and arr.shape == () else arr
    return out


def _infer_layout2d(num_joints: int, metadata: dict, path: Path) -> tuple[str, np.ndarray | None]:
    """Layout name and optional joint index (to reduce 32 to 17) of npz 2D detections."""
    name = str(metadata.get("layout_name", "")).lower()
    if num_joints == NUM_MOCAP_JOINTS:
        return "h36m17", np.asarray(JOINTS_17)
    if num_joints == 17 and name in ("h36m", ""):
        return "h36m17", None
    if num_joints == 17 and name == "coco":
        return "coco17", None
    if num_joints == 16 and name in ("", "mpii", "sh", "mpii16"):
        return "mpii16", None  # VideoPose3D keeps the Stacked Hourglass joint order
    raise FileFormatError(
        f"{path}: cannot tell the joint layout of {num_joints} joints with metadata layout_name "
        f"{metadata.get('layout_name')!r}; pass layout2d= explicitly",
        path,
    )


def read_npz(
    poses3d_npz: str | Path,
    cameras_h5: str | Path,
    keypoints_npz: str | Path | None = None,
    *,
    allow_pickle: bool = False,
    subjects: Iterable[str] | None = None,
    layout2d: str | None = None,
    keypoints_name: str | None = None,
    progress: bool = False,
) -> H36MData:
    """Read VideoPose3D's ``data_3d_h36m.npz`` (and a ``data_2d_h36m_<name>.npz``).

    ``positions_3d`` is a pickled dict ``subject -> action -> (T, 32, 3)``
    world coordinates in metres (reduced here to the 17 joints);
    ``positions_2d`` is ``subject -> action -> [4 arrays (T, J, 2)]`` in
    pixels, one per camera in :data:`CAMERA_IDS` order, with a ``metadata``
    dict (``layout_name``, ``num_joints``, ``keypoints_symmetry``). The npz
    files carry no cameras: they come from ``cameras_h5``.

    2D longer than the 3D is trimmed to it (VideoPose3D does the same; some
    videos have extra frames); shorter 2D, and 2D without 3D, is left out.
    Everything adjusted or left out is listed in :attr:`H36MData.notes`.

    Args:
        poses3d_npz: ``data_3d_h36m.npz``.
        cameras_h5: the archive's ``cameras.h5``.
        keypoints_npz: optional ``data_2d_h36m_<name>.npz`` detections.
        allow_pickle: the npz entries are pickled Python objects, and
            unpickling can run code: without this flag the reader refuses
            with a :class:`~poselift.core.errors.FileFormatError` (a ``ValueError``);
            with it, it warns (:class:`UnsafePickleWarning`).
        subjects: subjects to keep (all when ``None``).
        layout2d: joint layout of the 2D when the metadata does not tell
            (inferred: 16 joints -> ``mpii16``, 17 ``h36m`` -> ``h36m17``,
            17 ``coco`` -> ``coco17``, 32 -> reduced to ``h36m17``).
        keypoints_name: name of the detections (default: ``<name>`` from the file name).
        progress: show a progress bar.

    Returns:
        :class:`H36MData` (3D ``(T, 17, 3)`` world metres, 2D ``(T, J, 2)`` pixels).
    """
    poses3d_npz, cameras_h5 = Path(poses3d_npz), Path(cameras_h5)
    want = None if subjects is None else set(subjects)
    with reading(poses3d_npz, "npz"):
        raw3d = _load_npz_objects(poses3d_npz, ["positions_3d"], allow_pickle)["positions_3d"]
        if not isinstance(raw3d, dict):
            raise FileFormatError(f"{poses3d_npz}: 'positions_3d' must be a dict subject -> action -> (T, 32, 3), "
                                  f"got {type(raw3d).__name__}", poses3d_npz)
        subs = _sorted_subjects(s for s in raw3d if want is None or s in want)
    if want is not None and set(want) - set(subs):
        raise InputError(f"{poses3d_npz}: no 3D for subject(s) {_sorted_subjects(set(want) - set(subs))}")
    cameras = read_cameras(cameras_h5, subs)

    notes: list[str] = []
    poses3d: dict[tuple[str, str], np.ndarray] = {}
    with reading(poses3d_npz, "npz"):
        _npz_3d(poses3d_npz, raw3d, subs, poses3d, progress)
    return _read_npz_2d(poses3d_npz, keypoints_npz, allow_pickle, subs, layout2d, keypoints_name, progress,
                        cameras, poses3d, notes)


def _npz_3d(poses3d_npz: Path, raw3d: dict, subs: list[str], poses3d: dict, progress: bool) -> None:
    from tqdm.auto import tqdm

    for s in tqdm(subs, desc="reading 3D", unit="subject", disable=not progress):
        if not isinstance(raw3d[s], dict):
            raise InputError(f"{poses3d_npz}: positions_3d[{s!r}] must be a dict action -> array")
        for action, arr in raw3d[s].items():
            what = f"{poses3d_npz}: {s} {action!r}"
            a = np.asarray(arr)
            if a.dtype.kind not in "biuf" or a.ndim != 3 or a.shape[-1] != 3 or a.shape[1] not in (NUM_MOCAP_JOINTS, 17):
                raise InputError(f"{what}: expected (frames, 32, 3) mocap joints, got shape {a.shape}")
            if len(a) == 0:
                raise InputError(f"{what}: no frames")
            _check_finite(a, what)
            if np.median(np.abs(a)) > 50:
                raise InputError(f"{what}: coordinates look like millimetres (median |x| = {np.median(np.abs(a)):.0f}); expected metres")
            p = _reduce_to_17(a, what) if a.shape[1] == NUM_MOCAP_JOINTS else a
            poses3d[(s, str(action))] = np.ascontiguousarray(p, dtype=np.float32)


def _read_npz_2d(poses3d_npz, keypoints_npz, allow_pickle, subs, layout2d, keypoints_name, progress, cameras,
                 poses3d, notes) -> H36MData:
    keypoints2d: dict[tuple[str, str, str], np.ndarray] = {}
    layout = "mpii16"
    name = ""
    if keypoints_npz is not None:
        keypoints_npz = Path(keypoints_npz)
        with reading(keypoints_npz, "npz"):
            layout, name = _npz_2d(keypoints_npz, allow_pickle, subs, layout2d, keypoints_name, progress,
                                   cameras, poses3d, keypoints2d, notes)
    return H36MData(
        cameras=cameras,
        poses3d=poses3d,
        keypoints2d=keypoints2d,
        layout2d=layout,
        keypoints_name=name,
        notes=notes,
        source=str(poses3d_npz) + (f" + {keypoints_npz}" if keypoints_npz is not None else ""),
    )


def _npz_2d(keypoints_npz, allow_pickle, subs, layout2d, keypoints_name, progress, cameras, poses3d,
            keypoints2d, notes) -> tuple[str, str]:
    from tqdm.auto import tqdm

    entries = _load_npz_objects(keypoints_npz, ["positions_2d"], allow_pickle, optional=["metadata"])
    raw2d = entries["positions_2d"]
    meta = entries.get("metadata", {})
    if not isinstance(raw2d, dict):
        raise FileFormatError(f"{keypoints_npz}: 'positions_2d' must be a dict subject -> action -> [4 arrays]", keypoints_npz)
    m = re.fullmatch(r"data_2d_h36m_(.+)\.npz", keypoints_npz.name)
    name = keypoints_name or (m.group(1) if m else keypoints_npz.stem)
    index = None
    layout = None if layout2d is None else get_layout(layout2d).name
    trimmed = 0
    for s in tqdm([s for s in subs if s in raw2d], desc="reading 2D", unit="subject", disable=not progress):
        for action, per_cam in raw2d[s].items():
            action = str(action)
            what = f"{keypoints_npz}: {s} {action!r}"
            if (s, action) not in poses3d:
                notes.append(f"{s} {action!r}: 2D ({name}) but no 3D; left out")
                continue
            if not isinstance(per_cam, (list, tuple)) or len(per_cam) != len(CAMERA_IDS):
                raise InputError(f"{what}: expected a list of {len(CAMERA_IDS)} per-camera arrays")
            n3 = len(poses3d[(s, action)])
            for cam, kp in zip(CAMERA_IDS, per_cam):
                if kp is None:
                    continue
                kp = np.asarray(kp)
                if kp.dtype.kind not in "biuf" or kp.ndim != 3 or kp.shape[-1] < 2:
                    raise InputError(f"{what} camera {cam}: expected (frames, joints, 2), got shape {kp.shape}")
                kp = kp[..., :2]
                if layout is None:
                    layout, index = _infer_layout2d(kp.shape[1], meta if isinstance(meta, dict) else {}, keypoints_npz)
                if index is not None:
                    kp = _reduce_to_17(kp, f"{what} camera {cam}")
                get_layout(layout).check(kp, f"{what} camera {cam}")
                _check_finite(kp, f"{what} camera {cam}", get_layout(layout))
                if len(kp) > n3:
                    trimmed += 1
                    kp = kp[:n3]
                elif len(kp) < n3:
                    notes.append(f"{s} {action!r} camera {cam}: skipped, {len(kp)} frames of 2D but {n3} of 3D")
                    continue
                keypoints2d[(s, action, cam)] = np.ascontiguousarray(kp, dtype=np.float32)
    if trimmed:
        notes.append(f"{name}: 2D trimmed to the length of the 3D in {trimmed} sequence(s) (extra video frames)")
    notes += _missing_camera_notes(poses3d, keypoints2d, cameras, name)
    layout = layout or "mpii16"
    return layout, name


# -- sequences -----------------------------------------------------------------------------


def sequences(
    data: H36MData,
    subjects: str | Iterable[str] | None = None,
    keypoints: str = "gt",
    cameras: Iterable[str] | None = None,
    *,
    actions: Iterable[str] | None = None,
    skipped: list[str] | None = None,
) -> list[PoseSequence]:
    """One :class:`PoseSequence` per (subject, action, camera).

    Order: subjects as given (numeric order when ``None``), actions sorted
    by name, cameras in :data:`CAMERA_IDS` order (or as given).

    Each sequence has ``poses3d`` ``(T, 17, 3)`` in camera coordinates
    (metres, absolute: the root carries the trajectory; layout ``h36m17``),
    ``camera`` set, ``fps = 50`` and ``subject``/``action`` labels, and
    ``keypoints`` in pixels:

    * ``"gt"``: the 3D projected through the camera with the Human3.6M lens
      distortion, ``(T, 17, 2)``, layout ``h36m17``;
    * ``"sh"`` (or ``"detections"``, or the stored :attr:`H36MData.keypoints_name`):
      the stored 2D detections ``(T, J, 2)`` in :attr:`H36MData.layout2d`
      (``mpii16`` for the Stacked Hourglass). Sequences without detections
      for a camera (S11 Directions, camera 54138969) are skipped.

    Args:
        data: what :func:`load`, :func:`read_archive` or :func:`read_npz` returned.
        subjects: a subject, a list of them, or ``None`` for all.
        keypoints: ``"gt"`` or ``"sh"`` / ``"detections"``.
        cameras: camera ids to use (default: all four).
        actions: restrict to these actions (default: all with 3D).
        skipped: if given, one line per skipped sequence is appended to it.

    Returns:
        The sequences; ``meta`` holds ``camera_id``, ``keypoints`` (name of
        the 2D) and ``source``.
    """
    if isinstance(subjects, str):
        subjects = [subjects]
    subjects = data.subjects if subjects is None else list(subjects)
    unknown = [s for s in subjects if s not in set(data.subjects)]
    if unknown:
        raise InputError(f"no 3D for subject(s) {unknown}; available: {data.subjects}")
    if keypoints == "gt":
        use_gt = True
    elif keypoints in ("sh", "detections", "det") or (data.keypoints_name and keypoints == data.keypoints_name):
        use_gt = False
        if not data.keypoints2d:
            raise InputError(f"keypoints={keypoints!r}: this data holds no 2D detections (source {data.source})")
        if keypoints == "sh" and not data.keypoints_name.startswith("sh"):
            raise InputError(
                f"keypoints='sh': the stored detections are {data.keypoints_name!r}, not Stacked Hourglass; "
                f"use keypoints='detections' or {data.keypoints_name!r}"
            )
    else:
        raise InputError(f"keypoints must be 'gt' or 'sh'/'detections' (stored: {data.keypoints_name!r}), got {keypoints!r}")
    cams_wanted = None if cameras is None else [str(c) for c in cameras]
    if cams_wanted is not None:
        bad = [c for c in cams_wanted if c not in CAMERA_IDS]
        if bad:
            raise InputError(f"unknown camera id(s) {bad}; known: {list(CAMERA_IDS)}")
    action_filter = None if actions is None else set(actions)
    name = "gt" if use_gt else data.keypoints_name
    out: list[PoseSequence] = []
    for s in subjects:
        cams = data.camera_ids(s) if cams_wanted is None else cams_wanted
        acts = [a for a in data.actions(s) if action_filter is None or a in action_filter]
        if not acts:
            continue
        # One transform (and projection) per subject and camera over all of its frames:
        # few large vectorised calls, then views split per action. float32 throughout
        # (within ~1e-4 px and ~1e-3 mm of float64).
        X = np.concatenate([data.poses3d[(s, a)] for a in acts])
        cuts = np.cumsum([len(data.poses3d[(s, a)]) for a in acts])[:-1]
        per_cam: dict[str, tuple[list[np.ndarray], list[np.ndarray] | None]] = {}
        for cam_id in cams:
            cam = data.cameras.get((s, cam_id))
            if cam is None:
                raise InputError(f"{s}: no calibration for camera {cam_id}")
            X_cam = cam.world_to_camera(X)
            kp = cam.project(X_cam) if use_gt else None
            per_cam[cam_id] = (np.split(X_cam, cuts), None if kp is None else np.split(kp, cuts))
        for i, action in enumerate(acts):
            for cam_id in cams:
                X_cams, kps = per_cam[cam_id]
                if use_gt:
                    kp, layout = kps[i], "h36m17"
                else:
                    kp, layout = data.keypoints2d.get((s, action, cam_id)), data.layout2d
                    if kp is None:
                        if skipped is not None:
                            skipped.append(f"{s} {action!r} camera {cam_id}: no {name} 2D; skipped")
                        continue
                out.append(
                    PoseSequence(
                        keypoints=kp,
                        layout=layout,
                        poses3d=X_cams[i],
                        layout3d="h36m17",
                        camera=data.cameras[(s, cam_id)],
                        fps=FPS,
                        subject=s,
                        action=action,
                        meta={"camera_id": cam_id, "keypoints": name, "source": data.source},
                    )
                )
    return out


# -- one entry point for configs -----------------------------------------------------------


def load(
    path: str | Path,
    subjects: Iterable[str] | None = None,
    *,
    progress: bool = False,
) -> H36MData:
    """Load Human3.6M from a prepared cache file or an archive folder.

    A cache (:func:`poselift.datasets.cache.prepare_cache`) loads in about a
    second; an archive folder is read file by file (a few seconds more).
    VideoPose3D npz files need :func:`read_npz` (they hold pickles and carry
    no cameras) or a cache prepared from them.

    Args:
        path: cache file (``.h5``) or the archive folder.
        subjects: keep only these subjects (all when ``None``).
        progress: progress bar while reading an archive.
    """
    path = Path(path)
    if path.is_dir():
        return read_archive(path, subjects, progress=progress)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder (expected a Human3.6M cache file or archive folder)")
    if path.suffix == ".npz":
        raise InputError(
            f"{path}: VideoPose3D npz files carry no cameras and hold pickles; read them with "
            "poselift.datasets.h36m.read_npz(..., cameras_h5=..., allow_pickle=True) or prepare a cache "
            "first: poselift prepare h36m --format npz --source ... --cameras ... --allow-pickle"
        )
    from poselift.datasets.cache import load_cache

    data = load_cache(path)
    return data if subjects is None else data.subset(subjects)
