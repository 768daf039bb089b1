"""Housekeeping of the shared infrastructure (see core/beat.py)."""

from __future__ import annotations

from celery import shared_task

from core import idempotency


@shared_task(name="core.tasks.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Stored API answers are kept for a window only; past it the key is free and the row goes."""
    return idempotency.purge_expired()
