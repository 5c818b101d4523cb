"""Downloads from servers that drip, never end, lie, redirect elsewhere or speak broken HTTP: each ends
within its deadline in one clear error (or a whole, correct file), and nothing that is not what was asked
for stays in the cache. A real TCP server on loopback (tests/hostile_http.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hostile_http import FILE, OTHER, HostileServer
from onnpu.errors import DownloadError
from onnpu.model.downloads import fetch, fetch_model, list_downloads
from onnpu.model.http_transfer import DownloadPolicy

TIGHT = DownloadPolicy(timeout=1.0, deadline=3.0, min_rate=2000.0, grace=1.0, retries=0, backoff=0.01,
                       max_bytes=1 << 20)


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HostileServer:
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(tmp_path / "cache"))  # each test its own cache
    with HostileServer() as s:
        yield s


@pytest.mark.parametrize("path, words", [
    ("drip_body.onnx", "bytes/s"),  # one byte every 0.2 s: below the minimum rate, whatever the per-read timeout
    ("drip_headers.onnx", "no answer"),  # headers one byte at a time
])
def test_dripping_servers_end_within_the_deadline(server: HostileServer, path: str, words: str) -> None:
    start = time.monotonic()
    with pytest.raises(DownloadError, match=words):
        fetch(f"{server.url}/{path}", policy=TIGHT)
    assert time.monotonic() - start < 6
    assert list_downloads() == {}


def test_the_deadline_covers_every_attempt(server: HostileServer) -> None:
    policy = DownloadPolicy(timeout=5.0, deadline=2.0, min_rate=0.0, retries=5, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="download failed"):
        fetch(f"{server.url}/drip_body.onnx", policy=policy)
    assert time.monotonic() - start < 4.5


@pytest.mark.parametrize("path, words", [("endless.onnx", "grew past"), ("huge.onnx", "more than the download")])
def test_size_cap(server: HostileServer, path: str, words: str) -> None:
    with pytest.raises(DownloadError, match=words):
        fetch(f"{server.url}/{path}", policy=TIGHT)
    assert list_downloads() == {}
    partial = Path(os.environ["ONNPU_CACHE_DIR"]) / "downloads" / "partial"
    assert not list(partial.glob("*.part")), "a refused download was left in the cache"


def test_redirects_only_to_http(server: HostileServer) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    server.behaviours["ftp.onnx"] = lambda sock, h: sock.sendall(
        f"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1:{port}/x.onnx\r\nContent-Length: 0\r\n\r\n".encode())
    for path in ("ftp.onnx", "file.onnx"):
        with pytest.raises(DownloadError, match="follows redirects only to http"):
            fetch(f"{server.url}/{path}", policy=TIGHT)
    with pytest.raises(OSError):  # nobody ever connected to the ftp:// address
        listener.accept()
    listener.close()


def test_a_lying_206_is_never_spliced(server: HostileServer) -> None:
    policy = DownloadPolicy(timeout=2.0, deadline=10.0, retries=3, backoff=0.01)
    path = fetch(f"{server.url}/lying.bin", policy=policy)
    data = path.read_bytes()
    assert data == OTHER, "the new tail was glued to the old head" if data[:100] == FILE[:100] else data[:20]
    ranges = [h.get("range") for p, h in server.requests if p == "/lying.bin"]
    assert ranges[0] is None and any(ranges), ranges  # it did try to resume, and did not trust the answer


@pytest.mark.parametrize("path", ["bad_length.bin", "bad_chunked.bin", "short_chunked.bin", "garbage.bin",
                                  "http09.bin", "many_headers.bin", "long_header.bin"])
def test_broken_http_is_one_clear_error(server: HostileServer, path: str) -> None:
    policy = DownloadPolicy(timeout=1.0, deadline=5.0, retries=1, backoff=0.01)
    try:
        got = fetch(f"{server.url}/{path}", policy=policy)
    except DownloadError as exc:
        assert "download failed after 2 attempts" in str(exc), exc
        assert "\n" not in str(exc)
        assert list_downloads() == {}
    else:  # a server that closes the connection after an unparsable length still sent the whole file
        assert path == "bad_length.bin" and got.read_bytes() == FILE


def test_a_web_page_is_not_cached_as_a_model(server: HostileServer) -> None:
    for _ in range(2):
        with pytest.raises(DownloadError, match="web page"):
            fetch_model(f"{server.url}/page.onnx", policy=TIGHT)
    assert server.count("page.onnx") == 2, "the page was served from the cache the second time"
    assert list_downloads() == {}


def test_sha256_always_rehashes_the_cached_copy(server: HostileServer) -> None:
    import hashlib

    pin = hashlib.sha256(FILE).hexdigest()
    path = fetch(f"{server.url}/honest.bin", sha256=pin, policy=TIGHT)
    edited = bytearray(path.read_bytes())
    edited[10] ^= 0xFF  # same size, edited in place
    path.write_bytes(bytes(edited))
    again = fetch(f"{server.url}/honest.bin", sha256=pin, policy=TIGHT)
    assert again.read_bytes() == FILE and server.count("honest.bin") == 2


def test_a_real_process_gives_one_line_and_a_deadline(server: HostileServer, tmp_path: Path) -> None:
    env = {**os.environ, "ONNPU_DOWNLOAD_TIMEOUT": "1", "ONNPU_DOWNLOAD_DEADLINE": "3",
           "ONNPU_DOWNLOAD_RETRIES": "0", "ONNPU_CACHE_DIR": str(tmp_path / "cache")}
    cases = [(["inspect", f"{server.url}/drip_body.onnx"], "download failed"),
             (["inspect", f"{server.url}/endless.onnx", "--max-download-mb", "1"], "grew past")]
    threads = []
    results: list[tuple[subprocess.CompletedProcess[str], str, float]] = []

    def one(argv: list[str], words: str) -> None:
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "onnpu", *argv], capture_output=True, text=True, env=env,
                              timeout=60)
        results.append((done, words, time.monotonic() - start))

    for argv, words in cases:
        threads.append(threading.Thread(target=one, args=(argv, words)))
        threads[-1].start()
    for t in threads:
        t.join()
    for done, words, seconds in results:
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 1 and len(errors) == 1 and words in errors[0], done.stderr
        assert "Traceback" not in done.stderr and "hint:" in done.stderr
        assert seconds < 30


@pytest.mark.parametrize("path, words", [("labels.txt.gz", "compressed (Content-Encoding: gzip)"),
                                         ("labels.json", "not a class index")])
def test_labels_that_are_no_labels_are_never_cached(server: HostileServer, tmp_path: Path, path: str,
                                                    words: str) -> None:
    """A compressed body sent against Accept-Encoding: identity, or an API's JSON error body with status 200:
    one error naming the URL, nothing cached, and a rerun asks the server again (a cached bad file would make
    every later run fail the same way, with a hint about a local file the user never wrote)."""
    model = tmp_path / "m.onnx"
    import models

    models.save(models.classifier(classes=4, size=32), model)
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (90, 120, 200)).save(image)
    argv = [sys.executable, "-m", "onnpu", "classify", str(image), "--model", str(model), "--target", "cpu",
            "--labels", f"{server.url}/{path}"]
    for attempt in (1, 2):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 1 and len(errors) == 1 and words in errors[0], done.stderr
        assert f"{server.url}/{path}" in errors[0] and "nothing was cached" in done.stderr, done.stderr
        assert server.count(path) == attempt
    assert list_downloads() == {}
