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
    # the run ends with one line: how many ran, what was skipped and why
    assert relaxed.stdout.strip().splitlines()[-1] == (
        "onnpu tests: 0 ran (nothing); 2 skipped (1 × pretend the QNN EP is missing; 1 × not an npu test: may skip)"
        "; 0 needed the package index (marker index)")


def _ci(tmp_path: Path, *, chromium: bool, make_prints: str, make_exits: int = 0) -> tuple[int, str]:
    """Run .ci/run as CI does, with a stand-in `make` that reports the environment it was given (and
    `apt-get` failing, `chromium` present or not); only the tools the script uses are on PATH."""
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("dirname", "tee", "grep", "mktemp", "rm", "cat"):
        real = shutil.which(tool)
        assert real is not None, tool
        (bin_dir / tool).symlink_to(real)
    fake = {"make": f'echo "make $* NPU=${{ONNPU_REQUIRE_NPU:-}} CHROMIUM=${{ONNPU_REQUIRE_CHROMIUM:-}}"\n'
                    f'echo "{make_prints}"\nexit {make_exits}\n',
            "apt-get": "exit 100\n", **({"chromium": "exit 0\n"} if chromium else {})}
    for name, body in fake.items():
        (bin_dir / name).write_text("#!" + str(shutil.which("bash")) + "\n" + body)
        (bin_dir / name).chmod(0o755)
    done = subprocess.run([str(shutil.which("bash")), str(TESTS.parent / ".ci" / "run")], capture_output=True,
                          text=True, env={"PATH": str(bin_dir), "TMPDIR": str(tmp_path)}, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_ci_script_requires_the_npu_and_the_browser_it_installed(tmp_path: Path) -> None:
    code, out = _ci(tmp_path / "a", chromium=True, make_prints="392 passed in 12.0s")
    assert code == 0 and "make test NPU=1 CHROMIUM=1" in out
    code, out = _ci(tmp_path / "b", chromium=False, make_prints="392 passed in 12.0s")
    assert code == 0 and "make test NPU=1 CHROMIUM=\n" in out and "could not install chromium" in out
    code, out = _ci(tmp_path / "c", chromium=True, make_prints="no tests ran")
    assert code == 1 and "the suite ran no test" in out
    code, _ = _ci(tmp_path / "d", chromium=True, make_prints="3 failed, 389 passed", make_exits=2)
    assert code == 2
    assert not list(tmp_path.glob("*/onnpu-ci.*"))  # its log is removed
