"""The calendar's moving parts: the dispatcher, the publisher and the lease reaper."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings

from scheduling import oauth, services, takedowns, wakeups


@shared_task(name="scheduling.tasks.dispatch_due", expires=28)
def dispatch_due() -> int:
    """Every 30 s, and again the moment the next row falls due (`wakeups`): claim what is due, batch
    after batch, and queue one publish per row.

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
    wakeups.dispatch_when_due()
    return total


@shared_task(name="scheduling.tasks.publish", ignore_result=True, acks_late=True, max_retries=0,
             soft_time_limit=240, time_limit=300)
def publish(publication_id: int) -> str:
    """Never retried by Celery: retry timing is the row's business (`next_attempt_at`), so a
    redelivered message after a crash finds the row no longer `claimed` and does nothing."""
    return services.publish_publication(publication_id)


@shared_task(name="scheduling.tasks.publish_batch", ignore_result=True, acks_late=True, max_retries=0)
def publish_batch(ids: list[int]) -> dict[int, str]:
    """The dispatcher's unit of work: up to SCHEDULING_PUBLISH_CHUNK claimed rows of one platform.
    Same redelivery safety as `publish`; the time limit grows with the rows a batch may call."""
    return services.publish_batch(ids)


@shared_task(name="scheduling.tasks.reap_leases", ignore_result=True)
def reap_leases() -> dict[str, int]:
    """Every few seconds: rows whose lease lapsed (a killed worker, a lost message) go back to the
    calendar, and the dispatcher is woken for them at once instead of at its next tick."""
    counts = services.reap_expired_leases()
    if counts["returned"]:
        wakeups.wake(wakeups.DISPATCH)
    return counts


@shared_task(name="scheduling.tasks.reconcile_unknown", ignore_result=True)
def reconcile_unknown() -> dict[str, int]:
    """Every minute, and when an unknown row's settle time is over: look up posts whose outcome is
    unknown instead of publishing them again. Rows found not there are dispatched at once."""
    counts = services.reconcile_unknown()
    if counts["rescheduled"]:
        wakeups.wake(wakeups.DISPATCH)
    wakeups.reconcile_when_eligible(idle=not any(counts.values()))
    return counts


@shared_task(name="scheduling.tasks.unpublish", bind=True, ignore_result=True, acks_late=True,
             soft_time_limit=120, time_limit=150)
def unpublish(self, publication_id: int, reason_code: str, takedown_id: int | None = None) -> str:  # noqa: ANN001
    """Remove one publication after a revocation or takedown. Transient platform errors are retried
    with backoff and jitter; when the retries run out, a person gets the task with its deadline."""
    try:
        return takedowns.remove_publication(publication_id, reason_code=reason_code, takedown_id=takedown_id)
    except takedowns.TryLater as exc:
        if self.request.retries >= takedowns.MAX_REMOVAL_RETRIES:
            return takedowns.give_up(publication_id, reason_code=reason_code, takedown_id=takedown_id,
                                     why=f"Removal kept failing: {exc.message}")
        raise self.retry(countdown=takedowns.backoff_seconds(self.request.retries, exc.retry_after),
                         max_retries=takedowns.MAX_REMOVAL_RETRIES) from None


@shared_task(name="scheduling.tasks.refresh_tokens", ignore_result=True, expires=540, soft_time_limit=480,
             time_limit=540)
def refresh_tokens() -> dict[str, int]:
    """Every 10 minutes: refresh platform tokens before they expire. Safe to run twice at once:
    each account is refreshed under its own row lock, and a fresh token is left alone."""
    return oauth.refresh_expiring()
