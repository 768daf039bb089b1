"""`make run` started for real, as a newcomer types it, for the end-to-end tests that need the README's
first command: its own port and var folder, output to a file, and everything stopped after.

Why one harness: three tests start it (tasks through the embedded broker, a post published on time, a
newcomer's journey in Chromium), and each copy had to get the same two details right — output to a file,
never an unread pipe (a full pipe stalls web, worker and beat), and the whole process group stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the suite sets for itself or points at its own services; left out, `make run` starts as on a laptop.
SUITE_SETTINGS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME", "SECRET_KEY", "DEBUG",
                  "ALLOWED_HOSTS", "ATELIER_VAR_DIR")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_ok(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


@dataclass
class MakeRun:
    proc: subprocess.Popen
    port: int
    var: Path
    log: Path
    env: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self, *paths: str, within: float = 180) -> float:
        """Seconds until every path answers 200; fails with the log's tail if it exits or takes too long."""
        started = time.monotonic()
        while not all(get_ok(f"{self.base}{path}") for path in paths or ("/health/",)):
            assert self.proc.poll() is None, f"make run exited early:\n{self.output()[-4000:]}"
            assert time.monotonic() - started < within, f"make run did not come up within {within:.0f} s"
            time.sleep(0.5)
        return time.monotonic() - started


@contextmanager
def make_run(tmp_path: Path, *, leave_out: Iterable[str] = (), **extra_env: str) -> Iterator[MakeRun]:
    port = free_port()
    var = tmp_path / "var"
    dropped = {*SUITE_SETTINGS, *leave_out}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({"ATELIER_VAR_DIR": str(var), "ATELIER_PORT": str(port),
                "VENV": str(Path(sys.executable).parent.parent), **extra_env})
    log = tmp_path / "make-run.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield MakeRun(proc=proc, port=port, var=var, log=log, env=env)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
