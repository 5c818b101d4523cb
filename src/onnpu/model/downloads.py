"""Files from ``http(s)://`` URLs: downloaded once into the cache (content-addressed), with timeout,
retries with backoff, resume of a partial transfer, optional SHA-256 pinning and an atomic rename. A
model's external-data files are fetched with it and kept beside it."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlparse

from onnpu.errors import DownloadError, ModelError
from onnpu.model.files import external_data_files, read_model
from onnpu.paths import cache_dir
from onnpu.storage import atomic_write, commit, sha256_file

Progress = Callable[[str, int, int], None]  # (name, bytes done, total or 0)
CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadPolicy:
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5  # seconds, doubled after each failed attempt


def is_url(ref: str | Path) -> bool:
    return str(ref).startswith(("http://", "https://"))


def downloads_dir() -> Path:
    return cache_dir() / "downloads"


def _index_path() -> Path:
    return downloads_dir() / "index.json"


def _load_index() -> dict[str, dict[str, str]]:
    try:
        return json.loads(_index_path().read_text())
    except (OSError, ValueError):
        return {}


def _save_index(index: dict[str, dict[str, str]]) -> None:
    path = _index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(index, indent=1))


def _filename(url: str) -> str:
    name = PurePosixPath(unquote(urlparse(url).path)).name
    return name or "download"


def _transfer(url: str, part: Path, policy: DownloadPolicy, progress: Progress | None) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size; retries with exponential backoff."""
    delay = policy.backoff
    last: Exception | None = None
    for attempt in range(policy.retries + 1):
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "onnpu", **({"Range": f"bytes={have}-"} if have else {})}
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=policy.timeout) as response:
                resumed = response.status == 206
                if have and not resumed:
                    have = 0  # the server ignored Range: start over
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else 0
                with part.open("ab" if resumed else "wb") as f:
                    done = have
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(_filename(url), done, total)
                if total and done < total:
                    raise DownloadError(f"{url}: transfer ended at {done} of {total} bytes")
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # asked for a range past the end: the part file is complete or bad
                part.unlink()
            elif 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}",
                                    hint="check the URL") from exc
            last = exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, DownloadError) as exc:
            last = exc
        if attempt < policy.retries:
            time.sleep(delay)
            delay *= 2
    reason = getattr(last, "reason", None) or last
    raise DownloadError(f"{url}: download failed after {policy.retries + 1} attempts ({reason})",
                        hint="check the network and the URL; a partial download resumes on the next try")


def fetch(url: str, *, sha256: str | None = None, policy: DownloadPolicy = DownloadPolicy(),
          progress: Progress | None = None, folder: Path | None = None, name: str | None = None) -> Path:
    """The local path of ``url``, downloading it once. With ``sha256`` the content is verified (and a cached
    copy with another hash is not used). ``folder``/``name`` place the file (models keep external data
    beside them); otherwise it lands in ``downloads/sha256/<hash>/<name>``."""
    index = _load_index()
    entry = index.get(url)
    if entry and Path(entry["path"]).is_file() and (sha256 is None or entry["sha256"] == sha256.lower()):
        return Path(entry["path"])
    base = downloads_dir()
    partial = base / "partial"
    partial.mkdir(parents=True, exist_ok=True)
    part = partial / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".part")
    _transfer(url, part, policy, progress)
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise DownloadError(f"{url}: SHA-256 mismatch (got {digest[:16]}…, expected {sha256[:16]}…)",
                            hint="the file changed or the pin is wrong; the download was discarded")
    target_dir = folder or base / "sha256" / digest
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / (name or _filename(url))
    commit(part, target)
    index[url] = {"path": str(target), "sha256": digest}
    _save_index(index)
    return target


def fetch_model(url: str, *, sha256: str | None = None, data_urls: tuple[str, ...] = (),
                policy: DownloadPolicy = DownloadPolicy(), progress: Progress | None = None) -> Path:
    """A model from ``url`` with its external-data files: given as ``data_urls`` or found beside the model
    on the server (the locations the model names, relative to its URL). Everything lands in one folder."""
    first = fetch(url, sha256=sha256, policy=policy, progress=progress)
    proto = read_model(first, load_external_data=False) if _has_all_data(first) else None
    if proto is not None:
        return first
    import onnx

    names = external_data_files(onnx.load(str(first), load_external_data=False))
    folder = first.parent
    given = {_filename(u): u for u in data_urls}
    for location in names:
        data_url = given.get(PurePosixPath(location).name) or urljoin(url, location)
        fetch(data_url, policy=policy, progress=progress, folder=folder / PurePosixPath(location).parent,
              name=PurePosixPath(location).name)
    read_model(first, load_external_data=False)  # verifies every data file is there and long enough
    return first


def _has_all_data(model: Path) -> bool:
    try:
        read_model(model, load_external_data=False)
    except ModelError:
        return False
    return True


def list_downloads() -> dict[str, dict[str, str]]:
    return {url: e for url, e in _load_index().items() if Path(e["path"]).is_file()}


def clear_downloads() -> int:
    count = len(list_downloads())
    shutil.rmtree(downloads_dir(), ignore_errors=True)
    return count
