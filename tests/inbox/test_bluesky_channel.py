"""The Bluesky chat channel against a local PDS that proxies `chat.bsky.convo.*`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from inbox.channels import bluesky as bluesky_channel
from inbox.channels.base import AccountRef, AuthError, PermanentError, SendRequest, TransientError, UnknownOutcome
from inbox.channels.bluesky import BlueskyChannel
from scheduling.connectors import bluesky as bluesky_module
from tests.inbox.bluesky_fake import FAN_DID, FAN_HANDLE, OTHER_DID, PROXY, FakeBlueskyChat
from tests.scheduling.fakes.base import Reply, serve


@pytest.fixture
def fake(settings) -> Iterator[FakeBlueskyChat]:
    bluesky_module._sessions.clear()
    bluesky_channel._FANS.clear()
    with serve(FakeBlueskyChat()) as platform:
        settings.BLUESKY_PDS_URL = platform.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        yield platform
    bluesky_module._sessions.clear()
    bluesky_channel._FANS.clear()


def account(password: str = FakeBlueskyChat.PASSWORD) -> AccountRef:
    return AccountRef(id=7, platform="bluesky", handle=FakeBlueskyChat.HANDLE, external_id=FakeBlueskyChat.DID,
                      options={}, credentials={"identifier": FakeBlueskyChat.HANDLE, "app_password": password})


def request(text: str = "Thank you 💙", *, chat_id: str = "", key: str = "msg-key-1", **options) -> SendRequest:
    return SendRequest(idempotency_key=key, account=account(), chat_id=chat_id, fan_id=FAN_DID, text=text,
                       options=options)


def test_send_finds_the_convo_and_every_chat_call_carries_the_proxy_header(fake):
    fake.fan_writes("hello Luna")
    result = BlueskyChannel().send(request("Hi! See https://example.com/set"))

    sent = fake.calls("POST", r"/xrpc/chat\.bsky\.convo\.sendMessage")[0].json()
    convo = fake.convo_with(FAN_DID)
    assert sent["convoId"] == convo["id"]
    assert sent["message"]["text"] == "Hi! See https://example.com/set"
    assert sent["message"]["facets"][0]["features"][0]["uri"] == "https://example.com/set"
    assert result.external_id == convo["messages"][-1]["id"] and result.sent_at is not None
    assert fake.calls("GET", r"/xrpc/chat\.bsky\.convo\.getConvoForMembers")[0].query["members"] == [FAN_DID]
    assert fake.chat_calls() and all(r.headers.get("atproto-proxy") == PROXY for r in fake.chat_calls())
    # Session calls are the PDS's own: not proxied.
    assert "atproto-proxy" not in fake.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")[0].headers


def test_a_known_convo_is_written_to_directly(fake):
    convo = fake.convo_with(FAN_DID)
    BlueskyChannel().send(request(chat_id=convo["id"]))
    assert not fake.calls("GET", r"/xrpc/chat\.bsky\.convo\.getConvoForMembers")


def test_429_is_transient_with_the_reset_as_retry_after(fake):
    fake.convo_with(FAN_DID)
    fake.fail_next("POST", r"/xrpc/chat\.bsky\.convo\.sendMessage", fake.rate_limited(seconds=40))
    with pytest.raises(TransientError) as caught:
        BlueskyChannel().send(request())
    assert caught.value.status == 429 and 30 <= caught.value.retry_after <= 41
    assert fake.convo_with(FAN_DID)["messages"] == []


def test_refused_password_is_an_auth_error(fake):
    with pytest.raises(AuthError):
        BlueskyChannel().send(SendRequest(idempotency_key="k", account=account("wrong"), chat_id="",
                                          fan_id=FAN_DID, text="hi"))


def test_an_expired_session_is_refreshed_and_the_call_repeated(fake):
    fake.fan_writes("hello")
    BlueskyChannel().send(request("first"))
    fake.expire_access_tokens()
    BlueskyChannel().send(request("second", key="k2"))
    assert [m["text"] for m in fake.convo_with(FAN_DID)["messages"]] == ["hello", "first", "second"]
    assert fake.calls("POST", r"/xrpc/com\.atproto\.server\.refreshSession")


def test_media_and_prices_are_refused_before_any_call(fake):
    with pytest.raises(PermanentError):
        BlueskyChannel().send(SendRequest(idempotency_key="k", account=account(), chat_id="", fan_id=FAN_DID,
                                          text="pay", price_minor=500, currency="USD"))
    assert not fake.requests


def test_accepted_then_timeout_is_unknown_and_settled_by_lookup(fake):
    fake.fan_writes("hello")
    fake.creator_writes_elsewhere("Same words")  # an older message of ours with the same text…
    earlier = fake.convo_with(FAN_DID)["messages"][-1]["id"]
    fake.slow_sends = 1
    with pytest.raises(UnknownOutcome):
        BlueskyChannel().send(request("Same words"))
    stored = fake.convo_with(FAN_DID)["messages"][-1]

    found = BlueskyChannel().lookup_sent(request("Same words", known_ids=[earlier]))
    assert found is not None and found.external_id == stored["id"]
    # …so without knowing which ids are ours already, the newest match is taken.
    assert BlueskyChannel().lookup_sent(request("Same words")).external_id == stored["id"]


def test_lookup_says_never_sent_once_it_read_back_past_the_first_attempt(fake):
    fake.fan_writes("hello")
    fake.creator_writes_elsewhere("Same words")
    before = fake.clock + timedelta(milliseconds=500)
    fake.fan_writes("still there?")
    assert BlueskyChannel().lookup_sent(request("Same words", not_before=before.isoformat())) is None
    assert BlueskyChannel().lookup_sent(request("Other words")) is None


def test_lookup_that_cannot_read_far_enough_is_undecided(fake, monkeypatch):
    monkeypatch.setattr("inbox.channels.bluesky.LOOKUP_PAGES", 1)
    for n in range(101):
        fake.fan_writes(f"message {n}")
    with pytest.raises(UnknownOutcome):
        BlueskyChannel().lookup_sent(request("never sent"))


def test_first_poll_starts_at_the_log_head_and_brings_in_recent_history(fake):
    fake.fan_writes("older hello")
    fake.creator_writes_elsewhere("older answer")
    page = BlueskyChannel().fetch_updates(account(), None)

    assert [(m.text, m.direction) for m in page.messages] == [("older hello", "in"), ("older answer", "out")]
    assert {m.fan_id for m in page.messages} == {FAN_DID}
    assert page.messages[0].fan_handle == FAN_HANDLE
    assert page.cursor == max(log["rev"] for log in fake.logs)
    assert BlueskyChannel().fetch_updates(account(), page.cursor).messages == []


def test_log_pages_are_read_completely_and_in_order(fake):
    cursor = BlueskyChannel().fetch_updates(account(), None).cursor
    fake.log_page = 2
    fake.fan_writes("one")
    fake.fan_writes("first from the other fan", did=OTHER_DID)
    fake.creator_writes_elsewhere("two (from the app)")
    fake.someone_reads()
    fake.fan_writes("three")

    page = BlueskyChannel().fetch_updates(account(), cursor)
    assert [(m.text, m.direction, m.fan_id) for m in page.messages] == [
        ("one", "in", FAN_DID), ("first from the other fan", "in", OTHER_DID),
        ("two (from the app)", "out", FAN_DID), ("three", "in", FAN_DID)]
    assert page.cursor == max(log["rev"] for log in fake.logs)
    assert len(fake.calls("GET", r"/xrpc/chat\.bsky\.convo\.getLog")) >= 5  # pages of two


def test_a_replayed_log_page_yields_nothing_already_past_the_cursor(fake):
    cursor = BlueskyChannel().fetch_updates(account(), None).cursor
    fake.fan_writes("one")
    page = BlueskyChannel().fetch_updates(account(), cursor)
    # The service hands the old page again (a retried request, a cache): nothing after the new cursor.
    fake.fail_next("GET", r"/xrpc/chat\.bsky\.convo\.getLog",
                   Reply(200, {"logs": fake.logs, "cursor": page.cursor}))
    again = BlueskyChannel().fetch_updates(account(), page.cursor)
    assert again.messages == [] and again.cursor == page.cursor


def test_mark_read_updates_the_convo(fake):
    fake.fan_writes("hello")
    convo = fake.convo_with(FAN_DID)
    BlueskyChannel().mark_read(account(), convo["id"], FAN_DID)
    assert fake.read_up_to[convo["id"]] == convo["messages"][-1]["id"]
    assert fake.calls("POST", r"/xrpc/chat\.bsky\.convo\.updateRead")[0].headers["atproto-proxy"] == PROXY


def test_group_convos_are_not_fan_conversations_and_a_convo_is_looked_up_once(fake):
    cursor = BlueskyChannel().fetch_updates(account(), None).cursor
    fake.group_message("hi all")
    fake.fan_writes("just me")
    fake.fan_writes("me again")
    page = BlueskyChannel().fetch_updates(account(), cursor)
    assert [m.text for m in page.messages] == ["just me", "me again"]
    assert len(fake.calls("GET", r"/xrpc/chat\.bsky\.convo\.getConvo")) == 2  # the group's and the fan's
    fake.fan_writes("third")
    BlueskyChannel().fetch_updates(account(), page.cursor)
    assert len(fake.calls("GET", r"/xrpc/chat\.bsky\.convo\.getConvo")) == 2
