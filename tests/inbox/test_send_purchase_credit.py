"""A fan's purchase of a message, signed by Fanvue and posted to the real receiver, credits that message,
the chatter who sent it and the shift they were on — once, whatever replays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import Transaction
from inbox import delivery, services
from inbox.models import Message, ReportingEvent, Shift
from tests.analytics.factories import FAN_UUID, body_of, receiver_for, sign, tip_payload
from tests.inbox.factories import conversation
from tests.scheduling.factories import PlatformAccountFactory
from tests.scheduling.fakes.base import Reply

pytestmark = pytest.mark.django_db


def purchase_payload(message_uuid: str, **overrides):
    """A Purchase Received for a message: `price` and `messageUuid` (analytics.ingest.events)."""
    return tip_payload(context=None, postUuid=None, messageUuid=message_uuid, price=999, purchaseType="message",
                       **overrides)


@pytest.fixture
def hook(desk, settings, eager_celery):
    settings.FANVUE_WEBHOOK_TOLERANCE_SECONDS = 300
    receiver = receiver_for(desk.fanvue)
    return reverse("analytics_fanvue_webhook", kwargs={"token": receiver.token})


@pytest.fixture
def ppv(desk, vault, fake_chat) -> Message:
    """A PPV the chatter sent from the vault, delivered through the fake platform."""
    message = services.send(conversation(desk.fanvue, fan_id=FAN_UUID), by=desk.chatter, text="for you",
                            assets=[vault.consented], price_minor=999)
    assert delivery.deliver(message.pk) == Message.SendStatus.SENT
    message.refresh_from_db()
    return message


def post(client, url, payload, django_capture_on_commit_callbacks):
    body = body_of({k: v for k, v in payload.items() if v is not None})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data=body, content_type="application/json", HTTP_X_FANVUE_SIGNATURE=sign(body))
    assert response.status_code == 200
    return response.json()["status"]


def test_a_purchase_credits_the_message_the_chatter_and_the_shift_once(
        client, hook, ppv, desk, django_capture_on_commit_callbacks):
    payload = purchase_payload(ppv.external_id, transactionId="sale-1")
    assert post(client, hook, payload, django_capture_on_commit_callbacks) == "accepted"
    ppv.refresh_from_db()
    tx = Transaction.objects.get()
    assert ppv.purchased_at is not None and ppv.transaction == tx and tx.kind == "paid_message"
    credit = ReportingEvent.objects.get(kind=ReportingEvent.Kind.PURCHASE_CREDITED)
    assert (credit.message, credit.chatter, credit.amount_minor, credit.currency) == (ppv, desk.chatter, 999, "USD")
    assert credit.shift == Shift.objects.get(chatter=desk.chatter) and credit.transaction == tx
    assert post(client, hook, payload, django_capture_on_commit_callbacks) == "duplicate"  # the same delivery
    # The same sale told again in another delivery (another timestamp): one transaction, one credit.
    again = purchase_payload(ppv.external_id, transactionId="sale-1", timestamp="2026-12-07T05:00:00Z")
    assert post(client, hook, again, django_capture_on_commit_callbacks) == "accepted"
    assert ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).count() == 1


def test_a_tip_on_a_message_credits_the_chatter_without_unlocking_anything(
        client, hook, ppv, desk, django_capture_on_commit_callbacks):
    post(client, hook, tip_payload(context="message", postUuid=None, messageUuid=ppv.external_id),
         django_capture_on_commit_callbacks)
    ppv.refresh_from_db()
    assert ppv.purchased_at is None
    credit = ReportingEvent.objects.get(kind=ReportingEvent.Kind.PURCHASE_CREDITED)
    assert credit.chatter == desk.chatter and credit.amount_minor == 500


def test_a_message_of_another_account_or_fan_is_never_credited(
        client, hook, ppv, desk, django_capture_on_commit_callbacks):
    other = PlatformAccountFactory(creator=desk.creator, platform="fanvue", handle="luna2")
    Message.objects.filter(pk=ppv.pk).update(account=other)
    post(client, hook, purchase_payload(ppv.external_id, transactionId="sale-2"), django_capture_on_commit_callbacks)
    assert not ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).exists()
    Message.objects.filter(pk=ppv.pk).update(account=desk.fanvue)
    stranger = {"uuid": "00000000-0000-4000-8000-000000000000", "handle": "someone-else"}
    post(client, hook, purchase_payload(ppv.external_id, transactionId="sale-3", sender=stranger),
         django_capture_on_commit_callbacks)
    assert not ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).exists()


def test_a_purchase_told_before_the_message_is_known_by_its_id_is_credited_when_it_is(
        client, hook, desk, vault, fake_chat, django_capture_on_commit_callbacks):
    """The send timed out after Fanvue took the PPV: the message waits, unknown, for its lookup, while the fan
    already bought it. The purchase arrives first and names a message id nobody holds yet; the lookup that
    gives the message its id then credits it, once, and a replay of the purchase credits nothing more."""
    fake_chat.keep_next_then = Reply(201, {"id": "late", "sentAt": timezone.now().isoformat()}, delay=2.5)
    message = services.send(conversation(desk.fanvue, fan_id=FAN_UUID), by=desk.chatter, text="for you",
                            assets=[vault.consented], price_minor=999)
    assert delivery.deliver(message.pk) == Message.SendStatus.UNKNOWN
    held_by_fanvue = fake_chat.kept[0]["id"]

    payload = purchase_payload(held_by_fanvue, transactionId="sale-early")
    assert post(client, hook, payload, django_capture_on_commit_callbacks) == "accepted"
    assert Transaction.objects.count() == 1
    assert not ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).exists()

    message.refresh_from_db()
    assert delivery.settle_unknown(now=message.next_attempt_at + timedelta(seconds=1))["sent"] == 1
    message.refresh_from_db()
    tx = Transaction.objects.get()
    assert message.external_id == held_by_fanvue and message.transaction == tx and message.purchased_at is not None
    credit = ReportingEvent.objects.get(kind=ReportingEvent.Kind.PURCHASE_CREDITED)
    assert (credit.message, credit.chatter, credit.transaction) == (message, desk.chatter, tx)

    again = purchase_payload(held_by_fanvue, transactionId="sale-early", timestamp=timezone.now().isoformat())
    assert post(client, hook, again, django_capture_on_commit_callbacks) == "accepted"
    assert Transaction.objects.count() == 1
    assert ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).count() == 1


def test_a_ppv_sent_from_the_creator_s_phone_and_bought_before_reconciliation_read_it_is_credited(
        client, hook, desk, django_capture_on_commit_callbacks):
    """The creator sent a PPV from her phone; the fan bought it; only then did reconciliation read the message.
    The message is new to us, but the sale that named it is older: it is credited when the message is
    recorded (to nobody on our side: the creator wrote it), once."""
    from inbox.channels.base import InboundMessage

    sent_at = timezone.now() - timedelta(minutes=5)
    conversation(desk.fanvue, fan_id=FAN_UUID)
    assert post(client, hook, purchase_payload("phone-ppv", transactionId="sale-phone"),
                django_capture_on_commit_callbacks) == "accepted"
    read_later = InboundMessage(external_id="phone-ppv", chat_id=FAN_UUID, fan_id=FAN_UUID, sent_at=sent_at,
                                text="just for you", direction="out", price_minor=999, currency="USD")
    message = services.receive(desk.fanvue, read_later)
    message.refresh_from_db()
    tx = Transaction.objects.get()
    assert message.transaction == tx and message.purchased_at is not None
    credit = ReportingEvent.objects.get(kind=ReportingEvent.Kind.PURCHASE_CREDITED)
    assert (credit.message, credit.chatter, credit.transaction) == (message, None, tx)
    assert services.receive(desk.fanvue, read_later) is None
    assert ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).count() == 1
