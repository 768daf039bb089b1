"""Times on the chat wires (RFC 3339 with a `Z`), and the bound a caller gives `lookup_sent`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from the platform's timestamp; None when absent or unreadable."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value.replace("Z", "+00:00"))
        if parsed is not None:
            parsed = timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date ("2026-02-30"), or before year 1 once in UTC
        return None
    return parsed


def not_before(options: dict[str, Any]) -> datetime | None:
    """`options["not_before"]`: when the send was first attempted. A message of ours older than that
    cannot be the one we are looking for, so reading back may stop there."""
    return parse_time(options.get("not_before"))
