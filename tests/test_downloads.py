"""Downloads against a real HTTP server on loopback: resume, checksum, 404, slow server, truncated body."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import models
from onnpu import DownloadError
from onnpu.cli import main
from onnpu.model.downloads import DownloadPolicy, fetch, fetch_model, list_downloads
from onnpu.model.files import write_model

FAST = DownloadPolicy(timeout=0.5, retries=1, backoff=0.01)
PAYLOAD = bytes(range(256)) * 400  # 100 kB


class Server:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []
        self.flaky_served = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                name = self.path.lstrip("/")
                if name == "slow.bin":
                    time.sleep(1.5)
                if name not in server.files and name not in ("flaky.bin", "truncated.bin", "slow.bin"):
                    self.send_error(404)
                    return
                body = server.files.get(name, PAYLOAD)
                start = 0
                ranged = self.headers.get("Range")
                if ranged and name != "truncated.bin":
                    start = int(ranged.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if name == "truncated.bin" or (name == "flaky.bin" and not server.flaky_served):
                    server.flaky_served = True
                    self.wfile.write(body[start:start + len(body) // 3])  # the connection drops mid-body
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(tmp_path / "cache"))  # a download cache of its own per test
    path = write_model(models.float_conv(hidden=64), tmp_path / "model.onnx", external_data=True)
    files = {"file.bin": PAYLOAD, "model.onnx": path.read_bytes(),
             "model.onnx.data": (tmp_path / "model.onnx.data").read_bytes()}
    with Server(files) as s:
        yield s


def test_downloaded_once_and_content_addressed(server: Server) -> None:
    path = fetch(f"{server.url}/file.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert path.read_bytes() == PAYLOAD and hashlib.sha256(PAYLOAD).hexdigest() in str(path)
    assert fetch(f"{server.url}/file.bin") == path
    assert len(server.requests) == 1


def test_interrupted_transfer_resumes(server: Server) -> None:
    path = fetch(f"{server.url}/flaky.bin", policy=FAST)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[0] == ("/flaky.bin", None)
    assert server.requests[1][1] == f"bytes={len(PAYLOAD) // 3}-"  # resumed, not restarted


def test_wrong_checksum_is_refused_and_discarded(server: Server) -> None:
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch(f"{server.url}/file.bin", sha256="0" * 64)
    assert list_downloads() == {}


def test_not_found(server: Server) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(f"{server.url}/nothing.onnx", policy=FAST)
    assert len(server.requests) == 1  # a 404 is not retried


def test_slow_server_times_out(server: Server) -> None:
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="download failed after 2 attempts"):
        fetch(f"{server.url}/slow.bin", policy=FAST)
    assert time.perf_counter() - start < 10


def test_truncated_body_is_an_error(server: Server) -> None:
    with pytest.raises(DownloadError, match="download failed after 2 attempts"):
        fetch(f"{server.url}/truncated.bin", policy=FAST)
    assert list_downloads() == {}


def test_model_with_external_data_found_beside_it(server: Server) -> None:
    path = fetch_model(f"{server.url}/model.onnx")
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert ("/model.onnx.data", None) in server.requests


def test_cli_inspect_url_and_cache_list(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", f"{server.url}/model.onnx", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["external_data"] == ["model.onnx.data"] and data["parameter_count"] == 64 * 27 + 4 * 64
    assert main(["cache", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["downloads"]
    assert {d["url"].rsplit("/", 1)[1] for d in listed} == {"model.onnx", "model.onnx.data"}
    assert main(["inspect", f"{server.url}/missing.onnx"]) == 1
    assert "HTTP 404" in capsys.readouterr().err
