"""Ingestion: every source of money, fans and metrics writes through the services here.

Webhooks, the Fanvue earnings backfill, statement imports and manual entries all call
`record_transaction`, so one sale counts once whichever way it arrives: rows are keyed on the
platform's external id (unique per platform), and a duplicate is answered with the row already
stored instead of a second one.

Fanvue webhooks (https://api.fanvue.com/docs/webhooks/webhooks-overview) are signed with
`X-Fanvue-Signature: t=<unix>,v0=<hex HMAC-SHA256 of "{t}.{raw body}">`; `analytics.webhooks`
checks that and stores the event, `process_event` turns it into rows. The reference documents flat
payloads per event, all with `sender {uuid, handle, displayName, avatarUrl}`, `recipientUuid`,
`timestamp` and, for money, `price` in minor units:
- New Subscriber: `price`; Tip Received: `price`, `context` (post|message), `postUuid`/`messageUuid`;
  Message Received: `messageUuid`, `message {…}`; New Follower: the sender.
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
  `BACKFILL_MATCH_WINDOW`) and gives it the invoice id and fees instead of adding a second row.

Fanvue earnings (`GET [/creators/{uuid}]/insights/earnings?startDate&endDate&cursor&size`,
https://api.fanvue.com/docs/api-reference/reference/insights/get-earnings) answer
`{data: [...], nextCursor}`; each item is assumed to carry `uuid`/`id`/`invoiceId`, `date`,
`gross`, `net`, `currency`, `source` and the paying fan as `user {uuid, handle}`. An item
without an id gets a digest of those fields, so a rerun still finds it.

Lifetime spend: updated live only for transactions in `settings.ANALYTICS_CURRENCY`; others wait
for the nightly rollup, which converts through the rates table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import audit
from accounts.actors import Actor
from accounts.models import Creator
from analytics import tasks
from analytics.models import (
    SOURCE_PLATFORMS,
    Fan,
    InboundEvent,
    MetricSnapshot,
    Subscription,
    Transaction,
    WebhookReceiver,
)
from compliance import crypto
from scheduling import limits
from scheduling import services as scheduling
from scheduling.connectors import connector_for
from scheduling.connectors.base import AuthError, ConnectorError
from scheduling.connectors.fanvue import FanvueConnector
from scheduling.connectors.http import client, send
from scheduling.models import PlatformAccount, Publication

log = logging.getLogger(__name__)

K = Transaction.Kind
NEGATIVE_KINDS = frozenset({K.REFUND, K.CHARGEBACK})
PLATFORMS = frozenset(value for value, _ in SOURCE_PLATFORMS)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
BACKFILL_MATCH_WINDOW = timedelta(minutes=5)


# --- The shared write path ------------------------------------------------------------------------


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} must be a date and time, not {type(value).__name__}.")
    if timezone.is_naive(value):
        raise ValidationError(f"{name} has no timezone; times are stored in UTC.")
    return value


def _check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValidationError(f"Unknown platform {platform!r}.")


def upsert_fan(*, creator: Creator, platform: str, external_id: str, handle: str = "",
               seen_at: datetime | None = None) -> tuple[Fan, bool]:
    """The creator's fan with this platform id, created on first sight.

    Keeps first_seen the earliest and last_seen the latest time any source saw the fan (late data
    never moves last_seen backwards); a new non-empty handle replaces the old one (fans rename).
    """
    _check_platform(platform)
    external_id = str(external_id or "").strip()
    if not external_id:
        raise ValidationError("A fan needs the platform's id for them.")
    seen = _aware(seen_at, "seen_at") if seen_at is not None else timezone.now()
    handle = (handle or "")[:200]
    with transaction.atomic():
        fan = Fan.objects.filter(creator=creator, platform=platform, external_id=external_id).first()
        created = False
        if fan is None:
            try:
                with transaction.atomic():
                    fan = Fan.objects.create(creator=creator, platform=platform, external_id=external_id,
                                             handle=handle, first_seen=seen, last_seen=seen)
                    created = True
            except IntegrityError:
                fan = Fan.objects.get(creator=creator, platform=platform, external_id=external_id)
        if not created:
            base = Fan.objects.filter(pk=fan.pk)
            base.filter(last_seen__lt=seen).update(last_seen=seen)
            base.filter(first_seen__gt=seen).update(first_seen=seen)
            if handle and handle != fan.handle:
                base.update(handle=handle)
            fan.refresh_from_db()
    return fan, created


def upsert_subscription(*, creator: Creator, fan: Fan, platform: str, started_at: datetime, currency: str,
                        price_minor: int = 0, external_id: str = "", account: PlatformAccount | None = None,
                        ends_at: datetime | None = None, auto_renew: bool = True,
                        trial: bool = False) -> tuple[Subscription, bool]:
    """A fan's subscription, keyed on the platform's subscription id, else on (fan, start time).

    A later event for the same subscription updates its end, price and renewal flags; the start
    is never moved, so rollups counting new subscribers per day stay stable.
    """
    _check_platform(platform)
    _check_currency(currency)
    _aware(started_at, "started_at")
    if ends_at is not None and _aware(ends_at, "ends_at") < started_at:
        raise ValidationError("A subscription cannot end before it starts.")
    if fan.creator_id != creator.pk:
        raise ValidationError("The fan belongs to another creator.")
    if account is not None and account.creator_id != creator.pk:
        raise ValidationError("The platform account belongs to another creator.")
    if price_minor < 0:
        raise ValidationError("A subscription price cannot be negative.")
    key = {"platform": platform, "external_id": external_id} if external_id else {
        "platform": platform, "fan": fan, "started_at": started_at, "external_id": ""}
    fields = {"price_minor": price_minor, "currency": currency, "auto_renew": auto_renew, "trial": trial,
              "ends_at": ends_at}
    with transaction.atomic():
        sub = Subscription.objects.filter(**key).first()
        if sub is None:
            try:
                with transaction.atomic():
                    return Subscription.objects.create(**{"creator": creator, "fan": fan, "account": account,
                                                          "started_at": started_at, **key, **fields}), True
            except IntegrityError:
                sub = Subscription.objects.get(**key)
        Subscription.objects.filter(pk=sub.pk).update(**fields)
        sub.refresh_from_db()
    return sub, False


def _check_currency(currency: str) -> None:
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        raise ValidationError(f"Currency must be an ISO 4217 code of three capital letters, not {currency!r}.")


def record_transaction(*, creator: Creator, platform: str, kind: str, gross_minor: int, fee_minor: int = 0,
                       currency: str, occurred_at: datetime, external_id: str, source: str,
                       fan: Fan | None = None, account: PlatformAccount | None = None,
                       publication: Publication | None = None, actor: Actor = None) -> tuple[Transaction, bool]:
    """Store one sale (or refund) once: the same (platform, external id) returns the stored row.

    Invariants: amounts are integer minor units, refunds and chargebacks are stored negative
    (gross and the returned fee alike), net = gross - fee, the currency is kept as received. A
    new row moves the fan's last_seen and, in the agency currency only, their lifetime spend; a
    row for a day already past in the creator's timezone queues that day's rollup after commit.
    Manual entries (and any call with an actor) are audited; machine sources are not, one audit
    row per sale would dwarf the ledger.
    """
    _check_platform(platform)
    if kind not in K.values:
        raise ValidationError(f"Unknown transaction kind {kind!r}.")
    if source not in Transaction.Source.values:
        raise ValidationError(f"Unknown source {source!r}.")
    _check_currency(currency)
    _aware(occurred_at, "occurred_at")
    if isinstance(gross_minor, bool) or not isinstance(gross_minor, int) \
            or isinstance(fee_minor, bool) or not isinstance(fee_minor, int):
        raise ValidationError("Amounts must be integers in minor units (cents).")
    external_id = str(external_id or "").strip()
    if len(external_id) > 200:
        raise ValidationError("The external id is longer than 200 characters.")
    if kind in NEGATIVE_KINDS:
        gross_minor, fee_minor = -abs(gross_minor), -abs(fee_minor)
    elif gross_minor < 0 or fee_minor < 0:
        raise ValidationError(f"A {kind} cannot have a negative amount; record a refund instead.")
    if abs(fee_minor) > abs(gross_minor):
        raise ValidationError("The fee is larger than the gross amount.")
    for name, obj in (("fan", fan), ("platform account", account)):
        if obj is not None and obj.creator_id != creator.pk:
            raise ValidationError(f"The {name} belongs to another creator.")

    with transaction.atomic():
        if external_id:
            existing = Transaction.objects.filter(platform=platform, external_id=external_id).first()
            if existing is not None:
                return existing, False
        try:
            with transaction.atomic():
                tx = Transaction.objects.create(
                    creator=creator, platform=platform, kind=kind, gross_minor=gross_minor, fee_minor=fee_minor,
                    net_minor=gross_minor - fee_minor, currency=currency, occurred_at=occurred_at,
                    external_id=external_id, source=source, fan=fan, account=account, publication=publication)
        except IntegrityError:
            if not external_id:
                raise
            return Transaction.objects.get(platform=platform, external_id=external_id), False
        if fan is not None:
            _touch_fan(fan, tx)
        if source == Transaction.Source.MANUAL or actor is not None:
            audit.record("analytics.transaction_recorded", tx, actor=actor,
                         changes={"kind": kind, "gross_minor": gross_minor, "currency": currency, "source": source})
        _queue_rollup_if_late(creator, occurred_at)
    return tx, True


def _touch_fan(fan: Fan, tx: Transaction) -> None:
    fans = Fan.objects.filter(pk=fan.pk)
    fans.filter(last_seen__lt=tx.occurred_at).update(last_seen=tx.occurred_at)
    fans.filter(first_seen__gt=tx.occurred_at).update(first_seen=tx.occurred_at)
    if tx.currency == settings.ANALYTICS_CURRENCY:
        fans.update(lifetime_spend_minor=F("lifetime_spend_minor") + tx.net_minor)


def local_day(creator: Creator, moment: datetime) -> date:
    return moment.astimezone(creator.tzinfo).date()


def _queue_rollup_if_late(creator: Creator, occurred_at: datetime) -> None:
    """Today's rows are picked up by the nightly rollup; an earlier day was already rolled up and
    must be recomputed, once the row is committed (the task reads it from another connection)."""
    day = local_day(creator, occurred_at)
    if day >= local_day(creator, timezone.now()):
        return
    # One task per creator for all the late days a transaction touched (a statement import of
    # thousands of rows queues a handful of recomputes, not one per row).
    pending: dict[int, set[date]] | None = getattr(_late_days, "pending", None)
    # A rolled-back transaction (an import preview) drops its callback: start afresh then.
    registered = any(entry[1] is _flush_late_days for entry in connection.run_on_commit)
    if pending is None or not registered:
        pending = _late_days.pending = {}
        transaction.on_commit(_flush_late_days)
    pending.setdefault(creator.pk, set()).add(day)


_late_days = threading.local()


def _flush_late_days() -> None:
    pending, _late_days.pending = getattr(_late_days, "pending", None) or {}, None
    for creator_id, days in pending.items():
        tasks.rollup_days.delay(creator_id, sorted(d.isoformat() for d in days))


# --- Webhook receivers ----------------------------------------------------------------------------


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_receiver(account: PlatformAccount, *, secret: str | None = None,
                    actor: Actor = None) -> tuple[WebhookReceiver, str]:
    """Open `/hooks/<platform>/<token>/` for an account and return the signing secret once.

    Fanvue shows the secret in its developer area ("View Signing Secret"): pass it as `secret`;
    without one a random secret is made (for platforms where we choose it). Only its ciphertext is
    stored; the audit event names the receiver, never the secret.
    """
    if WebhookReceiver.objects.filter(account=account).exists():
        raise ValidationError(f"{account} already has a webhook receiver; rotate its secret instead.")
    secret = _checked_secret(secret)
    with transaction.atomic():
        receiver = WebhookReceiver.objects.create(account=account, token=secrets.token_urlsafe(32),
                                                  secret_encrypted=crypto.encrypt_text(secret))
        audit.record("analytics.webhook_receiver_created", receiver, actor=actor, changes={"account": account.pk})
    return receiver, secret


def rotate_receiver_secret(receiver: WebhookReceiver, *, secret: str | None = None, actor: Actor = None) -> str:
    """Replace the signing secret (pasted from the platform, or a new random one) and return it once.
    Events signed with the old secret are refused from now on."""
    secret = _checked_secret(secret)
    with transaction.atomic():
        WebhookReceiver.objects.filter(pk=receiver.pk).update(secret_encrypted=crypto.encrypt_text(secret))
        audit.record("analytics.webhook_secret_rotated", receiver, actor=actor)
    receiver.refresh_from_db()
    return secret


def _checked_secret(secret: str | None) -> str:
    if secret is None:
        return _new_secret()
    secret = secret.strip()
    if len(secret) < 16:
        raise ValidationError("A signing secret shorter than 16 characters is too easy to guess.")
    return secret


def receiver_secret(receiver: WebhookReceiver) -> str:
    return crypto.decrypt_text(receiver.secret_encrypted)


def accept_event(receiver: WebhookReceiver, *, kind: str, event_key: str,
                 payload: dict[str, Any]) -> InboundEvent | None:
    """Store a verified event once; None when this account already has that event key (a replay
    or a redelivery). Processing is queued after commit so the sender gets its answer at once."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = InboundEvent.objects.create(account_id=receiver.account_id, event_key=event_key[:200],
                                                    kind=kind[:60], payload=payload)
        except IntegrityError:
            return None
        WebhookReceiver.objects.filter(pk=receiver.pk).update(last_event_at=event.received_at)

        event_id = event.pk
        transaction.on_commit(lambda: tasks.process_inbound_event.delay(event_id))
    return event


# --- Fanvue events --------------------------------------------------------------------------------

FOLLOWER, SUBSCRIBER, PURCHASE, TIP, MESSAGE = (
    "follower.new", "subscriber.new", "purchase.new", "tip.new", "message.received")
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


def _parse_time(value: Any, fallback: datetime) -> datetime:
    if not value:
        return fallback
    if not isinstance(value, str):
        raise ValidationError("The event's timestamp is not a string.")
    parsed = parse_datetime(value.replace("Z", "+00:00"))
    if parsed is None:
        raise ValidationError(f"The event's timestamp {value!r} is not ISO 8601.")
    return timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed


def _amount(data: dict[str, Any], name: str = "price") -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"The event's {name} must be an integer in minor units.")
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

    def fan(self) -> Fan:
        sender = self.data.get("sender") or self.data.get("user") or {}
        if not isinstance(sender, dict) or not sender.get("uuid"):
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


def _on_follower(ctx: _Context) -> None:
    ctx.fan()


def _on_message(ctx: _Context) -> None:
    ctx.fan()


def _on_subscriber(ctx: _Context) -> None:
    fan = ctx.fan()
    price = _amount(ctx.data)
    upsert_subscription(creator=ctx.creator, fan=fan, platform=ctx.platform, account=ctx.account,
                        started_at=ctx.at, price_minor=price, currency=ctx.currency(),
                        external_id=str(ctx.data.get("subscriptionUuid") or ""), trial=price == 0)
    if price > 0:
        ctx.record(K.SUBSCRIPTION, fan)


def _on_tip(ctx: _Context) -> None:
    ctx.record(K.TIP, ctx.fan())


def _on_purchase(ctx: _Context) -> None:
    named = ctx.data.get("purchaseType") or ctx.data.get("type") or ctx.data.get("context")
    if not named:
        named = "post" if ctx.data.get("postUuid") else "message" if ctx.data.get("messageUuid") else ""
    kind = PURCHASE_KINDS.get(str(named).lower())
    if kind is None:
        raise ValidationError(f"Unknown purchase type {named!r}.")
    ctx.record(kind, ctx.fan())


EVENT_HANDLERS: dict[str, Callable[[_Context], None]] = {
    FOLLOWER: _on_follower, SUBSCRIBER: _on_subscriber, PURCHASE: _on_purchase, TIP: _on_tip,
    MESSAGE: _on_message,
}


def process_event(event_id: int) -> str:
    """Turn a stored webhook into fans, subscriptions and transactions, once.

    The row is locked and `processed_at` checked, so a redelivered task does nothing; a payload
    that cannot be read keeps its error on the row (nothing half-written) for a person to look at
    and reprocess from the admin.
    """
    with transaction.atomic():
        event = (InboundEvent.objects.select_for_update().select_related("account__creator")
                 .filter(pk=event_id).first())
        if event is None:
            return "missing"
        if event.processed_at is not None:
            return "already processed"
        handler = EVENT_HANDLERS.get(event.kind)
        if handler is None:
            InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(),
                                                            error=f"Not handled: {event.kind[:60]}")
            return "ignored"
        try:
            with transaction.atomic():
                handler(_Context(event))
        except ValidationError as exc:
            InboundEvent.objects.filter(pk=event.pk).update(error="; ".join(exc.messages)[:2000])
            log.warning("inbound event %s (%s) could not be processed", event.pk, event.kind)
            return "failed"
        InboundEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), error="")
    return "processed"


# --- Metric sync ----------------------------------------------------------------------------------

# Connector counter names → MetricSnapshot fields. Names mapping to one field are distinct counters
# (a repost and a quote are both shares) and are added up. Tips on a post count as purchases:
# money spent on that post. Counters not listed (reach, saves, bookmarks, ratios) are not kept.
METRIC_FIELDS: dict[str, str] = {
    "views": "views", "view_count": "views", "impressions": "views", "impression_count": "views",
    "likes": "likes", "like_count": "likes", "likeCount": "likes", "likesCount": "likes", "score": "likes",
    "comments": "comments", "reply_count": "comments", "replyCount": "comments", "commentsCount": "comments",
    "num_comments": "comments",
    "shares": "shares", "reposts": "shares", "retweet_count": "shares", "repostCount": "shares",
    "quotes": "shares", "quote_count": "shares", "quoteCount": "shares",
    "clicks": "clicks", "link_clicks": "clicks", "url_link_clicks": "clicks",
    "purchases": "purchases", "unlocks": "purchases", "tips": "purchases",
}


# Metrics may take at most this share of an account's rate window per run; publishing keeps the rest.
METRICS_BUDGET_SHARE = 0.5


def snapshot_fields(raw: dict[str, Any]) -> dict[str, int]:
    fields: dict[str, int] = defaultdict(int)
    for name, value in (raw or {}).items():
        field = METRIC_FIELDS.get(name)
        if field and isinstance(value, int | float) and not isinstance(value, bool):
            fields[field] += max(0, int(value))
    return dict(fields)


def due_for_metrics(now: datetime) -> Iterable[Publication]:
    """Published in the window, on a connected account, not measured within the interval;
    never measured first, then the longest unmeasured."""
    window = now - timedelta(days=settings.ANALYTICS_METRICS_WINDOW_DAYS)
    fresh = now - timedelta(minutes=settings.ANALYTICS_METRICS_INTERVAL_MINUTES)
    return (Publication.objects.filter(status=Publication.Status.PUBLISHED, published_at__gte=window,
                                       account__state=PlatformAccount.State.CONNECTED)
            .exclude(external_id="")
            .annotate(last_taken=Max("metric_snapshots__taken_at"))
            .filter(Q(last_taken__isnull=True) | Q(last_taken__lt=fresh))
            .select_related("account")
            .order_by("account_id", F("last_taken").asc(nulls_first=True), "pk"))


def sync_metrics(now: datetime | None = None) -> dict[str, int]:
    """Measure recent publications through each account's connector, within its rate budget.

    The budget is the one publishing spends (scheduling.limits): each account asks for one request
    per publication due, but never more than `METRICS_BUDGET_SHARE` of a window, so a post due in
    the same window still finds requests left; it measures only what was granted and the rest
    wait for the next run. A failing publication is counted and skipped; refused
    credentials mark the account for re-authorisation and end that account's turn. Snapshots are
    written with `taken_at=now`, so a rerun for the same instant adds nothing.
    """
    now = now or timezone.now()
    stats = {"accounts": 0, "fetched": 0, "snapshots": 0, "errors": 0, "deferred": 0, "reauth": 0, "skipped": 0}
    by_account: dict[int, list[Publication]] = defaultdict(list)
    for pub in due_for_metrics(now):
        by_account[pub.account_id].append(pub)
    for pubs in by_account.values():
        account = pubs[0].account
        stats["accounts"] += 1
        try:
            connector = connector_for(account.platform)
        except LookupError:
            stats["skipped"] += len(pubs)
            continue
        wanted = min(len(pubs), max(1, int(connector.limits.requests_per_window * METRICS_BUDGET_SHARE)))
        granted, _ = limits.take_budget(account.pk, wanted, connector.limits)
        stats["deferred"] += len(pubs) - granted
        if not granted:
            continue
        ref = scheduling.account_ref(account, purpose="metrics")
        snapshots = []
        for pub in pubs[:granted]:
            try:
                raw = connector.fetch_metrics(ref, pub.external_id)
            except AuthError as exc:
                scheduling.mark_needs_reauth(account, exc.message)
                stats["reauth"] += 1
                break
            except (ConnectorError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                stats["errors"] += 1
                log.warning("metrics for publication %s failed: %s", pub.pk, type(exc).__name__)
                continue
            stats["fetched"] += 1
            snapshots.append(MetricSnapshot(publication=pub, creator_id=pub.creator_id, taken_at=now,
                                            **snapshot_fields(raw)))
        stats["snapshots"] += len(MetricSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True))
    return stats


# --- Fanvue earnings backfill ---------------------------------------------------------------------

# Fanvue's earning sources (its summary names them subs, renewals, tips, messages, posts,
# referrals) → our kinds; singular forms accepted too.
EARNING_KINDS: dict[str, str] = {
    "subs": K.SUBSCRIPTION, "sub": K.SUBSCRIPTION, "subscription": K.SUBSCRIPTION, "subscriptions": K.SUBSCRIPTION,
    "renewals": K.RENEWAL, "renewal": K.RENEWAL,
    "tips": K.TIP, "tip": K.TIP,
    "messages": K.PAID_MESSAGE, "message": K.PAID_MESSAGE,
    "posts": K.PAID_POST, "post": K.PAID_POST,
    "bundles": K.PACK, "bundle": K.PACK, "packs": K.PACK,
    "referrals": K.REFERRAL, "referral": K.REFERRAL,
    "refund": K.REFUND, "refunds": K.REFUND, "chargeback": K.CHARGEBACK, "chargebacks": K.CHARGEBACK,
}
EARNINGS_PAGE_SIZE = 50


def _earning_id(item: dict[str, Any]) -> str:
    explicit = item.get("uuid") or item.get("id") or item.get("invoiceId")
    if explicit:
        return str(explicit)
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    basis = json.dumps([item.get("date"), item.get("source"), item.get("gross"), item.get("net"),
                        (user or {}).get("uuid")], sort_keys=True)
    return "earning:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def _adopt_webhook_row(*, creator: Creator, kind: str, fan: Fan | None, gross: int, fee: int, at: datetime,
                       external_id: str) -> bool:
    """A sale first seen by a webhook (no platform id, no fee) takes the invoice's id and fee,
    so the backfill completes it instead of counting it twice."""
    if fan is None:
        return False
    candidate = (Transaction.objects.filter(creator=creator, platform="fanvue", kind=kind, fan=fan,
                                            gross_minor=gross, source=Transaction.Source.WEBHOOK,
                                            external_id__startswith="webhook:",
                                            occurred_at__range=(at - BACKFILL_MATCH_WINDOW,
                                                                at + BACKFILL_MATCH_WINDOW))
                 .order_by("pk").first())
    if candidate is None:
        return False
    Transaction.objects.filter(pk=candidate.pk).update(external_id=external_id, fee_minor=fee, net_minor=gross - fee)
    if candidate.currency == settings.ANALYTICS_CURRENCY:
        Fan.objects.filter(pk=fan.pk).update(
            lifetime_spend_minor=F("lifetime_spend_minor") + (gross - fee) - candidate.net_minor)
    _queue_rollup_if_late(creator, candidate.occurred_at)
    return True


def _fanvue_client(account: PlatformAccount) -> tuple[httpx.Client, str]:
    ref = scheduling.account_ref(account, purpose="earnings backfill")
    token = ref.credentials.get("access_token")
    if not token:
        raise AuthError(f"Fanvue @{account.handle} has no access token; connect the account.")
    creator_uuid = (account.options or {}).get("creator_uuid")
    prefix = f"/creators/{creator_uuid}" if creator_uuid else ""
    return client(settings.FANVUE_API_URL, headers={
        "Authorization": f"Bearer {token}", "X-Fanvue-API-Version": settings.FANVUE_API_VERSION}), prefix


def backfill_fanvue(account: PlatformAccount, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    """Record the account's Fanvue earnings between `since` and `until` (default now) as
    transactions (source api). Safe to rerun over the same period: every item is keyed on its
    invoice id, and webhook rows for the same sales are completed rather than duplicated.

    Each page spends one request of the account's rate budget; when the budget is out the run
    stops and says so (`complete: False`), and rerunning later picks the period up again.
    """
    if account.platform != "fanvue":
        raise ValidationError("The earnings backfill reads Fanvue accounts only.")
    until = until or timezone.now()
    if _aware(since, "since") >= _aware(until, "until"):
        raise ValidationError("The backfill period is empty: since must be before until.")
    stats: dict[str, Any] = {"pages": 0, "created": 0, "existing": 0, "completed_webhook_rows": 0, "complete": True}
    creator = account.creator
    params: dict[str, Any] = {"startDate": since.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                              "endDate": until.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                              "size": EARNINGS_PAGE_SIZE}
    try:
        http, prefix = _fanvue_client(account)
        with http:
            while True:
                granted, _ = limits.take_budget(account.pk, 1, FanvueConnector.limits)
                if not granted:
                    stats["complete"] = False
                    break
                page = send(http, "GET", f"{prefix}/insights/earnings", params=params).json()
                stats["pages"] += 1
                for item in page.get("data") or []:
                    outcome = _record_earning(account, creator, item)
                    stats[outcome] += 1
                cursor = page.get("nextCursor")
                if not cursor:
                    break
                params["cursor"] = cursor
    except AuthError as exc:
        scheduling.mark_needs_reauth(account, exc.message)
        raise
    return stats


def _record_earning(account: PlatformAccount, creator: Creator, item: dict[str, Any]) -> str:
    if not isinstance(item, dict):
        raise ValidationError("An earnings item is not an object.")
    source = str(item.get("source") or item.get("type") or "").lower()
    kind = EARNING_KINDS.get(source)
    if kind is None:
        raise ValidationError(f"Unknown Fanvue earning source {source!r}.")
    at = _parse_time(item.get("date") or item.get("createdAt"), timezone.now())
    gross = _amount(item, "gross")
    net = item.get("net")
    fee = gross - net if isinstance(net, int) and not isinstance(net, bool) else 0
    currency = str(item.get("currency") or "USD").upper()
    external_id = _earning_id(item)
    user = item.get("user") if isinstance(item.get("user"), dict) else None
    with transaction.atomic():
        if Transaction.objects.filter(platform="fanvue", external_id=external_id).exists():
            return "existing"
        fan = None
        if user and user.get("uuid"):
            fan, _ = upsert_fan(creator=creator, platform="fanvue", external_id=str(user["uuid"]),
                                handle=str(user.get("handle") or ""), seen_at=at)
        if _adopt_webhook_row(creator=creator, kind=kind, fan=fan, gross=gross, fee=fee, at=at,
                              external_id=external_id):
            return "completed_webhook_rows"
        _, created = record_transaction(creator=creator, platform="fanvue", kind=kind, gross_minor=gross,
                                        fee_minor=fee, currency=currency, occurred_at=at, external_id=external_id,
                                        source=Transaction.Source.API, fan=fan, account=account)
    return "created" if created else "existing"
