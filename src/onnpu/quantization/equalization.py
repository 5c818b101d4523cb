"""Cross-layer equalisation (Nagel et al., "Data-Free Quantization", 2019): for two convolutions in a row —
``Conv → [Relu | Clip(0, c)] → Conv``, either of them depthwise — channel ``i`` between them is divided by
``s_i = sqrt(r1_i / r2_i)`` in the first (its weights and bias) and multiplied back in the second (its input
channel), so that the first's output-channel range ``r1_i`` and the second's input-channel range ``r2_i`` become
equal (``sqrt(r1_i · r2_i)``). ReLU commutes with a positive scale. A bounded activation does not: ``Clip(0, c)``
becomes ``Relu`` then ``Min`` with the per-channel bound ``c / s_i`` — exact, where the paper and AIMET replace
ReLU6 by ReLU and change the model. Pairs are equalised in graph order, ``ROUNDS`` times (a layer between two
pairs is scaled by both). Exact in float up to rounding of the products; the float outputs are checked.

What it buys depends on the weights' quantization: with per-tensor weights it lifts channels a wide range had
crushed to a few steps; with per-channel weights (onnpu's default) each channel already has its own scale, and
equalisation mainly trades weight range for activation range. Measured, not assumed: BENCHMARKS "Quantization
ablation"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu.model.graphs import clip_bounds, consumers, producers, with_outputs

ROUNDS = 3
EPS = 1e-12
_SUFFIX = "_onnpu_cle"  # names of the nodes and constants equalisation writes
ABSORB_SAMPLES = 64  # calibration inputs (spread over all) whose smallest pre-activations bias absorption moves
SCALE_LIMITS = (1e-3, 1e3)  # no channel scaled by more than this: a dead channel keeps its weights


@dataclass
class EqualizationReport:
    pairs: list[tuple[str, str]] = field(default_factory=list)
    clips: int = 0  # bounded activations written as Relu + per-channel Min
    absorbed: int = 0  # pairs whose high biases moved into the second convolution
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"pairs": [list(p) for p in self.pairs], "clips": self.clips, "absorbed": self.absorbed,
                "notes": self.notes}


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _conv(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> tuple[np.ndarray, int] | None:
    """(weights, groups) of a Conv with constant weights whose groups are 1 or one per channel."""
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
        return None
    if len(node.input) > 2 and node.input[2] and node.input[2] not in inits:
        return None
    weights = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
    groups = int(_attrs(node).get("group", 1))  # type: ignore[call-overload]
    if groups != 1 and not (groups == weights.shape[0] and weights.shape[1] == 1):
        return None
    return weights, groups


def _pairs(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, onnx.NodeProto | None, onnx.NodeProto]]:
    inits = {t.name: t for t in model.graph.initializer}
    users = consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    found = []
    for first in model.graph.node:
        if _conv(first, inits) is None or first.output[0] in outputs:
            continue
        readers = users.get(first.output[0], [])
        if len(readers) != 1:
            continue
        act: onnx.NodeProto | None = None
        nxt = readers[0]
        if nxt.op_type == "Relu" or (nxt.op_type == "Clip" and clip_bounds(nxt, inits) is not None):
            act = nxt
            after = users.get(nxt.output[0], [])
            if len(after) != 1 or nxt.output[0] in outputs:
                continue
            nxt = after[0]
        if _conv(nxt, inits) is not None and nxt.input[0] == (act.output[0] if act else first.output[0]):
            found.append((first, act, nxt))
    return found


def equalize(model: onnx.ModelProto) -> EqualizationReport:
    """Equalise ``model`` in place (see the module); returns what was done."""
    report = EqualizationReport()
    pairs = _pairs(model)
    if not pairs:
        return report
    inits = {t.name: t for t in model.graph.initializer}
    clip_scales: dict[str, np.ndarray] = {}  # per Clip: the product of the scales applied to its channels
    for first, act, _second in pairs:
        if act is not None and act.op_type == "Clip":
            clip_scales[act.name or act.output[0]] = np.ones(numpy_helper.to_array(inits[first.input[1]]).shape[0])
    for _ in range(ROUNDS):
        for first, act, second in pairs:
            w1, _ = _conv(first, inits)  # type: ignore[misc]
            w2, groups2 = _conv(second, inits)  # type: ignore[misc]
            channels = w1.shape[0]
            r1 = np.abs(w1.reshape(channels, -1)).max(axis=1)
            kept = 0 if groups2 != 1 else 1  # the axis of the second's input channels: depthwise 0, else 1
            r2 = np.abs(w2).max(axis=tuple(a for a in range(w2.ndim) if a != kept))
            if r2.shape[0] != channels:
                continue
            scale = np.where((r1 > EPS) & (r2 > EPS), np.sqrt(np.maximum(r1, EPS) / np.maximum(r2, EPS)), 1.0)
            scale = np.clip(scale, *SCALE_LIMITS)
            shape1 = (channels,) + (1,) * (w1.ndim - 1)
            _set(inits, first.input[1], w1 / scale.reshape(shape1))
            if len(first.input) > 2 and first.input[2]:
                _set(inits, first.input[2], numpy_helper.to_array(inits[first.input[2]]).astype(np.float64) / scale)
            if groups2 != 1:
                _set(inits, second.input[1], w2 * scale.reshape((channels,) + (1,) * (w2.ndim - 1)))
            else:
                _set(inits, second.input[1], w2 * scale.reshape((1, channels) + (1,) * (w2.ndim - 2)))
            if act is not None and act.op_type == "Clip":
                clip_scales[act.name or act.output[0]] *= scale
            pair = (first.name or first.output[0], second.name or second.output[0])
            if pair not in report.pairs:
                report.pairs.append(pair)
    for _first, act, _ in pairs:
        if act is not None and act.op_type == "Clip":
            _clip_as_relu_min(model, act, inits, clip_scales[act.name or act.output[0]])
            report.clips += 1
    return report


def equalized_model(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]], *,
                    absorb: bool = True) -> tuple[onnx.ModelProto, EqualizationReport, str]:
    """An equalised copy of ``model`` (and, with ``absorb``, its high biases absorbed:
    ``onnpu.quantization.bias_absorption``), kept only when its float outputs stay the same on calibration
    inputs; the report and a line that says what was done."""
    from onnpu.quantization.bias_absorption import absorb_high_biases
    from onnpu.quantization.calibration import evenly
    from onnpu.quantization.evaluate import run_on_cpu
    from onnpu.quantization.transformer import CHECKED_FEEDS, UNCHANGED_COSINE, check_unchanged

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    report = equalize(copy)
    if not report.pairs:
        return model, report, "cross-layer equalisation: no Conv → [ReLU|Clip] → Conv pair to equalise"
    if absorb:
        report.absorbed = absorb_high_biases(copy, evenly(calibration, ABSORB_SAMPLES))
    feeds = evenly(calibration, CHECKED_FEEDS)
    before, after = run_on_cpu(model, feeds, exact=True), run_on_cpu(copy, feeds, exact=True)
    cosine = check_unchanged([{k: v[i] for k, v in before.items()} for i in range(len(feeds))],
                             [{k: v[i] for k, v in after.items()} for i in range(len(feeds))])
    if cosine < UNCHANGED_COSINE:
        report.notes.append(f"not applied: it changed the float outputs (cosine {cosine:.6f})")
        report.pairs.clear()
        return model, report, f"cross-layer equalisation not applied: it changed the float outputs ({cosine:.6f})"
    clips = f"; {report.clips} Clip{'s' if report.clips != 1 else ''} as Relu + per-channel Min" if report.clips \
        else ""
    absorbed = f"; high biases absorbed in {report.absorbed} of them" if report.absorbed else ""
    return copy, report, (f"cross-layer equalisation: {len(report.pairs)} Conv pairs{clips}{absorbed} (float "
                          f"outputs unchanged: cosine {cosine:.6f})")


def bounded_relu_ranges(model: onnx.ModelProto, calibration: Sequence[Mapping[str, np.ndarray]]
                        ) -> dict[str, tuple[float, float]]:
    """For quantization, in place: each ``Relu → Min(per-channel bound)`` that equalisation wrote for a bounded
    activation gets one grid ``[0, R]`` (``R``: the Min output's largest value on the calibration inputs) for the
    Relu's output, the bounds and the Min's output, and bounds above ``R`` become ``R``; returns the ranges.
    Otherwise the Relu (fused into its Conv on the HTP) is quantized over all the Conv gives before the bound and
    the bounds are rounded on a coarser grid of their own — a ReLU6 then loses its [0, 6] grid (EfficientNet-Lite0
    W8A8, every scale 1: 17.5 → 8.2 dB). Exact for the quantized model, whose Min output saturates at ``R``:
    ``clip(min(x, b), 0, R) = min(clip(x, 0, R), min(b, R))`` for ``x ≥ 0``."""
    nodes = producers(model.graph)
    mins = [n for n in model.graph.node if n.op_type == "Min" and n.name.endswith(_SUFFIX + "_min")
            and n.input[0] in nodes and nodes[n.input[0]].op_type == "Relu"]
    inits = {t.name: t for t in model.graph.initializer}
    mins = [n for n in mins if n.input[1] in inits]
    if not mins or not calibration:
        return {}
    from onnpu.quantization.evaluate import run_on_cpu

    outputs = run_on_cpu(with_outputs(model, (n.output[0] for n in mins)), calibration, exact=True)
    ranges: dict[str, tuple[float, float]] = {}
    for node in mins:
        high = max((float(np.max(v)) for v in outputs.get(node.output[0], []) if np.size(v)), default=0.0)
        if high > 0:
            ranges[node.output[0]] = ranges[node.input[0]] = (0.0, high)
            bound = numpy_helper.to_array(inits[node.input[1]])
            _set(inits, node.input[1], np.minimum(bound, np.float32(high)))
    return ranges


def _set(inits: dict[str, onnx.TensorProto], name: str, value: np.ndarray) -> None:
    old = inits[name]
    inits[name].CopyFrom(numpy_helper.from_array(value.astype(numpy_helper.to_array(old).dtype), name))


def _weights_of(model: onnx.ModelProto, clip: onnx.NodeProto) -> str:
    """The weights of the Conv whose output ``clip`` reads."""
    return next(n.input[1] for n in model.graph.node if n.op_type == "Conv" and clip.input[0] in n.output)


def _clip_as_relu_min(model: onnx.ModelProto, clip: onnx.NodeProto, inits: dict[str, onnx.TensorProto],
                      scale: np.ndarray) -> None:
    """``Clip(x, 0, c)`` of channels scaled by ``1/scale`` as ``Min(Relu(x), c / scale)`` (per channel)."""
    bounds = clip_bounds(clip, inits)
    assert bounds is not None
    base = (clip.name or clip.output[0]) + _SUFFIX
    rank = len(numpy_helper.to_array(inits[_weights_of(model, clip)]).shape)
    bound = (bounds[1] / scale).astype(np.float32).reshape((1, -1) + (1,) * (rank - 2))
    model.graph.initializer.append(numpy_helper.from_array(bound, f"{base}_bound"))
    position = list(model.graph.node).index(clip)
    model.graph.node.remove(clip)
    model.graph.node.insert(position, helper.make_node("Min", [f"{base}_relu", f"{base}_bound"], list(clip.output),
                                                       name=f"{base}_min"))
    model.graph.node.insert(position, helper.make_node("Relu", [clip.input[0]], [f"{base}_relu"],
                                                       name=f"{base}_relu"))
