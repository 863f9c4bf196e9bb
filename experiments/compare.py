"""Single-frame 3D vs temporal lifting, side by side on the same frames.

The single-frame reference is BodyPose3DNet's own ``pose3d`` when the 2D came
from it (``poselift detect --detector bodypose3dnet`` or DeepStream JSON; the
34 joints mapped to ``h36m17``), otherwise a receptive-field-1 lifter.

* **With ground truth** (Human3.6M, synthetic): Protocol 1, Protocol 2,
  velocity error (MPJVE) and the smoothness numbers for every method.
* **Without ground truth** (a user's video): how much the methods agree
  (Protocol 2 between the single-frame reference and each other method) and
  how smooth each is (mean joint acceleration and jitter), so a user sees
  what temporal lifting buys on their own video.

Body consistency, for every method (with or without ground truth): the standard
deviation over time of each bone's length (a rigid body keeps its bones; pooled
per sequence, averaged over bones) and left/right asymmetry (mean absolute
difference between each left bone and its right partner), both in mm.

Units: mm for positions; acceleration in mm per frame squared and jitter in
mm (both at the sequence's own frame rate). Methods whose scale is unknown
(BodyPose3DNet's ``pose3d`` tensor has undocumented units) are rescaled per
sequence to the reference by least squares before their P1 and smoothness are
computed, and flagged ``scale_aligned``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from poselift.core.layouts import get_layout, get_mapping
from poselift.core.sequence import PoseSequence
from poselift.metrics import (
    acceleration_per_frame,
    jitter_per_frame,
    mpjpe_per_frame,
    mpjve_per_frame,
    p_mpjpe_per_frame,
)

__all__ = ["Method", "single_frame_from_detector", "compare_methods", "comparison_table", "setting_differences",
           "NORMALIZATION_WORDS", "bone_lengths", "bone_length_std", "asymmetry", "proportions_table"]


@dataclass
class Method:
    """Predictions of one method: ``(T, J, 3)`` per sequence (any joint count, the same for every method).

    Attributes:
        name: row label.
        predictions: one array per sequence, metres (or unknown units when
            ``scale_known`` is False).
        scale_known: False when the units are not trusted (rescaled before use).
        kind: ``"single-frame"`` or ``"temporal"`` (for readers of the table).
    """

    name: str
    predictions: list[np.ndarray]
    scale_known: bool = True
    kind: str = "temporal"


_DETECTOR_NAMES = {"bodypose3dnet34": "BodyPose3DNet pose3d (single frame)",
                   "blazepose33": "BlazePose world landmarks (single frame)"}


def single_frame_from_detector(seqs: Sequence[PoseSequence], name: str | None = None) -> Method | None:
    """A detector's own single-frame 3D (``seq.detector3d``: BodyPose3DNet's ``pose3d``, BlazePose's world
    landmarks), mapped to h36m17.

    Returns ``None`` unless every sequence carries it. The network's axes are
    taken as camera axes. Units: metres or millimetres when the file says so
    (BlazePose: metres; DeepStream's BodyPose3DNet JSON: mm), else not trusted
    (``scale_known=False``: rescaled before use).
    """
    preds = []
    units = {s.detector3d.units if s.detector3d is not None else None for s in seqs}
    for s in seqs:
        if s.detector3d is None:
            return None
        if name is None:
            name = _DETECTOR_NAMES.get(s.detector3d.layout, f"{s.detector3d.layout} detector 3D (single frame)")
        poses = s.detector3d.poses.astype(np.float64) * (0.001 if s.detector3d.units == "mm" else 1.0)
        mapped = get_mapping(s.detector3d.layout, "h36m17").apply(poses)
        mapped = mapped - mapped[:, :1]
        if not np.isfinite(mapped).all():
            return None
        preds.append(mapped)
    known = len(units) == 1 and units.pop() in ("m", "mm")
    return Method(name, preds, scale_known=known, kind="single-frame")


def bone_lengths(poses: np.ndarray, layout: str = "h36m17") -> np.ndarray:
    """``(T, B)`` lengths of the layout's bones (child-parent pairs) in ``(T, J, 3)`` poses."""
    bones = get_layout(layout).bones
    p = np.asarray(poses, np.float64)
    return np.stack([np.linalg.norm(p[:, c] - p[:, q], axis=-1) for c, q in bones], 1)


def bone_length_std(poses: np.ndarray, layout: str = "h36m17") -> float:
    """Mean over bones of each bone length's standard deviation over the frames (input units)."""
    return float(bone_lengths(poses, layout).std(0).mean())


def asymmetry(poses: np.ndarray, layout: str = "h36m17") -> np.ndarray:
    """``(T,)`` mean absolute length difference between left bones and their right partners."""
    lay = get_layout(layout)
    lengths = bone_lengths(poses, layout)
    index = {c: i for i, (c, _) in enumerate(lay.bones)}
    pairs = [(index[lft], index[rgt]) for lft, rgt in zip(lay.left, lay.right) if lft in index and rgt in index]
    if not pairs:
        return np.full(len(lengths), np.nan)
    return np.mean([np.abs(lengths[:, a] - lengths[:, b]) for a, b in pairs], axis=0)


def _rescale(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """One least-squares scale for the whole sequence."""
    den = float((pred * pred).sum())
    return pred * (float((pred * ref).sum()) / den) if den > 0 else pred


def _mean(arrs) -> float:
    arrs = [np.asarray(a, np.float64).ravel() for a in arrs]
    arrs = [a for a in arrs if a.size]
    return float(np.concatenate(arrs).mean()) if arrs else math.nan


def _proportions(preds, gts, seqs, scale_ok: bool) -> dict:
    """Body proportions of one method (:mod:`poselift.proportions`): predicted/true ratios and lean with
    ground truth; absolute lengths (m), asymmetry and the spine's lean relative to the camera without."""
    from poselift.proportions import summarize_proportions

    layout = seqs[0].layout3d if gts is not None else ("h36m17" if preds and np.shape(preds[0])[1] == 17 else None)
    if layout is None:
        return {"unavailable": f"predictions with {np.shape(preds[0])[1]} joints: no known layout to measure"}
    try:
        out = summarize_proportions(preds, gts, layout)
    except ValueError as e:
        return {"unavailable": str(e)}
    if not scale_ok and gts is None:  # unknown units: only the unitless numbers mean anything
        out = {k: (v if k in ("asymmetry", "lean_toward_camera", "lean_sideways", "frames") else math.nan)
               for k, v in out.items()}
    return out


PROPORTIONS_GT = (("height_ratio", "height x"), ("hip_width_ratio", "hip width x"),
                  ("shoulder_width_ratio", "shoulder width x"), ("upper_arm_ratio", "upper arm x"),
                  ("forearm_ratio", "forearm x"), ("thigh_ratio", "thigh x"), ("shin_ratio", "shin x"),
                  ("lean", "lean vs truth (deg)"))
PROPORTIONS_ABS = (("height", "height (m)"), ("hip_width", "hip width (m)"), ("shoulder_width", "shoulder width (m)"),
                   ("upper_arm", "upper arm (m)"), ("forearm", "forearm (m)"), ("thigh", "thigh (m)"),
                   ("shin", "shin (m)"), ("asymmetry", "L/R asymmetry"),
                   ("lean_toward_camera", "lean to camera (deg)"), ("lean_sideways", "lean sideways (deg)"))


def proportions_table(result: dict, fmt: str = "md") -> str:
    """The body proportions of :func:`compare_methods`' result: predicted/true ratios and lean with ground
    truth, absolute measures and left/right asymmetry without (Markdown, or CSV columns ``key`` per method)."""
    cols = PROPORTIONS_GT if result["ground_truth"] else PROPORTIONS_ABS
    rows = [(name, r.get("proportions", {})) for name, r in result["methods"].items()]
    if fmt == "csv":
        lines = [",".join(["method", *(k for k, _ in cols)])]
        lines += [",".join([f'"{n}"', *(f"{float(p.get(k, math.nan)):.4f}" for k, _ in cols)]) for n, p in rows]
        return "\n".join(lines) + "\n"

    def f(v):
        return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"

    lines = ["| method | " + " | ".join(label for _, label in cols) + " |", "|---|" + "---:|" * len(cols)]
    lines += ["| " + " | ".join([n, *(f(p.get(k)) for k, _ in cols)]) + " |" for n, p in rows]
    lines += [f"_{n}: {p['unavailable']}_" for n, p in rows if "unavailable" in p]
    note = ("ratios: predicted / true, frames pooled; lean: angle between the predicted and true spine "
            "(pelvis -> thorax)." if result["ground_truth"] else
            "no ground truth: skeletal height = pelvis-to-head bones + leg; asymmetry = mean |L - R| / mean of "
            "the four limbs; lean relative to the camera's up direction (positive: top towards the camera / to "
            "the image's right).")
    return "**Body proportions**\n\n" + "\n".join(lines) + f"\n\n_{note}_\n"


def _checked_joint_counts(seqs: Sequence[PoseSequence], methods: Sequence[Method]) -> set[int]:
    """The joint count every method's predictions share (as a set of one), after checking there are methods and
    each has one ``(frames, joints of the 3D layout, 3)`` prediction per sequence."""
    if not methods:
        raise ValueError("no methods to compare")
    joints = {np.shape(p)[1] for m in methods for p in m.predictions if np.ndim(p) == 3}
    for m in methods:
        if len(m.predictions) != len(seqs):
            raise ValueError(f"method {m.name!r}: {len(m.predictions)} predictions for {len(seqs)} sequences")
        for p, s in zip(m.predictions, seqs):
            want = (len(s), s.layout3d.num_joints if s.poses3d is not None else next(iter(joints), 0), 3)
            if np.shape(p) != want:
                raise ValueError(f"method {m.name!r}: prediction shape {np.shape(p)} for a {len(s)}-frame sequence; "
                                 f"expected {want} (frames, joints of the 3D layout, 3)")
    if len(joints) > 1:
        raise ValueError(f"the methods' predictions have different joint counts {sorted(joints)}: convert them to one "
                         "layout first")
    return joints


def compare_methods(seqs: Sequence[PoseSequence], methods: Sequence[Method], reference: str | None = None,
                    jitter_window: int = 5) -> dict:
    """Compare methods on the same sequences.

    Args:
        seqs: the sequences (with ``poses3d`` for ground-truth mode).
        methods: their predictions; every method has one array per sequence.
        reference: the method others are compared with when there is no
            ground truth (default: the first ``kind="single-frame"`` method,
            else the first method).
        jitter_window: frames of the moving average for :func:`~poselift.metrics.jitter`.

    Returns:
        ``{"ground_truth": bool, "reference": name, "frames": n, "methods": {name: {...}}}``
        with, per method, ``mpjpe``/``p_mpjpe``/``mpjve`` (ground-truth mode),
        ``agreement_p_mpjpe`` (P2 against the reference), ``acceleration``,
        ``jitter``, ``bone_std`` (bone-length standard deviation over time; h36m17 predictions),
        ``asymmetry`` (left/right bone-length difference), ``scale_aligned``; all in mm
        (acceleration: mm/frame^2); and ``proportions`` (:func:`proportions_table`). Bone numbers of several
        sequences are weighted by their frames.
        Frames are pooled over sequences (no per-action averaging).
    """
    joints = _checked_joint_counts(seqs, methods)
    has_gt = all(s.poses3d is not None for s in seqs)
    if reference is None:
        reference = next((m.name for m in methods if m.kind == "single-frame"), methods[0].name)
    ref = next((m for m in methods if m.name == reference), None)
    if ref is None:
        raise ValueError(f"reference method {reference!r} is not among {[m.name for m in methods]}")

    gts = [s.root_relative_3d().astype(np.float64) for s in seqs] if has_gt else None
    # scale anchors: ground truth, else the reference (if its scale is known)
    anchors = gts if has_gt else (ref.predictions if ref.scale_known else None)
    out: dict = {"ground_truth": has_gt, "reference": reference, "frames": int(sum(len(s) for s in seqs)),
                 "methods": {}}
    for m in methods:
        preds = [np.asarray(p, np.float64) for p in m.predictions]
        aligned = not m.scale_known and anchors is not None
        if aligned:
            preds = [_rescale(p, a) for p, a in zip(preds, anchors)]
        r: dict = {"kind": m.kind, "scale_aligned": aligned}
        if has_gt:
            r["mpjpe"] = _mean(mpjpe_per_frame(p, g) for p, g in zip(preds, gts)) * 1000 if (m.scale_known or aligned) else math.nan
            r["p_mpjpe"] = _mean(p_mpjpe_per_frame(p, g) for p, g in zip(preds, gts)) * 1000
            r["mpjve"] = _mean(mpjve_per_frame(p, g) for p, g in zip(preds, gts) if len(p) > 1) * 1000
        if m.name != reference:
            r["agreement_p_mpjpe"] = _mean(p_mpjpe_per_frame(p, np.asarray(q, np.float64))
                                           for p, q in zip(preds, ref.predictions)) * 1000
        scale_ok = m.scale_known or aligned
        r["acceleration"] = (_mean(acceleration_per_frame(p) for p in preds if len(p) >= 3) * 1000
                             if scale_ok else math.nan)
        r["jitter"] = (_mean(jitter_per_frame(p, jitter_window) for p in preds if len(p) >= jitter_window) * 1000
                       if scale_ok else math.nan)
        body = joints == {17}  # h36m17 bones
        r["bone_std"] = (_mean([bone_length_std(p)] * len(p) for p in preds if len(p) >= 2) * 1000
                         if scale_ok and body else math.nan)
        r["asymmetry"] = _mean(asymmetry(p) for p in preds) * 1000 if scale_ok and body else math.nan
        r["proportions"] = _proportions(preds, gts, seqs, scale_ok)
        out["methods"][m.name] = r
    if has_gt:
        g17 = all(g.shape[1] == 17 for g in gts)
        out["ground_truth_smoothness"] = {
            "acceleration": _mean(acceleration_per_frame(g) for g in gts if len(g) >= 3) * 1000,
            "jitter": _mean(jitter_per_frame(g, jitter_window) for g in gts if len(g) >= jitter_window) * 1000,
            "bone_std": _mean([bone_length_std(g)] * len(g) for g in gts if len(g) >= 2) * 1000 if g17 else math.nan,
            "asymmetry": _mean(asymmetry(g) for g in gts) * 1000 if g17 else math.nan,
        }
    return out


NORMALIZATION_WORDS = {"image": "the image width", "torso": "the torso", "bbox": "the bounding box"}
"""How a lifter normalises its 2D input (:mod:`poselift.core.normalization`), in words."""


def setting_differences(methods: dict[str, dict[str, str]]) -> tuple[dict[str, str], list[str]]:
    """What the compared lifters do differently beyond their weights, said on their rows and under the table.

    Args:
        methods: ``{method name: {setting: value in words}}``, e.g. ``{"run1": {"flip TTA": "on",
            "2D normalised by": "the image width"}}``.

    Returns:
        ``({method name: ", setting value, ..." for the settings that differ}, [a note per differing setting])``;
        empty when every lifter is set the same way.
    """
    differing = [k for k in dict.fromkeys(k for m in methods.values() for k in m)
                 if len({m.get(k) for m in methods.values()}) > 1]
    suffix = {name: "".join(f", {k} {m.get(k, '?')}" for k in differing) for name, m in methods.items()}
    notes = [f"The lifters differ in {k}: " + "; ".join(f"{name}: {m.get(k, '?')}" for name, m in methods.items())
             + "." for k in differing]
    return suffix, notes


def comparison_table(result: dict, fmt: str = "md", notes: list[str] | tuple[str, ...] = ()) -> str:
    """Markdown or CSV table of :func:`compare_methods`' result (``notes``: more lines under a Markdown table)."""
    gt = result["ground_truth"]
    cols = (["P1 (mm)", "P2 (mm)", "MPJVE (mm)"] if gt else []) + \
           [f"P2 vs {result['reference']} (mm)", "accel. (mm/fr²)", "jitter (mm)", "bone std (mm)",
            "L/R asym. (mm)"]
    keys = (["mpjpe", "p_mpjpe", "mpjve"] if gt else []) + ["agreement_p_mpjpe", "acceleration", "jitter",
                                                            "bone_std", "asymmetry"]
    rows = []
    for name, r in result["methods"].items():
        label = name + (" ¹" if r.get("scale_aligned") else "")
        rows.append([label] + [r.get(k, math.nan) for k in keys])
    if gt:
        g = result["ground_truth_smoothness"]
        rows.append(["ground truth", math.nan, math.nan, math.nan, math.nan, g["acceleration"], g["jitter"],
                     g.get("bone_std", math.nan), g.get("asymmetry", math.nan)])
    if fmt == "csv":
        lines = [",".join(["method", *keys])]
        lines += [",".join([f'"{r[0]}"', *(f"{v:.4f}" for v in r[1:])]) for r in rows]
        props = proportions_table(result, "csv").splitlines()  # its columns joined to the rows of the same method
        extra = {ln.split(",", 1)[0]: ln.split(",", 1)[1] for ln in props[1:]}
        blank = ",".join(["nan"] * (props[0].count(",")))
        lines = [lines[0] + "," + props[0].split(",", 1)[1]] + [
            ln + "," + extra.get(ln.split(",", 1)[0].replace(" ¹", ""), blank) for ln in lines[1:]]
        return "\n".join(lines) + "\n"
    if fmt != "md":
        raise ValueError(f"format must be md or csv, got {fmt!r}")

    def f(v):
        return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"

    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    lines += ["| " + " | ".join([r[0], *(f(v) for v in r[1:])]) + " |" for r in rows]
    mode = ("with ground truth; errors are averaged over all frames (`poselift table` averages per action first,"
            " so its P1/P2 differ slightly)." if gt else "no ground truth: agreement and smoothness only.")
    notes = [f"{result['frames']} frames; {mode}", *notes]
    if any(r.get("scale_aligned") for r in result["methods"].values()):
        notes.append("¹ units unknown: rescaled per sequence to the " + ("ground truth" if gt else "reference") +
                     " by least squares before P1 and smoothness.")
    return "\n".join(lines) + "\n\n" + "\n".join(f"_{n}_" for n in notes) + "\n\n" + proportions_table(result)
