"""The file-safety layer itself: atomic files and folders with the user's permissions, locks that hold
across processes and threads."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from onnpu.storage import (
    LockTimeout,
    atomic_write,
    locked,
    scratch_dir,
    staging_dir,
    sweep_leftovers,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_get_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "report.json", "{}")
        with staging_dir(tmp_path / "entry") as staging:
            (staging / "sub").mkdir()
            (staging / "sub" / "a.bin").write_bytes(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "report.json") == 0o644  # mkstemp alone would give 0600
    assert _mode(tmp_path / "entry") == 0o755  # mkdtemp alone would give 0700
    assert _mode(tmp_path / "entry" / "sub" / "a.bin") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry", "report.json"]


def test_a_failed_staging_publishes_nothing_and_keeps_the_old_entry(tmp_path: Path) -> None:
    with staging_dir(tmp_path / "entry") as staging:
        (staging / "v").write_text("1")
    with pytest.raises(RuntimeError), staging_dir(tmp_path / "entry") as staging:
        (staging / "v").write_text("2")
        raise RuntimeError("build failed")
    assert (tmp_path / "entry" / "v").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_sweep_removes_only_leftovers_of_that_entry(tmp_path: Path) -> None:
    for name in (".entry.abc.staging", ".entry.old.12.34", ".entry.x.tmp", ".other.abc.staging", "entry"):
        (tmp_path / name).mkdir()
    sweep_leftovers(tmp_path / "entry")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.abc.staging", "entry"]


def test_scratch_folder_is_removed_on_error(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), scratch_dir("onnpu-test-") as scratch:
        kept = scratch
        (scratch / "model.onnx").write_bytes(b"x")
        raise KeyboardInterrupt
    assert not kept.exists()


def test_a_lock_excludes_other_threads(tmp_path: Path) -> None:
    inside, overlaps = [0], [0]

    def work() -> None:
        with locked(tmp_path / "a.lock"):
            inside[0] += 1
            overlaps[0] = max(overlaps[0], inside[0])
            time.sleep(0.02)
            inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps[0] == 1


def test_a_lock_excludes_other_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "entry.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom onnpu.storage import locked\n"
        f"with locked({str(lock)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout), locked(lock, timeout=0.2):
            pass
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the kernel releases the lock
        holder.communicate()
    with locked(lock, timeout=5):
        assert lock.exists()
