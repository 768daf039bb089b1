"""Fanvue chats, through the official API (https://api.fanvue.com/docs), for the inbox.

Wire details and the page each comes from (API version header `X-Fanvue-API-Version: 2025-06-26`, a
bearer token, base URL `FANVUE_API_URL`: the same client as `scheduling.connectors.fanvue`):
- Send, agency route: `POST /creators/{creatorUserUuid}/chats/{userUuid}/message`
  (docs/api-reference/send-a-message-as-creator; scopes `write:chat`, `read:creator`); a creator's own
  token uses `POST /chats/{userUuid}/message` (docs/reference/chats/send-message). Body `text` (null or
  1–5000 characters), `mediaUuids`, `price` (null or ≥ 300, i.e. at least US$3.00 in cents: pricing is
  in cents per docs/tutorials/working-with-messages and the Message Received webhook page), `templateUuid`;
  the answer is `{messageUuid}`. `core.platforms` already says 300 (`ChatPolicy.min_price_minor`).
- Media: the chat API only takes `mediaUuids` Fanvue already holds. Files not yet there are uploaded first
  through the publishing connector's multipart upload session (`FanvueConnector._upload`:
  `POST /media/uploads` → part URLs → `PATCH` → ready), under the creator's route for an agency token.
- Read a chat back: `GET /creators/{c}/chats/{userUuid}/messages` or `GET /chats/{userUuid}/messages`
  (docs/api-reference/reference/agencies/list-creator-messages, …/chat-messages/list-messages): `page`,
  `size` ≤ 50, newest first, and `markAsRead`, which defaults to true: every read here passes
  `markAsRead=false` so reconciling never hides a fan's message from the creator.
- The message object (docs/tutorials/working-with-messages, the batch example): `uuid`, `text`, `sentAt`,
  `sender`/`recipient` {uuid, handle, displayName}, `type`, `hasMedia`, `mediaType`, `mediaUuids`,
  `pricing` (`pricing.USD.price` in cents), `purchasedAt`, `isRead`, `sentByUserId`. Types
  `AUTOMATED_*` (`AUTOMATED_NEW_SUBSCRIBER`, `AUTOMATED_NEW_FOLLOWER`, …) are Fanvue's own automatic
  messages: returned as `direction="out", automated=True`, recorded once, never sent again.
- Reconcile: `GET /chats` (docs/api-reference/reference/chats/list-chats) with `filter=unread` and
  `filter=not_answered`, `sortBy=most_recent_messages`, `page`/`size` ≤ 50, read newest first only down to
  the last run's watermark; then the changed chats' messages in one `POST /chats/messages/batch`
  (docs/api-reference/get-messages-from-multiple-chats-in-bulk: `chatUuids` 1–50, `limit` 1–50,
  answer `byChat{uuid: {messages, hasMore} | {error}}`), which the docs offer in place of one
  `GET /chats/{userUuid}/messages` per chat. No chat is polled that did not change.
- Mark read: `PATCH /creators/{c}/chats/{userUuid}` or `PATCH /chats/{userUuid}` with `{"isRead": true}`
  (docs/api-reference/update-a-creators-chat-with-a-user, "used by agency mirror clients").
- Rate limits (docs/authentication/rate-limits): 200 requests per 60 s, one bucket per user and one more
  per creator for `/creators/{uuid}/*`; `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
  (a Unix time) on every answer, `Retry-After` on a 429. A 429 or a spent window is `TransientError`
  with the wait; a 401 is `AuthError`; a read timeout or a dropped connection after the send left, or a
  500, is `UnknownOutcome` (the shared mapping in `scheduling.connectors.http`).
- Scopes: `read:chat`, `write:chat`, `read:fan` (plus `read:creator` for an agency).

Assumed where the reference is silent:
- The chat object of `GET /chats`: the fan as `user {uuid, handle, displayName}` (or `userUuid`), the last
  activity as `lastMessageAt` (else `lastMessage.sentAt`), the last message's `lastMessage.uuid`, and
  `pagination {page, size, hasMore}` as on the other paginated lists. A chat with no time is read (we
  cannot tell it did not change); without `lastMessage.uuid` the overlap is simply read again.
- The agency route `GET /creators/{c}/chats` takes the same `filter`/`sortBy` as `GET /chats` (only
  `page`/`size` are documented there). The batch endpoint exists only on the caller's own chats, so an
  agency token reads each *changed* chat with `GET /creators/{c}/chats/{userUuid}/messages` instead.
- The send takes no idempotency key. `lookup_sent` reads the chat's newest 50 messages and matches one
  written on the creator's side with the same text, the same number of media and the same price, sent no
  earlier than `options["not_before"]` (the message's queue time) less a minute. A miss is proof only
  when the page reaches back past that time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from core import platforms
from inbox.channels.base import (
    AccountRef,
    AuthError,
    InboundMessage,
    PermanentError,
    SendRequest,
    SendResult,
    TransientError,
    UnknownOutcome,
    UpdatePage,
)
from inbox.channels.timefmt import parse_time
from scheduling.connectors.fanvue import FanvueConnector
from scheduling.connectors.http import client, retry_after, send


def _policy() -> platforms.ChatPolicy:
    policy = platforms.get("fanvue").chat
    if policy is None:
        raise LookupError("The platform registry declares no chat for Fanvue.")
    return policy


POLICY = _policy()
MAX_TEXT = POLICY.max_text
MIN_PRICE = POLICY.min_price_minor or 0
PAGE_SIZE = 50  # the largest page every list takes
BATCH_CHATS = 50  # chatUuids per batch request
FILTERS = ("unread", "not_answered")
MAX_CHAT_PAGES = 20  # per filter and run: 1,000 changed chats; the rest continue on the next run
MAX_MESSAGE_PAGES = 5  # per chat and run, when more than a batch's worth arrived since the watermark
OVERLAP = timedelta(minutes=2)  # read a little behind the watermark: clocks differ, lists lag
FIRST_LOOKBACK = timedelta(days=1)  # a new account's first run reaches this far back
LOOKUP_SLACK = timedelta(minutes=1)


class FanvueChannel:
    platform = "fanvue"
    # `lookup_sent` returning None is proof after this long (the chat listing may lag a send briefly).
    lookup_settle_seconds = 60
    how_to_check = "Open the fan's chat on Fanvue and look for a message with exactly this text."

    def __init__(self) -> None:
        # Files not yet in the vault go up through the publishing connector's upload session.
        self.uploader = FanvueConnector()

    # --- Sending ---------------------------------------------------------------------------------

    def problems(self, request: SendRequest) -> list[str]:
        """What Fanvue would refuse, in words, before anything is sent."""
        problems = []
        if len(request.text) > MAX_TEXT:
            problems.append(f"The message has {len(request.text)} characters; Fanvue allows {MAX_TEXT}.")
        if not request.text.strip() and not request.media and not request.media_ids and not request.template_id:
            problems.append("A Fanvue message needs text, media or a template.")
        if request.price_minor is not None:
            if request.price_minor < MIN_PRICE:
                problems.append(f"Fanvue's lowest message price is {MIN_PRICE / 100:.2f} USD.")
            if request.currency and request.currency.upper() != POLICY.price_currency:
                problems.append(f"Fanvue prices are in US dollars, not {request.currency}.")
        if not request.fan_id:
            problems.append("The fan's Fanvue id is missing.")
        return problems

    def send(self, request: SendRequest) -> SendResult:
        problems = self.problems(request)
        if problems:
            raise PermanentError(" ".join(problems))
        account = request.account
        with self._http(account) as http:
            media_ids = list(request.media_ids)
            for item in request.media:
                media_uuid, last = self.uploader._upload(http, account, item)
                media_ids.append(media_uuid)
                _guard_budget(last)
            body: dict[str, Any] = {"text": request.text if request.text.strip() else None}
            if media_ids:
                body["mediaUuids"] = media_ids
            if request.price_minor is not None:
                body["price"] = request.price_minor
            if request.template_id:
                body["templateUuid"] = request.template_id
            response = send(http, "POST", f"{_prefix(account)}/chats/{request.fan_id}/message", creates=True,
                            json=body)
        answer = _json(response)
        message_uuid = answer.get("messageUuid") if isinstance(answer, dict) else None
        if not message_uuid:
            raise UnknownOutcome("Fanvue answered the send without a message id.", status=response.status_code)
        return SendResult(external_id=str(message_uuid), sent_at=timezone.now(),
                          raw={**answer, "mediaUuids": media_ids})

    def lookup_sent(self, request: SendRequest) -> SendResult | None:
        account = request.account
        not_before = (parse_time(str(request.options.get("not_before") or ""))
                      or timezone.now() - timedelta(days=1)) - LOOKUP_SLACK
        media_count = len(request.media_ids) + len(request.media)
        with self._http(account) as http:
            response = send(http, "GET", f"{_prefix(account)}/chats/{request.fan_id}/messages",
                            params={"page": 1, "size": PAGE_SIZE, "markAsRead": "false"})
        body = _json(response)
        messages = [m for m in _rows(body) if isinstance(m, dict)]
        for message in messages:
            sent_at = parse_time(message.get("sentAt"))
            if (_sender(message) != request.fan_id and sent_at is not None and sent_at >= not_before
                    and (message.get("text") or "").strip() == request.text.strip()
                    and len(message.get("mediaUuids") or []) == media_count
                    and _price(message) == request.price_minor):
                return SendResult(external_id=str(message["uuid"]), sent_at=sent_at, raw=message)
        dates = [d for d in (parse_time(m.get("sentAt")) for m in messages) if d]
        if not _has_more(body, len(messages)) or (dates and min(dates) < not_before):
            return None
        raise UnknownOutcome("More than 50 messages in this chat since the send; check the chat on Fanvue.")

    def mark_read(self, account: AccountRef, chat_id: str, fan_id: str) -> None:
        with self._http(account) as http:
            send(http, "PATCH", f"{_prefix(account)}/chats/{fan_id or chat_id}", json={"isRead": True})

    # --- Reconciliation --------------------------------------------------------------------------

    def fetch_updates(self, account: AccountRef, cursor: str | None) -> UpdatePage:
        """Messages in the chats that changed since `cursor`, oldest first, and the cursor to keep.

        A chat changed when it is listed under `unread` or `not_answered` with activity after the watermark
        (less `OVERLAP`) and a last message the previous run did not already read. The new cursor is the
        newest activity seen and the last messages of the chats in the overlap. A walk longer than `MAX_CHAT_PAGES`
        stops there and its cursor says on which page each unfinished filter resumes; the watermark moves
        only when the walk is complete (a resumed run never raises it, so whatever changed meanwhile is
        read by the next full pass). A cursor of None in the answer means nothing changed: keep yours.
        """
        state = _load_cursor(cursor)
        since = parse_time(state.get("since")) or timezone.now() - FIRST_LOOKBACK
        floor = since - OVERLAP
        resume: dict[str, int] = {str(k): int(v) for k, v in (state.get("resume") or {}).items()}
        known = {str(u) for u in state.get("edge") or []}
        high = parse_time(state.get("high")) or since
        changed: dict[str, dict[str, Any]] = {}
        seen: dict[str, datetime | None] = {}  # every listed chat's last message → its time
        unfinished: dict[str, int] = {}
        with self._http(account) as http:
            for name in FILTERS:
                if resume and name not in resume:
                    continue  # finished in an earlier run of this pass
                chats, next_page = self._changed_chats(http, account, name, resume.get(name, 1), floor)
                if next_page is not None:
                    unfinished[name] = next_page
                for chat, at in chats:
                    fan, last = _chat_fan(chat), _last_uuid(chat)
                    if last:
                        seen[last] = at
                    if fan and not (last and last in known):  # read in the overlap already, unchanged since
                        changed.setdefault(fan, chat)
                        if at is not None and not resume:
                            high = max(high, at)
            messages = sorted(self._messages(http, account, changed, floor), key=lambda m: m.sent_at)
        if not resume:
            high = max([high, *(m.sent_at for m in messages)])
        # The chats at the top edge: the next run's overlap lists them again, and skips them while unchanged.
        edge = sorted({u for u, at in seen.items() if at is None or at > high - OVERLAP} | (known if resume else set()))
        if unfinished:
            return UpdatePage(messages, json.dumps({"since": _iso(since), "high": _iso(high), "resume": unfinished,
                                                    "edge": edge}))
        if not changed and not resume and cursor:
            return UpdatePage(messages, None)
        return UpdatePage(messages, json.dumps({"since": _iso(high), "edge": edge}))

    def _changed_chats(self, http: httpx.Client, account: AccountRef, name: str, page: int,
                       floor: datetime) -> tuple[list[tuple[dict[str, Any], datetime | None]], int | None]:
        """The chats under filter `name` with activity after `floor`, newest first, and the page to resume
        on when the run's page budget ran out first (None: the walk reached `floor` or the end)."""
        found: list[tuple[dict[str, Any], datetime | None]] = []
        for _ in range(MAX_CHAT_PAGES):
            response = send(http, "GET", f"{_prefix(account)}/chats", params={
                "page": page, "size": PAGE_SIZE, "filter": name, "sortBy": "most_recent_messages"})
            _guard_budget(response)
            body = _json(response)
            chats = [c for c in _rows(body) if isinstance(c, dict)]
            for chat in chats:
                at = _chat_time(chat)
                if at is not None and at <= floor:
                    return found, None
                found.append((chat, at))
            if not _has_more(body, len(chats)):
                return found, None
            page += 1
        return found, page

    def _messages(self, http: httpx.Client, account: AccountRef, chats: dict[str, dict[str, Any]],
                  floor: datetime) -> Iterator[InboundMessage]:
        fans = list(chats)
        if _prefix(account):
            for fan in fans:
                yield from self._chat_pages(http, account, fan, chats[fan], floor, first_page=1)
            return
        for chunk in _chunks(fans, BATCH_CHATS):
            response = send(http, "POST", "/chats/messages/batch", json={"chatUuids": chunk, "limit": PAGE_SIZE})
            _guard_budget(response)
            by_chat = (_json(response) or {}).get("byChat") or {}
            for fan in chunk:
                entry = by_chat.get(fan)
                if not isinstance(entry, dict) or "error" in entry:
                    continue  # gone, or no longer ours: the batch reports it per chat
                rows = [m for m in entry.get("messages") or [] if isinstance(m, dict)]
                yield from (_inbound(m, fan, chats[fan]) for m in rows if _after(m, floor))
                times = [t for t in (parse_time(m.get("sentAt")) for m in rows) if t]
                if entry.get("hasMore") and times and min(times) > floor:
                    # More arrived since the watermark than one batch holds: read on, page by page.
                    yield from self._chat_pages(http, account, fan, chats[fan], floor, first_page=2)

    def _chat_pages(self, http: httpx.Client, account: AccountRef, fan: str, chat: dict[str, Any],
                    floor: datetime, *, first_page: int) -> Iterator[InboundMessage]:
        page = first_page
        for _ in range(MAX_MESSAGE_PAGES):
            response = send(http, "GET", f"{_prefix(account)}/chats/{fan}/messages",
                            params={"page": page, "size": PAGE_SIZE, "markAsRead": "false"})
            _guard_budget(response)
            body = _json(response)
            rows = [m for m in _rows(body) if isinstance(m, dict)]
            yield from (_inbound(m, fan, chat) for m in rows if _after(m, floor))
            times = [t for t in (parse_time(m.get("sentAt")) for m in rows) if t]
            if not _has_more(body, len(rows)) or (times and min(times) <= floor):
                return
            page += 1

    # --- Wire details ----------------------------------------------------------------------------

    def _http(self, account: AccountRef) -> httpx.Client:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthError(f"Fanvue @{account.handle} has no access token; connect the account.")
        return client(settings.FANVUE_API_URL, headers={
            "Authorization": f"Bearer {token}", "X-Fanvue-API-Version": settings.FANVUE_API_VERSION})


def _prefix(account: AccountRef) -> str:
    """An agency token acts for the creator named in the account's options; a creator's own token has none."""
    creator = (account.options or {}).get("creator_uuid")
    return f"/creators/{creator}" if creator else ""


def _inbound(message: dict[str, Any], fan: str, chat: dict[str, Any]) -> InboundMessage:
    """A Fanvue message object as the inbox reads it: from the fan ("in") or written on the creator's side
    ("out"); Fanvue's automatic messages (`AUTOMATED_*`) marked as such."""
    inbound = _sender(message) == fan
    person = message.get("sender" if inbound else "recipient")
    person = person if isinstance(person, dict) else {}
    user = chat.get("user")
    user = user if isinstance(user, dict) else {}
    kind = str(message.get("type") or "")
    price = _price(message)
    return InboundMessage(
        external_id=str(message.get("uuid") or ""), chat_id=fan, fan_id=fan,
        sent_at=parse_time(message.get("sentAt")) or timezone.now(), text=str(message.get("text") or ""),
        fan_handle=str(person.get("handle") or user.get("handle") or ""),
        fan_name=str(person.get("displayName") or user.get("displayName") or ""),
        direction="in" if inbound else "out", automated=kind.startswith("AUTOMATED_"),
        media=tuple({"uuid": str(u), "type": message.get("mediaType") or ""} for u in message.get("mediaUuids") or []),
        price_minor=price, currency=POLICY.price_currency if price is not None else "",
        purchased=bool(message.get("purchasedAt")), read=bool(message.get("isRead")), raw=message)


def _sender(message: dict[str, Any]) -> str:
    sender = message.get("sender")
    return str(sender.get("uuid") or "") if isinstance(sender, dict) else ""


def _price(message: dict[str, Any]) -> int | None:
    pricing = message.get("pricing")
    if not isinstance(pricing, dict):
        return None
    usd = pricing.get("USD") or pricing.get("usd")
    value = usd.get("price") if isinstance(usd, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _chat_fan(chat: dict[str, Any]) -> str:
    user = chat.get("user")
    if isinstance(user, dict) and user.get("uuid"):
        return str(user["uuid"])
    return str(chat.get("userUuid") or "")


def _last_uuid(chat: dict[str, Any]) -> str:
    last = chat.get("lastMessage")
    return str(last.get("uuid") or "") if isinstance(last, dict) else ""


def _chat_time(chat: dict[str, Any]) -> datetime | None:
    last = chat.get("lastMessage")
    return parse_time(chat.get("lastMessageAt")) or (parse_time(last.get("sentAt")) if isinstance(last, dict) else None)


def _after(message: dict[str, Any], floor: datetime) -> bool:
    at = parse_time(message.get("sentAt"))
    return at is None or at > floor


def _rows(body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, list) else []


def _has_more(body: Any, count: int) -> bool:
    pagination = body.get("pagination") if isinstance(body, dict) else None
    if isinstance(pagination, dict) and "hasMore" in pagination:
        return bool(pagination["hasMore"])
    return count >= PAGE_SIZE


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _guard_budget(response: httpx.Response) -> None:
    """The window is spent: stop before the next call, which Fanvue would refuse with a 429 anyway."""
    if response.headers.get("x-ratelimit-remaining") == "0":
        raise TransientError("Fanvue's request budget for this window is spent.", status=429,
                             retry_after=retry_after(response, rate_reset=True) or 60)


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {"since": cursor}  # a bare time
    return state if isinstance(state, dict) else {}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
