"""Files from ``http(s)://`` URLs: downloaded once into the cache, with timeout, retries with backoff,
resume of a partial transfer (``Range`` + ``If-Range``, so a file that changed on the server is never
spliced onto the old part), optional SHA-256 pinning and an atomic rename. Plain files are content-addressed;
a model lands in a folder of its own (per URL) with its external-data files beside it. Everything lands
inside the download cache: a model whose external data points elsewhere is refused before any request for
it. Each URL's transfer and the index are locked, so concurrent onnpu processes and threads are safe."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import quote, unquote, urljoin, urlparse

from onnpu import progress
from onnpu.errors import DownloadError
from onnpu.guards import disk_full, write_error
from onnpu.model.external_data import check_external_data, check_locations
from onnpu.model.files import parse_model_file
from onnpu.model.http_transfer import DownloadPolicy, Response, TransferFailed, get
from onnpu.paths import cache_area, lock_file
from onnpu.storage import LockTimeout, atomic_write, commit, copy_file, locked, sha256_file

__all__ = ["DownloadPolicy", "clear_downloads", "fetch", "fetch_model", "is_url", "list_downloads"]


def is_url(ref: str | Path) -> bool:
    return str(ref).startswith(("http://", "https://"))


def downloads_dir() -> Path:
    return cache_area("downloads")


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


def _validator(headers: dict[str, str]) -> str | None:
    """What ``If-Range`` may carry: a strong ETag, else Last-Modified."""
    etag = headers.get("etag")
    if etag and not etag.startswith("W/"):
        return str(etag)
    modified = headers.get("last-modified")
    return str(modified) if modified else None


def _saved_validator(part: Path) -> str | None:
    try:
        return str(json.loads(part.with_suffix(".json").read_text())["validator"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _start_over(part: Path) -> None:
    part.unlink(missing_ok=True)
    part.with_suffix(".json").unlink(missing_ok=True)


def _resume_from(answer: Response, have: int, validator: str | None) -> int:
    """The byte offset the body starts at: ``have`` for a 206 of the same file from there, else 0."""
    if answer.status != 206:
        return 0  # the server ignored Range, or the file changed (If-Range): the whole file comes
    content_range = answer.headers.get("content-range", "")
    try:
        start = int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        start = -1
    if start != have:
        raise TransferFailed(f"the server answered a range request with another range ({content_range[:60]!r})")
    if validator is None or _validator(answer.headers) != validator:
        # a server that ignores If-Range and sends the tail of another file: never glue it to the old head
        raise TransferFailed("the server sent part of a file that changed since the download began")
    return have


class _PartSink:
    """Opens the part file for the answer: appended to for a 206 of the same file, else started afresh
    (with the new answer's validator saved for a later resume)."""

    def __init__(self, url: str, part: Path, have: int, validator: str | None) -> None:
        self.url, self.part, self.have, self.validator = url, part, have, validator
        self.opened: list[IO[bytes]] = []

    def __call__(self, answer: Response) -> IO[bytes]:
        start = _resume_from(answer, self.have, self.validator)
        if start == 0:
            self.have = 0
            fresh = _validator(answer.headers)
            if fresh:
                atomic_write(self.part.with_suffix(".json"), json.dumps({"url": self.url, "validator": fresh}))
            else:
                self.part.with_suffix(".json").unlink(missing_ok=True)
        self.opened.append(self.part.open("ab" if start else "wb"))
        return self.opened[-1]

    def close(self) -> None:
        for f in self.opened:
            f.close()


def _attempt(url: str, part: Path, policy: DownloadPolicy, left: float) -> str | None:
    """One try: None when the file is complete in ``part``, else why not (for the retry loop)."""
    have = part.stat().st_size if part.exists() else 0
    validator = _saved_validator(part) if have else None
    if have and validator is None:
        _start_over(part)  # nothing proves the server's file unchanged: a resumed part could be spliced
        have = 0
    headers = {"User-Agent": "onnpu", "Accept-Encoding": "identity"}
    if have and validator:
        headers.update({"Range": f"bytes={have}-", "If-Range": validator})
    sink = _PartSink(url, part, have, validator)
    label = f"downloading {_filename(url)}"
    try:
        answer = get(url, headers, policy, left, sink,
                     lambda got, total: progress.advance(label, sink.have + got, sink.have + total if total else 0))
    except TransferFailed as exc:
        if "changed since" in str(exc) or "another range" in str(exc):
            _start_over(part)
        return str(exc)
    except DownloadError:  # refused (size cap, redirect): what arrived is no use to anyone
        sink.close()
        _start_over(part)
        raise
    finally:
        sink.close()
    if answer.status in (200, 206):
        return None
    if answer.status == 416 and have:  # a range past the end: the part is complete or bad
        _start_over(part)
    elif 400 <= answer.status < 500 and answer.status not in (408, 429):
        raise DownloadError(f"{url}: HTTP {answer.status}", hint="check the URL")
    return f"HTTP {answer.status}"


def _transfer(url: str, part: Path, policy: DownloadPolicy) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when the server's file is provably the
    same (``If-Range`` with the validator saved when the part was started, and the same validator on the
    206); retries with backoff, all within the policy's deadline for the whole file."""
    delay = policy.backoff
    last = "the deadline passed"
    end = time.monotonic() + policy.deadline
    tries = 0
    for attempt in range(policy.retries + 1):
        left = end - time.monotonic()
        if left <= 0:
            last = f"no complete file within the deadline of {policy.deadline:g} s"
            break
        tries += 1
        failure = _attempt(url, part, policy, left)
        if failure is None:
            return
        last = failure
        if attempt < policy.retries and time.monotonic() + delay < end:
            time.sleep(delay)
            delay *= 2
    raise DownloadError(f"{url}: download failed after {tries} attempt{'s' if tries != 1 else ''} ({last})",
                        hint="check the URL and the network; a partial download resumes on the next try "
                        "(limits: ONNPU_DOWNLOAD_TIMEOUT, ONNPU_DOWNLOAD_DEADLINE, ONNPU_DOWNLOAD_MIN_RATE)")


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
    if sha256 is not None and (digest != sha256.lower() or sha256_file(path) != digest):
        return None  # a pinned file is re-hashed every time it is used: an edit in place is not trusted
    if target is None or path == target:
        return path
    if not (target.is_file() and sha256_file(target) == digest):
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_file(path, target)
    return target


def not_a_web_page(url: str, part: Path) -> None:
    """Refuse an error page served with status 200 (HTML, XML or JSON where a file was asked for)."""
    with part.open("rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        raise DownloadError(f"{url}: the server sent a web page, not the file",
                            hint="use the file's direct download URL (the page was not cached)")


def _model_file(url: str, part: Path) -> None:
    """Refuse, before it is cached, a download that is not an ONNX model."""
    not_a_web_page(url, part)
    try:
        parse_model_file(part)
    except DownloadError:
        raise
    except Exception as exc:
        raise DownloadError(f"{url}: the download is not an ONNX model ({getattr(exc, 'message', exc)})",
                            hint="check the URL: it must name the .onnx file itself (nothing was cached)") from None


def fetch(url: str, *, sha256: str | None = None, policy: DownloadPolicy | None = None,
          folder: Path | None = None, name: str | None = None,
          check: Callable[[str, Path], None] | None = not_a_web_page) -> Path:
    """The local path of ``url``, downloading it once. With ``sha256`` the content is verified (and a cached
    copy is re-hashed before every use). ``folder``/``name`` place the file inside the download cache
    (models keep external data beside them); otherwise it lands in ``downloads/sha256/<hash>/<name>``.
    ``check`` looks at a finished download before it is cached: what it refuses is never kept."""
    policy = policy or DownloadPolicy.from_env()
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
            if check is not None:
                try:
                    check(url, part)
                except DownloadError:
                    _start_over(part)
                    raise
            dest = target or base / "sha256" / digest / _filename(url)
            dest.parent.mkdir(parents=True, exist_ok=True)
            commit(part, dest)
            part.with_suffix(".json").unlink(missing_ok=True)
            _record(url, dest, digest)
        except OSError as exc:
            if disk_full(exc):
                _start_over(part)  # a part that cannot grow is no use to a resume
            raise write_error(exc, "download", part.parent,
                              hint="free some space, or point ONNPU_CACHE_DIR at a disk with room") from exc
    return dest


def fetch_model(url: str, *, sha256: str | None = None, data_urls: tuple[str, ...] = (),
                policy: DownloadPolicy | None = None) -> Path:
    """A model from ``url`` with its external-data files: given as ``data_urls`` or found beside the model
    on the server (the locations the model names, relative to its URL). Everything lands in one folder of
    the download cache, one per model URL (two models with the same graph may carry different weights).
    A location that is absolute or leaves the model's folder is refused before any request is made."""
    key = _url_key("\n".join((url, *data_urls)))
    folder = downloads_dir() / "models" / key
    policy = policy or DownloadPolicy.from_env()
    with locked(lock_file("downloads", f"model-{key}")):  # `cache clear` leaves a model being fetched alone
        first = fetch(url, sha256=sha256, policy=policy, folder=folder, check=_model_file)
        proto = parse_model_file(first)
        refs = check_locations(proto, url)
        given = {_filename(u): u for u in data_urls}
        for location in sorted({ref.location for ref in refs}):
            relative = PurePosixPath(location.replace("\\", "/"))
            data_url = given.get(relative.name) or urljoin(url, quote(location))
            fetch(data_url, policy=policy, folder=folder / relative.parent, name=relative.name, check=None)
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
        shutil.rmtree(base / "sha256", ignore_errors=True)
        busy = []
        for folder in sorted((base / "models").iterdir()) if (base / "models").is_dir() else []:
            try:  # a model (and its external data) another process is fetching right now stays
                with locked(lock_file("downloads", f"model-{folder.name}"), timeout=0):
                    shutil.rmtree(folder, ignore_errors=True)
            except LockTimeout:
                busy.append(folder)
        index = _load_index()
        kept = {u: e for u, e in index.items() if isinstance(e, dict)
                and any(_inside(Path(str(e.get("path", ""))), f) for f in busy)}
        if kept:
            atomic_write(_index_path(), json.dumps(kept, indent=1))
        else:
            _index_path().unlink(missing_ok=True)
        for part in sorted((base / "partial").glob("*.part")) if (base / "partial").is_dir() else []:
            try:
                with locked(lock_file("downloads", part.stem), timeout=0):
                    _start_over(part)
            except LockTimeout:
                continue
    return count
