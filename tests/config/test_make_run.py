"""`make run` on embedded defaults: web, worker and beat come up, and a task goes through the
filesystem broker to the worker. This is the README's first command, run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.make_run import get, make_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
@pytest.mark.worker
def test_make_run_serves_admin_and_health_and_runs_tasks(tmp_path):
    with make_run(tmp_path) as run:
        ready = run.wait_until_serving("/health/", "/admin/login/")
        print(f"make run ready in {ready:.1f} s")
        _, body = get(f"{run.base}/health/")
        assert json.loads(body)["status"] == "ok"

        env = run.env
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
    output = run.output()
    assert "Atelier is starting" in output
    # Ctrl-C stopped web, worker and beat: nothing of the process group is left.
    time.sleep(1)
    with pytest.raises(ProcessLookupError):
        os.killpg(run.proc.pid, 0)
