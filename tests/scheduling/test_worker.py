"""The dispatcher path on a real Celery worker and broker: every due row published exactly once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from scheduling.models import Publication
from tests.scheduling.connectors import FlakyConnector
from tests.scheduling.factories import approved_rows

S = Publication.Status


@pytest.mark.worker
@pytest.mark.postgres  # SQLite's in-memory test database locks tables between threads
@pytest.mark.django_db(transaction=True)
def test_dispatch_and_publish_on_real_worker(broker_app, world):
    broker_app.autodiscover_tasks(["scheduling"], force=True)
    due = timezone.now() - timedelta(seconds=1)
    approved_rows(world.post, [
        Publication(post=world.post, account=world.x, status=S.SCHEDULED,
                    scheduled_at=due - timedelta(milliseconds=i)) for i in range(30)])
    # Dispatch runs on the control queue; this one worker consumes both.
    with start_worker(broker_app, pool="solo", perform_ping_check=False, shutdown_timeout=10,
                      queues=["celery", settings.SCHEDULING_CONTROL_QUEUE]):
        claimed = broker_app.send_task("scheduling.tasks.dispatch_due").get(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not Publication.objects.exclude(status=S.PUBLISHED).exists():
                break
            time.sleep(0.2)
        # A second dispatch finds nothing more to do.
        again = broker_app.send_task("scheduling.tasks.dispatch_due").get(timeout=30)
    assert claimed == 30 and again == 0
    assert Publication.objects.filter(status=S.PUBLISHED).count() == 30
    keys = {str(k) for k in Publication.objects.values_list("idempotency_key", flat=True)}
    assert sorted(FlakyConnector.calls) == sorted(keys)  # each exactly once
