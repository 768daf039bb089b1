"""A local X API v2 for direct messages: the publishing fake's bearer checks, media upload and token endpoint,
plus DM events listed newest first with `meta.next_token` (a token names the last event handed out, so events
arriving meanwhile do not shift the pages), one-to-one sends, 200 requests per 15 minutes with
`x-rate-limit-*` headers and a 429 when spent, and X's problem-JSON errors."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.scheduling.fakes.base import Received, Reply
from tests.scheduling.fakes.x import USER_ID, FakeX, problem

FAN_ID, FAN_NAME = "1500000000000000001", "fan_one"
OTHER_ID, OTHER_NAME = "1500000000000000002", "fan_two"
FIELDS = {"id", "event_type", "text", "sender_id", "dm_conversation_id", "created_at", "attachments",
          "participant_ids", "referenced_tweets"}


def conversation_id(a: str, b: str) -> str:
    return "-".join(sorted((a, b), key=int))


class FakeXDM(FakeX):
    routes = [
        *FakeX.routes,
        ("GET", r"/2/dm_events", "dm_events"),
        ("GET", r"/2/dm_conversations/with/(?P<participant>\d+)/dm_events", "conversation_events"),
        ("POST", r"/2/dm_conversations/with/(?P<participant>\d+)/messages", "send_dm"),
    ]
    LIMIT = 200

    def __init__(self) -> None:
        super().__init__()
        self.state["remaining"] = self.LIMIT
        self.events: list[dict[str, Any]] = []
        self.event_ids = itertools.count(1_800_000_000_000_000_001)
        self.users = {USER_ID: {"id": USER_ID, "name": "Luna", "username": "luna_x"},
                      FAN_ID: {"id": FAN_ID, "name": "Fan One", "username": FAN_NAME},
                      OTHER_ID: {"id": OTHER_ID, "name": "Fan Two", "username": OTHER_NAME}}
        self.clock = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self.slow_sends = 0
        self.slow_seconds = 2.0

    # --- what the world does ----------------------------------------------------------------------------

    def write(self, sender: str, to: str, text: str) -> dict[str, Any]:
        self.clock += timedelta(seconds=1)
        event = {"id": str(next(self.event_ids)), "event_type": "MessageCreate", "text": text, "sender_id": sender,
                 "dm_conversation_id": conversation_id(sender, to),
                 "created_at": self.clock.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        self.events.append(event)
        return event

    def fan_writes(self, text: str, fan: str = FAN_ID) -> dict[str, Any]:
        return self.write(fan, USER_ID, text)

    def creator_writes_elsewhere(self, text: str, fan: str = FAN_ID) -> dict[str, Any]:
        return self.write(USER_ID, fan, text)

    def someone_joins_a_group(self) -> None:
        self.clock += timedelta(seconds=1)
        self.events.append({"id": str(next(self.event_ids)), "event_type": "ParticipantsJoin",
                            "dm_conversation_id": "1582838223455342592", "participant_ids": [OTHER_ID],
                            "created_at": self.clock.strftime("%Y-%m-%dT%H:%M:%S.000Z")})

    def rate_limited(self, seconds: int = 60) -> Reply:
        return Reply(429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                           "status": 429},
                     headers={"x-rate-limit-limit": str(self.LIMIT), "x-rate-limit-remaining": "0",
                              "x-rate-limit-reset": str(int(time.time()) + seconds)})

    # --- the wire -------------------------------------------------------------------------------------

    def dispatch(self, received: Received) -> Reply:
        if self.state["remaining"] <= 0 and received.path.startswith("/2/dm_"):
            with self.lock:
                self.requests.append(received)
            return self.rate_limited()
        reply = super().dispatch(received)
        return replace(reply, headers={**reply.headers, "x-rate-limit-limit": str(self.LIMIT),
                                       "x-rate-limit-remaining": str(self.state["remaining"])}
                       if reply.status != 429 else reply.headers)

    def _listing(self, received: Received, events: list[dict[str, Any]]) -> Reply:
        q = {k: v[0] for k, v in received.query.items()}
        size = int(q.get("max_results", "100"))
        if not 1 <= size <= 100:
            return problem(400, "Invalid Request", "The `max_results` query parameter value is not between 1 and 100")
        fields = set((q.get("dm_event.fields") or "id,text,event_type").split(","))
        if not fields <= FIELDS:
            return problem(400, "Invalid Request", f"Unknown dm_event.fields: {sorted(fields - FIELDS)}")
        kinds = set(q.get("event_types", "MessageCreate,ParticipantsJoin,ParticipantsLeave").split(","))
        newest_first = sorted((e for e in events if e["event_type"] in kinds), key=lambda e: int(e["id"]),
                              reverse=True)
        token = q.get("pagination_token")
        if token is not None:
            if not re.fullmatch(r"next_\d+", token):
                return problem(400, "Invalid Request", "The `pagination_token` query parameter value is invalid")
            newest_first = [e for e in newest_first if int(e["id"]) < int(token[5:])]
        page = newest_first[:size]
        data = [{k: v for k, v in e.items() if k in fields | {"id", "event_type"}} for e in page]
        body: dict[str, Any] = {"meta": {"result_count": len(data)}}
        if data:
            body["data"] = data
        if len(newest_first) > size:
            body["meta"]["next_token"] = f"next_{page[-1]['id']}"
        if "sender_id" in q.get("expansions", "") and data:
            senders = {e.get("sender_id") for e in page if e.get("sender_id")}
            body["includes"] = {"users": [self.users[s] for s in sorted(senders)]}
        return Reply(200, body)

    def dm_events(self, received: Received, match: re.Match) -> Reply:
        return self._listing(received, self.events)

    def conversation_events(self, received: Received, match: re.Match) -> Reply:
        wanted = conversation_id(USER_ID, match["participant"])
        return self._listing(received, [e for e in self.events if e.get("dm_conversation_id") == wanted])

    def send_dm(self, received: Received, match: re.Match) -> Reply:
        body = received.json()
        attachments = body.get("attachments") or []
        if not body.get("text") and not attachments:
            return problem(400, "Invalid Request", "One of text or attachments is required")
        if len(attachments) > 1:
            return problem(400, "Invalid Request", "Only one attachment is supported")
        for item in attachments:
            if self.state["media"].get(item.get("media_id"), {}).get("state") != "succeeded":
                return problem(400, "Invalid Request", "Your media IDs are invalid.")
        if match["participant"] not in self.users:
            return problem(403, "Forbidden", "You cannot send messages to this user.")
        event = self.write(USER_ID, match["participant"], body.get("text", ""))
        if attachments:
            event["attachments"] = {"media_keys": [f"3_{attachments[0]['media_id']}"]}
        answer = Reply(201, {"data": {"dm_conversation_id": event["dm_conversation_id"], "dm_event_id": event["id"]}})
        if self.slow_sends:
            self.slow_sends -= 1
            return replace(answer, delay=self.slow_seconds)
        return answer
