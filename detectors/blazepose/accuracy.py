"""PCK of a detector's people against COCO keypoint ground truth (the four COCO images in ../shared/media/coco).

* **ground truth**: a COCO keypoints JSON (``images``, ``annotations`` with ``keypoints`` 17 x (x, y, v) and
  ``bbox``); people with fewer than ``min_joints`` labelled joints (v > 0) are left out.
* **matching**: per image, detected people (converted to ``coco17``) and ground-truth people are paired
  greedily by object keypoint similarity (COCO's OKS with its per-joint sigmas, the box area as scale),
  highest first, one to one; a pair needs OKS > 0. An unmatched ground-truth person counts all its
  labelled joints as misses (so a person the detector missed lowers the PCK).
* **PCK@a**: a labelled joint is correct when the matched detection's joint lies within
  ``a * max(box width, box height)`` pixels of it; PCK is correct joints over labelled joints, pooled.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.core.errors import InputError
from poselift.core.io import read_json
from poselift.core.layouts import convert
from poselift.detectors.tracking import COCO_SIGMAS

__all__ = ["CocoPerson", "read_coco_people", "match_people", "pck", "PckResult"]

_COCO_ORDER = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
               "right_knee", "left_ankle", "right_ankle")


@dataclass
class CocoPerson:
    """One annotated person: ``keypoints (17, 2)`` pixels, ``labelled (17,)`` bool, ``box`` x, y, w, h."""

    keypoints: np.ndarray
    labelled: np.ndarray
    box: np.ndarray


def read_coco_people(path: str | os.PathLike, min_joints: int = 5) -> dict[str, list[CocoPerson]]:
    """Image file name -> annotated people with at least ``min_joints`` labelled joints."""
    doc = read_json(Path(path))
    try:
        names = {int(im["id"]): str(im["file_name"]) for im in doc["images"]}
        out: dict[str, list[CocoPerson]] = {n: [] for n in names.values()}
        for a in doc["annotations"]:
            k = np.asarray(a["keypoints"], np.float64).reshape(17, 3)
            lab = k[:, 2] > 0
            if lab.sum() >= min_joints:
                out[names[int(a["image_id"])]].append(CocoPerson(k[:, :2], lab, np.asarray(a["bbox"], np.float64)))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: not a COCO keypoints file ({type(e).__name__}: {e})") from None
    return out


def _oks(det: np.ndarray, gt: CocoPerson) -> float:
    sig = np.array([COCO_SIGMAS[n] for n in _COCO_ORDER])
    area = max(gt.box[2] * gt.box[3], 1.0)
    d2 = ((det - gt.keypoints) ** 2).sum(-1)
    e = d2 / (2 * area * (2 * sig) ** 2)
    ok = gt.labelled & np.isfinite(d2)
    return float(np.exp(-e[ok]).sum() / max(gt.labelled.sum(), 1))


def match_people(detected: np.ndarray, truth: list[CocoPerson]) -> list[tuple[int, int]]:
    """Greedy one-to-one ``(truth index, detection index)`` pairs by OKS, highest first (``detected``:
    ``(N, 17, 2)`` coco17 pixels)."""
    pairs = [(_oks(detected[d], t), g, d) for g, t in enumerate(truth) for d in range(len(detected))]
    used_g, used_d, out = set(), set(), []
    for s, g, d in sorted(pairs, reverse=True):
        if s > 0 and g not in used_g and d not in used_d:
            out.append((g, d))
            used_g.add(g)
            used_d.add(d)
    return sorted(out)


@dataclass
class PckResult:
    correct: int
    labelled: int
    people: int
    matched: int

    @property
    def pck(self) -> float:
        return self.correct / self.labelled if self.labelled else float("nan")


def pck(detected: np.ndarray, layout: str, truth: list[CocoPerson], alpha: float = 0.1) -> PckResult:
    """PCK@``alpha`` of one image's detections ``(N, J, 2)`` in ``layout`` against its ground truth."""
    det = np.asarray(detected, np.float64)
    if len(det):
        det = convert(det, layout, "coco17")
    correct = labelled = 0
    pairs = dict(match_people(det, truth))
    for g, t in enumerate(truth):
        labelled += int(t.labelled.sum())
        if g in pairs:
            err = np.linalg.norm(det[pairs[g]] - t.keypoints, axis=-1)
            thr = alpha * max(t.box[2], t.box[3])
            correct += int((t.labelled & (err <= thr)).sum())
    return PckResult(correct, labelled, len(truth), len(pairs))
