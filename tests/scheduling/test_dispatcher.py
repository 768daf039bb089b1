"""The dispatcher's promises: each due publication published once, the gate re-run at publish
time, and nothing retried blindly when the platform may already have the post."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from compliance import services as compliance
from content.models import Asset
from scheduling import services
from scheduling.models import Publication
from tests.scheduling.connectors import FlakyConnector
from tests.scheduling.fixtures import approved_target

S = Publication.Status


@pytest.mark.django_db
def test_schedule_in_creator_timezone_stores_utc(world):
    pub = approved_target(world)
    paris = ZoneInfo("Europe/Paris")
    outcome = services.schedule(pub, at=datetime(2026, 12, 24, 20, 0, tzinfo=paris))
    assert outcome.verdict.passed, outcome.verdict.reasons
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED
    assert pub.scheduled_at == datetime(2026, 12, 24, 19, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_schedule_refused_with_reasons_when_asset_not_approved(world):
    Asset.objects.filter(pk=world.asset.pk).update(status=Asset.Status.IN_REVIEW)
    pub = approved_target(world)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=1))
    assert "approval_missing" in outcome.verdict.codes
    pub.refresh_from_db()
    assert pub.status == S.APPROVED


@pytest.mark.django_db
def test_due_publication_is_published_once(world):
    pub = approved_target(world)
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    claimed = services.claim_due_publications()
    assert claimed == [pub.pk]
    assert services.claim_due_publications() == []
    assert services.publish_publication(pub.pk) == S.PUBLISHED
    assert services.publish_publication(pub.pk) == S.PUBLISHED  # a redelivered task does nothing
    pub.refresh_from_db()
    assert pub.status == S.PUBLISHED and pub.external_id == f"noop-{pub.idempotency_key}"
    assert pub.attempts == 1


@pytest.mark.django_db
def test_gate_rerun_at_publish_time(world):
    pub = approved_target(world)
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    services.claim_due_publications()
    # The consent lapses between scheduling and publishing, without any signal having run.
    from compliance.models import ConsentRecord

    ConsentRecord.objects.filter(pk=world.consent.pk).update(revoked_at=timezone.now())
    assert services.publish_publication(pub.pk) == S.BLOCKED
    pub.refresh_from_db()
    assert "consent_revoked" in {r["code"] for r in pub.block_reasons}


@pytest.mark.django_db
def test_revocation_blocks_scheduled_publications_at_once(world, django_capture_on_commit_callbacks):
    pubs = [approved_target(world), approved_target(world, "x")]
    for pub in pubs:
        services.schedule(pub, at=timezone.now() + timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(world.consent, reason="Withdrawn by email", actor=world.owner)
    for pub in pubs:
        pub.refresh_from_db()
        assert pub.status == S.BLOCKED
        assert pub.block_reasons[0]["code"] == "consent_revoked"


@pytest.mark.django_db
def test_transient_failure_reschedules_with_retry_after(world):
    FlakyConnector.mode = "transient"
    pub = approved_target(world, "x")
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    services.claim_due_publications()
    assert services.publish_publication(pub.pk) == S.SCHEDULED
    pub.refresh_from_db()
    assert pub.next_attempt_at >= timezone.now() + timedelta(seconds=110)
    assert services.claim_due_publications() == []  # not before the platform asked


@pytest.mark.django_db
def test_unknown_outcome_is_never_retried_blindly(world):
    FlakyConnector.mode = "unknown"
    pub = approved_target(world, "x")
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    services.claim_due_publications()
    assert services.publish_publication(pub.pk) == S.UNKNOWN
    assert services.claim_due_publications() == []
    assert services.publish_publication(pub.pk) == S.UNKNOWN
    assert len(FlakyConnector.calls) == 1


@pytest.mark.django_db
def test_reaper_returns_unstarted_claims_and_flags_interrupted_publishing(world):
    claimed, publishing = approved_target(world), approved_target(world, "x")
    past = timezone.now() - timedelta(minutes=10)
    Publication.objects.filter(pk=claimed.pk).update(status=S.CLAIMED, lease_expires_at=past, scheduled_at=past)
    Publication.objects.filter(pk=publishing.pk).update(status=S.PUBLISHING, lease_expires_at=past,
                                                        scheduled_at=past)
    assert services.reap_expired_leases() == {"returned": 1, "unknown": 1}
    claimed.refresh_from_db()
    publishing.refresh_from_db()
    assert claimed.status == S.SCHEDULED and publishing.status == S.UNKNOWN


@pytest.mark.django_db
def test_too_late_is_missed(world, settings):
    settings.SCHEDULING_MISSED_AFTER_SECONDS = 60
    pub = approved_target(world)
    Publication.objects.filter(pk=pub.pk).update(status=S.SCHEDULED,
                                                 scheduled_at=timezone.now() - timedelta(hours=1))
    services.claim_due_publications()
    assert services.publish_publication(pub.pk) == S.MISSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_claim_the_same_row(world):
    post = world.post
    due = timezone.now() - timedelta(seconds=1)
    Publication.objects.bulk_create([Publication(post=post, account=world.fanvue, status=S.SCHEDULED,
                                                 scheduled_at=due - timedelta(milliseconds=i)) for i in range(400)])
    results: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def run(slot: int) -> None:
        barrier.wait()
        try:
            while ids := services.claim_due_publications(batch=25):
                results[slot].extend(ids)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(results[0]) & set(results[1])
    assert len(results[0]) + len(results[1]) == 400
    assert results[0] and results[1]  # both really worked concurrently
