"""A webhook is answered without waiting on the broker, and an event whose processing task was lost (a Redis
restarted empty, a publish that failed, a worker killed holding it) is processed by the pending-events sweep,
once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from analytics import ingest, tasks
from analytics.models import Fan, InboundEvent, Transaction, WebhookReceiver
from core.beat import BEAT_ENTRIES
from tests.analytics.factories import body_of, receiver_for, sign, tip_payload
from tests.locks import held_elsewhere
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_requeue_marks():
    cache.clear()  # the test Redis database's own
    yield
    cache.clear()


@pytest.fixture
def hook(people, settings):
    settings.ANALYTICS_CURRENCY = "USD"
    settings.FANVUE_WEBHOOK_TOLERANCE_SECONDS = 300
    account = PlatformAccountFactory(creator=people["a"], handle="luna")
    receiver = receiver_for(account)
    return {"account": account, "receiver": receiver,
            "url": reverse("analytics_fanvue_webhook", kwargs={"token": receiver.token})}


def deliver(client, url: str, payload: dict):
    body = body_of(payload)
    return client.post(url, data=body, content_type="application/json", HTTP_X_FANVUE_SIGNATURE=sign(body))


def stored(account, age: timedelta, **fields) -> InboundEvent:
    payload = tip_payload(**fields)
    return InboundEvent.objects.create(account=account, event_key=f"id:{payload['price']}-{age}", kind=ingest.TIP,
                                       payload=payload, received_at=timezone.now() - age)


def test_the_answer_does_not_wait_for_a_broker_that_hangs_and_the_sweep_processes_the_event(
        client, hook, monkeypatch, django_capture_on_commit_callbacks):
    release, reached = threading.Event(), threading.Event()

    def hanging_broker(event_ids: list[int]) -> None:
        reached.set()
        release.wait(30)
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(tasks.process_inbound_events, "delay", hanging_broker)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, hook["url"], tip_payload())
    # Answered while the publish is still stuck in the broker.
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    assert reached.wait(30) and not release.is_set()
    release.set()

    event = InboundEvent.objects.get()
    assert event.processed_at is None and event.error == ""
    assert Transaction.objects.count() == 0

    # Not yet presumed lost: its task may still be on its way. Then queued again once, and processed.
    assert ingest.pending_events(older_than=timedelta(minutes=1)) == []
    assert ingest.pending_events(older_than=timedelta(0)) == [event.pk]
    assert ingest.pending_events(older_than=timedelta(0)) == []
    assert ingest.process_event(event.pk) == "processed"
    event.refresh_from_db()
    assert event.processed_at is not None and event.error == ""
    assert Transaction.objects.get().gross_minor == 500 and Fan.objects.count() == 1


def test_the_sweep_takes_only_old_unprocessed_events_without_error_oldest_first_and_once(hook):
    account = hook["account"]
    lost = stored(account, timedelta(seconds=30), price=700)
    older = stored(account, timedelta(minutes=5), price=900)
    fresh = stored(account, timedelta(seconds=1), price=300)
    failed = stored(account, timedelta(minutes=2), price=400)
    InboundEvent.objects.filter(pk=failed.pk).update(error="The event names no sender uuid.")
    done = stored(account, timedelta(minutes=3), price=800)
    InboundEvent.objects.filter(pk=done.pk).update(processed_at=timezone.now())

    assert ingest.pending_events(limit=1) == [older.pk]
    assert ingest.pending_events() == [lost.pk]
    assert ingest.pending_events() == []  # queued again once; a backlog costs at most one extra task each
    # Redis restarted empty: the marks went with the queued tasks, so everything pending is queued again.
    cache.clear()
    assert ingest.pending_events() == [older.pk, lost.pk]

    assert [ingest.process_event(pk) for pk in (older.pk, lost.pk)] == ["processed", "processed"]
    assert set(Transaction.objects.values_list("gross_minor", flat=True)) == {700, 900}
    # The event's own task arriving late finds it processed: nothing is written twice.
    assert ingest.process_event(lost.pk) == "already processed"
    assert Transaction.objects.count() == 2
    cache.clear()
    assert ingest.pending_events() == []
    fresh.refresh_from_db()
    failed.refresh_from_db()
    assert fresh.processed_at is None and failed.processed_at is None


def test_the_task_is_a_beat_entry_on_the_control_queue_and_queues_the_processing(hook, eager_celery):
    stored(hook["account"], timedelta(minutes=1), price=600)
    assert tasks.process_pending_events() == 1
    assert Transaction.objects.get().gross_minor == 600
    assert tasks.process_pending_events() == 0
    entry = next(e for e in BEAT_ENTRIES if e.task == "analytics.tasks.process_pending_events")
    assert entry.every_seconds == 5
    assert settings.CELERY_TASK_ROUTES["analytics.tasks.process_pending_events"]["queue"] == "control"


def test_last_event_at_is_written_once_a_minute_not_on_every_event(client, hook, monkeypatch):
    monkeypatch.setattr(tasks.process_inbound_events, "delay", lambda event_ids: None)
    receiver: WebhookReceiver = hook["receiver"]
    assert deliver(client, hook["url"], tip_payload(price=100)).status_code == 200
    receiver.refresh_from_db()
    first = receiver.last_event_at
    assert first == InboundEvent.objects.get().received_at

    assert deliver(client, hook["url"], tip_payload(price=200)).status_code == 200
    receiver.refresh_from_db()
    assert receiver.last_event_at == first

    WebhookReceiver.objects.filter(pk=receiver.pk).update(last_event_at=first - timedelta(minutes=2))
    assert deliver(client, hook["url"], tip_payload(price=300)).status_code == 200
    receiver.refresh_from_db()
    assert receiver.last_event_at == InboundEvent.objects.order_by("-pk").first().received_at


@pytest.mark.django_db(transaction=True)
def test_a_delivery_commits_while_another_event_of_its_account_is_being_processed(client, hook):
    """Processing locked the event FOR UPDATE together with its account and creator rows (select_related),
    and every new event's foreign key to that account waits for such a lock at COMMIT: under a backlog,
    each webhook answer queued behind processing (about 80 ms each after a Redis restart). Only the event
    row may be locked."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    event = stored(hook["account"], timedelta(seconds=1))
    with held_elsewhere(lambda: ingest.events.locked_event(event.pk)):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            answer = deliver(client, hook["url"], tip_payload(price=777))
        assert answer.status_code == 200
        assert InboundEvent.objects.filter(account=hook["account"]).count() == 2


def test_a_burst_is_handed_to_the_workers_in_batches_and_nothing_waits_to_fill_one(monkeypatch):
    from analytics.ingest.receivers import _Publisher

    published: list[list[int]] = []
    first_taken, release = threading.Event(), threading.Event()

    def slow_broker(event_ids: list[int]) -> None:
        published.append(list(event_ids))
        first_taken.set()
        release.wait(30)

    monkeypatch.setattr(tasks.process_inbound_events, "delay", slow_broker)
    publisher = _Publisher()
    publisher.put(1)  # alone: published at once, in a batch of one
    assert first_taken.wait(30)
    for event_id in range(2, 2 + ingest.PROCESS_BATCH + 5):  # a burst while the broker is busy
        publisher.put(event_id)
    release.set()
    deadline = timezone.now() + timedelta(seconds=30)
    while sum(map(len, published)) < ingest.PROCESS_BATCH + 6 and timezone.now() < deadline:
        threading.Event().wait(0.01)
    assert published[0] == [1]
    assert published[1] == list(range(2, 2 + ingest.PROCESS_BATCH))  # one task, the batch at most
    assert published[2] == list(range(2 + ingest.PROCESS_BATCH, 2 + ingest.PROCESS_BATCH + 5))


def test_one_event_that_crashes_leaves_the_rest_of_its_batch_processed_and_itself_to_the_sweep(hook, monkeypatch):
    account = hook["account"]
    first, broken, last = (stored(account, timedelta(minutes=1), price=price) for price in (100, 200, 300))
    from analytics.ingest import events

    real = events.process_event

    def flaky(event_id: int) -> str:
        if event_id == broken.pk:
            raise RuntimeError("the database went away")
        return real(event_id)

    monkeypatch.setattr(events, "process_event", flaky)
    assert tasks.process_inbound_events([first.pk, broken.pk, last.pk]) == {"processed": 2, "crashed": 1}
    assert set(Transaction.objects.values_list("gross_minor", flat=True)) == {100, 300}
    assert ingest.pending_events() == [broken.pk]
    # A batch queued twice (the sweep and the late original) writes nothing twice.
    monkeypatch.setattr(events, "process_event", real)
    assert tasks.process_inbound_events([first.pk, broken.pk, last.pk]) == {"already processed": 2, "processed": 1}
    assert Transaction.objects.count() == 3
