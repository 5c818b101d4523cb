"""The graph side of ``layers``: which activations a float model and its quantized copy share, where the
quantized copy keeps each one's value (ONNX Runtime's quantizer keeps the float names: ``X`` →
``QuantizeLinear`` → ``X_QuantizeLinear_Output`` → ``DequantizeLinear`` → ``X_DequantizeLinear_Output``;
a graph output ``Y`` is the DequantizeLinear's output and the op's own output becomes
``Y_QuantizeLinear_Input``; ``--io uint8`` models have integer inputs and outputs), in topological order,
grouped with the float ops between one shared tensor and the next."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from onnpu.model.graphs import (
    constant_tensors,
    consumers,
    producers,
    topological_nodes,
    topological_order,
    upstream,
)
from onnpu.model.qparams import INT_TYPES, QuantParams, qdq_params

QDQ = ("QuantizeLinear", "DequantizeLinear")
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}


@dataclass
class LayerTensor:
    """One activation: its name in the reference graph and where the quantized model keeps its value."""

    name: str
    index: int
    nodes: tuple[str, ...]  # the reference graph's nodes that compute it from the previous shared tensors
    ops: tuple[str, ...]  # their op types
    inputs: tuple[str, ...]  # the shared tensors it is computed from
    shape: tuple[int, ...] | None
    node_ids: tuple[int, ...] = ()  # positions of ``nodes`` in the reference graph
    quant: QuantParams | None = None  # how the quantized model quantizes it
    integer: str | None = None  # the quantized model's integer tensor (QuantizeLinear output or integer I/O)
    pre_quant: str | None = None  # the float tensor the QuantizeLinear reads, in the quantized model
    raw: str | None = None  # the float tensor itself when the quantized model keeps it in float
    is_input: bool = False
    is_output: bool = False
    output: str | None = None  # the quantized model's graph output that carries it (float DQ or integer)

    @property
    def op(self) -> str:
        """Op types merged into this row, e.g. ``Conv+Clip`` (a Clip the quantizer folded into the range)."""
        return "+".join(self.ops) if self.ops else ("input" if self.is_input else "?")

    @property
    def node(self) -> str:
        return self.nodes[-1] if self.nodes else self.name

    @property
    def elements(self) -> int | None:
        return int(np.prod(self.shape)) if self.shape is not None else None


@dataclass
class LayerPlan:
    tensors: list[LayerTensor]
    reference_total: int  # float activations of the reference graph (node outputs and inputs)
    skipped: list[str] = field(default_factory=list)  # float activations the quantized model does not keep

    def by_name(self) -> dict[str, LayerTensor]:
        return {t.name: t for t in self.tensors}


def value_types(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    g = model.graph
    return {v.name: v for v in (*g.input, *g.value_info, *g.output)}


def _shape(value: onnx.ValueInfoProto | None) -> tuple[int, ...] | None:
    if value is None or not value.type.tensor_type.HasField("shape"):
        return None
    dims = value.type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        return None
    return tuple(int(d.dim_value) for d in dims)


class QuantizedGraph:
    """Lookups in the quantized model: where the value of a float tensor ``X`` lives."""

    def __init__(self, model: onnx.ModelProto) -> None:
        g = model.graph
        self.consts = constant_tensors(model)
        self.producer = producers(g)
        self.consumers = consumers(g)
        self.elem = {v.name: v.type.tensor_type.elem_type for v in (*g.input, *g.output)}
        self.tensors = set(self.producer) | {i.name for i in g.input if i.name not in self.consts}
        self.inputs = [i.name for i in g.input if i.name not in self.consts]
        self.outputs = [o.name for o in g.output]

    def output_integers(self) -> dict[str, str]:
        """{integer tensor: graph output} behind the outputs (an output DequantizeLinear's input, or integer
        outputs themselves)."""
        found = {}
        for name in self.outputs:
            node = self.producer.get(name)
            found[node.input[0] if node is not None and node.op_type == "DequantizeLinear" else name] = name
        return found

    def _consumer(self, name: str, op: str) -> onnx.NodeProto | None:
        return next((n for n in self.consumers.get(name, ()) if n.op_type == op and n.input[0] == name), None)

    def _params(self, node: onnx.NodeProto, integer: str) -> QuantParams | None:
        dtype = np.dtype(INT_TYPES[self.elem[integer]]).name if self.elem.get(integer) in INT_TYPES else None
        return qdq_params(node, self.consts, dtype)

    def locate(self, name: str) -> tuple[QuantParams | None, str | None, str | None, str | None] | None:
        """(params, integer tensor, tensor before its QuantizeLinear, float tensor kept as is) for ``name``,
        or None when the quantized model does not have it."""
        if name not in self.tensors:
            return None
        producer = self.producer.get(name)
        is_int = self.elem.get(name) in INT_TYPES
        if not is_int:
            q = self._consumer(name, "QuantizeLinear")
            if q is not None and (self._consumer(q.output[0], "DequantizeLinear") is not None
                                  or q.output[0] in self.outputs):  # X → Q → DQ, or X → Q → integer output
                return self._params(q, q.output[0]), q.output[0], name, None
            if producer is not None and producer.op_type == "DequantizeLinear":  # a graph output Y = DQ(Q(op))
                integer = producer.input[0]
                before = self.producer.get(integer)
                pre = before.input[0] if before is not None and before.op_type == "QuantizeLinear" else None
                return self._params(producer, integer), integer, pre, None
            return None, None, None, name  # kept in float
        dq = self._consumer(name, "DequantizeLinear")
        if dq is not None and producer is None:  # integer input (--io uint8)
            return self._params(dq, name), name, None, None
        if producer is not None and producer.op_type == "QuantizeLinear":  # integer output (--io uint8)
            return self._params(producer, name), name, producer.input[0], None
        return None


Group = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[int, ...]]


def _groups(graph: onnx.GraphProto, shared: set[str], skip_qdq: bool, live: set[str]) -> dict[str, Group]:
    """For each shared tensor: (node names, op types, shared input tensors, node positions) back to the
    previous shared tensors."""
    order = {node: k for k, node in enumerate(topological_order(graph))}
    result = {}
    for name in shared:
        ids = sorted(upstream(graph, [name], shared - {name}), key=lambda i: order[i])
        inputs = list(dict.fromkeys(x for i in ids for x in graph.node[i].input if x in shared and x != name))
        kept = [graph.node[i] for i in ids if not (skip_qdq and graph.node[i].op_type in QDQ)
                and any(x in live for x in graph.node[i].input)]  # named without its constants
        result[name] = (tuple(n.name or n.output[0] for n in kept), tuple(n.op_type for n in kept), tuple(inputs),
                        tuple(ids))
    return result


def plan_layers(reference: onnx.ModelProto, quantized: onnx.ModelProto) -> LayerPlan:
    """The activations of ``reference`` (a float model, or the quantized model itself) that ``quantized``
    keeps, in topological order. Both models should carry inferred shapes (for chunk sizes)."""
    same = reference is quantized
    qgraph = QuantizedGraph(quantized)
    types = value_types(reference)
    g = reference.graph
    consts = {t.name for t in g.initializer}
    names: list[str] = [i.name for i in g.input if i.name not in consts]
    live = set(names)  # tensors that depend on the inputs (the rest are weights and constants)
    for node in topological_nodes(g):
        if not any(x in live for x in node.input):
            continue
        produced = [o for o in node.output if o and o not in live]
        live.update(produced)
        if not (same and node.op_type in QDQ):
            names += produced
    is_float = {n: (types[n].type.tensor_type.elem_type in FLOAT_TYPES) if n in types else None for n in names}
    if same:  # float tensors of the quantized model that it quantizes (X → Q), its inputs and outputs
        candidates = [n for n in names if is_float[n] is not False or n in qgraph.inputs or n in qgraph.outputs]
    else:  # float tensors (or of unknown type: kept when the quantized model quantizes them)
        candidates = [n for n in names if is_float[n] is not False]
    located = {}
    skipped = []
    for name in candidates:
        where = qgraph.locate(name)
        if where is not None and where[1] is None and is_float[name] is None:
            continue  # of unknown type and not quantized: shapes and indices look the same
        if where is None or (same and where[1] is None):
            skipped.append(name)
            continue
        located[name] = where
    groups = _groups(g, set(located), skip_qdq=same, live=live)
    carried = qgraph.output_integers()
    outputs = {o.name for o in g.output} | set(carried)
    inputs = {i.name for i in g.input}
    tensors: list[LayerTensor] = []
    for name in [n for n in candidates if n in located]:
        params, integer, pre, raw = located[name]
        nodes, ops, ins, ids = groups[name]
        tensors.append(LayerTensor(name, len(tensors), nodes, ops, ins, _shape(types.get(name)), ids, params,
                                   integer, pre, raw, name in inputs, name in outputs or integer in outputs,
                                   carried.get(integer or "") or (raw if raw in qgraph.outputs else None)))
    return LayerPlan(tensors, len([n for n in names if is_float[n] is not False]), skipped)
