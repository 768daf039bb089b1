"""What the dashboard shows: money, subscribers, top posts, best hours, the week ahead and what
needs a person — for the creators the viewer reaches.

Everything money-shaped is read from `DailyRollup`, never from transactions: a range of days is
one grouped query over the `(day)` or `(creator, platform, day)` index whatever the size of the
transaction table, which is what keeps the page within its 300 ms budget. Each section is a
`cached_property`, so a template that touches a section twice still runs its query once, and
each source is restricted with its own model permission: an analyst without compliance rights
sees no consents, exactly as in the changelists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import BigIntegerField, F, Model, OuterRef, QuerySet, Subquery, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from accounts import tenancy
from accounts.models import Creator
from analytics.models import SOURCE_PLATFORMS, DailyRollup, MetricSnapshot, PostingHour, Transaction
from compliance.models import ConsentRecord, TakedownRequest
from core.money import format_money
from notifications.models import Notification
from scheduling.models import PlatformAccount, Publication, TakedownTask

RANGES = (30, 90)
TOP_POSTS = 8
UPCOMING_DAYS = 7
UPCOMING_SHOWN = 25
ATTENTION_SHOWN = 5
CONSENT_WINDOW_DAYS = 30
PLATFORM_LABELS = dict(SOURCE_PLATFORMS)
KIND_LABELS = dict(Transaction.Kind.choices)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Distinct hues that stay readable on the light and dark admin themes.
PALETTE = ("#7c3aed", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#ec4899", "#6366f1", "#84cc16", "#64748b",
           "#14b8a6")
S = Publication.Status


def kind_net_sums(prefix: str = "kind_") -> dict[str, Sum]:
    """Net revenue per transaction kind summed out of the rollups' `by_kind` JSON.

    One aggregate per known kind keeps the work in the database (on SQLite and PostgreSQL alike)
    instead of shipping every rollup row to Python to unpack its JSON.
    """
    return {f"{prefix}{kind}": Sum(Cast(KT(f"by_kind__{kind}__net_minor"), BigIntegerField()))
            for kind in Transaction.Kind.values}


def money(minor: int | None) -> str:
    """Minor units as the agency currency reads them ($1,234.50)."""
    return format_money(minor or 0, settings.ANALYTICS_CURRENCY)


def rollups_in_reach(user: Any) -> QuerySet:
    return tenancy.restrict(DailyRollup.objects.all(), user)


def creators_in_reach(user: Any) -> QuerySet:
    """Creators whose numbers the user may read: the picker's choices."""
    ids = tenancy.allowed_creator_ids(user, DailyRollup)
    qs = Creator.objects.order_by("stage_name")
    return qs if ids is tenancy.ALL else qs.filter(pk__in=sorted(ids))


def may_open_dashboard(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("analytics.view_dailyrollup"))


@dataclass(frozen=True)
class Window:
    """Whole local days, ending yesterday: today's rollup is not computed until tonight, and a
    half-empty last point would read as a collapse in revenue."""

    start: date
    end: date

    @classmethod
    def last(cls, days: int, today: date | None = None) -> Window:
        end = (today or timezone.localdate()) - timedelta(days=1)
        return cls(end - timedelta(days=days - 1), end)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


class Dashboard:
    """The numbers for one viewer, optionally narrowed to one creator they reach."""

    hours = range(24)

    def __init__(self, user: Any, *, creator_id: int | None = None, days: int = 30,
                 today: date | None = None) -> None:
        self.user = user
        self.creator_id = creator_id
        self.days = days if days in RANGES else RANGES[0]
        self.window = Window.last(self.days, today)
        self.now = timezone.now()

    # --- Scoping -------------------------------------------------------------------------------

    def _scoped(self, qs: QuerySet, creator_path: str) -> QuerySet:
        qs = tenancy.restrict(qs, self.user)
        if self.creator_id is not None:
            qs = qs.filter(**{creator_path: self.creator_id})
        return qs

    def _rollups(self) -> QuerySet:
        return self._scoped(DailyRollup.objects.filter(day__gte=self.window.start, day__lte=self.window.end),
                            "creator_id")

    # --- Money and subscribers -----------------------------------------------------------------

    @cached_property
    def by_platform_rows(self) -> list[dict[str, Any]]:
        return list(self._rollups().order_by().values("day", "platform").annotate(net=Sum("net_minor")))

    @cached_property
    def daily_rows(self) -> dict[date, dict[str, Any]]:
        rows = (self._rollups().order_by().values("day")
                .annotate(gross=Sum("gross_minor"), net=Sum("net_minor"), transactions=Sum("transactions"),
                          new=Sum("new_subscribers"), churned=Sum("churned_subscribers"),
                          posts=Sum("posts_published"), **kind_net_sums()))
        return {row["day"]: row for row in rows}

    @cached_property
    def totals(self) -> dict[str, Any]:
        rows = self.daily_rows.values()
        total = {key: sum(r[key] or 0 for r in rows) for key in ("gross", "net", "transactions", "new", "churned",
                                                                   "posts")}
        total["net_subscribers"] = total["new"] - total["churned"]
        total["net_display"] = money(total["net"])
        total["gross_display"] = money(total["gross"])
        return total

    @cached_property
    def revenue_by_platform_chart(self) -> str:
        days = self.window.days
        series: dict[str, dict[date, int]] = {}
        for row in self.by_platform_rows:
            series.setdefault(row["platform"], {})[row["day"]] = row["net"] or 0
        datasets = [
            {"label": PLATFORM_LABELS.get(platform, platform), "borderColor": PALETTE[i % len(PALETTE)],
             "backgroundColor": PALETTE[i % len(PALETTE)],
             "data": [round(values.get(d, 0) / 100, 2) for d in days],
             **({"displayYAxis": True, "maxTicksXLimit": 10} if i == 0 else {})}
            for i, (platform, values) in enumerate(sorted(series.items()))
        ]
        return json.dumps({"labels": [d.strftime("%d %b") for d in days], "datasets": datasets})

    @cached_property
    def platform_legend(self) -> list[dict[str, str]]:
        platforms = sorted({row["platform"] for row in self.by_platform_rows})
        return [{"label": PLATFORM_LABELS.get(p, p), "color": PALETTE[i % len(PALETTE)]}
                for i, p in enumerate(platforms)]

    @cached_property
    def kind_totals(self) -> list[dict[str, Any]]:
        rows = self.daily_rows.values()
        out = []
        for i, kind in enumerate(Transaction.Kind.values):
            net = sum(r[f"kind_{kind}"] or 0 for r in rows)
            if net:
                out.append({"kind": kind, "label": KIND_LABELS[kind], "net": net, "display": money(net),
                            "color": PALETTE[i % len(PALETTE)]})
        return out

    @cached_property
    def revenue_by_kind_chart(self) -> str:
        days = self.window.days
        datasets = [
            {"label": k["label"], "backgroundColor": k["color"], "borderColor": k["color"],
             "data": [round((self.daily_rows.get(d, {}).get(f"kind_{k['kind']}") or 0) / 100, 2) for d in days]}
            for k in self.kind_totals
        ]
        return json.dumps({"labels": [d.strftime("%d %b") for d in days], "datasets": datasets})

    @cached_property
    def subscribers_chart(self) -> str:
        days = self.window.days
        new = [self.daily_rows.get(d, {}).get("new") or 0 for d in days]
        churned = [-(self.daily_rows.get(d, {}).get("churned") or 0) for d in days]
        return json.dumps({"labels": [d.strftime("%d %b") for d in days], "datasets": [
            {"label": "New", "data": new, "backgroundColor": "#10b981", "displayYAxis": True,
             "maxTicksXLimit": 10},
            {"label": "Churned", "data": churned, "backgroundColor": "#ef4444"},
        ]})

    @cached_property
    def stacked_chart_options(self) -> str:
        """Kinds and subscribers read best stacked; unfold's defaults draw grouped bars."""
        ticks = {"color": "#9ca3af"}
        return json.dumps({
            "maintainAspectRatio": False,
            "plugins": {"legend": {"display": True, "align": "end",
                                   "labels": {"boxHeight": 5, "boxWidth": 5, "usePointStyle": True,
                                              "pointStyle": "circle", "color": "#9ca3af"}}},
            "datasets": {"bar": {"borderRadius": 4}},
            "scales": {"x": {"stacked": True, "grid": {"display": False}, "ticks": {**ticks, "maxTicksLimit": 10}},
                       "y": {"stacked": True, "ticks": ticks}},
        })

    # --- Posts and hours -----------------------------------------------------------------------

    @cached_property
    def top_posts(self) -> list[dict[str, Any]]:
        """Publications of the last 30 days ranked by their latest snapshot's engagement."""
        latest = MetricSnapshot.objects.filter(publication=OuterRef("pk")).order_by("-taken_at")
        engagement = F("likes") + F("comments") + F("shares") + F("purchases")
        since = self.now - timedelta(days=30)
        pubs = (self._scoped(Publication.objects.filter(status=S.PUBLISHED, scheduled_at__gte=since),
                             "creator_id")
                .annotate(engagement=Subquery(latest.annotate(e=engagement).values("e")[:1]),
                          views=Subquery(latest.values("views")[:1]))
                .filter(engagement__isnull=False)
                .select_related("post__creator", "account")
                .order_by("-engagement", "-pk")[:TOP_POSTS])
        return [{"publication": p, "caption": str(p.post), "creator": p.post.creator.stage_name,
                 "platform": p.account.get_platform_display(), "engagement": p.engagement, "views": p.views or 0,
                 "url": p.external_url} for p in pubs]

    @cached_property
    def heatmap(self) -> list[dict[str, Any]]:
        """Weekday × hour cells, shaded by average engagement per publication at that local time."""
        rows = (self._scoped(PostingHour.objects.all(), "account__creator_id").order_by()
                .values("weekday", "hour").annotate(pubs=Sum("publications"), engagement=Sum("engagement")))
        avg = {(r["weekday"], r["hour"]): (r["engagement"] or 0) / r["pubs"] for r in rows if r["pubs"]}
        top = max(avg.values(), default=0) or 1
        grid = []
        for weekday, name in enumerate(WEEKDAYS):
            cells = []
            for hour in range(24):
                value = avg.get((weekday, hour))
                share = (value or 0) / top
                # Lightness 96 % (nothing) → 42 % (the best hour): a single-hue scale.
                cells.append({"hour": hour, "value": round(value, 1) if value is not None else None,
                              "color": f"hsl(262 83% {96 - share * 54:.0f}%)" if value is not None else ""})
            grid.append({"weekday": name, "cells": cells})
        return grid

    @cached_property
    def has_heatmap(self) -> bool:
        return any(c["value"] is not None for row in self.heatmap for c in row["cells"])

    # --- The week ahead and what needs a person --------------------------------------------------

    @cached_property
    def upcoming(self) -> list[Publication]:
        return list(self._scoped(Publication.objects.filter(
            status=S.SCHEDULED, scheduled_at__gte=self.now,
            scheduled_at__lt=self.now + timedelta(days=UPCOMING_DAYS)), "creator_id")
            .select_related("post__creator", "account").order_by("scheduled_at", "pk")[:UPCOMING_SHOWN])

    @cached_property
    def attention(self) -> list[dict[str, Any]]:
        """One line per kind of trouble, with a count and a link to the filtered list."""
        problems = self._scoped(Publication.objects.filter(status__in=[S.FAILED, S.UNKNOWN]), "creator_id")
        consents = self._scoped(ConsentRecord.objects.filter(
            revoked_at__isnull=True, valid_until__gte=self.now,
            valid_until__lt=self.now + timedelta(days=CONSENT_WINDOW_DAYS)), "performer__creator_links__creator_id")
        tasks = self._scoped(TakedownTask.objects.filter(status=TakedownTask.Status.OPEN),
                             "publication__creator_id")
        requests = self._scoped(TakedownRequest.objects.filter(status__in=TakedownRequest.OPEN_STATUSES), "creator_id")
        accounts = self._scoped(PlatformAccount.objects.filter(state=PlatformAccount.State.NEEDS_REAUTH), "creator_id")
        notices = self._scoped(Notification.objects.filter(resolved_at__isnull=True), "creator_id")
        # A line whose rows the viewer may not see at all is left out: a 0 there would read as
        # "nothing to do" to a manager while the owner, who sees the rows, finds one.
        lines = [
            ("Failed or unknown publications", problems, "error",
             _changelist("scheduling_publication", "status__in=failed,unknown")),
            (f"Consents expiring within {CONSENT_WINDOW_DAYS} days", consents.values("pk").distinct(),
             "warning", _changelist("compliance_consentrecord")),
            ("Open takedown tasks", tasks, "error",
             _changelist("scheduling_takedowntask", "status__exact=open")),
            ("Open takedown requests", requests, "error", _changelist("compliance_takedownrequest")),
            ("Accounts needing re-authorisation", accounts, "warning",
             _changelist("scheduling_platformaccount", "state__exact=needs_reauth")),
            ("Open notifications", notices, "info", _changelist("notifications_notification")),
        ]
        return [{"label": label, "count": rows.count(), "level": level, "url": url}
                for label, rows, level, url in lines if self._may_see(rows.model)]

    def _may_see(self, model: type[Model]) -> bool:
        ids = tenancy.allowed_creator_ids(self.user, model)
        return ids is tenancy.ALL or bool(ids)

    @cached_property
    def failed_publications(self) -> list[Publication]:
        return list(self._scoped(Publication.objects.filter(status__in=[S.FAILED, S.UNKNOWN]), "creator_id")
                    .select_related("post__creator", "account").order_by("-pk")[:ATTENTION_SHOWN])

    def context(self) -> dict[str, Any]:
        return {"dash": self, "ranges": RANGES, "currency": settings.ANALYTICS_CURRENCY}


def _changelist(name: str, query: str = "") -> str:
    try:
        url = reverse(f"admin:{name}_changelist")
    except Exception:  # an app's admin not installed: the line shows without a link
        return ""
    return f"{url}?{query}" if query else url


def home_context(request: Any) -> dict[str, Any]:
    """The admin home's analytics block: agency-wide over what the viewer reaches, last 30 days."""
    if not may_open_dashboard(request.user):
        return {}
    try:
        days = int(request.GET.get("days", RANGES[0]))
    except ValueError:
        days = RANGES[0]
    board = Dashboard(request.user, days=days)
    return {"analytics": board.context()}

