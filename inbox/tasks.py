"""The inbox's periodic jobs: thin tasks over its service modules."""

from __future__ import annotations

from celery import shared_task

from inbox import privacy


@shared_task(name="inbox.tasks.purge_expired_messages", ignore_result=True, expires=82800)
def purge_expired_messages() -> int:
    """Nightly: blank the words and media of messages past the retention period (idempotent)."""
    return privacy.purge_expired_messages()
