"""BatchNormalization with computed statistics (tf2onnx's Keras LayerNormalization) rewritten for the HTP as the
elementwise ops it stands for: the same outputs in float, no BatchNormalization left."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from onnpu.quantization.batchnorm import expand_dynamic_batchnorms


def _model(opset: int) -> onnx.ModelProto:
    """x [2, 4, 3, 5]: each channel normalised with its own mean and variance over the batch and space, computed
    in the graph (Reduce*), then a constant scale and bias."""
    axes = [0, 2, 3]
    if opset >= 18:
        reduce_mean = [helper.make_node("ReduceMean", ["x", "axes"], ["mean4"], keepdims=1),
                       helper.make_node("ReduceMean", ["sq", "axes"], ["var4"], keepdims=1)]
        extra = [numpy_helper.from_array(np.array(axes, np.int64), "axes")]
    else:
        reduce_mean = [helper.make_node("ReduceMean", ["x"], ["mean4"], axes=axes, keepdims=1),
                       helper.make_node("ReduceMean", ["sq"], ["var4"], axes=axes, keepdims=1)]
        extra = []
    nodes = [reduce_mean[0],
             helper.make_node("Sub", ["x", "mean4"], ["d"]), helper.make_node("Mul", ["d", "d"], ["sq"]),
             reduce_mean[1],
             helper.make_node("Reshape", ["mean4", "flat"], ["mean"]),
             helper.make_node("Reshape", ["var4", "flat"], ["var"]),
             helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], name="bn",
                              epsilon=1e-3)]
    inits = [numpy_helper.from_array(np.array([-1], np.int64), "flat"),
             numpy_helper.from_array(np.array([1.5, 0.5, 2.0, 1.0], np.float32), "scale"),
             numpy_helper.from_array(np.array([0.1, -0.2, 0.0, 0.3], np.float32), "bias"), *extra]
    graph = helper.make_graph(nodes, "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 3, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 3, 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def test_a_batchnorm_with_computed_statistics_becomes_elementwise_ops() -> None:
    x = np.random.default_rng(0).normal(3, 2, (2, 4, 3, 5)).astype(np.float32)
    for opset in (13, 18):
        model = _model(opset)
        before = _run(model, x)
        assert expand_dynamic_batchnorms(model) == ["bn"]
        onnx.checker.check_model(model, full_check=True)
        assert "BatchNormalization" not in {n.op_type for n in model.graph.node}
        assert np.allclose(_run(model, x), before, atol=1e-5)


def test_a_batchnorm_with_constant_statistics_is_left_alone() -> None:
    model = _model(13)
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    model.graph.initializer.extend([numpy_helper.from_array(np.zeros(4, np.float32), "m0"),
                                    numpy_helper.from_array(np.ones(4, np.float32), "v0")])
    bn.input[3], bn.input[4] = "m0", "v0"
    assert expand_dynamic_batchnorms(model) == []
