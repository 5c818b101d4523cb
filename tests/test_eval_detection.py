"""``onnpu eval --annotations``: detectors on COCO-annotated images (the synthetic scenes of ``detect_models``,
boxes known by construction), float and quantized: the mAP of each row is ``detect --eval``'s for the same model
and target, each difference comes with its paired-bootstrap interval, and a file that is not COCO is one error."""

from __future__ import annotations

from pathlib import Path

import pytest

import detect_models as dm
from onnpu import get_target, jsonio
from onnpu.cli import main
from onnpu.evaluation.detection import map_difference
from onnpu.vision.detection.eval_run import evaluate_detectors
from onnpu.vision.detection.evaluate import load_annotations


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval-detection")
    folder = root / "images"
    folder.mkdir()
    _, gt = dm.write_scenes(folder)
    gt = gt.rename(root / "annotations.json")
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.pipeline import quantize

    float_model = dm.save(dm.square_detector(), root / "det.onnx")
    quantize(float_model, root / "det.qdq.onnx", str(folder), config=QuantizeConfig(rounding="nearest"))
    return {"folder": folder, "gt": gt, "float": float_model, "qdq": root / "det.qdq.onnx"}


def test_map_rows_match_detect_eval(scenes: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(scenes["float"]), str(scenes["qdq"]), "--data", str(scenes["folder"]), "--annotations",
                 str(scenes["gt"]), "--json"])
    doc = jsonio.loads(capsys.readouterr().out)
    assert code == 0 and doc["schema"] == "onnpu.eval-detection/1" and doc["images"] == 4
    ref, quant = doc["rows"]
    assert (ref["label"], ref["reference"], quant["label"]) == ("det.onnx on cpu", True, "det.qdq.onnx on cpu")
    theirs = evaluate_detectors(scenes["folder"], scenes["gt"], [scenes["float"], scenes["qdq"]], [get_target("cpu")])
    assert [ref["map"], quant["map"]] == [c.scores.map for c in theirs.cells if c.scores]
    assert ref["map"] > 0.5
    d = quant["versus_reference"]
    assert d["delta"] == pytest.approx(quant["map"] - ref["map"]) and d["low"] <= d["delta"] <= d["high"]


def test_identical_detections_differ_by_nothing(scenes: dict[str, Path]) -> None:
    gt = load_annotations(scenes["gt"])
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 0.9, "bbox": a["bbox"]}
               for a in gt["annotations"]]
    d = map_difference(gt, results, results, [i["id"] for i in gt["images"]], 0.0, resamples=20)
    assert (d["low"], d["high"]) == (0.0, 0.0)


def test_annotations_that_are_not_coco_are_one_error(scenes: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text('{"images": []}')
    code = main(["eval", str(scenes["float"]), "--data", str(scenes["folder"]), "--annotations",
                 str(tmp_path / "bad.json")])
    err = capsys.readouterr().err
    assert code == 1 and "not COCO annotations" in err and "hint:" in err


def test_report_folder_for_detection(scenes: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--report DIR with --annotations: the JSON document, Markdown, a PNG plot and one HTML page, all or nothing."""
    report = tmp_path / "report"
    code = main(["eval", str(scenes["float"]), str(scenes["qdq"]), "--data", str(scenes["folder"]), "--annotations",
                 str(scenes["gt"]), "--report", str(report)])
    shown = capsys.readouterr().out
    assert code == 0 and f"report: {report / 'report.html'}" in shown.replace("\n", "")
    assert sorted(p.name for p in report.iterdir()) == ["map.png", "report.html", "report.json", "report.md"]
    doc = jsonio.loads((report / "report.json").read_text())
    assert doc["schema"] == "onnpu.eval-detection/1" and [r["label"] for r in doc["rows"]] == [
        "det.onnx on cpu", "det.qdq.onnx on cpu"]
    assert (report / "map.png").read_bytes().startswith(b"\x89PNG")
    page = (report / "report.html").read_text()
    assert "det.qdq.onnx on cpu" in page and "data:image/png;base64," in page
    md = (report / "report.md").read_text()
    assert f"| det.onnx on cpu | {doc['rows'][0]['map']:.4f} |" in md
    # an existing file as the report folder is refused before any work
    (tmp_path / "file").write_text("x")
    assert main(["eval", str(scenes["float"]), "--data", str(scenes["folder"]), "--annotations", str(scenes["gt"]),
                 "--report", str(tmp_path / "file")]) == 1
    assert "--report" in capsys.readouterr().err
