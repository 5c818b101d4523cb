"""What ONNX Runtime's graph optimisation did to the nodes of a model before any provider saw them: for each node
of the file that is not in the optimised graph, whether it was **fused** into a node (one ONNX Runtime created —
``SpaceToDepth`` from four ``Slice`` + ``Concat``, ``…/MatMulAddFusion`` — or one of the model's own, e.g. a
``BatchNormalization`` into its ``Conv``), **folded** into a constant, or **removed** as a no-op (``Identity``,
``Dropout``).

The optimised graph is the one ONNX Runtime hands to the execution providers: its basic (level 1) transformations
run before partitioning, so the names in the providers' assignment record and in their error messages are
names of that graph (``runtime.session.optimized_graph`` makes it)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from onnpu.model.graphs import walk

if TYPE_CHECKING:
    import onnx


# ops ONNX Runtime removes when they change nothing (its output then comes from the node before)
NO_OPS = frozenset({"Identity", "Dropout", "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Slice",
                    "Transpose", "Pad"})


@dataclass(frozen=True)
class Fate:
    """What became of a node of the file that the optimised graph no longer has."""

    kind: str  # "fused" | "folded" | "removed"
    into: tuple[str, ...] = ()  # fused: the optimised graph's node(s) now computing it (a group ONNX Runtime made)
    created: bool = False  # fused into nodes ONNX Runtime created (not into another node of the file)
    detail: str = ""  # said instead of the kind's usual words

    def describe(self) -> str:
        if self.detail:
            return self.detail
        if self.kind == "fused":
            target = " + ".join(self.into)
            return f"fused by ONNX Runtime into {target}" + ("" if self.created else " (a node of the model)")
        if self.kind == "folded":
            return "folded into a constant by ONNX Runtime (computed once, when the session is created)"
        return "removed by ONNX Runtime as a no-op (e.g. Identity, Dropout at inference)"


def _tensors(graph: onnx.GraphProto) -> tuple[dict[str, str], set[str], set[str], dict[str, list[str]]]:
    """(producer node of each tensor, initializers, node names, consumers of each tensor), across every body."""
    producer: dict[str, str] = {}
    consumer: dict[str, list[str]] = defaultdict(list)
    names: set[str] = set()
    constants: set[str] = {t.name for t in graph.initializer}
    for item in walk(graph):
        names.add(item.node.name)
        for out in item.node.output:
            if out:
                producer[out] = item.node.name
        for name in item.node.input:
            if name:
                consumer[name].append(item.node.name)
        for body in item.graphs[1:]:
            constants.update(t.name for t in body.initializer)
    return producer, constants, names, consumer


def _groups(optimized: onnx.GraphProto, original_tensors: set[str], created: set[str]) -> dict[str, tuple[str, ...]]:
    """Nodes ONNX Runtime created, joined when one feeds another through a tensor of its own making (e.g.
    ``SpaceToDepth`` → ``Gather``): each created node → its group, in graph order."""
    parent = {n: n for n in created}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    producer: dict[str, str] = {}
    order = [item.node for item in walk(optimized)]
    for node in order:
        for out in node.output:
            producer[out] = node.name
    for node in order:
        if node.name not in created:
            continue
        for name in node.input:
            source = producer.get(name)
            if source in created and name not in original_tensors:
                parent[root(source)] = root(node.name)
    members: dict[str, list[str]] = defaultdict(list)
    for node in order:
        if node.name in created:
            members[root(node.name)].append(node.name)
    return {n: tuple(members[root(n)]) for n in created}


def fates(original: onnx.GraphProto, optimized: onnx.GraphProto) -> dict[str, Fate]:
    """For every node of ``original`` (by name; bodies included) missing from ``optimized``: what became of it.
    Found by following its outputs forward through the other missing nodes to the first tensor the optimised graph
    still has: produced there by another node → fused into it; an initializer there → folded; none → removed."""
    o_producer, o_constants, o_names, o_consumers = _tensors(original)
    n_producer, n_constants, n_names, _ = _tensors(optimized)
    created = n_names - o_names
    groups = _groups(optimized, set(o_producer) | o_constants | {v.name for v in original.input}, created)
    items = list(walk(original))
    outputs: dict[str, list[str]] = {item.node.name: list(item.node.output) for item in items}
    conditions = {item.node.input[0]: item.node.name for item in items if item.node.op_type == "If"}
    inlined = {item.node.name for item in items if item.node.op_type == "If" and item.node.name not in n_names}
    result: dict[str, Fate] = {}

    def upstream(node: onnx.NodeProto) -> set[str]:
        return {o_producer[i] for i in node.input if i in o_producer}

    for item in items:
        name = item.node.name
        if name in n_names or inlined & set(item.scope) or item.node.op_type == "Constant":
            continue  # kept, or inside an If ONNX Runtime replaced by a branch (the branch's nodes are renamed), or
            # a Constant (an initializer once loaded)
        if name in inlined:
            result[name] = Fate("folded", detail="its condition is constant: ONNX Runtime replaced it by the branch "
                                                 "taken (the branch's nodes run under new names)")
            continue
        seen, queue, folded = {name}, [name], False
        fate: Fate | None = None
        while queue and fate is None:
            current = queue.pop(0)
            for tensor in outputs.get(current, []):
                made_by = n_producer.get(tensor)
                if made_by is not None and made_by != name:
                    if current == name and item.node.op_type in NO_OPS and made_by in upstream(item.node):
                        fate = Fate("removed")  # the node before it now writes its output: it was a no-op
                    else:
                        fate = Fate("fused", groups.get(made_by, (made_by,)), made_by in created)
                    break
                if tensor in n_constants:
                    folded = True
                    continue
                if conditions.get(tensor) in inlined:  # the condition of an If ONNX Runtime folded
                    folded = True
                    continue
                for reader in o_consumers.get(tensor, []):
                    if reader not in n_names and reader not in seen:
                        seen.add(reader)
                        queue.append(reader)
        result[name] = fate or Fate("folded" if folded else "removed")
    return result


def absorbed(found: dict[str, Fate]) -> dict[str, list[str]]:
    """Each node of the optimised graph → the nodes of the file fused into it (its whole group's)."""
    table: dict[str, list[str]] = defaultdict(list)
    for name, fate in found.items():
        for target in fate.into:
            table[target].append(name)
    return dict(table)
