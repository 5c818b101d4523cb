"""CI proves the NPU path: under ONNPU_REQUIRE_NPU=1 (set by .ci/run) an `npu` test that would skip fails, and
so does the browser test under ONNPU_REQUIRE_CHROMIUM=1 (set by .ci/run when it installed Chromium)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SAMPLE = '''
import pytest

@pytest.mark.npu
def test_npu_that_skips():
    pytest.skip("pretend the QNN EP is missing")

def test_plain_skip():
    pytest.skip("not an npu test: may skip")
'''


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    npu: needs the QNN EP\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           str(tmp_path / "test_sample.py")], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(TESTS), **env}, timeout=300)


def test_required_npu_turns_an_npu_skip_into_a_failure(tmp_path: Path) -> None:
    required = _run(tmp_path, {"ONNPU_REQUIRE_NPU": "1"})
    assert required.returncode == 1, required.stdout
    assert "1 failed, 1 skipped" in required.stdout and "an npu test may not skip" in required.stdout
    relaxed = _run(tmp_path, {"ONNPU_REQUIRE_NPU": "0"})
    assert relaxed.returncode == 0 and "2 skipped" in relaxed.stdout


def test_ci_script_requires_the_npu_and_an_installed_browser() -> None:
    script = (TESTS.parent / ".ci" / "run").read_text()
    assert "export ONNPU_REQUIRE_NPU=1" in script
    assert "export ONNPU_REQUIRE_CHROMIUM=1" in script
