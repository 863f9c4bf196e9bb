"""Reading VideoPose3D's Human3.6M npz files (data_3d_h36m.npz, data_2d_h36m_<name>.npz)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from poselift.core.errors import FileFormatError, InputError, reading
from poselift.core.io import load_npz
from poselift.core.layouts import get_layout
from poselift.detectors.formats.vp3d_npz import vp3d_layout
from poselift.datasets.h36m.archive import (
    _check_finite,
    _missing_camera_notes,
    _reduce_to_17,
    read_cameras,
)
from poselift.datasets.h36m.constants import (
    CAMERA_IDS,
    JOINTS_17,
    NUM_MOCAP_JOINTS,
    _sorted_subjects,
)
from poselift.datasets.h36m.data import H36MData


def _load_npz_objects(path: Path, keys: Sequence[str], allow_pickle: bool, optional: Sequence[str] = ()) -> dict:
    """Entries ``keys`` (and ``optional`` ones when present) of an npz whose entries are pickled objects.

    Read by :func:`poselift.core.io.load_npz`: pickles are refused, naming why, unless
    ``allow_pickle``, and declared sizes are checked before reading; 0-d object
    entries are returned as the object inside (VideoPose3D stores dicts that way).
    """
    out = load_npz(path, keys, optional=optional, allow_pickle=allow_pickle)
    return {k: a.item() if a.dtype == object and a.shape == () else a for k, a in out.items()}


def _infer_layout2d(num_joints: int, metadata: dict, path: Path,
                    given: str | None = None) -> tuple[str, np.ndarray | None]:
    """Layout name and optional joint index (to reduce 32 to 17) of npz 2D detections.

    32 joints are Human3.6M's full skeleton (reduced to its 17). Every other file is read by the one
    reader of VideoPose3D's layout metadata, :func:`poselift.detectors.formats.vp3d_npz.vp3d_layout`:
    a file that names nothing and whose left/right lists fit no layout is ambiguous and refused unless
    ``given`` (``layout2d=``) says; ``given`` contradicting the file is refused too.
    """
    if num_joints == NUM_MOCAP_JOINTS:
        if given is not None and get_layout(given).name != "h36m17":
            raise InputError(f"{path}: 32 joints are Human3.6M's skeleton (read as h36m17); layout2d={given!r}")
        return "h36m17", np.asarray(JOINTS_17)
    return vp3d_layout(metadata, num_joints, path, layout=given), None


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
    missing3d: dict[tuple[str, str], int] = {}
    layout = "mpii16"
    name = ""
    if keypoints_npz is not None:
        keypoints_npz = Path(keypoints_npz)
        with reading(keypoints_npz, "npz"):
            layout, name = _npz_2d(keypoints_npz, allow_pickle, subs, layout2d, keypoints_name, progress,
                                   cameras, poses3d, keypoints2d, notes, missing3d)
    return H36MData(
        cameras=cameras,
        poses3d=poses3d,
        keypoints2d=keypoints2d,
        layout2d=layout,
        keypoints_name=name,
        notes=notes,
        missing3d=missing3d,
        source=str(poses3d_npz) + (f" + {keypoints_npz}" if keypoints_npz is not None else ""),
    )


def _npz_2d(keypoints_npz, allow_pickle, subs, layout2d, keypoints_name, progress, cameras, poses3d,
            keypoints2d, notes, missing3d) -> tuple[str, str]:
    from tqdm.auto import tqdm

    entries = _load_npz_objects(keypoints_npz, ["positions_2d"], allow_pickle, optional=["metadata"])
    raw2d = entries["positions_2d"]
    meta = entries.get("metadata", {})
    if not isinstance(raw2d, dict):
        raise FileFormatError(f"{keypoints_npz}: 'positions_2d' must be a dict subject -> action -> [4 arrays]", keypoints_npz)
    m = re.fullmatch(r"data_2d_h36m_(.+)\.npz", keypoints_npz.name)
    name = keypoints_name or (m.group(1) if m else keypoints_npz.stem)
    index = None
    layout = None
    trimmed = 0
    for s in tqdm([s for s in subs if s in raw2d], desc="reading 2D", unit="subject", disable=not progress):
        for action, per_cam in raw2d[s].items():
            action = str(action)
            what = f"{keypoints_npz}: {s} {action!r}"
            if (s, action) not in poses3d:
                notes.append(f"{s} {action!r}: 2D ({name}) but no 3D; left out")
                if isinstance(per_cam, (list, tuple)) and per_cam and per_cam[0] is not None:
                    missing3d[(s, action)] = int(len(per_cam[0]))
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
                    layout, index = _infer_layout2d(kp.shape[1], meta if isinstance(meta, dict) else {}, keypoints_npz,
                                                    layout2d)
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
