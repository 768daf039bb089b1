"""Real processes for fault tests: a private Redis on a free port and `celery worker` / `celery beat`
processes against the PostgreSQL test database, plus the waits and counts those tests share."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone

from scheduling.models import Publication
from tests.conftest import need
from tests.scheduling import fault_connector
from tests.scheduling.factories import approved_rows

S = Publication.Status
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Redis + worker and beat processes sharing the test database."""

    def __init__(self, tmp: Path) -> None:
        need(shutil.which("redis-server") is not None, "this test needs the redis-server binary")
        self.tmp = tmp
        self.port = free_port()
        self.redis: subprocess.Popen | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                            f"/{db['NAME']}",
            "REDIS_URL": f"redis://127.0.0.1:{self.port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.port}/0",
            "SCHEDULING_CONNECTORS": "x=tests.scheduling.fault_connector.FileConnector",
            "SCHEDULING_DISPATCH_EVERY_SECONDS": "1",
            "SCHEDULING_DISPATCH_SECONDS": "1",
            "SCHEDULING_REAP_EVERY_SECONDS": "1",
            "SCHEDULING_RECONCILE_EVERY_SECONDS": "1",
            "SCHEDULING_LEASE_SECONDS": "6",
            "CONNECTOR_TIMEOUT_SECONDS": "2",
            "ATELIER_FAULT_LOG": str(tmp / "platform.log"),
            "ATELIER_FAULT_DELAY": "0.05",
            "ATELIER_VAR_DIR": str(tmp / "var"),
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
        }
        os.environ["ATELIER_FAULT_LOG"] = self.env["ATELIER_FAULT_LOG"]

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis:
            self.redis.kill()
            self.redis.wait(10)
            self.redis = None

    def start(self, name: str, *args: str) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 — closed with the process
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", *args], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=log, start_new_session=True)

    def worker(self, name: str, queues: str = "celery,control") -> None:
        self.start(name, "worker", "-P", "prefork", "-c", "1", "-n", f"{name}@%h", "--without-gossip",
                   "--without-mingle", "-l", "WARNING", "-Q", queues)

    def beat(self, name: str) -> None:
        self.start(name, "beat", "-l", "WARNING", "-s", str(self.tmp / f"{name}-schedule"))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)  # the whole process group: the worker and its pool children
        proc.wait(20)

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGKILL)
        self.stop_redis()


def make_due(world, n: int) -> list[Publication]:
    at = timezone.now() - timedelta(seconds=1)
    return approved_rows(world.post, [
        Publication(post=world.post, account=world.x, status=S.SCHEDULED,
                    scheduled_at=at - timedelta(milliseconds=i)) for i in range(n)])


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def assert_each_published_once(pubs: list[Publication], cluster: Cluster) -> None:
    counts = Counter(fault_connector.accepted())
    keys = {str(p.idempotency_key) for p in pubs}
    assert {k: c for k, c in counts.items() if c > 1} == {}, "a post reached the platform twice"
    assert set(counts) == keys, "a post never reached the platform"
    assert Publication.objects.filter(pk__in=[p.pk for p in pubs], status=S.PUBLISHED).count() == len(pubs)


def all_published(pubs: list[Publication]) -> bool:
    return Publication.objects.filter(pk__in=[p.pk for p in pubs], status=S.PUBLISHED).count() == len(pubs)

