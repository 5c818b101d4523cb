"""Interrupted and starved writers: Ctrl-C (SIGINT) in the middle of `quantize` and of a folder `classify`,
and a disk that fills up while a model is written. Real processes, real signals, a real small file system
(tmpfs) where the machine allows mounting one, else a real file-size limit (RLIMIT_FSIZE) on the child."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models
from onnpu.model.files import write_model

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and rlimits")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_when(argv: list[str], ready: Callable[[], bool], env: dict[str, str] | None = None,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child, send it SIGINT (Ctrl-C) as soon as ``ready()`` says it is mid-work."""
    # The child gets Ctrl-C's default disposition whatever this process inherited: a suite started in the
    # background (`nohup make test`, `&`) ignores SIGINT, and Python installs no KeyboardInterrupt handler then.
    # To prove it, every child here is started while this process ignores SIGINT.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "onnpu", *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                                preexec_fn=_default_sigint)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"finished before it could be interrupted: {proc.communicate()}"
        assert time.monotonic() < deadline, "never got to the point to interrupt"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the child did not stop on SIGINT") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_during_quantize_leaves_no_partial_output(tmp_path: Path) -> None:
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    src = models.save(models.layer_zoo(), work / "model.onnx")
    before = _hashes(work)
    done = _interrupt_when(["quantize", str(src), "-o", str(work / "model.qdq.onnx"), "--calib", "random"],
                           lambda: any(scratch.glob("onnpu-quant-*")), env={"TMPDIR": str(scratch)})
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert _hashes(work) == before  # no model, no data file, no temporary file: only the input
    assert not list(scratch.glob("onnpu-*")), "a scratch folder was not removed"


@pytest.mark.parametrize("verb", ["bench", "run"])
def test_ctrl_c_ends_any_verb_with_130(verb: str, tmp_path: Path) -> None:
    """The one error boundary: Ctrl-C in the middle of a verb's work is exit 130 and no traceback, whatever the
    verb (bench measuring, run iterating)."""
    src = models.save(models.classifier(size=64), tmp_path / "cls.onnx")
    argv = {"bench": ["bench", str(src), "--target", "cpu", "--duration", "120", "--json"],
            "run": ["run", str(src), "--iterations", "10000000", "--json"]}[verb]
    start = time.monotonic()
    done = _interrupt_when(argv, lambda: time.monotonic() - start > 1.5)  # at work by then (or still importing:
    # Ctrl-C while onnxruntime initialises is 130 too)
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stdout == ""


def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for k in range(count):
        path = folder / f"img{k:04d}.jpg"
        Image.fromarray(rng.integers(0, 255, (192, 256, 3), dtype=np.uint8)).save(path, quality=85)
        paths.append(path)
    return paths


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_ctrl_c_during_folder_classify_then_resume(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos", 500)
    model = models.save(models.classifier(size=224), tmp_path / "cls.onnx")
    args = ["classify", str(tmp_path / "photos"), "--model", str(model), "--target", "cpu", "--workers", "1",
            "--threads", "1"]
    results = tmp_path / "results.csv"

    def some_rows_written() -> bool:
        return results.is_file() and results.read_bytes().count(b"\n") > 40

    done = _interrupt_when([*args, "-o", str(results)], some_rows_written)
    assert done.returncode == 130, done.stderr[-2000:]
    rows = _rows(results)
    header, body = rows[0], rows[1:]
    assert 40 <= len(body) < len(photos)  # interrupted mid-run
    assert all(len(r) == len(header) and r[1] == "ok" for r in body), "a partial row was written"
    resumed = subprocess.run([sys.executable, "-m", "onnpu", *args, "-o", str(results), "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = tmp_path / "reference.csv"
    straight = subprocess.run([sys.executable, "-m", "onnpu", *args, "-o", str(reference)],
                              capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    final, expected = _rows(results), _rows(reference)
    assert final[0] == expected[0]
    assert sorted(r[0] for r in final[1:]) == sorted(str(p) for p in photos)  # every image exactly once
    assert sorted(final[1:]) == sorted(expected[1:])  # and classified as an uninterrupted run does


def _child(argv: list[str], fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, optionally with a file-size limit (writes beyond it fail with EFBIG
    instead of killing the process: SIGXFSZ is ignored, as a shell's `ulimit -f` user would see)."""
    code = "import sys\n"
    if fsize is not None:
        code += ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                 f"resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize}))\n")
    code += f"from onnpu.cli import main\nsys.exit(main({argv!r}))\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[bool]:
    """Mount a tmpfs of ``size`` on ``folder``; yields False where the machine does not allow it."""
    folder.mkdir()
    mount = shutil.which("mount")
    if mount is None or os.geteuid() != 0:
        yield False
        return
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _big_model(tmp_path: Path, external: bool) -> Path:
    """1.5 MB of weights, batch dim N (so that `fix-shapes --dim N=1` has something to write)."""
    model = models.float_conv(batch="N", hidden=12000)
    if external:
        (tmp_path / "src").mkdir()
        return write_model(model, tmp_path / "src" / "big.onnx", external_data=True)
    return models.save(model, tmp_path / "big.onnx")


def _check_full_disk(done: subprocess.CompletedProcess[str], out_dir: Path, reason: str) -> None:
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr[-2000:]
    assert err[0].startswith("error: ") and "cannot write the model" in err[0] and reason in err[0], err
    assert err[1].startswith("hint: ") and "free" in err[1], err
    assert len(err) == 2, err
    assert list(out_dir.iterdir()) == [], "a partial model or data file was left"


@pytest.mark.parametrize("external", [False, True], ids=["one file", "external data"])
def test_disk_full_while_writing_a_model(external: bool, tmp_path: Path) -> None:
    src = _big_model(tmp_path, external)
    before = _hashes(src.parent)
    with _tmpfs(tmp_path / "small", "1m") as mounted:
        out = tmp_path / "small" / "fixed.onnx"
        argv = ["fix-shapes", str(src), "-o", str(out), "--dim", "N=1"]
        if mounted:  # a real file system with 1 MiB of room
            _check_full_disk(_child(argv), out.parent, "disk full")
        else:  # no mounting here: the same 1 MiB, as a limit on the size of any file the child writes
            _check_full_disk(_child(argv, fsize=1 << 20), out.parent, "file too large")
    assert _hashes(src.parent) == before


def test_file_size_limit_while_writing_a_model(tmp_path: Path) -> None:
    src = _big_model(tmp_path, external=True)
    (tmp_path / "out").mkdir()
    argv = ["fix-shapes", str(src), "-o", str(tmp_path / "out" / "fixed.onnx"), "--dim", "N=1"]
    _check_full_disk(_child(argv, fsize=1 << 20), tmp_path / "out", "file too large")
