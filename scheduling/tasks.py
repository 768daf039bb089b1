"""The calendar's moving parts: the dispatcher, the publisher and the lease reaper."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings

from scheduling import services


@shared_task(name="scheduling.tasks.dispatch_due", expires=28)
def dispatch_due() -> int:
    """Every 30 s: claim what is due, batch after batch, and queue one publish per row.

    A burst (ten thousand posts at midnight) drains within this run instead of one batch per tick;
    the time budget keeps a run shorter than the beat period.
    """
    deadline = time.monotonic() + settings.SCHEDULING_DISPATCH_SECONDS
    total = 0
    while time.monotonic() < deadline:
        claimed = services.claim_due_publications()
        total += len(claimed)
        if len(claimed) < settings.SCHEDULING_CLAIM_BATCH:
            break
    return total


@shared_task(name="scheduling.tasks.publish", ignore_result=True, acks_late=True, max_retries=0,
             soft_time_limit=240, time_limit=300)
def publish(publication_id: int) -> str:
    """Never retried by Celery: retry timing is the row's business (`next_attempt_at`), so a
    redelivered message after a crash finds the row no longer `claimed` and does nothing."""
    return services.publish_publication(publication_id)


@shared_task(name="scheduling.tasks.reap_leases", ignore_result=True)
def reap_leases() -> dict[str, int]:
    return services.reap_expired_leases()
