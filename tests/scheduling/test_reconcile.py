"""Unknown outcomes: reconciled by one runner at a time, batch after batch until none is left; a lookup
that can say "not there" with confidence (after its settle time) puts the row back on the calendar by
itself; an undecidable lookup, or a platform without one, leaves it to a person, and the admin says how
to check."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from scheduling import services
from scheduling.connectors import x as x_module
from scheduling.connectors.base import LookupUndecided
from scheduling.connectors.x import XConnector
from scheduling.models import Publication
from scheduling.services import dispatch
from tests.scheduling.connectors import CountingConnector
from tests.scheduling.test_batch_and_time import due
from tests.scheduling.test_connector_x import request

S = Publication.Status


class SettlingConnector(CountingConnector):
    """Lookups by the account's own recent posts: a miss is proof after a minute."""

    lookup_settle_seconds = 60
    how_to_check = "Open the profile and look for the text."


class UndecidedConnector(CountingConnector):
    lookup_settle_seconds = 60

    def lookup(self, request):
        raise LookupUndecided("More than 1,000 posts since the due time.")


class NoLookupConnector(CountingConnector):
    lookup_settle_seconds = None
    how_to_check = "Open the channel and look for the message."

    def lookup(self, request):
        return None


@pytest.fixture
def platform(counted, settings):
    def use(cls: type) -> None:
        settings.SCHEDULING_CONNECTORS = {**settings.SCHEDULING_CONNECTORS, "x": f"{__name__}.{cls.__name__}"}
        from scheduling.connectors import _load

        _load.cache_clear()

    settings.CONNECTOR_TIMEOUT_SECONDS = 30
    return use


def stuck(world, n: int = 1) -> list[Publication]:
    """Rows a killed worker left `publishing`, their lease over: the reaper makes them unknown."""
    rows = due(world, n, "x")
    Publication.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=S.PUBLISHING, lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.reap_expired_leases()["unknown"] == n
    return rows


@pytest.mark.django_db
def test_not_there_after_the_settle_time_goes_back_to_the_calendar(counted, platform):
    platform(SettlingConnector)
    [row] = stuck(counted)
    # Too early: the platform may still be catching up (or a request still in flight), so no verdict yet.
    assert services.reconcile_unknown() == {"published": 0, "rescheduled": 0, "still_unknown": 0}
    with time_machine.travel(timezone.now() + timedelta(seconds=60 + 30 + 1)):
        assert services.reconcile_unknown() == {"published": 0, "rescheduled": 1, "still_unknown": 0}
    row.refresh_from_db()
    assert row.status == S.SCHEDULED and row.next_attempt_at is None
    assert services.publish_batch(services.claim_due_publications()) == {row.pk: S.PUBLISHED}
    assert CountingConnector.calls == {str(row.idempotency_key): 1}


@pytest.mark.django_db
def test_found_after_the_settle_time_is_published_never_sent_again(counted, platform):
    platform(SettlingConnector)
    [row] = stuck(counted)
    CountingConnector.calls[str(row.idempotency_key)] = 1  # the platform had taken it
    with time_machine.travel(timezone.now() + timedelta(seconds=91)):
        assert services.reconcile_unknown() == {"published": 1, "rescheduled": 0, "still_unknown": 0}
    row.refresh_from_db()
    assert row.status == S.PUBLISHED


@pytest.mark.django_db
@pytest.mark.parametrize("connector", [UndecidedConnector, NoLookupConnector])
def test_a_lookup_that_cannot_decide_leaves_it_to_a_person(counted, platform, connector):
    platform(connector)
    [row] = stuck(counted)
    with time_machine.travel(timezone.now() + timedelta(seconds=91)):
        assert services.reconcile_unknown() == {"published": 0, "rescheduled": 0, "still_unknown": 1}
    row.refresh_from_db()
    assert row.status == S.UNKNOWN and row.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_reconcile_works_through_every_eligible_row_in_batches(counted):
    rows = due(counted, 230, "x")
    for row in rows:
        CountingConnector.calls[str(row.idempotency_key)] = 1
    Publication.objects.filter(pk__in=[r.pk for r in rows]).update(status=S.UNKNOWN)
    assert services.reconcile_unknown(limit=100) == {"published": 230, "rescheduled": 0, "still_unknown": 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_reconcile_runner_at_a_time(counted):
    rows = due(counted, 3, "x")
    Publication.objects.filter(pk__in=[r.pk for r in rows]).update(status=S.UNKNOWN)
    held, release = threading.Event(), threading.Event()

    def other_runner() -> None:
        with dispatch._single_runner(dispatch.RECONCILE_LOCK) as mine:
            assert mine
            held.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=other_runner)
    thread.start()
    try:
        assert held.wait(10)
        assert services.reconcile_unknown() == {"published": 0, "rescheduled": 0, "still_unknown": 0}
        assert Publication.objects.filter(pk__in=[r.pk for r in rows], status=S.UNKNOWN).count() == 3
    finally:
        release.set()
        thread.join(10)
    assert services.reconcile_unknown()["still_unknown"] == 3  # the lock is free again


@pytest.mark.django_db
def test_admin_shows_how_to_check_an_undecidable_outcome(counted, platform, client):
    platform(NoLookupConnector)
    [row] = stuck(counted)
    client.force_login(counted.owner)
    page = client.get(f"/admin/scheduling/publication/{row.pk}/change/").content.decode()
    assert "Open the channel and look for the message." in page
    assert "No lookup can tell for this platform." in page


# --- X: the account's own timeline, every page of the window ----------------------------------------


def _tweet(fake, text: str) -> None:
    tweet_id = str(next(fake.ids))
    fake.state["tweets"][tweet_id] = {"id": tweet_id, "text": text, "created_at": timezone.now().strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"), "body": {}, "public_metrics": {}}


def test_x_lookup_reads_every_page_of_the_window(fake):
    connector = XConnector()
    _tweet(fake, "New set tonight, link in bio")
    for i in range(150):  # newer posts push ours to the second page
        _tweet(fake, f"Other post {i}")
    assert connector.lookup(request()) is not None
    assert len(fake.calls("GET", r"/2/users/\d+/tweets")) == 2
    assert connector.lookup(request(text="Never posted")) is None  # every page read: not there


def test_x_lookup_that_cannot_see_the_whole_window_cannot_decide(fake, monkeypatch):
    monkeypatch.setattr(x_module, "LOOKUP_PAGES", 1)
    for i in range(150):
        _tweet(fake, f"Other post {i}")
    with pytest.raises(LookupUndecided):
        XConnector().lookup(request(text="Never posted"))


class KeyedConnector(CountingConnector):
    """A platform that dedupes by our key (Bluesky's record key)."""

    idempotent_publish = True

    def publish(self, request):
        type(self).calls[request.idempotency_key] = 1  # a second send changes nothing
        return super().lookup(request) or super().publish(request)


@pytest.mark.django_db
def test_an_interrupted_row_on_a_deduping_platform_goes_back_to_the_calendar(counted, platform):
    platform(KeyedConnector)
    rows = due(counted, 1, "x")
    Publication.objects.filter(pk=rows[0].pk).update(status=S.PUBLISHING,
                                                     lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.reap_expired_leases() == {"returned": 1, "unknown": 0}
    assert services.publish_batch(services.claim_due_publications()) == {rows[0].pk: S.PUBLISHED}
    assert CountingConnector.calls == {str(rows[0].idempotency_key): 1}
