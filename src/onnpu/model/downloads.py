"""Files from ``http(s)://`` URLs: downloaded once into the cache, with timeout, retries with backoff,
resume of a partial transfer (``Range`` + ``If-Range``, so a file that changed on the server is never
spliced onto the old part), optional SHA-256 pinning and an atomic rename. Plain files are content-addressed;
a model lands in a folder of its own (per URL) with its external-data files beside it. Everything lands
inside the download cache: a model whose external data points elsewhere is refused before any request for
it. Each URL's transfer and the index are locked, so concurrent onnpu processes and threads are safe."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urljoin, urlparse

from onnpu import progress
from onnpu.errors import DownloadError
from onnpu.model.external_data import check_external_data, check_locations
from onnpu.model.files import parse_model_file
from onnpu.paths import cache_dir, lock_file
from onnpu.storage import LockTimeout, atomic_write, commit, copy_file, locked, sha256_file

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


def _url_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def _load_index() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_index_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(url: str, path: Path, digest: str) -> None:
    """Add ``url`` to the index (read, changed and written under the index lock)."""
    with locked(lock_file("downloads", "index")):
        index = _load_index()
        index[url] = {"path": str(path), "sha256": digest, "size": str(path.stat().st_size)}
        _index_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write(_index_path(), json.dumps(index, indent=1))


def _filename(url: str) -> str:
    """A safe file name for ``url`` (its last path segment, or ``download``)."""
    name = PurePosixPath(unquote(urlparse(url).path)).name
    name = "".join(c for c in name if c.isprintable() and c not in "/\\")[-200:]
    return name if name not in ("", ".", "..") else "download"


def _validator(response: http.client.HTTPResponse) -> str | None:
    """What ``If-Range`` may carry: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return str(etag)
    modified = response.headers.get("Last-Modified")
    return str(modified) if modified else None


def _saved_validator(part: Path) -> str | None:
    try:
        return str(json.loads(part.with_suffix(".json").read_text())["validator"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _start_over(part: Path) -> None:
    part.unlink(missing_ok=True)
    part.with_suffix(".json").unlink(missing_ok=True)


class _RangeMismatch(DownloadError):
    """The server answered a range request with another range."""


def _resume_from(response: http.client.HTTPResponse, have: int) -> int:
    """The byte offset the response body starts at: ``have`` for a matching 206, else 0 (start over)."""
    if response.status != 206:
        return 0  # the server ignored Range, or the file changed (If-Range): the whole file comes
    content_range = response.headers.get("Content-Range", "")
    try:
        start = int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        start = -1
    if start != have:
        raise _RangeMismatch(f"the server answered a range request with another range ({content_range!r})")
    return have


def _transfer(url: str, part: Path, policy: DownloadPolicy) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when the server's file is provably the
    same (``If-Range`` with the validator saved when the part was started); retries with backoff."""
    delay = policy.backoff
    last: Exception | None = None
    for attempt in range(policy.retries + 1):
        have = part.stat().st_size if part.exists() else 0
        validator = _saved_validator(part) if have else None
        if have and validator is None:
            _start_over(part)  # nothing proves the server's file unchanged: a resumed part could be spliced
            have = 0
        headers = {"User-Agent": "onnpu"}
        if have and validator:
            headers.update({"Range": f"bytes={have}-", "If-Range": validator})
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=policy.timeout) as response:
                start = _resume_from(response, have)
                if start == 0:
                    fresh = _validator(response)
                    if fresh:
                        atomic_write(part.with_suffix(".json"), json.dumps({"url": url, "validator": fresh}))
                    else:
                        part.with_suffix(".json").unlink(missing_ok=True)
                length = response.headers.get("Content-Length")
                total = start + int(length) if length is not None else 0
                with part.open("ab" if start else "wb") as f:
                    done = start
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        done += len(chunk)
                        progress.advance(f"downloading {_filename(url)}", done, total)
                if total and done < total:
                    raise DownloadError(f"{url}: transfer ended at {done} of {total} bytes")
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # asked for a range past the end: the part file is complete or bad
                _start_over(part)
            elif 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}",
                                    hint="check the URL") from exc
            last = exc
        except _RangeMismatch as exc:
            _start_over(part)
            last = exc
        except DownloadError as exc:
            last = exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            last = exc
        if attempt < policy.retries:
            time.sleep(delay)
            delay *= 2
    reason = getattr(last, "reason", None) or last
    raise DownloadError(f"{url}: download failed after {policy.retries + 1} attempts ({reason})",
                        hint="check the network and the URL; a partial download resumes on the next try")


def _cached(url: str, sha256: str | None, target: Path | None) -> Path | None:
    """The cached copy of ``url`` (at ``target`` when one is asked for), or None."""
    entry = _load_index().get(url)
    if not isinstance(entry, dict):
        return None
    path = Path(str(entry.get("path", "")))
    digest = str(entry.get("sha256", ""))
    if not path.is_file() or not _inside(path, downloads_dir()):
        return None
    if "size" in entry and str(path.stat().st_size) != str(entry["size"]):
        return None  # cut short since: download again
    if sha256 is not None and digest != sha256.lower():
        return None
    if target is None or path == target:
        return path
    if not (target.is_file() and sha256_file(target) == digest):
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_file(path, target)
    return target


def fetch(url: str, *, sha256: str | None = None, policy: DownloadPolicy = DownloadPolicy(),
          folder: Path | None = None, name: str | None = None) -> Path:
    """The local path of ``url``, downloading it once. With ``sha256`` the content is verified (and a cached
    copy with another hash is not used). ``folder``/``name`` place the file inside the download cache
    (models keep external data beside them); otherwise it lands in ``downloads/sha256/<hash>/<name>``."""
    base = downloads_dir()
    target = (folder / (name or _filename(url))) if folder is not None else None
    if target is not None and not _inside(target, base):
        raise DownloadError(f"{url}: refusing to store a download at {target}, outside the download cache "
                            f"{base}", hint="downloads only land inside onnpu's cache")
    key = _url_key(url)
    with locked(lock_file("downloads", key)):  # one transfer per URL; others wait, then find it cached
        hit = _cached(url, sha256, target)
        if hit is not None:
            return hit
        part = base / "partial" / f"{key}.part"
        try:
            part.parent.mkdir(parents=True, exist_ok=True)
            _transfer(url, part, policy)
            digest = sha256_file(part)
            if sha256 is not None and digest != sha256.lower():
                _start_over(part)
                raise DownloadError(f"{url}: SHA-256 mismatch (got {digest[:16]}…, expected {sha256[:16]}…)",
                                    hint="the file changed or the pin is wrong; the download was discarded")
            dest = target or base / "sha256" / digest / _filename(url)
            dest.parent.mkdir(parents=True, exist_ok=True)
            commit(part, dest)
            part.with_suffix(".json").unlink(missing_ok=True)
            _record(url, dest, digest)
        except OSError as exc:
            raise DownloadError(f"{url}: cannot store the download in {base} ({exc.strerror or exc})",
                                hint="check free space and permissions of the cache folder") from exc
    return dest


def fetch_model(url: str, *, sha256: str | None = None, data_urls: tuple[str, ...] = (),
                policy: DownloadPolicy = DownloadPolicy()) -> Path:
    """A model from ``url`` with its external-data files: given as ``data_urls`` or found beside the model
    on the server (the locations the model names, relative to its URL). Everything lands in one folder of
    the download cache, one per model URL (two models with the same graph may carry different weights).
    A location that is absolute or leaves the model's folder is refused before any request is made."""
    folder = downloads_dir() / "models" / _url_key("\n".join((url, *data_urls)))
    first = fetch(url, sha256=sha256, policy=policy, folder=folder)
    proto = parse_model_file(first)
    refs = check_locations(proto, url)
    given = {_filename(u): u for u in data_urls}
    for location in sorted({ref.location for ref in refs}):
        relative = PurePosixPath(location.replace("\\", "/"))
        data_url = given.get(relative.name) or urljoin(url, quote(location))
        fetch(data_url, policy=policy, folder=folder / relative.parent, name=relative.name)
    check_external_data(proto, first)  # every data file there, inside the folder, long enough
    return first


def list_downloads() -> dict[str, dict[str, str]]:
    return {url: e for url, e in _load_index().items()
            if isinstance(e, dict) and Path(str(e.get("path", ""))).is_file()}


def clear_downloads() -> int:
    """Remove every download (partial transfers in progress in another process are left alone)."""
    base = downloads_dir()
    with locked(lock_file("downloads", "index")):
        count = len(list_downloads())
        for sub in ("sha256", "models"):
            shutil.rmtree(base / sub, ignore_errors=True)
        _index_path().unlink(missing_ok=True)
        for part in sorted((base / "partial").glob("*.part")) if (base / "partial").is_dir() else []:
            try:
                with locked(lock_file("downloads", part.stem), timeout=0):
                    _start_over(part)
            except LockTimeout:
                continue
    return count
