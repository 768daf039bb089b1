"""Polling Bluesky and X chats into the inbox: each message recorded once and in order, cursors kept per
account, turns claimed within each platform's rate budget, 429s and refused credentials honoured."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from config.celery import app as celery_app
from core import beat, platforms
from inbox import polling, services
from inbox.channels import bluesky as bluesky_channel
from inbox.channels import channel_for
from inbox.channels.base import SendRequest
from inbox.models import ChannelCursor, Conversation, Message
from scheduling.connectors import bluesky as bluesky_module
from scheduling.models import PlatformAccount
from scheduling.services import account_ref, store_credentials
from tests.inbox.bluesky_fake import FAN_DID, FAN_HANDLE, OTHER_DID, FakeBlueskyChat
from tests.inbox.x_fake import FakeXDM
from tests.scheduling.factories import PlatformAccountFactory
from tests.scheduling.fakes.base import serve
from tests.scheduling.fakes.x import USER_ID


@dataclass(frozen=True)
class Polled:
    bluesky: PlatformAccount
    x: PlatformAccount
    bsky: FakeBlueskyChat
    xapi: FakeXDM


@pytest.fixture
def polled(desk, settings) -> Iterator[Polled]:
    bluesky_module._sessions.clear()
    bluesky_channel._FANS.clear()
    with serve(FakeBlueskyChat()) as bsky, serve(FakeXDM()) as xapi:
        settings.BLUESKY_PDS_URL = bsky.url
        settings.X_API_URL = xapi.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        bluesky = PlatformAccountFactory(creator=desk.creator, platform="bluesky", handle=bsky.HANDLE,
                                         external_id=bsky.DID)
        store_credentials(bluesky, {"identifier": bsky.HANDLE, "app_password": bsky.PASSWORD})
        x = PlatformAccountFactory(creator=desk.creator, platform="x", handle="luna_x", external_id=USER_ID,
                                   scopes="tweet.read tweet.write users.read offline.access dm.read dm.write")
        store_credentials(x, {"access_token": "x-access-1", "refresh_token": "x-refresh-1"})
        yield Polled(bluesky=bluesky, x=x, bsky=bsky, xapi=xapi)
    bluesky_module._sessions.clear()
    bluesky_channel._FANS.clear()


def thread(account: PlatformAccount) -> list[tuple[str, str]]:
    return list(Message.objects.filter(account=account).order_by("sent_at", "pk").values_list("direction", "text"))


def test_bluesky_history_then_new_messages_are_recorded_once_in_order(polled):
    polled.bsky.fan_writes("hello from before")
    polled.bsky.creator_writes_elsewhere("answered on my phone")
    assert polling.poll_account(polled.bluesky.pk) == 2

    polled.bsky.fan_writes("are you there?")
    polled.bsky.fan_writes("hi!", did=OTHER_DID)
    polled.bsky.fan_writes("hello??")
    assert polling.poll_account(polled.bluesky.pk) == 3
    assert polling.poll_account(polled.bluesky.pk) == 0

    conversation = Conversation.objects.get(account=polled.bluesky, fan__external_id=FAN_DID)
    assert conversation.external_id == polled.bsky.convo_with(FAN_DID)["id"]
    assert conversation.fan.handle == FAN_HANDLE
    assert conversation.unread_count == 3  # the creator's own answer is not unread
    assert thread(polled.bluesky) == [("in", "hello from before"), ("out", "answered on my phone"),
                                      ("in", "are you there?"), ("in", "hi!"), ("in", "hello??")]
    assert Message.objects.get(text="answered on my phone").origin == Message.Origin.MANUAL
    cursor = ChannelCursor.objects.get(account=polled.bluesky)
    assert cursor.cursor == max(log["rev"] for log in polled.bsky.logs) and cursor.polled_at is not None
    assert all(r.headers.get("atproto-proxy") for r in polled.bsky.chat_calls())


def test_a_page_read_again_records_nothing_twice(polled):
    polling.poll_account(polled.bluesky.pk)
    start = ChannelCursor.objects.get(account=polled.bluesky).cursor
    polled.bsky.log_page = 2
    for n in range(5):
        polled.bsky.fan_writes(f"m{n}")
    assert polling.poll_account(polled.bluesky.pk) == 5
    ChannelCursor.objects.filter(account=polled.bluesky).update(cursor=start)  # as if the cursor were lost

    assert polling.poll_account(polled.bluesky.pk) == 0
    assert [t for _, t in thread(polled.bluesky)] == [f"m{n}" for n in range(5)]


def test_a_failure_while_recording_leaves_the_cursor_and_the_next_poll_completes(polled, monkeypatch):
    polling.poll_account(polled.x.pk)
    for n in range(4):
        polled.xapi.fan_writes(f"dm {n}")
    start = ChannelCursor.objects.get(account=polled.x).cursor
    real = services.receive
    calls = []

    def flaky(account, message):
        calls.append(message.external_id)
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return real(account, message)

    monkeypatch.setattr(services, "receive", flaky)
    with pytest.raises(RuntimeError):
        polling.poll_account(polled.x.pk)
    assert ChannelCursor.objects.get(account=polled.x).cursor == start
    monkeypatch.setattr(services, "receive", real)

    assert polling.poll_account(polled.x.pk) == 2
    assert [t for _, t in thread(polled.x)] == [f"dm {n}" for n in range(4)]


def test_x_pagination_is_complete_and_ordered_across_polls(polled, monkeypatch):
    monkeypatch.setattr("inbox.channels.x.PAGE_SIZE", 3)
    polled.xapi.fan_writes("old")
    polling.poll_account(polled.x.pk)
    for n in range(14):
        if n % 5 == 4:
            polled.xapi.creator_writes_elsewhere(f"reply {n}")
        else:
            polled.xapi.fan_writes(f"dm {n}")
    total = 0
    for _ in range(4):
        total += polling.poll_account(polled.x.pk)
    assert total == 14
    expected = [("in", "old")] + [("out", f"reply {n}") if n % 5 == 4 else ("in", f"dm {n}") for n in range(14)]
    assert thread(polled.x) == expected
    assert ChannelCursor.objects.get(account=polled.x).cursor == polled.xapi.events[-1]["id"]


def test_a_message_atelier_sent_is_not_recorded_again_from_the_log(polled):
    polled.bsky.fan_writes("hi")
    polling.poll_account(polled.bluesky.pk)
    conversation = Conversation.objects.get(account=polled.bluesky)
    channel = channel_for("bluesky")
    result = channel.send(SendRequest(idempotency_key="k1", account=account_ref(polled.bluesky, purpose="test"),
                                      chat_id=conversation.external_id, fan_id=FAN_DID, text="Hi back!"))
    # What delivery stores once the platform answered.
    Message.objects.create(creator=polled.bluesky.creator, conversation=conversation, account=polled.bluesky,
                           direction=Message.Direction.OUT, text="Hi back!", origin=Message.Origin.MANUAL,
                           send_status=Message.SendStatus.SENT, external_id=result.external_id,
                           sent_at=result.sent_at)
    assert polling.poll_account(polled.bluesky.pk) == 0
    assert thread(polled.bluesky) == [("in", "hi"), ("out", "Hi back!")]


def test_a_429_pushes_the_next_turn_past_the_reset(polled):
    polling.poll_account(polled.x.pk)
    polled.xapi.fan_writes("waiting")
    polled.xapi.fail_next("GET", r"/2/dm_events", polled.xapi.rate_limited(seconds=300))
    start = ChannelCursor.objects.get(account=polled.x).cursor
    before = timezone.now()

    assert polling.poll_account(polled.x.pk) == 0
    row = ChannelCursor.objects.get(account=polled.x)
    assert row.cursor == start and row.failures == 1 and "429" in row.last_error
    assert row.next_poll_at >= before + timedelta(seconds=290)
    assert polled.x.pk not in polling.claim_due_accounts(before + timedelta(seconds=200))
    assert polled.x.pk in polling.claim_due_accounts(before + timedelta(seconds=310))
    assert polling.poll_account(polled.x.pk) == 1
    assert ChannelCursor.objects.get(account=polled.x).failures == 0


def test_refused_credentials_mark_the_account_and_stop_its_polling(polled):
    store_credentials(polled.x, {"access_token": "revoked"})
    assert polling.poll_account(polled.x.pk) == 0
    polled.x.refresh_from_db()
    assert polled.x.state == PlatformAccount.State.NEEDS_REAUTH
    assert polled.x.pk not in polling.claim_due_accounts(timezone.now() + timedelta(days=1))


def test_an_account_disconnected_after_its_turn_was_claimed_is_left_alone(polled, desk):
    PlatformAccount.objects.filter(pk=polled.x.pk).update(state=PlatformAccount.State.DISABLED)
    polled.xapi.fan_writes("hello")
    assert polling.poll_account(polled.x.pk) == 0
    assert polling.poll_account(desk.fanvue.pk) == 0  # webhooks bring Fanvue's messages
    assert polled.xapi.requests == [] and not Message.objects.exists()


def test_only_connected_polled_accounts_are_claimed_once_per_turn(polled, desk):
    now = timezone.now()
    claimed = polling.claim_due_accounts(now)
    assert sorted(claimed) == sorted([polled.bluesky.pk, polled.x.pk])  # not Fanvue, not Telegram (webhooks)
    assert polling.claim_due_accounts(now) == []
    assert polling.claim_due_accounts(now + timedelta(seconds=30)) == []
    assert sorted(polling.claim_due_accounts(now + timedelta(seconds=60))) == sorted(claimed)


@pytest.mark.parametrize("platform", ["x", "bluesky"])
def test_polling_stays_within_its_share_of_the_chat_rate_budget(platform):
    policy = platforms.get(platform).chat
    interval = polling.poll_interval(platform)
    per_poll = channel_for(platform).max_requests_per_poll
    # The shortest gap between two polls is the interval less the beat's tolerance.
    polls_per_window = policy.rate.window_seconds / (interval - polling.TOLERANCE_SECONDS)
    assert polls_per_window * per_poll <= policy.rate.requests * polling.POLL_SHARE
    assert interval == polling.BEAT_SECONDS  # and still every minute
    assert polling.polled_platforms() == ["x", "bluesky"]


def test_the_beat_queues_one_poll_per_due_account_on_the_control_queue(polled, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(polling.poll_account_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert polling.poll_chat_accounts() == 2
    assert sorted(queued) == sorted([polled.bluesky.pk, polled.x.pk])
    entry = next(e for e in beat.BEAT_ENTRIES if e.task == "inbox.polling.poll_chat_accounts")
    assert entry.every_seconds == polling.BEAT_SECONDS
    route = celery_app.amqp.router.route({}, "inbox.polling.poll_chat_accounts")
    assert route["queue"].name == django_settings.SCHEDULING_CONTROL_QUEUE


def test_an_x_account_connected_without_dm_access_is_not_polled_nor_flagged(polled):
    PlatformAccount.objects.filter(pk=polled.x.pk).update(scopes="tweet.read tweet.write users.read offline.access")
    assert polled.x.pk not in polling.claim_due_accounts()
    assert polling.poll_account(polled.x.pk) == 0
    polled.x.refresh_from_db()
    assert polled.x.state == PlatformAccount.State.CONNECTED
    assert polled.xapi.requests == [] or all("dm_events" not in r.path for r in polled.xapi.requests)
