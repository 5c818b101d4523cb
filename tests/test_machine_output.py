"""stdout belongs to onnpu: every verb that has ``--json`` runs as a program would run it (a subprocess, on the
NPU path where it has one); its stdout parses strictly (``onnpu.jsonio.loads``) and says what was asked. CSV
and JSONL outputs parse too. The QNN libraries print to file descriptor 1 (``# LIBNATIVE: ...`` on this
machine): none of it may show."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import detect_models
import models
from onnpu import jsonio
from onnpu.cli import build_parser

pytestmark = pytest.mark.npu
FLOAT_SOC = "qcs8550"  # the u8-I/O classifier has float ops inside: an HTP v73 runs them (v68, the default, does not)


def onnpu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "onnpu", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Path]) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("machine-output")
    folder = root / "photos"
    folder.mkdir()
    for name in ("grace_hopper", "chelsea"):
        (folder / f"{name}{photos[name].suffix}").write_bytes(photos[name].read_bytes())
    from onnpu.quantization.config import QuantizeConfig
    from onnpu.quantization.pipeline import quantize

    float_model = models.save(models.float_conv(), root / "float.onnx")
    quantize(float_model, root / "float.qdq.onnx", "random", config=QuantizeConfig(rounding="nearest"))
    (root / "labelled" / "3").mkdir(parents=True)  # a class folder named by class number
    (root / "labelled" / "3" / "grace_hopper.jpg").write_bytes(photos["grace_hopper"].read_bytes())
    detector = detect_models.save(detect_models.square_detector(), root / "det.onnx")
    quantize(detector, root / "det.qdq.onnx", "random", config=QuantizeConfig(rounding="nearest"))
    return {
        "float.qdq": root / "float.qdq.onnx",
        "det.qdq": root / "det.qdq.onnx",
        "qdq": models.save(models.qdq_conv(), root / "qdq.onnx"),
        "float": models.save(models.float_conv(), root / "float.onnx"),
        "dynamic": models.save(models.float_conv(batch="N"), root / "dyn.onnx"),
        "u8": models.save(models.classifier(uint8_io=True), root / "u8.onnx"),
        "photo": photos["grace_hopper"],
        "folder": folder,
        "root": root,
    }


def json_commands(f: dict[str, Path]) -> dict[str, list[str]]:
    """One NPU-path invocation of every verb that has --json (zoo and demo: see the zoo test below)."""
    npu = ["--target", "npu"]
    return {
        "doctor": ["doctor", "--json"],
        "inspect": ["inspect", str(f["qdq"]), "--json"],
        "fix-shapes": ["fix-shapes", str(f["dynamic"]), "-o", str(f["root"] / "fixed.onnx"), "--dim", "N=1",
                       "--force", "--json"],
        "quantize": ["quantize", str(f["float"]), "-o", str(f["root"] / "q.onnx"), "--calib", "random",
                     "--rounding", "nearest", "--force", "--json"],
        "prepare": ["prepare", str(f["dynamic"]), "-o", str(f["root"] / "prepared.onnx"), "--dim", "N=1",
                    "--calib", "random", "--rounding", "nearest", "--force", "--json"],
        "placement": ["placement", str(f["qdq"]), *npu, "--json"],
        "profile": ["profile", str(f["qdq"]), *npu, "--iterations", "2", "--out", str(f["root"] / "prof"),
                    "--json"],
        "run": ["run", str(f["qdq"]), *npu, "--no-cache", "--json"],
        "classify": ["classify", str(f["photo"]), "--model", str(f["u8"]), *npu, "--soc", FLOAT_SOC, "--json"],
        "detect": ["detect", str(f["photo"]), "--model", str(f["det.qdq"]), *npu, "--json"],
        "eval": ["eval", str(f["u8"]), "--data", str(f["root"] / "labelled"), "--targets", "cpu,npu", "--soc",
                 FLOAT_SOC, "--workers", "2", "--json"],
        "bench": ["bench", str(f["qdq"]), "--target", "cpu,npu", "-n", "2", "--json"],
        "compare": ["compare", str(f["qdq"]), "--targets", "cpu,npu", "--count", "2", "--json"],
        "cache": ["cache", "list", "--json"],
        "compile": ["compile", str(f["qdq"]), "-o", str(f["root"] / "compiled"), "--soc", "qcs6490", "--json"],
        "layers": ["layers", str(f["float"]), str(f["float.qdq"]), *npu, "--inputs", "random", "--count", "2",
                   "--json"],
        "simplify": ["simplify", str(f["dynamic"]), "-o", str(f["root"] / "simple.onnx"), "--dim", "N=1", "--force",
                     "--json"],
    }


def test_every_json_verb_is_covered(files: dict[str, Path]) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    with_json = {name for name, p in sub.choices.items() if any("--json" in a.option_strings for a in p._actions)}
    covered = set(json_commands(files)) | {"zoo", "demo"}
    assert with_json - covered == set(), "add these verbs to json_commands()"


# what each verb's JSON must say about the invocation above (so a parse of some other JSON cannot pass)
EXPECTED: dict[str, Callable[[dict[str, Any]], bool]] = {
    "doctor": lambda d: d["ok"] is True and any("QNNExecutionProvider" in p for p in d["providers"]),
    "inspect": lambda d: d["quantization_style"] == "QDQ" and [t["name"] for t in d["inputs"]] == ["x"],
    "fix-shapes": lambda d: d["inputs"]["x"][0] == 1 and d["remaining_dynamic"] == {},
    "quantize": lambda d: d["output"].endswith("q.onnx") and len(d["quality"]) == 1,
    "prepare": lambda d: d["npu"]["placement"]["fully_on_target"] is True,
    "placement": lambda d: d["fully_on_target"] is True and d["on_target"] == d["total_nodes"],
    "profile": lambda d: d["iterations"] == 2 and len(d["rows"]) > 0,
    "run": lambda d: d["placement"]["fully_on_target"] is True and "y" in d["outputs"],
    "classify": lambda d: len(d["images"]) == 1 and len(d["images"][0]["top"]) == 5,
    "detect": lambda d: d["head"]["kind"] == "yolov8" and len(d["images"]) == 1 and "detections" in d["images"][0],
    "eval": lambda d: d["schema"] == "onnpu.eval/1" and [r["label"] for r in d["rows"]] == ["u8.onnx on cpu",
                                                                                       "u8.onnx on npu"],
    "bench": lambda d: d["schema"] == "onnpu.bench/1" and [len(r["latencies_ms"]) for r in d["runs"]] == [2, 2],
    "compare": lambda d: d["samples"] == 2 and d["candidate"].startswith("qdq.onnx @ npu"),
    "cache": lambda d: isinstance(d["contexts"], list) and "cache_dir" in d,
    "compile": lambda d: d["schema"] == "onnpu.compile/2" and [e["soc"] for e in d["entries"]] == ["QCS6490"],
    "layers": lambda d: d["schema"] == "onnpu.layers/1" and len(d["rows"]) > 0,
    "simplify": lambda d: d["output"].endswith("simple.onnx") and d["checks"][0]["ok"] is True,
}


@pytest.mark.parametrize("verb", list(EXPECTED))
def test_json_stdout_parses(verb: str, files: dict[str, Path]) -> None:
    done = onnpu(*json_commands(files)[verb])
    assert done.returncode == 0, done.stderr[-2000:]
    data = jsonio.loads(done.stdout)  # the whole of stdout, nothing before or after, strict JSON
    assert EXPECTED[verb](data), jsonio.dumps(data)[:2000]
    assert "LIBNATIVE" not in done.stdout + done.stderr


def test_verbose_shows_native_output_on_stderr_only(files: dict[str, Path]) -> None:
    done = onnpu("-v", "placement", str(files["qdq"]), "--target", "npu", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert jsonio.loads(done.stdout)["fully_on_target"] is True
    assert "LIBNATIVE" in done.stderr  # what the QNN libraries printed, shown where it belongs


def test_bench_csv_parses(files: dict[str, Path]) -> None:
    done = onnpu("bench", str(files["qdq"]), "--target", "npu", "-n", "2", "--csv")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 1 and rows[0]["label"] == "qdq.onnx @ npu" and float(rows[0]["p50"]) > 0


def test_folder_results_csv_jsonl_and_json_summary_parse(files: dict[str, Path]) -> None:
    root = files["root"]
    for name in ("r.csv", "r.jsonl"):
        done = onnpu("classify", str(files["folder"]), "--model", str(files["u8"]), "--target", "npu",
                     "--soc", FLOAT_SOC, "-o", str(root / name), "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        summary = jsonio.loads(done.stdout)
        assert summary["classified"] == 2 and summary["failed"] == 0
    rows = list(csv.DictReader((root / "r.csv").read_text().splitlines()))
    assert [r["status"] for r in rows] == ["ok", "ok"]
    records = [jsonio.loads(line) for line in (root / "r.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(len(r["top"]) == 5 for r in records)


@pytest.mark.zoo
def test_zoo_and_demo_json_parse(zoo_model) -> None:  # type: ignore[no-untyped-def]
    env = {"ONNPU_CACHE_DIR": os.environ["ONNPU_CACHE_DIR"]}
    done = onnpu("zoo", "path", "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    paths = jsonio.loads(done.stdout)
    assert paths["built"] is False and paths["quantized"] == str(zoo_model.quantized_model)
    done = onnpu("demo", "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    data = jsonio.loads(done.stdout)
    assert [r["label"] for r in data["runs"]] == ["CPU float", "CPU quantized", "NPU quantized"]
    assert all(r["error"] is None and len(r["images"][0]["top"]) == 5 for r in data["runs"])
    assert data["npu_top1_matches_float"] is True


def test_sessions_opened_on_threads_give_stdout_back(tmp_path: Path) -> None:
    """The library captures native output around each session it opens, at the file-descriptor level; sessions
    opened on several threads at once (`quantize --target-sqnr` measures its gains so) must leave fd 1 and fd 2
    where they were: what the program prints afterwards reaches its stdout and stderr."""
    model = tmp_path / "m.onnx"
    models.save(models.classifier(), model)
    script = (
        "import sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from onnpu.runtime.session import exact_cpu_session\n"
        "def one(k):\n"
        f"    return exact_cpu_session({str(model)!r}, threads=1).session is not None\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    assert all(pool.map(one, range(40)))\n"
        "print('stdout is back', flush=True)\n"
        "print('stderr is back', file=sys.stderr, flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stdout is back"
    assert "stderr is back" in done.stderr


@pytest.mark.parametrize("first_out", ["first", "second"])
def test_overlapping_native_captures_restore_the_descriptors(first_out: str) -> None:
    """Two captures that overlap (one thread's session opening while another's is), whichever ends first: each
    gets what native code wrote to fd 1 and fd 2 while it was open, and fd 1 and fd 2 end up where they were, with
    no descriptor left open."""
    import threading

    from onnpu.runtime.native_log import capture_native

    def identity(fd: int) -> tuple[int, int]:
        st = os.fstat(fd)
        return st.st_dev, st.st_ino

    before = identity(1), identity(2)
    open_fds = len(os.listdir("/proc/self/fd"))
    entered = [threading.Event(), threading.Event()]
    leave = [threading.Event(), threading.Event()]
    logs: dict[int, Any] = {}

    def capture(k: int) -> None:
        with capture_native() as log:
            os.write(1, f"out {k}\n".encode())
            os.write(2, f"err {k}\n".encode())
            entered[k].set()
            leave[k].wait(10)
        logs[k] = log

    threads = [threading.Thread(target=capture, args=(k,)) for k in (0, 1)]
    threads[0].start()
    assert entered[0].wait(10)
    threads[1].start()
    assert entered[1].wait(10)
    order = (0, 1) if first_out == "first" else (1, 0)
    for k in order:
        leave[k].set()
        threads[k].join(10)
    assert (identity(1), identity(2)) == before
    assert len(os.listdir("/proc/self/fd")) == open_fds
    for k in (0, 1):
        assert f"out {k}" in logs[k].stdout and f"err {k}" in logs[k].text
    os.write(1, b"")  # still writable
