"""The kind of each model input, decided from the graph: what it feeds says what values make sense.

- integer input indexing a constant table (``Gather``, through Cast/Unsqueeze/Reshape/...): token ids (positions
  when named so), ``0 .. rows-1``;
- integer or bool input reaching a mask pattern (Sub/Mul/Where/Not/Equal/And/Or, e.g. Cast → Sub(1, m) → Mul
  into attention), or a float input reaching ``1 - m``: a 0/1 mask;
- integer input compared with a range (Less/Greater…): a length, ``1 .. the longest axis of the other inputs``;
- quantized input (Q/DQ at the input): the range its parameters represent;
- float ``[N, T]`` / ``[N, C≤2, T]`` with a long or symbolic time axis: a waveform in [-1, 1];
- float ``[N, C, H, W]`` / ``[N, H, W, C]`` with 1 or 3 channels: an image, in the range the model declares
  (the caller passes it) or 0..1;
- anything else: float 0..1, integers 0..255 (within the type).

Every kind can be overridden per input (``--input-range NAME=LO,HI``, ``--input-value NAME=V``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from onnpu.errors import InputDataError
from onnpu.model.graphs import constant_tensors, consumers, integer_input_ranges
from onnpu.model.inspection import TensorInfo, tensor_infos
from onnpu.runtime.inputs.feedable import check_feedable

if TYPE_CHECKING:
    import onnx

PASSTHROUGH = ("Cast", "Unsqueeze", "Reshape", "Flatten", "Squeeze", "Identity", "Expand", "Slice")
MASK_OPS = ("Sub", "Mul", "Where", "Not", "Equal", "And", "Or", "Xor")
LENGTH_OPS = ("Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Range")
WAVEFORM_MIN_SAMPLES = 1000  # a float [N, T] input with T at least this long (or symbolic) is taken as audio
WAVE_NAMES = ("wav", "audio", "speech", "pcm", "signal")


@dataclass(frozen=True)
class InputKind:
    """What one input is for and the values random data takes: integers ``low..high`` inclusive, floats
    uniform in ``[low, high)`` (``low == high``: that one value)."""

    name: str
    kind: str  # token ids, positions, mask, length, quantized, waveform, image, values, given
    low: float
    high: float
    why: str = ""

    def describe(self) -> str:
        span = f"{self.low:g}" if self.low == self.high else f"{self.low:g}..{self.high:g}"
        return f"{self.name}: {self.kind} {span}" + (f" ({self.why})" if self.why else "")


def describe_kinds(kinds: Mapping[str, InputKind]) -> str:
    """One line for a report: how the random inputs were made."""
    return "; ".join(k.describe() for k in kinds.values())


def _reached(name: str, users: Mapping[str, list[onnx.NodeProto]]) -> list[tuple[onnx.NodeProto, str]]:
    """The first non-passthrough nodes ``name`` reaches, with the tensor through which each reads it."""
    found: list[tuple[onnx.NodeProto, str]] = []
    frontier, seen = [name], set()
    while frontier:
        tensor = frontier.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        for user in users.get(tensor, []):
            if user.op_type in PASSTHROUGH and user.input[0] == tensor:
                frontier.extend(o for o in user.output if o)
            else:
                found.append((user, tensor))
    return found


def _is_one(name: str, consts: Mapping[str, onnx.TensorProto]) -> bool:
    from onnpu.model import proto

    if name not in consts:
        return False
    value = proto.to_array(consts[name])
    return value.size >= 1 and bool(np.all(value == 1))


def _quant_range(info: TensorInfo) -> tuple[float, float]:
    assert info.quant is not None
    limits = np.iinfo(np.dtype(info.quant.dtype))
    lows = [(limits.min - z) * s for s, z in zip(info.quant.scale, info.quant.zero_point, strict=True)]
    highs = [(limits.max - z) * s for s, z in zip(info.quant.scale, info.quant.zero_point, strict=True)]
    return float(max(lows)), float(min(highs))


def _longest_axis(infos: list[TensorInfo], dims: Mapping[str, int] | None) -> int:
    sizes = [int(d) for i in infos for d in i.with_dims(dims).shape[1:] if isinstance(d, int)]
    return max(sizes, default=1)


def _image_like(info: TensorInfo) -> bool:
    shape = info.shape
    return len(shape) == 4 and (shape[1] in (1, 3) or shape[3] in (1, 3))


def real_data_placeholder(infos: list[TensorInfo]) -> str:
    """What a command line should name for real inputs of these: a folder of photos for a one-image model, else a
    samples file (one array per input, samples stacked on axis 0)."""
    return "PHOTOS/" if len(infos) == 1 and _image_like(infos[0]) else "SAMPLES.npz"


def _waveform_like(info: TensorInfo) -> bool:
    shape = info.shape
    if any(w in info.name.lower() for w in WAVE_NAMES) and len(shape) in (2, 3):
        return True
    if len(shape) not in (2, 3) or any(isinstance(d, int) and d > 2 for d in shape[1:-1]):
        return False
    last = shape[-1]
    return not isinstance(last, int) or last >= WAVEFORM_MIN_SAMPLES


def _integer_kind(info: TensorInfo, reached: list[tuple[onnx.NodeProto, str]], rows: int | None,
                  longest: int) -> InputKind:
    dtype = info.numpy_dtype
    lowered = info.name.lower()
    if rows:
        table = next((n.input[0] for n, via in reached if n.op_type == "Gather" and n.input[1:2] == [via]), "")
        kind = "positions" if "position" in lowered or "pos_id" in lowered else "token ids"
        return InputKind(info.name, kind, 0, rows - 1, f"rows of {table!r}" if table else "rows of its table")
    limits = np.iinfo(dtype) if dtype != np.bool_ else None
    if limits is not None and _image_like(info):
        return InputKind(info.name, "image", max(limits.min, 0), min(limits.max, 255), "pixels")
    if dtype == np.bool_ or "mask" in lowered or any(n.op_type in MASK_OPS for n, _ in reached):
        op = next((n.op_type for n, _ in reached if n.op_type in MASK_OPS), None)
        return InputKind(info.name, "mask", 0, 1, f"feeds {op}" if op else "a mask")
    if any(n.op_type in LENGTH_OPS for n, _ in reached) or "length" in lowered:
        return InputKind(info.name, "length", 1, max(1, longest), "compared with positions")
    assert limits is not None
    return InputKind(info.name, "values", max(limits.min, 0), min(limits.max, 255), "use not recognised")


def _float_kind(info: TensorInfo, reached: list[tuple[onnx.NodeProto, str]],
                consts: Mapping[str, onnx.TensorProto], declared: Mapping[str, tuple[float, float]]) -> InputKind:
    if info.name in declared:
        low, high = declared[info.name]
        return InputKind(info.name, "image" if _image_like(info) else "values", low, high, "the model's declared range")
    for node, via in reached:
        if node.op_type == "Sub" and len(node.input) == 2 and node.input[1] == via and _is_one(node.input[0], consts):
            return InputKind(info.name, "mask", 0, 1, "feeds 1 - mask")
    if _image_like(info):
        return InputKind(info.name, "image", 0.0, 1.0, "pixels 0..1")
    if _waveform_like(info):
        return InputKind(info.name, "waveform", -1.0, 1.0, "audio samples")
    return InputKind(info.name, "values", 0.0, 1.0)


def input_kinds(model: onnx.ModelProto, *, infos: list[TensorInfo] | None = None,
                declared: Mapping[str, tuple[float, float]] | None = None,
                overrides: Mapping[str, tuple[float, float]] | None = None,
                dims: Mapping[str, int] | None = None) -> dict[str, InputKind]:
    """The kind of every input of ``model`` (``infos``: its inputs, when already read). ``declared``: ranges the
    model declares (its image preprocessing); ``overrides``: the user's ``NAME → (low, high)``, which win."""
    infos = infos if infos is not None else tensor_infos(model)[0]
    overrides = overrides or {}
    unknown = [n for n in overrides if n not in {i.name for i in infos}]
    if unknown:
        raise InputDataError(f"--input-range/--input-value: the model has no input named {unknown[0]!r}",
                             hint="its inputs are: " + ", ".join(i.name for i in infos))
    consts = constant_tensors(model)
    users = consumers(model.graph)
    longest = _longest_axis(infos, dims)
    tables = integer_input_ranges(model)  # token ids: the rows of the table each indexes
    kinds: dict[str, InputKind] = {}
    for info in infos:
        if info.name in overrides:
            low, high = overrides[info.name]
            kinds[info.name] = InputKind(info.name, "given", low, high, "as asked")
            continue
        reached = _reached(info.name, users)
        dtype = check_feedable(info)
        if info.quant is not None:
            low, high = _quant_range(info)
            kinds[info.name] = InputKind(info.name, "quantized", low, high, f"range of {info.quant.source}")
        elif np.issubdtype(dtype, np.floating):
            kinds[info.name] = _float_kind(info, reached, consts, declared or {})
        else:
            kinds[info.name] = _integer_kind(info, reached, tables.get(info.name, (0, 0))[1], longest)
    return kinds
