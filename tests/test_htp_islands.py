"""What HTP v68 (QCS6490) refused of real models, rewritten or quantized so that it takes them: an LSTM unrolled
(QNN failed to finalize it), a MatMul with a constant first operand transposed ("Failed to add fused Matmul
node"), a float state input split by Gathers and a Where of float constants quantized (v68 computes no float) —
each exact in float, and a small recurrent model with all of them prepared fully onto the NPU of QCS6490. Tensors
computed from a mask alone get the range every mask gives; QNN's lighter finalization when its optimiser runs out
of memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnpu import get_target
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.evaluate import run_on_cpu
from onnpu.quantization.htp_ops import constant_first_matmuls
from onnpu.quantization.islands import float_islands, mask_ranges
from onnpu.quantization.lstm import lstm_unrolled
from onnpu.quantization.pipeline import quantize
from onnpu.runtime.targets import FINALIZE_MODE
from onnpu.tasks.prepare import prepare


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(v) for v in session.run(None, feeds)]


def _lstm(steps: int, batch: int, size: int, hidden: int, bias: bool, initial: bool, seed: int) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.normal(size=(1, 4 * hidden, size)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.normal(size=(1, 4 * hidden, hidden)).astype(np.float32), "R"),
             numpy_helper.from_array(rng.normal(size=(1, 8 * hidden)).astype(np.float32), "B")]
    names = ["x", "W", "R", "B" if bias else "", "", "h0" if initial else "", "c0" if initial else ""]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [steps, batch, size])]
    if initial:
        inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, batch, hidden]) for n in ("h0", "c0")]
    graph = helper.make_graph([helper.make_node("LSTM", names, ["y", "y_h", "y_c"], hidden_size=hidden)], "lstm",
                              inputs, [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                                       for n in ("y", "y_h", "y_c")], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("steps,batch,size,hidden,bias,initial", [(1, 1, 8, 5, True, True), (3, 2, 4, 6, False, False),
                                                                  (4, 1, 3, 2, True, False)])
def test_an_lstm_unrolled_gives_the_same_numbers(steps: int, batch: int, size: int, hidden: int, bias: bool,
                                                 initial: bool) -> None:
    model = _lstm(steps, batch, size, hidden, bias, initial, seed=steps)
    rng = np.random.default_rng(7)
    feeds = {"x": rng.normal(size=(steps, batch, size)).astype(np.float32)}
    if initial:
        feeds |= {n: rng.normal(size=(1, batch, hidden)).astype(np.float32) for n in ("h0", "c0")}
    before = _run(model, feeds)
    assert lstm_unrolled(model) == ["y"]
    assert "LSTM" not in {n.op_type for n in model.graph.node}
    assert not ({"W", "R", "B"} if bias else {"W", "R"}) & {t.name for t in model.graph.initializer}
    for a, b in zip(before, _run(model, feeds), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_an_lstm_it_cannot_unroll_exactly_is_left_alone() -> None:
    model = _lstm(2, 1, 3, 2, True, False, seed=1)
    model.graph.node[0].attribute.append(helper.make_attribute("direction", "bidirectional"))
    assert lstm_unrolled(model) == []
    assert [n.op_type for n in model.graph.node] == ["LSTM"]


def test_a_constant_first_matmul_is_transposed_to_the_same_numbers() -> None:
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["w", "x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(1).normal(size=(3, 5, 4)).astype(np.float32)
    before = _run(model, {"x": x})[0]
    assert len(constant_first_matmuls(model)) == 1
    assert [n.op_type for n in model.graph.node] == ["Transpose", "MatMul", "Transpose"]
    np.testing.assert_allclose(_run(model, {"x": x})[0], before, atol=1e-5)


def _recurrent() -> onnx.ModelProto:
    """A voice-activity-style step: frame features projected by a constant-first MatMul, an LSTM whose state comes
    in as one float input split by Gathers, a score from the new hidden state."""
    rng = np.random.default_rng(3)
    hidden, size = 8, 6
    inits = [numpy_helper.from_array(rng.normal(0, 0.4, (4, 4)).astype(np.float32), "proj"),
             numpy_helper.from_array(rng.normal(0, 0.4, (1, 4 * hidden, 4)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.normal(0, 0.4, (1, 4 * hidden, hidden)).astype(np.float32), "R"),
             numpy_helper.from_array(rng.normal(0, 0.1, (1, 8 * hidden)).astype(np.float32), "B"),
             numpy_helper.from_array(rng.normal(0, 0.4, (hidden, 1)).astype(np.float32), "head"),
             numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array(1, np.int64), "one"),
             numpy_helper.from_array(np.array([0], np.int64), "axis0"),
             numpy_helper.from_array(np.array([1, 1, 4], np.int64), "seq"),
             numpy_helper.from_array(np.array([1, hidden], np.int64), "flat")]
    nodes = [helper.make_node("MatMul", ["proj", "frame"], ["projected"]),  # [4,4] @ [1,4,6]: constant first
             helper.make_node("Reshape", ["projected_t", "seq"], ["step"]),
             helper.make_node("Gather", ["state", "zero"], ["h"], axis=0),
             helper.make_node("Gather", ["state", "one"], ["c"], axis=0),
             helper.make_node("Unsqueeze", ["h", "axis0"], ["h0"]),
             helper.make_node("Unsqueeze", ["c", "axis0"], ["c0"]),
             helper.make_node("LSTM", ["step", "W", "R", "B", "", "h0", "c0"], ["y", "y_h", "y_c"], hidden_size=hidden),
             helper.make_node("Concat", ["y_h", "y_c"], ["new_state"], axis=0),
             helper.make_node("Reshape", ["y_h", "flat"], ["hidden"]),
             helper.make_node("MatMul", ["hidden", "head"], ["logit"]),
             helper.make_node("Sigmoid", ["logit"], ["speech"])]
    nodes.insert(1, helper.make_node("ReduceMean", ["projected"], ["projected_t"], axes=[2], keepdims=0))
    graph = helper.make_graph(nodes, "recurrent",
                              [helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, 4, size]),
                               helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, hidden])],
                              [helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, 1]),
                               helper.make_tensor_value_info("new_state", TensorProto.FLOAT, [2, 1, hidden])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_recurrent_model_is_what_qcs6490_refused() -> None:
    model = _recurrent()
    assert float_islands(model) == ["state"]
    assert len(constant_first_matmuls(_recurrent())) == 1


@pytest.mark.npu
def test_a_recurrent_model_prepares_fully_onto_the_npu_of_qcs6490(tmp_path: Path) -> None:
    src = tmp_path / "recurrent.onnx"
    onnx.save(_recurrent(), str(src))
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "calib.npz", frame=rng.normal(0, 1, (24, 1, 4, 6)).astype(np.float32),
             state=np.tanh(rng.normal(0, 1, (24, 2, 1, 8))).astype(np.float32))
    result = prepare(src, tmp_path / "recurrent.qcs6490.onnx", tmp_path / "calib.npz",
                     config=QuantizeConfig(rounding="nearest"), target=get_target("npu", soc="qcs6490"))
    assert result.quantization is not None and result.npu is not None
    assert result.npu.placement.fully_on_target, result.npu.placement.headline()
    notes = " ".join(result.quantization.notes)
    assert "LSTM unrolled" in notes and "constant first operand" in notes and "state" in notes, notes
    assert all(np.isfinite(q.sqnr_db) and q.sqnr_db > 15 for q in result.quantization.quality), \
        [(q.name, q.sqnr_db) for q in result.quantization.quality]


def _masked_softmax() -> onnx.ModelProto:
    """Attention scores plus a fill of -100 where the mask is off (``Where(Not(mask), -100, 0)``), then Softmax."""
    inits = [numpy_helper.from_array(np.array(-100.0, np.float32), "fill"),
             numpy_helper.from_array(np.zeros((1, 8), np.float32), "zeros"),
             numpy_helper.from_array(np.array([1, 1, 8], np.int64), "shape")]
    nodes = [helper.make_node("Not", ["mask"], ["off"]),
             helper.make_node("Where", ["off", "fill", "zeros"], ["filled"]),
             helper.make_node("Reshape", ["filled", "shape"], ["bias"]),
             helper.make_node("Add", ["scores", "bias"], ["s"]),
             helper.make_node("Softmax", ["s"], ["p"], axis=-1)]
    graph = helper.make_graph(nodes, "masked", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 4, 8]),
                                                helper.make_tensor_value_info("mask", TensorProto.BOOL, [1, 8])],
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 4, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_mask_calibrated_without_padding_still_masks_padding(tmp_path: Path) -> None:
    """Calibrated on masks that are all on (sentences without padding), the fill's range is [-100, 0] anyway:
    a padded input then gets (nearly) no attention on padding, as in float."""
    model = _masked_softmax()
    rng = np.random.default_rng(0)
    calib = [{"scores": rng.normal(0, 2, (1, 4, 8)).astype(np.float32), "mask": np.ones((1, 8), bool)}
             for _ in range(16)]
    assert mask_ranges(model, calib) == {"filled": (-100.0, 0.0), "bias": (-100.0, 0.0)}
    src = tmp_path / "masked.onnx"
    onnx.save(model, str(src))
    np.savez(tmp_path / "calib.npz", scores=np.stack([c["scores"] for c in calib]),
             mask=np.stack([c["mask"] for c in calib]))
    out = tmp_path / "masked.qdq.onnx"
    result = quantize(src, out, tmp_path / "calib.npz", config=QuantizeConfig(rounding="nearest",
                                                                               range_search=False))
    assert any("mask" in n for n in result.notes), result.notes
    padded = np.array([[True] * 5 + [False] * 3])
    feed = {"scores": rng.normal(0, 2, (1, 4, 8)).astype(np.float32), "mask": padded}
    quantized = run_on_cpu(onnx.load(str(out)), [feed], exact=True)["p"][0]
    assert quantized[..., 5:].max() < 0.01, quantized[..., 5:]
    reference = run_on_cpu(model, [feed], exact=True)["p"][0]
    np.testing.assert_allclose(quantized, reference, atol=0.02)


def test_the_lighter_finalization_applies_to_qnn_running_out_of_memory_only() -> None:
    npu = get_target("npu", soc="qcs6490")
    failure = "Failed to finalize QNN graph. Error: QNN_COMMON_ERROR_MEM_ALLOC: Memory allocation related error."
    lighter = npu.lighter_finalization(failure)
    assert lighter is not None and lighter.options_dict[FINALIZE_MODE] == "1"
    assert lighter.options_dict["soc_model"] == npu.options_dict["soc_model"]
    assert lighter.lighter_finalization(failure) is None  # once only; a mode the user chose stands
    assert npu.lighter_finalization("Failed to add node.") is None
    assert get_target("cpu").lighter_finalization(failure) is None
