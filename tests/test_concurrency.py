"""Concurrent onnpu processes and threads on the shared caches (compiled NPU contexts, the zoo), and cache
entries that are stale or broken against errors that are not the entry's fault. Real processes, the HTP
emulator, tiny QDQ models (tests/models.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import models
from onnpu import OnnpuError, jsonio
from onnpu.runtime.context_cache import CTX_NAME, META_NAME, cached_session, contexts_dir, list_entries
from onnpu.runtime.targets import get_target

pytestmark = pytest.mark.npu


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of its own per test (child processes inherit it)."""
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(tmp_path / "cache"))

# Every process waits at a barrier (one file per process in a folder) so that they really start together.
WORKER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import numpy as np
    barrier, me, count, model = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    from onnpu.runtime.context_cache import cached_session
    from onnpu.runtime.targets import get_target
    target = get_target("npu", allow_fallback=False)
    (barrier / me).touch()
    while len(list(barrier.iterdir())) < count:
        time.sleep(0.002)
    loaded, state = cached_session(model, target)
    y = loaded.run({"x": np.linspace(0, 1, 3 * 16 * 16, dtype=np.float32).reshape(1, 3, 16, 16)})[0]
    print("RESULT " + json.dumps({"state": state, "y": np.asarray(y).ravel().tolist()}), flush=True)
""")


def _entries_and_leftovers() -> tuple[list[str], list[str]]:
    names = sorted(p.name for p in contexts_dir().iterdir())
    return [n for n in names if not n.startswith(".")], [n for n in names if n.startswith(".")]


def test_two_processes_compiling_one_model_compile_it_once(tmp_path: Path) -> None:
    model = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    (tmp_path / "barrier").mkdir()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "barrier"), str(k), "2", str(model)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results.append(jsonio.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]))
    assert sorted(r["state"] for r in results) == ["built", "hit"]  # the second waited, then loaded
    assert results[0]["y"] == results[1]["y"]
    entries, leftovers = _entries_and_leftovers()
    assert len(entries) == 1 and not leftovers
    assert len(list_entries()) == 1


def test_threads_opening_one_model_compile_it_once(tmp_path: Path) -> None:
    model = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    target = get_target("npu", allow_fallback=False)
    with ThreadPoolExecutor(4) as pool:
        states = sorted(pool.map(lambda _: cached_session(model, target)[1], range(4)))
    assert states == ["built", "hit", "hit", "hit"]
    entries, leftovers = _entries_and_leftovers()
    assert len(entries) == 1 and not leftovers


def _entry(model: Path) -> Path:
    target = get_target("npu", allow_fallback=False)
    assert cached_session(model, target)[1] == "built"
    return next(p for p in contexts_dir().iterdir() if (p / CTX_NAME).is_file() and str(model) in
                (p / META_NAME).read_text())


def _binary(entry: Path) -> Path:
    return next(p for p in entry.iterdir() if p.suffix == ".bin")


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "missing", "stale fields", "unreadable metadata"])
def test_a_stale_or_broken_entry_is_rebuilt(damage: str, tmp_path: Path) -> None:
    model = models.save(models.qdq_conv(), tmp_path / f"{damage.replace(' ', '_')}.onnx")
    entry = _entry(model)
    binary = _binary(entry)
    if damage == "truncated":
        binary.write_bytes(binary.read_bytes()[:1000])
    elif damage == "corrupt":  # same size, every 7th byte flipped: only the EP can tell, and refuses it
        data = bytearray(binary.read_bytes())
        data[::7] = bytes(b ^ 0xFF for b in data[::7])
        binary.write_bytes(bytes(data))
    elif damage == "missing":
        binary.unlink()
    elif damage == "stale fields":
        meta = jsonio.loads((entry / META_NAME).read_text())
        meta["fields"]["qnn_sdk"] = "0.0.0"
        (entry / META_NAME).write_text(json.dumps(meta))
    else:
        (entry / META_NAME).write_text("{not json")
    loaded, state = cached_session(model, get_target("npu", allow_fallback=False))
    assert state == "rebuilt"
    assert loaded.placement is not None and loaded.placement.fully_on_target
    assert cached_session(model, get_target("npu", allow_fallback=False))[1] == "hit"
    assert not _entries_and_leftovers()[1]


def test_an_error_that_is_not_the_entrys_fault_keeps_it(tmp_path: Path) -> None:
    """A session setting that makes ONNX Runtime fail (here: reading the ONNX file as ORT format) fails the
    cached load and a fresh compile alike: the error is the caller's, and the valid entry stays."""
    model = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    entry = _entry(model)
    before = {p.name: p.read_bytes() for p in entry.iterdir()}
    with pytest.raises(OnnpuError, match="onnxruntime cannot load the model"):
        cached_session(model, get_target("npu", allow_fallback=False), config={"session.load_model_format": "ORT"})
    assert {p.name: p.read_bytes() for p in entry.iterdir()} == before
    assert cached_session(model, get_target("npu", allow_fallback=False))[1] == "hit"


def test_leftovers_of_a_killed_compile_are_swept(tmp_path: Path) -> None:
    model = models.save(models.qdq_conv(), tmp_path / "qdq.onnx")
    entry = _entry(model)
    staging = entry.with_name(f".{entry.name}.x1y2.staging")
    staging.mkdir()
    (staging / CTX_NAME).write_bytes(b"half")
    entry.with_name(f".{entry.name}.old.999.1").mkdir()
    assert cached_session(model, get_target("npu", allow_fallback=False))[1] == "hit"
    assert _entries_and_leftovers() == ([entry.name], [])


@pytest.mark.zoo
def test_two_processes_building_the_zoo_model_build_it_once(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "onnpu", "zoo", "build", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        results.append(jsonio.loads(out))  # the whole of stdout: nothing else is printed there
    assert sorted(r["built"] for r in results) == [False, True]  # one built it, the other waited and used it
    assert results[0]["quantized"] == results[1]["quantized"]
    zoo = tmp_path / "cache" / "zoo"
    assert sorted(p.name for p in zoo.iterdir()) == ["efficientnet-lite0"]  # no staging folder left
    from onnpu import zoo as zoo_module

    assert not zoo_module.build().built  # the manifest's SHA-256 of every file matches: one valid entry
