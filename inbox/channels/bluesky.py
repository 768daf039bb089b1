"""Bluesky direct messages: the `chat.bsky.convo.*` XRPC methods, called on the account's PDS.

From the lexicons (bluesky-social/atproto, lexicons/chat/bsky/convo/*.json) and the Bluesky app's own
client (social-app, src/state/messages/events/agent.ts):
- Every chat call goes to the user's PDS with the header `atproto-proxy: did:web:api.bsky.chat#bsky_chat`;
  the PDS forwards it, signed for the user, to the chat service. A call without it is answered by the PDS
  itself, which knows no `chat.*` method. The session (createSession / refreshSession, app password) is the
  publishing connector's (`scheduling.connectors.bluesky`), shared so createSession's tight limits are
  spent once per process.
- `getConvoForMembers?members=<did>` gets or creates the 1-1 convo; `sendMessage {convoId, message: {text,
  facets}}` answers the `messageView` (`id`, `rev`, `sentAt`, `sender.did`); text ≤ 1000 graphemes / 10,000
  bytes, no media (a chat message may only embed a post record).
- `getLog?cursor=<rev>` lists events after `cursor` in `rev` order (revs compare as strings);
  without a cursor it answers the current position only, which the app uses to start from "now".
  `logCreateMessage {rev, convoId, message}` carries a `messageView` (or a `deletedMessageView`, no text).
- `getMessages?convoId&limit≤100&cursor` pages a convo newest first (used to settle an unknown send and to
  backfill the first poll); `listConvos?limit≤100&cursor` pages the convos; `getConvo?convoId` names its
  members; `updateRead {convoId, messageId?}` marks the convo read up to a message.
- Errors are `{"error": "<Name>", "message": "..."}`; 429 comes with `ratelimit-reset` (epoch seconds).

The chat API has no idempotency key: an unknown send is settled by reading the convo back (`lookup_sent`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from inbox.channels.base import (
    AccountRef,
    InboundMessage,
    PermanentError,
    SendRequest,
    SendResult,
    UnknownOutcome,
    UpdatePage,
)
from inbox.channels.timefmt import not_before, parse_time
from scheduling.connectors.bluesky import _Xrpc, facets_for

PROXY = {"atproto-proxy": "did:web:api.bsky.chat#bsky_chat"}
CREATE_MESSAGE = "chat.bsky.convo.defs#logCreateMessage"
MESSAGE_VIEW = "chat.bsky.convo.defs#messageView"
GROUP_CONVO = "chat.bsky.convo.defs#groupConvo"
LOG_PAGES = 10  # getLog calls per poll; what is left waits for the next poll (the cursor says where)
LOOKUP_PAGES = 5  # getMessages pages (100 each) read back to settle an unknown send
BACKFILL_CONVOS = 50  # the first poll brings in the newest messages of this many convos…
BACKFILL_MESSAGES = 20  # …this many each
# (account DID, convo id) → the fan of a direct convo, None for a group; see `_fan_of`.
_FANS: dict[tuple[str, str], dict[str, Any] | None] = {}
_FANS_KEPT = 50_000


class BlueskyChannel:
    """`ChatChannel` for Bluesky chat, polled (no webhooks): see the module docstring for the wire."""

    platform = "bluesky"
    # Requests one `fetch_updates` may spend, for the poller's rate arithmetic (`inbox.polling`): the log's
    # pages, plus one `getConvo` for each convo this process has not seen yet.
    max_requests_per_poll = LOG_PAGES

    def send(self, request: SendRequest) -> SendResult:
        if request.media or request.media_ids:
            raise PermanentError("Bluesky chat carries text only: send the media as a post link instead.")
        if request.price_minor:
            raise PermanentError("Bluesky chat has no paid messages.")
        with _chat(request.account) as xrpc:
            convo_id = request.chat_id or _convo_for(xrpc, request.fan_id)
            message: dict[str, Any] = {"text": request.text}
            facets = facets_for(request.text)
            if facets:
                message["facets"] = facets
            view = _call(xrpc, "POST", "chat.bsky.convo.sendMessage", creates=True,
                         json={"convoId": convo_id, "message": message})
        return _result(view, convo_id)

    def lookup_sent(self, request: SendRequest) -> SendResult | None:
        """Our message with exactly this text, sent at or after `options["not_before"]` (the first
        attempt's time, when the caller knows it) and not one of `options["known_ids"]` (messages the
        thread already holds). Reads the convo back newest first; when LOOKUP_PAGES pages do not reach
        `not_before` (or, without it, the convo's start), nobody can tell: `UnknownOutcome`."""
        since = not_before(request.options)
        known = set(request.options.get("known_ids") or ())
        with _chat(request.account) as xrpc:
            convo_id = request.chat_id or _convo_for(xrpc, request.fan_id)
            cursor: str | None = None
            for _ in range(LOOKUP_PAGES):
                params: dict[str, Any] = {"convoId": convo_id, "limit": 100}
                if cursor:
                    params["cursor"] = cursor
                page = _call(xrpc, "GET", "chat.bsky.convo.getMessages", params=params)
                for view in page.get("messages") or []:
                    sent_at = parse_time(view.get("sentAt"))
                    if since is not None and sent_at is not None and sent_at < since:
                        return None  # read back past the first attempt: it never arrived
                    if (_is_message(view) and _sender(view) == xrpc.did and view.get("text") == request.text
                            and view.get("id") not in known):
                        return _result(view, convo_id)
                cursor = page.get("cursor")
                if not cursor:
                    return None
        raise UnknownOutcome(f"More than {LOOKUP_PAGES * 100} messages in the Bluesky convo since the send: "
                             f"look for it in the Bluesky app.")

    def fetch_updates(self, account: AccountRef, cursor: str | None) -> UpdatePage:
        """Messages since `cursor` (a getLog rev), oldest first, and the rev to resume from.

        The returned cursor is always where the next poll starts (never None once a poll succeeded). The
        first poll (no cursor) takes the log's current position first, then brings in the newest messages
        of the newest convos: whatever arrives meanwhile is read again from the log and recorded once.
        """
        with _chat(account) as xrpc:
            if cursor is None:
                start = str(_call(xrpc, "GET", "chat.bsky.convo.getLog").get("cursor") or "")
                backfill = _backfill(xrpc)
                return UpdatePage(messages=backfill, cursor=start or None)
            logs: list[dict[str, Any]] = []
            position = cursor
            for _ in range(LOG_PAGES):
                page = _call(xrpc, "GET", "chat.bsky.convo.getLog", params={"cursor": position})
                # Only events after the cursor count (as in the Bluesky app): a replayed page adds nothing.
                fresh = [log for log in page.get("logs") or []
                         if isinstance(log, dict) and isinstance(log.get("rev"), str) and log["rev"] > position]
                if not fresh:
                    break
                logs.extend(fresh)
                position = max(log["rev"] for log in fresh)
            logs.sort(key=lambda log: log["rev"])
            messages = []
            for log in logs:
                if log.get("$type") != CREATE_MESSAGE:
                    continue
                inbound = _inbound(xrpc, log.get("convoId", ""), log.get("message") or {})
                if inbound is not None:
                    messages.append(inbound)
        return UpdatePage(messages=messages, cursor=position)

    def mark_read(self, account: AccountRef, chat_id: str, fan_id: str) -> None:
        """`updateRead` on the convo: the fan's side shows it read, as the Bluesky app does on opening."""
        with _chat(account) as xrpc:
            convo_id = chat_id or _convo_for(xrpc, fan_id)
            _call(xrpc, "POST", "chat.bsky.convo.updateRead", json={"convoId": convo_id})


# --- Wire details -------------------------------------------------------------------------------------------


def _chat(account: AccountRef) -> _Xrpc:
    return _Xrpc(account)


def _call(xrpc: _Xrpc, method: str, nsid: str, *, creates: bool = False, **kwargs: Any) -> dict[str, Any]:
    """One chat call, proxied to the chat service by the PDS."""
    response = xrpc.call(method, nsid, creates=creates, headers=dict(PROXY), **kwargs)
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _convo_for(xrpc: _Xrpc, fan_did: str) -> str:
    if not fan_did:
        raise PermanentError("The fan's Bluesky DID is unknown: nothing to write to.")
    convo = _call(xrpc, "GET", "chat.bsky.convo.getConvoForMembers", params={"members": [fan_did]}).get("convo")
    if not isinstance(convo, dict) or not convo.get("id"):
        raise PermanentError("Bluesky answered no conversation for this fan.")
    return str(convo["id"])


def _fan_of(xrpc: _Xrpc, convo_id: str, convo: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The fan's profile in a direct convo; None for a group convo (not a fan conversation).

    A direct convo's two members never change (lexicon: "an immutable list of the 2 members"), so the answer
    is kept for the life of the process: a convo costs one `getConvo`, the first time it is seen.
    """
    key = (xrpc.did, convo_id)
    if key not in _FANS:
        if convo is None:
            convo = _call(xrpc, "GET", "chat.bsky.convo.getConvo", params={"convoId": convo_id}).get("convo") or {}
        members = [m for m in convo.get("members") or [] if isinstance(m, dict)]
        kind = (convo.get("kind") or {}).get("$type", "") if isinstance(convo.get("kind"), dict) else ""
        others = [m for m in members if m.get("did") != xrpc.did]
        direct = kind != GROUP_CONVO and len(members) == 2 and len(others) == 1
        if len(_FANS) >= _FANS_KEPT:
            _FANS.clear()
        _FANS[key] = others[0] if direct else None
    return _FANS[key]


def _backfill(xrpc: _Xrpc) -> list[InboundMessage]:
    convos = _call(xrpc, "GET", "chat.bsky.convo.listConvos", params={"limit": BACKFILL_CONVOS}).get("convos") or []
    messages: list[InboundMessage] = []
    for convo in convos:
        convo_id = str(convo.get("id") or "")
        if not convo_id or _fan_of(xrpc, convo_id, convo) is None:
            continue
        page = _call(xrpc, "GET", "chat.bsky.convo.getMessages",
                     params={"convoId": convo_id, "limit": BACKFILL_MESSAGES})
        for view in page.get("messages") or []:
            inbound = _inbound(xrpc, convo_id, view)
            if inbound is not None:
                messages.append(inbound)
    messages.sort(key=lambda m: (m.sent_at, m.external_id))
    return messages


def _inbound(xrpc: _Xrpc, convo_id: str, view: dict[str, Any]) -> InboundMessage | None:
    """A message of a direct convo, seen from the account: "out" when the account wrote it (the Bluesky
    app, another tool), "in" otherwise. Group convos and deleted messages are not fan conversations."""
    if not _is_message(view) or not convo_id:
        return None
    fan = _fan_of(xrpc, convo_id)
    if fan is None:
        return None
    sender = _sender(view)
    sent_at = parse_time(view.get("sentAt")) or timezone.now()
    return InboundMessage(external_id=str(view["id"]), chat_id=convo_id, fan_id=str(fan.get("did") or ""),
                          sent_at=sent_at, text=str(view.get("text") or ""),
                          fan_handle=str(fan.get("handle") or ""), fan_name=str(fan.get("displayName") or ""),
                          direction="out" if sender == xrpc.did else "in", raw=view)


def _is_message(view: dict[str, Any]) -> bool:
    """A live message: `messageView` (typed or not), not a deleted or system one."""
    kind = view.get("$type")
    return bool(view.get("id")) and "text" in view and kind in (None, MESSAGE_VIEW)


def _sender(view: dict[str, Any]) -> str:
    sender = view.get("sender")
    return str(sender.get("did") or "") if isinstance(sender, dict) else ""


def _result(view: dict[str, Any], convo_id: str) -> SendResult:
    sent_at: datetime | None = parse_time(view.get("sentAt"))
    return SendResult(external_id=str(view.get("id") or ""), sent_at=sent_at, raw={**view, "convoId": convo_id})
