"""Factories for the inbox: conversations are made the way a platform makes them, by a fan's message
arriving through `inbox.services.receive`."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.utils import timezone

from inbox import services
from inbox.channels.base import InboundMessage
from inbox.models import Conversation, Message
from scheduling.models import PlatformAccount

_ids = itertools.count(1)


def incoming(*, fan_id: str = "fan-1", text: str = "hi", chat_id: str = "", external_id: str | None = None,
             sent_at: datetime | None = None, **kwargs: object) -> InboundMessage:
    return InboundMessage(external_id=external_id if external_id is not None else f"m-{next(_ids)}",
                          chat_id=chat_id, fan_id=fan_id, sent_at=sent_at or timezone.now(), text=text,
                          fan_handle=kwargs.pop("fan_handle", f"@{fan_id}"), **kwargs)  # type: ignore[arg-type]


def fan_writes(account: PlatformAccount, text: str = "hi", *, fan_id: str = "fan-1", **kwargs: object) -> Message:
    """A fan's message arrives; returns it (its conversation is `message.conversation`)."""
    message = services.receive(account, incoming(fan_id=fan_id, text=text, **kwargs))
    assert message is not None
    return message


def conversation(account: PlatformAccount, *, fan_id: str = "fan-1", text: str = "hi") -> Conversation:
    return fan_writes(account, text, fan_id=fan_id).conversation
