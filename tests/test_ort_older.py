"""The CPU side against the ONNX Runtime the built-in-EP boards run: onnxruntime 1.23.x from the package index
(the generation of the onnxruntime_qnn 1.23 board wheels, whose `onnxruntime` module this stands for), put first
on the path of real `onnpu` processes while every other dependency comes from the test environment. inspect,
run, quantize and compare work on the CPU (strict JSON); the NPU verbs and doctor say why there is no QNN EP —
here the onnxruntime-qnn plugin is installed but needs onnxruntime >= 1.24.2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import models
from onnpu import jsonio

pytestmark = pytest.mark.index  # pip download from the package index


@pytest.fixture(scope="module")
def ort123(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding onnxruntime 1.23.x alone (the newest 1.23 the index has)."""
    base = tmp_path_factory.mktemp("ort123")
    for step in (["download", "--no-deps", "-q", "-d", str(base / "dist"), "onnxruntime>=1.23,<1.24"],
                 ["install", "--no-deps", "-q", "--target", str(base / "site"), "--no-index",
                  "--find-links", str(base / "dist"), "onnxruntime>=1.23,<1.24"]):
        done = subprocess.run([sys.executable, "-m", "pip", *step], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"onnxruntime 1.23 could not be fetched (pip {step[0]}): {done.stderr[-500:]}")
    return base / "site"


def _onnpu(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "onnpu", *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_the_cpu_side_works_on_onnxruntime_1_23(ort123: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ort123)}
    version = subprocess.run([sys.executable, "-c", "import onnxruntime; print(onnxruntime.__version__)"],
                             capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert version.startswith("1.23."), version
    models.save(models.float_conv(), tmp_path / "conv.onnx")
    models.save(models.classifier(), tmp_path / "cls.onnx")

    assert _onnpu(ort123, tmp_path, "inspect", "conv.onnx").returncode == 0
    for argv in (["run", "conv.onnx", "--random", "--target", "cpu", "--json"],
                 ["run", "cls.onnx", "--random", "--target", "cpu", "--json"]):
        done = _onnpu(ort123, tmp_path, *argv)
        assert done.returncode == 0, done.stderr[-500:]
        assert jsonio.loads(done.stdout)["outputs"]
    done = _onnpu(ort123, tmp_path, "quantize", "conv.onnx", "-o", "q.onnx", "--calib", "random")
    assert done.returncode == 0, done.stderr[-500:]
    done = _onnpu(ort123, tmp_path, "compare", "conv.onnx", "q.onnx", "--targets", "cpu", "--json")
    assert done.returncode == 0, done.stderr[-500:]
    outputs = jsonio.loads(done.stdout)["outputs"]
    assert outputs and all(q["sqnr_db"] is None or q["sqnr_db"] > 20 for q in outputs)


def test_without_a_usable_qnn_ep_the_npu_verbs_and_doctor_say_why(ort123: Path, tmp_path: Path) -> None:
    models.save(models.qdq_conv(), tmp_path / "q.onnx")
    done = _onnpu(ort123, tmp_path, "run", "q.onnx", "--random", "--target", "npu")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "needs onnxruntime ≥ 1.24.2; this is onnxruntime 1.23." in done.stderr
    doctor = _onnpu(ort123, tmp_path, "doctor", "--no-selftest")
    assert doctor.returncode != 0 and "this is onnxruntime 1.23." in " ".join(doctor.stdout.split())
