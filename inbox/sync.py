"""Fanvue messages into the inbox, by both doors: webhooks at once, reconciliation every few minutes.

Webhooks are stored and processed by analytics (`/hooks/fanvue/<token>/`: signature, replay refusal, one
row per event); inside that processing transaction analytics sends `event_processed`, and this module turns
the two chat events into inbox rows:
- `message.received` (https://api.fanvue.com/docs/webhooks/message-received: `messageUuid`, `message
  {uuid, text, hasMedia, mediaUuids, price (cents), createdAt}`, `sender {uuid, handle, displayName}`,
  `recipientUuid`, `timestamp`) → `services.receive`, which records a message once per `messageUuid`
  whatever door it came in by (a redelivered webhook, the same message read again by reconciliation).
- `message.read` (https://api.fanvue.com/docs/webhooks/webhooks/message-read: `counterpartUuid`,
  `readMessagesCount`, `recipientUuid`, `timestamp`) is sent when the *creator's side* marks a fan's
  messages read, not when the fan reads ours: it lowers the conversation's unread count
  (`services.read_on_platform`). Fanvue sends no event for a fan reading our messages; their `isRead` comes
  back with reconciliation instead.

Reconciliation (`reconcile_fanvue`) asks the channel for the chats that changed since the account's cursor
(`ChannelCursor`) and records each message through the same `receive`. Fanvue's own automatic messages
(`AUTOMATED_NEW_SUBSCRIBER`…) are recorded as sent by the platform, once. A message on the creator's side
that matches one of ours still waiting for its outcome (queued, sending, unknown) is left for the send
pipeline's `lookup_sent` to settle, so it is never recorded twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from analytics import ingest
from analytics.models import Fan, InboundEvent
from inbox import services
from inbox.channels import channel_for
from inbox.channels.base import AuthError, ConnectorError, InboundMessage, UpdatePage
from inbox.channels.timefmt import parse_time
from inbox.models import ChannelCursor, Message
from scheduling import oauth
from scheduling.models import PlatformAccount
from scheduling.services import account_ref

log = logging.getLogger("inbox.sync")
LEASE = timedelta(minutes=5)  # a run longer than this is presumed dead; the next one takes over
UNSETTLED = (Message.SendStatus.QUEUED, Message.SendStatus.SENDING, Message.SendStatus.UNKNOWN)
CHAT_SCOPE = "read:chat"


# --- Webhook events --------------------------------------------------------------------------------------


@receiver(ingest.event_processed, dispatch_uid="inbox.sync.fanvue_chat_events")
def on_event_processed(sender: Any, *, event: InboundEvent, kind: str, data: dict[str, Any], fan: Fan | None = None,
                       **kwargs: Any) -> None:
    """Inside analytics' processing transaction: a ValidationError leaves the whole event unprocessed. An event
    addressed to another creator than the account's never gets here (`analytics.ingest.events`)."""
    account = event.account
    if account.platform != "fanvue" or kind not in (ingest.MESSAGE, ingest.MESSAGE_READ):
        return
    if kind == ingest.MESSAGE:
        services.receive(account, webhook_message(data, received_at=event.received_at), fan=fan)
    else:
        counterpart = data.get("counterpartUuid")
        if not isinstance(counterpart, str) or not counterpart.strip():
            raise ValidationError("The message.read event names no counterpart uuid.")
        count = data.get("readMessagesCount")
        services.read_on_platform(account, counterpart.strip(),
                                  count if isinstance(count, int) and not isinstance(count, bool) else None)


def on_message_events(events: list[InboundEvent]) -> list[InboundEvent]:
    """Fanvue Message Received events many at a time (`analytics.ingest.register_batch_handler`): what
    `on_event_processed` does for each, with the fans, conversations and messages of an account written
    together (`services.receive_many`). Events of other platforms are left to the one-at-a-time path."""
    handled: list[InboundEvent] = []
    by_account: dict[int, list[InboundEvent]] = {}
    for event in events:
        if event.account.platform == "fanvue":
            by_account.setdefault(event.account_id, []).append(event)
    for group in by_account.values():
        account = group[0].account
        incomings = []
        for event in group:
            # Analytics checked each event first (its time, that it is addressed to this account's creator).
            incomings.append(webhook_message(ingest.event_data(event.payload), received_at=event.received_at))
        services.receive_many(account, incomings)
        handled.extend(group)
    return handled


def webhook_message(data: dict[str, Any], *, received_at: datetime) -> InboundMessage:
    """A Message Received payload as the inbox reads it: always from the fan (the sender)."""
    message: dict[str, Any] = data["message"] if isinstance(data.get("message"), dict) else {}
    sender: dict[str, Any] = data["sender"] if isinstance(data.get("sender"), dict) else {}
    external_id = data.get("messageUuid") or message.get("uuid")
    fan = sender.get("uuid")
    if not _an_id(external_id) or not _an_id(fan):
        raise ValidationError("The message.received event needs a messageUuid and a sender uuid.")
    price = message.get("price")
    price = price if isinstance(price, int) and not isinstance(price, bool) and price > 0 else None
    media: list[Any] = message["mediaUuids"] if isinstance(message.get("mediaUuids"), list) else []
    return InboundMessage(
        external_id=str(external_id), chat_id=str(fan), fan_id=str(fan),
        sent_at=parse_time(message.get("createdAt")) or parse_time(data.get("timestamp")) or received_at,
        text=str(message.get("text") or ""), fan_handle=str(sender.get("handle") or ""),
        fan_name=str(sender.get("displayName") or ""), direction="in",
        media=tuple({"uuid": str(u)} for u in media), price_minor=price, currency="USD" if price else "",
        raw=data)


def _an_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and bool(str(value).strip())


# --- Reconciliation --------------------------------------------------------------------------------------


def reconcile_fanvue(account_id: int) -> dict[str, int]:
    """Read the account's changed chats since its cursor and record every message not recorded yet.

    One run per account at a time (`ChannelCursor.lease_until`); the cursor moves only after every message
    of the page was recorded, so a run that fails half-way is simply read again by the next one.
    """
    now = timezone.now()
    account = PlatformAccount.objects.select_related("creator").filter(pk=account_id, platform="fanvue").first()
    if account is None or account.state != PlatformAccount.State.CONNECTED:
        return {"skipped": 1}
    sync, _ = ChannelCursor.objects.get_or_create(account=account)
    if account.scopes and CHAT_SCOPE not in account.scopes.split():
        ChannelCursor.objects.filter(pk=sync.pk).update(
            last_error=f"The Fanvue token lacks {CHAT_SCOPE}: reconnect the account with the chat scopes.")
        return {"skipped": 1}
    claimed = ChannelCursor.objects.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now), pk=sync.pk).update(
        lease_until=now + LEASE)
    if not claimed:
        return {"busy": 1}
    counts: Counter[str] = Counter()
    try:
        try:
            page = _fetch(account, sync.cursor or None)
        except ConnectorError as exc:
            ChannelCursor.objects.filter(pk=sync.pk).update(last_error=exc.message[:2000])
            log.warning("fanvue reconciliation of account %s failed: %s", account.pk, exc.message)
            return {"failed": 1}
        for incoming in page.messages:
            if _awaiting_outcome(account, incoming):
                counts["awaiting_outcome"] += 1
                continue
            counts["new" if services.receive(account, incoming) is not None else "known"] += 1
        fields: dict[str, Any] = {"polled_at": timezone.now(), "last_error": ""}
        if page.cursor is not None:
            fields["cursor"] = page.cursor
        ChannelCursor.objects.filter(pk=sync.pk).update(**fields)
    finally:
        ChannelCursor.objects.filter(pk=sync.pk).update(lease_until=None)
    return {"new": counts["new"], "known": counts["known"], "awaiting_outcome": counts["awaiting_outcome"]}


def _fetch(account: PlatformAccount, cursor: str | None) -> UpdatePage:
    """One reconciliation page; a refused token is refreshed once (Fanvue's access tokens last an hour)."""
    channel = channel_for("fanvue")
    try:
        return channel.fetch_updates(account_ref(account, purpose="inbox_reconcile"), cursor)
    except AuthError:
        if oauth.refresh_account(account.pk) != "refreshed":
            raise
    account.refresh_from_db()
    return channel.fetch_updates(account_ref(account, purpose="inbox_reconcile"), cursor)


def _awaiting_outcome(account: PlatformAccount, incoming: InboundMessage) -> bool:
    """A message on the creator's side that is one of ours still waiting for its outcome: the send pipeline
    settles it (`lookup_sent` finds the same Fanvue message and gives ours its id); recording it here would
    show it twice."""
    if incoming.direction != "out" or incoming.automated or not incoming.external_id:
        return False
    if Message.objects.filter(account=account, external_id=incoming.external_id).exists():
        return False
    return Message.objects.filter(account=account, direction=Message.Direction.OUT, external_id="",
                                  conversation__fan__external_id=incoming.fan_id, send_status__in=UNSETTLED,
                                  text=incoming.text).exists()


@shared_task(name="inbox.sync.reconcile_fanvue_accounts", ignore_result=True, expires=170)
def reconcile_fanvue_accounts() -> int:
    """Every few minutes (beat, control queue): one reconciliation task per connected Fanvue account."""
    ids = list(PlatformAccount.objects.filter(platform="fanvue", state=PlatformAccount.State.CONNECTED)
               .values_list("pk", flat=True))
    for account_id in ids:
        reconcile_fanvue_account.delay(account_id)
    return len(ids)


@shared_task(name="inbox.sync.reconcile_fanvue_account", ignore_result=True, acks_late=True, max_retries=0,
             soft_time_limit=240, time_limit=300)
def reconcile_fanvue_account(account_id: int) -> dict[str, int]:
    """Idempotent: a redelivered task reads from the stored cursor, and `receive` records each message once."""
    return reconcile_fanvue(account_id)
