"""``detect --eval``: COCO mAP with the kept evaluator (faster-coco-eval, checked against pycocotools on the
same data), class → category mapping, box-by-box matching between two runs, and the verb on the synthetic
labelled scenes (``detect_models``: boxes known by construction): float and quantized, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import detect_models as dm
from onnpu import jsonio
from onnpu.cli import main
from onnpu.errors import ExitCode
from onnpu.vision.detection.coco import COCO80_TO_91
from onnpu.vision.detection.evaluate import category_map, evaluate_coco, load_annotations
from onnpu.vision.detection.matching import match_detections
from onnpu.vision.detection.results import Box, ImageDetections, detection_labels


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    folder = root / "images"
    folder.mkdir()
    _, gt = dm.write_scenes(folder)
    gt = gt.rename(root / "annotations.json")
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.pipeline import quantize

    float_model = dm.save(dm.square_detector(), root / "det.onnx")
    quantize(float_model, root / "det.qdq.onnx", str(folder), config=QuantizeConfig(rounding="nearest"))
    return {"root": root, "folder": folder, "gt": gt, "float": float_model, "qdq": root / "det.qdq.onnx"}


def _results(gt: dict, shift: float = 0.0, drop: int = 0) -> list[dict]:  # type: ignore[type-arg]
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 0.9,
             "bbox": [a["bbox"][0] + shift, a["bbox"][1], a["bbox"][2], a["bbox"][3]]}
            for a in gt["annotations"][drop:]]


def test_map_of_perfect_shifted_and_missing_boxes(scenes: dict[str, Path]) -> None:
    gt = load_annotations(scenes["gt"])
    assert evaluate_coco(gt, _results(gt)).map == pytest.approx(1.0)
    shifted = evaluate_coco(gt, _results(gt, shift=4.0))  # IoU 192/320 = 0.6: a match at .5, .55, .6 of ten
    assert shifted.map50 == pytest.approx(1.0) and shifted.map == pytest.approx(0.3, abs=1e-6)
    assert evaluate_coco(gt, _results(gt, drop=3)).map50 < 0.9
    assert evaluate_coco(gt, []).map == 0.0


def test_the_kept_evaluator_agrees_with_pycocotools(scenes: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    gt = load_annotations(scenes["gt"])
    rng = np.random.default_rng(0)
    results = [{**r, "score": float(rng.uniform()), "bbox": [v + float(rng.normal(0, 2)) for v in r["bbox"]]}
               for r in _results(gt) * 3]
    fast = evaluate_coco(gt, results)
    real_import = builtins.__import__

    def no_faster(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.startswith("faster_coco_eval"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faster)
    slow = evaluate_coco(gt, results)
    assert (fast.evaluator, slow.evaluator) == ("faster-coco-eval", "pycocotools")
    assert fast.map == pytest.approx(slow.map, abs=1e-9) and fast.map50 == pytest.approx(slow.map50, abs=1e-9)


def test_classes_map_to_categories() -> None:
    coco = {"categories": [{"id": i, "name": n} for i, n in zip(COCO80_TO_91, detection_labels(None, 80),
                                                                 strict=True)]}
    assert category_map(coco, detection_labels(None, 80), 80)[79] == 90
    named = {"categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]}
    assert category_map(named, ["cat", "dog"], 2) == {0: 3, 1: 7}
    assert category_map(named, ["a", "b"], 2) == {0: 3, 1: 7}  # by order of id


def test_matching_counts_missed_extra_and_pixel_error() -> None:
    ref = [ImageDetections("a", 100, 100, [Box(0, "x", 0.9, (10, 10, 50, 50)), Box(1, "y", 0.8, (60, 60, 90, 90))])]
    cand = [ImageDetections("a", 100, 100, [Box(0, "x", 0.8, (11, 10, 50, 52)), Box(0, "x", 0.7, (60, 60, 90, 90))])]
    stats = match_detections(ref, cand)
    assert (stats.matched, stats.missed, stats.extra) == (1, 1, 1)  # another class is no match
    assert stats.median_box_error_px == 2.0


def test_eval_float_and_quantized_side_by_side(scenes: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["detect", str(scenes["folder"]), "--eval", str(scenes["gt"]), "--model", str(scenes["float"]),
                 "--model", str(scenes["qdq"]), "--json"])
    assert code == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["schema"] == "onnpu.detect-eval/1" and data["images"] == 4 and data["annotated_boxes"] == 6
    first, second = data["cells"]
    assert first["scores"]["map"] == pytest.approx(1.0) and second["scores"]["map50"] == pytest.approx(1.0)
    assert second["versus_reference"]["matched"] == 6 and second["versus_reference"]["missed"] == 0
    assert first["scores"]["evaluator"] == "faster-coco-eval"


def test_eval_refuses_images_it_cannot_find(scenes: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    gt = json.loads(scenes["gt"].read_text())
    gt["images"][0]["file_name"] = "elsewhere.png"
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    code = main(["detect", str(scenes["folder"]), "--eval", str(tmp_path / "gt.json"), "--model", str(scenes["float"])])
    assert code == ExitCode.ERROR
    assert "1 of the 4 annotated images are not in" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"images": 3}')
    assert main(["detect", str(scenes["folder"]), "--eval", str(tmp_path / "bad.json"), "--model",
                 str(scenes["float"])]) == ExitCode.ERROR
    assert "not COCO annotations" in capsys.readouterr().err
