"""Honest names: only the QNN HTP backend is "the NPU"; a backend that fails to load is reported as that (also
with CPU fallback disabled); the saver backend, which computes nothing, is refused by the verbs that report
outputs; a failure while running is not blamed on the inputs unless onnxruntime says they were the cause; and
quantization errors name their real cause."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from onnpu import InputDataError, QuantizationError, RunError, get_target, run_model
from onnpu.quantization.pipeline import quantize
from onnpu.runtime.session import create_session


def bad_reshape() -> onnx.ModelProto:
    """x [1, 4] → Reshape to a constant [3]: loads, and fails in the Reshape kernel whatever the input."""
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], "bad_reshape",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array([3], np.int64), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def test_target_names_say_which_qnn_backend() -> None:
    assert (get_target("npu").name, get_target("npu").device) == ("npu", "NPU")
    for backend, device in (("cpu", "QNN CPU"), ("gpu", "QNN GPU"), ("saver", "QNN saver")):
        target = get_target("npu", {"backend_type": backend})
        assert (target.name, target.device, target.backend) == (f"qnn-{backend}", device, backend)
        assert target.describe().startswith(f"qnn-{backend} on {device} (") and "npu" not in target.describe()
        assert get_target(f"qnn-{backend}").options_dict == {"backend_type": backend}
    assert get_target("npu", {"backend_path": "/opt/qnn/lib/libQnnCpu.so"}).device == "QNN CPU"
    assert get_target("npu", {"backend_path": "/opt/qnn/lib/libQnnHtp.so"}).name == "npu"
    assert get_target("cpu").device == "CPU"


def onnpu(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "onnpu", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.npu
@pytest.mark.parametrize("fallback", [[], ["--no-fallback"]], ids=["fallback", "no-fallback"])
@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_a_backend_that_fails_to_load_is_reported_as_that(backend: str, fallback: list[str], tmp_path: Path) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    done = onnpu(tmp_path, "run", str(src), "--target", "npu", "--ep-option", f"backend_type={backend}",
                 "--no-cache", *fallback)
    device = f"QNN {backend.upper()}"
    if done.returncode == 0:  # a board whose wheel ships this backend: it ran, and says where
        assert f"nodes on the {device}" in done.stdout and "on the NPU" not in done.stdout
        return
    assert done.returncode == 1, done.stderr
    assert f"the {device} backend (not the NPU: backend_type={backend}) failed to load" in done.stderr
    assert "cannot run fully" not in done.stderr


@pytest.mark.npu
def test_saver_backend_is_named_and_refused_where_outputs_matter(tmp_path: Path, photos: dict[str, Path]) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    placed = onnpu(tmp_path, "placement", str(src), "--target", "qnn-saver")
    assert placed.returncode == 0, placed.stderr
    assert "8 of 8 nodes on the QNN saver (QNNExecutionProvider)" in placed.stdout and "on the NPU" not in placed.stdout
    cls = models.save(models.classifier(), tmp_path / "cls.onnx")
    for args in (["run", str(src)], ["classify", str(photos["coffee"]), "--model", str(cls)],
                 ["bench", str(src)]):
        done = onnpu(tmp_path, *args, "--target", "npu", "--ep-option", "backend_type=saver")
        assert done.returncode == 1 and "the QNN saver backend (backend_type=saver) only records" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("target", ["cpu", pytest.param("npu", marks=pytest.mark.npu)])
def test_a_failure_while_running_is_not_blamed_on_the_inputs(target: str, tmp_path: Path) -> None:
    src = models.save(bad_reshape(), tmp_path / "reshape.onnx")
    with pytest.raises(RunError, match=r"failed while running on the (CPU|NPU).*node 'reshape' \(Reshape\) failed: "
                                       r"The input tensor cannot be reshaped") as info:
        run_model(src, get_target(target))
    assert "rejected the inputs" not in str(info.value) and "inputs fit the model" in (info.value.hint or "")
    loaded = create_session(src, get_target("cpu"))
    with pytest.raises(InputDataError, match="rejected the inputs: Got invalid dimensions for input: x"):
        loaded.run({"x": np.zeros((1, 5), np.float32)})  # here the inputs are the cause


def test_quantize_names_the_real_cause(tmp_path: Path) -> None:
    src = models.save(bad_reshape(), tmp_path / "reshape.onnx")
    with pytest.raises(QuantizationError, match=r"failed in calibration .*node 'reshape' \(Reshape\) failed") as info:
        quantize(src, tmp_path / "q.onnx", "random")
    assert "fix-shapes" not in (info.value.hint or "") and "onnpu run" in (info.value.hint or "")
