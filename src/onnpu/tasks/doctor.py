"""``doctor``: is this machine able to run models on the NPU? Versions, providers, QNN backends, and a
live self-test on the NPU with CPU fallback disabled."""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from onnpu.errors import OnnpuError
from onnpu.machine import htp_is_emulated
from onnpu.model.files import write_model
from onnpu.runtime.board_checks import Check, board_checks, checks_apply
from onnpu.runtime.qnn import package_version, qnn_status
from onnpu.runtime.session import create_session, exact_cpu_session
from onnpu.runtime.socs import on_board
from onnpu.runtime.targets import Target, get_target
from onnpu.storage import scratch_dir
from onnpu.tasks.run import run_model


@dataclass
class SelfTest:
    passed: bool
    detail: str
    npu_session_ms: float | None = None
    npu_run_ms: float | None = None
    cpu_run_ms: float | None = None
    max_abs_diff: float | None = None
    placement: str | None = None


@dataclass
class DoctorReport:
    python: str
    machine: str
    onnxruntime: str
    onnxruntime_qnn: str | None
    qnn_sdk: str | None
    qnn_mode: str
    compatible: bool
    providers: list[str]
    qnn_backends: dict[str, bool]
    htp: str
    problems: list[str] = field(default_factory=list)
    selftest: SelfTest | None = None
    soc: dict[str, Any] | None = None  # the SoC NPU results are for (and where that choice came from)
    board: list[Check] = field(default_factory=list)  # on a board: what the Hexagon NPU needs, checked
    board_identity: dict[str, Any] | None = None
    qnn_generation: str = ""  # plugin EP 2.x / built-in EP 1.2x / none, with versions

    @property
    def ok(self) -> bool:
        """The NPU path works: the self-test passed (skipped on request: a QNN EP is there) and the board checks
        pass. ``onnpu doctor`` exits 0 exactly when this is true."""
        ran = self.selftest.passed if self.selftest is not None else self.compatible
        return ran and not self.problems and all(c.passed for c in self.board)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


def selftest_model() -> onnx.ModelProto:
    """A tiny QDQ conv layer (uint8 activations, int8 weights): Q → DQ → Conv → Relu → Q → DQ, 1x3x16x16.

    One layer, so the NPU and the CPU may differ by at most one output quantization step (0.02).
    """
    rng = np.random.default_rng(7)
    w = rng.integers(-90, 90, (8, 3, 3, 3)).astype(np.int8)
    b = rng.integers(-200, 200, (8,)).astype(np.int32)

    def scalar(name: str, dtype: int, value: float) -> onnx.TensorProto:
        return helper.make_tensor(name, dtype, [], [value])

    inits = [scalar("s_in", TensorProto.FLOAT, 1 / 255), scalar("z_in", TensorProto.UINT8, 0),
             numpy_helper.from_array(w, "w_q"), scalar("w_s", TensorProto.FLOAT, 0.004),
             scalar("w_z", TensorProto.INT8, 0), numpy_helper.from_array(b, "b_q"),
             scalar("b_s", TensorProto.FLOAT, 0.004 / 255), scalar("b_z", TensorProto.INT32, 0),
             scalar("s_o", TensorProto.FLOAT, 0.02), scalar("z_o", TensorProto.UINT8, 0)]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["x_q"], name="x_quant"),
        helper.make_node("DequantizeLinear", ["x_q", "s_in", "z_in"], ["x_dq"], name="x_dequant"),
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], name="w_dequant"),
        helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b"], name="b_dequant"),
        helper.make_node("Conv", ["x_dq", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "s_o", "z_o"], ["y_q"], name="y_quant"),
        helper.make_node("DequantizeLinear", ["y_q", "s_o", "z_o"], ["y"], name="y_dequant"),
    ]
    graph = helper.make_graph(nodes, "onnpu_selftest",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], producer_name="onnpu")
    model.ir_version = 10
    return model


def run_selftest(target: Target | None = None) -> SelfTest:
    with scratch_dir("onnpu-doctor-") as tmp:
        path = Path(tmp) / "selftest_qdq.onnx"
        write_model(selftest_model(), path)
        x = {"x": np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)}
        try:
            npu = create_session(path, (target or get_target("npu")).with_fallback(False))
            npu_result = run_model(path, npu.target, inputs=x, session=npu, iterations=3)
        except OnnpuError as exc:
            return SelfTest(False, f"NPU session failed: {exc}")
        # Reference: the CPU with graph optimisations off runs DQ → float Conv → Q as written (exact). The
        # CPU EP's fused integer kernels are not a reference: on x86 without VNNI they saturate int8 weights.
        cpu = exact_cpu_session(path)
        cpu_result = run_model(path, cpu.target, inputs=x, session=cpu, iterations=3)
    diff = float(np.max(np.abs(npu_result.outputs["y"] - cpu_result.outputs["y"])))
    step = 0.02  # the output quantization step: HTP and CPU may round one step apart
    placement = npu_result.placement.headline() if npu_result.placement else "placement not recorded"
    passed = diff <= step + 1e-6 and (npu_result.placement is None or npu_result.placement.fully_on_target)
    detail = f"QDQ conv layer on the NPU ({npu.target.hardware}) with CPU fallback disabled; max |NPU − CPU " \
             f"reference| = {diff:.4g} " \
             f"({'within' if diff <= step + 1e-6 else 'beyond'} one quantization step, {step})"
    return SelfTest(passed, detail, npu.create_seconds * 1000, float(np.median(npu_result.latencies_ms)),
                    float(np.median(cpu_result.latencies_ms)), diff, placement)


def doctor(selftest: bool = True, soc: str | None = None) -> DoctorReport:
    """Check the installation (and, on a board, what the Hexagon NPU needs from the system); run the NPU
    self-test on ``soc``'s HTP (default: the SoC onnpu runs on) unless asked not to."""
    status = qnn_status()
    problems = [status.problem] if status.problem else []
    report = DoctorReport(
        python=f"{sys.version.split()[0]} ({platform.python_implementation()})",
        machine=f"{platform.system()} {platform.machine()}",
        onnxruntime=ort.__version__,
        onnxruntime_qnn=package_version("onnxruntime-qnn") or status.plugin_version,
        qnn_sdk=status.qnn_sdk_version,
        qnn_mode=status.mode,
        qnn_generation=status.generation,
        compatible=status.available,
        providers=list(ort.get_available_providers()),
        qnn_backends=status.backends,
        htp=status.htp_kind,
        problems=problems,
    )
    target = get_target("npu", soc=soc) if status.available else None
    if target is not None and target.soc is not None:
        report.soc = target.soc.to_dict() | {"source": target.soc_source, "hardware": target.hardware}
    if on_board() or platform.system() == "Windows" or checks_apply():  # Arm Linux: Qualcomm SoC known or not
        identity, report.board = board_checks(Path(status.library_dir) if status.library_dir else None)
        report.board_identity = identity.to_dict()
        if not all(c.passed for c in report.board) and report.htp.startswith("hardware"):
            report.htp = "not usable: the board checks below fail"
    if not on_board() and platform.system() == "Linux" and not htp_is_emulated() and status.backends.get("htp"):
        # an Arm Linux machine without Qualcomm socinfo: the wheel's HTP libraries are there, the Hexagon NPU is not
        report.htp = "absent: no Qualcomm SoC here (/sys/devices/soc0/soc_id is missing)"
        report.problems.append("no Qualcomm SoC found (/sys/devices/soc0/soc_id is missing): the NPU path cannot "
                               "run here; compile on a workstation with `onnpu compile` and copy the folder to a board")
    if status.available and selftest:
        start = time.perf_counter()
        report.selftest = run_selftest(target)
        report.selftest.detail += f" (self-test took {time.perf_counter() - start:.2f} s)"
    elif not status.available:
        report.selftest = SelfTest(False, "skipped: no QNN execution provider")
    if status.available and status.mode == "plugin" and "QNNExecutionProvider" not in report.providers:
        report.providers = [*report.providers, "QNNExecutionProvider (plugin)"]  # registered on use
    return report
