"""Telegram: posts to a channel through the Bot API (https://core.telegram.org/bots/api).

- Calls are `POST https://api.telegram.org/bot<token>/<method>`; the token sits in the URL path,
  so request URLs must never be logged (settings quiet the `httpx` logger for that reason).
- Text only → `sendMessage` (4096 characters). One photo or video → `sendPhoto`/`sendVideo` with
  the file as multipart. 2–10 items → `sendMediaGroup`: `media` is a JSON array of InputMedia
  whose `media` fields say `attach://<part name>`, and the files ride in the same multipart body.
  Captions are limited to 1024 characters and sit on the first item of a group.
- `has_spoiler` blurs suggestive and explicit media until tapped.
- Paid posts → `sendPaidMedia` with `star_count`, when the post has a price and the account's
  options allow it (`paid_media: true`, plus `star_count` or `stars_per_unit` = Stars per 1.00 of
  the post's currency). Telegram Stars are not a currency, so the conversion is the agency's call.
- Errors: `{"ok": false, "error_code": 429, "description": "...", "parameters": {"retry_after": N}}`.
  The wait is in the body, not a header, so it is read here. 401 means the bot token was revoked.
- The Bot API cannot read a channel's history, so `lookup` cannot find a post and returns None;
  nor does it expose view counts to bots, so `fetch_metrics` returns nothing. Bot tokens do not
  expire, so there is nothing to refresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import httpx
from django.conf import settings

from core import platforms
from scheduling.connectors.base import (
    AccountRef,
    AuthError,
    PermanentError,
    PublishRequest,
    PublishResult,
    TransientError,
    UnknownOutcome,
    common_validation,
    limits_for,
)
from scheduling.connectors.http import client, send

TEXT, MEDIA, _ = platforms.get("telegram").publishing_limits()
MAX_CAPTION = TEXT.caption_length or TEXT.max_length
MAX_PHOTO_BYTES = MEDIA.max_image_bytes or MEDIA.max_bytes
# sendPaidMedia accepts 1–25000 Stars (raised from 2500 and then 10000 in later Bot API versions).
MAX_STARS = 25_000
PHOTO_TYPES = MEDIA.image_types
VIDEO_TYPES = MEDIA.video_types


def star_count(request: PublishRequest) -> int | None:
    """The paid-media price in Stars, or None when this post goes out free on this account."""
    options = request.options
    if not request.price_minor or not options.get("paid_media"):
        return None
    if options.get("star_count"):
        return int(options["star_count"])
    if options.get("stars_per_unit"):
        return max(1, round(request.price_minor / 100 * float(options["stars_per_unit"])))
    return 0  # paid, but no way to price it: validation explains


class TelegramConnector:
    platform = "telegram"
    # The Bot API cannot read a channel's history: no lookup can tell, a person checks.
    lookup_settle_seconds = None
    how_to_check = ("Open the channel in Telegram and look for a message with exactly this text around the due "
                    "time; the Bot API cannot read it back.")
    limits = limits_for("telegram")

    def validate(self, request: PublishRequest) -> list[str]:
        problems = common_validation(self.limits, request)
        if not request.options.get("chat_id"):
            problems.append("Set the channel (chat_id, e.g. @mychannel or -100…) in the account's options.")
        if request.media and len(request.text) > MAX_CAPTION:
            problems.append(f"The caption has {len(request.text)} characters; Telegram allows {MAX_CAPTION} "
                            f"with media.")
        for item in request.media:
            if item.mime in PHOTO_TYPES and item.size > MAX_PHOTO_BYTES:
                problems.append("Telegram accepts photos up to 10 MB.")
        stars = star_count(request)
        if stars is not None:
            if not request.media:
                problems.append("A paid Telegram post needs at least one photo or video.")
            if stars == 0:
                problems.append("Paid media is on for this account but no price in Stars is set "
                                "(star_count or stars_per_unit in the account's options).")
            elif not 1 <= stars <= MAX_STARS:
                problems.append(f"{stars} Stars is outside Telegram's 1–{MAX_STARS} range.")
        return problems

    def publish(self, request: PublishRequest) -> PublishResult:
        chat_id = str(request.options.get("chat_id") or "")
        if not chat_id:
            raise PermanentError("No channel is set for this Telegram account.")
        spoiler = request.rating in ("suggestive", "explicit")
        stars = star_count(request)
        with self._client(request.account) as http:
            result = send_to_chat(http, chat_id, request.text, request.media, spoiler=spoiler, stars=stars)
        messages = result if isinstance(result, list) else [result]
        if not messages or not all(isinstance(m, dict) and "message_id" in m for m in messages):
            raise UnknownOutcome("Telegram answered without the sent message.")
        return PublishResult(external_id=",".join(str(m["message_id"]) for m in messages),
                             url=_message_link(messages[0]))

    def lookup(self, request: PublishRequest) -> PublishResult | None:
        return None

    def unpublish(self, account: AccountRef, external_id: str) -> bool:
        """Delete every message of the post; False when Telegram will not (too old, no rights)."""
        chat_id = str(account.options.get("chat_id") or "")
        ids = [int(part) for part in external_id.split(",") if part.strip()]
        if not chat_id or not ids:
            return False
        with self._client(account) as http:
            try:
                self._call(http, "deleteMessages", json={"chat_id": chat_id, "message_ids": ids})
            except AuthError:
                raise
            except PermanentError:
                return False
        return True

    def fetch_metrics(self, account: AccountRef, external_id: str) -> dict[str, int]:
        return {}

    def refresh(self, account: AccountRef) -> dict[str, Any] | None:
        return None

    # --- plumbing -----------------------------------------------------------------------------

    def _client(self, account: AccountRef) -> httpx.Client:
        return bot_client(account)

    def _call(self, http: httpx.Client, method: str, *, creates: bool = False, **kwargs: Any) -> Any:
        return call_bot(http, method, creates=creates, **kwargs)


def send_to_chat(http: httpx.Client, chat_id: str, text: str, media: Sequence[Any], *, spoiler: bool,
                 stars: int | None = None, paid_payload: str = "") -> Any:
    """Send text, one photo or video, an album, or paid media (`stars`) to a chat, and return what the Bot
    API answered: one message, or a list for an album. Shared by channel posts (the connector) and fans'
    private chats (the inbox), which differ only in how they choose the chat, the spoiler and the price.
    Each item needs `.path` and `.mime`."""
    with ExitStack() as files:
        def attach(index: int, path: str, mime: str) -> tuple[str, Any, str]:
            return os.path.basename(path) or f"file{index}", files.enter_context(open(path, "rb")), mime

        uploads = {f"file{i}": attach(i, m.path, m.mime) for i, m in enumerate(media)}
        if stars is not None:  # a price of 0 is refused by Telegram, never sent as free media
            items = [{"type": media_kind(m.mime), "media": f"attach://file{i}"} for i, m in enumerate(media)]
            data = {"chat_id": chat_id, "star_count": str(stars), "media": json.dumps(items)}
            if paid_payload:
                data["payload"] = paid_payload
            if text:
                data["caption"] = text
            return call_bot(http, "sendPaidMedia", creates=True, data=data, files=uploads)
        if len(media) > 1:
            group = []
            for i, item in enumerate(media):
                entry: dict[str, Any] = {"type": media_kind(item.mime), "media": f"attach://file{i}"}
                if spoiler:
                    entry["has_spoiler"] = True
                if i == 0 and text:
                    entry["caption"] = text
                group.append(entry)
            return call_bot(http, "sendMediaGroup", creates=True,
                            data={"chat_id": chat_id, "media": json.dumps(group)}, files=uploads)
        if media:
            kind = media_kind(media[0].mime)
            data = {"chat_id": chat_id}
            if text:
                data["caption"] = text
            if spoiler:
                data["has_spoiler"] = "true"
            if kind == "video":
                data["supports_streaming"] = "true"
            return call_bot(http, "sendVideo" if kind == "video" else "sendPhoto", creates=True, data=data,
                            files={kind: uploads["file0"]})
        return call_bot(http, "sendMessage", creates=True, json={"chat_id": chat_id, "text": text})


def bot_client(account: AccountRef) -> httpx.Client:
    """A client for one bot's methods (`<TELEGRAM_API_URL>/bot<token>/`), flood-control waits read from
    the body. Shared with the inbox's private-chat channel: one bot token, one way of calling it."""
    token = account.credentials.get("bot_token")
    if not token:
        raise AuthError("The Telegram account has no bot token: connect it again.")
    http = client(f"{settings.TELEGRAM_API_URL}/bot{token}/")
    http.event_hooks["response"].append(_raise_flood_wait)
    return http


def call_bot(http: httpx.Client, method: str, *, creates: bool = False, **kwargs: Any) -> Any:
    """Call one Bot API method and return its `result`; `creates=True` for the call that sends a message
    (a failure after it left is `UnknownOutcome`)."""
    response = send(http, "POST", method, creates=creates, **kwargs)
    try:
        body = response.json()
    except ValueError as exc:
        if creates:
            raise UnknownOutcome("Telegram answered with something other than its JSON.") from exc
        raise TransientError("Telegram answered with something other than its JSON.") from exc
    if not isinstance(body, dict) or not body.get("ok"):
        description = body.get("description", "request refused") if isinstance(body, dict) else "request refused"
        raise PermanentError(f"Telegram: {description}")
    return body.get("result")


def _raise_flood_wait(response: httpx.Response) -> None:
    """Telegram puts the flood-control wait in the body (`parameters.retry_after`), not a header."""
    if response.status_code != 429:
        return
    response.read()
    try:
        body = response.json()
    except ValueError:
        return
    wait = (body.get("parameters") or {}).get("retry_after") if isinstance(body, dict) else None
    if wait is not None:
        raise TransientError(f"Telegram: {body.get('description', 'Too Many Requests')}", status=429,
                             retry_after=float(wait))


def media_kind(mime: str) -> str:
    """`video` or `photo`: the InputMedia type Telegram expects for a file of this type."""
    return "video" if mime in VIDEO_TYPES else "photo"


def _message_link(message: dict[str, Any]) -> str:
    chat = message.get("chat") or {}
    if chat.get("username"):
        return f"https://t.me/{chat['username']}/{message['message_id']}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message['message_id']}"
    return ""
