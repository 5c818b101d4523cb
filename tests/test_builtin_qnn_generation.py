"""The built-in QNN EP generation (onnxruntime 1.22/1.23 board builds with QNN compiled in), through a test double.

What is real: onnpu's detection (`qnn_status`), `onnpu doctor` in a fresh interpreter, and the real onnxruntime.
What is the double: a `sitecustomize` placed first on sys.path that makes `onnxruntime.get_available_providers()`
list QNNExecutionProvider without any plugin registration (how those builds present themselves) and turns
`register_execution_provider_library` into a recorder that fails the run if onnpu ever calls it. No NPU session
runs through the double yet (a session through the built-in branch is not covered here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from onnpu import jsonio

DOUBLE = '''
import onnxruntime as ort
_real = ort.get_available_providers
def get_available_providers():
    names = list(_real())
    return names if "QNNExecutionProvider" in names else ["QNNExecutionProvider", *names]
ort.get_available_providers = get_available_providers
def register_execution_provider_library(*args, **kwargs):
    open(__file__ + ".registered", "w").write(repr(args))
    raise RuntimeError("a built-in QNN EP build registers no plugin")
ort.register_execution_provider_library = register_execution_provider_library
'''


def test_doctor_reports_the_builtin_generation_and_never_registers_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(DOUBLE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ONNPU_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "onnpu", "doctor", "--no-selftest", "--json"],
                          capture_output=True, text=True, env=env)
    assert done.stdout, done.stderr[-2000:]
    data = jsonio.loads(done.stdout)
    import onnxruntime as ort
    assert data["qnn_generation"] == f"built-in EP (onnxruntime {ort.__version__})"
    assert not (tmp_path / "sitecustomize.py.registered").exists()
