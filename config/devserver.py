"""`make run`: web, the Celery workers and celery-beat side by side; Ctrl-C stops them all.

Two workers: one for the work (publish batches, renditions, syncs) and one for the calendar's
control tasks (dispatch, lease reaping, reconciling, token refresh) on their own queue, so a
backlog of work never makes the dispatcher wait.

If one of them dies the others are stopped too, so a broken half-running stack never lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

HOST = os.environ.get("ATELIER_HOST", "127.0.0.1")
PORT = os.environ.get("ATELIER_PORT", "8000")


def commands() -> dict[str, list[str]]:
    py = sys.executable
    celery = [py, "-m", "celery", "-A", "config"]
    return {
        "web": [py, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "--hostname", "worker@%h",
                   "--queues", "celery"],
        "control": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "1", "--hostname", "control@%h",
                    "--queues", os.environ.get("SCHEDULING_CONTROL_QUEUE", "control")],
        "beat": [*celery, "beat", "--loglevel", "INFO", "--pidfile=",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
    }


def main() -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Our own fixed commands, no outside input.
    procs = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands().items()}  # noqa: S603
    print(f"Atelier is starting: http://{HOST}:{PORT}/admin/  (web, workers, beat — Ctrl-C stops all)", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the others.", file=sys.stderr, flush=True)
                code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
