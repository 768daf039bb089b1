"""The X DM channel against a local X API v2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from inbox.channels.base import (
    AccountRef,
    AuthError,
    MediaItem,
    PermanentError,
    SendRequest,
    TransientError,
    UnknownOutcome,
)
from inbox.channels.x import XChannel
from tests.inbox.x_fake import FAN_ID, FAN_NAME, OTHER_ID, FakeXDM
from tests.scheduling.fakes.base import Reply, serve
from tests.scheduling.fakes.x import USER_ID


@pytest.fixture
def fake(settings) -> Iterator[FakeXDM]:
    with serve(FakeXDM()) as platform:
        settings.X_API_URL = platform.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        settings.X_UPLOAD_CHUNK_BYTES = 4096
        yield platform


def account(bearer: str = "x-access-1", external_id: str = USER_ID) -> AccountRef:
    return AccountRef(id=9, platform="x", handle="luna_x", external_id=external_id, options={},
                      credentials={"access_token": bearer, "refresh_token": "x-refresh-1"})


def request(text: str = "Thanks for writing!", **options) -> SendRequest:
    return SendRequest(idempotency_key="key-1", account=account(), chat_id="", fan_id=FAN_ID, text=text,
                       options=options)


def test_send_posts_to_the_one_to_one_conversation(fake):
    result = XChannel().send(request())
    call = fake.calls("POST", rf"/2/dm_conversations/with/{FAN_ID}/messages")[0]
    assert call.json() == {"text": "Thanks for writing!"}
    assert call.headers["authorization"] == "Bearer x-access-1"
    assert result.external_id == fake.events[-1]["id"]
    assert result.raw["dm_conversation_id"] == f"{USER_ID}-{FAN_ID}"


def test_an_image_is_uploaded_with_a_dm_category_and_attached(fake, tmp_path: Path):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (120, 90), (10, 20, 30)).save(path, "JPEG")
    item = MediaItem(path=str(path), mime="image/jpeg", size=path.stat().st_size)
    XChannel().send(SendRequest(idempotency_key="k", account=account(), chat_id="", fan_id=FAN_ID, text="for you",
                                media=(item,)))
    (media_id, media), = fake.state["media"].items()
    assert media["category"] == "dm_image" and media["data"] == path.read_bytes()
    assert fake.calls("POST", rf"/2/dm_conversations/with/{FAN_ID}/messages")[0].json()["attachments"] == [
        {"media_id": media_id}]


def test_more_than_one_attachment_or_a_price_is_refused_before_any_call(fake):
    with pytest.raises(PermanentError):
        XChannel().send(SendRequest(idempotency_key="k", account=account(), chat_id="", fan_id=FAN_ID, text="x",
                                    media_ids=("1", "2")))
    with pytest.raises(PermanentError):
        XChannel().send(SendRequest(idempotency_key="k", account=account(), chat_id="", fan_id=FAN_ID, text="x",
                                    price_minor=100, currency="USD"))
    assert not fake.requests


def test_429_is_transient_until_the_window_resets(fake):
    fake.fail_next("POST", r"/2/dm_conversations/with/\d+/messages", fake.rate_limited(seconds=120))
    with pytest.raises(TransientError) as caught:
        XChannel().send(request())
    assert caught.value.status == 429 and 100 <= caught.value.retry_after <= 121
    assert fake.events == []


def test_a_spent_window_is_answered_429_with_x_rate_limit_headers(fake):
    fake.state["remaining"] = 0
    with pytest.raises(TransientError) as caught:
        XChannel().fetch_updates(account(), None)
    assert caught.value.retry_after and caught.value.retry_after > 0


def test_refused_token_is_an_auth_error(fake):
    with pytest.raises(AuthError):
        XChannel().send(SendRequest(idempotency_key="k", account=account("revoked"), chat_id="", fan_id=FAN_ID,
                                    text="hi"))
    with pytest.raises(AuthError):
        XChannel().fetch_updates(account("revoked"), None)


def test_accepted_then_timeout_is_unknown_and_settled_by_lookup(fake):
    fake.fan_writes("hey")
    earlier = fake.creator_writes_elsewhere("See you https://t.co/abc")
    fake.slow_sends = 1
    with pytest.raises(UnknownOutcome):
        XChannel().send(request("See you https://example.com/x"))
    sent = fake.events[-1]

    found = XChannel().lookup_sent(request("See you https://example.com/x", known_ids=[earlier["id"]]))
    assert found is not None and found.external_id == sent["id"]
    assert "pagination_token" not in fake.calls("GET", rf"/2/dm_conversations/with/{FAN_ID}/dm_events")[0].query


def test_lookup_reads_back_to_the_first_attempt_then_says_never_sent(fake, monkeypatch):
    fake.creator_writes_elsewhere("Same words")
    before = fake.clock + timedelta(milliseconds=500)
    fake.fan_writes("hello?")
    assert XChannel().lookup_sent(request("Same words", not_before=before.isoformat())) is None
    monkeypatch.setattr("inbox.channels.x.LOOKUP_PAGES", 1)
    for n in range(100):
        fake.fan_writes(f"m{n}")
    with pytest.raises(UnknownOutcome):
        XChannel().lookup_sent(request("never sent"))


def test_first_poll_takes_the_newest_events_oldest_first(fake):
    fake.fan_writes("hi Luna")
    fake.creator_writes_elsewhere("hi back")
    fake.fan_writes("hello from two", fan=OTHER_ID)
    fake.someone_joins_a_group()
    page = XChannel().fetch_updates(account(), None)

    assert [(m.text, m.direction, m.fan_id) for m in page.messages] == [
        ("hi Luna", "in", FAN_ID), ("hi back", "out", FAN_ID), ("hello from two", "in", OTHER_ID)]
    assert page.messages[0].fan_handle == FAN_NAME and page.messages[0].chat_id == f"{USER_ID}-{FAN_ID}"
    assert page.cursor == fake.events[2]["id"]
    query = fake.calls("GET", r"/2/dm_events")[0].query
    assert query["event_types"] == ["MessageCreate"] and "sender_id" in query["expansions"][0]


def test_newest_first_pages_become_oldest_first_since_the_last_seen_event(fake, monkeypatch):
    monkeypatch.setattr("inbox.channels.x.PAGE_SIZE", 2)
    monkeypatch.setattr("inbox.channels.x.PAGES_PER_POLL", 3)
    fake.fan_writes("before")
    cursor = XChannel().fetch_updates(account(), None).cursor
    for n in range(5):
        fake.fan_writes(f"new {n}")

    page = XChannel().fetch_updates(account(), cursor)
    assert [m.text for m in page.messages] == [f"new {n}" for n in range(5)]
    assert page.cursor == fake.events[-1]["id"]
    again = XChannel().fetch_updates(account(), page.cursor)
    assert again.messages == [] and again.cursor == page.cursor


def test_a_burst_larger_than_one_poll_is_finished_by_the_next_polls(fake, monkeypatch):
    monkeypatch.setattr("inbox.channels.x.PAGE_SIZE", 2)
    monkeypatch.setattr("inbox.channels.x.PAGES_PER_POLL", 2)
    fake.fan_writes("before")
    cursor = XChannel().fetch_updates(account(), None).cursor
    for n in range(9):
        fake.fan_writes(f"burst {n}")

    seen: list[str] = []
    first = XChannel().fetch_updates(account(), cursor)
    seen += [m.text for m in first.messages]
    assert seen == ["burst 5", "burst 6", "burst 7", "burst 8"]
    assert json.loads(first.cursor)["since"] == cursor  # not past the gap yet
    fake.fan_writes("during the burst")
    second = XChannel().fetch_updates(account(), first.cursor)
    third = XChannel().fetch_updates(account(), second.cursor)
    seen += [m.text for m in second.messages + third.messages]
    assert sorted(seen) == sorted([f"burst {n}" for n in range(9)])
    assert third.cursor == fake.events[-2]["id"]  # the burst's head: "during the burst" is next
    fourth = XChannel().fetch_updates(account(), third.cursor)
    assert [m.text for m in fourth.messages] == ["during the burst"]


def test_a_refused_pagination_token_reads_again_from_the_top(fake, monkeypatch):
    monkeypatch.setattr("inbox.channels.x.PAGE_SIZE", 2)
    monkeypatch.setattr("inbox.channels.x.PAGES_PER_POLL", 1)
    fake.fan_writes("before")
    cursor = XChannel().fetch_updates(account(), None).cursor
    for n in range(3):
        fake.fan_writes(f"new {n}")
    first = XChannel().fetch_updates(account(), cursor)
    stale = json.dumps({**json.loads(first.cursor), "next": "expired-token"})
    fake.fail_next("GET", r"/2/dm_events", Reply(400, {"title": "Invalid Request", "status": 400,
                                                       "detail": "The `pagination_token` query parameter value is "
                                                                 "invalid"}))
    monkeypatch.setattr("inbox.channels.x.PAGES_PER_POLL", 5)
    page = XChannel().fetch_updates(account(), stale)
    assert [m.text for m in page.messages] == ["new 0", "new 1", "new 2"]
    assert page.cursor == fake.events[-1]["id"]


def test_the_user_id_is_asked_when_not_stored(fake):
    fake.creator_writes_elsewhere("hello")
    page = XChannel().fetch_updates(account(external_id=""), None)
    assert page.messages[0].direction == "out"
    assert fake.calls("GET", r"/2/users/me")


def test_mark_read_makes_no_call(fake):
    XChannel().mark_read(account(), f"{USER_ID}-{FAN_ID}", FAN_ID)
    assert fake.requests == []
