"""Chatter metrics: what each chatter and each shift did for the fans, over a period.

Messages sent, first-response and reply times (p50/p90), pay-per-view sent against bought, revenue
credited and revenue per message. Everything is counted in the database, grouped once per measure (no
query per chatter): messages and pay-per-view from `Message`, response times and credited revenue from
the `ReportingEvent` rows written when they happened. Percentiles use PostgreSQL's `percentile_cont`;
on SQLite (`make run` without a database server) the same interpolation is done in Python over the
grouped values. Revenue is converted to the agency currency with analytics' dated rates, one rate per
day and currency (`analytics.currency.RateBook`), so a chatter paid in EUR and one paid in USD compare.

Callers narrow the creators by tenancy (`creator_ids_for`): a chatter's numbers are only ever computed
over creators the person asking may see.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts import tenancy
from accounts.models import User
from analytics.currency import MissingRate, RateBook, agency_currency
from core.money import format_money
from inbox.models import Message, ReportingEvent, Shift

MAX_DAYS = 366  # the longest period asked about at once
Kind = ReportingEvent.Kind
OUT = Message.Direction.OUT
# A message the platform never took is not "sent"; one whose outcome is unknown may have been.
NOT_SENT = (Message.SendStatus.FAILED,)


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(p) WITHIN GROUP (ORDER BY x)`: the linearly interpolated percentile."""

    function = "percentile_cont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The same interpolation as `percentile_cont`, for databases without it."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def has_percentile_cont() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class Row:
    """One chatter's (or one shift's) numbers. Money in minor units of `currency` (the agency's)."""

    key: int
    label: str = ""
    creator_label: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    messages_sent: int = 0
    first_responses: int = 0
    first_response_p50: float | None = None
    first_response_p90: float | None = None
    replies: int = 0
    reply_p50: float | None = None
    reply_p90: float | None = None
    ppv_sent: int = 0
    ppv_bought: int = 0
    purchases: int = 0
    revenue_minor: int = 0
    currency: str = field(default_factory=agency_currency)
    missing_rates: list[str] = field(default_factory=list)

    @property
    def ppv_conversion(self) -> float | None:
        return self.ppv_bought / self.ppv_sent if self.ppv_sent else None

    @property
    def revenue_per_message_minor(self) -> int | None:
        return round(self.revenue_minor / self.messages_sent) if self.messages_sent else None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.label, "creator": self.creator_label,
                "starts_at": self.starts_at, "ends_at": self.ends_at, "messages_sent": self.messages_sent,
                "first_responses": self.first_responses, "first_response_p50": self.first_response_p50,
                "first_response_p90": self.first_response_p90, "replies": self.replies,
                "reply_p50": self.reply_p50, "reply_p90": self.reply_p90, "ppv_sent": self.ppv_sent,
                "ppv_bought": self.ppv_bought, "ppv_conversion": self.ppv_conversion, "purchases": self.purchases,
                "revenue_minor": self.revenue_minor, "currency": self.currency,
                "revenue_per_message_minor": self.revenue_per_message_minor,
                "missing_rates": self.missing_rates}


# --- Period and scope ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    first_day: date
    last_day: date


def period_of(first_day: date, last_day: date) -> Period:
    """Whole days of the agency's zone, the last one included, as [start, end)."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(first_day, time.min, tzinfo=tz)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)
    return Period(start=start, end=end, first_day=first_day, last_day=last_day)


def creator_ids_for(principal: Any, creator_ids: Iterable[int] | None = None) -> list[int] | None:
    """The creators whose chatter metrics `principal` may read (those whose reporting events they may
    view), narrowed to `creator_ids` when given. None means every creator (the agency owner)."""
    allowed = tenancy.allowed_creator_ids(principal, ReportingEvent, "view")
    wanted = None if creator_ids is None else {int(c) for c in creator_ids}
    if allowed is tenancy.ALL:
        return None if wanted is None else sorted(wanted)
    return sorted(allowed if wanted is None else allowed & wanted)


def _scoped(queryset: QuerySet[Any], creator_ids: list[int] | None, start: datetime, end: datetime,
            at: str) -> QuerySet[Any]:
    queryset = queryset.filter(**{f"{at}__gte": start, f"{at}__lt": end})
    if creator_ids is not None:
        queryset = queryset.filter(creator_id__in=creator_ids)
    return queryset


# --- Per chatter -----------------------------------------------------------------------------------------


def by_chatter(start: datetime, end: datetime, creator_ids: list[int] | None,
               chatter_ids: Iterable[int] | None = None) -> list[Row]:
    """One row per chatter who sent a message or was credited in [start, end), most revenue first."""
    chatters = None if chatter_ids is None else sorted({int(c) for c in chatter_ids})
    messages = _scoped(Message.objects.filter(direction=OUT, sent_by__isnull=False).exclude(send_status__in=NOT_SENT),
                       creator_ids, start, end, "created_at")
    events = _scoped(ReportingEvent.objects.filter(chatter__isnull=False), creator_ids, start, end, "at")
    if chatters is not None:
        messages = messages.filter(sent_by_id__in=chatters)
        events = events.filter(chatter_id__in=chatters)
    rows: dict[int, Row] = {}
    _add_messages(rows, messages, "sent_by_id")
    _add_times(rows, events, "chatter_id")
    _add_revenue(rows, events, "chatter_id")
    _label_chatters(rows)
    return sorted(rows.values(), key=lambda r: (-r.revenue_minor, -r.messages_sent, r.label, r.key))


# --- Per shift -------------------------------------------------------------------------------------------


def by_shift(start: datetime, end: datetime, creator_ids: list[int] | None,
             chatter_ids: Iterable[int] | None = None) -> list[Row]:
    """One row per shift that overlaps [start, end): what its chatter did for its creator during it."""
    shifts = Shift.objects.filter(starts_at__lt=end, ends_at__gt=start)
    if creator_ids is not None:
        shifts = shifts.filter(creator_id__in=creator_ids)
    if chatter_ids is not None:
        shifts = shifts.filter(chatter_id__in=sorted({int(c) for c in chatter_ids}))
    shifts = shifts.select_related("chatter", "creator").order_by("starts_at", "pk")
    rows = {s.pk: Row(key=s.pk, label=_person(s.chatter), creator_label=s.creator.stage_name,
                      starts_at=s.starts_at, ends_at=s.ends_at) for s in shifts[:2000]}
    if not rows:
        return []
    # A message belongs to the shift its chatter was on for that creator when it was written: one join.
    messages = (Message.objects.filter(direction=OUT, sent_by__isnull=False, created_at__gte=start, created_at__lt=end)
                .exclude(send_status__in=NOT_SENT)
                .filter(creator_id=F("sent_by__shifts__creator_id"),
                        created_at__gte=F("sent_by__shifts__starts_at"), created_at__lt=F("sent_by__shifts__ends_at"),
                        sent_by__shifts__pk__in=list(rows)))
    _add_messages(rows, messages, "sent_by__shifts__pk")
    events = ReportingEvent.objects.filter(shift_id__in=list(rows), at__gte=start, at__lt=end)
    _add_times(rows, events, "shift_id")
    _add_revenue(rows, events, "shift_id")
    return list(rows.values())


# --- Measures ---------------------------------------------------------------------------------------------


def _row(rows: dict[int, Row], key: int) -> Row:
    if key not in rows:
        rows[key] = Row(key=key)
    return rows[key]


def _add_messages(rows: dict[int, Row], messages: QuerySet[Any], key: str) -> None:
    counted = (messages.order_by().values(key)
               .annotate(sent=Count("pk", distinct=True),
                         ppv=Count("pk", filter=Q(price_minor__isnull=False), distinct=True),
                         bought=Count("pk", filter=Q(price_minor__isnull=False, purchased_at__isnull=False),
                                      distinct=True)))
    for item in counted:
        row = _row(rows, item[key])
        row.messages_sent, row.ppv_sent, row.ppv_bought = item["sent"], item["ppv"], item["bought"]


def _add_times(rows: dict[int, Row], events: QuerySet[Any], key: str) -> None:
    timed = events.filter(kind__in=[Kind.FIRST_RESPONSE, Kind.REPLY], seconds__isnull=False).order_by()
    for kind, prefix in ((Kind.FIRST_RESPONSE, "first_response"), (Kind.REPLY, "reply")):
        of_kind = timed.filter(kind=kind)
        for group, count, p50, p90 in _percentiles(of_kind, key):
            row = _row(rows, group)
            setattr(row, "first_responses" if prefix == "first_response" else "replies", count)
            setattr(row, f"{prefix}_p50", p50)
            setattr(row, f"{prefix}_p90", p90)


def _percentiles(events: QuerySet[Any], key: str) -> list[tuple[int, int, float | None, float | None]]:
    if has_percentile_cont():
        return [(item[key], item["n"], item["p50"], item["p90"]) for item in events.values(key).annotate(
            n=Count("pk"), p50=PercentileCont("seconds", 0.5), p90=PercentileCont("seconds", 0.9))]
    grouped: dict[int, list[float]] = defaultdict(list)
    for group, seconds in events.values_list(key, "seconds").order_by(key, "seconds").iterator(chunk_size=5000):
        grouped[group].append(float(seconds))
    return [(group, len(values), percentile(values, 0.5), percentile(values, 0.9))
            for group, values in grouped.items()]


def _add_revenue(rows: dict[int, Row], events: QuerySet[Any], key: str) -> None:
    """Credited purchases summed per (group, currency, day) in the database, converted per day."""
    credited = (events.filter(kind=Kind.PURCHASE_CREDITED, amount_minor__isnull=False).order_by()
                .annotate(day=TruncDate("at")).values(key, "currency", "day")
                .annotate(total=Sum("amount_minor"), n=Count("pk")))
    items = list(credited)
    if not items:
        return
    book = RateBook.load({i["currency"] for i in items if i["currency"]},
                         until=max(i["day"] for i in items))
    for item in items:
        row = _row(rows, item[key])
        row.purchases += item["n"]
        currency = item["currency"] or row.currency
        try:
            row.revenue_minor += book.to_agency(int(item["total"]), currency, _day(item["day"]))
        except MissingRate:
            if currency not in row.missing_rates:
                row.missing_rates.append(currency)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _person(user: Any) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def _label_chatters(rows: dict[int, Row]) -> None:
    for user in User.objects.filter(pk__in=list(rows)):
        rows[user.pk].label = _person(user)


def totals(rows: list[Row]) -> Row:
    """The sum of the rows (percentiles are not summed: they are left empty)."""
    total = Row(key=0, label="All")
    for row in rows:
        total.messages_sent += row.messages_sent
        total.first_responses += row.first_responses
        total.replies += row.replies
        total.ppv_sent += row.ppv_sent
        total.ppv_bought += row.ppv_bought
        total.purchases += row.purchases
        total.revenue_minor += row.revenue_minor
        total.missing_rates = sorted(set(total.missing_rates) | set(row.missing_rates))
    return total


# --- What analytics shows of the inbox (registered in `analytics.extensions` at start-up) ---------------


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    value = round(value)
    return f"{value // 60} min {value % 60:02d} s" if value >= 60 else f"{value} s"


def revenue_panel(creator_ids: list[int] | None, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Revenue credited per chatter, with messages sent and revenue per message (display-ready)."""
    return [{"Chatter": r.label, "Revenue credited": format_money(r.revenue_minor, r.currency),
             "Messages sent": r.messages_sent, "PPV bought / sent": f"{r.ppv_bought} / {r.ppv_sent}",
             "Per message": format_money(r.revenue_per_message_minor, r.currency)}
            for r in by_chatter(start, end, creator_ids)]


def response_panel(creator_ids: list[int] | None, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """First-response and reply times per chatter, p50 and p90 (display-ready)."""
    return [{"Chatter": r.label, "First responses": r.first_responses,
             "First response p50": _seconds(r.first_response_p50), "p90": _seconds(r.first_response_p90),
             "Reply p50": _seconds(r.reply_p50), "Reply p90": _seconds(r.reply_p90)}
            for r in by_chatter(start, end, creator_ids) if r.first_responses or r.replies]
