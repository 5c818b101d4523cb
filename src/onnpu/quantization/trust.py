"""How far a quantization report can be trusted: said first when calibration was random, warnings when the
calibration or held-out set is small, and the clipping of real held-out inputs: values of each quantized
activation that fall outside the range calibration gave it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import onnx

from onnpu.metrics import OutputQuality
from onnpu.model.graphs import constant_tensors, with_outputs
from onnpu.model.inspection import tensor_infos
from onnpu.model.qparams import qdq_params
from onnpu.quantization.calibration import CalibrationData
from onnpu.runtime.feeds import prepare_feeds
from onnpu.runtime.session import exact_cpu_session

# Documented thresholds (README "Honest calibration"): fewer inputs than these give figures that can mislead.
MIN_CALIBRATION_INPUTS = 32
MIN_HELDOUT_INPUTS = 8
MASK_SENTINEL = 1e30  # values this large are an exporter's stand-in for ±infinity (float32.min in masks)
CLIPPING_SHOWN = 5  # tensors listed in the report (all of them in JSON)

RANDOM_FIRST_LINE = ("calibrated on RANDOM inputs: the figures below measure agreement on random data, not the "
                     "model's quality on real inputs; calibrate on real data (--calib DIR, samples.npz)")


@dataclass
class TensorClipping:
    """One quantized activation: how many held-out values fell outside its calibrated range."""

    name: str
    clipped: int
    total: int
    low: float
    high: float
    seen_low: float
    seen_high: float

    @property
    def share(self) -> float:
        return self.clipped / self.total if self.total else 0.0

    def describe(self) -> str:
        return (f"{self.name}: {self.clipped} of {self.total} values ({self.share:.2%}) outside "
                f"[{self.low:.4g}, {self.high:.4g}] (seen {self.seen_low:.4g}..{self.seen_high:.4g})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"share": self.share}


@dataclass
class CalibrationCheck:
    source: str
    random: bool
    random_inputs: str
    calibration: int
    heldout: int
    warnings: list[str] = field(default_factory=list)
    clipping: list[TensorClipping] = field(default_factory=list)  # tensors that clip, worst first
    tensors_checked: int = 0

    @property
    def first_line(self) -> str | None:
        return RANDOM_FIRST_LINE if self.random else None

    def clipping_summary(self) -> str | None:
        if not self.tensors_checked:
            return None
        what = "random held-out inputs" if self.random else "real held-out inputs"
        if not self.clipping:
            return f"clipping: none of {self.tensors_checked} quantized activations clip on the {what}"
        shown = "; ".join(c.describe() for c in self.clipping[:CLIPPING_SHOWN])
        more = f" and {len(self.clipping) - CLIPPING_SHOWN} more" if len(self.clipping) > CLIPPING_SHOWN else ""
        return (f"clipping: {len(self.clipping)} of {self.tensors_checked} quantized activations clip on the {what}"
                f" — {shown}{more}")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "random": self.random, "random_inputs": self.random_inputs or None,
                "first_line": self.first_line, "calibration_inputs": self.calibration,
                "heldout_inputs": self.heldout, "warnings": self.warnings, "tensors_checked": self.tensors_checked,
                "clipping": [c.to_dict() for c in self.clipping],
                "thresholds": {"min_calibration_inputs": MIN_CALIBRATION_INPUTS,
                               "min_heldout_inputs": MIN_HELDOUT_INPUTS}}


def _activation_ranges(quant: onnx.ModelProto) -> dict[str, tuple[float, float]]:
    """Float tensor → the range its QuantizeLinear represents (activations: not weights)."""
    consts = constant_tensors(quant)
    ranges: dict[str, tuple[float, float]] = {}
    for node in quant.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in consts:
            continue
        qp = qdq_params(node, consts)
        if qp is None or not qp.per_tensor:
            continue
        limits = np.iinfo(np.dtype(qp.dtype))
        scale, zero = qp.scale[0], qp.zero_point[0]
        ranges[node.input[0]] = ((limits.min - zero) * scale, (limits.max - zero) * scale)
    return ranges


def clipping(float_model: onnx.ModelProto, quant: onnx.ModelProto, feeds: Sequence[Mapping[str, np.ndarray]]
             ) -> tuple[list[TensorClipping], int]:
    """Run the float model on ``feeds`` with every tensor the quantized model quantizes exposed, and count the
    values outside each one's calibrated range (half a step of slack: rounding, not clipping). Returns the
    tensors that clip (worst share first) and how many were checked."""
    ranges = _activation_ranges(quant)
    known = {o for n in float_model.graph.node for o in n.output} | {i.name for i in float_model.graph.input}
    names = [n for n in ranges if n in known]
    if not names or not feeds:
        return [], 0
    session = exact_cpu_session(with_outputs(float_model, names))
    infos = tensor_infos(float_model)[0]
    counts = {n: [0, 0, np.inf, -np.inf] for n in names}
    for feed in feeds:
        prepared, _ = prepare_feeds(infos, feed, "float model")
        values = dict(zip(names, session.session.run(names, prepared), strict=True))
        for name, value in values.items():
            v = np.asarray(value, np.float64)
            v = v[np.abs(v) < MASK_SENTINEL]  # -inf stand-ins of attention masks: masking, not data
            low, high = ranges[name]
            slack = (high - low) / 510  # half a step of an 8-bit range
            c = counts[name]
            c[0] += int(np.count_nonzero((v < low - slack) | (v > high + slack)))
            c[1] += v.size
            if v.size:
                c[2], c[3] = min(c[2], float(v.min())), max(c[3], float(v.max()))
    found = [TensorClipping(n, int(c[0]), int(c[1]), ranges[n][0], ranges[n][1], float(c[2]), float(c[3]))
             for n, c in counts.items() if c[0]]
    return sorted(found, key=lambda t: -t.share), len(names)


def check_calibration(data: CalibrationData, float_model: onnx.ModelProto | None = None,
                      quant: onnx.ModelProto | None = None) -> CalibrationCheck:
    """What the report must say about the data it was made from; with both models, the clipping of the held-out
    inputs."""
    check = CalibrationCheck(data.source, data.is_random, data.random_kinds, len(data.calibration),
                             len(data.heldout))
    if check.random:
        check.warnings.append("calibration on random inputs: activation ranges follow random data, so on real "
                              "inputs values may clip or waste steps; the quality figures are not the model's")
    if check.calibration < MIN_CALIBRATION_INPUTS:
        check.warnings.append(f"only {check.calibration} calibration inputs (< {MIN_CALIBRATION_INPUTS}): ranges may "
                              "miss values real inputs reach; give more (--calib with more files)")
    if check.heldout < MIN_HELDOUT_INPUTS:
        check.warnings.append(f"only {check.heldout} held-out inputs (< {MIN_HELDOUT_INPUTS}): the quality figures "
                              "are noisy; give more inputs or a larger --holdout")
    if float_model is not None and quant is not None and data.heldout:
        check.clipping, check.tensors_checked = clipping(float_model, quant, data.heldout)
    return check


def floor_warnings(cpu: Sequence[OutputQuality], npu: Sequence[OutputQuality], *, float_model: str, quant_model: str,
                   activations: str = "u8") -> list[str]:
    """One warning per output below the documented floor (``onnpu.metrics``), on the CPU QDQ arithmetic or on the
    NPU, with what to do."""
    fixes = []
    if activations == "u8":
        fixes.append("16-bit activations (W8A16: --activations u16)")
    fixes += ["--target-sqnr DB (16-bit only where it pays)",
              f"`onnpu layers {float_model} {quant_model}` to see which layers lose it"]
    warnings = []
    for where, items in (("CPU QDQ", cpu), ("NPU", npu)):
        for q in items:
            reason = q.below_floor()
            if reason:
                warnings.append(f"{q.name}: float vs {where} {reason} (floor); try " + ", ".join(fixes))
    return warnings
