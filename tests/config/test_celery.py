"""A real Celery worker consuming from a real broker: the embedded filesystem one and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from core.beat import BEAT_ENTRIES, PREFIX, sync_beat_schedule


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_runs_on_real_worker(broker_app):
    from django_celery_results.models import TaskResult

    with start_worker(broker_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = broker_app.send_task("accounts.tasks.record_heartbeat")
        value = result.get(timeout=30)
    # The exchange table goes where it was told, never into the checkout. (kombu declares it once per
    # process: after an earlier worker test in this process it may already sit in that test's folder.)
    assert not (Path.cwd() / "control").exists()
    assert cache.get("atelier:beat:heartbeat") is None or value  # cache is per process: value is proof
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "SUCCESS"
    assert row.task_name == "accounts.tasks.record_heartbeat"


def test_reliability_defaults():
    from config.celery import app

    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.timezone == "UTC"
    # Imported here: which task modules a worker process has loaded depends on the tests it ran before, and
    # a shared task registers itself on every app already finalized when its module is first imported.
    import accounts.tasks  # noqa: F401

    task = app.tasks["accounts.tasks.record_heartbeat"]
    assert task.acks_late and task.retry_jitter and task.max_retries == 5


@pytest.mark.django_db
def test_beat_entries_synced_and_stale_ones_disabled():
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=PREFIX + "retired job", task="accounts.tasks.gone", interval=every_minute)
    assert sync_beat_schedule() == len(BEAT_ENTRIES)
    synced = PeriodicTask.objects.filter(name__startswith=PREFIX, enabled=True)
    assert {t.name for t in synced} == {PREFIX + e.name for e in BEAT_ENTRIES}
    assert not PeriodicTask.objects.get(name=PREFIX + "retired job").enabled
    heartbeat = PeriodicTask.objects.get(name=PREFIX + "heartbeat")
    assert heartbeat.interval.every == 60 and heartbeat.expire_seconds == 54
    # idempotent
    sync_beat_schedule()
    assert PeriodicTask.objects.filter(name__startswith=PREFIX).count() == len(BEAT_ENTRIES) + 1
