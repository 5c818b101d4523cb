"""High-bias absorption (Nagel et al., "Data-Free Quantization", 2019, §4.2), after cross-layer equalisation:
for ``Conv1 → [Relu [→ Min(bound)]] → Conv2``, a channel ``i`` whose pre-activation never falls below
``c_i > 0`` computes ``Relu(x) = (x − c_i) + c_i`` with ``x − c_i ≥ 0``: ``c_i`` leaves Conv1's bias and enters
Conv2's as ``W2 · c``, so the activation between them spans ``[0, max − c_i]`` instead of ``[0, max]`` — a
narrower 8-bit grid for the same information. Equalisation scales channels up and with them their biases, which
is why the paper pairs the two.

``c_i`` is a bound, not a statistic. The paper reads it from batch-norm statistics (``β − 3γ``: approximate, and a
deployed model has its batch norms folded); the smallest pre-activation on calibration inputs does not hold on
other photos (EfficientNet-Lite0: held-out pre-activations fall far below it, and the float model changes to
32 dB SQNR). So ``c_i`` is what interval arithmetic guarantees: Conv1's input is a bounded activation (ReLU6 as
equalisation writes it, ``Relu → Min(bound)``, or a constant ``Clip``), and its bias plus its weights' smallest
products with those bounds is a floor no input goes below. Without an activation between the two convolutions the
pair is linear and any per-channel shift is exact: each channel is centred (``c_i`` the middle of its calibrated
range), which shrinks the one per-tensor range to the widest channel's. A bounded ReLU keeps ``c_i`` at most its
bound, which becomes ``bound − c_i``.

Exact in float for every input, where the second convolution has no padding (a padded border would read 0, not
``−c``): only such pairs are absorbed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu.model.graphs import clip_bounds, consumers, producers, with_outputs

_SUFFIX = "_onnpu_hba"


@dataclass(frozen=True)
class _Pair:
    first: onnx.NodeProto
    relu: onnx.NodeProto | None
    bound: onnx.NodeProto | None  # a Min with a constant bound after the Relu
    second: onnx.NodeProto


def _unpadded(node: onnx.NodeProto) -> bool:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto not in ("NOTSET", "VALID"):
        kernel = attrs.get("kernel_shape")
        return kernel is not None and all(int(k) == 1 for k in kernel)
    return not any(int(p) for p in attrs.get("pads", []))


def _groups(node: onnx.NodeProto) -> int:
    return next((int(helper.get_attribute_value(a)) for a in node.attribute if a.name == "group"), 1)


def _pairs(model: onnx.ModelProto) -> list[_Pair]:
    inits = {t.name: t for t in model.graph.initializer}
    users = consumers(model.graph)
    outputs = {o.name for o in model.graph.output}

    def only_reader(tensor: str) -> onnx.NodeProto | None:
        readers = users.get(tensor, [])
        return readers[0] if len(readers) == 1 and tensor not in outputs else None

    def constant_conv(node: onnx.NodeProto | None) -> bool:
        return node is not None and node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in inits \
            and (len(node.input) < 3 or not node.input[2] or node.input[2] in inits)

    found = []
    for first in model.graph.node:
        if not constant_conv(first) or (_groups(first) != 1 and not _depthwise(first, inits)):
            continue
        relu = bound = None
        nxt = only_reader(first.output[0])
        if nxt is not None and nxt.op_type == "Relu":
            relu, nxt = nxt, only_reader(nxt.output[0])
            if nxt is not None and nxt.op_type == "Min" and len(nxt.input) == 2 and nxt.input[1] in inits \
                    and nxt.input[0] == relu.output[0]:
                bound, nxt = nxt, only_reader(nxt.output[0])
        if nxt is None or not constant_conv(nxt) or not _unpadded(nxt):
            continue
        if _groups(nxt) != 1 and not _depthwise(nxt, inits):
            continue
        found.append(_Pair(first, relu, bound, nxt))
    return found


def _depthwise(node: onnx.NodeProto, inits: Mapping[str, onnx.TensorProto]) -> bool:
    weights = inits[node.input[1]]
    return len(weights.dims) >= 2 and weights.dims[1] == 1 and weights.dims[0] == _groups(node)


def _channel_ranges(model: onnx.ModelProto, tensors: Sequence[str],
                    calibration: Sequence[Mapping[str, np.ndarray]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each tensor's per-channel (axis 1) minimum and maximum over the calibration inputs, one input at a time."""
    from onnpu.runtime.feeds import run_feeds
    from onnpu.runtime.session import exact_cpu_session

    session = exact_cpu_session(with_outputs(model, tensors))
    ranges: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for feed in calibration:
        outputs = run_feeds(session, [feed], model="model")
        for name in tensors:
            value = np.asarray(outputs[name][0], dtype=np.float64)
            axes = tuple(a for a in range(value.ndim) if a != 1)
            low, high = value.min(axis=axes), value.max(axis=axes)
            if name in ranges:
                low, high = np.minimum(ranges[name][0], low), np.maximum(ranges[name][1], high)
            ranges[name] = (low, high)
    return ranges


def _array(model: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == name))


def _input(model: onnx.ModelProto, node: onnx.NodeProto, position: int, default: np.ndarray) -> np.ndarray:
    if len(node.input) > position and node.input[position]:
        return _array(model, node.input[position]).astype(np.float64)
    return default


def _own(model: onnx.ModelProto, node: onnx.NodeProto, position: int, value: np.ndarray) -> None:
    """``value`` as ``node``'s input ``position``, in an initializer of its own; the one it replaces is removed
    when nothing else reads it."""
    taken = {t.name for t in model.graph.initializer}
    base = f"{node.name or node.output[0]}{_SUFFIX}_{position}"
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    model.graph.initializer.append(numpy_helper.from_array(value, name))
    while len(node.input) <= position:
        node.input.append("")
    old, node.input[position] = node.input[position], name
    if old and not any(old in n.input for n in model.graph.node) and old not in {i.name for i in model.graph.input}:
        model.graph.initializer.remove(next(t for t in model.graph.initializer if t.name == old))


def _input_bounds(model: onnx.ModelProto, node: onnx.NodeProto, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per input channel, bounds every value ``node`` reads is sure to lie in (0 included: a padded border reads
    0): its input is a bounded activation — ``Min(Relu(x), bound)`` with a constant bound, as equalisation writes
    ReLU6, or ``Clip`` with constant bounds; None for anything else (an input, an unbounded activation)."""
    made = producers(model.graph)
    source = made.get(node.input[0])
    inits = {t.name: t for t in model.graph.initializer}
    if source is None:
        return None
    if source.op_type == "Min" and len(source.input) == 2 and source.input[1] in inits:
        relu = made.get(source.input[0])
        if relu is None or relu.op_type != "Relu":
            return None
        high = numpy_helper.to_array(inits[source.input[1]]).astype(np.float64).reshape(-1)
        low = np.zeros(1)
    elif source.op_type == "Clip":
        bounds = clip_bounds(source, inits, zero_low=False)
        if bounds is None:
            return None
        low, high = np.array([bounds[0]]), np.array([bounds[1]])
    else:
        return None
    if high.size not in (1, channels):
        return None
    return (np.minimum(np.broadcast_to(low, (channels,)), 0.0), np.maximum(np.broadcast_to(high, (channels,)), 0.0))


def _lowest(model: onnx.ModelProto, conv: onnx.NodeProto) -> np.ndarray | None:
    """Per output channel, a value ``conv``'s output never falls below, whatever the input (interval arithmetic
    over its input's bounds); None where the input is not bounded."""
    weights = _array(model, conv.input[1]).astype(np.float64)
    depthwise = _groups(conv) != 1
    bounds = _input_bounds(model, conv, weights.shape[0] if depthwise else weights.shape[1])
    if bounds is None:
        return None
    low, high = (b.reshape((-1, 1, 1, 1)[: weights.ndim] if depthwise else (1, -1) + (1,) * (weights.ndim - 2))
                 for b in bounds)
    smallest = np.minimum(weights * low, weights * high).reshape(weights.shape[0], -1).sum(axis=1)
    return _input(model, conv, 2, np.zeros(weights.shape[0])) + smallest


def _shift(model: onnx.ModelProto, pair: _Pair, ranges: Mapping[str, tuple[np.ndarray, np.ndarray]]
           ) -> np.ndarray | None:
    """The per-channel amount to move (see the module), or None where the pair cannot take one exactly."""
    if pair.relu is None:
        low, high = ranges[pair.first.output[0]]
        return (low + high) / 2
    lowest = _lowest(model, pair.first)
    if lowest is None:
        return None
    shift = np.maximum(lowest, 0.0)
    if pair.bound is not None:
        bound = _array(model, pair.bound.input[1]).astype(np.float64).reshape(-1)
        if bound.size not in (1, shift.size):
            return None
        shift = np.minimum(shift, bound)
    return shift


def absorb_high_biases(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]]) -> int:
    """Absorb (see the module) in place; returns how many pairs had a channel shifted."""
    pairs = _pairs(model)
    if not pairs or not calibration:
        return 0
    linear = [p.first.output[0] for p in pairs if p.relu is None]
    ranges = _channel_ranges(model, linear, calibration) if linear else {}  # exact moves keep them
    absorbed = 0
    for pair in pairs:
        shift = _shift(model, pair, ranges)
        w1 = _array(model, pair.first.input[1])
        w2 = _array(model, pair.second.input[1])
        if shift is None or not np.any(shift) or shift.size != w1.shape[0] or \
                w2.shape[1] * _groups(pair.second) != shift.size:
            continue
        if _groups(pair.second) == 1:
            moved = w2.astype(np.float64).reshape(w2.shape[0], w2.shape[1], -1).sum(axis=2) @ shift
        else:  # depthwise: one input channel per output channel
            moved = w2.astype(np.float64).reshape(w2.shape[0], -1).sum(axis=1) * shift
        b1 = _input(model, pair.first, 2, np.zeros(w1.shape[0]))
        b2 = _input(model, pair.second, 2, np.zeros(w2.shape[0]))
        _own(model, pair.first, 2, (b1 - shift).astype(w1.dtype))
        _own(model, pair.second, 2, (b2 + moved).astype(w2.dtype))
        if pair.bound is not None:
            old = _array(model, pair.bound.input[1])
            bound = np.broadcast_to(old.astype(np.float64).reshape(-1), shift.shape) - shift
            _own(model, pair.bound, 1, bound.astype(old.dtype).reshape((1, -1) + (1,) * (w1.ndim - 2)))
        absorbed += 1
    return absorbed
