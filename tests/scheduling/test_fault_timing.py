"""Publishing on time under faults: how soon each healing mechanism acts, one test per mechanism, with
real worker and beat processes, a private Redis and the PostgreSQL test database (the `Cluster` of
test_faults). The beat's periods are set long, so only the mechanism under test can explain the timing:

- the dispatcher is woken at a row's due time, not at its next tick;
- a row that went `unknown` is looked up the moment its settle time is over, and dispatched at once
  when the platform never got it;
- the reaper wakes the dispatcher for the rows it takes back;
- a running batch's leases are renewed by a thread during a call longer than the lease, and a killed
  worker's rows come back within one short run lease;
- when Redis comes back empty, rows whose message was lost with it come back at once, not at the end
  of their claim lease.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

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
LONG = "120"  # beat periods no test waits for


def rows_at(world, offsets: list[float], status: str = S.SCHEDULED, **fields) -> list[Publication]:
    now = timezone.now()
    return approved_rows(world.post, [
        Publication(post=world.post, account=world.x, status=status,
                    scheduled_at=now + timedelta(seconds=s), **fields) for s in offsets])


def test_a_post_goes_out_at_its_due_time_not_at_the_next_tick(world, cluster):
    cluster.env.update(SCHEDULING_DISPATCH_EVERY_SECONDS=LONG, ATELIER_FAULT_DELAY="0", ATELIER_FAULT_BATCH="5")
    pubs = rows_at(world, [20 + 2 * i for i in range(10)])  # due over 20–38 s from now
    # The beat's first dispatch tick comes one period (two minutes) after it starts; a lost claim,
    # taken back by the reaper, makes the one dispatch run that looks ahead from the start.
    [lost] = rows_at(world, [-5], status=S.CLAIMED, lease_expires_at=timezone.now())
    cluster.worker("control", queues="control")
    cluster.worker("w1", queues="celery")
    cluster.beat("beat")
    wait_until(lambda: all_published(pubs), 120, "every publication to be published")
    first_run = min(p.published_at for p in Publication.objects.filter(pk__in=[p.pk for p in pubs]))
    late = []
    for row in Publication.objects.filter(pk__in=[p.pk for p in pubs]):
        if row.scheduled_at > first_run:  # due after the worker and beat were up: woken for it
            late.append((row.published_at - row.scheduled_at).total_seconds())
    assert late, "the cluster took too long to start: no row fell due after the first run"
    assert max(late) <= 20, f"lags {sorted(late)}: rows waited for the dispatcher's tick"
    assert_each_published_once([*pubs, lost], cluster)


def test_an_unknown_outcome_is_looked_up_once_settled_and_dispatched_at_once(world, cluster):
    # The worker died calling the platform, which never got the post; the lookup (settle 2 s here:
    # the fault connector's log is authoritative, plus the 2 s client timeout) says so.
    cluster.env.update(SCHEDULING_DISPATCH_EVERY_SECONDS=LONG, SCHEDULING_RECONCILE_EVERY_SECONDS=LONG)
    [pub] = rows_at(world, [-5], status=S.PUBLISHING, lease_expires_at=timezone.now() + timedelta(seconds=8))
    cluster.worker("w1")
    cluster.beat("beat")
    wait_until(lambda: Publication.objects.filter(pk=pub.pk, status=S.UNKNOWN).exists(), 90,
               "the reaper to make the interrupted row unknown")
    unknown_at = time.monotonic()
    wait_until(lambda: all_published([pub]), 60, "the row to be looked up, rescheduled and published")
    assert time.monotonic() - unknown_at <= 30, "waited for a periodic reconcile or dispatch run"
    assert_each_published_once([pub], cluster)


def test_the_reaper_wakes_the_dispatcher_for_rows_it_takes_back(world, cluster):
    # A claim whose message was lost: its lease ends a few seconds after the cluster is up.
    cluster.env.update(SCHEDULING_DISPATCH_EVERY_SECONDS=LONG)
    [pub] = rows_at(world, [-5], status=S.CLAIMED, lease_expires_at=timezone.now() + timedelta(seconds=30))
    cluster.worker("w1")
    cluster.beat("beat")
    wait_until(lambda: Publication.objects.filter(pk=pub.pk, status=S.SCHEDULED).exists()
               or all_published([pub]), 90, "the reaper to take the claim back")
    returned_at = time.monotonic()
    wait_until(lambda: all_published([pub]), 60, "the row to be published")
    assert time.monotonic() - returned_at <= 30, "the row waited for the dispatcher's tick"
    assert_each_published_once([pub], cluster)


def test_leases_are_renewed_during_a_long_call_and_lapse_soon_after_a_kill(world, cluster):
    # Each call lasts 6 s, three times the 2 s run lease: only the batch's renewing thread keeps the
    # rows from being reaped while the worker lives.
    cluster.env.update(ATELIER_FAULT_DELAY="6", ATELIER_FAULT_BATCH="3", SCHEDULING_RUN_LEASE_SECONDS="2",
                       SCHEDULING_LEASE_SECONDS="60")
    pubs = make_due(world, 3)
    ids = [p.pk for p in pubs]
    cluster.worker("control", queues="control")  # the reaper outlives the killed worker
    cluster.worker("w1", queues="celery")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 1, 90, "the first call to reach the platform")
    time.sleep(4)  # inside the 6 s call, two run leases later
    assert not Publication.objects.filter(pk__in=ids, status=S.UNKNOWN).exists(), "a live call's row was reaped"
    assert Publication.objects.filter(pk__in=ids, status=S.PUBLISHING).count() == 1
    assert Publication.objects.filter(pk__in=ids, status=S.CLAIMED).count() == 2
    cluster.kill("w1")
    killed_at, killed_clock = time.monotonic(), timezone.now()

    def back_from_the_dead_worker() -> bool:
        # The row being called becomes `unknown`; the two waiting ones go back to the calendar, where the
        # woken dispatcher may claim them again at once (a fresh 60 s claim lease, for the next worker),
        # whereas the dead worker's renewals never reached past its death plus one run lease.
        rows = Publication.objects.filter(pk__in=ids)
        return all(r.status not in (S.PUBLISHING, S.CLAIMED)
                   or (r.status == S.CLAIMED and r.lease_expires_at > killed_clock + timedelta(seconds=30))
                   for r in rows)

    # Within one run lease and a reaper tick (2 + 5 s), not the 60 s claim lease; the bound leaves room
    # for a loaded machine and still tells the two apart.
    wait_until(back_from_the_dead_worker, 50, "the dead worker's rows to come back")
    assert time.monotonic() - killed_at <= 45, "the rows waited for their claim lease"
    cluster.env["ATELIER_FAULT_DELAY"] = "0"
    cluster.worker("w2", queues="celery")
    wait_until(lambda: all_published(pubs), 120, "every publication to be published")
    assert_each_published_once(pubs, cluster)


def test_rows_queued_in_a_redis_that_restarted_empty_come_back_at_once(world, cluster):
    # One worker process, a 2 s call per row, one row per message: most messages wait in Redis.
    cluster.env.update(ATELIER_FAULT_DELAY="2", ATELIER_FAULT_BATCH="1", SCHEDULING_LEASE_SECONDS="90")
    pubs = make_due(world, 8)
    ids = [p.pk for p in pubs]
    cluster.worker("control", queues="control")
    cluster.worker("w1", queues="celery")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 1, 90, "the first post to go out")
    cluster.stop_redis()  # the queued messages are gone; their rows are claimed for another 90 s
    cluster.start_redis()
    restarted_at = time.monotonic()
    wait_until(lambda: all_published(pubs), 80, "every publication to be published")
    assert time.monotonic() - restarted_at <= 45, "the rows waited for their claim lease"
    assert Publication.objects.filter(pk__in=ids, status=S.PUBLISHED).count() == 8
    assert_each_published_once(pubs, cluster)


def test_a_worker_holding_messages_survives_redis_restarting_empty(world, cluster):
    # Wake-ups are countdown messages the control worker holds unacknowledged until they are due; when
    # Redis dies, the worker's channel tries to give them back to a server that is gone. That must
    # cost a reconnect, not the worker.
    cluster.env.update(SCHEDULING_DISPATCH_EVERY_SECONDS=LONG, ATELIER_FAULT_DELAY="0", ATELIER_FAULT_BATCH="5")
    pubs = rows_at(world, [6, *[14 + 3 * i for i in range(8)]])
    [lost] = rows_at(world, [-5], status=S.CLAIMED, lease_expires_at=timezone.now())  # wakes the dispatcher
    cluster.worker("control", queues="control")
    cluster.worker("w1", queues="celery")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 1, 90, "the first post to go out")
    cluster.stop_redis()
    time.sleep(1)
    cluster.start_redis()
    time.sleep(8)
    assert cluster.procs["control"].poll() is None, "the control worker died with Redis"
    assert cluster.procs["w1"].poll() is None, "the publishing worker died with Redis"
    wait_until(lambda: all_published(pubs), 120, "every publication to be published")
    assert_each_published_once([*pubs, lost], cluster)
