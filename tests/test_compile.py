"""`onnpu compile`: a compiled model per SoC, each run on the HTP emulator against the exact CPU arithmetic;
a multi-SoC model checked by its records; a manifest; and run/bench picking the file for their SoC."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

import models
from onnpu import OnnpuError, TargetError, get_target, jsonio
from onnpu.cli import main
from onnpu.runtime.compiled import context_info
from onnpu.storage import sha256_file
from onnpu.tasks.compile import compile_for_socs

pytestmark = pytest.mark.npu


@pytest.fixture(autouse=True)
def default_soc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ONNPU_SOC", raising=False)
    monkeypatch.delenv("ONNPU_SYSROOT", raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "none.toml"))


def test_one_model_per_soc_verified_with_a_manifest(tmp_path: Path) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "conv.qdq.onnx")
    result = compile_for_socs(src, tmp_path / "out", ["qcs6490", "qcs8550", "qcs8300"], inputs=2)
    assert [(e.soc, e.htp_arch) for e in result.entries] == [("QCS6490", [68]), ("QCS8550", [73]), ("QCS8300", [75])]
    for entry in result.entries:
        # the binary says what it was compiled for: the SoC table's name and arch
        assert entry.records == [{"soc": entry.soc, "htp_arch": entry.htp_arch[0]}]
        assert entry.compat is not None and f":{entry.soc_models[0]}:" in entry.compat
        assert entry.load_seconds is not None and entry.load_seconds > 0
        assert entry.max_steps["y"] is not None and entry.max_steps["y"] <= 1 + 1e-6  # within one output step
        assert "run on the HTP emulator" in entry.check
        assert entry.placement is not None
    manifest = jsonio.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["schema"] == "onnpu.compile/2" and manifest["versions"]["qnn_sdk"]
    assert manifest["source"]["sha256"] == sha256_file(src) and manifest["source"]["size"] == src.stat().st_size
    for entry in manifest["entries"]:
        for name, record in entry["files"].items():
            assert sha256_file(tmp_path / "out" / name) == record["sha256"]
            assert (tmp_path / "out" / name).stat().st_size == record["size"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "conv.qdq.qcs6490.onnx", "conv.qdq.qcs8300.onnx", "conv.qdq.qcs8550.onnx", "manifest.json"]


def test_multi_soc_model_is_checked_by_its_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "conv.qdq.onnx")
    assert main(["compile", str(src), "--soc", "qcs6490,sm8550,sm8750", "--multi-soc", "-o", str(tmp_path / "m"),
                 "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    [entry] = data["entries"]
    assert entry["soc_models"] == [93, 43, 69] and entry["load_seconds"] is None
    assert {(r["soc"], r["htp_arch"]) for r in entry["records"]} == {("QCS6490", 68), ("SM8550", 73), ("SM8750", 79)}
    assert entry["check"].startswith("records only")
    info = context_info(tmp_path / "m" / entry["file"])
    assert info.multi_soc and info.soc_models == [93, 43, 69]


def test_run_and_bench_pick_the_file_for_their_soc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "conv.qdq.onnx")
    out = tmp_path / "out"
    assert main(["compile", str(src), "--soc", "qcs6490,qcs8550", "-o", str(out), "--no-embed", "--inputs", "1"]) == 0
    assert (out / "conv.qdq.qcs8550_qnn.bin").is_file()  # --no-embed: the binary beside its model
    capsys.readouterr()
    assert main(["run", str(out), "--target", "npu", "--soc", "qcs8550", "--json"]) == 0
    assert jsonio.loads(capsys.readouterr().out)["model"].endswith("conv.qdq.qcs8550.onnx")
    assert main(["run", str(out / "manifest.json"), "--target", "npu", "--json"]) == 0  # default SoC: QCS6490
    assert jsonio.loads(capsys.readouterr().out)["model"].endswith("conv.qdq.qcs6490.onnx")
    # a compiled model for another SoC is refused before loading, naming the file that fits
    assert main(["run", str(out / "conv.qdq.qcs8550.onnx"), "--target", "npu"]) == 1
    err = capsys.readouterr().err
    assert "not for QCS6490" in err and "conv.qdq.qcs6490.onnx" in err
    assert main(["run", str(out), "--target", "npu", "--soc", "sm8750"]) == 1
    err = capsys.readouterr().err
    assert "no model compiled for SM8750" in err and "onnpu compile" in err
    assert main(["bench", str(out), "--target", "npu", "--soc", "qcs8550", "-n", "2", "--warmup", "0",
                 "--json"]) == 0
    [bench_run] = jsonio.loads(capsys.readouterr().out)["runs"]
    assert bench_run["cache"] == "compiled model" and "QCS8550" in bench_run["target"]


def test_a_model_compiled_by_a_newer_qnn_is_refused_before_loading(tmp_path: Path) -> None:
    from onnpu.runtime.context_cache import open_session

    src = models.save(models.qdq_conv(), tmp_path / "conv.qdq.onnx")
    result = compile_for_socs(src, tmp_path / "out", ["qcs6490"], inputs=0)
    path = tmp_path / "out" / result.entries[0].file
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "ep_compatibility_info.QNNExecutionProvider":
            prop.value = prop.value.replace(":2.51.0:", ":9.99.0:") if ":2.51.0:" in prop.value else \
                "v2:6:9.99.0:5.99.0:0:93:0:0"
    newer = tmp_path / "newer.onnx"
    onnx.save(model, str(newer))
    with pytest.raises(TargetError, match=r"compiled with QNN 9\.99\.0"):
        open_session(newer, get_target("npu"))
    with pytest.raises(TargetError, match="runs only on the npu target"):
        from onnpu.runtime.compiled import check_context

        check_context(path, onnx.load(str(path)), get_target("cpu"))


def _two_inputs() -> onnx.ModelProto:
    """A QDQ Add of a float input the model quantizes itself and a uint8 input it dequantizes."""
    from onnx import TensorProto, helper

    scalars = [("s_a", 0.02, TensorProto.FLOAT), ("z_a", 128, TensorProto.UINT8), ("s_b", 0.01, TensorProto.FLOAT),
               ("z_b", 0, TensorProto.UINT8), ("s_y", 0.03, TensorProto.FLOAT), ("z_y", 100, TensorProto.UINT8)]
    inits = [helper.make_tensor(name, kind, [], [value]) for name, value, kind in scalars]
    nodes = [helper.make_node("QuantizeLinear", ["a", "s_a", "z_a"], ["a_q"]),
             helper.make_node("DequantizeLinear", ["a_q", "s_a", "z_a"], ["a_f"]),
             helper.make_node("DequantizeLinear", ["b", "s_b", "z_b"], ["b_f"]),
             helper.make_node("Add", ["a_f", "b_f"], ["y_f"]),
             helper.make_node("QuantizeLinear", ["y_f", "s_y", "z_y"], ["y_q"]),
             helper.make_node("DequantizeLinear", ["y_q", "s_y", "z_y"], ["y"])]
    ins = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 8, 4, 4]),
           helper.make_tensor_value_info("b", TensorProto.UINT8, [1, 8, 4, 4])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 4, 4])
    graph = helper.make_graph(nodes, "two_inputs", ins, [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_inputs_come_from_the_models_own_types_and_quantization(tmp_path: Path) -> None:
    """A uint8-input model with no onnpu metadata (AI Hub style) and a model of two inputs of different types:
    each compiled model is run on the emulator with inputs in the model's own dtypes and quantized ranges."""
    from onnpu.runtime.inputs import random_feeds

    aihub = onnx.load(str(models.aihub_style_classifier(tmp_path)))
    del aihub.metadata_props[:]
    src = models.save(aihub, tmp_path / "aihub_nometa.onnx")
    [entry] = compile_for_socs(src, tmp_path / "a", ["qcs8550"], inputs=2).entries
    steps = entry.max_steps["logits"]
    assert "run on the HTP emulator" in entry.check and steps is not None and steps <= 1 + 1e-6
    two = models.save(_two_inputs(), tmp_path / "two.onnx")
    [feeds] = random_feeds(onnx.load(str(two)), 1)
    assert set(feeds) == {"a", "b"}
    # b is uint8 on the wire: given in float over its representable range (0..255) * 0.01, quantized by the feeder
    assert feeds["b"].min() >= 0 and feeds["b"].max() <= 2.55 + 1e-6
    [entry] = compile_for_socs(two, tmp_path / "b", ["qcs6490"], inputs=2).entries
    assert entry.max_steps["y"] is not None and entry.max_steps["y"] <= 1 + 1e-6


def test_a_failed_compile_removes_the_folder_it_created(tmp_path: Path) -> None:
    src = models.save(models.unsupported_op(), tmp_path / "bad.onnx")
    with pytest.raises(OnnpuError):
        compile_for_socs(src, tmp_path / "new" / "out", ["qcs6490"], inputs=0)
    assert not (tmp_path / "new" / "out").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(OnnpuError):
        compile_for_socs(src, tmp_path / "mine", ["qcs6490"], inputs=0)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["keep.txt"]  # a folder it did not make stays
