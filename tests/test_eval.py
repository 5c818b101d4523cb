"""``onnpu eval`` on a small labelled set made here: JPEG crops of the photos scikit-image and matplotlib ship,
labelled with the float classifier's own answers (its top-1, and for every fourth image its second choice, so
top-1 < top-5 = 100 % for the float model). The quantized twin (uint8 I/O) answers differently on some; every
figure is checked against `onnpu classify` run independently on the same images."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import models
from onnpu import get_target, jsonio
from onnpu.cli import main
from onnpu.evaluation.dataset import read_list
from onnpu.evaluation.run import evaluate
from onnpu.vision.classify import classify
from onnpu.zoo.photos import write_photo_set

NAMES = [f"class_{c}" for c in "abcdefghij"]
COUNT = 16


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("eval")
    float_model = models.save(models.classifier(10, 32), base / "float.onnx")
    quant_model = models.save(models.classifier(10, 32, uint8_io=True), base / "quant.onnx")
    labels = base / "labels.txt"
    labels.write_text("\n".join(NAMES) + "\n")
    photos = write_photo_set(base / "photos", COUNT, ((96, 96), (120, 80)))
    cpu = get_target("cpu")
    ref = classify(photos, float_model, cpu, labels=labels, top=5)
    quant = classify(photos, quant_model, cpu, labels=labels, top=5)
    root = base / "tree"
    truth = {}
    for k, (photo, answer) in enumerate(zip(photos, ref.images, strict=True)):
        label = answer.top[1 if k % 4 == 0 else 0].label
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, root / label / photo.name)
        truth[str(root / label / photo.name)] = label
    quant_top1 = {Path(i.image).name: i.top[0].label for i in quant.images}
    ref_top1 = {Path(i.image).name: i.top[0].label for i in ref.images}
    return {"float": float_model, "quant": quant_model, "labels": labels, "root": root, "truth": truth,
            "quant_top1": quant_top1, "ref_top1": ref_top1, "base": base}


def _expected(data: dict[str, object]) -> tuple[float, float, int]:
    truth: dict[str, str] = data["truth"]  # type: ignore[assignment]
    q: dict[str, str] = data["quant_top1"]  # type: ignore[assignment]
    r: dict[str, str] = data["ref_top1"]  # type: ignore[assignment]
    ref_top1 = np.mean([r[Path(p).name] == label for p, label in truth.items()])
    quant_top1 = np.mean([q[Path(p).name] == label for p, label in truth.items()])
    changed = sum(q[name] != r[name] for name in r)
    return float(ref_top1), float(quant_top1), changed


def test_figures_match_classify(labelled: dict[str, object]) -> None:
    result = evaluate([labelled["quant"], labelled["float"]], labelled["root"], [get_target("cpu")],  # type: ignore
                      labels=labelled["labels"], workers=1)  # type: ignore[arg-type]
    ref_top1, quant_top1, changed = _expected(labelled)
    assert ref_top1 == 12 / 16  # every fourth image is labelled with the float model's second choice
    ref, quant = result.reference, next(r for r in result.rows if not r.reference)
    assert ref.label == "float.onnx on cpu" and ref.top1 == ref_top1 and ref.top5 == 1.0
    assert quant.top1 == pytest.approx(quant_top1)
    assert len(result.changed) == changed > 0
    d = quant.versus_reference
    assert d is not None and d.delta == pytest.approx(quant_top1 - ref_top1)
    assert d.low <= d.delta <= d.high and 0 < d.p_value <= 1
    assert result.evaluated == COUNT and not result.skipped and result.engine["engine"] == "in-process"
    for c in result.changed:
        assert c.reference_answer == labelled["ref_top1"][Path(c.image).name]  # type: ignore[index]
        assert c.answer == labelled["quant_top1"][Path(c.image).name]  # type: ignore[index]


def _comparable(doc: dict[str, object]) -> str:
    """The result without what may differ between engines: timing and the engine itself."""
    doc = dict(doc)
    for key in ("engine", "seconds", "images_per_s"):
        doc.pop(key)
    for row in doc["rows"]:  # type: ignore[attr-defined]
        row.pop("session_seconds")
    return jsonio.dumps(doc)


def test_worker_processes_give_the_same_result(labelled: dict[str, object]) -> None:
    args = ([labelled["float"], labelled["quant"]], labelled["root"], [get_target("cpu")])
    one = evaluate(*args, labels=labelled["labels"], workers=1)  # type: ignore[arg-type]
    two = evaluate(*args, labels=labelled["labels"], workers=2)  # type: ignore[arg-type]
    assert (two.engine["engine"], two.engine["workers"], one.engine["engine"]) == ("processes", 2, "in-process")
    assert two.engine["steady_images_per_s"] is None or two.engine["steady_images_per_s"] > 0
    assert _comparable(two.to_dict()) == _comparable(one.to_dict())


def test_lists_give_the_same_result_as_the_tree(labelled: dict[str, object]) -> None:
    base: Path = labelled["base"]  # type: ignore[assignment]
    truth: dict[str, str] = labelled["truth"]  # type: ignore[assignment]
    rows = sorted(truth.items())
    with (base / "list.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        writer.writerows((str(Path(p).relative_to(base)), NAMES.index(label) if k % 2 else label)
                         for k, (p, label) in enumerate(rows))  # class names or class numbers
    (base / "list.jsonl").write_text("".join(json.dumps({"path": p, "label": label}) + "\n" for p, label in rows))
    args = ([labelled["float"], labelled["quant"]],)
    tree = evaluate(*args, labelled["root"], [get_target("cpu")], labels=labelled["labels"], workers=1)  # type: ignore
    for name in ("list.csv", "list.jsonl"):
        listed = evaluate(*args, base / name, [get_target("cpu")], labels=labelled["labels"], workers=1)  # type: ignore
        assert [(r.top1, r.top5) for r in listed.rows] == [(r.top1, r.top5) for r in tree.rows]
        assert len(listed.changed) == len(tree.changed)


def test_cli_bad_data_is_said_counted_and_the_run_goes_on(labelled: dict[str, object], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "tree"
    shutil.copytree(labelled["root"], root)  # type: ignore[arg-type]
    (root / "zebra").mkdir()
    shutil.copy(next((root / NAMES[0]).iterdir()) if (root / NAMES[0]).exists() else next(root.rglob("*.jpg")),
                root / "zebra" / "z.jpg")
    some_class = next(p for p in root.iterdir() if p.is_dir() and p.name != "zebra")
    (some_class / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)
    (some_class / "notes.txt").write_text("not an image")
    report = tmp_path / "report"
    code = main(["eval", str(labelled["float"]), str(labelled["quant"]), "--data", str(root), "--labels",
                 str(labelled["labels"]), "--workers", "1", "--json", "--report", str(report)])
    captured = capsys.readouterr()
    assert code == 5  # ExitCode.PARTIAL: some images could not be used, the rest were evaluated
    doc = jsonio.loads(captured.out)
    assert doc["schema"] == "onnpu.eval/1" and doc["evaluated"] == COUNT
    assert doc["skipped"] == {"not an image file": 1, "label matches no class": 1, "unreadable image": 1}
    assert doc["unmatched_classes"] == {"zebra": 1}
    assert "class 'zebra' matches no class" in captured.err and "broken.jpg" in captured.err
    assert jsonio.loads((report / "report.json").read_text())["rows"] == doc["rows"]
    page = (report / "report.html").read_text()
    assert "data:image/png;base64," in page and "Changed answers" in page
    assert (report / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_table(labelled: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(labelled["float"]), str(labelled["quant"]), "--data", str(labelled["root"]),
                 "--labels", str(labelled["labels"]), "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "float.onnx on cpu" in out and "reference" in out and "top-1 answers changed" in out


@pytest.mark.parametrize("argv, message", [
    (["--data", "/nonexistent/data"], "no such folder or file"),
    (["--targets", "tpu"], "unknown target"),
])
def test_bad_arguments_are_one_error_line(labelled: dict[str, object], argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval", str(labelled["float"]), "--data", str(labelled["root"])]
    code = main(base + argv)
    err = capsys.readouterr().err
    assert code == 1 and message in err and "hint:" in err and "Traceback" not in err


def test_no_matching_class_is_an_error(labelled: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(labelled["float"]), "--data", str(labelled["root"])])  # no --labels: "class 3"…
    err = capsys.readouterr().err
    assert code == 1 and "none of the labels matches a class" in err


@pytest.mark.npu
@pytest.mark.zoo
def test_npu_row_on_the_builtin_model(zoo_model, photos: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """EfficientNet-Lite0 float and QDQ on four shipped photos, labelled with the float model's answers (its
    ImageNet class names as folder names): the NPU row (HTP emulator) agrees with `onnpu classify` on the NPU."""
    cpu, npu = get_target("cpu"), get_target("npu")
    images = list(photos.values())
    ref = classify(images, zoo_model.float_model, cpu, top=1)
    root = tmp_path / "tree"
    for path, answer in zip(images, ref.images, strict=True):
        (root / answer.top[0].label).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / answer.top[0].label / path.name)
    result = evaluate([zoo_model.float_model, zoo_model.quantized_model], root, [cpu, npu], workers=1)
    assert [r.label for r in result.rows] == ["efficientnet-lite0.onnx on cpu", "efficientnet-lite0.qdq.onnx on cpu",
                                              "efficientnet-lite0.qdq.onnx on npu"]
    assert result.reference.top1 == 1.0 and result.classes == 1000
    on_npu = classify(sorted(root.rglob("*.*")), zoo_model.quantized_model, npu, top=1)
    truth = {Path(i.image).name: Path(i.image).parent.name for i in on_npu.images}
    expected = np.mean([i.top[0].label == truth[Path(i.image).name] for i in on_npu.images])
    assert result.rows[2].top1 == pytest.approx(expected)
    assert "NPU" in str(result.rows[2].session["placement"]) or "HTP" in str(result.rows[2].session["placement"])


def test_csv_rows_without_path_or_label_are_counted_not_dropped(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """An empty line is nothing; a row of empty cells (``,,``), a path without a label or a label without a path
    is a row that cannot be used: counted in ``skipped`` and said on stderr with its line number."""
    listed = tmp_path / "list.csv"
    listed.write_text("path,label\na.jpg,cat\n\n,,\nb.jpg,\n,dog\n  \nc.jpg,dog\n")
    found = read_list(listed)
    assert [label for _, label in found.items] == ["cat", "dog"]
    assert found.skipped == {"row without a path and a label": 3}
    assert all(f"list.csv:{n}: no path and label" in caplog.text for n in (4, 5, 6))
