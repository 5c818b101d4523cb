"""Placement and profile see inside If bodies: every node counted and attributed, the If's reason and its fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import graph_models
import models
from onnpu import get_target, jsonio
from onnpu.cli import main
from onnpu.measure.profile import profile
from onnpu.tasks.explain_placement import explain_placement

FLOAT_SOC = "qcs8550"  # computes float (fp16); QCS6490 would refuse a float model before placing anything


@pytest.mark.npu
def test_placement_counts_and_explains_the_nodes_inside_an_if(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    src = models.save(graph_models.if_on_input(), tmp_path / "if.onnx")
    report = explain_placement(src, get_target("npu", soc=FLOAT_SOC))
    summary = report.summary
    # 2 top-level nodes and 10 inside the bodies, all counted; ONNX Runtime folds the inner If on the batch size
    assert summary.total == 12 and summary.on_target == 1 and len(summary.inside_control_flow) == 5
    assert summary.headline().startswith("1 of 7 nodes on the NPU")
    assert "6 fell back to the CPU (5 inside If/Loop/Scan bodies)" in summary.headline()
    [the_if] = [n for n in report.nodes if n.name == "mode_if"]
    assert the_if.provider == "CPUExecutionProvider" and not the_if.scope
    assert "the QNN EP takes no If here" in the_if.reason
    assert "--input-value mode=VALUE" in the_if.fix and "onnpu simplify" in the_if.fix
    inner = [n for n in report.nodes if n.scope.startswith("mode_if/") and n.provider]
    assert inner and all(n.provider == "CPUExecutionProvider" for n in inner)
    assert all("inside" in n.reason and "--input-value mode=VALUE" in n.fix for n in inner)
    assert {n.scope for n in inner} >= {"mode_if/then_branch", "mode_if/else_branch"}
    [relu] = [n for n in report.nodes if n.scope == "mode_if/then_branch/a_batch_if/then_branch"]
    assert relu.op_type == "Relu" and relu.provider == "CPUExecutionProvider"
    assert any(r.startswith("If mode_if keeps") for r in report.recommendations)
    # unnamed body nodes were given unique names, so each is attributed once
    names = [n.name for n in report.nodes]
    assert len(names) == len(set(names))
    capsys.readouterr()
    assert main(["placement", str(src), "--soc", FLOAT_SOC, "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["inside_control_flow"] == 5 and data["total_nodes"] == 12
    assert {n["scope"] for n in data["nodes"]} >= {"", "mode_if/then_branch", "mode_if/else_branch"}
    assert main(["placement", str(src), "--soc", FLOAT_SOC]) == 0
    text = capsys.readouterr().out
    # the body's nodes share one reason, said once with the nodes it covers
    assert "5 nodes (Conv ×2, Relu ×2, Sigmoid ×1): inside mode_if: the QNN EP takes no node" in text
    assert text.count("inside mode_if:") == 1


@pytest.mark.npu
def test_folded_if_runs_whole_on_the_npu(tmp_path: Path) -> None:
    src = models.save(graph_models.if_on_input(), tmp_path / "if.onnx")
    assert main(["simplify", str(src), "-o", str(tmp_path / "a.onnx"), "--input-value", "mode=1"]) == 0
    report = explain_placement(tmp_path / "a.onnx", get_target("npu", soc=FLOAT_SOC))
    assert report.fully_on_target and not report.summary.inside_control_flow


def test_profile_rows_inside_an_if_carry_their_scope_and_the_if_keeps_its_own_time(tmp_path: Path) -> None:
    src = models.save(graph_models.if_on_input(), tmp_path / "if.onnx")
    # on the CPU: the If's body runs (the input `mode` is random: 0..255, so the else branch)
    result = profile(src, get_target("cpu"), iterations=3, out_dir=tmp_path / "p")
    inside = [r for r in result.rows if r.scope]
    assert inside and all(r.scope.startswith("mode_if/") for r in inside)
    [the_if] = [r for r in result.rows if r.op_type == "If"]
    assert any("mode_if" in n and "rows inside its bodies" in n for n in result.notes)
    assert the_if.time_us >= 0
    assert abs(sum(r.share for r in result.rows) - 1) < 1e-6


def test_an_if_on_computed_data_is_not_given_an_input_value_fix() -> None:
    """A wake-word model's If runs its second stage when a score computed from the [1, 16, 96] features passes a
    threshold: no constant can stand for the features, so the fix is to split the model at the If, never
    `--input-value x=VALUE` (which cannot fill the input). A scalar input that decides an If still gets it."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from onnpu.model.graphs import walk
    from onnpu.model.simplify import condition_hint
    from onnpu.tasks.explain_placement import _control_flow_fix

    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node(op, ["x"], [f"{name}_y"])], name, [],
                                 [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [1, 16, 96])])

    def model(condition_from: str) -> onnx.ModelProto:
        nodes = [helper.make_node("ReduceMean", ["x"], ["score"], keepdims=0),
                 helper.make_node("Greater", ["score", condition_from], ["go"]),
                 helper.make_node("If", ["go"], ["y"], then_branch=branch("then", "Relu"),
                                  else_branch=branch("else", "Neg"), name="stage_two")]
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 96])]
        inits = []
        if condition_from == "threshold":
            inputs.append(helper.make_tensor_value_info("threshold", TensorProto.FLOAT, []))
        else:
            inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "limit"))
        graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                     [1, 16, 96])], inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    computed = model("limit")
    [the_if] = [g for g in walk(computed.graph) if g.node.op_type == "If"]
    fix = _control_flow_fix(computed, the_if, "wake.onnx")
    assert "--input-value" not in fix and "split it at the If" in fix and "from the values of x" in fix
    assert condition_hint(computed) == ""
    given = model("threshold")
    [the_if] = [g for g in walk(given.graph) if g.node.op_type == "If"]
    fix = _control_flow_fix(given, the_if, "wake.onnx")
    assert "--input-value threshold=VALUE" in fix and "--input-value x=" not in fix
    assert "--input-value threshold=VALUE" in condition_hint(given)


def test_a_loop_that_would_not_end_is_refused_before_it_runs(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A constant trip count of 10^15 and a condition handed back unchanged: refused when the file is read (run,
    simplify and quantize hung on it); a while loop — the largest trip count torch writes, its condition computed
    in the body — runs."""
    forever = tmp_path / "forever.onnx"
    onnx.save(graph_models.counting_loop(10**15, cond_in_body=False), str(forever))
    assert main(["run", str(forever), "--target", "cpu"]) == 1
    assert "a constant trip count of 1,000,000,000,000,000 and a condition that never changes" in \
        capsys.readouterr().err
    loop = tmp_path / "while.onnx"
    onnx.save(graph_models.counting_loop(2**63 - 1, cond_in_body=True), str(loop))
    np.save(tmp_path / "x.npy", np.zeros(2, np.float32))
    assert main(["run", str(loop), "--target", "cpu", "--input", f"x={tmp_path / 'x.npy'}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["y"]["max"] == 5.0
