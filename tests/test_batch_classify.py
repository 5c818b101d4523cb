from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models
from onnpu import get_target
from onnpu.cli import main
from onnpu.vision.folder import classify_folder, collect_images
from onnpu.vision.preprocess import PreprocessConfig
from onnpu.zoo.photos import write_photo_set

CFG = PreprocessConfig(resize="crop", crop_ratio=1.0, scaling="imagenet")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "dump"
    write_photo_set(root / "a", 6, ((1920, 1080), (640, 480)))
    write_photo_set(root / "b" / "c", 3, ((800, 600),), seed=1)
    (root / "notes.txt").write_text("not an image")
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    return root


def test_collect_recursive_sorted_with_globs(folder: Path) -> None:
    images, others = collect_images([folder])
    assert [p.name for p in others] == ["notes.txt"]
    assert len(images) == 10 and images == sorted(images)
    globbed, _ = collect_images([str(folder / "a" / "*.jpg")])
    assert len(globbed) == 6


def test_streams_csv_and_resumes(folder: Path, tmp_path: Path) -> None:
    model = models.save(models.classifier(), tmp_path / "cls.onnx")
    out = tmp_path / "results.csv"
    summary = classify_folder([folder], model, get_target("cpu"), output=out, preprocess=CFG, top=3)
    assert (summary.classified, summary.failed, summary.skipped_non_images) == (9, 1, 1)
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 10 and sum(r["status"] == "ok" for r in rows) == 9
    assert next(r for r in rows if r["status"] != "ok")["image"].endswith("broken.jpg")
    # an interrupted run: keep the header and 4 rows, then resume
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:5]) + "\n")
    again = classify_folder([folder], model, get_target("cpu"), output=out, preprocess=CFG, top=3, resume=True)
    assert again.resumed == 4 and again.classified + again.failed == 6
    assert [r["image"] for r in csv.DictReader(out.read_text().splitlines())] == [r["image"] for r in rows]


def test_pipelined_results_match_one_by_one(folder: Path, tmp_path: Path) -> None:
    from onnpu import classify

    model = models.save(models.classifier(), tmp_path / "cls.onnx")
    got: dict[str, int] = {}
    classify_folder([folder / "a"], model, get_target("cpu"), preprocess=CFG, workers=3, draft=False,
                    on_result=lambda image, top, error: got.__setitem__(image, top[0][0] if top else -1))
    images = sorted((folder / "a").iterdir())
    ref = classify(images, model, get_target("cpu"), preprocess=CFG)
    assert [got[str(p)] for p in images] == [r.top[0].index for r in ref.images]


def test_batch_inference_matches_batch_one(folder: Path, tmp_path: Path) -> None:
    model = models.save(models.classifier(batch="N"), tmp_path / "cls.onnx")
    one: dict[str, list[float]] = {}
    four: dict[str, list[float]] = {}
    for store, batch in ((one, 1), (four, 4)):
        classify_folder([folder], model, get_target("cpu"), preprocess=CFG, batch=batch,
                        on_result=lambda image, top, error, s=store: s.__setitem__(image, [t[2] for t in top or []]))
    assert one.keys() == four.keys()
    for image in one:
        np.testing.assert_allclose(one[image], four[image], atol=1e-5)


def test_cli_jsonl_and_warning(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = models.save(models.classifier(), tmp_path / "cls.onnx")
    out = tmp_path / "r.jsonl"
    assert main(["classify", str(folder), "--model", str(model), "-o", str(out), "--scaling", "imagenet"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 non-image file" in captured.err and "9 classified, 1 unreadable" in captured.out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 10 and "error" in next(r for r in records if "broken" in r["image"])
    shutil.rmtree(folder)
    assert main(["classify", str(folder), "--model", str(model)]) == 1
    assert "no such image file" in capsys.readouterr().err


def test_truncated_camera_jpeg_is_reported_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    [path] = write_photo_set(root, 1, ((1920, 1080),))
    data = path.read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.new("L", (50, 40), 128).save(root / "gray.png")
    model = models.save(models.classifier(), tmp_path / "cls.onnx")
    summary = classify_folder([root], model, get_target("cpu"), preprocess=CFG)
    assert (summary.classified, summary.failed) == (2, 1)
