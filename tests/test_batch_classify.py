from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models
from onnpu import get_target, jsonio
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


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_resume_repairs_a_cut_line_and_retries_failures(folder: Path, tmp_path: Path, suffix: str) -> None:
    model = models.save(models.classifier(), tmp_path / "cls.onnx")
    out = tmp_path / f"results{suffix}"
    first = classify_folder([folder], model, get_target("cpu"), output=out, preprocess=CFG, top=3)
    assert (first.classified, first.failed) == (9, 1)
    complete = out.read_bytes()
    lines = complete.splitlines(keepends=True)
    broken = next(i for i, line in enumerate(lines) if b"broken.jpg" in line)
    # the interruption cut the file in the middle of a row (the last kept row, after the failed one)
    cut_at = max(broken + 2, 5)
    out.write_bytes(b"".join(lines[:cut_at]) + lines[cut_at][:17])
    (folder / "b" / "broken.jpg").write_bytes((folder / "a").glob("*.jpg").__next__().read_bytes())  # fixed now
    again = classify_folder([folder], model, get_target("cpu"), output=out, preprocess=CFG, top=3, resume=True)
    header = 1 if suffix == ".csv" else 0
    kept = cut_at - header - 1  # complete rows, less the failed one
    assert again.resumed == kept and (again.classified, again.failed) == (10 - kept, 0)
    if suffix == ".csv":
        rows = list(csv.DictReader(out.read_text().splitlines()))
    else:
        rows = [jsonio.loads(line) for line in out.read_text().splitlines()]  # every line parses
    images = [r["image"] for r in rows]
    assert sorted(images) == sorted(set(images)) and len(images) == 10  # one row per image, none cut
    assert all((r["status"] == "ok") if suffix == ".csv" else ("top" in r) for r in rows)


def test_resume_refuses_a_file_written_with_other_settings(folder: Path, tmp_path: Path) -> None:
    from onnpu.errors import OutputError
    from onnpu.vision.results import record_path

    model = models.save(models.classifier(), tmp_path / "cls.onnx")
    other = models.save(models.classifier(size=24), tmp_path / "other.onnx")
    out = tmp_path / "r.csv"
    classify_folder([folder / "a"], model, get_target("cpu"), output=out, preprocess=CFG, top=3)
    before = out.read_bytes()
    cases = [({"model": other}, r"another model \(.*cls.onnx then, .*other.onnx now\)"),
             ({"top": 5}, r"top-k \(3 then, 5 now\)"),
             ({"preprocess": PreprocessConfig(resize="resize", scaling="imagenet")}, "preprocessing"),
             ({"draft": False}, r"JPEG draft decoding \(True then, False now\)")]
    for change, message in cases:
        kwargs = {"model": model, "top": 3, "preprocess": CFG, **change}
        with pytest.raises(OutputError, match=message):
            classify_folder([folder / "a"], kwargs.pop("model"), get_target("cpu"), output=out, resume=True,
                            **kwargs)
        assert out.read_bytes() == before
    models.save(models.classifier(classes=10, size=32, batch=1), model)  # same bytes: still resumable
    classify_folder([folder / "a"], model, get_target("cpu"), output=out, preprocess=CFG, top=3, resume=True)
    record_path(out).unlink()
    with pytest.raises(OutputError, match="nothing records which model and settings wrote it"):
        classify_folder([folder / "a"], model, get_target("cpu"), output=out, preprocess=CFG, top=3, resume=True)


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
    # one image cannot be read, the nine others are classified: a partial result (exit 5)
    assert main(["classify", str(folder), "--model", str(model), "-o", str(out), "--scaling", "imagenet"]) == 5
    captured = capsys.readouterr()
    assert "warning: skipped 1 non-image file" in captured.err and "9 classified, 1 unreadable" in captured.out
    records = [jsonio.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 10 and "error" in next(r for r in records if "broken" in r["image"])
    # without -o, one line per image on stdout with every one of the --top classes
    assert main(["classify", str(folder / "a"), "--model", str(model), "--top", "3", "--dim", "N=1"]) == 0
    lines = capsys.readouterr().out.splitlines()[:-1]  # the last line is the summary
    assert len(lines) == 6 and all(len(line.split("\t")) == 1 + 3 * 3 for line in lines)
    first = lines[0].split("\t")
    assert first[0].endswith(".jpg") and float(first[3]) >= float(first[6]) >= float(first[9])
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
