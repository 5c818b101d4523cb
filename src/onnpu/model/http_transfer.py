"""One HTTP(S) GET with limits a hostile or broken server cannot get around.

* Deadlines, enforced by a watchdog thread that shuts the socket down (a per-read timeout alone never fires
  on a server that sends one byte every few seconds): connecting and receiving the headers must finish
  within ``timeout``; the body may stall no longer than ``timeout`` between bytes, must keep an average of
  ``min_rate`` bytes/s once ``grace`` seconds have passed, and the whole file must arrive within
  ``deadline`` (all attempts together; the caller passes the time left).
* A size cap: a ``Content-Length`` above ``max_bytes`` is refused before the body; a body that grows past
  it is cut off.
* Redirects are followed only to ``http``/``https`` (at most ``MAX_REDIRECTS``).
* Every ``http.client`` failure (bad status line, HTTP/0.9, too many or too long headers, a bad
  ``Content-Length``, broken chunked encoding) becomes ``TransferFailed``: the caller retries or reports it
  in one line."""

from __future__ import annotations

import http.client
import math
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO
from urllib.parse import urljoin, urlsplit

from onnpu.errors import DownloadError

MAX_REDIRECTS = 5
CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadPolicy:
    """Limits of one download; ``from_env`` reads the documented ``ONNPU_DOWNLOAD_*`` overrides."""

    timeout: float = 30.0  # connect + headers; longest stall inside the body
    deadline: float = 3600.0  # the whole file, every attempt included
    min_rate: float = 4096.0  # bytes/s averaged over the body, checked once ``grace`` has passed
    grace: float = 30.0
    max_bytes: int = 8 << 30  # per file
    retries: int = 3
    backoff: float = 0.5  # seconds, doubled after each failed attempt

    @classmethod
    def from_env(cls, max_mb: float | None = None) -> DownloadPolicy:
        policy = cls()
        names = {"timeout": "ONNPU_DOWNLOAD_TIMEOUT", "deadline": "ONNPU_DOWNLOAD_DEADLINE",
                 "min_rate": "ONNPU_DOWNLOAD_MIN_RATE", "grace": "ONNPU_DOWNLOAD_GRACE",
                 "retries": "ONNPU_DOWNLOAD_RETRIES", "backoff": "ONNPU_DOWNLOAD_BACKOFF"}
        values: dict[str, float | int] = {}
        for field, env in names.items():
            raw = os.environ.get(env)
            if raw:
                try:
                    number = float(raw)
                except ValueError:
                    raise DownloadError(f"{env}={raw!r} is not a number", hint=f"unset {env} or give a number") \
                        from None
                if not math.isfinite(number) or number < 0:
                    raise DownloadError(f"{env}={raw!r} is not a finite number ≥ 0",
                                        hint=f"unset {env} or give a number ≥ 0")
                values[field] = int(number) if field == "retries" else number
        raw_mb = os.environ.get("ONNPU_MAX_DOWNLOAD_MB")
        if max_mb is None and raw_mb:
            try:
                max_mb = float(raw_mb)
            except ValueError:
                raise DownloadError(f"ONNPU_MAX_DOWNLOAD_MB={raw_mb!r} is not a number",
                                    hint="give the limit in MB") from None
        if max_mb is not None:
            if not math.isfinite(max_mb) or max_mb <= 0:
                raise DownloadError(f"the download limit {max_mb!r} MB is not a finite number > 0",
                                    hint="give the limit in MB (--max-download-mb or ONNPU_MAX_DOWNLOAD_MB)")
            values["max_bytes"] = int(max_mb * 1_000_000)
        return replace(policy, **values)  # type: ignore[arg-type]


class TransferFailed(Exception):
    """One attempt failed in a way another attempt may not (network, server, protocol)."""


class Refused(DownloadError):
    """The server's answer breaks a rule no retry changes (redirect scheme, size cap)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    url: str


class _Watchdog:
    """Shuts a connection's socket down when its current deadline passes (a blocked read then ends)."""

    def __init__(self) -> None:
        self.deadline = float("inf")
        self.reason = ""
        self.fired = ""
        self._conn: http.client.HTTPConnection | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="onnpu-download-watchdog", daemon=True)
        self._thread.start()

    def arm(self, conn: http.client.HTTPConnection, seconds: float, reason: str) -> None:
        self._conn = conn
        self.deadline = time.monotonic() + seconds
        self.reason = reason

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            if time.monotonic() > self.deadline and self._conn is not None and not self.fired:
                self.fired = self.reason
                sock = self._conn.sock
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url}: onnpu only downloads http(s) URLs", hint="give an http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise Refused(f"{url}: the port is not a number", hint="check the URL") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout,
                                           context=ssl.create_default_context()), path
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), path


def _length(headers: dict[str, str]) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise TransferFailed(f"the server sent an invalid Content-Length ({raw[:40]!r})")
    return int(raw)


def get(url: str, headers: dict[str, str], policy: DownloadPolicy, time_left: float,
        sink: Callable[[Response], IO[bytes]], on_bytes: Callable[[int, int], None] | None = None) -> Response:
    """GET ``url`` (following http(s) redirects) and stream the body into the file ``sink(response)`` returns.
    Raises ``TransferFailed`` for what a retry may fix, ``Refused``/``DownloadError`` for what it cannot."""
    watchdog = _Watchdog()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            conn, path = _connection(url, policy.timeout)
            try:
                watchdog.arm(conn, min(policy.timeout, time_left), "no answer (connect and headers)")
                try:
                    conn.request("GET", path, headers=headers)
                    raw = conn.getresponse()
                except (http.client.HTTPException, OSError, ValueError) as exc:
                    raise TransferFailed(watchdog.fired or _describe(exc)) from None
                answer = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, url)
                if raw.status in (301, 302, 303, 307, 308):
                    target = urljoin(url, answer.headers.get("location", ""))
                    if urlsplit(target).scheme not in ("http", "https"):
                        raise Refused(f"{url}: redirected to {target[:200]!r}; onnpu follows redirects only to "
                                      "http(s)", hint="download the file yourself and pass its path")
                    url = target
                    continue
                if raw.status >= 400 or raw.status not in (200, 206):
                    return answer
                _body(raw, answer, policy, time_left, sink, on_bytes, watchdog, conn)
                return answer
            finally:
                conn.close()
        raise TransferFailed(f"more than {MAX_REDIRECTS} redirects")
    finally:
        watchdog.close()


def _body(raw: http.client.HTTPResponse, answer: Response, policy: DownloadPolicy, time_left: float,
          sink: Callable[[Response], IO[bytes]], on_bytes: Callable[[int, int], None] | None, watchdog: _Watchdog,
          conn: http.client.HTTPConnection) -> None:
    encoding = answer.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused(f"{answer.url}: the server sent the file compressed (Content-Encoding: {encoding[:40]}) though "
                      "onnpu asked for it as it is", hint="use the file's direct download URL, or download it "
                      "yourself and pass its path (nothing was cached)")
    length = _length(answer.headers)
    if length is not None and length > policy.max_bytes:
        raise Refused(f"{answer.url}: the file is {length / 1e6:.0f} MB, more than the download limit "
                      f"({policy.max_bytes / 1e6:.0f} MB)", hint="raise it with --max-download-mb or "
                      "ONNPU_MAX_DOWNLOAD_MB if the file is what you expect")
    out = sink(answer)
    start = time.monotonic()
    end = start + time_left
    got = 0
    while True:
        now = time.monotonic()
        watchdog.arm(conn, max(0.0, min(policy.timeout, end - now)),
                     f"the transfer stalled for {policy.timeout:g} s" if end - now > policy.timeout else
                     "the download took longer than its deadline (ONNPU_DOWNLOAD_DEADLINE)")
        try:
            chunk = raw.read1(CHUNK) if hasattr(raw, "read1") else raw.read(CHUNK)
        except (http.client.HTTPException, OSError, ValueError) as exc:
            raise TransferFailed(watchdog.fired or _describe(exc)) from None
        if watchdog.fired:
            raise TransferFailed(watchdog.fired)
        if not chunk:
            break
        got += len(chunk)
        if got > policy.max_bytes:
            raise Refused(f"{answer.url}: the body grew past the download limit ({policy.max_bytes / 1e6:.0f} MB)",
                          hint="raise it with --max-download-mb or ONNPU_MAX_DOWNLOAD_MB if the file is what you "
                          "expect")
        out.write(chunk)
        if on_bytes is not None:
            on_bytes(got, length or 0)
        elapsed = time.monotonic() - start
        if elapsed > policy.grace and got / elapsed < policy.min_rate:
            raise TransferFailed(f"the server sends {got / elapsed:.0f} bytes/s, below the minimum "
                                 f"{policy.min_rate:.0f} (ONNPU_DOWNLOAD_MIN_RATE)")
    if length is not None and got < length:
        raise TransferFailed(f"the transfer ended at {got} of {length} bytes")


def _describe(exc: BaseException) -> str:
    """A failure in words (http.client's exception names are not)."""
    if isinstance(exc, http.client.LineTooLong):
        return "the server sent a header line that is too long"
    if isinstance(exc, http.client.BadStatusLine):
        return "the server's answer is not HTTP/1.x (bad status line)"
    if isinstance(exc, http.client.IncompleteRead):
        return "the body ended early or its chunked encoding is broken"
    if isinstance(exc, http.client.HTTPException):
        text = str(exc)
        return f"invalid answer from the server ({text[:120] or type(exc).__name__})"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"invalid answer from the server ({str(exc)[:120] or type(exc).__name__})"
