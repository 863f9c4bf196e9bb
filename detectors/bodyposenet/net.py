"""NVIDIA TAO BodyPoseNet through ONNX Runtime: preprocessing, the network, multi-scale maps, then :mod:`~poselift.detectors.bodyposenet.decode`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from poselift.core.errors import InputError, SignatureError
from poselift.detectors.bodyposenet.decode import DecodeSettings, People, decode_people
from poselift.detectors.images import check_image, resize_image
from poselift.detectors.runtime import OnnxModel, check_input_size, format_shape

BODYPOSENET_INPUT = "input_1:0"


BODYPOSENET_HEATMAP = "heatmap_out/BiasAdd:0"


BODYPOSENET_PAF = "conv2d_transpose_1/BiasAdd:0"
"""Tensor names of the TAO deployable model (NHWC input ``1x288x384x3``;
heatmaps ``Nx36x48x19`` at stride 8 and PAFs ``Nx144x192x38`` at stride 2
for that input). Names are settings; outputs with other names are found by
their channel count."""


@dataclass(frozen=True)
class BodyPoseNetSettings:
    """How to feed the network and read its outputs.

    Attributes:
        input_name, heatmap_name, paf_name: tensor names (TAO defaults). A
            model with one input is fed through it whatever its name; outputs
            not found by name are found by channel count (``num_joints + 1``
            heatmap channels, ``2 * limbs`` PAF channels).
        input_size: ``(width, height)`` fed to a model whose input size is
            dynamic (a fixed size in the model wins).
        channel_order: ``"RGB"`` (TAO) or ``"BGR"``.
        scale, mean: the network sees ``(pixel - mean) * scale`` (TAO: x / 255).
        layout: ``"auto"`` (from the input shape: 3 on the last axis means
            NHWC, on axis 1 NCHW), ``"NHWC"`` or ``"NCHW"``.
        scales: multi-scale inference: image scales, maps averaged on the
            first scale's grid (``(1.0,)``: single scale).
        decode: :class:`DecodeSettings`.
    """

    input_name: str = BODYPOSENET_INPUT
    heatmap_name: str = BODYPOSENET_HEATMAP
    paf_name: str = BODYPOSENET_PAF
    input_size: tuple[int, int] = (384, 288)
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    layout: str = "auto"
    scales: tuple[float, ...] = (1.0,)
    decode: DecodeSettings = field(default_factory=DecodeSettings)

    def __post_init__(self) -> None:
        if self.channel_order.upper() not in ("RGB", "BGR"):
            raise InputError(f"channel_order must be RGB or BGR, got {self.channel_order!r}")
        if self.layout.upper() not in ("AUTO", "NHWC", "NCHW"):
            raise InputError(f"layout must be auto, NHWC or NCHW, got {self.layout!r}")
        if not self.scales or any(s <= 0 for s in self.scales):
            raise InputError(f"scales must be positive, got {self.scales}")


class BodyPoseNet:
    """BodyPoseNet through ONNX Runtime: an RGB frame in, :class:`People` out.

    Args:
        model: path to the ``.onnx`` file (or its bytes).
        settings: :class:`BodyPoseNetSettings`.
        providers, threads: see :class:`~poselift.detectors.runtime.OnnxModel`.

    The input size, layout (NHWC/NCHW) and outputs are read from the model's
    own signature; a model that cannot be BodyPoseNet-like (not one 4D image
    input, no output with the right channel count) is refused with a message
    naming its tensors and shapes.

    The frame is resized keeping its aspect ratio to fit the network input
    and padded at the right/bottom with zeros (as DeepStream does with
    ``maintain-aspect-ratio=1``); keypoints come back in frame pixels.
    """

    layout_name = "bodyposenet18"

    def __init__(
        self,
        model: str | os.PathLike | bytes,
        settings: BodyPoseNetSettings | None = None,
        providers: str | Sequence[str] | None = "auto",
        threads: int | None = None,
    ) -> None:
        self.settings = settings or BodyPoseNetSettings()
        self.net = OnnxModel(model, providers=providers, threads=threads)
        self._check_input()
        self._check_outputs_static()
        self.last_timing: dict[str, float] = {}

    @property
    def provider(self) -> str:
        return self.net.provider

    # -- signature -----------------------------------------------------------------
    def _check_input(self) -> None:
        ins = self.net.inputs
        named = [s for s in ins if s.name == self.settings.input_name]
        if named:
            spec = named[0]
        elif len(ins) == 1:
            spec = ins[0]
        else:
            raise SignatureError(
                f"{self.net.name}: BodyPoseNet takes one image input (expected {self.settings.input_name!r}); "
                f"the model has inputs {', '.join(s.describe() for s in ins)}"
            )
        if len(spec.shape) != 4:
            raise SignatureError(
                f"{self.net.name}: input {spec.name!r} has shape {format_shape(spec.shape)}; BodyPoseNet expects a "
                "4D image batch, NHWC [N, H, W, 3] or NCHW [N, 3, H, W]"
            )
        if spec.dtype != "float32":
            raise SignatureError(f"{self.net.name}: input {spec.name!r} has type {spec.dtype}; expected float32")
        layout = self.settings.layout.upper()
        last, second = spec.shape[3], spec.shape[1]
        if layout == "AUTO":
            if last == 3:
                layout = "NHWC"
            elif second == 3:
                layout = "NCHW"
            elif not isinstance(last, int):
                layout = "NHWC"
            elif not isinstance(second, int):
                layout = "NCHW"
            else:
                layout = "?"
        ch = last if layout == "NHWC" else second
        if layout == "?" or (isinstance(ch, int) and ch != 3):
            raise SignatureError(
                f"{self.net.name}: input {spec.name!r} has shape {format_shape(spec.shape)}; expected 3 colour "
                "channels on axis 3 (NHWC, e.g. [1, 288, 384, 3]) or axis 1 (NCHW, e.g. [1, 3, 288, 384])"
            )
        h, w = (spec.shape[1], spec.shape[2]) if layout == "NHWC" else (spec.shape[2], spec.shape[3])
        dw, dh = self.settings.input_size
        self.input_spec = spec
        self.nhwc = layout == "NHWC"
        self.net_size = (w if isinstance(w, int) and w > 0 else int(dw), h if isinstance(h, int) and h > 0 else int(dh))
        self.fixed_size = isinstance(w, int) and w > 0 and isinstance(h, int) and h > 0
        check_input_size(self.net.name, spec.name, [self.net_size[1], self.net_size[0], 3])  # frames are resized to it

    def _channel_count(self, shape: Sequence) -> tuple[int | None, bool | None]:
        """Channel count of an output shape and whether it is channels-last."""
        if len(shape) != 4:
            return None, None
        last, second = shape[3], shape[1]
        cands = []
        if isinstance(last, int):
            cands.append((last, True))
        if isinstance(second, int):
            cands.append((second, False))
        want = (self.settings.decode.num_joints + 1, self.settings.decode.num_paf_channels)
        for c, nhwc in sorted(cands, key=lambda t: t[1] != self.nhwc):
            if c in want:
                return c, nhwc
        return None, None

    def _pick_outputs(self, shapes: dict[str, tuple]) -> tuple[str, bool, str, bool]:
        """(heatmap name, channels-last, paf name, channels-last) from output shapes."""
        d = self.settings.decode
        n_hm, n_paf = d.num_joints + 1, d.num_paf_channels
        found: dict[int, tuple[str, bool]] = {}
        for nm, want in ((self.settings.heatmap_name, n_hm), (self.settings.paf_name, n_paf)):
            if nm in shapes:
                c, nhwc = self._channel_count(shapes[nm])
                if c == want:
                    found[want] = (nm, bool(nhwc))
        for nm, shp in shapes.items():
            c, nhwc = self._channel_count(shp)
            if c is not None and c not in found:
                found[c] = (nm, bool(nhwc))
        if n_hm not in found or n_paf not in found or found[n_hm][0] == found[n_paf][0]:
            desc = ", ".join(f"{nm!r} {format_shape(s)}" for nm, s in shapes.items())
            raise SignatureError(
                f"{self.net.name}: cannot find BodyPoseNet's outputs: expected heatmaps "
                f"({self.settings.heatmap_name!r}, {n_hm} channels) and part affinity fields "
                f"({self.settings.paf_name!r}, {n_paf} channels), NHWC or NCHW; the model has {desc}"
            )
        return (*found[n_hm], *found[n_paf])  # type: ignore[return-value]

    def _check_outputs_static(self) -> None:
        shapes = {s.name: s.shape for s in self.net.outputs}
        if all(len(s) == 4 and isinstance(s[1], int) and isinstance(s[3], int) for s in shapes.values()):
            self._outputs = self._pick_outputs(shapes)
        elif len(shapes) < 2:
            desc = ", ".join(s.describe() for s in self.net.outputs)
            raise SignatureError(f"{self.net.name}: BodyPoseNet has two outputs (heatmaps and PAFs); the model has {desc}")
        else:
            self._outputs = None  # decided from the first real output

    # -- preprocessing --------------------------------------------------------------
    def preprocess(self, image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, tuple[float, float]]:
        """Frame -> network input ``(1, H, W, 3)`` or ``(1, 3, H, W)`` and the per-axis resize factors.

        The frame is resized by ``scale * min(W_net / W, H_net / H)`` and
        padded at the right/bottom. Returns ``(tensor, (rx, ry))`` with
        ``net_pixel = frame_pixel * r``.
        """
        img = check_image(image)
        h, w = img.shape[:2]
        nw, nh = self.net_size
        r = min(nw / w, nh / h) * scale
        tw, th = max(1, min(nw, int(round(w * r)))), max(1, min(nh, int(round(h * r))))
        small = resize_image(img, tw, th)
        s = self.settings
        mean = np.asarray(s.mean, np.float32)
        scale_ = np.float32(s.scale)
        # the padding is a black pixel after normalisation
        canvas = np.empty((nh, nw, 3), np.float32)
        canvas[...] = -mean * scale_
        pix = small[..., ::-1] if s.channel_order.upper() == "BGR" else small
        region = canvas[:th, :tw]
        if any(s.mean):
            np.subtract(pix, mean, out=region, casting="unsafe")
            region *= scale_
        else:
            np.multiply(pix, scale_, out=region, casting="unsafe")
        x = canvas[None] if self.nhwc else np.ascontiguousarray(canvas.transpose(2, 0, 1))[None]
        return x, (tw / w, th / h)

    def predict_maps(self, image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """Run the network on one frame.

        Returns:
            ``heatmaps (H, W, 19)``, ``pafs (Hp, Wp, 38)`` (channels last) and
            the frame pixels per heatmap cell ``(sx, sy)``.
        """
        import time

        t0 = time.perf_counter()
        x, (rx, ry) = self.preprocess(image, scale)
        t1 = time.perf_counter()
        res = self.net.run({self.input_spec.name: x})
        t2 = time.perf_counter()
        if self._outputs is None:
            self._outputs = self._pick_outputs({k: v.shape for k, v in res.items()})
        hn, hl, pn, pl = self._outputs
        hm = res[hn][0] if hl else res[hn][0].transpose(1, 2, 0)
        paf = res[pn][0] if pl else res[pn][0].transpose(1, 2, 0)
        nw, nh = self.net_size
        sx = nw / hm.shape[1] / rx
        sy = nh / hm.shape[0] / ry
        self.last_timing = {"preprocess": t1 - t0, "network": t2 - t1}
        return hm, paf, (sx, sy)

    def __call__(self, image: np.ndarray) -> People:
        """People in one RGB frame ``(H, W, 3)`` uint8; keypoints in frame pixels."""
        import time

        img = check_image(image)
        s = self.settings
        hm, paf, cell = self.predict_maps(img, s.scales[0])
        timing = dict(self.last_timing)
        if len(s.scales) > 1:
            hm, paf, extra = _multi_scale(self, img, hm, paf, cell)
            for k, v in extra.items():
                timing[k] = timing.get(k, 0.0) + v
        t0 = time.perf_counter()
        people = decode_people(hm, paf, s.decode, cell, image_width=float(img.shape[1]))
        timing["decode"] = timing.get("decode", 0.0) + time.perf_counter() - t0
        self.last_timing = timing
        return people


def _resample(maps: np.ndarray, src_cell: tuple[float, float], dst_cell: tuple[float, float],
              dst_shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of channels-last maps from one grid to another (same image coordinates)."""
    from scipy.ndimage import map_coordinates

    hh, ww = dst_shape
    gy = (np.arange(hh) + 0.5) * dst_cell[1] / src_cell[1] - 0.5
    gx = (np.arange(ww) + 0.5) * dst_cell[0] / src_cell[0] - 0.5
    yy, xx = np.meshgrid(gy, gx, indexing="ij")
    out = np.empty((hh, ww, maps.shape[2]), np.float32)
    for c in range(maps.shape[2]):
        out[..., c] = map_coordinates(maps[..., c], [yy, xx], order=1, mode="constant", cval=0.0)
    return out


def _multi_scale(net: BodyPoseNet, img: np.ndarray, hm0: np.ndarray, paf0: np.ndarray,
                 cell0: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Average the maps of all scales on the first scale's grids (and the time spent on the extra scales)."""
    import time

    hm_sum, paf_sum = hm0.astype(np.float32).copy(), paf0.astype(np.float32).copy()
    pcell0 = (cell0[0] * hm0.shape[1] / paf0.shape[1], cell0[1] * hm0.shape[0] / paf0.shape[0])
    timing = {"preprocess": 0.0, "network": 0.0, "decode": 0.0}
    for s in net.settings.scales[1:]:
        hm, paf, cell = net.predict_maps(img, s)
        for k in ("preprocess", "network"):
            timing[k] += net.last_timing[k]
        t0 = time.perf_counter()
        pcell = (cell[0] * hm.shape[1] / paf.shape[1], cell[1] * hm.shape[0] / paf.shape[0])
        hm_sum += _resample(hm, cell, cell0, hm0.shape[:2])
        paf_sum += _resample(paf, pcell, pcell0, paf0.shape[:2])
        timing["decode"] += time.perf_counter() - t0
    n = len(net.settings.scales)
    return hm_sum / n, paf_sum / n, timing
