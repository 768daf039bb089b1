"""What the calendar shows: visible ranges, local days and cells, in each creator's own timezone.

Rows are stored in UTC while people plan in the creator's wall-clock time. A "day" is a local day,
so its UTC span is 23, 24 or 25 hours around a DST change; every conversion here goes through
`zoneinfo` on the date concerned, never through a fixed offset. Everything is pure except
`calendar_range`, the one query, which the admin calendar, the ICS feed and the API share.

A post waiting in the tray (approved, not yet scheduled) is dropped on a local day: `drop_time` says at
what wall-clock time when the person did not pick one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, F, Func, QuerySet, Window
from django.db.models.functions import RowNumber

from core import platforms
from scheduling.models import PlatformAccount, Publication

MONTH = "month"
WEEK = "week"
DAY_CELL = "day"
HOUR_CELL = "hour"


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


# --- Visible days ---------------------------------------------------------------------------------


def month_days(anchor: date) -> list[date]:
    """Whole weeks (Monday first) covering the month of `anchor`: the month grid."""
    first = anchor.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    start = first - timedelta(days=first.weekday())
    end = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return [start + timedelta(days=i) for i in range((end - start).days)]


def week_days(anchor: date) -> list[date]:
    start = anchor - timedelta(days=anchor.weekday())
    return [start + timedelta(days=i) for i in range(7)]


def visible_days(view: str, anchor: date) -> list[date]:
    return month_days(anchor) if view == MONTH else week_days(anchor)


def step(view: str, anchor: date, direction: int) -> date:
    """The anchor of the previous (-1) or next (+1) page."""
    if view == WEEK:
        return anchor + timedelta(weeks=direction)
    first = anchor.replace(day=1)
    if direction < 0:
        return (first - timedelta(days=1)).replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


# --- Local time ↔ UTC -----------------------------------------------------------------------------


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def utc_bounds(first: date, last: date, zones: Iterable[str | None]) -> tuple[datetime, datetime]:
    """The UTC span holding local days `first`..`last` in every one of `zones`.

    Several creators in several zones are shown together: the span is the union, and each row is
    later kept only if it falls on a visible day in its own creator's zone.
    """
    tzs = [zone(name) for name in set(zones)] or [zone("UTC")]
    start = min(local_midnight_utc(first, tz) for tz in tzs)
    end = max(local_midnight_utc(last + timedelta(days=1), tz) for tz in tzs)
    return start, end


def resolve_local(tz_name: str | None, day: date, at: time) -> datetime:
    """A wall-clock time in the creator's zone as an aware datetime; refuses a time the clocks skip.

    On a spring-forward day 02:30 does not exist in Paris: silently moving a post to 03:30 would
    surprise the person who dropped it there, so the caller gets a clear error instead.
    """
    tz = zone(tz_name)
    local = datetime.combine(day, at, tzinfo=tz)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError(f"{at:%H:%M} does not exist on {day:%Y-%m-%d} in {tz.key} (the clocks change).")
    return local


def drop_time(day: date, slots: Iterable[tuple[int, time]], *, hour: int | None = None) -> time:
    """The wall-clock time a post dropped on `day` gets: the hour of a week-view cell, else the
    earliest queue slot of that weekday among its accounts, else noon (a time nobody has to fix)."""
    if hour is not None:
        return time(hour)
    same_day = sorted(t for weekday, t in slots if weekday == day.weekday())
    return same_day[0] if same_day else DEFAULT_DROP_TIME


DEFAULT_DROP_TIME = time(12, 0)


def planned_from(value: str) -> datetime | None:
    """A naive local "YYYY-MM-DDTHH:MM" from the calendar's "+" link; None for anything else."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        return None


def platform_of(account: PlatformAccount) -> platforms.Platform:
    """How a chip looks: its account's platform, or for a manual export the platform a person uploads to."""
    key = account.target_platform if account.platform == "manual" else account.platform
    return platforms.PLATFORMS.get(key) or platforms.PLATFORMS.get(account.platform) or platforms.get("manual")


# --- Grouping -------------------------------------------------------------------------------------


@dataclass
class CalendarItem:
    publication: Publication
    local: datetime  # aware, in the creator's zone
    # What the admin chip shows besides the row (set by the calendar view; the feed and API ignore them).
    colour: str = "info"
    movable: bool = False
    platform: platforms.Platform | None = None
    caption: str = ""
    warning: str | None = None
    warning_html: str = ""
    account_html: str = ""
    thumb_url: str = ""

    @property
    def creator(self) -> object:
        return self.publication.post.creator

    @property
    def zone_label(self) -> str:
        return self.local.tzname() or ""

    # Formatted here: the template `date` filter would convert to the site's zone first.
    @property
    def hhmm(self) -> str:
        return f"{self.local:%H:%M}"

    @property
    def full_label(self) -> str:
        return f"{self.local:%Y-%m-%d %H:%M} {self.zone_label}"


@dataclass
class Cell:
    """One day (month view) or one day-hour (week view): its chips and how many were left out."""

    day: date
    hour: int | None = None
    items: list[CalendarItem] = field(default_factory=list)
    total: int = 0

    @property
    def hidden(self) -> int:
        return max(0, self.total - len(self.items))


def to_item(publication: Publication) -> CalendarItem:
    tz = zone(publication.post.creator.timezone)
    return CalendarItem(publication, publication.scheduled_at.astimezone(tz))


def group_cells(publications: Iterable[Publication], days: Iterable[date], *, cell: str = DAY_CELL,
                per_cell: int | None = None) -> dict[tuple[date, int | None], Cell]:
    """Place each publication in its local day (and hour) cell; rows outside `days` are dropped.

    Rows annotated by `calendar_range(per_cell=…)` carry `cell_total`, the count before capping,
    so "+N more" stays right even though only the first rows were fetched.
    """
    wanted = set(days)
    cells: dict[tuple[date, int | None], Cell] = {}
    counted: dict[tuple[date, int | None], int] = defaultdict(int)
    for pub in publications:
        item = to_item(pub)
        day = item.local.date()
        if day not in wanted:
            continue
        hour = item.local.hour if cell == HOUR_CELL else None
        key = (day, hour)
        target = cells.setdefault(key, Cell(day=day, hour=hour))
        counted[key] += 1
        total = getattr(pub, "cell_total", None)
        target.total = max(target.total, total or 0, counted[key])
        if per_cell is None or len(target.items) < per_cell:
            target.items.append(item)
    return cells


# --- The query ------------------------------------------------------------------------------------


class LocalTrunc(Func):
    """date_trunc(kind, scheduled_at AT TIME ZONE the creator's zone): a local day or hour per row."""

    output_field = Publication._meta.get_field("scheduled_at")
    template = "date_trunc('%(kind)s', timezone(%(expressions)s))"
    arity = 2

    def __init__(self, kind: str, tz_expr: F, when: F) -> None:
        if kind not in (DAY_CELL, HOUR_CELL):
            raise ValueError(f"Unknown cell {kind!r}.")
        super().__init__(tz_expr, when, kind=kind)


def calendar_range(queryset: QuerySet, start: datetime, end: datetime, *, per_cell: int | None = None,
                   cell: str = DAY_CELL) -> QuerySet:
    """Publications of `queryset` due in [start, end), with what a chip shows, in time order.

    The caller passes an already tenancy-restricted queryset. With `per_cell`, PostgreSQL keeps
    only the first rows of each local day/hour (a window function) and annotates `cell_total`: a
    busy agency's month stays a bounded fetch. Other databases return every row and
    `group_cells` caps in Python.
    """
    qs = (queryset.filter(scheduled_at__gte=start, scheduled_at__lt=end)
          .select_related("post__creator", "account").order_by("scheduled_at", "pk"))
    if per_cell is None or connection.vendor != "postgresql":
        return qs
    bucket = LocalTrunc(cell, F("post__creator__timezone"), F("scheduled_at"))
    return qs.annotate(
        cell_rank=Window(RowNumber(), partition_by=[bucket], order_by=[F("scheduled_at").asc(), F("pk").asc()]),
        cell_total=Window(Count("pk"), partition_by=[bucket]),
    ).filter(cell_rank__lte=per_cell)
