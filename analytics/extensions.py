"""What apps above analytics add to it at start-up, so analytics shows them without importing them.

The inbox sits above analytics: revenue per chatter and first-response times are computed there. It
registers them here from its `AppConfig.ready()` (as scheduling registers depictions with compliance),
and analytics reads the registry: no model moves between apps and no import goes downwards.

- Panels: a named callable `(creator_ids, start, end) -> list[dict]`: display-ready rows (column title →
  value), shown as a table on the analytics page. `creator_ids` is None for every creator (the owner),
  else the creators the reader may see, already narrowed by tenancy.
- Fan actions: changelist actions on the Fan admin (a fan's data export and erasure), each granted by
  one model permission "app_label.codename" and run only on fans of creators where the person holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

Panel = Callable[[list[int] | None, datetime, datetime], list[dict[str, Any]]]
PANELS: dict[str, Panel] = {}


def register_panel(name: str, panel: Panel) -> None:
    """Add (or replace, for the same name) a panel analytics may show."""
    PANELS[name] = panel


def panels() -> dict[str, Panel]:
    return dict(PANELS)


@dataclass(frozen=True)
class FanAction:
    name: str
    description: str
    permission: str  # "app_label.codename": who may run it, per creator
    run: Callable[[HttpRequest, QuerySet[Any]], HttpResponse | None]


FAN_ACTIONS: dict[str, FanAction] = {}


def register_fan_action(action: FanAction) -> None:
    FAN_ACTIONS[action.name] = action


def fan_actions() -> list[FanAction]:
    return list(FAN_ACTIONS.values())
