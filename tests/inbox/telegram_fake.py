"""A fake Telegram Bot API for a bot's private chats, and Telegram's side of the webhook.

It extends the publishing tests' fake (`/bot<token>/<method>`, multipart uploads, `{"ok": false,
"error_code", "description", "parameters": {"retry_after"}}` errors) with what a chatting bot meets: private
chats keyed by the user's id, users who blocked the bot (403), `sendPaidMedia`'s `payload`, `setWebhook`
checking `secret_token` the way Telegram does, and `answerPreCheckoutQuery`. `Updates` builds the JSON
Telegram posts to a webhook, and `deliver` posts it with the secret header as Telegram would.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.urls import reverse

from analytics import ingest
from analytics.models import WebhookReceiver
from scheduling.models import PlatformAccount
from scheduling.services import store_credentials
from tests.scheduling.fakes.base import Received, Reply, serve
from tests.scheduling.fakes.telegram import FakeTelegram, tg_error

SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
BOT = {"id": 7000001, "is_bot": True, "first_name": "Luna", "username": "luna_bot"}


class FakeBotApi(FakeTelegram):
    CHATLESS = ("setWebhook", "getWebhookInfo", "answerPreCheckoutQuery")

    def __init__(self) -> None:
        super().__init__()
        self.blocked: set[str] = set()
        self.webhook: dict[str, Any] = {}
        self.checkout_answers: list[dict[str, Any]] = []

    def add_fan(self, user_id: int, username: str = "", first_name: str = "Sam") -> dict[str, Any]:
        chat = {"id": user_id, "type": "private", "first_name": first_name}
        if username:
            chat["username"] = username
        self.chats[str(user_id)] = chat
        return chat

    def sent_to(self, user_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["chat"]["id"] == user_id]

    def method(self, received: Received, match: re.Match) -> Reply:
        name = match.group(2)
        if match.group(1) != self.TOKEN:
            return tg_error(401, "Unauthorized")
        fields, _ = self._fields(received)
        if name in self.CHATLESS:
            return getattr(self, f"c_{name}")(fields)
        if str(fields.get("chat_id")) in self.blocked:
            return tg_error(403, "Forbidden: bot was blocked by the user")
        return super().method(received, match)

    def _message(self, chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        message = super()._message(chat, **content)
        if chat.get("type") == "private":  # in a private chat the bot is the sender, there is no sender_chat
            message.pop("sender_chat", None)
            message["from"] = BOT
        return message

    def m_sendPaidMedia(self, chat, fields, files) -> Reply:
        payload = fields.get("payload", "")
        if len(payload.encode()) > 128:
            return tg_error(400, "Bad Request: paid media payload is too long")
        reply = super().m_sendPaidMedia(chat, fields, files)
        if reply.status == 200:
            self.messages[reply.body["result"]["message_id"]]["payload"] = payload
        return reply

    # --- methods without a chat ---
    def c_setWebhook(self, fields: dict[str, Any]) -> Reply:
        url, secret = fields.get("url", ""), fields.get("secret_token")
        if url and not url.startswith("https://"):
            return tg_error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not SECRET_RE.match(secret):
            return tg_error(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(fields)
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was set"})

    def c_getWebhookInfo(self, fields: dict[str, Any]) -> Reply:
        return Reply(200, {"ok": True, "result": {"url": self.webhook.get("url", ""), "pending_update_count": 0}})

    def c_answerPreCheckoutQuery(self, fields: dict[str, Any]) -> Reply:
        if not fields.get("ok") and not fields.get("error_message"):
            return tg_error(400, "Bad Request: error_message is required when ok is False")
        self.checkout_answers.append(dict(fields))
        return Reply(200, {"ok": True, "result": True})


class Updates:
    """What Telegram posts to the webhook, one `update_id` after the other."""

    def __init__(self) -> None:
        self.ids = itertools.count(900_000_001)
        self.message_ids = itertools.count(1)
        # Today: a sale dated on a day already rolled up would queue that day's rollup again.
        self.date = int(time.time())

    @staticmethod
    def user(user_id: int, username: str = "", first_name: str = "Sam", last_name: str = "") -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        return user

    def wrap(self, **content: Any) -> dict[str, Any]:
        return {"update_id": next(self.ids), **content}

    def message(self, user: dict[str, Any], text: str = "", **extra: Any) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        body: dict[str, Any] = {"message_id": next(self.message_ids), "from": user, "chat": chat,
                                "date": self.date, **extra}
        if text:
            body["text"] = text
            if text.startswith("/"):
                body["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return self.wrap(message=body)

    def paid_media_bought(self, user: dict[str, Any], payload: str) -> dict[str, Any]:
        return self.wrap(purchased_paid_media={"from": user, "paid_media_payload": payload})

    def pre_checkout(self, user: dict[str, Any], payload: str, amount: int, currency: str = "XTR") -> dict[str, Any]:
        return self.wrap(pre_checkout_query={"id": f"pcq-{next(self.message_ids)}", "from": user,
                                             "currency": currency, "total_amount": amount,
                                             "invoice_payload": payload})

    def paid(self, user: dict[str, Any], payload: str, amount: int, charge_id: str) -> dict[str, Any]:
        return self.message(user, successful_payment={
            "currency": "XTR", "total_amount": amount, "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": ""})


def deliver(client: Any, url: str, update: Any, secret: str | None, *, raw: bytes | None = None) -> Any:
    """POST an update the way Telegram does: JSON body, the secret in its header (when it has one)."""
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    body = raw if raw is not None else json.dumps(update).encode()
    return client.post(url, data=body, content_type="application/json", **headers)


@contextmanager
def running_bot(settings: Any) -> Iterator[FakeBotApi]:
    """The fake Bot API on a local port, with the settings pointing at it (reads time out after 1 s)."""
    with serve(FakeBotApi()) as api:
        settings.TELEGRAM_API_URL = api.url
        settings.CONNECTOR_TIMEOUT_SECONDS = 1
        settings.ATELIER_BASE_URL = "https://atelier.example"
        yield api


def connect(account: PlatformAccount) -> None:
    store_credentials(account, {"bot_token": FakeBotApi.TOKEN})


def open_receiver(account: PlatformAccount) -> tuple[WebhookReceiver, str, str]:
    """The account's receiver, its secret (what setWebhook passes as secret_token) and its path."""
    receiver, secret = ingest.create_receiver(account)
    return receiver, secret, reverse("inbox_telegram_webhook", kwargs={"token": receiver.token})
