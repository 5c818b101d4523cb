"""The models ``layers`` runs: tensors in chunks whose copies of one input fit a memory budget, the part of a
model that computes a chunk, the reference's own ops fed with the quantized model's values (``local``), and a
model with extra outputs for the device."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx

from onnpu.measure.layers.graph import LayerTensor, value_types
from onnpu.model.graphs import outer_inputs, topological_order, upstream
from onnpu.model.qparams import INT_TYPES


@dataclass
class Chunk:
    tensors: list[LayerTensor]
    sources: list[LayerTensor] = field(default_factory=list)  # earlier tensors this chunk's layers read

    def fetch_reference(self) -> list[str]:
        return [t.name for t in self.tensors]

    def fetch_quantized(self, with_sources: bool = False) -> list[str]:
        names: list[str] = []
        for t in self.tensors + (self.sources if with_sources else []):
            names += [x for x in (t.integer, t.pre_quant, t.raw) if x and x not in names]
        return names

    def fetch_device(self) -> list[str]:
        """Integer tensors to expose on the device. Those behind the graph outputs are read from the outputs:
        exposing the integer input of an output DequantizeLinear that runs on the CPU (I/O quantization
        offloaded) makes the QNN EP fail ("Inconsistent output sizes") and onnxruntime retry on the CPU."""
        return [t.integer for t in self.tensors if t.integer and not t.is_input and not t.output]


def _bytes(t: LayerTensor, device: bool, fallback: int) -> int:
    """Bytes one input's copies of ``t`` take at once: the reference's (float32), the quantized model's
    (integers, and the float before rounding), the local run's input and output (float32), and on a device
    the whole model's and the op-alone integers. Comparisons work on float64 slabs of ~1 M elements."""
    n = t.elements if t.elements is not None else fallback
    itemsize = np.dtype(t.quant.dtype).itemsize if t.quant is not None else 4
    per = 4 + itemsize + (4 if t.pre_quant or t.raw else 0) + 4 + 4
    if device and t.quant is not None:
        per += 2 * itemsize
    return n * per


def chunks(tensors: Sequence[LayerTensor], budget_bytes: int, device: bool = False) -> list[Chunk]:
    """Consecutive groups whose exposed tensors (one input's copies) fit in ``budget_bytes``; a tensor bigger
    than the budget gets a chunk of its own. A tensor of unknown size counts as big as the biggest known."""
    known = [t.elements for t in tensors if t.elements is not None]
    fallback = max(known) if known else 1 << 20
    by_name = {t.name: t for t in tensors}
    result: list[Chunk] = []
    current: list[LayerTensor] = []
    size = 0
    for t in tensors:
        b = _bytes(t, device, fallback)
        if current and size + b > budget_bytes:
            result.append(Chunk(current))
            current, size = [], 0
        current.append(t)
        size += b
    if current:
        result.append(Chunk(current))
    for chunk in result:
        inside = {t.name for t in chunk.tensors}
        needed = dict.fromkeys(i for t in chunk.tensors for i in t.inputs if i not in inside)
        chunk.sources = [by_name[n] for n in needed if n in by_name]
    return result


LOCAL_SUFFIX = "__onnpu_fed"


def islands(model: onnx.ModelProto, targets: Sequence[str], cut: set[str], name: str,
            elem_types: Mapping[str, int] | None = None) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The nodes of ``model`` that compute each of ``targets`` from the nearest tensors in ``cut``, with those
    tensors made graph inputs (``<tensor>__onnpu_fed``): every layer becomes an island fed with values the
    caller chooses. Returns the model and {its input: the tensor it stands for}."""
    g = model.graph
    seen = upstream(g, targets, cut)
    order = {node: k for k, node in enumerate(topological_order(g))}
    types = value_types(model)
    consts = {t.name: t for t in g.initializer}
    originals = {i.name: i for i in g.input if i.name not in consts}
    fed: dict[str, str] = {}
    used: list[str] = []
    nodes = []
    for index in sorted(seen, key=lambda i: order[i]):
        node = onnx.NodeProto()
        node.CopyFrom(g.node[index])
        for k, x in enumerate(node.input):
            if x in cut:
                node.input[k] = x + LOCAL_SUFFIX
                fed[x + LOCAL_SUFFIX] = x
            elif x and x not in used:
                used.append(x)
        for x in outer_inputs(node):  # what its If/Loop/Scan bodies read, by name: fed under that name
            if x in cut:
                fed[x] = x
            elif x not in used:
                used.append(x)
        nodes.append(node)

    def typed(tensor: str, as_name: str) -> onnx.ValueInfoProto:
        value = onnx.ValueInfoProto()
        if tensor in types:
            value.CopyFrom(types[tensor])
        if elem_types and tensor in elem_types:
            value.type.tensor_type.elem_type = elem_types[tensor]
        value.name = as_name
        return value

    inputs = [typed(x, local) for local, x in fed.items()] + [originals[n] for n in used if n in originals]
    produced = {o for n in g.node for o in n.output if o}
    outputs = [typed(t, t) for t in targets if t in produced]
    graph = onnx.helper.make_graph(nodes, name, inputs, outputs, [consts[n] for n in used if n in consts])
    result = onnx.helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    result.functions.extend(model.functions)
    return result, fed


def local_model(reference: onnx.ModelProto, tensors: Sequence[LayerTensor], shared: set[str]
                ) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The reference's own ops for each of ``tensors``, each reading the quantized model's values of its
    inputs: one run gives, for every layer, what its float op computes from the quantized inputs — so a
    layer's own error is told apart from the error it inherits."""
    return islands(reference, [t.name for t in tensors if t.node_ids], shared, "onnpu_layers_local")


def device_alone_model(quantized: onnx.ModelProto, tensors: Sequence[LayerTensor], every: Sequence[LayerTensor]
                       ) -> tuple[onnx.ModelProto, dict[str, str]]:
    """The quantized model's ops for each of ``tensors``, each reading integer inputs (fed with the exact CPU
    arithmetic's values): on the device, every op then starts from the CPU's inputs, and its own departure
    shows apart from the departures it inherits."""
    targets = [t.integer for t in tensors if t.integer and not t.is_input]
    kinds = {np.dtype(v).name: k for k, v in INT_TYPES.items()}
    elem = {t.integer: kinds[t.quant.dtype] for t in every if t.integer and t.quant and t.quant.dtype in kinds}
    integers = {t.integer for t in every if t.integer}
    return islands(quantized, [x for x in targets if x], integers, "onnpu_layers_alone", elem)


def expose(model: onnx.ModelProto, names: Iterable[str]) -> int:
    """Add ``names`` as graph outputs of ``model`` in place (typed when the model knows their type); returns
    how many outputs the model had before, so that ``del model.graph.output[n:]`` restores it."""
    before = len(model.graph.output)
    have = {o.name for o in model.graph.output} | {i.name for i in model.graph.input}
    types = {v.name: v for v in model.graph.value_info}
    for name in names:
        if name in have:
            continue
        value = onnx.ValueInfoProto()
        if name in types:
            value.CopyFrom(types[name])
        else:
            value.name = name
        model.graph.output.append(value)
        have.add(name)
    return before


def prefix_model(model: onnx.ModelProto, outputs: Sequence[str]) -> onnx.ModelProto:
    """A copy of ``model`` that computes only ``outputs``: the nodes they need, their weights, the same inputs
    (a chunk of tensors early in the graph then costs only the start of the graph)."""
    g = model.graph
    needed = upstream(g, outputs)
    nodes = [g.node[i] for i in sorted(needed)]
    nested = any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in nodes for a in n.attribute)
    used = {x for n in nodes for x in n.input}
    weights = [t for t in g.initializer if nested or t.name in used]
    types = value_types(model)
    values = []
    for name in outputs:
        value = onnx.ValueInfoProto()
        if name in types:
            value.CopyFrom(types[name])
        value.name = name
        values.append(value)
    inputs = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    graph = onnx.helper.make_graph(nodes, g.name, inputs, values, weights, value_info=g.value_info)
    result = onnx.helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    result.functions.extend(model.functions)
    return result


def fix_input_dims(model: onnx.ModelProto, dims: Mapping[str, int] | None) -> None:
    """Set symbolic input dims named in ``dims`` in place (for shape inference only)."""
    for value in model.graph.input:
        for d in value.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and dims and d.dim_param in dims:
                d.dim_value = int(dims[d.dim_param])
