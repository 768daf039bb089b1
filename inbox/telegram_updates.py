"""Telegram updates turned into the inbox's rows, in the worker (`analytics.ingest.process_event` runs
`process_update` once per stored update, in one transaction).

What a bot receives (https://core.telegram.org/bots/api#update) and what it becomes:
- `message` in a private chat → `services.receive`: fan = `from.id`, chat = `chat.id`, handle = `username`.
  A fan first appears when they press Start (`/start`, which Telegram sends as their first message): it
  is recorded like any message, so the new fan waits for a greeting. Groups, channels and other bots are
  not fans' chats and are left alone.
- `/paysupport`: Telegram requires bots that take Stars to answer it. The fan's message is recorded, then
  the bot's fixed support notice is sent through the channel directly, after the fan's message is
  committed, and recorded as a PLATFORM-origin message. It is not queued through `services.send`: no
  chatter wrote it, it is not an automation's reply to be gated or disclosed, and it must go even when
  the conversation is held. If it cannot be sent, the fan's `/paysupport` stays waiting in the thread and a
  person answers.
- `pre_checkout_query` (an invoice about to be paid) → answered ok only when its payload names a paid message
  of that fan's conversation that went out (queued, sending, sent, or unknown: holding the invoice proves it
  arrived) at that price and not bought yet.
- `message.successful_payment` (an invoice paid) → a `paid_message` sale keyed on
  `telegram_payment_charge_id`, credited to the message its `invoice_payload` names.
- `purchased_paid_media` (paid media bought; Bot API 7.10) → carries only the buyer and our payload: the sale
  is the message's own price in Stars (`XTR`), keyed on bot, buyer and payload (one buyer unlocks one
  message once), and credited to the message. Telegram gives paid media no charge id in the update; the
  charge id is in `getStarTransactions` only.
A purchase delivered twice is one sale (`record_transaction` keys) and one credit (`services.credit_purchase`).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analytics import ingest
from analytics.models import InboundEvent, Transaction
from inbox import services
from inbox.channels.base import ConnectorError, InboundMessage, SendRequest
from inbox.channels.telegram import TelegramChannel
from inbox.models import Message
from scheduling.models import PlatformAccount
from scheduling.services import account_ref

log = logging.getLogger("inbox.telegram")

PAYSUPPORT_TEXT = ("Payment support: write your question here, with the date of the purchase, and our team "
                   "answers within 48 hours. Telegram's own support cannot help with purchases made in this bot.")
MESSAGE_PAYLOAD_RE = re.compile(r"^msg:([0-9]{1,18})$")
COMMAND_RE = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s|$)")
# A pre-checkout is answered yes only for a paid message that went out and is not bought yet.
CHECKOUT_STATES = frozenset({Message.SendStatus.QUEUED, Message.SendStatus.SENDING, Message.SendStatus.SENT,
                             Message.SendStatus.UNKNOWN})


def process_update(event: InboundEvent) -> None:
    """Registered with `analytics.ingest.register_handler`; a payload we cannot read is a ValidationError,
    which leaves the event unprocessed with its error for a person to look at."""
    update = event.payload
    account = event.account
    if isinstance(update.get("message"), dict):
        _on_message(account, update["message"])
    elif isinstance(update.get("pre_checkout_query"), dict):
        _on_pre_checkout(account, update["pre_checkout_query"])
    elif isinstance(update.get("purchased_paid_media"), dict):
        _on_paid_media_bought(account, update["purchased_paid_media"], event.received_at)
    # Anything else (edits, channel posts, member changes) is not part of a fan's conversation.


def command(text: str) -> str:
    """`start` for "/start", "/start@luna_bot" or "/start ref-42"; "" when the text is not a command."""
    match = COMMAND_RE.match(text or "")
    return match["name"].lower() if match else ""


def paid_message(account: PlatformAccount, payload: str) -> Message | None:
    """The paid message a payload names (`inbox.channels.telegram.payload_for`): `msg:<id>` or `key:<key>`."""
    if not payload:
        return None
    paid = Message.objects.filter(account=account, direction=Message.Direction.OUT, price_minor__isnull=False)
    by_id = MESSAGE_PAYLOAD_RE.match(payload)
    if by_id:
        paid = paid.filter(pk=int(by_id[1]))
    elif payload.startswith("key:") and len(payload) > 4:
        paid = paid.filter(idempotency_key=payload[4:])
    else:
        return None
    return paid.select_related("conversation__fan").first()


# --- Messages -------------------------------------------------------------------------------------------------


def _on_message(account: PlatformAccount, message: dict[str, Any]) -> None:
    chat = message.get("chat")
    sender = message.get("from")
    if not isinstance(chat, dict) or chat.get("type") != "private":
        return
    if not isinstance(sender, dict) or sender.get("is_bot"):
        return
    user_id = _user_id(sender)
    at = _when(message.get("date"))
    if isinstance(message.get("successful_payment"), dict):
        _on_successful_payment(account, sender, message["successful_payment"], at)
        return
    if not _is_int(message.get("message_id")) or not _is_int(chat.get("id")):
        raise ValidationError("The message has no integer message_id or chat id.")
    text = next((v for v in (message.get("text"), message.get("caption")) if isinstance(v, str) and v), "")
    incoming = InboundMessage(
        external_id=f"{chat['id']}:{message['message_id']}", chat_id=str(chat["id"]), fan_id=user_id, sent_at=at,
        text=text, fan_handle=str(sender.get("username") or ""), fan_name=_name(sender),
        media=tuple({"type": kind} for kind in ("photo", "video", "voice", "document", "sticker") if kind in message),
        raw=message)
    recorded = services.receive(account, incoming)
    if recorded is not None and command(text) == "paysupport":
        transaction.on_commit(partial(answer_paysupport, recorded.pk))


def answer_paysupport(fan_message_id: int) -> Message | None:
    """Send the bot's support notice to the fan who asked, and record it (see the module docstring)."""
    asked = Message.objects.select_related("account", "conversation__fan").filter(pk=fan_message_id).first()
    if asked is None:
        return None
    account, conversation = asked.account, asked.conversation
    request = SendRequest(idempotency_key=f"paysupport-{asked.pk}",
                          account=account_ref(account, purpose="inbox: answer /paysupport"),
                          chat_id=conversation.external_id, fan_id=conversation.fan.external_id, text=PAYSUPPORT_TEXT)
    try:
        result = TelegramChannel().send(request)
    except ConnectorError as exc:
        log.warning("the /paysupport answer to message %s was not sent: %s", asked.pk, exc.message)
        return None
    return services.receive(account, InboundMessage(
        external_id=result.external_id, chat_id=conversation.external_id, fan_id=conversation.fan.external_id,
        sent_at=result.sent_at or timezone.now(), text=PAYSUPPORT_TEXT, direction="out", automated=True,
        raw=result.raw))


# --- Payments -------------------------------------------------------------------------------------------------


def _on_pre_checkout(account: PlatformAccount, query: dict[str, Any]) -> None:
    sender = query.get("from")
    if not isinstance(sender, dict) or not query.get("id"):
        raise ValidationError("The pre-checkout query has no id or buyer.")
    message = paid_message(account, str(query.get("invoice_payload") or ""))
    ok = (message is not None and message.conversation.fan.external_id == _user_id(sender)
          and message.send_status in CHECKOUT_STATES and message.purchased_at is None
          and query.get("currency") == message.currency and _is_int(query.get("total_amount"))
          and query.get("total_amount") == message.price_minor)
    try:
        TelegramChannel().answer_pre_checkout(account_ref(account, purpose="inbox: answer a Telegram checkout"),
                                              str(query["id"]), ok=ok)
    except ConnectorError as exc:  # the query lapses after 10 s and Telegram tells the fan the payment failed
        log.warning("pre-checkout %s of %s not answered: %s", query["id"], account.pk, exc.message)


def _on_successful_payment(account: PlatformAccount, sender: dict[str, Any], payment: dict[str, Any],
                           at: datetime) -> None:
    charge = payment.get("telegram_payment_charge_id")
    amount = payment.get("total_amount")
    if not charge or not isinstance(amount, int) or isinstance(amount, bool):
        raise ValidationError("The payment has no charge id or no integer total_amount.")
    fan = _fan(account, sender, at)
    sale, _ = ingest.record_transaction(
        creator=account.creator, platform=account.platform, kind=Transaction.Kind.PAID_MESSAGE, gross_minor=amount,
        currency=str(payment.get("currency") or ""), occurred_at=at, external_id=str(charge),
        source=Transaction.Source.WEBHOOK, fan=fan, account=account)
    message = paid_message(account, str(payment.get("invoice_payload") or ""))
    if message is not None:
        services.credit_purchase(message, sale)


def _on_paid_media_bought(account: PlatformAccount, purchase: dict[str, Any], at: datetime) -> None:
    sender = purchase.get("from")
    payload = str(purchase.get("paid_media_payload") or "")
    if not isinstance(sender, dict):
        raise ValidationError("The paid media purchase names no buyer.")
    message = paid_message(account, payload)
    if message is None or message.price_minor is None:
        raise ValidationError(f"No paid message of this bot has the payload {payload[:128]!r}.")
    fan = _fan(account, sender, at)
    sale, _ = ingest.record_transaction(
        creator=account.creator, platform=account.platform, kind=Transaction.Kind.PAID_MESSAGE,
        gross_minor=message.price_minor, currency=message.currency or "XTR", occurred_at=at,
        external_id=f"paid-media:{account.pk}:{_user_id(sender)}:{payload}"[:200],
        source=Transaction.Source.WEBHOOK, fan=fan, account=account)
    services.credit_purchase(message, sale)


# --- Reading Telegram's objects -------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _user_id(user: dict[str, Any]) -> str:
    value = user.get("id")
    if not _is_int(value):
        raise ValidationError("The Telegram user has no integer id.")
    return str(value)


def _name(user: dict[str, Any]) -> str:
    return " ".join(str(user.get(part) or "") for part in ("first_name", "last_name")).strip()


def _fan(account: PlatformAccount, user: dict[str, Any], at: datetime) -> Any:
    fan, _ = ingest.upsert_fan(creator=account.creator, platform=account.platform, external_id=_user_id(user),
                               handle=str(user.get("username") or _name(user)), seen_at=at)
    return fan


def _when(value: Any) -> datetime:
    """The update's `date`, else now: an absent one, one Python cannot hold, or one ahead of now (a sale
    dated in 2106 would sit on a day no rollup reaches)."""
    now = timezone.now()
    if not _is_int(value) or not 0 < value < 2**33:
        return now
    return min(datetime.fromtimestamp(value, UTC), now)
