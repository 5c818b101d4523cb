"""Honest calibration and quality where the model runs: random calibration said first, small sets warned about,
clipping of held-out inputs counted, float vs the NPU of the SoC with the task figure of each output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import input_models
import models
from onnpu.cli import main
from onnpu.metrics import OutputQuality
from onnpu.quantization.calibration import CalibrationData
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.evaluate import output_tasks
from onnpu.quantization.pipeline import quantize
from onnpu.quantization.trust import RANDOM_FIRST_LINE, floor_warnings
from onnpu.runtime.inputs import random_feeds
from onnpu.runtime.targets import get_target

NEAREST = QuantizeConfig(rounding="nearest")


def test_output_tasks() -> None:
    assert output_tasks(input_models.sentence_encoder()) == {"embedding": "embedding"}
    assert output_tasks(models.classifier()) == {"logits": "classes"}
    assert output_tasks(input_models.waveform_classifier()) == {"logits": "classes"}
    assert output_tasks(models.float_conv()) == {"y": "dense"}


def test_random_calibration_is_said_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.classifier(), tmp_path / "c.onnx")
    code = main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--rounding", "nearest",
                 "--no-npu"])
    text = capsys.readouterr().out
    assert code == 0
    assert text.splitlines()[0].startswith("calibrated on RANDOM inputs")
    assert "agreement (random data, not quality)" in text
    assert "calibration on random inputs" in text and "only 13 calibration inputs (< 32)" in text
    assert "only 3 held-out inputs (< 8)" in text
    assert main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--rounding", "nearest",
                 "--no-npu", "--force", "--json"]) == 0
    check = json.loads(capsys.readouterr().out)["calibration_check"]
    assert check["random"] and check["first_line"] == RANDOM_FIRST_LINE and "x: image 0..1" in check["random_inputs"]


def test_clipping_of_real_heldout_inputs_is_counted(tmp_path: Path) -> None:
    src = models.save(models.classifier(size=8), tmp_path / "c.onnx")
    rng = np.random.default_rng(0)
    calib = [{"x": rng.random((1, 3, 8, 8), dtype=np.float32)} for _ in range(8)]  # 0..1
    held = [{"x": 3 * rng.random((1, 3, 8, 8), dtype=np.float32)} for _ in range(4)]  # 0..3: clips
    data = CalibrationData("real.npz", calib, held, [f"c{k}" for k in range(8)], [f"h{k}" for k in range(4)])
    result = quantize(src, tmp_path / "q.onnx", data, config=NEAREST)
    check = result.calibration_check
    assert check is not None and not check.random and check.first_line is None
    clipped = {c.name: c for c in check.clipping}
    assert "x" in clipped and 0.5 < clipped["x"].share < 0.8  # about 2/3 of 0..3 is above 1
    assert clipped["x"].seen_high > 2.5 and clipped["x"].high == pytest.approx(1.0, abs=0.01)
    assert check.tensors_checked >= 3
    summary = check.clipping_summary()
    assert summary is not None and "real held-out inputs" in summary and "x:" in summary
    same = CalibrationData("real.npz", calib, calib[:4], [f"c{k}" for k in range(8)], [f"h{k}" for k in range(4)])
    again = quantize(src, tmp_path / "q2.onnx", same, config=NEAREST)
    assert again.calibration_check is not None and not again.calibration_check.clipping


def test_floor_warnings_say_what_to_do() -> None:
    good = OutputQuality("emb", 30.0, 0.1, 0.01, 0.999, task="embedding")
    low_cos = OutputQuality("emb", 25.0, 0.1, 0.01, 0.95, task="embedding")
    low_top1 = OutputQuality("logits", 25.0, 0.1, 0.01, 0.99, top1_agreement=0.5, task="classes")
    assert floor_warnings([good], [good], float_model="f.onnx", quant_model="q.onnx") == []
    warnings = floor_warnings([low_cos], [low_top1], float_model="f.onnx", quant_model="q.onnx")
    assert "emb: float vs CPU QDQ cosine 0.9500 < 0.99" in warnings[0] and "--activations u16" in warnings[0]
    assert "logits: float vs NPU top-1 agreement 50% < 90%" in warnings[1]
    assert "`onnpu layers f.onnx q.onnx`" in warnings[1]
    assert low_top1.task_figure() == "top-1 50%" and good.task_figure() == "cosine 0.9990"


def test_out_of_range_calibration_is_an_error_not_a_traceback(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(input_models.sentence_encoder(), tmp_path / "enc.onnx")
    code = main(["quantize", str(src), "-o", str(tmp_path / "q.onnx"), "--calib", "random", "--no-npu",
                 "--rounding", "nearest", "--input-range", "attention_mask=0,255"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "output 'embedding' has" in err and "NaN/Inf" in err


@pytest.mark.npu
def test_quantize_reports_float_vs_npu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(input_models.waveform_classifier(), tmp_path / "wave.onnx")
    t = np.arange(4000, dtype=np.float32) / 16000
    tones = [{"waveform": (0.5 * np.sin(2 * np.pi * f * t))[None].astype(np.float32)} for f in range(100, 1300, 100)]
    data = CalibrationData("tones", tones[:9], tones[9:], [str(k) for k in range(9)], [str(k) for k in range(3)])
    result = quantize(src, tmp_path / "q.onnx", data, config=NEAREST, npu=get_target("npu", soc="qcs6490"))
    npu = result.npu_quality
    assert npu is not None and npu.problem is None and "QCS6490" in npu.target and npu.samples == 3
    (q,) = npu.outputs
    assert q.task == "classes" and q.top1_agreement is not None and q.sqnr_db > 10
    cpu = result.quality[0]
    assert q.sqnr_db != cpu.sqnr_db or q.max_abs_error != cpu.max_abs_error or q.sqnr_db == float("inf")


@pytest.mark.npu
def test_prepare_reports_float_vs_npu_on_heldout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(input_models.uint8_pixels_classifier(), tmp_path / "pixels.onnx")
    feeds = random_feeds(input_models.uint8_pixels_classifier(), 10, seed=2)
    np.savez(tmp_path / "pixels.npz", pixels=np.stack([f["pixels"] for f in feeds]))
    assert main(["prepare", str(src), "-o", str(tmp_path / "p.onnx"), "--calib", str(tmp_path / "pixels.npz"),
                 "--rounding", "nearest", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calibration_notice"] is None
    quant = report["quantization"]
    npu = quant["npu_quality"]
    assert npu["samples"] == 2 and npu["outputs"][0]["task"] == "classes"  # 10 samples → 2 held out
    assert npu["outputs"][0]["task_figure"].startswith("top-1")
    assert report["npu"]["inputs"] == 2
    assert quant["calibration_check"]["warnings"]  # 8 calibration inputs, 2 held out: both small
