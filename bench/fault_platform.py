"""The fault benchmark's loopback platform: a local X API v2 and a local Bluesky PDS (the wire
formats of tests/scheduling/fakes) that fsync every post they accept to a log, answer 5 % of post
creations with a 503 and let 2 % hang past the client's timeout (half of those after accepting the
post: the caller cannot know which).

    python -m bench.fault_platform LOG X_PORT BLUESKY_PORT [--faults] [--hang SECONDS]

Each log line is JSON: {"platform", "text", "at"} (epoch seconds of acceptance).
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from tests.scheduling.fakes.base import Received, Reply, _handler_for
from tests.scheduling.fakes.bluesky import FakeBluesky
from tests.scheduling.fakes.x import FakeX

ERRORS, HANGS = 0.05, 0.02


class Ledger:
    """What the platform accepted, durable before the answer leaves (a kill cannot hide a post)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.lock = threading.Lock()

    def accept(self, platform: str, text: str) -> None:
        line = json.dumps({"platform": platform, "text": text, "at": time.time()}) + "\n"
        with self.lock:
            os.write(self.fd, line.encode())
            os.fsync(self.fd)


class Faults:
    def __init__(self, enabled: bool, hang: float) -> None:
        self.enabled, self.hang = enabled, hang
        self.random = random.Random(14)
        self.lock = threading.Lock()

    def draw(self) -> str:
        if not self.enabled:
            return "ok"
        with self.lock:
            x = self.random.random()
        if x < ERRORS:
            return "error"
        if x < ERRORS + HANGS / 2:
            return "hang_before"
        if x < ERRORS + HANGS:
            return "hang_after"
        return "ok"


class LoopbackX(FakeX):
    def __init__(self, ledger: Ledger, faults: Faults) -> None:
        super().__init__()
        self.ledger, self.chaos = ledger, faults
        self.state["remaining"] = 10 ** 9
        self.state["access"] = _AnyToken()
        self.write_lock = threading.Lock()

    def create_tweet(self, r: Received, m: re.Match) -> Reply:
        fault = self.chaos.draw()
        if fault == "error":
            return Reply(503, {"title": "Service Unavailable", "detail": "Over capacity", "type": "about:blank",
                               "status": 503})
        if fault == "hang_before":
            return Reply(503, {}, delay=self.chaos.hang)
        with self.write_lock:
            reply = super().create_tweet(r, m)
        if reply.status == 201:
            self.ledger.accept("x", r.json().get("text", ""))
        return Reply(reply.status, reply.body, reply.headers, delay=self.chaos.hang if fault == "hang_after" else 0)


class LoopbackBluesky(FakeBluesky):
    def __init__(self, ledger: Ledger, faults: Faults) -> None:
        super().__init__()
        self.ledger, self.chaos = ledger, faults
        self.write_lock = threading.Lock()

    def rate(self) -> dict[str, str]:
        return {}

    def create_record(self, received: Received, match: re.Match) -> Reply:
        fault = self.chaos.draw()
        if fault == "error":
            return Reply(503, {"error": "InternalServerError", "message": "Try again"})
        if fault == "hang_before":
            return Reply(503, {}, delay=self.chaos.hang)
        with self.write_lock:
            reply = super().create_record(received, match)
        if reply.status == 200:
            self.ledger.accept("bluesky", (received.json().get("record") or {}).get("text", ""))
        return Reply(reply.status, reply.body, reply.headers, delay=self.chaos.hang if fault == "hang_after" else 0)


class _AnyToken(set):
    """Every bearer token is valid: the benchmark measures publishing, not OAuth."""

    def __contains__(self, item: Any) -> bool:
        return True


def serve_forever(platform: Any, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(platform))
    server.daemon_threads = True
    server.request_queue_size = 128
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    log, x_port, bsky_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hang = float(sys.argv[sys.argv.index("--hang") + 1]) if "--hang" in sys.argv else 8.0
    ledger, faults = Ledger(log), Faults("--faults" in sys.argv, hang)
    serve_forever(LoopbackX(ledger, faults), x_port)
    serve_forever(LoopbackBluesky(ledger, faults), bsky_port)
    print("platform ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
