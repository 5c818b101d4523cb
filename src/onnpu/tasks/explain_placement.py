"""``placement``: for every node — inside If/Loop/Scan bodies too — the provider that runs it and, for every node
left on the CPU, why and what to do about it. Reasons come from the QNN EP's own verbose log and from analysis
of the graph (dynamic dims; what a control-flow node's condition depends on)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort

from onnpu.errors import PlacementError, TargetError
from onnpu.machine import htp_is_emulated
from onnpu.model.files import read_model, validate_model_file
from onnpu.model.graphs import CONTROL_FLOW, GraphNode, condition_inputs, needs_unique_names, walk, with_unique_names
from onnpu.model.inspection import quantization_style, tensor_infos
from onnpu.runtime.failures import RefusalError
from onnpu.runtime.placement import NodePlacement, PlacementSummary
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import CPU, QNN, Target
from onnpu.tasks.compile_failure import is_graph_failure, locate_compile_failure


@dataclass
class NodeReport:
    name: str
    op_type: str
    provider: str | None
    reason: str = ""
    fix: str = ""
    io_conversion: bool = False
    scope: str = ""  # "" at the top level, else where inside a control-flow body, e.g. "If_0/then_branch"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_type": self.op_type, "provider": self.provider, "reason": self.reason,
                "fix": self.fix, "io_conversion": self.io_conversion, "scope": self.scope}


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
    def by_op_type(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for n in self.nodes:
            table.setdefault(n.op_type, Counter())[n.provider or "removed"] += 1
        return {op: dict(c) for op, c in sorted(table.items())}

    @property
    def fully_on_target(self) -> bool:
        return self.summary.fully_on_target

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "target": self.target.describe(), **self.summary.to_dict(),
                "transitions": self.transitions, "precision": self.precision, "by_op_type": self.by_op_type,
                "recommendations": self.recommendations, "notes": self.notes,
                "nodes": [n.to_dict() for n in self.nodes]}


def _transitions(graph_nodes: list[onnx.NodeProto], placed: list[NodePlacement]) -> int:
    """Tensors that cross between providers (each crossing costs a copy and a sync)."""
    producer = {}
    for node, p in zip(graph_nodes, placed, strict=True):
        for out in node.output:
            producer[out] = p.provider
    crossings = set()
    for node, p in zip(graph_nodes, placed, strict=True):
        for name in node.input:
            src = producer.get(name)
            if src and p.provider and src != p.provider:
                crossings.add(name)
    return len(crossings)


def _dims_fix(dynamic: dict[str, list[str]], model: str) -> str:
    """Named dims are fixed by name; unnamed ones (listed as ``input[i]``) only with the input's whole shape."""
    named = sorted({d for ds in dynamic.values() for d in ds if not d.endswith("]")})
    if named:
        return f"fix them: `onnpu fix-shapes {model} --dim {named[0]}=1 -o fixed.onnx`, or add --dim {named[0]}=1"
    first = sorted(dynamic)[0]
    return (f"the dims have no name: fix the input's whole shape: `onnpu fix-shapes {model} --input {first}=D0,D1,... "
            "-o fixed.onnx` (or prepare --input)")


def _explain(node: NodePlacement, qnn_reason: str | None, dynamic: dict[str, list[str]], model: str,
             quantized: bool = False) -> tuple[str, str]:
    if node.io_conversion:
        return ("graph-input Quantize / graph-output Dequantize: the QNN EP leaves them to the CPU by design "
                "(offload_graph_io_quantization=1)",
                "counted as I/O conversion, not a fallback; `onnpu quantize --io uint8` removes them")
    if dynamic:
        dims = ", ".join(sorted({d for ds in dynamic.values() for d in ds}))
        why = f"the model has dynamic dims ({dims}); the QNN EP takes only fixed shapes"
        return (qnn_reason + "; " if qnn_reason else "") + why, _dims_fix(dynamic, model)
    if qnn_reason:
        if "not supported by QNN EP" in qnn_reason:
            return qnn_reason, f"{node.op_type} has no QNN implementation: replace it, or move it out of the model " \
                               "(post-processing on the CPU)"
        if quantized and "Failed to add node" in qnn_reason:
            return qnn_reason, ("this HTP cannot build the op with this quantization: see whether a newer HTP takes "
                                f"it (`onnpu placement {model} --soc qcs8550`), or change how its inputs are "
                                "quantized (e.g. uint8 constants, 16-bit activations)")
        if "Failed to add node" in qnn_reason or "float" in qnn_reason.lower():
            return qnn_reason, "the HTP cannot build this op in float: quantize the model (`onnpu quantize`)"
        if node.op_type == "Dropout":
            return qnn_reason, "strip Dropout (a no-op at inference) before quantizing"
        return qnn_reason, "check the op's attributes and types against the QNN EP's supported list"
    return "not claimed by the QNN EP (no reason logged)", "check `onnpu inspect` for unusual types or shapes"


def _control_flow_fix(model: onnx.ModelProto, item: GraphNode, path: str) -> str:
    node = item.node
    if node.op_type != "If":
        return (f"no automatic fix for a {node.op_type}: its body runs on the CPU; export the model with the loop "
                "unrolled (a fixed trip count) or run the loop outside the model")
    values, shapes = condition_inputs(model, item)
    if values:
        given = " ".join(f"--input-value {v}=VALUE" for v in values)
        return (f"its condition depends on the value of {', '.join(values)}: make it constant and the If is replaced "
                f"by its branch: `onnpu simplify {path} -o simple.onnx {given}` (prepare takes the same {given})")
    if shapes:
        return (f"its condition depends only on shapes: fix them and simplify: `onnpu simplify {path} -o simple.onnx "
                "--input NAME=SHAPE` (prepare does it) replaces the If by its branch")
    return ("its condition depends on data computed by the model: it cannot be folded; take the decision outside "
            "the model (two models, one per branch) to run the branches on the NPU")


def _explain_control_flow(node: NodePlacement, qnn_reason: str | None, body_nodes: int) -> str:
    why = f"the QNN EP takes no {node.op_type} here, so it and the {body_nodes} node{'s' if body_nodes != 1 else ''} " \
          "of its bod" + ("ies" if node.op_type == "If" else "y") + " run on the CPU"
    return f"{qnn_reason}; {why}" if qnn_reason else why


def _precision(style: str, target: Target) -> tuple[str, list[str]]:
    if not target.is_qnn:
        return "as the model (CPU)", []
    if target.backend != "htp":
        return f"as the {target.device} backend computes it (backend_type={target.backend}: not the NPU)", []
    if style == "QDQ":
        return "integer (QDQ: 8/16-bit activations and weights)", []
    if not target.is_htp:
        return f"float on {target.hardware}", []
    fix = ["quantize for boards: `onnpu prepare MODEL -o model.qdq.onnx --calib DATA"
           + (f" --soc {target.soc.name.lower()}`" if target.soc else "`")]
    if target.soc is None:
        where = "fp32 on this x86_64 HTP emulator" if htp_is_emulated() else "float (no SoC named)"
        return f"float model: {where}; real HTP v68 (QCS6490) runs no float ops, v69+ runs them in fp16", fix
    if target.soc.htp_arch == 68:
        return f"float model: {target.soc.name}'s HTP v68 runs no float ops at all", fix
    return (f"float model: {target.soc.name}'s HTP v{target.soc.htp_arch} runs float ops in fp16"
            + (" (emulated here at fp16 accuracy)" if htp_is_emulated() else ""), fix)


def _failure_report(model: str | Path, proto: onnx.ModelProto, target: Target, failure: str,
                    refused: dict[str, tuple[str, str]], hint: str, notes: list[str]) -> PlacementReport:
    """The placement of a model whose session cannot be created on this HTP: the nodes to blame, why, the fix."""
    placed, nodes = [], []
    for i, item in enumerate(walk(proto.graph)):
        node = item.node
        name = node.name or f"<{node.op_type} #{i}>"
        placed.append(NodePlacement(name, node.op_type, None, scope=item.location, parent=item.parent))
        reason, fix = refused.get(name, ("", ""))
        nodes.append(NodeReport(name, node.op_type, None, reason, fix, scope=item.location))
    summary = PlacementSummary(target.provider, placed, 0, [], target.hardware, failure)
    style = quantization_style(Counter(n.op_type for n in proto.graph.node))
    precision, recommendations = _precision(style, target)
    return PlacementReport(str(model), target, summary, nodes, 0, precision, [hint, *recommendations], notes)


def _refused_report(model: str | Path, proto: onnx.ModelProto, target: Target, error: RefusalError
                    ) -> PlacementReport:
    count = len(error.refused)
    return _failure_report(model, proto, target, f"{count} node{'s' if count != 1 else ''} refused",
                           {r.name: (r.reason, error.hint or "") for r in error.refused}, error.hint or "",
                           [str(error)])


def _graph_failure_report(model: str | Path, proto: onnx.ModelProto, target: Target, error: TargetError
                          ) -> PlacementReport:
    """QNN could not build the graph and named no node: find the first node from which it fails."""
    found = locate_compile_failure(proto, target)
    if found is None:
        raise error
    newer = "a newer HTP (e.g. --soc qcs8550, v73)" if target.soc and target.soc.htp_arch < 73 else "another SoC"
    fix = (f"QNN builds the graph up to the node before it: try {newer}, or keep this "
           f"{found.quantized_op or found.op_type} out of the model (or in 16-bit: --target-sqnr)")
    reason = f"QNN cannot build the graph from this node on for {target.hardware}: {found.error}"
    return _failure_report(model, proto, target,
                           f"QNN cannot build the graph: from {found.describe()} on ({found.error})",
                           {found.node: (reason, fix)}, fix,
                           [str(error), f"found by compiling the model's first nodes alone ({found.probes} tries)"])


def _control_flow_reports(proto: onnx.ModelProto, summary: PlacementSummary, nodes: list[NodeReport],
                          reasons: dict[str, str], target: Target, path: str) -> list[str]:
    """Reasons and fixes for control-flow nodes left on the CPU and for the nodes of their bodies; returns
    recommendations."""
    items = list(walk(proto.graph))
    if len(items) != len(nodes):
        return []
    fixes: dict[tuple[str, ...], str] = {}  # (scope..., label) of a control-flow node -> its fix
    recommendations = []
    for i, (item, report) in enumerate(zip(items, nodes, strict=True)):
        if item.node.op_type not in CONTROL_FLOW or report.provider in (None, target.provider):
            continue
        prefix = (*item.scope, report.name)
        body = sum(1 for other, placed in zip(items[i + 1:], summary.nodes[i + 1:], strict=True)
                   if other.scope[:len(prefix)] == prefix and placed.provider is not None)
        report.reason = _explain_control_flow(summary.nodes[i], reasons.get(report.name), body)
        report.fix = fixes[prefix] = _control_flow_fix(proto, item, path)
        if not item.scope:
            recommendations.append(f"{report.op_type} {report.name} keeps {body} nodes on the CPU: {report.fix}")
    for item, report in zip(items, nodes, strict=True):
        if not item.scope or report.provider in (None, target.provider):
            continue
        inner = f"inside {item.parent} ({'/'.join(item.scope[-1:])})"
        report.reason = f"{inner}: the QNN EP takes no node of a control-flow body that stays on the CPU" + \
            (f"; {reasons[report.name]}" if report.name in reasons else "")
        report.fix = next((fix for prefix, fix in fixes.items() if item.scope[:len(prefix)] == prefix), report.fix)
    return recommendations


def explain_placement(model: str | Path, target: Target, *, dims: Mapping[str, int] | None = None) -> PlacementReport:
    """Explain where each node of ``model`` (inside control-flow bodies too) runs on ``target``, from sessions
    with a verbose log."""
    level = 0 if target.is_qnn else 3
    notes: list[str] = []
    loaded = None
    proto = validate_model_file(model)
    source: str | Path | onnx.ModelProto = model
    if needs_unique_names(proto):
        # ONNX Runtime names nodes only by name: unnamed or repeated names could not be told apart
        proto = with_unique_names(read_model(model))
        source = proto
        notes.append("nodes without a unique name in the file are listed as <Op #k>")
    if target.provider != CPU:
        # First as the NPU runs a model it can take whole: with CPU fallback disabled even the graph-input Q
        # and graph-output DQ run on the NPU. Only if that fails, the fallback session says what went where.
        strict = target.with_fallback(False)
        try:
            loaded = create_session(source, strict, dims=dims, log_level=level, label=model)
        except RefusalError as exc:
            return _refused_report(model, proto, target, exc)
        except PlacementError:
            loaded = None
        except TargetError as exc:
            if not (target.is_qnn and is_graph_failure(exc)):
                raise
            return _graph_failure_report(model, proto, target, exc)
        else:
            if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.io_conversion
                   for n in (loaded.placement.nodes if loaded.placement else [])):
                notes.append("with CPU fallback allowed, onnxruntime runs the graph-input Quantize and "
                             "graph-output Dequantize on the CPU (offload_graph_io_quantization=1)")
    if loaded is None:
        try:
            loaded = create_session(source, target.with_fallback(True), dims=dims, log_level=level, label=model)
        except RefusalError as exc:
            return _refused_report(model, proto, target, exc)
        except TargetError as exc:
            if not (target.is_qnn and is_graph_failure(exc)):
                raise
            return _graph_failure_report(model, proto, target, exc)
        if isinstance(loaded.fallback, RefusalError):  # the whole model fell back to the CPU: say why, node by node
            return _refused_report(model, proto, target, loaded.fallback)
        if isinstance(loaded.fallback, TargetError):
            return _graph_failure_report(model, proto, target, loaded.fallback)
    summary = loaded.placement
    if summary is None:
        raise TargetError(f"onnxruntime {ort.__version__} cannot record which provider runs each node",
                          hint="placement needs onnxruntime ≥ 1.24 (session.record_ep_graph_assignment_info)")
    inputs, _ = tensor_infos(loaded.proto)
    dynamic = {t.name: [d if isinstance(d, str) else f"{t.name}[{i}]" for i, d in enumerate(t.shape)
                        if not isinstance(d, int) and d not in (dims or {})] for t in inputs}
    dynamic = {k: v for k, v in dynamic.items() if v}
    reasons = loaded.log.refusal_reasons() if target.is_qnn and loaded.log else {}
    quantized = quantization_style(Counter(n.op_type for n in loaded.graph.node)) == "QDQ"
    nodes = []
    for node in summary.nodes:
        report = NodeReport(node.name, node.op_type, node.provider, io_conversion=node.io_conversion,
                            scope=node.scope)
        if node.provider is None:
            report.reason = "removed by graph optimisation (folded or fused into another node)"
        elif node.provider != target.provider:
            reason = reasons.get(node.name)
            report.reason, report.fix = _explain(node, f"{reason} (on {target.hardware})" if reason else None,
                                                 dynamic, str(model), quantized)
        nodes.append(report)
    style = quantization_style(Counter(g.node.op_type for g in walk(loaded.graph)))
    precision, recommendations = _precision(style, target)
    if target.provider != CPU and not dynamic:
        recommendations = _control_flow_reports(loaded.proto, summary, nodes, reasons, target, str(model)) \
            + recommendations
    if dynamic and target.provider == QNN:
        recommendations.insert(0, f"fix the dynamic dims: {_dims_fix(dynamic, str(model))}")
    graph_nodes = [g.node for g in walk(loaded.graph)]
    return PlacementReport(str(model), target, summary, nodes, _transitions(graph_nodes, summary.nodes),
                           precision, recommendations, notes)
