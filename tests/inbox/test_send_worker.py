"""The send pipeline on a real Celery worker and broker: every queued message delivered exactly once."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from inbox import services
from inbox.models import Message
from tests.inbox.factories import conversation

S = Message.SendStatus


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_queued_messages_are_delivered_once_on_a_real_worker(broker_app, desk, fake_chat):
    broker_app.autodiscover_tasks(["inbox"], force=True)
    ids = [services.send(conversation(desk.fanvue, fan_id=f"fan-{i}"), by=desk.chatter, text=f"hello {i}").pk
           for i in range(12)]
    # Their own tasks went to the default app's broker; as far as this broker knows they were lost.
    Message.objects.filter(pk__in=ids).update(lease_until=None)
    with start_worker(broker_app, pool="solo", perform_ping_check=False, shutdown_timeout=10,
                      queues=["celery", settings.SCHEDULING_CONTROL_QUEUE]):
        handed = broker_app.send_task("inbox.tasks.deliver_due").get(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and Message.objects.filter(pk__in=ids).exclude(send_status=S.SENT).exists():
            time.sleep(0.2)
        again = broker_app.send_task("inbox.tasks.deliver_due").get(timeout=30)
    assert handed == 12 and again == 0
    assert Message.objects.filter(pk__in=ids, send_status=S.SENT).count() == 12
    keys = sorted(p.json()["key"] for p in fake_chat.posts())
    assert keys == sorted(f"atelier-message-{pk}" for pk in ids)
