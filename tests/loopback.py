"""A real HTTP server on 127.0.0.1 for download tests (no mocks: urllib talks to it over TCP)."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAYLOAD = bytes(range(256)) * 400  # 100 kB
CHANGED = bytes(reversed(range(256))) * 450  # what changing.bin becomes on the server mid-transfer


class Server:
    """A loopback HTTP server with strong ETags and ``If-Range`` (RFC 9110): a range is only served when
    the validator still matches, else the whole (new) file comes with 200. ``files`` may change mid-test."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []
        self.if_range: list[str | None] = []
        self.flaky_served = False
        self.validators = True  # False: no ETag / Last-Modified (resuming cannot be proven safe)
        self.delay = 0.0  # seconds per 16 kB chunk, to make concurrent requests overlap
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                server.if_range.append(self.headers.get("If-Range"))
                name = self.path.lstrip("/")
                if name == "slow.bin":
                    time.sleep(1.5)
                if name not in server.files and name not in ("flaky.bin", "truncated.bin", "slow.bin"):
                    self.send_error(404)
                    return
                body = server.files.get(name, PAYLOAD)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                start = 0
                ranged = self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                if ranged and name != "truncated.bin" and (if_range is None or if_range == etag):
                    start = int(ranged.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                if server.validators:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if name == "truncated.bin" or (name in ("flaky.bin", "changing.bin") and not server.flaky_served):
                    server.flaky_served = True
                    self.wfile.write(body[start:start + len(body) // 3])  # the connection drops mid-body
                    if name == "changing.bin":
                        server.files[name] = CHANGED  # the file is replaced on the server meanwhile
                    return
                for at in range(start, len(body), 1 << 14):
                    time.sleep(server.delay)
                    self.wfile.write(body[at:at + (1 << 14)])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
