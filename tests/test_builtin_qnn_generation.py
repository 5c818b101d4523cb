"""The built-in QNN EP generation (onnxruntime 1.22/1.23 board builds with QNN compiled in), through a test double.

What is real: onnpu's detection (`qnn_status`), `onnpu doctor` in a fresh interpreter, and the real onnxruntime.
What is the double: a `sitecustomize` placed first on sys.path that makes `onnxruntime.get_available_providers()`
list QNNExecutionProvider without any plugin registration (how those builds present themselves) and turns
`register_execution_provider_library` into a recorder that fails the run if onnpu ever calls it. No NPU session
runs through the plain double. The session double (``SESSION_DOUBLE``) adds what a built-in build does at session
creation — ``providers=[("QNNExecutionProvider", options)]`` — on top of the real plugin, registered by the double
itself (never by onnpu), so that onnpu's built-in branch creates a real NPU session on the emulated HTP."""

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


SESSION_DOUBLE = DOUBLE + '''
import onnxruntime_qnn as _qnn
_real_register = __import__("onnxruntime").capi._pybind_state  # the real registration, kept for the double
_registered = []
_Real = ort.InferenceSession
class InferenceSession(_Real):
    """providers=[("QNNExecutionProvider", options), ...] as a built-in build takes it, served by the plugin."""
    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        qnn = [p for p in providers or [] if (p[0] if isinstance(p, tuple) else p) == "QNNExecutionProvider"]
        if qnn:
            if not _registered:
                _real_register.register_execution_provider_library("QNNExecutionProvider", _qnn.get_library_path())
                _registered.append(True)
            options = qnn[0][1] if isinstance(qnn[0], tuple) else {}
            devices = [d for d in ort.get_ep_devices() if d.ep_name == "QNNExecutionProvider"]
            sess_options = sess_options or ort.SessionOptions()
            sess_options.add_provider_for_devices(devices, {k: str(v) for k, v in options.items()})
            open(__file__ + ".sessions", "a").write("qnn\\n")
            providers = None
        super().__init__(path_or_bytes, sess_options=sess_options, providers=providers, **kwargs)
ort.InferenceSession = InferenceSession
'''


def test_an_npu_session_through_the_builtin_branch(tmp_path: Path) -> None:
    """A QDQ conv on the NPU (the emulated HTP) through onnpu's built-in-EP branch: ``providers=`` with the QNN
    options, CPU fallback disabled, every node on the NPU; onnpu never registers a plugin."""
    import models

    (tmp_path / "sitecustomize.py").write_text(SESSION_DOUBLE)
    models.save(models.qdq_conv(), tmp_path / "q.onnx")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ONNPU_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "onnpu", "run", "q.onnx", "--target", "npu", "--random",
                           "--no-fallback", "--no-cache", "--json"], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    data = jsonio.loads(done.stdout)
    assert "QNNExecutionProvider" in data["providers"], data["providers"]
    assert data["placement"]["fully_on_target"], data["placement"]
    assert (tmp_path / "sitecustomize.py.sessions").read_text().count("qnn") >= 1  # the built-in branch ran
    assert not (tmp_path / "sitecustomize.py.registered").exists()
