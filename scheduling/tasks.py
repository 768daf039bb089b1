"""The calendar's moving parts: the dispatcher, the publisher and the lease reaper."""

from __future__ import annotations

from celery import shared_task

from scheduling import services


@shared_task(name="scheduling.tasks.dispatch_due")
def dispatch_due() -> int:
    """Every 30 s: claim what is due and queue one publish per row."""
    return len(services.claim_due_publications())


@shared_task(name="scheduling.tasks.publish", acks_late=True, max_retries=0, soft_time_limit=240, time_limit=300)
def publish(publication_id: int) -> str:
    """Never retried by Celery: retry timing is the row's business (`next_attempt_at`), so a
    redelivered message after a crash finds the row no longer `claimed` and does nothing."""
    return services.publish_publication(publication_id)


@shared_task(name="scheduling.tasks.reap_leases", ignore_result=True)
def reap_leases() -> dict[str, int]:
    return services.reap_expired_leases()
