"""What ``layers`` reports: one row per shared activation, in graph order, and the summary people act on —
the first layer below the threshold, the layers that add the most noise, the same by op type, what to do
(with the command), and where the device first departs from the exact CPU arithmetic."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "onnpu.layers/1"  # written by onnpu.jsonio: a non-finite number (SQNR of identical tensors) is null


@dataclass
class DeviceRow:
    """One quantized tensor on the device against the exact CPU arithmetic."""

    max_steps: int  # the tensor the device computes in the whole model (its inputs' departures included)
    differing_fraction: float
    beyond_one_fraction: float
    sqnr_db: float
    alone_max_steps: int | None = None  # the op alone on the device, fed the CPU's inputs
    alone_beyond_one_fraction: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LayerRow:
    index: int
    name: str
    node: str
    op: str
    inputs: list[str]
    shape: list[int] | None
    dtype: str  # uint8 / uint16 / ... or "float" when the quantized model keeps it in float
    scale: float | None  # per-tensor scale (first scale when per-axis)
    is_output: bool = False
    # float reference vs quantized model (None without a reference)
    sqnr_db: float | None = None
    input_sqnr_db: float | None = None
    lost_db: float | None = None  # input SQNR − own SQNR: what this layer loses
    layer_sqnr_db: float | None = None  # against its float op run on the quantized inputs: its own error only
    noise_share: float | None = None  # estimated share of the output noise this layer makes (ranks the layers)
    rounding_share: float | None = None  # ... made by its activation's rounding alone (what 16 bits remove)
    cosine: float | None = None
    max_abs_error: float | None = None
    max_error_steps: float | None = None
    rounding_sqnr_db: float | None = None  # the activation's rounding to its integer type, alone
    clipped_fraction: float | None = None  # reference values beyond the quantized range
    cause: str | None = None  # "activation rounding" | "clipping" | "weights / arithmetic"
    device: DeviceRow | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["device"] = self.device.to_dict() if self.device else None
        return data


@dataclass
class OpSummary:
    op: str
    layers: int
    mean_lost_db: float | None
    noise_share: float  # share of the output noise these layers make
    worst: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Advice:
    kind: str  # "sixteen_bit" | "calibration" | "rounding" | "device"
    text: str
    tensors: list[str] = field(default_factory=list)
    command: str | None = None


@dataclass
class DeviceSummary:
    target: str
    htp_arch: str
    placement: str  # of the model with the extra outputs
    plain_placement: str | None
    first_departure: int | None  # row index of the first tensor more than one step from the CPU
    first_difference: int | None  # row index of the first tensor not bit-equal
    first_op_departure: int | None  # row index of the first op more than one step off on the CPU's inputs
    outputs_match: bool  # the final outputs with and without the extra outputs
    outputs_max_steps: float
    samples: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LayersResult:
    reference: str | None
    quantized: str
    input_source: str
    samples: int
    threshold_db: float
    rows: list[LayerRow]
    reference_tensors: int  # float activations of the reference graph
    skipped: list[str]  # ... that the quantized model does not keep (fused away)
    chunks: int
    seconds: float
    peak_rss_mb: float
    first_below: int | None = None
    top: list[int] = field(default_factory=list)
    by_op: list[OpSummary] = field(default_factory=list)
    advice: list[Advice] = field(default_factory=list)
    device: DeviceSummary | None = None
    notes: list[str] = field(default_factory=list)

    def row(self, index: int | None) -> LayerRow | None:
        return self.rows[index] if index is not None else None

    @property
    def final_sqnr_db(self) -> float | None:
        values = [r.sqnr_db for r in self.rows if r.is_output and r.sqnr_db is not None]
        return min(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        def name(index: int | None) -> str | None:
            return self.rows[index].name if index is not None else None

        device = self.device.to_dict() if self.device else None
        if device is not None and self.device is not None:
            device["first_departure"] = name(self.device.first_departure)
            device["first_difference"] = name(self.device.first_difference)
            device["first_op_departure"] = name(self.device.first_op_departure)
        return {"schema": SCHEMA, "reference": self.reference, "quantized": self.quantized,
                "input_source": self.input_source, "samples": self.samples, "threshold_db": self.threshold_db,
                "final_sqnr_db": self.final_sqnr_db, "first_below_threshold": name(self.first_below),
                "top": [name(i) for i in self.top], "by_op": [o.to_dict() for o in self.by_op],
                "advice": [asdict(a) for a in self.advice], "device": device,
                "reference_tensors": self.reference_tensors, "skipped": self.skipped, "chunks": self.chunks,
                "seconds": self.seconds, "peak_rss_mb": self.peak_rss_mb, "notes": self.notes,
                "rows": [r.to_dict() for r in self.rows]}


def lost_db(input_sqnr: float | None, own: float) -> float | None:
    if input_sqnr is None:
        return None
    if math.isinf(input_sqnr) and math.isinf(own):
        return 0.0
    return input_sqnr - own


def rank(rows: list[LayerRow], top: int) -> list[int]:
    """Rows making the largest share of the output noise, worst first."""
    scored = [r for r in rows if (r.noise_share or 0.0) > 0]
    scored.sort(key=lambda r: -(r.noise_share or 0.0))
    return [r.index for r in scored[:top]]


def by_op(rows: list[LayerRow]) -> list[OpSummary]:
    groups: dict[str, list[LayerRow]] = {}
    for r in rows:
        if r.sqnr_db is not None:
            groups.setdefault(r.op, []).append(r)
    result = []
    for op, members in groups.items():
        losses = [r.lost_db for r in members if r.lost_db is not None and math.isfinite(r.lost_db)]
        worst = max(members, key=lambda r: r.noise_share or 0.0)
        result.append(OpSummary(op, len(members), sum(losses) / len(losses) if losses else None,
                                sum(r.noise_share or 0.0 for r in members), worst.name))
    return sorted(result, key=lambda o: -o.noise_share)
