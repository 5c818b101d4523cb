"""Optimised weight rounding: instead of rounding each weight to the nearest step, choose the integer
weights that minimise each layer's output error on the calibration inputs (second-order, GPTQ/OBQ-style:
columns are quantized one at a time and the error of each is spread over the columns not yet quantized,
weighted by the inverse of the layer's input covariance). Scales and zero points stay exactly as the QNN
recipe chose them, so the result is the same QDQ layout, just better integers."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from onnpu import progress
from onnpu.quantization.rounding_stats import Layer, Stats, collect_stats, find_layers

DAMPING = 0.01  # of the mean diagonal, added to the covariance (it is rank-deficient with few samples)
BLOCK = 128


@dataclass
class LayerReport:
    name: str
    op_type: str
    rows: int
    columns: int
    groups: int
    error_nearest: float  # tr((W − Ŵ) H (W − Ŵ)ᵀ), the layer's output error on the calibration inputs
    error_optimized: float
    bias_corrected: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class RoundingReport:
    method: str
    samples: int
    seconds: float
    layers: list[LayerReport]

    @property
    def improvement(self) -> float:
        near = sum(r.error_nearest for r in self.layers)
        opt = sum(r.error_optimized for r in self.layers)
        return near / opt if opt > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "samples": self.samples, "seconds": self.seconds,
                "improvement": self.improvement, "layers": [r.to_dict() for r in self.layers]}


def _quant(w: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.rint(w / scale) + zp, lo, hi)


def gptq(w: np.ndarray, h: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int,
         act_order: bool = True) -> np.ndarray:
    """Integer weights for rows ``w`` [rows, d] sharing the input covariance ``h`` [d, d]."""
    w = w.astype(np.float64).copy()
    h = h.astype(np.float64).copy()
    d = w.shape[1]
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    perm = np.argsort(-np.diag(h), kind="stable") if act_order else np.arange(d)
    w, h = w[:, perm], h[np.ix_(perm, perm)]
    h[np.diag_indices(d)] += DAMPING * np.mean(np.diag(h))
    hinv = np.linalg.inv(np.linalg.cholesky(h))
    hinv = hinv.T @ hinv  # H⁻¹
    u = np.linalg.cholesky(hinv).T  # upper: H⁻¹ = Uᵀ U
    s, z = scale[:, None], zp[:, None]
    q = np.zeros_like(w)
    for i1 in range(0, d, BLOCK):
        i2 = min(i1 + BLOCK, d)
        w1 = w[:, i1:i2].copy()
        err = np.zeros_like(w1)
        u1 = u[i1:i2, i1:i2]
        for i in range(i2 - i1):
            qi = _quant(w1[:, i:i + 1], s, z, lo, hi)
            q[:, i1 + i] = qi[:, 0]
            e = (w1[:, i] - ((qi[:, 0] - z[:, 0]) * s[:, 0])) / u1[i, i]
            w1[:, i:] -= np.outer(e, u1[i, i:])
            err[:, i] = e
        w[:, i2:] -= err @ u[i1:i2, i2:]
    inverse = np.argsort(perm)
    return q[:, inverse]


def _gptq_per_row(w: np.ndarray, hs: np.ndarray, scale: np.ndarray, zp: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Depthwise layers: every row has its own small covariance ``hs`` [rows, d, d]."""
    d = w.shape[1]
    hs = hs.astype(np.float64).copy()
    idx = np.arange(d)
    diag_mean = hs[:, idx, idx].mean(axis=1, keepdims=True)
    hs[:, idx, idx] += DAMPING * np.maximum(diag_mean, 1e-12)
    hinv = np.linalg.inv(hs)
    u = np.swapaxes(np.linalg.cholesky(hinv), 1, 2)
    w = w.astype(np.float64).copy()
    q = np.zeros_like(w)
    for i in range(d):
        qi = _quant(w[:, i], scale, zp, lo, hi)
        q[:, i] = qi
        e = (w[:, i] - (qi - zp) * scale) / u[:, i, i]
        w[:, i:] -= e[:, None] * u[:, i, i:]
    return q


def _error(w: np.ndarray, wq: np.ndarray, h: np.ndarray) -> float:
    delta = w - wq
    if h.ndim == 3:  # per row
        return float(np.einsum("rd,rde,re->", delta, h, delta))
    return float(np.einsum("rd,de,re->", delta, h, delta))


def _round_layer(layer: Layer, weight: np.ndarray, stats: Stats) -> tuple[np.ndarray, LayerReport, np.ndarray]:
    """New integer weights (original shape) from the float ``weight``, the report, and the per-output-channel
    output shift (for bias correction)."""
    info = np.iinfo(layer.dtype)
    lo, hi = int(info.min), int(info.max)
    op = layer.node.op_type
    w = weight.astype(np.float64)
    if op in ("Gemm", "MatMul"):
        rows = w if op == "Gemm" else w.T  # rows = output features
    elif op == "Conv":
        rows = w.reshape(w.shape[0], -1)
    else:  # ConvTranspose [Cin, Cout/g, kh, kw] → rows per output channel over (Cin, kh, kw)
        rows = w.transpose(1, 0, *range(2, w.ndim)).reshape(w.shape[1], -1)
    n_rows = rows.shape[0]
    scale = np.broadcast_to(layer.scale if layer.scale.size > 1 else layer.scale[0], (n_rows,)).astype(np.float64)
    zp = np.broadcast_to(layer.zero_point if layer.zero_point.size > 1 else layer.zero_point[0], (n_rows,))
    zp = zp.astype(np.float64)
    groups = stats.hessian.shape[0]
    if op == "ConvTranspose":
        k = int(np.prod(w.shape[2:]))
        hessian = np.stack([np.kron(stats.hessian[g], np.eye(k)) for g in range(groups)])
        total = np.stack([np.kron(stats.total[g], np.ones(k)) for g in range(groups)])
    else:
        hessian, total = stats.hessian, stats.total
    mean = total / max(stats.count, 1)
    per = n_rows // groups
    real_rows = rows * 1.0
    nearest = _quant(real_rows, scale[:, None], zp[:, None], lo, hi)
    if groups > 1 and per == 1 and op == "Conv":  # depthwise: one covariance per channel
        q = _gptq_per_row(real_rows, hessian, scale, zp, lo, hi)
        h_rows = hessian
        means = mean
    else:
        q = np.zeros_like(real_rows)
        for g in range(groups):
            sl = slice(g * per, (g + 1) * per)
            q[sl] = gptq(real_rows[sl], hessian[g], scale[sl], zp[sl], lo, hi)
        h_rows = np.repeat(hessian, per, axis=0) if groups > 1 else hessian[0]
        means = np.repeat(mean, per, axis=0) if groups > 1 else np.broadcast_to(mean[0], real_rows.shape)
    deq = lambda x: (x - zp[:, None]) * scale[:, None]  # noqa: E731
    report = LayerReport(layer.name, op, n_rows, real_rows.shape[1], groups,
                         _error(real_rows, deq(nearest), h_rows), _error(real_rows, deq(q), h_rows), False)
    shift = np.einsum("rd,rd->r", real_rows - deq(q), means)  # E[(W − Ŵ) x] per output channel
    if op in ("Gemm", "Conv"):
        out = q.reshape(w.shape) if op == "Conv" else q
    elif op == "MatMul":
        out = q.T
    else:
        out = q.reshape(w.shape[1], w.shape[0], *w.shape[2:]).transpose(1, 0, *range(2, w.ndim))
    return out.astype(layer.dtype), report, shift


def _float_weights(float_model: onnx.ModelProto, layers: Sequence[Layer]) -> dict[str, np.ndarray]:
    """The float weights behind each quantized weight (ONNX Runtime names it ``<float name>_quantized``)."""
    wanted = {layer.weight.removesuffix("_quantized"): layer.weight for layer in layers}
    found = {}
    for t in float_model.graph.initializer:
        if t.name in wanted:
            found[wanted[t.name]] = numpy_helper.to_array(t)
    return found


def optimize_rounding(model: onnx.ModelProto, float_model: onnx.ModelProto,
                      feeds: Sequence[Mapping[str, np.ndarray]], *, bias_correction: bool = True, jobs: int = 1
                      ) -> tuple[onnx.ModelProto, RoundingReport]:
    """Re-round the integer weights of every Conv/ConvTranspose/Gemm/MatMul of a QDQ model (pure: returns a
    new model). Deterministic: no randomness, same inputs → same integers."""
    start = time.perf_counter()
    result = onnx.ModelProto()
    result.CopyFrom(model)
    weights = _float_weights(float_model, find_layers(result))
    layers = [layer for layer in find_layers(result) if layer.weight in weights]  # others keep nearest rounding
    stats = collect_stats(result, layers, feeds)
    inits = {t.name: t for t in result.graph.initializer}
    reports: list[LayerReport] = []

    def work(layer: Layer) -> tuple[Layer, np.ndarray, LayerReport, np.ndarray]:
        return (layer, *_round_layer(layer, weights[layer.weight], stats[layer.name]))

    done = 0
    with ThreadPoolExecutor(max(1, jobs)) as pool:  # numpy/BLAS release the GIL
        for layer, q, report, shift in pool.map(work, layers):
            inits[layer.weight].CopyFrom(numpy_helper.from_array(q, layer.weight))
            if bias_correction and layer.bias and layer.bias_scale is not None:
                original = numpy_helper.to_array(inits[layer.bias])
                step = np.broadcast_to(layer.bias_scale, original.shape)
                corrected = original.astype(np.int64) + np.rint(shift / step).astype(np.int64)
                info = np.iinfo(original.dtype)
                corrected = np.clip(corrected, info.min, info.max).astype(original.dtype)
                inits[layer.bias].CopyFrom(numpy_helper.from_array(corrected, layer.bias))
                report.bias_corrected = True
            reports.append(report)
            done += 1
            progress.advance("rounding", done, len(layers))
    return result, RoundingReport("gptq", len(feeds), time.perf_counter() - start, reports)
