"""Which provider ran each node of a model, from ONNX Runtime's own record of the assignment — nodes inside
``If``/``Loop``/``Scan`` bodies included (ONNX Runtime lists them flat, by their names in the file)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnpu.model.graphs import walk
from onnpu.runtime.targets import CPU, QNN

if TYPE_CHECKING:
    import onnx

_TOKEN = re.compile(r"_token_\d+$")
PROVIDER_SHORT = {QNN: "NPU", CPU: "CPU"}


def original_name(name: str) -> str:
    """The model's node name behind a name ONNX Runtime or the QNN EP gave it after a rewrite: layout
    transformation appends ``_token_<N>`` (``conv_token_3`` is the model's ``conv``)."""
    return _TOKEN.sub("", name)


@dataclass(frozen=True)
class AssignedSubgraph:
    """One subgraph as ONNX Runtime assigned it: provider and (node name, op type) of its nodes."""

    provider: str
    nodes: tuple[tuple[str, str], ...]


@dataclass
class NodePlacement:
    name: str
    op_type: str
    provider: str | None  # None: removed by graph optimisation (folded or fused away)
    io_conversion: bool = False
    scope: str = ""  # "" at the top level, else e.g. "If_0/then_branch" (nested: "If_0/then_branch/If_3/...")
    parent: str | None = None  # the innermost If/Loop/Scan node holding it


@dataclass
class PlacementSummary:
    """What ran where. ``io_conversion`` nodes are the graph-input QuantizeLinear / graph-output
    DequantizeLinear that the QNN EP leaves on the CPU by design (``offload_graph_io_quantization``)."""

    target_provider: str
    nodes: list[NodePlacement]
    partitions: int
    subgraphs: list[AssignedSubgraph] = field(default_factory=list)
    hardware: str = ""  # e.g. "QCS6490 HTP v68 (emulated)"
    failure: str | None = None  # the session could not be created: why (no node was placed)
    where: str | None = None  # the target's device in words ("NPU", "QNN CPU", ...); None: from the provider
    # the target could not take the model at all and, fallback allowed, the whole model ran on the CPU: why, and
    # what makes it run on the target
    cpu_fallback: str | None = None
    fix: str | None = None

    @property
    def total(self) -> int:
        return len(self.nodes)

    @property
    def by_provider(self) -> dict[str, int]:
        return dict(Counter(n.provider or "removed" for n in self.nodes).most_common())

    @property
    def on_target(self) -> int:
        return sum(1 for n in self.nodes if n.provider == self.target_provider)

    @property
    def fallback_nodes(self) -> list[NodePlacement]:
        """Nodes that left the target for another provider (I/O conversion excluded)."""
        return [n for n in self.nodes
                if n.provider and n.provider != self.target_provider and not n.io_conversion]

    @property
    def fully_on_target(self) -> bool:
        return self.failure is None and not self.fallback_nodes and self.on_target > 0

    @property
    def inside_control_flow(self) -> list[NodePlacement]:
        """Nodes inside If/Loop/Scan bodies that ran (were not folded away)."""
        return [n for n in self.nodes if n.scope and n.provider is not None]

    def headline(self) -> str:
        where = self.where or PROVIDER_SHORT.get(self.target_provider, self.target_provider)
        if self.failure is not None:
            return f"the model does not compile for {self.hardware or where}: {self.failure}"
        kept = sum(1 for n in self.nodes if n.provider is not None)
        detail = self.hardware if self.hardware and self.hardware != where else self.target_provider
        text = f"{self.on_target} of {kept} nodes on the {where} ({detail})"
        if self.cpu_fallback is not None:
            return f"{text}: {self.cpu_fallback}; the whole model ran on the CPU" + (f"; fix: {self.fix}"
                                                                                     if self.fix else "")
        if self.target_provider != CPU:
            text += f", {self.partitions} partition{'s' if self.partitions != 1 else ''}"
        io = sum(1 for n in self.nodes if n.io_conversion and n.provider != self.target_provider)
        if io:
            text += f"; {io} I/O (de)quantization node{'s' if io != 1 else ''} on the CPU by design"
        inside = self.inside_control_flow
        if self.fallback_nodes:
            text += f"; {len(self.fallback_nodes)} fell back to the CPU"
            inside_cpu = sum(1 for n in inside if n.provider != self.target_provider)
            if inside_cpu:
                text += f" ({inside_cpu} inside If/Loop/Scan bodies)"
        elif inside:
            text += f"; {len(inside)} of them inside If/Loop/Scan bodies"
        removed = self.total - kept
        if removed:
            text += f"; {removed} removed by graph optimisation"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"target_provider": self.target_provider, "hardware": self.hardware, "failure": self.failure,
                "cpu_fallback": self.cpu_fallback, "fix": self.fix,
                "device": self.where or PROVIDER_SHORT.get(self.target_provider, self.target_provider),
                "total_nodes": self.total,
                "on_target": self.on_target, "by_provider": self.by_provider, "partitions": self.partitions,
                "fully_on_target": self.fully_on_target, "headline": self.headline(),
                "inside_control_flow": len(self.inside_control_flow),
                "fallback_nodes": [{"name": n.name, "op_type": n.op_type, "provider": n.provider, "scope": n.scope}
                                   for n in self.fallback_nodes]}


def _io_conversion(node: onnx.NodeProto, graph_inputs: set[str], graph_outputs: set[str]) -> bool:
    if node.op_type == "QuantizeLinear" and node.input and node.input[0] in graph_inputs:
        return True
    return node.op_type == "DequantizeLinear" and any(o in graph_outputs for o in node.output)


def summarize(graph: onnx.GraphProto, subgraphs: list[AssignedSubgraph], target_provider: str,
              hardware: str = "", where: str | None = None) -> PlacementSummary:
    """Map ONNX Runtime's assignment (which names nodes after its own rewrites, e.g. ``conv_token_3``)
    back onto the nodes of the original graph, and of the bodies of its control-flow nodes."""
    entries: dict[str, list[tuple[str, str]]] = defaultdict(list)  # base name -> [(provider, op)]
    every = list(walk(graph))
    original_names = {g.node.name for g in every if g.node.name}
    pool: dict[str, list[str]] = defaultdict(list)  # op type -> providers of entries not named after a node
    for sub in subgraphs:
        for name, op in sub.nodes:
            base = original_name(name)
            if base in original_names:
                entries[base].append((sub.provider, op))
            else:
                pool[op].append(sub.provider)
    inputs = {v.name for v in graph.input}
    outputs = {v.name for v in graph.output}
    placed: list[NodePlacement] = []
    for item in every:
        node = item.node
        provider = None
        candidates = entries.get(node.name, []) if node.name else []
        same_op = [p for p, op in candidates if op == node.op_type]
        if same_op or candidates:
            provider = (same_op or [p for p, _ in candidates])[0]
        elif pool.get(node.op_type):
            provider = pool[node.op_type].pop(0)
        placed.append(NodePlacement(node.name or f"<{node.op_type}>", node.op_type, provider,
                                    not item.scope and _io_conversion(node, inputs, outputs), item.location,
                                    item.parent))
    partitions = sum(1 for s in subgraphs if s.provider == target_provider)
    return PlacementSummary(target_provider, placed, partitions, list(subgraphs), hardware, where=where)
