"""Stand-in ONNX models with the published signatures, for tests, benchmarks and smoke runs.

No BodyPoseNet or BodyPose3DNet weights are public (they come from NGC), so
everything is exercised with small ONNX graphs built here with
``onnx.helper`` (``pip install onnx``; a development dependency). Their
inputs and outputs have the published names, shapes and types; their
outputs are chosen so that a test knows the right answer:

* :func:`bodyposenet_standin`: returns heatmaps and PAFs given at build
  time (synthesised for chosen people with :func:`synthesize_maps`), plus
  ``0 * mean(input)`` so the image input stays connected.
* :func:`bodyposenet_blob_standin`: heatmaps that follow the image (bright blobs
  are joints; PAFs zero), for checking where multi-scale and tiled inference put
  the maps in the frame;
* :func:`bodypose3dnet_standin`: finds coloured markers in the crop
  (:func:`paint_markers`: joint ``j`` is a blob whose red value is
  :func:`marker_level` ``(j)`` and whose green peaks at 255 in its centre
  pixel), emits their crop-pixel centres as ``pose2d``, maps them with the
  ``t_form_inv`` input inside the graph for ``pose2d_org_img``, and emits
  ``pose3d = (k_inv @ [u, v, 1]) * mean_limb_lengths[2]`` so ``k_inv`` can be
  checked from the outside.

Nothing here is written to disk unless asked: the builders return the
serialised model bytes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from poselift.detectors.bodyposenet import (
    BODYPOSENET_HEATMAP,
    BODYPOSENET_INPUT,
    BODYPOSENET_LIMBS,
    BODYPOSENET_PAF,
)

__all__ = [
    "person_template",
    "synthesize_maps",
    "realistic_maps",
    "bodyposenet_standin",
    "bodypose3dnet_standin",
    "marker_level",
    "paint_markers",
]

_TEMPLATE = np.array([
    [0.000, 0.080],  # nose
    [0.000, 0.180],  # neck
    [-0.110, 0.190],  # right_shoulder (image left for a person facing the camera)
    [-0.140, 0.360],  # right_elbow
    [-0.150, 0.520],  # right_wrist
    [0.110, 0.190],  # left_shoulder
    [0.140, 0.360],  # left_elbow
    [0.150, 0.520],  # left_wrist
    [-0.070, 0.520],  # right_hip
    [-0.075, 0.740],  # right_knee
    [-0.080, 0.960],  # right_ankle
    [0.070, 0.520],  # left_hip
    [0.075, 0.740],  # left_knee
    [0.080, 0.960],  # left_ankle
    [-0.030, 0.055],  # right_eye
    [0.030, 0.055],  # left_eye
    [-0.060, 0.075],  # right_ear
    [0.060, 0.075],  # left_ear
], dtype=np.float64)


def person_template(x: float, top: float, height: float) -> np.ndarray:
    """``(18, 2)`` bodyposenet18 joints of an upright person facing the camera.

    Args:
        x: horizontal centre (frame pixels).
        top: y of the top of the head.
        height: standing height in pixels.
    """
    return (_TEMPLATE * height + np.array([x, top])).astype(np.float64)


def _limb_frame(pa: np.ndarray, pb: np.ndarray, px: np.ndarray, py: np.ndarray):
    """A limb from ``pa`` to ``pb`` (map cells) seen from every cell ``(px, py)``: ``(unit direction, length,
    distance along the limb, distance across it)``; ``None`` for a limb of no length."""
    d = pb - pa
    length = float(np.hypot(*d))
    if length < 1e-9:
        return None
    u = d / length
    qx, qy = px - pa[0], py - pa[1]
    return u, length, qx * u[0] + qy * u[1], np.abs(qx * u[1] - qy * u[0])


def synthesize_maps(
    people: Sequence[np.ndarray],
    input_size: tuple[int, int] = (384, 288),
    image_size: tuple[int, int] | None = None,
    stride: int = 8,
    paf_stride: int = 2,
    sigma: float = 1.0,
    paf_width: float = 1.5,
    limbs: Sequence[tuple[int, int]] = BODYPOSENET_LIMBS,
    num_joints: int = 18,
) -> tuple[np.ndarray, np.ndarray]:
    """Ideal BodyPoseNet outputs for people whose joints are known.

    The frame is resized to fit ``input_size`` keeping its aspect ratio (as
    :class:`~poselift.detectors.bodyposenet.BodyPoseNet` does); heatmaps are
    Gaussians of ``sigma`` heatmap cells at each joint (maximum over people),
    PAFs are the limb's unit vector within ``paf_width`` PAF cells of the
    segment (averaged where limbs of the same kind overlap), as in OpenPose's
    training targets.

    Args:
        people: per person ``(J, 2)`` frame pixels; NaN rows are absent joints.
        input_size: network input ``(width, height)``.
        image_size: frame ``(width, height)`` (default: ``input_size``).

    Returns:
        ``heatmaps (H/stride, W/stride, J + 1)`` (last channel background) and
        ``pafs (H/paf_stride, W/paf_stride, 2 * limbs)``, float32, channels last.
    """
    nw, nh = input_size
    iw, ih = image_size or input_size
    r = min(nw / iw, nh / ih)
    tw, th = int(round(iw * r)), int(round(ih * r))
    rx, ry = tw / iw, th / ih
    hh, hw = nh // stride, nw // stride
    ph, pw = nh // paf_stride, nw // paf_stride
    gy, gx = np.mgrid[0:hh, 0:hw].astype(np.float64)
    hm = np.zeros((hh, hw, num_joints + 1), np.float64)
    py, px = np.mgrid[0:ph, 0:pw].astype(np.float64)
    paf = np.zeros((ph, pw, 2 * len(limbs)), np.float64)
    count = np.zeros((ph, pw, len(limbs)), np.float64)
    for kp in people:
        kp = np.asarray(kp, np.float64)
        net = kp * np.array([rx, ry])  # frame -> network pixels
        for j in range(num_joints):
            if not np.isfinite(net[j]).all():
                continue
            cx, cy = net[j] / stride - 0.5
            g = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
            hm[..., j] = np.maximum(hm[..., j], g)
        for k, (a, b) in enumerate(limbs):
            if not (np.isfinite(net[a]).all() and np.isfinite(net[b]).all()):
                continue
            seg = _limb_frame(net[a] / paf_stride - 0.5, net[b] / paf_stride - 0.5, px, py)
            if seg is None:
                continue
            u, length, along, across = seg
            on = (along >= -paf_width / 2) & (along <= length + paf_width / 2) & (across <= paf_width)
            paf[on, 2 * k] += u[0]
            paf[on, 2 * k + 1] += u[1]
            count[on, k] += 1
    hm[..., num_joints] = 1 - hm[..., :num_joints].max(-1)
    c = np.repeat(np.maximum(count, 1), 2, axis=-1)
    return hm.astype(np.float32), (paf / c).astype(np.float32)


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:  # pragma: no cover
        raise RuntimeError("building stand-in models needs the onnx package (pip install onnx)") from e
    return onnx, TensorProto, helper, numpy_helper


def _finish(helper, onnx, graph, opset: int = 17) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="poselift-standin")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def bodyposenet_standin(
    heatmaps: np.ndarray,
    pafs: np.ndarray,
    input_size: tuple[int, int] = (384, 288),
    layout: str = "NHWC",
    input_name: str = BODYPOSENET_INPUT,
    heatmap_name: str = BODYPOSENET_HEATMAP,
    paf_name: str = BODYPOSENET_PAF,
    batch: int | str = 1,
) -> bytes:
    """A BodyPoseNet-shaped model that returns fixed maps.

    Args:
        heatmaps, pafs: channels-last maps (from :func:`synthesize_maps`).
        input_size: ``(width, height)`` of the image input.
        layout: ``"NHWC"`` (TAO) or ``"NCHW"`` for input and outputs.
        input_name, heatmap_name, paf_name: tensor names (TAO's by default).
        batch: the batch dimension (1 as in the TAO model, or a name for dynamic).

    Returns:
        serialised ONNX model.
    """
    onnx, TP, helper, nh = _onnx()
    w, h = input_size
    nhwc = layout.upper() == "NHWC"
    hm = np.asarray(heatmaps, np.float32)[None]
    paf = np.asarray(pafs, np.float32)[None]
    if not nhwc:
        hm, paf = hm.transpose(0, 3, 1, 2), paf.transpose(0, 3, 1, 2)
    in_shape = [batch, h, w, 3] if nhwc else [batch, 3, h, w]
    x = helper.make_tensor_value_info(input_name, TP.FLOAT, in_shape)
    hm_out = helper.make_tensor_value_info(heatmap_name, TP.FLOAT, [batch, *hm.shape[1:]])
    paf_out = helper.make_tensor_value_info(paf_name, TP.FLOAT, [batch, *paf.shape[1:]])
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["m"], axes=[1, 2, 3], keepdims=1),  # (N,1,1,1)
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
        helper.make_node("Add", ["hm_c", "m0"], [heatmap_name]),
        helper.make_node("Add", ["paf_c", "m0"], [paf_name]),
    ]
    inits = [nh.from_array(hm, "hm_c"), nh.from_array(paf, "paf_c"), nh.from_array(np.zeros((), np.float32), "zero")]
    graph = helper.make_graph(nodes, "bodyposenet_standin", [x], [hm_out, paf_out], initializer=inits)
    return _finish(helper, onnx, graph)


def marker_level(j: int) -> int:
    """Red value (0-255) of joint ``j``'s marker: ``40 + 6 j`` (34 distinct levels)."""
    return 40 + 6 * int(j)


def paint_markers(image: np.ndarray, points: np.ndarray, radius: int = 2) -> np.ndarray:
    """Paint the stand-in BodyPose3DNet's markers into an RGB uint8 frame (in place, returned).

    Joint ``j`` at ``points[j]`` (frame pixels, continuous: pixel ``i`` spans
    ``[i, i + 1)``) becomes a ``(2 radius + 1)^2`` square centred on pixel
    ``floor(points[j])`` with red :func:`marker_level` ``(j)``, blue 0 and
    green 255 at the centre pixel, 128 around it. NaN points are skipped.
    """
    img = np.asarray(image)
    h, w = img.shape[:2]
    for j, p in enumerate(np.asarray(points, np.float64)):
        if not np.isfinite(p).all():
            continue
        cx, cy = int(np.floor(p[0])), int(np.floor(p[1]))
        y0, y1 = max(cy - radius, 0), min(cy + radius + 1, h)
        x0, x1 = max(cx - radius, 0), min(cx + radius + 1, w)
        img[y0:y1, x0:x1] = (marker_level(j), 128, 0)
        if 0 <= cy < h and 0 <= cx < w:
            img[cy, cx, 1] = 255
    return img


def _bodypose3dnet_io(helper, TP, n: int | str, num_joints: int, H: int, W: int):
    """BodyPose3DNet's 5 inputs (a BGR ``(n, 3, H, W)`` crop, ``k_inv``, ``t_form_inv``, two limb-length
    vectors ``(n, 36)``) and 4 outputs (``pose2d``, ``pose2d_org_img``, ``pose25d``, ``pose3d``)."""
    inputs = [
        helper.make_tensor_value_info("input0", TP.FLOAT, [n, 3, H, W]),
        helper.make_tensor_value_info("k_inv", TP.FLOAT, [n, 3, 3]),
        helper.make_tensor_value_info("t_form_inv", TP.FLOAT, [n, 3, 3]),
        helper.make_tensor_value_info("scale_normalized_mean_limb_lengths", TP.FLOAT, [n, 36]),
        helper.make_tensor_value_info("mean_limb_lengths", TP.FLOAT, [n, 36]),
    ]
    outputs = [
        helper.make_tensor_value_info("pose2d", TP.FLOAT, [n, num_joints, 3]),
        helper.make_tensor_value_info("pose2d_org_img", TP.FLOAT, [n, num_joints, 3]),
        helper.make_tensor_value_info("pose25d", TP.FLOAT, [n, num_joints, 4]),
        helper.make_tensor_value_info("pose3d", TP.FLOAT, [n, num_joints, 3]),
    ]
    return inputs, outputs


def _bodypose3dnet_constants(nh, num_joints: int, W: int) -> list:
    """The stand-in's initializers: each joint's marker level ``(1, J, 1, 1)``, its depth ``0.01 j``,
    scalars, slice bounds and the ``(N, J, H * W)`` flattening shape."""
    levels = np.array([marker_level(j) / 255.0 for j in range(num_joints)], np.float32).reshape(1, -1, 1, 1)
    depth = (0.01 * np.arange(num_joints, dtype=np.float32)).reshape(1, -1, 1)

    def c(name, arr):
        return nh.from_array(np.asarray(arr), name)

    inits = [
        c("levels", levels), c("depth", depth), c("ten", np.array(10.0, np.float32)),
        c("one", np.array(1.0, np.float32)), c("half", np.array(0.5, np.float32)),
        c("zero", np.array(0.0, np.float32)), c("width", np.array(W, np.int64)),
        c("s_r", np.array([2], np.int64)), c("e_r", np.array([3], np.int64)),
        c("s_g", np.array([1], np.int64)), c("e_g", np.array([2], np.int64)),
        c("ax1", np.array([1], np.int64)), c("ax2", np.array([2], np.int64)),
        c("s0", np.array([0], np.int64)),
        c("flat_shape", np.array([0, num_joints, -1], np.int64)),
    ]
    return inits


def _bodypose3dnet_nodes(helper, TP) -> list:
    """The stand-in's graph: per joint the ArgMax of the marker score over the crop, then the four poses
    from that pixel (see :func:`bodypose3dnet_standin`)."""
    N = helper.make_node
    nodes = [
        N("Slice", ["input0", "s_r", "e_r", "ax1"], ["red"]),  # (N,1,H,W)
        N("Slice", ["input0", "s_g", "e_g", "ax1"], ["green"]),
        N("Sub", ["red", "levels"], ["dr"]),  # (N,J,H,W)
        N("Abs", ["dr"], ["adr"]),
        N("Sub", ["green", "one"], ["dg"]),
        N("Abs", ["dg"], ["adg"]),
        N("Mul", ["adg", "ten"], ["adg10"]),
        N("Add", ["adr", "adg10"], ["cost"]),
        N("Neg", ["cost"], ["score"]),
        N("Reshape", ["score", "flat_shape"], ["flat"]),  # (N,J,H*W)
        N("ArgMax", ["flat"], ["idx"], axis=2, keepdims=0),  # (N,J) int64
        N("ReduceMax", ["flat"], ["best"], axes=[2], keepdims=0),  # (N,J)
        N("Mod", ["idx", "width"], ["col"]),
        N("Div", ["idx", "width"], ["row"]),
        N("Cast", ["col"], ["colf"], to=TP.FLOAT),
        N("Cast", ["row"], ["rowf"], to=TP.FLOAT),
        N("Add", ["colf", "half"], ["u"]),
        N("Add", ["rowf", "half"], ["v"]),
        N("Add", ["best", "one"], ["conf_raw"]),
        N("Clip", ["conf_raw", "zero", "one"], ["conf"]),
        N("Unsqueeze", ["u", "ax2"], ["u3"]),  # (N,J,1)
        N("Unsqueeze", ["v", "ax2"], ["v3"]),
        N("Unsqueeze", ["conf", "ax2"], ["c3"]),
        N("Mul", ["u3", "zero"], ["z3"]),
        N("Add", ["z3", "one"], ["o3"]),
        N("Concat", ["u3", "v3", "c3"], ["pose2d"], axis=2),
        N("Concat", ["u3", "v3", "o3"], ["homog"], axis=2),  # (N,J,3)
        N("Transpose", ["t_form_inv"], ["tT"], perm=[0, 2, 1]),
        N("MatMul", ["homog", "tT"], ["org3"]),
        N("Slice", ["org3", "s0", "ax2", "ax2"], ["org_xy"]),  # [:, :, 0:2]
        N("Concat", ["org_xy", "c3"], ["pose2d_org_img"], axis=2),
        N("Add", ["z3", "depth"], ["d3"]),
        N("Concat", ["u3", "v3", "d3", "c3"], ["pose25d"], axis=2),
        N("Transpose", ["k_inv"], ["kT"], perm=[0, 2, 1]),
        N("MatMul", ["homog", "kT"], ["ray"]),
        N("Slice", ["mean_limb_lengths", "s_r", "e_r", "ax1"], ["limb2"]),  # (N,1)
        N("ReduceSum", ["scale_normalized_mean_limb_lengths", "ax1"], ["snl_sum"], keepdims=1),  # (N,1)
        N("Mul", ["snl_sum", "zero"], ["snl0"]),
        N("Add", ["limb2", "snl0"], ["lscale"]),
        N("Unsqueeze", ["lscale", "ax2"], ["lscale3"]),  # (N,1,1)
        N("Mul", ["ray", "lscale3"], ["pose3d"]),
    ]
    return nodes


def bodypose3dnet_standin(num_joints: int = 34, batch: int | str = "N") -> bytes:
    """A model with exactly BodyPose3DNet's 5 inputs and 4 outputs that reads markers.

    For each joint ``j`` the crop pixel minimising
    ``|R - level_j / 255| + 10 |G - 1|`` (``input0`` is BGR ``x / 255``, so R
    is channel 2 and G channel 1) is found with ArgMax; its centre
    ``(u + 0.5, v + 0.5)`` is ``pose2d`` (confidence ``1 - cost``, clipped
    to [0, 1]); ``pose2d_org_img`` is ``t_form_inv @ [u, v, 1]``; ``pose25d``
    is ``(u, v, 0.01 j, conf)``; ``pose3d`` is ``(k_inv @ [u, v, 1]) *
    mean_limb_lengths[:, 2]`` (+ 0 * the other limb input).
    """
    onnx, TP, helper, nh = _onnx()
    H, W = 256, 192
    inputs, outputs = _bodypose3dnet_io(helper, TP, batch, num_joints, H, W)
    inits = _bodypose3dnet_constants(nh, num_joints, W)
    nodes = _bodypose3dnet_nodes(helper, TP)
    graph = helper.make_graph(nodes, "bodypose3dnet_standin", inputs, outputs, initializer=inits)
    return _finish(helper, onnx, graph)


def bodyposenet_blob_standin(input_size: tuple[int, int] | None = (384, 288), num_joints: int = 18,
                             num_paf_channels: int = 38) -> bytes:
    """A BodyPoseNet-shaped model whose heatmaps follow the image: bright blobs are joints.

    Every heatmap channel (``num_joints`` + background) is the input's mean brightness averaged over
    8 x 8 pixel cells (stride 8) and smoothed over 3 x 3 cells; the PAFs (stride 2) are zero. With TAO's
    preprocessing (RGB, ``x / 255``) a white blob on black gives heatmap peaks at its centre, so a test
    can check *where* multi-scale and tiled inference put the maps in the frame. NHWC, like TAO's model.

    Args:
        input_size: fixed ``(width, height)`` (multiples of 8), or ``None`` for a dynamic-size input.
    """
    onnx, TP, helper, nh = _onnx()
    if input_size is None:
        in_shape, hm_shape, paf_shape = [1, "height", "width", 3], [1, "hh", "hw", num_joints + 1], \
            [1, "ph", "pw", num_paf_channels]
    else:
        w, h = input_size
        if w % 8 or h % 8:
            raise ValueError(f"input_size must be multiples of 8, got {input_size}")
        in_shape = [1, h, w, 3]
        hm_shape, paf_shape = [1, h // 8, w // 8, num_joints + 1], [1, h // 2, w // 2, num_paf_channels]
    x = helper.make_tensor_value_info(BODYPOSENET_INPUT, TP.FLOAT, in_shape)
    hm_out = helper.make_tensor_value_info(BODYPOSENET_HEATMAP, TP.FLOAT, hm_shape)
    paf_out = helper.make_tensor_value_info(BODYPOSENET_PAF, TP.FLOAT, paf_shape)
    N = helper.make_node
    nodes = [
        N("Transpose", [BODYPOSENET_INPUT], ["nchw"], perm=[0, 3, 1, 2]),
        N("ReduceMean", ["nchw"], ["grey"], axes=[1], keepdims=1),  # (1, 1, H, W)
        N("AveragePool", ["grey"], ["cells"], kernel_shape=[8, 8], strides=[8, 8]),
        N("AveragePool", ["cells"], ["smooth"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
          count_include_pad=0),
        N("Tile", ["smooth", "hm_reps"], ["hm_nchw"]),
        N("Transpose", ["hm_nchw"], [BODYPOSENET_HEATMAP], perm=[0, 2, 3, 1]),
        N("AveragePool", ["grey"], ["half"], kernel_shape=[2, 2], strides=[2, 2]),
        N("Mul", ["half", "zero"], ["nothing"]),
        N("Tile", ["nothing", "paf_reps"], ["paf_nchw"]),
        N("Transpose", ["paf_nchw"], [BODYPOSENET_PAF], perm=[0, 2, 3, 1]),
    ]
    inits = [nh.from_array(np.array([1, num_joints + 1, 1, 1], np.int64), "hm_reps"),
             nh.from_array(np.array([1, num_paf_channels, 1, 1], np.int64), "paf_reps"),
             nh.from_array(np.zeros((), np.float32), "zero")]
    graph = helper.make_graph(nodes, "bodyposenet_blob_standin", [x], [hm_out, paf_out], initializer=inits)
    return _finish(helper, onnx, graph)


def realistic_maps(
    people: Sequence[np.ndarray],
    input_size: tuple[int, int] = (384, 256),
    image_size: tuple[int, int] | None = None,
    stride: int = 8,
    paf_stride: int = 8,
    seed: int = 0,
    limbs: Sequence[tuple[int, int]] = BODYPOSENET_LIMBS,
    num_joints: int = 18,
    peak_height: tuple[float, float] = (0.55, 0.95),
    position_noise: float = 0.25,
    sigma: float = 1.1,
    spurious_per_joint: float = 2.0,
    spurious_height: tuple[float, float] = (0.1, 0.35),
    mirror_peak_chance: float = 0.5,
    paf_magnitude: tuple[float, float] = (0.5, 0.9),
    paf_width: float = 0.8,
    paf_angle_noise: float = 8.0,
    noise: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """BodyPoseNet/OpenPose-shaped outputs with a trained network's imperfections, for people whose joints are known.

    Unlike :func:`synthesize_maps` (ideal training targets: every peak 1, unit PAFs, nothing else), a
    trained bottom-up network's maps have (values chosen here, not measured on a network: no such weights
    are available offline):

    * true peaks of varied height (``peak_height``, uniform) and width (``sigma`` cells; the training
      target of OpenPose-style networks is a Gaussian of 7 input pixels, 0.9 cells at stride 8), off the
      joint by a localisation error (``position_noise`` cells, standard deviation per axis; the PAFs
      follow the true limbs);
    * many low false peaks per frame: ``spurious_per_joint`` (Poisson mean) per joint type anywhere,
      and, with ``mirror_peak_chance``, a weak peak of the left joint at the right joint and vice versa
      (``spurious_height``); all above the default heatmap threshold 0.1;
    * PAFs shorter than unit length (``paf_magnitude`` per limb), fading across the limb (Gaussian of
      ``paf_width`` cells), with a direction error (``paf_angle_noise`` degrees per limb and per cell)
      and noise everywhere (``noise``, standard deviation, also on the heatmaps' background as
      ``noise / 2`` in absolute value).

    Both maps are at ``stride`` / ``paf_stride`` (8 and 8: Lightweight OpenPose; TAO's PAFs are at 2).

    Returns:
        ``heatmaps (H/stride, W/stride, J + 1)`` and ``pafs (H/paf_stride, W/paf_stride, 2 * limbs)``,
        float32, channels last, PAF channels in the order of ``limbs`` (limb ``k`` on ``2k, 2k + 1``).
    """
    rng = np.random.default_rng(seed)
    nw, nh = input_size
    iw, ih = image_size or input_size
    r = min(nw / iw, nh / ih)
    rx, ry = int(round(iw * r)) / iw, int(round(ih * r)) / ih
    nets = [np.asarray(kp, np.float64) * np.array([rx, ry]) for kp in people]  # frame -> network pixels
    # the draws in this order: heatmap noise, true and mirrored peaks, false peaks, then the PAFs
    hm = _realistic_heatmaps(rng, nets, (nh // stride, nw // stride), stride, num_joints, peak_height,
                             position_noise, sigma, spurious_per_joint, spurious_height, mirror_peak_chance, noise)
    field = _realistic_pafs(rng, nets, (nh // paf_stride, nw // paf_stride), paf_stride, limbs, paf_magnitude,
                            paf_width, paf_angle_noise, noise)
    return hm.astype(np.float32), field.astype(np.float32)


def _mirror_joints(num_joints: int) -> dict[int, int]:
    """Left joint -> its right twin and back, by :data:`BODYPOSENET18`'s names (none for other joint counts)."""
    from poselift.core.layouts import BODYPOSENET18

    names = BODYPOSENET18.joints if num_joints == BODYPOSENET18.num_joints else None
    mirror = {}
    if names is not None:
        for j, n in enumerate(names):
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if n.startswith(a):
                    mirror[j] = names.index(b + n[len(a):])
    return mirror


def _realistic_heatmaps(rng: np.random.Generator, nets: list[np.ndarray], shape: tuple[int, int], stride: int,
                        num_joints: int, peak_height, position_noise: float, sigma: float,
                        spurious_per_joint: float, spurious_height, mirror_peak_chance: float,
                        noise: float) -> np.ndarray:
    """:func:`realistic_maps`' heatmaps ``(hh, hw, J + 1)`` float64 for people ``nets`` (network pixels):
    noisy background, displaced true peaks, mirrored and random false peaks, background channel last."""
    hh, hw = shape
    gy, gx = np.mgrid[0:hh, 0:hw].astype(np.float64)
    hm = np.abs(rng.normal(0.0, noise / 2, (hh, hw, num_joints + 1)))
    hm[..., num_joints] = 0.0

    def blob(j, cx, cy, height):
        g = height * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
        hm[..., j] = np.maximum(hm[..., j], g)

    mirror = _mirror_joints(num_joints)
    for net in nets:
        for j in range(num_joints):
            if not np.isfinite(net[j]).all():
                continue
            cx, cy = net[j] / stride - 0.5 + rng.normal(0.0, position_noise, 2)
            blob(j, cx, cy, rng.uniform(*peak_height))
            if j in mirror and rng.random() < mirror_peak_chance:
                blob(mirror[j], cx, cy, rng.uniform(*spurious_height))
    for j in range(num_joints):
        for _ in range(rng.poisson(spurious_per_joint)):
            blob(j, rng.uniform(0, hw - 1), rng.uniform(0, hh - 1), rng.uniform(*spurious_height))
    hm[..., num_joints] = np.clip(1 - hm[..., :num_joints].max(-1), 0, 1)
    return hm


def _realistic_pafs(rng: np.random.Generator, nets: list[np.ndarray], shape: tuple[int, int], paf_stride: int,
                    limbs: Sequence[tuple[int, int]], paf_magnitude, paf_width: float, paf_angle_noise: float,
                    noise: float) -> np.ndarray:
    """:func:`realistic_maps`' PAFs ``(ph, pw, 2 * limbs)`` float64: per limb of each person a field of
    random strength fading across the limb, with direction errors, averaged where people overlap, plus noise."""
    ph, pw = shape
    py, px = np.mgrid[0:ph, 0:pw].astype(np.float64)
    field = np.zeros((ph, pw, 2 * len(limbs)))
    weight = np.zeros((ph, pw, len(limbs)))
    for net in nets:
        for k, (a, b) in enumerate(limbs):
            if not (np.isfinite(net[a]).all() and np.isfinite(net[b]).all()):
                continue
            seg = _limb_frame(net[a] / paf_stride - 0.5, net[b] / paf_stride - 0.5, px, py)
            if seg is None:
                continue
            u, length, along, across = seg
            on = (along >= -0.5) & (along <= length + 0.5) & (across <= 2.5 * paf_width)
            strength = rng.uniform(*paf_magnitude) * np.exp(-(across[on] ** 2) / (2 * paf_width**2))
            angle = np.arctan2(u[1], u[0]) + np.deg2rad(rng.normal(0, paf_angle_noise)
                                                        + rng.normal(0, paf_angle_noise, on.sum()))
            field[on, 2 * k] += strength * np.cos(angle)
            field[on, 2 * k + 1] += strength * np.sin(angle)
            weight[on, k] += 1
    field /= np.repeat(np.maximum(weight, 1), 2, axis=-1)
    field += rng.normal(0.0, noise, field.shape)
    return field
