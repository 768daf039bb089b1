"""A fake Telegram Bot API: `/bot<token>/<method>` with multipart uploads and `attach://` references
checked the way Telegram checks them, and Telegram's `{"ok": false, ...}` error bodies."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from tests.scheduling.fakes.base import FakePlatform, Received, Reply
from tests.scheduling.fakes.reddit import Part, parse_multipart


def tg_error(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, body)


# What the fake keeps about a message for the tests, but Telegram would not send back.
RECORD_ONLY = ("upload", "fields", "input")


def ok(result: dict[str, Any] | list[dict[str, Any]]) -> Reply:
    def public(message: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in message.items() if k not in RECORD_ONLY}

    body = [public(m) for m in result] if isinstance(result, list) else public(result)
    return Reply(200, {"ok": True, "result": body})


class FakeTelegram(FakePlatform):
    routes = [("POST", r"/bot([^/]+)/(\w+)", "method")]
    TOKEN = "123456:AAH-secret-bot-token"

    def __init__(self) -> None:
        super().__init__()
        self.chats = {"@atelier_channel": {"id": -1001234567890, "type": "channel", "title": "Atelier",
                                           "username": "atelier_channel"}}
        self.messages: dict[int, dict[str, Any]] = {}
        self.undeletable: set[int] = set()
        self.ids = itertools.count(100)

    def method(self, received: Received, match: re.Match) -> Reply:
        if match.group(1) != self.TOKEN:
            return tg_error(401, "Unauthorized")
        handler = getattr(self, f"m_{match.group(2)}", None)
        if handler is None:
            return tg_error(404, "Not Found")
        fields, files = self._fields(received)
        chat = self.chats.get(str(fields.get("chat_id")))
        if chat is None:
            return tg_error(400, "Bad Request: chat not found")
        return handler(chat, fields, files)

    def _fields(self, received: Received) -> tuple[dict[str, Any], dict[str, Part]]:
        content_type = received.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            parts = parse_multipart(received)
            fields = {p.name: p.data.decode() for p in parts if p.filename is None}
            return fields, {p.name: p for p in parts if p.filename is not None}
        if content_type.startswith("application/json"):
            return received.json(), {}
        return received.form(), {}

    def _message(self, chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        message = {"message_id": next(self.ids), "date": 1_760_000_000, "chat": chat,
                   "sender_chat": chat, **content}
        self.messages[message["message_id"]] = message
        return message

    def _resolve(self, media: list[dict[str, Any]], files: dict[str, Part]) -> Reply | None:
        for item in media:
            ref = item.get("media", "")
            if not ref.startswith("attach://") or ref[len("attach://"):] not in files:
                return tg_error(400, f"Bad Request: wrong file identifier/HTTP URL specified ({ref})")
            item["file"] = files[ref[len("attach://"):]]
        return None

    # --- methods ---
    def m_sendMessage(self, chat, fields, files) -> Reply:
        text = fields.get("text", "")
        if not text or len(text) > 4096:
            return tg_error(400, "Bad Request: message is too long" if text else "Bad Request: message text is empty")
        return ok(self._message(chat, text=text))

    def _single(self, chat, fields, files, kind: str) -> Reply:
        if kind not in files:
            return tg_error(400, f"Bad Request: there is no {kind} in the request")
        if len(fields.get("caption", "")) > 1024:
            return tg_error(400, "Bad Request: message caption is too long")
        message = self._message(chat, caption=fields.get("caption", ""),
                                has_media_spoiler=fields.get("has_spoiler") == "true",
                                **{kind: [{"file_id": f"F{next(self.ids)}", "file_size": len(files[kind].data)}]})
        message["upload"] = files[kind]
        message["fields"] = fields
        return ok(message)

    def m_sendPhoto(self, chat, fields, files) -> Reply:
        return self._single(chat, fields, files, "photo")

    def m_sendVideo(self, chat, fields, files) -> Reply:
        return self._single(chat, fields, files, "video")

    def m_sendMediaGroup(self, chat, fields, files) -> Reply:
        media = json.loads(fields.get("media", "[]"))
        if not 2 <= len(media) <= 10:
            return tg_error(400, "Bad Request: wrong number of media in the group")
        if failed := self._resolve(media, files):
            return failed
        group = str(next(self.ids))
        result = [self._message(chat, media_group_id=group, caption=m.get("caption", ""),
                                has_media_spoiler=bool(m.get("has_spoiler")), input=m) for m in media]
        return ok(result)

    def m_sendPaidMedia(self, chat, fields, files) -> Reply:
        media = json.loads(fields.get("media", "[]"))
        stars = int(fields.get("star_count", "0"))
        if not 1 <= stars <= 25_000:
            return tg_error(400, "Bad Request: STARS_AMOUNT_INVALID")
        if not 1 <= len(media) <= 10:
            return tg_error(400, "Bad Request: wrong number of paid media")
        if failed := self._resolve(media, files):
            return failed
        message = self._message(chat, caption=fields.get("caption", ""),
                                paid_media={"star_count": stars, "paid_media": [{"type": "preview"}] * len(media)},
                                input=media)
        return ok(message)

    def m_deleteMessages(self, chat, fields, files) -> Reply:
        ids = fields.get("message_ids") or []
        if any(i in self.undeletable for i in ids):
            return tg_error(400, "Bad Request: message can't be deleted")
        for i in ids:
            self.messages.pop(i, None)  # missing ones are skipped, as Telegram does
        return Reply(200, {"ok": True, "result": True})
