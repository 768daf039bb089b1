"""Runs of the calendar's control tasks between their beat ticks, at the moment there is work.

The beat runs the dispatcher, the reaper and the reconciler on fixed periods: that is the floor, and
what recovers anything lost. On top of it:

- the dispatcher, at the end of each run, asks for a run at the moment the next row falls due (its
  due time or its retry time, within one tick), so a post leaves at its due time, not at the next tick;
- a row that went `unknown` asks for a reconcile run when its settle time is over, and each reconcile
  run asks for one when the next unknown row becomes eligible;
- the reaper and the reconciler, when they put rows back on the calendar, ask for a dispatch now.

A wake-up is a control-queue message with a countdown of at most one tick, never a far-future ETA:
due times live in rows. At most one is pending per task (a cache key holds its time), so posts due
every few milliseconds wake the dispatcher at most once per MIN_GAP. A wake-up lost with its worker or
with Redis costs at most one tick: once its time has passed its key no longer holds back another, and
the beat's next run arms the next one. A wake-up sent twice (a race between two runs) is one more run
of an idempotent task.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from scheduling.models import Publication

log = logging.getLogger(__name__)
S = Publication.Status

DISPATCH = "scheduling.tasks.dispatch_due"
RECONCILE = "scheduling.tasks.reconcile_unknown"
MIN_GAP = 1.0  # seconds between two wake-ups of one task
GRACE = 60.0  # a wake-up not run this long after its time is dropped: the beat has run the task by then
UNKNOWN_WINDOW = timedelta(days=2)  # reconcile looks at unknown rows due within this (services)


def _key(task: str) -> str:
    return f"atelier:wake:{task}"


def wake(task: str, at: datetime | None = None) -> None:
    """Queue one run of the control task `task` at `at` (now if None or past), unless a wake-up is
    pending between now and `at` (one whose time has passed is running, queued or lost: not counted).
    Sent after the current transaction commits, so the run sees what woke it. Never raises: a broker
    or cache error is logged, and the beat's next run does the work instead."""
    transaction.on_commit(lambda: _wake(task, at))


def _wake(task: str, at: datetime | None) -> bool:
    now = timezone.now()
    at = max(at or now, now)
    at_ms, now_ms = int(at.timestamp() * 1000), int(now.timestamp() * 1000)
    delay = (at - now).total_seconds()
    try:
        pending = cache.get(_key(task))
        if pending is not None and now_ms < int(pending) <= at_ms:
            return False
        cache.set(_key(task), at_ms, timeout=delay + GRACE)
        current_app.send_task(task, countdown=delay, expires=delay + GRACE)
    except Exception:
        log.warning("Could not queue a wake-up of %s; the beat's next run takes over", task, exc_info=True)
        return False
    return True


def next_due_at(*, within: float, now: datetime | None = None) -> datetime | None:
    """When the next scheduled row falls due (its due time, or its retry time when later) within
    `within` seconds; `now` when rows are due already. None when nothing falls due that soon."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=within)
    soon = Publication.objects.filter(status=S.SCHEDULED, scheduled_at__lte=horizon)
    due = Q(scheduled_at__lte=now) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    if soon.filter(due).exists():
        return now
    first = soon.filter(scheduled_at__gt=now).aggregate(at=Min("scheduled_at"))["at"]
    retry = soon.filter(next_attempt_at__gt=now, next_attempt_at__lte=horizon).aggregate(
        at=Min("next_attempt_at"))["at"]
    times = [t for t in (first, retry) if t is not None]
    return min(times) if times else None


def next_reconcile_at(*, within: float, now: datetime | None = None) -> datetime | None:
    """When the next unknown row becomes eligible for a lookup within `within` seconds."""
    now = now or timezone.now()
    rows = Publication.objects.filter(status=S.UNKNOWN, scheduled_at__gte=now - UNKNOWN_WINDOW)
    if rows.filter(next_attempt_at__isnull=True).exists():
        return now
    at = rows.filter(next_attempt_at__lte=now + timedelta(seconds=within)).aggregate(at=Min("next_attempt_at"))["at"]
    return None if at is None else max(at, now)


def dispatch_when_due() -> None:
    """After a dispatch run (or a batch that put rows back for a retry): wake the dispatcher when the
    next row falls due within one tick."""
    now = timezone.now()
    try:
        at = next_due_at(within=settings.SCHEDULING_DISPATCH_EVERY_SECONDS, now=now)
    except Exception:  # called on the way out of a batch that may be failing: the tick takes over
        log.warning("Could not read when the next publication is due", exc_info=True)
        return
    if at is not None:
        wake(DISPATCH, max(at, now + timedelta(seconds=MIN_GAP)))


def dispatch_at(at: datetime) -> None:
    """A row was put on the calendar at `at`: wake the dispatcher then if that is sooner than its next
    tick (a later time is found by the dispatch run before it, looking one tick ahead)."""
    if (at - timezone.now()).total_seconds() <= settings.SCHEDULING_DISPATCH_EVERY_SECONDS:
        wake(DISPATCH, at)


def reconcile_when_eligible(*, idle: bool = False) -> None:
    """After a reconcile run: wake it when the next unknown row becomes eligible within one period.
    `idle`: the run looked at nothing; rows eligible already are then another runner's (it holds the
    lock and arms the next wake-up itself), so only a later time is armed."""
    now = timezone.now()
    at = next_reconcile_at(within=settings.SCHEDULING_RECONCILE_EVERY_SECONDS, now=now)
    if at is not None and not (idle and at <= now):
        wake(RECONCILE, max(at, now + timedelta(seconds=MIN_GAP)))


# --- A broker that lost its queues ---------------------------------------------------------------

BROKER_MARK = "atelier:broker-mark"


@lru_cache(maxsize=2)
def _broker(url: str) -> Any:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis_broker() -> Any | None:
    url = settings.CELERY_BROKER_URL
    return _broker(url) if url.startswith(("redis://", "rediss://")) else None


def note_queued() -> None:
    """Before publish messages are queued: leave a mark in the broker's Redis beside them."""
    broker = _redis_broker()
    if broker is None:
        return
    try:
        broker.set(BROKER_MARK, "1")
    except Exception:  # the messages will not go either; the claim lease brings the rows back
        log.warning("Could not mark the broker", exc_info=True)


def broker_lost_queues() -> bool:
    """True when the broker's Redis came back empty (restarted without persistence, flushed) since
    messages were last queued: the mark left beside them is gone, so every queued message went with
    it. The mark is set again, so this answers True once per loss. False without a Redis broker or
    when it cannot be reached (nothing to conclude)."""
    broker = _redis_broker()
    if broker is None:
        return False
    try:
        return bool(broker.set(BROKER_MARK, "1", nx=True))
    except Exception:
        return False
