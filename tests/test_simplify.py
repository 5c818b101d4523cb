"""Simplify: constant folding, shape computations, dead nodes, resolved Ifs — and outputs proven unchanged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

import graph_models
import models
from onnpu import ShapeError, SimplifyError, jsonio
from onnpu.cli import main
from onnpu.model.graphs import condition_inputs, count_nodes, integer_input_ranges, walk, with_unique_names
from onnpu.model.inspection import tensor_infos
from onnpu.model.simplify import bake_inputs, simplify_model
from onnpu.runtime.feeds import random_inputs
from onnpu.runtime.session import exact_cpu_session
from onnpu.tasks.simplify import simplify


def _ops(path: Path) -> Counter[str]:
    return Counter(g.node.op_type for g in walk(onnx.load(str(path)).graph))


def test_shape_computation_constants_identity_casts_and_dead_nodes_go(tmp_path: Path) -> None:
    src = models.save(graph_models.shape_head(), tmp_path / "head.onnx")
    result = simplify(src, tmp_path / "simple.onnx", dims={"N": 1})
    ops = _ops(tmp_path / "simple.onnx")
    for gone in ("Shape", "Gather", "Concat", "Constant", "Identity", "Cast", "Unsqueeze"):
        assert ops[gone] == 0, (gone, ops)
    assert ops["Relu"] == 0  # the dead node
    assert set(ops) <= {"Conv", "Reshape", "Sigmoid"}
    assert result.stats.nodes_before == 12 and result.stats.nodes_after == sum(ops.values())
    assert result.stats.removed["Shape"] == 1 and result.shape_changes
    [check] = result.checks
    assert check.name == "y" and check.ok and check.max_abs_error <= 1e-6 and check.max_abs_reference > 0
    assert result.inputs_checked == 2 and result.stats.library.startswith("onnxslim ")


def test_if_on_an_input_value_is_replaced_by_its_branch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(graph_models.if_on_input(), tmp_path / "if.onnx")
    assert count_nodes(onnx.load(str(src))) == (2, 10)
    # without the value nothing can be folded: the If stays (and says how to fold it)
    kept = simplify(src, tmp_path / "kept.onnx")
    assert kept.stats.control_flow_after >= 1 and any("--input-value" in n or "If" in n for n in kept.notes)
    for mode, last in ((1, "Sigmoid"), (0, "Relu")):
        out = tmp_path / f"mode{mode}.onnx"
        assert main(["simplify", str(src), "-o", str(out), "--input-value", f"mode={mode}", "--json"]) == 0
        data = jsonio.loads(capsys.readouterr().out)
        assert data["control_flow_before"] == 2 and data["control_flow_after"] == 0
        assert data["inside_control_flow_after"] == 0 and data["max_abs_error"] <= 1e-6
        folded = onnx.load(str(out))
        assert [i.name for i in folded.graph.input] == ["x"]
        assert [n.op_type for n in folded.graph.node][-1] == last
        # the branch taken is the one the original takes for that value
        x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
        ref = exact_cpu_session(src).run({"x": x, "mode": np.array(mode, np.int64)})[0]
        got = exact_cpu_session(out).run({"x": x})[0]
        assert np.max(np.abs(ref - got)) <= 1e-6


def test_if_condition_inputs_are_found_through_nested_scopes() -> None:
    model = graph_models.if_on_input()
    ifs = [g for g in walk(model.graph) if g.node.op_type == "If"]
    assert [g.node.name for g in ifs] == ["mode_if", "a_batch_if"]
    assert condition_inputs(model, ifs[0]) == (["mode"], False)
    assert condition_inputs(model, ifs[1]) == ([], True)  # the batch size: constant once shapes are fixed
    assert ifs[1].location == "mode_if/then_branch" and ifs[1].parent == "mode_if"


def test_unnamed_nodes_get_unique_names_in_every_graph() -> None:
    model = with_unique_names(graph_models.if_on_input())
    names = [g.node.name for g in walk(model.graph)]
    assert len(names) == len(set(names)) and "" not in names
    assert "mode_if" in names and any(n.startswith("<Conv #") for n in names)


def test_a_name_onnxslim_reuses_is_made_unique() -> None:
    """OnnxSlim names a node of the encoder after the tensor 'context', which a MatMul is named already: ONNX
    Runtime would refuse the simplified model ("two nodes with same node name")."""
    import test_transformer

    model, _ = simplify_model(test_transformer._encoder())
    names = Counter(n.name for n in model.graph.node)
    assert names["context"] == 1 and all(count == 1 for name, count in names.items() if name)
    assert any(name.startswith("<Reshape #") for name in names)  # the second 'context'
    exact_cpu_session(model)


def test_bad_input_values_are_refused(tmp_path: Path) -> None:
    src = models.save(graph_models.if_on_input(), tmp_path / "if.onnx")
    with pytest.raises(ShapeError, match="no input named 'rate'"):
        simplify(src, tmp_path / "o.onnx", values={"rate": [1]})
    with pytest.raises(ShapeError, match=r"is int64, the value 1\.5 is not an integer"):
        bake_inputs(onnx.load(str(src)), {"mode": 1.5})
    with pytest.raises(ShapeError, match="is a scalar; 2 values were given"):
        bake_inputs(onnx.load(str(src)), {"mode": [1, 2]})
    assert main(["simplify", str(src), "-o", str(tmp_path / "o.onnx"), "--input-value", "mode"]) == 1
    assert not (tmp_path / "o.onnx").exists()


def test_a_simplification_that_changes_outputs_is_refused_and_not_written(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard itself: a simplifier that altered a weight must be caught by running both models."""
    import onnpu.tasks.simplify as task

    real = task.simplify_model

    def altered(model: onnx.ModelProto, **kwargs):  # type: ignore[no-untyped-def]
        slim, stats = real(model, **kwargs)
        weight = slim.graph.initializer[0]
        values = onnx.numpy_helper.to_array(weight) * 1.01
        weight.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), weight.name))
        return slim, stats

    monkeypatch.setattr(task, "simplify_model", altered)
    src = models.save(graph_models.shape_head(), tmp_path / "head.onnx")
    with pytest.raises(SimplifyError, match="changed the outputs beyond float rounding: y: max"):
        simplify(src, tmp_path / "simple.onnx", dims={"N": 1})
    assert not (tmp_path / "simple.onnx").exists()


def test_integer_inputs_get_ids_within_the_tables_they_index(tmp_path: Path) -> None:
    model = graph_models.embedding(vocab=50, types=2)
    assert integer_input_ranges(model) == {"ids": (0, 50), "types": (0, 2)}
    infos, _ = tensor_infos(model)
    feeds = random_inputs(infos, 0, ranges=integer_input_ranges(model))
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].min() >= 0 and feeds["ids"].max() < 50
    assert set(np.unique(feeds["types"])) <= {0, 1}
    # and the verification runs on them (0..255 would index past the tables)
    result = simplify(models.save(model, tmp_path / "emb.onnx"), tmp_path / "emb.simple.onnx")
    assert all(c.ok for c in result.checks)


def test_only_lossless_cast_round_trips_are_dropped() -> None:
    from onnx import TensorProto, helper

    from onnpu.model.simplify import drop_cast_round_trips

    def chain(via: int) -> onnx.ModelProto:
        nodes = [helper.make_node("Cast", ["x"], ["a"], to=via), helper.make_node("Cast", ["a"], ["y"], to=1)]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    assert drop_cast_round_trips(chain(TensorProto.DOUBLE))[1] == 1
    for lossy in (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.INT32):
        assert drop_cast_round_trips(chain(lossy))[1] == 0, lossy


def test_the_summary_says_what_came_as_well_as_what_went() -> None:
    """A fusion keeps the count (MatMul + Add → Gemm): the summary names the ops that came, not only the ones
    that went, largest changes first."""
    from onnpu.model.simplify import SimplifyStats

    stats = SimplifyStats(42, 36, 0, 0, 0, 0, removed={"Add": 6, "MatMul": 6}, added={"Gemm": 6})
    assert stats.describe() == "42 → 36 nodes; Add −6, Gemm +6, MatMul −6"


def test_an_output_empty_on_random_inputs_is_said_not_compared(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A detector ending in NMS keeps no box of random inputs: its check compares nothing, and says so rather than
    'max |diff| 0'."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceMax", ["x"], ["peak"], keepdims=0),
             helper.make_node("Greater", ["x", "limit"], ["over"]),
             helper.make_node("NonZero", ["over"], ["where"])]  # nothing is over 10: [4, 0]
    graph = helper.make_graph(nodes, "empty", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("where", TensorProto.INT64, [4, None]),
                               helper.make_tensor_value_info("peak", TensorProto.FLOAT, [])],
                              [helper.make_tensor("limit", TensorProto.FLOAT, [], [10.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "empty.onnx"
    onnx.save(model, str(path))
    assert main(["simplify", str(path), "-o", str(tmp_path / "out.onnx")]) == 0
    said = capsys.readouterr().out
    assert "where: empty on the 2 random inputs: nothing to compare" in said
    assert "peak: max |simplified − original|" in said
