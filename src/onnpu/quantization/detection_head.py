"""Quantization that keeps a detector's boxes. A YOLO-style head ends in one tensor that concatenates box
coordinates (hundreds of pixels) and class scores (0-1): quantized to 8 bits they share one scale, and a step of
the box range is a large share of the score range (at 640 input a step is 2.5: every score rounds to 0 or 2.5).

``prepare`` asks here, for a float model: is it a detector (``detection_head_of``: its output shapes match a head
``onnpu.vision.detection`` decodes)? Then calibration images get the detector's preprocessing (letterbox-like
resize, 0-1 or the head's own scaling), and ``boxes_to_keep`` measures — quantizing with nearest rounding and
running the exact QDQ arithmetic the HTP computes — which tensors need 16 bits: none; the head's outputs (the
concatenated parts quantized apart, each at its own range, then joined); then also the score activations; then
every activation (W8A16: where the 8-bit backbone already loses the boxes, as RetinaFace's does). A stage the NPU
refuses is not taken. It stops at the first stage whose detections match the float model's (none
missed, none extra) with a median box error ≤ ``MAX_MEDIAN_PX`` at 640 input and scores within
``MAX_SCORE_DIFF`` (median). Where the float model finds fewer than ``FEW_BOXES`` objects on the images
measured (random calibration, photos without its objects), one box's error is noise: the medians are then those
of every candidate it scores ≥ ``CANDIDATE_FLOOR``, anchor by anchor (``candidate_shift``). ``detection_report``
gives the written model's numbers: box error in pixels, matched / missed / extra, and mAP against the float
model's own detections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import onnx

from onnpu import progress
from onnpu.errors import InputDataError, OnnpuError
from onnpu.model.graphs import producers
from onnpu.model.inspection import tensor_infos
from onnpu.quantization.config import QuantizeConfig
from onnpu.quantization.evaluate import run_on_cpu
from onnpu.quantization.mixed_precision import quantized_activations
from onnpu.quantization.recipe import quantize_qdq_model
from onnpu.quantization.transformer import resolve_config
from onnpu.runtime.session import create_session
from onnpu.runtime.targets import Target
from onnpu.vision.detection.coco import coco_results
from onnpu.vision.detection.decoding import candidates, decode
from onnpu.vision.detection.evaluate import evaluate_coco
from onnpu.vision.detection.heads import Head, recognise_head
from onnpu.vision.detection.matching import MatchStats, match_detections
from onnpu.vision.detection.results import ImageDetections, boxes_of
from onnpu.vision.preprocess import PreprocessConfig, input_layout

MAX_MEDIAN_PX = 1.0  # at 640 input
MAX_SCORE_DIFF = 0.02  # median |score difference| of matched detections
MEASURE_IMAGES = 17
FEW_BOXES = 10  # fewer float detections than this on the images measured: the box figures rest on few boxes
CANDIDATE_FLOOR = 0.1  # with few boxes, stages are judged on every candidate the float model scores this high …
CANDIDATES_PER_IMAGE = 100  # … the best this many per image
EVERY_ACTIVATION = "every activation (W8A16)"
EIGHT_BIT_RECIPE = "8-bit recipe"
W8A16_RECIPE = "the W8A16 recipe (every activation 16-bit)"


def detection_head_of(model: onnx.ModelProto) -> Head | None:
    """The detection head a float model with fixed shapes ends in, or None (not a detector, or shapes not fixed)."""
    inputs, outputs = tensor_infos(model)
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].is_dynamic:
        return None
    try:
        _, h, w = input_layout(inputs[0])
    except InputDataError:
        return None
    shapes = {o.name: tuple(d for d in o.shape if isinstance(d, int)) for o in outputs}
    if h is None or w is None or any(len(shapes[o.name]) != len(o.shape) for o in outputs):
        return None
    try:
        head = recognise_head(shapes, (h, w), model)
    except InputDataError:
        return None
    return head if head.kind != "nms" else None  # NMS in the graph: its outputs are already boxes and scores


def calibration_preprocess(model: onnx.ModelProto) -> PreprocessConfig | None:
    """For a detector, calibration images prepared as the detector sees them (stretched to the input, which
    keeps the pixel statistics of a letterbox, with the head's scaling); None for other models."""
    head = detection_head_of(model)
    if head is None:
        return None
    from onnpu.vision.detection.detector import DetectPreprocess

    wanted = DetectPreprocess().for_head(head)  # the head's own defaults, as `detect` uses them
    return PreprocessConfig(resize="resize", scaling=wanted.scaling or "unit", channels=wanted.channels or "RGB")


@dataclass(frozen=True)
class Shift:
    """How far a quantized model's candidates (anchors, cells, priors) move from the float model's, anchor by
    anchor: over the candidates the float model scores ≥ ``CANDIDATE_FLOOR`` (the best ``CANDIDATES_PER_IMAGE``
    per image), the median largest-coordinate difference of a box (at 640 input) and of the score."""

    candidates: int
    median_px_at_640: float | None
    median_score_diff: float | None

    def describe(self) -> str:
        if not self.candidates:
            return f"no candidate scored ≥ {CANDIDATE_FLOOR:g}"
        return (f"{self.candidates} candidates scored ≥ {CANDIDATE_FLOOR:g}: median shift "
                f"{self.median_px_at_640:.2f} px at 640, score difference {self.median_score_diff:.3f}")


@dataclass
class DetectionQuantReport:
    head: str
    stage: str
    sixteen_bit: list[str]
    plain: MatchStats | None  # the 8-bit recipe vs float
    kept: MatchStats | None = None  # the written model vs float
    chosen: MatchStats | None = None  # the stage taken, measured with nearest rounding
    map_vs_float: float | None = None  # mAP@[.5:.95] of the written model against the float model's detections
    images: int = 0
    input_size: tuple[int, int] = (0, 0)
    boxes: int = 0  # the float model's detections on the images measured
    stages: list[tuple[str, int, str]] = field(default_factory=list)  # stage, tensors raised, outcome
    chosen_shift: Shift | None = None  # with few boxes: the candidates' shift of the stage taken …
    kept_shift: Shift | None = None  # … and of the written model

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "stage": self.stage, "sixteen_bit": self.sixteen_bit,
                "plain": self.plain.to_dict() if self.plain else None,
                "kept": self.kept.to_dict() if self.kept else None,
                "chosen": self.chosen.to_dict() if self.chosen else None, "map_vs_float": self.map_vs_float,
                "images": self.images, "input_size": list(self.input_size), "boxes": self.boxes,
                "stages": [{"stage": s, "tensors": n, "outcome": o} for s, n, o in self.stages],
                "candidates": asdict(self.kept_shift) if self.kept_shift is not None else None}

    def lines(self) -> list[str]:
        out = [f"detection head: {self.head}; measured on {self.images} images at {self.input_size[1]}x"
               f"{self.input_size[0]} (box errors in input pixels)"]
        if self.boxes < FEW_BOXES:
            out.append(f"  the float model finds {self.boxes} object{'s' if self.boxes != 1 else ''} on these images: "
                       "the box figures rest on " + ("no box" if not self.boxes else "few boxes")
                       + f" (stages judged on the candidates it scores ≥ {CANDIDATE_FLOOR:g}, anchor by anchor); "
                       "calibrate with photos of what the model detects (--calib DIR)")
        out += [f"  {s}: {n} tensors in 16 bits: {o}" for s, n, o in self.stages]
        if self.kept is not None:
            out.append(f"  written ({self.stage}): {self.kept.describe()}"
                       + (f"; mAP vs the float model's detections {self.map_vs_float * 100:.1f}"
                          if self.map_vs_float is not None else "")
                       + (f"; {self.kept_shift.describe()}" if self.kept_shift is not None else ""))
        return out


def detections_of(head: Head, outputs: Mapping[str, list[np.ndarray]], count: int) -> list[ImageDetections]:
    """Each of ``count`` inputs' detections (default thresholds) from one output list per name."""
    found = []
    for k in range(count):
        batch = {name: values[k] for name, values in outputs.items()}
        d = decode(batch, head, conf=0.25, iou=0.45, max_det=300)
        h, w = head.input_size
        found.append(ImageDetections(str(k + 1), w, h, boxes_of(d, [])))  # COCO image id k + 1
    return found


def _at_640(stats: MatchStats, head: Head) -> float | None:
    if stats.median_box_error_px is None:
        return None
    return stats.median_box_error_px * 640 / max(head.input_size)


def candidate_shift(head: Head, reference: Mapping[str, list[np.ndarray]], outputs: Mapping[str, list[np.ndarray]],
                    count: int) -> Shift | None:
    """The quantized ``outputs``' candidates against the float ``reference``'s, anchor by anchor, on ``count``
    inputs; None for a head whose candidates are not a fixed set of anchors."""
    errors: list[np.ndarray] = []
    diffs: list[np.ndarray] = []
    for k in range(count):
        ref = candidates({name: values[k] for name, values in reference.items()}, head)
        got = candidates({name: values[k] for name, values in outputs.items()}, head)
        if ref is None or got is None or len(ref[1]) != len(got[1]):  # a NaN row is left out of one side only
            return None
        picked = np.flatnonzero(ref[1] >= CANDIDATE_FLOOR)
        picked = picked[np.argsort(-ref[1][picked], kind="stable")][:CANDIDATES_PER_IMAGE]
        errors.append(np.abs(ref[0][picked] - got[0][picked]).max(axis=1, initial=0.0))
        diffs.append(np.abs(ref[1][picked] - got[1][picked]))
    every, scores = np.concatenate(errors or [np.zeros(0)]), np.concatenate(diffs or [np.zeros(0)])
    if not every.size:
        return Shift(0, None, None)
    return Shift(int(every.size), float(np.median(every)) * 640 / max(head.input_size),
                 float(np.median(scores)))


def _figures(stats: MatchStats, head: Head, shift: Shift | None) -> tuple[float | None, float | None]:
    """The median box error (at 640 input) and score difference a stage is judged by: its matched detections',
    or — where the float model finds fewer than ``FEW_BOXES`` objects — its candidates', anchor by anchor."""
    if shift is not None and shift.candidates and stats.matched + stats.missed < FEW_BOXES:
        return shift.median_px_at_640, shift.median_score_diff
    return _at_640(stats, head), stats.median_score_diff


def _good(stats: MatchStats, head: Head, shift: Shift | None = None) -> bool:
    median, score = _figures(stats, head, shift)
    return stats.all_matched and (median is None or median <= MAX_MEDIAN_PX) and \
        (score is None or score <= MAX_SCORE_DIFF)


SCORE_WEIGHT = 100.0  # px at 640 per unit of median score difference: MAX_SCORE_DIFF weighs as 2 px


def badness(stats: MatchStats, head: Head, shift: Shift | None = None) -> float:
    """One number to compare detections against the float model's by (lower is better): each missed or extra
    detection outweighs any box error; then the median box error at 640 input and the median score difference,
    a score 0.1 off as 10 px. Scores off by tenths cross the threshold on other images (nudenet's YOLOv8n at 8
    bits: scores 0.43 off on the one box measured, both boxes of its test photos missed), where a few pixels of
    one box are noise. With few boxes, the medians are the candidates' (``shift``, anchor by anchor)."""
    median, score = _figures(stats, head, shift)
    return (stats.missed + stats.extra) * 1000 + (median or 0.0) + SCORE_WEIGHT * (score or 0.0)


def _stages(model: onnx.ModelProto, head: Head) -> list[tuple[str, list[str]]]:
    """The tensors of each stage: the head's outputs (ONNX Runtime's mixed-precision pass then converts the
    parts they join, each quantized at its own range); then also the score activations feeding them (a
    Sigmoid or Softmax output, the values thresholds cut). Tensors further up the box decode stay 8-bit:
    on the NPU 16-bit scores and convolutions depart from the CPU's arithmetic (BENCHMARKS.md, "Detection: where
    16 bits hold the boxes"); the decode's constants follow a 16-bit activation (``sixteen_bit_partners``)."""
    made = producers(model.graph)
    outputs = list(head.outputs)
    scores = [t for o in outputs if o in made for t in made[o].input
              if t in made and made[t].op_type in ("Sigmoid", "Softmax")]
    stages = [("the head's outputs, their joined parts quantized apart", outputs)]
    if scores:
        stages.append(("and the score activations", outputs + scores))
    return stages


def _refusal(quant: onnx.ModelProto, target: Target | None) -> str | None:
    """Why the NPU of ``target`` cannot run ``quant`` fully (None: it can, or no NPU target to ask)."""
    if target is None or not target.is_qnn:
        return None
    try:
        create_session(quant, replace(target, allow_fallback=False))
    except OnnpuError as exc:
        return str(exc).splitlines()[0][:200]
    return None


def boxes_to_keep(float_model: onnx.ModelProto, feeds: Sequence[Mapping[str, np.ndarray]],
                  calibration: Sequence[Mapping[str, np.ndarray]], config: QuantizeConfig,
                  target: Target | None = None) -> tuple[list[str], DetectionQuantReport] | None:
    """The activations a detector needs in 16 bits, by measurement on ``feeds`` (nearest rounding, exact QDQ
    arithmetic), with the report of each stage tried; None for a model that is not a detector. A stage the NPU
    of ``target`` cannot run fully (some HTPs build no 16-bit Concat with a constant part) is not taken."""
    head = detection_head_of(float_model)
    if head is None or not feeds:
        return None
    feeds = list(feeds[:MEASURE_IMAGES])
    float_outputs = run_on_cpu(float_model, feeds, exact=False)
    reference = detections_of(head, float_outputs, len(feeds))
    resolved, _ = resolve_config(float_model, config)
    nearest = replace(config, rounding="nearest")
    report = DetectionQuantReport(head.describe(), "8-bit", [], None, images=len(feeds), input_size=head.input_size,
                                  boxes=sum(len(found.boxes) for found in reference))
    best: tuple[float, list[str], str] | None = None
    if resolved.activations == "u16":  # W8A16 asked for (or a transformer's): every activation is 16-bit already
        stages: list[tuple[str, list[str]]] = [(W8A16_RECIPE, [])]
    else:
        stages = [(EIGHT_BIT_RECIPE, []), *_stages(float_model, head)]
    if config.activations == "auto" and resolved.activations != "u16":  # never against an asked-for u8
        stages.append((EVERY_ACTIVATION, []))
    plain: onnx.ModelProto | None = None
    few = report.boxes < FEW_BOXES  # the stages are judged on the candidates too
    for stage, names in stages:
        if stage == EVERY_ACTIVATION:  # the backbone loses the boxes too: 16 bits everywhere (W8A16), if it pays
            assert plain is not None
            names = quantized_activations(float_model, plain)
        progress.note(f"detection head: measuring {stage} ({len(names)} tensors in 16 bits)")
        quant = quantize_qdq_model(float_model, calibration, nearest, sixteen_bit=names)
        if not names:
            plain = quant
        refused = _refusal(quant, target) if names else None
        if refused:
            report.stages.append((stage, len(names), f"not taken: the NPU refuses it ({refused})"))
            continue
        outputs = run_on_cpu(quant, feeds, exact=True)
        stats = match_detections(reference, detections_of(head, outputs, len(feeds)))
        shift = candidate_shift(head, float_outputs, outputs, len(feeds)) if few else None
        if not names:
            report.plain = stats
        median = _at_640(stats, head)
        report.stages.append((stage, len(names), stats.describe()
                              + (f" (median {median:.2f} px at 640)" if median is not None else "")
                              + (f"; median score difference {stats.median_score_diff:.3f}"
                                 if stats.median_score_diff is not None else "")
                              + (f"; {shift.describe()}" if shift is not None else "")))
        score = badness(stats, head, shift)
        if best is None or score < best[0]:
            best = (score, names, stage)
            report.chosen, report.chosen_shift = stats, shift
        if _good(stats, head, shift):
            break
    assert best is not None
    report.sixteen_bit, report.stage = best[1], best[2]
    return best[1], report


def detection_report(float_model: onnx.ModelProto, quant_model: onnx.ModelProto,
                     feeds: Sequence[Mapping[str, np.ndarray]], report: DetectionQuantReport) -> None:
    """The written model's detections against the float model's: box error, matched / missed / extra, and the
    mAP of its detections scored against the float model's (100 = the same detections)."""
    head = detection_head_of(float_model)
    if head is None or not feeds:
        return
    feeds = list(feeds[:MEASURE_IMAGES])
    float_outputs = run_on_cpu(float_model, feeds, exact=False)
    outputs = run_on_cpu(quant_model, feeds, exact=True)
    reference = detections_of(head, float_outputs, len(feeds))
    found = detections_of(head, outputs, len(feeds))
    report.kept = match_detections(reference, found)
    report.kept_shift = candidate_shift(head, float_outputs, outputs, len(feeds)) if report.boxes < FEW_BOXES \
        else None
    truth = {"images": [{"id": k + 1, "file_name": str(k), "width": head.input_size[1],
                         "height": head.input_size[0]} for k in range(len(feeds))],
             "annotations": [{"id": j + 1, **r, "area": r["bbox"][2] * r["bbox"][3], "iscrowd": 0}
                             for j, r in enumerate(coco_results(reference, categories={}))],
             "categories": [{"id": c, "name": str(c)} for c in range(max(1, head.num_classes))]}
    for a in truth["annotations"]:
        a.pop("score", None)
    if truth["annotations"]:
        try:
            report.map_vs_float = evaluate_coco(truth, coco_results(found, categories={})).map
        except InputDataError:  # no COCO evaluator installed: the other numbers stand
            report.map_vs_float = None


def on_device(head: Head, reference: Mapping[str, list[np.ndarray]], device: Mapping[str, list[np.ndarray]],
              where: str, report: Mapping[str, Any], activations: str) -> tuple[dict[str, Any], str | None]:
    """The written model's detections on the NPU (``device`` outputs, float) against the float model's
    (``reference``) on the same inputs, and a warning when the NPU misses or adds detections, or its median box
    error is over ``MAX_MEDIAN_PX`` at 640 input: its integer arithmetic departs from the exact CPU QDQ arithmetic
    ``boxes_to_keep`` measured (one-step differences grow through a network), which 8-bit score outputs turn into
    boxes crossing the threshold."""
    count = min(len(next(iter(reference.values()), [])), len(next(iter(device.values()), [])))
    stats = match_detections(detections_of(head, reference, count), detections_of(head, device, count))
    median = _at_640(stats, head)
    found = stats.to_dict() | {"median_box_error_px_at_640": median, "inputs": count, "target": where}
    if stats.all_matched and (median is None or median <= MAX_MEDIAN_PX):
        return found, None
    cpu = report.get("kept") or {}
    text = (f"on the NPU ({where}) the detections depart from the float model's: {stats.describe()}"
            + (f" ({median:.2f} px at 640)" if median is not None else "")
            + f" on {count} input{'s' if count != 1 else ''}"
            + (f" (CPU QDQ: {cpu.get('matched')} matched, {cpu.get('missed')} missed, {cpu.get('extra')} extra)"
               if cpu else ""))
    if activations == "u8":
        text += "; 16-bit activations (`--activations u16`, W8A16) hold a detector's scores and boxes on the HTP"
    return found, text
