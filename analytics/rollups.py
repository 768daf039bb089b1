"""Daily rollups per creator × platform × local day, and the best-hours heatmap.

Rollups are derived data: computing a day replaces that creator's rows for the day inside one
transaction, with the creator rows locked so two recomputes of the same day cannot interleave
their delete and insert. Everything is aggregated in the database (GROUP BY creator, platform,
local day, kind, currency); Python only sees subtotals, plus one pass over the metric snapshots
of the days computed, because an engagement delta needs each publication's previous reading.

A creator's day is their local calendar day: its UTC bounds come from `zoneinfo`, so the days on
which the clocks change have 23 or 25 hours. Creators sharing a timezone are computed together.
Money is converted to the agency currency per (day, currency, kind) subtotal with that local
day's rate (see `analytics.currency`); the original amounts stay on the transactions.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils import timezone

from accounts.models import Creator
from analytics import segments
from analytics.currency import MissingRate, RateBook
from analytics.models import DailyRollup, MetricSnapshot, PostingHour, Subscription, Transaction
from notifications.services import notify
from scheduling.models import Platform, Publication

logger = logging.getLogger(__name__)

METRICS = ("views", "likes", "comments", "shares", "clicks", "purchases")
ENGAGEMENT = ("likes", "comments", "shares", "purchases")
# A publication removed later was still published on its day.
PUBLISHED = (Publication.Status.PUBLISHED, Publication.Status.REMOVED)
BEST_HOURS_DAYS = 90
REBUILD_CHUNK_DAYS = 31

# Rollups speak in money platforms: a manual export account uploading to OnlyFans is "onlyfans",
# the platform its transactions come from.
def rollup_platform(account: str = "account") -> Case:
    return Case(
        When(**{f"{account}__platform": Platform.MANUAL, f"{account}__target_platform": "onlyfans"},
             then=Value("onlyfans")),
        default=F(f"{account}__platform"), output_field=CharField())


class LocalDate(Func):
    """The calendar date of a stored UTC instant in a timezone read from a column, so one query can
    group rows of creators in different timezones by each creator's own day."""

    output_field = DateField()
    arity = 2

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::date", arg_joiner=" AT TIME ZONE ",
                           **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = self.as_sql(compiler, connection, template="django_datetime_cast_date(%(expressions)s, %%s)",
                                  **extra)
        return sql, [*params, connection.timezone_name]


def day_bounds(tz: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """UTC instants of local midnight at the start of `day` and of the next day."""
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(tz).date()


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Contiguous runs of days, so a recompute of scattered days is one range query per run."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def creators_by_timezone(creator_ids: Iterable[int] | None = None) -> dict[str, list[int]]:
    rows = Creator.objects.order_by("pk")
    if creator_ids is not None:
        rows = rows.filter(pk__in=list(creator_ids))
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, tz in rows.values_list("pk", "timezone"):
        groups[tz].append(pk)
    return dict(groups)


@dataclass
class _Row:
    gross: int = 0
    net: int = 0
    transactions: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    new: int = 0
    churned: int = 0
    active: int = 0
    posts: int = 0
    metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))

    def empty(self) -> bool:
        return not (self.transactions or self.new or self.churned or self.active or self.posts
                    or any(self.metrics.values()))


Key = tuple[int, str, date]


def _money(rows: dict[Key, _Row], tz: ZoneInfo, ids: list[int], start: datetime, end: datetime,
           last: date) -> None:
    subtotals = list(
        Transaction.objects.filter(creator_id__in=ids, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(local_day=TruncDate("occurred_at", tzinfo=tz))
        .values("creator_id", "platform", "local_day", "kind", "currency")
        .annotate(n=Count("id"), gross=Sum("gross_minor"), net=Sum("net_minor"))
        .order_by())
    book = RateBook.load({s["currency"] for s in subtotals}, until=last)
    for s in subtotals:
        row = rows.setdefault((s["creator_id"], s["platform"], s["local_day"]), _Row())
        gross = book.to_agency(s["gross"], s["currency"], s["local_day"])
        net = book.to_agency(s["net"], s["currency"], s["local_day"])
        kind = row.by_kind.setdefault(s["kind"], {"count": 0, "gross_minor": 0, "net_minor": 0})
        kind["count"] += s["n"]
        kind["gross_minor"] += gross
        kind["net_minor"] += net
        row.gross += gross
        row.net += net
        row.transactions += s["n"]


def _subscribers(rows: dict[Key, _Row], tz: ZoneInfo, ids: list[int], first: date, last: date,
                 start: datetime, end: datetime) -> None:
    """New and churned per day by GROUP BY; active at the end of each day as the count active at
    the start of the range plus the running difference, so a range costs three queries."""
    subs = Subscription.objects.filter(creator_id__in=ids)
    baseline = {
        (r["creator_id"], r["platform"]): r["n"]
        for r in subs.filter(started_at__lt=start).filter(Q(ends_at__isnull=True) | Q(ends_at__gte=start))
        .values("creator_id", "platform").annotate(n=Count("id")).order_by()}
    started: dict[Key, int] = {
        (r["creator_id"], r["platform"], r["d"]): r["n"]
        for r in subs.filter(started_at__gte=start, started_at__lt=end)
        .annotate(d=TruncDate("started_at", tzinfo=tz))
        .values("creator_id", "platform", "d").annotate(n=Count("id")).order_by()}
    ended: dict[Key, int] = {
        (r["creator_id"], r["platform"], r["d"]): r["n"]
        for r in subs.filter(ends_at__gte=start, ends_at__lt=end)
        .annotate(d=TruncDate("ends_at", tzinfo=tz))
        .values("creator_id", "platform", "d").annotate(n=Count("id")).order_by()}
    pairs = set(baseline) | {k[:2] for k in started} | {k[:2] for k in ended}
    for creator_id, platform in pairs:
        active = baseline.get((creator_id, platform), 0)
        for day in _days(first, last):
            key = (creator_id, platform, day)
            new, gone = started.get(key, 0), ended.get(key, 0)
            active += new - gone
            if new or gone or active:
                row = rows.setdefault(key, _Row())
                row.new, row.churned, row.active = new, gone, max(active, 0)


def _posts(rows: dict[Key, _Row], tz: ZoneInfo, ids: list[int], start: datetime, end: datetime) -> None:
    for r in (Publication.objects.filter(account__creator_id__in=ids, status__in=PUBLISHED,
                                         published_at__gte=start, published_at__lt=end)
              .annotate(p=rollup_platform(), d=TruncDate("published_at", tzinfo=tz), c=F("account__creator_id"))
              .values("c", "p", "d").annotate(n=Count("id")).order_by()):
        rows.setdefault((r["c"], r["p"], r["d"]), _Row()).posts = r["n"]


def _engagement(rows: dict[Key, _Row], tz: ZoneInfo, ids: list[int], start: datetime, end: datetime) -> None:
    """Per publication and day: its last reading of the day minus its last reading before that
    day, each counter floored at 0 (platforms recount and a dip is not negative engagement)."""
    in_range = MetricSnapshot.objects.filter(publication__account__creator_id__in=ids,
                                             taken_at__gte=start, taken_at__lt=end)
    previous_pk = Subquery(MetricSnapshot.objects.filter(publication_id=OuterRef("publication_id"),
                                                         taken_at__lt=start)
                           .order_by("-taken_at").values("pk")[:1])
    before_ids = (in_range.order_by().values("publication_id").distinct()
                  .annotate(prev=previous_pk).values("prev"))
    previous = {r[0]: r[1:] for r in MetricSnapshot.objects.filter(pk__in=Subquery(before_ids))
                .values_list("publication_id", *METRICS)}
    current: int | None = None
    day_reading: dict[date, tuple[int, ...]] = {}
    keys: dict[int, tuple[int, str]] = {}

    def flush() -> None:
        prev = previous.get(current, (0,) * len(METRICS)) if current is not None else ()
        for day in sorted(day_reading):
            reading = day_reading[day]
            creator_id, platform = keys[current]
            row = rows.setdefault((creator_id, platform, day), _Row())
            for name, now_value, before in zip(METRICS, reading, prev, strict=True):
                row.metrics[name] += max(now_value - before, 0)
            prev = reading

    for pub_id, creator_id, platform, taken_at, *values in (
            in_range.annotate(c=F("publication__account__creator_id"), p=rollup_platform("publication__account"))
            .order_by("publication_id", "taken_at")
            .values_list("publication_id", "c", "p", "taken_at", *METRICS).iterator(chunk_size=5000)):
        if pub_id != current:
            if current is not None:
                flush()
            current, day_reading = pub_id, {}
            keys[pub_id] = (creator_id, platform)
        day_reading[taken_at.astimezone(tz).date()] = tuple(values)
    if current is not None:
        flush()


def _compute(tz_name: str, ids: list[int], first: date, last: date) -> list[DailyRollup]:
    tz = ZoneInfo(tz_name)
    start, end = day_bounds(tz, first)[0], day_bounds(tz, last)[1]
    rows: dict[Key, _Row] = {}
    _money(rows, tz, ids, start, end, last)
    _subscribers(rows, tz, ids, first, last, start, end)
    _posts(rows, tz, ids, start, end)
    _engagement(rows, tz, ids, start, end)
    computed_at = timezone.now()
    return [
        DailyRollup(creator_id=c, platform=p, day=d, gross_minor=r.gross, net_minor=r.net,
                    by_kind={k: r.by_kind[k] for k in sorted(r.by_kind)}, transactions=r.transactions,
                    new_subscribers=r.new, churned_subscribers=r.churned, active_subscribers=r.active,
                    posts_published=r.posts, computed_at=computed_at, **r.metrics)
        for (c, p, d), r in sorted(rows.items()) if not r.empty()]


def replace_range(tz_name: str, creator_ids: list[int], first: date, last: date) -> int:
    """Recompute and replace the rollups of creators sharing `tz_name` for days first..last.
    Returns the number of rows written."""
    if not creator_ids or first > last:
        return 0
    with transaction.atomic():
        # Serialises recomputes of the same creators: the second waits and then sees the first's rows.
        list(Creator.objects.select_for_update().filter(pk__in=creator_ids).order_by("pk").values_list("pk"))
        rows = _compute(tz_name, creator_ids, first, last)
        DailyRollup.objects.filter(creator_id__in=creator_ids, day__gte=first, day__lte=last).delete()
        DailyRollup.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def rollup_day(creator_id: int, day: date) -> int:
    tz_name = Creator.objects.values_list("timezone", flat=True).get(pk=creator_id)
    return replace_range(tz_name, [creator_id], day, day)


def recompute(creator_id: int, days: Iterable[date]) -> int:
    """Late data, imports, on demand: only the days given, one range per contiguous run."""
    tz_name = Creator.objects.values_list("timezone", flat=True).get(pk=creator_id)
    return sum(replace_range(tz_name, [creator_id], first, last) for first, last in _runs(days))


def late_days(since: datetime, before: dict[int, date]) -> dict[int, list[date]]:
    """Per creator (the keys of `before`), the local days earlier than `before[creator]` that
    received transactions recorded since `since` after their rollup was computed, or that have no
    rollup yet. Days from `before` on are left to the run that computes them. One scan for every
    timezone (see `LocalDate`); `Transaction.created_at` has no index, so this is a sequential
    scan: about a second at 10 M rows (bench/README.md)."""
    recorded = Transaction.objects.filter(created_at__gte=since, creator_id__in=list(before))
    touched = (recorded.annotate(d=LocalDate("occurred_at", "creator__timezone"))
               .values("creator_id", "d").annotate(latest=Max("created_at")).order_by())
    candidates = {(r["creator_id"], r["d"]): r["latest"] for r in touched if r["d"] < before[r["creator_id"]]}
    if not candidates:
        return {}
    computed = {(r["creator_id"], r["day"]): r["at"] for r in
                DailyRollup.objects.filter(creator_id__in={c for c, _ in candidates},
                                           day__in={d for _, d in candidates})
                .values("creator_id", "day").annotate(at=Min("computed_at")).order_by()}
    stale: dict[int, list[date]] = defaultdict(list)
    for (creator_id, day), latest in sorted(candidates.items()):
        at = computed.get((creator_id, day))
        if at is None or at < latest:
            stale[creator_id].append(day)
    return dict(stale)


def _report_missing_rate(error: MissingRate) -> None:
    notify("analytics.missing_rate", creator_id=None, level="error",
           title=f"Exchange rate missing: {error.currency} on {error.day.isoformat()}",
           body=f"{error} Rollups that need it are not computed until it is added.",
           dedupe_key=f"analytics.missing_rate:{error.currency}:{error.day.isoformat()}")


def nightly(now: datetime | None = None) -> dict[str, Any]:
    """Yesterday in each creator's timezone, the earlier days late transactions touched, then fan
    lifetime spend and segments and the best-hours heatmap. A timezone group whose money cannot be
    converted is skipped and reported once (the rest still runs)."""
    now = now or timezone.now()
    since = now - timedelta(hours=settings.ANALYTICS_LATE_DATA_LOOKBACK_HOURS)
    result: dict[str, Any] = {"rows": 0, "late_days": 0, "errors": []}
    groups = creators_by_timezone()
    yesterdays = {tz_name: local_today(ZoneInfo(tz_name), now) - timedelta(days=1) for tz_name in groups}
    timezone_of = {pk: tz_name for tz_name, ids in groups.items() for pk in ids}
    late = late_days(since, {pk: yesterdays[tz_name] for pk, tz_name in timezone_of.items()})
    for tz_name, ids in groups.items():
        try:
            result["rows"] += replace_range(tz_name, ids, yesterdays[tz_name], yesterdays[tz_name])
            for creator_id in ids:
                result["late_days"] += len(late.get(creator_id, []))
                for first, last in _runs(late.get(creator_id, [])):
                    result["rows"] += replace_range(tz_name, [creator_id], first, last)
        except MissingRate as error:
            logger.error("Nightly rollup of %s skipped: %s", tz_name, error)
            result["errors"].append(str(error))
            _report_missing_rate(error)
    try:
        result["fans"] = segments.refresh(now=now, since=since)
    except MissingRate as error:
        result["errors"].append(str(error))
        _report_missing_rate(error)
    result["posting_hours"] = refresh_posting_hours(now=now)
    return result


def rebuild(creator_id: int | None = None, start: date | None = None, end: date | None = None) -> dict[str, int]:
    """Every day from the first data (or `start`) to today (or `end`), in chunks of a month so a
    rebuild never holds a year of rows in memory or one lock for its whole run; then fans and
    best hours."""
    ids = None if creator_id is None else [creator_id]
    result = {"rows": 0, "chunks": 0}
    for tz_name, group in creators_by_timezone(ids).items():
        tz = ZoneInfo(tz_name)
        first = start or _first_day(tz, group)
        last = end or local_today(tz)
        if first is None:
            continue
        chunk = first
        while chunk <= last:
            chunk_end = min(chunk + timedelta(days=REBUILD_CHUNK_DAYS - 1), last)
            result["rows"] += replace_range(tz_name, group, chunk, chunk_end)
            result["chunks"] += 1
            chunk = chunk_end + timedelta(days=1)
    result["fans"] = segments.refresh(creator_ids=ids)
    result["posting_hours"] = refresh_posting_hours(creator_ids=ids)
    return result


def _first_day(tz: ZoneInfo, ids: list[int]) -> date | None:
    firsts = [
        Transaction.objects.filter(creator_id__in=ids).aggregate(m=Min("occurred_at"))["m"],
        Subscription.objects.filter(creator_id__in=ids).aggregate(m=Min("started_at"))["m"],
        Publication.objects.filter(account__creator_id__in=ids, published_at__isnull=False)
        .aggregate(m=Min("published_at"))["m"],
    ]
    known = [f for f in firsts if f is not None]
    return min(known).astimezone(tz).date() if known else None


def refresh_posting_hours(creator_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Rebuild the heatmap of the accounts of these creators (all by default) from the last 90
    days of publications: each counts at its local weekday (0 = Monday) and hour with the
    engagement of its latest reading, so a post keeps earning credit for the slot it went out in."""
    now = now or timezone.now()
    since = now - timedelta(days=BEST_HOURS_DAYS)
    latest_engagement = Subquery(
        MetricSnapshot.objects.filter(publication_id=OuterRef("pk")).order_by("-taken_at")
        .annotate(e=F("likes") + F("comments") + F("shares") + F("purchases")).values("e")[:1],
        output_field=IntegerField())
    written = 0
    for tz_name, ids in creators_by_timezone(creator_ids).items():
        tz = ZoneInfo(tz_name)
        cells = (Publication.objects.filter(account__creator_id__in=ids, status__in=PUBLISHED,
                                            published_at__gte=since, published_at__lte=now)
                 .annotate(wd=ExtractIsoWeekDay("published_at", tzinfo=tz), hr=ExtractHour("published_at", tzinfo=tz),
                           eng=Coalesce(latest_engagement, 0))
                 .values("account_id", "wd", "hr").annotate(n=Count("id"), total=Sum("eng")).order_by())
        computed_at = timezone.now()
        rows = [PostingHour(account_id=c["account_id"], weekday=c["wd"] - 1, hour=c["hr"], publications=c["n"],
                            engagement=c["total"] or 0, computed_at=computed_at)
                for c in sorted(cells, key=lambda c: (c["account_id"], c["wd"], c["hr"]))]
        with transaction.atomic():
            PostingHour.objects.filter(account__creator_id__in=ids).delete()
            PostingHour.objects.bulk_create(rows, batch_size=2000)
        written += len(rows)
    return written
