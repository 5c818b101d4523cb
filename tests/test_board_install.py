"""The board install resolves: onnpu[qnn]'s runtime dependencies for Python 3.12 on manylinux_2_34 aarch64
(the Dragonwing boards' wheel tag), binary wheels only — checked against the package index with pip's
resolver (a dry run: nothing is installed)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.index  # pip asks the package index


def test_runtime_dependencies_resolve_for_aarch64_boards(tmp_path: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["qnn"]]
    # pip does not widen --platform to older manylinux tags: a board with glibc 2.34 takes all of these
    platforms = [f"manylinux_2_{m}_aarch64" for m in range(34, 16, -1)] + ["manylinux2014_aarch64"]
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
               "--report", str(report), "--python-version", "3.12", "--implementation", "cp",
               "--only-binary=:all:", "--target", str(tmp_path / "target"),
               *[arg for p in platforms for arg in ("--platform", p)], *requirements]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    installed = {i["metadata"]["name"].lower(): i["download_info"]["url"].rsplit("/", 1)[-1]
                 for i in json.loads(report.read_text())["install"]}
    assert installed["onnxruntime-qnn"].endswith("manylinux_2_34_aarch64.whl")
    assert "cp312" in installed["onnxruntime-qnn"] and "cp312" in installed["onnxruntime"]
    assert all(name.endswith(".whl") for name in installed.values())
    assert {"onnx", "onnxruntime", "numpy", "pillow", "psutil"} <= set(installed)
