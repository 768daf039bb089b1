"""Concurrency on PostgreSQL: one lock order (post before its publications) and one publication per
account and instant.

Threads send real requests through Django's test client, each on its own database connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from scheduling import services
from scheduling.models import Publication, QueueSlot
from tests.scheduling.test_api import NEXT_YEAR, approved_publication

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
S = Publication.Status


def deadlocks() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cur.fetchone()[0]


def run_threads(jobs: list) -> list:
    """Run each job (a callable returning a response) in its own thread, all released at once."""
    barrier = threading.Barrier(len(jobs))
    answers: list = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            answers[i] = jobs[i]()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_concurrent_reschedule_and_caption_edit_of_one_post_never_deadlock(api_world):
    pub = approved_publication(api_world)
    base = timezone.now().replace(year=NEXT_YEAR, microsecond=0)
    assert services.schedule(pub, at=base).verdict.passed
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_world.key_a}"}
    before = deadlocks()

    def rescheduler(n: int):
        def job() -> list[int]:
            client = Client(raise_request_exception=False)
            return [client.post(f"/api/v1/publications/{pub.pk}/reschedule/",
                                {"at": (base + timedelta(minutes=n * 10 + i)).isoformat()},
                                content_type="application/json", **auth).status_code for i in range(10)]
        return job

    def editor(n: int):
        def job() -> list[int]:
            client = Client(raise_request_exception=False)
            return [client.patch(f"/api/v1/posts/{pub.post_id}/", {"caption": f"Version {n}.{i}"},
                                 content_type="application/json", **auth).status_code for i in range(10)]
        return job

    answers = run_threads([rescheduler(n) if n % 2 else editor(n) for n in range(8)])
    statuses = Counter(code for batch in answers for code in batch)
    assert sum(statuses.values()) == 80
    assert not [code for code in statuses if code >= 500], statuses
    assert statuses[200] > 0, statuses
    assert deadlocks() == before


def test_concurrent_add_to_queue_gives_each_publication_its_own_slot(api_world):
    account = api_world.fanvue
    for weekday in range(7):
        QueueSlot.objects.create(account=account, weekday=weekday, time="09:00")
    pubs = [approved_publication(api_world) for _ in range(6)]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_world.key_a}"}

    def queue(pub: Publication):
        return lambda: Client(raise_request_exception=False).post(f"/api/v1/publications/{pub.pk}/add-to-queue/",
                                                                 **auth)

    answers = run_threads([queue(pub) for pub in pubs])
    assert [a.status_code for a in answers] == [200] * 6, [a.content[:300] for a in answers]
    times = [a.json()["scheduled_at"] for a in answers]
    assert len(set(times)) == 6, times
    assert Publication.objects.filter(account=account, status=S.SCHEDULED).count() == 6


def test_two_live_publications_on_one_account_at_one_instant_are_impossible(api_world):
    at = timezone.now().replace(year=NEXT_YEAR, microsecond=0)
    first, second = approved_publication(api_world), approved_publication(api_world)
    Publication.objects.filter(pk=first.pk).update(status=S.SCHEDULED, scheduled_at=at)
    with pytest.raises(IntegrityError), transaction.atomic():
        Publication.objects.filter(pk=second.pk).update(status=S.SCHEDULED, scheduled_at=at)
    # Another account, or a row that is no longer live, may share the instant.
    other = approved_publication(api_world, account="x")
    Publication.objects.filter(pk=other.pk).update(status=S.SCHEDULED, scheduled_at=at)
    Publication.objects.filter(pk=second.pk).update(status=S.CANCELLED, scheduled_at=at)


def test_scheduling_onto_a_taken_instant_is_a_conflict_with_the_reason(client, api_world):
    at = timezone.now().replace(year=NEXT_YEAR, microsecond=0)
    first, second = approved_publication(api_world), approved_publication(api_world)
    assert services.schedule(first, at=at).verdict.passed
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_world.key_a}"}
    response = client.post(f"/api/v1/publications/{second.pk}/schedule/", {"at": at.isoformat()},
                           content_type="application/json", **auth)
    assert response.status_code == 409, response.content
    assert "already" in response.json()["error"]["message"]
    second.refresh_from_db()
    assert second.status == S.APPROVED and second.scheduled_at is None
