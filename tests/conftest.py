from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ["COLUMNS"] = "200"  # rich renders tables this wide, so assertions see whole lines

from onnpu.runtime.qnn import qnn_status

_QNN = qnn_status()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the user's cache; the built-in model is shared by the whole run."""
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "onnpu-cache"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _QNN.available:
        return
    skip = pytest.mark.skip(reason=f"QNN execution provider cannot load here: {_QNN.problem}")
    for item in items:
        if "npu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def zoo_model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import os
    import subprocess

    from onnpu import zoo

    os.environ["ONNPU_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "onnpu-cache")
    # built by the CLI in a process of its own, as `make demo` does (and measured: 8x slower inside a
    # pytest process that already holds many ONNX Runtime sessions and their thread pools)
    subprocess.run([sys.executable, "-m", "onnpu", "zoo", "build"], check=True, capture_output=True)
    return zoo.build()


@pytest.fixture(scope="session")
def photos() -> dict[str, Path]:
    from onnpu.zoo.photos import photo_path

    return {"grace_hopper": photo_path("matplotlib:grace_hopper.jpg"), "chelsea": photo_path("skimage:chelsea.png"),
            "coffee": photo_path("skimage:coffee.png"), "astronaut": photo_path("skimage:astronaut.png")}


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
