from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import models
from onnpu import PlacementError, ShapeError, inspect_model
from onnpu.cli import main
from onnpu.quantize.config import QuantizeConfig
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
