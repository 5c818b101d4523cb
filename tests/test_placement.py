"""Where nodes run on the QNN HTP (emulator here), why, and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from onnpu import get_target, jsonio, run_model
from onnpu.cli import main
from onnpu.quantization.pipeline import quantize
from onnpu.tasks.explain_placement import explain_placement

pytestmark = pytest.mark.npu

# Float models need an HTP that computes float (v69+, fp16): QCS8550 (v73). The default SoC, QCS6490 (v68),
# computes no float at all: tests/test_socs.py covers that.
FLOAT_SOC = "qcs8550"


def test_float_only_op_on_cpu_with_qnn_reason_then_npu_after_quantize(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.float_only_op(), tmp_path / "asin.onnx")
    report = explain_placement(src, get_target("npu", soc=FLOAT_SOC))
    [asin] = report.cpu_nodes
    assert (asin.name, asin.op_type, asin.provider) == ("asin", "Asin", "CPUExecutionProvider")
    assert "Failed to add node" in asin.reason  # the QNN EP's own words
    assert "quantize" in asin.fix
    assert report.transitions == 1
    assert main(["placement", str(src), "--require-full", "--soc", FLOAT_SOC]) == 3  # ExitCode.REFUSED
    said = capsys.readouterr()
    assert "Failed to add node" in said.out
    assert f"error: {src}: --require-full: 1 node kept off it" in said.err  # the exit code is said in words too
    quantize(src, tmp_path / "asin.qdq.onnx", "random")
    after = explain_placement(tmp_path / "asin.qdq.onnx", get_target("npu"))
    assert after.cpu_nodes == [] and after.fully_on_target
    assert after.summary.on_target == after.summary.total  # strict session: all of them, I/O Q/DQ included
    assert main(["placement", str(tmp_path / "asin.qdq.onnx"), "--require-full"]) == 0


def test_dynamic_batch_names_the_dim_and_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx")
    report = explain_placement(src, get_target("npu", soc=FLOAT_SOC))
    assert report.summary.on_target == 0 and len(report.cpu_nodes) == 3
    for node in report.cpu_nodes:
        assert "dynamic dims (N)" in node.reason
        assert "fix-shapes" in node.fix and "--dim N=1" in node.fix
    fixed = explain_placement(src, get_target("npu", soc=FLOAT_SOC), dims={"N": 1})
    assert fixed.fully_on_target and fixed.summary.partitions == 1
    assert fixed.summary.on_target == fixed.summary.total == 3
    assert main(["placement", str(src), "--dim", "N=1", "--json", "--soc", FLOAT_SOC]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["fully_on_target"] is True and data["on_target"] == 3


def test_float_model_precision_and_recommendation(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "float.onnx")
    report = explain_placement(src, get_target("npu", soc=FLOAT_SOC))
    assert report.fully_on_target and report.summary.on_target == report.summary.total == 3
    assert "QCS8550's HTP v73 runs float ops in fp16" in report.precision
    assert any("quantize" in r and "--soc qcs8550" in r for r in report.recommendations)


def test_op_with_no_qnn_implementation(tmp_path: Path) -> None:
    src = models.save(models.never_on_htp(), tmp_path / "erf.onnx")
    [erf] = explain_placement(src, get_target("npu", soc=FLOAT_SOC)).cpu_nodes
    assert "not supported by QNN EP" in erf.reason and "no QNN implementation" in erf.fix


def test_io_conversion_is_not_a_fallback(tmp_path: Path) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    report = explain_placement(src, get_target("npu"))
    assert report.fully_on_target and report.cpu_nodes == []
    assert report.summary.on_target == report.summary.total == 8  # strict session: even the I/O Q/DQ on the NPU
    assert any("offload_graph_io_quantization" in n for n in report.notes)
    # with fallback allowed (as `run` does by default) the input Q moves to the CPU, and is not a fallback
    result = run_model(src, get_target("npu"))
    assert result.placement is not None and result.placement.fully_on_target
    assert result.placement.headline() == (f"7 of 8 nodes on the NPU ({get_target('npu').hardware}), 1 partition; "
                                           "1 I/O (de)quantization node on the CPU by design")
    io = [n for n in result.placement.nodes if n.provider == "CPUExecutionProvider"]
    assert [n.name for n in io] == ["x_quant"] and io[0].io_conversion


@pytest.mark.zoo
def test_default_quantized_model_is_fully_on_npu(zoo_model, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["placement", str(zoo_model.quantized_model), "--require-full"]) == 0
    out = capsys.readouterr().out
    assert "285 of 285 nodes on the NPU" in out and "1 partition" in out


def _focus_model() -> onnx.ModelProto:
    """A YOLOX-style 'Focus' stem (four strided Slice pairs + Concat, which ONNX Runtime fuses into SpaceToDepth +
    Gather before any provider sees it), a Conv, a Constant-made shape and a Reshape: float."""
    rng = np.random.default_rng(0)
    nodes, parts, inits = [], [], []
    for k, (r, c) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        for axis, start in ((2, r), (3, c)):
            src = "x" if axis == 2 else f"s{k}a"
            out = f"s{k}a" if axis == 2 else f"s{k}"
            consts = [numpy_helper.from_array(np.array([v], np.int64), f"{out}_{n}")
                      for n, v in (("start", start), ("end", 1 << 30), ("axis", axis), ("step", 2))]
            nodes.append(helper.make_node("Constant", [], [f"{out}_c"], name=f"const_{out}",
                                          value=consts[0]))
            nodes.append(helper.make_node("Slice", [src, f"{out}_c", f"{out}_end", f"{out}_axis", f"{out}_step"],
                                          [out], name=f"slice_{out}"))
            inits.extend(consts[1:])
        parts.append(f"s{k}")
    nodes.append(helper.make_node("Concat", parts, ["focus"], axis=1, name="concat"))
    nodes.append(helper.make_node("Conv", ["focus", "w"], ["c"], name="conv"))
    nodes.append(helper.make_node("Constant", [], ["shape"], name="shape_const",
                                  value=numpy_helper.from_array(np.array([1, -1], np.int64))))
    nodes.append(helper.make_node("Reshape", ["c", "shape"], ["y"], name="flatten"))
    inits.append(numpy_helper.from_array(rng.normal(0, 0.3, (4, 12, 1, 1)).astype(np.float32), "w"))
    graph = helper.make_graph(nodes, "focus", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def test_float_model_on_v68_refused_fused_and_constants_told_apart(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """QCS6490 computes no float: every node that computes is refused — never 'removed' — the Slices and Concat
    ONNX Runtime fused into its own SpaceToDepth carry that node's refusal, Constants are constants."""
    src = models.save(_focus_model(), tmp_path / "focus.onnx")
    report = explain_placement(src, get_target("npu"))  # the default SoC: QCS6490, HTP v68
    states = {n.name: n.state for n in report.nodes}
    assert {states[f"slice_s{k}{a}"] for k in range(4) for a in ("a", "")} == {"refused"}
    assert states["concat"] == states["conv"] == "refused"
    assert states["shape_const"] == "constant" and states["const_s0a"] == "constant"
    slices = [n for n in report.nodes if n.op_type == "Slice"]
    assert all(n.fused_into == "SpaceToDepth + Gather" and "SpaceToDepth" in n.reason for n in slices)
    assert "removed" not in report.summary.by_provider and report.summary.by_provider["refused"] >= 10
    assert "float" in (report.summary.failure or "")
    assert all(n.state != "constant" for g in report.reasons for n in g.nodes)  # constants are never blamed
    assert main(["placement", str(src), "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["by_state"]["constant"] == 9 and data["fusions"][0]["into"] == "SpaceToDepth + Gather"
    assert {g["reason"].split(",")[0] for g in data["reasons"]} >= {"fused by ONNX Runtime into SpaceToDepth + Gather"}
    assert sum(g["count"] for g in data["reasons"]) == data["by_state"]["refused"]


def test_compact_by_default_every_node_with_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(_focus_model(), tmp_path / "focus.onnx")
    assert main(["placement", str(src), "--soc", FLOAT_SOC]) == 0  # v73 computes float: all of it on the NPU
    compact = capsys.readouterr().out
    assert "nodes not on the target" not in compact and "const_s0a" not in compact  # constants never listed
    assert "Slice ×8, Concat ×1 → SpaceToDepth + Gather (NPU)" in compact
    assert main(["placement", str(src), "--soc", FLOAT_SOC, "--all"]) == 0
    every = capsys.readouterr().out
    assert all(name in every for name in ("const_s0a", "slice_s3", "shape_const", "concat", "flatten"))
    assert "fused into SpaceToDepth + Gather" in every
    report = explain_placement(src, get_target("npu", soc=FLOAT_SOC))
    assert report.fully_on_target and report.off_target == [] and report.reasons == []
    assert report.summary.on_target == report.summary.total - 9  # every node but the 9 Constants


@pytest.mark.npu
def test_nodes_without_names_are_counted_one_by_one(tmp_path: Path) -> None:
    """ONNX Runtime's assignment names every nameless node "": each is still a node of the placement (CenterFace
    ships 122 nameless nodes; they read as "1 of 1 nodes on the CPU; 121 folded into constants")."""
    from onnpu.runtime.session import create_session

    named = models.save(models.qdq_conv(), tmp_path / "named.onnx")
    proto = models.qdq_conv()
    for node in proto.graph.node:
        node.name = ""
    nameless = models.save(proto, tmp_path / "nameless.onnx")
    for target in (get_target("cpu"), get_target("npu")):
        want = create_session(named, target).placement
        got = create_session(nameless, target).placement
        assert want is not None and got is not None
        assert got.on_target == want.on_target and len(got.nodes) == len(want.nodes) == len(proto.graph.node)
        assert [(n.op_type, n.provider, n.state, n.io_conversion) for n in got.nodes] == \
            [(n.op_type, n.provider, n.state, n.io_conversion) for n in want.nodes]
        assert got.inserted == want.inserted and got.headline() == want.headline()
    assert all(n.name == "" for n in onnx.load(str(nameless)).graph.node)  # the file itself is untouched
