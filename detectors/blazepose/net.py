"""BlazePose GHUM (full) through LiteRT: a frame in, every person's 33 landmarks (pixels) and world 3D out.

Per frame (:meth:`BlazePose.__call__`):

1. **regions from the previous frame**: each person found in the previous frame gives a region from
   its auxiliary landmarks 33 (mid-hip) and 34 (body-circle point), enlarged 1.25x
   (:data:`~poselift.detectors.blazepose.regions.TRACKING_SCALE`), as MediaPipe's
   ``pose_landmarks_to_roi`` does (without MediaPipe's landmark smoothing: the lifter gets the raw
   per-frame 2D);
2. **detection** (every ``detect_every`` frames, and whenever nobody is tracked): the frame letterboxed
   to 224x224 (values in [-1, 1], zero border), SSD decoding, score >= 0.5, weighted NMS (and the same on
   each tile of ``tiles``; across windows plain NMS keeps each person's best detection); each detection's
   keypoints 0 (mid-hip) and 1 (body-circle point) give a region enlarged 1.25x. A detection region whose
   centre (the mid-hip) lies within ``duplicate_distance`` of the smaller side from a tracked region's
   centre is the same person and is dropped;
3. **landmarks**, one pass per region: the rotated region resampled to 256x256 (bilinear, values in
   [0, 1]), 39 landmarks refined with the heatmap, projected back to frame pixels; world landmarks
   rotated by the region's rotation (metres, origin between the hips); kept when the pose flag is
   >= 0.5 (``min_presence``); two passes whose next regions are that close are one person (the higher
   flag is kept). (Overlap of the regions' bounds would merge people standing side by side: a region
   is 2.5 body radii wide.)

MediaPipe runs one person; several people here are several regions, each with its own landmark pass.
Named differences from MediaPipe's graph: no landmark smoothing (``pose_landmark_filtering``); the
crop's border is black (MediaPipe's landmark crop replicates the edge pixels).

LiteRT (``ai-edge-litert``, the optional extra ``blazepose``) is imported when a model is opened.
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.core.errors import InputError
from poselift.detectors.blazepose.decode import (
    DETECTOR_SIZE,
    LANDMARK_SIZE,
    NUM_ANCHORS,
    NUM_LANDMARKS,
    decode_detections,
    decode_landmarks,
    hard_nms,
    refine_with_heatmap,
    ssd_anchors,
    weighted_nms,
)
from poselift.detectors.blazepose.regions import (
    DETECTION_SCALE,
    TRACKING_SCALE,
    Region,
    crop_matrix,
    detection_windows,
    enlarge,
    region_from_points,
    same_person,
    to_frame,
)
from poselift.detectors.images import check_image

__all__ = ["BlazePose", "BlazePoseSettings", "BlazePosePeople", "MODEL_FILES", "MODEL_SHA256", "model_paths",
           "open_interpreter"]

MODEL_FILES = {"detector": "pose_detection.tflite", "landmarks": "pose_landmark_full.tflite"}
"""The two files a model folder holds."""

MODEL_SHA256 = {
    "pose_detection.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "pose_landmark_full.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
"""SHA-256 of the files in the ``mediapipe==0.10.21`` wheel (the ones this module was measured with)."""

_INSTALL_HINT = "BlazePose runs on LiteRT: pip install 'poselift[blazepose]' (or pip install ai-edge-litert)"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_paths(model_dir: str | os.PathLike) -> dict[str, Path]:
    """``{"detector": path, "landmarks": path}`` in ``model_dir``; a clear error when one is missing."""
    d = Path(model_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"no such BlazePose model folder: {d} (get the files with 'poselift models extract')")
    out = {k: d / v for k, v in MODEL_FILES.items()}
    missing = [p.name for p in out.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(missing)} (get them with 'poselift models extract "
                                "mediapipe-0.10.21-...whl --out DIR')")
    return out


def open_interpreter(path: Path, threads: int | None):
    """A LiteRT interpreter for ``path`` (``threads`` CPU threads; ``None``: LiteRT's default)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    try:
        it = Interpreter(model_path=str(path), num_threads=threads)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise InputError(f"{path}: LiteRT cannot open it as a TensorFlow Lite model: {e}") from None
    return it


@dataclass(frozen=True)
class BlazePoseSettings:
    """Settings of :class:`BlazePose` (defaults: MediaPipe's pose graph).

    Attributes:
        min_detection_score: detector score threshold (after the sigmoid).
        nms_iou: IoU above which detections are merged (weighted NMS).
        nms: ``"weighted"`` (MediaPipe: overlapping detections of a window averaged by score) or ``"hard"``
            (the best kept as it is). Across windows (tiles) the best is always kept as it is.
        min_presence: pose flag needed to keep a landmark pass.
        detection_scale, tracking_scale: region enlargement from detections / previous landmarks.
        track: place each person's next region from their landmarks (else detect every frame only).
        detect_every: run the detector every this many frames (1: every frame, so new people are found
            at once); it always runs when nobody is tracked.
        duplicate_distance: two regions whose centres (mid-hips) are closer than this fraction of the
            smaller region's side are the same person.
        max_people: landmark passes per frame at most (tracked people first, then detections by score).
        tiles: besides the whole frame, the detector also looks at square tiles of these sizes (fractions of
            the shorter frame side, e.g. ``(1.0, 0.5)``); MediaPipe's detector, made for one prominent
            person, finds small people only when they fill more of its input. Each tile is one more
            detector call.
        refine_with_heatmap: refine the landmarks with the heatmap (MediaPipe does).
    """

    min_detection_score: float = 0.5
    nms_iou: float = 0.3
    nms: str = "weighted"
    min_presence: float = 0.5
    detection_scale: float = DETECTION_SCALE
    tracking_scale: float = TRACKING_SCALE
    track: bool = True
    detect_every: int = 1
    duplicate_distance: float = 0.2
    max_people: int = 10
    refine_with_heatmap: bool = True
    tiles: tuple[float, ...] = (1.0, 0.5)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiles", tuple(float(f) for f in self.tiles))
        if self.nms not in ("weighted", "hard"):
            raise InputError(f"BlazePose nms must be 'weighted' or 'hard', got {self.nms!r}")
        if any(not 0 < f <= 1 for f in self.tiles):
            raise InputError(f"BlazePose tiles are fractions of the shorter frame side in (0, 1], got {self.tiles}")
        for name in ("min_detection_score", "nms_iou", "min_presence", "duplicate_distance"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise InputError(f"BlazePose {name} must be in [0, 1], got {v}")
        if self.detect_every < 1 or self.max_people < 1:
            raise InputError(f"BlazePose detect_every and max_people must be >= 1, got {self.detect_every}, "
                             f"{self.max_people}")
        if not (self.detection_scale > 0 and self.tracking_scale > 0):
            raise InputError("BlazePose region scales must be positive")


@dataclass
class BlazePosePeople:
    """The people BlazePose found in one frame (``N`` of them).

    Attributes:
        keypoints: ``(N, 33, 2)`` frame pixels (x right, y down; pixel ``i`` spans ``[i, i + 1)``).
        confidence: ``(N, 33)`` visibility (sigmoid): how likely the landmark is visible, not occluded.
        presence: ``(N, 33)`` presence (sigmoid): how likely it lies inside the frame.
        world: ``(N, 33, 3)`` BlazePose's own single-frame 3D (metres, origin between the hips,
            x right, y down, z away from the camera; rotated by the region's rotation as MediaPipe does).
        depth: ``(N, 33)`` the landmark network's relative depth, in frame pixels (MediaPipe's ``z``
            times the region width).
        score: ``(N,)`` the pose flag of each landmark pass.
        regions: the region each person's landmarks were read in.
        next_regions: each person's region for the next frame.
        from_tracking: ``(N,)`` True when the region came from the previous frame.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    depth: np.ndarray
    score: np.ndarray
    regions: list[Region] = field(default_factory=list)
    next_regions: list[Region] = field(default_factory=list)
    from_tracking: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def extras(self) -> dict[str, np.ndarray]:
        """Per-person arrays carried into the tracks: ``pose3d`` (the world landmarks)."""
        return {"pose3d": self.world.astype(np.float32)}

    def boxes(self) -> np.ndarray:
        """``(N, 4)`` the keypoints' extent ``x0, y0, x1, y1``."""
        if not len(self):
            return np.zeros((0, 4))
        return np.concatenate([self.keypoints.min(1), self.keypoints.max(1)], 1).astype(np.float64)

    @classmethod
    def stack(cls, people: list[dict]) -> "BlazePosePeople":
        j = 33
        if not people:
            z = np.zeros
            return cls(z((0, j, 2), np.float32), z((0, j), np.float32), z((0, j), np.float32),
                       z((0, j, 3), np.float32), z((0, j), np.float32), z(0), [], [], z(0, bool))
        g = lambda k, dt=np.float32: np.stack([p[k] for p in people]).astype(dt)  # noqa: E731
        return cls(g("keypoints"), g("confidence"), g("presence"), g("world"), g("depth"), g("score", np.float64),
                   [p["region"] for p in people], [p["next_region"] for p in people], g("tracked", bool))


class BlazePose:
    """BlazePose GHUM (full): detector + landmark network, several people, regions tracked between frames.

    Args:
        model_dir: a folder with ``pose_detection.tflite`` and ``pose_landmark_full.tflite``
            (see :func:`~poselift.detectors.blazepose.weights.extract_models`).
        settings: :class:`BlazePoseSettings`.
        threads: CPU threads per network (``None``: LiteRT's default; 1 for the measured timings).
        check_hashes: warn when a file is not the one measured here (another MediaPipe release).

    Calling it on frames in order tracks people's regions; :meth:`reset` forgets them (a new video).
    ``last_timing`` has the seconds of the last call: ``detection`` (preprocess + network + decoding),
    ``landmarks`` (all passes), ``regions`` (region tracking and duplicates), and ``preprocess``, ``network``,
    ``decode`` summed over both networks.
    """

    layout_name = "blazepose33"
    provider = "LiteRT CPU"
    file_attrs = {"pose3d_units": "m", "pose3d_kind": "BlazePose world landmarks: metres, origin between the hips"}
    """Attributes :func:`~poselift.detectors.pipeline.detect_video` writes into the keypoint file."""

    def __init__(self, model_dir: str | os.PathLike, settings: BlazePoseSettings = BlazePoseSettings(),
                 threads: int | None = 1, check_hashes: bool = True) -> None:
        paths = model_paths(model_dir)
        self.paths = paths
        self.settings = settings
        if check_hashes:
            for p in paths.values():
                got = sha256_file(p)
                if got != MODEL_SHA256[p.name]:
                    warnings.warn(f"{p}: SHA-256 {got[:12]}... is not the mediapipe 0.10.21 file this detector was "
                                  f"measured with ({MODEL_SHA256[p.name][:12]}...); its pre/post-processing may differ",
                                  stacklevel=2)
        self._det = open_interpreter(paths["detector"], threads)
        self._lmk = open_interpreter(paths["landmarks"], threads)
        self._det_in, self._det_out = self._check(self._det, paths["detector"], (1, DETECTOR_SIZE, DETECTOR_SIZE, 3),
                                                  {(1, NUM_ANCHORS, 12): "boxes", (1, NUM_ANCHORS, 1): "scores"})
        self._lmk_in, self._lmk_out = self._check(
            self._lmk, paths["landmarks"], (1, LANDMARK_SIZE, LANDMARK_SIZE, 3),
            {(1, NUM_LANDMARKS * 5): "landmarks", (1, 1): "flag", (1, 64, 64, NUM_LANDMARKS): "heatmap",
             (1, NUM_LANDMARKS * 3): "world", (1, LANDMARK_SIZE, LANDMARK_SIZE, 1): "segmentation"})
        self.anchors = ssd_anchors()
        self.threads = threads
        self.last_timing: dict[str, float] = {}
        self.reset()

    @staticmethod
    def _check(it, path: Path, in_shape: tuple, outs: dict) -> tuple[int, dict[str, int]]:
        ins = it.get_input_details()
        if len(ins) != 1 or tuple(ins[0]["shape"]) != in_shape:
            raise InputError(f"{path}: input {[tuple(d['shape']) for d in ins]}, expected one {in_shape} "
                             "(not BlazePose GHUM full?)")
        got = {}
        for d in it.get_output_details():
            k = outs.get(tuple(int(v) for v in d["shape"]))
            if k is not None:
                got[k] = d["index"]
        if set(got) != set(outs.values()):
            raise InputError(f"{path}: outputs {[tuple(d['shape']) for d in it.get_output_details()]}, expected "
                             f"{sorted(outs)} (not BlazePose GHUM full?)")
        return ins[0]["index"], got

    def reset(self) -> None:
        """Forget the tracked regions (call before a new video)."""
        self._tracked: list[Region] = []
        self._frame = 0

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def _warp(pil_image, region: Region, size: int) -> np.ndarray:
        from PIL import Image

        m = crop_matrix(region, size)
        out = pil_image.transform((size, size), Image.AFFINE, tuple(m.ravel()), resample=Image.BILINEAR,
                                  fillcolor=(0, 0, 0))
        return np.asarray(out, np.float32)

    def detect(self, frame: np.ndarray, _pil=None, timing: dict | None = None):
        """Run the detector on the whole frame and on the tiles of ``settings.tiles``.

        Returns:
            ``(regions, scores (N,), keypoints (N, 4, 2) frame pixels)``: one enlarged region per detection
            after NMS, best first.
        """
        from PIL import Image

        img = check_image(frame)
        h, w = img.shape[:2]
        t = timing if timing is not None else {}
        t0 = time.perf_counter()
        pil = _pil if _pil is not None else Image.fromarray(np.ascontiguousarray(img, np.uint8))
        s = self.settings
        prep = net = dec = 0.0
        all_boxes, all_kps, all_scores = [], [], []
        for window in detection_windows(w, h, s.tiles):
            ta = time.perf_counter()
            x = self._warp(pil, window, DETECTOR_SIZE) / 127.5 - 1.0
            tb = time.perf_counter()
            self._det.set_tensor(self._det_in, x[None].astype(np.float32))
            self._det.invoke()
            raw_boxes = self._det.get_tensor(self._det_out["boxes"])[0]
            raw_scores = self._det.get_tensor(self._det_out["scores"])[0]
            tc = time.perf_counter()
            boxes, kps, scores = decode_detections(raw_boxes, raw_scores, self.anchors, s.min_detection_score)
            nms = weighted_nms if s.nms == "weighted" else hard_nms  # MediaPipe: weighted, within a window
            boxes, kps, scores = nms(boxes, kps, scores, s.nms_iou)
            corners = to_frame(boxes.reshape(-1, 2, 2) * DETECTOR_SIZE, window, DETECTOR_SIZE).reshape(-1, 4)
            all_boxes.append(corners)
            all_kps.append(to_frame(kps * DETECTOR_SIZE, window, DETECTOR_SIZE))
            all_scores.append(scores)
            prep, net, dec = prep + tb - ta, net + tc - tb, dec + time.perf_counter() - tc
        t2 = time.perf_counter()
        # across windows the best detection of a person is kept as it is: averaging would mix in a tile's
        # view of a person the tile cuts (PCK on the COCO images 0.862 averaged, 0.890 kept)
        boxes, kp_px, scores = hard_nms(np.concatenate(all_boxes), np.concatenate(all_kps),
                                        np.concatenate(all_scores), s.nms_iou)
        regions = [enlarge(region_from_points(k[0], k[1]), s.detection_scale) for k in kp_px]
        t3 = time.perf_counter()
        for k, v in (("preprocess", prep), ("network", net), ("decode", dec + t3 - t2), ("detection", t3 - t0)):
            t[k] = t.get(k, 0.0) + v
        return regions, scores, kp_px

    def landmarks(self, frame: np.ndarray, region: Region, _pil=None, timing: dict | None = None) -> dict:
        """One landmark pass in ``region``: a dict with ``keypoints (33, 2)``, ``confidence``, ``presence``,
        ``world (33, 3)``, ``depth``, ``score`` (the pose flag), ``region``, ``next_region``."""
        from PIL import Image

        t = timing if timing is not None else {}
        t0 = time.perf_counter()
        pil = _pil if _pil is not None else Image.fromarray(np.ascontiguousarray(check_image(frame), np.uint8))
        x = self._warp(pil, region, LANDMARK_SIZE) / 255.0
        t1 = time.perf_counter()
        self._lmk.set_tensor(self._lmk_in, x[None].astype(np.float32))
        self._lmk.invoke()
        raw = self._lmk.get_tensor(self._lmk_out["landmarks"])[0]
        flag = float(self._lmk.get_tensor(self._lmk_out["flag"]).reshape(-1)[0])
        heat = self._lmk.get_tensor(self._lmk_out["heatmap"])[0]
        world = self._lmk.get_tensor(self._lmk_out["world"])[0].reshape(NUM_LANDMARKS, 3).astype(np.float64)
        t2 = time.perf_counter()
        xyz, vis, pres = decode_landmarks(raw)
        xy = refine_with_heatmap(xyz[:, :2], heat) if self.settings.refine_with_heatmap else xyz[:, :2]
        px = to_frame(xy, region, LANDMARK_SIZE)
        c, s = np.cos(region.rotation), np.sin(region.rotation)
        wx, wy = world[:, 0].copy(), world[:, 1].copy()
        world[:, 0], world[:, 1] = c * wx - s * wy, s * wx + c * wy
        nxt = enlarge(region_from_points(px[33], px[34]), self.settings.tracking_scale)
        t3 = time.perf_counter()
        for k, v in (("preprocess", t1 - t0), ("network", t2 - t1), ("decode", t3 - t2), ("landmarks", t3 - t0)):
            t[k] = t.get(k, 0.0) + v
        side = max(region.width, region.height)
        return {"keypoints": px[:33], "confidence": vis[:33], "presence": pres[:33], "world": world[:33],
                "depth": xyz[:33, 2] / LANDMARK_SIZE * side, "score": flag, "region": region, "next_region": nxt}

    # ------------------------------------------------------------------ a frame
    def __call__(self, frame: np.ndarray) -> BlazePosePeople:
        """Every person in ``frame`` (the next frame of the video: regions carry over from the previous call)."""
        from PIL import Image

        img = check_image(frame)
        s = self.settings
        timing: dict[str, float] = {"regions": 0.0}
        pil = Image.fromarray(np.ascontiguousarray(img, np.uint8))
        tracked = list(self._tracked) if s.track else []
        candidates = [(r, True) for r in tracked[: s.max_people]]
        if not tracked or self._frame % s.detect_every == 0:
            regions, _, _ = self.detect(img, pil, timing)
            t0 = time.perf_counter()
            known = list(tracked)
            for r in regions:
                if len(candidates) >= s.max_people:
                    break
                if any(self._same(r, k) for k in known):
                    continue
                candidates.append((r, False))
                known.append(r)
            timing["regions"] += time.perf_counter() - t0
        people = []
        for region, was_tracked in candidates:
            p = self.landmarks(img, region, pil, timing)
            if p["score"] >= s.min_presence:
                p["tracked"] = was_tracked
                people.append(p)
        t0 = time.perf_counter()
        people = self._dedupe(people)
        self._tracked = [p["next_region"] for p in people]
        self._frame += 1
        timing["regions"] += time.perf_counter() - t0
        timing.setdefault("detection", 0.0)
        timing.setdefault("landmarks", 0.0)
        self.last_timing = timing
        return BlazePosePeople.stack(people)

    def _same(self, a: Region, b: Region) -> bool:
        return same_person(a, b, self.settings.duplicate_distance)

    def _dedupe(self, people: list[dict]) -> list[dict]:
        """Drop a person whose next region coincides with a better one's (two regions converged on one person)."""
        order = sorted(range(len(people)), key=lambda i: -people[i]["score"])
        kept: list[int] = []
        for i in order:
            if any(self._same(people[i]["next_region"], people[k]["next_region"]) for k in kept):
                continue
            kept.append(i)
        return [people[i] for i in sorted(kept)]
