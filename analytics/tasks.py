"""Analytics jobs. Each is a thin, idempotent wrapper around its module's service."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from analytics import alerts, ingest, offers, reports, rollups


@shared_task(name="analytics.tasks.sync_metrics", ignore_result=True, soft_time_limit=1500, time_limit=1700)
def sync_metrics() -> dict[str, int]:
    """Every 30 min: publication metrics through each connector's `fetch_metrics`, within rate limits."""
    return ingest.sync_metrics()


@shared_task(name="analytics.tasks.process_inbound_event", ignore_result=True, max_retries=5)
def process_inbound_event(event_id: int) -> str:
    """A verified platform webhook, turned into fans, subscriptions and transactions."""
    return ingest.process_event(event_id)


@shared_task(name="analytics.tasks.process_inbound_events", ignore_result=True)
def process_inbound_events(event_ids: list[int]) -> dict[str, int]:
    """Stored webhooks in one task: under a burst the web processes hand over whatever arrived together
    (`ingest.receivers._Publisher`), so the broker round trip and the task's own cost are paid once per batch,
    and the inbox records a batch of messages in a few queries (`ingest.process_events`)."""
    return ingest.process_events(event_ids)


@shared_task(name="analytics.tasks.process_pending_events", ignore_result=True, soft_time_limit=60, time_limit=90)
def process_pending_events() -> int:
    """Every 5 s, on the control queue: stored webhooks whose processing task may have been lost (a Redis
    restarted empty, a publish that failed, a worker killed holding it) are queued again, to be processed in
    parallel by the workers; each is processed once whichever task gets there first."""
    ids = ingest.pending_events()
    for start in range(0, len(ids), ingest.PROCESS_BATCH):
        process_inbound_events.delay(ids[start:start + ingest.PROCESS_BATCH])
    return len(ids)


@shared_task(name="analytics.tasks.nightly_rollup", ignore_result=True, soft_time_limit=3000, time_limit=3300)
def nightly_rollup() -> dict[str, Any]:
    """02:15 UTC: yesterday (in each creator's timezone) and any day late data touched."""
    return rollups.nightly()


@shared_task(name="analytics.tasks.rollup_days", ignore_result=True)
def rollup_days(creator_id: int, days: list[str]) -> int:
    """Recompute the given days of one creator (late data, imports, on demand)."""
    return rollups.recompute(creator_id, [date.fromisoformat(d) for d in days])


@shared_task(name="analytics.tasks.tick_offers", ignore_result=True)
def tick_offers() -> dict[str, int]:
    """Every 5 min: start offers whose window opened, end those whose window closed."""
    return offers.tick()


@shared_task(name="analytics.tasks.send_reports", ignore_result=True, soft_time_limit=1500, time_limit=1700)
def send_reports() -> int:
    """06:00 UTC: daily, weekly (Mondays) and monthly (the 1st) reports to subscribed staff."""
    return reports.send_due()


@shared_task(name="analytics.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> int:
    """Hourly: alert rules against rollups and live state; one notice per condition."""
    return alerts.evaluate()
