"""Bad model files: each a one-line error naming the file; inputs never modified."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import hostile
import models
from conftest import sha256
from onnpu import ModelError, OutputError, inspect_model
from onnpu.cli import main
from onnpu.model.files import external_data_files, external_tensors, read_model, write_model


def test_truncated_model(tmp_path: Path) -> None:
    good = models.save(models.float_conv(), tmp_path / "good.onnx")
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"truncated\.onnx: not a valid ONNX model"):
        read_model(bad)


def test_not_onnx_and_empty(tmp_path: Path) -> None:
    text = tmp_path / "notes.onnx"
    text.write_text("hello, this is not a model\n" * 20)
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        read_model(text)
    empty = tmp_path / "empty.onnx"
    empty.touch()
    with pytest.raises(ModelError, match=r"empty\.onnx: the file is empty"):
        read_model(empty)
    with pytest.raises(ModelError, match="no such file"):
        read_model(tmp_path / "missing.onnx")


def test_missing_and_short_external_data(tmp_path: Path) -> None:
    path = write_model(models.float_conv(), tmp_path / "ext.onnx", external_data=True, size_threshold=0)
    data = tmp_path / "ext.onnx.data"
    content = data.read_bytes()
    data.write_bytes(content[:100])
    with pytest.raises(ModelError, match=r"ext\.onnx\.data is too short"):
        read_model(path)
    data.unlink()
    with pytest.raises(ModelError, match=r"external-data file 'ext\.onnx\.data' is missing") as info:
        inspect_model(path)
    assert "same folder" in (info.value.hint or "")


def test_write_refuses_to_overwrite_input_and_is_atomic(tmp_path: Path) -> None:
    src = models.save(models.float_conv(), tmp_path / "model.onnx")
    before = sha256(src)
    with pytest.raises(OutputError, match="would overwrite the input model"):
        write_model(read_model(src), src, inputs=(src,))
    assert sha256(src) == before
    out = write_model(read_model(src), tmp_path / "copy.onnx", inputs=(src,))
    assert read_model(out).graph.node[0].name == "conv1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.onnx", "model.onnx"]  # no temporary left


def test_external_data_written_beside_the_model(tmp_path: Path) -> None:
    out = write_model(models.float_conv(), tmp_path / "sub.onnx", external_data=True, size_threshold=0)
    model = read_model(out)
    assert len(model.graph.initializer) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.onnx", "sub.onnx.data"]


def test_write_to_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_model(models.float_conv(), tmp_path / "nope" / "m.onnx")


def test_cli_prints_one_error_line_and_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07\x12\x04junk" * 3)
    before = sha256(bad)
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: ") and "corrupt.onnx" in err[0]
    assert err[1].startswith("hint: ")
    assert sha256(bad) == before


def test_written_files_get_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_model(models.float_conv(), tmp_path / "a.onnx", external_data=True, size_threshold=0)
        os.umask(0o077)
        write_model(models.float_conv(), tmp_path / "b.onnx")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"a.onnx": 0o640, "a.onnx.data": 0o640, "b.onnx": 0o600}


def test_the_callers_model_is_not_changed_by_writing_external_data(tmp_path: Path) -> None:
    model = models.float_conv(hidden=64)
    before = model.SerializeToString()
    write_model(model, tmp_path / "m.onnx", external_data=True, size_threshold=0)
    assert model.SerializeToString() == before
    assert not external_tensors(model)


def _if_model() -> onnx.ModelProto:
    """An If whose branches hold their own initializers (subgraph tensors, 4 kB each)."""
    def branch(name: str, value: float) -> onnx.GraphProto:
        w = numpy_helper.from_array(np.full((32, 32), value, np.float32), f"w_{name}")
        return helper.make_graph([helper.make_node("MatMul", ["x", f"w_{name}"], [f"y_{name}"])], name, [],
                                 [helper.make_tensor_value_info(f"y_{name}", TensorProto.FLOAT, [1, 32])], [w])
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=branch("then", 1.0), else_branch=branch("else", 2.0))],
        "if_model", [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                     helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def test_subgraph_tensors_are_written_confined_and_read_back(tmp_path: Path) -> None:
    out = write_model(_if_model(), tmp_path / "if.onnx", external_data=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["if.onnx", "if.onnx.data"]
    assert external_data_files(onnx.load(str(out), load_external_data=False)) == ["if.onnx.data"]
    loaded = read_model(out)
    assert not external_tensors(loaded)
    branches = {a.name: numpy_helper.to_array(a.g.initializer[0]) for a in loaded.graph.node[0].attribute}
    assert branches["then_branch"].sum() == 32 * 32 and branches["else_branch"].sum() == 2 * 32 * 32
    hostile.rewrite(out, location="/etc/hostname", tensor="w_then")  # hidden in a branch: found, refused
    with pytest.raises(ModelError, match="tensor 'w_then' names external data '/etc/hostname', an absolute path"):
        read_model(out)


def test_a_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    """ONNX's own loader refuses every link; onnpu follows a link that stays inside the model's folder
    (ONNX Runtime does too) and reads the data itself."""
    model = hostile.with_external_data(tmp_path / "m")
    (tmp_path / "m" / "store").mkdir()
    (tmp_path / "m" / "model.onnx.data").rename(tmp_path / "m" / "store" / "w.bin")
    (tmp_path / "m" / "weights.data").symlink_to("store/w.bin")
    hostile.rewrite(model, location="weights.data")
    assert [t.name for t in read_model(model).graph.initializer] == ["w1", "w2"]


def test_a_link_loop_a_fifo_and_garbage_entries_are_refused(tmp_path: Path) -> None:
    model = hostile.with_external_data(tmp_path)
    (tmp_path / "loop.data").symlink_to("loop.data")
    hostile.rewrite(model, location="loop.data")
    with pytest.raises(ModelError, match=r"'loop\.data', which cannot be resolved"):
        read_model(model)
    os.mkfifo(tmp_path / "pipe.data")  # reading it would block forever
    hostile.rewrite(model, location="pipe.data")
    with pytest.raises(ModelError, match=r"'pipe\.data', which is not a regular file"):
        read_model(model)
    hostile.rewrite(model, location="model.onnx.data", length=-4)
    with pytest.raises(ModelError, match="invalid external-data length '-4'"):
        read_model(model)


def test_replacing_a_model_never_shows_a_reader_a_model_without_its_data(tmp_path: Path) -> None:
    """One thread rewrites the same output over and over with data of another size, another thread reads
    it: the reader always gets a whole model, old or new, never one model with the other's data."""
    small, large = models.float_conv(hidden=8), models.float_conv(hidden=256)
    out = write_model(large, tmp_path / "m.onnx", external_data=True, size_threshold=0)
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(str(len(read_model(out).graph.initializer[0].raw_data)))
            except ModelError as exc:
                seen.append(str(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for k in range(30):
            write_model(small if k % 2 else large, out, external_data=True, size_threshold=0)
    finally:
        stop.set()
        thread.join()
    assert set(seen) == {str(8 * 27 * 4), str(256 * 27 * 4)}, set(seen)  # both versions, always whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.data"]  # 31 writes; old data gone


def test_replacing_a_model_alternates_its_data_file_and_removes_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    write_model(models.float_conv(hidden=8), out, external_data=True, size_threshold=0)
    write_model(models.float_conv(hidden=16), out, external_data=True, size_threshold=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.1.data"]
    assert read_model(out).graph.initializer[0].dims[0] == 16
    write_model(models.float_conv(hidden=4), out)  # weights inside the model now: no data file is read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    keep = tmp_path / "shared.bin"
    keep.write_bytes(b"someone else's")
    write_model(models.float_conv(hidden=8), out, external_data=True, size_threshold=0)
    assert keep.read_bytes() == b"someone else's"  # only files named after the model are ever removed


def test_a_data_file_no_model_reads_is_never_written_over(tmp_path: Path) -> None:
    """An unrelated ``out.onnx.data`` already beside where ``out.onnx`` goes (and no ``out.onnx``): the new
    model's data goes under another name and that file is left as it was."""
    stranger = tmp_path / "out.onnx.data"
    stranger.write_bytes(b"someone else's bytes")
    written = write_model(models.float_conv(hidden=64), tmp_path / "out.onnx", external_data=True)
    assert stranger.read_bytes() == b"someone else's bytes"
    assert external_data_files(onnx.load(str(written), load_external_data=False)) == ["out.onnx.1.data"]
    np.testing.assert_array_equal(
        numpy_helper.to_array(onnx.load(str(written)).graph.initializer[0]),
        numpy_helper.to_array(models.float_conv(hidden=64).graph.initializer[0]))
