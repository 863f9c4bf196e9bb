"""NVIDIA TAO BodyPoseNet (and other OpenPose-style networks) through ONNX Runtime: preprocessing, the
network, multi-scale maps (tiles on fixed-size networks), then :mod:`~poselift.detectors.bodyposenet.decode`."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from poselift.core.errors import InputError, InputWarning, SignatureError
from poselift.detectors.bodyposenet.decode import PROBLEMS, DecodeSettings, People, decode_people
from poselift.detectors.images import check_image, resize_image, tile_starts, to_network_input
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
            first scale's grid (``(1.0,)``: single scale). A scale above 1 magnifies
            the frame (both axes alike): a fixed-size network runs on overlapping tiles
            of the magnified frame, a dynamic one on the whole magnified frame.
        decode: :class:`DecodeSettings` (limb topology and PAF channel order:
            :meth:`DecodeSettings.from_preset`, e.g. ``"openpose-coco18"``).

    :func:`load_settings` reads these from a JSON/YAML file (``poselift detect --settings``).
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
        if len(tuple(self.mean)) not in (1, 3):
            raise InputError(f"mean must be 1 or 3 numbers (in channel_order), got {self.mean}")
        if not (np.isfinite(self.scale) and self.scale != 0):
            raise InputError(f"scale must be a finite non-zero number, got {self.scale}")


_SETTING_KEYS = ("input_name", "heatmap_name", "paf_name", "input_size", "channel_order", "scale", "mean", "layout",
                 "scales", "paf_preset", "decode")


def settings_from_dict(d: dict, where: str = "settings") -> BodyPoseNetSettings:
    """:class:`BodyPoseNetSettings` from a plain dict (a settings file): the fields of
    :class:`BodyPoseNetSettings`, ``paf_preset`` (a name in :data:`PAF_PRESETS`) and ``decode`` (a dict of
    :class:`DecodeSettings` fields). Unknown keys are errors naming them."""
    import dataclasses

    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a mapping of settings, got {type(d).__name__}")
    unknown = sorted(str(k) for k in d if k not in _SETTING_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown setting(s) {unknown}; allowed: {list(_SETTING_KEYS)}")
    kw = {k: v for k, v in d.items() if k not in ("paf_preset", "decode")}
    try:
        for k, tp in (("input_size", int), ("mean", float), ("scales", float)):
            if k in kw:
                kw[k] = tuple(tp(v) for v in (kw[k] if isinstance(kw[k], (list, tuple)) else (kw[k],)))
        if "scale" in kw:
            kw["scale"] = float(kw["scale"])
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: {e}") from None
    dec = dict(d.get("decode") or {})
    allowed = {f.name for f in dataclasses.fields(DecodeSettings)}
    bad = sorted(str(k) for k in dec if k not in allowed)
    if bad:
        raise InputError(f"{where}: unknown decode setting(s) {bad}; allowed: {sorted(allowed)}")
    for k in ("limbs", "paf_channels"):
        if dec.get(k) is not None:
            dec[k] = tuple(tuple(int(v) for v in pair) for pair in dec[k])
    try:
        decode = DecodeSettings.from_preset(d["paf_preset"], **dec) if d.get("paf_preset") else DecodeSettings(**dec)
        return BodyPoseNetSettings(**kw, decode=decode)
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: {e}") from None


def load_settings(path: str | os.PathLike) -> BodyPoseNetSettings:
    """Read :func:`settings_from_dict` settings from a ``.json`` or ``.yaml`` file."""
    import json
    from pathlib import Path

    from poselift.core.errors import FileFormatError
    from poselift.core.io import read_yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such settings file: {path}")
    if path.suffix.lower() != ".json":
        return settings_from_dict(read_yaml(path) or {}, str(path))
    text = path.read_text(encoding="utf-8")
    try:
        d = json.loads(text)
    except ValueError as e:
        raise FileFormatError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} "
                              f"({' '.join(str(e).split())[:200]})", path) from None
    return settings_from_dict(d or {}, str(path))


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
        self.weak_frames = 0  # frames with nobody found and every heatmap below the threshold
        self.unlinked_frames = 0  # frames with strong joint peaks that the PAFs leave unlinked
        self._warned: set[str] = set()

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
        d = self.settings.decode
        want = (d.num_joints + 1, d.num_joints, d.num_paf_channels)
        for c, nhwc in sorted(cands, key=lambda t: t[1] != self.nhwc):
            if c in want:
                return c, nhwc
        return None, None

    def _pick_outputs(self, shapes: dict[str, tuple]) -> tuple[str, bool, str, bool]:
        """(heatmap name, channels-last, paf name, channels-last) from output shapes."""
        d = self.settings.decode
        n_paf = d.num_paf_channels
        found: dict[int, tuple[str, bool]] = {}
        for nm, wants in ((self.settings.heatmap_name, (d.num_joints + 1, d.num_joints)),
                          (self.settings.paf_name, (n_paf,))):
            if nm in shapes:
                c, nhwc = self._channel_count(shapes[nm])
                if c in wants:
                    found[c] = (nm, bool(nhwc))
        for nm, shp in shapes.items():
            c, nhwc = self._channel_count(shp)
            if c is not None and c not in found:
                found[c] = (nm, bool(nhwc))
        n_hm = d.num_joints + 1 if d.num_joints + 1 in found else d.num_joints
        if n_hm not in found or n_paf not in found or found[n_hm][0] == found[n_paf][0]:
            desc = ", ".join(f"{nm!r} {format_shape(s)}" for nm, s in shapes.items())
            raise SignatureError(
                f"{self.net.name}: cannot find BodyPoseNet's outputs: expected heatmaps "
                f"({self.settings.heatmap_name!r}, {d.num_joints + 1} or {d.num_joints} channels) and part affinity fields "
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
    def _ratio(self, image: np.ndarray, scale: float) -> tuple[np.ndarray, int, int]:
        """The frame and its size ``(tw, th)`` at ``scale`` times the size that fits the network input."""
        img = check_image(image)
        h, w = img.shape[:2]
        nw, nh = self.net_size
        r = min(nw / w, nh / h) * scale
        return img, max(1, int(round(w * r))), max(1, int(round(h * r)))

    def _input(self, pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        s = self.settings
        return to_network_input(pixels, size, s.channel_order, s.mean, s.scale, channels_first=not self.nhwc)

    def preprocess(self, image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, tuple[float, float]]:
        """Frame -> one network input ``(1, H, W, 3)`` or ``(1, 3, H, W)`` and the resize factors ``(rx, ry)``.

        The frame is resized by ``scale * min(W_net / W, H_net / H)`` on both axes (its aspect ratio
        kept) and padded at the right/bottom; ``net_pixel = frame_pixel * r``. A dynamic-size network
        gets an input grown to the magnified frame (rounded up to a multiple of 8); on a fixed-size
        network a frame magnified past the input does not fit one pass:
        :meth:`predict_maps` runs it on tiles, this raises :class:`InputError`.
        """
        img, tw, th = self._ratio(image, scale)
        h, w = img.shape[:2]
        size = self._canvas(tw, th)
        return self._input(resize_image(img, tw, th), size), (tw / w, th / h)

    def _canvas(self, tw: int, th: int) -> tuple[int, int]:
        nw, nh = self.net_size
        if tw <= nw and th <= nh:
            return nw, nh
        if not self.fixed_size:
            return max(nw, -(-tw // 8) * 8), max(nh, -(-th // 8) * 8)
        raise InputError(f"{self.net.name}: the frame magnified to {tw}x{th} does not fit the fixed {nw}x{nh} "
                         "network input in one pass (predict_maps runs it on tiles)")

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One network pass: channels-last ``(heatmaps, pafs)`` of batch item 0."""
        res = self.net.run({self.input_spec.name: x})
        if self._outputs is None:
            self._outputs = self._pick_outputs({k: v.shape for k, v in res.items()})
        hn, hl, pn, pl = self._outputs
        hm = res[hn][0] if hl else res[hn][0].transpose(1, 2, 0)
        paf = res[pn][0] if pl else res[pn][0].transpose(1, 2, 0)
        return hm, paf

    def predict_maps(self, image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """Run the network on one frame at ``scale``.

        A scale that magnifies the frame past a fixed-size network input runs the network on
        overlapping tiles of the magnified frame (neighbours overlap by at least a quarter, every tile
        on the heatmap grid) and averages the maps where tiles overlap: real magnification of both
        axes alike, not a squeeze of one.

        Returns:
            ``heatmaps (H, W, C)``, ``pafs (Hp, Wp, Cp)`` (channels last) and
            the frame pixels per heatmap cell ``(sx, sy)``.
        """
        import time

        t0 = time.perf_counter()
        img, tw, th = self._ratio(image, scale)
        h, w = img.shape[:2]
        nw, nh = self.net_size
        rx, ry = tw / w, th / h
        small = resize_image(img, tw, th)
        t_pre = time.perf_counter() - t0
        if tw <= nw and th <= nh or not self.fixed_size:
            size = self._canvas(tw, th)
            x = self._input(small, size)
            t1 = time.perf_counter()
            hm, paf = self._run(x)
            t_net = time.perf_counter() - t1
            sx, sy = size[0] / hm.shape[1] / rx, size[1] / hm.shape[0] / ry
        else:
            hm, paf, (stride_x, stride_y), t_pre2, t_net = self._tiled(small)
            t_pre += t_pre2
            sx, sy = stride_x / rx, stride_y / ry
        self.last_timing = {"preprocess": t_pre, "network": t_net}
        return hm, paf, (sx, sy)

    def _tiled(self, small: np.ndarray):
        """Maps of a magnified frame ``(th, tw, 3)`` larger than the fixed input, from overlapping tiles."""
        import time

        nw, nh = self.net_size
        th, tw = small.shape[:2]
        t_pre = t_net = 0.0

        def run(x0: int, y0: int):
            nonlocal t_pre, t_net
            t0 = time.perf_counter()
            x = self._input(small[y0 : y0 + nh, x0 : x0 + nw], (nw, nh))
            t1 = time.perf_counter()
            out = self._run(x)
            t_pre += t1 - t0
            t_net += time.perf_counter() - t1
            return out

        hm0, paf0 = run(0, 0)
        strides = []
        for maps in (hm0, paf0):
            gx, gy = nw / maps.shape[1], nh / maps.shape[0]
            if gx != int(gx) or gy != int(gy):
                raise InputError(f"{self.net.name}: cannot tile: the {nw}x{nh} input is not a whole multiple of "
                                 f"its {maps.shape[1]}x{maps.shape[0]} output grid")
            strides.append((int(gx), int(gy)))
        (hsx, hsy), (psx, psy) = strides
        if hsx % psx or hsy % psy:
            raise InputError(f"{self.net.name}: cannot tile: heatmap stride {hsx}x{hsy} is not a multiple of the "
                             f"PAF stride {psx}x{psy}")
        xs, ys = tile_starts(tw, nw, hsx), tile_starts(th, nh, hsy)
        W, H = xs[-1] + nw, ys[-1] + nh
        hm_sum = np.zeros((H // hsy, W // hsx, hm0.shape[2]), np.float32)
        paf_sum = np.zeros((H // psy, W // psx, paf0.shape[2]), np.float32)
        hm_n = np.zeros(hm_sum.shape[:2] + (1,), np.float32)
        paf_n = np.zeros(paf_sum.shape[:2] + (1,), np.float32)
        for y0 in ys:
            for x0 in xs:
                hm, paf = (hm0, paf0) if (x0, y0) == (0, 0) else run(x0, y0)
                # a network sees less context near a tile's inner edges: those cells weigh less than the
                # same cells in the neighbouring tile, which sees them from further inside
                inner = (x0 > 0, x0 + nw < W, y0 > 0, y0 + nh < H)
                for maps, acc, n, (gx, gy) in ((hm, hm_sum, hm_n, (hsx, hsy)), (paf, paf_sum, paf_n, (psx, psy))):
                    wgt = _feather(maps.shape[:2], inner, (nw // 8 / gx, nh // 8 / gy))
                    a, b = y0 // gy, x0 // gx
                    acc[a : a + maps.shape[0], b : b + maps.shape[1]] += maps * wgt
                    n[a : a + maps.shape[0], b : b + maps.shape[1]] += wgt
        return hm_sum / hm_n, paf_sum / paf_n, (hsx, hsy), t_pre, t_net

    def __call__(self, image: np.ndarray) -> People:
        """People in one RGB frame ``(H, W, 3)`` uint8; keypoints in frame pixels.

        A frame where nobody is found while every heatmap value is below the heatmap threshold counts
        in :attr:`weak_frames` and, the first time, gives an :class:`~poselift.core.errors.InputWarning`
        ("check the preprocessing"): a network fed with another channel order, mean or scale than it was
        trained with answers that way. A frame with strong peaks for several joint types that the PAFs
        leave mostly unlinked counts in :attr:`unlinked_frames` and warns once too ("check the PAF channel
        order", or "negate the PAFs" when the negated PAFs link them: the decoder's
        :attr:`~poselift.detectors.bodyposenet.decode.People.problem`).
        """
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
        people = decode_people(hm, paf, s.decode, cell, image_width=float(img.shape[1]), warn=False)
        timing["decode"] = timing.get("decode", 0.0) + time.perf_counter() - t0
        self.last_timing = timing
        if people.problem is not None:  # the decoder's diagnosis (PROBLEMS), counted here and said once
            self.unlinked_frames += 1
            self._warn_once(people.problem, f"{PROBLEMS[people.problem]} (BodyPoseNet.unlinked_frames counts "
                            "such frames)")
        elif len(people) == 0 and hm.size:
            d = s.decode
            peak = float(hm[..., : d.num_joints].max())
            if peak < d.heatmap_threshold:
                self.weak_frames += 1
                self._warn_once("weak", f"nobody found and the strongest heatmap value is {peak:.3g}, below the "
                                f"threshold {d.heatmap_threshold}: check the preprocessing (channel order "
                                f"{s.channel_order}, mean {tuple(s.mean)}, scale {s.scale:.4g}) and that the maps "
                                "are the network's heatmaps (BodyPoseNet.weak_frames counts such frames)")
        return people

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"{self.net.name}: {message} (shown once)", InputWarning, stacklevel=3)


def _feather(shape: tuple[int, int], inner: tuple[bool, bool, bool, bool], margin: tuple[float, float]) -> np.ndarray:
    """``(h, w, 1)`` weights of a tile's map cells: rising linearly from 0.001 at an inner edge (left, right,
    top, bottom: ``inner``) to 1 at ``margin`` (x, y) cells from it; 1 along the frame's own edges."""
    h, w = shape
    cx = np.arange(w) + 0.5
    cy = np.arange(h) + 0.5
    wx = np.ones(w)
    wy = np.ones(h)
    if inner[0]:
        wx = np.minimum(wx, cx / margin[0])
    if inner[1]:
        wx = np.minimum(wx, (w - cx) / margin[0])
    if inner[2]:
        wy = np.minimum(wy, cy / margin[1])
    if inner[3]:
        wy = np.minimum(wy, (h - cy) / margin[1])
    return np.clip(wy[:, None] * wx[None, :], 1e-3, 1.0).astype(np.float32)[..., None]


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
