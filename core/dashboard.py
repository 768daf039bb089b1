"""Per-creator counters shown on the admin home: the registry apps add theirs to from AppConfig.ready().

Each counter answers for every creator on the page at once (one GROUP BY query), so the home
page costs the same number of queries for 3 creators or 300. A counter counts only what the
viewer may see: the page passes a `scope` (in Atelier, tenancy's `restrict()` for the viewer) that
narrows each queryset exactly as the viewer's changelist is narrowed, so a number on the home page
is the number of rows the viewer finds behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, Model, QuerySet

# Narrows a queryset for the viewer, judged by the view permission of the model given.
Scope = Callable[[QuerySet[Any], type[Model]], QuerySet[Any]]


def unscoped(queryset: QuerySet[Any], model: type[Model]) -> QuerySet[Any]:
    return queryset


class Counter:
    """A counter from "the rows of these creators": `rows(ids)` returns the queryset to count.
    `permission` names the model whose view permission decides who may see the number when it is
    not the counted model itself (links between performers and creators are seen through performers)."""

    def __init__(self, rows: Callable[[list[int]], QuerySet[Any]], field: str = "creator_id",
                 permission: type[Model] | None = None) -> None:
        self.rows = rows
        self.field = field
        self.permission = permission

    @property
    def model(self) -> type[Model]:
        """The model whose view permission decides who sees this counter."""
        return self.permission or self.rows([]).model

    def __call__(self, creator_ids: list[int], scope: Scope = unscoped) -> dict[int, int]:
        rows = scope(self.rows(creator_ids), self.model)
        grouped = rows.order_by().values(self.field).annotate(n=Count("pk", distinct=True)).values_list(self.field, "n")
        return dict(grouped)


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


def per_creator(rows: Callable[[list[int]], QuerySet[Any]], field: str = "creator_id",
                permission: type[Model] | None = None) -> Counter:
    return Counter(rows, field, permission)
