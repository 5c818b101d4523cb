"""A raw TCP server on 127.0.0.1 that answers HTTP requests the way hostile or broken servers do: bytes
dripped one at a time, bodies without end, lying 206 answers, redirects to other schemes, broken headers and
chunked encodings. Each path names a behaviour; every request is recorded (path, headers)."""

from __future__ import annotations

import contextlib
import gzip
import socket
import socketserver
import threading
import time
from collections.abc import Callable

FILE = bytes(range(256)) * 64  # 16 KiB, what honest answers carry
OTHER = bytes(reversed(range(256))) * 64  # what the file "became" on a lying server
Behaviour = Callable[[socket.socket, dict[str, str]], None]


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)


def _drip(sock: socket.socket, data: bytes, every: float) -> None:
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return
        time.sleep(every)


def _head(status: str, headers: dict[str, str]) -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


class HostileServer:
    def __init__(self, drip: float = 0.2) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.drip = drip
        self.behaviours: dict[str, Behaviour] = self._behaviours()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                self.request.settimeout(5)
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = self.request.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                except OSError:
                    return
                line, *rest = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                path = line.split(" ")[1] if " " in line else "/"
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in rest)}
                owner.requests.append((path, headers))
                owner.behaviours.get(path.lstrip("/"), owner._not_found)(self.request, headers)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.lstrip("/") == path)

    @staticmethod
    def _not_found(sock: socket.socket, headers: dict[str, str]) -> None:
        _send(sock, _head("404 Not Found", {"Content-Length": "0", "Connection": "close"}))

    def _behaviours(self) -> dict[str, Behaviour]:
        drip = self.drip

        def drip_body(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Content-Length": str(len(FILE))}))
            _drip(sock, FILE, drip)

        def drip_headers(sock: socket.socket, h: dict[str, str]) -> None:
            _drip(sock, _head("200 OK", {"Content-Length": str(len(FILE)), "X-Padding": "p" * 200}), drip)

        def endless(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Connection": "close"}))
            block = b"\0" * 65536
            for _ in range(1 << 20):  # 64 GiB, if nobody stops reading
                try:
                    sock.sendall(block)
                except OSError:
                    return

        def huge_length(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Content-Length": str(50 << 30)}) + FILE)

        def redirect_ftp(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("302 Found", {"Location": "ftp://127.0.0.1:9/x.onnx", "Content-Length": "0"}))

        def redirect_file(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("301 Moved", {"Location": "file:///etc/passwd", "Content-Length": "0"}))

        def lying_206(sock: socket.socket, h: dict[str, str]) -> None:
            if "range" in h:  # ignores If-Range: sends the tail of another file with its new ETag
                start = int(h["range"].split("=")[1].split("-")[0])
                tail = OTHER[start:]
                _send(sock, _head("206 Partial Content", {
                    "Content-Length": str(len(tail)), "ETag": '"other"',
                    "Content-Range": f"bytes {start}-{len(OTHER) - 1}/{len(OTHER)}"}) + tail)
            elif self.count("lying.bin") == 1:  # the first answer is cut half-way
                _send(sock, _head("200 OK", {"Content-Length": str(len(FILE)), "ETag": '"first"'})
                      + FILE[: len(FILE) // 2])
            else:
                _send(sock, _head("200 OK", {"Content-Length": str(len(OTHER)), "ETag": '"other"'}) + OTHER)

        def bad_length(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Content-Length": "abc", "Connection": "close"}) + FILE)

        def bad_chunked(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Transfer-Encoding": "chunked"}) + b"zz\r\nhello\r\n")

        def short_chunked(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Transfer-Encoding": "chunked"}) + b"4000\r\n" + FILE[:100])

        def garbage_status(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, b"SPDY/9 banana\r\n\r\n" + FILE)

        def http09(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, FILE)

        def many_headers(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {f"X-H{i}": "v" for i in range(150)} | {"Content-Length": "4"}) + b"abcd")

        def long_header(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"X-Long": "v" * 70_000, "Content-Length": "4"}) + b"abcd")

        def html_page(sock: socket.socket, h: dict[str, str]) -> None:
            page = b"<!DOCTYPE html><html><body>Sign in to download</body></html>"
            _send(sock, _head("200 OK", {"Content-Length": str(len(page)), "Content-Type": "text/html"}) + page)

        def honest(sock: socket.socket, h: dict[str, str]) -> None:
            _send(sock, _head("200 OK", {"Content-Length": str(len(FILE)), "ETag": '"f"'}) + FILE)

        def gzipped(sock: socket.socket, h: dict[str, str]) -> None:  # ignores Accept-Encoding: identity
            body = gzip.compress(b"cat\ndog\nbird\nfish\n")
            _send(sock, _head("200 OK", {"Content-Length": str(len(body)), "Content-Encoding": "gzip"}) + body)

        def error_json(sock: socket.socket, h: dict[str, str]) -> None:  # an API's error body, status 200
            body = b'{"error": "rate limited", "retry_after": 60}'
            _send(sock, _head("200 OK", {"Content-Length": str(len(body)),
                                         "Content-Type": "application/json"}) + body)

        return {"labels.txt.gz": gzipped, "labels.json": error_json,
                "drip_body.onnx": drip_body, "drip_headers.onnx": drip_headers, "endless.onnx": endless,
                "huge.onnx": huge_length, "ftp.onnx": redirect_ftp, "file.onnx": redirect_file,
                "lying.bin": lying_206, "bad_length.bin": bad_length, "bad_chunked.bin": bad_chunked,
                "short_chunked.bin": short_chunked, "garbage.bin": garbage_status, "http09.bin": http09,
                "many_headers.bin": many_headers, "long_header.bin": long_header, "page.onnx": html_page,
                "honest.bin": honest}
