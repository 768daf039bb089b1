"""Content processing jobs."""

from __future__ import annotations

from celery import shared_task

from content import services


@shared_task(name="content.tasks.process_asset", soft_time_limit=1500, time_limit=1800)
def process_asset(asset_id: int) -> str:
    """Renditions for one asset. Idempotent: running it twice replaces renditions, never duplicates."""
    asset = services.process_asset(asset_id)
    return asset.processing if asset else "missing"
