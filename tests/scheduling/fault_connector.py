"""A connector for fault tests that run real worker and beat processes: every accepted post is
appended (and fsynced) to a shared log before the connector pauses, so a test can kill a worker
after the "platform" took a post and still count exactly what the platform received.

Knobs (environment, read in the worker): ATELIER_FAULT_DELAY (seconds after accepting),
ATELIER_FAULT_BATCH (rows per publish task), ATELIER_FAULT_SHUTDOWN_REDIS (a redis URL shut down
right after the first accepted post: the broker and the limits vanish mid-batch).
"""

from __future__ import annotations

import os
import time
from contextlib import suppress

import redis

from scheduling.connectors.base import PublishRequest, PublishResult
from scheduling.connectors.noop import NoopConnector


def _log() -> str:
    return os.environ["ATELIER_FAULT_LOG"]


def accepted() -> list[str]:
    try:
        with open(_log()) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def _shutdown_redis_once() -> None:
    url = os.environ.get("ATELIER_FAULT_SHUTDOWN_REDIS")
    marker = _log() + ".redis-down"
    if not url or os.path.exists(marker):
        return
    open(marker, "w").close()
    with suppress(redis.exceptions.ConnectionError):  # the server closes the connection as it goes
        redis.Redis.from_url(url).shutdown(nosave=True)


class FileConnector(NoopConnector):
    platform = "x"
    lookup_is_authoritative = True  # the log is the platform's whole truth
    idempotent_publish = False  # the log keeps every copy: a second send is a duplicate
    batch_size = int(os.environ.get("ATELIER_FAULT_BATCH", "5"))

    def publish(self, request: PublishRequest) -> PublishResult:
        fd = os.open(_log(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{request.idempotency_key}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        _shutdown_redis_once()
        time.sleep(float(os.environ.get("ATELIER_FAULT_DELAY", "0")))
        return PublishResult(external_id=f"f-{request.idempotency_key}")

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        if request.idempotency_key in accepted():
            return PublishResult(external_id=f"f-{request.idempotency_key}")
        return None
