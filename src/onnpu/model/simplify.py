"""Simplification as a pure transform (``ModelProto -> ModelProto``): given input values baked in as constants,
then OnnxSlim (constant folding, shape-computation elimination, dead-node and identity removal, plain-ONNX
fusions; an ``If`` whose condition became constant is replaced by its branch), then every Constant node made an
initializer and the result checked. Running both models to prove the outputs unchanged is the verb's job
(``onnpu.tasks.simplify``): this layer makes no session.

OnnxSlim was chosen over onnxscript's optimizer, ONNX Runtime's offline basic optimisation, onnxsim and
onnxoptimizer by measurement (README, "Simplify"): it was the only one that folded every ``If`` of Silero VAD
and every shape computation of a torch-exported YOLOv8n, with only standard ops out."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnpu.errors import ShapeError, SimplifyError
from onnpu.model.graphs import (
    CONTROL_FLOW,
    condition_inputs,
    count_nodes,
    op_histogram,
    producers,
    settable_inputs,
    walk,
    with_unique_names,
)
from onnpu.model.inspection import graph_inputs, tensor_infos
from onnpu.model.transforms import constants_to_initializers

STANDARD_DOMAINS = ("", "ai.onnx")


def library_version() -> str:
    try:
        return f"onnxslim {importlib_metadata.version('onnxslim')}"
    except importlib_metadata.PackageNotFoundError:
        return "onnxslim (not installed)"


@dataclass
class SimplifyStats:
    """Node counts before and after (all graphs, control-flow bodies included), the ops that went away and the ops
    that came (fusions): "42 → 36 nodes; Add −6, MatMul −6, Gemm +6"."""

    nodes_before: int
    nodes_after: int
    inside_before: int  # nodes inside If/Loop/Scan bodies
    inside_after: int
    control_flow_before: int
    control_flow_after: int
    removed: dict[str, int] = field(default_factory=dict)  # op type -> how many fewer
    added: dict[str, int] = field(default_factory=dict)  # op type -> how many more (fusions)
    library: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
                "inside_control_flow_before": self.inside_before, "inside_control_flow_after": self.inside_after,
                "control_flow_before": self.control_flow_before, "control_flow_after": self.control_flow_after,
                "removed_ops": self.removed, "added_ops": self.added, "library": self.library}

    def describe(self) -> str:
        text = f"{self.nodes_before} → {self.nodes_after} nodes"
        if self.inside_before:
            text += f" ({self.inside_before} → {self.inside_after} inside control flow)"
        if self.control_flow_before != self.control_flow_after:
            text += f"; If/Loop/Scan {self.control_flow_before} → {self.control_flow_after}"
        changes = [(op, -n) for op, n in self.removed.items()] + list(self.added.items())
        listed = ", ".join(f"{op} {'+' if n > 0 else '−'}{abs(n)}"
                           for op, n in sorted(changes, key=lambda kv: (-abs(kv[1]), kv[0]))[:8])
        return text + (f"; {listed}" if listed else "")


def parse_value_spec(text: str) -> tuple[str, list[float]]:
    """``NAME=VALUE`` or ``NAME=V1,V2,...`` (as given to ``--input-value``)."""
    name, sep, values = text.partition("=")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not sep or not name or not numbers:
        raise ShapeError(f"--input-value {text!r} is not NAME=VALUE (a number, or numbers separated by commas)",
                         hint="e.g. --input-value sr=16000")
    return name, numbers


def _as_array(value: Any, value_info: onnx.ValueInfoProto, source: str) -> np.ndarray:
    elem = value_info.type.tensor_type.elem_type
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem))
    raw = np.asarray(value, dtype=np.float64)
    whole = bool(np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)))
    if (np.issubdtype(dtype, np.integer) or dtype == np.bool_) and not whole:
        raise ShapeError(f"{source}: input {value_info.name!r} is {dtype.name}, the value {value} is not an "
                             "integer", hint=f"give whole numbers for {value_info.name}")
    array = raw.astype(dtype)
    dims = value_info.type.tensor_type.shape.dim if value_info.type.tensor_type.HasField("shape") else None
    if dims is None:
        return array.reshape(()) if array.size == 1 else array
    if len(dims) == 0:
        if array.size != 1:
            raise ShapeError(f"{source}: input {value_info.name!r} is a scalar; {array.size} values were given",
                             hint=f"give one value: --input-value {value_info.name}=VALUE")
        return array.reshape(())
    fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
    if len(fixed) == 1 or array.size == int(np.prod([f for f in fixed if f] or [1])):
        shape = [f if f is not None else -1 for f in fixed]
        if sum(1 for f in shape if f == -1) <= 1:
            try:
                return array.reshape(shape)
            except ValueError:
                pass
    raise ShapeError(f"{source}: input {value_info.name!r} has shape "
                     f"[{', '.join(str(f) if f else '?' for f in fixed)}]; {array.size} values do not fill it",
                     hint="--input-value fixes scalars and 1-D inputs")


def bake_inputs(model: onnx.ModelProto, values: Mapping[str, Any], source: str = "model"
                ) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` in which each named input is a constant (an initializer) holding its value, so that
    folding can use it: an ``If`` on a sample rate, a flag, a scale. Returns the model and the changes."""
    if not values:
        return model, []
    by_name = {v.name: v for v in graph_inputs(model)}
    unknown = [n for n in values if n not in by_name]
    if unknown:
        raise ShapeError(f"{source}: no input named {unknown[0]!r}",
                         hint="the model's inputs are: " + ", ".join(by_name))
    result = onnx.ModelProto()
    result.CopyFrom(model)
    changes = []
    for name, value in values.items():
        array = _as_array(value, by_name[name], source)
        kept = [v for v in result.graph.input if v.name != name]
        del result.graph.input[:]
        result.graph.input.extend(kept)
        stale = [t for t in result.graph.initializer if t.name == name]
        for t in stale:
            result.graph.initializer.remove(t)
        result.graph.initializer.append(numpy_helper.from_array(array, name))
        changes.append(f"input {name} = {array.tolist()} (now a constant)")
    result.ir_version = max(result.ir_version, 4)  # initializers need not be listed as inputs from IR 4 on
    return result, changes


_T = onnx.TensorProto
_INTS: dict[int, tuple[bool, int]] = {
    _T.INT8: (True, 8), _T.INT16: (True, 16), _T.INT32: (True, 32), _T.INT64: (True, 64),
    _T.UINT8: (False, 8), _T.UINT16: (False, 16), _T.UINT32: (False, 32), _T.UINT64: (False, 64)}
_FLOAT_BITS: dict[int, int] = {_T.FLOAT16: 11, _T.BFLOAT16: 8, _T.FLOAT: 24, _T.DOUBLE: 53}  # significand bits


def _lossless(src: int, via: int) -> bool:
    """Every value of type ``src`` is exactly representable in ``via`` (so Cast src→via→src is the identity)."""
    if src == via or src == _T.BOOL:
        return src == via or via in _INTS or via in _FLOAT_BITS
    if src in _FLOAT_BITS and via in _FLOAT_BITS:
        return (src, via) in ((_T.FLOAT16, _T.FLOAT), (_T.FLOAT16, _T.DOUBLE), (_T.BFLOAT16, _T.FLOAT),
                              (_T.BFLOAT16, _T.DOUBLE), (_T.FLOAT, _T.DOUBLE))
    if src in _INTS and via in _INTS:
        (s_signed, s_bits), (v_signed, v_bits) = _INTS[src], _INTS[via]
        return v_bits > s_bits and (s_signed == v_signed or (not s_signed and v_signed))
    if src in _INTS and via in _FLOAT_BITS:
        signed, bits = _INTS[src]
        return bits - (1 if signed else 0) <= _FLOAT_BITS[via]
    return False


def drop_cast_round_trips(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy in which ``Cast(Cast(x, to=B), to=A)`` with ``x`` of type A and B able to hold every A value becomes
    ``Identity(x)`` (which the simplifier then removes); exact by construction. OnnxSlim removes casts to the same
    type but keeps such round trips (float → double → float, int32 → int64 → int32, as exporters write them)."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    try:
        typed = onnx.shape_inference.infer_shapes(result, strict_mode=False)
    except Exception:  # types are only needed to prove a round trip lossless: without them nothing changes
        return result, 0
    types = {v.name: v.type.tensor_type.elem_type for v in (*typed.graph.value_info, *typed.graph.input,
                                                             *typed.graph.output)}
    types.update({t.name: t.data_type for t in typed.graph.initializer})
    made_by = producers(result.graph)
    dropped = 0
    for node in result.graph.node:
        if node.op_type != "Cast" or node.domain not in STANDARD_DOMAINS or not node.input:
            continue
        first = made_by.get(node.input[0])
        if first is None or first.op_type != "Cast" or not first.input:
            continue
        original = types.get(first.input[0])
        to_b = helper.get_attribute_value(next(a for a in first.attribute if a.name == "to"))
        to_a = helper.get_attribute_value(next(a for a in node.attribute if a.name == "to"))
        if original and original == to_a and _lossless(original, to_b):
            node.op_type = "Identity"
            node.input[0] = first.input[0]
            del node.attribute[:]
            dropped += 1
    return result, dropped


def _domains(model: onnx.ModelProto) -> set[str]:
    return {g.node.domain for g in walk(model.graph)}


def _check(model: onnx.ModelProto) -> str | None:
    """The ONNX checker's complaint (full check: strict shape inference), or None."""
    if model.ByteSize() > 2_000_000_000:
        return None  # the checker cannot take a proto this large in memory
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # the checker raises ValidationError / InferenceError
        return str(exc).strip().splitlines()[0][:300]
    return None


def fusion_patterns() -> list[str]:
    """The names of OnnxSlim's fusion and elimination patterns (what ``skip_fusions`` may name)."""
    from onnxslim.core.pattern.registry import DEFAULT_FUSION_PATTERNS

    return list(DEFAULT_FUSION_PATTERNS)


def check_fusion_names(names: Sequence[str]) -> None:
    """Refuse a pattern name OnnxSlim does not have (it would ignore it silently), naming the closest ones."""
    known = fusion_patterns()
    for name in names:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            raise SimplifyError(f"--skip-fusion {name!r}: {library_version()} has no such pattern"
                                + (f" (did you mean {', '.join(close)}?)" if close else ""),
                                hint="its patterns: " + ", ".join(known))


def simplify_model(model: onnx.ModelProto, *, source: str = "model", skip_fusions: Sequence[str] = ()
                   ) -> tuple[onnx.ModelProto, SimplifyStats]:
    """Pure transform: OnnxSlim with its defaults (``skip_fusions`` names fusion patterns to leave out), then
    Constant nodes to initializers. Raises SimplifyError when the result breaks the graph's contract (other
    inputs or outputs, non-standard ops, a model the ONNX checker refuses that it accepted before)."""
    import onnxslim

    check_fusion_names(skip_fusions)
    optional = [t for side in tensor_infos(model) for t in side if (t.container or "").startswith("optional")]
    if optional:
        raise SimplifyError(f"{source}: {optional[0].name!r} is an {optional[0].container}: {library_version()} "
                            "simplifies models whose inputs and outputs are tensors, sequences or maps",
                            hint="run the model as it is (prepare --no-simplify)")
    work, _ = drop_cast_round_trips(model)
    checked_before = _check(model)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            slim = onnxslim.slim(work, skip_fusion_patterns=list(skip_fusions) or None)
    except Exception as exc:  # OnnxSlim raises whatever its passes raise
        raise SimplifyError(f"{source}: {library_version()} failed: {str(exc).strip().splitlines()[0][:300]}"
                            if str(exc).strip() else f"{source}: {library_version()} failed ({type(exc).__name__})",
                            hint="simplify later or not at all (prepare --no-simplify)") from exc
    if slim is None:
        raise SimplifyError(f"{source}: {library_version()} returned no model", hint="prepare --no-simplify")
    slim = with_unique_names(constants_to_initializers(slim), unnamed=False)  # OnnxSlim can reuse a node's name
    problems = []
    if [v.name for v in graph_inputs(slim)] != [v.name for v in graph_inputs(model)]:
        problems.append("the inputs changed")
    if [v.name for v in slim.graph.output] != [v.name for v in model.graph.output]:
        problems.append("the outputs changed")
    new_domains = _domains(slim) - _domains(model) - set(STANDARD_DOMAINS)
    if new_domains:
        problems.append(f"ops of other domains appeared ({', '.join(sorted(new_domains))})")
    checked_after = _check(slim)
    if checked_after and not checked_before:
        problems.append(f"the ONNX checker refuses the result: {checked_after}")
    if problems:
        raise SimplifyError(f"{source}: simplification broke the model: {'; '.join(problems)}",
                            hint=(condition_hint(model) or "report the model") + "; or skip simplification "
                            "(prepare --no-simplify)")
    before, after = op_histogram(model), op_histogram(slim)
    top_b, inside_b = count_nodes(model)
    top_a, inside_a = count_nodes(slim)
    delta = Counter(before)
    delta.subtract(after)
    stats = SimplifyStats(top_b + inside_b, top_a + inside_a, inside_b, inside_a,
                          sum(before[op] for op in CONTROL_FLOW), sum(after[op] for op in CONTROL_FLOW),
                          {op: n for op, n in delta.items() if n > 0}, {op: -n for op, n in delta.items() if n < 0},
                          library_version())
    return slim, stats


def condition_hint(model: onnx.ModelProto) -> str:
    """How to make the model's If conditions constant, when they depend on input values ('' if none do)."""
    inputs = settable_inputs(model, sorted({name for g in walk(model.graph) if g.node.op_type == "If"
                                            for name in condition_inputs(model, g)[0]}))
    if not inputs:
        return ""
    listed = " ".join(f"--input-value {n}=VALUE" for n in inputs)
    return f"an If depends on the value of {', '.join(inputs)}: give it ({listed}) so the If is replaced by its branch"
