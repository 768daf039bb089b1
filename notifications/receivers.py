"""Content's news that people must hear about, turned into notices (content cannot call upwards)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from content.models import GenerationJob
from content.signals import generation_failed
from notifications.services import notify


@receiver(generation_failed, dispatch_uid="notifications.generation_failed")
def tell_generation_failed(sender: Any, job_id: int, **kwargs: Any) -> None:
    """The creator's managers and the person who queued the job hear that it failed, once per job.
    The prompt stays out of the notice (it is emailed); the job's page has it."""
    job = GenerationJob.objects.select_related("creator").filter(pk=job_id, status=GenerationJob.Status.FAILED).first()
    if job is None:
        return
    reason = (job.error or "The backend gave no reason.").splitlines()[0][:300]
    notify("generation.failed", creator_id=job.creator_id, level="warning",
           title=f"Generation job #{job.pk} ({job.get_kind_display().lower()}) for {job.creator.stage_name} failed",
           body=f"{reason} Nothing was added to the library; queue it again once the cause is fixed.",
           link=f"/admin/content/generationjob/{job.pk}/change/", subject=f"content.generationjob:{job.pk}",
           dedupe_key=f"generation.failed:{job.pk}", recipients=[job.created_by_id] if job.created_by_id else [],
           payload={"job_id": job.pk, "kind": job.kind})
