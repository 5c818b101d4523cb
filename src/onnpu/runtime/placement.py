"""Which provider ran each node of a model, from ONNX Runtime's own record of the assignment — nodes inside
``If``/``Loop``/``Scan`` bodies included (ONNX Runtime lists them flat, by their names in the file)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnpu.model.graphs import walk
from onnpu.runtime.rewrites import Fate
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


# What became of a node of the file. Placed by a provider: "target", "io" (the graph-input Q / graph-output DQ the
# QNN EP leaves to the CPU by design), "fallback" (another provider), "fused" (ONNX Runtime fused it into another
# node, which that provider runs). Placed nowhere: "constant" (a Constant node: an initializer once loaded),
# "folded" (computed once into a constant), "removed" (a no-op), and when the session could not be created at all,
# "refused" (the target named it) or "unplaced" (the target named it not).
STATES = ("target", "io", "fallback", "fused", "constant", "folded", "removed", "refused", "unplaced")


@dataclass
class NodePlacement:
    name: str
    op_type: str
    provider: str | None  # None: no provider runs it (see ``state``)
    io_conversion: bool = False
    scope: str = ""  # "" at the top level, else e.g. "If_0/then_branch" (nested: "If_0/then_branch/If_3/...")
    parent: str | None = None  # the innermost If/Loop/Scan node holding it
    state: str = ""  # one of STATES ("" is worked out from the rest)
    fused_into: str = ""  # "fused": the node(s) computing it now, as ONNX Runtime named them

    def __post_init__(self) -> None:
        if not self.state:
            self.state = ("constant" if self.op_type == "Constant" else "removed") if self.provider is None else \
                "placed"


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
    # nodes ONNX Runtime inserted that stand for no node of the file (layout Transposes): provider -> count
    inserted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n in self.nodes:
            if n.state == "placed":
                n.state = "target" if n.provider == self.target_provider else "io" if n.io_conversion else "fallback"

    @property
    def total(self) -> int:
        return len(self.nodes)

    @property
    def by_provider(self) -> dict[str, int]:
        """Nodes per provider that runs them (fused nodes with the node they were fused into); nodes no provider
        runs under their state ("constant", "folded", "removed", "refused", "unplaced")."""
        return dict(Counter(n.provider or n.state for n in self.nodes).most_common())

    @property
    def by_state(self) -> dict[str, int]:
        counts = Counter(n.state for n in self.nodes)
        return {state: counts[state] for state in STATES if counts[state]}

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
        fused = sum(1 for n in self.nodes if n.state == "fused")
        if fused:
            text += f"; {fused} of them fused by ONNX Runtime into other nodes"
        gone = self.total - kept
        if gone:
            text += f"; {gone} folded into constants or removed by ONNX Runtime"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"target_provider": self.target_provider, "hardware": self.hardware, "failure": self.failure,
                "cpu_fallback": self.cpu_fallback, "fix": self.fix,
                "device": self.where or PROVIDER_SHORT.get(self.target_provider, self.target_provider),
                "total_nodes": self.total,
                "on_target": self.on_target, "by_provider": self.by_provider, "by_state": self.by_state,
                "inserted_by_onnxruntime": self.inserted, "partitions": self.partitions,
                "fully_on_target": self.fully_on_target, "headline": self.headline(),
                "inside_control_flow": len(self.inside_control_flow),
                "fallback_nodes": [{"name": n.name, "op_type": n.op_type, "provider": n.provider, "scope": n.scope}
                                   for n in self.fallback_nodes]}


def _io_conversion(node: onnx.NodeProto, graph_inputs: set[str], graph_outputs: set[str]) -> bool:
    if node.op_type == "QuantizeLinear" and node.input and node.input[0] in graph_inputs:
        return True
    return node.op_type == "DequantizeLinear" and any(o in graph_outputs for o in node.output)


def summarize(graph: onnx.GraphProto, subgraphs: list[AssignedSubgraph], target_provider: str,
              hardware: str = "", where: str | None = None, found: Mapping[str, Fate] | None = None
              ) -> PlacementSummary:
    """Map ONNX Runtime's assignment (which names nodes after its own rewrites, e.g. ``conv_token_3``)
    back onto the nodes of the original graph, and of the bodies of its control-flow nodes. ``found``: what ONNX
    Runtime's optimisation did to the nodes it no longer has (``rewrites.fates``); without it, a node missing from
    the assignment is fused only when ONNX Runtime named its fusion after it (``dense_3/MatMulAddFusion``)."""
    entries: dict[str, list[tuple[str, str]]] = defaultdict(list)  # base name -> [(provider, op)]
    every = list(walk(graph))
    original_names = {g.node.name for g in every if g.node.name}
    created: dict[str, str] = {}  # a node ONNX Runtime made -> its provider
    created_ops: list[tuple[str, str]] = []  # (name, op type) of those, in order
    for sub in subgraphs:
        for name, op in sub.nodes:
            base = original_name(name)
            if base in original_names:
                entries[base].append((sub.provider, op))
            else:
                created.setdefault(name, sub.provider)
                created.setdefault(base, sub.provider)
                created_ops.append((name, op))
    inputs = {v.name for v in graph.input}
    outputs = {v.name for v in graph.output}
    placed: list[NodePlacement] = []
    used: set[str] = set()
    twins: set[int] = set()  # positions in created_ops already matched to a node of the graph
    for item in every:
        node = item.node
        label = node.name or f"<{node.op_type}>"
        io = not item.scope and _io_conversion(node, inputs, outputs)
        candidates = entries.get(node.name, []) if node.name else []
        if candidates:
            same_op = [p for p, op in candidates if op == node.op_type]
            placed.append(NodePlacement(label, node.op_type, (same_op or [p for p, _ in candidates])[0], io,
                                        item.location, item.parent))
            continue
        state, into, runs_on = _fate(node, found, created, entries)
        if state == "removed" and node.op_type != "Transpose" and (found is None or node.name not in found):
            # in the graph the providers were given, but renamed by the layout transformation (which recreates
            # e.g. a DequantizeLinear it moved a Transpose through as "DequantizeLinear"): one of its op type.
            # A Transpose it cancels against those it inserted is removed.
            # (by position: unnamed nodes all carry the name "" in the assignment, one per node all the same)
            twin = next((k for k, (name, op) in enumerate(created_ops)
                         if op == node.op_type and k not in twins and (not name or name not in used)), None)
            if twin is not None:
                twins.add(twin)
                if created_ops[twin][0]:
                    used.add(created_ops[twin][0])
                placed.append(NodePlacement(label, node.op_type, created[created_ops[twin][0]], io, item.location,
                                            item.parent))
                continue
        used.update(into)
        placed.append(NodePlacement(label, node.op_type, runs_on, io, item.location, item.parent, state,
                                    " + ".join(into)))
    if any(not created_ops[k][0] for k in twins):  # the nameless entries stood for the graph's nameless nodes
        used.add("")
    inserted = Counter(_inserted(subgraphs, original_names, used).values())
    partitions = sum(1 for s in subgraphs if s.provider == target_provider)
    return PlacementSummary(target_provider, placed, partitions, list(subgraphs), hardware, where=where,
                            inserted=dict(inserted))


def _fate(node: onnx.NodeProto, found: Mapping[str, Fate] | None, created: Mapping[str, str],
          entries: Mapping[str, list[tuple[str, str]]]) -> tuple[str, tuple[str, ...], str | None]:
    """(state, the nodes it was fused into, their provider) of a node the assignment does not name."""
    fate = found.get(node.name) if found is not None and node.name else None
    if fate is None and node.name:  # ONNX Runtime names some fusions after their first node
        named = [name for name in created if name.startswith(node.name + "/")]
        if named:
            fate = Fate("fused", (named[0],), True)
    if node.op_type == "Constant":
        return "constant", (), None
    if fate is None:
        return "removed", (), None
    if fate.kind != "fused":
        return fate.kind, (), None
    for target in fate.into:
        provider = created.get(target) or next((p for p, _ in entries.get(target, [])), None)
        if provider is not None:
            return "fused", fate.into, provider
    return "removed", (), None  # fused into a node the assignment does not name either


def _inserted(subgraphs: list[AssignedSubgraph], original_names: set[str], used: set[str]) -> dict[str, str]:
    """Nodes of the assignment that stand for no node of the file (layout Transposes ONNX Runtime inserted):
    name -> provider."""
    return {name: sub.provider for sub in subgraphs for name, _ in sub.nodes
            if original_name(name) not in original_names and name not in used and original_name(name) not in used}
