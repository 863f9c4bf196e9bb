"""BlazePose's tensors to numbers: SSD anchors, detection decoding, weighted non-maximum suppression,
landmark decoding and heatmap refinement.

Facts from MediaPipe's graphs (``pose_detection_cpu.pbtxt``, ``tensors_to_pose_landmarks_and_segmentation.pbtxt``),
re-derived here:

* **anchors** (:func:`ssd_anchors`): 5 layers, strides 8, 16, 32, 32, 32 on a 224x224 input, offset 0.5,
  aspect ratio 1 plus one interpolated anchor per layer, fixed anchor size: layers of equal stride share
  their grid, so the anchors are (28x28 + 14x14) x 2 + 7x7 x 6 = 2254 centres (normalised), in grid
  order, every anchor 1 x 1;
* **detections** (:func:`decode_detections`): per anchor, ``x, y, w, h`` then 4 keypoints ``x, y``, all in
  input pixels relative to the anchor centre: ``value / 224 + anchor``; score ``sigmoid(clip(logit, ±100))``,
  kept at ``>= min_score`` (MediaPipe: 0.5);
* **NMS** (:func:`weighted_nms`): weighted, IoU 0.3: the best remaining detection and every other with
  IoU above the threshold are averaged, weighted by score (box and keypoints); the best score is kept;
* **landmarks** (:func:`decode_landmarks`): 39 x (x, y, z, visibility, presence), x, y, z in input pixels;
  visibility and presence through a sigmoid; the pose flag is a probability, pose present at ``>= 0.5``;
* **heatmap refinement** (:func:`refine_with_heatmap`): 7x7 window of the 64x64 heatmap around each
  landmark; when its largest sigmoid confidence reaches 0.5, the landmark moves to the
  confidence-weighted mean of the window's cell indices, over the heatmap size.
"""
from __future__ import annotations

import numpy as np

from poselift.core.errors import InputError

__all__ = ["ssd_anchors", "decode_detections", "weighted_nms", "hard_nms", "box_iou", "decode_landmarks",
           "refine_with_heatmap", "sigmoid", "NUM_ANCHORS", "DETECTOR_SIZE", "LANDMARK_SIZE", "NUM_LANDMARKS"]

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_ANCHORS = 2254
NUM_LANDMARKS = 39


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return 1.0 / (1.0 + np.exp(-x))


def ssd_anchors(input_size: int = DETECTOR_SIZE, strides=(8, 16, 32, 32, 32), offset: float = 0.5,
                anchors_per_layer: int = 2) -> np.ndarray:
    """``(A, 2)`` normalised anchor centres ``x, y`` (fixed-size anchors: width and height are 1).

    Consecutive layers with the same stride share one grid; each grid cell carries
    ``anchors_per_layer`` anchors per layer of that stride (aspect ratio 1 and the interpolated one).
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = -(-input_size // strides[i])  # ceil
        per_cell = anchors_per_layer * (j - i)
        ys, xs = np.meshgrid((np.arange(n) + offset) / n, (np.arange(n) + offset) / n, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], 1)
        out.append(np.repeat(cells, per_cell, axis=0))
        i = j
    return np.concatenate(out)


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                      min_score: float = 0.5, input_size: int = DETECTOR_SIZE, clip: float = 100.0):
    """Decode the detector's outputs.

    Args:
        raw_boxes: ``(A, 12)``: box ``cx, cy, w, h`` and 4 keypoints ``x, y`` (input pixels, anchor-relative).
        raw_scores: ``(A,)`` or ``(A, 1)`` logits.
        anchors: ``(A, 2)`` from :func:`ssd_anchors`.

    Returns:
        ``(boxes (N, 4) x0, y0, x1, y1, keypoints (N, 4, 2), scores (N,))``, normalised to the input square.
    """
    b = np.asarray(raw_boxes, np.float64).reshape(-1, 12)
    s = np.asarray(raw_scores, np.float64).reshape(-1)
    a = np.asarray(anchors, np.float64)
    if not (len(b) == len(s) == len(a)):
        raise InputError(f"detector outputs disagree: {len(b)} boxes, {len(s)} scores, {len(a)} anchors")
    scores = sigmoid(np.clip(s, -clip, clip))
    keep = scores >= min_score
    b, a, scores = b[keep], a[keep], scores[keep]
    c = b[:, :2] / input_size + a
    wh = b[:, 2:4] / input_size
    boxes = np.concatenate([c - wh / 2, c + wh / 2], 1)
    kps = b[:, 4:12].reshape(-1, 4, 2) / input_size + a[:, None, :]
    return boxes, kps, scores


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(N, 4)`` boxes (``x0, y0, x1, y1``)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0 = np.maximum(box[0], b[:, 0])
    y0 = np.maximum(box[1], b[:, 1])
    x1 = np.minimum(box[2], b[:, 2])
    y1 = np.minimum(box[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3):
    """Weighted non-maximum suppression; returns ``(boxes, keypoints, scores)`` best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.arange(len(scores))
    ob, ok, osc = [], [], []
    while remaining.size:
        best = remaining[0]
        iou = box_iou(boxes[best], boxes[remaining])
        group = remaining[(iou > iou_threshold) | (remaining == best)]
        w = scores[group] / scores[group].sum()
        ob.append((boxes[group] * w[:, None]).sum(0))
        ok.append((keypoints[group] * w[:, None, None]).sum(0))
        osc.append(scores[best])
        remaining = remaining[~np.isin(remaining, group)]
    if not ob:
        return np.zeros((0, 4)), np.zeros((0,) + keypoints.shape[1:]), np.zeros(0)
    return np.stack(ob), np.stack(ok), np.asarray(osc)


def hard_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3):
    """Plain non-maximum suppression (the best of each overlapping group is kept unchanged); best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    keep: list[int] = []
    for i in range(len(scores)):
        if not keep or box_iou(boxes[i], boxes[keep]).max() <= iou_threshold:
            keep.append(i)
    return boxes[keep], keypoints[keep], scores[keep]


def decode_landmarks(raw: np.ndarray, num_landmarks: int = NUM_LANDMARKS):
    """``(num_landmarks * 5,)`` raw landmarks to ``(xyz (L, 3) input pixels, visibility (L,), presence (L,))``."""
    r = np.asarray(raw, np.float64).reshape(num_landmarks, 5)
    return r[:, :3].copy(), sigmoid(r[:, 3]), sigmoid(r[:, 4])


def refine_with_heatmap(xy: np.ndarray, heatmap: np.ndarray, input_size: int = LANDMARK_SIZE,
                        kernel: int = 7, min_confidence: float = 0.5) -> np.ndarray:
    """Landmarks ``(L, 2)`` (input pixels) refined with the ``(h, w, L)`` heatmap logits; returns a copy."""
    hm = np.asarray(heatmap, np.float64)
    hh, hw, n = hm.shape
    out = np.array(xy, np.float64, copy=True)
    if out.shape != (n, 2):
        raise InputError(f"{out.shape[0]} landmarks for a heatmap with {n} channels")
    half = (kernel - 1) // 2
    for j in range(n):
        col = int(out[j, 0] / input_size * hw)
        row = int(out[j, 1] / input_size * hh)
        if not (0 <= col < hw and 0 <= row < hh):
            continue
        r0, r1 = max(0, row - half), min(hh, row + half + 1)
        c0, c1 = max(0, col - half), min(hw, col + half + 1)
        conf = sigmoid(hm[r0:r1, c0:c1, j])
        total = conf.sum()
        if conf.max() < min_confidence or total <= 0:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        # MediaPipe's convention: the weighted mean cell index over the heatmap size (no half-cell shift)
        out[j, 0] = (cols * conf).sum() / total / hw * input_size
        out[j, 1] = (rows * conf).sum() / total / hh * input_size
    return out
