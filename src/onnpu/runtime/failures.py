"""Why an NPU session failed, in words a user can act on: nodes the HTP of the target SoC refused (named after
the model's own nodes, not ``_token_9``), and the failures users meet on boards (DSP transport, skeleton
libraries, context binaries), each translated into its cause and its fix."""

from __future__ import annotations

import re
from dataclasses import dataclass

import onnx

from onnpu.errors import OnnpuError, PlacementError, TargetError
from onnpu.model.graphs import consumers, producers
from onnpu.runtime.native_log import CapturedLog
from onnpu.runtime.placement import original_name
from onnpu.runtime.targets import Target

_NHWC = re.compile(r"Node '([^']*)' OpType:(\w+) with domain:com\.ms\.internal\.nhwc was inserted using the NHWC "
                   r"format as requested by QNNExecutionProvider, but was not selected by that EP")
_VALIDATE = re.compile(r"backendValidateOpConfig\(\) failed for node `([^`]*)` of type `(\w+)` with error code (\d+)")
_INSERTED = ("Transpose_token_", "QuantizeLinear_token_", "DequantizeLinear_token_")


@dataclass(frozen=True)
class RefusedNode:
    name: str  # the model's node name ("<GlobalAveragePool #3>" for an unnamed node)
    op_type: str
    reason: str


class RefusalError(PlacementError):
    """The HTP of the target SoC refused nodes in a way that makes the whole session fail. ``reason`` says why
    in one phrase (``float model — this HTP computes no float``)."""

    def __init__(self, message: str, hint: str, refused: list[RefusedNode], hardware: str, reason: str = "") -> None:
        super().__init__(message, hint=hint)
        self.refused = refused
        self.hardware = hardware
        self.reason = reason or message


GRAPH_FAILURES = ("finalize", "Failed to compose", "MEM_ALLOC", "graphAddNode")


def is_graph_failure(exc: BaseException) -> bool:
    """A QNN backend failure to build the whole graph (as opposed to a refused node)."""
    text = f"{exc} {exc.__cause__ or ''}"
    return any(k in text for k in GRAPH_FAILURES)


def whole_model_refusal(error: OnnpuError, path: str) -> tuple[str, str] | None:
    """(reason, fix) when a failed NPU session means the target's HTP cannot take this model at all: the nodes
    it claimed make the session fail (a float model on an HTP without float, ops outside complete QDQ groups)
    or QNN cannot build the graph. Where CPU fallback is allowed the whole model then runs on the CPU. None for
    every other failure (a backend that did not load, a board problem, a bad option): those are errors."""
    if isinstance(error, RefusalError):
        return error.reason, error.hint or ""
    if isinstance(error, TargetError) and not isinstance(error, PlacementError) and is_graph_failure(error):
        return ("QNN cannot build the graph for this HTP",
                f"`onnpu placement {path}` names the node it fails from; a newer HTP (e.g. --soc qcs8550) may take it")
    return None


# (pattern in the error or the native log, cause, fix) for failures seen on boards
BOARD_ERRORS: tuple[tuple[str, str, str], ...] = (
    ("Failed to create transport for device, error: 4000",
     "the CPU-side stub could not load the HTP skeleton library on the DSP (not on the DSP search path, the wrong "
     "HTP version, or from another QNN release)",
     "put the libQnnHtpV<arch>Skel.so of the same QNN release as libQnnHtp.so first in ADSP_LIBRARY_PATH "
     "(';'-separated); run `onnpu doctor`"),
    ("Failed to load skel, error: 4000", "the HTP skeleton library could not be loaded on the DSP",
     "put the matching libQnnHtpV<arch>Skel.so first in ADSP_LIBRARY_PATH (';'-separated); run `onnpu doctor`"),
    ("Transport layer setup failed: 14001",
     "the DSP transport could not be set up: the skeleton library did not load or the DSP is not running",
     "run `onnpu doctor`: it checks the cDSP state, /dev/fastrpc-cdsp access and the skeleton search path"),
    ("untrusted app trying to offload to signed remote process",
     "the kernel or DSP refused a signed protection domain for this process",
     "run the HTP in an unsigned PD (QNN's default); if the firmware forbids unsigned PDs, a firmware that "
     "allows them (or a signed skeleton) is needed"),
    ("Failed to retrieve skel build id",
     "the DSP skeleton library is missing or does not match the stub (another QNN release)",
     "ship libQnnHtp, the stub and the skeleton from one QNN release; put its skeleton folder first in "
     "ADSP_LIBRARY_PATH"),
    ("QNN_CONTEXT_ERROR_CREATE_FROM_BINARY",
     "the compiled context does not fit this device: built for another SoC, with a newer QNN than the device's, "
     "or asking for more VTCM than it has",
     "compile for this board's SoC (`onnpu compile MODEL --soc <this board>`) with a QNN no newer than the "
     "board's"),
    ("Stub lib id mismatch", "the HTP stub and skeleton come from different QNN releases",
     "ship libQnnHtp, the stub and the skeleton from one QNN release; put its skeleton folder first in "
     "ADSP_LIBRARY_PATH"),
    ("libcdsprpc.so: cannot open shared object file", "the FastRPC user library (libcdsprpc.so) is not installed",
     "install FastRPC (Ubuntu: qcom-fastrpc1; Yocto: the fastrpc recipe)"),
    ("QNN_COMMON_ERROR_MEM_ALLOC",
     "QNN could not finalize the graph for this HTP (memory allocation failed while optimising it: onnpu "
     "retries once with htp_graph_finalization_optimization_mode=1 unless that option is given; seen on the "
     "emulator's default HTP when no SoC is named)",
     "name the SoC (--soc qcs6490, qcs8550, ...): onnpu passes its soc_model; else `onnpu placement MODEL --soc ...` "
     "and `onnpu layers` show the nodes to keep on the CPU"),
)


def board_error(text: str) -> tuple[str, str] | None:
    """(cause, fix) for a known board failure mentioned in ``text``."""
    for pattern, cause, fix in BOARD_ERRORS:
        if pattern in text:
            return cause, fix
    if _CONTEXT_CODE.search(text):  # the code of the error below, without its name
        return board_error("QNN_CONTEXT_ERROR_CREATE_FROM_BINARY")
    return None


# the code stated as an error code on a line about a context (never any 5005 in a log: a PID, a time, a size)
_CONTEXT_CODE = re.compile(r"^(?=.*context).*\b(?:error|err|code|status)\W{0,3}5005\b", re.IGNORECASE | re.MULTILINE)


def _node_lookup(model: onnx.ModelProto, name: str, op_type: str) -> str:
    """The model's name for a node ONNX Runtime / QNN named ``name``."""
    base = original_name(name)
    nodes = list(model.graph.node)
    if base and any(n.name == base for n in nodes):
        return base
    prefixed = [n.name for n in nodes if n.name and base.startswith(n.name)]  # QNN appends its op: fcFullyConnected
    if prefixed:
        return max(prefixed, key=len)
    unnamed = [i for i, n in enumerate(nodes) if not n.name and n.op_type == op_type]
    if len(unnamed) == 1:
        return f"<{op_type} #{unnamed[0]}>"
    return base or f"<{op_type}>"


def _in_qdq_group(model: onnx.ModelProto, name: str) -> bool:
    """Is node ``name`` fed only by DequantizeLinear and read only by QuantizeLinear (a complete QDQ group)?"""
    node = next((n for n in model.graph.node if n.name == name), None)
    if node is None:
        return False
    made_by, read_by = producers(model.graph), consumers(model.graph)
    feeds = [made_by.get(i) for i in node.input[:1] if i]
    readers = [r for o in node.output for r in read_by.get(o, [])]
    outputs = {o.name for o in model.graph.output}
    return (all(p is not None and p.op_type == "DequantizeLinear" for p in feeds) and bool(readers)
            and all(r.op_type == "QuantizeLinear" for r in readers) and not set(node.output) & outputs)


def refused_nodes(text: str, log: CapturedLog | None, model: onnx.ModelProto) -> list[RefusedNode]:
    """Nodes named in the fatal layout error and in the QNN backend's validation failures."""
    quantized = any(n.op_type == "DequantizeLinear" for n in model.graph.node)
    found: dict[str, RefusedNode] = {}
    candidates = [(m.group(1), m.group(2)) for m in _NHWC.finditer(text)]
    for line in log.lines if log else []:
        for m in _VALIDATE.finditer(line):
            qnn_name = re.sub(r"_2$", "", m.group(1))
            if not qnn_name.startswith(_INSERTED):
                candidates.append((qnn_name, ""))
    ops = {n.name: n.op_type for n in model.graph.node}
    for qnn_name, op in candidates:
        name = _node_lookup(model, qnn_name, op)
        op_type = op or ops.get(name, "")
        if name in found or (not op and name not in ops):
            continue
        if not quantized:
            reason = "float op: this HTP computes no float"
        elif not _in_qdq_group(model, name):
            reason = ("outside a complete DequantizeLinear → op → QuantizeLinear group, so the HTP would run it in "
                      "float, which this HTP cannot")
        else:
            reason = "refused by the HTP backend (op validation failed)"
        found[name] = RefusedNode(name, op_type, reason)
    return list(found.values())


def explain_failure(text: str, log: CapturedLog | None, target: Target, model: onnx.ModelProto,
                    path: str) -> OnnpuError | None:
    """An actionable error for a failed NPU session, or None when the failure is not one onnpu knows."""
    if _NHWC.search(text):
        refused = refused_nodes(text, log, model)
        quantized = any(n.op_type == "DequantizeLinear" for n in model.graph.node)
        listed = ", ".join(f"{r.name} ({r.op_type})" for r in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        soc = target.soc
        where = target.hardware
        if not quantized:
            hint = (f"quantize it for this SoC: `onnpu prepare {path} -o model.qdq.onnx --calib DATA"
                    + (f" --soc {soc.name.lower()}`" if soc else "`")
                    + ("; HTP v68 runs no float at all, v69+ run float ops in fp16 (e.g. --soc qcs8550)"
                       if soc and soc.htp_arch == 68 else ""))
        else:
            hint = (f"`onnpu prepare {path} -o fixed.onnx" + (f" --soc {soc.name.lower()}" if soc else "")
                    + "` completes the QDQ groups (and checks the outputs are unchanged)")
        why = refused[0].reason if refused else "a node was refused after layout transformation"
        short = ("float model — this HTP computes no float" if not quantized else
                 f"{listed or 'a node'}{more} outside a complete QDQ group — this HTP computes no float")
        return RefusalError(f"{path}: {where} cannot run {listed or 'the model'}{more}: {why}; the session cannot "
                            "be created", hint, refused, where, short)
    from onnpu.runtime.board_checks import board_cause  # the prerequisites checked, not QNN's wording guessed
    from onnpu.runtime.qnn import qnn_status

    board = board_cause(qnn_status().library_dir)
    if board:
        return TargetError(f"{path}: the NPU session failed on {target.hardware}: {board[0]}", hint=board[1])
    everything = text + "\n" + (log.text if log else "")
    known = board_error(everything)
    if known:
        cause, fix = known
        if "MEM_ALLOC" in everything and target.soc is not None:  # the SoC is named already
            fix = (f"the graph may not fit {target.soc.name}'s HTP memory (VTCM {target.soc.vtcm_mb:g} MB): split "
                   "or shrink the model, or try `--ep-option vtcm_mb=N`")
        return TargetError(f"{path}: the NPU session failed on {target.hardware}: {cause}", hint=fix)
    return None
