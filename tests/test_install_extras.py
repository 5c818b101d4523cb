"""The install never replaces a board's ONNX Runtime: onnpu's base dependencies carry none, the extras choose one
(`onnpu[qnn]`: PyPI's QNN plugin EP; `onnpu[cpu]`); without any, every verb says what to install; doctor names the
QNN EP generation it found."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from onnpu import jsonio
from onnpu.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_base_dependencies_carry_no_onnxruntime_and_the_extras_choose_one() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["dependencies"]]
    assert not [n for n in names if n.startswith("onnxruntime")]
    extras = project["optional-dependencies"]
    assert extras["qnn"] == ["onnxruntime>=1.24.2", "onnxruntime-qnn>=2.0"]
    assert extras["cpu"] == ["onnxruntime>=1.22"]


def test_without_onnxruntime_a_verb_says_what_to_install(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['onnxruntime'] = None\nfrom onnpu.cli import main\n"
            "sys.exit(main(['doctor', '--no-selftest']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines == ["error: onnxruntime is not installed",
                     "hint: install one: `pip install 'onnpu[qnn]'` (NPU, PyPI's QNN plugin) or `pip install "
                     "'onnpu[cpu]'`; on a board with its own QNN build of onnxruntime, keep it (`pip install onnpu`)"]


def test_doctor_names_the_qnn_ep_generation(capsys) -> None:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    from onnpu.runtime.qnn import qnn_status

    main(["doctor", "--no-selftest", "--json"])
    data = jsonio.loads(capsys.readouterr().out)
    status = qnn_status()
    assert data["qnn_generation"] == status.generation
    if status.mode == "plugin":  # this machine: PyPI's plugin
        assert data["qnn_generation"].startswith(f"plugin EP {status.plugin_version} (onnxruntime-qnn, "
                                                 f"onnxruntime {ort.__version__})")
