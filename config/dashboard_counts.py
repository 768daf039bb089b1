"""Per-creator counters shown on the admin home; domain apps add theirs here as they land."""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import Creator

DASHBOARD_COUNTS: list[tuple[str, Callable[[Creator], int]]] = []
