"""Fan lifetime spend and segments, recomputed in bulk by the nightly rollup and by a rebuild.

Lifetime spend is the sum of a fan's net amounts (refunds and chargebacks are negative) in the
agency currency, each (currency, creator-local day) subtotal converted at that day's rate. The
nightly run only recomputes the fans whose transactions were recorded or occurred since the last
window, each from their whole history, so it stays exact without reading every transaction.

Segments, evaluated at `now`, first matching rule wins:

1. **churned** — no active subscription, and at least one subscription that has ended
   (`ends_at` ≤ now). Active means `started_at` ≤ now and (`ends_at` empty or > now).
2. **at_risk** — an active subscription with auto-renew off, or an active subscription while
   `last_seen` is more than 30 days ago (subscribed but silent).
3. **whale** — lifetime spend > 0 and among the top 5 % of the creator's paying fans by lifetime
   spend (ties included), or lifetime spend ≥ `ANALYTICS_WHALE_MIN_SPEND_MINOR` when that is set.
4. **new** — `first_seen` within the last 30 days.
5. **regular** — everyone else.

At-risk comes before whale on purpose: a big spender about to leave is the fan to call first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, Exists, Max, Min, OuterRef, Q, Sum, Value, When, Window
from django.db.models.functions import CumeDist
from django.utils import timezone

from accounts.models import Creator
from analytics import rollups
from analytics.currency import RateBook, agency_currency
from analytics.models import Fan, Subscription, Transaction

RECENT_DAYS = 30
WHALE_SHARE = Decimal("0.05")
SPEND_CHUNK = 10_000


def refresh(creator_ids: Iterable[int] | None = None, now: datetime | None = None,
            since: datetime | None = None) -> dict[str, int]:
    """Lifetime spend of the fans touched since `since` (all fans when None), then every fan's
    segment. Returns how many fans changed spend and how many changed segment."""
    now = now or timezone.now()
    creators = Creator.objects.all() if creator_ids is None else Creator.objects.filter(pk__in=list(creator_ids))
    ids = list(creators.order_by("pk").values_list("pk", flat=True))
    return {"spend_changed": refresh_spend(ids, since), "segment_changed": assign_segments(ids, now)}


def refresh_spend(creator_ids: list[int], since: datetime | None = None) -> int:
    """Recompute lifetime spend, first and last seen of the creators' fans that have transactions
    recorded or occurring since `since` (every fan when None), each from their whole history.
    Works in chunks of fans so memory stays bounded on a rebuild; foreign money is grouped by fan,
    currency and the creator's local day (one query for all timezones, see `rollups.LocalDate`)
    and converted once per group."""
    fans = Fan.objects.filter(creator_id__in=creator_ids)
    if since is not None:
        touched = (Transaction.objects.filter(creator_id__in=creator_ids, fan__isnull=False)
                   .filter(Q(created_at__gte=since) | Q(occurred_at__gte=since)).values("fan_id"))
        fans = fans.filter(pk__in=touched)
    # Materialised once: the touched-fan scan reads every transaction (no index on created_at).
    fan_ids = list(fans.order_by("pk").values_list("pk", flat=True))
    updates: list[Fan] = []
    for i in range(0, len(fan_ids), SPEND_CHUNK):
        updates += _spend_of(fan_ids[i:i + SPEND_CHUNK])
    _write_spend(updates)
    return len(updates)


def _spend_of(fan_ids: list[int]) -> list[Fan]:
    """The fans among `fan_ids` whose spend, first or last seen changed, with the new values set."""
    agency = agency_currency()
    txs = Transaction.objects.filter(fan_id__in=fan_ids)
    spend: dict[int, int] = defaultdict(int)
    seen: dict[int, tuple[datetime, datetime]] = {}
    for r in (txs.values("fan_id").annotate(first=Min("occurred_at"), last=Max("occurred_at"),
                                            net=Sum("net_minor", filter=Q(currency=agency))).order_by()):
        seen[r["fan_id"]] = (r["first"], r["last"])
        spend[r["fan_id"]] += r["net"] or 0
    foreign = list(txs.exclude(currency=agency).annotate(d=rollups.LocalDate("occurred_at", "creator__timezone"))
                   .values("fan_id", "currency", "d").annotate(net=Sum("net_minor")).order_by())
    book = RateBook.load({r["currency"] for r in foreign})
    for r in foreign:
        spend[r["fan_id"]] += book.to_agency(r["net"], r["currency"], r["d"])
    changed = []
    for fan in Fan.objects.filter(pk__in=fan_ids).only("pk", "lifetime_spend_minor", "first_seen", "last_seen"):
        total = spend.get(fan.pk, 0)
        first, last = seen.get(fan.pk, (fan.first_seen, fan.last_seen))
        first, last = min(first, fan.first_seen), max(last, fan.last_seen)
        if (total, first, last) != (fan.lifetime_spend_minor, fan.first_seen, fan.last_seen):
            fan.lifetime_spend_minor, fan.first_seen, fan.last_seen = total, first, last
            changed.append(fan)
    return changed


def _write_spend(fans: list[Fan]) -> None:
    """On PostgreSQL one `UPDATE … FROM (VALUES …)` per 5,000 fans, because `bulk_update` writes a
    CASE with one branch per row and per field, which PostgreSQL evaluates row by row; a rebuild
    rewrites most of the fans."""
    fields = ["lifetime_spend_minor", "first_seen", "last_seen"]
    with transaction.atomic():
        if connection.vendor != "postgresql":
            Fan.objects.bulk_update(fans, fields, batch_size=1000)
            return
        table = Fan._meta.db_table
        with connection.cursor() as cursor:
            for i in range(0, len(fans), 5000):
                batch = fans[i:i + 5000]
                rows = ", ".join(["(%s::bigint, %s::bigint, %s::timestamptz, %s::timestamptz)"] * len(batch))
                params = [v for fan in batch for v in (fan.pk, fan.lifetime_spend_minor, fan.first_seen, fan.last_seen)]
                cursor.execute(
                    f"UPDATE {table} AS fan SET lifetime_spend_minor = v.spend, first_seen = v.first, "  # noqa: S608
                    f"last_seen = v.last FROM (VALUES {rows}) AS v(id, spend, first, last) WHERE fan.id = v.id",
                    params)


def whale_thresholds(creator_ids: list[int]) -> dict[int, int]:
    """Per creator, the smallest lifetime spend inside the top 5 % of paying fans."""
    top = (Fan.objects.filter(creator_id__in=creator_ids, lifetime_spend_minor__gt=0)
           .annotate(share=Window(CumeDist(), partition_by="creator_id", order_by="-lifetime_spend_minor"))
           .filter(share__lte=WHALE_SHARE)
           .values_list("creator_id", "lifetime_spend_minor"))
    thresholds: dict[int, int] = {}
    for creator_id, spend in top:
        thresholds[creator_id] = min(spend, thresholds.get(creator_id, spend))
    return thresholds


def assign_segments(creator_ids: list[int], now: datetime) -> int:
    """One UPDATE over the creators' fans with the rules of the module docstring."""
    if not creator_ids:
        return 0
    recent = now - timedelta(days=RECENT_DAYS)
    active = Subscription.objects.filter(fan_id=OuterRef("pk"), started_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    ended = Subscription.objects.filter(fan_id=OuterRef("pk"), ends_at__lte=now)
    whale = Q(pk__in=[])
    for creator_id, threshold in whale_thresholds(creator_ids).items():
        whale |= Q(creator_id=creator_id, lifetime_spend_minor__gte=threshold)
    if settings.ANALYTICS_WHALE_MIN_SPEND_MINOR > 0:
        whale |= Q(lifetime_spend_minor__gte=settings.ANALYTICS_WHALE_MIN_SPEND_MINOR)
    whale &= Q(lifetime_spend_minor__gt=0)
    S = Fan.Segment
    segment = Case(
        When(~Exists(active) & Exists(ended), then=Value(S.CHURNED)),
        When(Exists(active.filter(auto_renew=False)) | (Exists(active) & Q(last_seen__lt=recent)),
             then=Value(S.AT_RISK)),
        When(whale, then=Value(S.WHALE)),
        When(first_seen__gte=recent, then=Value(S.NEW)),
        default=Value(S.REGULAR), output_field=CharField())
    # Only rows whose segment changes are written, so a nightly run rewrites few fans.
    return Fan.objects.filter(creator_id__in=creator_ids).exclude(segment=segment).update(segment=segment)


def segment_counts(creator_id: int) -> dict[str, int]:
    return dict(Fan.objects.filter(creator_id=creator_id).values_list("segment").annotate(n=Count("pk"))
                .order_by())
