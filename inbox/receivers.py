"""What the inbox does when something happens: its own signals and analytics' processed events.

- `message_queued`: the message goes to a worker when its transaction commits (`delivery.claim_now`).
- `message_received`: a fan's message that signals a minor (a stated age under 18, minor terms, as
  `compliance.hardblock` reads them) holds the conversation for compliance (`services.hold`).
- `analytics.ingest.event_processed`: a Fanvue purchase naming one of our messages (`messageUuid`) credits
  that message, the chatter who sent it and the shift they were on, once per transaction.
- `message_sent`, and `message_received` of a creator-side message: a purchase that named the message before
  it had its platform id (an unknown send settled later, a PPV from the creator's phone read by
  reconciliation) is credited then.

Connected from `InboxConfig.ready()`.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from analytics.ingest import PURCHASE, TIP, event_processed, sales_naming_message
from analytics.models import Fan, InboundEvent, Transaction
from compliance.hardblock import MINOR, screen_text
from inbox import delivery, services, signals
from inbox.models import Conversation, Message, ReportingEvent


@receiver(signals.message_queued, dispatch_uid="inbox.deliver_when_queued")
def _deliver_when_queued(sender: Any, message: Message, **_: Any) -> None:
    delivery.claim_now(message)


@receiver(signals.message_received, dispatch_uid="inbox.hold_on_minor_signal")
def _hold_on_minor_signal(sender: Any, message: Message, conversation: Conversation, **_: Any) -> None:
    if message.direction != Message.Direction.IN or not message.text:
        return
    hits = [hit for hit in screen_text(message.text) if hit.category == MINOR]
    if not hits:
        return
    said = ", ".join(f"“{hit.excerpt}”" for hit in hits)
    services.hold(conversation, f"The fan wrote {said}: this may be a minor.", message=message)


@receiver(event_processed, dispatch_uid="inbox.credit_purchase")
def _credit_purchase(sender: Any, event: InboundEvent, kind: str, data: dict[str, Any], fan: Fan | None,
                     transaction: Transaction | None, **_: Any) -> None:
    if kind not in (PURCHASE, TIP) or transaction is None or not data.get("messageUuid"):
        return
    credit_message(event, str(data["messageUuid"]), fan=fan, tx=transaction, bought=kind == PURCHASE)


@receiver(signals.message_sent, dispatch_uid="inbox.credit_earlier_purchases_when_sent")
def _credit_earlier_purchases_when_sent(sender: Any, message: Message, **_: Any) -> None:
    credit_earlier_sales(message)


@receiver(signals.message_received, dispatch_uid="inbox.credit_earlier_purchases_when_recorded")
def _credit_earlier_purchases_when_recorded(sender: Any, message: Message, **_: Any) -> None:
    if message.direction == Message.Direction.OUT:
        credit_earlier_sales(message)


def credit_earlier_sales(message: Message) -> int:
    """Credit the sales that named this message before we knew it by its platform id: a PPV whose send timed
    out after the platform took it, bought before the lookup gave it its id, or one the creator sent from her
    phone, bought before reconciliation read it. `credit_purchase` keeps it once per sale."""
    if not message.external_id or message.direction != Message.Direction.OUT:
        return 0
    credited = 0
    # Since it was written: on the platform (`sent_at`, the creator's phone, read by us later) or here.
    since = min(message.created_at, message.sent_at or message.created_at)
    for event, sale in sales_naming_message(message.account_id, message.external_id, since=since):
        if credit_message(event, message.external_id, fan=sale.fan, tx=sale, bought=event.kind == PURCHASE):
            credited += 1
    return credited


def credit_message(event: InboundEvent, message_uuid: str, *, fan: Fan | None, tx: Transaction,
                   bought: bool) -> ReportingEvent | None:
    """Tie a sale to the message it came from. A purchase unlocks the message (`purchased_at`, its
    transaction); a tip on a message only credits it. Credited once per transaction, whatever replays."""
    message = (Message.objects.select_related("conversation").filter(
        account_id=event.account_id, external_id=message_uuid, direction=Message.Direction.OUT).first())
    if message is None or (fan is not None and message.conversation.fan_id != fan.pk):
        return None
    if not services.credit_purchase(message, tx, unlocks=bought):
        return None
    return ReportingEvent.objects.get(kind=ReportingEvent.Kind.PURCHASE_CREDITED, transaction=tx)
