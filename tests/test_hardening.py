"""Hardening round two: outputs never written through links or over the command's inputs, special files
refused by name, labels JSON of every bad shape, two writers of one output. Each case: one `error:` line with
a `hint:`, a non-zero exit, and the files that must survive hashed before and after."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

import models
from onnpu.cli import main
from onnpu.errors import OutputError
from onnpu.model.files import read_model, write_model


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code != 0, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "hint:" in err and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def folder_of_images(tmp_path: Path) -> tuple[Path, Path]:
    model = models.save(models.classifier(classes=4, size=32), tmp_path / "m.onnx")
    images = tmp_path / "images"
    images.mkdir()
    for k in range(3):
        Image.new("RGB", (40, 30), (40 * k, 90, 200)).save(images / f"p{k}.png")
    return model, images


def test_results_never_written_through_a_symlink(tmp_path: Path, folder_of_images: tuple[Path, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model, images = folder_of_images
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    code = main(["classify", str(images), "--model", str(model), "--target", "cpu", "-o", str(link)])
    one_error(capsys, code, "symbolic link")
    assert victim.read_text() == "precious\n" and link.is_symlink()


def test_run_output_never_replaces_a_link_or_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = models.save(models.float_conv(), tmp_path / "m.onnx")
    before = digest(model)
    code = main(["run", str(model), "--target", "cpu", "--random", "-o", str(model)])
    one_error(capsys, code, "input")
    assert digest(model) == before
    victim = tmp_path / "victim.npz"
    victim.write_bytes(b"keep")
    (tmp_path / "link.npz").symlink_to(victim)
    code = main(["run", str(model), "--target", "cpu", "--random", "-o", str(tmp_path / "link.npz")])
    one_error(capsys, code, "symbolic link")
    assert victim.read_bytes() == b"keep" and (tmp_path / "link.npz").is_symlink()
    (tmp_path / "dir.npz").mkdir()
    code = main(["run", str(model), "--target", "cpu", "--random", "-o", str(tmp_path / "dir.npz")])
    one_error(capsys, code, "folder")
    hard = tmp_path / "hard.npz"  # a second name of the model: caught by its inode
    os.link(model, hard)
    code = main(["run", str(model), "--target", "cpu", "--random", "-o", str(hard)])
    one_error(capsys, code, "input")
    assert digest(model) == before


def _external(tmp_path: Path) -> tuple[Path, Path]:
    model = write_model(models.float_conv(hidden=32), tmp_path / "big.onnx", external_data=True)
    data = next(tmp_path.glob("big.onnx*.data"))
    return model, data


@pytest.mark.parametrize("verb", ["quantize", "fix-shapes"])
def test_output_onto_the_input_external_data_is_refused(verb: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    model, data = _external(tmp_path)
    hashes = (digest(model), digest(data))
    extra = ["--calib", "random"] if verb == "quantize" else ["--dim", "N=1"]
    for force in ([], ["--force"]):
        code = main([verb, str(model), "-o", str(data), *extra, *force])
        one_error(capsys, code, "input")
        assert (digest(model), digest(data)) == hashes
    read_model(model)


def test_labels_are_not_truncated_by_the_results(folder_of_images: tuple[Path, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model, images = folder_of_images
    labels = images.parent / "labels.csv"
    labels.write_text("a\nb\nc\nd\n")
    code = main(["classify", str(images), "--model", str(model), "--target", "cpu", "--labels", str(labels),
                 "-o", str(labels)])
    one_error(capsys, code, "input")
    assert labels.read_text() == "a\nb\nc\nd\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_by_name_without_blocking(tmp_path: Path, folder_of_images: tuple[Path, Path]) -> None:
    model, images = folder_of_images
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)
    labels = tmp_path / "labels.txt"
    os.mkfifo(labels)
    for argv in (["classify", str(fifo), "--model", str(model), "--target", "cpu"],
                 ["classify", str(images / "p0.png"), "--model", str(model), "--target", "cpu",
                  "--labels", str(labels)]):
        done = subprocess.run([sys.executable, "-m", "onnpu", *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert "FIFO" in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_as_input_arrays_or_calibration_is_refused_by_name(tmp_path: Path) -> None:
    """Arrays for --input and samples for --calib: a FIFO (as a file, or inside a samples folder) is named as
    one, never waited on, never reported as missing."""
    model = models.save(models.float_conv(), tmp_path / "m.onnx")
    inputs, calib, folder = tmp_path / "in.npz", tmp_path / "calib.npz", tmp_path / "samples"
    folder.mkdir()
    for fifo in (inputs, calib, folder / "a.npy", tmp_path / "calibfifo"):
        os.mkfifo(fifo)
    out = str(tmp_path / "q.onnx")
    for argv, name in ((["run", str(model), "--input", str(inputs), "--target", "cpu"], inputs),
                       (["quantize", str(model), "-o", out, "--calib", str(calib)], calib),
                       (["quantize", str(model), "-o", out, "--calib", str(folder)], folder / "a.npy"),
                       (["quantize", str(model), "-o", out, "--calib", str(tmp_path / "calibfifo")],
                        tmp_path / "calibfifo")):
        done = subprocess.run([sys.executable, "-m", "onnpu", *argv], capture_output=True, text=True, timeout=120)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 1 and len(errors) == 1, done.stderr
        assert f"{name}: is a FIFO" in errors[0] and "Traceback" not in done.stderr, done.stderr
    assert not Path(out).exists()


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ('{"a": "cat", "b": "dog", "c": "x", "d": "y"}', "not a class index"),
    ("42", "not a list"),
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('[["a"], "b", "c", "d"]', "nested"),
    ('{"0": "a", "1": "b", "2": "c", "7": "d"}', "0 …"),
])
def test_labels_json_of_every_bad_shape(content: str, words: str, folder_of_images: tuple[Path, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    model, images = folder_of_images
    labels = images.parent / "labels.json"
    labels.write_text(content)
    code = main(["classify", str(images / "p0.png"), "--model", str(model), "--target", "cpu",
                 "--labels", str(labels)])
    one_error(capsys, code, words)


def test_two_writers_of_one_model_each_win_whole(tmp_path: Path) -> None:
    """Two models with external data written to one path at once, many times: the file always holds one
    writer's graph with that writer's own weights (without the lock, both picked the same data name)."""
    out = tmp_path / "out.onnx"
    a, b = models.float_conv(hidden=32), models.float_conv(hidden=32)
    for init in b.graph.initializer:
        arr = onnx.numpy_helper.to_array(init) + 1.0
        init.CopyFrom(onnx.numpy_helper.from_array(arr.astype(np.float32), init.name))
    a.doc_string, b.doc_string = "a", "b"  # the graph says which writer it came from, the data must agree
    names = {init.name for init in a.graph.initializer}
    sums = {tag: {i.name: float(onnx.numpy_helper.to_array(i).sum()) for i in m.graph.initializer}
            for tag, m in (("a", a), ("b", b))}
    for _ in range(30):
        threads = [threading.Thread(target=write_model, args=(m, out), kwargs={"external_data": True})
                   for m in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        written = read_model(out)
        got = {i.name: float(onnx.numpy_helper.to_array(i).sum()) for i in written.graph.initializer}
        assert set(got) == names
        assert got == sums[written.doc_string]


def test_a_second_writer_of_one_results_file_is_refused(folder_of_images: tuple[Path, Path]) -> None:
    from onnpu.guards import exclusive_output

    model, images = folder_of_images
    results = images.parent / "r.csv"
    with exclusive_output(results, "results file"):  # as another onnpu process classifying into it
        code = subprocess.run([sys.executable, "-m", "onnpu", "classify", str(images), "--model", str(model),
                               "--target", "cpu", "-o", str(results), "--resume"], capture_output=True, text=True,
                              timeout=120, env={**os.environ})
    assert code.returncode == 1 and "another onnpu process is writing" in code.stderr, code.stderr
    assert not results.exists()
    with pytest.raises(OutputError), exclusive_output(results), exclusive_output(results):
        pass


def test_resume_of_a_finished_file_says_so(folder_of_images: tuple[Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    model, images = folder_of_images
    results = images.parent / "r.jsonl"
    argv = ["classify", str(images), "--model", str(model), "--target", "cpu", "-o", str(results)]
    assert main(argv) == 0
    rows = results.read_text()
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    assert "nothing left to do" in capsys.readouterr().out
    assert results.read_text() == rows
    assert len([json.loads(x) for x in rows.splitlines()]) == 3


def _sparse_model(folder: Path, gib: int) -> Path:
    """A valid model whose external data is a sparse file of ``gib`` GiB (one float tensor, all zeros)."""
    from onnx import TensorProto, helper

    count = (gib << 30) // 4
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[count])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "w.data"), ("offset", "0"), ("length", str(count * 4))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [count])], [weight])
    path = folder / "sparse.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with (folder / "w.data").open("wb") as f:
        f.truncate(count * 4)
    return path


def test_external_data_that_cannot_fit_is_refused_before_reading(tmp_path: Path) -> None:
    model = _sparse_model(tmp_path, 8)
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
            "from onnpu.cli import main\n"
            f"sys.exit(main(['fix-shapes', {str(model)!r}, '-o', {str(tmp_path / 'f.onnx')!r}, '--dim', 'N=8']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 1, done.stderr[-2000:]
    assert "GB of memory" in errors[0] and "ONNPU_MEMORY_CHECK" in done.stderr, done.stderr
    assert not (tmp_path / "f.onnx").exists()


def test_a_graph_over_the_node_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Identity", [f"t{i}"], [f"t{i + 1}"]) for i in range(1200)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("t1200", TensorProto.FLOAT, [1])])
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    monkeypatch.setenv("ONNPU_MAX_NODES", "1000")
    one_error(capsys, main(["run", str(path), "--target", "cpu", "--random"]), "1,200 nodes")
    monkeypatch.setenv("ONNPU_MAX_NODES", "1200")
    assert main(["run", str(path), "--target", "cpu", "--random"]) == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    one_error(capsys, main(["inspect", str(fifo)]), "FIFO")


@pytest.mark.parametrize("folder_mode", [False, True])
def test_detect_outputs_never_replace_the_images(tmp_path: Path, folder_mode: bool,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import detect_models as dm

    images = tmp_path / "imgs"
    images.mkdir()
    dm.write_scenes(images)
    model = dm.save(dm.square_detector(), tmp_path / "det.onnx")
    photos = sorted(images.glob("*.png"))
    before = {p: digest(p) for p in photos}
    source = [str(images)] if folder_mode else [str(photos[0])]
    base = ["detect", *source, "--model", str(model), "--target", "cpu"]
    one_error(capsys, main([*base, "--save", str(images)]), "input images")
    one_error(capsys, main([*base, "--coco-json", str(photos[0])]), "input")
    assert {p: digest(p) for p in photos} == before
