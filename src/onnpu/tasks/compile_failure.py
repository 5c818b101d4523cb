"""When QNN cannot build a graph at all (``Failed to finalize QNN graph … QNN_COMMON_ERROR_MEM_ALLOC``, ``Failed to
compose Qnn graph``) it names no node. This finds the node: the model's first nodes (in topological order) are
compiled alone, with every tensor they hand on as an output, and a binary search finds the shortest such prefix
that fails the same way; its last node is the one from which the graph no longer compiles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

from onnpu.errors import OnnpuError
from onnpu.model.files import read_model
from onnpu.model.graphs import producers
from onnpu.runtime.failures import is_graph_failure
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import Target

__all__ = ["CompileFailure", "is_graph_failure", "locate_compile_failure"]

MAX_PROBES = 16


@dataclass(frozen=True)
class CompileFailure:
    node: str
    op_type: str
    quantized_op: str | None  # for a Q/DQ node: the op whose tensor it (de)quantizes
    error: str  # QNN's own words for the failure
    probes: int

    def describe(self) -> str:
        what = f"{self.node} ({self.op_type})"
        if self.quantized_op:
            what += f", the quantization of a {self.quantized_op} output"
        return what


def _qnn_words(exc: BaseException) -> str:
    text = str(exc.__cause__ or exc).replace("[ONNXRuntimeError] : ", "").strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _prefix(model: onnx.ModelProto, typed: dict[str, onnx.ValueInfoProto], count: int) -> onnx.ModelProto | None:
    nodes = list(model.graph.node)
    head, tail = nodes[:count], nodes[count:]
    produced = [o for n in head for o in n.output if o]
    later = {i for n in tail for i in n.input} | {o.name for o in model.graph.output}
    outputs = [typed[o] for o in produced if o in later and o in typed]
    if not outputs:
        outputs = [typed[o] for o in head[-1].output if o in typed]
    if not outputs:
        return None
    used = {i for n in head for i in n.input}
    graph = onnx.helper.make_graph(head, f"{model.graph.name}_prefix_{count}",
                                   [v for v in model.graph.input if v.name in used],
                                   outputs, [t for t in model.graph.initializer if t.name in used])
    prefix = onnx.helper.make_model(graph, opset_imports=list(model.opset_import))
    prefix.ir_version = model.ir_version
    return prefix


def locate_compile_failure(model: str | Path | onnx.ModelProto, target: Target) -> CompileFailure | None:
    """The first node from which ``model`` no longer compiles for ``target`` (CPU fallback disabled), or None when
    no prefix fails the way the whole model does (the failure then needs the whole graph)."""
    proto = model if isinstance(model, onnx.ModelProto) else read_model(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=False)
    except Exception:  # without shapes no prefix can be cut: say nothing rather than guess
        return None
    typed = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)
             if v.type.tensor_type.HasField("shape")}
    strict = target.with_fallback(False)
    errors: dict[int, str] = {}
    probes = 0

    def fails(count: int) -> bool:
        nonlocal probes
        prefix = _prefix(proto, typed, count)
        if prefix is None:
            return False
        probes += 1
        try:
            create_session(prefix, strict)
        except OnnpuError as exc:
            if is_graph_failure(exc):
                errors[count] = _qnn_words(exc)
                return True
        return False

    low, high = 0, len(proto.graph.node)  # prefix of `low` nodes compiles (assumed), of `high` fails (observed)
    while high - low > 1 and probes < MAX_PROBES:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle
    if high == len(proto.graph.node) and high - low > 1:
        return None  # ran out of probes before narrowing it down
    if high not in errors and not fails(high):
        return None
    node = proto.graph.node[high - 1]
    quantized = None
    if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
        made_by = producers(proto.graph)
        source = made_by.get(node.input[0])
        if source is not None and source.op_type == "QuantizeLinear":
            source = made_by.get(source.input[0])
        quantized = source.op_type if source is not None else None
    return CompileFailure(node.name or f"<{node.op_type}>", node.op_type, quantized, errors[high], probes)
