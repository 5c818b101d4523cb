"""Sessions on the real QNN HTP backend (the x86_64 emulator here): placement is measured, not assumed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models
from onnpu import PlacementError, get_target, run_model
from onnpu.runtime.session import create_session

pytestmark = pytest.mark.npu

# Float models need an HTP that computes float: v69+ (here QCS8550, v73, fp16). The default SoC, QCS6490
# (v68), computes none: tests/test_socs.py covers what onnpu says then.
FLOAT_SOC = "qcs8550"


def test_qdq_model_runs_fully_on_npu_and_matches_cpu(tmp_path: Path) -> None:
    path = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    x = {"x": np.random.default_rng(5).random((1, 3, 16, 16), dtype=np.float32)}
    npu = run_model(path, get_target("npu", allow_fallback=False), inputs=x)
    reference = create_session(path, get_target("cpu"), optimization="disabled")
    cpu = run_model(path, get_target("cpu"), inputs=x, session=reference)
    assert npu.providers == ["QNNExecutionProvider"]
    assert npu.placement is not None and npu.placement.fully_on_target
    assert npu.placement.on_target == npu.placement.total == 8
    step = 0.02  # output quantization step of the model
    assert np.max(np.abs(npu.outputs["y"] - cpu.outputs["y"])) <= step + 1e-6
    assert np.abs(cpu.outputs["y"]).max() > 0.1  # the comparison is not between two zero tensors


def test_unsupported_op_fails_without_fallback_and_names_the_node(tmp_path: Path) -> None:
    path = models.save(models.unsupported_op(), tmp_path / "unique.onnx")
    with pytest.raises(PlacementError, match=r"refused by QNNExecutionProvider: unique \(Unique\)") as info:
        create_session(path, get_target("npu", allow_fallback=False, soc=FLOAT_SOC))
    assert "onnpu placement" in (info.value.hint or "")


def test_unsupported_op_runs_with_fallback_and_says_where(tmp_path: Path) -> None:
    path = models.save(models.unsupported_op(), tmp_path / "unique.onnx")
    result = run_model(path, get_target("npu", soc=FLOAT_SOC))
    placement = result.placement
    assert placement is not None
    assert [(n.name, n.provider) for n in placement.fallback_nodes] == [("unique", "CPUExecutionProvider")]
    assert placement.on_target == 2
    assert "CPUExecutionProvider" in result.providers and "QNNExecutionProvider" in result.providers
    assert "1 fell back to the CPU" in placement.headline()
    cpu = run_model(path, get_target("cpu"))
    np.testing.assert_allclose(np.sort(result.outputs["y"]), np.sort(cpu.outputs["y"]), atol=1e-3)


def test_dynamic_batch_lands_on_cpu_until_the_dim_is_fixed(tmp_path: Path) -> None:
    path = models.save(models.float_conv(batch="N"), tmp_path / "dynamic.onnx")
    loose = create_session(path, get_target("npu", soc=FLOAT_SOC))
    assert loose.placement is not None and loose.placement.on_target == 0
    assert loose.providers == ["CPUExecutionProvider"]  # get_providers() would still list QNN
    assert "QNNExecutionProvider" in loose.session.get_providers()
    fixed = create_session(path, get_target("npu", allow_fallback=False, soc=FLOAT_SOC), dims={"N": 1})
    assert fixed.placement is not None and fixed.placement.fully_on_target
    with pytest.raises(PlacementError):
        create_session(path, get_target("npu", allow_fallback=False, soc=FLOAT_SOC))


def test_float_model_on_a_v73_htp_matches_cpu_to_fp16(tmp_path: Path) -> None:
    path = models.save(models.float_conv(), tmp_path / "float.onnx")
    npu = run_model(path, get_target("npu", allow_fallback=False, soc=FLOAT_SOC), seed=3)
    cpu = run_model(path, get_target("cpu"), seed=3)
    scale = float(np.abs(cpu.outputs["y"]).max())
    np.testing.assert_allclose(npu.outputs["y"], cpu.outputs["y"], atol=2e-3 * scale)  # fp16: ~3 digits
    assert not np.array_equal(npu.outputs["y"], cpu.outputs["y"])  # it really ran elsewhere, in fp16


def test_uint8_io_model_quantizes_float_input_with_model_parameters(tmp_path: Path) -> None:
    path = models.save(models.classifier(uint8_io=True), tmp_path / "u8.onnx")
    result = run_model(path, get_target("npu", allow_fallback=False, soc=FLOAT_SOC), seed=1)
    assert result.outputs["logits_u8"].dtype == np.uint8
    assert any("scale 0.025 and zero point 100" in n for n in result.notes)
    assert result.placement is not None and result.placement.fully_on_target


def test_cpu_fused_qdq_kernels_are_not_an_exact_reference(tmp_path: Path) -> None:
    """Measured fact that shapes onnpu's design: the unfused CPU graph is exact for QDQ arithmetic (checked
    against numpy here); the NPU stays within one step of it."""
    from onnx import numpy_helper

    model = models.qdq_conv()
    path = models.save(model, tmp_path / "qdq.onnx")
    consts = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    xq = np.random.default_rng(0).integers(0, 256, (1, 3, 16, 16))
    x = (xq / 255).astype(np.float32)
    w = consts["w_q"] * 0.004
    padded = np.pad(xq / 255.0, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded[0], (3, 3), axis=(1, 2))  # 3,16,16,3,3
    conv = np.einsum("chwij,ocij->ohw", windows, w) + (consts["b_q"] * 0.004 / 255)[:, None, None]
    exact = np.clip(np.rint(np.maximum(conv, 0) / 0.02), 0, 255) * 0.02
    reference = run_model(path, get_target("cpu"), inputs={"x": x},
                          session=create_session(path, get_target("cpu"), optimization="disabled"))
    np.testing.assert_allclose(reference.outputs["y"][0], exact, atol=1e-5)
    npu = run_model(path, get_target("npu", allow_fallback=False), inputs={"x": x})
    assert np.max(np.abs(npu.outputs["y"][0] - exact)) <= 0.02 + 1e-6
    # the CPU EP's fused int8 kernels: exact where the x86 CPU has VNNI (measured: 0 steps on an AMD EPYC with
    # AVX-512 VNNI); up to 5 steps off where it has only AVX2 (their 16-bit sums saturate)
    from onnpu.machine import has_vnni

    fused = run_model(path, get_target("cpu"), inputs={"x": x}).outputs["y"][0]
    steps = np.max(np.abs(fused - exact)) / 0.02
    if has_vnni() is True:
        assert steps <= 1 + 1e-6
    elif has_vnni() is False:
        assert steps > 1
