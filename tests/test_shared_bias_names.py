"""The tf2onnx name collision (basic-pitch's nmp.onnx): a bias shared by several Convs, named so that the copies
ONNX Runtime's quantizer makes of it (``<bias><N>``) collide with a Conv output. Built here with the very names
tf2onnx gave that model; the corpus carries the model itself (tests/corpus.json: basic_pitch_nmp)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnpu import get_target, run_model
from onnpu.model.biases import unshare_biases
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.exclusions import nodes_to_exclude
from onnpu.quantization.pipeline import quantize
from onnpu.tasks.explain_placement import explain_placement

BIAS = "model_1/cq_t2010v2_1/conv1d_25;model_1/cq_t2010v2_1/conv1d_25"


def _shared_bias_model() -> onnx.ModelProto:
    """Three 1x1 Convs share one zero bias ``BIAS``; the first Conv's output is named ``BIAS + '1'`` — the name the
    quantizer's second copy of the bias takes — and feeds a Transpose, as in nmp.onnx."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.zeros(6, np.float32), BIAS)]
    nodes, x = [], "x"
    for k in range(3):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.5, (6, 6, 1, 1)).astype(np.float32), f"w{k}"))
        out = BIAS + "1" if k == 0 else f"c{k}"
        nodes.append(helper.make_node("Conv", [x, f"w{k}", BIAS], [out], name=f"conv{k}"))
        nodes.append(helper.make_node("Transpose", [out], [f"t{k}"], perm=[0, 2, 3, 1], name=f"to_nhwc{k}"))
        nodes.append(helper.make_node("Transpose", [f"t{k}"], [f"n{k}"], perm=[0, 3, 1, 2], name=f"to_nchw{k}"))
        x = f"n{k}"
    nodes.append(helper.make_node("Relu", [x], ["y"], name="relu"))
    graph = helper.make_graph(nodes, "shared_bias", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                   [1, 6, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 4, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def test_each_node_gets_its_own_bias_under_a_name_no_tensor_has() -> None:
    model = _shared_bias_model()
    made = unshare_biases(model)
    biases = [n.input[2] for n in model.graph.node if n.op_type == "Conv"]
    assert biases[0] == BIAS and len(set(biases)) == 3 and made == biases[1:]
    outputs = {o for n in model.graph.node for o in n.output}
    assert not set(made) & outputs
    onnx.checker.check_model(model)
    assert unshare_biases(model) == []  # nothing shared any more


def test_shared_bias_model_quantizes_and_runs(tmp_path: Path) -> None:
    src = tmp_path / "shared.onnx"
    onnx.save(_shared_bias_model(), str(src))
    feeds = {"x": np.random.default_rng(1).normal(0, 1, (8, 1, 6, 4, 4)).astype(np.float32)}
    np.savez(tmp_path / "calib.npz", **{"x": feeds["x"].reshape(8, 6, 4, 4)})
    for per_channel in (True, False):
        out = tmp_path / f"q{per_channel}.onnx"
        result = quantize(src, out, tmp_path / "calib.npz", config=QuantizeConfig(rounding="nearest",
                                                                                  per_channel=per_channel))
        assert min(q.sqnr_db for q in result.quality) > 15
        ran = run_model(out, get_target("cpu"), inputs={"x": feeds["x"][0]})
        assert np.isfinite(ran.outputs["y"]).all()


def _swift_like_model() -> onnx.ModelProto:
    """What swift-f0 0.3.0's pitch model does that ONNX Runtime's quantizer trips on: a Gemm with a scalar bias, a
    -inf fill before a Softmax, and a Softmax computed in double."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.normal(0, 0.4, (8, 16)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array(0.1, np.float32), "scalar_bias"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array(-np.inf, np.float32), "minus_inf")]
    nodes = [helper.make_node("Gemm", ["x", "w", "scalar_bias"], ["g"], transB=1, name="gemm"),
             helper.make_node("Greater", ["g", "zero"], ["keep"], name="keep_positive"),
             helper.make_node("Where", ["keep", "g", "minus_inf"], ["filled"], name="masked_fill"),
             helper.make_node("Softmax", ["filled"], ["p"], axis=-1, name="softmax_float"),
             helper.make_node("Cast", ["g"], ["g64"], to=TensorProto.DOUBLE, name="to_double"),
             helper.make_node("Softmax", ["g64"], ["p64"], axis=-1, name="softmax_double"),
             helper.make_node("Cast", ["p64"], ["q"], to=TensorProto.FLOAT, name="to_float"),
             helper.make_node("Add", ["p", "q"], ["y"], name="sum")]
    graph = helper.make_graph(nodes, "swift_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def test_scalar_gemm_bias_double_softmax_and_inf_fill_quantize(tmp_path: Path) -> None:
    src = tmp_path / "swift_like.onnx"
    onnx.save(_swift_like_model(), str(src))
    x = np.random.default_rng(3).normal(0, 1, (12, 16)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    result = quantize(src, tmp_path / "q.onnx", tmp_path / "calib.npz", config=QuantizeConfig(rounding="nearest"))
    assert any("-infinity fill" in n and "minus_inf" in n and "Cast to double made float" in n for n in result.notes)
    assert min(q.sqnr_db for q in result.quality) > 15
    quantized = onnx.load(str(tmp_path / "q.onnx"))
    assert not any(t.data_type == TensorProto.DOUBLE for t in quantized.graph.initializer)
    # a Softmax the quantizer would see in double is excluded from quantization (else ONNX Runtime's quantizer fails)
    assert nodes_to_exclude(src) == ["softmax_double"]


@pytest.mark.npu
def test_clip_with_a_computed_bound_runs_on_the_npu(tmp_path: Path) -> None:
    """openWakeWord's mel front end clamps at its maximum minus 80 dB: Clip(x, max(x) - 80, 0). The QNN EP takes no
    Clip whose bound is computed; as Max/Min it runs fully on QCS6490."""
    inits = [numpy_helper.from_array(np.array(80.0, np.float32), "range_db"),
             numpy_helper.from_array(np.array(10.0, np.float32), "ceiling")]
    nodes = [helper.make_node("ReduceMax", ["x"], ["peak"], keepdims=0, name="peak"),
             helper.make_node("Sub", ["peak", "range_db"], ["floor"], name="floor"),
             helper.make_node("Clip", ["x", "floor", "ceiling"], ["y"], name="clamp")]
    graph = helper.make_graph(nodes, "clamp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    src = tmp_path / "clamp.onnx"
    onnx.save(model, str(src))
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(4).normal(-40, 40, (10, 64)).astype(np.float32))
    result = quantize(src, tmp_path / "q.onnx", tmp_path / "calib.npz", config=QuantizeConfig(rounding="nearest"))
    assert any("1 Clip with a computed bound as Max/Min" in n for n in result.notes)
    assert explain_placement(tmp_path / "q.onnx", get_target("npu")).fully_on_target
