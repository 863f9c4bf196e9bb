"""Any dataset in VideoPose3D's npz format: 3D in world coordinates, 2D per camera, cameras.

VideoPose3D stores a dataset as two npz files (one is enough when it holds both)::

    data_3d_<name>.npz   positions_3d: {subject: {take: (T, J, 3) world coordinates, metres}}
    data_2d_<name>_<kp>.npz
                         positions_2d: {subject: {take: [(T, J, 2) pixels, one per camera]}}
                         metadata:     {"layout_name": ..., "num_joints": J,
                                        "keypoints_symmetry": [[left joints], [right joints]]}

Both hold pickled dicts (``allow_pickle`` must be given explicitly: a pickle
can run code). The cameras are not in VideoPose3D's files; they come from an
optional ``cameras`` entry of either npz or from a small cameras file (JSON
or YAML)::

    units: mm                    # of the translations (m or mm; default m)
    cameras:
      S1:                        # a subject, or its last path part ("S1" serves "Train/S1", "Validate/S1")
        - id: C1                 # one entry per camera, in the order of positions_2d's lists
          width: 640             # image size in pixels (needed to normalise the 2D)
          height: 480
          orientation: [w, x, y, z]    # the camera's rotation in world coordinates (VideoPose3D's quaternion)
          # or R: [[...], [...], [...]] world-to-camera rotation (X_cam = R (X - translation))
          translation: [x, y, z]       # the camera centre in world coordinates
          f: [fx, fy]            # intrinsics, optional (pixels); without them no ground-truth 2D
          c: [cx, cy]            #   projection and no reprojection losses
          k: [k1, k2, k3]        # optional radial, Human3.6M model
          p: [p1, p2]            # optional tangential, Human3.6M model (cameras.h5 order)

:func:`read_mocap_archive` reads it all into a :class:`MocapArchive`;
:meth:`MocapArchive.sequences` makes one :class:`~poselift.core.sequence.PoseSequence`
per subject, take and camera, with 3D in camera coordinates and 2D either from
the archive (``keypoints="archive"``) or projected through the intrinsics
(``"gt"``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from poselift.core.camera import Camera, rotation_from_quaternion
from poselift.core.errors import FileFormatError, InputError, LayoutError, check_finite, reading
from poselift.core.sequence import PoseSequence
from poselift.datasets.h36m.npz import _load_npz_objects
from poselift.detectors.formats.vp3d_npz import vp3d_layout

__all__ = ["CameraSpec", "MocapArchive", "read_mocap_archive", "read_cameras_file", "layout_from_metadata"]

@dataclass
class CameraSpec:
    """One camera of a subject: extrinsics always, intrinsics when known.

    Attributes:
        name: identifier.
        width, height: image size in pixels.
        R: ``(3, 3)`` world-to-camera rotation; T: ``(3,)`` camera centre, metres.
        intrinsics: ``{"f", "c", "k", "p"}`` in pixels, or ``None``.
    """

    name: str
    width: int
    height: int
    R: np.ndarray
    T: np.ndarray
    intrinsics: dict | None = None

    def camera(self) -> Camera | None:
        """A :class:`~poselift.core.camera.Camera` when the intrinsics are known, else ``None``."""
        if self.intrinsics is None:
            return None
        return Camera(R=self.R, T=self.T, width=self.width, height=self.height, name=self.name, **self.intrinsics)


def _camera_spec(d: Any, units: float, where: str) -> CameraSpec:
    if not isinstance(d, Mapping):
        raise InputError(f"{where}: a camera is a mapping, got {type(d).__name__}")
    known = {"id", "name", "width", "height", "res_w", "res_h", "orientation", "R", "translation", "f", "c", "k", "p",
             "focal_length", "center", "radial_distortion", "tangential_distortion", "azimuth"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"{where}: unknown camera key(s) {unknown}; allowed: {sorted(known)}")
    name = str(d.get("id", d.get("name", "")))
    width, height = d.get("width", d.get("res_w")), d.get("height", d.get("res_h"))
    if width is None or height is None:
        raise InputError(f"{where}: camera {name!r} needs width and height (pixels)")
    if ("orientation" in d) == ("R" in d):
        raise InputError(f"{where}: camera {name!r} needs exactly one of orientation (quaternion w, x, y, z) or R")
    try:
        R = rotation_from_quaternion(d["orientation"]).T if "orientation" in d else np.asarray(d["R"], float)
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: camera {name!r}: {e}") from None
    if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
        raise InputError(f"{where}: camera {name!r}: R is not a rotation matrix")
    if "translation" not in d:
        raise InputError(f"{where}: camera {name!r} needs a translation (the camera centre in world coordinates)")
    T = np.asarray(d["translation"], float).reshape(-1) * units
    if T.shape != (3,) or not np.isfinite(T).all():
        raise InputError(f"{where}: camera {name!r}: translation must be 3 finite numbers")
    f = d.get("f", d.get("focal_length"))
    intr = None
    if f is not None:
        intr = {"f": f, "c": d.get("c", d.get("center")), "k": d.get("k", d.get("radial_distortion", (0, 0, 0))),
                "p": d.get("p", d.get("tangential_distortion", (0, 0)))}
        if intr["c"] is None:
            raise InputError(f"{where}: camera {name!r} has a focal length but no principal point c")
    spec = CameraSpec(name, int(width), int(height), R, T, intr)
    spec.camera()  # validates the intrinsics
    return spec


def _camera_table(doc: Any, where: str) -> dict[str, list[CameraSpec]]:
    if not isinstance(doc, Mapping) or "cameras" not in doc:
        raise InputError(f"{where}: expected a mapping with 'cameras' (and optionally 'units')")
    units_name = str(doc.get("units", "m"))
    if units_name not in ("m", "mm"):
        raise InputError(f"{where}: units must be 'm' or 'mm', got {units_name!r}")
    units = 1.0 if units_name == "m" else 1e-3
    table = doc["cameras"]
    if not isinstance(table, Mapping):
        raise InputError(f"{where}: 'cameras' must map subjects to lists of cameras")
    out = {}
    for subject, cams in table.items():
        if not isinstance(cams, (list, tuple)) or not cams:
            raise InputError(f"{where}: cameras of {subject!r} must be a non-empty list")
        out[str(subject)] = [_camera_spec(c, units, f"{where}: {subject}[{i}]") for i, c in enumerate(cams)]
    return out


def read_cameras_file(path: str | os.PathLike) -> dict[str, list[CameraSpec]]:
    """A cameras file (JSON or YAML; see the module docstring) as ``{subject: [CameraSpec, ...]}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such cameras file: {path}")
    with reading(path, "cameras"):
        if path.suffix.lower() == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
        else:
            from poselift.core.io import read_yaml

            doc = read_yaml(path)
        return _camera_table(doc, str(path))


def layout_from_metadata(metadata: Any, num_joints: int, given: str | None, where: str) -> str:
    """The joint layout of an archive: its metadata's ``layout_name`` (VideoPose3D's names or poselift's), checked
    against the joint count and the left/right lists, or ``given`` (the config's ``data.layout``) when the file
    does not say; both given and different is an error
    (:func:`poselift.detectors.formats.vp3d_npz.vp3d_layout`, the one reader of that metadata)."""
    meta = dict(metadata) if isinstance(metadata, Mapping) else {}
    try:
        return vp3d_layout(meta, num_joints, Path(where), layout=given)
    except LayoutError as e:
        raise InputError(f"{where}: {e}") from None


@dataclass
class MocapArchive:
    """A VideoPose3D-format dataset in memory.

    Attributes:
        poses3d: ``{subject: {take: (T, J, 3)}}`` world coordinates, metres.
        keypoints2d: ``{subject: {take: [(T_c, J, 2) per camera]}}`` pixels (may be empty).
        cameras: ``{subject: [CameraSpec, ...]}`` (may be empty).
        layout: joint layout name of both.
        fps: frames per second.
        source: where it was read from.
        notes: what was adjusted or left out while reading.
    """

    poses3d: dict[str, dict[str, np.ndarray]]
    keypoints2d: dict[str, dict[str, list[np.ndarray]]]
    cameras: dict[str, list[CameraSpec]]
    layout: str
    fps: float
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return sorted(self.poses3d)

    def cameras_of(self, subject: str) -> list[CameraSpec] | None:
        """The subject's cameras: an exact entry, else the entry of its last path part (``Train/S1`` -> ``S1``)."""
        if subject in self.cameras:
            return self.cameras[subject]
        return self.cameras.get(subject.rsplit("/", 1)[-1])

    def sequences(self, subjects: Iterable[str], keypoints: str = "archive", keep=None) -> list[PoseSequence]:
        """One :class:`PoseSequence` per subject, take and camera (3D in camera coordinates, metres).

        Args:
            subjects: which subjects.
            keypoints: ``"archive"`` (the stored 2D) or ``"gt"`` (the 3D projected through each camera's
                intrinsics, with its distortion).
            keep: optional ``keep(subject, take) -> bool``.
        """
        out = []
        for s in subjects:
            if s not in self.poses3d:
                raise InputError(f"{self.source}: no 3D for subject {s!r}; subjects: {self.subjects}")
            cams = self.cameras_of(s)
            if cams is None:
                raise InputError(f"{self.source}: no cameras for subject {s!r} (give data.cameras: a cameras file)")
            for take in sorted(self.poses3d[s]):
                if keep is not None and not keep(s, take):
                    continue
                world = self.poses3d[s][take]
                kps = self.keypoints2d.get(s, {}).get(take) if keypoints == "archive" else None
                if keypoints == "archive":
                    if kps is None:
                        self.notes.append(f"{s} {take!r}: 3D but no 2D in the archive; left out")
                        continue
                    if len(kps) != len(cams):
                        raise InputError(f"{self.source}: {s} {take!r} has 2D for {len(kps)} cameras, the subject "
                                         f"{len(cams)} cameras")
                for i, spec in enumerate(cams):
                    cam = spec.camera()
                    X = ((world - spec.T) @ spec.R.T).astype(np.float32)
                    if keypoints == "gt":
                        if cam is None:
                            raise InputError(f"{self.source}: keypoints='gt' projects the 3D through the cameras' "
                                             f"intrinsics, but camera {spec.name!r} of {s} has none; use the 2D of "
                                             "the archive (data.keypoints: archive) or give f and c in data.cameras")
                        kp = cam.project(X)
                    else:
                        kp = kps[i]
                        if len(kp) > len(X):  # videos with extra frames (VideoPose3D trims them the same way)
                            kp = kp[: len(X)]
                        elif len(kp) < len(X):
                            self.notes.append(f"{s} {take!r} camera {spec.name}: {len(kp)} frames of 2D but {len(X)} "
                                              "of 3D; left out")
                            continue
                    out.append(PoseSequence(
                        keypoints=kp, layout=self.layout, poses3d=X, layout3d=self.layout, camera=cam,
                        image_size=(spec.width, spec.height), fps=self.fps, subject=s, action=take,
                        camera_id=spec.name, meta={"source": self.source},
                    ))
        return out


def _dict2(raw: Any, what: str, path: Path) -> dict:
    if not isinstance(raw, Mapping):
        raise FileFormatError(f"{path}: {what} must be a dict subject -> take -> array, got {type(raw).__name__}", path)
    return raw


def read_mocap_archive(path: str | os.PathLike, keypoints_path: str | os.PathLike | None = None, *,
                 cameras: str | os.PathLike | None = None, layout: str | None = None, fps: float | None = None,
                 world_units: str = "m", allow_pickle: bool = False) -> MocapArchive:
    """Read a VideoPose3D-format dataset (see the module docstring).

    Args:
        path: the npz holding ``positions_3d`` (and ``positions_2d`` when there is no separate 2D file).
        keypoints_path: a separate npz with ``positions_2d`` and ``metadata``.
        cameras: a cameras file; else the archive's own ``cameras`` entry.
        layout: joint layout when the metadata does not say (or to override it).
        fps: frames per second (else the metadata's ``fps``, else 50).
        world_units: ``"m"`` or ``"mm"`` of ``positions_3d``.
        allow_pickle: the entries are pickled dicts: required, and only for files you trust.
    """
    path = Path(path)
    if world_units not in ("m", "mm"):
        raise InputError(f"world_units must be 'm' or 'mm', got {world_units!r}")
    scale = 1.0 if world_units == "m" else 1e-3
    with reading(path, "npz"):
        main = _load_npz_objects(path, ["positions_3d"], allow_pickle, optional=["positions_2d", "metadata", "cameras"])
    raw3d = _dict2(main["positions_3d"], "positions_3d", path)
    second = {}
    kp_path = Path(keypoints_path) if keypoints_path is not None else None
    if kp_path is not None:
        with reading(kp_path, "npz"):
            second = _load_npz_objects(kp_path, ["positions_2d"], allow_pickle, optional=["metadata", "cameras"])
    raw2d = second.get("positions_2d", main.get("positions_2d", {}))
    raw2d = _dict2(raw2d, "positions_2d", kp_path or path) if raw2d is not None else {}
    metadata = second.get("metadata", main.get("metadata", {}))
    poses3d: dict[str, dict[str, np.ndarray]] = {}
    num_joints = None
    for s, takes in raw3d.items():
        for take, a in _dict2(takes, f"positions_3d[{s!r}]", path).items():
            what = f"{path}: {s} {take!r}"
            a = np.asarray(a)
            if a.dtype.kind not in "biuf" or a.ndim != 3 or a.shape[-1] != 3 or len(a) == 0:
                raise FileFormatError(f"{what}: expected (frames, joints, 3) numbers, got {a.shape} {a.dtype}", path)
            if num_joints is None:
                num_joints = a.shape[1]
            elif a.shape[1] != num_joints:
                raise FileFormatError(f"{what}: {a.shape[1]} joints, other takes have {num_joints}", path)
            check_finite(a, what)
            a = a.astype(np.float64) * scale
            if np.median(np.abs(a)) > 50:
                raise InputError(f"{what}: coordinates look like millimetres (median |x| {np.median(np.abs(a)):.0f}); "
                                 "set data.world_units: mm")
            poses3d.setdefault(str(s), {})[str(take)] = a.astype(np.float32)
    if not poses3d:
        raise FileFormatError(f"{path}: positions_3d is empty", path)
    lay = layout_from_metadata(metadata, num_joints, layout, str(kp_path or path))
    keypoints2d: dict[str, dict[str, list[np.ndarray]]] = {}
    for s, takes in raw2d.items():
        for take, per_cam in _dict2(takes, f"positions_2d[{s!r}]", kp_path or path).items():
            what = f"{kp_path or path}: 2D {s} {take!r}"
            if not isinstance(per_cam, (list, tuple)):
                raise FileFormatError(f"{what}: expected a list with one (frames, joints, 2) array per camera",
                                      kp_path or path)
            arrs = []
            for c, kp in enumerate(per_cam):
                kp = np.asarray(kp)
                if kp.dtype.kind not in "biuf" or kp.ndim != 3 or kp.shape[1] != num_joints or kp.shape[2] < 2:
                    raise FileFormatError(f"{what} camera {c}: expected (frames, {num_joints}, 2), got {kp.shape}",
                                          kp_path or path)
                check_finite(kp[..., :2], f"{what} camera {c}")
                arrs.append(np.ascontiguousarray(kp[..., :2], dtype=np.float32))
            keypoints2d.setdefault(str(s), {})[str(take)] = arrs
    if cameras is not None:
        cams = read_cameras_file(cameras)
    elif "cameras" in second or "cameras" in main:
        cams = _camera_table(second.get("cameras", main.get("cameras")), f"{kp_path or path}: cameras")
    else:
        cams = {}
    rate = fps if fps is not None else float(metadata.get("fps", 50.0)) if isinstance(metadata, Mapping) else 50.0
    if not rate > 0:
        raise InputError(f"{path}: fps must be positive, got {rate}")
    return MocapArchive(poses3d, keypoints2d, cams, lay, rate,
                        str(path) + (f" + {kp_path}" if kp_path is not None else ""))
