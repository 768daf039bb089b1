"""Fanvue chat messages into the inbox by both doors: signed webhooks through the real receiver URL and
reconciliation against the local Fanvue. A message is recorded once whichever door brings it, however often;
Fanvue's automatic welcome is recorded once and never doubled; a creator-side read lowers the unread count;
one of our sends still waiting for its outcome is left to the send pipeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from analytics.models import Fan, InboundEvent
from core.beat import BEAT_ENTRIES
from inbox import sync
from inbox.models import ChannelCursor, Conversation, Message
from scheduling import services as scheduling_services
from tests.analytics.factories import body_of, receiver_for, sign
from tests.inbox.fanvue_fake import AGENCY_CREATOR, FakeFanvueChats, iso
from tests.scheduling.fakes.base import serve

pytestmark = pytest.mark.django_db

FAN = "5939ae62-3eb5-4433-954f-f78c7b4282f3"


@pytest.fixture
def fake(settings):
    with serve(FakeFanvueChats()) as platform:
        settings.FANVUE_API_URL = platform.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 5
        settings.FANVUE_WEBHOOK_TOLERANCE_SECONDS = 300
        yield platform


@pytest.fixture
def hook(desk, fake, eager_celery):
    """Luna's Fanvue account, run by the agency for her, with its webhook receiver."""
    account = desk.fanvue
    account.options = {"creator_uuid": AGENCY_CREATOR}
    account.save(update_fields=["options"])
    scheduling_services.store_credentials(account, {"access_token": "fv-access-1", "refresh_token": "fv-refresh-1"},
                                          scopes="openid offline_access read:chat write:chat read:fan read:creator")
    receiver = receiver_for(account)
    return {"account": account, "url": reverse("analytics_fanvue_webhook", kwargs={"token": receiver.token})}


def received_payload(message: dict, **overrides) -> dict:
    """Fanvue's documented Message Received shape, for a message the local Fanvue holds."""
    return {"message": {"uuid": message["uuid"], "text": message["text"], "hasMedia": False, "mediaUuids": [],
                        "createdAt": message["sentAt"]},
            "messageUuid": message["uuid"],
            "sender": {"uuid": FAN, "handle": "test-user", "displayName": "Test User",
                       "avatarUrl": "https://via.placeholder.com/150"},
            "recipientUuid": AGENCY_CREATOR, "isMuted": False,
            "timestamp": iso(datetime.now(UTC)), **overrides}


def deliver(client, hook, payload: dict, django_capture_on_commit_callbacks, *, t: int | None = None):
    body = body_of(payload)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(hook["url"], data=body, content_type="application/json",
                               HTTP_X_FANVUE_SIGNATURE=sign(body, t=t))
    assert response.status_code == 200
    return response.json()["status"]


def test_a_signed_message_is_recorded_once_by_webhook_redelivery_and_reconciliation(
        client, hook, fake, django_capture_on_commit_callbacks):
    written = fake.fan_writes(FAN, "Hey! Is this still available?", owner=AGENCY_CREATOR)
    payload = received_payload(written)

    assert deliver(client, hook, payload, django_capture_on_commit_callbacks) == "accepted"
    # Fanvue retries until it gets a 2xx: the same body again, and again signed a moment later.
    assert deliver(client, hook, payload, django_capture_on_commit_callbacks) == "duplicate"
    assert deliver(client, hook, payload, django_capture_on_commit_callbacks, t=int(time.time()) - 3) == "duplicate"
    # A redelivery whose body differs (a new timestamp) is a new event, but the same message.
    later = received_payload(written, timestamp=iso(datetime.now(UTC) + timedelta(seconds=5)))
    assert deliver(client, hook, later, django_capture_on_commit_callbacks) == "accepted"

    conversation = Conversation.objects.get()
    message = Message.objects.get()
    assert (message.external_id, message.text, message.direction, message.origin) == (
        written["uuid"], "Hey! Is this still available?", "in", "fan")
    assert (conversation.account, conversation.external_id, conversation.fan.external_id) == (
        hook["account"], FAN, FAN)
    assert conversation.fan.handle == "test-user"
    assert conversation.unread_count == 1 and conversation.waiting_since is not None
    assert all(e.processed_at and e.error == "" for e in InboundEvent.objects.all())

    # Reconciliation reads the same message from Fanvue: known, not recorded again.
    assert sync.reconcile_fanvue(hook["account"].pk) == {"new": 0, "known": 1, "awaiting_outcome": 0}
    assert Message.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.unread_count == 1
    assert ChannelCursor.objects.get(account=hook["account"]).cursor


def test_a_message_reconciliation_finds_first_is_not_doubled_by_its_late_webhook(
        client, hook, fake, django_capture_on_commit_callbacks):
    written = fake.fan_writes(FAN, "webhook lost on the way", owner=AGENCY_CREATOR)
    assert sync.reconcile_fanvue(hook["account"].pk)["new"] == 1
    assert deliver(client, hook, received_payload(written), django_capture_on_commit_callbacks) == "accepted"
    assert Message.objects.count() == 1 and Conversation.objects.get().unread_count == 1


def test_fanvue_s_automatic_welcome_is_recorded_once_and_never_doubled(client, hook, fake,
                                                                      django_capture_on_commit_callbacks):
    start = datetime.now(UTC) - timedelta(minutes=30)
    welcome = fake.welcome(FAN, owner=AGENCY_CREATOR, at=start)
    written = fake.fan_writes(FAN, "thanks! what's on your page?", owner=AGENCY_CREATOR,
                              at=start + timedelta(minutes=1))
    deliver(client, hook, received_payload(written), django_capture_on_commit_callbacks)

    first = sync.reconcile_fanvue(hook["account"].pk)
    again = sync.reconcile_fanvue(hook["account"].pk)  # the overlap reads the chat again
    assert first == {"new": 1, "known": 1, "awaiting_outcome": 0}
    assert again["new"] == 0

    automatic = Message.objects.get(external_id=welcome["uuid"])
    assert (automatic.direction, automatic.origin, automatic.send_status, automatic.sent_by) == (
        "out", "platform", "sent", None)
    assert Message.objects.filter(direction="out").count() == 1
    conversation = Conversation.objects.get()
    assert conversation.waiting_since is not None  # the platform's welcome answers nobody


def test_a_read_on_the_creator_s_side_lowers_the_unread_count(client, hook, fake,
                                                               django_capture_on_commit_callbacks):
    for text in ("one", "two", "three"):
        deliver(client, hook, received_payload(fake.fan_writes(FAN, text, owner=AGENCY_CREATOR)),
                django_capture_on_commit_callbacks)
    assert Conversation.objects.get().unread_count == 3
    read = {"counterpartUuid": FAN, "readMessagesCount": 2, "recipientUuid": AGENCY_CREATOR,
            "timestamp": iso(datetime.now(UTC))}
    assert deliver(client, hook, read, django_capture_on_commit_callbacks) == "accepted"
    event = InboundEvent.objects.get(kind="message.read")
    assert event.processed_at is not None and event.error == ""
    assert Conversation.objects.get().unread_count == 1
    # Replayed: stored once, counted once.
    assert deliver(client, hook, read, django_capture_on_commit_callbacks) == "duplicate"
    assert Conversation.objects.get().unread_count == 1
    # A read for a fan the inbox has not met yet only makes the fan known to analytics.
    other = "7a1b2c3d-3eb5-4433-954f-f78c7b4282f3"
    deliver(client, hook, {**read, "counterpartUuid": other, "readMessagesCount": 1},
            django_capture_on_commit_callbacks)
    assert Fan.objects.filter(external_id=other).exists() and Conversation.objects.count() == 1


def test_an_event_for_another_creator_is_left_unprocessed(client, hook, fake, django_capture_on_commit_callbacks):
    written = fake.fan_writes(FAN, "hello", owner=AGENCY_CREATOR)
    deliver(client, hook, received_payload(written, recipientUuid="11111111-2222-4333-8444-555555555555"),
            django_capture_on_commit_callbacks)
    event = InboundEvent.objects.get()
    assert event.processed_at is None and "another Fanvue creator" in event.error
    assert not Message.objects.exists()


def test_a_message_event_without_ids_is_kept_with_its_error(client, hook, fake, django_capture_on_commit_callbacks):
    deliver(client, hook, {"message": {"text": "no ids"}, "sender": {"uuid": FAN, "handle": "x"},
                           "recipientUuid": AGENCY_CREATOR, "timestamp": iso(datetime.now(UTC))},
            django_capture_on_commit_callbacks)
    event = InboundEvent.objects.get()
    assert event.processed_at is None and "messageUuid" in event.error
    assert not Message.objects.exists()


def test_reconciliation_leaves_our_send_awaiting_its_outcome_to_the_lookup(hook, fake):
    fake.fan_writes(FAN, "send me something", owner=AGENCY_CREATOR, at=datetime.now(UTC) - timedelta(minutes=10))
    sync.reconcile_fanvue(hook["account"].pk)
    conversation = Conversation.objects.get()
    ours = Message.objects.create(creator=conversation.creator, conversation=conversation, account=hook["account"],
                                  direction="out", text="Here you go", origin="manual", send_status="unknown",
                                  idempotency_key="k-unknown-1")
    theirs = fake.creator_writes(FAN, "Here you go", owner=AGENCY_CREATOR)  # Fanvue took it; we never heard

    assert sync.reconcile_fanvue(hook["account"].pk)["awaiting_outcome"] == 1
    assert Message.objects.filter(direction="out").count() == 1
    # The send pipeline settles it with the id `lookup_sent` found: from then on it is simply known.
    Message.objects.filter(pk=ours.pk).update(external_id=theirs["uuid"], send_status="sent")
    fake.fan_writes(FAN, "got it", owner=AGENCY_CREATOR)
    counts = sync.reconcile_fanvue(hook["account"].pk)
    assert counts["awaiting_outcome"] == 0 and counts["new"] == 1
    assert Message.objects.filter(direction="out").count() == 1


def test_a_creator_s_own_reply_on_fanvue_is_recorded(hook, fake):
    fake.fan_writes(FAN, "hi", owner=AGENCY_CREATOR, at=datetime.now(UTC) - timedelta(minutes=10))
    reply = fake.creator_writes(FAN, "hey you, from my phone", owner=AGENCY_CREATOR)
    fake.fan_writes(FAN, "oh hi", owner=AGENCY_CREATOR)
    assert sync.reconcile_fanvue(hook["account"].pk)["new"] == 3
    recorded = Message.objects.get(external_id=reply["uuid"])
    assert (recorded.direction, recorded.origin, recorded.sent_by) == ("out", "manual", None)


def test_one_run_per_account_at_a_time_and_failures_keep_the_cursor(hook, fake):
    fake.fan_writes(FAN, "hi", owner=AGENCY_CREATOR)
    assert sync.reconcile_fanvue(hook["account"].pk)["new"] == 1
    state = ChannelCursor.objects.get(account=hook["account"])
    cursor = state.cursor

    ChannelCursor.objects.filter(pk=state.pk).update(lease_until=datetime.now(UTC) + timedelta(minutes=1))
    assert sync.reconcile_fanvue(hook["account"].pk) == {"busy": 1}
    ChannelCursor.objects.filter(pk=state.pk).update(lease_until=None)

    fake.spend(f"creator:{AGENCY_CREATOR}")
    assert sync.reconcile_fanvue(hook["account"].pk) == {"failed": 1}
    state.refresh_from_db()
    assert state.cursor == cursor and "429" in state.last_error
    assert state.lease_until is None


def test_a_token_without_the_chat_scope_is_not_polled(hook, fake):
    hook["account"].scopes = "openid read:self write:post"
    hook["account"].save(update_fields=["scopes"])
    assert sync.reconcile_fanvue(hook["account"].pk) == {"skipped": 1}
    assert "read:chat" in ChannelCursor.objects.get(account=hook["account"]).last_error
    assert not fake.requests


def test_the_beat_fans_out_one_task_per_connected_fanvue_account(hook, fake):
    fake.fan_writes(FAN, "hi", owner=AGENCY_CREATOR)
    entry = next(e for e in BEAT_ENTRIES if e.task == "inbox.sync.reconcile_fanvue_accounts")
    assert entry.every_seconds == django_settings.INBOX_FANVUE_RECONCILE_SECONDS <= 300
    assert django_settings.CELERY_TASK_ROUTES["inbox.sync.reconcile_fanvue_accounts"]["queue"] == \
        django_settings.SCHEDULING_CONTROL_QUEUE
    assert sync.reconcile_fanvue_accounts() == 1  # eager: the account's task ran
    assert Message.objects.count() == 1


def test_an_expired_token_is_refreshed_once_and_the_run_goes_on(hook, fake, settings):
    from tests.scheduling.fakes.fanvue import CLIENT_ID, CLIENT_SECRET

    settings.FANVUE_TOKEN_URL = f"{fake.url}/oauth2/token"
    settings.FANVUE_CLIENT_ID, settings.FANVUE_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    scheduling_services.store_credentials(hook["account"], {"access_token": "expired", "refresh_token": "fv-refresh-1"},
                                          scopes="read:chat write:chat read:fan read:creator")
    fake.fan_writes(FAN, "still there?", owner=AGENCY_CREATOR)
    assert sync.reconcile_fanvue(hook["account"].pk)["new"] == 1
    hook["account"].refresh_from_db()
    fresh = scheduling_services.read_credentials(hook["account"], purpose="test")
    assert fresh["access_token"] != "expired" and fresh["refresh_token"] != "fv-refresh-1"
    assert len(fake.calls("POST", r"/oauth2/token")) == 1


def test_a_message_from_a_known_fan_is_processed_in_a_fixed_number_of_queries(
        client, hook, fake, django_capture_on_commit_callbacks, django_assert_max_num_queries, monkeypatch):
    """Every fan message pays this at a burst's rate: it must not grow with the conversation, nor read the
    rows it just wrote again."""
    from analytics import ingest
    from analytics.ingest import receivers

    first = fake.fan_writes(FAN, "hi", owner=AGENCY_CREATOR)
    assert deliver(client, hook, received_payload(first), django_capture_on_commit_callbacks) == "accepted"
    queued: list[int] = []
    monkeypatch.setattr(receivers, "enqueue_processing", queued.append)
    for n in range(3):
        written = fake.fan_writes(FAN, f"message {n}", owner=AGENCY_CREATOR)
        assert deliver(client, hook, received_payload(written), django_capture_on_commit_callbacks) == "accepted"
    for event_id in queued:
        # event, fan (read + update), known message, conversation (locked), message insert, conversation
        # update, outbound-webhook endpoints, chatters on shift, event done: plus savepoints.
        with django_assert_max_num_queries(15):
            assert ingest.process_event(event_id) == "processed"
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 4 and Message.objects.count() == 4
    assert conversation.last_message_at == Message.objects.latest("sent_at").sent_at


def _stored_events(client, hook, payloads, django_capture_on_commit_callbacks, monkeypatch) -> list[int]:
    """Deliver each payload as Fanvue would and return the stored events' ids, unprocessed."""
    from analytics.ingest import receivers

    queued: list[int] = []
    monkeypatch.setattr(receivers, "enqueue_processing", queued.append)
    for payload in payloads:
        assert deliver(client, hook, payload, django_capture_on_commit_callbacks) == "accepted"
    return queued


def test_a_burst_of_messages_is_recorded_together_with_the_same_rows_as_one_at_a_time(
        client, hook, fake, django_capture_on_commit_callbacks, django_assert_max_num_queries, monkeypatch):
    from analytics import ingest, tasks
    from analytics.models import Fan

    fans = [f"00000000-0000-4000-8000-{n:012d}" for n in range(12)]
    # First sight of twelve fans, one of them twice: fans, conversations and round-robin turns created.
    first = [fake.fan_writes(fan, f"hello from {n}", owner=AGENCY_CREATOR) for n, fan in enumerate(fans)]
    first.append(fake.fan_writes(fans[1], "and again", owner=AGENCY_CREATOR))
    senders = [*range(12), 1]
    payloads = [received_payload(m, sender={"uuid": fans[n], "handle": f"f{n}"})
                for n, m in zip(senders, first, strict=True)]
    ids = _stored_events(client, hook, payloads, django_capture_on_commit_callbacks, monkeypatch)
    assert tasks.process_inbound_events(ids) == {"processed": 13}
    assert Message.objects.count() == 13 and Conversation.objects.count() == 12 and Fan.objects.count() == 12
    assert all(c.assignee_id is not None for c in Conversation.objects.all())  # a chatter of the desk is on shift
    second = Conversation.objects.get(fan__external_id=fans[1])
    assert second.unread_count == 2 and second.waiting_since == min(m.sent_at for m in second.messages.all())

    # Then the same fans again, one renamed, and a redelivery of a message already recorded.
    again = [fake.fan_writes(fan, f"more from {n}", owner=AGENCY_CREATOR) for n, fan in enumerate(fans)]
    payloads = [received_payload(m, sender={"uuid": fans[n], "handle": f"f{n}"}) for n, m in enumerate(again)]
    payloads[1]["sender"] = {"uuid": fans[1], "handle": "f1-renamed"}
    payloads.append(received_payload(first[0], sender={"uuid": fans[0], "handle": "f0"},
                                     timestamp=iso(datetime.now(UTC) + timedelta(seconds=9))))
    ids = _stored_events(client, hook, payloads, django_capture_on_commit_callbacks, monkeypatch)
    with django_assert_max_num_queries(15):  # 13 events: a fixed number per batch, not a dozen per event
        assert tasks.process_inbound_events(ids) == {"processed": 13}
    assert ingest.process_events(ids) == {"already processed": 13}  # the batch queued twice
    assert Message.objects.count() == 25 and Message.objects.values("external_id").distinct().count() == 25
    second.refresh_from_db()
    assert second.unread_count == 3 and second.fan.handle == "f1-renamed"
    assert second.last_message_at == max(m.sent_at for m in second.messages.all())
    assert all(e.processed_at and e.error == "" for e in InboundEvent.objects.all())


def test_an_unreadable_event_in_a_burst_keeps_its_error_and_the_others_are_recorded(
        client, hook, fake, django_capture_on_commit_callbacks, monkeypatch):
    from analytics import tasks

    good = [fake.fan_writes(FAN, f"message {n}", owner=AGENCY_CREATOR) for n in range(3)]
    payloads = [received_payload(m) for m in good]
    payloads.insert(1, {**received_payload(good[0]), "messageUuid": None, "message": {"text": "no id"}})
    payloads.insert(2, received_payload(fake.fan_writes(FAN, "to another creator", owner=AGENCY_CREATOR),
                                        recipientUuid="00000000-dead-4000-8000-000000000000"))
    ids = _stored_events(client, hook, payloads, django_capture_on_commit_callbacks, monkeypatch)

    assert tasks.process_inbound_events(ids) == {"processed": 3, "failed": 2}
    assert sorted(Message.objects.values_list("text", flat=True)) == ["message 0", "message 1", "message 2"]
    errors = dict(InboundEvent.objects.exclude(error="").values_list("pk", "error"))
    assert set(errors) == {ids[1], ids[2]}
    assert "messageUuid" in errors[ids[1]] and "another Fanvue creator" in errors[ids[2]]
    assert Conversation.objects.get().unread_count == 3


def test_a_minor_signal_in_a_burst_holds_that_conversation_only(
        client, hook, fake, django_capture_on_commit_callbacks, monkeypatch):
    from analytics import tasks
    from inbox import services
    from notifications.models import Notification

    other = "00000000-0000-4000-8000-000000000077"
    payloads = [received_payload(fake.fan_writes(FAN, "hey there", owner=AGENCY_CREATOR)),
                received_payload(fake.fan_writes(FAN, "btw im 15 is that ok", owner=AGENCY_CREATOR)),
                received_payload(fake.fan_writes(other, "hello", owner=AGENCY_CREATOR),
                                 sender={"uuid": other, "handle": "grown-up"})]
    ids = _stored_events(client, hook, payloads, django_capture_on_commit_callbacks, monkeypatch)

    assert tasks.process_inbound_events(ids) == {"processed": 3}
    held = Conversation.objects.get(fan__external_id=FAN)
    assert held.held_at is not None and held.mode == Conversation.Mode.HUMAN
    assert Conversation.objects.get(fan__external_id=other).held_at is None
    assert Notification.objects.filter(kind=services.HOLD_NOTICE).count() == 1
