"""The result of ``placement``: every node with where it runs (or what became of it), each distinct reason once with
the nodes it covers, the fusions ONNX Runtime made — for people (the CLI renders it) and programs (``to_dict``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from onnpu.runtime.placement import PlacementSummary
from onnpu.runtime.targets import Target

NO_REASON = "not claimed by the QNN EP (no reason logged)"


@dataclass
class NodeReport:
    name: str
    op_type: str
    provider: str | None
    reason: str = ""
    fix: str = ""
    io_conversion: bool = False
    scope: str = ""  # "" at the top level, else where inside a control-flow body, e.g. "If_0/then_branch"
    state: str = ""  # runtime.placement.STATES: target, io, fallback, fused, constant, folded, removed, refused, ...
    fused_into: str = ""  # "fused": the node(s) ONNX Runtime computes it in now

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_type": self.op_type, "provider": self.provider, "state": self.state,
                "fused_into": self.fused_into, "reason": self.reason, "fix": self.fix,
                "io_conversion": self.io_conversion, "scope": self.scope}


@dataclass
class ReasonGroup:
    """One distinct reason (and its fix) with the nodes it keeps off the target."""

    reason: str
    fix: str
    nodes: list[NodeReport]

    @property
    def op_types(self) -> dict[str, int]:
        return dict(Counter(n.op_type for n in self.nodes).most_common())

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "fix": self.fix, "count": len(self.nodes), "op_types": self.op_types,
                "nodes": [n.name for n in self.nodes]}


@dataclass
class Fusion:
    """Nodes of the model that ONNX Runtime computes in one node (or a group) of its own making."""

    into: str
    provider: str | None
    nodes: list[NodeReport]

    def to_dict(self) -> dict[str, Any]:
        return {"into": self.into, "provider": self.provider, "nodes": [n.name for n in self.nodes],
                "op_types": dict(Counter(n.op_type for n in self.nodes).most_common())}


@dataclass
class PlacementReport:
    model: str
    target: Target
    summary: PlacementSummary
    nodes: list[NodeReport]
    transitions: int
    precision: str
    recommendations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def cpu_nodes(self) -> list[NodeReport]:
        """Nodes that fell back from the target (I/O conversion by design excluded)."""
        return [n for n in self.nodes if n.provider and n.provider != self.target.provider and not n.io_conversion]

    @property
    def off_target(self) -> list[NodeReport]:
        """Nodes kept off the target: fallen back (fused ones included) or refused (I/O conversion excluded)."""
        return [n for n in self.nodes if n.state in ("fallback", "refused")
                or (n.state == "fused" and n.provider != self.target.provider)]

    @property
    def reasons(self) -> list[ReasonGroup]:
        """Each distinct (reason, fix) once, with the nodes it covers, the largest first."""
        groups: dict[tuple[str, str], list[NodeReport]] = {}
        for n in self.off_target:
            groups.setdefault((n.reason or NO_REASON, n.fix), []).append(n)
        return sorted((ReasonGroup(r, f, ns) for (r, f), ns in groups.items()), key=lambda g: -len(g.nodes))

    @property
    def fusions(self) -> list[Fusion]:
        table: dict[str, list[NodeReport]] = {}
        for n in self.nodes:
            if n.fused_into:
                table.setdefault(n.fused_into, []).append(n)
        return [Fusion(into, ns[0].provider, ns) for into, ns in table.items()]

    @property
    def by_op_type(self) -> dict[str, dict[str, int]]:
        """Op type → nodes per provider that runs them, or per state for nodes no provider runs."""
        table: dict[str, Counter[str]] = {}
        for n in self.nodes:
            table.setdefault(n.op_type, Counter())[n.provider or n.state] += 1
        return {op: dict(c) for op, c in sorted(table.items())}

    @property
    def fully_on_target(self) -> bool:
        return self.summary.fully_on_target

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "target": self.target.describe(), **self.summary.to_dict(),
                "transitions": self.transitions, "precision": self.precision, "by_op_type": self.by_op_type,
                "recommendations": self.recommendations, "notes": self.notes,
                "reasons": [g.to_dict() for g in self.reasons], "fusions": [f.to_dict() for f in self.fusions],
                "nodes": [n.to_dict() for n in self.nodes]}
