"""Signed Fanvue and Telegram deliveries whose bodies are odd: never a 5xx, never a half-written row.

Each body below is correctly signed (or carries the right secret token), so it is stored once; the worker then
either records it or leaves a readable error on the event, with nothing of it written anywhere else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics import ingest
from analytics.models import Fan, InboundEvent, Subscription, Transaction
from inbox.models import Conversation, Message
from tests.analytics.factories import body_of, receiver_for, sign, tip_payload
from tests.inbox.fanvue_fake import AGENCY_CREATOR, iso

pytestmark = pytest.mark.django_db

FAN = "5939ae62-3eb5-4433-954f-f78c7b4282f3"
TELEGRAM_SECRET = "tg-secret-0123456789abcdef"


@pytest.fixture
def hook(desk, eager_celery, settings):
    settings.FANVUE_WEBHOOK_TOLERANCE_SECONDS = 300
    account = desk.fanvue
    account.options = {"creator_uuid": AGENCY_CREATOR}
    account.save(update_fields=["options"])
    receiver = receiver_for(account)
    return {"account": account, "url": reverse("analytics_fanvue_webhook", kwargs={"token": receiver.token})}


def message_payload(**message_overrides) -> dict:
    message = {"uuid": "m-odd-1", "text": "hey there", "hasMedia": False, "mediaUuids": [],
               "createdAt": iso(datetime.now(UTC)), **message_overrides}
    return {"message": message, "messageUuid": "m-odd-1",
            "sender": {"uuid": FAN, "handle": "test-user", "displayName": "Test User"},
            "recipientUuid": AGENCY_CREATOR, "timestamp": iso(datetime.now(UTC))}


def with_(payload: dict, **overrides) -> dict:
    return {**payload, **overrides}


def rows() -> dict[str, int]:
    return {"fans": Fan.objects.count(), "conversations": Conversation.objects.count(),
            "messages": Message.objects.count(), "transactions": Transaction.objects.count(),
            "subscriptions": Subscription.objects.count()}


def post_signed(client, url: str, body: bytes, capture):
    with capture(execute=True):
        return client.post(url, data=body, content_type="application/json", HTTP_X_FANVUE_SIGNATURE=sign(body))


def assert_stored_once_and_settled(before: dict[str, int]) -> InboundEvent:
    event = InboundEvent.objects.get()
    assert event.processed_at is not None or event.error, "the event was neither processed nor given an error"
    if event.error:
        assert rows() == before, f"an event that failed ({event.error}) left rows behind"
    return event


FAR_FUTURE = "9999-12-31T23:59:59Z"
ODD_MESSAGES = {
    "sender is a list": with_(message_payload(), sender=[FAN]),
    "sender is a string": with_(message_payload(), sender=FAN),
    "sender is a number": with_(message_payload(), sender=42),
    "sender uuid is an object": with_(message_payload(), sender={"uuid": {"id": FAN}}),
    "sender uuid is 5000 characters": with_(message_payload(), sender={"uuid": "f" * 5000}),
    "messageUuid is an object": with_(message_payload(), messageUuid={"uuid": "m-odd-1"}),
    "messageUuid is a huge number": with_(message_payload(uuid=None), messageUuid=10**250),
    "messageUuid is 300 characters": with_(message_payload(uuid=None), messageUuid="m" * 300),
    "text is null": message_payload(text=None),
    "text is a number": message_payload(text=16),
    "text is very long": message_payload(text="la " * 100_000),
    "text has NUL bytes": message_payload(text="hey\u0000 there\u0000"),
    "price is a string": message_payload(price="500"),
    "price is a float": message_payload(price=4.99),
    "price is negative": message_payload(price=-500),
    "price is a bool": message_payload(price=True),
    "price is 2**70": message_payload(price=2**70),
    "timestamp is garbage": with_(message_payload(), timestamp="yesterday"),
    "timestamp is an impossible date": with_(message_payload(), timestamp="2026-02-30T10:00:00Z"),
    "timestamp is a number": with_(message_payload(), timestamp=1_700_000_000),
    "timestamp is far in the future": with_(message_payload(), timestamp=FAR_FUTURE),
    "timestamp is before year 1 in UTC": with_(message_payload(), timestamp="0001-01-01T00:00:00+01:00"),
    "createdAt is far in the future": message_payload(createdAt=FAR_FUTURE),
    "createdAt is before year 1 in UTC": message_payload(createdAt="0001-01-01T00:00:00+01:00"),
    "mediaUuids is not a list": message_payload(mediaUuids="abc"),
    "mediaUuids holds objects": message_payload(mediaUuids=[{"a": 1}, None, 3]),
    "recipient is another creator": with_(message_payload(), recipientUuid="11111111-2222-3333-4444-555555555555"),
    "unknown event type": with_(message_payload(), type="creator.message.exploded"),
    "type is a number": with_(message_payload(), type=7),
    "id is an object": with_(message_payload(), id={"x": 1}),
    "id is 5000 characters": with_(message_payload(), id="i" * 5000),
}


@pytest.mark.parametrize("payload", ODD_MESSAGES.values(), ids=ODD_MESSAGES.keys())
def test_an_odd_message_received_is_stored_once_and_settled(client, hook, payload,
                                                            django_capture_on_commit_callbacks):
    before = rows()
    response = post_signed(client, hook["url"], body_of(payload), django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    event = assert_stored_once_and_settled(before)
    for message in Message.objects.all():
        assert "\x00" not in message.text
        assert message.sent_at <= event.received_at + timedelta(minutes=10), "a message dated in the future"
        assert message.sent_at.year >= 2000
    # The same body again is the same event: nothing more is stored or written.
    after = rows()
    assert post_signed(client, hook["url"], body_of(payload), django_capture_on_commit_callbacks).status_code == 200
    assert InboundEvent.objects.count() == 1 and rows() == after


ODD_TIPS = {
    "price is a string": tip_payload(price="500"),
    "price is a float": tip_payload(price=4.99),
    "price is negative": tip_payload(price=-500),
    "price is a bool": tip_payload(price=True),
    "price is 2**70": tip_payload(price=2**70),
    "price is 2**63": tip_payload(price=2**63),
    "net is larger than the price": tip_payload(net=2**70),
    "currency is an object": tip_payload(currency={"code": "USD"}),
    "timestamp is far in the future": tip_payload(timestamp=FAR_FUTURE),
    "timestamp is before year 1 in UTC": tip_payload(timestamp="0001-01-01T00:00:00+01:00"),
    "timestamp is an impossible date": tip_payload(timestamp="2026-13-45T99:00:00Z"),
    "recipient is another creator": tip_payload(recipientUuid="11111111-2222-3333-4444-555555555555"),
    "transactionId is 5000 characters": tip_payload(transactionId="t" * 5000),
    "messageUuid is an object": tip_payload(context="message", postUuid=None, messageUuid={"a": 1}),
}


@pytest.mark.parametrize("payload", ODD_TIPS.values(), ids=ODD_TIPS.keys())
def test_an_odd_tip_is_stored_once_and_settled(client, hook, payload, django_capture_on_commit_callbacks):
    payload = {**payload, "recipientUuid": payload["recipientUuid"].replace(
        "f4b2a184-2b4a-4a04-9b70-3c0e0a1caa12", AGENCY_CREATOR)}
    before = rows()
    response = post_signed(client, hook["url"], body_of(payload), django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    assert_stored_once_and_settled(before)
    for tx in Transaction.objects.all():
        assert tx.gross_minor > 0 and tx.account_id == hook["account"].pk
        assert datetime(2000, 1, 1, tzinfo=UTC) < tx.occurred_at < timezone.now() + timedelta(minutes=10)


def test_a_tip_addressed_to_another_creator_is_not_recorded(client, hook, django_capture_on_commit_callbacks):
    payload = tip_payload(recipientUuid="11111111-2222-3333-4444-555555555555")
    post_signed(client, hook["url"], body_of(payload), django_capture_on_commit_callbacks)
    assert not Transaction.objects.exists()
    assert "another Fanvue creator" in InboundEvent.objects.get().error


@pytest.mark.parametrize("raw", [b'{"messageUuid": "m1", "price": NaN}', b'{"price": Infinity}',
                                 b'{"price": 1e400}', b"[" * 100_000 + b"]" * 100_000,
                                 # Deep enough to walk past Python's stack, shallow enough for its parser.
                                 b'{"message": ' + b"[" * 500 + b"]" * 500 + b"}",
                                 b'{"a": ' + b'{"a": ' * 40 + b"1" + b"}" * 41])
def test_a_signed_body_that_is_not_storable_json_is_refused_before_anything_is_written(
        client, hook, raw, django_capture_on_commit_callbacks):
    response = post_signed(client, hook["url"], raw, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_unsigned_badly_signed_and_stale_requests_write_nothing(client, hook):
    body = body_of(message_payload())
    stale = sign(body, t=int(timezone.now().timestamp()) - 3600)
    bad = sign(body, secret="another-secret-0123456789")
    for header in ("", "t=1,v0=zz", stale, bad):
        response = client.post(hook["url"], data=body, content_type="application/json",
                               HTTP_X_FANVUE_SIGNATURE=header)
        assert 400 <= response.status_code < 500
    assert not InboundEvent.objects.exists() and rows()["messages"] == 0


# --- Telegram ---------------------------------------------------------------------------------------------


@pytest.fixture
def bot(desk, eager_celery):
    receiver = receiver_for(desk.telegram, secret=TELEGRAM_SECRET)
    return {"account": desk.telegram, "url": reverse("inbox_telegram_webhook", kwargs={"token": receiver.token})}


def update(update_id: int = 1, **message) -> dict:
    base = {"message_id": 10, "date": int(timezone.now().timestamp()),
            "chat": {"id": 4242, "type": "private"}, "from": {"id": 4242, "is_bot": False, "username": "fan"},
            "text": "hello"}
    return {"update_id": update_id, "message": {**base, **message}}


def payment(**fields) -> dict:
    return {"currency": "XTR", "total_amount": 50, "invoice_payload": "msg:1",
            "telegram_payment_charge_id": "charge-1", "provider_payment_charge_id": "", **fields}


ODD_UPDATES = {
    "no from": {"update_id": 1, "message": {k: v for k, v in update()["message"].items() if k != "from"}},
    "group chat": update(chat={"id": -100, "type": "group"}),
    "channel post": {"update_id": 1, "channel_post": update()["message"] | {"chat": {"id": -1, "type": "channel"}}},
    "edited message": {"update_id": 1, "edited_message": update()["message"]},
    "huge update_id": update(update_id=2**70),
    "update_id of 300 digits": update(update_id=10**300),
    "text with NUL": update(text="hi\u0000 im 16"),
    "text is a number": update(text=16),
    "date far in the future": update(date=2**32),
    "message_id is a string": update(message_id="10"),
    "chat id is huge": update(chat={"id": 10**250, "type": "private"}),
    "from id is huge": update(**{"from": {"id": 10**250}}),
    "payment with object payload": update(successful_payment=payment(invoice_payload={"msg": 1})),
    "payment with msg:<huge> payload": update(successful_payment=payment(invoice_payload="msg:999999999999999999")),
    "payment of 2**70 stars": update(successful_payment=payment(total_amount=2**70)),
    "payment of a negative amount": update(successful_payment=payment(total_amount=-5)),
    "payment with a 5000 character charge id": update(
        successful_payment=payment(telegram_payment_charge_id="c" * 5000)),
    "payment with an object currency": update(successful_payment=payment(currency={"c": "XTR"})),
    "paid media with an object payload": {"update_id": 1, "purchased_paid_media": {
        "from": {"id": 4242}, "paid_media_payload": {"a": 1}}},
}


@pytest.mark.parametrize("payload", ODD_UPDATES.values(), ids=ODD_UPDATES.keys())
def test_an_odd_telegram_update_is_stored_once_and_settled(client, bot, payload, django_capture_on_commit_callbacks):
    before = rows()
    body = json.dumps(payload).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(bot["url"], data=body, content_type="application/json",
                               HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TELEGRAM_SECRET)
    assert response.status_code == 200, response.content
    event = assert_stored_once_and_settled(before)
    for message in Message.objects.all():
        assert "\x00" not in message.text
        assert message.sent_at <= event.received_at + timedelta(minutes=10)


# --- Minor signals written to slip past ------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "hey 1️⃣6️⃣ yo here", "i'm only 16 lol", "im ١٦", "im\u0000 16", "im still 17 tbh", "I'm under 18 is that ok",
    "not 18 yet but soon", "it was my 16th birthday yesterday"])
def test_a_disguised_age_in_a_signed_message_holds_the_conversation(client, hook, text,
                                                                    django_capture_on_commit_callbacks):
    post_signed(client, hook["url"], body_of(message_payload(text=text)), django_capture_on_commit_callbacks)
    conversation = Conversation.objects.get()
    assert conversation.held_at is not None and conversation.mode == Conversation.Mode.HUMAN


@pytest.mark.parametrize("text", ["I'm 26", "I'm 5'6 and 16 inches of fun", "I'm 6 foot 2"])
def test_ordinary_adult_talk_does_not_hold_the_conversation(client, hook, text, django_capture_on_commit_callbacks):
    post_signed(client, hook["url"], body_of(message_payload(text=text)), django_capture_on_commit_callbacks)
    assert Conversation.objects.get().held_at is None


def test_a_payload_the_database_refuses_is_left_with_its_error_not_raised_out_of_the_worker(hook):
    """Whatever a handler did not foresee and PostgreSQL refuses (here a fan id past its column) leaves a
    readable error and no row, instead of a worker crash the sweep would queue again every ten minutes."""

    def writes_a_too_long_fan(event: InboundEvent) -> None:
        Fan.objects.create(creator=event.account.creator, platform="fanvue", external_id=event.payload["who"],
                           first_seen=event.received_at, last_seen=event.received_at)

    ingest.register_handler("test.unforeseen", writes_a_too_long_fan)
    try:
        event = InboundEvent.objects.create(account=hook["account"], event_key="k", kind="test.unforeseen",
                                            payload={"who": "f" * 300})
        assert ingest.process_event(event.pk) == "failed"
    finally:
        ingest.EXTRA_HANDLERS.pop("test.unforeseen", None)
    event.refresh_from_db()
    assert event.processed_at is None and "DataError" in event.error and not Fan.objects.exists()
