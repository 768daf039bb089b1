"""Publishing on time under faults, one test per mechanism, with real worker and beat processes,
a private Redis and the PostgreSQL test database (the `Cluster` of test_faults):

- a killed holder's concurrency slot frees itself within one slot lease;
- retries (rows sent back for want of a slot) never charge the rate budget;
- a worker killed mid-batch leaves at most one row `unknown` (the one it was calling);
- a Redis failure right after the platform accepted a post still records it `published`;
- the calendar's control tasks run while a hundred publish batches wait in the work queue.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from accounts.models import AuditEvent
from scheduling.connectors.noop import NoopConnector
from scheduling.limits import budget_key
from scheduling.models import Publication
from tests.scheduling import fault_connector
from tests.scheduling.cluster import (
    all_published,
    assert_each_published_once,
    make_due,
    wait_until,
)
from tests.scheduling.factories import approved_rows

S = Publication.Status
pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(240)]


def _redis(cluster) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=cluster.port)


def live_slots(cluster, platform: str) -> int:
    r = _redis(cluster)
    seconds, micros = r.time()
    return int(r.zcount(f"atelier:slots:{platform}", f"({seconds * 1000 + micros // 1000}", "+inf"))


def charged(r: redis.Redis, account_id: int) -> int:
    """Requests charged to the account over every window: a run may straddle a window's end."""
    prefix = budget_key(account_id, NoopConnector.limits).rsplit(":", 1)[0]
    return sum(int(r.get(key) or 0) for key in r.scan_iter(f"{prefix}:*"))


def test_a_killed_holders_slot_frees_within_one_lease(world, cluster):
    cluster.env.update(ATELIER_FAULT_DELAY="30", ATELIER_FAULT_BATCH="1", SCHEDULING_SLOT_LEASE_SECONDS="3",
                       SCHEDULING_PLATFORM_CONCURRENCY="x=1", SCHEDULING_LEASE_SECONDS="60")
    pubs = make_due(world, 2)
    cluster.worker("w1")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 1, 60, "the first post to go out")
    time.sleep(4)  # longer than one slot lease: the holder's renewals keep it
    assert live_slots(cluster, "x") == 1
    cluster.kill("w1")  # SIGKILL mid-call: no cleanup runs
    r = _redis(cluster)
    seconds, micros = r.time()
    expires_ms = max(score for _, score in r.zrange("atelier:slots:x", 0, -1, withscores=True))
    # Judged on Redis' own clock, not this process's: the dead holder's slot lapses within one lease.
    assert expires_ms - (seconds * 1000 + micros // 1000) <= 3000
    wait_until(lambda: live_slots(cluster, "x") == 0, 10, "the dead holder's slot to lapse")
    assert _redis(cluster).zcard("atelier:slots:x") <= 1  # a set: never a negative count
    cluster.env["ATELIER_FAULT_DELAY"] = "0"
    cluster.worker("w2")
    wait_until(lambda: all_published(pubs), 120, "every publication to be published")
    assert_each_published_once(pubs, cluster)


def test_rows_sent_back_for_a_slot_never_charge_the_budget(world, cluster):
    cluster.env.update(ATELIER_FAULT_BATCH="5", SCHEDULING_PLATFORM_CONCURRENCY="x=1")
    r = _redis(cluster)
    r.zadd("atelier:slots:x", {"another-worker": 10 ** 15})  # someone holds the only slot
    pubs = make_due(world, 10)
    cluster.worker("w1")
    cluster.beat("beat")

    ids = [p.pk for p in pubs]

    def all_sent_back() -> bool:
        return Publication.objects.filter(pk__in=ids, status=S.SCHEDULED, next_attempt_at__isnull=False).count() == 10

    wait_until(all_sent_back, 60, "every row to be sent back for want of a slot")
    time.sleep(12)  # two more rounds of claim → no slot → back in five seconds
    assert set(Publication.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {0}
    assert charged(r, world.x.pk) == 0, "rows that were never sent were charged"
    assert fault_connector.accepted() == []
    r.zrem("atelier:slots:x", "another-worker")
    wait_until(lambda: all_published(pubs), 90, "every publication to be published")
    assert charged(r, world.x.pk) == len(pubs)
    assert_each_published_once(pubs, cluster)


def test_a_kill_mid_batch_leaves_at_most_one_row_unknown(world, cluster):
    cluster.env.update(ATELIER_FAULT_DELAY="0.3", ATELIER_FAULT_BATCH="25")
    pubs = make_due(world, 40)
    cluster.worker("control", queues="control")
    cluster.worker("w1", queues="celery")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 7, 60, "the first posts to go out")
    cluster.kill("w1")
    ids = [p.pk for p in pubs]
    # The row being called is `publishing` until its lease ends; the reaper then makes it `unknown`.
    # The batch's other rows were never called: they go back to the calendar (and are claimed again).
    wait_until(lambda: not Publication.objects.filter(pk__in=ids, status=S.PUBLISHING).exists(),
               60, "the reaper to take back the dead worker's rows")
    cluster.env["ATELIER_FAULT_DELAY"] = "0.02"
    cluster.worker("w2", queues="celery")
    wait_until(lambda: all_published(pubs), 150, "every publication to be published")
    unknown = AuditEvent.objects.filter(action="publication.unknown", object_id__in=[str(i) for i in ids])
    assert unknown.count() <= 1
    assert_each_published_once(pubs, cluster)


def test_a_redis_failure_after_acceptance_still_records_published(world, cluster):
    cluster.env.update(ATELIER_FAULT_BATCH="5",
                       ATELIER_FAULT_SHUTDOWN_REDIS=f"redis://127.0.0.1:{cluster.port}/0")
    pubs = make_due(world, 3)
    cluster.worker("w1")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 1, 60, "the first post to go out")
    [first] = fault_connector.accepted()
    row = Publication.objects.get(idempotency_key=first)
    # Redis is gone (the broker, the slots, the budgets): the database still hears of the success.
    wait_until(lambda: Publication.objects.filter(pk=row.pk, status=S.PUBLISHED).exists(), 20,
               "the accepted post to be recorded published")
    assert not AuditEvent.objects.filter(action="publication.unknown", object_id=str(row.pk)).exists()
    cluster.redis.wait(10)
    cluster.redis = None
    cluster.start_redis()
    wait_until(lambda: all_published(pubs), 150, "every publication to be published")
    assert_each_published_once(pubs, cluster)


def test_control_tasks_run_while_a_hundred_batches_wait(world, cluster):
    cluster.env.update(ATELIER_FAULT_DELAY="3", ATELIER_FAULT_BATCH="1", SCHEDULING_LEASE_SECONDS="600")
    backlog = make_due(world, 100)
    cluster.worker("work", queues="celery")
    cluster.worker("control", queues="control")
    cluster.beat("beat")
    ids = [p.pk for p in backlog]
    wait_until(lambda: Publication.objects.filter(pk__in=ids, status=S.SCHEDULED).count() == 0, 30,
               "the dispatcher to claim the backlog")
    # A hundred batches, one per row, wait for the one work worker.
    wait_until(lambda: _redis(cluster).llen("celery") >= 80, 10, "the backlog of batches in the work queue")
    # A new post falls due, and a claim whose message was lost waits for the reaper.
    [fresh, lost] = approved_rows(world.post, [
        Publication(post=world.post, account=world.fanvue, status=S.SCHEDULED,
                    scheduled_at=timezone.now() - timedelta(seconds=1)),
        Publication(post=world.post, account=world.fanvue, status=S.CLAIMED,
                    scheduled_at=timezone.now() - timedelta(seconds=2),
                    lease_expires_at=timezone.now() - timedelta(seconds=1))])
    wait_until(lambda: Publication.objects.filter(pk=fresh.pk).exclude(status=S.SCHEDULED).exists(), 10,
               "the dispatcher to claim a newly due post behind the backlog")
    wait_until(lambda: Publication.objects.get(pk=lost.pk).lease_expires_at is None
               or Publication.objects.get(pk=lost.pk).lease_expires_at > timezone.now(), 10,
               "the reaper to take back a lost claim behind the backlog")
    assert Publication.objects.filter(pk__in=ids, status=S.PUBLISHED).count() < 50  # the backlog is real
