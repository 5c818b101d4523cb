"""What optimised rounding needs from a QDQ model: the layers whose constant weights it may re-round, and
the second-order statistics (input covariance) of each layer's input on calibration data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu import progress
from onnpu.model.graphs import producers
from onnpu.model.inspection import tensor_infos
from onnpu.model.qparams import qdq_params
from onnpu.runtime.feeds import prepare_feeds
from onnpu.runtime.session import exact_cpu_session

ROUNDABLE = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@dataclass
class Layer:
    """A Conv / ConvTranspose / Gemm / MatMul whose weight is DequantizeLinear(constant int, scale, zp)."""

    node: onnx.NodeProto
    weight: str  # name of the integer weight initializer
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int
    dtype: np.dtype
    bias: str | None = None  # integer bias initializer (DQ'd), for bias correction
    bias_scale: np.ndarray | None = None
    groups: int = 1
    attrs: dict[str, list[int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.node.name or self.node.output[0]

    @property
    def input(self) -> str:
        return self.node.input[0]


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def find_layers(model: onnx.ModelProto) -> list[Layer]:
    inits = {t.name: t for t in model.graph.initializer}
    made_by = producers(model.graph)
    layers = []
    for node in model.graph.node:
        if node.op_type not in ROUNDABLE or len(node.input) < 2:
            continue
        dq = made_by.get(node.input[1])
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits or dq.input[1] not in inits:
            continue
        if node.op_type == "Gemm" and (_attr(node, "transA", 0) or not _attr(node, "transB", 0)):
            continue  # only y = x · Wᵀ (the exporter's usual form) is re-rounded
        w = numpy_helper.to_array(inits[dq.input[0]])
        if node.op_type in ("Conv", "ConvTranspose") and w.ndim != 4:
            continue  # 1-D and 3-D convolutions keep nearest rounding
        if node.op_type == "MatMul" and w.ndim != 2:
            continue
        params = qdq_params(dq, inits)
        if params is None:
            continue
        scale = np.asarray(params.scale, np.float64)
        zp = np.asarray(params.zero_point, np.int64)
        axis = params.axis if params.axis is not None else -1
        layer = Layer(node, dq.input[0], scale, zp, axis, w.dtype,
                      groups=int(_attr(node, "group", 1)))  # type: ignore[call-overload]
        for key in ("pads", "strides", "dilations"):
            layer.attrs[key] = list(_attr(node, key, []))  # type: ignore[call-overload]
        if len(node.input) > 2 and node.input[2]:
            bdq = made_by.get(node.input[2])
            if bdq is not None and bdq.op_type == "DequantizeLinear" and bdq.input[0] in inits:
                layer.bias = bdq.input[0]
                layer.bias_scale = numpy_helper.to_array(inits[bdq.input[1]]).astype(np.float64).ravel()
        layers.append(layer)
    return layers


def _im2col(x: np.ndarray, kernel: tuple[int, int], attrs: Mapping[str, list[int]]) -> np.ndarray:
    """Patches of one image [C, H, W] for a 2-D conv: [positions, C, kh, kw]."""
    kh, kw = kernel
    pads = attrs.get("pads") or [0, 0, 0, 0]
    sh, sw = attrs.get("strides") or [1, 1]
    dh, dw = attrs.get("dilations") or [1, 1]
    xp = np.pad(x, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    windows = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    windows = windows[:, ::sh, ::sw, ::dh, ::dw]  # C, oh, ow, kh, kw
    return windows.transpose(1, 2, 0, 3, 4).reshape(-1, x.shape[0], kh, kw)


@dataclass
class Stats:
    """Per group (or per channel, for depthwise) sum of x xᵀ over the layer's input vectors, their sum and
    count (for the mean, used by bias correction)."""

    hessian: np.ndarray  # [groups, d, d]
    total: np.ndarray  # [groups, d]
    count: int = 0


MAX_VECTORS = 4096  # per sample and layer: large feature maps are subsampled on a regular grid


def _vectors(layer: Layer, x: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    """The layer's input as [groups, n, d] vectors, matching how its weight rows are laid out (at most
    MAX_VECTORS per sample, evenly spaced: deterministic, and the covariance of a large map barely moves)."""
    v = _all_vectors(layer, x, weight_shape)
    if v.shape[1] > MAX_VECTORS:
        v = v[:, np.linspace(0, v.shape[1] - 1, MAX_VECTORS).astype(np.int64)]
    return v


def _all_vectors(layer: Layer, x: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    op = layer.node.op_type
    if op in ("Gemm", "MatMul"):
        v = x.reshape(-1, x.shape[-1]).astype(np.float64)
        return v[None]
    groups = layer.groups
    if op == "Conv":
        kh, kw = weight_shape[2:4] if len(weight_shape) == 4 else (weight_shape[2], 1)
        img = x[0] if x.ndim == 4 else x[0][..., None]
        patches = _im2col(img.astype(np.float32), (kh, kw), layer.attrs)  # P, C, kh, kw
        per = img.shape[0] // groups
        p = patches.reshape(patches.shape[0], groups, per * kh * kw)
        return p.transpose(1, 0, 2).astype(np.float64)
    # ConvTranspose: channel covariance only (spatial correlation ignored), expanded over kernel positions later
    img = x[0].reshape(x.shape[1], -1)
    per = img.shape[0] // groups
    return img.reshape(groups, per, -1).transpose(0, 2, 1).astype(np.float64)


def collect_stats(model: onnx.ModelProto, layers: Sequence[Layer], feeds: Sequence[Mapping[str, np.ndarray]]
                  ) -> dict[str, Stats]:
    """Run the QDQ model exactly (CPU, graph as written) and accumulate each layer's input statistics."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    outputs = {o.name for o in probe.graph.output}
    for name in {layer.input for layer in layers} - outputs:
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    if not layers:
        return {}
    session = exact_cpu_session(probe)
    inits = {t.name: t for t in model.graph.initializer}
    shapes = {layer.name: tuple(inits[layer.weight].dims) for layer in layers}
    names = sorted({layer.input for layer in layers})
    stats: dict[str, Stats] = {}
    inputs = tensor_infos(model)[0]
    for k, feed in enumerate(feeds):
        prepared, _ = prepare_feeds(inputs, feed, "model")
        values = dict(zip(names, session.run(prepared, names), strict=True))
        for layer in layers:
            v = _vectors(layer, values[layer.input], shapes[layer.name])
            s = stats.get(layer.name)
            h = np.matmul(v.transpose(0, 2, 1), v)  # BLAS, per group
            if s is None:
                stats[layer.name] = Stats(h, v.sum(axis=1), v.shape[1])
            else:
                s.hessian += h
                s.total += v.sum(axis=1)
                s.count += v.shape[1]
        progress.advance("layer statistics", k + 1, len(feeds))
    return stats
