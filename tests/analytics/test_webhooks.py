"""Fanvue webhooks end to end through the receiver URL: nothing is stored unless the request is
signed, fresh and well formed; a stored event is processed once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from analytics import ingest
from analytics.models import Fan, InboundEvent, Subscription, Transaction, WebhookReceiver
from tests.analytics.factories import (
    FAN_UUID,
    SECRET,
    body_of,
    receiver_for,
    sign,
    subscriber_payload,
    tip_payload,
)
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(people, settings, eager_celery):
    settings.ANALYTICS_CURRENCY = "USD"
    settings.FANVUE_WEBHOOK_TOLERANCE_SECONDS = 300
    account = PlatformAccountFactory(creator=people["a"], handle="luna")
    receiver = receiver_for(account)
    return {"account": account, "receiver": receiver, **people,
            "url": reverse("analytics_fanvue_webhook", kwargs={"token": receiver.token})}


def deliver(client, url, body: bytes, signature: str | None, **headers):
    extra = {"HTTP_X_FANVUE_SIGNATURE": signature} if signature is not None else {}
    return client.post(url, data=body, content_type="application/json", **extra, **headers)


def nothing_stored() -> None:
    assert InboundEvent.objects.count() == 0
    assert Transaction.objects.count() == 0
    assert Fan.objects.count() == 0
    assert WebhookReceiver.objects.filter(last_event_at__isnull=False).count() == 0


def test_signed_tip_records_one_transaction_and_a_replay_does_not_count_twice(
        client, hook, django_capture_on_commit_callbacks):
    body = body_of(tip_payload())
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(client, hook["url"], body, sign(body))
    assert first.status_code == 200 and first.json() == {"status": "accepted"}

    tx = Transaction.objects.get()
    assert (tx.kind, tx.gross_minor, tx.fee_minor, tx.net_minor, tx.currency) == ("tip", 500, 0, 500, "USD")
    assert (tx.source, tx.creator, tx.account, tx.platform) == ("webhook", hook["a"], hook["account"], "fanvue")
    fan = Fan.objects.get()
    assert (fan.external_id, fan.handle, fan.lifetime_spend_minor) == (FAN_UUID, "test-user", 500)
    assert tx.fan == fan
    event = InboundEvent.objects.get()
    assert event.kind == "tip.new" and event.processed_at is not None and event.error == ""

    # The same delivery again, and the same body signed afresh (a retry): both answered, neither stored.
    with django_capture_on_commit_callbacks(execute=True):
        again = deliver(client, hook["url"], body, sign(body))
        resigned = deliver(client, hook["url"], body, sign(body, t=int(time.time()) - 5))
    assert again.status_code == resigned.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert InboundEvent.objects.count() == 1 and Transaction.objects.count() == 1
    fan.refresh_from_db()
    assert fan.lifetime_spend_minor == 500


@pytest.mark.parametrize("case", ["wrong secret", "stale", "future", "no header", "garbage header",
                                  "missing v0", "short mac", "not json", "json array"])
def test_rejected_deliveries_store_nothing(client, hook, django_capture_on_commit_callbacks, case):
    body = body_of(tip_payload())
    now = int(time.time())
    signature, status = {
        "wrong secret": (sign(body, secret="not-the-secret-at-all"), 401),
        "stale": (sign(body, t=now - 301), 400),
        "future": (sign(body, t=now + 301), 400),
        "no header": (None, 400),
        "garbage header": ("sha256=abc", 400),
        "missing v0": (f"t={now}", 400),
        "short mac": (f"t={now},v0=abcd", 400),
        "not json": (None, 400),
        "json array": (None, 400),
    }[case]
    if case == "not json":
        body = b"{not json"
        signature = sign(body)
    if case == "json array":
        body = b"[1, 2]"
        signature = sign(body)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, hook["url"], body, signature)
    assert response.status_code == status, response.content
    assert "error" in response.json()
    nothing_stored()


def test_unknown_token_is_404_and_get_is_refused(client, hook):
    body = body_of(tip_payload())
    url = reverse("analytics_fanvue_webhook", kwargs={"token": "no-such-token"})
    assert deliver(client, url, body, sign(body)).status_code == 404
    assert client.get(hook["url"]).status_code == 405
    nothing_stored()


def test_a_rotated_secret_refuses_the_old_one(client, hook):
    ingest.rotate_receiver_secret(hook["receiver"], secret="the-new-secret-0123456789")
    body = body_of(tip_payload())
    assert deliver(client, hook["url"], body, sign(body, secret=SECRET)).status_code == 401
    nothing_stored()
    assert deliver(client, hook["url"], body, sign(body, secret="the-new-secret-0123456789")).status_code == 200


def test_new_subscriber_creates_fan_subscription_and_sale(client, hook, django_capture_on_commit_callbacks):
    body = body_of(subscriber_payload())
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, hook["url"], body, sign(body)).status_code == 200
    fan = Fan.objects.get()
    assert fan.handle == "sub-scriber"
    sub = Subscription.objects.get()
    assert (sub.fan, sub.account, sub.price_minor, sub.currency, sub.trial) == (fan, hook["account"], 1299, "USD",
                                                                                  False)
    tx = Transaction.objects.get()
    assert (tx.kind, tx.gross_minor, tx.fan) == ("subscription", 1299, fan)


def test_enveloped_purchase_uses_the_event_id_and_the_purchase_type(client, hook,
                                                                     django_capture_on_commit_callbacks):
    payload = {"id": "evt_123", "type": "creator.purchase.new", "timestamp": "2026-01-01T00:00:00Z",
               "data": {"price": 1500, "purchaseType": "message", "messageUuid": "m-1",
                        "sender": {"uuid": FAN_UUID, "handle": "test-user"},
                        "timestamp": timezone.now().isoformat()}}
    body = body_of(payload)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, hook["url"], body, sign(body)).status_code == 200
    event = InboundEvent.objects.get()
    assert (event.event_key, event.kind) == ("id:evt_123", "purchase.new")
    tx = Transaction.objects.get()
    assert (tx.kind, tx.external_id, tx.gross_minor) == ("paid_message", "evt_123", 1500)


def test_follower_and_message_only_touch_the_fan(client, hook, django_capture_on_commit_callbacks):
    follower = body_of({"sender": {"uuid": FAN_UUID, "handle": "old-name"}, "recipientUuid": "x",
                        "timestamp": (timezone.now() - timedelta(minutes=5)).isoformat()})
    message = body_of({"messageUuid": "m-2", "message": {"uuid": "m-2", "text": "hi"}, "recipientUuid": "x",
                       "sender": {"uuid": FAN_UUID, "handle": "new-name"}, "timestamp": timezone.now().isoformat()})
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, hook["url"], follower, sign(follower))
        deliver(client, hook["url"], message, sign(message))
    assert sorted(InboundEvent.objects.values_list("kind", flat=True)) == ["follower.new", "message.received"]
    fan = Fan.objects.get()
    assert fan.handle == "new-name" and fan.first_seen < fan.last_seen
    assert Transaction.objects.count() == 0


def test_an_unreadable_payload_keeps_its_error_and_writes_nothing_else(client, hook,
                                                                        django_capture_on_commit_callbacks):
    body = body_of(tip_payload(sender={"handle": "no-uuid"}))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, hook["url"], body, sign(body)).status_code == 200
    event = InboundEvent.objects.get()
    assert event.processed_at is None and "sender" in event.error
    assert Transaction.objects.count() == 0 and Fan.objects.count() == 0
    assert ingest.process_event(event.pk) == "failed"  # a retry is safe and still writes nothing


def test_processing_twice_is_a_no_op(client, hook, django_capture_on_commit_callbacks):
    body = body_of(tip_payload())
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, hook["url"], body, sign(body))
    event = InboundEvent.objects.get()
    assert ingest.process_event(event.pk) == "already processed"
    assert Transaction.objects.count() == 1


def test_receiver_secret_is_encrypted_and_never_audited(hook):
    receiver = hook["receiver"]
    assert SECRET not in receiver.secret_encrypted
    assert ingest.receiver_secret(receiver) == SECRET
    events = AuditEvent.objects.filter(action__startswith="analytics.webhook")
    assert events.exists() and all(SECRET not in str(e.changes) for e in events)
    with pytest.raises(Exception, match="already has a webhook receiver"):
        ingest.create_receiver(hook["account"])


def test_admin_shows_each_manager_only_their_creators_events(client, hook, people,
                                                             django_capture_on_commit_callbacks):
    other = PlatformAccountFactory(creator=people["b"], handle="nova")
    other_receiver = receiver_for(other)
    other_url = reverse("analytics_fanvue_webhook", kwargs={"token": other_receiver.token})
    mine, theirs = body_of(tip_payload(price=111)), body_of(tip_payload(price=222))
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, hook["url"], mine, sign(mine))
        deliver(client, other_url, theirs, sign(theirs))
    mine_event = InboundEvent.objects.get(account=hook["account"])
    theirs_event = InboundEvent.objects.get(account=other)

    client.force_login(people["alice"])
    page = client.get(reverse("admin:analytics_inboundevent_changelist"))
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [mine_event]
    assert client.get(reverse("admin:analytics_inboundevent_change", args=[theirs_event.pk])).status_code == 404
    receivers = client.get(reverse("admin:analytics_webhookreceiver_changelist"))
    assert list(receivers.context["cl"].result_list) == [hook["receiver"]]
    assert hook["receiver"].token in receivers.content.decode()

    client.force_login(people["charlie"])
    page = client.get(reverse("admin:analytics_inboundevent_changelist"))
    assert list(page.context["cl"].result_list) == [theirs_event]
    assert client.get(reverse("admin:analytics_inboundevent_change", args=[mine_event.pk])).status_code == 404


def test_owner_rotates_a_secret_from_the_admin(client, hook, people):
    client.force_login(people["owner"])
    before = hook["receiver"].secret_encrypted
    response = client.post(reverse("admin:analytics_webhookreceiver_changelist"),
                           {"action": "rotate_secret", "_selected_action": [hook["receiver"].pk]}, follow=True)
    assert response.status_code == 200
    hook["receiver"].refresh_from_db()
    assert hook["receiver"].secret_encrypted != before
    shown = [str(m) for m in response.context["messages"]]
    assert any(ingest.receiver_secret(hook["receiver"]) in m for m in shown)


def test_owner_opens_a_receiver_from_the_admin_with_the_platform_secret(client, people):
    account = PlatformAccountFactory(creator=people["b"], handle="nova")
    client.force_login(people["owner"])
    response = client.post(reverse("admin:analytics_webhookreceiver_add"),
                           {"account": account.pk, "signing_secret": "pasted-from-fanvue-0123456789"}, follow=True)
    assert response.status_code == 200
    receiver = WebhookReceiver.objects.get(account=account)
    assert ingest.receiver_secret(receiver) == "pasted-from-fanvue-0123456789"
    page = client.get(reverse("admin:analytics_webhookreceiver_change", args=[receiver.pk]))
    assert reverse("analytics_fanvue_webhook", kwargs={"token": receiver.token}) in page.content.decode()
    assert "pasted-from-fanvue" not in page.content.decode()
