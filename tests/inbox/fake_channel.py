"""A chat platform on a local port speaking a tiny JSON protocol, and the channel that talks to it.

The wire: `POST /chats/<fan>/messages` with `{"key", "text", "media": [{"mime", "size"}], "price",
"currency", "template"}` answers `{"id", "sentAt"}` (the platform keeps the message); `GET
/chats/<fan>/messages?key=<key>` answers `{"messages": [...], "complete": true}` — `complete: false` says
the platform could not read back far enough (an undecided lookup). Faults are scripted with
`fail_next` (a 429 with Retry-After, a 401, a timeout after the message was kept, a dropped connection
before it was). The channel maps transport outcomes with `scheduling.connectors.http`, as every real
connector does, so a timeout after sending is `UnknownOutcome` and a 429 a `TransientError` with its wait.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.utils import timezone

from inbox import channels
from inbox.channels.base import AccountRef, SendRequest, SendResult, UnknownOutcome, UpdatePage
from scheduling.connectors import http
from tests.scheduling.fakes.base import FakePlatform, Received, Reply, serve

_ids = itertools.count(1)


class FakeChat(FakePlatform):
    routes = [("POST", r"/chats/(?P<fan>[^/]+)/messages", "post_message"),
              ("GET", r"/chats/(?P<fan>[^/]+)/messages", "list_messages")]

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[dict] = []  # what the platform holds
        self.keep_next_then: Reply | None = None  # keep the next message, then answer this (a timeout)
        self.lookup_complete = True

    def post_message(self, received: Received, match: re.Match) -> Reply:
        body = received.json()
        kept = {"id": f"fake-{next(_ids)}", "fan": match["fan"], "sentAt": timezone.now().isoformat(), **body}
        with self.lock:
            self.kept.append(kept)
            after, self.keep_next_then = self.keep_next_then, None
        if after is not None:
            return after
        return Reply(201, {"id": kept["id"], "sentAt": kept["sentAt"]})

    def list_messages(self, received: Received, match: re.Match) -> Reply:
        key = (received.query.get("key") or [""])[0]
        found = [m for m in self.kept if m["fan"] == match["fan"] and m["key"] == key]
        return Reply(200, {"messages": found, "complete": self.lookup_complete})

    def posts(self) -> list[Received]:
        return self.calls("POST", r"/chats/[^/]+/messages")


class FakeChannel:
    """The channel for whichever platform the test routes to the fake (`channel_for` patched)."""

    url = ""

    def __init__(self, platform: str = "fanvue") -> None:
        self._platform = platform

    @property
    def platform(self) -> str:
        return self._platform

    def send(self, request: SendRequest) -> SendResult:
        with http.client(self.url) as client:
            response = http.send(client, "POST", f"/chats/{request.fan_id}/messages", creates=True, json={
                "key": request.idempotency_key, "text": request.text, "price": request.price_minor,
                "currency": request.currency, "template": request.template_id,
                "media": [{"mime": m.mime, "size": m.size} for m in request.media]})
        body = response.json()
        return SendResult(external_id=body["id"], sent_at=datetime.fromisoformat(body["sentAt"]), raw=body)

    def lookup_sent(self, request: SendRequest) -> SendResult | None:
        with http.client(self.url) as client:
            response = http.send(client, "GET", f"/chats/{request.fan_id}/messages",
                                 params={"key": request.idempotency_key})
        body = response.json()
        if body["messages"]:
            first = body["messages"][0]
            return SendResult(external_id=first["id"], sent_at=datetime.fromisoformat(first["sentAt"]), raw=first)
        if not body["complete"]:
            raise UnknownOutcome("The chat could not be read back far enough to tell.")
        return None

    def fetch_updates(self, account: AccountRef, cursor: str | None) -> UpdatePage:
        return UpdatePage(messages=[], cursor=None)

    def mark_read(self, account: AccountRef, chat_id: str, fan_id: str) -> None:
        return None


@pytest.fixture
def fake_chat(monkeypatch: pytest.MonkeyPatch, settings) -> Iterator[FakeChat]:
    """Every platform's chat goes to one local FakeChat; the client gives up after one second."""
    settings.CONNECTOR_TIMEOUT_SECONDS = 1
    with serve(FakeChat()) as server:
        monkeypatch.setattr(FakeChannel, "url", server.url)
        monkeypatch.setattr(channels, "channel_for", lambda platform: FakeChannel(platform))
        yield server
