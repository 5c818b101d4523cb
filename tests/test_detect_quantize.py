"""``prepare`` on a detector: the head recognised in the float model, calibration images prepared as the detector
sees them, the 16-bit stages measured (a stage the NPU refuses is not taken), and the report: box error in pixels,
matched / missed / extra, mAP against the float model's detections."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import detect_models as dm
import models
from onnpu.quantization import detection_head


def test_a_detector_is_recognised_and_calibrated_as_one() -> None:
    head = detection_head.detection_head_of(dm.square_detector())
    assert head is not None and head.kind == "yolov8" and head.num_classes == 2
    pre = detection_head.calibration_preprocess(dm.square_detector())
    assert pre is not None and (pre.resize, pre.scaling) == ("resize", "unit")
    assert detection_head.detection_head_of(models.classifier()) is None
    assert detection_head.calibration_preprocess(models.classifier()) is None


def test_measured_on_no_box_says_so() -> None:
    """Calibration inputs on which the float detector finds nothing (random values, photos without its objects)
    make every stage look perfect: the report says the figures rest on no box, and how to fix it."""
    import numpy as np

    from onnpu.quantization.config import QuantizeConfig

    model = dm.square_detector()
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    feeds = [{model.graph.input[0].name: rng.uniform(0, 1, shape).astype(np.float32)} for _ in range(3)]
    kept = detection_head.boxes_to_keep(model, feeds, feeds, QuantizeConfig(rounding="nearest"))
    assert kept is not None
    _, report = kept
    assert report.boxes == 0 and report.to_dict()["boxes"] == 0
    said = "\n".join(report.lines())
    assert "the float model finds 0 objects on these images: the box figures rest on no box" in said
    assert "--calib DIR" in said


@pytest.mark.npu
def test_prepare_measures_the_head_and_reports_boxes(tmp_path: Path) -> None:
    from onnpu.tasks.prepare import prepare

    dm.write_scenes(tmp_path)
    model = dm.save(dm.square_detector(), tmp_path / "det.onnx")
    from onnpu.quantization.config import QuantizeConfig

    result = prepare(model, tmp_path / "det.qdq.onnx", str(tmp_path), config=QuantizeConfig(rounding="nearest"))
    assert result.npu is not None and result.npu.placement.fully_on_target
    assert result.quantization is not None
    report = result.quantization.detection
    assert report is not None and report["images"] == 4 and report["boxes"] == 8
    assert any("the float model finds 8 objects on these images: the box figures rest on few boxes" in n
               for n in result.quantization.notes)
    stages = [s["stage"] for s in report["stages"]]
    assert stages[0] == "8-bit recipe" and len(stages) >= 2
    # QCS6490's HTP builds no 16-bit Concat with a constant part: that stage is measured as refused, not taken
    assert "not taken: the NPU refuses it" in report["stages"][1]["outcome"]
    assert report["sixteen_bit"] == [] and report["kept"]["matched"] == 8 and report["kept"]["missed"] == 0
    assert report["kept"]["median_box_error_px"] == 0.0 and report["map_vs_float"] == pytest.approx(1.0)
    assert any(line.startswith("detection head: ") for line in result.quantization.notes)
    # the written model's boxes on the NPU (the emulated HTP) against the float model's, on the held-out scene
    assert report["npu"]["matched"] >= 1 and report["npu"]["missed"] == report["npu"]["extra"] == 0
    assert not any("depart from the float model" in n for n in result.notes)
    from onnpu.cli.cmd_prepare import npu_detections_line

    line = npu_detections_line(report)  # what `onnpu prepare` prints under its NPU check
    assert line is not None and f"{report['npu']['matched']} matched, 0 missed, 0 extra" in line
    assert f"on {report['npu']['inputs']} input" in line and "px at 640" in line


@pytest.mark.npu
def test_without_verification_a_stage_the_npu_refuses_is_still_not_taken(tmp_path: Path) -> None:
    """`--no-verify` skips the check of the written model on the NPU, not the compile check that picks the 16-bit
    stage: a model the SoC refuses is never the one written."""
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.tasks.prepare import prepare

    dm.write_scenes(tmp_path)
    model = dm.save(dm.square_detector(), tmp_path / "det.onnx")
    result = prepare(model, tmp_path / "det.qdq.onnx", str(tmp_path), config=QuantizeConfig(rounding="nearest"),
                     verify=False)
    assert result.npu is None and result.quantization is not None
    report = result.quantization.detection
    assert report is not None and "not taken: the NPU refuses it" in report["stages"][1]["outcome"]
    assert report["sixteen_bit"] == []


def test_boxes_the_npu_adds_are_a_warning_with_the_fix() -> None:
    """The NPU's integer arithmetic can depart from the CPU QDQ arithmetic prepare measured its stages on: a cell
    whose score crosses the threshold on the NPU only is an extra detection, said with the 16-bit fix."""
    import numpy as np

    from onnpu.vision.detection import recognise_head

    frame = dm.yolov8_frame(5, seed=1)
    head = recognise_head({"output0": frame.shape}, (640, 640))
    device = frame.copy()
    device[0, 4 + 7, 100] = 0.9  # a background cell scores on the device only
    same, quiet = detection_head.on_device(head, {"output0": [frame[0]]}, {"output0": [frame[0]]}, "npu", {}, "u8")
    assert quiet is None and same["missed"] == same["extra"] == 0
    stats, warning = detection_head.on_device(head, {"output0": [frame[0]]}, {"output0": [device[0]]}, "npu",
                                              {"kept": {"matched": 5, "missed": 0, "extra": 0}}, "u8")
    assert stats["extra"] == 1 and warning is not None and "--activations u16" in warning
    assert np.isfinite(stats["median_box_error_px"])


@pytest.mark.npu
def test_a_w8a16_choice_departing_on_the_npu_makes_prepare_try_eight_bits(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The reverse: where the measurement chose W8A16 (every activation) and the NPU does not follow its 16-bit
    arithmetic (here the first NPU answer is made to depart and the measurement made to choose W8A16; the rest is
    real), prepare prepares again with 8-bit activations — `--activations u8`, which never raises every
    activation — and keeps it when its boxes on the NPU are closer."""
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.mixed_precision import quantized_activations
    from onnpu.quantization.recipe import quantize_qdq_model
    from onnpu.tasks.prepare import prepare

    dm.write_scenes(tmp_path)
    model = dm.save(dm.square_detector(), tmp_path / "det.onnx")
    measure, device = detection_head.boxes_to_keep, detection_head.on_device
    stages: list[str] = []

    def choosing_w8a16(float_model, feeds, calibration, config, target=None):  # type: ignore[no-untyped-def]
        names, report = measure(float_model, feeds, calibration, config, target)
        if config.activations != "u8":
            plain = quantize_qdq_model(float_model, calibration, config)
            names = quantized_activations(float_model, plain)
            report.stage, report.sixteen_bit = detection_head.EVERY_ACTIVATION, names
        stages.append(report.stage)
        return names, report

    def departing_once(head, reference, found, where, report, activations):  # type: ignore[no-untyped-def]
        stats, warning = device(head, reference, found, where, report, activations)
        if len(stages) == 1:
            return {**stats, "extra": 3}, "on the NPU (test) 3 extra"
        return stats, warning

    monkeypatch.setattr(detection_head, "boxes_to_keep", choosing_w8a16)
    monkeypatch.setattr(detection_head, "on_device", departing_once)
    out = tmp_path / "det.qdq.onnx"
    from onnpu.runtime.targets import get_target

    result = prepare(model, out, str(tmp_path), config=QuantizeConfig(rounding="nearest"),
                     target=get_target("npu", soc="qcs8550"))  # v68 builds no 16-bit Concat with a constant part
    assert stages[0] == detection_head.EVERY_ACTIVATION and len(stages) == 2
    assert stages[1] != detection_head.EVERY_ACTIVATION  # `--activations u8`: every activation never raised
    assert result.notes[0].startswith("8-bit activations chosen for this detector: at W8A16 (test) 3 extra")
    assert result.quantization is not None and result.quantization.detection is not None
    assert result.quantization.detection["stage"] == stages[1] and result.output == str(out) and out.exists()


@pytest.mark.npu
def test_boxes_departing_on_the_npu_make_prepare_try_sixteen_bits(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """When the NPU's boxes depart at the W8A8 onnpu chose, prepare prepares the detector again at W8A16 (here the
    NPU's answer is made to depart; the rest is real) and keeps whichever has fewer boxes missed or added on the
    NPU — the 16-bit model when it prepares and does better (here), else the first, with the reason."""
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.tasks.prepare import prepare

    dm.write_scenes(tmp_path)
    model = dm.save(dm.square_detector(), tmp_path / "det.onnx")
    real = detection_head.on_device
    calls: list[str] = []

    def departing(head, reference, device, where, report, activations):  # type: ignore[no-untyped-def]
        stats, _ = real(head, reference, device, where, report, activations)
        calls.append(activations)
        if activations == "u8":
            stats = {**stats, "extra": 3}
            return stats, "on the NPU (test) 3 extra; 16-bit activations (`--activations u16`, W8A16) hold them"
        return stats, None

    monkeypatch.setattr(detection_head, "on_device", departing)
    out = tmp_path / "det.qdq.onnx"
    result = prepare(model, out, str(tmp_path), config=QuantizeConfig(rounding="nearest"))
    assert calls[0] == "u8" and out.exists() and result.output == str(out)
    assert result.quantization is not None and result.quantization.config.activations == "u16"  # written over
    assert calls == ["u8", "u16"] and result.notes[0].startswith("W8A16 chosen for this detector")
    assert "uint16" in {p.dtype for p in _io_params(out)}
    pinned = prepare(model, tmp_path / "pinned.onnx", str(tmp_path),
                     config=QuantizeConfig(rounding="nearest", activations="u8"))
    assert pinned.quantization is not None and pinned.quantization.config.activations == "u8"  # the user's choice
    assert any("--activations u16" in n for n in pinned.notes)


def _io_params(path: Path) -> list:  # type: ignore[type-arg]
    import onnx

    from onnpu.model.qparams import io_quant_params

    inputs, outputs = io_quant_params(onnx.load(str(path)))
    return [*inputs.values(), *outputs.values()]


def test_candidates_are_compared_anchor_by_anchor() -> None:
    """With few boxes, a stage is judged on every candidate the float model scores ≥ 0.1, anchor by anchor: a
    shift of 2 px in every centre and 0.05 in every score is measured as such, whatever the detections do."""
    import numpy as np

    from onnpu.vision.detection import recognise_head
    from onnpu.vision.detection.decoding import candidates
    from onnpu.vision.detection.matching import MatchStats

    frame = dm.yolov8_frame(2, seed=3)
    head = recognise_head({"output0": frame.shape}, (640, 640))
    boxes, scores = candidates({"output0": frame[0]}, head) or (None, None)
    assert boxes is not None and scores is not None and boxes.shape == (8400, 4) and scores.shape == (8400,)
    moved = frame.copy()
    moved[:, 0] += 2.0  # every centre x 2 px right
    moved[:, 4:] = np.clip(moved[:, 4:] - 0.05, 0, 1)
    picked = int((frame[0, 4:].max(axis=0) >= detection_head.CANDIDATE_FLOOR).sum())
    shift = detection_head.candidate_shift(head, {"output0": [frame]}, {"output0": [moved]}, 1)
    assert shift is not None and shift.candidates == min(picked, detection_head.CANDIDATES_PER_IMAGE) > 2
    assert shift.median_px_at_640 == pytest.approx(2.0, abs=1e-4)
    assert shift.median_score_diff == pytest.approx(0.05, abs=1e-6)
    # one matched box, off by 9 px: with few boxes the stage's figures are the candidates' (2 px, 0.05)
    one = MatchStats(1, 0, 0, 9.0, 9.0, 9.0, 0.0)
    assert detection_head.badness(one, head, shift) == pytest.approx(2.0 + detection_head.SCORE_WEIGHT * 0.05)
    assert detection_head.badness(one, head) == pytest.approx(9.0)
    many = MatchStats(20, 0, 0, 9.0, 9.0, 9.0, 0.0)  # enough boxes: the detections' own figures
    assert detection_head.badness(many, head, shift) == pytest.approx(9.0)
    # heatmap peaks and NMS rows are no fixed set of anchors
    assert candidates({"output0": frame[0]}, replace(head, kind="nms", layout={"rows": "output0"})) is None


def test_on_few_boxes_the_stages_are_judged_on_the_candidates() -> None:
    """One object on the images measured: every stage's outcome gives its candidates' shift beside its one box."""
    import numpy as np

    from onnpu.quantization.config import QuantizeConfig

    model = dm.square_detector()
    name = model.graph.input[0].name
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(1)
    feeds = []
    for k in range(4):
        x = rng.uniform(0, 0.05, shape).astype(np.float32)
        if k == 0:  # one red square on a cell: one object for the float model
            x[0, 0, 16:24, 16:24] = 1.0
        feeds.append({name: x})
    kept = detection_head.boxes_to_keep(model, feeds, feeds, QuantizeConfig(rounding="nearest"))
    assert kept is not None
    _, report = kept
    assert report.boxes == 1
    assert report.stages and all("candidates scored ≥ 0.1: median shift" in outcome
                                 for _, _, outcome in report.stages)


def test_with_16_bit_activations_asked_for_the_one_stage_is_named_so() -> None:
    """`--activations u16` (or prepare's retry at W8A16): every activation is 16-bit already, so there is one stage,
    named as what it is — not four stages called "8-bit recipe", "the head's outputs", … measuring the same model."""
    import numpy as np

    from onnpu.quantization.config import QuantizeConfig

    model = dm.square_detector()
    name = model.graph.input[0].name
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(2).uniform(0, 0.05, shape).astype(np.float32)
    x[0, 0, 16:24, 16:24] = 1.0
    feeds = [{name: x}]
    for activations, want in (("u16", [detection_head.W8A16_RECIPE]),
                              ("u8", [detection_head.EIGHT_BIT_RECIPE]),
                              ("auto", [detection_head.EIGHT_BIT_RECIPE])):
        kept = detection_head.boxes_to_keep(model, feeds, feeds, QuantizeConfig(rounding="nearest",
                                                                                activations=activations))
        assert kept is not None
        stages = [s for s, _, _ in kept[1].stages]
        assert stages[:1] == want
        if activations == "u16":
            assert stages == want
        if activations == "u8":  # asked for 8-bit activations: never all raised to 16 bits
            assert detection_head.EVERY_ACTIVATION not in stages
