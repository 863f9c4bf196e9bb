"""VideoPose3D dataset ``.npz`` files: ``positions_2d[subject][action][camera]`` 2D keypoints.

VideoPose3D stores every 2D dataset the same way (``data_2d_h36m_cpn_ft_h36m_dbb.npz``,
``data_2d_h36m_detectron_pt_coco.npz``, ``data_2d_h36m_sh_pt_mpii.npz``, custom datasets written by
``prepare_data_2d_custom.py``)::

    positions_2d   pickled dict: subject -> action -> list over cameras of (T, J, 2) arrays
                   (custom datasets: video name -> "custom" -> [one array])
    metadata       pickled dict: layout_name ("coco", "h36m", "mpii", "humaneva15"), num_joints,
                   keypoints_symmetry ([left joints], [right joints]); custom datasets add
                   video_metadata: video name -> {"w", "h"}

One entry (subject, action, camera) is one person's keypoints in one video: it is read as a single
track. The joint layout comes from the file (``layout_name``, checked against ``num_joints`` and the
left/right lists); a file that does not name it needs ``layout=`` (17 COCO and 17 Human3.6M joints have
the same count). The frame rate is not stored (0 = unknown); the image size only for custom datasets.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from poselift.core.errors import FileFormatError, InputError, reading
from poselift.core.io import load_npz
from poselift.core.layouts import LAYOUTS, get_layout
from poselift.detectors.formats.tracks import KeypointTracks
from poselift.detectors.tracking import Detections, TrackerSettings, tracks_from_ids

__all__ = ["read_vp3d_npz", "vp3d_layout", "VP3D_LAYOUT_NAMES"]

VP3D_LAYOUT_NAMES = {"coco": "coco17", "h36m": "h36m17", "mpii": "mpii16", "humaneva15": "humaneva15"}
"""VideoPose3D's ``layout_name`` -> poselift layout."""


def vp3d_layout(metadata: dict, num_joints: int, path: Path, layout: str | None = None,
                default: str | None = None) -> str:
    """The poselift layout of a VideoPose3D 2D file from its metadata.

    A file that does not name its layout: ``layout`` when given, else the one layout whose joint count and
    left/right lists fit (the Stacked Hourglass files), else ``default`` (the caller's assumption, e.g. COCO
    for custom datasets).

    Raises:
        FileFormatError: the metadata contradicts itself or the arrays (joint count, left/right lists),
            or names a layout poselift does not know.
        InputError: the file does not say and nothing else does, or ``layout`` contradicts the file.
    """
    name = metadata.get("layout_name")
    n_meta = metadata.get("num_joints")
    if n_meta is not None and int(n_meta) != num_joints:
        raise FileFormatError(f"{path}: metadata says {n_meta} joints, the keypoints have {num_joints}", path)
    sym = metadata.get("keypoints_symmetry")
    if name is not None:
        name = str(name).lower()
        if name not in VP3D_LAYOUT_NAMES and name not in LAYOUTS:
            raise FileFormatError(f"{path}: VideoPose3D layout {name!r} is not one poselift knows "
                                  f"({sorted(VP3D_LAYOUT_NAMES)}, or a poselift layout: {sorted(LAYOUTS)})", path)
        found = VP3D_LAYOUT_NAMES.get(name, name)
        if get_layout(found).num_joints != num_joints:
            raise FileFormatError(f"{path}: layout {name!r} has {get_layout(found).num_joints} joints, the keypoints "
                                  f"{num_joints}", path)
        if layout is not None and get_layout(layout).name != found:
            raise InputError(f"{path}: the file says its layout is {name!r} ({found}); --layout says "
                             f"{get_layout(layout).name}")
    elif layout is not None:
        found = get_layout(layout).name
    else:
        # no name: the Stacked Hourglass files name nothing; their joint count and left/right lists say mpii16
        fits = [lay for lay in VP3D_LAYOUT_NAMES.values() if get_layout(lay).num_joints == num_joints
                and sym is not None and _sides(sym) == (sorted(get_layout(lay).left), sorted(get_layout(lay).right))]
        if len(fits) == 1:
            found = fits[0]
        elif default is not None:
            found = get_layout(default).name
        else:
            raise InputError(f"{path}: the file does not name its joint layout ({num_joints} joints; "
                             f"left/right lists {sym}); give it with layout= (--layout; data.layout in a config), "
                             "e.g. coco17 or h36m17")
    if sym is not None:
        lay = get_layout(found)
        left, right = _sides(sym, path)
        if (left, right) != (sorted(lay.left), sorted(lay.right)):
            raise FileFormatError(f"{path}: the file's left/right joints {left}/{right} are not those of {found} "
                                  f"({sorted(lay.left)}/{sorted(lay.right)}): another joint order", path)
    return found


def _sides(sym, path: Path | None = None) -> tuple[list[int], list[int]] | None:
    """VideoPose3D's ``keypoints_symmetry`` as two sorted index lists."""
    try:
        left, right = (sorted(int(j) for j in side) for side in sym)
        return left, right
    except (TypeError, ValueError):
        if path is None:
            return None
        raise FileFormatError(f"{path}: metadata keypoints_symmetry {str(sym)[:80]} is not two lists of "
                              "joint indices", path) from None


def _choose(options: list, chosen: Any, what: str, option: str, path: Path):
    if chosen is None:
        if len(options) == 1:
            return options[0]
        shown = ", ".join(repr(o) for o in options[:20]) + (" ..." if len(options) > 20 else "")
        raise InputError(f"{path} holds {len(options)} {what}s ({shown}); choose one with {option}")
    if chosen not in options:
        shown = ", ".join(repr(o) for o in options[:20]) + (" ..." if len(options) > 20 else "")
        raise InputError(f"{path}: no {what} {chosen!r}; {what}s: {shown}")
    return chosen


def read_vp3d_npz(
    path: str | os.PathLike,
    subject: str | None = None,
    action: str | None = None,
    camera: int | None = None,
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
    allow_pickle: bool = False,
    layout: str | None = None,
    tracker: TrackerSettings | None = None,
) -> KeypointTracks:
    """One person's 2D keypoints from a VideoPose3D dataset ``.npz`` (see the module docstring).

    Args:
        subject, action, camera: which entry (each may be left out when the file has only one;
            ``camera`` is the index in the per-action list). Custom datasets: ``subject`` is the video name.
        image_size: ``(width, height)``; default: the custom dataset's ``video_metadata``, else unknown.
        fps: frame rate (not stored in these files; default unknown, 0).
        allow_pickle: the file's dicts are pickles: required, warns (only for files you trust).
        layout: the joint layout when the file does not name it.
        tracker: gap filling settings (missing joints are NaN in the file).

    Raises:
        InputError: no such subject/action/camera (the message lists them), or a choice is needed.
        FileFormatError: not a VideoPose3D dataset file, malformed entries, contradicting metadata.
    """
    path = Path(path)
    with reading(path, "npz"):
        data = load_npz(path, allow_pickle=allow_pickle)
        return _read(path, data, subject, action, camera, image_size, fps, layout, tracker)


def read_positions_2d(path: Path, data: dict, subject=None, action=None, camera=None, image_size=None, fps=None,
                      layout=None, tracker=None, default_layout: str | None = None) -> KeypointTracks:
    """:func:`read_vp3d_npz` on the already loaded entries of the file (``default_layout``: assumed when the
    file names no layout)."""
    return _read(path, data, subject, action, camera, image_size, fps, layout, tracker, default_layout)


def _dict_item(value, what: str, path: Path) -> dict:
    a = np.asarray(value) if not isinstance(value, dict) else None
    if a is not None:
        if a.dtype != object or a.shape != ():
            raise FileFormatError(f"{path}: {what} is an array of shape {a.shape}, not a pickled dict", path)
        value = a.item()
    if not isinstance(value, dict):
        raise FileFormatError(f"{path}: {what} is a {type(value).__name__}, not a dict", path)
    return value


def _read(path: Path, data: dict, subject, action, camera, image_size, fps, layout, tracker,
          default_layout: str | None = None) -> KeypointTracks:
    if "positions_2d" not in data:
        raise FileFormatError(f"{path}: not a VideoPose3D dataset file (no 'positions_2d'; keys {sorted(data)})", path)
    pos = _dict_item(data["positions_2d"], "'positions_2d'", path)
    meta = _dict_item(data["metadata"], "'metadata'", path) if "metadata" in data else {}
    subject = _choose(sorted(pos, key=str), subject, "subject", "subject= (--subject; the video name of a custom "
                      "dataset)", path)
    actions = pos[subject]
    if isinstance(actions, dict):
        action = _choose(sorted(actions, key=str), action, "action", "action= (--action)", path)
        cams = actions[action]
    else:  # a bare list or array of cameras under the subject
        if action is not None:
            raise InputError(f"{path}: subject {subject!r} has no actions, only cameras")
        cams = actions
    if isinstance(cams, np.ndarray) and cams.dtype != object and cams.ndim == 3:
        cams = [cams]
    try:
        cams = list(cams)
    except TypeError:
        raise FileFormatError(f"{path}: {subject}/{action}: expected a list of camera arrays, got "
                              f"{type(cams).__name__}", path) from None
    present = [i for i, c in enumerate(cams) if c is not None]
    if not present:
        raise InputError(f"{path}: {subject}/{action} has no keypoints for any camera")
    if camera is not None and 0 <= int(camera) < len(cams) and cams[int(camera)] is None:
        raise InputError(f"{path}: {subject}/{action} has no keypoints for camera {camera}; cameras with "
                         f"keypoints: {present}")
    camera = _choose(present, None if camera is None else int(camera), "camera", "camera= (--camera INDEX)", path)
    arr = np.asarray(cams[camera])
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3) or arr.dtype.kind not in "biuf":
        raise FileFormatError(f"{path}: {subject}/{action} camera {camera}: keypoints of shape {arr.shape} "
                              f"({arr.dtype}); expected (frames, joints, 2|3) numbers", path)
    if len(arr) == 0:
        raise InputError(f"{path}: {subject}/{action} camera {camera} has 0 frames")
    lay = vp3d_layout(meta, arr.shape[1], path, layout, default_layout)
    kp = arr[..., :2].astype(np.float32)
    conf = arr[..., 2].astype(np.float32) if arr.shape[-1] == 3 else np.ones(arr.shape[:2], np.float32)
    conf = np.where(np.isfinite(kp).all(-1), conf, 0.0).astype(np.float32)
    vm = (meta.get("video_metadata") or {}).get(subject, {}) if isinstance(meta.get("video_metadata"), dict) else {}
    size = image_size or ((int(vm["w"]), int(vm["h"])) if isinstance(vm, dict) and "w" in vm and "h" in vm else None)
    n = len(kp)
    dets = [Detections(kp[i][None], conf[i][None], ids=np.zeros(1, np.int64)) for i in range(n)]
    tracks = tracks_from_ids(dets, tracker or TrackerSettings(min_length=1))
    where = "/".join(str(p) for p in (subject, action, camera) if p is not None)
    out = KeypointTracks(tracks, lay, size, float(fps or 0.0), n, f"{path}:{where}", "videopose3d-dataset")
    out.attrs.update(subject=str(subject), action="" if action is None else str(action), camera=int(camera))
    return out
