"""Telegram: a creator's bot talking with fans in private chats (https://core.telegram.org/bots/api).

- The bot token, the base URL (`TELEGRAM_API_URL`), flood-control waits and error mapping are the
  publishing connector's (`scheduling.connectors.telegram.bot_client` / `call_bot`): one bot, one way of
  calling it. Errors arrive as `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`:
  429 → `TransientError` with `parameters.retry_after`; 502/503 (the gateway never handed the call on) and
  refused connections → `TransientError`; a timeout or 500/504 after `send*` left → `UnknownOutcome`;
  401 (token revoked) → `AuthError`; 403 ("bot was blocked by the user") and 400 ("chat not found") →
  `PermanentError`: the token is fine, this fan cannot be written to.
- Text → `sendMessage` (4096 characters). One photo or video → `sendPhoto` / `sendVideo` with the file
  uploaded as multipart; 2–10 → `sendMediaGroup`; captions under media are limited to 1024 characters.
- Paid media → `sendPaidMedia` with `star_count` (the message's price: Stars are `XTR`, which has no minor
  unit, so `price_minor` is the number of Stars) and `payload`, which Telegram hands back in the
  `purchased_paid_media` update when the fan buys: `msg:<message id>` when the pipeline passes
  `options["message_id"]`, else `key:<the message's idempotency key>` (`telegram_updates.paid_message`
  reads both; the prefix keeps a client's key from ever being read as another message's id).
- Pace: Telegram asks bots for about one message a second in one chat (30 a second overall, which the
  platform's `ChatPolicy.rate` budgets). A second send to the same chat within `per_chat_interval` is
  refused before it leaves, as a `TransientError` carrying the wait, rather than earning a 429.
- The Bot API cannot read a private chat back: `lookup_sent` cannot settle an unknown send, a person
  checks (`UnknownOutcome`). Bots have no read receipts: `mark_read` does nothing.
- Updates arrive by webhook only (`inbox.webhooks`, registered with `set_webhook`). `fetch_updates` returns
  an empty page instead of calling `getUpdates`: Telegram refuses `getUpdates` (409) while a webhook is
  set, and `getUpdates` *consumes* what it returns (the next offset confirms it), so a reconciliation
  poll would race the webhook for the same updates. Missed deliveries are Telegram's to retry: it
  keeps an undelivered update and re-sends it until we answer 2xx.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache

from core.slots import redis_client
from inbox.channels.base import (
    AccountRef,
    PermanentError,
    SendRequest,
    SendResult,
    TransientError,
    UnknownOutcome,
    UpdatePage,
)
from scheduling.connectors.telegram import MAX_CAPTION, MAX_STARS, bot_client, call_bot, send_to_chat

MAX_TEXT = 4096
MAX_MEDIA = 10
# What setWebhook asks for: a fan's messages (and the payment messages inside them), the checkout question
# of an invoice, and paid media bought. Nothing else reaches the inbox.
ALLOWED_UPDATES = ("message", "pre_checkout_query", "purchased_paid_media")
HOW_TO_CHECK = ("Open the bot's chat with this fan in Telegram and look for this message around the time it "
                "was sent: the Bot API cannot read a private chat back.")


def payload_for(request: SendRequest) -> str:
    """What Telegram hands back when the fan buys this paid message (0–128 bytes)."""
    message_id = request.options.get("message_id")
    return f"msg:{message_id}" if message_id else f"key:{request.idempotency_key}"


def external_id(chat_id: Any, message_id: Any) -> str:
    """Telegram's message ids are unique within one chat only; ours are unique per bot account."""
    return f"{chat_id}:{message_id}"


class TelegramChannel:
    platform = "telegram"
    per_chat_interval = 1.0  # seconds between two sends to one private chat

    def send(self, request: SendRequest) -> SendResult:
        chat_id = request.chat_id or request.fan_id
        if not chat_id:
            raise PermanentError("No Telegram chat to write to: the fan has not started the bot.")
        self._check(request)
        self._pace(request.account, chat_id)
        stars = request.price_minor
        with bot_client(request.account) as http:
            result = send_to_chat(http, str(chat_id), request.text, request.media,
                                  spoiler=bool(request.options.get("has_spoiler")), stars=stars,
                                  paid_payload=payload_for(request) if stars is not None else "")
        return _result(chat_id, result)

    def lookup_sent(self, request: SendRequest) -> SendResult | None:
        raise UnknownOutcome(HOW_TO_CHECK)

    def fetch_updates(self, account: AccountRef, cursor: str | None) -> UpdatePage:
        return UpdatePage(messages=[], cursor=None)

    def mark_read(self, account: AccountRef, chat_id: str, fan_id: str) -> None:
        return None

    # --- the bot's own calls (webhook set-up, checkout answers) ----------------------------------------------

    def set_webhook(self, account: AccountRef, *, url: str, secret_token: str) -> None:
        """Point the bot at `url`; Telegram then sends `secret_token` in `X-Telegram-Bot-Api-Secret-Token`."""
        with bot_client(account) as http:
            call_bot(http, "setWebhook", json={"url": url, "secret_token": secret_token,
                                               "allowed_updates": list(ALLOWED_UPDATES)})

    def answer_pre_checkout(self, account: AccountRef, query_id: str, *, ok: bool, error_message: str = "") -> None:
        """Telegram waits at most 10 seconds for this answer before it tells the fan the payment failed."""
        body: dict[str, Any] = {"pre_checkout_query_id": query_id, "ok": ok}
        if not ok:
            body["error_message"] = error_message or "This offer is no longer available."
        with bot_client(account) as http:
            call_bot(http, "answerPreCheckoutQuery", json=body)

    # --- plumbing -------------------------------------------------------------------------------------------

    def _check(self, request: SendRequest) -> None:
        """What Telegram would refuse, refused here before anything leaves (no charge, no guess)."""
        if len(request.media) > MAX_MEDIA:
            raise PermanentError(f"Telegram sends at most {MAX_MEDIA} media in one message.")
        limit, where = (MAX_CAPTION, "under media") if request.media else (MAX_TEXT, "in a message")
        if len(request.text) > limit:
            raise PermanentError(f"Telegram allows {limit} characters {where}; this one has {len(request.text)}.")
        if not request.media and not request.text.strip():
            raise PermanentError("A Telegram message needs text or media.")
        if request.price_minor is not None:
            if not request.media:
                raise PermanentError("Paid media on Telegram needs at least one photo or video.")
            if not 1 <= request.price_minor <= MAX_STARS:
                raise PermanentError(f"{request.price_minor} Stars is outside Telegram's 1–{MAX_STARS} range.")
            if request.currency and request.currency != "XTR":
                raise PermanentError(f"Telegram prices paid media in Stars (XTR), not {request.currency}.")
            if len(payload_for(request).encode()) > 128:
                raise PermanentError("The paid media payload is longer than Telegram's 128 bytes.")

    def _pace(self, account: AccountRef, chat_id: str) -> None:
        """Claim this chat's next send slot, or say how long to wait: the claim is made before the call, so
        two workers never send to one chat in the same second."""
        key = f"atelier:telegram:pace:{account.id}:{chat_id}"
        interval_ms = max(1, int(self.per_chat_interval * 1000))
        r = redis_client()
        if r is not None:
            if r.set(key, 1, nx=True, px=interval_ms):
                return
            wait_ms = r.pttl(key)
            raise TransientError("Telegram allows about one message a second in one chat.", status=429,
                                 retry_after=max(wait_ms, 1) / 1000)
        if cache.add(key, 1, timeout=self.per_chat_interval):
            return
        raise TransientError("Telegram allows about one message a second in one chat.", status=429,
                             retry_after=self.per_chat_interval)


def _result(chat_id: str, result: Any) -> SendResult:
    messages = result if isinstance(result, list) else [result]
    if not messages or not all(isinstance(m, dict) and "message_id" in m for m in messages):
        raise UnknownOutcome("Telegram answered without the sent message.")
    first = messages[0]
    chat = first.get("chat") if isinstance(first.get("chat"), dict) else {}
    chat_key = chat.get("id", chat_id)
    sent_at = datetime.fromtimestamp(first["date"], UTC) if isinstance(first.get("date"), int) else None
    return SendResult(external_id=",".join(external_id(chat_key, m["message_id"]) for m in messages),
                      sent_at=sent_at, raw={"result": result})

