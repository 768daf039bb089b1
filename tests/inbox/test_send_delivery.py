"""Delivery of queued messages, attacked the way publishing is: a message reaches the fan at most once,
a 429 waits at least its Retry-After, a timeout after sending is `unknown` and looked up instead of sent
again, a worker killed mid-call is reaped to `unknown`, and each call is charged to the account's budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from core.beat import BEAT_ENTRIES
from inbox import delivery, services
from inbox.models import Message
from notifications import services as notifications
from notifications.models import NotificationReceipt, WebhookDelivery
from scheduling.connectors.base import Limits
from scheduling.models import PlatformAccount
from tests.inbox.factories import conversation
from tests.scheduling.fakes.base import Reply

pytestmark = pytest.mark.django_db
S = Message.SendStatus


def queued(desk, text="Hi, thanks for writing!", **kwargs) -> Message:
    return services.send(conversation(desk.fanvue), by=desk.chatter, text=text, **kwargs)


def handed_out(message: Message) -> Message:
    """Queueing hands the message to a worker when its transaction commits (`message_queued`)."""
    assert reload(message).lease_until is not None
    return message


def reload(message: Message) -> Message:
    message.refresh_from_db()
    return message


def test_a_queued_message_goes_out_when_its_transaction_commits_and_only_once(
        desk, fake_chat, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queued(desk, idempotency_key="k-1")
    message = reload(message)
    assert message.send_status == S.SENT and message.attempts == 1
    assert message.external_id.startswith("fake-") and message.sent_at is not None and message.raw["id"]
    [post] = fake_chat.posts()
    assert post.json()["text"] == "Hi, thanks for writing!" and post.json()["key"] == "k-1"
    assert post.path == f"/chats/{message.conversation.fan.external_id}/messages"
    assert delivery.deliver(message.pk) == S.SENT  # a redelivered task
    assert delivery.claim_due() == []
    assert len(fake_chat.posts()) == 1


def test_a_delivery_run_hands_each_due_message_out_once(desk, fake_chat):
    message = queued(desk)
    assert delivery.claim_due() == []  # handed out when it was queued, under its claim lease
    later = timezone.now() + timedelta(seconds=django_settings.INBOX_CLAIM_LEASE_SECONDS + 1)
    assert delivery.claim_due(now=later) == [message.pk]  # its task was lost: handed out again
    assert delivery.deliver(message.pk) == S.SENT
    assert delivery.deliver(message.pk) == S.SENT
    assert len(fake_chat.posts()) == 1


def test_a_task_for_a_message_nobody_handed_out_does_nothing(desk, fake_chat):
    message = queued(desk)
    Message.objects.filter(pk=message.pk).update(lease_until=None)
    assert delivery.deliver(message.pk) == S.QUEUED
    assert fake_chat.posts() == []


def test_a_429_waits_at_least_its_retry_after_then_goes_out(desk, fake_chat):
    fake_chat.fail_next("POST", r"/chats/.*", Reply(429, {"message": "slow down"}, headers={"Retry-After": "120"}))
    message = handed_out(queued(desk))
    before = timezone.now()
    assert delivery.deliver(message.pk) == S.QUEUED
    message = reload(message)
    assert message.next_attempt_at >= before + timedelta(seconds=120)
    assert message.lease_until is None and "slow down" in message.last_error and message.attempts == 1
    assert delivery.claim_due() == []
    assert delivery.claim_due(now=message.next_attempt_at + timedelta(seconds=1)) == [message.pk]
    assert delivery.deliver(message.pk) == S.SENT
    assert reload(message).attempts == 2 and len(fake_chat.posts()) == 2
    assert len(fake_chat.kept) == 1  # the 429 kept nothing


def test_a_timeout_after_sending_is_unknown_and_settled_by_a_lookup_never_by_a_second_send(desk, fake_chat):
    fake_chat.keep_next_then = Reply(201, {"id": "late", "sentAt": timezone.now().isoformat()}, delay=2.5)
    message = handed_out(queued(desk))
    assert delivery.deliver(message.pk) == S.UNKNOWN
    message = reload(message)
    assert message.send_status == S.UNKNOWN and message.next_attempt_at is not None
    assert delivery.claim_due(now=timezone.now() + timedelta(hours=1)) == []  # never handed out again
    assert delivery.settle_unknown() == {"sent": 0, "queued": 0, "failed": 0, "still_unknown": 0}  # not settled yet
    counts = delivery.settle_unknown(now=message.next_attempt_at + timedelta(seconds=1))
    assert counts == {"sent": 1, "queued": 0, "failed": 0, "still_unknown": 0}
    message = reload(message)
    assert message.send_status == S.SENT and message.external_id == fake_chat.kept[0]["id"]
    assert len(fake_chat.posts()) == 1


def test_a_send_the_platform_certainly_never_got_goes_again_after_the_lookup(desk, fake_chat):
    fake_chat.fail_next("POST", r"/chats/.*", Reply(drop=True))  # the connection breaks before it is kept
    message = handed_out(queued(desk))
    assert delivery.deliver(message.pk) == S.UNKNOWN
    later = reload(message).next_attempt_at + timedelta(seconds=1)
    assert delivery.settle_unknown(now=later)["queued"] == 1
    assert reload(message).send_status == S.QUEUED
    assert delivery.claim_due(now=later) == [message.pk]
    assert delivery.deliver(message.pk) == S.SENT
    assert len(fake_chat.kept) == 1


def test_an_undecided_lookup_leaves_it_unknown_and_tells_the_managers(desk, fake_chat):
    fake_chat.fail_next("POST", r"/chats/.*", Reply(drop=True))
    fake_chat.lookup_complete = False
    message = handed_out(queued(desk))
    assert delivery.deliver(message.pk) == S.UNKNOWN
    later = reload(message).next_attempt_at + timedelta(seconds=1)
    assert delivery.settle_unknown(now=later) == {"sent": 0, "queued": 0, "failed": 0, "still_unknown": 1}
    message = reload(message)
    assert message.send_status == S.UNKNOWN and "lookup:" in message.last_error
    told = set(NotificationReceipt.objects.filter(notification__kind=delivery.UNKNOWN_NOTICE)
               .values_list("user__username", flat=True))
    assert {"mara", "chatty"} <= told
    # asked again only later
    assert delivery.settle_unknown(now=later) == {"sent": 0, "queued": 0, "failed": 0, "still_unknown": 0}
    assert len(fake_chat.posts()) == 1


def test_a_worker_killed_mid_call_leaves_an_unknown_message_for_the_lookup(desk, fake_chat):
    message = handed_out(queued(desk))
    assert delivery._start(message)  # the durable mark made right before the call; then the worker died
    assert delivery.reap_sending() == 0  # its call lease still runs
    lapsed = timezone.now() + timedelta(seconds=delivery.call_seconds() + 1)
    assert delivery.reap_sending(now=lapsed) == 1
    message = reload(message)
    assert message.send_status == S.UNKNOWN and message.last_error == delivery.STOPPED
    assert delivery.deliver(message.pk) == S.UNKNOWN  # its task, redelivered, sends nothing
    assert delivery.settle_unknown(now=lapsed)["queued"] == 1  # the fake never got it
    assert fake_chat.posts() == []


def test_a_refusal_fails_the_message_and_refused_credentials_need_reauthorisation(desk, fake_chat):
    fake_chat.fail_next("POST", r"/chats/.*", Reply(400, {"message": "price below minimum"}))
    message = handed_out(queued(desk))
    assert delivery.deliver(message.pk) == S.FAILED
    assert "price below minimum" in reload(message).last_error
    assert NotificationReceipt.objects.filter(notification__kind=delivery.FAILED_NOTICE,
                                              user=desk.chatter).exists()
    fake_chat.fail_next("POST", r"/chats/.*", Reply(401, {"message": "token expired"}))
    other = handed_out(services.send(conversation(desk.fanvue, fan_id="fan-2"), by=desk.chatter, text="hey"))
    assert delivery.deliver(other.pk) == S.FAILED
    desk.fanvue.refresh_from_db()
    assert desk.fanvue.state == PlatformAccount.State.NEEDS_REAUTH


def test_each_call_is_charged_to_the_accounts_chat_budget(desk, fake_chat, monkeypatch):
    monkeypatch.setattr(delivery, "chat_limits", lambda platform: Limits(
        max_text=5000, max_media=0, max_media_bytes=0, media_types=frozenset(), ratings=frozenset(),
        requests_per_window=1, window_seconds=3600))
    first = queued(desk, "one")
    second = handed_out(services.send(conversation(desk.fanvue, fan_id="fan-2"), by=desk.chatter, text="two"))
    assert delivery.deliver(first.pk) == S.SENT
    assert delivery.deliver(second.pk) == S.QUEUED
    second = reload(second)
    assert second.attempts == 0 and second.next_attempt_at > timezone.now() and second.lease_until is None
    assert len(fake_chat.posts()) == 1


def test_the_gate_is_asked_again_right_before_the_call(desk, fake_chat, vault):
    message = handed_out(services.send(conversation(desk.fanvue), by=desk.chatter, text="for you",
                                       assets=[vault.consented], price_minor=999))
    vault.consented.status = "rejected"
    vault.consented.save(update_fields=["status"])
    assert delivery.deliver(message.pk) == S.FAILED
    assert "approved" in reload(message).last_error
    assert fake_chat.posts() == []


def test_a_ppv_carries_its_media_price_and_template(desk, fake_chat, vault):
    from inbox.models import Script

    script = Script.objects.create(creator=desk.creator, name="Golden", text="for you", platform_template_id="tpl-9")
    message = handed_out(services.send(conversation(desk.fanvue), by=desk.chatter, text="for you",
                                       assets=[vault.consented], price_minor=999, origin=Message.Origin.SCRIPT,
                                       script=script))
    assert delivery.deliver(message.pk) == S.SENT
    body = fake_chat.posts()[0].json()
    assert body["price"] == 999 and body["currency"] == "USD" and body["template"] == "tpl-9"
    assert body["media"] == [{"mime": "image/jpeg", "size": 10}]


def test_control_tasks_run_on_the_control_queue_from_beat_entries():
    routes = django_settings.CELERY_TASK_ROUTES
    for task in ("inbox.tasks.deliver_due", "inbox.tasks.reap_sending", "inbox.tasks.settle_unknown"):
        assert routes[task]["queue"] == django_settings.SCHEDULING_CONTROL_QUEUE
        assert any(entry.task == task for entry in BEAT_ENTRIES)
    assert "inbox.tasks.deliver" not in routes


def test_the_beat_tasks_deliver_reap_and_settle(desk, fake_chat, eager_celery, django_capture_on_commit_callbacks):
    from inbox import tasks

    message = queued(desk)
    Message.objects.filter(pk=message.pk).update(lease_until=None)  # as if its task was never queued
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.deliver_due.delay().get() == 1
    assert reload(message).send_status == S.SENT
    assert tasks.reap_sending.delay().get() == 0
    assert tasks.settle_unknown.delay().get() == {"sent": 0, "queued": 0, "failed": 0, "still_unknown": 0}


def test_a_paid_message_queued_before_a_minor_signal_never_goes(desk, fake_chat, vault):
    from tests.inbox.factories import fan_writes

    conv = conversation(desk.fanvue)
    message = handed_out(services.send(conv, by=desk.chatter, text="for you", assets=[vault.consented],
                                       price_minor=999))
    fan_writes(desk.fanvue, "wait, I'm 16")
    assert delivery.deliver(message.pk) == S.FAILED
    assert "held for compliance" in reload(message).last_error
    assert fake_chat.posts() == []


def test_a_message_the_platform_never_gets_is_given_up_after_its_attempts(desk, fake_chat, settings):
    settings.INBOX_MAX_ATTEMPTS = 2
    message = handed_out(queued(desk))
    for _ in range(2):
        fake_chat.fail_next("POST", r"/chats/.*", Reply(drop=True))
        assert delivery.deliver(message.pk) == S.UNKNOWN
        later = reload(message).next_attempt_at + timedelta(seconds=1)
        counts = delivery.settle_unknown(now=later)
        delivery.claim_due(now=later)
    assert counts["failed"] == 1 and reload(message).send_status == S.FAILED
    assert fake_chat.kept == []


def test_a_term_the_agency_blocked_after_queueing_stops_the_message(desk, fake_chat):
    from compliance.models import BlockedTerm

    message = handed_out(queued(desk, "see you at the beach party"))
    BlockedTerm.objects.create(term="beach party")
    assert delivery.deliver(message.pk) == S.FAILED
    assert "“beach party” is on the agency's blocked list" in reload(message).last_error
    assert fake_chat.posts() == []


def test_a_channel_whose_listing_lags_is_read_back_only_after_it_settled(desk, fake_chat, monkeypatch, settings):
    from tests.inbox.fake_channel import FakeChannel

    monkeypatch.setattr(FakeChannel, "lookup_settle_seconds", 300, raising=False)
    fake_chat.fail_next("POST", r"/chats/.*", Reply(drop=True))
    message = handed_out(queued(desk))
    before = timezone.now()
    assert delivery.deliver(message.pk) == S.UNKNOWN
    assert reload(message).next_attempt_at >= before + timedelta(seconds=300 + settings.CONNECTOR_TIMEOUT_SECONDS)
    request = delivery.build_request(message)
    assert request.options["not_before"] == message.created_at.isoformat()


def test_a_delivered_message_is_told_once_to_the_endpoints_that_ask_for_message_sent(
        desk, fake_chat, eager_celery, django_capture_on_commit_callbacks):
    notifications.create_endpoint(desk.creator, "CRM", "https://crm.example/hooks", ["message.sent"])
    with django_capture_on_commit_callbacks(execute=True):
        message = queued(desk, idempotency_key="k-told")
    assert reload(message).send_status == S.SENT
    [told] = WebhookDelivery.objects.filter(event="message.sent")
    assert told.payload["data"]["message_id"] == message.pk
