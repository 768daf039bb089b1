"""A threaded local HTTP server for connector tests: each fake platform subclasses `FakePlatform`
and declares routes; tests read what arrived (`requests`) and script faults (`fail_next`)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (timeouts)
    drop: bool = False  # close the connection without an answer


Handler = Callable[["FakePlatform", Received, re.Match], Reply]


class FakePlatform:
    """Routes are (method, regex) → handler. `fail_next(method, pattern, reply)` scripts a fault
    for the next matching request only, after which the normal handler answers again."""

    routes: list[tuple[str, str, str]] = []  # (method, pattern, handler method name)

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.faults: list[tuple[str, re.Pattern, Reply]] = []
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {}
        self.url = ""

    def fail_next(self, method: str, pattern: str, reply: Reply) -> None:
        with self.lock:
            self.faults.append((method, re.compile(pattern), reply))

    def calls(self, method: str, pattern: str) -> list[Received]:
        rx = re.compile(pattern)
        return [r for r in self.requests if r.method == method and rx.fullmatch(r.path)]

    def dispatch(self, received: Received) -> Reply:
        with self.lock:
            self.requests.append(received)
            for i, (method, rx, reply) in enumerate(self.faults):
                if method == received.method and rx.fullmatch(received.path):
                    del self.faults[i]
                    return reply
        for method, pattern, name in self.routes:
            match = re.fullmatch(pattern, received.path)
            if method == received.method and match:
                return getattr(self, name)(received, match)
        return Reply(404, {"error": "not_found", "message": f"No route {received.method} {received.path}"})


def _handler_for(platform: FakePlatform) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._read_chunked()
            received = Received(self.command, parts.path, parse_qs(parts.query),
                                {k.lower(): v for k, v in self.headers.items()}, body)
            reply = platform.dispatch(received)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                return
            payload = reply.body
            content_type = "application/json"
            if isinstance(payload, (dict, list)) or payload is None:
                data = json.dumps(payload if payload is not None else {}).encode()
            elif isinstance(payload, str):
                data, content_type = payload.encode(), "text/plain"
            else:
                data, content_type = payload, "application/octet-stream"
            self.send_response(reply.status)
            headers = {"Content-Type": content_type, **reply.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _read_chunked(self) -> bytes:
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return H


@contextmanager
def serve(platform: FakePlatform, host: str = "127.0.0.1") -> Iterator[FakePlatform]:
    """Run `platform` on a free port of a loopback address for the duration of the block."""
    server = ThreadingHTTPServer((host, 0), _handler_for(platform))
    server.daemon_threads = True
    platform.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield platform
    finally:
        server.shutdown()
        server.server_close()
