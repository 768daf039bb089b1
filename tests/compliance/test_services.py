"""Compliance services: documents at rest, audited reads, consents, takedown deadlines, tenancy."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts import tenancy
from accounts.models import ApiKey, AuditEvent
from compliance import crypto, services, signals
from compliance.models import (
    ConsentRecord,
    CreatorPerformer,
    EncryptedFile,
    IdentityVerification,
    Performer,
    TakedownRequest,
)
from tests.compliance.conftest import stored_files
from tests.factories import UserFactory

FRONT = b"\xff\xd8\xff\xe0" + b"ID-FRONT-MARKER-Jeanne-Exemple-19960412" * 8
BACK = b"\x89PNG\r\n\x1a\n" + b"ID-BACK-MARKER-MRZ<<EXEMPLE<<JEANNE" * 8
SELFIE = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"SELFIE-MARKER" * 8
NUMBER = "FR-19AB12345"


@pytest.fixture(autouse=True)
def _fresh_keys(keyring):
    return keyring


def make_performer(*creators, name: str = "Jeanne Exemple", dob: date | None = date(1996, 4, 12)) -> Performer:
    return services.create_performer(legal_name=name, date_of_birth=dob, creators=list(creators),
                                     other_names=[(f"{name} (stage)", "stage")])


def verify(performer: Performer, actor, **overrides) -> IdentityVerification:
    values = {"document_kind": "passport", "result": "approved", "document_number": NUMBER, "front": FRONT}
    values.update(overrides)
    return services.record_verification(performer=performer, actor=actor, **values)


def consent(performer: Performer, **overrides) -> ConsentRecord:
    values = {"platforms": ["fanvue", "onlyfans"], "max_rating": "explicit", "uses": ["publication"],
              "signed_at": timezone.now() - timedelta(days=1)}
    values.update(overrides)
    return services.record_consent(performer=performer, **values)


@pytest.fixture
def collect():
    """Connect a receiver to a compliance signal and keep every call's arguments."""
    connected = []

    def connect(signal):
        calls: list[dict] = []

        def receiver(sender, **kwargs):
            calls.append(kwargs)

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
        return calls

    yield connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


# --- documents at rest --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_documents_are_ciphertext_in_the_private_storage(private_dir, people):
    performer = make_performer(people["a"])
    verification = verify(performer, people["owner"], back=BACK, selfie=SELFIE)

    files = stored_files(private_dir)
    assert len(files) == 3
    for data in files.values():
        assert data not in (FRONT, BACK, SELFIE)
        assert b"MARKER" not in data
        assert b"Jeanne" not in data
    front = verification.front
    assert front.storage_name.startswith("documents/identity/")
    assert (front.content_type, front.size) == ("image/jpeg", len(FRONT))
    assert (verification.back.content_type, verification.selfie.content_type) == ("image/png", "image/webp")
    assert services.read_document(front, actor=people["owner"], purpose="check") == FRONT


@pytest.mark.django_db
def test_document_number_column_is_not_the_plaintext(private_dir, people):
    verification = verify(make_performer(people["a"]), people["owner"])
    raw = IdentityVerification.objects.values_list("document_number_encrypted", flat=True).get(pk=verification.pk)
    assert raw and raw != NUMBER
    assert NUMBER not in raw and "19AB12345" not in raw
    assert services.read_document_number(verification, actor=people["owner"]) == NUMBER


@pytest.mark.django_db
def test_every_document_read_is_audited(private_dir, people):
    performer = make_performer(people["a"])
    verification = verify(performer, people["owner"])
    reader = UserFactory(username="cora")
    accounts_services.add_membership(user=reader, creator=people["a"], role="compliance")

    for _ in range(2):
        services.read_document(verification.front, actor=reader, purpose="age check",
                               creator_id=people["a"].pk, subject=verification)

    events = AuditEvent.objects.filter(action="document.read").order_by("id")
    assert events.count() == 2
    for event in events:
        assert event.actor_id == reader.pk
        assert event.creator_id == people["a"].pk
        assert (event.object_type, event.object_id) == ("compliance.identityverification", str(verification.pk))
        assert event.changes == {"document": verification.front_id, "purpose": "age check"}


@pytest.mark.django_db
def test_reading_the_document_number_is_audited(private_dir, people):
    performer = make_performer(people["a"])
    verification = verify(performer, people["owner"])
    services.read_document_number(verification, actor=people["alice"])
    event = AuditEvent.objects.get(action="document_number.read")
    assert event.actor_id == people["alice"].pk
    assert event.creator_id == people["a"].pk
    assert event.changes == {"performer": performer.pk}
    assert NUMBER not in str(event.changes)


@pytest.mark.django_db
def test_wrong_key_fails_loudly_and_reads_nothing(private_dir, people, keyring):
    verification = verify(make_performer(people["a"]), people["owner"])
    keyring.ATELIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError):
        services.read_document(verification.front, actor=people["owner"], purpose="check")
    with pytest.raises(crypto.DecryptionError):
        services.read_document_number(verification, actor=people["owner"])
    assert not AuditEvent.objects.filter(action__in=["document.read", "document_number.read"]).exists()


@pytest.mark.django_db
def test_a_swapped_ciphertext_is_refused_by_its_digest(private_dir, people):
    verification = verify(make_performer(people["a"]), people["owner"])
    # Valid ciphertext under the right key, but of another document: only the digest notices.
    (private_dir / verification.front.storage_name).write_bytes(crypto.encrypt(BACK))
    with pytest.raises(crypto.DecryptionError, match="digest"):
        services.read_document(verification.front, actor=people["owner"], purpose="check")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["utility_bill", "bank_statement", "bill", "statement"])
def test_bills_and_statements_do_not_prove_identity(private_dir, people, kind):
    with pytest.raises(ValidationError) as error:
        verify(make_performer(people["a"]), people["owner"], document_kind=kind)
    assert "document_kind" in error.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "overrides"), [
    ("invalid kind", {"document_kind": "utility_bill", "back": BACK}),
    ("bad back after front was stored", {"back": b"GIF89a not an accepted document"}),
    ("bad selfie after front and back", {"back": BACK, "selfie": b"\x00\x01\x02 executable?"}),
    ("model validation after every file", {"back": BACK, "method": "provider", "provider": ""}),
])
def test_a_failed_verification_leaves_no_document_behind(private_dir, people, case, overrides):
    performer = make_performer(people["a"])
    with pytest.raises(ValidationError):
        verify(performer, people["owner"], **overrides)
    assert not EncryptedFile.objects.exists(), case
    assert not IdentityVerification.objects.exists(), case
    assert stored_files(private_dir) == {}, case
    assert not AuditEvent.objects.filter(action="verification.recorded").exists()


@pytest.mark.django_db
def test_a_failed_consent_leaves_no_release_behind(private_dir, people):
    performer = make_performer(people["a"])
    with pytest.raises(ValidationError):
        consent(performer, platforms=["myspace"], release=b"%PDF-1.7 signed release")
    with pytest.raises(ValidationError):
        consent(performer, valid_from=timezone.now(), valid_until=timezone.now() - timedelta(days=1),
                release=b"%PDF-1.7 signed release")
    assert not EncryptedFile.objects.exists()
    assert not ConsentRecord.objects.exists()
    assert stored_files(private_dir) == {}


@pytest.mark.django_db
def test_an_outer_rollback_leaves_ciphertext_the_sweep_removes(private_dir, people):
    performer = make_performer(people["a"])
    with pytest.raises(RuntimeError), transaction.atomic():
        verify(performer, people["owner"])
        raise RuntimeError("the caller failed after the service returned")
    assert not EncryptedFile.objects.exists()
    assert len(stored_files(private_dir)) == 1
    assert services.sweep_orphan_documents(older_than=timedelta(hours=1)) == 0  # too fresh to judge
    assert services.sweep_orphan_documents(older_than=timedelta(seconds=-1)) == 1
    assert stored_files(private_dir) == {}


# --- age -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("dob", "day", "adult"), [
    (date(2004, 2, 29), date(2022, 2, 28), False),  # 17: a leap-day birthday falls on 1 March
    (date(2004, 2, 29), date(2022, 3, 1), True),
    (date(2000, 6, 15), date(2018, 6, 14), False),
    (date(2000, 6, 15), date(2018, 6, 15), True),
])
def test_is_verified_adult_on_the_production_date(private_dir, people, dob, day, adult):
    performer = make_performer(people["a"], dob=dob)
    verify(performer, people["owner"])
    assert services.is_verified_adult(performer, day) is adult


@pytest.mark.django_db
@pytest.mark.parametrize("result", ["pending", "rejected"])
def test_an_adult_without_an_approved_check_is_not_verified(private_dir, people, result):
    performer = make_performer(people["a"], dob=date(1990, 1, 1))
    verify(performer, people["owner"], result=result)
    assert services.is_verified_adult(performer, date(2025, 1, 1)) is False


@pytest.mark.django_db
def test_unknown_date_of_birth_is_not_an_adult(private_dir, people):
    performer = make_performer(people["a"])
    verify(performer, people["owner"])
    # A record from before the date of birth was required for a check.
    Performer.objects.filter(pk=performer.pk).update(date_of_birth=None)
    assert services.is_verified_adult(performer, date(2025, 1, 1)) is False


# --- consents --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_consent_is_never_edited(people):
    record = consent(make_performer(people["a"]))
    record.platforms = ["fanvue", "onlyfans", "x"]
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.save(update_fields=["platforms"])
    with pytest.raises(PermissionError):
        record.save(update_fields=["platforms", "revoked_at"])
    assert ConsentRecord.objects.get(pk=record.pk).platforms == ["fanvue", "onlyfans"]


@pytest.mark.django_db
def test_only_revocation_fields_may_change(people):
    record = consent(make_performer(people["a"]))
    record.revoked_at = timezone.now()
    record.revoked_reason = "Asked by email"
    record.save(update_fields=["revoked_at", "revoked_reason"])
    assert ConsentRecord.objects.get(pk=record.pk).is_revoked


@pytest.mark.django_db
def test_a_bulk_update_cannot_rewrite_a_consent(people):
    record = consent(make_performer(people["a"]))
    with pytest.raises(PermissionError):
        ConsentRecord.objects.filter(pk=record.pk).update(max_rating="sfw")


@pytest.mark.django_db
def test_revocation_signals_once_and_closes_the_gate_at_once(people, collect, django_capture_on_commit_callbacks):
    performer = make_performer(people["a"])
    verify(performer, people["owner"])
    record = consent(performer)
    calls = collect(signals.consent_revoked)
    assert services.consent_status(performer, platform="fanvue", rating="explicit")["allowed"] is True

    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_consent(record, reason="Withdrawn by the performer", actor=people["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        again = services.revoke_consent(record, reason="Clicked twice", actor=people["owner"])

    assert len(calls) == 1
    assert calls[0]["performer_ids"] == [performer.pk]
    assert calls[0]["consent_id"] == record.pk
    assert again.revoked_reason == "Withdrawn by the performer"
    assert AuditEvent.objects.filter(action="consent.revoked").count() == 1
    status = services.consent_status(performer, platform="fanvue", rating="explicit")
    assert status["allowed"] is False
    assert [r["code"] for r in status["reasons"]] == ["consent_revoked"]
    verdict = services.check_publication(services.GateInput(
        creator_id=people["a"].pk, platform="fanvue", rating="explicit", performer_ids=frozenset({performer.pk}),
        production_date=date.today(), ai_origin=False, disclosure_present=False, provenance_present=False,
        no_real_person_attested=False, human_approved=True, texts={"caption": "New set"},
        due_at=calls[0]["revoked_at"]))
    assert verdict.codes == {"consent_revoked"}


@pytest.mark.django_db
def test_revocation_needs_a_reason(people):
    record = consent(make_performer(people["a"]))
    with pytest.raises(ValidationError):
        services.revoke_consent(record, reason="  ")
    assert not ConsentRecord.objects.get(pk=record.pk).is_revoked


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_revocations_signal_once(people, collect):
    record = consent(make_performer(people["a"]))
    calls = collect(signals.consent_revoked)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def revoke(n: int) -> None:
        try:
            start.wait()
            services.revoke_consent(ConsentRecord.objects.get(pk=record.pk), reason=f"request {n}")
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=revoke, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(calls) == 1
    assert AuditEvent.objects.filter(action="consent.revoked").count() == 1


# --- takedowns -------------------------------------------------------------------------------------------

RECEIVED = datetime(2025, 6, 6, 10, 0, tzinfo=UTC)  # a Friday


def test_take_it_down_is_due_within_48_hours():
    assert services.takedown_due(TakedownRequest.Kind.TAKE_IT_DOWN, RECEIVED) == RECEIVED + timedelta(hours=48)


def test_a_shorter_deadline_may_be_configured(settings):
    settings.TAKEDOWN_DEADLINE_HOURS = 24
    assert services.takedown_due(TakedownRequest.Kind.TAKE_IT_DOWN, RECEIVED) == RECEIVED + timedelta(hours=24)


@pytest.mark.parametrize("hours", [72, 0, -1])
def test_a_deadline_outside_the_law_is_never_applied(settings, hours):
    """Start-up refuses such a setting (tests/compliance/test_deadlines.py); changed at run time, no
    deadline is computed from it rather than a clamped or zero one."""
    settings.TAKEDOWN_DEADLINE_HOURS = hours
    with pytest.raises(ImproperlyConfigured):
        services.takedown_due(TakedownRequest.Kind.TAKE_IT_DOWN, RECEIVED)


@pytest.mark.parametrize("days", [10, 0])
def test_a_complaint_deadline_outside_the_rules_is_never_applied(settings, days):
    settings.COMPLAINT_DEADLINE_BUSINESS_DAYS = days
    with pytest.raises(ImproperlyConfigured):
        services.takedown_due(TakedownRequest.Kind.CARD_NETWORK, RECEIVED)


@pytest.mark.parametrize(("received", "due"), [
    (datetime(2025, 6, 6, 10, 0, tzinfo=UTC), datetime(2025, 6, 17, 10, 0, tzinfo=UTC)),  # Fri → Tue after next
    (datetime(2025, 6, 7, 10, 0, tzinfo=UTC), datetime(2025, 6, 17, 10, 0, tzinfo=UTC)),  # Sat
    (datetime(2025, 6, 8, 23, 0, tzinfo=UTC), datetime(2025, 6, 17, 23, 0, tzinfo=UTC)),  # Sun
    (datetime(2025, 6, 9, 9, 0, tzinfo=UTC), datetime(2025, 6, 18, 9, 0, tzinfo=UTC)),  # Mon
])
def test_card_network_complaints_are_due_in_seven_business_days(received, due):
    assert services.takedown_due(TakedownRequest.Kind.CARD_NETWORK, received) == due
    assert due.weekday() < 5


def takedown_fields(**overrides) -> dict:
    values = {"requester_name": "R. Requester", "requester_contact": "requester@example.test",
              "signature": "/R. Requester/", "content_description": "Video posted on 3 June",
              "content_locations": "https://fanvue.example/post/1",
              "non_consent_statement": "I did not consent to this depiction."}
    values.update(overrides)
    return values


@pytest.mark.django_db
def test_opening_a_takedown_signals_its_performers(people, collect, django_capture_on_commit_callbacks):
    first, second = make_performer(people["a"]), make_performer(people["a"], name="Olivia Sample")
    calls = collect(signals.takedown_opened)

    with django_capture_on_commit_callbacks(execute=True):
        takedown = services.open_takedown(creator=people["a"], performers=[first, second], received_at=RECEIVED,
                                          actor=people["owner"], **takedown_fields())

    assert takedown.due_at == RECEIVED + timedelta(hours=48)
    assert len(calls) == 1
    assert sorted(calls[0]["performer_ids"]) == sorted([first.pk, second.pk])
    assert calls[0]["takedown_id"] == takedown.pk
    assert calls[0]["due_at"] == takedown.due_at
    assert calls[0]["creator_id"] == people["a"].pk
    event = AuditEvent.objects.get(action="takedown.opened")
    assert event.creator_id == people["a"].pk
    assert "requester@example.test" not in str(event.changes)


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field"), [
    ({"non_consent_statement": "  "}, "non_consent_statement"),
    ({"signature": ""}, "signature"),
    ({"content_locations": ""}, "content_locations"),
])
def test_an_incomplete_takedown_is_refused_and_signals_nothing(people, collect, django_capture_on_commit_callbacks,
                                                               overrides, field):
    calls = collect(signals.takedown_opened)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as error:
        services.open_takedown(creator=people["a"], **takedown_fields(**overrides))
    assert field in error.value.message_dict
    assert not TakedownRequest.objects.exists()
    assert calls == []


@pytest.mark.django_db
def test_a_card_network_complaint_needs_no_non_consent_statement(people):
    takedown = services.open_takedown(kind=TakedownRequest.Kind.CARD_NETWORK, creator=people["a"],
                                      received_at=RECEIVED, **takedown_fields(non_consent_statement=""))
    assert takedown.due_at == datetime(2025, 6, 17, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_takedown_action_refuses_an_unknown_status(people):
    takedown = services.open_takedown(creator=people["a"], **takedown_fields())
    with pytest.raises(ValidationError):
        services.log_takedown_action(takedown, description="Looked at it", status="done-ish")


# --- tenancy ---------------------------------------------------------------------------------------------


@pytest.fixture
def officers(people):
    cora, dana = UserFactory(username="cora"), UserFactory(username="dana")
    accounts_services.add_membership(user=cora, creator=people["a"], role="compliance")
    for creator in (people["a"], people["b"]):
        accounts_services.add_membership(user=dana, creator=creator, role="compliance")
    return cora, dana


@pytest.mark.django_db
def test_a_compliance_officer_sees_only_their_creators_performers(people, officers):
    cora, _ = officers
    mine, theirs = make_performer(people["a"]), make_performer(people["b"], name="Bea Other")
    assert list(tenancy.restrict(Performer.objects.all(), cora)) == [mine]
    assert list(tenancy.restrict(Performer.objects.all(), people["charlie"])) == [theirs]
    assert set(tenancy.restrict(Performer.objects.all(), people["owner"])) == {mine, theirs}


@pytest.mark.django_db
def test_a_performer_linked_to_two_reachable_creators_appears_once(people, officers):
    _, dana = officers
    shared = make_performer(people["a"])
    CreatorPerformer.objects.create(creator=people["b"], performer=shared,
                                    relation=CreatorPerformer.Relation.COLLABORATOR)
    consent(shared)
    key = accounts_services.issue_api_key(owner=dana, name="sync", creators=[people["a"], people["b"]]).key

    for principal in (dana, key):
        performers = tenancy.restrict(Performer.objects.all(), principal)
        assert list(performers) == [shared]
        assert performers.count() == 1
        assert tenancy.restrict(ConsentRecord.objects.all(), principal).count() == 1
    assert isinstance(key, ApiKey)


HARD_BLOCK_CAPTIONS = ["new set with my 16 yo cousin", "s.c.h.o.o.l.g.i.r.l roleplay tonight", "#NonConsent fantasy"]


@pytest.mark.django_db
@pytest.mark.parametrize("caption", HARD_BLOCK_CAPTIONS)
@pytest.mark.parametrize("extra_terms", [[], ["custom-term"]])
def test_hard_blocked_caption_fails_the_gate_whatever_the_settings(private_dir, people, settings, caption,
                                                                    extra_terms):
    settings.COMPLIANCE_EXTRA_BLOCKED_TERMS = extra_terms
    settings.DEBUG = True
    performer = make_performer(people["a"])
    verify(performer, people["owner"])
    consent(performer)
    data = services.GateInput(
        creator_id=people["a"].pk, platform="fanvue", rating="explicit", performer_ids=frozenset({performer.pk}),
        production_date=timezone.now().date(), ai_origin=False, disclosure_present=False, provenance_present=False,
        no_real_person_attested=False, human_approved=True, texts={"caption": caption},
        due_at=timezone.now() + timedelta(days=1))
    verdict = services.check_publication(data)
    assert not verdict.passed
    assert verdict.hard
    assert "hard_block_term" in verdict.codes
    clean = services.check_publication(services.GateInput(**{**data.__dict__, "texts": {"caption": "new set, 18+"}}))
    assert clean.passed, clean.reasons
