"""Walking a model's graphs, control-flow bodies included: every node with the scope it sits in (``If_0/then_branch``),
unique node names (ONNX Runtime reports the nodes inside ``If``/``Loop``/``Scan`` bodies flat, by their names in the
file), what an ``If``'s condition depends on, and the value range an integer input can take. And the graph helpers
every module uses instead of building its own: producers, consumers, constants, topological order, the backward
walk from tensors to the nodes that compute them."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from onnpu.model import proto

if TYPE_CHECKING:
    import onnx

CONTROL_FLOW = ("If", "Loop", "Scan")
SHAPE_ONLY = ("Shape", "Size")  # their outputs depend on shapes, not values


@dataclass(frozen=True)
class GraphNode:
    """A node and where it sits: ``scope`` is () at the top level, else (parent node, attribute, ...) pairs."""

    node: onnx.NodeProto
    scope: tuple[str, ...] = ()
    parent: str | None = None  # name of the innermost control-flow node holding it
    graphs: tuple[onnx.GraphProto, ...] = field(default=(), compare=False, repr=False)  # outermost … its own

    @property
    def location(self) -> str:
        return "/".join(self.scope)


def node_label(node: onnx.NodeProto, index: int | None = None) -> str:
    """A node's name, or a stand-in for an unnamed node."""
    if node.name:
        return node.name
    return f"<{node.op_type}>" if index is None else f"<{node.op_type} #{index}>"


def bodies(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """The graphs a node holds (``then_branch``/``else_branch`` of If, ``body`` of Loop/Scan), by attribute."""
    for attr in node.attribute:
        if attr.type == proto.AttributeProto.GRAPH:
            yield attr.name, attr.g
        elif attr.type == proto.AttributeProto.GRAPHS:
            for i, g in enumerate(attr.graphs):
                yield f"{attr.name}[{i}]", g


def walk(graph: onnx.GraphProto, scope: tuple[str, ...] = (), parent: str | None = None,
         outer: tuple[onnx.GraphProto, ...] = ()) -> Iterator[GraphNode]:
    """Every node of ``graph`` in order, each followed by the nodes of its bodies (depth first)."""
    chain = (*outer, graph)
    for i, node in enumerate(graph.node):
        yield GraphNode(node, scope, parent, chain)
        for attr, body in bodies(node):
            label = node_label(node, i)
            yield from walk(body, (*scope, label, attr), label, chain)


def count_nodes(model: onnx.ModelProto) -> tuple[int, int]:
    """(top-level nodes, nodes inside control-flow bodies)."""
    top = len(model.graph.node)
    return top, sum(1 for _ in walk(model.graph)) - top


def op_histogram(model: onnx.ModelProto) -> Counter[str]:
    return Counter(g.node.op_type for g in walk(model.graph))


def needs_unique_names(model: onnx.ModelProto) -> bool:
    """True when a node (in any graph) has no name or shares its name: ONNX Runtime's assignment record names
    nodes only by name, so such nodes could not be told apart."""
    names = Counter(g.node.name for g in walk(model.graph))
    return "" in names or any(count > 1 for count in names.values())


def with_unique_names(model: onnx.ModelProto, *, unnamed: bool = True) -> onnx.ModelProto:
    """A copy in which every duplicated node name (in any graph), and every unnamed node unless ``unnamed`` is
    False, is replaced by a unique ``<Op #k>``; named unique nodes (and the first of several) keep their names.
    ONNX Runtime refuses a graph in which two nodes share a name."""
    result = proto.ModelProto()
    result.CopyFrom(model)
    seen: Counter[str] = Counter(g.node.name for g in walk(result.graph) if g.node.name)
    used: set[str] = set()
    counter = 0
    for item in walk(result.graph):
        node = item.node
        if (node.name and seen[node.name] == 1) or (not node.name and not unnamed):
            continue
        if node.name and node.name not in used:
            used.add(node.name)  # the first of several with one name keeps it
            continue
        while True:
            candidate = f"<{node.op_type} #{counter}>"
            counter += 1
            if candidate not in seen and candidate not in used:
                break
        node.name = candidate
        used.add(candidate)
    return result


def outer_inputs(node: onnx.NodeProto) -> list[str]:
    """The tensors of the enclosing graph that ``node``'s If/Loop/Scan bodies read without naming them as inputs
    (ONNX's outer-scope references), nested bodies included."""
    found: list[str] = []
    for _, body in bodies(node):
        local = {i.name for i in body.input} | {t.name for t in body.initializer} | \
            {o for n in body.node for o in n.output}
        for inner in body.node:
            for name in [*inner.input, *outer_inputs(inner)]:
                if name and name not in local and name not in found:
                    found.append(name)
    return found


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """Everything ``node`` reads: its inputs, then what its bodies read from the enclosing graph."""
    return [*node.input, *(x for x in outer_inputs(node) if x not in node.input)] if node.attribute else \
        list(node.input)


def default_opset(model: onnx.ModelProto, missing: int = 0) -> int:
    """The version of the default (ai.onnx) domain the model imports; ``missing`` when it imports none."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), missing)


def producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    """Tensor name → the node of ``graph`` that computes it."""
    return {o: n for n in graph.node for o in n.output if o}


def with_outputs(model: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs the tensors ``names`` (types left to the runtime), for reading
    intermediate values."""
    probe = type(model)()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    for name in dict.fromkeys(names):
        if name not in known:
            probe.graph.output.add(name=name)
    return probe


def producer_positions(graph: onnx.GraphProto) -> dict[str, int]:
    """Tensor name → the position in ``graph.node`` of the node that computes it."""
    return {o: i for i, n in enumerate(graph.node) for o in n.output if o}


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Tensor name → the nodes of ``graph`` that read it, in graph order."""
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            if name:
                found.setdefault(name, []).append(node)
    return found


def constant_tensors(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    """Initializers and Constant-node values (top-level graph) by tensor name."""
    values = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = node.attribute[0].t
    return values


def topological_order(graph: onnx.GraphProto) -> list[int]:
    """Node positions in an order where every node comes after its producers (Kahn's algorithm, stable: the
    file's order wherever the file is already sorted, which ONNX requires but not every exporter honours)."""
    produced_by = producer_positions(graph)
    waiting = [0] * len(graph.node)
    users: dict[int, list[int]] = {}
    for i, node in enumerate(graph.node):
        deps = {produced_by[x] for x in node_inputs(node) if x in produced_by and produced_by[x] != i}
        waiting[i] = len(deps)
        for d in deps:
            users.setdefault(d, []).append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users.get(i, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    order += [i for i in range(len(graph.node)) if waiting[i] > 0]  # a cycle: ONNX Runtime will refuse it
    return order


def topological_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Nodes in an order where every node comes after its producers."""
    return [graph.node[i] for i in topological_order(graph)]


def upstream(graph: onnx.GraphProto, targets: Iterable[str], stop: Iterable[str] = ()) -> set[int]:
    """The backward walk: positions of the nodes that compute ``targets``, walking back through their inputs
    until a tensor in ``stop`` (graph inputs and initializers end the walk by themselves)."""
    produced_by = producer_positions(graph)
    cut = set(stop)
    seen: set[int] = set()
    stack = [produced_by[t] for t in targets if t in produced_by]
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        stack += [produced_by[x] for x in node_inputs(graph.node[index]) if x and x not in cut and x in produced_by]
    return seen


def condition_inputs(model: onnx.ModelProto, item: GraphNode) -> tuple[list[str], bool]:
    """For an ``If`` (a node from :func:`walk`): the graph inputs its condition depends on by value, and whether
    it also depends on shapes (then fixing the shapes can make it constant). Initializers are constants."""
    if item.node.op_type != "If" or not item.node.input or not item.graphs:
        return [], False
    scopes = list(item.graphs)
    top_inputs = {i.name for i in model.graph.input} - {t.name for t in model.graph.initializer}
    found = [producers(g) for g in scopes]
    initializers = [{t.name for t in g.initializer} for g in scopes]
    inputs: set[str] = set()
    shapes = False
    seen: set[tuple[str, int]] = set()
    pending = [(item.node.input[0], len(scopes) - 1)]
    while pending:
        name, level = pending.pop()
        if (name, level) in seen or not name:
            continue
        seen.add((name, level))
        for depth in range(level, -1, -1):  # the name may come from an enclosing graph (outer scope)
            producer = found[depth].get(name)
            if producer is not None:
                if producer.op_type in SHAPE_ONLY:
                    shapes = True
                else:
                    pending.extend((i, depth) for i in producer.input)
                break
            if name in initializers[depth]:
                break
            if depth == 0 and name in top_inputs:
                inputs.add(name)
    return sorted(inputs), shapes


SETTABLE_VALUES = 16  # an input with at most this many values can be given as a constant (--input-value)


def settable_inputs(model: onnx.ModelProto, names: Iterable[str]) -> list[str]:
    """Those of ``names`` (graph inputs) a user can give as constants: scalars and small vectors (a sample rate,
    a threshold, a flag), not data tensors (an image, a feature window) whose every value drives the result."""
    found = []
    infos = {v.name: v for v in model.graph.input}
    for name in names:
        info = infos.get(name)
        if info is None or not info.type.HasField("tensor_type"):
            continue
        if not info.type.tensor_type.HasField("shape"):
            found.append(name)  # unknown rank: let the user try
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
        if (len(dims) <= 1 and (not dims or dims[0] is None or dims[0] <= SETTABLE_VALUES)) or \
                (None not in dims and math.prod(d for d in dims if d is not None) <= SETTABLE_VALUES):
            found.append(name)
    return found


def integer_input_ranges(model: onnx.ModelProto) -> dict[str, tuple[int, int]]:
    """For integer graph inputs that index a constant table (``Gather`` indices, an embedding lookup, reached
    directly or through Cast/Unsqueeze/Reshape/Flatten/Squeeze; the table a constant or a dequantized one): the
    valid half-open range [0, rows)."""
    consts = constant_tensors(model)
    t = proto.TensorProto
    integer = {t.INT64, t.INT32, t.INT16, t.INT8, t.UINT8, t.UINT16, t.UINT32, t.UINT64}
    passthrough = ("Cast", "Unsqueeze", "Reshape", "Flatten", "Squeeze", "Identity")
    users = consumers(model.graph)
    made_by = producers(model.graph)

    def table(name: str) -> list[int] | None:  # a constant, or one dequantized / cast (a quantized embedding)
        while name not in consts:
            node = made_by.get(name)
            if node is None or node.op_type not in ("DequantizeLinear", "Cast", "Identity"):
                return None
            name = node.input[0]
        return list(consts[name].dims)

    ranges: dict[str, tuple[int, int]] = {}
    for value in model.graph.input:
        if value.name in consts or value.type.tensor_type.elem_type not in integer:
            continue
        bound: int | None = None
        frontier, seen = [value.name], set()
        while frontier:
            name = frontier.pop()
            if name in seen:
                continue
            seen.add(name)
            for user in users.get(name, []):
                if user.op_type in passthrough and user.input[0] == name:
                    frontier.extend(user.output)
                elif user.op_type == "Gather" and len(user.input) > 1 and user.input[1] == name \
                        and (dims := table(user.input[0])) is not None:
                    axis = next((a.i for a in user.attribute if a.name == "axis"), 0)
                    if dims:
                        rows = int(dims[axis % len(dims)])
                        bound = rows if bound is None else min(bound, rows)
        if bound:
            ranges[value.name] = (0, bound)
    return ranges


def clip_bounds(node: onnx.NodeProto, inits: Mapping[str, onnx.TensorProto], *, zero_low: bool = True
                ) -> tuple[float, float] | None:
    """(low, high) of a Clip with constant bounds; with ``zero_low`` only for low = 0 (ReLU6 and the like);
    None otherwise."""
    from onnx import helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    low: object
    high: object
    if len(node.input) > 1:
        values: list[float | None] = []
        for name in node.input[1:3]:
            if not name:
                values.append(None)
            elif name in inits:
                values.append(float(numpy_helper.to_array(inits[name]).reshape(-1)[0]))
            else:
                return None
        low, high = [*values, None, None][:2]
    else:
        low, high = attrs.get("min"), attrs.get("max")
    if low is None or high is None or (zero_low and float(str(low)) != 0.0):
        return None
    return float(str(low)), float(str(high))
