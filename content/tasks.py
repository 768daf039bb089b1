"""Content processing jobs."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from content import services, studio

# The render child is killed at CONTENT_PROCESSING_SECONDS; the task's own limits sit above that so
# the service can record the failure, and the reaper catches a worker that died regardless.
_PROCESSING_SECONDS = settings.CONTENT_PROCESSING_SECONDS


@shared_task(name="content.tasks.process_asset", soft_time_limit=_PROCESSING_SECONDS + 120,
             time_limit=_PROCESSING_SECONDS + 180)
def process_asset(asset_id: int) -> str:
    """Renditions for one asset. Idempotent: running it twice replaces renditions, never duplicates."""
    asset = services.process_asset(asset_id)
    return asset.processing if asset else "missing"


@shared_task(name="content.tasks.reap_stalled_processing", soft_time_limit=120, time_limit=150)
def reap_stalled_processing() -> int:
    """Fail assets whose processing outlived its time limit (their worker is gone)."""
    return services.reap_stalled_processing()


@shared_task(bind=True, name="content.tasks.run_generation_job", acks_late=True, max_retries=None,
             soft_time_limit=1800, time_limit=1900)
def run_generation_job(self: Any, job_id: int) -> str:
    """One generation job. Re-queues itself while its backend is busy or briefly down (the job row
    counts attempts and says why); everything else is decided in `studio.run_job`."""
    outcome = studio.run_job(job_id)
    if outcome.retry_in is not None:
        if self.request.is_eager:
            # Eager mode (tests, CELERY_TASK_ALWAYS_EAGER): no broker to wait in; run again now.
            return run_generation_job.run(job_id)
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="content.tasks.reap_generation_jobs", soft_time_limit=120, time_limit=150)
def reap_generation_jobs() -> dict[str, int]:
    return studio.reap_jobs()
