"""Activation range search: per activation tensor, the clipping range that minimises that tensor's quantization
error (MSE) on the calibration inputs, instead of their min/max — the class of AIMET's "TF-enhanced" range
setting. The min/max range is one of the candidates, so no tensor's error grows on the inputs that chose it;
the searched model is kept only when its outputs are also closer to the float model's on check inputs that
chose nothing. Biases that depend on a changed input scale are requantized, so the QDQ layout is unchanged."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu import progress
from onnpu.model.graphs import consumers, producers
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.feeds import prepare_feeds
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import get_target

BINS = 2048
SHRINK = np.geomspace(1.0, 0.1, 41)  # candidate ends: the min/max end times these factors
FIXED_RANGE = {"Sigmoid", "Tanh", "Softmax", "LogSoftmax", "HardSigmoid", "HardSwish"}  # ranges set by the op
SHARED_RANGE = {"MaxPool", "GlobalMaxPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Concat",
                "Slice", "Split", "Gather", "Resize", "Pad", "DepthToSpace", "SpaceToDepth", "Expand", "Tile"}
CHECK_EVERY = 4
MAX_VALUES = 1 << 16  # values of one tensor per input that enter its histogram


@dataclass
class TensorRange:
    name: str
    old: tuple[float, float]
    new: tuple[float, float]
    mse_ratio: float  # searched / min-max quantization MSE of the tensor on the fit inputs (≤ 1)


@dataclass
class RangeReport:
    tensors: list[TensorRange]
    samples: int
    seconds: float
    check_sqnr: tuple[float, float] | None = None  # worst output SQNR on the check inputs: min/max, searched
    kept: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(t.new != t.old for t in self.tensors) if self.kept else 0

    def to_dict(self) -> dict[str, object]:
        return {"samples": self.samples, "seconds": self.seconds, "kept": self.kept, "changed": self.changed,
                "searched": len(self.tensors), "check_sqnr_db": list(self.check_sqnr) if self.check_sqnr else None,
                "notes": self.notes,
                "tensors": [{"name": t.name, "min_max": list(t.old), "searched": list(t.new),
                             "mse_ratio": t.mse_ratio} for t in self.tensors]}


@dataclass
class _Target:
    name: str
    scale: str  # initializer names
    zero_point: str
    qmin: int
    qmax: int
    lo: float
    hi: float


def _targets(model: onnx.ModelProto) -> list[_Target]:
    """Activation tensors whose per-tensor range onnpu may change."""
    inits = {t.name: t for t in model.graph.initializer}
    made_by = producers(model.graph)
    used_by = consumers(model.graph)
    graph_io = {i.name for i in model.graph.input} | {o.name for o in model.graph.output}
    found = []
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in inits or node.input[0] in graph_io:
            continue
        if len(node.input) < 3 or node.input[1] not in inits or node.input[2] not in inits:
            continue
        producer = made_by.get(node.input[0])
        if producer is None or producer.op_type in FIXED_RANGE | SHARED_RANGE:
            continue
        readers = [n for dq in used_by.get(node.output[0], []) for n in used_by.get(dq.output[0], [])]
        if any(n.op_type in SHARED_RANGE for n in readers) or any(o in graph_io for o in node.output):
            continue
        scale = numpy_helper.to_array(inits[node.input[1]])
        zp = numpy_helper.to_array(inits[node.input[2]])
        if scale.size != 1 or zp.dtype not in (np.uint8, np.int8, np.uint16, np.int16):
            continue
        info = np.iinfo(zp.dtype)
        s, z = float(scale.ravel()[0]), int(zp.ravel()[0])
        found.append(_Target(node.input[0], node.input[1], node.input[2], int(info.min), int(info.max),
                             (info.min - z) * s, (info.max - z) * s))
    return found


def _params(lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point as ONNX Runtime derives them from a range that includes 0."""
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    scale = np.maximum((hi - lo) / (qmax - qmin), 1e-12)
    zp = np.clip(np.rint(qmin - lo / scale), qmin, qmax)
    return scale, zp


def _best_range(t: _Target, counts: np.ndarray) -> tuple[float, float, float]:
    """The (lo, hi) of least quantization MSE over the histogram, and its MSE over the min/max range's."""
    edges = np.linspace(t.lo, t.hi, BINS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    keep = counts > 0
    c, w = centres[keep], counts[keep]
    los = t.lo * SHRINK if t.lo < 0 else np.array([t.lo])
    his = t.hi * SHRINK if t.hi > 0 else np.array([t.hi])
    lo_grid, hi_grid = np.meshgrid(los, his, indexing="ij")
    scale, zp = _params(lo_grid.ravel(), hi_grid.ravel(), t.qmin, t.qmax)
    q = np.clip(np.rint(c[None, :] / scale[:, None]) + zp[:, None], t.qmin, t.qmax)
    mse = ((c[None, :] - (q - zp[:, None]) * scale[:, None]) ** 2 @ w) / max(w.sum(), 1)
    best = int(np.argmin(mse))  # index 0 is the min/max range: kept on ties
    return float(lo_grid.ravel()[best]), float(hi_grid.ravel()[best]), float(mse[best] / mse[0]) if mse[0] > 0 else 1.0


def _histograms(float_model: onnx.ModelProto, targets: Sequence[_Target],
                feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    probe = onnx.ModelProto()
    probe.CopyFrom(float_model)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_empty_tensor_value_info(t.name) for t in targets)
    session = create_session(probe, get_target("cpu"))
    infos = tensor_infos(float_model)[0]
    names = [t.name for t in targets]
    counts = {t.name: np.zeros(BINS) for t in targets}
    for k, feed in enumerate(feeds):
        prepared, _ = prepare_feeds(infos, {i.name: feed[i.name] for i in infos}, "model")
        for t, value in zip(targets, session.run(prepared, names), strict=True):
            x = np.asarray(value, dtype=np.float64).ravel()
            x = x[::max(1, x.size // MAX_VALUES)]  # a regular subsample of large maps
            # masks and fills (-3.4e38, inf) are clipped to the calibrated range before binning
            x = np.clip(np.nan_to_num(x, nan=t.lo, posinf=t.hi, neginf=t.lo), t.lo, t.hi)
            span = (t.hi - t.lo) or 1.0
            index = np.clip(((x - t.lo) / span * BINS).astype(np.int64), 0, BINS - 1)
            counts[t.name] += np.bincount(index, minlength=BINS)
        progress.advance("range search", k + 1, len(feeds))
    return counts


def _requantize_biases(model: onnx.ModelProto, changed: Mapping[str, tuple[float, float]]) -> None:
    """A Conv/Gemm whose input scale changed: its int32 bias (scale = input scale × weight scale) requantized."""
    inits = {t.name: t for t in model.graph.initializer}
    made_by = producers(model.graph)
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm") or len(node.input) < 3 or not node.input[2]:
            continue
        dq = made_by.get(node.input[0])
        q = made_by.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        bdq = made_by.get(node.input[2])
        if q is None or q.op_type != "QuantizeLinear" or q.input[0] not in changed or bdq is None:
            continue
        if bdq.op_type != "DequantizeLinear" or bdq.input[0] not in inits or bdq.input[1] not in inits:
            continue
        old_scale, new_scale = changed[q.input[0]]
        bias = numpy_helper.to_array(inits[bdq.input[0]])
        bscale = numpy_helper.to_array(inits[bdq.input[1]])
        real = bias.astype(np.float64) * bscale.astype(np.float64)
        nscale = (bscale.astype(np.float64) * (new_scale / old_scale)).astype(bscale.dtype)
        info = np.iinfo(bias.dtype)
        nbias = np.clip(np.rint(real / nscale.astype(np.float64)), info.min, info.max).astype(bias.dtype)
        inits[bdq.input[0]].CopyFrom(numpy_helper.from_array(nbias, bdq.input[0]))
        inits[bdq.input[1]].CopyFrom(numpy_helper.from_array(nscale, bdq.input[1]))


def search_ranges(model: onnx.ModelProto, float_model: onnx.ModelProto,
                  feeds: Sequence[Mapping[str, np.ndarray]]) -> tuple[onnx.ModelProto, RangeReport]:
    """The QDQ ``model`` with each eligible activation's range set to the one of least MSE on the fit inputs
    (3 of every 4 of ``feeds``), kept only if its worst output SQNR on the others is higher (pure)."""
    from onnpu.quantization.evaluate import run_on_cpu
    from onnpu.quantization.rounding import _worst_sqnr

    start = time.perf_counter()
    fit = [f for k, f in enumerate(feeds) if k % CHECK_EVERY != CHECK_EVERY - 1 or len(feeds) < CHECK_EVERY]
    check = [f for k, f in enumerate(feeds) if k % CHECK_EVERY == CHECK_EVERY - 1 and len(feeds) >= CHECK_EVERY]
    in_float = {v for n in float_model.graph.node for v in n.output}
    targets = [t for t in _targets(model) if t.name in in_float]
    report = RangeReport([], len(fit), 0.0)
    if not targets:
        return model, report
    counts = _histograms(float_model, targets, fit)
    result = onnx.ModelProto()
    result.CopyFrom(model)
    inits = {t.name: t for t in result.graph.initializer}
    changed: dict[str, tuple[float, float]] = {}
    for t in targets:
        lo, hi, ratio = _best_range(t, counts[t.name])
        report.tensors.append(TensorRange(t.name, (t.lo, t.hi), (lo, hi), ratio))
        if (lo, hi) == (t.lo, t.hi):
            continue
        scale, zp = _params(np.array([lo]), np.array([hi]), t.qmin, t.qmax)
        old_scale = float(numpy_helper.to_array(inits[t.scale]).ravel()[0])
        s_dtype = numpy_helper.to_array(inits[t.scale]).dtype
        z_dtype = numpy_helper.to_array(inits[t.zero_point]).dtype
        s_shape = numpy_helper.to_array(inits[t.scale]).shape
        inits[t.scale].CopyFrom(numpy_helper.from_array(scale.astype(s_dtype).reshape(s_shape), t.scale))
        inits[t.zero_point].CopyFrom(numpy_helper.from_array(zp.astype(z_dtype).reshape(s_shape), t.zero_point))
        changed[t.name] = (old_scale, float(scale[0]))
    _requantize_biases(result, changed)
    if check and changed:
        reference = run_on_cpu(float_model, check, exact=False)
        report.check_sqnr = (_worst_sqnr(float_model, model, check, reference),
                             _worst_sqnr(float_model, result, check, reference))
        if not report.check_sqnr[1] > report.check_sqnr[0]:
            report.kept = False
            report.notes.append(f"searched ranges were not better on the check inputs ({report.check_sqnr[1]:.2f} "
                                f"dB against {report.check_sqnr[0]:.2f} dB with min/max): min/max kept")
            result = model
    report.seconds = time.perf_counter() - start
    return result, report
