"""Cross-layer equalisation: exact in float (ReLU6 written as Relu + a per-channel Min, never replaced by ReLU),
weight ranges evened out across channels, and — with per-tensor weights, where it is meant to help — a measured
gain after quantization. Whether it helps onnpu's default (per-channel weights) is the ablation's business
(BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.equalization import equalize
from onnpu.quantization.pipeline import quantize


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _spread(model: onnx.ModelProto) -> float:
    """The worst ratio, over convolutions, of the widest output channel's weight range to the median one's."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ratios = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]
            r = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
            ratios.append(float(r.max() / np.median(r)))
    return max(ratios)


def _mobile_block(seed: int = 0) -> onnx.ModelProto:
    """Conv → ReLU6 (Clip) → depthwise Conv → ReLU → Conv, channels of very different weight ranges, as trained
    mobile networks have after batch-norm folding."""
    rng = np.random.default_rng(seed)
    c = 16
    spread = np.geomspace(0.02, 4.0, c).astype(np.float32)
    inits = [numpy_helper.from_array((rng.normal(0, 1, (c, 3, 3, 3)) * spread[:, None, None, None])
                                     .astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.1, c).astype(np.float32), "b1"),
             numpy_helper.from_array((rng.normal(0, 1, (c, 1, 3, 3)) / spread[:, None, None, None])
                                     .astype(np.float32), "w2"),
             numpy_helper.from_array(rng.normal(0, 0.3, (8, c, 1, 1)).astype(np.float32), "w3"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["a", "lo", "hi"], ["a6"]),
             helper.make_node("Conv", ["a6", "w2"], ["d"], group=c, pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["d"], ["dr"]),
             helper.make_node("Conv", ["dr", "w3"], ["y"])]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_equalisation_is_exact_in_float_and_evens_out_weight_ranges() -> None:
    model = _mobile_block()
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 16, 16)).astype(np.float32)
    before, spread = _run(model, x), _spread(model)
    report = equalize(model)
    assert len(report.pairs) == 2 and report.clips == 1
    ops = [n.op_type for n in model.graph.node]
    assert "Clip" not in ops and ops.count("Min") == 1  # the bound per channel, not a ReLU in place of ReLU6
    np.testing.assert_allclose(_run(model, x), before, rtol=1e-4, atol=1e-4 * float(np.abs(before).max()))
    assert _spread(model) < spread / 5, (spread, _spread(model))


def test_the_built_in_model_is_unchanged_in_float(zoo_model) -> None:  # type: ignore[no-untyped-def]
    model = onnx.load(str(zoo_model.float_model))
    x = np.random.default_rng(0).normal(0, 1, (1, 3, 224, 224)).astype(np.float32)
    before = _run(model, x)
    report = equalize(model)
    assert len(report.pairs) > 20
    assert np.abs(_run(model, x) - before).max() <= 1e-4 * np.abs(before).max()


def test_equalisation_helps_per_tensor_weights(tmp_path: Path) -> None:
    """With one scale per weight tensor, a channel 200x narrower than the widest gets a few steps; equalised, every
    channel uses the grid: the quantized block is measurably closer to float."""
    src = tmp_path / "block.onnx"
    onnx.save(_mobile_block(), str(src))
    rng = np.random.default_rng(2)
    np.save(tmp_path / "calib.npy", rng.normal(0, 1, (40, 1, 3, 16, 16)).astype(np.float32))
    sqnr = {}
    for equalize_first in (False, True):
        config = QuantizeConfig("u8", per_channel=False, rounding="nearest", range_search=False,
                                equalize=equalize_first)
        result = quantize(src, tmp_path / f"q{equalize_first}.onnx", tmp_path / "calib.npy", config=config)
        sqnr[equalize_first] = result.quality[0].sqnr_db
        if equalize_first:
            assert any(n.startswith("cross-layer equalisation: 2 Conv pairs") for n in result.notes), result.notes
    assert sqnr[True] > sqnr[False] + 3, sqnr


def test_a_rewritten_relu6_keeps_one_grid_for_the_relu_its_bounds_and_the_min(tmp_path: Path) -> None:
    """Relu + per-channel Min quantized as ReLU6 was: the Relu's output (fused into its Conv on the HTP), the
    bounds and the Min's output on one grid [0, R], R the Min output's calibrated maximum; bounds above R capped
    there. Without it the Relu took the Conv's whole positive range and the bounds a coarser grid of their own."""
    from onnpu.quantization.recipe import quantize_qdq_model

    model = _mobile_block()
    equalize(model)
    calibration = [{"x": np.random.default_rng(i).normal(0, 3, (1, 3, 16, 16)).astype(np.float32)}
                   for i in range(12)]
    quant = quantize_qdq_model(model, calibration, QuantizeConfig("u8", range_search=False, rounding="nearest"))
    inits = {t.name: numpy_helper.to_array(t) for t in quant.graph.initializer}
    relu = next(n for n in model.graph.node if n.op_type == "Relu" and n.name.endswith("_onnpu_cle_relu"))
    mini = next(n for n in model.graph.node if n.op_type == "Min")
    relu_scale, min_scale = float(inits[f"{relu.output[0]}_scale"]), float(inits[f"{mini.output[0]}_scale"])
    assert relu_scale == min_scale > 0, (relu_scale, min_scale)
    bound_q = next(n for n in quant.graph.node if n.op_type == "DequantizeLinear" and n.output[0].startswith(
        mini.input[1]))
    bound = (inits[bound_q.input[0]].astype(np.float64) - inits[bound_q.input[2]]) * inits[bound_q.input[1]]
    assert float(bound.max()) <= relu_scale * 255 * (1 + 1e-3), (bound.max(), relu_scale * 255)
