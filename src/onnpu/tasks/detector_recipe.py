"""A detector's recipe judged by its boxes. ``boxes_to_keep`` picks the activations a detector needs in 16 bits
by measuring detections with min/max ranges and nearest rounding; the recipe then searches ranges (least MSE
on the calibration inputs) and rounds weights against an output-noise objective. Those serve a classifier's
logits; a detector's objects are sparse peaks in its maps (CenterFace's log-size map matters at a few cells per
face), which MSE-optimal clipping and rounding may trade away. So the written model's detections are compared
with the measured stage's, and where they are further from the float model's, the recipe steps back — range
search off, then nearest rounding too — keeping the first that is as close as what was measured (else the
closest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import onnx

from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.detection_head import DetectionQuantReport, badness, detection_head_of
from onnpu.quantization.pipeline import QuantizeResult


def _steps_back(config: QuantizeConfig) -> list[tuple[str, QuantizeConfig]]:
    steps = []
    if config.range_search:
        steps.append(("min/max ranges (no range search)", replace(config, range_search=False)))
    if config.rounding != "nearest":
        steps.append(("min/max ranges and nearest rounding",
                      replace(config, range_search=False, rounding="nearest")))
    return steps


def keep_the_boxes(result: QuantizeResult, float_model: onnx.ModelProto, report: DetectionQuantReport,
                   requantize: Callable[[QuantizeConfig], QuantizeResult], measure: Callable[[], None]
                   ) -> QuantizeResult:
    """``result`` (written, ``report.kept`` measured on it), or the recipe stepped back where its detections
    are closer to the float model's. ``requantize`` writes the model again with a config; ``measure`` fills
    ``report.kept`` from what is written."""
    head = detection_head_of(float_model)
    if head is None or report.kept is None or report.chosen is None:
        return result
    goal = badness(report.chosen, head, report.chosen_shift)  # with few boxes, the candidates' figures
    tried = [(badness(report.kept, head, report.kept_shift), "the recipe as configured", result.config)]
    if tried[0][0] <= goal:
        return result
    first = report.kept.describe() + (f"; {report.kept_shift.describe()}" if report.kept_shift is not None else "")
    for label, config in _steps_back(result.config):
        result = requantize(config)
        measure()
        assert report.kept is not None
        tried.append((badness(report.kept, head, report.kept_shift), label, config))
        if tried[-1][0] <= goal:
            break
    _, label, config = min(tried, key=lambda t: t[0])
    if config != result.config:  # an earlier one was closer: written again
        result = requantize(config)
        measure()
    if label == tried[0][1]:
        result.notes.append(f"the recipe as configured kept: its detections ({first}) are further from the float "
                            "model's than measured, and stepping back (no range search, nearest rounding) did not "
                            "bring them closer")
    else:
        result.notes.append(f"detections kept with {label}: the recipe as configured moved them further from the "
                            f"float model's ({first})")
    return result
