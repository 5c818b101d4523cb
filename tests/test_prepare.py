from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import graph_models
import models
from onnpu import PlacementError, ShapeError, get_target, inspect_model, jsonio
from onnpu.cli import main
from onnpu.quantization.config import QuantizeConfig
from onnpu.tasks.explain_placement import explain_placement
from onnpu.tasks.prepare import prepare

pytestmark = pytest.mark.npu


def test_dynamic_float_model_to_verified_npu_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx")
    with pytest.raises(ShapeError, match=r"dynamic dims \(x: N\)"):
        prepare(src, tmp_path / "npu.onnx", "random")
    assert main(["prepare", str(src), "-o", str(tmp_path / "npu.onnx"), "--dim", "N=1", "--calib", "random"]) == 0
    out = capsys.readouterr().out
    assert "CPU fallback disabled" in out and "10 of 10 nodes on the NPU" in out
    info = inspect_model(tmp_path / "npu.onnx")
    assert info.dynamic_inputs == {} and info.quantization_style == "QDQ"


def test_model_that_cannot_be_fully_offloaded_fails_loudly(tmp_path: Path) -> None:
    src = models.save(models.never_on_htp(), tmp_path / "erf.onnx")
    with pytest.raises(PlacementError, match=r"erf \(Erf\): Operators of type `Erf` are not supported") as info:
        prepare(src, tmp_path / "erf.qdq.onnx", "random")
    assert "onnpu placement" in (info.value.hint or "")
    assert (tmp_path / "erf.qdq.onnx").exists()  # written, and the error says what is wrong with it


def _ppocr_det() -> Path | None:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "models" / "ch_PP-OCRv4_det_infer.onnx"


def test_ppocr_detector_fixed_quantized_and_on_npu(tmp_path: Path) -> None:
    det = _ppocr_det()
    if det is None:
        pytest.fail("rapidocr-onnxruntime (test data) is not installed: `make test` installs it")
    assert inspect_model(det).dynamic_inputs == {"x": ["p2o.DynamicDimension.0", "p2o.DynamicDimension.1",
                                                        "p2o.DynamicDimension.2"]}
    result = prepare(det, tmp_path / "det.qdq.onnx", "random", shapes={"x": [1, 3, 640, 640]}, limit=6,
                     holdout=0.34, config=QuantizeConfig(rounding="nearest"))  # optimised rounding: make bench
    assert result.shapes is not None and result.shapes.inputs == {"x": [1, 3, 640, 640]}
    assert result.shapes.outputs == {"sigmoid_0.tmp_0": [1, 1, 640, 640]}
    assert result.npu is not None and result.npu.placement.fully_on_target
    assert result.npu.placement.partitions == 1


@pytest.mark.zoo
def test_torch_exported_detector_needs_simplify_to_reach_the_npu(tmp_path: Path) -> None:
    """The issue's case in small: a head that computes anchors and strides from Shape/Gather/Concat/Constant nodes.
    Quantized as exported, the shape constants get Q/DQ the HTP cannot take; simplified first, all of it runs."""
    src = graph_models.tiny_detector(tmp_path / "det.onnx")
    config = QuantizeConfig(rounding="nearest")
    with pytest.raises(PlacementError, match=r"DequantizeLinear\): Cannot get shape") as info:
        prepare(src, tmp_path / "raw.qdq.onnx", "random", shapes={"images": [1, 3, 64, 64]}, simplify=False,
                config=config, limit=6)
    assert " 0 of " not in str(info.value)
    result = prepare(src, tmp_path / "det.qdq.onnx", "random", shapes={"images": [1, 3, 64, 64]}, config=config,
                     limit=6)
    assert result.simplified is not None
    stats = result.simplified.stats
    assert stats.removed["Shape"] >= 10 and stats.removed["Constant"] >= 40 and stats.nodes_after < 30
    assert result.simplified.max_abs_error is not None and result.simplified.max_abs_error < 1e-3
    assert result.npu is not None and result.npu.placement.fully_on_target
    [drift] = result.npu.outputs
    assert drift.name == "output0" and drift.kind == "quantized" and drift.step and drift.step > 0
    assert drift.steps is not None and drift.steps == pytest.approx(drift.max_abs_diff / drift.step, abs=1e-3)


def test_if_on_an_input_folded_by_prepare_and_drift_in_steps(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(graph_models.if_on_input(), tmp_path / "if.onnx")
    args = ["prepare", str(src), "-o", str(tmp_path / "if.qdq.onnx"), "--calib", "random", "--rounding", "nearest"]
    assert main([*args, "--input-value", "mode=1", "--json", "--io", "uint8"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["simplify"]["control_flow_before"] == 2 and data["simplify"]["control_flow_after"] == 0
    assert data["shapes"]["changes"] == ["input mode = 1 (now a constant)"]
    npu = data["npu"]
    assert npu["placement"]["fully_on_target"] and npu["flag_steps"] == 2
    [out] = npu["outputs"]
    assert out["name"] == "y" and out["kind"] == "quantized" and out["steps"] <= 2 and not out["flagged"]
    assert npu["inputs_source"].startswith("held-out input")
    # without the value the If keeps the whole network on the CPU, and the error says how to fold it
    assert main([*args, "--force"]) == 3  # ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "mode_if (If)" in err


def test_integer_token_inputs_calibrate_and_verify(tmp_path: Path) -> None:
    src = models.save(graph_models.embedding(), tmp_path / "emb.onnx")
    result = prepare(src, tmp_path / "emb.qdq.onnx", "random", config=QuantizeConfig(rounding="nearest"))
    assert result.quantization is not None and result.quantization.calibration_count > 0
    assert result.npu is not None and result.npu.placement.fully_on_target
    assert all(o.steps is not None and o.steps <= 2 for o in result.npu.outputs)


def test_a_graph_qnn_cannot_build_is_blamed_on_its_first_failing_node(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """QNN names no node when it cannot finalize a graph; onnpu finds the node by compiling the first nodes alone."""
    src = models.save(graph_models.conv_lstm(), tmp_path / "lstm.onnx")
    out = tmp_path / "lstm.qdq.onnx"
    with pytest.raises(PlacementError, match=r"does not compile for QCS6490 HTP v68.*from lstm \(LSTM\) on .*"
                                             r"QNN_COMMON_ERROR_MEM_ALLOC") as info:
        prepare(src, out, "random", config=QuantizeConfig(rounding="nearest"))
    assert "--soc qcs8550" in (info.value.hint or "")
    report = explain_placement(out, get_target("npu"))
    [lstm] = [n for n in report.nodes if n.reason]
    assert lstm.name == "lstm" and "Failed to finalize QNN graph" in lstm.reason
    assert any("compiling the model's first nodes alone" in n for n in report.notes)
    assert main(["placement", str(out), "--require-full"]) == 3  # ExitCode.REFUSED
    assert "from lstm (LSTM) on" in capsys.readouterr().out
    assert explain_placement(out, get_target("npu", soc="qcs8550")).fully_on_target


def test_a_short_lstm_is_unrolled_and_runs_fully_on_qcs6490(tmp_path: Path) -> None:
    """The same graph over 8 steps: unrolled into Gemm/Sigmoid/Tanh/Mul/Add, which HTP v68 takes."""
    src = models.save(graph_models.conv_lstm(length=10), tmp_path / "lstm.onnx")
    result = prepare(src, tmp_path / "lstm.qdq.onnx", "random", config=QuantizeConfig(rounding="nearest"),
                     target=get_target("npu", soc="qcs6490"))
    assert result.quantization is not None and any("LSTM unrolled" in n for n in result.quantization.notes)
    assert result.npu is not None and result.npu.placement.fully_on_target


def test_a_failed_simplification_is_noted_and_the_model_quantized_as_it_is(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import onnpu.tasks.simplify as task
    from onnpu import SimplifyError

    def broken(model, **kwargs):  # type: ignore[no-untyped-def]
        raise SimplifyError("m.onnx: simplification broke the model: the outputs changed", hint="report the model")

    monkeypatch.setattr(task, "simplify_model", broken)
    src = models.save(models.float_conv(batch="N"), tmp_path / "dyn.onnx")
    result = prepare(src, tmp_path / "q.onnx", "random", dims={"N": 1}, config=QuantizeConfig(rounding="nearest"))
    assert result.simplified is None and result.shapes is not None
    assert result.shapes.changes == ["dim N = 1", "x: [N, 3, 16, 16] → [1, 3, 16, 16]"]
    assert any(n.startswith("not simplified, quantized as it is: ") and "report the model" in n for n in result.notes)
    assert result.npu is not None and result.npu.placement.fully_on_target
