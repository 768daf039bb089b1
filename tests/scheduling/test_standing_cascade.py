"""A corrected or lapsed fact about a performer runs the revocation cascade on exactly what it touches:
each affected publication is judged again; scheduled rows the gate now refuses are blocked with its
reasons, published ones are removed (or handed to a person with the deadline), and rows another valid
consent still covers are left alone."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from compliance import services as compliance
from compliance.models import CreatorPerformer, IdentityVerification
from content.models import Asset
from scheduling import services
from scheduling.models import Post, Publication, TakedownTask
from tests.scheduling import factories
from tests.scheduling.connectors import DeletingConnector
from tests.scheduling.factories import PublicationFactory
from tests.scheduling.fixtures import JPEG

S = Publication.Status
pytestmark = pytest.mark.django_db


def scheduled(world, account: str, hours: int = 2) -> Publication:
    pub = factories.approved_publication(world.post, world.account(account))
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=hours))
    assert outcome.verdict.passed, outcome.verdict.reasons
    return Publication.objects.get(pk=pub.pk)


def status(pub: Publication) -> str:
    return Publication.objects.get(pk=pub.pk).status


def codes(pub: Publication) -> set[str]:
    return {r["code"] for r in Publication.objects.get(pk=pub.pk).block_reasons}


# --- Revoking one consent among several -----------------------------------------------------------


def test_revoking_one_consent_blocks_only_what_no_other_consent_covers(world, django_capture_on_commit_callbacks):
    compliance.record_consent(performer=world.performer, platforms=["fanvue"], max_rating="explicit",
                              uses=["publication"], signed_at=timezone.now() - timedelta(days=2))
    on_fanvue, on_x = scheduled(world, "fanvue"), scheduled(world, "x", hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(world.consent, reason="Withdrawn for X")
    assert status(on_fanvue) == S.SCHEDULED  # the second consent still covers Fanvue
    assert status(on_x) == S.BLOCKED and codes(on_x) == {"consent_revoked"}
    reason = Publication.objects.get(pk=on_x.pk).block_reasons[0]
    assert reason["performer_id"] == world.performer.pk
    event = AuditEvent.objects.get(action="publication.blocked", object_id=str(on_x.pk))
    assert event.changes["codes"] == ["consent_revoked"] and event.changes["was"] == S.SCHEDULED


def test_revoking_the_only_consent_still_blocks_everything_it_covered(world, django_capture_on_commit_callbacks):
    on_fanvue, on_x = scheduled(world, "fanvue"), scheduled(world, "x", hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(world.consent, reason="Withdrawn")
    assert status(on_fanvue) == status(on_x) == S.BLOCKED


def test_other_performers_rows_are_untouched(world, django_capture_on_commit_callbacks):
    on_fanvue = scheduled(world, "fanvue")
    other = compliance.create_performer(legal_name="Someone Else", date_of_birth=date(1990, 1, 1),
                                        creators=[world.creator_b])
    compliance.record_verification(performer=other, document_kind="passport", result="approved",
                                   actor=world.owner, front=JPEG)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.record_verification(performer=other, document_kind="passport", result="rejected",
                                       actor=world.owner)
    assert status(on_fanvue) == S.SCHEDULED


# --- A superseding consent ------------------------------------------------------------------------


def test_a_narrowing_consent_blocks_and_removes_what_only_the_old_one_covered(
        out, django_capture_on_commit_callbacks):
    pending_fanvue = scheduled(out, "fanvue")
    pending_x = scheduled(out, "x", hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.record_consent(performer=out.performer, platforms=["x"], max_rating="explicit",
                                  uses=["promotion_on_social"], signed_at=timezone.now() - timedelta(minutes=1),
                                  supersedes=out.consent)
    assert status(pending_x) == S.SCHEDULED  # the new consent covers X
    assert status(pending_fanvue) == S.BLOCKED and codes(pending_fanvue) == {"consent_superseded"}
    assert status(out.on_fanvue) == S.REMOVED and DeletingConnector.calls == ["ext-1"]
    task = TakedownTask.objects.get(publication=out.on_manual)  # OnlyFans by hand: a person, 48 h
    assert timedelta(hours=47) < task.due_at - timezone.now() <= timedelta(hours=48)
    assert "no longer covers" in task.reason


# --- A corrected date of birth ----------------------------------------------------------------------


def test_a_date_of_birth_corrected_to_a_minor_on_the_production_date_takes_the_post_down(
        out, django_capture_on_commit_callbacks):
    pending = scheduled(out, "fanvue")
    performer = out.performer
    # The asset was produced on 5 January 2026; with the corrected date they were 17 then.
    performer.date_of_birth = date(2008, 1, 10)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.update_performer(performer, changed=["date_of_birth"], actor=out.owner)
    assert status(pending) == S.BLOCKED and "performer_underage" in codes(pending)
    assert any(r["hard"] for r in Publication.objects.get(pk=pending.pk).block_reasons)
    assert status(out.on_fanvue) == S.REMOVED
    for pub in (out.on_insta, out.on_manual):
        task = TakedownTask.objects.get(publication=pub, status="open")
        assert timedelta(hours=47) < task.due_at - timezone.now() <= timedelta(hours=48)
        assert "corrected record" in task.reason


def test_a_correction_that_changes_nothing_the_gate_reads_leaves_everything(
        out, django_capture_on_commit_callbacks):
    pending = scheduled(out, "fanvue")
    performer = out.performer
    performer.date_of_birth = date(1995, 4, 12)
    with django_capture_on_commit_callbacks(execute=True):
        compliance.update_performer(performer, changed=["date_of_birth"])
    assert status(pending) == S.SCHEDULED and status(out.on_fanvue) == S.PUBLISHED
    assert DeletingConnector.calls == []


def test_suspending_a_performer_runs_the_cascade(out, django_capture_on_commit_callbacks):
    pending = scheduled(out, "fanvue")
    performer = out.performer
    performer.status = "suspended"
    with django_capture_on_commit_callbacks(execute=True):
        compliance.update_performer(performer, changed=["status"])
    assert codes(pending) == {"performer_inactive"}
    assert status(out.on_fanvue) == S.REMOVED


# --- The latest identity check ------------------------------------------------------------------------


def test_a_rejected_check_after_the_approval_blocks_and_removes(out, django_capture_on_commit_callbacks):
    pending = scheduled(out, "fanvue")
    with django_capture_on_commit_callbacks(execute=True):
        compliance.record_verification(performer=out.performer, document_kind="passport", result="rejected",
                                       actor=out.owner, notes="The passport was forged.")
    assert codes(pending) == {"performer_not_verified"}
    assert status(out.on_fanvue) == S.REMOVED
    assert "identity check was rejected" in TakedownTask.objects.get(publication=out.on_insta).reason


def test_a_lapsed_document_blocks_and_removes_once(out, django_capture_on_commit_callbacks):
    pending = scheduled(out, "fanvue")
    IdentityVerification.objects.filter(performer=out.performer).update(
        document_expiry=timezone.now().date() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert compliance.expire_verifications()["expired"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert compliance.expire_verifications()["expired"] == 0
    assert codes(pending) == {"performer_not_verified"}
    assert status(out.on_fanvue) == S.REMOVED and DeletingConnector.calls == ["ext-1"]
    assert "identity document has expired" in TakedownTask.objects.get(publication=out.on_insta).reason


def test_an_expiry_warning_notifies_the_creators_team(world, django_capture_on_commit_callbacks):
    from notifications.models import Notification

    IdentityVerification.objects.filter(performer=world.performer).update(
        document_expiry=timezone.now().date() + timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert compliance.expire_verifications()["warnings"] == 1
    notice = Notification.objects.get(kind="compliance.verification_expiring")
    assert notice.creator_id == world.creator.pk and "within 30 days" in notice.title


# --- Synthetic media of a creator built on a real person ------------------------------------------------


def ai_post(world) -> Post:
    asset = Asset.objects.create(creator=world.creator, file="assets/ai.jpg", kind="image", mime="image/jpeg",
                                 sha256="b" * 64, size_bytes=10, rating="explicit", status=Asset.Status.APPROVED,
                                 origin=Asset.Origin.AI, no_real_person_attested=True, provenance_present=True,
                                 disclosure_label="Made with AI")
    return factories.approved_post(world.creator, asset, caption="A new look")


def test_no_real_person_does_not_replace_the_likeness_consent(world):
    assert CreatorPerformer.objects.filter(creator=world.creator, performer=world.performer).exists()
    pub = factories.approved_publication(ai_post(world), world.fanvue)
    outcome = services.schedule(pub, at=timezone.now() + timedelta(hours=1))
    assert outcome.verdict.codes == {"consent_missing"}
    assert "ai_likeness" in outcome.verdict.reasons[0].message
    compliance.record_consent(performer=world.performer, platforms=["fanvue"], max_rating="explicit",
                              uses=["ai_likeness"], signed_at=timezone.now() - timedelta(days=1))
    assert services.schedule(pub, at=timezone.now() + timedelta(hours=1)).verdict.passed


def test_revoking_the_likeness_consent_blocks_the_synthetic_posts(world, django_capture_on_commit_callbacks):
    likeness = compliance.record_consent(performer=world.performer, platforms=["fanvue"], max_rating="explicit",
                                         uses=["ai_likeness"], signed_at=timezone.now() - timedelta(days=1))
    pub = factories.approved_publication(ai_post(world), world.fanvue)
    assert services.schedule(pub, at=timezone.now() + timedelta(hours=1)).verdict.passed
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(likeness, reason="No more AI images of me")
    assert status(pub) == S.BLOCKED and codes(pub) == {"consent_revoked"}


def test_a_pure_ai_persona_needs_no_likeness_consent(world):
    CreatorPerformer.objects.filter(creator=world.creator).delete()
    pub = factories.approved_publication(ai_post(world), world.fanvue)
    assert services.schedule(pub, at=timezone.now() + timedelta(hours=1)).verdict.passed


# --- The production date ------------------------------------------------------------------------------


def test_a_production_date_after_the_publication_date_is_refused(world):
    pub = factories.approved_publication(world.post, world.fanvue)
    at = timezone.now() + timedelta(days=2)
    # Two days on: the gate reads the publication date on the creator's clock, which may already be
    # a day ahead of UTC late in the evening.
    Asset.objects.filter(pk=world.asset.pk).update(production_date=(at + timedelta(days=2)).date())
    assert "production_date_in_future" in services.schedule(pub, at=at).verdict.codes


def test_revoking_the_likeness_consent_takes_published_synthetic_posts_down(
        out, django_capture_on_commit_callbacks):
    likeness = compliance.record_consent(performer=out.performer, platforms=["fanvue"], max_rating="explicit",
                                         uses=["ai_likeness"], signed_at=timezone.now() - timedelta(days=1))
    live = PublicationFactory(post=ai_post(out), account=out.fanvue, status=S.PUBLISHED,
                              external_id="ext-ai", external_url="https://example.test/p/ai",
                              published_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        compliance.revoke_consent(likeness, reason="No more AI images of me")
    assert status(live) == S.REMOVED and "ext-ai" in DeletingConnector.calls
    assert status(out.on_fanvue) == S.PUBLISHED  # the photo shoot's own consent still covers it
