"""The per-creator analytics page, an admin view wired through `DailyRollupAdmin.get_urls()`.

The creator picker lists only creators the viewer reaches; asking for any other id answers 404,
exactly like an id that does not exist.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts import tenancy
from analytics import extensions
from analytics.dashboard import RANGES, Dashboard, Window, creators_in_reach, may_open_dashboard
from analytics.models import DailyRollup


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def registered_panels(user: Any, creator_id: int | None, window: Window) -> list[dict[str, Any]]:
    """What apps above analytics show here (the inbox's revenue per chatter…), over the same creators
    and days as the page."""
    ids = tenancy.allowed_creator_ids(user, DailyRollup)
    scope = [creator_id] if creator_id is not None else (None if ids is tenancy.ALL else sorted(ids))
    tz = timezone.get_current_timezone()
    start = datetime.combine(window.start, time.min, tzinfo=tz)
    end = datetime.combine(window.end + timedelta(days=1), time.min, tzinfo=tz)
    found = []
    for title, panel in extensions.panels().items():
        rows = panel(scope, start, end)
        found.append({"title": title, "columns": list(rows[0]) if rows else [],
                      "rows": [list(row.values()) for row in rows]})
    return found


def creator_dashboard(request: HttpRequest) -> HttpResponse:
    if not may_open_dashboard(request.user):
        raise PermissionDenied
    creators = list(creators_in_reach(request.user))
    creator_id = _int_or_none(request.GET.get("creator"))
    creator = None
    if creator_id is not None:
        creator = next((c for c in creators if c.pk == creator_id), None)
        if creator is None:
            raise Http404("No such creator.")
    days = _int_or_none(request.GET.get("days")) or RANGES[0]
    board = Dashboard(request.user, creator_id=creator_id, days=days)
    base = reverse("admin:analytics_creator_dashboard")
    range_links = [{"days": d, "active": d == board.days,
                    "url": base + "?" + urlencode({k: v for k, v in (("creator", creator_id), ("days", d)) if v})}
                   for d in RANGES]
    return render(request, "admin/analytics/creator_dashboard.html", {
        **admin.site.each_context(request), **board.context(), "opts": DailyRollup._meta,
        "title": f"Analytics — {creator.stage_name}" if creator else "Analytics — all my creators",
        "creators": creators, "creator": creator, "range_links": range_links,
        "panels": registered_panels(request.user, creator_id, board.window),
    })
