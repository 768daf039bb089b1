"""`make run` on embedded defaults: web, worker and beat come up, and a task goes through the
filesystem broker to the worker. This is the README's first command, run for real."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.e2e
@pytest.mark.worker
def test_make_run_serves_admin_and_health_and_runs_tasks(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME", "SECRET_KEY",
                        "DEBUG", "ALLOWED_HOSTS", "ATELIER_VAR_DIR")}
    env.update({"ATELIER_VAR_DIR": str(tmp_path / "var"), "ATELIER_PORT": str(port),
                "VENV": str(Path(sys.executable).parent.parent)})
    started = time.monotonic()
    # Its output goes to a file, never an unread pipe: a full pipe would stall web, worker and beat.
    log = tmp_path / "make-run.log"
    sink = log.open("wb")
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdout=sink,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = None
        while time.monotonic() - started < 180:
            try:
                if get(f"{base}/health/")[0] == 200 and get(f"{base}/admin/login/")[0] == 200:
                    ready = time.monotonic() - started
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"make run exited early:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        assert ready is not None, "make run did not serve /health/ and /admin/login/ within 180 s"
        print(f"make run ready in {ready:.1f} s")
        _, body = get(f"{base}/health/")
        assert json.loads(body)["status"] == "ok"

        manage = [sys.executable, "manage.py", "shell", "--no-imports", "-c"]
        menv = {**env, "DEBUG": "1"}
        sent = subprocess.run([*manage, "from accounts.tasks import record_heartbeat; "
                               "print(record_heartbeat.delay().id)"], cwd=ROOT, env=menv, capture_output=True,
                              text=True, timeout=60, check=True)
        task_id = sent.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            probe = subprocess.run([*manage, "from django_celery_results.models import TaskResult as T; "
                                    f"r = T.objects.filter(task_id='{task_id}').first(); print(r.status if r else '')"],
                                   cwd=ROOT, env=menv, capture_output=True, text=True, timeout=60)
            state = probe.stdout.strip()
            if state == "SUCCESS":
                break
            time.sleep(1)
        assert state == "SUCCESS", "the worker did not run a task sent through the embedded broker"
        beat = subprocess.run([*manage, "from django_celery_beat.models import PeriodicTask as P; "
                               "print(P.objects.filter(name__startswith='atelier: ', enabled=True).count())"],
                              cwd=ROOT, env=menv, capture_output=True, text=True, timeout=60)
        assert int(beat.stdout.strip()) >= 3
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        sink.close()
        output = log.read_text(errors="replace")
    assert "Atelier is starting" in output
    # Ctrl-C stopped web, worker and beat: nothing of the process group is left.
    time.sleep(1)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
