"""Faults with real processes: workers killed with SIGKILL mid-publish, the broker (Redis)
restarted, two beat processes at once. Each run must end with every publication published and
each accepted by the platform exactly once (counted from the platform's side, not from our rows).

Each test runs its own Redis on a free port (so restarting it disturbs nobody) and real
`celery worker` / `celery beat` processes against the PostgreSQL test database.
"""

from __future__ import annotations

import time

import pytest

from scheduling.models import Publication
from tests.scheduling import fault_connector
from tests.scheduling.cluster import all_published, assert_each_published_once, make_due, wait_until

S = Publication.Status
pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(240)]


def test_worker_killed_mid_publish_loses_and_duplicates_nothing(world, cluster):
    cluster.env["ATELIER_FAULT_DELAY"] = "0.3"  # slow platform: the kill lands inside a batch
    pubs = make_due(world, 40)
    cluster.worker("w1")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 7, 60, "the first posts to go out")
    cluster.kill("w1")  # SIGKILL: no cleanup, rows left `publishing` and `claimed`
    stuck = Publication.objects.filter(pk__in=[p.pk for p in pubs], status__in=[S.PUBLISHING, S.CLAIMED]).count()
    assert stuck > 0
    cluster.env["ATELIER_FAULT_DELAY"] = "0.02"
    cluster.worker("w2")
    wait_until(lambda: all_published(pubs), 150, "every publication to be published")
    assert_each_published_once(pubs, cluster)


def test_broker_restart_loses_and_duplicates_nothing(world, cluster):
    cluster.env["ATELIER_FAULT_DELAY"] = "0.1"
    pubs = make_due(world, 40)
    cluster.worker("w1")
    cluster.beat("beat")
    wait_until(lambda: len(fault_connector.accepted()) >= 5, 60, "the first posts to go out")
    cluster.stop_redis()  # queued messages, rate budgets and concurrency counters are gone
    time.sleep(2)
    cluster.start_redis()
    wait_until(lambda: all_published(pubs), 150, "every publication to be published")
    assert_each_published_once(pubs, cluster)


def test_two_beats_and_two_workers_publish_each_once(world, cluster):
    pubs = make_due(world, 60)
    cluster.worker("w1")
    cluster.worker("w2")
    cluster.beat("beat1")
    cluster.beat("beat2")
    wait_until(lambda: all_published(pubs), 150, "every publication to be published")
    time.sleep(3)  # a few more ticks of both beats find nothing left to do
    assert_each_published_once(pubs, cluster)
