"""The SoC an NPU result is for: the table, how the SoC is chosen, and what onnpu says when a SoC's HTP
refuses a model (QCS6490, HTP v68, the default, computes no float at all)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import models
from onnpu import ProviderOptionError, TargetError, get_target, jsonio
from onnpu.cli import main
from onnpu.runtime.socs import SOCS, choose_soc, find_soc, qnn_soc_models, soc_for_linux_id


@pytest.fixture(autouse=True)
def no_soc_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ONNPU_SOC", raising=False)
    monkeypatch.delenv("ONNPU_SYSROOT", raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "no-config.toml"))


def fake_board(root: Path, soc_id: str, machine: str | None, model: str | None) -> Path:
    soc0 = root / "sys/devices/soc0"
    soc0.mkdir(parents=True)
    (soc0 / "soc_id").write_text(soc_id + "\n")
    if machine:
        (soc0 / "machine").write_text(machine + "\n")
    if model:
        dt = root / "sys/firmware/devicetree/base"
        dt.mkdir(parents=True)
        (dt / "model").write_bytes(model.encode() + b"\x00")
    return root


def test_board_table_agrees_with_what_qnn_compiles() -> None:
    qnn = qnn_soc_models()
    for soc in SOCS:
        if soc.compilable:
            assert qnn[soc.soc_model].htp_arch == soc.htp_arch, soc.name
            assert qnn[soc.soc_model].vtcm_mb == soc.vtcm_mb, soc.name
            assert soc.name.startswith(qnn[soc.soc_model].name) or soc.note, soc.name  # else: what it compiles as


@pytest.mark.parametrize(("text", "name", "soc_model"), [
    ("qcs6490", "QCS6490", 93), ("RB3 Gen 2", "QCS6490", 93), ("QCM6490", "QCS6490", 93), ("93", "QCS6490", 93),
    ("IQ-9075", "QCS9075", 77), ("qcs8550", "QCS8550", 66), ("x1e80100", "SC8380XP", 60),
    ("35", "SM7325", 35),  # not QCS6490: the binary compiled for 35 says SM7325
    ("soc_model=69", "SM8750", 69),
])
def test_socs_by_name_alias_board_or_id(text: str, name: str, soc_model: int) -> None:
    soc = find_soc(text)
    assert (soc.name, soc.soc_model) == (name, soc_model)


def test_unknown_and_unsupported_socs_are_refused() -> None:
    with pytest.raises(TargetError, match="unknown SoC 'qcs9999'") as info:
        find_soc("qcs9999")
    assert "qcs6490" in (info.value.hint or "")
    with pytest.raises(TargetError, match="HTP v66"):
        find_soc("rb5")
    with pytest.raises(TargetError, match="no soc_model 999"):
        get_target("npu", {"soc_model": "999"})


def test_linux_soc_ids_are_not_qnn_soc_models() -> None:
    assert soc_for_linux_id(497).name == soc_for_linux_id(498).name == "QCS6490"  # type: ignore[union-attr]
    assert soc_for_linux_id(676).soc_model == 77  # type: ignore[union-attr]
    assert soc_for_linux_id(93) is None


def test_soc_choice_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert choose_soc().soc.name == "QCS6490" and choose_soc().source.startswith("default")
    config = tmp_path / "config.toml"
    config.write_text('soc = "qcs8300"\n')
    monkeypatch.setenv("ONNPU_CONFIG", str(config))
    assert (choose_soc().soc.name, choose_soc().source) == ("QCS8300", f"config {config}")
    monkeypatch.setenv("ONNPU_SOC", "sm8650")
    assert choose_soc().soc.name == "SM8650" and choose_soc().source == "ONNPU_SOC"
    assert choose_soc("qcs9100").soc.name == "QCS9100" and choose_soc("qcs9100").source == "--soc"
    config.write_text("soc = [broken")
    monkeypatch.delenv("ONNPU_SOC")
    with pytest.raises(TargetError, match="cannot read the onnpu config file"):
        choose_soc()


def test_on_a_board_the_soc_is_detected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = fake_board(tmp_path / "rb3", "497", "QCM6490", "Qualcomm Technologies, Inc. Robotics RB3gen2")
    monkeypatch.setenv("ONNPU_SYSROOT", str(root))
    choice = choose_soc()
    assert choice.soc.name == "QCS6490" and "soc_id 497" in choice.source
    with pytest.raises(TargetError, match="this board's NPU is QCS6490") as info:
        choose_soc("qcs8550")  # running for another SoC on this board would fail on its HTP
    assert "onnpu compile" in (info.value.hint or "")
    assert choose_soc("qcs8550", purpose="compile").soc.name == "QCS8550"
    # no soc_id this table knows: the device-tree model names it
    other = fake_board(tmp_path / "evk", "99999", None, "Qualcomm Technologies, Inc. QCS8550 AIM300 AIOT")
    monkeypatch.setenv("ONNPU_SYSROOT", str(other))
    assert choose_soc().soc.name == "QCS8550"


def test_targets_carry_the_soc_and_say_it() -> None:
    npu = get_target("npu", soc="qcs8550")
    assert npu.options_dict["soc_model"] == "66" and npu.soc is not None and npu.soc.htp_arch == 73
    assert "QCS8550 HTP v73" in npu.describe() and npu.to_dict()["soc"]["source"] == "--soc"
    assert get_target("npu", {"soc_model": "57"}).soc.name == "SM8650"  # type: ignore[union-attr]
    arch_only = get_target("npu", {"htp_arch": "75"})
    assert arch_only.soc is None and "soc_model" not in arch_only.options_dict and "v75" in arch_only.hardware
    with pytest.raises(ProviderOptionError, match="conflict"):
        get_target("npu", {"soc_model": "66"}, soc="qcs6490")
    with pytest.raises(ProviderOptionError, match="htp_arch=73 conflicts with QCS6490"):
        get_target("npu", {"htp_arch": "73"}, soc="qcs6490")
    with pytest.raises(ProviderOptionError, match="npu target only"):
        get_target("cpu", soc="qcs6490")
    with pytest.raises(ProviderOptionError, match="HTP backend only"):
        get_target("npu", {"backend_type": "gpu"}, soc="qcs6490")
    assert get_target("npu", {"backend_type": "gpu"}).soc is None


@pytest.mark.npu
def test_aihub_style_classifier_on_qcs6490_refused_named_then_prepared(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The pool outside a complete QDQ group: fine on v73, fatal on QCS6490's v68 — named after the model's node,
    with the fix; `prepare --soc qcs6490` applies it, checks it is exact, and the model then runs there."""
    from onnpu.runtime.failures import RefusalError
    from onnpu.runtime.session import create_session, exact_cpu_session
    from onnpu.tasks.explain_placement import explain_placement

    src = models.aihub_style_classifier(tmp_path)
    with pytest.raises(RefusalError) as info:
        create_session(src, get_target("npu", allow_fallback=False))
    assert [(r.name, r.op_type) for r in info.value.refused] == [("pool", "GlobalAveragePool")]
    assert "QCS6490 HTP v68" in str(info.value) and "_token_" not in str(info.value)
    assert "onnpu prepare" in (info.value.hint or "") and "--soc qcs6490" in (info.value.hint or "")
    report = explain_placement(src, get_target("npu"))
    assert not report.fully_on_target and report.summary.failure is not None
    assert [n.name for n in report.nodes if n.reason] == ["pool"]
    assert main(["placement", str(src), "--require-full"]) == 3  # ExitCode.REFUSED
    assert "pool (GlobalAveragePool)" in capsys.readouterr().out
    on_v73 = explain_placement(src, get_target("npu", soc="qcs8550"))
    assert on_v73.fully_on_target and on_v73.summary.on_target == on_v73.summary.total

    out = tmp_path / "fixed.onnx"
    assert main(["prepare", str(src), "-o", str(out), "--soc", "qcs6490", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["quantization"] is None and data["rewrite_max_abs_diff"] == 0.0
    assert len(data["rewrites"]) == 1 and "after pool (GlobalAveragePool)" in data["rewrites"][0]
    assert data["npu"]["placement"]["fully_on_target"] is True and data["npu"]["max_abs_diff_vs_cpu_exact"] <= 0.05
    assert main(["placement", str(out), "--require-full"]) == 0
    x = {"x": np.random.default_rng(0).integers(0, 256, (1, 3, 32, 32)).astype(np.uint8)}
    before = exact_cpu_session(src).run(x)[0]
    after = exact_cpu_session(out).run(x)[0]
    np.testing.assert_array_equal(before, after)  # the rewrite is exact
    assert len(onnx.load(str(out)).graph.node) == len(onnx.load(str(src)).graph.node) + 2


@pytest.mark.npu
def test_float_model_on_qcs6490_runs_on_the_cpu_and_says_so_or_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """HTP v68 computes no float: with fallback allowed (the default) the whole model runs on the CPU and the
    placement, the JSON and a warning say why and what fixes it; with --no-fallback it is refused (exit 3)."""
    from onnpu.runtime.failures import RefusalError
    from onnpu.runtime.session import create_session

    src = models.save(models.float_conv(), tmp_path / "float.onnx")
    with pytest.raises(RefusalError, match="float op: this HTP computes no float") as info:
        create_session(src, get_target("npu", allow_fallback=False))
    assert {r.name for r in info.value.refused} >= {"conv1"}
    assert "v69+ run float ops in fp16" in (info.value.hint or "") and "--calib" in (info.value.hint or "")

    loaded = create_session(src, get_target("npu"))
    assert loaded.providers == ["CPUExecutionProvider"] and loaded.fallback is not None
    placement = loaded.placement
    assert placement is not None and placement.on_target == 0 and not placement.fully_on_target
    assert placement.headline().startswith(f"0 of {placement.total} nodes on the NPU (QCS6490 HTP v68")
    assert "float model — this HTP computes no float; the whole model ran on the CPU; fix: " in placement.headline()
    assert "onnpu prepare" in (placement.fix or "")
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    expected = create_session(src, get_target("cpu")).run({"x": x})[0]
    np.testing.assert_array_equal(loaded.run({"x": x})[0], expected)  # the CPU's own result

    assert main(["run", str(src), "--target", "npu", "--json"]) == 0
    captured = capsys.readouterr()
    data = jsonio.loads(captured.out)
    assert data["providers"] == ["CPUExecutionProvider"] and data["placement"]["on_target"] == 0
    assert data["placement"]["cpu_fallback"] == "float model — this HTP computes no float"
    assert "warning:" in captured.err and "the whole model runs on the CPU" in captured.err
    assert main(["run", str(src), "--target", "npu", "--no-fallback"]) == 3  # ExitCode.REFUSED
    assert "float op: this HTP computes no float" in capsys.readouterr().err


@pytest.mark.npu
def test_context_cache_keeps_one_entry_per_soc(tmp_path: Path) -> None:
    from onnpu.runtime import context_cache

    model = models.qdq_conv()
    model.graph.name = "one_entry_per_soc"  # bytes no other test caches
    src = models.save(model, tmp_path / "qdq.onnx")
    a = context_cache.cache_key(src, get_target("npu", soc="qcs6490"), None)[0]
    b = context_cache.cache_key(src, get_target("npu", soc="qcs8550"), None)[0]
    assert a != b
    _, state = context_cache.cached_session(src, get_target("npu", soc="qcs6490"))
    _, other = context_cache.cached_session(src, get_target("npu", soc="qcs8550"))
    _, again = context_cache.cached_session(src, get_target("npu", soc="qcs6490"))
    assert (state, other, again) == ("built", "built", "hit")


@pytest.mark.npu
def test_a_fallback_on_one_htp_only_is_named_with_the_htp(tmp_path: Path) -> None:
    """A QDQ Add with an int8 constant: QCS6490's v68 leaves it on the CPU, QCS8550's v73 runs it."""
    from onnpu.tasks.explain_placement import explain_placement

    src = models.save(models.qdq_add_int8_constant(), tmp_path / "add.onnx")
    on_v68 = explain_placement(src, get_target("npu"))
    add = next(n for n in on_v68.cpu_nodes if n.name == "add")
    assert "(on QCS6490 HTP v68" in add.reason and "--soc qcs8550" in add.fix
    assert explain_placement(src, get_target("npu", soc="qcs8550")).fully_on_target
