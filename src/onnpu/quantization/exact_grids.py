"""Constants that an integer grid holds exactly get that grid. A min/max range puts a tensor's values on a grid
of ``range / 255`` steps, which for a constant that is itself a grid is a worse one: YOLOv8's DFL weights are the
integers 0..15 (int8 with scale 15/127 turns 1 into 0.945, so every box distance is 5.5 % short), the anchor
centres of a decoded head are 0.5, 1.5, … 39.5 (uint8 over [0, 39.5] rounds them by up to 0.08 of a cell, 2.5 px
at stride 32), and strides are 8, 16, 32. Where every value of a constant is an integer multiple of its smallest
magnitude ``q`` and the multiples fit the quantized type, the scale is ``q`` and the constant is exact — never
worse than min/max, which it replaces for that constant only.

Weights (the second input of Conv, ConvTranspose, Gemm, MatMul) keep the weight type (int8 symmetric: multiples
within ±127); the constants of Add, Sub, Mul and Div get the activation type of their tensor (uint8, or uint16
where the tensor is 16-bit, or where the op meets a 16-bit activation: ``sixteen_bit_partners``). Left alone:
biases (the quantizer derives their scale), other ops' float parameters, and every constant min/max already holds
exactly (a single value, 0.5 … 7.5 over 255 steps): the model changes only where a value would have been rounded."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import onnx
from onnx import numpy_helper

from onnpu.model.graphs import consumers

WEIGHT_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
ARITHMETIC = frozenset({"Add", "Sub", "Mul", "Div"})  # the constants of a decode (other ops' float parameters —
# Resize scales, Clip bounds, a Where's fill — are not moved off the grid the quantizer gives them)
MAX_ELEMENTS = 1 << 16  # larger constants are learned weights, never a grid: not scanned
TOLERANCE = 1e-5  # of a step: how far a value may sit from its multiple (float32 rounding of k · q)
_LIMITS = {"i8": (-127, 127), "u8": (0, 255), "u16": (0, 65535)}


def exact_step(values: np.ndarray, low: int, high: int) -> tuple[float, int] | None:
    """(scale, zero point) of an integer grid of at most ``high - low`` steps that holds every value exactly, with
    0 on the grid; None when there is none (values not multiples of their smallest magnitude)."""
    flat = np.asarray(values, np.float64).reshape(-1)
    if flat.size == 0 or not np.all(np.isfinite(flat)):
        return None
    nonzero = np.abs(flat[flat != 0])
    if nonzero.size == 0:
        return None
    step = float(nonzero.min())
    multiples = flat / step
    whole = np.round(multiples)
    if np.max(np.abs(multiples - whole)) > TOLERANCE:
        return None
    lowest, highest = min(int(whole.min()), 0), max(int(whole.max()), 0)
    if low < 0:  # symmetric: zero point 0
        return (step, 0) if -lowest <= high and highest <= high else None
    if highest - lowest > high - low:
        return None
    return step, -lowest


def _role(name: str, readers: dict[str, list[onnx.NodeProto]]) -> str | None:
    """"weight", "constant" or None (a bias, or read in ways that disagree)."""
    roles = set()
    for node in readers.get(name, []):
        for index, used in enumerate(node.input):
            if used != name:
                continue
            if node.op_type in WEIGHT_OPS and index == 1:
                roles.add("weight")
            elif node.op_type in WEIGHT_OPS and index == 2:
                roles.add("bias")
            elif node.op_type in ARITHMETIC:
                roles.add("constant")
            else:
                roles.add("other")
    return roles.pop() if len(roles) == 1 and roles & {"weight", "constant"} else None


def _min_max_exact(values: np.ndarray, low: int, high: int, per_channel: bool) -> bool:
    """Whether the quantizer's own grid (min/max, 0 included; symmetric per output channel for int8 weights)
    already holds every value: then nothing is gained and nothing changed."""
    flat = np.asarray(values, np.float64)
    if not flat.size:  # an empty constant: every one of its (no) values is on the grid already
        return True
    rows = flat.reshape(flat.shape[0], -1) if per_channel and flat.ndim > 1 else flat.reshape(1, -1)
    for row in rows:
        if low < 0:
            scale = float(np.abs(row).max()) / high
            zero = 0.0
        else:
            lo, hi = min(float(row.min()), 0.0), max(float(row.max()), 0.0)
            scale = (hi - lo) / (high - low)
            zero = float(np.round(-lo / scale)) if scale > 0 else 0.0
        if scale == 0:
            continue
        grid = (np.clip(np.round(row / scale) + zero, low, high) - zero) * scale
        if np.max(np.abs(grid - row)) > TOLERANCE * scale:
            return False
    return True


def exact_grid_overrides(model: onnx.ModelProto, *, weights: str, activations: str,
                         sixteen_bit: Collection[str] = ()) -> dict[str, dict[str, object]]:
    """``scale`` and ``zero_point`` for the constants of ``model`` an integer grid holds exactly, in the
    quantizer's override form. ``weights``: "i8" or "u8"; ``activations``: "u8" or "u16"; ``sixteen_bit``: tensors
    raised to 16 bits."""
    readers = consumers(model.graph)
    found: dict[str, dict[str, object]] = {}
    for tensor in model.graph.initializer:
        if tensor.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16) or \
                int(np.prod(tensor.dims, dtype=np.int64)) > MAX_ELEMENTS:
            continue
        role = _role(tensor.name, readers)
        if role is None:
            continue
        kind = weights if role == "weight" else ("u16" if activations == "u16" or tensor.name in sixteen_bit
                                                 else "u8")
        values = numpy_helper.to_array(tensor)
        if _min_max_exact(values, *_LIMITS[kind], per_channel=role == "weight"):
            continue
        grid = exact_step(values, *_LIMITS[kind])
        if grid is not None:
            dtype = {"i8": np.int8, "u8": np.uint8, "u16": np.uint16}[kind]
            found[tensor.name] = {"scale": np.float32(grid[0]), "zero_point": dtype(grid[1])}
    return found


def sixteen_bit_partners(model: onnx.ModelProto, sixteen_bit: Collection[str]) -> set[str]:
    """The constants of Add, Sub, Mul and Div nodes that meet a 16-bit activation: they take 16 bits too. An
    elementwise op whose inputs are of two types (a uint8 constant, a uint16 activation) is refused by HTP v68
    ("Failed to add node"; a decode's anchors and strides beside a 16-bit box branch); of one type it is built."""
    if not sixteen_bit:
        return set()
    weights = {t.name for t in model.graph.initializer}
    partners: set[str] = set()
    for node in model.graph.node:
        if node.op_type in ARITHMETIC and any(i in sixteen_bit for i in node.input if i not in weights):
            partners.update(i for i in node.input if i in weights)
    return partners


def merged(overrides: dict[str, list[dict[str, object]]], exact: dict[str, dict[str, object]]
           ) -> dict[str, list[dict[str, object]]]:
    """``overrides`` with the exact grids added, where no range was set for that tensor already (a grid another
    rewrite chose, such as a bounded activation's, stays)."""
    out = {name: [dict(e) for e in entries] for name, entries in overrides.items()}
    for name, grid in exact.items():
        entries = out.get(name)
        if entries is None:
            out[name] = [dict(grid)]
        elif all(set(e) <= {"quant_type"} for e in entries):
            for entry in entries:
                entry.update(grid)
    return out
