"""X direct messages, through the X API v2 with the account's OAuth 2.0 user token (https://docs.x.com/x-api).

Wire format, from the API reference (Direct Messages: lookup and manage):
- `GET /2/dm_events?event_types=MessageCreate&dm_event.fields=…&expansions=sender_id&user.fields=username,name
  &max_results=1..100&pagination_token=…`: every DM event of the user, sent and received, **newest first**,
  the last 30 days; `meta.next_token` while older pages remain. Event ids are snowflakes: a larger id is a
  later event. `dm_conversation_id` of a 1-1 conversation is "<smaller id>-<larger id>".
- `GET /2/dm_conversations/with/:participant_id/dm_events`: the same for one 1-1 conversation.
- `POST /2/dm_conversations/with/:participant_id/messages {text, attachments: [{media_id}]}` → 201
  `{"data": {"dm_conversation_id", "dm_event_id"}}`; one attachment at most, uploaded beforehand through
  `POST /2/media/upload` with a `dm_*` media category. No idempotency key: an unknown send is settled by
  reading the conversation back.
- Scopes `dm.read dm.write tweet.read users.read` (+ `media.write` for attachments). Every DM endpoint allows
  200 requests per 15 minutes per user (`core.platforms`: X's ChatPolicy.rate); `x-rate-limit-limit/-remaining/
  -reset` (epoch seconds) on every answer, 429 when spent. Errors are problem JSON `{title, detail, status}`.
- There is no "mark read" in v2: `mark_read` does nothing.

Polling turns the newest-first listing into oldest-first updates: the cursor is the newest event id already
read; a poll reads pages until it meets that id and hands back what is newer, oldest first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from inbox.channels.base import (
    AccountRef,
    AuthError,
    InboundMessage,
    MediaItem,
    PermanentError,
    SendRequest,
    SendResult,
    UnknownOutcome,
    UpdatePage,
)
from inbox.channels.timefmt import not_before, parse_time
from scheduling.connectors.http import client, send

EVENT_FIELDS = "id,event_type,text,sender_id,dm_conversation_id,created_at,attachments"
PAGE_SIZE = 100
PAGES_PER_POLL = 2  # at most 200 new events per poll; more are read by the next polls (see the cursor)
LOOKUP_PAGES = 3
MB = 1024 * 1024


@dataclass(frozen=True)
class _Cursor:
    """Where polling stands. `since`: the newest event id recorded. While a burst larger than one poll
    is being read, `next` is the pagination token of the older pages still to read (down to `since`)
    and `head` the newest id already read; when `next` is done, `head` becomes `since`."""

    since: str | None = None
    head: str | None = None
    next: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> _Cursor:
        if not value:
            return cls()
        if value.startswith("{"):
            try:
                data = json.loads(value)
            except ValueError:
                return cls()
            return cls(since=data.get("since"), head=data.get("head"), next=data.get("next"))
        return cls(since=value)

    def dump(self) -> str | None:
        if self.next:
            return json.dumps({"since": self.since, "head": self.head, "next": self.next}, sort_keys=True)
        return self.since


class XChannel:
    """`ChatChannel` for X DMs, polled (X pushes DMs only through the enterprise Account Activity API)."""

    platform = "x"
    max_requests_per_poll = PAGES_PER_POLL + 1  # + `GET /2/users/me` when the account's user id is not stored

    def send(self, request: SendRequest) -> SendResult:
        if request.price_minor:
            raise PermanentError("X DMs have no paid messages.")
        if len(request.media) + len(request.media_ids) > 1:
            raise PermanentError("An X DM carries one attachment at most.")
        if not request.fan_id:
            raise PermanentError("The fan's X user id is unknown: nothing to write to.")
        with _http(request.account) as http:
            media_ids = list(request.media_ids) or [_upload(http, item) for item in request.media]
            body: dict[str, Any] = {"text": request.text}
            if media_ids:
                body["attachments"] = [{"media_id": media_id} for media_id in media_ids]
            if not request.text:
                body.pop("text")
            response = send(http, "POST", f"/2/dm_conversations/with/{request.fan_id}/messages", creates=True,
                            json=body)
        data = _data(response)
        event_id = str(data.get("dm_event_id") or "")
        if not event_id:
            raise UnknownOutcome("X answered the DM without an event id.")
        return SendResult(external_id=event_id, sent_at=timezone.now(),
                          raw={"dm_conversation_id": data.get("dm_conversation_id", ""), "dm_event_id": event_id})

    def lookup_sent(self, request: SendRequest) -> SendResult | None:
        """Our DM with this text in the 1-1 conversation, sent at or after `options["not_before"]` and not one
        of `options["known_ids"]`, read back newest first. X rewrites links (t.co), so text is compared without
        them. When LOOKUP_PAGES pages do not reach back that far, `UnknownOutcome`."""
        since = not_before(request.options)
        known = set(request.options.get("known_ids") or ())
        wanted = _normalise(request.text)
        params: dict[str, Any] = {"event_types": "MessageCreate", "dm_event.fields": EVENT_FIELDS,
                                  "max_results": PAGE_SIZE}
        with _http(request.account) as http:
            me = _me(http, request.account)
            for _ in range(LOOKUP_PAGES):
                body = _json(send(http, "GET", f"/2/dm_conversations/with/{request.fan_id}/dm_events",
                                  params=params))
                for event in body.get("data") or []:
                    created = parse_time(event.get("created_at"))
                    if since is not None and created is not None and created < since:
                        return None
                    if (str(event.get("sender_id")) == me and _normalise(str(event.get("text") or "")) == wanted
                            and str(event.get("id")) not in known):
                        return SendResult(external_id=str(event["id"]), sent_at=created,
                                          raw={"dm_conversation_id": event.get("dm_conversation_id", ""),
                                               "dm_event_id": str(event["id"])})
                token = (body.get("meta") or {}).get("next_token")
                if not token:
                    return None
                params["pagination_token"] = token
        raise UnknownOutcome(f"More than {LOOKUP_PAGES * PAGE_SIZE} DMs with this fan since the send: look for it "
                             f"in the conversation on X.")

    def fetch_updates(self, account: AccountRef, cursor: str | None) -> UpdatePage:
        """DMs newer than the cursor, oldest first, and the cursor to resume from.

        Pages are read newest first until the cursor's event is met (or the 30-day history ends), at most
        PAGES_PER_POLL of them. A larger burst is finished by the next polls, which read the remaining older
        pages first (the cursor keeps X's pagination token); should X refuse that token, the listing is read
        again from the top and `receive` records nothing twice. The first poll (no cursor) takes the newest
        PAGES_PER_POLL pages only: older history is not imported.
        """
        state = _Cursor.parse(cursor)
        token, head = state.next, state.head
        events: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        done = False
        with _http(account) as http:
            me = _me(http, account)
            pages = 0
            while pages < PAGES_PER_POLL:
                params: dict[str, Any] = {"event_types": "MessageCreate", "dm_event.fields": EVENT_FIELDS,
                                          "expansions": "sender_id", "user.fields": "username,name",
                                          "max_results": PAGE_SIZE}
                if token:
                    params["pagination_token"] = token
                try:
                    body = _json(send(http, "GET", "/2/dm_events", params=params))
                except AuthError:
                    raise
                except PermanentError as exc:
                    if token and exc.status == 400:  # a pagination token X no longer honours
                        token, head = None, None
                        pages += 1
                        continue
                    raise
                pages += 1
                for user in (body.get("includes") or {}).get("users") or []:
                    users[str(user.get("id"))] = user
                for event in body.get("data") or []:
                    event_id = str(event.get("id") or "")
                    if not event_id.isdigit():
                        continue
                    if state.since is not None and int(event_id) <= int(state.since):
                        done = True
                        break
                    if head is None or int(event_id) > int(head):
                        head = event_id
                    events.append(event)
                if done:
                    break
                token = (body.get("meta") or {}).get("next_token")
                if not token:
                    done = True
                    break
        if done or state.since is None:
            following = _Cursor(since=head or state.since)
        else:
            following = _Cursor(since=state.since, head=head, next=token)
        unique = {str(e["id"]): e for e in events}
        ordered = sorted(unique.values(), key=lambda e: int(e["id"]))
        messages = [m for m in (_inbound(e, me, users) for e in ordered) if m is not None]
        return UpdatePage(messages=messages, cursor=following.dump())

    def mark_read(self, account: AccountRef, chat_id: str, fan_id: str) -> None:
        """Nothing to do: the X API v2 has no read receipts or "mark read" endpoint for DMs (the fan sees
        a DM read only when the account opens it in an X client)."""


# --- Wire details -------------------------------------------------------------------------------------------


def _http(account: AccountRef) -> httpx.Client:
    token = account.credentials.get("access_token")
    if not token:
        raise AuthError(f"X @{account.handle} has no access token; connect the account.")
    return client(settings.X_API_URL, headers={"Authorization": f"Bearer {token}"})


def _me(http: httpx.Client, account: AccountRef) -> str:
    """The account's own user id: stored on the account, else asked once (`GET /2/users/me`)."""
    if account.external_id:
        return str(account.external_id)
    return str(_data(send(http, "GET", "/2/users/me")).get("id") or "")


def _inbound(event: dict[str, Any], me: str, users: dict[str, dict[str, Any]]) -> InboundMessage | None:
    """A 1-1 DM seen from the account: "out" when the account sent it (from an X client), else "in"."""
    conversation = str(event.get("dm_conversation_id") or "")
    sender = str(event.get("sender_id") or "")
    ids = conversation.split("-")
    if len(ids) != 2 or me not in ids:
        return None  # a group conversation: not a fan's DM
    fan_id = ids[1] if ids[0] == me else ids[0]
    outgoing = sender == me
    user = users.get(fan_id) or {}
    media = tuple({"media_key": key} for key in (event.get("attachments") or {}).get("media_keys") or ())
    return InboundMessage(external_id=str(event["id"]), chat_id=conversation, fan_id=fan_id,
                          sent_at=parse_time(event.get("created_at")) or timezone.now(),
                          text=str(event.get("text") or ""), fan_handle=str(user.get("username") or ""),
                          fan_name=str(user.get("name") or ""), direction="out" if outgoing else "in",
                          media=media, raw=event)


def _upload(http: httpx.Client, item: MediaItem) -> str:
    """INIT → APPEND… → FINALIZE with a DM media category; returns the media id. DM media are small
    (images 5 MB, GIFs 15 MB): no processing wait is needed for images, videos are refused here."""
    category = "dm_gif" if item.mime == "image/gif" else "dm_image" if item.mime.startswith("image/") else ""
    if not category:
        raise PermanentError("Only an image or a GIF can be attached to an X DM from here.")
    total = os.path.getsize(item.path)
    init = send(http, "POST", "/2/media/upload", files=_form(
        command="INIT", media_type=item.mime, total_bytes=str(total), media_category=category))
    media_id = str(_data(init).get("id") or "")
    with open(item.path, "rb") as fh:
        index = 0
        while chunk := fh.read(min(settings.X_UPLOAD_CHUNK_BYTES, 5 * MB)):
            send(http, "POST", "/2/media/upload", files=[
                *_form(command="APPEND", media_id=media_id, segment_index=str(index)),
                ("media", (os.path.basename(item.path), chunk, "application/octet-stream"))])
            index += 1
    send(http, "POST", "/2/media/upload", files=_form(command="FINALIZE", media_id=media_id))
    return media_id


def _form(**fields: str) -> list[tuple[str, tuple[None, str]]]:
    return [(name, (None, value)) for name, value in fields.items()]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _data(response: httpx.Response) -> dict[str, Any]:
    data = _json(response).get("data")
    return data if isinstance(data, dict) else {}


def _normalise(text: str) -> str:
    """X rewrites links to t.co: compare what is left."""
    return " ".join(word for word in text.split() if not word.lower().startswith(("http://", "https://")))
