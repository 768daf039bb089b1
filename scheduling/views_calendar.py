"""The calendar: the admin month/week page, its drag-to-reschedule and drop-from-the-tray endpoints
and the ICS feed.

The admin views are wired through `PublicationAdmin.get_urls()` and `admin_site.admin_view`; the
feed is a plain view authenticated by its signed token alone, because calendar apps cannot log in.
Every state change goes through `scheduling.services`; every row goes through tenancy, and what
is out of reach answers 404 exactly like what does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from icalendar import Calendar, Event

from accounts import tenancy
from accounts.models import Creator, User
from content.views import PREVIEW_PRESETS
from core import platforms
from core.wording import counted
from scheduling import calendar as cal
from scheduling import feeds, services
from scheduling.admin_display import STATUS_COLOURS, account_with_warning, warning_badge
from scheduling.models import CalendarFeedKey, PlatformAccount, Post, PostAsset, Publication, QueueSlot

S = Publication.Status
CHIPS_PER_DAY = 4  # month view: a busy day shows this many, then "+N more"
CHIPS_PER_HOUR = 3  # week view, per day-hour cell
FREE_SLOTS_SHOWN = 5
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)
FEED_MAX_EVENTS = 5000
SUBSCRIBE_LINKS_SHOWN = 50
TRAY_SHOWN = 30  # approved posts waiting for a day; the oldest approvals first
TRAY_TARGETS_READ = 6  # rows read per post shown, at most
PREVIEW_CHARS = 280


def may_open_calendar(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("scheduling.view_publication"))


def schedulable_creator_ids(user: Any) -> set[int] | object:
    """Creators whose publications this user may put on the calendar or move (tenancy.ALL for all)."""
    if not user.has_perm("scheduling.change_publication"):
        return set()
    return tenancy.allowed_creator_ids(user, Publication, "change")


def _in(ids: set[int] | object, creator_id: int) -> bool:
    return ids is tenancy.ALL or (isinstance(ids, set) and creator_id in ids)


def feed_url(request: HttpRequest, user: User, creator_id: int, key: CalendarFeedKey | None = None) -> str:
    return request.build_absolute_uri(reverse("scheduling_calendar_feed",
                                              args=[creator_id, feeds.feed_token(user, creator_id, key)]))


# --- The page -------------------------------------------------------------------------------------


# Beyond this many creators in reach, the calendar opens on one creator instead of all of them.
ALL_CREATORS_MAX = 12


@dataclass(frozen=True)
class CalendarQuery:
    view: str
    anchor: date
    creator_id: int | None
    account_id: int | None

    @classmethod
    def from_request(cls, request: HttpRequest) -> CalendarQuery:
        view = cal.WEEK if request.GET.get("view") == cal.WEEK else cal.MONTH
        try:
            anchor = date.fromisoformat(request.GET.get("date", ""))
        except ValueError:
            anchor = timezone.localdate()
        return cls(view, anchor, _int_or_none(request.GET.get("creator")), _int_or_none(request.GET.get("account")))

    def url(self, **changes: Any) -> str:
        params = {"view": self.view, "date": self.anchor.isoformat(), "creator": self.creator_id,
                  "account": self.account_id, **changes}
        return reverse("admin:scheduling_calendar") + "?" + urlencode(
            {k: v for k, v in params.items() if v not in (None, "")})


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _changelist_url(query: CalendarQuery, start: datetime, end: datetime) -> str:
    params: dict[str, Any] = {"scheduled_at__gte": start.isoformat(), "scheduled_at__lt": end.isoformat()}
    if query.account_id:
        params["account__id__exact"] = query.account_id
    elif query.creator_id:
        params["creator"] = query.creator_id
    return reverse("admin:scheduling_publication_changelist") + "?" + urlencode(params)


def _cell_span(day: date, hour: int | None, zones: list[str]) -> tuple[datetime, datetime]:
    if hour is None:
        return cal.utc_bounds(day, day, zones)
    spans = [(datetime.combine(day, time(hour), tzinfo=cal.zone(z)).astimezone(UTC),
              (datetime.combine(day, time(hour), tzinfo=cal.zone(z)) + timedelta(hours=1)).astimezone(UTC))
             for z in zones or ["UTC"]]
    return min(s for s, _ in spans), max(e for _, e in spans)


@dataclass(frozen=True)
class _Scope:
    """What the page covers: the creators in reach, the accounts shown and the zones they live in."""

    creators: list[Creator]
    by_id: dict[int, Creator]
    accounts: list[PlatformAccount]
    account: PlatformAccount | None
    in_scope: list[PlatformAccount]
    shown_creators: list[Creator]
    zones: list[str]

    @property
    def add_for(self) -> int | None:
        # "+" on a day opens the post form for the creator shown (or a choice among them).
        return self.shown_creators[0].pk if len(self.shown_creators) == 1 else None


def calendar(request: HttpRequest) -> HttpResponse:
    """Month or week of publications, in each creator's own time, with drag to reschedule."""
    if not may_open_calendar(request.user):
        raise PermissionDenied
    query = CalendarQuery.from_request(request)
    scope = _load_scope(request, query)
    if isinstance(scope, HttpResponseRedirect):
        return scope
    days = cal.visible_days(query.view, query.anchor)
    cells = _load_cells(request, query, scope, days)
    movable = _mark_chips(request, cells)
    grid = _grid(request, query, scope, days, cells)
    free_slots = _free_slots(scope.account)
    return _render_page(request, query, scope, days, grid, free_slots, movable)


def _load_scope(request: HttpRequest, query: CalendarQuery) -> _Scope | HttpResponseRedirect:
    """Narrow the page to what the user may see, so a creator or account out of reach is a 404."""
    reachable = tenancy.allowed_creator_ids(request.user, Publication, "view")
    creators_qs = Creator.objects.all() if reachable is tenancy.ALL else Creator.objects.filter(
        pk__in=sorted(reachable))
    creators = list(creators_qs.order_by("stage_name", "pk").only("pk", "stage_name", "timezone"))
    by_id = {c.pk: c for c in creators}
    if query.creator_id is not None and query.creator_id not in by_id:
        raise Http404("No such creator.")
    if query.creator_id is None and query.account_id is None and len(creators) > ALL_CREATORS_MAX:
        # The calendar is per creator or account; "everyone at once" only while that stays readable.
        return HttpResponseRedirect(query.url(creator=creators[0].pk))
    accounts = list(PlatformAccount.objects.filter(creator_id__in=list(by_id)).select_related("creator")
                    .order_by("creator__stage_name", "platform", "handle"))
    if query.creator_id is not None:
        accounts = [a for a in accounts if a.creator_id == query.creator_id]
    account = next((a for a in accounts if a.pk == query.account_id), None)
    if query.account_id is not None and account is None:
        raise Http404("No such account.")
    in_scope = [account] if account else accounts
    shown_creators = [by_id[cid] for cid in dict.fromkeys(a.creator_id for a in in_scope)] if in_scope else []
    zones = sorted({c.timezone or "UTC" for c in shown_creators}) or ["UTC"]
    return _Scope(creators, by_id, accounts, account, in_scope, shown_creators, zones)


def _load_cells(request: HttpRequest, query: CalendarQuery, scope: _Scope,
                days: list[date]) -> dict[tuple[date, int | None], cal.Cell]:
    """Read only the chips each cell can show, so a busy day costs one bounded query, not all its rows."""
    start, end = cal.utc_bounds(days[0], days[-1], scope.zones)
    cell_kind, cap = _cell_kind(query)
    rows: list[Publication] = []
    if scope.in_scope:
        publications = tenancy.restrict(Publication.objects.all(), request.user).filter(
            account_id__in=[a.pk for a in scope.in_scope])
        rows = list(cal.calendar_range(publications, start, end, per_cell=cap, cell=cell_kind))
    return cal.group_cells(rows, days, cell=cell_kind, per_cell=cap)


def _cell_kind(query: CalendarQuery) -> tuple[str, int]:
    """A month groups by day and a week by day-hour, each with its own number of chips per cell."""
    return (cal.DAY_CELL, CHIPS_PER_DAY) if query.view == cal.MONTH else (cal.HOUR_CELL, CHIPS_PER_HOUR)


def _mark_chips(request: HttpRequest, cells: dict[tuple[date, int | None], cal.Cell]) -> set[int] | object:
    """Dress every shown chip at once (thumbnails in one query) and say which creators' chips may move."""
    movable = schedulable_creator_ids(request.user)
    shown_items = [item for found in cells.values() for item in found.items]
    thumbs = first_thumbnails({item.publication.post_id for item in shown_items})
    for item in shown_items:
        decorate(item, movable, thumbs)
    return movable


def _grid(request: HttpRequest, query: CalendarQuery, scope: _Scope, days: list[date],
          cells: dict[tuple[date, int | None], cal.Cell]) -> list[Any]:
    """Lay the cells out as the template draws them: weeks of days, or 24 hours of seven days."""
    may_add = request.user.has_perm("scheduling.add_post")

    def cell(day: date, hour: int | None = None) -> dict[str, Any]:
        found = cells.get((day, hour)) or cal.Cell(day=day, hour=hour)
        more = _changelist_url(query, *_cell_span(day, hour, scope.zones)) if found.hidden else ""
        return {"day": day, "hour": hour, "items": found.items, "hidden": found.hidden, "more_url": more,
                "in_month": day.month == query.anchor.month, "today": day == timezone.localdate(),
                "add_url": _add_post_url(day, hour, scope.add_for) if may_add else ""}

    if query.view == cal.MONTH:
        return [[cell(d) for d in days[i:i + 7]] for i in range(0, len(days), 7)]
    return [{"hour": h, "cells": [cell(d, h) for d in days]} for h in range(24)]


def _free_slots(account: PlatformAccount | None) -> list[datetime]:
    """Offer the next open queue times, but only for one account: slots belong to an account."""
    free_slots: list[datetime] = []
    if account is not None:
        after = timezone.now()
        tz = cal.zone(account.creator.timezone)
        for _ in range(FREE_SLOTS_SHOWN):
            at = services.next_free_slot(account, after=after)
            if at is None:
                break
            free_slots.append(at.astimezone(tz))
            after = at
    return free_slots


def _tray(request: HttpRequest, scope: _Scope, movable: set[int] | object) -> list[TrayEntry]:
    """The approved posts waiting for a day, for the creators (or the account) the page shows."""
    return tray(request, scope.shown_creators, scope.account, movable)


def _render_page(request: HttpRequest, query: CalendarQuery, scope: _Scope, days: list[date], grid: list[Any],
                 free_slots: list[datetime], movable: set[int] | object) -> HttpResponse:
    """Add navigation, feed links and the tray last, so the page reads in the order it always has."""
    subscribe_to = [scope.by_id[query.creator_id]] if query.creator_id else scope.creators[:SUBSCRIBE_LINKS_SHOWN]
    key = feeds.feed_key(request.user)
    may_add = request.user.has_perm("scheduling.add_post")
    title = (f"{query.anchor:%B %Y}" if query.view == cal.MONTH
             else f"Week of {days[0]:%d %b} – {days[-1]:%d %b %Y}")
    return render(request, "admin/scheduling/calendar.html", {
        **admin.site.each_context(request),
        "title": "Calendar", "heading": title, "opts": Publication._meta, "query": query, "view": query.view,
        "grid": grid, "days": days, "creators": scope.creators, "accounts": scope.accounts,
        "account": scope.account,
        "label_zones": len(scope.shown_creators) > 1,
        "zone_note": ", ".join(scope.zones),
        "prev_url": query.url(date=cal.step(query.view, query.anchor, -1).isoformat()),
        "next_url": query.url(date=cal.step(query.view, query.anchor, 1).isoformat()),
        "today_url": query.url(date=timezone.localdate().isoformat()),
        "month_url": query.url(view=cal.MONTH), "week_url": query.url(view=cal.WEEK),
        "free_slots": free_slots,
        "free_slot_labels": [f"{slot:%a %d %b %Y, %H:%M} {slot.tzname()}" for slot in free_slots],
        "subscriptions": [{"creator": c, "url": feed_url(request, request.user, c.pk, key)} for c in subscribe_to],
        "feed_expires_at": feeds.expires_at(key), "feed_expired": feeds.is_expired(key),
        "feed_rotate_url": reverse("admin:scheduling_calendar_feed_rotate"),
        "move_url": reverse("admin:scheduling_calendar_move"),
        "schedule_url": reverse("admin:scheduling_calendar_schedule"),
        "week_heads": [{"day": d, "add_url": _add_post_url(d, None, scope.add_for) if may_add else ""}
                       for d in days],
        "legend": legend(scope.in_scope), "tray": _tray(request, scope, movable),
    })


def decorate(item: cal.CalendarItem, movable: set[int] | object,
             thumbs: dict[int, str] | None = None) -> cal.CalendarItem:
    """What a chip shows besides the row: status colour, platform look, account badge, preview text."""
    pub = item.publication
    item.thumb_url = (thumbs or {}).get(pub.post_id, "")
    item.colour = STATUS_COLOURS.get(pub.status, "info")
    item.movable = pub.status == S.SCHEDULED and _in(movable, pub.post.creator_id)
    item.platform = cal.platform_of(pub.account)
    item.warning = pub.account_warning
    item.warning_html = warning_badge(item.warning) if item.warning else ""
    item.account_html = account_with_warning(pub)
    item.caption = pub.caption_override or pub.post.caption
    return item


def first_thumbnails(post_ids: set[int]) -> dict[int, str]:
    """The preview image of each post's first asset that has one, in one query for the whole page."""
    if not post_ids:
        return {}
    rows = (PostAsset.objects.filter(post_id__in=post_ids, asset__renditions__preset__in=PREVIEW_PRESETS)
            .order_by("post_id", "position", "id").values_list("post_id", "asset_id", "asset__renditions__preset"))
    first: dict[int, tuple[int, str]] = {}
    for post_id, asset_id, preset in rows:
        kept = first.setdefault(post_id, (asset_id, preset))
        if kept[0] == asset_id and PREVIEW_PRESETS.index(preset) < PREVIEW_PRESETS.index(kept[1]):
            first[post_id] = (asset_id, preset)
    return {post_id: reverse("admin:content_asset_rendition_file", args=[asset_id, preset])
            for post_id, (asset_id, preset) in first.items()}


def legend(accounts: list[PlatformAccount]) -> list[platforms.Platform]:
    """The platforms on this page, in registry order; every publishing platform when no account is."""
    shown = {cal.platform_of(a).key for a in accounts}
    return [p for p in platforms.PLATFORMS.values() if p.key in shown] or platforms.publishing_platforms()


def _add_post_url(day: date, hour: int | None, creator_id: int | None) -> str:
    params: dict[str, Any] = {"planned": f"{day:%Y-%m-%d}T{(hour if hour is not None else 12):02d}:00"}
    if creator_id is not None:
        params["creator"] = creator_id
    return reverse("admin:scheduling_post_add") + "?" + urlencode(params)


@dataclass
class TrayEntry:
    post: Post
    targets: list[Publication]
    schedulable: bool
    schedule_url: str

    @property
    def looks(self) -> list[platforms.Platform]:
        return [cal.platform_of(p.account) for p in self.targets]

    @property
    def warnings(self) -> list[str]:
        return [w for w in (p.account_warning for p in self.targets) if w]


def tray(request: HttpRequest, creators: list[Creator], account: PlatformAccount | None,
         movable: set[int] | object) -> list[TrayEntry]:
    """Approved posts of the creators shown with a target not yet on the calendar (of the account
    shown, when one is): what a scheduler drags onto a day."""
    if not creators:
        return []
    # One query: the waiting targets themselves, grouped by post here (a post has a handful of targets).
    waiting = (tenancy.restrict(Publication.objects.all(), request.user)
               .filter(status=S.APPROVED, creator_id__in=[c.pk for c in creators])
               .select_related("account", "post__creator").order_by("post__approved_at", "post_id", "pk"))
    if account is not None:
        waiting = waiting.filter(account=account)
    by_post: dict[int, list[Publication]] = {}
    for pub in waiting[:TRAY_SHOWN * TRAY_TARGETS_READ]:
        if pub.post_id in by_post or len(by_post) < TRAY_SHOWN:
            by_post.setdefault(pub.post_id, []).append(pub)
    base = reverse("admin:scheduling_calendar_schedule")
    return [TrayEntry(targets[0].post, targets, _in(movable, targets[0].post.creator_id),
                      base + "?" + urlencode({"post": post_id})) for post_id, targets in by_post.items()]


@require_POST
def rotate_feed(request: HttpRequest) -> HttpResponseRedirect:
    """The calendar page's "new links" button: the user's old feed links stop working at once."""
    if not may_open_calendar(request.user):
        raise PermissionDenied
    key = feeds.rotate_feed_key(request.user, actor=request.user)
    messages.success(request, f"New calendar links made; the old ones no longer work. They are valid until "
                              f"{feeds.expires_at(key):%d %b %Y}: subscribe again with a link below.")
    back = request.POST.get("next", "")
    calendar_url = reverse("admin:scheduling_calendar")
    return HttpResponseRedirect(back if back.startswith(calendar_url) else calendar_url)


# --- Drag to reschedule ---------------------------------------------------------------------------


def _refused(status: int, error: str, reasons: list[dict[str, str]] | None = None) -> JsonResponse:
    return JsonResponse({"ok": False, "error": error, "reasons": reasons or []}, status=status)


@require_POST
def move(request: HttpRequest) -> JsonResponse:
    """Move a scheduled publication to another local day (keeping its time) or day and hour.

    The new time is read in the creator's zone, then `services.reschedule` judges it with the gate:
    a refusal leaves the row as it was and answers the reasons.
    """
    if not request.user.has_perm("scheduling.change_publication"):
        raise PermissionDenied
    pk = _int_or_none(request.POST.get("publication"))
    pub = (tenancy.restrict(Publication.objects.select_related("post__creator", "account"), request.user, "change")
           .filter(pk=pk).first() if pk else None)
    if pub is None:
        raise Http404("No such publication.")
    if pub.status != S.SCHEDULED:
        return _refused(409, f"Only a scheduled publication can be moved; this one is "
                             f"{pub.get_status_display().lower()}.")
    try:
        day = date.fromisoformat(request.POST.get("date", ""))
        hour = _int_or_none(request.POST.get("hour"))
        if hour is not None and not 0 <= hour <= 23:
            raise ValueError("The hour must be between 0 and 23.")
    except ValueError as exc:
        return _refused(400, str(exc) if "hour" in str(exc) else "Give the new day as YYYY-MM-DD.")
    tz_name = pub.post.creator.timezone or "UTC"
    current = pub.scheduled_at.astimezone(cal.zone(tz_name))
    wall = current.time().replace(tzinfo=None) if hour is None else time(hour, current.minute)
    try:
        at = cal.resolve_local(tz_name, day, wall)
        outcome = services.reschedule(pub, at=at, actor=request.user)
    except (ValueError, ValidationError) as exc:
        return _refused(400, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    if not outcome.verdict.passed:
        return _refused(409, "The publish gate refused this time.",
                        [{"code": r.code, "message": r.message} for r in outcome.verdict.reasons])
    local = outcome.publication.scheduled_at.astimezone(cal.zone(tz_name))
    return JsonResponse({"ok": True, "publication": pub.pk, "scheduled_at": outcome.publication.scheduled_at
                         .isoformat(), "date": local.date().isoformat(), "hour": local.hour,
                         "label": f"{local:%H:%M} {local.tzname()}", "warning": outcome.warning})


# --- Drop a waiting post on a day -----------------------------------------------------------------


class Refusal(Exception):
    """Why a post was not scheduled, in words for the person who dropped it, with the HTTP status."""

    def __init__(self, status: int, error: str, reasons: list[dict[str, str]] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.reasons = status, error, reasons or []


def _waiting_post(request: HttpRequest, value: str | None) -> Post:
    """The post named in the request, in reach (404 otherwise), that this user may schedule (403)."""
    pk = _int_or_none(value)
    if pk is None:
        raise Refusal(400, "Say which post to schedule.")
    post = tenancy.restrict(Post.objects.select_related("creator"), request.user).filter(pk=pk).first()
    if post is None:
        raise Http404("No such post.")
    if not _in(schedulable_creator_ids(request.user), post.creator_id):
        raise PermissionDenied
    return post


def _waiting_targets(post: Post) -> list[Publication]:
    return list(Publication.objects.filter(post=post, status=S.APPROVED)
                .select_related("account", "post__creator").order_by("pk"))


def drop_instant(post: Post, data: Any, targets: list[Publication]) -> datetime:
    """The instant a drop means: the day given, at the time given (HH:MM), or the week view's hour, or
    the first queue slot of that weekday, or noon; read in the creator's zone."""
    try:
        day = date.fromisoformat(data.get("date", ""))
    except ValueError:
        raise Refusal(400, "Give the day as YYYY-MM-DD.") from None
    raw_time, raw_hour = (data.get("time") or "").strip(), (data.get("hour") or "").strip()
    try:
        if raw_time:
            at = datetime.strptime(raw_time, "%H:%M").time()
        else:
            hour = int(raw_hour) if raw_hour else None
            if hour is not None and not 0 <= hour <= 23:
                raise ValueError
            slots = QueueSlot.objects.filter(account_id__in=[t.account_id for t in targets]) \
                .values_list("weekday", "time")
            at = cal.drop_time(day, list(slots), hour=hour)
    except ValueError:
        raise Refusal(400, "Give the time as HH:MM (24-hour clock) or the hour as 0–23.") from None
    try:
        return cal.resolve_local(post.creator.timezone, day, at)
    except ValueError as exc:
        raise Refusal(400, str(exc)) from None


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def schedule_post(request: HttpRequest) -> HttpResponse:
    """Drop an approved post on a day (JSON, from the tray), or the same through a form without script.

    GET shows the form for `?post=…`; POST schedules and answers JSON to a script, or redirects back to
    the calendar with a message to a form.
    """
    if not may_open_calendar(request.user):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else request.GET
    try:
        post = _waiting_post(request, data.get("post"))
    except Refusal as refusal:
        return _refused(refusal.status, refusal.error)
    targets = _waiting_targets(post)
    if request.method != "POST":
        return _schedule_form(request, post, targets, data)
    try:
        when = drop_instant(post, data, targets)
        try:
            outcomes = services.schedule_together(post, when, targets, actor=request.user)
        except services.ScheduleRefused as exc:
            raise Refusal(409, exc.messages[0], exc.reasons) from None
    except Refusal as refusal:
        if _wants_json(request):
            return _refused(refusal.status, refusal.error, refusal.reasons)
        return _schedule_form(request, post, targets, data, refusal=refusal)
    local = when.astimezone(cal.zone(post.creator.timezone))
    label = f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"
    warnings = [o.warning for o in outcomes if o.warning]
    if not _wants_json(request):
        if outcomes:
            messages.success(request, f"Scheduled for {label}: {counted(len(outcomes), 'target')}.")
        else:
            messages.info(request, f"Already scheduled for {label}.")
        for warning in warnings:
            messages.warning(request, f"Scheduled, but {warning}")
        return HttpResponseRedirect(CalendarQuery(cal.MONTH, local.date(), post.creator_id, None).url())
    movable = schedulable_creator_ids(request.user)
    thumbs = first_thumbnails({post.pk}) if outcomes else {}
    chips = [render_to_string("admin/scheduling/_chip.html", {
        "item": decorate(cal.to_item(o.publication), movable, thumbs), "label_zones": data.get("labels") == "1"},
        request=request) for o in outcomes]
    return JsonResponse({"ok": True, "post": post.pk, "already": not outcomes, "date": local.date().isoformat(),
                         "hour": local.hour, "label": label, "chips": chips, "warnings": warnings})


def _schedule_form(request: HttpRequest, post: Post, targets: list[Publication], data: Any,
                   refusal: Refusal | None = None) -> HttpResponse:
    tz = cal.zone(post.creator.timezone)
    default_day = timezone.now().astimezone(tz).date() + timedelta(days=1)
    return render(request, "admin/scheduling/calendar_schedule.html", {
        **admin.site.each_context(request), "title": "Schedule a post", "opts": Publication._meta,
        "post": post, "targets": [decorate(cal.CalendarItem(t, timezone.now().astimezone(tz)), set())
                                  for t in targets],
        "day": data.get("date") or default_day.isoformat(), "time": data.get("time") or "",
        "zone": tz.key, "refusal": refusal, "action_url": reverse("admin:scheduling_calendar_schedule"),
        "back_url": CalendarQuery(cal.MONTH, default_day, post.creator_id, None).url(),
    }, status=refusal.status if refusal else 200)


# --- ICS feed -------------------------------------------------------------------------------------


def _summary(pub: Publication) -> str:
    caption = " ".join((pub.caption_override or pub.post.caption).split())
    excerpt = caption if len(caption) <= 60 else caption[:59] + "…"
    return f"[{pub.account.platform}] {excerpt or f'Post #{pub.post_id}'} ({pub.get_status_display()})"


@require_GET
def feed(request: HttpRequest, creator_id: int, token: str) -> HttpResponse:
    """One creator's publications for a calendar app: 30 days back, 180 ahead, UTC times.

    Only the caption, platform and status leave Atelier: no names of performers or staff.
    """
    try:
        user = feeds.feed_user(token, creator_id)
    except feeds.FeedExpired:
        return HttpResponse(f"This calendar link is more than {settings.CALENDAR_FEED_MAX_AGE_DAYS} days old and "
                            f"has expired. Open the calendar in Atelier, rotate your links and subscribe again.\n",
                            status=410, content_type="text/plain; charset=utf-8")
    creator = Creator.objects.filter(pk=creator_id).only("pk", "stage_name").first()
    if creator is None:
        raise Http404("No such calendar.")
    now = timezone.now()
    publications = tenancy.restrict(Publication.objects.filter(account__creator_id=creator_id), user)
    rows = cal.calendar_range(publications, now - FEED_PAST, now + FEED_AHEAD)[:FEED_MAX_EVENTS]
    ical = Calendar()
    ical.add("prodid", "-//Atelier//Publication calendar//EN")
    ical.add("version", "2.0")
    ical.add("x-wr-calname", f"Atelier — {creator.stage_name}")
    for pub in rows:
        event = Event()
        event.add("uid", feeds.event_uid(pub.pk))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", pub.scheduled_at.astimezone(UTC))
        event.add("duration", timedelta(minutes=15))
        event.add("summary", _summary(pub))
        event.add("url", request.build_absolute_uri(reverse("admin:scheduling_publication_change", args=[pub.pk])))
        if pub.status == S.CANCELLED:
            event.add("status", "CANCELLED")
        ical.add_component(event)
    response = HttpResponse(ical.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
