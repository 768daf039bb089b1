"""Admin home: per-creator counts, drawn only from creators the viewer may see."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest

from accounts import tenancy
from accounts.models import Creator
from analytics.dashboard import home_context
from core.dashboard import DASHBOARD_COUNTS


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


def environment_callback(request: HttpRequest) -> list[str] | None:
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
