"""A fake Bluesky PDS that also proxies `chat.bsky.convo.*` to a chat service: the publishing fake's sessions
(create/refresh, expiring tokens) plus convos, messages and the event log (`getLog`, revs that sort as strings,
a page size), refusing a chat call that lacks the `atproto-proxy` header as a PDS does."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.scheduling.fakes.base import Received, Reply
from tests.scheduling.fakes.bluesky import FakeBluesky, xrpc_error

PROXY = "did:web:api.bsky.chat#bsky_chat"
FAN_DID, FAN_HANDLE = "did:plc:fan00000000000000000000a", "fan.bsky.social"
OTHER_DID, OTHER_HANDLE = "did:plc:fan00000000000000000000b", "other.bsky.social"


class FakeBlueskyChat(FakeBluesky):
    routes = [
        *FakeBluesky.routes,
        ("GET", r"/xrpc/chat\.bsky\.convo\.getConvoForMembers", "get_convo_for_members"),
        ("GET", r"/xrpc/chat\.bsky\.convo\.getConvo", "get_convo"),
        ("GET", r"/xrpc/chat\.bsky\.convo\.listConvos", "list_convos"),
        ("GET", r"/xrpc/chat\.bsky\.convo\.getMessages", "get_messages"),
        ("POST", r"/xrpc/chat\.bsky\.convo\.sendMessage", "send_message"),
        ("GET", r"/xrpc/chat\.bsky\.convo\.getLog", "get_log"),
        ("POST", r"/xrpc/chat\.bsky\.convo\.updateRead", "update_read"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revs = itertools.count(1)
        self.message_ids = itertools.count(1)
        self.convos: dict[str, dict[str, Any]] = {}
        self.logs: list[dict[str, Any]] = []
        self.profiles = {self.DID: {"did": self.DID, "handle": self.HANDLE, "displayName": "Luna"},
                         FAN_DID: {"did": FAN_DID, "handle": FAN_HANDLE, "displayName": "A fan"},
                         OTHER_DID: {"did": OTHER_DID, "handle": OTHER_HANDLE, "displayName": "Another fan"}}
        self.log_page = 50  # events per getLog answer
        self.slow_sends = 0  # the next sends are stored, then answered after `slow_seconds`
        self.slow_seconds = 2.0
        self.clock = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self.read_up_to: dict[str, str] = {}

    # --- what the world does ----------------------------------------------------------------------------

    def rev(self) -> str:
        return f"3lc{next(self.revs):010d}"

    def convo_with(self, did: str) -> dict[str, Any]:
        for convo in self.convos.values():
            if {m["did"] for m in convo["members"]} == {self.DID, did}:
                return convo
        convo_id = f"convo-{len(self.convos) + 1}"
        convo = {"id": convo_id, "rev": self.rev(), "members": [self.profiles[self.DID], self.profiles[did]],
                 "muted": False, "unreadCount": 0, "messages": []}
        self.convos[convo_id] = convo
        self.logs.append({"$type": "chat.bsky.convo.defs#logBeginConvo", "rev": convo["rev"], "convoId": convo_id})
        return convo

    def write(self, sender: str, convo: dict[str, Any], text: str) -> dict[str, Any]:
        self.clock += timedelta(seconds=1)
        view = {"$type": "chat.bsky.convo.defs#messageView", "id": f"msg-{next(self.message_ids)}", "rev": self.rev(),
                "text": text, "sender": {"did": sender},
                "sentAt": self.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        convo["messages"].append(view)
        convo["rev"] = view["rev"]
        self.logs.append({"$type": "chat.bsky.convo.defs#logCreateMessage", "rev": view["rev"],
                          "convoId": convo["id"], "message": view,
                          "relatedProfiles": [self.profiles[sender]]})
        return view

    def fan_writes(self, text: str, did: str = FAN_DID) -> dict[str, Any]:
        return self.write(did, self.convo_with(did), text)

    def creator_writes_elsewhere(self, text: str, did: str = FAN_DID) -> dict[str, Any]:
        """The creator answers from the Bluesky app: the log shows it as the account's own message."""
        return self.write(self.DID, self.convo_with(did), text)

    def group_message(self, text: str, sender: str = FAN_DID) -> dict[str, Any]:
        """A message in a group convo the account belongs to (not a fan conversation)."""
        group = self.convos.get("group-1")
        if group is None:
            group = {"id": "group-1", "rev": self.rev(), "muted": False, "unreadCount": 0, "messages": [],
                     "members": [self.profiles[d] for d in (self.DID, FAN_DID, OTHER_DID)],
                     "kind": {"$type": "chat.bsky.convo.defs#groupConvo", "name": "Fans", "memberCount": 3,
                              "lockStatus": "unlocked", "createdAt": "2026-12-01T08:00:00.000Z"}}
            self.convos["group-1"] = group
        return self.write(sender, group, text)

    def someone_reads(self) -> None:
        """An event that is not a message (a read): it moves the log without a message."""
        convo = next(iter(self.convos.values()))
        self.logs.append({"$type": "chat.bsky.convo.defs#logReadMessage", "rev": self.rev(), "convoId": convo["id"],
                          "message": convo["messages"][-1]})

    # --- the wire -------------------------------------------------------------------------------------

    def dispatch(self, received: Received) -> Reply:
        if "/xrpc/chat." in received.path and received.headers.get("atproto-proxy") != PROXY:
            with self.lock:
                self.requests.append(received)
            # The PDS answers a chat method itself when nothing tells it to proxy, and knows none.
            return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")
        return super().dispatch(received)

    def chat_calls(self) -> list[Received]:
        return [r for r in self.requests if "/xrpc/chat." in r.path]

    def _q(self, received: Received) -> dict[str, str]:
        return {k: v[0] for k, v in received.query.items()}

    def _convo_view(self, convo: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in convo.items() if k != "messages"}
        if convo["messages"]:
            view["lastMessage"] = convo["messages"][-1]
        return view

    def get_convo_for_members(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        members = [m for m in received.query.get("members", []) if m != self.DID]
        if len(members) != 1 or members[0] not in self.profiles:
            return xrpc_error(400, "InvalidRequest", "Recipient not found")
        return Reply(200, {"convo": self._convo_view(self.convo_with(members[0]))}, headers=self.rate())

    def get_convo(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        convo = self.convos.get(self._q(received).get("convoId", ""))
        if convo is None:
            return xrpc_error(400, "InvalidConvo", "Convo not found")
        return Reply(200, {"convo": self._convo_view(convo)}, headers=self.rate())

    def list_convos(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        limit = int(self._q(received).get("limit", "50"))
        if not 1 <= limit <= 100:
            return xrpc_error(400, "InvalidRequest", "limit must be between 1 and 100")
        convos = sorted(self.convos.values(), key=lambda c: c["rev"], reverse=True)[:limit]
        return Reply(200, {"convos": [self._convo_view(c) for c in convos]}, headers=self.rate())

    def get_messages(self, received: Received, match: re.Match) -> Reply:
        """Newest first; the cursor is the rev of the last message handed out."""
        if denied := self._denied(received):
            return denied
        q = self._q(received)
        convo = self.convos.get(q.get("convoId", ""))
        if convo is None:
            return xrpc_error(400, "InvalidConvo", "Convo not found")
        limit = int(q.get("limit", "50"))
        if not 1 <= limit <= 100:
            return xrpc_error(400, "InvalidRequest", "limit must be between 1 and 100")
        older = [m for m in reversed(convo["messages"]) if not q.get("cursor") or m["rev"] < q["cursor"]]
        page = older[:limit]
        body: dict[str, Any] = {"messages": page}
        if len(older) > limit:
            body["cursor"] = page[-1]["rev"]
        return Reply(200, body, headers=self.rate())

    def send_message(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        body = received.json()
        convo = self.convos.get(body.get("convoId", ""))
        if convo is None:
            return xrpc_error(400, "InvalidConvo", "Convo not found")
        text = (body.get("message") or {}).get("text")
        if not isinstance(text, str) or not text or len(text) > 1000:
            return xrpc_error(400, "InvalidRequest", "Input/message/text must not be longer than 1000 graphemes")
        view = self.write(self.DID, convo, text)
        if self.slow_sends:
            self.slow_sends -= 1
            return Reply(200, view, headers=self.rate(), delay=self.slow_seconds)
        return Reply(200, view, headers=self.rate())

    def get_log(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        cursor = self._q(received).get("cursor")
        latest = max((log["rev"] for log in self.logs), default=self.rev())
        if cursor is None:
            return Reply(200, {"logs": [], "cursor": latest}, headers=self.rate())
        after = sorted((log for log in self.logs if log["rev"] > cursor), key=lambda log: log["rev"])
        page = after[:self.log_page]
        return Reply(200, {"logs": page, "cursor": page[-1]["rev"] if page else cursor}, headers=self.rate())

    def update_read(self, received: Received, match: re.Match) -> Reply:
        if denied := self._denied(received):
            return denied
        convo = self.convos.get(received.json().get("convoId", ""))
        if convo is None:
            return xrpc_error(400, "InvalidConvo", "Convo not found")
        self.read_up_to[convo["id"]] = convo["messages"][-1]["id"] if convo["messages"] else ""
        convo["unreadCount"] = 0
        return Reply(200, {"convo": self._convo_view(convo)}, headers=self.rate())

    def rate_limited(self, seconds: int = 30) -> Reply:
        return xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded",
                          headers={"ratelimit-limit": "3000", "ratelimit-remaining": "0",
                                   "ratelimit-reset": str(int(time.time()) + seconds),
                                   "ratelimit-policy": "3000;w=300"})
