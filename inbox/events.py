"""Outbound webhook events of the inbox: message received, sent and purchased, signed and delivered by
notifications (`notifications.services.send_event`) to the endpoints that name them.

Connected from `InboxConfig.ready()`: `message_received` (a fan's message, or one written on the creator's
side outside Atelier), `message_sent` (the platform took a message we queued) and the purchase credit
(a `ReportingEvent` of kind `purchase_credited` created, whoever credited it). Each runs inside the
writing transaction; the delivery is queued after commit, so a rolled-back write tells nobody.
"""

from __future__ import annotations

from typing import Any

from inbox.models import Message, ReportingEvent
from notifications.services import send_event


def message_data(message: Message) -> dict[str, Any]:
    conversation = message.conversation
    return {"message_id": message.pk, "conversation_id": message.conversation_id, "fan_id": conversation.fan_id,
            "account_id": message.account_id, "platform": conversation.account.platform,
            "direction": message.direction, "origin": message.origin, "text": message.text,
            "price_minor": message.price_minor, "currency": message.currency or None,
            "sent_by": message.sent_by_id, "ai_generated": message.ai_generated,
            "sent_at": (message.sent_at or message.created_at).isoformat(),
            "purchased_at": message.purchased_at.isoformat() if message.purchased_at else None}


def on_message_received(sender: Any, message: Message, **kwargs: Any) -> None:
    kind = "message.received" if message.direction == Message.Direction.IN else "message.sent"
    send_event(kind, creator_id=message.creator_id, key=str(message.pk), data=lambda: message_data(message))


def on_message_sent(sender: Any, message: Message, **kwargs: Any) -> None:
    send_event("message.sent", creator_id=message.creator_id, key=str(message.pk),
               data=lambda: message_data(message))


def on_reporting_event(sender: Any, instance: ReportingEvent, created: bool = False, **kwargs: Any) -> None:
    message_id = instance.message_id
    if not created or instance.kind != ReportingEvent.Kind.PURCHASE_CREDITED or message_id is None:
        return

    def data() -> dict[str, Any]:
        message = Message.objects.select_related("conversation__account").get(pk=message_id)
        return {**message_data(message), "amount_minor": instance.amount_minor, "amount_currency": instance.currency,
                "chatter_id": instance.chatter_id, "transaction_id": instance.transaction_id}

    send_event("message.purchased", creator_id=instance.creator_id,
               key=str(instance.transaction_id or f"m{message_id}"), data=data)
