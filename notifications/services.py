"""Raising a notification: one call from any app; delivery (email, webhooks) happens after commit."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from notifications.models import Notification


def notify(kind: str, *, creator_id: int | None, title: str, body: str = "", level: str = "warning",
           link: str = "", subject: str = "", dedupe_key: str = "",
           payload: dict[str, Any] | None = None) -> Notification | None:
    """Record a notice for staff. With a `dedupe_key`, a second call while the first is unresolved
    returns None instead of repeating the notice."""
    if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key, resolved_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                creator_id=creator_id, kind=kind, title=title[:200], body=body, level=level, link=link,
                subject=subject, dedupe_key=dedupe_key, payload=payload or {})
    except IntegrityError:
        return None  # a concurrent twin won the race
    transaction.on_commit(lambda: _fan_out(note.pk))
    return note


def _fan_out(notification_id: int) -> None:
    """Email and webhook delivery; filled in by the delivery module."""
