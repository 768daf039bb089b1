"""The shared write path: fans, subscriptions and transactions.

Webhooks, the Fanvue earnings backfill, statement imports and manual entries all call
`record_transaction`, so one sale counts once whichever way it arrives: rows are keyed on the
platform's external id (unique per platform), and a duplicate is answered with the row already
stored instead of a second one.

Lifetime spend: updated live only for transactions in `settings.ANALYTICS_CURRENCY`; others wait
for the nightly rollup, which converts through the rates table."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from accounts.models import Creator
from analytics import tasks
from analytics.models import (
    SOURCE_PLATFORMS,
    Fan,
    Subscription,
    Transaction,
)
from scheduling.models import PlatformAccount, Publication

K = Transaction.Kind


NEGATIVE_KINDS = frozenset({K.REFUND, K.CHARGEBACK})
PLATFORMS = frozenset(value for value, _ in SOURCE_PLATFORMS)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_MINOR = 2**63 - 1  # the amount columns are bigint
ID_LENGTH = 200  # the external id columns


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
    fans, created = upsert_fans(creator=creator, platform=platform, sightings=[(external_id, handle, seen_at)])
    fan = next(iter(fans.values()))
    return fan, fan.pk in created


Sighting = tuple[str, str, datetime | None]  # the platform's id for the fan, a handle ("" unknown), when


def upsert_fans(*, creator: Creator, platform: str, sightings: list[Sighting]) -> tuple[dict[str, Fan], set[int]]:
    """`upsert_fan` for many sightings at once (a batch of webhooks): the fans by their platform id, and the
    primary keys of those created. The fans seen before are read and locked in one query, in primary-key order
    (two batches never wait on each other in a circle), and written back in one: every webhook pays this.
    No savepoint of its own; an error leaves through the caller's transaction."""
    _check_platform(platform)
    merged: dict[str, tuple[str, datetime, datetime]] = {}  # id → (newest non-empty handle, first, last)
    for external_id, handle, seen_at in sightings:
        key = str(external_id or "").strip()
        if not key:
            raise ValidationError("A fan needs the platform's id for them.")
        if len(key) > ID_LENGTH:
            raise ValidationError(f"The fan's platform id is longer than {ID_LENGTH} characters.")
        seen = _aware(seen_at, "seen_at") if seen_at is not None else timezone.now()
        name = (handle or "")[:200]
        before = merged.get(key)
        if before is None:
            merged[key] = (name, seen, seen)
        else:
            merged[key] = (name or before[0], min(before[1], seen), max(before[2], seen))
    created: set[int] = set()
    with transaction.atomic(savepoint=False):
        fans = {fan.external_id: fan for fan in Fan.objects.select_for_update(of=("self",))
                .filter(creator=creator, platform=platform, external_id__in=list(merged)).order_by("pk")}
        changed: list[Fan] = []
        for key, (handle, first, last) in merged.items():
            fan = fans.get(key)
            if fan is None:
                try:
                    with transaction.atomic():
                        fans[key] = Fan.objects.create(creator=creator, platform=platform, external_id=key,
                                                       handle=handle, first_seen=first, last_seen=last)
                    created.add(fans[key].pk)
                    continue
                except IntegrityError:  # created by another source at the same moment
                    fan = fans[key] = (Fan.objects.select_for_update(of=("self",))
                                       .get(creator=creator, platform=platform, external_id=key))
            if last > fan.last_seen or first < fan.first_seen or (handle and handle != fan.handle):
                # The row is locked: the values read are the row's, so these are the earliest and the latest.
                fan.last_seen, fan.first_seen = max(fan.last_seen, last), min(fan.first_seen, first)
                fan.handle = handle or fan.handle
                changed.append(fan)
        if len(changed) == 1:
            fan = changed[0]
            Fan.objects.filter(pk=fan.pk).update(first_seen=fan.first_seen, last_seen=fan.last_seen, handle=fan.handle)
        elif changed:
            Fan.objects.bulk_update(changed, ["first_seen", "last_seen", "handle"])
    return fans, created


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
    if not 0 <= price_minor <= MAX_MINOR:
        raise ValidationError("A subscription price cannot be negative or larger than a bigint.")
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
    if abs(gross_minor) > MAX_MINOR or abs(fee_minor) > MAX_MINOR:
        raise ValidationError("The amount is out of range.")
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
