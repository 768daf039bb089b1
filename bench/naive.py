"""The naive design the dispatcher is measured against: one django-celery-beat clocked
PeriodicTask per publication, each firing a task that publishes that one row.

Only for `bench.dispatch --naive`; workers load it with `-I bench.naive`.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="bench.naive.publish_one", ignore_result=True)
def publish_one(publication_id: int) -> str:
    from scheduling import services
    from scheduling.models import Publication

    # What beat fired is the row itself: claim it, then the same per-row publish path.
    if not Publication.objects.filter(pk=publication_id, status="approved").update(status="claimed"):
        return "skipped"
    return services.publish_publication(publication_id)
