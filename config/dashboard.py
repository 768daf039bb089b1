"""Admin home: per-creator counts, drawn only from creators the viewer may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from accounts import tenancy
from accounts.models import Creator
from analytics.dashboard import home_context
from core.dashboard import DASHBOARD_COUNTS, DASHBOARD_LINKS


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    creators = (
        tenancy.restrict(Creator.objects.all(), request.user)
        .annotate(
            staff_count=Count("memberships__user", distinct=True),
            manager_count=Count("memberships", filter=Q(memberships__role="manager"), distinct=True),
        )
        .order_by("stage_name")
    )
    creators = list(creators)
    domain = _domain_counts([c.pk for c in creators])
    rows = []
    for creator in creators:
        row = {"creator": creator, "counts": {"Staff": creator.staff_count, "Managers": creator.manager_count}}
        for label, counts in domain.items():
            row["counts"][label] = counts.get(creator.pk, 0)
        row["cells"] = [{"value": value, "url": _link(label, creator.pk)} for label, value in row["counts"].items()]
        rows.append(row)
    context.update({
        "creator_rows": rows,
        "count_labels": list(rows[0]["counts"].keys()) if rows else [],
        "totals": {
            "creators": len(rows),
            "active": sum(1 for r in rows if r["creator"].status == Creator.Status.ACTIVE),
        },
    })

    context.update(home_context(request))
    return context


def _domain_counts(creator_ids: list[int]) -> dict[str, dict[int, int]]:
    """Counts contributed by the apps (each registers in core.dashboard), one query each."""
    return {label: fn(creator_ids) for label, fn in DASHBOARD_COUNTS} if creator_ids else {}


def _link(label: str, creator_id: int) -> str | None:
    if label not in DASHBOARD_LINKS:
        return None
    url_name, params = DASHBOARD_LINKS[label]
    try:
        base = reverse(url_name)
    except NoReverseMatch:
        return None
    return f"{base}?{urlencode({**params, 'creator': creator_id})}"


def environment_callback(request: HttpRequest) -> list[str] | None:
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
