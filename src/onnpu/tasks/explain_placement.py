"""``placement``: for every node — inside If/Loop/Scan bodies too — the provider that runs it and, for every node
left on the CPU, why and what to do about it. Reasons come from the QNN EP's own verbose log and from analysis
of the graph (dynamic dims; what a control-flow node's condition depends on)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import onnx
import onnxruntime as ort

from onnpu.errors import PlacementError, TargetError
from onnpu.machine import htp_is_emulated
from onnpu.model.files import read_model, validate_model_file
from onnpu.model.graphs import (
    CONTROL_FLOW,
    GraphNode,
    condition_inputs,
    needs_unique_names,
    settable_inputs,
    walk,
    with_unique_names,
)
from onnpu.model.inspection import quantization_style, tensor_infos
from onnpu.runtime.failures import RefusalError
from onnpu.runtime.placement import NodePlacement, PlacementSummary, original_name, summarize
from onnpu.runtime.rewrites import Fate, absorbed, fates
from onnpu.runtime.session import create_session, optimized_graph
from onnpu.runtime.targets import CPU, QNN, Target
from onnpu.tasks.compile_failure import is_graph_failure, locate_compile_failure
from onnpu.tasks.placement_report import NO_REASON, NodeReport, PlacementReport

__all__ = ["NodeReport", "PlacementReport", "explain_placement"]

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
    return NO_REASON, "check `onnpu inspect` for unusual types or shapes"


def _control_flow_fix(model: onnx.ModelProto, item: GraphNode, path: str) -> str:
    node = item.node
    if node.op_type != "If":
        return (f"no automatic fix for a {node.op_type}: its body runs on the CPU; export the model with the loop "
                "unrolled (a fixed trip count) or run the loop outside the model")
    depends_on, shapes = condition_inputs(model, item)
    values = settable_inputs(model, depends_on)  # a sample rate, a flag; not an image or a feature window
    if values:
        given = " ".join(f"--input-value {v}=VALUE" for v in values)
        return (f"its condition depends on the value of {', '.join(values)}: make it constant and the If is replaced "
                f"by its branch: `onnpu simplify {path} -o simple.onnx {given}` (prepare takes the same {given})")
    if shapes:
        return (f"its condition depends only on shapes: fix them and simplify: `onnpu simplify {path} -o simple.onnx "
                "--input NAME=SHAPE` (prepare does it) replaces the If by its branch")
    computed = f" from the values of {', '.join(depends_on)}" if depends_on else ""
    return (f"its condition depends on data the model computes{computed}: it cannot be folded; take the decision "
            "outside the model (split it at the If: one model per branch) to run the branches on the NPU")


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


def _fates(source: str | Path | onnx.ModelProto, proto: onnx.ModelProto, dims: Mapping[str, int] | None
           ) -> dict[str, Fate] | None:
    """What ONNX Runtime's optimisation does to the model's nodes before the providers see them (None: onnxruntime
    could not make the optimised graph)."""
    optimized = optimized_graph(source, dims=dims)
    return fates(proto.graph, optimized.graph) if optimized is not None else None


def _failure_report(model: str | Path, proto: onnx.ModelProto, target: Target, failure: str,
                    refused: dict[str, tuple[str, str]], hint: str, notes: list[str], found: Mapping[str, Fate]
                    ) -> PlacementReport:
    """The placement of a model whose session cannot be created on this HTP: the nodes to blame, why, the fix.
    A node the target refused that ONNX Runtime made (``SpaceToDepth`` from ``Slice`` + ``Concat``) is blamed on
    the model's nodes fused into it."""
    names = {g.node.name for g in walk(proto.graph)}
    inside = absorbed(dict(found))
    blame = {name: value for name, value in refused.items() if name in names}
    for made, (reason, fix) in refused.items():
        for name in inside.get(made, []) if made not in names else []:
            blame.setdefault(name, (f"{found[name].describe()}, which {target.hardware} refused: {reason}", fix))
    placed, nodes = [], []
    for i, item in enumerate(walk(proto.graph)):
        node = item.node
        name = node.name or f"<{node.op_type} #{i}>"
        fate = found.get(node.name)
        if name in blame:
            state = "refused"
        elif node.op_type == "Constant":
            state = "constant"
        elif fate is not None and fate.kind != "fused":
            state = fate.kind
        else:
            state = "unplaced"
        into = " + ".join(fate.into) if fate is not None and fate.kind == "fused" else ""
        placed.append(NodePlacement(name, node.op_type, None, scope=item.location, parent=item.parent, state=state,
                                    fused_into=into))
        reason, fix = blame.get(name, ("", ""))
        nodes.append(NodeReport(name, node.op_type, None, reason, fix, scope=item.location, state=state,
                                fused_into=into))
    summary = PlacementSummary(target.provider, placed, 0, [], target.hardware, failure)
    style = quantization_style(Counter(n.op_type for n in proto.graph.node))
    precision, recommendations = _precision(style, target)
    return PlacementReport(str(model), target, summary, nodes, 0, precision, [hint, *recommendations], notes)


def _refused_report(model: str | Path, proto: onnx.ModelProto, target: Target, error: RefusalError,
                    found: Mapping[str, Fate]) -> PlacementReport:
    report = _failure_report(model, proto, target, "", {r.name: (r.reason, error.hint or "") for r in error.refused},
                             error.hint or "", [str(error)], found)
    states = report.summary.by_state
    count = states.get("refused", 0)
    computing = count + states.get("unplaced", 0)
    report.summary.failure = f"{error.reason} ({count} of the {computing} nodes that compute refused)"
    return report


def _graph_failure_report(model: str | Path, proto: onnx.ModelProto, target: Target, error: TargetError,
                          found: Mapping[str, Fate]) -> PlacementReport:
    """QNN could not build the graph and named no node: find the first node from which it fails."""
    located = locate_compile_failure(proto, target)
    if located is None:
        raise error
    newer = "a newer HTP (e.g. --soc qcs8550, v73)" if target.soc and target.soc.htp_arch < 73 else "another SoC"
    fix = (f"QNN builds the graph up to the node before it: try {newer}, or keep this "
           f"{located.quantized_op or located.op_type} out of the model (or in 16-bit: --target-sqnr)")
    reason = f"QNN cannot build the graph from this node on for {target.hardware}: {located.error}"
    return _failure_report(model, proto, target,
                           f"QNN cannot build the graph: from {located.describe()} on ({located.error})",
                           {located.node: (reason, fix)}, fix,
                           [str(error), f"found by compiling the model's first nodes alone ({located.probes} tries)"],
                           found)


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
        report.reason = f"inside {item.scope[0]}: the QNN EP takes no node of a control-flow body that stays on the " \
            "CPU" + (f"; {reasons[report.name]}" if report.name in reasons else "")
        report.fix = next((fix for prefix, fix in fixes.items() if item.scope[:len(prefix)] == prefix), report.fix)
    return recommendations


def explain_placement(model: str | Path, target: Target, *, dims: Mapping[str, int] | None = None) -> PlacementReport:
    """Explain where each node of ``model`` (inside control-flow bodies too) runs on ``target``, from sessions
    with a verbose log; nodes ONNX Runtime fused, folded or removed before any provider saw them are told apart
    (and the fused ones carry the provider and reason of the node they were fused into)."""
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
    found: dict[str, Fate] | None = None
    optimized = False  # the optimised graph is known

    def rewrites() -> dict[str, Fate]:
        nonlocal found, optimized
        if found is None:
            made = _fates(source, proto, dims)
            found, optimized = made or {}, made is not None
        return found

    def failed(exc: TargetError) -> PlacementReport:
        if isinstance(exc, RefusalError):
            return _refused_report(model, proto, target, exc, rewrites())
        if not (target.is_qnn and is_graph_failure(exc)):
            raise exc
        return _graph_failure_report(model, proto, target, exc, rewrites())

    if target.provider != CPU:
        # First as the NPU runs a model it can take whole: with CPU fallback disabled even the graph-input Q
        # and graph-output DQ run on the NPU. Only if that fails, the fallback session says what went where.
        strict = target.with_fallback(False)
        try:
            loaded = create_session(source, strict, dims=dims, log_level=level, label=model)
        except RefusalError as exc:
            return failed(exc)
        except PlacementError:
            loaded = None
        except TargetError as exc:
            return failed(exc)
        else:
            if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.io_conversion
                   for n in (loaded.placement.nodes if loaded.placement else [])):
                notes.append("with CPU fallback allowed, onnxruntime runs the graph-input Quantize and "
                             "graph-output Dequantize on the CPU (offload_graph_io_quantization=1)")
    if loaded is None:
        try:
            loaded = create_session(source, target.with_fallback(True), dims=dims, log_level=level, label=model)
        except TargetError as exc:
            return failed(exc)
        if isinstance(loaded.fallback, TargetError):  # the whole model fell back to the CPU: say why, node by node
            return failed(loaded.fallback)
    if loaded.subgraphs is None:
        raise TargetError(f"onnxruntime {ort.__version__} cannot record which provider runs each node",
                          hint="placement needs onnxruntime ≥ 1.24 (session.record_ep_graph_assignment_info)")
    named = {original_name(name) for sub in loaded.subgraphs for name, _ in sub.nodes}
    missing = any(g.node.name not in named and g.node.op_type != "Constant" for g in walk(loaded.graph))
    summary = summarize(loaded.graph, loaded.subgraphs, target.provider,
                        target.hardware if target.is_qnn else "", target.device, rewrites() if missing else None)
    inputs, _ = tensor_infos(loaded.proto)
    dynamic = {t.name: [d if isinstance(d, str) else f"{t.name}[{i}]" for i, d in enumerate(t.shape)
                        if not isinstance(d, int) and d not in (dims or {})] for t in inputs}
    dynamic = {k: v for k, v in dynamic.items() if v}
    reasons = loaded.log.refusal_reasons() if target.is_qnn and loaded.log else {}
    quantized = quantization_style(Counter(n.op_type for n in loaded.graph.node)) == "QDQ"
    nodes = []
    for node in summary.nodes:
        report = NodeReport(node.name, node.op_type, node.provider, io_conversion=node.io_conversion,
                            scope=node.scope, state=node.state, fused_into=node.fused_into)
        if node.provider is None:
            fate = rewrites().get(node.name)
            parent = rewrites().get(node.parent or "")
            report.reason = ("in the branch not taken of an If ONNX Runtime replaced by its other branch"
                             if fate is None and parent is not None and parent.kind == "folded" else
                             _gone(node, fate, optimized))
        elif node.provider != target.provider:
            own = reasons.get(node.name) or next((reasons[n] for n in node.fused_into.split(" + ") if n in reasons),
                                                 None)
            report.reason, report.fix = _explain(node, f"{own} (on {target.hardware})" if own else None,
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


def _gone(node: NodePlacement, fate: Fate | None, known: bool) -> str:
    """Why no provider runs a node (it is not refused: ONNX Runtime did away with it before placement)."""
    if node.state == "constant":
        return "a Constant: an initializer once ONNX Runtime loads the model (nothing to run)"
    if fate is not None:
        return fate.describe()
    if known:  # in the graph the providers were given, gone from their assignment
        return ("removed by ONNX Runtime's layout transformation for the NPU (cancelled against the transposes it "
                "inserted)" if node.op_type == "Transpose" else "removed by ONNX Runtime after partitioning")
    return "removed by ONNX Runtime's graph optimisation (folded or fused)"
