"""Fixed housekeeping jobs of the accounts app (see core/beat.py)."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "atelier:beat:heartbeat"


@shared_task(name="accounts.tasks.record_heartbeat", ignore_result=False)
def record_heartbeat() -> str:
    """Proves beat and a worker are alive end to end; the time is readable by health probes."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, now, timeout=600)
    return now


@shared_task(name="accounts.tasks.clean_login_lockouts")
def clean_login_lockouts() -> int:
    return AxesProxyHandler.reset_logs(age_days=30) or 0
