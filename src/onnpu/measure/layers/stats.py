"""Per-tensor statistics for ``layers``, accumulated input by input so that no array outlives its comparison:
sums for SQNR and cosine, maxima for the error in quantization steps, counts for clipping and for the
device's departures from the exact CPU arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from onnpu.metrics import ratio_db
from onnpu.model.qparams import QuantParams


def _per_axis(values: tuple[float, ...] | tuple[int, ...], qp: QuantParams, ndim: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if qp.per_tensor or qp.axis is None:
        return array.reshape(())
    shape = [1] * ndim
    shape[qp.axis] = -1
    return array.reshape(shape)


BLOCK = 1 << 20  # elements compared at a time: float64 copies of a big tensor stay a few MB


def blocks(shape: tuple[int, ...], keep: int | None = None) -> list[tuple[slice, ...]]:
    """Index tuples covering an array of ``shape`` in slabs of about BLOCK elements, cut along its longest
    axis other than ``keep`` (the per-axis quantization axis, so that its parameters broadcast unchanged)."""
    size = int(np.prod(shape)) if shape else 1
    axes = [a for a in range(len(shape)) if a != keep and shape[a] > 1]
    if size <= BLOCK or not axes:
        return [tuple(slice(None) for _ in shape)]
    axis = max(axes, key=lambda a: shape[a])
    step = max(1, shape[axis] * BLOCK // size)
    return [tuple(slice(i, i + step) if a == axis else slice(None) for a in range(len(shape)))
            for i in range(0, shape[axis], step)]


def dequantize64(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Integers to float64 with the model's parameters (float32 products, as DequantizeLinear computes them)."""
    scale = _per_axis(qp.scale, qp, q.ndim).astype(np.float32)
    zp = _per_axis(qp.zero_point, qp, q.ndim).astype(np.float32)
    return ((q.astype(np.float32) - zp) * scale).astype(np.float64)



def _gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a − b where equal values (infinities included) differ by 0 and anything else non-finite by infinity: a
    float op run on quantized inputs may overflow or take the log of 0 (the float model itself was finite)."""
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.where(a == b, 0.0, a - b)
    return np.where(np.isnan(gap), np.inf, gap)

@dataclass
class DriftStats:
    """A float reference tensor against the quantized model's value of it, and against what the reference's
    own op computes from the quantized model's inputs (``local``): the noise this layer makes itself, and
    the noise it passes on from its inputs."""

    samples: int = 0
    elements: int = 0
    signal: float = 0.0  # Σ ref²
    noise: float = 0.0  # Σ (ref − quantized)²
    cosine_sum: float = 0.0
    max_abs: float = 0.0
    max_steps: float | None = None
    local_noise: float | None = None  # Σ (local − quantized)²: made by this layer (weights, arithmetic, rounding)
    passed_noise: float | None = None  # Σ (local − ref)²: its inputs' noise, through its float op
    rounding_noise: float = 0.0  # Σ (x clipped to the range − its dequantized value)²: the activation's rounding
    clipping_noise: float = 0.0  # Σ (local (else ref) − the same clipped to the quantized range)²
    clipped: int = 0  # reference values outside the quantized range by more than half a step

    def add(self, reference: np.ndarray, quantized: np.ndarray, qp: QuantParams | None,
            before: np.ndarray | None = None, local: np.ndarray | None = None) -> None:
        """One input: ``quantized`` holds integers (dequantized with ``qp``) or, with ``qp`` None, floats."""
        shape = np.shape(quantized)
        reference = np.reshape(reference, shape)
        before = np.reshape(before, shape) if before is not None else None
        local = np.reshape(local, shape) if local is not None else None
        keep = qp.axis if qp is not None and not qp.per_tensor else None
        dot = ref_sq = test_sq = 0.0
        for index in blocks(shape, keep):
            ref = np.asarray(reference[index], dtype=np.float64)
            tst = dequantize64(quantized[index], qp) if qp is not None else np.asarray(quantized[index], np.float64)
            diff = _gap(ref, tst)
            dot += float(np.vdot(ref, tst))
            ref_sq += float(np.vdot(ref, ref))
            test_sq += float(np.vdot(tst, tst))
            self.noise += float(np.vdot(diff, diff))
            if diff.size:
                self.max_abs = max(self.max_abs, float(np.max(np.abs(diff))))
            own = np.asarray(local[index], dtype=np.float64) if local is not None else None
            if own is not None:
                made, passed = _gap(own, tst), _gap(own, ref)
                self.local_noise = (self.local_noise or 0.0) + float(np.vdot(made, made))
                self.passed_noise = (self.passed_noise or 0.0) + float(np.vdot(passed, passed))
            if qp is not None:
                self._quantized(ref, tst, diff, own, before[index] if before is not None else None, qp)
        norm = math.sqrt(ref_sq * test_sq)
        self.cosine_sum += dot / norm if norm > 0 else (1.0 if ref_sq == test_sq == 0 else 0.0)
        self.samples += 1
        self.elements += int(np.prod(shape)) if shape else 1
        self.signal += ref_sq

    def _quantized(self, ref: np.ndarray, tst: np.ndarray, diff: np.ndarray, own: np.ndarray | None,
                   before: np.ndarray | None, qp: QuantParams) -> None:
        info = np.iinfo(np.dtype(qp.dtype))
        scale = _per_axis(qp.scale, qp, ref.ndim)
        zp = _per_axis(qp.zero_point, qp, ref.ndim)
        lo, hi = (info.min - zp) * scale, (info.max - zp) * scale
        if diff.size:
            self.max_steps = max(self.max_steps or 0.0, float(np.max(np.abs(diff) / scale)))
        self.clipped += int(np.count_nonzero((ref < lo - scale / 2) | (ref > hi + scale / 2)))
        seen = own if own is not None else ref
        outside = seen - np.clip(seen, lo, hi)
        self.clipping_noise += float(np.vdot(outside, outside))
        if before is not None:
            rounding = np.clip(np.asarray(before, dtype=np.float64), lo, hi) - tst
            self.rounding_noise += float(np.vdot(rounding, rounding))

    @property
    def sqnr_db(self) -> float:
        return ratio_db(self.signal, self.noise)

    @property
    def nsr(self) -> float:
        """Noise-to-signal ratio (linear)."""
        return self.noise / self.signal if self.signal > 0 else (0.0 if self.noise == 0 else math.inf)

    def share(self, noise: float | None) -> float | None:
        """``noise`` relative to this tensor's signal."""
        if noise is None:
            return None
        return noise / self.signal if self.signal > 0 else (0.0 if noise == 0 else math.inf)

    @property
    def cosine(self) -> float:
        return self.cosine_sum / self.samples if self.samples else math.nan


@dataclass
class DeviceStats:
    """A quantized tensor on the device against the exact CPU arithmetic, in integer steps."""

    samples: int = 0
    elements: int = 0
    max_steps: int = 0
    differing: int = 0  # elements not bit-equal
    beyond_one: int = 0  # elements more than one step apart
    signal: float = 0.0  # Σ reference² (dequantized)
    noise: float = 0.0  # Σ (device − reference)² (dequantized)

    def add(self, reference: np.ndarray, device: np.ndarray, qp: QuantParams) -> None:
        device = np.reshape(device, np.shape(reference))
        self.samples += 1
        for index in blocks(np.shape(reference), qp.axis if not qp.per_tensor else None):
            ref, dev = reference[index], device[index]
            steps = np.abs(ref.astype(np.int64) - dev.astype(np.int64))
            self.elements += steps.size
            if steps.size:
                self.max_steps = max(self.max_steps, int(steps.max()))
            self.differing += int(np.count_nonzero(steps))
            self.beyond_one += int(np.count_nonzero(steps > 1))
            deq_ref = dequantize64(ref, qp)
            err = deq_ref - dequantize64(dev, qp)
            self.signal += float(np.vdot(deq_ref, deq_ref))
            self.noise += float(np.vdot(err, err))

    @property
    def sqnr_db(self) -> float:
        return ratio_db(self.signal, self.noise)
