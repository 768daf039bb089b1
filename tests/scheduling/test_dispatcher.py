"""The dispatcher's promises: each due publication published once, the gate re-run at publish
time, and nothing retried blindly when the platform may already have the post."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from compliance import services as compliance
from content.models import Asset
from scheduling import services
from scheduling.connectors.base import PublishResult, TransientError, UnknownOutcome
from scheduling.connectors.noop import NoopConnector
from scheduling.models import PlatformAccount, Post, PostAsset, Publication
from tests.scheduling import factories
from tests.scheduling.factories import approve_as_is

S = Publication.Status
JPEG = b"\xff\xd8\xff" + b"0" * 64


class FlakyConnector(NoopConnector):
    calls: list[str] = []
    mode = "ok"
    idempotent_publish = False  # a platform without an idempotency key: a second send is a second post

    def publish(self, request):
        type(self).calls.append(request.idempotency_key)
        if self.mode == "transient":
            raise TransientError("503 from platform", status=503, retry_after=120)
        if self.mode == "unknown":
            raise UnknownOutcome("Timed out after sending.")
        return PublishResult(external_id=f"ext-{request.idempotency_key}", url="https://example.test/p/1")


@pytest.fixture
def world(people, settings, tmp_path):
    settings.SCHEDULING_CONNECTORS = {"fanvue": "scheduling.connectors.noop.NoopConnector",
                                      "x": "tests.scheduling.test_dispatcher.FlakyConnector"}
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None}}}
    from scheduling.connectors import _load

    _load.cache_clear()
    FlakyConnector.calls, FlakyConnector.mode = [], "ok"
    a = people["a"]
    performer = compliance.create_performer(legal_name="Jeanne Exemple", date_of_birth=date(1996, 4, 12),
                                            creators=[a])
    compliance.record_verification(performer=performer, document_kind="passport", result="approved",
                                   actor=people["owner"], front=JPEG)
    consent = compliance.record_consent(performer=performer, platforms=["fanvue", "x"], max_rating="explicit",
                                        uses=["publication", "promotion_on_social"],
                                        signed_at=timezone.now() - timedelta(days=30))
    asset = Asset.objects.create(creator=a, file="assets/x.jpg", kind="image", mime="image/jpeg", sha256="a" * 64,
                                 size_bytes=10, rating="explicit", status=Asset.Status.APPROVED,
                                 production_date=date(2026, 1, 5))
    asset.performers.add(performer)
    post = Post.objects.create(creator=a, caption="New set tonight", approved_at=timezone.now())
    PostAsset.objects.create(post=post, asset=asset)
    approve_as_is(post)
    fanvue = PlatformAccount.objects.create(state="connected", creator=a, platform="fanvue", handle="luna")
    x = PlatformAccount.objects.create(state="connected", creator=a, platform="x", handle="luna_x")
    return {"performer": performer, "consent": consent, "asset": asset, "post": post, "fanvue": fanvue, "x": x,
            **people}


def approved_publication(world, account="fanvue") -> Publication:
    return factories.approved_publication(world["post"], world[account])


@pytest.mark.django_db
def test_schedule_in_creator_timezone_stores_utc(world):
    pub = approved_publication(world)
    paris = ZoneInfo("Europe/Paris")
    outcome = services.schedule(pub, at=datetime(2026, 12, 24, 20, 0, tzinfo=paris))
    assert outcome.verdict.passed, outcome.verdict.reasons
    pub.refresh_from_db()
    assert pub.status == S.SCHEDULED
    assert pub.scheduled_at == datetime(2026, 12, 24, 19, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_schedule_refused_with_reasons_when_asset_not_approved(world):
    Asset.objects.filter(pk=world["asset"].pk).update(status=Asset.Status.IN_REVIEW)
    pub = approved_publication(world)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=1))
    assert "approval_missing" in outcome.verdict.codes
    pub.refresh_from_db()
    assert pub.status == S.APPROVED


@pytest.mark.django_db
def test_due_publication_is_published_once(world):
    pub = approved_publication(world)
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
    pub = approved_publication(world)
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    services.claim_due_publications()
    # The consent lapses between scheduling and publishing, without any signal having run.
    from compliance.models import ConsentRecord

    ConsentRecord.objects.filter(pk=world["consent"].pk).update(revoked_at=timezone.now())
    assert services.publish_publication(pub.pk) == S.BLOCKED
    pub.refresh_from_db()
    assert "consent_revoked" in {r["code"] for r in pub.block_reasons}


@pytest.mark.django_db
def test_revocation_blocks_scheduled_publications_at_once(world, django_capture_on_commit_callbacks):
    pubs = [approved_publication(world), approved_publication(world, "x")]
    for pub in pubs:
        services.schedule(pub, at=timezone.now() + timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(world["consent"], reason="Withdrawn by email", actor=world["owner"])
    for pub in pubs:
        pub.refresh_from_db()
        assert pub.status == S.BLOCKED
        assert pub.block_reasons[0]["code"] == "consent_revoked"


@pytest.mark.django_db
def test_transient_failure_reschedules_with_retry_after(world):
    FlakyConnector.mode = "transient"
    pub = approved_publication(world, "x")
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    services.claim_due_publications()
    assert services.publish_publication(pub.pk) == S.SCHEDULED
    pub.refresh_from_db()
    assert pub.next_attempt_at >= timezone.now() + timedelta(seconds=110)
    assert services.claim_due_publications() == []  # not before the platform asked


@pytest.mark.django_db
def test_unknown_outcome_is_never_retried_blindly(world):
    FlakyConnector.mode = "unknown"
    pub = approved_publication(world, "x")
    services.schedule(pub, at=timezone.now() - timedelta(seconds=1))
    services.claim_due_publications()
    assert services.publish_publication(pub.pk) == S.UNKNOWN
    assert services.claim_due_publications() == []
    assert services.publish_publication(pub.pk) == S.UNKNOWN
    assert len(FlakyConnector.calls) == 1


@pytest.mark.django_db
def test_reaper_returns_unstarted_claims_and_flags_interrupted_publishing(world):
    claimed, publishing = approved_publication(world), approved_publication(world, "x")
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
    pub = approved_publication(world)
    Publication.objects.filter(pk=pub.pk).update(status=S.SCHEDULED,
                                                 scheduled_at=timezone.now() - timedelta(hours=1))
    services.claim_due_publications()
    assert services.publish_publication(pub.pk) == S.MISSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_claim_the_same_row(world):
    post = world["post"]
    due = timezone.now() - timedelta(seconds=1)
    Publication.objects.bulk_create([Publication(post=post, account=world["fanvue"], status=S.SCHEDULED,
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
