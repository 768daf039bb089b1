"""Per-creator counters shown on the admin home; domain apps add theirs here as they land.

Each counter answers for every creator on the page at once (one GROUP BY query), so the home
page costs the same number of queries for 3 creators or 300.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, QuerySet

Counter = Callable[[list[int]], dict[int, int]]
DASHBOARD_COUNTS: list[tuple[str, Counter]] = []


def per_creator(rows: Callable[[list[int]], QuerySet], field: str = "creator_id") -> Counter:
    """A counter from "the rows of these creators": `rows(ids)` returns the queryset to count."""

    def count(creator_ids: list[int]) -> dict[int, int]:
        grouped = rows(creator_ids).order_by().values(field).annotate(n=Count("pk")).values_list(field, "n")
        return dict(grouped)

    return count
