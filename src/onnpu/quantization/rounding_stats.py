"""What optimised rounding needs from a QDQ model: the layers whose constant weights it may re-round, and the
second-order statistics of each layer's input on calibration data — the quantized input the layer really
receives (x̃) against the float input the float model gives it (x): Σ x̃x̃ᵀ, Σ x x̃ᵀ (and Σ x xᵀ on the
check inputs, to measure errors), and their sums (for bias correction)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu import progress
from onnpu.model.graphs import producers, upstream
from onnpu.model.inspection import tensor_infos
from onnpu.model.qparams import qdq_params
from onnpu.runtime.feeds import prepare_feeds
from onnpu.runtime.session import LoadedSession, create_session, exact_cpu_session
from onnpu.runtime.targets import get_target

ROUNDABLE = ("Conv", "ConvTranspose", "Gemm", "MatMul")
MAX_VECTORS = 1024  # per sample and layer: large feature maps are subsampled on a regular grid
BATCH_VALUES = 1 << 20  # input values gathered per layer before one product (fewer, larger BLAS calls)


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
    float_input: str | None = None  # the tensor of the float model this layer's quantized input stands for

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


def _float_source(name: str, made_by: Mapping[str, onnx.NodeProto]) -> str:
    """The float tensor behind a DequantizeLinear(QuantizeLinear(t)) pair: ``t``; else ``name`` itself."""
    dq = made_by.get(name)
    if dq is not None and dq.op_type == "DequantizeLinear":
        q = made_by.get(dq.input[0])
        if q is not None and q.op_type == "QuantizeLinear":
            return q.input[0]
    return name


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
                      groups=int(_attr(node, "group", 1)),  # type: ignore[call-overload]
                      float_input=_float_source(node.input[0], made_by))
        for key in ("pads", "strides", "dilations"):
            layer.attrs[key] = list(_attr(node, key, []))  # type: ignore[call-overload]
        if len(node.input) > 2 and node.input[2]:
            bdq = made_by.get(node.input[2])
            if bdq is not None and bdq.op_type == "DequantizeLinear" and bdq.input[0] in inits:
                layer.bias = bdq.input[0]
                layer.bias_scale = numpy_helper.to_array(inits[bdq.input[1]]).astype(np.float64).ravel()
        layers.append(layer)
    return layers


def _positions(count: int) -> np.ndarray:
    """At most MAX_VECTORS of ``count`` positions, evenly spaced (deterministic)."""
    if count <= MAX_VECTORS:
        return np.arange(count)
    return np.linspace(0, count - 1, MAX_VECTORS).astype(np.int64)


def _patches(x: np.ndarray, kernel: tuple[int, int], attrs: Mapping[str, list[int]]) -> np.ndarray:
    """Patches of one image [C, H, W] for a 2-D conv at (at most MAX_VECTORS) output positions, as columns:
    [C, kh, kw, n]. Positions are chosen before any copy, so a large map costs only the patches kept."""
    kh, kw = kernel
    pads = attrs.get("pads") or [0, 0, 0, 0]
    sh, sw = attrs.get("strides") or [1, 1]
    dh, dw = attrs.get("dilations") or [1, 1]
    if (kh, kw, sh, sw) == (1, 1, 1, 1) and not any(pads):  # pointwise: the map itself
        flat = x.reshape(x.shape[0], -1)
        return flat[:, _positions(flat.shape[1])][:, None, None, :]
    xp = np.pad(x, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    windows = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    windows = windows[:, ::sh, ::sw, ::dh, ::dw].transpose(0, 3, 4, 1, 2)  # C, kh, kw, oh, ow (a view)
    oh, ow = windows.shape[3:]
    index = _positions(oh * ow)
    return windows[..., index // ow, index % ow]


def layer_vectors(layer: Layer, x: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    """The layer's input vectors as columns [groups, d, n] (float32), laid out like its weight rows."""
    op = layer.node.op_type
    if op in ("Gemm", "MatMul"):
        v = x.reshape(-1, x.shape[-1])
        return v[_positions(v.shape[0])].astype(np.float32, copy=False).T[None]
    groups = layer.groups
    img = x[0].astype(np.float32, copy=False)
    per = img.shape[0] // groups
    if op == "Conv":
        kh, kw = weight_shape[2:4]
        p = _patches(img, (kh, kw), layer.attrs)  # C, kh, kw, n
        return p.reshape(groups, per * kh * kw, p.shape[-1])
    # ConvTranspose: channel covariance only (spatial correlation ignored), expanded over kernel positions later
    flat = img.reshape(img.shape[0], -1)
    return flat[:, _positions(flat.shape[1])].reshape(groups, per, -1)


@dataclass
class PairStats:
    """Per group (per channel for depthwise): Σ x̃x̃ᵀ, Σ x x̃ᵀ, Σ x xᵀ (check inputs only), Σ x̃, Σ x, count.
    x is the float model's input to the layer, x̃ the quantized model's."""

    h: np.ndarray  # [groups, d, d]
    c: np.ndarray | None  # None: no float input known, x = x̃
    hf: np.ndarray | None  # None: not collected (fit inputs)
    sum_q: np.ndarray  # [groups, d]
    sum_f: np.ndarray
    count: int

    @staticmethod
    def of(vq: np.ndarray, vf: np.ndarray | None, with_float: bool) -> PairStats:
        """From one input's vectors as columns [groups, d, n]; float32 products (BLAS), summed in float64."""
        qt = vq.transpose(0, 2, 1)
        h = np.matmul(vq, qt).astype(np.float64)
        c = None if vf is None else np.matmul(vf, qt).astype(np.float64)
        vf = vq if vf is None else vf
        hf = None if not with_float else \
            h.copy() if vf is vq else np.matmul(vf, vf.transpose(0, 2, 1)).astype(np.float64)
        return PairStats(h, c, hf, vq.sum(axis=2).astype(np.float64), vf.sum(axis=2).astype(np.float64), vq.shape[2])

    def add(self, other: PairStats) -> None:
        self.h += other.h
        if self.c is not None and other.c is not None:
            self.c += other.c
        if self.hf is not None and other.hf is not None:
            self.hf += other.hf
        self.sum_q += other.sum_q
        self.sum_f += other.sum_f
        self.count += other.count

    @property
    def cross(self) -> np.ndarray:
        """Σ x x̃ᵀ (Σ x̃x̃ᵀ when the float input is unknown)."""
        return self.h if self.c is None else self.c


def _probe(model: onnx.ModelProto, wanted: Sequence[str]) -> onnx.ModelProto:
    """``model`` computing only ``wanted`` (as outputs): nodes that do not lead to them are dropped."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    graph = probe.graph
    keep = upstream(graph, wanted)
    nodes = [n for i, n in enumerate(graph.node) if i in keep]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {x for n in nodes for x in n.input}
    kept_inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    del graph.output[:]
    graph.output.extend(helper.make_empty_tensor_value_info(name) for name in wanted)
    return probe


def _runner(model: onnx.ModelProto, wanted: list[str], exact: bool) -> LoadedSession:
    probe = _probe(model, wanted)
    return exact_cpu_session(probe) if exact else create_session(probe, get_target("cpu"))


def vf_wanted(layer: Layer, f_values: Mapping[str, np.ndarray]) -> bool:
    """Whether the layer's statistics pair its quantized input with a float one (twice the products)."""
    return (layer.float_input or "") in f_values


def collect_pairs(model: onnx.ModelProto, float_model: onnx.ModelProto, layers: Sequence[Layer],
                  feeds: Sequence[tuple[Mapping[str, np.ndarray], bool]], *, against_float: bool = True,
                  stop: Callable[[int, float], bool] | None = None) -> dict[str, tuple[PairStats, PairStats | None]]:
    """Run the QDQ model exactly (CPU, graph as written) and the float model on the same inputs and accumulate,
    per layer, the statistics of its quantized input against its float input, apart for the fit inputs (to
    choose the weights) and the check inputs (``feeds`` flagged True: to measure which rounding is better).
    ``stop(k, work)`` is asked before the k-th input (k ≥ 1), ``work`` the multiply-adds of the statistics of
    the k inputs so far (a count, not a time: the same on every machine): True ends the collection there.
    Layers whose float input
    is not a tensor of the float model are measured against their own quantized input (plain output error)."""
    if not layers:
        return {}
    float_tensors = {v for n in float_model.graph.node for v in n.output} | {i.name for i in float_model.graph.input}
    q_names = sorted({layer.input for layer in layers})
    f_names = sorted({layer.float_input for layer in layers
                      if against_float and layer.float_input is not None and layer.float_input in float_tensors})
    q_session = _runner(model, q_names, exact=True)
    f_session = _runner(float_model, f_names, exact=False) if f_names else None
    inits = {t.name: t for t in model.graph.initializer}
    shapes = {layer.name: tuple(inits[layer.weight].dims) for layer in layers}
    fit_stats: dict[str, PairStats] = {}
    check_stats: dict[str, PairStats] = {}
    pending: dict[tuple[str, bool], list[tuple[np.ndarray, np.ndarray | None]]] = {}
    infos_q, infos_f = tensor_infos(model)[0], tensor_infos(float_model)[0]

    def flush(name: str, is_check: bool) -> None:
        parts = pending.pop((name, is_check), [])
        if not parts:
            return
        vq = np.concatenate([p[0] for p in parts], axis=2)
        vf = None if parts[0][1] is None else np.concatenate([p[1] for p in parts if p[1] is not None], axis=2)
        s = PairStats.of(vq, vf, with_float=is_check)
        into = check_stats if is_check else fit_stats
        if name in into:
            into[name].add(s)
        else:
            into[name] = s

    work = 0.0
    for k, (feed, is_check) in enumerate(feeds):
        if k and stop is not None and stop(k, work):
            break
        prepared, _ = prepare_feeds(infos_q, feed, "model")
        q_values = dict(zip(q_names, q_session.run(prepared, q_names), strict=True))
        f_values: dict[str, np.ndarray] = {}
        if f_session is not None:
            prepared_f, _ = prepare_feeds(infos_f, {i.name: feed[i.name] for i in infos_f}, "model")
            f_values = dict(zip(f_names, f_session.run(prepared_f, f_names), strict=True))
        for layer in layers:
            vq = layer_vectors(layer, q_values[layer.input], shapes[layer.name])
            work += float(vq.size) * vq.shape[1] * (2 if vf_wanted(layer, f_values) else 1)
            xf = f_values.get(layer.float_input or "")
            vf = layer_vectors(layer, xf, shapes[layer.name]) if xf is not None else None
            parts = pending.setdefault((layer.name, is_check), [])
            parts.append((np.array(vq), None if vf is None else np.array(vf)))
            if sum(p[0].size for p in parts) >= BATCH_VALUES:
                flush(layer.name, is_check)
        progress.advance("rounding statistics", k + 1, len(feeds))
    for name, is_check in list(pending):
        flush(name, is_check)
    return {layer.name: (fit_stats[layer.name], check_stats.get(layer.name)) for layer in layers
            if layer.name in fit_stats}
