"""A moment shown in the zone that gives it meaning, with the zone's abbreviation beside it.

Why: a publication due at 20:00 for a creator in New York is 01:00 UTC; staff in Lisbon plan in the
creator's time, so creator-owned rows are shown in the creator's zone ("2026-12-03 20:00 EST"), and
every other time in the viewer's (the active zone, set per request from their profile).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, tzinfo

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString


def zone(name: str | tzinfo | None) -> tzinfo:
    """The zone called `name`; the active one when there is no name or it is not a known zone."""
    if isinstance(name, tzinfo):
        return name
    try:
        return zoneinfo.ZoneInfo(name) if name else timezone.get_current_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


def local(moment: datetime | None, zone_name: str | tzinfo | None = None) -> SafeString | str:
    """"2026-12-03 20:00 EST" in that zone (the viewer's when none), the zone's name on hover."""
    if moment is None:
        return "—"
    tz, shown = _in_zone(moment, zone_name)
    return format_html('{} <span class="text-font-subtle-light dark:text-font-subtle-dark" title="{}">{}</span>',
                       f"{shown:%Y-%m-%d %H:%M}", str(tz), shown.tzname() or "")


def _in_zone(moment: datetime, zone_name: str | tzinfo | None) -> tuple[tzinfo, datetime]:
    tz = zone(zone_name)
    return tz, timezone.localtime(moment, tz) if timezone.is_aware(moment) else moment


def plain(moment: datetime | None, zone_name: str | tzinfo | None = None) -> str:
    """"2026-12-09 09:48 CET": the same moment as `local`, as plain text for notices and emails, which
    are written once and read by many, so they name the zone of the record (the creator's) they concern."""
    if moment is None:
        return "—"
    tz, shown = _in_zone(moment, zone_name)
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname() or tz}"
