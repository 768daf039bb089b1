"""The Celery app: reliability defaults live in settings (acks late, prefetch 1, reject on lost).

Tasks subclass `AtelierTask`: bounded retries with exponential backoff and jitter, only for the
transient errors a task names in `autoretry_for`.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task, signals

from config import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("atelier")
app.config_from_object("django.conf:settings", namespace="CELERY")


class AtelierTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True


app.Task = AtelierTask
broker.install()
app.autodiscover_tasks()

_tokens: dict[str, Any] = {}

# A cycle at import time: config.settings -> config/__init__ -> this module -> (accounts.audit, core.beat,
# config.checks, config.observability) -> models and settings, not loaded yet. The handlers import them
# when they run, in a worker whose apps are ready.


@signals.task_prerun.connect
def _bind_task_context(task_id: str, task: Task, **_: Any) -> None:
    from accounts.audit import AuditContext, set_context  # noqa: PLC0415 — settings cycle, see above
    from config.observability import task_id_var  # noqa: PLC0415 — settings cycle, see above

    _tokens[task_id] = (task_id_var.set(task_id), set_context(AuditContext(actor_label=f"task:{task.name}")))


@signals.task_postrun.connect
def _unbind_task_context(task_id: str, task: Task, state: str | None = None, **_: Any) -> None:
    from accounts.audit import reset_context  # noqa: PLC0415 — settings cycle, see above
    from config.observability import TASKS, task_id_var  # noqa: PLC0415 — settings cycle, see above

    TASKS.labels(task.name, state or "UNKNOWN").inc()
    tokens = _tokens.pop(task_id, None)
    if tokens:
        try:
            task_id_var.reset(tokens[0])
            reset_context(tokens[1])
        except ValueError:  # reset from another context (threads pool): nothing to undo
            pass


@signals.worker_init.connect
def _refuse_bad_settings(**_: Any) -> None:
    """A worker opens takedowns and computes deadlines too: it stops on the same settings errors."""
    from config.checks import require_settings  # noqa: PLC0415 — settings cycle, see above

    require_settings()


@signals.worker_init.connect
def _compile_hard_block_lists(**_: Any) -> None:
    """Once in the worker's main process, before the pool forks: every pool process starts with the
    lists compiled instead of compiling them in its first publish batch."""
    from compliance import hardblock  # noqa: PLC0415 — settings cycle, see above

    hardblock.warm()


@signals.task_revoked.connect
def _count_expired(request: Any = None, expired: bool = False, **_: Any) -> None:
    """A task that expired in the queue never ran: count it where /metrics can see it (a dispatcher
    or reaper expiring means the calendar's control loop is starved)."""
    from config.observability import record_expired_task  # noqa: PLC0415 — settings cycle, see above

    if expired:
        record_expired_task(getattr(request, "name", None) or getattr(request, "task", None) or "unknown")


@signals.beat_init.connect
def _sync_beat_on_start(**_: Any) -> None:
    from core.beat import sync_beat_schedule  # noqa: PLC0415 — settings cycle, see above

    sync_beat_schedule()
