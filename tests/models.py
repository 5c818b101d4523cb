"""Tiny scenario models built in code with onnx.helper, saved where a test asks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnpu.tasks.doctor import selftest_model

OPSET = 21


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           inits: list[onnx.TensorProto], name: str, opset: int = OPSET, ir_version: int = 10) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnpu-tests")
    model.ir_version = ir_version
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def float_conv(batch: int | str = 1, size: int = 16, hidden: int = 8) -> onnx.ModelProto:
    """Float Conv → Relu → Conv, input ``x`` [batch, 3, size, size]."""
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (hidden, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (4, hidden, 1, 1)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, size, size])], [w1, w2],
                  "float_conv")


def qdq_conv() -> onnx.ModelProto:
    """QDQ conv layer (uint8 activations, int8 weights); input scale 1/255, zero point 0; output 0.02 / 0."""
    return selftest_model()


def unsupported_op() -> onnx.ModelProto:
    """Float Conv followed by ``Unique``, which the QNN EP refuses."""
    rng = np.random.default_rng(2)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (2, 3, 3, 3)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Reshape", ["c", "flat"], ["f"], name="flatten"),
             helper.make_node("Unique", ["f"], ["y"], name="unique", sorted=1)]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])], [w, shape], "unsupported_op")


CLASSIFIER_IN = (0.025, 100)   # uint8 input scale, zero point (deliberately not 1/255, 0)
CLASSIFIER_OUT = (0.05, 128)   # uint8 output scale, zero point


def classifier(classes: int = 10, size: int = 32, uint8_io: bool = False, batch: int | str = 1) -> onnx.ModelProto:
    """Conv → Relu → GlobalAveragePool → Flatten → Gemm classifier producing logits.

    With ``uint8_io`` it is the twin that Qualcomm AI Hub's w8a8 models resemble: uint8 input consumed by
    a DequantizeLinear, uint8 logits produced by a QuantizeLinear, same float weights in between.
    """
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.normal(0, 0.4, (16, 3, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.normal(0, 0.6, (classes, 16)).astype(np.float32), "fc")
    fcb = numpy_helper.from_array(rng.normal(0, 0.1, (classes,)).astype(np.float32), "fcb")
    inits = [w, fc, fcb]
    x, y = "x", "logits"
    nodes = []
    if uint8_io:
        s_in, z_in = CLASSIFIER_IN
        s_out, z_out = CLASSIFIER_OUT
        inits += [helper.make_tensor("s_in", TensorProto.FLOAT, [], [s_in]),
                  helper.make_tensor("z_in", TensorProto.UINT8, [], [z_in]),
                  helper.make_tensor("s_out", TensorProto.FLOAT, [], [s_out]),
                  helper.make_tensor("z_out", TensorProto.UINT8, [], [z_out])]
        nodes.append(helper.make_node("DequantizeLinear", ["image_u8", "s_in", "z_in"], ["x"], name="input_dq"))
        y = "logits_f"
    nodes += [helper.make_node("Conv", [x, "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
              helper.make_node("Relu", ["c"], ["r"], name="relu"),
              helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
              helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
              helper.make_node("Gemm", ["f", "fc", "fcb"], [y], transB=1, name="fc")]
    if uint8_io:
        nodes.append(helper.make_node("QuantizeLinear", [y, "s_out", "z_out"], ["logits_u8"], name="output_q"))
        inp = helper.make_tensor_value_info("image_u8", TensorProto.UINT8, [batch, 3, size, size])
        out = helper.make_tensor_value_info("logits_u8", TensorProto.UINT8, [batch, classes])
    else:
        inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])
        out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])
    return _model(nodes, [inp], [out], inits, "classifier_u8io" if uint8_io else "classifier")


def float_only_op() -> onnx.ModelProto:
    """Conv → Sigmoid → Asin: the HTP cannot build a float Asin ("Failed to add node"), a quantized one it runs."""
    rng = np.random.default_rng(4)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Sigmoid", ["c"], ["s"], name="sigmoid"),
             helper.make_node("Asin", ["s"], ["y"], name="asin")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w], "float_only_op")


def never_on_htp() -> onnx.ModelProto:
    """Conv → Erf: the QNN EP has no Erf at all, float or quantized."""
    rng = np.random.default_rng(5)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Erf", ["c"], ["y"], name="erf")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w], "never_on_htp")


def two_dynamic_dims() -> onnx.ModelProto:
    """float_conv with batch ``N`` and spatial ``H`` x ``W`` dynamic."""
    model = float_conv(batch="N")
    for value in (model.graph.input[0], model.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "H", "W"
    return model


def layer_zoo() -> onnx.ModelProto:
    """Every layer kind optimised rounding handles: Conv, grouped Conv, depthwise Conv, ConvTranspose,
    MatMul with constant weights, Gemm. Input [1, 8, 12, 12]."""
    rng = np.random.default_rng(6)

    def init(name: str, shape: tuple[int, ...], std: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, std, shape).astype(np.float32), name)

    inits = [init("w_conv", (16, 8, 3, 3), 0.2), init("b_conv", (16,), 0.1), init("w_group", (16, 4, 3, 3)),
             init("w_dw", (16, 1, 3, 3)), init("b_dw", (16,), 0.1), init("w_tr", (16, 8, 2, 2)),
             init("w_mm", (24, 12)), init("w_fc", (10, 8 * 24 * 12), 0.02), init("b_fc", (10,), 0.1),
             numpy_helper.from_array(np.array([1, -1], np.int64), "flat")]
    nodes = [helper.make_node("Conv", ["x", "w_conv", "b_conv"], ["c1"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w_group"], ["c2"], pads=[1, 1, 1, 1], group=4, name="grouped"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w_dw", "b_dw"], ["c3"], pads=[1, 1, 1, 1], group=16, name="depthwise"),
             helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),
             helper.make_node("ConvTranspose", ["r3", "w_tr"], ["c4"], strides=[2, 2], name="upsample"),
             helper.make_node("MatMul", ["c4", "w_mm"], ["m"], name="matmul"),
             helper.make_node("Reshape", ["m", "flat"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "w_fc", "b_fc"], ["y"], transB=1, name="fc")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 12, 12])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits, "layer_zoo")


def single_conv() -> onnx.ModelProto:
    """One float Conv + Relu layer, input [1, 3, 16, 16]."""
    rng = np.random.default_rng(8)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(0, 0.1, (8,)).astype(np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], [w, b], "single_conv")


def aihub_style_classifier(folder: Path) -> Path:
    """A w8a8 classifier shaped like Qualcomm AI Hub's: uint8 input and logits, QDQ Conv, then
    GlobalAveragePool → Flatten → QuantizeLinear with no Q/DQ right after the pool (the pool is outside a
    complete QDQ group). Built by quantizing ``classifier()`` (nearest rounding, random calibration) and
    removing the Q/DQ pair after the pool."""
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.pipeline import quantize

    float_path = save(classifier(), folder / "classifier.onnx")
    qdq = folder / "classifier.qdq.onnx"
    quantize(float_path, qdq, "random", config=QuantizeConfig(rounding="nearest"), io="uint8", force=True)
    model = onnx.load(str(qdq))
    pool = next(n for n in model.graph.node if n.op_type == "GlobalAveragePool")
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == pool.output[0])
    dq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0])
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name == dq.output[0]:
                node.input[i] = pool.output[0]
    model.graph.node.remove(q)
    model.graph.node.remove(dq)
    onnx.checker.check_model(model)
    return save(model, folder / "aihub_classifier.onnx")


def qdq_add_int8_constant() -> onnx.ModelProto:
    """QDQ Add of an activation (uint8) and a constant with int8 weights: HTP v68 leaves the Add on the CPU, v73
    runs it (measured on the emulator)."""
    rng = np.random.default_rng(9)
    inits = [helper.make_tensor("s_x", TensorProto.FLOAT, [], [1 / 255]),
             helper.make_tensor("z_x", TensorProto.UINT8, [], [0]),
             numpy_helper.from_array(rng.integers(-100, 100, (1, 3, 1, 1)).astype(np.int8), "c_q"),
             helper.make_tensor("s_c", TensorProto.FLOAT, [], [0.01]),
             helper.make_tensor("z_c", TensorProto.INT8, [], [0]),
             helper.make_tensor("s_y", TensorProto.FLOAT, [], [0.01]),
             helper.make_tensor("z_y", TensorProto.UINT8, [], [100])]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"], name="x_q"),
             helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"], name="x_dq"),
             helper.make_node("DequantizeLinear", ["c_q", "s_c", "z_c"], ["c"], name="c_dq"),
             helper.make_node("Add", ["xd", "c"], ["a"], name="add"),
             helper.make_node("QuantizeLinear", ["a", "s_y", "z_y"], ["aq"], name="a_q"),
             helper.make_node("DequantizeLinear", ["aq", "s_y", "z_y"], ["y"], name="a_dq")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])], inits, "qdq_add_int8_constant")
