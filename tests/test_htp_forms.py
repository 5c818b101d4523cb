"""Ops rewritten into the form the QNN EP takes (tf2onnx's Gelu, ReduceSumSquare, a OneHot reading dequantized
values): the same numbers on the CPU before and after, and the op the EP refuses gone."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from onnpu.quantization.gelu import erf_scale_as_division
from onnpu.quantization.htp_ops import onehot_values_as_constants, reduce_sum_square_as_sum


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(v) for v in session.run(None, feeds)]


def _graph(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], x_type: int = TensorProto.FLOAT,
           x_shape: list[int] | None = None, opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", x_type, x_shape or [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", "cols"])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_tf2onnx_gelu_divides_by_sqrt2() -> None:
    """0.5·x · (1 + erf(x · 0.7071)): the Mul by 1/√2 becomes a Div by √2, ORT's Gelu fusion pattern."""
    half, root2, one = (numpy_helper.from_array(np.array(v, np.float32), n)
                        for v, n in ((0.5, "half"), (0.70710677, "r"), (1.0, "one")))
    nodes = [helper.make_node("Mul", ["half", "x"], ["h"]), helper.make_node("Mul", ["x", "r"], ["t"]),
             helper.make_node("Erf", ["t"], ["e"]), helper.make_node("Add", ["one", "e"], ["a"]),
             helper.make_node("Mul", ["h", "a"], ["y"])]
    model = _graph(nodes, [half, root2, one])
    x = np.random.default_rng(0).normal(0, 2, (2, 8)).astype(np.float32)
    before = _run(model, {"x": x})[0]
    assert len(erf_scale_as_division(model)) == 1
    assert [n.op_type for n in model.graph.node].count("Div") == 1
    assert np.allclose(_run(model, {"x": x})[0], before, atol=1e-6)


def test_reduce_sum_square_becomes_a_sum_of_squares() -> None:
    for opset in (11, 13, 18):
        if opset >= 18:
            nodes = [helper.make_node("ReduceSumSquare", ["x", "axes"], ["y"], keepdims=1)]
            inits = [numpy_helper.from_array(np.array([1], np.int64), "axes")]
        else:
            nodes = [helper.make_node("ReduceSumSquare", ["x"], ["y"], axes=[1], keepdims=1)]
            inits = []
        model = _graph(nodes, inits, opset=opset)
        x = np.random.default_rng(opset).normal(0, 1, (2, 8)).astype(np.float32)
        before = _run(model, {"x": x})[0]
        assert len(reduce_sum_square_as_sum(model)) == 1
        onnx.checker.check_model(model)
        assert "ReduceSumSquare" not in {n.op_type for n in model.graph.node}
        assert np.allclose(_run(model, {"x": x})[0], before, rtol=1e-6)


def test_onehot_reads_its_dequantized_values_as_a_constant() -> None:
    inits = [numpy_helper.from_array(np.array([5], np.int64), "depth"),
             numpy_helper.from_array(np.array([0, 255], np.uint8), "vq"),
             numpy_helper.from_array(np.array(1 / 255, np.float32), "vs"),
             numpy_helper.from_array(np.array(0, np.uint8), "vz")]
    nodes = [helper.make_node("DequantizeLinear", ["vq", "vs", "vz"], ["values"]),
             helper.make_node("OneHot", ["x", "depth", "values"], ["y"], axis=-1)]
    model = _graph(nodes, inits, TensorProto.INT64, [3])
    x = np.array([0, 3, 4], np.int64)
    before = _run(model, {"x": x})[0]
    assert onehot_values_as_constants(model) == ["y"]
    onehot = next(n for n in model.graph.node if n.op_type == "OneHot")
    assert onehot.input[2] in {i.name for i in model.graph.initializer}
    assert np.array_equal(_run(model, {"x": x})[0], before)
