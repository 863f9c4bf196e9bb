"""PCK@0.1 on real COCO ground truth through a bottom-up-network-shaped path, before and after layout conversion.

The network is a stand-in; the ground truth is real: the labelled keypoints of the COCO images in
``../shared/media/coco`` (``test_coco.json``; the 12 people with 5 or more labelled joints) are rendered
into Lightweight-OpenPose-shaped maps (:func:`poselift.detectors.standins.realistic_maps`: 19 heatmaps and
38 PAFs at stride 8 for an input 256 pixels high, channels first, OpenPose's PAF channel order; varied
peak heights, many false peaks, short noisy PAFs). Unlabelled joints are not rendered, so the decoder
does not find them, as a network would not find a joint hidden or outside the frame. The maps are decoded
with :func:`~poselift.detectors.bodyposenet.decode_people` (``layout="CHW"``, the ``openpose-coco18``
preset), each person is converted ``bodyposenet18 -> coco17`` with :func:`poselift.core.layouts.convert`,
and scored against the COCO ground truth:

* detections are matched to ground-truth people greedily by the mean distance over the joints both have
  (before conversion, so that a conversion cannot change the matching);
* a labelled joint is correct when the matched person has it within ``0.1 * max(box width, box height)``
  of the COCO box of that person; an unmatched person's joints are all wrong;
* PCK = correct / labelled joints, over the 12 people, per map seed; mean over seeds.

``--legacy`` converts with a plain weight-matrix product (what ``convert`` did before issue 27: one
missing joint made every output joint NaN).

    python experiments/scripts/coco_pck_conversion.py [--coco ../shared/media/coco] [--seeds 5] [--legacy]

Prints one line per seed and the mean; nothing is written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from poselift.core.layouts import BODYPOSENET18, COCO17, convert, get_mapping

NET_HEIGHT = 256
"""Lightweight OpenPose's usual input height (pixels); the width follows the image, a multiple of 8."""

STRIDE = 8


def coco_dir() -> Path:
    """``../shared/media/coco`` beside the repository (or ``$POSELIFT_COCO``)."""
    env = os.environ.get("POSELIFT_COCO")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "media" / "coco"


def load_people(folder: Path, min_joints: int = 5) -> list[dict]:
    """Per image: ``{"file", "size": (w, h), "people": [(coco17 (17, 2) with NaN where unlabelled, box)]}``
    for the annotations with at least ``min_joints`` labelled keypoints."""
    d = json.loads((Path(folder) / "test_coco.json").read_text())
    names = tuple(d["categories"][0]["keypoints"])
    if names != COCO17.joints:
        raise ValueError(f"{folder}/test_coco.json: keypoint order {names} is not coco17's")
    out = []
    for im in d["images"]:
        people = []
        for a in d["annotations"]:
            if a["image_id"] != im["id"] or a.get("iscrowd", 0):
                continue
            k = np.asarray(a["keypoints"], np.float64).reshape(17, 3)
            if (k[:, 2] > 0).sum() < min_joints:
                continue
            xy = np.where((k[:, 2] > 0)[:, None], k[:, :2], np.nan)
            people.append((xy, np.asarray(a["bbox"], np.float64)))
        out.append({"file": im["file_name"], "size": (int(im["width"]), int(im["height"])), "people": people})
    return out


def to_bodyposenet18(coco: np.ndarray) -> np.ndarray:
    """``(18, 2)``: the COCO joints by name, the neck as the shoulder midpoint (how BodyPoseNet/OpenPose
    label it on COCO; NaN when a shoulder is unlabelled)."""
    out = np.full((18, 2), np.nan)
    for j, n in enumerate(BODYPOSENET18.joints):
        if n in COCO17.joints:
            out[j] = coco[COCO17.index(n)]
    out[BODYPOSENET18.index("neck")] = coco[[COCO17.index("left_shoulder"), COCO17.index("right_shoulder")]].mean(0)
    return out


def openpose_maps(people18, size, seed: int):
    """Channel-first Lightweight-OpenPose-shaped ``(heatmaps (19, h, w), pafs (38, h, w), cell_size)``."""
    from poselift.detectors.bodyposenet import OPENPOSE_COCO18_LIMBS, OPENPOSE_COCO18_PAF_CHANNELS
    from poselift.detectors.standins import realistic_maps

    w, h = size
    nw = int(np.ceil(w * NET_HEIGHT / h / STRIDE)) * STRIDE
    hm, by_limb = realistic_maps(people18, (nw, NET_HEIGHT), size, stride=STRIDE, paf_stride=STRIDE, seed=seed,
                                 limbs=OPENPOSE_COCO18_LIMBS)
    paf = np.zeros_like(by_limb)
    for k, (cx, cy) in enumerate(OPENPOSE_COCO18_PAF_CHANNELS):
        paf[..., cx], paf[..., cy] = by_limb[..., 2 * k], by_limb[..., 2 * k + 1]
    r = min(nw / w, NET_HEIGHT / h)
    cell = (STRIDE * w / round(w * r), STRIDE * h / round(h * r))
    return np.moveaxis(hm, -1, 0), np.moveaxis(paf, -1, 0), cell


def legacy_convert(points: np.ndarray, src: str, dst: str) -> np.ndarray:
    """The conversion before issue 27: the weight matrix times the joints (0 x NaN = NaN)."""
    m = get_mapping(src, dst)
    out = np.einsum("dj,...jf->...df", m.weights, points)
    out[..., list(m.missing), :] = np.nan
    return out


def _match(found18: np.ndarray, truth18: list[np.ndarray]) -> dict[int, int]:
    """Ground-truth index -> detection index, greedy by mean distance over shared joints."""
    cost = []
    for g, t in enumerate(truth18):
        for d, f in enumerate(found18):
            both = np.isfinite(t).all(-1) & np.isfinite(f).all(-1)
            if both.any():
                cost.append((float(np.linalg.norm(t[both] - f[both], axis=-1).mean()), g, d))
    out, used = {}, set()
    for _, g, d in sorted(cost):
        if g not in out and d not in used:
            out[g] = d
            used.add(d)
    return out


def score(images, seed: int, legacy: bool = False) -> dict[str, float]:
    """PCK@0.1 (fractions) of one map seed: ``direct`` (bodyposenet18 output, COCO joints by name) and
    ``converted`` (after ``convert`` to coco17), with joint and people counts."""
    from poselift.detectors.bodyposenet import DecodeSettings, decode_people

    settings = DecodeSettings.from_preset("openpose-coco18")
    labelled = direct = converted = found_people = 0
    ids = np.array([BODYPOSENET18.index(n) for n in COCO17.joints])
    for i, im in enumerate(images):
        truth18 = [to_bodyposenet18(xy) for xy, _ in im["people"]]
        hm, paf, cell = openpose_maps(truth18, im["size"], seed * 1000 + i)
        people = decode_people(hm, paf, settings, cell, float(im["size"][0]), layout="CHW")
        found_people += len(people)
        if len(people):
            coco = legacy_convert(people.keypoints, "bodyposenet18", "coco17") if legacy else \
                convert(people.keypoints, "bodyposenet18", "coco17")
        match = _match(people.keypoints, truth18)
        for g, (xy, box) in enumerate(im["people"]):
            lab = np.isfinite(xy).all(-1)
            labelled += int(lab.sum())
            if g not in match:
                continue
            tol = 0.1 * max(box[2], box[3])
            for pred, acc in ((people.keypoints[match[g]][ids], "d"), (coco[match[g]], "c")):
                with np.errstate(invalid="ignore"):
                    ok = lab & (np.linalg.norm(pred - xy, axis=-1) <= tol)  # NaN: not found, wrong
                if acc == "d":
                    direct += int(ok.sum())
                else:
                    converted += int(ok.sum())
    return {"direct": direct / labelled, "converted": converted / labelled, "labelled": labelled,
            "people": sum(len(im["people"]) for im in images), "found": found_people}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--coco", default=str(coco_dir()), help="folder with test_coco.json and the images")
    ap.add_argument("--seeds", type=int, default=5, help="map seeds (false peaks, heights, PAF noise)")
    ap.add_argument("--legacy", action="store_true", help="convert as before issue 27 (a matrix product)")
    args = ap.parse_args(argv)
    if not (Path(args.coco) / "test_coco.json").is_file():
        print(f"no test_coco.json in {args.coco}", file=sys.stderr)
        return 2
    images = load_people(Path(args.coco))
    rows = [score(images, s, args.legacy) for s in range(args.seeds)]
    for s, r in enumerate(rows):
        print(f"seed {s}: {r['found']} people found of {r['people']}; PCK@0.1 direct {100 * r['direct']:.1f} %, "
              f"after bodyposenet18 -> coco17 {100 * r['converted']:.1f} % ({r['labelled']} labelled joints)")
    print(f"mean over {args.seeds} seeds ({'legacy matrix product' if args.legacy else 'convert'}): direct "
          f"{100 * np.mean([r['direct'] for r in rows]):.1f} %, converted {100 * np.mean([r['converted'] for r in rows]):.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
