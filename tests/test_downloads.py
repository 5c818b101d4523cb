"""Downloads against a real HTTP server on loopback: resume, checksum, 404, slow server, truncated body."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import models
from loopback import CHANGED, PAYLOAD, Server
from onnpu import DownloadError, jsonio
from onnpu.cli import main
from onnpu.model.downloads import DownloadPolicy, fetch, fetch_model, list_downloads
from onnpu.model.files import write_model

FAST = DownloadPolicy(timeout=0.5, retries=1, backoff=0.01)


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
    assert server.if_range[1] == '"' + hashlib.sha256(PAYLOAD).hexdigest()[:16] + '"'  # only if unchanged


def test_file_changed_on_the_server_is_not_spliced(server: Server) -> None:
    """The part from the old file is not continued with the new file's bytes: If-Range makes the server send
    the whole new file, which replaces the part."""
    server.files["changing.bin"] = PAYLOAD
    path = fetch(f"{server.url}/changing.bin", policy=FAST)
    assert server.requests[1][1] == f"bytes={len(PAYLOAD) // 3}-" and server.if_range[1] is not None
    assert path.read_bytes() == CHANGED
    assert hashlib.sha256(CHANGED).hexdigest() in str(path)


def test_no_validator_means_no_resume(server: Server) -> None:
    """Without an ETag or Last-Modified nothing proves the server's file unchanged: start over."""
    server.validators = False
    path = fetch(f"{server.url}/flaky.bin", policy=FAST)
    assert path.read_bytes() == PAYLOAD
    assert [r[1] for r in server.requests] == [None, None]


def test_threads_fetching_one_url_download_it_once(server: Server) -> None:
    server.files["big.bin"] = PAYLOAD * 8
    server.delay = 0.01  # ~0.5 s per transfer: the threads really overlap
    url = f"{server.url}/big.bin"
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: fetch(url), range(4)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == PAYLOAD * 8
    assert server.requests == [("/big.bin", None)]
    assert not list((paths[0].parents[2] / "partial").glob("*.part"))


def test_concurrent_downloads_keep_every_index_entry(server: Server) -> None:
    """The index is read, changed and written under its lock: no entry is lost to a concurrent writer."""
    for k in range(8):
        server.files[f"f{k}.bin"] = bytes([k]) * 5000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: fetch(f"{server.url}/f{k}.bin"), range(8)))
    assert sorted(u.rsplit("/", 1)[1] for u in list_downloads()) == [f"f{k}.bin" for k in range(8)]


def test_processes_fetching_one_url_download_it_once(server: Server, tmp_path: Path) -> None:
    server.files["big.bin"] = PAYLOAD * 8
    server.delay = 0.02
    url = f"{server.url}/big.bin"
    code = ("import sys; from onnpu.model.downloads import fetch; "
            f"print(fetch({url!r}), flush=True)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip().splitlines()[-1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1] and Path(outs[0]).read_bytes() == PAYLOAD * 8
    assert server.requests == [("/big.bin", None)]


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
    data = jsonio.loads(capsys.readouterr().out)
    assert data["external_data"] == ["model.onnx.data"] and data["parameter_count"] == 64 * 27 + 4 * 64
    assert main(["cache", "list", "--json"]) == 0
    listed = jsonio.loads(capsys.readouterr().out)["downloads"]
    assert {d["url"].rsplit("/", 1)[1] for d in listed} == {"model.onnx", "model.onnx.data"}
    assert main(["inspect", f"{server.url}/missing.onnx"]) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_two_models_with_one_graph_keep_their_own_weights(server: Server, tmp_path: Path) -> None:
    """Same model bytes (graph + offsets), different weights: each URL gets a folder of its own."""
    (tmp_path / "b").mkdir()
    other = write_model(models.float_conv(hidden=64), tmp_path / "b" / "model.onnx", external_data=True)
    assert other.read_bytes() == server.files["model.onnx"]  # the graph (and the offsets) are the same
    data_b = bytes(reversed((tmp_path / "b" / "model.onnx.data").read_bytes()))
    server.files.update({"b/model.onnx": other.read_bytes(), "b/model.onnx.data": data_b})
    a = fetch_model(f"{server.url}/model.onnx")
    b = fetch_model(f"{server.url}/b/model.onnx")
    assert a.parent != b.parent
    assert (b.parent / "model.onnx.data").read_bytes() == data_b
    assert (a.parent / "model.onnx.data").read_bytes() == server.files["model.onnx.data"]


def test_a_url_naming_a_parent_folder_lands_inside_the_cache(server: Server, tmp_path: Path) -> None:
    server.files["x/%2e%2e"] = PAYLOAD
    path = fetch(f"{server.url}/x/%2e%2e")
    assert path.name == "download" and path.is_relative_to(tmp_path / "cache" / "downloads" / "sha256")


def test_cache_clear_leaves_a_model_being_fetched_alone(server: Server) -> None:
    """`onnpu cache clear` while another process fetches a model's external data: that model's folder stays
    (the fetch ends with a whole, loadable model); everything else goes, and a later clear removes it too."""
    import threading

    from onnpu.model.downloads import clear_downloads, downloads_dir
    from onnpu.model.files import read_model

    fetch(f"{server.url}/file.bin")
    server.delay = 1.0  # each 16 kB chunk waits: the model arrives, then its data a second later
    result: list[Path] = []
    worker = threading.Thread(target=lambda: result.append(fetch_model(f"{server.url}/model.onnx")))
    worker.start()
    models_dir = downloads_dir() / "models"
    for _ in range(400):
        if list(models_dir.glob("*/model.onnx")):
            break
        threading.Event().wait(0.01)
    assert list(models_dir.glob("*/model.onnx")), "the model never arrived"
    assert clear_downloads() >= 1  # file.bin (and the model's first file) were listed
    worker.join(30)
    [path] = result
    assert read_model(path).graph.initializer and (path.parent / "model.onnx.data").is_file()
    assert set(list_downloads()) == {f"{server.url}/model.onnx", f"{server.url}/model.onnx.data"}
    assert clear_downloads() == 2 and not list(models_dir.glob("*/model.onnx"))
