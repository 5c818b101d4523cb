"""A full disk under every writer a user points somewhere: `run -o`, folder `classify -o`, `bench --report`,
`layers --report`, `compile -o`, and the download cache. Each is one `error:` line that says the disk is full
(with the path and the space left), a `hint:`, exit 1, and nothing half-written left behind. The disk is a
full tmpfs where the machine allows mounting one, else a file-size limit of one byte on the child process."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import models
from loopback import Server


@contextlib.contextmanager
def full_disk(folder: Path) -> Iterator[int | None]:
    """``folder`` on a file system with no room left; yields None, or the RLIMIT_FSIZE to give the child
    where mounting is not allowed."""
    folder.mkdir()
    mount = shutil.which("mount")
    mounted = False
    if mount is not None and os.geteuid() == 0:
        mounted = subprocess.run([mount, "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
    try:
        if mounted:
            with (folder / "filler").open("wb") as f, contextlib.suppress(OSError):
                f.write(b"\0" * (1 << 20))
        yield None if mounted else 1
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def child(argv: list[str], fsize: int | None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys\n"
    if fsize is not None:
        code += ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                 f"resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize}))\n")
    code += f"from onnpu.cli import main\nsys.exit(main({argv!r}))\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def one_full_disk_error(done: subprocess.CompletedProcess[str], folder: Path) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr[-3000:]
    assert lines[0].startswith("error: ") and ("disk full" in lines[0] or "file too large" in lines[0]), lines
    assert len(lines) == 2 and lines[1].startswith("hint: "), lines
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in folder.iterdir()) in ([], ["filler"]), "something half-written was left"


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, Path]:
    model = models.save(models.classifier(classes=4, size=32), tmp_path / "m.onnx")
    images = tmp_path / "images"
    images.mkdir()
    for k in range(3):
        Image.new("RGB", (40, 30), (60 * k, 90, 200)).save(images / f"p{k}.png")
    return model, images


@pytest.mark.parametrize("verb", ["run", "classify", "bench", "layers"])
def test_a_full_disk_under_each_writer(verb: str, tmp_path: Path, small: tuple[Path, Path]) -> None:
    model, images = small
    quantized = tmp_path / "q.onnx"
    if verb == "layers":
        from onnpu.cli import main

        assert main(["quantize", str(model), "-o", str(quantized), "--calib", "random"]) == 0
    with full_disk(tmp_path / "disk") as fsize:
        out = tmp_path / "disk"
        argv = {"run": ["run", str(model), "--target", "cpu", "--random", "-o", str(out / "x.npz")],
                "classify": ["classify", str(images), "--model", str(model), "--target", "cpu",
                             "-o", str(out / "r.csv")],
                "bench": ["bench", str(model), "--target", "cpu", "--iterations", "2", "--warmup", "1",
                          "--report", str(out / "report")],
                "layers": ["layers", str(model), str(quantized), "--report", str(out / "report")]}[verb]
        one_full_disk_error(child(argv, fsize), out)


@pytest.mark.npu
def test_a_full_disk_under_compile(tmp_path: Path) -> None:
    model = models.save(models.qdq_conv(), tmp_path / "q.onnx")
    with full_disk(tmp_path / "disk") as fsize:
        done = child(["compile", str(model), "-o", str(tmp_path / "disk" / "out")], fsize)
        one_full_disk_error(done, tmp_path / "disk")


def test_a_full_download_cache(tmp_path: Path, small: tuple[Path, Path]) -> None:
    model, _ = small
    with full_disk(tmp_path / "disk") as fsize, Server({"m.onnx": model.read_bytes()}) as server:
        cache = tmp_path / "disk" / "cache"
        if fsize is not None:  # under a file-size limit the cache folder itself can be made
            cache.mkdir()
        done = child(["inspect", f"{server.url}/m.onnx"], fsize, env={"ONNPU_CACHE_DIR": str(cache)})
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
        assert "disk full" in lines[0] or "file too large" in lines[0] or "cannot be written" in lines[0], lines
        assert "network" not in done.stderr and "Traceback" not in done.stderr


def test_an_unwritable_cache_says_how_to_move_it(tmp_path: Path, small: tuple[Path, Path]) -> None:
    model, _ = small
    with Server({"m.onnx": model.read_bytes()}) as server:
        done = subprocess.run([sys.executable, "-m", "onnpu", "inspect", f"{server.url}/m.onnx"],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "ONNPU_CACHE_DIR": "/proc/onnpu-cache"})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 2, done.stderr
    assert "cache folder" in lines[0] and "ONNPU_CACHE_DIR" in lines[1], lines


@pytest.mark.npu
def test_a_full_context_cache(tmp_path: Path) -> None:
    model = models.save(models.qdq_conv(), tmp_path / "q.onnx")
    with full_disk(tmp_path / "disk") as fsize:
        cache = tmp_path / "disk" / "cache"
        done = child(["run", str(model), "--target", "npu", "--random"], fsize, env={"ONNPU_CACHE_DIR": str(cache)})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert ("disk full" in lines[0] or "file too large" in lines[0]) and "--no-cache" in done.stderr, lines
    assert "onnpu inspect" not in done.stderr
