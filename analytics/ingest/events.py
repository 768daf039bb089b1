"""Fanvue events turned into rows.

Fanvue webhooks (https://api.fanvue.com/docs/webhooks/webhooks-overview) are signed with
`X-Fanvue-Signature: t=<unix>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">`; `analytics.webhooks`
checks that and stores the event, `process_event` turns it into rows. The reference documents flat
payloads per event, all with `sender {uuid, handle, displayName, avatarUrl}`, `recipientUuid`,
`timestamp` and, for money, `price` in minor units:
- New Subscriber: `price`; Tip Received: `price`, `context` (post|message), `postUuid`/`messageUuid`;
  Message Received: `messageUuid`, `message {…}`; New Follower: the sender. Message Read is the exception:
  `counterpartUuid`, `readMessagesCount`, `recipientUuid`, `timestamp` (the creator read a fan's messages).
Where the reference is silent, assumed here:
- The event's type is not in the flat body. It is read from, in order: a `type`/`event` field (the
  Standard-Webhooks envelope `{id, type, timestamp, data}` Fanvue uses for its checkout events),
  an `X-Fanvue-Event` header, else the payload's shape (`_shape_kind`). `EVENT_KINDS` is the one
  table of accepted names.
- Purchase Received carries `price` plus `postUuid` or `messageUuid`, and optionally a
  `purchaseType`/`type` (`post`, `message`, `bundle`…); `PURCHASE_KINDS` maps it to our kinds.
- Amounts are USD unless a `currency` field says otherwise (Fanvue prices are in US cents), and
  webhooks carry no fees: a webhook row has fee 0 until the earnings backfill fills it in.
- Flat payloads carry no event or sale id, so a webhook sale's external id is `webhook:<event
  key>`. The backfill recognises such a row (same fan, kind, gross, time within
  `BACKFILL_MATCH_WINDOW`) and gives it the invoice id and fees instead of adding a second row."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DataError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.ingest.ledger import MAX_MINOR, record_transaction, upsert_fan, upsert_subscription
from analytics.models import (
    Fan,
    InboundEvent,
    Transaction,
)
from scheduling.models import Publication

log = logging.getLogger("analytics.ingest")
K = Transaction.Kind

# Sent inside the processing transaction, after analytics wrote its rows, with `event`, `kind`, `data` (the
# event's body), `fan` and `transaction` (either may be None). Apps above analytics (the inbox) add their
# rows here, so an event is turned into every row it means exactly once, or into none. A receiver that
# cannot read the event raises ValidationError: the whole event is left unprocessed with that error.
event_processed = Signal()
# Kinds analytics does not read itself (a Telegram update, a Bluesky chat log entry) whose rows an app above
# writes entirely: kind → handler(event). Filled by those apps at start-up (`register_handler`).
EXTRA_HANDLERS: dict[str, Callable[[InboundEvent], None]] = {}


# Kinds an app above can process many at a time: kind → handler(events) → the events it processed. Such a
# handler takes over those events entirely (analytics' own handler and `event_processed` are not run for
# them), must write what the one-at-a-time path writes, and raises ValidationError when any event cannot be
# read: then every event of the batch goes the one-at-a-time way, which keeps each one's own error.
BATCH_HANDLERS: dict[str, Callable[[list[InboundEvent]], list[InboundEvent]]] = {}


def register_handler(kind: str, handler: Callable[[InboundEvent], None]) -> None:
    """Let an app above analytics process stored events of `kind` (exactly once, in one transaction)."""
    EXTRA_HANDLERS[kind] = handler


def register_batch_handler(kind: str, handler: Callable[[list[InboundEvent]], list[InboundEvent]]) -> None:
    """Let an app above analytics process many stored events of `kind` together (`BATCH_HANDLERS`)."""
    BATCH_HANDLERS[kind] = handler


# --- Fanvue events --------------------------------------------------------------------------------

FOLLOWER, SUBSCRIBER, PURCHASE, TIP, MESSAGE, MESSAGE_READ = (
    "follower.new", "subscriber.new", "purchase.new", "tip.new", "message.received", "message.read")
# Every name an event type may arrive under → our kind. Fanvue's topics (with or without their
# `creator.` prefix) and the names in its dashboard.
EVENT_KINDS: dict[str, str] = {
    "follow.new": FOLLOWER, "follower.new": FOLLOWER, "new_follower": FOLLOWER, "new-follower": FOLLOWER,
    "subscription.new": SUBSCRIBER, "subscriber.new": SUBSCRIBER, "new_subscriber": SUBSCRIBER,
    "new-subscriber": SUBSCRIBER,
    "purchase.new": PURCHASE, "purchase.received": PURCHASE, "purchase_received": PURCHASE,
    "purchase-received": PURCHASE,
    "tip.new": TIP, "tip.received": TIP, "tip_received": TIP, "tip-received": TIP,
    "message.received": MESSAGE, "message_received": MESSAGE, "message-received": MESSAGE,
    "message.new": MESSAGE,
    "message.read": MESSAGE_READ, "message_read": MESSAGE_READ, "message-read": MESSAGE_READ,
}
PURCHASE_KINDS: dict[str, str] = {
    "post": K.PAID_POST, "paid_post": K.PAID_POST, "message": K.PAID_MESSAGE, "paid_message": K.PAID_MESSAGE,
    "chat": K.PAID_MESSAGE, "bundle": K.PACK, "pack": K.PACK, "collection": K.PACK,
}


def event_kind(payload: dict[str, Any], header: str = "") -> str:
    """Our name for a Fanvue event (see the module docstring for where the type comes from);
    an unrecognised type is kept as sent so the stored event shows what arrived."""
    named = payload.get("type") or payload.get("event") or header
    if isinstance(named, str) and named.strip():
        name = named.strip().lower().removeprefix("creator.")
        return EVENT_KINDS.get(name, name)
    return _shape_kind(event_data(payload))


def _shape_kind(data: dict[str, Any]) -> str:
    if "counterpartUuid" in data and "readMessagesCount" in data:
        return MESSAGE_READ
    if ("messageUuid" in data and "price" not in data) or isinstance(data.get("message"), dict):
        return MESSAGE
    if data.get("context") in ("post", "message") and "price" in data:
        return TIP
    if "price" in data and ("postUuid" in data or "messageUuid" in data or "purchaseType" in data):
        return PURCHASE
    if "price" in data:
        return SUBSCRIBER
    if isinstance(data.get("sender"), dict):
        return FOLLOWER
    return "unknown"


def event_data(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    return data if isinstance(data, dict) else payload


# How far an event's own time may lie from its arrival: a sale or a message dated years ahead (or before the
# platform existed) would sit on the wrong day of every rollup and at the top of the inbox for ever.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(minutes=10)


def _parse_time(value: Any, fallback: datetime) -> datetime:
    if not value:
        return fallback
    if not isinstance(value, str):
        raise ValidationError("The event's timestamp is not a string.")
    try:
        parsed = parse_datetime(value.replace("Z", "+00:00"))
        if parsed is not None:
            parsed = timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # well formed but not a date ("2026-02-30"), or past year 1 in UTC
        parsed = None
    if parsed is None:
        raise ValidationError(f"The event's timestamp {value[:64]!r} is not an ISO 8601 date and time.")
    if not EARLIEST_EVENT <= parsed <= fallback + FUTURE_SKEW:
        raise ValidationError(f"The event's timestamp {value[:64]!r} is too far from when it arrived.")
    return parsed


def _amount(data: dict[str, Any], name: str = "price") -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"The event's {name} must be an integer in minor units.")
    if not 0 <= value <= MAX_MINOR:
        raise ValidationError(f"The event's {name} is out of range.")
    return value


class _Context:
    """What every handler needs from one stored event."""

    def __init__(self, event: InboundEvent) -> None:
        self.event = event
        self.account = event.account
        self.creator = event.account.creator
        self.platform = event.account.platform
        self.data = event_data(event.payload)
        self.at = _parse_time(self.data.get("timestamp") or event.payload.get("timestamp"), event.received_at)
        self._check_recipient()

    def _check_recipient(self) -> None:
        """An agency account names its creator (`options["creator_uuid"]`): a sale or a message addressed to
        another creator is not this account's to record."""
        creator = (self.account.options or {}).get("creator_uuid")
        recipient = self.data.get("recipientUuid")
        if creator and recipient and str(recipient) != str(creator):
            raise ValidationError("The event is addressed to another Fanvue creator than this account's.")

    def fan(self) -> Fan:
        sender = self.data.get("sender") or self.data.get("user") or {}
        uuid = sender.get("uuid") if isinstance(sender, dict) else None
        if isinstance(uuid, bool) or not isinstance(uuid, str | int) or not str(uuid).strip():
            raise ValidationError("The event names no sender uuid.")
        fan, _ = upsert_fan(creator=self.creator, platform=self.platform, external_id=str(sender["uuid"]),
                            handle=str(sender.get("handle") or ""), seen_at=self.at)
        return fan

    def sale_id(self) -> str:
        explicit = self.data.get("transactionId") or self.data.get("invoiceId") or self.event.payload.get("id")
        return str(explicit) if explicit else f"webhook:{self.event.event_key}"

    def currency(self) -> str:
        return str(self.data.get("currency") or "USD").upper()

    def publication(self) -> Publication | None:
        post = self.data.get("postUuid")
        if not post:
            return None
        return Publication.objects.filter(account=self.account, external_id=str(post)).first()

    def record(self, kind: str, fan: Fan) -> Transaction:
        gross = _amount(self.data)
        net = self.data.get("net")
        fee = gross - net if isinstance(net, int) and not isinstance(net, bool) else 0
        tx, _ = record_transaction(creator=self.creator, platform=self.platform, kind=kind, gross_minor=gross,
                                   fee_minor=fee, currency=self.currency(), occurred_at=self.at,
                                   external_id=self.sale_id(), source=Transaction.Source.WEBHOOK, fan=fan,
                                   account=self.account, publication=self.publication())
        return tx


Written = tuple[Fan | None, Transaction | None]
# Errors a payload itself causes, deterministic on every retry. Lost connections and deadlocks
# (OperationalError) are not among them: those are retried.
UNREADABLE = (DataError, ValueError, TypeError, OverflowError)


def _on_follower(ctx: _Context) -> Written:
    return ctx.fan(), None


def _on_message(ctx: _Context) -> Written:
    return ctx.fan(), None


def _on_message_read(ctx: _Context) -> Written:
    """Message Read (https://api.fanvue.com/docs/webhooks/webhooks/message-read): the creator's side read
    `readMessagesCount` messages from `counterpartUuid`. No money and no sender object: only the fan."""
    counterpart = ctx.data.get("counterpartUuid")
    if not isinstance(counterpart, str) or not counterpart.strip():
        raise ValidationError("The event names no counterpart uuid.")
    fan, _ = upsert_fan(creator=ctx.creator, platform=ctx.platform, external_id=counterpart, seen_at=ctx.at)
    return fan, None


def _on_subscriber(ctx: _Context) -> Written:
    fan = ctx.fan()
    price = _amount(ctx.data)
    upsert_subscription(creator=ctx.creator, fan=fan, platform=ctx.platform, account=ctx.account,
                        started_at=ctx.at, price_minor=price, currency=ctx.currency(),
                        external_id=str(ctx.data.get("subscriptionUuid") or ""), trial=price == 0)
    return fan, ctx.record(K.SUBSCRIPTION, fan) if price > 0 else None


def _on_tip(ctx: _Context) -> Written:
    fan = ctx.fan()
    return fan, ctx.record(K.TIP, fan)


def _on_purchase(ctx: _Context) -> Written:
    named = ctx.data.get("purchaseType") or ctx.data.get("type") or ctx.data.get("context")
    if not named:
        named = "post" if ctx.data.get("postUuid") else "message" if ctx.data.get("messageUuid") else ""
    kind = PURCHASE_KINDS.get(str(named).lower())
    if kind is None:
        raise ValidationError(f"Unknown purchase type {named!r}.")
    fan = ctx.fan()
    return fan, ctx.record(kind, fan)


EVENT_HANDLERS: dict[str, Callable[[_Context], Written]] = {
    FOLLOWER: _on_follower, SUBSCRIBER: _on_subscriber, PURCHASE: _on_purchase, TIP: _on_tip,
    MESSAGE: _on_message, MESSAGE_READ: _on_message_read,
}


def sales_naming_message(account_id: int, message_uuid: str, *,
                         since: datetime) -> list[tuple[InboundEvent, Transaction]]:
    """The purchases and tips of the account, processed since `since`, that named the message `message_uuid`,
    each with the sale it recorded. A sale can name a message before we know the message by that id (our send
    timed out after the platform took it, the lookup gives it its id later): the inbox credits it then."""
    events = (InboundEvent.objects.select_related("account__creator")
              .filter(account_id=account_id, kind__in=(PURCHASE, TIP), processed_at__isnull=False,
                      received_at__gte=since)
              .filter(Q(payload__messageUuid=message_uuid) | Q(payload__data__messageUuid=message_uuid))
              .order_by("received_at", "pk"))
    found = []
    for event in events:
        try:
            ctx = _Context(event)
        except ValidationError:
            continue
        sale = Transaction.objects.filter(platform=ctx.platform, external_id=ctx.sale_id()).first()
        if sale is not None:
            found.append((event, sale))
    return found


def locked_event(event_id: int) -> InboundEvent | None:
    """The event row locked for its processing, with its account and creator read, not locked: locking
    them too (a bare FOR UPDATE over the join) would make every new event of the account wait at COMMIT
    for its foreign key, so each webhook answer would queue behind processing."""
    return (InboundEvent.objects.select_for_update(of=("self",)).select_related("account__creator")
            .filter(pk=event_id).first())


def process_event(event_id: int) -> str:
    """Turn a stored webhook into fans, subscriptions and transactions, once.

    The row is locked and `processed_at` checked, so a redelivered task does nothing; a payload
    that cannot be read keeps its error on the row (nothing half-written) for a person to look at
    and reprocess from the admin.
    """
    with transaction.atomic():
        event = locked_event(event_id)
        if event is None:
            return "missing"
        if event.processed_at is not None:
            return "already processed"
        handler = EVENT_HANDLERS.get(event.kind)
        extra = EXTRA_HANDLERS.get(event.kind)
        if handler is None and extra is None:
            InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(),
                                                            error=f"Not handled: {event.kind[:60]}")
            return "ignored"
        try:
            with transaction.atomic():
                if handler is not None:
                    ctx = _Context(event)
                    fan, tx = handler(ctx)
                    event_processed.send(sender=InboundEvent, event=event, kind=event.kind, data=ctx.data,
                                         fan=fan, transaction=tx)
                elif extra is not None:
                    extra(event)
        except ValidationError as exc:
            InboundEvent.objects.filter(pk=event.pk).update(error="; ".join(exc.messages)[:2000])
            log.warning("inbound event %s (%s) could not be processed", event.pk, event.kind)
            return "failed"
        except UNREADABLE as exc:
            # A value no check above foresaw that the database or Python refuses (a number past a column, a
            # date past year 9999): the same payload would fail again, so it waits for a person like a
            # ValidationError rather than leaving the worker and being queued again by the sweep for ever.
            InboundEvent.objects.filter(pk=event.pk).update(
                error=f"The event could not be read ({type(exc).__name__}: {str(exc)[:300]}).")
            log.exception("inbound event %s (%s) could not be processed", event.pk, event.kind)
            return "failed"
        InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), error="")
    return "processed"


def process_events(event_ids: list[int]) -> dict[str, int]:
    """Process a batch of stored webhooks (one task's worth, `analytics.tasks.process_inbound_events`).

    Events whose kind has a batch handler are processed together in one transaction: at a burst's rate a
    message costs a few queries of its batch instead of a dozen of its own. Every other event, and every
    event of a batch that could not be processed together, is processed alone in its own transaction
    (`process_event`); one that crashes is left to the sweep and the rest are still done. Returns how many
    ended each way."""
    outcomes: Counter[str] = Counter()
    left = list(dict.fromkeys(int(pk) for pk in event_ids))
    if len(left) > 1 and BATCH_HANDLERS:
        together = _process_together(left)
        if together:
            outcomes["processed"] += len(together)
            left = [pk for pk in left if pk not in together]
    for event_id in left:
        try:
            outcomes[process_event(event_id)] += 1
        except Exception:
            log.exception("inbound event %s could not be processed; the sweep will queue it again", event_id)
            outcomes["crashed"] += 1
    return dict(outcomes)


def _process_together(event_ids: list[int]) -> set[int]:
    """The events of `event_ids` processed by batch handlers, in one transaction; nothing when any failed.
    Events another worker holds are skipped (SKIP LOCKED) and left to the one-at-a-time path, which waits
    for that worker and then finds them processed."""
    try:
        with transaction.atomic():
            events = list(InboundEvent.objects.select_for_update(of=("self",), skip_locked=True)
                          .select_related("account__creator")
                          .filter(pk__in=event_ids, processed_at__isnull=True, error="",
                                  kind__in=list(BATCH_HANDLERS)).order_by("pk"))
            done: set[int] = set()
            by_kind: dict[str, list[InboundEvent]] = {}
            for event in events:
                _Context(event)  # the checks the one-at-a-time path makes first (a readable timestamp)
                by_kind.setdefault(event.kind, []).append(event)
            for kind, group in by_kind.items():
                done.update(event.pk for event in BATCH_HANDLERS[kind](group))
            if done:
                InboundEvent.objects.filter(pk__in=done).update(processed_at=timezone.now(), error="")
            return done
    except Exception as exc:
        log.info("%d inbound events processed one at a time (%s)", len(event_ids), type(exc).__name__)
        return set()


# An event still unprocessed this long after it arrived may have lost its task (a broker restarted empty, a
# publish that failed, a worker killed holding it): the sweep queues it again. Shorter, its task is presumed on
# its way.
PENDING_AFTER = timedelta(seconds=5)
SWEEP_BATCH = 2000
# Events handed to one processing task at most (`analytics.tasks.process_inbound_events`).
PROCESS_BATCH = 100
# An event queued again by the sweep is not queued a third time for this long: a backlog longer than
# PENDING_AFTER costs at most one extra (no-op) task per event. The marks live in the cache, which is the
# broker's Redis: a Redis restarted empty forgets them together with the tasks, and everything pending is
# queued again.
REQUEUE_MARK = timedelta(minutes=10)


def pending_events(*, older_than: timedelta = PENDING_AFTER, limit: int = SWEEP_BATCH) -> list[int]:
    """The oldest stored events nobody processed (no `processed_at`, no error, received more than
    `older_than` ago) and not queued again by a sweep since `REQUEUE_MARK`; they are marked as queued now.
    Queuing one twice is harmless: `process_event` locks and re-checks the row, so it is processed once.
    One with an error is left for a person (it would fail again)."""
    cutoff = timezone.now() - older_than
    ids = list(InboundEvent.objects.filter(processed_at__isnull=True, error="", received_at__lte=cutoff)
               .order_by("received_at", "pk").values_list("pk", flat=True)[:limit])
    keys = {f"analytics:requeued-event:{pk}": pk for pk in ids}
    marked = cache.get_many(list(keys))
    due = [pk for key, pk in keys.items() if key not in marked]
    cache.set_many({f"analytics:requeued-event:{pk}": 1 for pk in due}, timeout=int(REQUEUE_MARK.total_seconds()))
    return due
