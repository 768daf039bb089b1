"""Per-creator counters shown on the admin home: the registry apps add theirs to from AppConfig.ready().

Each counter answers for every creator on the page at once (one GROUP BY query), so the home
page costs the same number of queries for 3 creators or 300.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, QuerySet

Counter = Callable[[list[int]], dict[int, int]]
DASHBOARD_COUNTS: list[tuple[str, Counter]] = []
# Label → (admin URL name, query parameters): the column's numbers link there, with `creator=<id>` added.
DASHBOARD_LINKS: dict[str, tuple[str, dict[str, str]]] = {}


def register(label: str, counter: Counter) -> None:
    """Add a column to the admin home; columns keep the order apps register them in."""
    DASHBOARD_COUNTS.append((label, counter))


def link(label: str, url_name: str, **params: str) -> None:
    """Make a column's numbers links to a page that lists those rows, filtered to the row's creator.

    Registered separately from the counter, so the app that owns the page links a column another app
    counts without that app importing it."""
    DASHBOARD_LINKS[label] = (url_name, params)


def per_creator(rows: Callable[[list[int]], QuerySet[Any]], field: str = "creator_id") -> Counter:
    """A counter from "the rows of these creators": `rows(ids)` returns the queryset to count."""

    def count(creator_ids: list[int]) -> dict[int, int]:
        grouped = rows(creator_ids).order_by().values(field).annotate(n=Count("pk")).values_list(field, "n")
        return dict(grouped)

    return count
