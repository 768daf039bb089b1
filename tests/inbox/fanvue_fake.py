"""A local Fanvue speaking the chat API's wire format, on top of the publishing fake (bearer token, version
header, media upload sessions, OAuth).

What it adds: chats and their messages for the token's own user and for the creators an agency token may act
for (`/creators/{uuid}/…`); `GET /chats` with `filter` (unread, not_answered), `sortBy`, `page`/`size` and
`pagination.hasMore`; `POST /chats/messages/batch`; `GET …/messages` with `markAsRead` (true by default, as
documented); `PATCH …/chats/{uuid}` `{isRead}`; the send with Fanvue's body rules (text 1–5000, price ≥ 300
cents, media it holds). Rate limits as documented: 200 requests per 60 s, one bucket for the user and one
per creator, `X-RateLimit-Limit/-Remaining/-Reset` (a Unix time) on every answer and a 429 with
`Retry-After` once a bucket is spent. Faults: `stall_sends` (the message is stored, then the answer never
comes in time) and `refused_url()` (nothing listens: the request never leaves).
"""

from __future__ import annotations

import itertools
import re
import socket
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.scheduling.fakes.base import FakePlatform, Received, Reply
from tests.scheduling.fakes.fanvue import API_VERSION, FakeFanvue

SELF_UUID = "0a1b2c3d-0000-4000-8000-000000000001"  # the token's own user (a creator using her own token)
AGENCY_CREATOR = "5b1f0a3e-8c2d-4e6f-9a7b-0c1d2e3f4a5b"  # a creator the agency token acts for
CREATOR = r"(?:/creators/(?P<creator>[0-9a-f-]{36}))?"
FAN = r"(?P<fan>[0-9a-f-]{36})"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeFanvueChats(FakeFanvue):
    routes = [
        ("GET", CREATOR + r"/chats", "list_chats"),
        ("POST", r"/chats/messages/batch", "batch_messages"),
        ("GET", CREATOR + r"/chats/" + FAN + r"/messages", "list_messages"),
        ("POST", CREATOR + r"/chats/" + FAN + r"/message", "send_message"),
        ("PATCH", CREATOR + r"/chats/" + FAN, "update_chat"),
        *FakeFanvue.routes,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state.update(chats={}, buckets={}, limit=200, vault=set(), stall_sends=0.0, creators={AGENCY_CREATOR})
        self.clock = itertools.count(1)

    # --- the gatekeeping every API call goes through ------------------------------------------

    def dispatch(self, received: Received) -> Reply:
        if received.path.startswith("/s3/") or received.path.startswith("/oauth2/"):
            return FakePlatform.dispatch(self, received)
        auth = received.headers.get("authorization", "")
        if received.headers.get("x-fanvue-api-version") != API_VERSION:
            self._log(received)
            return Reply(400, {"error": "Bad Request", "message": "Missing or unsupported X-Fanvue-API-Version"})
        if not auth.startswith("Bearer ") or auth[7:] not in self.state["access"]:
            self._log(received)
            return Reply(401, {"error": "Unauthorized", "message": "Invalid or expired access token"})
        match = re.match(r"/creators/([0-9a-f-]{36})/", received.path)
        bucket = f"creator:{match[1]}" if match else "user"
        with self.lock:
            window = self.state["buckets"].setdefault(bucket, {"left": self.state["limit"],
                                                               "reset": int(time.time()) + 60})
            if window["reset"] <= time.time():
                window.update(left=self.state["limit"], reset=int(time.time()) + 60)
            spent = window["left"] <= 0
            if not spent:
                window["left"] -= 1
            headers = {"X-RateLimit-Limit": str(self.state["limit"]), "X-RateLimit-Remaining": str(window["left"]),
                       "X-RateLimit-Reset": str(window["reset"])}
        if spent:
            self._log(received)
            wait = max(1, window["reset"] - int(time.time()))
            return Reply(429, {"error": "Too Many Requests", "message": "Rate limit exceeded"},
                         headers={**headers, "Retry-After": str(wait)})
        reply = FakePlatform.dispatch(self, received)
        return replace(reply, headers={**headers, **reply.headers})

    def _log(self, received: Received) -> None:
        with self.lock:
            self.requests.append(received)

    def spend(self, bucket: str = "user", left: int = 0, reset_in: int = 37) -> None:
        """Use up a bucket: `user` or `creator:<uuid>`."""
        self.state["buckets"][bucket] = {"left": left, "reset": int(time.time()) + reset_in}

    # --- the world the tests arrange -----------------------------------------------------------

    def _owner(self, m: re.Match) -> str | None:
        creator = m["creator"]
        if creator is None:
            return SELF_UUID
        return creator if creator in self.state["creators"] else None

    def chat(self, fan: str, *, owner: str = SELF_UUID, handle: str = "", name: str = "") -> dict[str, Any]:
        key = (owner, fan)
        if key not in self.state["chats"]:
            self.state["chats"][key] = {"fan": {"uuid": fan, "handle": handle or f"fan-{fan[:4]}",
                                                "displayName": name or f"Fan {fan[:4]}"},
                                        "messages": [], "muted": False}
        return self.state["chats"][key]

    def _at(self, at: datetime | None) -> datetime:
        # Distinct, increasing times even within one test's millisecond.
        return at or datetime.now(UTC) - timedelta(seconds=30) + timedelta(milliseconds=next(self.clock))

    def fan_writes(self, fan: str, text: str, *, owner: str = SELF_UUID, at: datetime | None = None,
                   handle: str = "", **fields: Any) -> dict[str, Any]:
        chat = self.chat(fan, owner=owner, handle=handle)
        message = self._message(chat, owner, sender=chat["fan"], recipient={"uuid": owner, "handle": "luna"},
                                text=text, at=at, **fields)
        return message

    def creator_writes(self, fan: str, text: str | None, *, owner: str = SELF_UUID, at: datetime | None = None,
                       kind: str = "SINGLE_RECIPIENT", **fields: Any) -> dict[str, Any]:
        chat = self.chat(fan, owner=owner)
        return self._message(chat, owner, sender={"uuid": owner, "handle": "luna"}, recipient=chat["fan"],
                             text=text, at=at, type=kind, **fields)

    def welcome(self, fan: str, *, owner: str = SELF_UUID, at: datetime | None = None) -> dict[str, Any]:
        """Fanvue's own automatic message to a new subscriber."""
        return self.creator_writes(fan, "Welcome to my page!", owner=owner, at=at, kind="AUTOMATED_NEW_SUBSCRIBER")

    def _message(self, chat: dict[str, Any], owner: str, *, sender: dict[str, Any], recipient: dict[str, Any],
                 text: str | None, at: datetime | None, **fields: Any) -> dict[str, Any]:
        media = fields.pop("mediaUuids", [])
        price = fields.pop("price", None)
        message = {"uuid": str(uuid.uuid4()), "text": text, "sentAt": iso(self._at(at)),
                   "sender": dict(sender), "recipient": dict(recipient), "type": fields.pop("type", "SINGLE_RECIPIENT"),
                   "hasMedia": bool(media), "mediaType": "image" if media else None, "mediaUuids": list(media),
                   "pricing": {"USD": {"price": price}} if price is not None else None, "purchasedAt": None,
                   "sentByUserId": None, "isRead": False, **fields}
        with self.lock:
            chat["messages"].append(message)
        return message

    def messages(self, fan: str, owner: str = SELF_UUID) -> list[dict[str, Any]]:
        return list(self.chat(fan, owner=owner)["messages"])

    # --- chats ---------------------------------------------------------------------------------

    def _summary(self, chat: dict[str, Any], owner: str) -> dict[str, Any]:
        messages = chat["messages"]
        last = max(messages, key=lambda m: m["sentAt"]) if messages else None
        unread = [m for m in messages if m["sender"]["uuid"] != owner and not m["isRead"]]
        return {"user": dict(chat["fan"]), "lastMessageAt": last["sentAt"] if last else None,
                "lastMessage": {k: last[k] for k in ("uuid", "text", "sentAt", "type")} if last else None,
                "isRead": not unread, "unreadMessagesCount": len(unread), "isMuted": chat["muted"]}

    def list_chats(self, r: Received, m: re.Match) -> Reply:
        owner = self._owner(m)
        if owner is None:
            return Reply(403, {"error": "Forbidden", "message": "Not a creator of this agency"})
        filters = set(r.query.get("filter", []))
        if not filters <= {"unread", "not_answered", "not_muted"}:
            return Reply(400, {"error": "Bad Request", "message": f"Unknown filter {sorted(filters)}"})
        page, size = int(r.query.get("page", ["1"])[0]), int(r.query.get("size", ["15"])[0])
        if not 1 <= size <= 50 or page < 1:
            return Reply(400, {"error": "Bad Request", "message": "size must be 1-50, page >= 1"})
        rows = []
        for (chat_owner, _), chat in list(self.state["chats"].items()):
            if chat_owner != owner or not chat["messages"]:
                continue
            summary = self._summary(chat, owner)
            last = max(chat["messages"], key=lambda x: x["sentAt"])
            if "unread" in filters and summary["isRead"]:
                continue
            if "not_answered" in filters and last["sender"]["uuid"] == owner:
                continue
            rows.append(summary)
        rows.sort(key=lambda c: c["lastMessageAt"] or "", reverse=True)
        chunk = rows[(page - 1) * size:page * size]
        return Reply(200, {"data": chunk, "pagination": {"page": page, "size": size,
                                                         "hasMore": page * size < len(rows)}})

    def batch_messages(self, r: Received, m: re.Match) -> Reply:
        body = r.json() or {}
        uuids, limit = body.get("chatUuids") or [], body.get("limit", 20)
        if not 1 <= len(uuids) <= 50 or not 1 <= int(limit) <= 50:
            return Reply(400, {"error": "Bad Request", "message": "chatUuids 1-50, limit 1-50"})
        by_chat: dict[str, Any] = {}
        for fan in uuids:
            chat = self.state["chats"].get((SELF_UUID, fan))
            if chat is None:
                by_chat[fan] = {"error": "not_found"}
                continue
            newest = sorted(chat["messages"], key=lambda x: x["sentAt"], reverse=True)
            by_chat[fan] = {"messages": newest[:limit], "hasMore": len(newest) > limit,
                            "oldestMessageUuid": newest[:limit][-1]["uuid"] if newest else None}
        return Reply(200, {"byChat": by_chat})

    def list_messages(self, r: Received, m: re.Match) -> Reply:
        owner = self._owner(m)
        chat = self.state["chats"].get((owner, m["fan"]))
        if owner is None or chat is None:
            return Reply(404, {"error": "Not Found", "message": "Chat not found"})
        page, size = int(r.query.get("page", ["1"])[0]), int(r.query.get("size", ["15"])[0])
        newest = sorted(chat["messages"], key=lambda x: x["sentAt"], reverse=True)
        if r.query.get("markAsRead", ["true"])[0] != "false":
            self._read(chat, owner)
        return Reply(200, {"data": newest[(page - 1) * size:page * size],
                           "pagination": {"page": page, "size": size, "hasMore": page * size < len(newest)}})

    def _read(self, chat: dict[str, Any], owner: str) -> None:
        for message in chat["messages"]:
            if message["sender"]["uuid"] != owner:
                message["isRead"] = True

    def update_chat(self, r: Received, m: re.Match) -> Reply:
        owner = self._owner(m)
        chat = self.state["chats"].get((owner, m["fan"]))
        if owner is None or chat is None:
            return Reply(404, {"error": "Not Found", "message": "Chat not found"})
        body = r.json() or {}
        if body.get("isRead") is True:
            self._read(chat, owner)
        if "isMuted" in body:
            chat["muted"] = bool(body["isMuted"])
        return Reply(204, b"")

    def send_message(self, r: Received, m: re.Match) -> Reply:
        owner = self._owner(m)
        if owner is None:
            return Reply(403, {"error": "Forbidden", "message": "Not a creator of this agency"})
        chat = self.state["chats"].get((owner, m["fan"]))
        if chat is None:
            return Reply(404, {"error": "Not Found", "message": "Chat not found"})
        body = r.json() or {}
        text, media, price = body.get("text"), body.get("mediaUuids") or [], body.get("price")
        if text is not None and not 1 <= len(text) <= 5000:
            return Reply(400, {"error": "Bad Request", "message": "text must be 1-5000 characters"})
        if price is not None and (not isinstance(price, int | float) or price < 300):
            return Reply(400, {"error": "Bad Request", "message": "price must be >= 300"})
        for media_uuid in media:
            ready = self.state["media"].get(media_uuid, {}).get("status") == "ready"
            if not ready and media_uuid not in self.state["vault"]:
                return Reply(400, {"error": "Bad Request", "message": f"Media {media_uuid} not found"})
        if not text and not media and not body.get("templateUuid"):
            return Reply(400, {"error": "Bad Request", "message": "text, mediaUuids or templateUuid required"})
        message = self.creator_writes(m["fan"], text, owner=owner, mediaUuids=media, price=price,
                                      templateUuid=body.get("templateUuid"))
        return Reply(201, {"messageUuid": message["uuid"]}, delay=self.state["stall_sends"])


def refused_url() -> str:
    """An address where nothing listens: a connection there is refused, so no request ever leaves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
