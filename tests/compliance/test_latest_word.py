"""The latest word counts: a superseding consent replaces the older one, the latest identity check
decides, documents lapse, a consent ends at `valid_until`, and minors are refused (and the attempt
audited) wherever a record would make them look like performers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from compliance import gate, services, signals
from compliance.models import IdentityVerification, Performer, VerificationNotice
from tests.compliance.factories import jpeg

pytestmark = pytest.mark.django_db


def adult(creator, dob: date = date(1996, 4, 12), **fields) -> Performer:
    return services.create_performer(legal_name="Jeanne Exemple", date_of_birth=dob, creators=[creator], **fields)


def verify(performer: Performer, result: str = "approved", **fields) -> IdentityVerification:
    return services.record_verification(performer=performer, document_kind="passport", result=result, actor=None,
                                        front=jpeg(f"front-{result}-{timezone.now().timestamp()}"), **fields)


def consent(performer: Performer, **fields):
    values = {"platforms": ["fanvue", "x"], "max_rating": "explicit", "uses": ["publication", "promotion_on_social"],
              "signed_at": timezone.now() - timedelta(days=10)}
    values.update(fields)
    return services.record_consent(performer=performer, **values)


def allowed(performer: Performer, platform: str, **kwargs) -> dict:
    return services.consent_status(performer, platform=platform, rating="explicit", **kwargs)


@pytest.fixture
def jeanne(people, private_dir):
    performer = adult(people["a"])
    verify(performer)
    return performer


# --- Superseding consents ------------------------------------------------------------------------


def test_a_narrowing_consent_replaces_the_wider_one(jeanne):
    wide = consent(jeanne)
    assert allowed(jeanne, "x", use="promotion_on_social")["allowed"]
    consent(jeanne, platforms=["fanvue"], uses=["publication"], supersedes=wide)
    on_x = allowed(jeanne, "x", use="promotion_on_social")
    assert not on_x["allowed"]
    assert [r["code"] for r in on_x["reasons"]] == ["consent_superseded"]
    assert allowed(jeanne, "fanvue")["allowed"]


def test_the_superseded_consent_holds_until_the_newer_one_starts(jeanne):
    wide = consent(jeanne)
    starts = timezone.now() + timedelta(days=3)
    consent(jeanne, platforms=["fanvue"], uses=["publication"], supersedes=wide, signed_at=timezone.now(),
            valid_from=starts)
    assert allowed(jeanne, "x", use="promotion_on_social")["allowed"]
    assert not allowed(jeanne, "x", use="promotion_on_social", at=starts)["allowed"]


def test_a_consent_is_superseded_once(jeanne):
    wide = consent(jeanne)
    consent(jeanne, platforms=["fanvue"], supersedes=wide)
    with pytest.raises(ValidationError, match="already replaces"):
        consent(jeanne, platforms=["x"], supersedes=wide)


def test_superseding_signals_scheduling_after_commit(jeanne, django_capture_on_commit_callbacks):
    wide = consent(jeanne)
    heard = []
    signals.standing_changed.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t-supersede")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            consent(jeanne, platforms=["fanvue"], supersedes=wide)
    finally:
        signals.standing_changed.disconnect(dispatch_uid="t-supersede")
    assert [(h["performer_ids"], h["reason_code"]) for h in heard] == [([jeanne.pk], "consent_superseded")]


# --- The latest identity check decides -----------------------------------------------------------


def test_a_rejection_after_an_approval_unverifies(jeanne):
    today = timezone.now().date()
    assert services.is_verified_adult(jeanne, today)
    verify(jeanne, "rejected")
    assert not services.is_verified_adult(jeanne, today)
    assert "performer_not_verified" in {r["code"] for r in allowed(jeanne, "fanvue")["reasons"]}
    verify(jeanne, "approved")
    assert services.is_verified_adult(jeanne, today)


def test_a_pending_check_decides_nothing(jeanne):
    verify(jeanne, "pending")
    assert services.is_verified_adult(jeanne, timezone.now().date())


def test_an_expired_check_after_an_approval_unverifies(jeanne):
    verify(jeanne, "expired")
    assert not services.performer_facts([jeanne.pk])[0].verified


def test_a_rejected_check_signals_scheduling(jeanne, django_capture_on_commit_callbacks):
    heard = []
    signals.standing_changed.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t-reject")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            verify(jeanne, "rejected")
    finally:
        signals.standing_changed.disconnect(dispatch_uid="t-reject")
    assert [h["reason_code"] for h in heard] == ["verification_rejected"]


# --- Identity documents lapse --------------------------------------------------------------------


def test_document_expiry_warns_then_lapses_once(people, private_dir, django_capture_on_commit_callbacks):
    performer = adult(people["a"])
    today = timezone.now().date()
    check = verify(performer, document_expiry=today + timedelta(days=5))
    heard = []
    signals.verification_expiring.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t-expiring")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.expire_verifications() == {"expired": 0, "warnings": 1}
            assert services.expire_verifications() == {"expired": 0, "warnings": 0}
    finally:
        signals.verification_expiring.disconnect(dispatch_uid="t-expiring")
    assert set(VerificationNotice.objects.filter(verification=check).values_list("kind", flat=True)) == {"warn_7"}
    assert heard[0]["days"] == 7 and heard[0]["creator_ids"] == [people["a"].pk]
    assert AuditEvent.objects.filter(action="verification.expiry_warning", object_id=str(check.pk)).exists()
    # Still verified up to and including the document's last day.
    assert services.is_verified_adult(performer, today + timedelta(days=5))
    assert not services.is_verified_adult(performer, today + timedelta(days=6))

    later = timezone.now() + timedelta(days=6)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_verifications(later)["expired"] == 1
        assert services.expire_verifications(later)["expired"] == 0
    latest = IdentityVerification.objects.filter(performer=performer).order_by("-created_at", "-pk").first()
    assert latest.result == "expired" and latest.pk != check.pk
    assert not services.performer_facts([performer.pk])[0].verified
    assert AuditEvent.objects.filter(action="verification.recorded", object_id=str(latest.pk),
                                     actor_label="task:expire_verifications").exists()


def test_the_gate_refuses_after_the_document_lapsed_even_before_the_task_ran(people, private_dir):
    performer = adult(people["a"])
    verify(performer, document_expiry=timezone.now().date() - timedelta(days=1))
    consent(performer)
    reasons = allowed(performer, "fanvue")["reasons"]
    assert [r["code"] for r in reasons] == ["performer_not_verified"] and "expired" in reasons[0]["message"]


# --- One instant for the end of a consent ---------------------------------------------------------


def test_a_consent_ends_at_valid_until_in_the_gate_the_task_and_the_likeness_check(people, private_dir):
    performer = adult(people["a"])
    verify(performer)
    ends = timezone.now() + timedelta(days=2)
    record = consent(performer, uses=["publication", "ai_likeness"], valid_until=ends)
    just_before = ends - timedelta(microseconds=1)
    assert allowed(performer, "fanvue", at=just_before)["allowed"]
    assert not allowed(performer, "fanvue", at=ends)["allowed"]
    assert services.likeness_refusals(people["a"], rating="explicit", at=just_before) == []
    assert services.likeness_refusals(people["a"], rating="explicit", at=ends)
    assert services.expire_consents(just_before)["expired"] == 0
    assert services.expire_consents(ends)["expired"] == 1
    assert record.notices.filter(kind="expired").exists()


def test_the_likeness_check_ignores_a_superseded_consent(people, private_dir):
    performer = adult(people["a"])
    verify(performer)
    wide = consent(performer, uses=["publication", "ai_likeness"])
    assert services.likeness_refusals(people["a"], rating="explicit") == []
    consent(performer, uses=["publication"], supersedes=wide)
    assert services.likeness_refusals(people["a"], rating="explicit")


# --- Dates of birth and minors --------------------------------------------------------------------


def test_a_verification_needs_a_date_of_birth_and_the_refusal_is_audited(people, private_dir):
    performer = services.create_performer(legal_name="No Date", date_of_birth=None, creators=[people["a"]])
    with pytest.raises(ValidationError, match="date of birth"):
        verify(performer)
    assert not IdentityVerification.objects.filter(performer=performer).exists()
    event = AuditEvent.objects.get(action="verification.refused")
    assert event.changes == {"performer": performer.pk, "reason": "dob_missing"} and event.creator_id == people["a"].pk


def test_a_consent_needs_a_date_of_birth(people, private_dir):
    performer = services.create_performer(legal_name="No Date", date_of_birth=None, creators=[people["a"]])
    with pytest.raises(ValidationError, match="date of birth"):
        consent(performer)
    assert AuditEvent.objects.filter(action="consent.refused", changes__reason="dob_missing").exists()


def test_an_active_minor_is_refused_and_audited(people):
    sixteen = timezone.now().date().replace(year=timezone.now().year - 16)
    with pytest.raises(ValidationError, match="under 18"):
        adult(people["a"], dob=sixteen)
    assert not Performer.objects.filter(date_of_birth=sixteen).exists()
    event = AuditEvent.objects.get(action="performer.refused")
    assert event.changes["reason"] == "underage" and event.creator_id == people["a"].pk
    # Kept on record as suspended (e.g. to document a refusal), never as active.
    assert adult(people["a"], dob=sixteen, status=Performer.Status.SUSPENDED).pk


def test_correcting_an_active_performers_date_of_birth_to_a_minor_is_refused(people):
    performer = adult(people["a"])
    performer.date_of_birth = timezone.now().date() - timedelta(days=365 * 17)
    with pytest.raises(ValidationError, match="under 18"):
        services.update_performer(performer, changed=["date_of_birth"])
    assert Performer.objects.get(pk=performer.pk).date_of_birth == date(1996, 4, 12)
    assert AuditEvent.objects.filter(action="performer.refused", object_id=str(performer.pk)).exists()


def test_the_eighteenth_birthday_is_the_first_day(people):
    today = timezone.now().date()
    try:
        eighteen = today.replace(year=today.year - 18)
    except ValueError:  # 29 February
        eighteen = today.replace(year=today.year - 18, day=28)
    assert adult(people["a"], dob=eighteen).pk
    with pytest.raises(ValidationError):
        adult(people["a"], dob=eighteen + timedelta(days=1))


def test_no_consent_for_a_minor_today_or_on_the_production_date(people, private_dir):
    performer = adult(people["a"], dob=date(2007, 6, 1))  # an adult now, 17 until 1 June 2025
    verify(performer)
    with pytest.raises(ValidationError, match="production date"):
        consent(performer, production_date=date(2025, 5, 31))
    assert consent(performer, production_date=date(2025, 6, 1)).pk
    assert AuditEvent.objects.filter(action="consent.refused", changes__reason="underage").count() == 1


def test_a_suspended_minor_gets_no_consent(people, private_dir):
    minor = adult(people["a"], dob=timezone.now().date() - timedelta(days=365 * 15), status="suspended")
    with pytest.raises(ValidationError, match="minor"):
        consent(minor)


@pytest.mark.parametrize("field", ["signed_at", "valid_from", "valid_until"])
def test_record_consent_refuses_naive_times(jeanne, field):
    naive = datetime(2026, 1, 1, 12, 0)
    values = {"signed_at": timezone.now() - timedelta(days=1)}
    values[field] = naive if field != "valid_until" else naive + timedelta(days=3650)
    if field == "valid_from":
        values["signed_at"] = timezone.now() - timedelta(days=1)
    with pytest.raises(ValidationError, match="timezone"):
        consent(jeanne, **values)


def test_gate_reason_for_superseded_is_documented():
    assert "consent_superseded" in gate.REASON_CODES


def test_the_performer_list_and_board_show_the_latest_word(people, private_dir):
    from compliance import views

    performer = adult(people["a"])

    def standing() -> Performer:
        return views.with_standing(Performer.objects.filter(pk=performer.pk)).get()

    verify(performer)
    assert views.verification_state(standing()) == "verified adult"
    verify(performer, "rejected")
    assert views.verification_state(standing()) == "rejected"
    verify(performer, "approved", document_expiry=timezone.now().date() - timedelta(days=1))
    assert views.verification_state(standing()) == "expired"
    wide = consent(performer)
    consent(performer, platforms=["fanvue"], supersedes=wide)
    assert standing().consents_valid == 1
