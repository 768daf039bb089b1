"""Admin home: per-creator counts, drawn only from creators the viewer may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from accounts import tenancy
from accounts.models import Creator
from analytics.dashboard import home_context
from config.navigation import SYSTEM_APPS, is_owner
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
    domain = _domain_counts([c.pk for c in creators], request.user)
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
    context["system_app_list"] = system_apps(request, context.get("app_list")) if is_owner(request.user) else []
    return context


def system_apps(request: HttpRequest, app_list: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The owner's "System" section: the libraries' apps (schedules, lockouts, devices). The domain's
    own models are in the sidebar, grouped by what they are for, so the raw index is not repeated."""
    apps = app_list if app_list is not None else admin.site.get_app_list(request)
    return [app for app in apps if app["app_label"] in SYSTEM_APPS]


def _domain_counts(creator_ids: list[int], user: Any) -> dict[str, dict[int, int]]:
    """Counts contributed by the apps (each registers in core.dashboard), one query each, each
    narrowed for the viewer exactly like the changelist behind it. A column whose rows the viewer
    may not see at all is left out rather than shown as a misleading 0."""

    def scope(queryset: QuerySet, model: type[Model]) -> QuerySet:
        return tenancy.restrict(queryset, user, via=model)

    if not creator_ids:
        return {}
    return {label: counter(creator_ids, scope) for label, counter in DASHBOARD_COUNTS if may_see(user, counter.model)}


def may_see(user: Any, model: type[Model]) -> bool:
    """Whether the viewer may see rows of `model` for at least one creator (the owner: always)."""
    ids = tenancy.allowed_creator_ids(user, model)
    return ids is tenancy.ALL or bool(ids)


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
