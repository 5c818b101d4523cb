"""Constants an integer grid holds exactly are quantized on it: a DFL-style weight of the integers 0..15 stays
0..15 (min/max int8 made 1 into 0.945), anchor centres k + 0.5 and strides stay what they are; constants that are
no grid keep min/max; a bias is left to the quantizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.exact_grids import exact_grid_overrides, exact_step
from onnpu.quantization.recipe import quantize_qdq_model
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import get_target


def test_exact_steps() -> None:
    """The grid and zero point, for the signed weight type (symmetric) and the unsigned activation types."""
    assert exact_step(np.arange(16, dtype=np.float32), -127, 127) == (1.0, 0)
    assert exact_step(np.arange(40, dtype=np.float32) + 0.5, 0, 255) == (0.5, 0)
    assert exact_step(np.array([8.0, 16.0, 32.0]), 0, 255) == (8.0, 0)
    assert exact_step(np.array([-1.0, 0.5]), 0, 255) == (0.5, 2)  # -1 = (0 - 2) · 0.5
    assert exact_step(np.arange(300, dtype=np.float32), 0, 255) is None  # more steps than the type has
    assert exact_step(np.arange(300, dtype=np.float32), 0, 65535) == (1.0, 0)
    assert exact_step(np.array([0.1, 0.25]), 0, 255) is None  # 0.25 is no multiple of 0.1
    assert exact_step(np.random.default_rng(0).normal(0, 1, 64), -127, 127) is None
    assert exact_step(np.zeros(4), 0, 255) is None
    assert exact_step(np.array([np.inf, 1.0]), 0, 255) is None


def _decode_like(anchors: int = 40) -> onnx.ModelProto:
    """Conv (learned weights) → Conv with the weights 0..15 (a DFL expectation) → × stride → + anchor centres;
    biases as a head has them."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (16, 3, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, 16).astype(np.float32), "b"),
             numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(1, 16, 1, 1), "dfl"),
             numpy_helper.from_array(np.repeat(np.array([8.0, 16.0, 32.0, 32.0], np.float32), 16)
                                     .reshape(1, 1, 8, 8), "stride"),  # min/max over [0, 32]: 8 is 63.75 steps
             numpy_helper.from_array((np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8) % anchors) + 0.5, "anchors")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["p"], axis=1),
             helper.make_node("Conv", ["p", "dfl"], ["distance"]),
             helper.make_node("Mul", ["distance", "stride"], ["scaled"]),
             helper.make_node("Add", ["scaled", "anchors"], ["y"])]
    graph = helper.make_graph(nodes, "decode", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _dequantized(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Each quantized constant as the model computes it: (q - zero point) · scale, by the float name."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            q, scale = inits[node.input[0]].astype(np.float64), inits[node.input[1]].astype(np.float64)
            zero = inits[node.input[2]].astype(np.float64) if len(node.input) > 2 else 0.0
            if q.ndim and np.ndim(scale) == 1 and scale.size == q.shape[0] and scale.size > 1:
                scale = scale.reshape((-1,) + (1,) * (q.ndim - 1))
                zero = np.reshape(zero, scale.shape)
            out[node.input[0].removesuffix("_quantized")] = (q - zero) * scale
    return out


def test_grid_constants_are_quantized_exactly_and_learned_ones_keep_min_max() -> None:
    model = _decode_like()
    grids = exact_grid_overrides(model, weights="i8", activations="u8")
    assert set(grids) == {"dfl", "stride", "anchors"}, grids  # not the learned weights, not the bias
    assert exact_grid_overrides(_decode_like(anchors=8), weights="i8", activations="u8").keys() == {"dfl", "stride"}
    # anchors 0.5 … 7.5: min/max over [0, 7.5] already holds them (0.5 is 17 steps): left as the quantizer makes it
    calibration = [{"x": np.random.default_rng(k).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)} for k in range(8)]
    for activations in ("u8", "u16"):
        quant = quantize_qdq_model(model, calibration, QuantizeConfig(activations, rounding="nearest",
                                                                      range_search=False))
        values = _dequantized(quant)
        floats = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for name in ("dfl", "stride", "anchors"):
            np.testing.assert_array_equal(values[name], floats[name], err_msg=f"{name} ({activations})")
        assert not np.array_equal(values["w"], floats["w"])  # learned weights: rounded on their min/max grid


def _constant_types(model: onnx.ModelProto) -> dict[str, int]:
    """The element type each constant is quantized to, by its float name."""
    inits = {t.name: t for t in model.graph.initializer}
    return {node.input[0].removesuffix("_quantized"): inits[node.input[0]].data_type for node in model.graph.node
            if node.op_type == "DequantizeLinear" and node.input[0] in inits}


@pytest.mark.npu
def test_a_decode_constant_beside_a_16_bit_activation_is_16_bit_and_qcs6490_builds_it(tmp_path: Path) -> None:
    """Raising a decode's activations to 16 bits (a detector stage, mixed precision) raises the constants its Add and
    Mul meet with them: HTP v68 builds no elementwise op of a uint8 constant and a uint16 activation ("Failed to
    add node"), and builds it of two uint16 inputs; the grids stay exact."""
    model = _decode_like()
    calibration = [{"x": np.random.default_rng(k).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)} for k in range(8)]
    quant = quantize_qdq_model(model, calibration, QuantizeConfig(rounding="nearest", range_search=False),
                               sixteen_bit=["distance", "scaled", "y"])
    types = _constant_types(quant)
    assert types["stride"] == types["anchors"] == TensorProto.UINT16 and types["dfl"] == TensorProto.INT8
    floats = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for name in ("stride", "anchors"):
        np.testing.assert_array_equal(_dequantized(quant)[name], floats[name])
    path = tmp_path / "mixed.onnx"
    onnx.save(quant, str(path))
    loaded = create_session(path, get_target("npu", soc="qcs6490", allow_fallback=False))
    assert loaded.placement is not None and loaded.placement.fully_on_target
