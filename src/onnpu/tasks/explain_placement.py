"""``placement``: for every node, the provider that runs it and — for every node left on the CPU — why,
and what to do about it. Reasons come from the QNN EP's own verbose log and from analysis of the graph."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from onnpu.errors import PlacementError, TargetError
from onnpu.machine import htp_is_emulated
from onnpu.model.files import validate_model_file
from onnpu.model.inspection import quantization_style, tensor_infos
from onnpu.runtime.failures import RefusalError
from onnpu.runtime.placement import NodePlacement, PlacementSummary
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import CPU, QNN, Target


@dataclass
class NodeReport:
    name: str
    op_type: str
    provider: str | None
    reason: str = ""
    fix: str = ""
    io_conversion: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_type": self.op_type, "provider": self.provider, "reason": self.reason,
                "fix": self.fix, "io_conversion": self.io_conversion}


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


def _transitions(graph_nodes: list[Any], placed: list[NodePlacement]) -> int:
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


def _explain(node: NodePlacement, qnn_reason: str | None, dynamic: dict[str, list[str]], model: str,
             quantized: bool = False) -> tuple[str, str]:
    if node.io_conversion:
        return ("graph-input Quantize / graph-output Dequantize: the QNN EP leaves them to the CPU by design "
                "(offload_graph_io_quantization=1)",
                "counted as I/O conversion, not a fallback; `onnpu quantize --io uint8` removes them")
    if dynamic:
        dims = ", ".join(sorted({d for ds in dynamic.values() for d in ds}))
        first = sorted({d for ds in dynamic.values() for d in ds})[0]
        why = f"the model has dynamic dims ({dims}); the QNN EP takes only fixed shapes"
        return ((qnn_reason + "; " if qnn_reason else "") + why,
                f"fix them: `onnpu fix-shapes {model} --dim {first}=1 -o fixed.onnx`, or add --dim {first}=1")
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


def _refused_report(model: str | Path, target: Target, error: RefusalError) -> PlacementReport:
    """The placement of a model whose session cannot be created on this HTP: the refused nodes, why, the fix."""
    proto = validate_model_file(model)
    refused = {r.name: r for r in error.refused}
    placed, nodes = [], []
    for i, node in enumerate(proto.graph.node):
        name = node.name or f"<{node.op_type} #{i}>"
        placed.append(NodePlacement(name, node.op_type, None))
        r = refused.get(name)
        nodes.append(NodeReport(name, node.op_type, None, r.reason if r else "", (error.hint or "") if r else ""))
    summary = PlacementSummary(target.provider, placed, 0, [], target.hardware,
                               f"{len(error.refused)} node{'s' if len(error.refused) != 1 else ''} refused")
    style = quantization_style(Counter(n.op_type for n in proto.graph.node))
    precision, recommendations = _precision(style, target)
    notes = [str(error)]
    return PlacementReport(str(model), target, summary, nodes, 0, precision, [error.hint or "", *recommendations],
                           notes)


def explain_placement(model: str | Path, target: Target, *, dims: Mapping[str, int] | None = None) -> PlacementReport:
    """Explain where each node of ``model`` runs on ``target``, from sessions with a verbose log."""
    level = 0 if target.is_qnn else 3
    notes: list[str] = []
    loaded = None
    if target.provider != CPU:
        # First as the NPU runs a model it can take whole: with CPU fallback disabled even the graph-input Q
        # and graph-output DQ run on the NPU. Only if that fails, the fallback session says what went where.
        strict = target.with_fallback(False)
        try:
            loaded = create_session(model, strict, dims=dims, log_level=level)
        except RefusalError as exc:
            return _refused_report(model, target, exc)
        except PlacementError:
            loaded = None
        else:
            if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.io_conversion
                   for n in (loaded.placement.nodes if loaded.placement else [])):
                notes.append("with CPU fallback allowed, onnxruntime runs the graph-input Quantize and "
                             "graph-output Dequantize on the CPU (offload_graph_io_quantization=1)")
    if loaded is None:
        try:
            loaded = create_session(model, target.with_fallback(True), dims=dims, log_level=level)
        except RefusalError as exc:
            return _refused_report(model, target, exc)
    summary = loaded.placement
    if summary is None:
        raise TargetError(f"onnxruntime {ort.__version__} cannot record which provider runs each node",
                          hint="placement needs onnxruntime ≥ 1.24 (session.record_ep_graph_assignment_info)")
    inputs, _ = tensor_infos(loaded.proto)
    dynamic = {t.name: [d for d in t.dynamic_dims if d not in (dims or {})] for t in inputs}
    dynamic = {k: v for k, v in dynamic.items() if v}
    reasons = loaded.log.refusal_reasons() if target.is_qnn and loaded.log else {}
    quantized = quantization_style(Counter(n.op_type for n in loaded.graph.node)) == "QDQ"
    nodes = []
    for node in summary.nodes:
        report = NodeReport(node.name, node.op_type, node.provider, io_conversion=node.io_conversion)
        if node.provider is None:
            report.reason = "removed by graph optimisation (folded or fused into another node)"
        elif node.provider != target.provider:
            reason = reasons.get(node.name)
            report.reason, report.fix = _explain(node, f"{reason} (on {target.hardware})" if reason else None,
                                                 dynamic, str(model), quantized)
        nodes.append(report)
    style = quantization_style(Counter(n.op_type for n in loaded.graph.node))
    precision, recommendations = _precision(style, target)
    if dynamic and target.provider == QNN:
        first = sorted({d for ds in dynamic.values() for d in ds})[0]
        recommendations.insert(0, f"fix the dynamic dims: --dim {first}=1 (session) or `onnpu fix-shapes` (file)")
    return PlacementReport(str(model), target, summary, nodes, _transitions(list(loaded.graph.node), summary.nodes),
                           precision, recommendations, notes)
